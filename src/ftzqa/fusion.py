"""Pure rank/score fusion of dense and keyword scores."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray


def minmax(scores: NDArray[np.float32]) -> NDArray[np.float32]:
    """Scale to [0, 1]; a constant array maps to zeros (it ranks nothing)."""
    if scores.size == 0:
        return scores.astype(np.float32)
    lo, hi = float(scores.min()), float(scores.max())
    if hi - lo <= 1e-12:
        return np.zeros_like(scores, dtype=np.float32)
    return ((scores - lo) / (hi - lo)).astype(np.float32)


def convex(
    dense: NDArray[np.float32], sparse: NDArray[np.float32], dense_weight: float
) -> NDArray[np.float32]:
    """``w * minmax(dense) + (1 - w) * minmax(sparse)`` over the same candidates."""
    if not 0.0 <= dense_weight <= 1.0:
        raise ValueError(f"dense_weight of {dense_weight} is outside [0, 1]; pick a value between 0 and 1")
    return (dense_weight * minmax(dense) + (1.0 - dense_weight) * minmax(sparse)).astype(np.float32)


def rrf(*rankings: NDArray[np.int64], k: int = 60) -> dict[int, float]:
    """Reciprocal rank fusion: id -> sum of 1 / (k + rank) over the rankings (rank 1-based)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, pid in enumerate(ranking.tolist(), start=1):
            fused[pid] = fused.get(pid, 0.0) + 1.0 / (k + rank)
    return fused
