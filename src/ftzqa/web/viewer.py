"""The source viewer: a document as indexed, with a passage and its evidence sentence marked.

Pure (no Gradio). A place in a document is a :class:`Location` (doc_id, passage span, optional
evidence span), written in a URL as ``?doc=…&start=…&end=…[&evidence_start=…&evidence_end=…]``.
Every parameter is checked (:func:`parse_location`, :func:`check_location`) and every message
names the value and the fix. The doc_id is only ever looked up in the index's documents, never
opened as a path. All document text is escaped.

Work per view is bounded: a document up to ``FULL_LIMIT`` characters is shown whole; a longer
one as a window of ``WINDOW`` characters on each side of the span (the span itself cut at
``MAX_SPAN``). A PDF (whose extracted text has a ``## Page N`` heading per page) is shown by
page: the page(s) holding the span, when they fit in ``FULL_LIMIT``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from urllib.parse import parse_qs, quote, urlencode

from ..types import Document, Hit

FULL_LIMIT = 200_000  # characters: a document up to this size is shown whole
WINDOW = 20_000  # characters on each side of the span for a longer document
MAX_SPAN = 50_000  # characters of the span itself shown at most
MAX_QUERY = 4_096  # characters of a permalink's query string read at most
MAX_DOC_ID = 1_024  # characters of a doc= value
MAX_DIGITS = 12
MAX_FIELDS = 20  # parameters in a permalink's query string
PAGE_MARK = "## Page "
PARAMS = ("doc", "start", "end", "evidence_start", "evidence_end")


class LocationError(ValueError):
    """A permalink parameter that cannot be used; the message names it and the fix."""


@dataclass(frozen=True, slots=True)
class Location:
    doc_id: str
    start: int
    end: int
    evidence_start: int | None = None
    evidence_end: int | None = None

    @classmethod
    def of_hit(cls, hit: Hit) -> Location:
        p, ev = hit.passage, hit.evidence
        if p.start <= ev.start < ev.end <= p.end:
            return cls(p.doc_id, p.start, p.end, ev.start, ev.end)
        return cls(p.doc_id, p.start, p.end)

    def query(self) -> str:
        """The permalink's query string, starting with ``?``."""
        params: dict[str, str | int] = {"doc": self.doc_id, "start": self.start, "end": self.end}
        if self.evidence_start is not None and self.evidence_end is not None:
            params |= {"evidence_start": self.evidence_start, "evidence_end": self.evidence_end}
        return "?" + urlencode(params, quote_via=quote)


def _shown(value: str, limit: int = 60) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _offset(name: str, value: str | None, required: bool) -> int | None:
    if value is None or value == "":
        if required:
            raise LocationError(f"the link has no {name}=; add {name}=N (a character offset, from the citation)")
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_DIGITS:
        raise LocationError(
            f"{name}={_shown(value, 20)} is not a character offset; use a whole number from 0 "
            "(open the citation from an answer to get a working link)"
        )
    return int(text)


def parse_query(query: str) -> dict[str, str]:
    """The permalink parameters of a URL query string (``?`` optional); the first of each wins.
    Raises LocationError for a query with more than MAX_FIELDS parameters."""
    query = (query or "")[:MAX_QUERY].lstrip("?")
    try:
        parsed = parse_qs(query, keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="replace")
    except ValueError:  # more fields than max_num_fields
        raise LocationError(
            f"the link has more than {MAX_FIELDS} parameters; keep doc, start and end "
            "(and evidence_start, evidence_end)"
        ) from None
    return {key: values[0] for key, values in parsed.items() if key in PARAMS and values}


def parse_location(params: Mapping[str, str]) -> Location | None:
    """The place a permalink names, or None when it names none (no ``doc``, ``start`` or ``end``).

    Raises LocationError for a missing or malformed parameter.
    """
    if not any(params.get(name) for name in PARAMS):
        return None
    doc = params.get("doc") or ""
    if not doc:
        raise LocationError("the link has no doc=; add doc=NAME (the document's name, from the citation)")
    if len(doc) > MAX_DOC_ID:
        raise LocationError(f"doc= is {len(doc):,} characters long; a document name has at most {MAX_DOC_ID:,}")
    start = _offset("start", params.get("start"), True)
    end = _offset("end", params.get("end"), True)
    ev_start = _offset("evidence_start", params.get("evidence_start"), False)
    ev_end = _offset("evidence_end", params.get("evidence_end"), False)
    assert start is not None and end is not None  # noqa: S101 (required above)
    if (ev_start is None) != (ev_end is None):
        raise LocationError("give both evidence_start= and evidence_end=, or neither")
    return Location(doc, start, end, ev_start, ev_end)


