"""HTML for the chat: an Answer (or an error) as one self-contained block. Pure; no Gradio.

All document text goes through ``html.escape``. The markup is a single line with no blank lines
so the chat's Markdown renderer passes it through as one raw HTML block.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape

from ..types import Answer, Document, Hit

_BREAK = re.compile(r"\n[ \t]*\n\s*")  # a blank line separates paragraphs
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.*?)[ \t#]*$")
MODE_LABELS = {"hybrid": "hybrid", "dense": "dense (meaning)", "bm25": "keyword (BM25)"}


def text_html(text: str) -> str:
    """Escaped text with line breaks folded into spaces (the block must stay on one line)."""
    return escape(re.sub(r"[ \t]*\n\s*", " ", text), quote=True)


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
        count += not _HEADING.match(block)
    return out


def surrounding(text: str, start: int, end: int, paragraphs: int = 1) -> tuple[list[str], list[str]]:
    """Up to ``paragraphs`` whole paragraphs before and after ``text[start:end]``, with any
    headings between. When the span starts or ends inside a paragraph, the rest of it comes too."""
    head, tail = text[:start], text[end:]
    before = [b.strip() for b in _BREAK.split(head) if b.strip()]
    after = [b.strip() for b in _BREAK.split(tail) if b.strip()]
    starts_paragraph = not head.strip() or bool(re.search(r"\n[ \t]*\n\s*$", head))
    ends_paragraph = not tail.strip() or bool(re.match(r"\s*\n[ \t]*\n", tail))
    n_before = paragraphs + (0 if starts_paragraph else 1)
    n_after = paragraphs + (0 if ends_paragraph else 1)
    return _take(before[::-1], n_before)[::-1], _take(after, n_after)


def _context_block(block: str) -> str:
    m = _HEADING.match(block)
    if m:
        return f'<p class="fq-ctx-head">{text_html(m.group(1))}</p>'
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
    """Numbered citation: [n] title · § section · ¶ paragraph, with the file name."""
    p = hit.passage
    parts = [f'<span class="fq-title">{text_html(p.title)}</span>']
    if p.section:
        parts.append(f"§ {text_html(p.section)}")
    parts.append(f"¶ {p.paragraph}")
    return (
        f'<div class="fq-cite"><span class="fq-num">[{hit.rank}]</span> '
        + " · ".join(parts)
        + f' <span class="fq-doc" title="characters {p.start}–{p.end}">{text_html(p.doc_id)}</span></div>'
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
        parts.append(
            '<div class="fq-verdict fq-yes">Found in your documents '
            f'<span class="fq-conf">confidence {answer.confidence:.0%}</span>'
            + (f'<div class="fq-why">{text_html(answer.reason)}</div>' if answer.reason else "")
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

