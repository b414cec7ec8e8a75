"""The public search entry point: question -> Answer (ranked, cited hits + found/not found)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .abstain import DEFAULT_MODEL as DEFAULT_ABSTAIN
from .abstain import AbstainModel, Signals, name_terms, signals
from .embed import Embedder
from .errors import InvalidQueryError
from .evidence import best_sentence
from .fusion import convex, rrf
from .index import Index, Staleness, embed_input, load_index
from .settings import MODES, Settings
from .types import Answer, Hit

if TYPE_CHECKING:
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

ABSTAIN_DEPTH = 3  # the decision looks at this many top passages


def check_question(question: object, max_chars: int) -> str:
    if not isinstance(question, str):
        raise InvalidQueryError(f"question must be text, got {type(question).__name__}; pass a string")
    cleaned = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in question).strip()
    if not cleaned:
        raise InvalidQueryError("the question is empty; type a question about your documents")
    if len(cleaned) > max_chars:
        raise InvalidQueryError(
            f"the question is {len(cleaned):,} characters long, more than the {max_chars:,} allowed; "
            "ask a shorter question"
        )
    return cleaned


def check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        if isinstance(k, float) and k.is_integer():
            k = int(k)
        else:
            raise InvalidQueryError(f"k of {k!r} is not a whole number; pass k as an integer of 1 or more")
    if int(k) < 1:
        raise InvalidQueryError(f"k of {k} is less than 1; pass k of 1 or more")
    return int(k)


def check_mode(mode: object) -> str:
    if mode not in MODES:
        raise InvalidQueryError(f"mode {mode!r} is not one of {', '.join(MODES)}; pick one of those")
    return str(mode)


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
        """Best ``k`` passages for ``question`` with evidence, and whether they answer it."""
        question = check_question(question, self.settings.max_question_chars)
        k = check_k(k)
        mode = check_mode(mode)
        idx = self.index
        terms = idx.sparse.tokenize(question)
        query = self.embedder.encode([question])[0]
        ids, scores = self._rank(query, terms, k, mode)
        ids, scores = ids[:k], scores[:k]
        sigs = self._signals(question, terms, query, ids)
        confidence = max((self.abstain.probability(s) for s in sigs), default=0.0)
        found = confidence >= self.abstain.threshold
        hits = []
        for rank, (pid, score) in enumerate(zip(ids.tolist(), scores.tolist(), strict=True), start=1):
            passage = idx.passages[pid]
            span = best_sentence(terms, question, passage, idx.sparse.tokenize, idx.sparse.idf)
            hits.append(Hit(rank=rank, score=float(score), passage=passage, evidence=span))
        return Answer(question=question, found=found, hits=hits, confidence=confidence)

    def _rank(
        self, query: NDArray[np.float32], terms: list[str], k: int, mode: str
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        idx = self.index
        pool = max(k, self.settings.pool)
        if mode == "dense":
            return idx.dense.search(query, k)
        bm25 = idx.sparse.scores(terms)
        by_bm25 = _top(bm25, pool)
        if mode == "bm25":
            return by_bm25, bm25[by_bm25]
        dense_ids, _ = idx.dense.search(query, pool)
        by_bm25 = by_bm25[bm25[by_bm25] > 0]
        if self.settings.fusion == "rrf":
            table = rrf(dense_ids, by_bm25)
            ids = np.array(sorted(table, key=lambda i: -table[i]), dtype=np.int64)
            return ids, np.array([table[i] for i in ids.tolist()], dtype=np.float32)
        candidates = np.unique(np.concatenate([dense_ids, by_bm25]))
        fused = convex(idx.dense.scores(query, candidates), bm25[candidates], self.settings.dense_weight)
        order = np.argsort(-fused, kind="stable")
        return candidates[order], fused[order]

    def signals(self, question: str, mode: str = "hybrid") -> list[Signals]:
        """The abstention signals of the top passages, as ``search`` computes them (for calibration)."""
        question = check_question(question, self.settings.max_question_chars)
        terms = self.index.sparse.tokenize(question)
        query = self.embedder.encode([question])[0]
        ids, _ = self._rank(query, terms, ABSTAIN_DEPTH, check_mode(mode))
        return self._signals(question, terms, query, ids[:ABSTAIN_DEPTH])

    def _signals(
        self, question: str, terms: list[str], query: NDArray[np.float32], ids: NDArray[np.int64]
    ) -> list[Signals]:
        """Signals of each of the top ``ABSTAIN_DEPTH`` passages; found when any is likely to answer."""
        idx = self.index
        top = ids[:ABSTAIN_DEPTH]
        names = name_terms(question, idx.sparse.tokenize)
        out = []
        for pid, cos in zip(top.tolist(), idx.dense.scores(query, top).tolist(), strict=True):
            passage_terms = set(idx.sparse.tokenize(embed_input(idx.passages[pid], idx.with_title)))
            out.append(signals(terms, passage_terms, float(cos), idx.sparse.idf, idx.sparse.known, names))
        return out


def _top(scores: NDArray[np.float32], n: int) -> NDArray[np.int64]:
    """Indices of the ``n`` highest scores, best first (stable for ties)."""
    n = min(n, scores.size)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, n - 1)[:n] if n < scores.size else np.arange(scores.size)
    return part[np.argsort(-scores[part], kind="stable")].astype(np.int64)
