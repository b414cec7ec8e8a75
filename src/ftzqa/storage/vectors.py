"""Dense vectors of one segment: exact search below a size, HNSW above it; exact cosines always.

Every segment keeps its vectors as ``vectors.npy`` (float32, memory-mapped). A segment with fewer
than ``Settings.ann_threshold`` passages (10,000 by default) is searched exactly (``faiss.knn``
over the mapped array, the kernel ``IndexFlatIP`` uses; bench/scale.py's ``ann`` phase measures where
HNSW starts to pay). A bigger one
also gets ``dense.faiss``, an ``IndexHNSWSQ`` (8-bit scalar-quantised HNSW, M=32): it proposes
``RERANK`` candidates (efSearch 512) that are re-scored exactly from the float vectors, so the
cosines are exact and the ranking errors of the 8-bit codes are undone. At 1M passages the graph
and codes take ~0.65 GB of memory instead of ~1.8 GB for ``IndexHNSWFlat``, with the same recall
after re-scoring (bench/scale.py measures recall@10 against exact search).

HNSW has no removal: deleted passages are left out of results by a selector until a compaction
rewrites the segment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

VECTORS = "vectors.npy"
GRAPH = "dense.faiss"
FLAT, HNSW = "flat", "hnsw"
M = 32
# bench/scale.py --phase graphs, 100,000 passages, 200 real SQuAD questions, recall@10 after re-scoring:
# efConstruction 40: efSearch 128 / 256 / 512 -> 0.920 / 0.957 / 0.981; efConstruction 120: 0.958 /
# 0.978 / 0.991, for about twice the graph build time (HNSWFlat at 40 is no better than SQ8: 0.909 /
# 0.952 / 0.977). Recall falls as segments grow, so the defaults are 120 / 512.
EF_CONSTRUCTION = 120
EF_SEARCH = 512
RERANK = 100  # HNSW candidates re-scored exactly per search (at least k)


@dataclass(frozen=True, slots=True)
class AnnSettings:
    threshold: int  # segments with this many passages or more get an HNSW graph
    m: int = M
    ef_construction: int = EF_CONSTRUCTION
    ef_search: int = EF_SEARCH
    rerank: int = RERANK

    def to_dict(self) -> dict[str, int]:
        return {
            "threshold": self.threshold,
            "m": self.m,
            "ef_construction": self.ef_construction,
            "ef_search": self.ef_search,
            "rerank": self.rerank,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnnSettings:
        return cls(**{k: int(data[k]) for k in ("threshold", "m", "ef_construction", "ef_search", "rerank")})


def build_graph(vectors: NDArray[np.float32], ann: AnnSettings, path: Path) -> None:
    """Build and write the HNSW graph of ``vectors`` (all cores: this is a build)."""
    import faiss as faiss_module

    faiss: Any = faiss_module
    faiss.omp_set_num_threads(max(1, os.cpu_count() or 1))
    try:
        index = faiss.IndexHNSWSQ(vectors.shape[1], faiss.ScalarQuantizer.QT_8bit, ann.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ann.ef_construction
        step = 200_000  # train on a sample, add in slices (no float copy of a mapped array at once)
        sample = np.ascontiguousarray(vectors[:: max(1, len(vectors) // step)][:step], dtype=np.float32)
        index.train(sample)
        for start in range(0, len(vectors), step):
            index.add(np.ascontiguousarray(vectors[start : start + step], dtype=np.float32))
        faiss.write_index(index, str(path))
    finally:
        faiss.omp_set_num_threads(1)


class SegmentVectors:
    """Search over one segment's vectors; rows are the segment's own (0..n-1)."""

    def __init__(
        self, vectors: NDArray[np.float32], graph: Any | None, ann: AnnSettings, dead: NDArray[np.int64]
    ) -> None:
        self.vectors = vectors
        self.graph = graph
        self.ann = ann
        self.dead = dead  # rows left out of results
        self._params: Any = None
        if graph is not None:
            import faiss as faiss_module

            faiss: Any = faiss_module
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
        if kind == HNSW:
            import faiss

            graph = faiss.read_index(str(folder / GRAPH))
            if graph.ntotal != len(vectors) or graph.d != vectors.shape[1]:
                raise ValueError(f"{GRAPH} holds {graph.ntotal} vectors of dimension {graph.d}, not {vectors.shape}")
        elif kind != FLAT:
            raise ValueError(f"unknown dense index kind {kind!r}")
        return cls(vectors, graph, ann, np.ascontiguousarray(dead, dtype=np.int64))

    @property
    def size(self) -> int:
        return len(self.vectors)

    def search(self, query: NDArray[np.float32], k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Rows and exact cosines of the ``k`` nearest live vectors (approximately, for HNSW)."""
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
        return np.asarray(self.vectors[np.asarray(rows, dtype=np.int64)] @ query.astype(np.float32), dtype=np.float32)
