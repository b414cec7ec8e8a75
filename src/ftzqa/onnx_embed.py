"""Torch-free question embedding: the model's transformer exported to ONNX, run by onnxruntime.

Tokenisation is done by ``tokenizers`` from the model's own tokenizer.json (same truncation length
as sentence-transformers), the transformer by ``onnxruntime``, then the model's own pooling (read
from its sentence-transformers modules at export) and L2 normalisation. Importing this module and
embedding with it never imports torch, transformers or sentence-transformers.

Where the files live (``onnx_export`` writes them at build time):

- ``index/onnx/<sha256>/``: the exported transformer, graph-optimised by onnxruntime, as
  ``model.onnx`` (the graph, ~90 KB) and ``model.data`` (the weights, ~90 MB for all-MiniLM-L6-v2),
  named by the sha256 of both and shared by every generation that references it. Exporting takes
  ~5 s and writes 90 MB, so a build or ``ftzqa add`` with the same model reuses the folder after
  checking its checksum (~0.1 s) instead of writing 90 MB into every generation (bench/speed.py
  times both). A build deletes the folders no remaining generation references. With the weights
  outside the graph a session started in ~0.07 s here instead of ~0.25 s for the single 90 MB
  protobuf, a fifth of a cold ``ftzqa ask`` (bench/speed.py reports the start time).
- ``index/gen-*/query-tokenizer.json``: the tokenizer (small, written with each generation).
- ``manifest.json`` ``"query_encoder"``: file, sha256, size, the model it was exported from,
  tokenizer checksum, maximum length, pooling, normalisation, and the worst cosine against
  sentence-transformers measured on probe texts at export. ``check`` verifies all of it on load.
  ``{"format": "sentence-transformers", "reason": ...}`` records that the model could not be
  exported; questions are then embedded with sentence-transformers.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

ENCODER_DIR = "onnx"  # under the index folder
TOKENIZER = "query-tokenizer.json"  # in each generation folder
FORMAT = "onnx"
POOLINGS = ("mean", "cls", "max", "mean_sqrt_len_tokens")
# Larger batches were slower per text when tried here (1 thread, 300 texts of 5-256 tokens, batches
# of 4 against 16 and 64): the attention materialises (batch, heads, seq, seq) scores. Questions
# come one at a time; batches only embed probe texts at build time, and tests.
MAX_BATCH = 4
MODEL_FILE = "model.onnx"  # the graph; its weights are in model.data beside it
_DIGEST = re.compile(r"[0-9a-f]{64}")


class EncoderCheckError(Exception):
    """The index's ONNX query encoder is missing, damaged or does not belong to the index."""


@dataclass(frozen=True, slots=True)
class EncoderSpec:
    """The manifest's ``query_encoder`` entry for an exported model."""

    model: str  # the model id it was exported from (the index's model)
    path: str  # relative to the index folder: onnx/<sha256> (holding model.onnx, model.data)
    sha256: str  # of the folder's files (folder_sha256)
    size: int  # their total bytes
    tokenizer_sha256: str
    max_seq_length: int
    pad_id: int
    pad_token: str
    inputs: tuple[str, ...]  # ONNX input names, fed from the tokenizer's ids / attention mask / type ids
    pooling: str  # one of POOLINGS
    normalize: bool
    dimension: int
    opset: int
    exported_with: str  # "torch X.Y.Z"
    optimized_by: str  # onnxruntime version that applied the graph optimisations to the stored file
    min_cosine: float  # worst agreement with sentence-transformers on the probe texts at export

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, **asdict(self), "inputs": list(self.inputs)}

    @classmethod
    def from_dict(cls, entry: dict[str, Any]) -> EncoderSpec:
        fields = {k: v for k, v in entry.items() if k != "format"}
        fields["inputs"] = tuple(fields["inputs"])
        spec = cls(**fields)
        if spec.pooling not in POOLINGS:
            raise ValueError(f"pooling {spec.pooling!r}")
        return spec


def file_sha256(path: Path, digest: Any = None) -> str:
    digest = digest if digest is not None else hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    return str(digest.hexdigest())


def folder_sha256(folder: Path) -> tuple[str, int]:
    """One sha256 over the names, sizes and bytes of the files in ``folder``, and their total size."""
    digest, total = hashlib.sha256(), 0
    for path in sorted(folder.iterdir()):
        size = path.stat().st_size
        digest.update(f"{path.name}\0{size}\0".encode())
        file_sha256(path, digest)
        total += size
    return str(digest.hexdigest()), total


def spec_of(manifest: dict[str, Any]) -> EncoderSpec | None:
    """The ONNX query encoder an index records, or None when it has none (sentence-transformers).

    Raises EncoderCheckError when the entry is malformed.
    """
    entry = manifest.get("query_encoder")
    if not isinstance(entry, dict) or entry.get("format") != FORMAT:
        return None
    try:
        return EncoderSpec.from_dict(entry)
    except (KeyError, TypeError, ValueError) as exc:
        raise EncoderCheckError(f"has an unreadable query_encoder entry in its manifest ({exc})") from None


