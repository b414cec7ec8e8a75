"""BM25 over segments with statistics of the whole index.

Each segment keeps raw term frequencies (not precomputed scores, as bm25s does: those bake in the
segment's own document count, document frequencies and average length), so a question is scored
with the index-wide N, df and average length, whatever the segmentation: a segmented index and
its compacted form rank identically. The scores are bm25s's "lucene" BM25, bit for bit:
``float32(idf * tf / (k1 * (1 - b + b * len / avglen) + tf))`` per posting, summed in float32
in the question's term order (a repeated term counts twice).

Per segment (plain ``.npy`` files, memory-mapped): ``indptr`` (term -> its postings), ``rows``
(ascending per term), ``tf``, ``lengths`` (terms per passage), and per term ``max_tf`` and
``min_len`` (an upper bound of its contribution, for pruning; written and checked, not used by
the scorer below). Term ids come from a lookup function (the segment's SQLite ``terms`` table).

Top-k search scores every posting of the question's terms into one accumulator: linear in the
postings. A MaxScore-style shortcut (candidates from the rare terms, common terms looked up for
those only, kept when the k-th score beat what the common terms could add) was exact but slower on
real questions: p50 1.04 vs 0.91 ms at 100,000 passages and 12.9 vs 10.2 ms at 1,000,000, with
much longer tails (bench/scale.py indexes, 200 SQuAD questions, top 100), so it was removed.
What is kept is cheaper: the length normalisation of each passage is computed once per index, and
only rows scoring at least the k-th best of the rarest term's rows are collected and sorted.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..settings import BM25Settings

if TYPE_CHECKING:
    from numpy.typing import NDArray

ARRAYS = ("indptr", "rows", "tf", "lengths", "max_tf", "min_len")


@dataclass(frozen=True, slots=True)
class PostingsData:
    """A segment's postings, as built or loaded (arrays may be memory-mapped)."""

    terms: list[str]  # term of each term id (sorted); loaded segments look terms up instead (empty)
    indptr: NDArray[np.int64]
    rows: NDArray[np.int32]
    tf: NDArray[np.unsignedinteger]
    lengths: NDArray[np.uint32]
    max_tf: NDArray[np.unsignedinteger]
    min_len: NDArray[np.uint32]

    @property
    def size(self) -> int:
        return len(self.lengths)

    @property
    def total_length(self) -> int:
        return int(self.lengths.sum(dtype=np.int64))

    def save(self, folder: Path) -> None:
        for name in ARRAYS:
            np.save(folder / f"{name}.npy", np.ascontiguousarray(getattr(self, name)), allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> PostingsData:
        arrays = {n: np.load(folder / f"{n}.npy", mmap_mode="r", allow_pickle=False) for n in ARRAYS}
        return cls(terms=[], **arrays)

    def check(self, vocabulary: int) -> None:
        """Refuse arrays that do not fit together (a damaged or tampered segment). Reads the row
        and length arrays once through the file (not the memory map, so it adds nothing to RSS)."""
        n, p = len(self.lengths), len(self.rows)
        ptr = np.asarray(self.indptr)
        if ptr.ndim != 1 or len(ptr) != vocabulary + 1 or len(self.tf) != p:
            raise ValueError("BM25 arrays: array sizes disagree")
        if len(self.max_tf) != vocabulary or len(self.min_len) != vocabulary:
            raise ValueError("BM25 arrays: term statistics do not match the vocabulary")
        if ptr[0] != 0 or ptr[-1] != p or np.any(np.diff(ptr) <= 0):
            raise ValueError("BM25 arrays: term pointers out of range")
        for name, limit in (("rows", n), ("lengths", 2**31)):
            arr = getattr(self, name)
            if len(arr) and (int(_stream_min(arr)) < 0 or int(_stream_max(arr)) >= max(limit, 1)):
                raise ValueError(f"BM25 arrays: passage {name} out of range 0-{limit - 1}")


def _chunks(arr: NDArray[np.generic], size: int = 1 << 22) -> Iterator[NDArray[np.generic]]:
    """``arr`` in slices; a memory-mapped array is read from its file, so checking it maps nothing
    into the process (reading through the map left the whole rows array resident: 225 MB at
    1,000,000 passages)."""
    if isinstance(arr, np.memmap) and arr.ndim == 1 and arr.filename:
        with open(arr.filename, "rb") as fh:
            fh.seek(int(arr.offset))
            for start in range(0, len(arr), size):
                yield np.fromfile(fh, dtype=arr.dtype, count=min(size, len(arr) - start))
        return
    for start in range(0, len(arr), size):
        yield np.array(arr[start : start + size])


def _stream_min(arr: NDArray[np.generic]) -> int:
    return int(min(int(c.min()) for c in _chunks(arr) if len(c)))


def _stream_max(arr: NDArray[np.generic]) -> int:
    return int(max(int(c.max()) for c in _chunks(arr) if len(c)))


def build(token_lists: Sequence[list[str]]) -> PostingsData:
    """Postings of passages given as term lists (row i = passage i)."""
    vocab: dict[str, int] = {}
    pieces: list[NDArray[np.int32]] = []
    lengths = np.zeros(len(token_lists), dtype=np.uint32)
    for i, tokens in enumerate(token_lists):
        lengths[i] = len(tokens)
        pieces.append(np.fromiter((vocab.setdefault(t, len(vocab)) for t in tokens), np.int32, len(tokens)))
    terms = sorted(vocab)
    order = np.zeros(len(vocab), dtype=np.int64)  # first-seen id -> sorted id
    order[[vocab[t] for t in terms]] = np.arange(len(terms), dtype=np.int64)
    flat = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)
    tids = order[flat] if len(flat) else np.zeros(0, dtype=np.int64)
    del pieces, flat
    rows = np.repeat(np.arange(len(token_lists), dtype=np.int64), lengths.astype(np.int64))
    return _from_pairs(terms, tids, rows, None, lengths)


