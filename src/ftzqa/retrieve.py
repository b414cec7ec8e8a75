"""The public search entry point: question -> Answer (ranked, cited hits + found/not found)."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .abstain import DEFAULT_MODEL as DEFAULT_ABSTAIN
from .abstain import AbstainModel, Signals, rival_topic, signals
from .abstain import Passage as VerdictPassage
from .embed import Embedder
from .errors import InvalidQueryError
from .evidence import Evidence, best_sentence
from .explain import explain
from .fusion import convex, rrf
from .index import Index, Staleness, embed_input, load_index
from .query import Query, analyse
from .script import NAMES as SCRIPT_NAMES
from .script import foreign_share
from .settings import MAX_K, MAX_QUESTION_CHARS, MODES, Settings
from .types import Answer, Hit

if TYPE_CHECKING:
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

ABSTAIN_DEPTH = 3  # the decision looks at this many top passages


RIVAL_DEPTH = 10  # passages compared with the top ones ("the documents say it, but for someone else")


class Ranking(NamedTuple):
    ids: NDArray[np.int64]
    scores: NDArray[np.float32]


def _shown(value: object) -> str:
    """A short repr of a bad value for an error message (never the whole of a huge one)."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        return "a number too large to show"
    return text if len(text) <= 40 else f"{text[:40]}… ({len(text):,} characters)"


def check_question(question: object, max_chars: int = MAX_QUESTION_CHARS) -> str:
    """The question with control characters (and lone surrogates) as spaces, stripped.

    The length is checked first, in constant time for any input, so a huge question costs
    nothing; then the (bounded) text is cleaned.
    """
    if not isinstance(question, str):
        raise InvalidQueryError(f"question must be text, got {type(question).__name__}; pass a string")
    if len(question) > max_chars:
        length = len(question.strip())  # only scans the ends; surrounding spaces do not count
        if length > max_chars:
            raise InvalidQueryError(
                f"the question is {length:,} characters long, more than the {max_chars:,} allowed; "
                "ask a shorter question"
            )
    cleaned = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in question).strip()
    if not cleaned:
        raise InvalidQueryError("the question is empty; type a question about your documents")
    return cleaned


