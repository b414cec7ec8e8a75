"""Decide whether the documents answer a question: a small logistic model over three signals.

Signals of each of the top-ranked passages (all in [0, 1] or close):
- ``cosine``: dense similarity of question and passage;
- ``coverage``: share of the question's term weight (idf) that the passage contains;
- ``unknown``: share of the question's term weight carried by terms found nowhere in the index.

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
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Signals:
    cosine: float
    coverage: float
    unknown: float

    def as_list(self) -> list[float]:
        return [self.cosine, self.coverage, self.unknown]


@dataclass(frozen=True, slots=True)
class AbstainModel:
    """p(answered) = sigmoid(bias + w . signals); answered when p >= threshold."""

    bias: float
    weights: tuple[float, float, float]
    threshold: float = 0.5

    def probability(self, signals: Signals) -> float:
        z = self.bias + sum(w * x for w, x in zip(self.weights, signals.as_list(), strict=True))
        return 1.0 / (1.0 + math.exp(-z))

    def answers(self, signals: Signals) -> bool:
        return self.probability(signals) >= self.threshold


# fitted by: python bench/calibrate.py  (see README, "Not in the documents")
# (48 SQuAD dev articles; per article: 3% of real questions refused, 98% of other articles' refused)
DEFAULT_MODEL = AbstainModel(bias=-4.601, weights=(5.813, 5.410, 0.0), threshold=0.356)


def signals(
    question_terms: list[str],
    passage_terms: set[str],
    cosine: float,
    idf: Callable[[str], float],
    known: Callable[[str], bool],
) -> Signals:
    """Compute the three signals for one question and its best passage."""
    distinct = set(question_terms)
    total = sum(idf(t) for t in distinct)
    if total <= 0:
        return Signals(cosine=cosine, coverage=0.0, unknown=0.0)
    covered = sum(idf(t) for t in distinct if t in passage_terms)
    missing = sum(idf(t) for t in distinct if not known(t))
    return Signals(cosine=cosine, coverage=covered / total, unknown=missing / total)
