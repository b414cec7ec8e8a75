"""Retrieval and verdict quality on a gold question set: metrics, the runner and plain-text tables.

The gold file format and follow-up resolution live in ``gold.py`` (re-exported here). Items are
*answerable* (with answer strings), *near-miss* (on topic, but asking for something the
documents do not state) or *off-topic*. Relevance is binary and by answer string: a passage
is relevant when its text contains any answer, case-insensitively.

Measures over the answerable questions, each averaged over those questions:

- ``hit@1``, ``hit@3``, ``hit@5``: a relevant passage is among the first 1, 3, 5 hits;
- ``mrr``: mean of 1 / rank of the first relevant hit within the first 10 (0 when none);
- ``ndcg@10``: DCG of the first 10 hits over the ideal DCG, where the ideal ranks every
  relevant passage of the index first (so it is below 1 when more relevant passages exist
  than were found); when the retriever does not expose its passages, the ideal counts only
  the relevant hits returned;
- ``evidence``: of the questions whose top hit is relevant, the share whose top hit's
  evidence sentence itself contains an answer (does the highlighted sentence hold it?);
- ``fully_right``: found, the top hit relevant, and its evidence sentence holds an answer;
- ``wrongly_abstained``: share answered "not in the documents" (``found`` false).

Over near-miss items: ``near_miss_abstained``; over off-topic items: ``abstained`` (also given
as ``off_topic_abstained``): the share answered "not in the documents".

Follow-ups (items with ``previous``) count in their own kind, and ``followups_right`` counts
those fully right (answerable) or abstained (near-miss, off-topic).

The verdict's precision/recall curve: an item is *found at t* when its confidence is at least
t; a *correct found* is an answerable item found with a relevant top hit. precision(t) =
correct found / found at t (over every item, so near-misses and off-topic questions found
count against it); recall(t) = correct found / answerable items. The operating point is what
the product actually did (its ``found`` flags), labelled with the retriever's threshold.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from .gold import KINDS, GoldFileError, GoldItem, load_gold, resolved_queries, searched_queries
from .types import Answer, Passage

__all__ = [
    "DEPTH",
    "KINDS",
    "EvalReport",
    "GoldFileError",
    "GoldItem",
    "Judgement",
    "PRPoint",
    "Searcher",
    "count_relevant",
    "evaluate",
    "format_curve",
    "format_report",
    "format_reports",
    "judge",
    "judge_all",
    "load_gold",
    "ndcg",
    "operating_point",
    "pr_curve",
    "reciprocal_rank",
    "resolved_queries",
    "searched_queries",
    "summarise",
    "threshold_of",
]

DEPTH = 10  # hits retrieved per question; MRR and nDCG look this deep
DEFAULT_THRESHOLD = 0.5  # operating point label when the retriever has no abstain.threshold
CURVE_THRESHOLDS = tuple(i / 20 for i in range(21))  # 0.00, 0.05, ..., 1.00


class Searcher(Protocol):
    """What ``evaluate`` needs: ``ftzqa.retrieve.Retriever`` or a stand-in."""

    def search(self, question: str, k: int = 5, mode: str = "hybrid", *, require: Sequence[str] = ()) -> Answer: ...


# --- pure metric math -------------------------------------------------------------------


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """True when ``text`` contains any of ``answers`` (case-insensitive)."""
    low = text.lower()
    return any(a.lower() in low for a in answers)


def first_relevant(relevance: Sequence[bool]) -> int | None:
    """1-based rank of the first relevant hit, or None."""
    return next((i for i, r in enumerate(relevance, start=1) if r), None)


def reciprocal_rank(relevance: Sequence[bool], depth: int = DEPTH) -> float:
    rank = first_relevant(relevance[:depth])
    return 1.0 / rank if rank else 0.0


def ndcg(relevance: Sequence[bool], n_relevant: int, depth: int = DEPTH) -> float:
    """Binary nDCG@depth; ``n_relevant``: relevant items in the whole collection (for the ideal)."""
    dcg = sum(1.0 / math.log2(i + 1) for i, r in enumerate(relevance[:depth], start=1) if r)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(n_relevant, depth) + 1))
    return dcg / ideal if ideal > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Judgement:
    """One question's outcome, kept so that results of several indexes can be pooled.

    ``off_topic`` and ``kind`` agree: give either (``kind`` "" follows ``off_topic``).
    """

    off_topic: bool
    found: bool
    first_relevant: int | None = None  # 1-based rank within the retrieved hits
    rr: float = 0.0
    ndcg: float = 0.0
    evidence_ok: bool | None = None  # None unless the top hit is relevant
    kind: str = ""  # answerable | near_miss | off_topic
    confidence: float = 0.0
    followup: bool = False

    def __post_init__(self) -> None:
        if not self.kind:
            object.__setattr__(self, "kind", "off_topic" if self.off_topic else "answerable")
        if self.kind not in KINDS or self.off_topic != (self.kind == "off_topic"):
            raise ValueError(f"kind {self.kind!r} does not agree with off_topic={self.off_topic}")

    @property
    def correct_found(self) -> bool:
        """Answerable, found, and the top hit relevant."""
        return self.kind == "answerable" and self.found and self.first_relevant == 1

    @property
    def fully_right(self) -> bool:
        """Answerable: correct found with the answer in the highlighted sentence; else: abstained."""
        if self.kind == "answerable":
            return self.correct_found and self.evidence_ok is True
        return not self.found


def judge(
    answer: Answer,
    answers: Sequence[str],
    n_relevant: int | None = None,
    depth: int = DEPTH,
    *,
    kind: str = "",
    followup: bool = False,
) -> Judgement:
    """Score one Answer against its gold answers ([] = should not be answered).

    ``n_relevant``: relevant passages in the index; None counts only the relevant hits returned.
    ``kind``: "" means answerable when there are answers, else off-topic.
    """
    kind = kind or ("answerable" if answers else "off_topic")
    confidence = float(answer.confidence)
    if not answers:
        return Judgement(
            off_topic=kind == "off_topic", found=answer.found, kind=kind, confidence=confidence, followup=followup
        )
    relevance = [contains_answer(h.passage.text, answers) for h in answer.hits]
    total = sum(relevance[:depth]) if n_relevant is None else max(n_relevant, sum(relevance[:depth]))
    evidence = contains_answer(answer.hits[0].evidence.text, answers) if relevance and relevance[0] else None
    return Judgement(
        off_topic=False,
        found=answer.found,
        first_relevant=first_relevant(relevance),
        rr=reciprocal_rank(relevance, depth),
        ndcg=ndcg(relevance, total, depth),
        evidence_ok=evidence,
        kind=kind,
        confidence=confidence,
        followup=followup,
    )


@dataclass(frozen=True, slots=True)
class PRPoint:
    threshold: float
    precision: float | None  # None when nothing is found at this threshold
    recall: float | None  # None without answerable items
    found: int  # items found at this threshold

    def triple(self) -> list[float | None]:
        return [_round(self.threshold), _round(self.precision), _round(self.recall)]


def _pr(judgements: Sequence[Judgement], found: Sequence[bool], threshold: float) -> PRPoint:
    answerable = sum(1 for j in judgements if j.kind == "answerable")
    n_found = sum(found)
    correct = sum(
        1 for j, f in zip(judgements, found, strict=True) if f and j.kind == "answerable" and j.first_relevant == 1
    )
    return PRPoint(
        threshold=threshold,
        precision=correct / n_found if n_found else None,
        recall=correct / answerable if answerable else None,
        found=n_found,
    )


def pr_curve(judgements: Iterable[Judgement], thresholds: Iterable[float] = CURVE_THRESHOLDS) -> list[PRPoint]:
    """Precision and recall of the verdict "found when confidence >= t", for each threshold t."""
    items = list(judgements)
    return [_pr(items, [j.confidence >= t for j in items], t) for t in thresholds]


def operating_point(judgements: Iterable[Judgement], threshold: float) -> PRPoint:
    """Precision and recall of what the product did (its ``found`` flags)."""
    items = list(judgements)
    return _pr(items, [j.found for j in items], threshold)


@dataclass(frozen=True, slots=True)
class EvalReport:
    """Averages over the answerable questions (and the others); rates are None when undefined."""

    mode: str
    questions: int  # answerable questions
    off_topic: int  # off-topic questions
    hit_at_1: float | None
    hit_at_3: float | None
    hit_at_5: float | None
    mrr: float | None
    ndcg_at_10: float | None
    evidence: float | None  # over `evidence_questions`
    evidence_questions: int  # answerable questions whose top hit is relevant
    wrongly_abstained: float | None
    abstained: float | None  # over off-topic questions
    near_miss: int = 0  # near-miss questions
    fully_right: float | None = None  # over answerable questions
    near_miss_abstained: float | None = None
    followups: int = 0  # follow-up questions (of every kind)
    followups_right: int = 0
    threshold: float = DEFAULT_THRESHOLD  # the operating point's label
    operating_point: PRPoint | None = None
    pr_curve: tuple[PRPoint, ...] = ()

    @property
    def off_topic_abstained(self) -> float | None:
        return self.abstained

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if key == "pr_curve":
                out[key] = [p.triple() for p in self.pr_curve]
            elif key == "operating_point":
                op = self.operating_point
                out[key] = None if op is None else {k: _round(v) for k, v in asdict(op).items()}
            else:
                out[key] = _round(value)
        out["off_topic_abstained"] = _round(self.off_topic_abstained)
        return out


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarise(
    judgements: Iterable[Judgement], mode: str, threshold: float = DEFAULT_THRESHOLD
) -> EvalReport:
    """Pool per-question judgements (possibly from several indexes) into one report."""
    items = list(judgements)
    real = [j for j in items if j.kind == "answerable"]
    near = [j for j in items if j.kind == "near_miss"]
    off = [j for j in items if j.kind == "off_topic"]
    followups = [j for j in items if j.followup]

    def hit(k: int) -> float | None:
        return _mean([1.0 if j.first_relevant is not None and j.first_relevant <= k else 0.0 for j in real])

    def abstained(group: list[Judgement]) -> float | None:
        return _mean([0.0 if j.found else 1.0 for j in group])

    checked = [j.evidence_ok for j in real if j.evidence_ok is not None]
    return EvalReport(
        mode=mode,
        questions=len(real),
        off_topic=len(off),
        hit_at_1=hit(1),
        hit_at_3=hit(3),
        hit_at_5=hit(5),
        mrr=_mean([j.rr for j in real]),
        ndcg_at_10=_mean([j.ndcg for j in real]),
        evidence=_mean([1.0 if ok else 0.0 for ok in checked]),
        evidence_questions=len(checked),
        wrongly_abstained=_mean([0.0 if j.found else 1.0 for j in real]),
        abstained=abstained(off),
        near_miss=len(near),
        fully_right=_mean([1.0 if j.fully_right else 0.0 for j in real]),
        near_miss_abstained=abstained(near),
        followups=len(followups),
        followups_right=sum(1 for j in followups if j.fully_right),
        threshold=threshold,
        operating_point=operating_point(items, threshold) if items else None,
        pr_curve=tuple(pr_curve(items, sorted({*CURVE_THRESHOLDS, threshold}))),
    )


def index_passages(retriever: object) -> list[Passage] | None:
    """The passages of the retriever's index, when it exposes them (for the ideal nDCG): a store's
    ``iter_passages()``, or a plain ``passages`` list."""
    index = getattr(retriever, "store", None) or getattr(retriever, "index", None)
    every = getattr(index, "iter_passages", None)
    if callable(every):
        return list(every())
    passages = getattr(index, "passages", None)
    return list(passages) if isinstance(passages, list) else None


def threshold_of(retriever: object) -> float:
    """The retriever's verdict threshold (``retriever.abstain.threshold``), else 0.5."""
    value = getattr(getattr(retriever, "abstain", None), "threshold", None)
    return float(value) if isinstance(value, int | float) else DEFAULT_THRESHOLD