def _from_pairs(
    terms: list[str],
    tids: NDArray[np.int64],
    rows: NDArray[np.int64],
    tf: NDArray[np.int64] | None,
    lengths: NDArray[np.uint32],
) -> PostingsData:
    """Postings from (term id, row[, tf]) pairs; without ``tf`` each pair is one occurrence."""
    n = max(len(lengths), 1)
    key = tids * n + rows
    if tf is None:
        key, counts = np.unique(key, return_counts=True)
    else:
        order = np.argsort(key, kind="stable")
        key, counts = key[order], tf[order]
    tid, row = np.divmod(key, n)
    used = np.unique(tid)  # terms whose every posting was dropped are left out
    if len(used) < len(terms):
        remap = np.full(len(terms), -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        tid = remap[tid]
        terms = [terms[i] for i in used.tolist()]
    indptr = np.zeros(len(terms) + 1, dtype=np.int64)
    np.cumsum(np.bincount(tid, minlength=len(terms)), out=indptr[1:])
    tf_type = np.uint16 if len(counts) == 0 or int(counts.max()) < 2**16 else np.uint32
    tf_arr = counts.astype(tf_type)
    starts = indptr[:-1]
    max_tf = np.maximum.reduceat(tf_arr, starts) if len(terms) else np.zeros(0, dtype=tf_type)
    min_len = np.minimum.reduceat(lengths[row], starts) if len(terms) else np.zeros(0, dtype=np.uint32)
    return PostingsData(
        terms, indptr, row.astype(np.int32), tf_arr, lengths, np.asarray(max_tf, dtype=tf_type),
        min_len.astype(np.uint32),
    )


def merge(parts: Sequence[tuple[PostingsData, Sequence[str], NDArray[np.bool_]]]) -> PostingsData:
    """One segment's postings from several: (postings, term of each term id, rows kept) in row order.
    Dropped rows disappear; the kept ones are renumbered in order."""
    vocab = sorted(set().union(*(set(terms) for _, terms, _ in parts)))
    position = {t: i for i, t in enumerate(vocab)}
    tids, rows, tfs, lengths = [], [], [], []
    base = 0
    for data, terms, keep in parts:
        new_row = np.cumsum(keep, dtype=np.int64) - 1 + base
        term_map = np.array([position[t] for t in terms], dtype=np.int64)
        counts = np.diff(np.asarray(data.indptr, dtype=np.int64)).astype(np.int64)
        tid = np.repeat(term_map, counts)
        row = np.asarray(data.rows, dtype=np.int64)
        alive = keep[row]
        tids.append(tid[alive])
        rows.append(new_row[row[alive]])
        tfs.append(np.asarray(data.tf, dtype=np.int64)[alive])
        lengths.append(np.asarray(data.lengths)[keep])
        base += int(keep.sum())
    cat = np.concatenate
    return _from_pairs(vocab, cat(tids), cat(rows), cat(tfs), cat(lengths).astype(np.uint32))


@dataclass(frozen=True, slots=True)
class Part:
    """One segment as the keyword search sees it."""

    postings: PostingsData
    lookup: Callable[[str], int | None]  # term -> term id in this segment
    offset: int  # global row of its first passage


@dataclass(frozen=True, slots=True)
class _Term:
    weight: float  # idf
    count: int  # times in the question
    order: tuple[int, ...]  # its positions among the question's known terms
    slices: tuple[tuple[int, int, int], ...]  # (part, start, end) of its postings


class KeywordIndex:
    """BM25 over the parts of an index with index-wide statistics; rows are global positions
    (part offset + row in the part), which run in passage-id order."""

    def __init__(
        self,
        parts: Sequence[Part],
        settings: BM25Settings,
        *,
        dead: NDArray[np.bool_] | None = None,
        removed_df: Callable[[str], int] = lambda term: 0,
        removed_passages: int = 0,
        removed_length: int = 0,
    ) -> None:
        self.parts = list(parts)
        self.k1, self.b = settings.k1, settings.b
        self.rows = sum(p.postings.size for p in self.parts)
        self.dead = dead if dead is not None and dead.any() else None
        self._removed_df = removed_df
        self.size = self.rows - removed_passages
        total = sum(p.postings.total_length for p in self.parts) - removed_length
        self.avglen = total / self.size if self.size > 0 else 1.0
        self._cache: dict[str, tuple[int, tuple[tuple[int, int], ...]]] = {}
        self._local = threading.local()  # each thread's score accumulator, zero between searches
        self._norms: list[NDArray[np.float64] | None] = [None] * len(self.parts)
        self._norms_lock = threading.Lock()

    # --- term statistics -------------------------------------------------------------------------

    def term(self, term: str) -> tuple[int, tuple[tuple[int, int], ...]]:
        """(index-wide document frequency, ((part, term id), ...)) of ``term``."""
        hit = self._cache.get(term)
        if hit is None:
            found = []
            df = 0
            for i, part in enumerate(self.parts):
                tid = part.lookup(term)
                if tid is not None:
                    found.append((i, tid))
                    ptr = part.postings.indptr
                    df += int(ptr[tid + 1] - ptr[tid])
            hit = (df - self._removed_df(term) if df else 0, tuple(found))
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[term] = hit
        return hit

    def df(self, term: str) -> int:
        return self.term(term)[0]

    def idf(self, term: str) -> float:
        """Inverse document frequency; a term absent from the index gets the highest value."""
        df = self.df(term)
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))

    def known(self, term: str) -> bool:
        return self.df(term) > 0

    def _plan(self, terms: list[str]) -> list[tuple[str, _Term]]:
        """The question's known terms in order of first appearance, with what scoring them needs."""
        known = [t for t in terms if self.df(t) > 0]
        positions: dict[str, list[int]] = {}
        for i, t in enumerate(known):
            positions.setdefault(t, []).append(i)
        plan = []
        for t, where_in_question in positions.items():
            df, where = self.term(t)
            slices = []
            for i, tid in where:
                data = self.parts[i].postings
                slices.append((i, int(data.indptr[tid]), int(data.indptr[tid + 1])))
            weight = float(np.float32(math.log(1 + (self.size - df + 0.5) / (df + 0.5))))
            count = len(where_in_question)
            plan.append((t, _Term(weight, count, tuple(where_in_question), tuple(slices))))
        return plan

    def _norm(self, length: NDArray[np.generic]) -> NDArray[np.float64]:
        """BM25's length normalisation, k1 (1 - b + b len / avglen), per passage length."""
        norm: NDArray[np.float64] = self.k1 * ((1 - self.b) + self.b * length.astype(np.float64) / self.avglen)
        return norm

    def _part_norms(self, i: int) -> NDArray[np.float64]:
        """``_norm`` of every passage of part ``i``, computed once: a search then reads one value per
        posting instead of its length and three operations on it (the same values, bit for bit)."""
        norms = self._norms[i]
        if norms is None:
            with self._norms_lock:
                norms = self._norms[i]
                if norms is None:
                    norms = self._norm(np.asarray(self.parts[i].postings.lengths))
                    self._norms[i] = norms
        return norms

    def _score(self, weight: float, tf: NDArray[np.float32], norm: NDArray[np.float64]) -> NDArray[np.float32]:
        tfc = tf / (norm + tf)
        return np.asarray(weight * tfc, dtype=np.float32)

    def _postings(self, term: _Term) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Global rows and scores of all of a term's postings."""
        rows, scores = [], []
        for i, start, end in term.slices:
            part = self.parts[i]
            local = np.asarray(part.postings.rows[start:end])
            tf = np.asarray(part.postings.tf[start:end]).astype(np.float32)
            rows.append(local.astype(np.int64) + part.offset)
            scores.append(self._score(term.weight, tf, self._part_norms(i)[local]))
        if len(rows) == 1:
            return rows[0], scores[0]
        return np.concatenate(rows), np.concatenate(scores)

    def _lookup(self, term: _Term, rows: NDArray[np.int64]) -> NDArray[np.float32]:
        """Scores of one term for given global rows (sorted); 0 where the term is absent."""
        out = np.zeros(len(rows), dtype=np.float32)
        for i, start, end in term.slices:
            part = self.parts[i]
            lo, hi = np.searchsorted(rows, [part.offset, part.offset + part.postings.size])
            if lo == hi:
                continue
            local = rows[lo:hi] - part.offset
            posting_rows = np.asarray(part.postings.rows[start:end])
            pos = np.searchsorted(posting_rows, local)
            pos[pos >= len(posting_rows)] = 0
            match = posting_rows[pos] == local
            if not match.any():
                continue
            at = pos[match]
            tf = np.asarray(part.postings.tf[start:end])[at].astype(np.float32)
            length = np.asarray(part.postings.lengths)[local[match]]
            out[lo:hi][match] = self._score(term.weight, tf, self._norm(length))
        return out

    # --- scoring ---------------------------------------------------------------------------------

    def scores(self, terms: list[str], rows: NDArray[np.int64]) -> NDArray[np.float32]:
        """BM25 scores of the given global rows (any order)."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float32)
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        total = self._sum([(term, self._lookup(term, sorted_rows)) for _, term in self._plan(terms)], len(rows))
        out = np.empty(len(rows), dtype=np.float32)
        out[order] = total
        return out

    @staticmethod
    def _sum(contributions: list[tuple[_Term, NDArray[np.float32]]], n: int) -> NDArray[np.float32]:
        """Sum in the question's term order, a repeated term once per time it was asked (float32,
        in the order bm25s adds them, so the sums are the same to the last bit)."""
        sequence = sorted(((i, values) for term, values in contributions for i in term.order), key=lambda x: x[0])
        total = np.zeros(n, dtype=np.float32)
        for _, values in sequence:
            total += values
        return total

    def search(self, terms: list[str], k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Global rows and scores of the ``k`` best passages with a positive score, best first
        (ties: lower row first)."""
        plan = self._plan(terms)
        if not plan or k <= 0 or self.size <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return self._exhaustive(plan, k)

    def _exhaustive(self, plan: list[tuple[str, _Term]], k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        scored = {i: self._postings(term) for _, term in plan for i in term.order[:1]}
        acc = self._accumulator()
        self._local.acc = None  # not reusable until cleared again below (an error leaves it dirty)
        for _, t in sorted(((i, term) for _, term in plan for i in term.order), key=lambda x: x[0]):
            rows, scores = scored[t.order[0]]
            acc[rows] += scores  # the rows of one term are distinct
        # collect each scored row once and clear the accumulator as it is read: no pass over all
        # rows (np.flatnonzero over 1,000,000 scores took 3.4 ms, most of a search). The rows of
        # the rarest term give a floor: their totals are final, so the k-th best of them is at most
        # the k-th best of all, and a row scoring below it is not kept (nor sorted later)
        floor = self._floor(acc, min((rows for rows, _ in scored.values()), key=len), k)
        found_rows, found_scores = [], []
        for rows, _ in scored.values():
            total = acc[rows]
            keep = (total != 0) & (total >= floor)
            if self.dead is not None:
                keep &= ~self.dead[rows]
            found_rows.append(rows[keep])
            found_scores.append(total[keep])
            acc[rows] = 0.0
        self._local.acc = acc
        rows = np.concatenate(found_rows)
        total = np.concatenate(found_scores)
        top = _top(total, k, rows)
        return rows[top].astype(np.int64), total[top]

    def _floor(self, acc: NDArray[np.float32], rows: NDArray[np.int64], k: int) -> np.float32:
        """The ``k``-th best total among ``rows`` (live ones), or 0 when there are fewer."""
        totals = acc[self._alive(rows)]
        if len(totals) < k:
            return np.float32(0.0)
        return np.float32(np.partition(totals, len(totals) - k)[len(totals) - k])

    def _accumulator(self) -> NDArray[np.float32]:
        """This thread's zeroed score array, one float per row (kept between searches: a fresh 4 MB
        array per search at 1,000,000 rows costs page faults on every search)."""
        acc: NDArray[np.float32] | None = getattr(self._local, "acc", None)
        if acc is None or len(acc) != self.rows:
            acc = np.zeros(self.rows, dtype=np.float32)
        return acc

    def _alive(self, rows: NDArray[np.int64]) -> NDArray[np.int64]:
        return rows if self.dead is None else rows[~self.dead[rows]]


def _top(scores: NDArray[np.float32], n: int, rows: NDArray[np.int64] | None = None) -> NDArray[np.int64]:
    """Positions of the ``n`` highest scores, best first; ties go to the lower row (``rows``: the
    row of each score, default its position)."""
    n = min(n, scores.size)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    if rows is None:
        rows = np.arange(scores.size)
    if n < scores.size:
        # everything above the n-th value, plus the lowest rows of the ties at it
        cut = np.partition(-scores, n - 1)[n - 1]
        above = np.flatnonzero(-scores < cut)
        ties = np.flatnonzero(-scores == cut)
        if len(ties) > n - len(above):
            ties = ties[np.argsort(rows[ties], kind="stable")[: n - len(above)]]
        part = np.concatenate([above, ties])
    else:
        part = np.arange(scores.size)
    return part[np.lexsort((rows[part], -scores[part]))].astype(np.int64)
