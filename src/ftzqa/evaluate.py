"""Retrieval quality on a gold question set: metrics, the runner and plain-text tables.

A gold item is ``{"question": ..., "answers": [...]}``; ``answers: []`` marks an off-topic
question (the documents should not answer it). Relevance is binary and by answer string: a
passage is relevant when its text contains any answer, case-insensitively.

Measures over the real (answerable) questions, each averaged over those questions:

- ``hit@1``, ``hit@3``, ``hit@5``: a relevant passage is among the first 1, 3, 5 hits;
- ``mrr``: mean of 1 / rank of the first relevant hit within the first 10 (0 when none);
- ``ndcg@10``: DCG of the first 10 hits over the ideal DCG, where the ideal ranks every
  relevant passage of the index first (so it is below 1 when more relevant passages exist
  than were found); when the retriever does not expose its passages, the ideal counts only
  the relevant hits returned;
- ``evidence``: of the questions whose top hit is relevant, the share whose top hit's
  evidence sentence itself contains an answer (does the highlighted sentence hold it?);
- ``wrongly_abstained``: share answered "not in the documents" (``found`` false).

Over off-topic items: ``abstained``, the share answered "not in the documents".
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from .errors import FtzqaError
from .types import Answer, Passage

DEPTH = 10  # hits retrieved per question; MRR and nDCG look this deep


class GoldFileError(FtzqaError, ValueError):
    """The gold question file is missing or has a bad line."""


@dataclass(frozen=True, slots=True)
class GoldItem:
    question: str
    answers: tuple[str, ...]  # empty: off-topic, the documents should not answer

    @property
    def off_topic(self) -> bool:
        return not self.answers


class Searcher(Protocol):
    """What ``evaluate`` needs: ``ftzqa.retrieve.Retriever`` or a stand-in."""

    def search(self, question: str, k: int = 5, mode: str = "hybrid") -> Answer: ...


def load_gold(path: str | Path) -> list[GoldItem]:
    """Read a JSONL gold file; blank lines are skipped, bad lines raise GoldFileError naming the line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise GoldFileError(
            f"gold file {str(path)!r} does not exist; pass --gold with a JSONL file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GoldFileError(f"gold file {str(path)!r} cannot be read as UTF-8 text ({exc})") from None
    items = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            items.append(_parse_line(line, f"{path}:{number}"))
    if not items:
        raise GoldFileError(f"gold file {str(path)!r} has no questions; add lines like {_EXAMPLE}")
    return items


_EXAMPLE = '{"question": "Who is Tang Wenhong?", "answers": ["Director"]}'


def _parse_line(line: str, where: str) -> GoldItem:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise GoldFileError(
            f"{where}: not valid JSON ({exc.msg}); each line must look like {_EXAMPLE}"
        ) from None
    if not isinstance(row, dict):
        raise GoldFileError(f"{where}: expected a JSON object, got {type(row).__name__}; use {_EXAMPLE}")
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise GoldFileError(f'{where}: "question" must be non-empty text, got {question!r}')
    answers = row.get("answers")
    if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
        raise GoldFileError(
            f'{where}: "answers" must be a list of non-empty strings ([] for an off-topic question), '
            f"got {answers!r}"
        )
    return GoldItem(question=question, answers=tuple(answers))


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
    """One question's outcome, kept so that results of several indexes can be pooled."""

    off_topic: bool
    found: bool
    first_relevant: int | None = None  # 1-based rank within the retrieved hits
    rr: float = 0.0
    ndcg: float = 0.0
    evidence_ok: bool | None = None  # None unless the top hit is relevant


def judge(
    answer: Answer, answers: Sequence[str], n_relevant: int | None = None, depth: int = DEPTH
) -> Judgement:
    """Score one Answer against its gold answers ([] = off-topic).

    ``n_relevant``: relevant passages in the index; None counts only the relevant hits returned.
    """
    if not answers:
        return Judgement(off_topic=True, found=answer.found)
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
    )


@dataclass(frozen=True, slots=True)
class EvalReport:
    """Averages over the real questions (and the off-topic ones); rates are None when undefined."""

    mode: str
    questions: int  # real questions
    off_topic: int  # off-topic questions
    hit_at_1: float | None
    hit_at_3: float | None
    hit_at_5: float | None
    mrr: float | None
    ndcg_at_10: float | None
    evidence: float | None  # over `evidence_questions`
    evidence_questions: int  # real questions whose top hit is relevant
    wrongly_abstained: float | None
    abstained: float | None  # over off-topic questions

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarise(judgements: Iterable[Judgement], mode: str) -> EvalReport:
    """Pool per-question judgements (possibly from several indexes) into one report."""
    items = list(judgements)
    real = [j for j in items if not j.off_topic]
    off = [j for j in items if j.off_topic]

    def hit(k: int) -> float | None:
        return _mean([1.0 if j.first_relevant is not None and j.first_relevant <= k else 0.0 for j in real])

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
        abstained=_mean([0.0 if j.found else 1.0 for j in off]),
    )


def index_passages(retriever: object) -> list[Passage] | None:
    """The passages of the retriever's index, when it exposes them (for the ideal nDCG)."""
    index = getattr(retriever, "index", None)
    passages = getattr(index, "passages", None)
    return list(passages) if isinstance(passages, list) else None


def count_relevant(texts: Sequence[str], answers: Sequence[str]) -> int:
    """How many of ``texts`` (already lowercased) contain one of ``answers``."""
    wanted = {a.lower() for a in answers}
    return sum(1 for t in texts if any(a in t for a in wanted))


def evaluate(
    retriever: Searcher, items: Sequence[GoldItem], mode: str = "hybrid", depth: int = DEPTH
) -> EvalReport:
    """Run every gold question through ``retriever.search(question, depth, mode)`` and score it."""
    return summarise(judge_all(retriever, items, mode, depth), mode)


def judge_all(
    retriever: Searcher, items: Sequence[GoldItem], mode: str = "hybrid", depth: int = DEPTH
) -> list[Judgement]:
    """Per-question judgements of ``items`` against one retriever."""
    passages = index_passages(retriever)
    texts = [p.text.lower() for p in passages] if passages is not None else None
    out = []
    for item in items:
        answer = retriever.search(item.question, k=depth, mode=mode)
        n_relevant = count_relevant(texts, item.answers) if texts is not None and item.answers else None
        out.append(judge(answer, item.answers, n_relevant, depth))
    return out


# --- text tables ------------------------------------------------------------------------

ROWS = (
    ("hit@1", "hit_at_1"),
    ("hit@3", "hit_at_3"),
    ("hit@5", "hit_at_5"),
    ("MRR@10", "mrr"),
    ("nDCG@10", "ndcg_at_10"),
    ("evidence", "evidence"),
    ("wrongly abstained", "wrongly_abstained"),
    ("off-topic abstained", "abstained"),
)


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def format_report(report: EvalReport) -> str:
    """One report as a two-column table."""
    return format_reports({report.mode: report})


def format_reports(reports: Mapping[str, EvalReport]) -> str:
    """Reports side by side, one column each (e.g. dense, bm25, hybrid)."""
    names = list(reports)
    first = next(iter(reports.values()), None)
    if first is None:
        return "(no reports)"
    head = [""] + names
    body = [[label] + [_cell(getattr(reports[n], attr)) for n in names] for label, attr in ROWS]
    body.append(["questions"] + [str(reports[n].questions) for n in names])
    body.append(["off-topic questions"] + [str(reports[n].off_topic) for n in names])
    body.append(["evidence checked on"] + [str(reports[n].evidence_questions) for n in names])
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    lines = [
        "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row))
        for row in [head, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
