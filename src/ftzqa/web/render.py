"""HTML for the chat: an Answer (or an error) as one self-contained block. Pure; no Gradio.

All document text goes through ``html.escape``. The markup is a single line with no blank lines
so the chat's Markdown renderer passes it through as one raw HTML block.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape

from ..chunking import heading_text
from ..explain import NOT_IN_PASSAGE
from ..types import Answer, Document, Hit
from .viewer import open_link

# Patterns here run on document text: each is linear (no quantified group is followed by one
# that can match the same characters), and the end-anchored checks use str.rstrip instead.
_BREAK = re.compile(r"\n[ \t]*\n\s*")  # a blank line separates paragraphs
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_SPACE_RUN = re.compile(r"\s*")
CONTEXT_WINDOW = 16_384  # characters read on each side of a passage for its context, at first
MAX_CONTEXT_WINDOW = 262_144  # ... and at most
MODE_LABELS = {"hybrid": "hybrid", "dense": "dense (meaning)", "bm25": "keyword (BM25)"}


def fold_lines(text: str) -> str:
    """Each line break, with the spaces and tabs before it and all whitespace after it, as one
    space (what ``re.sub(r"[ \\t]*\\n\\s*", " ", text)`` gives, in linear time)."""
    if "\n" not in text:
        return text
    out: list[str] = []
    pos = 0
    newline = text.find("\n")
    while newline != -1:
        out.append(text[pos:newline].rstrip(" \t"))
        out.append(" ")
        pos = _SPACE_RUN.match(text, newline + 1).end()  # type: ignore[union-attr]
        newline = text.find("\n", pos)
    out.append(text[pos:])
    return "".join(out)


def text_html(text: str) -> str:
    """Escaped text with line breaks folded into spaces (the block must stay on one line)."""
    return escape(fold_lines(text), quote=True)


def highlight(hit: Hit, answer: bool = True) -> str:
    """The passage text, escaped, with the evidence sentence marked: ``<mark>`` when the passage
    answers, a plain "closest sentence" style (``fq-closest``) when it does not."""
    p, ev = hit.passage, hit.evidence
    a, b = ev.start - p.start, ev.end - p.start
    if not 0 <= a < b <= len(p.text):  # no usable span: show the text unmarked
        return text_html(p.text)
    if answer:
        inner = f"<mark>{text_html(p.text[a:b])}</mark>"
    else:
        inner = f'<span class="fq-closest" title="closest sentence, not an answer">{text_html(p.text[a:b])}</span>'
    return f"{text_html(p.text[:a])}{inner}{text_html(p.text[b:])}"


def _take(blocks: list[str], n: int) -> list[str]:
    """The first blocks holding ``n`` paragraphs (headings on the way come along, uncounted)."""
    out: list[str] = []
    count = 0
    for block in blocks:
        if count >= n:
            break
        out.append(block)
        count += heading_text(block) is None
    return out


def surrounding(text: str, start: int, end: int, paragraphs: int = 1) -> tuple[list[str], list[str]]:
    """Up to ``paragraphs`` whole paragraphs before and after ``text[start:end]``, with any
    headings between. When the span starts or ends inside a paragraph, the rest of it comes too.

    Reads only a window of the document on each side (widened as needed up to
    ``MAX_CONTEXT_WINDOW`` characters); a paragraph cut at that limit is marked with "…".
    """
    lo, hi = _space_before(text, start), _space_after(text, end)
    # a blank line in the whitespace right before (after) the span: it starts (ends) a paragraph
    starts_paragraph = lo == 0 or bool(_BLANK_LINE.search(text, lo, start))
    ends_paragraph = hi == len(text) or bool(_BLANK_LINE.search(text, end, hi))
    n_before = paragraphs + (0 if starts_paragraph else 1)
    n_after = paragraphs + (0 if ends_paragraph else 1)
    return _paragraphs_before(text, lo, n_before), _paragraphs_after(text, hi, n_after)


def _space_before(text: str, i: int) -> int:
    """Start of the run of whitespace that ends at ``i``."""
    while i > 0:
        chunk = text[max(0, i - 4096) : i]
        kept = len(chunk.rstrip())
        if kept:
            return i - len(chunk) + kept
        i -= len(chunk)
    return 0


def _space_after(text: str, i: int) -> int:
    """End of the run of whitespace that starts at ``i``."""
    while i < len(text):
        chunk = text[i : i + 4096]
        skipped = len(chunk) - len(chunk.lstrip())
        if skipped < len(chunk):
            return i + skipped
        i += len(chunk)
    return len(text)


def _blocks(piece: str) -> list[str]:
    return [b.strip() for b in _BREAK.split(piece) if b.strip()]


def _paragraphs_before(text: str, end: int, n: int) -> list[str]:
    window = CONTEXT_WINDOW
    while True:
        lo = max(0, end - window)
        blocks = _blocks(text[lo:end])
        taken = _take(blocks[::-1], n)[::-1]
        if lo == 0 or len(taken) < len(blocks):  # the farthest block in the window may be cut
            return taken
        if window >= MAX_CONTEXT_WINDOW:
            return ["…" + taken[0], *taken[1:]] if taken else taken
        window *= 2


def _paragraphs_after(text: str, start: int, n: int) -> list[str]:
    window = CONTEXT_WINDOW
    while True:
        hi = min(len(text), start + window)
        blocks = _blocks(text[start:hi])
        taken = _take(blocks, n)
        if hi == len(text) or len(taken) < len(blocks):
            return taken
        if window >= MAX_CONTEXT_WINDOW:
            return [*taken[:-1], taken[-1] + "…"] if taken else taken
        window *= 2


def _context_block(block: str) -> str:
    heading = heading_text(block)
    if heading is not None:
        return f'<p class="fq-ctx-head">{text_html(heading)}</p>'
    return f"<p>{text_html(block)}</p>"


def _context(hit: Hit, documents: Mapping[str, Document], paragraphs: int) -> str:
    doc = documents.get(hit.passage.doc_id)
    if doc is None or doc.text[hit.passage.start : hit.passage.end] != hit.passage.text:
        return ""
    before, after = surrounding(doc.text, hit.passage.start, hit.passage.end, paragraphs)
    if not before and not after:
        return ""
    body = "".join(
        [_context_block(b) for b in before]
        + [f'<p class="fq-ctx-here">{text_html(hit.passage.text)}</p>']
        + [_context_block(b) for b in after]
    )
    return f'<details class="fq-ctx"><summary>Show surrounding context</summary>{body}</details>'


def citation_html(hit: Hit) -> str:
    """Numbered citation: [n] title · § section · ¶ paragraph, with the file name, which links
    to the source viewer at this passage (``viewer``)."""
    p = hit.passage
    parts = [f'<span class="fq-title">{text_html(p.title)}</span>']
    if p.section:
        parts.append(f"§ {text_html(p.section)}")
    parts.append(f"¶ {p.paragraph}")
    return (
        f'<div class="fq-cite"><span class="fq-num">[{hit.rank}]</span> '
        + " · ".join(parts)
        + f' <a class="fq-open" href="{open_link(hit)}" title="Open the whole document at this passage">'
        + f'<span class="fq-doc" title="characters {p.start}–{p.end}">{text_html(p.doc_id)}</span>'
        + ' <span class="fq-open-label">open source ↗</span></a></div>'
    )


def relevance_html(score: float, best: float, mode: str, top: bool = False) -> str:
    """A bar relative to the best hit of this answer (the best one full), and the raw score."""
    share = 1.0 if top else (score / best if best > 0 else 0.0)
    pct = max(4, min(100, round(share * 100)))
    label = MODE_LABELS.get(mode, mode)
    return (
        f'<div class="fq-rel" title="{escape(label)} score {score:.3f}">'
        f'<span class="fq-bar"><span class="fq-fill" style="width:{pct}%"></span></span>'
        f'<span class="fq-score">relevance {score:.2f}</span></div>'
    )


def hit_html(
    hit: Hit,
    documents: Mapping[str, Document],
    best: float,
    mode: str,
    paragraphs: int = 1,
    answer: bool = True,
) -> str:
    return (
        '<div class="fq-hit">'
        + citation_html(hit)
        + relevance_html(hit.score, best, mode, top=hit.rank == 1)
        + f'<p class="fq-text">{highlight(hit, answer)}</p>'
        + _context(hit, documents, paragraphs)
        + "</div>"
    )


def render_answer(
    answer: Answer,
    documents: Mapping[str, Document],
    *,
    mode: str = "hybrid",
    rule: str = "",
    paragraphs: int = 1,
) -> str:
    """The chat reply for ``answer``: what was searched, the verdict and why, then each hit with
    citation, relevance, text and context.

    ``documents`` (doc_id -> Document) supplies the surrounding paragraphs; ``rule`` explains a
    rewritten follow-up question.
    """
    parts = ['<div class="fq-answer">']
    searched = answer.searched or answer.question
    if rule or searched != answer.question:
        why = [rule] if rule else []
        why += [f"{typed} → {used}" for typed, used in answer.corrections]
        note = f" ({text_html('; '.join(why))})" if why else ""
        parts.append(f'<div class="fq-asked">Searched for “{text_html(searched)}”{note}</div>')
    if answer.found:
        matched, _, unmatched = answer.reason.partition(NOT_IN_PASSAGE)
        parts.append(
            '<div class="fq-verdict fq-yes">Found in your documents '
            f'<span class="fq-conf">confidence {answer.confidence:.0%}</span>'
            + (f'<div class="fq-why">{text_html(matched)}</div>' if matched else "")
            + (f'<div class="fq-unmatched">Not in this passage: {text_html(unmatched)}</div>' if unmatched else "")
            + "</div>"
        )
    else:
        reason = answer.reason or (
            "Not found: the documents have no passages to show."
            if not answer.hits
            else "Not found: the documents do not seem to answer this question."
        )
        sub = '<div class="fq-sub">Nearest passages, but not an answer:</div>' if answer.hits else ""
        parts.append(f'<div class="fq-verdict fq-no">{text_html(reason)}{sub}</div>')
    if answer.hits:
        best = max(h.score for h in answer.hits)
        kind = "fq-hits" if answer.found else "fq-hits fq-nearest"
        parts.append(f'<div class="{kind}">')
        parts.extend(hit_html(h, documents, best, mode, paragraphs, answer.found) for h in answer.hits)
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


def render_error(message: str) -> str:
    """A user-facing error message as a chat reply."""
    return f'<div class="fq-answer"><div class="fq-verdict fq-error">⚠ {text_html(message)}</div></div>'

