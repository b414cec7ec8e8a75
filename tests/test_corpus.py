from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ARTICLE_CORPUS, SEED

from ftzqa.chunking import split
from ftzqa.corpus import parse_document, parse_front_matter, read_corpus
from ftzqa.errors import CorpusError


def test_front_matter_fields_and_body() -> None:
    fields, body = parse_front_matter('---\ntitle: "A: B"\nauthor: Li\n---\nHello\n')
    assert fields == {"title": "A: B", "author": "Li"}
    assert body == "Hello\n"


def test_title_falls_back_to_heading_then_file_name() -> None:
    assert parse_document("x.md", b"# Big Title\n\ntext").title == "Big Title"
    assert parse_document("dir/my_notes-v2.txt", b"just text").title == "my notes v2"


def test_seed_article_is_in_corpus_verbatim() -> None:
    doc = read_corpus(ARTICLE_CORPUS).documents[0]
    assert doc.title and doc.source == "Economic Daily – China Economic Net" and doc.author == "Li Hualin"
    if not SEED.exists():
        pytest.skip(f"seed article not found at {SEED}")
    seed_paragraphs = [p.strip() for p in re.split(r"\n\s*\n", SEED.read_text(encoding="utf-8")) if p.strip()]
    headings = {"Significant construction effect", "Explore the advantages", "Help foreign trade"}
    for para in seed_paragraphs:
        assert para in doc.text, para[:60]
    sections = {p.section for p in split(doc)}
    assert headings <= sections
    body_paragraphs = [p for p in seed_paragraphs if p not in headings]
    assert len({p.paragraph for p in split(doc)}) == len(body_paragraphs)


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        read_corpus(tmp_path / "nope")


def test_bad_files_are_skipped_with_reasons_and_rest_indexed(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text("Real text here.", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("  \n\n", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02abc")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "copy.md").write_text("Real text here.", encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    report = read_corpus(tmp_path)
    assert [d.doc_id for d in report.documents] == ["copy.md"]
    reasons = " | ".join(s.reason for s in report.skipped)
    assert "binary" in reasons and "UTF-8" in reasons and "no text" in reasons and "same content" in reasons
    assert "image.png" not in reasons
