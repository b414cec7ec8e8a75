"""Split a Document into Passages: paragraph-aware, sentence-aware, exact offsets.

Headings (Markdown ``#`` lines, or short unpunctuated one-line paragraphs in plain text)
are not emitted; they become the ``section`` of the passages below them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .settings import ChunkSettings
from .types import Document, Passage, Span

_MD_HEADING = re.compile(r"[ \t]{0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
_TOKEN = re.compile(r"\w+|[^\w\s]")
# a sentence ends at . ! ? (or CJK 。！？) plus closing quotes/brackets, followed by space or end
_LAST_WORD = re.compile(r"([\w.]+)\.$")
_SENT_END = re.compile(r"[.!?。！？]+[\"'”’)\]]*(?=\s|$)|[。！？]")
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


def count_tokens(text: str) -> int:
    """Cheap word-piece estimate: words and punctuation marks."""
    return len(_TOKEN.findall(text))


def _is_abbreviation(text: str, end: int) -> bool:
    """True when the period ending at ``end`` closes a known abbreviation or an initial."""
    if end == 0 or text[end - 1] != ".":
        return False
    m = _LAST_WORD.search(text, max(0, end - 32), end)  # a window: no abbreviation is longer
    if not m:
        return False
    word = m.group(1).lower()
    return word in _ABBREV or (len(word) == 1 and word.isalpha())


def sentences(text: str, offset: int = 0) -> list[Span]:
    """Sentence spans of ``text`` (trimmed), with offsets shifted by ``offset``."""
    spans: list[Span] = []
    start = 0
    for m in _SENT_END.finditer(text):
        end = m.end()
        if _is_abbreviation(text, m.start() + 1 if text[m.start()] == "." else 0):
            continue
        spans.extend(_trimmed(text, start, end, offset))
        start = end
    spans.extend(_trimmed(text, start, len(text), offset))
    return spans


def _trimmed(text: str, start: int, end: int, offset: int) -> list[Span]:
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return []
    s = start + (len(piece) - len(piece.lstrip()))
    e = s + len(stripped)
    return [Span(s + offset, e + offset, stripped)]


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
    pos = 0
    for line in text.split("\n"):
        line_start, line_end = pos, pos + len(line)
        pos = line_end + 1
        if not line.strip() or _MD_HEADING.match(line):
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


def _pack(spans: list[Span], budget: int) -> Iterator[tuple[int, int]]:
    """Greedily group consecutive sentence spans into (start, end) ranges under the budget."""
    group: list[Span] = []
    used = 0
    for span in spans:
        n = count_tokens(span.text)
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
    words = list(re.finditer(r"\S+", span.text))
    i = 0
    while i < len(words):
        j, used = i, 0
        while j < len(words) and (j == i or used + count_tokens(words[j].group(0)) <= budget):
            used += count_tokens(words[j].group(0))
            j += 1
        yield span.start + words[i].start(), span.start + words[j - 1].end()
        i = j


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
        md = _MD_HEADING.match(block)
        if md:
            section = md.group(2).strip()
            continue
        if _plain_heading(block, is_last=i == len(blocks) - 1):
            section = block.strip()
            continue
        paragraph += 1
        if count_tokens(block) <= settings.max_tokens:
            ranges: Iterator[tuple[int, int]] = iter([(start, end)])
        else:
            ranges = _pack(sentences(block, start), settings.max_tokens)
        for s, e in ranges:
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
