"""Decide whether the documents answer a question: a small logistic model over three signals.

Signals of each of the top-ranked passages (all in [0, 1] or close):
- ``cosine``: dense similarity of question and passage;
- ``coverage``: share of the question's term weight (idf) that the passage contains;
- ``unknown``: share of the question's term weight carried by terms found nowhere in the index;
- ``unknown_names``: share of the names in the question (capitalised words after the first)
  found nowhere in the index: a question about a place, person or body the documents never
  mention cannot be answered by them, however close its other words are.

A fixed cosine cut cannot separate on-topic from off-topic questions (a question about a zone
the article never names can be closer to the article than a real question), but a question
whose rare words are absent from the best passage is rarely answered by it. The weights are
fitted by ``bench/calibrate.py`` on SQuAD articles (own-article questions as positives, other
articles' questions as negatives); see README. ``unknown`` is computed but weighted 0: real
questions about a single article often use words the article lacks, so at the operating point
(about 3% of real questions refused) it cost more answered questions than it saved.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Signals:
    cosine: float
    coverage: float
    unknown: float
    unknown_names: float = 0.0

    def as_list(self) -> list[float]:
        return [self.cosine, self.coverage, self.unknown, self.unknown_names]


@dataclass(frozen=True, slots=True)
class AbstainModel:
    """p(answered) = sigmoid(bias + w . signals); answered when p >= threshold."""

    bias: float
    weights: tuple[float, float, float, float]
    threshold: float = 0.5

    def probability(self, signals: Signals) -> float:
        z = self.bias + sum(w * x for w, x in zip(self.weights, signals.as_list(), strict=True))
        return 1.0 / (1.0 + math.exp(-z))

    def answers(self, signals: Signals) -> bool:
        return self.probability(signals) >= self.threshold


# fitted by: python bench/calibrate.py  (see README, "Not in the documents")
# (48 SQuAD dev articles; per article: 3% of real questions refused, 98% of other articles' refused)
DEFAULT_MODEL = AbstainModel(bias=-3.882, weights=(5.301, 4.885, 0.0, -1.990), threshold=0.391)


_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][\w'’-]*")


def name_terms(question: str, tokenize: Callable[[str], list[str]]) -> list[str]:
    """Index terms of the capitalised words after the first word ("Brazil" in "How many ... Brazil?")."""
    terms: list[str] = []
    for match in _NAME.finditer(question.strip()):
        if match.group(0) != "I":
            terms.extend(tokenize(match.group(0)))
    return terms


def signals(
    question_terms: list[str],
    passage_terms: set[str],
    cosine: float,
    idf: Callable[[str], float],
    known: Callable[[str], bool],
    names: list[str] | None = None,
) -> Signals:
    """Compute the signals for one question and one of its top passages."""
    distinct_names = set(names or ())
    unknown_names = (
        sum(1 for t in distinct_names if not known(t)) / len(distinct_names) if distinct_names else 0.0
    )
    distinct = set(question_terms)
    total = sum(idf(t) for t in distinct)
    if total <= 0:
        return Signals(cosine=cosine, coverage=0.0, unknown=0.0, unknown_names=unknown_names)
    covered = sum(idf(t) for t in distinct if t in passage_terms)
    missing = sum(idf(t) for t in distinct if not known(t))
    return Signals(
        cosine=cosine, coverage=covered / total, unknown=missing / total, unknown_names=unknown_names
    )
