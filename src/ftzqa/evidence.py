"""Pick the sentence inside a passage that answers the question (as document offsets).

A sentence scores the idf weight of the question's topic words it holds, plus half the weight of
the question's names it holds (the passage as a whole must be about the names; the sentence must
hold the fact), plus a bonus when it holds the kind of answer asked for (a number for "how many",
a date for "when", ...). A bare attribution ("Tang Wenhong said.") scores a third; remaining ties
go to the longer, more informative sentence, then to the earlier one. When a bare attribution
still wins, the evidence is the sentence before it together with it (the quote and its speaker).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .answertype import holds
from .chunking import sentences
from .query import Query
from .types import Passage, Span

NAME_WEIGHT = 0.5
TYPE_BONUS = 1.5
BARE_FACTOR = 1 / 3
_SPEECH = frozenset("said says stated states told added noted explained introduced announced according".split())
_BARE_WORDS = 6


@dataclass(frozen=True, slots=True)
class Evidence:
    span: Span
    holds_type: bool  # the sentence holds the kind of answer asked for (True when none is asked)
    names_near: float = 1.0  # share of the question's names within a sentence of the evidence (+ headings)


def _bare_attribution(text: str) -> bool:
    words = text.split()
    return len(words) <= _BARE_WORDS and any(w.strip(".,;:!?\"'”’").lower() in _SPEECH for w in words)


def best_sentence(
    query: Query,
    passage: Passage,
    tokenize: Callable[[str], list[str]],
    idf: Callable[[str], float],
    heading_terms: frozenset[str] = frozenset(),
) -> Evidence:
    """The answering sentence of ``passage`` for ``query``.

    ``heading_terms``: index terms of the passage's title and section; the question's names count
    as near the evidence when they are there.
    """
    spans = sentences(passage.text, passage.start) or [Span(passage.start, passage.end, passage.text)]
    topic = {t for w in query.topic for t in w.terms}
    names = {t for w in query.names for t in w.terms} - topic
    given = frozenset(w.text for w in query.words)
    best: tuple[float, int, int] | None = None
    at = 0
    chosen_holds = True
    sentence_terms: list[set[str]] = []
    for i, span in enumerate(spans):
        terms = set(tokenize(span.text))
        sentence_terms.append(terms)
        score = sum(idf(t) for t in terms & topic) + NAME_WEIGHT * sum(idf(t) for t in terms & names)
        has_type = holds(query.asked, span.text, given)
        if query.asked is not None and has_type:
            score += TYPE_BONUS
        if _bare_attribution(span.text):
            score *= BARE_FACTOR
        key = (round(score, 6), min(len(terms), 40), -i)
        if best is None or key > best:
            best, at, chosen_holds = key, i, has_type
    phrases = query.name_phrases()
    near_terms = set(heading_terms).union(*sentence_terms[max(0, at - 1) : at + 2])
    near = (
        sum(1 for p in phrases if all(t in near_terms for w in p for t in w.terms)) / len(phrases) if phrases else 1.0
    )
    chosen = spans[at]
    if at > 0 and _bare_attribution(chosen.text):  # "… Tang Wenhong said.": show what was said with it
        start = spans[at - 1].start
        chosen = Span(start, chosen.end, passage.text[start - passage.start : chosen.end - passage.start])
        chosen_holds = chosen_holds or holds(query.asked, chosen.text, given)
    return Evidence(chosen, chosen_holds, near)
