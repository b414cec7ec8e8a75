"""The source viewer without a browser: permalink parsing and checks, bounded windows, PDF pages,
escaping, and the citation's link."""

from __future__ import annotations

import time
from html import escape

import pytest

from ftzqa.types import Answer, Document, Hit, Passage, Span
from ftzqa.web import viewer
from ftzqa.web.render import render_answer
from ftzqa.web.viewer import Location, LocationError, check_location, parse_location, parse_query, render_source, view

TEXT = (
    "# Zones\n\nFirst paragraph about <b>tags</b> & things.\n\n## Trade\n\n"
    "Exports grew fast. Imports reached 5 billion yuan.\n\nLast <script>alert(1)</script> paragraph."
)
PASSAGE = "Exports grew fast. Imports reached 5 billion yuan."
SENTENCE = "Imports reached 5 billion yuan."


def _doc(text: str = TEXT, doc_id: str = "zones.md", title: str = "Zones & <Co>") -> Document:
    return Document(doc_id=doc_id, title=title, text=text, sha256="x")


def _hit() -> Hit:
    start = TEXT.index(PASSAGE)
    ev = TEXT.index(SENTENCE)
    passage = Passage("zones.md", "Zones & <Co>", "Trade", 2, start, start + len(PASSAGE), PASSAGE)
    return Hit(1, 1.0, passage, Span(ev, ev + len(SENTENCE), SENTENCE))


def test_citation_links_to_the_viewer_at_its_passage_and_evidence() -> None:
    hit = _hit()
    html = render_answer(Answer("q", True, [hit], 0.9), {"zones.md": _doc()})
    p, ev = hit.passage, hit.evidence
    expected = (
        f"?doc=zones.md&amp;start={p.start}&amp;end={p.end}&amp;evidence_start={ev.start}&amp;evidence_end={ev.end}"
    )
    assert f'<a class="fq-open" href="{expected}"' in html
    location = parse_location(parse_query(Location.of_hit(hit).query()))
    assert location == Location("zones.md", p.start, p.end, ev.start, ev.end)


def test_hostile_doc_id_is_escaped_in_the_link_and_round_trips() -> None:
    name = 'a"><img src=x onerror=alert(1)>&b=1#c.md'
    location = Location(name, 1, 5)
    assert parse_location(parse_query(location.query())) == location
    html = render_source(_doc(doc_id=name), location)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert '"><img' not in viewer.open_link(_hit())


def test_view_marks_passage_and_evidence_in_the_whole_document() -> None:
    hit = _hit()
    html, title = view(Location.of_hit(hit).query(), {"zones.md": _doc()})  # type: ignore[misc]
    assert title == "Zones & <Co>"
    assert (
        '<span class="fq-src-passage">Exports grew fast. '
        '<mark class="fq-src-evidence">Imports reached 5 billion yuan.</mark></span>'
    ) in html
    assert "The whole document as indexed" in html
    assert "First paragraph about &lt;b&gt;tags&lt;/b&gt; &amp; things." in html
    assert "Last &lt;script&gt;alert(1)&lt;/script&gt; paragraph." in html
    assert "<script" not in html and "<b>" not in html and "Zones &amp; &lt;Co&gt;" in html


def test_without_evidence_the_span_itself_is_marked() -> None:
    start = TEXT.index(SENTENCE)
    html, _ = view(f"doc=zones.md&start={start}&end={start + len(SENTENCE)}", {"zones.md": _doc()})  # type: ignore[misc]
    assert f'<mark class="fq-src-evidence">{SENTENCE}</mark>' in html