def count_relevant(texts: Sequence[str], answers: Sequence[str]) -> int:
    """How many of ``texts`` (already lowercased) contain one of ``answers``."""
    wanted = {a.lower() for a in answers}
    return sum(1 for t in texts if any(a in t for a in wanted))


def evaluate(
    retriever: Searcher, items: Sequence[GoldItem], mode: str = "hybrid", depth: int = DEPTH
) -> EvalReport:
    """Run every gold question through ``retriever.search(question, depth, mode)`` and score it."""
    return summarise(judge_all(retriever, items, mode, depth), mode, threshold_of(retriever))


def judge_all(
    retriever: Searcher, items: Sequence[GoldItem], mode: str = "hybrid", depth: int = DEPTH
) -> list[Judgement]:
    """Per-question judgements of ``items`` against one retriever (follow-ups resolved first)."""
    passages = index_passages(retriever)
    texts = [p.text.lower() for p in passages] if passages is not None else None
    out = []
    lexicon = getattr(getattr(retriever, "store", None) or getattr(retriever, "index", None), "lexicon", None)
    is_name = getattr(lexicon, "is_name", None)
    similar = None
    if any(item.previous for item in items) and getattr(retriever, "embedder", None) is not None:
        from .web.followup import embedding_similarity

        similar = embedding_similarity(retriever.embedder.encode)  # type: ignore[attr-defined]
    for item, resolved in zip(items, resolved_queries(items, is_name, similar), strict=True):
        answer = retriever.search(resolved.query, k=depth, mode=mode, require=resolved.focus)
        n_relevant = count_relevant(texts, item.answers) if texts is not None and item.answers else None
        out.append(judge(answer, item.answers, n_relevant, depth, kind=item.kind, followup=item.followup))
    return out


