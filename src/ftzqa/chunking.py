"""Split a Document into Passages: paragraph-aware, sentence-aware, exact offsets.

Headings (Markdown ``#`` lines, or short unpunctuated one-line paragraphs in plain text)
are not emitted; they become the ``section`` of the passages below them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from itertools import islice

from .settings import ChunkSettings
from .types import Document, Passage, Span

_TOKEN = re.compile(r"\w+|[^\w\s]")
_WORD_RUN = re.compile(r"\S+")
_LAST_WORD = re.compile(r"([\w.]+)\.$")
# A sentence ends at a run of . ! ? (or CJK 。！？) plus closing quotes/brackets, followed by
# whitespace or the end; a lone CJK stop ends one anywhere. Scanned by hand in linear time
# (the equivalent single pattern backtracks quadratically on a long run of dots).
_TERMINATOR = re.compile(r"[.!?。！？]")
_TERMINATOR_RUN = re.compile(r"[.!?。！？]*")
_CLOSER_RUN = re.compile(r"[\"'”’)\]]*")
_CJK_STOPS = "。！？"
_HEADING_START = re.compile(r"^[ \t]{0,3}#", re.MULTILINE)
MAX_LABEL_CHARS = 200  # a heading or title longer than this is shortened (it labels every passage)
MAX_PASSAGE_CHARS = 10_000  # a passage never exceeds this, even when its words are very long
_ABBREV = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "st",
    "no",
    "vs",
    "etc",
    "e.g",
    "i.e",
    "u.s",
    "u.k",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "inc",
    "ltd",
    "co",
    "corp",
    "jr",
    "sr",
    "gen",
    "gov",
    "rep",
    "sen",
    "fig",
    "approx",
}


def count_tokens(text: str, limit: int | None = None) -> int:
    """Cheap word-piece estimate: words and punctuation marks. With ``limit``, counting stops
    after ``limit + 1`` (enough to tell that a text is over a budget)."""
    if limit is None:
        return sum(1 for _ in _TOKEN.finditer(text))
    return sum(1 for _ in islice(_TOKEN.finditer(text), limit + 1))


def heading_text(line: str) -> str | None:
    """The text of a Markdown ATX heading line (``"## Part two ##"`` -> ``"Part two"``), else None.

    Up to three leading spaces, one to six ``#``, a space or tab, then the text without trailing
    spaces, tabs and ``#``. A string holding a line break (other than one at the end) is not a
    heading. Plain string scanning: linear in the length of the line.
    """
    if line.endswith("\n"):
        line = line[:-1]
    if "\n" in line:
        return None
    n = len(line)
    i = 0
    while i < 3 and i < n and line[i] in " \t":
        i += 1
    j = i
    while j < n and line[j] == "#":
        j += 1
    if not 1 <= j - i <= 6 or j == n or line[j] not in " \t":
        return None
    return line[j:].lstrip(" \t").rstrip(" \t#")


def first_heading(text: str) -> str | None:
    """The text of the first Markdown heading line in ``text`` with any text, or None."""
    for m in _HEADING_START.finditer(text):
        end = text.find("\n", m.start())
        heading = heading_text(text[m.start() : end if end != -1 else len(text)])
        if heading and heading.strip():
            return heading.strip()
    return None


def label(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    """A heading or title, trimmed and at most ``limit`` characters long."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def _is_abbreviation(text: str, end: int) -> bool:
    """True when the period ending at ``end`` closes a known abbreviation or an initial."""
    if end < 2 or text[end - 1] != ".":
        return False
    before = text[end - 2]
    if not (before.isalnum() or before in "._"):  # [\w.] must precede the period
        return False
    m = _LAST_WORD.search(text, max(0, end - 32), end)  # a window: no abbreviation is longer
    if not m:
        return False
    word = m.group(1).lower()
    return word in _ABBREV or (len(word) == 1 and word.isalpha())


def _sentence_marks(text: str) -> Iterator[tuple[int, int]]:
    r"""(start, end) of each sentence-ending mark: what ``[.!?。！？]+["'”’)\]]*(?=\s|$)|[。！？]``
    finds, in one left-to-right pass (each character is looked at a bounded number of times)."""
    n = len(text)
    m = _TERMINATOR.search(text)
    while m:
        start = m.start()
        if start + 1 == n or text[start + 1].isspace():  # the common case: one mark, then a space
            yield start, start + 1
            m = _TERMINATOR.search(text, start + 1)
            continue
        run_end = _TERMINATOR_RUN.match(text, start).end()  # type: ignore[union-attr]
        end = _CLOSER_RUN.match(text, run_end).end()  # type: ignore[union-attr]
        if end == n or text[end].isspace():
            yield start, end
            pos = end
        else:  # the run is glued to a word ("3.5", "..x"): only a CJK stop inside it ends a sentence
            for i in range(start, run_end):
                if text[i] in _CJK_STOPS:
                    yield i, i + 1
            pos = run_end
        m = _TERMINATOR.search(text, pos)


