"""Dense vectors of one segment: exact search below a size, an inverted-file index above it; exact
cosines always.

Every segment keeps its vectors as ``vectors.npy`` (float32, memory-mapped). A segment with fewer
than ``Settings.ann_threshold`` passages (10,000 by default) is searched exactly (``faiss.knn``
over the mapped array, the kernel ``IndexFlatIP`` uses; bench/scale.py's ``ann`` phase measures where
an approximate index starts to pay). A bigger one also gets ``dense.faiss``, an
``IndexIVFScalarQuantizer``: the vectors clustered into ``nlist`` lists (about 4 sqrt(n), a power
of two: 1,024 at 100,000 passages, 4,096 at 1,000,000) with 8-bit codes; a search scans the
``nprobe`` (128) lists nearest the question and proposes ``RERANK`` candidates that are re-scored
exactly from the float vectors, so the cosines are exact and the ranking errors of the 8-bit codes
are undone.

Why IVF and not HNSW (what this store built before; such segments still load and are searched as
they were until a compaction rewrites them): questions are not passages (their nearest passage is
at cosine ~0.6), and HNSW's graph walk loses them as the graph grows. On the 1,000,000-passage bench
index (bench/scale.py, 200 real SQuAD questions), HNSW (M 32, efConstruction 120) reached recall@10
0.911 at efSearch 512; IVF reaches 0.988 at nprobe 128 in ~3-5 ms, builds in ~70 s instead of ~25
minutes, and holds 0.38 GB instead of 0.63 GB (no graph). Recall depends on ``nprobe`` far more than
on the size: 0.989 at 100,000 with the same 128.

Deleted passages are left out of results by a selector until a compaction rewrites the segment.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

VECTORS = "vectors.npy"
GRAPH = "dense.faiss"
FLAT, HNSW, IVF = "flat", "hnsw", "ivf"
M = 32  # HNSW segments (built before IVF; still read)
# bench/scale.py --phase graphs, 100,000 passages, 200 real SQuAD questions, recall@10 after re-scoring:
# efConstruction 40: efSearch 128 / 256 / 512 -> 0.920 / 0.957 / 0.981; efConstruction 120: 0.958 /
# 0.978 / 0.991, for about twice the graph build time (HNSWFlat at 40 is no better than SQ8: 0.909 /
# 0.952 / 0.977). Recall falls as segments grow, so the defaults are 120 / 512.
EF_CONSTRUCTION = 120
EF_SEARCH = 512
RERANK = 100  # approximate candidates re-scored exactly per search (at least k)
# IVF lists scanned per search. bench/scale.py (100 real SQuAD questions, recall@10 after re-scoring,
# the 100-candidate pool, one thread, idle): at 1,000,000 passages (4,096 lists) nprobe 32 / 64 / 128 /
# 256 -> 0.952 / 0.980 / 0.988 / 0.993 (1.5 / 2.2 / 4.6 / 8.9 ms); at 100,000 (1,024 lists) 0.969 /
# 0.979 / 0.989 / 0.992 (0.6 / 0.8 / 1.3 / 2.3 ms).
NPROBE = 128
TRAIN_PER_LIST = 50  # k-means sample: this many vectors per list (faiss wants at least 39)


class RowFile:
    """Rows of a 2-D ``.npy`` array read with ``pread``, without mapping the file.

    Questions read scattered rows (the candidates' vectors). Through a memory
    map, each touched row maps the whole page-cache folio around it into the process (measured: 100
    random rows of the 1,000,000-passage vectors file put 137 MB in the serving process's RSS,
    ``MADV_RANDOM`` or not), so RSS grew towards the whole file. ``pread`` copies just the rows; the
    file stays in the kernel's page cache, shared and reclaimable, and out of the process."""

    def __init__(self, array: np.memmap[Any, Any]) -> None:
        if array.ndim not in (1, 2) or not array.flags.c_contiguous:
            raise ValueError(f"{array.filename}: not a C-ordered 1-D or 2-D array")
        self.dtype = array.dtype
        self.shape = array.shape
        self.row_bytes = int(array.dtype.itemsize * (array.shape[1] if array.ndim == 2 else 1))
        self.offset = int(array.offset)
        self._file = open(str(array.filename), "rb", buffering=0)  # noqa: SIM115 (closed by close())

    def rows(self, rows: NDArray[np.int64]) -> NDArray[Any]:
        """The given rows, in the given order; runs of adjacent rows are read in one call."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return np.empty((0, *self.shape[1:]), dtype=self.dtype)
        if int(rows.min()) < 0 or int(rows.max()) >= self.shape[0]:
            raise IndexError(f"row out of range 0-{self.shape[0] - 1}")
        unique = np.unique(rows)
        breaks = np.flatnonzero(np.diff(unique) != 1) + 1
        firsts = unique[np.concatenate(([0], breaks))]
        counts = np.diff(np.concatenate(([0], breaks, [len(unique)])))
        fd, size = self._file.fileno(), self.row_bytes
        runs = zip(firsts.tolist(), counts.tolist(), strict=True)
        data = b"".join([os.pread(fd, n * size, self.offset + first * size) for first, n in runs])
        if len(data) != len(unique) * size:
            raise OSError(f"{self._file.name}: the file ends before row {int(unique[-1])}")
        got = np.frombuffer(data, dtype=self.dtype).reshape(len(unique), *self.shape[1:])
        return got[np.searchsorted(unique, rows)]

    def close(self) -> None:
        self._file.close()


def lists_for(n: int) -> int:
    """IVF list count for ``n`` vectors: 4 sqrt(n) as a power of two (the nearer one in log scale),
    at most n / 39 so every list's centroid has enough training points."""
    target = 4.0 * math.sqrt(max(1, n))
    lists = int(2 ** round(math.log2(target)))
    while lists > 1 and lists * 39 > n:
        lists //= 2
    return max(1, lists)


@dataclass(frozen=True, slots=True)
class AnnSettings:
    threshold: int  # segments with this many passages or more get an approximate index (IVF)
    m: int = M  # HNSW segments of older indexes
    ef_construction: int = EF_CONSTRUCTION
    ef_search: int = EF_SEARCH
    rerank: int = RERANK
    nprobe: int = NPROBE

    def to_dict(self) -> dict[str, int]:
        return {
            "threshold": self.threshold,
            "m": self.m,
            "ef_construction": self.ef_construction,
            "ef_search": self.ef_search,
            "rerank": self.rerank,
            "nprobe": self.nprobe,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnnSettings:
        """Manifests written before IVF have no ``nprobe``: the default applies."""
        values = {k: int(data[k]) for k in ("threshold", "m", "ef_construction", "ef_search", "rerank")}
        return cls(**values, nprobe=int(data.get("nprobe", NPROBE)))

    def for_search(self) -> AnnSettings:
        """These settings with ``FTZQA_NPROBE`` (lists an IVF search scans) when it is set: a
        search-time choice, so it needs no rebuild (more lists: higher recall, slower; README, Scale)."""
        from ..settings import env_int

        if not os.environ.get("FTZQA_NPROBE", "").strip():
            return self
        return replace(self, nprobe=env_int("FTZQA_NPROBE", 1))


def build_ann(vectors: NDArray[np.float32], path: Path) -> str:
    """Build and write the IVF index of ``vectors`` (all cores: this is a build); returns its kind.

    Trained on an evenly spaced sample (``TRAIN_PER_LIST`` vectors per list), filled in slices so a
    memory-mapped array is never copied whole."""
    import faiss as faiss_module

    faiss: Any = faiss_module
    faiss.omp_set_num_threads(max(1, os.cpu_count() or 1))
    try:
        n, dimension = vectors.shape
        lists = lists_for(n)
        quantizer = faiss.IndexFlatIP(dimension)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dimension, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        index.cp.seed = 1234  # the same vectors give the same lists
        want = lists * TRAIN_PER_LIST
        sample = np.ascontiguousarray(vectors[:: max(1, n // want)][:want], dtype=np.float32)
        index.train(sample)
        step = 200_000
        for start in range(0, n, step):
            index.add(np.ascontiguousarray(vectors[start : start + step], dtype=np.float32))
        faiss.write_index(index, str(path))
        return IVF
    finally:
        faiss.omp_set_num_threads(1)


class SegmentVectors:
    """Search over one segment's vectors; rows are the segment's own (0..n-1)."""

    def __init__(
        self, vectors: NDArray[np.float32], graph: Any | None, ann: AnnSettings, dead: NDArray[np.int64]
    ) -> None:
        self.vectors = vectors
        # big (IVF / HNSW) segments: rows read from the file; small ones (under 15 MB) through the map
        self.reader = RowFile(vectors) if graph is not None and isinstance(vectors, np.memmap) else None
        self.graph = graph
        self.ann = ann
        self.dead = dead  # rows left out of results
        self._params: Any = None
        if graph is not None:
            import faiss as faiss_module

            faiss: Any = faiss_module
            if hasattr(graph, "nprobe"):  # IVF
                params = faiss.SearchParametersIVF()
                params.nprobe = min(ann.nprobe, int(graph.nlist))
            else:  # HNSW, from an index built before IVF
                params = faiss.SearchParametersHNSW()
                params.efSearch = max(ann.ef_search, ann.rerank)
            if len(dead):
                self._selector = faiss.IDSelectorBatch(len(dead), faiss.swig_ptr(dead))
                self._not = faiss.IDSelectorNot(self._selector)  # both kept alive for FAISS
                params.sel = self._not
            self._params = params

    @classmethod
    def open(cls, folder: Path, kind: str, ann: AnnSettings, dead: NDArray[np.int64]) -> SegmentVectors:
        vectors = np.load(folder / VECTORS, mmap_mode="r", allow_pickle=False)
        if vectors.ndim != 2 or vectors.dtype != np.float32:
            raise ValueError(f"{VECTORS} is not a float32 matrix")
        graph = None
        if kind in (HNSW, IVF):
            import faiss

            graph = faiss.read_index(str(folder / GRAPH))
            if graph.ntotal != len(vectors) or graph.d != vectors.shape[1]:
                raise ValueError(f"{GRAPH} holds {graph.ntotal} vectors of dimension {graph.d}, not {vectors.shape}")
            if (kind == IVF) != hasattr(graph, "nprobe"):
                raise ValueError(f"{GRAPH} is not the {kind} index the segment's manifest says")
        elif kind != FLAT:
            raise ValueError(f"unknown dense index kind {kind!r}")
        return cls(vectors, graph, ann, np.ascontiguousarray(dead, dtype=np.int64))

    @property
    def size(self) -> int:
        return len(self.vectors)

    def search(self, query: NDArray[np.float32], k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Rows and exact cosines of the ``k`` nearest live vectors (approximately, for IVF / HNSW)."""
        import faiss

        k = min(k, self.size - len(self.dead))
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        faiss.omp_set_num_threads(1)  # one question, one thread (bench/speed.py: OpenMP costs more here)
        if self.graph is None:
            want = min(self.size, k + len(self.dead))
            scores, rows = faiss.knn(q, self.vectors, want, metric=faiss.METRIC_INNER_PRODUCT)
            rows, scores = rows[0], scores[0]
            if len(self.dead):
                keep = ~np.isin(rows, self.dead)
                rows, scores = rows[keep], scores[keep]
            return rows[:k].astype(np.int64), scores[:k]
        _, found = self.graph.search(q, max(k, self.ann.rerank), params=self._params)
        rows = found[0][found[0] >= 0].astype(np.int64)
        rows.sort()
        exact = self.scores(query, rows)
        order = np.argsort(-exact, kind="stable")[:k]
        return rows[order], exact[order]

    def scores(self, query: NDArray[np.float32], rows: NDArray[np.int64]) -> NDArray[np.float32]:
        """Cosines of the given rows."""
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self.rows(rows) @ query.astype(np.float32), dtype=np.float32)

    def rows(self, rows: NDArray[np.int64]) -> NDArray[np.float32]:
        """The vectors of the given rows (big segments: read from the file, not through the map)."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.reader is not None:
            return self.reader.rows(rows)
        return np.asarray(self.vectors[rows], dtype=np.float32)

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