# --- text tables ------------------------------------------------------------------------

ROWS = (
    ("hit@1", "hit_at_1"),
    ("hit@3", "hit_at_3"),
    ("hit@5", "hit_at_5"),
    ("MRR@10", "mrr"),
    ("nDCG@10", "ndcg_at_10"),
    ("evidence", "evidence"),
    ("fully right", "fully_right"),
    ("wrongly abstained", "wrongly_abstained"),
    ("near-miss abstained", "near_miss_abstained"),
    ("off-topic abstained", "abstained"),
)


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _table(head: list[str], body: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    lines = [
        "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row))
        for row in [head, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_report(report: EvalReport) -> str:
    """One report as a two-column table."""
    return format_reports({report.mode: report})


def format_reports(reports: Mapping[str, EvalReport]) -> str:
    """Reports side by side, one column each (e.g. dense, bm25, hybrid)."""
    names = list(reports)
    if not names:
        return "(no reports)"
    body = [[label] + [_cell(getattr(reports[n], attr)) for n in names] for label, attr in ROWS]
    body.append(["follow-ups right"] + [f"{reports[n].followups_right}/{reports[n].followups}" for n in names])
    body.append(["questions"] + [str(reports[n].questions) for n in names])
    body.append(["near-miss questions"] + [str(reports[n].near_miss) for n in names])
    body.append(["off-topic questions"] + [str(reports[n].off_topic) for n in names])
    body.append(["evidence checked on"] + [str(reports[n].evidence_questions) for n in names])
    return _table([""] + names, body)


def format_curve(reports: Mapping[str, EvalReport], step: float = 0.1) -> str:
    """The verdict's precision / recall per threshold (every ``step``), and the operating point."""
    names = list(reports)
    if not names:
        return "(no reports)"
    thresholds = sorted({round(p.threshold, 4) for n in names for p in reports[n].pr_curve})
    every = max(1, round(step * 20))  # the curve is on a 0.05 grid
    shown = [t for t in thresholds if round(t * 20) == t * 20 and round(t * 20) % every == 0]
    body = []
    for t in shown:
        row = [f"t = {t:.2f}"]
        for n in names:
            point = next((p for p in reports[n].pr_curve if round(p.threshold, 4) == t), None)
            row.append("–" if point is None else f"{_cell(point.precision)} / {_cell(point.recall)}")
        body.append(row)
    op_row = ["operating point"]
    for n in names:
        op = reports[n].operating_point
        op_row.append(
            "–" if op is None else f"{_cell(op.precision)} / {_cell(op.recall)} @ {reports[n].threshold:.3f}"
        )
    body.append(op_row)
    return "verdict precision / recall (found when confidence >= t)\n" + _table([""] + names, body)