def _iter_sentences(text: str, offset: int = 0) -> Iterator[Span]:
    start = 0
    for mark_start, end in _sentence_marks(text):
        if text[mark_start] == "." and _is_abbreviation(text, mark_start + 1):
            continue
        span = _trimmed(text, start, end, offset)
        if span is not None:
            yield span
        start = end
    span = _trimmed(text, start, len(text), offset)
    if span is not None:
        yield span


def sentences(text: str, offset: int = 0) -> list[Span]:
    """Sentence spans of ``text`` (trimmed), with offsets shifted by ``offset``."""
    return list(_iter_sentences(text, offset))


def _trimmed(text: str, start: int, end: int, offset: int) -> Span | None:
    piece = text[start:end]
    lead = piece.lstrip()
    if not lead:
        return None
    s = start + len(piece) - len(lead)
    stripped = lead.rstrip()
    return Span(s + offset, s + len(stripped) + offset, stripped)


def _plain_heading(block: str, is_last: bool) -> bool:
    """A short single line without closing punctuation reads as a heading in plain text."""
    if is_last or "\n" in block:
        return False
    words = block.split()
    return (
        0 < len(words) <= 8
        and block[0].isalpha()
        and block[0].isupper()
        and block[-1] not in ".!?:;,)\"'”’。！？"
    )


def _blocks(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each paragraph, trimmed; a blank line or a Markdown heading line ends one."""
    block_start: int | None = None
    block_end = 0
    pos, n = 0, len(text)
    while pos <= n:
        newline = text.find("\n", pos)
        line_start, line_end = pos, newline if newline != -1 else n
        pos = line_end + 1
        line = text[line_start:line_end]
        if not line.strip() or heading_text(line) is not None:
            if block_start is not None:
                yield from _trim_range(text, block_start, block_end)
                block_start = None
            if line.strip():
                yield from _trim_range(text, line_start, line_end)
            continue
        if block_start is None:
            block_start = line_start
        block_end = line_end
    if block_start is not None:
        yield from _trim_range(text, block_start, block_end)


def _trim_range(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    piece = text[start:end]
    if piece.strip():
        s = start + len(piece) - len(piece.lstrip())
        yield s, s + len(piece.strip())


def _pack(spans: Iterable[Span], budget: int) -> Iterator[tuple[int, int]]:
    """Greedily group consecutive sentence spans into (start, end) ranges under the budget."""
    group: list[Span] = []
    used = 0
    for span in spans:
        n = count_tokens(span.text, budget)
        if group and used + n > budget:
            yield group[0].start, group[-1].end
            group, used = [], 0
        if n > budget:  # one overlong sentence: cut it at word boundaries
            yield from _cut_words(span, budget)
            continue
        group.append(span)
        used += n
    if group:
        yield group[0].start, group[-1].end


def _cut_words(span: Span, budget: int) -> Iterator[tuple[int, int]]:
    """Ranges of whole words under the budget; a single word over it is a range of its own
    (``_bounded`` then cuts it to MAX_PASSAGE_CHARS)."""
    start: int | None = None
    end = used = 0
    for word in _WORD_RUN.finditer(span.text):
        n = count_tokens(word.group(0), budget)
        if start is not None and used + n > budget:
            yield span.start + start, span.start + end
            start, used = None, 0
        if start is None:
            start = word.start()
        end = word.end()
        used += n
    if start is not None:
        yield span.start + start, span.start + end


def _bounded(text: str, ranges: Iterable[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """The ranges, each cut (at whitespace when there is some) to at most MAX_PASSAGE_CHARS."""
    for s, e in ranges:
        while e - s > MAX_PASSAGE_CHARS:
            cut = s + MAX_PASSAGE_CHARS
            k = cut
            while k > s + MAX_PASSAGE_CHARS // 2 and not text[k].isspace():
                k -= 1
            if not text[k].isspace():
                k = cut
            yield from _trim_range(text, s, k)
            s = k
        yield from _trim_range(text, s, e)


def split(document: Document, settings: ChunkSettings | None = None) -> list[Passage]:
    """Passages of ``document`` in reading order; ``document.text[p.start:p.end] == p.text``."""
    settings = settings or ChunkSettings()
    text = document.text
    blocks = list(_blocks(text))
    passages: list[Passage] = []
    section = ""
    paragraph = 0
    for i, (start, end) in enumerate(blocks):
        block = text[start:end]
        heading = heading_text(block)
        if heading is not None:
            section = label(heading)
            continue
        if _plain_heading(block, is_last=i == len(blocks) - 1):
            section = label(block)
            continue
        paragraph += 1
        if count_tokens(block, settings.max_tokens) <= settings.max_tokens:
            ranges: Iterable[tuple[int, int]] = [(start, end)]
        else:
            ranges = _pack(_iter_sentences(block, start), settings.max_tokens)
        for s, e in _bounded(text, ranges):
            passages.append(
                Passage(
                    doc_id=document.doc_id,
                    title=document.title,
                    section=section,
                    paragraph=paragraph,
                    start=s,
                    end=e,
                    text=text[s:e],
                )
            )
    return passages
