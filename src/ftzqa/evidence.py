"""Pick the sentence inside a passage that best answers the question (as document offsets)."""

from __future__ import annotations

import re
from collections.abc import Callable

from .chunking import sentences
from .types import Passage, Span

_NUMERIC_QUESTION = re.compile(
    r"\b(how (many|much|long|far|old|large|big|high)"
    r"|what (percentage|percent|share|proportion|number|year|date)|when|which year|what time)\b",
    re.IGNORECASE,
)
_HAS_NUMBER = re.compile(r"\d")


def best_sentence(
    question_terms: list[str],
    question: str,
    passage: Passage,
    tokenize: Callable[[str], list[str]],
    idf: Callable[[str], float],
) -> Span:
    """The sentence with the most question weight (idf of shared terms); ties go to the earlier one.

    A question that asks for a quantity or a date adds a small bonus to sentences holding a number.
    """
    spans = sentences(passage.text, passage.start)
    if len(spans) <= 1:
        return Span(passage.start, passage.end, passage.text)
    wanted = set(question_terms)
    numeric = bool(_NUMERIC_QUESTION.search(question))
    best, best_score = spans[0], -1.0
    for span in spans:
        terms = set(tokenize(span.text)) & wanted
        score = sum(idf(t) for t in terms)
        if numeric and _HAS_NUMBER.search(span.text):
            score += 0.5
        if score > best_score:
            best, best_score = span, score
    return best
