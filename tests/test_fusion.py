from __future__ import annotations

import numpy as np
import pytest

from ftzqa.fusion import convex, minmax, rrf


def test_minmax_scales_and_constant_maps_to_zero() -> None:
    assert minmax(np.array([2.0, 4.0, 3.0], dtype=np.float32)).tolist() == [0.0, 1.0, 0.5]
    assert minmax(np.array([5.0, 5.0], dtype=np.float32)).tolist() == [0.0, 0.0]


def test_convex_weights_the_two_signals() -> None:
    dense = np.array([1.0, 0.0], dtype=np.float32)
    sparse = np.array([0.0, 1.0], dtype=np.float32)
    assert convex(dense, sparse, 0.7).tolist() == pytest.approx([0.7, 0.3])
    with pytest.raises(ValueError, match="outside"):
        convex(dense, sparse, 1.5)


def test_rrf_rewards_agreement() -> None:
    fused = rrf(np.array([1, 2, 3]), np.array([2, 1, 4]), k=60)
    assert fused[1] == fused[2] > fused[3] > 0
    assert fused[4] == pytest.approx(1 / 63)
