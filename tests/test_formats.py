from __future__ import annotations

import io
from pathlib import Path

import pytest

from ftzqa.chunking import split
from ftzqa.corpus import parse_document, read_corpus
from ftzqa.errors import CorpusError


def make_pdf(pages: list[str], password: str | None = None) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Port Report")
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    if password:
        pdf.set_encryption(owner_password=password, user_password=password)
    return bytes(pdf.output())


def make_docx() -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = "Harbour Notes"
    document.add_heading("Cargo", level=1)
    document.add_paragraph("The harbour moved 12 million tonnes of cargo.")
    document.add_heading("Ferries", level=1)
    document.add_paragraph("Ferries leave every hour.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


ARTICLE_HTML = b"""<html><head><title>Glacier Watch</title></head><body>
<nav><a href="/">Home</a> | <a href="/about">About</a></nav>
<article><h1>Glacier Watch</h1>
<p>The Aletsch glacier lost forty metres of length this year, according to the survey team.</p>
<p>Scientists measured the retreat with drones and satellite images over the whole summer season.</p>
<p>They expect the melting to continue unless summers become cooler in the coming decades.</p>
</article><footer>Copyright 2026</footer></body></html>"""


def _check_offsets(doc_text: str, passages: list) -> None:  # type: ignore[type-arg]
    assert passages
    for p in passages:
        assert doc_text[p.start : p.end] == p.text


def test_pdf_pages_become_sections_and_citations() -> None:
    doc = parse_document("report.pdf", make_pdf(["Imports rose by ten percent.", "Exports fell in May."]))
    assert doc.title == "Port Report"
    passages = split(doc)
    _check_offsets(doc.text, passages)
    assert [(p.section, p.text) for p in passages] == [
        ("Page 1", "Imports rose by ten percent."),
        ("Page 2", "Exports fell in May."),
    ]


def test_encrypted_and_corrupt_pdfs_are_refused_clearly() -> None:
    with pytest.raises(CorpusError, match="locked.pdf: the PDF is encrypted"):
        parse_document("locked.pdf", make_pdf(["secret"], password="pw"))
    with pytest.raises(CorpusError, match="broken.pdf: cannot read this PDF"):
        parse_document("broken.pdf", b"%PDF-1.4\nthis is not really a pdf")


def test_docx_headings_are_sections() -> None:
    doc = parse_document("notes.docx", make_docx())
    assert doc.title == "Harbour Notes"
    passages = split(doc)
    _check_offsets(doc.text, passages)
    assert [(p.section, p.text) for p in passages] == [
        ("Cargo", "The harbour moved 12 million tonnes of cargo."),
        ("Ferries", "Ferries leave every hour."),
    ]


def test_html_main_text_and_title_kept_boilerplate_dropped() -> None:
    doc = parse_document("glacier.html", ARTICLE_HTML)
    assert doc.title == "Glacier Watch"
    assert "forty metres" in doc.text and "Copyright" not in doc.text and "About" not in doc.text
    _check_offsets(doc.text, split(doc))


def test_html_without_main_text_is_refused() -> None:
    with pytest.raises(CorpusError, match="no main text"):
        parse_document("empty.html", b"<html><body><nav>Home</nav></body></html>")


def test_size_limit_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "big.txt").write_text("word " * 300_000, encoding="utf-8")  # 1.5 MB
    (tmp_path / "small.txt").write_text("Small file.", encoding="utf-8")
    monkeypatch.setenv("FTZQA_MAX_FILE_MB", "1")
    report = read_corpus(tmp_path)
    assert [d.doc_id for d in report.documents] == ["small.txt"]
    assert "over the 1 MB limit" in report.skipped[0].reason and "FTZQA_MAX_FILE_MB" in report.skipped[0].reason
    monkeypatch.setenv("FTZQA_MAX_FILE_MB", "2")
    assert len(read_corpus(tmp_path).documents) == 2