def check_location(location: Location, documents: Mapping[str, Document]) -> Document:
    """The document the location points into, after checking that its offsets fit it."""
    doc = documents.get(location.doc_id) if location.doc_id in documents else None
    if doc is None:
        raise LocationError(
            f"no document named {_shown(location.doc_id)} is in the index (it may have been removed); "
            "ask again and open the citation from the new answer"
        )
    size = len(doc.text)
    s, e = location.start, location.end
    if not 0 <= s < e <= size:
        raise LocationError(
            f"start={s}, end={e} is not a span of {_shown(doc.doc_id)}, which has {size:,} characters "
            f"(expected 0 ≤ start < end ≤ {size:,}); the document may have changed since the link was "
            "made: ask again and open the citation from the new answer"
        )
    es, ee = location.evidence_start, location.evidence_end
    if es is not None and ee is not None and not s <= es < ee <= e:
        raise LocationError(
            f"evidence_start={es}, evidence_end={ee} is not inside start={s}, end={e}; "
            "drop both evidence parameters, or open the citation from a new answer"
        )
    return doc


@dataclass(frozen=True, slots=True)
class Window:
    lo: int
    hi: int
    note: str


def _line_start(text: str, i: int, lo: int) -> int:
    """The start of the line holding ``i`` when it begins at or after ``lo``, else ``i``."""
    j = text.rfind("\n", lo, i)
    return j + 1 if j != -1 else i


def _line_end(text: str, i: int, hi: int) -> int:
    j = text.find("\n", i, hi)
    return j if j != -1 else i


def _page_start(text: str, i: int) -> tuple[int, str] | None:
    """Offset and number of the ``## Page N`` heading at or before ``i`` (searched within
    FULL_LIMIT characters)."""
    lo = max(0, i - FULL_LIMIT)
    j = text.rfind("\n" + PAGE_MARK, lo, i + 1)
    at = j + 1 if j != -1 else (0 if text.startswith(PAGE_MARK) and lo == 0 else -1)
    if at == -1:
        return None
    k = at + len(PAGE_MARK)
    digits = text[k : k + MAX_DIGITS]
    number = digits[: len(digits) - len(digits.lstrip("0123456789"))] or "?"
    return at, number


def window(doc: Document, location: Location) -> Window:
    """The part of ``doc.text`` to show for ``location`` (bounded), and a note saying which."""
    text, size = doc.text, len(doc.text)
    s, e = location.start, min(location.end, location.start + MAX_SPAN)
    cut = " (the passage is cut here)" if e < location.end else ""
    if doc.doc_id.lower().endswith(".pdf"):
        first, last = _page_start(text, s), _page_start(text, max(s, e - 1))
        if first is not None and last is not None:
            nxt = text.find("\n" + PAGE_MARK, max(s, e - 1), min(size, e + FULL_LIMIT))
            hi = size if nxt == -1 else nxt
            if hi - first[0] <= FULL_LIMIT:
                pages = f"page {first[1]}" if first[1] == last[1] else f"pages {first[1]}–{last[1]}"
                return Window(first[0], hi, f"PDF {pages}, as extracted{cut}")
    if size <= FULL_LIMIT:
        return Window(0, size, f"The whole document as indexed, {size:,} characters{cut}")
    lo, hi = max(0, s - WINDOW), min(size, e + WINDOW)
    lo, hi = _line_start(text, lo, max(0, lo - 2_000)), _line_end(text, hi, min(size, hi + 2_000))
    return Window(
        lo, hi,
        f"Characters {lo:,}–{hi:,} of {size:,}: the document is longer than {FULL_LIMIT:,} characters, "
        f"so {WINDOW:,} on each side of the passage are shown{cut}",
    )


def _text(text: str) -> str:
    return escape(text, quote=True)