def check(index_dir: Path, generation: Path, manifest: dict[str, Any]) -> EncoderSpec | None:
    """Verify the index's ONNX query encoder against the manifest before anything uses it.

    Reads the ONNX files once for their checksum (~0.1 s for 90 MB). Raises EncoderCheckError with
    what is wrong; None when the index embeds questions with sentence-transformers.
    """
    spec = spec_of(manifest)
    if spec is None:
        return None
    model, dimension = str(manifest["model"]["id"]), int(manifest["model"]["dimension"])
    if spec.model != model:
        raise EncoderCheckError(
            f"has an ONNX query encoder exported from model {spec.model!r}, but its passages were "
            f"embedded with {model!r}"
        )
    if spec.dimension != dimension:
        raise EncoderCheckError(
            f"has an ONNX query encoder of dimension {spec.dimension}, but vectors of dimension {dimension}"
        )
    parent, name = spec.path.partition("/")[::2]
    if parent != ENCODER_DIR or not _DIGEST.fullmatch(name) or name != spec.sha256:
        raise EncoderCheckError(f"names an unexpected ONNX query encoder folder {spec.path!r}")
    folder = index_dir / spec.path
    if not (folder / MODEL_FILE).is_file():
        raise EncoderCheckError(f"is missing its ONNX query encoder {spec.path}/{MODEL_FILE}")
    try:
        digest, size = folder_sha256(folder)
    except OSError as exc:
        raise EncoderCheckError(f"has an unreadable ONNX query encoder {spec.path} ({exc})") from None
    if (digest, size) != (spec.sha256, spec.size):
        raise EncoderCheckError(
            f"has a damaged ONNX query encoder {spec.path} (its files do not match the checksum)"
        )
    try:
        tokenizer_sum = file_sha256(generation / TOKENIZER)
    except OSError:
        raise EncoderCheckError(f"is missing its query tokenizer {TOKENIZER}") from None
    if tokenizer_sum != spec.tokenizer_sha256:
        raise EncoderCheckError(f"has a damaged query tokenizer {TOKENIZER} (checksum mismatch)")
    return spec


class OnnxEmbedder:
    """Embeds texts with an exported transformer: tokenizers -> onnxruntime -> pooling -> normalise.

    Thread-safe: ``InferenceSession.run`` and ``Tokenizer.encode_batch`` may be called concurrently.
    """

    def __init__(self, spec: EncoderSpec, model_path: Path, tokenizer_json: str, threads: int = 1) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.model_id = spec.model
        self.dimension = spec.dimension
        self.spec = spec
        tokenizer = Tokenizer.from_str(tokenizer_json)
        tokenizer.enable_truncation(max_length=spec.max_seq_length)
        tokenizer.enable_padding(pad_id=spec.pad_id, pad_token=spec.pad_token)
        self._tokenizer = tokenizer
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only
        # one thread per call by default, like FAISS here: a question is a few dozen tokens, and on
        # a shared or busy box a second spinning thread costs more than it saves (bench/speed.py
        # times both); a server answers concurrent questions on separate threads anyway
        options.intra_op_num_threads = threads
        self._threads = threads
        if spec.optimized_by == onnxruntime.__version__:
            # the stored graph was optimised at build by this onnxruntime: do not redo it per start
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
        self._session = onnxruntime.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        self._output = self._session.get_outputs()[0].name

    def cpu_threads(self) -> int:
        """Cores one ``encode`` keeps busy (onnxruntime's intra-op threads)."""
        return self._threads

    @classmethod
    def for_index(cls, index_dir: Path, generation: Path, spec: EncoderSpec, threads: int = 1) -> OnnxEmbedder:
        tokenizer = (generation / TOKENIZER).read_text(encoding="utf-8")
        return cls(spec, index_dir / spec.path / MODEL_FILE, tokenizer, threads)

    def encode(
        self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # similar lengths pad less
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        batch_size = max(1, min(batch_size, MAX_BATCH))
        for start in range(0, len(texts), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self._batch([texts[i] for i in chunk])
        return out

    def _batch(self, texts: list[str]) -> NDArray[np.float32]:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        hidden = self._session.run([self._output], {name: feeds[name] for name in self.spec.inputs})[0]
        return pool(np.asarray(hidden, dtype=np.float32), mask, self.spec.pooling, self.spec.normalize)


def load_embedder(generation: Path, manifest: dict[str, Any]) -> OnnxEmbedder | None:
    """The ONNX embedder of a loaded index generation (its manifest was checked on load), or None
    when it has none or it cannot start; the caller then uses sentence-transformers."""
    try:
        spec = spec_of(manifest)
        if spec is None:
            return None
        return OnnxEmbedder.for_index(generation.parent, generation, spec)
    except Exception as exc:  # noqa: BLE001 - e.g. onnxruntime missing or broken: degrade, do not crash
        log.warning("cannot use the ONNX query encoder (%s: %s); using sentence-transformers", type(exc).__name__, exc)
        return None


def pool(
    hidden: NDArray[np.float32], mask: NDArray[np.int64], mode: str, normalize: bool
) -> NDArray[np.float32]:
    """sentence-transformers' Pooling (one mode) and Normalize, on token embeddings (batch, seq, dim)."""
    weights = mask[:, :, None].astype(np.float32)
    if mode == "cls":
        out = hidden[:, 0]
    elif mode == "max":
        out = np.where(weights > 0, hidden, np.float32(-1e9)).max(axis=1)
    else:
        summed = (hidden * weights).sum(axis=1)
        counts = np.clip(weights.sum(axis=1), 1e-9, None)
        out = summed / (counts if mode == "mean" else np.sqrt(counts))
    if normalize:
        out = out / np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)
    return np.asarray(out, dtype=np.float32)
