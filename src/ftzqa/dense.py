"""Dense vectors in a FAISS inner-product index: build, search, save, load."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray


class DenseIndex:
    """Exact inner-product search over normalised vectors (cosine similarity)."""

    def __init__(self, index: Any) -> None:
        self._index = index

    @classmethod
    def build(cls, vectors: NDArray[np.float32], dimension: int) -> DenseIndex:
        import faiss

        index = faiss.IndexFlatIP(dimension)
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index)

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def search(self, query: NDArray[np.float32], k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Ids and cosine scores of the ``k`` nearest passages, best first."""
        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        import faiss

        # one query: one thread. FAISS's OpenMP split costs more than it saves on a few cores,
        # and far more when they are busy (measured by bench/speed.py)
        faiss.omp_set_num_threads(1)
        scores, ids = self._index.search(query.reshape(1, -1).astype(np.float32), k)
        keep = ids[0] >= 0
        return ids[0][keep].astype(np.int64), scores[0][keep]

    def vectors(self, ids: NDArray[np.int64] | None = None) -> NDArray[np.float32]:
        """Stored vectors (all, or those of ``ids``)."""
        if ids is None:
            if self.size == 0:
                return np.zeros((0, self.dimension), dtype=np.float32)
            return np.asarray(self._index.reconstruct_n(0, self.size), dtype=np.float32)
        if len(ids) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64)), dtype=np.float32)

    def scores(self, query: NDArray[np.float32], ids: NDArray[np.int64]) -> NDArray[np.float32]:
        """Cosine scores of the given passages."""
        return self.vectors(ids) @ query.astype(np.float32)

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> DenseIndex:
        import faiss

        return cls(faiss.read_index(str(path)))