def render_source(doc: Document, location: Location) -> str:
    """The viewer's HTML for a checked ``location`` in ``doc``: a header (title, file, span, a
    permalink), a note on what is shown, and the text with the passage and evidence marked."""
    win = window(doc, location)
    text = doc.text
    s, e = location.start, min(location.end, location.start + MAX_SPAN)
    es, ee = location.evidence_start, location.evidence_end
    if es is None or ee is None or es >= e:
        es, ee = s, e  # no evidence given: the span itself is what is marked
    ee = min(ee, e)
    passage = (
        _text(text[s:es])
        + f'<mark class="fq-src-evidence">{_text(text[es:ee])}</mark>'
        + _text(text[ee:e])
    )
    body = f'{_text(text[win.lo:s])}<span class="fq-src-passage">{passage}</span>{_text(text[e:win.hi])}'
    if win.lo > 0:
        body = '<span class="fq-src-more">…</span>\n' + body
    if win.hi < len(text):
        body += '\n<span class="fq-src-more">…</span>'
    link = escape(location.query(), quote=True)
    return (
        '<div class="fq-source">'
        '<div class="fq-src-head">'
        f'<div class="fq-src-title">{_text(doc.title)}</div>'
        f'<div class="fq-src-meta"><span class="fq-src-doc">{_text(doc.doc_id)}</span> · characters '
        f"{location.start:,}–{location.end:,} · "
        f'<a class="fq-src-link" href="{link}" title="A link to this place (open it in a new tab)">'
        "permalink</a></div>"
        f'<div class="fq-src-note">{_text(win.note)}</div>'
        "</div>"
        f'<div class="fq-src-text">{body}</div>'
        "</div>"
    )


def render_problem(message: str) -> str:
    """The viewer's HTML for a link that cannot be opened."""
    return f'<div class="fq-source"><div class="fq-verdict fq-error">⚠ {_text(message)}</div></div>'


def open_link(hit: Hit) -> str:
    """The citation's link to the viewer (HTML attribute-escaped query string)."""
    return escape(Location.of_hit(hit).query(), quote=True)


def view(query: str, documents: Mapping[str, Document]) -> tuple[str, str] | None:
    """(HTML, doc title) for a permalink query string; None when it names no place.

    Never raises for bad input: a problem becomes the message shown in the viewer.
    """
    try:
        location = parse_location(parse_query(query))
        if location is None:
            return None
        doc = check_location(location, documents)
    except LocationError as exc:
        return render_problem(f"This link cannot be opened: {exc}"), ""
    return render_source(doc, location), doc.title


VIEWER_CSS = """
#fq-viewer { position: fixed; top: 0; right: 0; bottom: 0; width: min(760px, 100vw); z-index: 1000;
  background: var(--background-fill-primary); box-shadow: -6px 0 24px rgba(0,0,0,0.18);
  padding: 0 14px 14px; overflow-y: auto; overscroll-behavior: contain; flex-wrap: nowrap; }
#fq-viewer .fq-viewer-bar { position: sticky; top: 0; z-index: 2; align-items: center; padding: 8px 0;
  background: var(--background-fill-primary); border-bottom: 1px solid var(--border-color-primary); }
.fq-source { font-size: 0.95rem; line-height: 1.6; }
.fq-src-head { padding-bottom: 6px; border-bottom: 1px solid var(--border-color-primary); margin-bottom: 8px; }
.fq-src-title { font-weight: 700; font-size: 1.05rem; }
.fq-src-meta, .fq-src-note { font-size: 0.8rem; color: var(--body-text-color-subdued); }
.fq-src-doc { font-family: var(--font-mono); }
.fq-src-text { white-space: pre-wrap; overflow-wrap: anywhere; }
.fq-src-passage { background: rgba(255, 236, 153, 0.35); border-radius: 3px; }
.fq-src-evidence { background: #ffd43b; color: #1f2328; padding: 1px 2px; border-radius: 3px; }
.fq-src-more { color: var(--body-text-color-subdued); }
a.fq-open { color: inherit; text-decoration: underline dotted; cursor: pointer; }
.fq-open-label { font-size: 0.75rem; color: var(--color-accent); margin-left: 4px; }
"""