def check_k(k: object, max_k: int = MAX_K) -> int:
    """``k`` as an int from 1 to ``max_k`` (whole floats such as 3.0 are accepted)."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        if isinstance(k, float) and k.is_integer():
            k = int(k)
        else:
            raise InvalidQueryError(
                f"k of {_shown(k)} is not a whole number; pass k as an integer from 1 to {max_k}"
            )
    if int(k) < 1:
        raise InvalidQueryError(f"k of {_shown(int(k))} is less than 1; pass k from 1 to {max_k}")
    if int(k) > max_k:
        raise InvalidQueryError(f"k of {_shown(int(k))} is more than the {max_k} allowed; pass k from 1 to {max_k}")
    return int(k)


def check_mode(mode: object) -> str:
    if not isinstance(mode, str) or mode not in MODES:
        raise InvalidQueryError(f"mode {_shown(mode)} is not one of {', '.join(MODES)}; pick one of those")
    return mode


class Retriever:
    """Searches one loaded index. Thread-safe for concurrent ``search`` calls."""

    def __init__(
        self,
        index: Index,
        embedder: Embedder | None = None,
        settings: Settings | None = None,
        abstain: AbstainModel = DEFAULT_ABSTAIN,
    ) -> None:
        self.index = index
        self.settings = settings or Settings()
        self.abstain = abstain
        self._embedder = embedder

    @classmethod
    def load(
        cls,
        index_dir: str | Path = "index",
        *,
        model: str | None = None,
        embedder: Embedder | None = None,
        settings: Settings | None = None,
    ) -> Retriever:
        """Load ``index_dir``; ``model`` (if given) must match the one the index was built with."""
        index = load_index(index_dir, model=model)
        if embedder is not None and embedder.dimension != index.dimension:
            from .errors import IndexMismatchError

            raise IndexMismatchError(
                f"embedder {embedder.model_id!r} gives vectors of dimension {embedder.dimension}, "
                f"the index holds {index.dimension}; use the model the index was built with ({index.model!r})"
            )
        return cls(index, embedder, settings)

    @property
    def embedder(self) -> Embedder:
        """The question embedder: the given one, else the index's ONNX encoder (no torch), else
        sentence-transformers."""
        if self._embedder is None:
            from .onnx_embed import load_embedder

            self._embedder = load_embedder(self.index.path, self.index.manifest)
        if self._embedder is None:
            from .embed import SentenceTransformerEmbedder

            self._embedder = SentenceTransformerEmbedder(self.index.model, self.settings.device)
        return self._embedder

    def staleness(self, corpus_dir: str | Path | None = None) -> Staleness:
        return self.index.staleness(corpus_dir)

    def search(self, question: str, k: int = 5, mode: str = "hybrid") -> Answer:
        """Best ``k`` passages for ``question`` with evidence, whether they answer it, and why."""
        question = check_question(question, self.settings.max_question_chars)
        k = check_k(k)
        mode = check_mode(mode)
        refusal = self._unreadable(question)
        if refusal:
            return Answer(question=question, found=False, searched=question, reason=refusal)
        query, ranking, evidence, sigs = self._run(question, k, mode)
        probabilities = [self.abstain.probability(s) for s in sigs]
        confidence = max(probabilities, default=0.0)
        found = confidence >= self.abstain.threshold
        order = list(range(len(ranking.ids)))
        if found and probabilities[0] < self.abstain.threshold:
            # the passage that answers comes first: "Found" is always about passage [1]
            best = probabilities.index(confidence)
            order.insert(0, order.pop(best))
            sigs = [sigs[best]] + [s for i, s in enumerate(sigs) if i != best]
        idx = self.index
        ids, scores = ranking.ids.tolist(), ranking.scores.tolist()
        hits = [
            Hit(rank=rank, score=float(scores[i]), passage=idx.passages[ids[i]], evidence=evidence[i].span)
            for rank, i in enumerate(order, start=1)
        ]
        top = self._verdict_passage(int(ids[order[0]])) if ids else None
        why = explain(query, top, sigs[0] if sigs else None, found)
        return Answer(
            question=question,
            found=found,
            hits=hits,
            confidence=confidence,
            searched=query.searched,
            corrections=tuple((c.typed, c.used) for c in query.corrections),
            matched=why.matched,
            missing=why.missing,
            reason=why.reason,
        )

    def signals(self, question: str, mode: str = "hybrid") -> list[Signals]:
        """The abstention signals of the top passages, as ``search`` computes them (for calibration)."""
        question = check_question(question, self.settings.max_question_chars)
        return self._run(question, ABSTAIN_DEPTH, check_mode(mode))[3]

    def _run(self, question: str, k: int, mode: str) -> tuple[Query, Ranking, list[Evidence], list[Signals]]:
        """Analyse, rank, pick evidence and compute the verdict's signals (``search`` and ``signals``)."""
        query = self.analyse(question)
        terms = self.index.sparse.tokenize(query.searched)
        vector = self.embedder.encode([query.searched])[0]
        wide = self._rank(vector, terms, max(k, RIVAL_DEPTH), mode)
        ranking = wide._replace(ids=wide.ids[:k], scores=wide.scores[:k])
        evidence = [self._evidence(query, int(pid)) for pid in ranking.ids.tolist()]
        return query, ranking, evidence, self._signals(query, vector, ranking, evidence, wide.ids)

    def analyse(self, question: str) -> Query:
        """The question's words, names, corrections and asked-for kind, against this index."""
        idx = self.index
        return analyse(question, idx.lexicon, idx.sparse.tokenize, idx.sparse.known)

    def _unreadable(self, question: str) -> str:
        """A message when the question is mostly in a script the indexed documents do not use."""
        share, script = foreign_share(question, Counter(self.index.scripts))
        if share < 0.5:
            return ""
        main = max(self.index.scripts.items(), key=lambda kv: kv[1], default=("LATIN", 0))[0]
        reads = "English" if main == "LATIN" else SCRIPT_NAMES.get(main, main.title())
        return (
            f"Not found: this question is in {SCRIPT_NAMES.get(script, script.title())}, and this index "
            f"reads {reads}; ask in {reads}, or rebuild the index with a multilingual model via --model."
        )

    def _rank(self, query: NDArray[np.float32], terms: list[str], k: int, mode: str) -> Ranking:
        """The best ``k`` passages by ``mode``."""
        idx = self.index
        pool = max(k, self.settings.pool)
        if mode == "dense":
            return Ranking(*idx.dense.search(query, k))
        bm25 = idx.sparse.scores(terms)
        if mode == "bm25":
            ids = _top(bm25, k)
            return Ranking(ids, bm25[ids])
        dense_ids, _ = idx.dense.search(query, pool)
        by_bm25 = _top(bm25, pool)
        by_bm25 = by_bm25[bm25[by_bm25] > 0]
        if self.settings.fusion == "rrf":
            table = rrf(dense_ids, by_bm25)
            ids = np.array(sorted(table, key=lambda i: -table[i]), dtype=np.int64)[:k]
            return Ranking(ids, np.array([table[i] for i in ids.tolist()], dtype=np.float32))
        candidates = np.unique(np.concatenate([dense_ids, by_bm25]))
        fused = convex(idx.dense.scores(query, candidates), bm25[candidates], self.settings.dense_weight)
        order = np.argsort(-fused, kind="stable")[:k]
        return Ranking(candidates[order], fused[order])

    def _evidence(self, query: Query, pid: int) -> Evidence:
        idx = self.index
        passage = idx.passages[pid]
        headings: frozenset[str] = frozenset()
        if idx.with_title:
            headings = frozenset(idx.sparse.tokenize(f"{passage.title}\n{passage.section}"))
        return best_sentence(query, passage, idx.sparse.tokenize, idx.sparse.idf, headings)

    def _verdict_passage(self, pid: int) -> VerdictPassage:
        idx = self.index
        text = embed_input(idx.passages[pid], idx.with_title)
        return VerdictPassage(set(idx.sparse.tokenize(text)), text)

    def _signals(
        self,
        query: Query,
        vector: NDArray[np.float32],
        ranking: Ranking,
        evidence: list[Evidence],
        pool: NDArray[np.int64],
    ) -> list[Signals]:
        """Signals of each of the top ``ABSTAIN_DEPTH`` passages; found when any is likely to answer."""
        idx = self.index
        top = ranking.ids[:ABSTAIN_DEPTH]
        # the best topic match among the passages that miss one of the question's names
        rival = max(
            (
                rival_topic(query, passage, idx.sparse.idf)
                for passage in (self._verdict_passage(pid) for pid in pool.tolist())
            ),
            default=0.0,
        )
        out = []
        for pid, cos, ev in zip(top.tolist(), idx.dense.scores(vector, top).tolist(), evidence, strict=False):
            out.append(signals(query, self._verdict_passage(pid), float(cos), idx.sparse.idf, ev, rival))
        return out


def _top(scores: NDArray[np.float32], n: int) -> NDArray[np.int64]:
    """Indices of the ``n`` highest scores, best first (stable for ties)."""
    n = min(n, scores.size)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, n - 1)[:n] if n < scores.size else np.arange(scores.size)
    return part[np.argsort(-scores[part], kind="stable")].astype(np.int64)