def test_no_permalink_is_not_an_error() -> None:
    assert view("", {"zones.md": _doc()}) is None
    assert view("?q=hello&__theme=dark", {"zones.md": _doc()}) is None


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("doc=../../etc/passwd&start=0&end=5", "no document named '../../etc/passwd' is in the index"),
        ("doc=/etc/passwd&start=0&end=5", "no document named '/etc/passwd' is in the index"),
        ("doc=zones.md&start=5&end=5", f"start=5, end=5 is not a span of 'zones.md', which has {len(TEXT)} characters"),
        (f"doc=zones.md&start=0&end={len(TEXT) + 1}", f"expected 0 ≤ start < end ≤ {len(TEXT)}"),
        ("doc=zones.md&start=-1&end=3", "start='-1' is not a character offset"),
        ("doc=zones.md&start=1.5&end=3", "start='1.5' is not a character offset"),
        ("doc=zones.md&start=١&end=3", "start='١' is not a character offset"),  # Arabic-Indic digit
        ("doc=zones.md&start=0&end=" + "9" * 5000, "end='99999999999999999999…' is not a character offset"),
        ("doc=zones.md&start=0", "the link has no end="),
        ("start=0&end=4", "the link has no doc="),
        ("doc=zones.md&start=0&end=20&evidence_start=3", "give both evidence_start= and evidence_end=, or neither"),
        ("doc=zones.md&start=10&end=20&evidence_start=5&evidence_end=15", "is not inside start=10, end=20"),
        ("doc=" + "x" * 2000 + "&start=0&end=1", "a document name has at most 1,024"),
        ("doc=zones.md&start=0&end=1" + "&x=1" * 30, "the link has more than 20 parameters"),
    ],
)
def test_bad_permalinks_get_a_message_naming_the_value_and_the_fix(query: str, message: str) -> None:
    shown = view(query, {"zones.md": _doc()})
    assert shown is not None
    html, title = shown
    assert escape(message, quote=True) in html and title == ""
    assert "fq-error" in html and "Traceback" not in html


def test_messages_are_escaped() -> None:
    html, _ = view("doc=<script>x</script>&start=0&end=1", {"zones.md": _doc()})  # type: ignore[misc]
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_check_location_raises_location_error() -> None:
    with pytest.raises(LocationError, match="no document named 'nope.md'"):
        check_location(Location("nope.md", 0, 1), {"zones.md": _doc()})


def test_large_document_shows_a_bounded_window_around_the_span() -> None:
    line = "A line of filler text for a long document.\n"
    text = line * 200_000 + SENTENCE + "\n" + line * 200_000  # about 17 MB
    start = text.index(SENTENCE)
    doc = _doc(text, doc_id="big.txt")
    began = time.perf_counter()
    html = render_source(doc, Location("big.txt", start, start + len(SENTENCE)))
    assert time.perf_counter() - began < 5  # generous: only a window is read
    assert len(html) < 2 * (viewer.WINDOW * 2 + 10_000)
    assert f'<mark class="fq-src-evidence">{SENTENCE}</mark>' in html
    assert f"of {len(text):,}: the document is longer than 200,000 characters" in html
    win = viewer.window(doc, Location("big.txt", start, start + len(SENTENCE)))
    assert text[win.lo - 1] == "\n" and text[win.hi] == "\n"  # whole lines


def test_huge_span_is_cut() -> None:
    text = "x" * (viewer.FULL_LIMIT * 2)
    html = render_source(_doc(text, doc_id="big.txt"), Location("big.txt", 0, len(text)))
    assert "the passage is cut here" in html and len(html) < viewer.MAX_SPAN + 2 * viewer.WINDOW + 5_000


def test_pdf_is_shown_by_page() -> None:
    pages = [f"## Page {n}\n\nPage {n} text. Sentence {n} of the report." for n in range(1, 6)]
    text = "\n\n".join(pages) + "\n"
    doc = _doc(text, doc_id="report.pdf", title="Report")
    sentence = "Sentence 3 of the report."
    start = text.index(sentence)
    html = render_source(doc, Location("report.pdf", start, start + len(sentence)))
    assert "PDF page 3, as extracted" in html
    assert "Page 3 text." in html and "Page 2 text." not in html and "Page 4 text." not in html
    across = text.index("Sentence 2")
    html = render_source(doc, Location("report.pdf", across, start + len(sentence)))
    assert "PDF pages 2–3, as extracted" in html and "Page 1 text." not in html
