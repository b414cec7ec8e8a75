"""Build time: export the embedding model's transformer to ONNX for torch-free questions.

Uses the torch that building needs anyway (``torch.onnx.export``, TorchScript exporter, which needs
the ``onnx`` package but not ``onnxscript`` or ``optimum``). The exported file is checked before it
is used: the ONNX path (``onnx_embed.OnnxEmbedder``) must reproduce sentence-transformers' vectors
within cosine ``MIN_COSINE`` on probe texts (short, long beyond the maximum length, unicode,
numbers, and passages of the corpus). A model this cannot handle (other modules than Transformer +
Pooling + Normalize, prompts, several pooling modes, a slow tokenizer, an exporter error, a failed
check) is recorded as ``{"format": "sentence-transformers", "reason": ...}`` with a log line, and
questions are embedded with sentence-transformers as before.

See ``onnx_embed`` for where the files live and why the ONNX file is content-addressed.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import shutil
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .embed import Embedder
from .onnx_embed import (
    ENCODER_DIR,
    MODEL_FILE,
    POOLINGS,
    TOKENIZER,
    EncoderCheckError,
    EncoderSpec,
    OnnxEmbedder,
    check,
    folder_sha256,
    spec_of,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

MIN_COSINE = 0.9999
OPSET = 17
DATA_FILE = "model.data"  # the weights, beside MODEL_FILE
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
PROBES = [
    "What?",
    "How many reform pilot tasks were identified in the overall plan?",
    "WHO IS THE MINISTER OF COMMERCE?",
    "In 2020, exports rose 41.5% to 7.2 billion yuan (¥7,200,000,000) — up 3.14x since 1999.",
    "自由贸易试验区 一周年 ⚓ naïve café Ünïcödé, Ελληνικά, العربية, русский 🎉",
    "  tabs\tand\nnewlines   and spaces  ",
    " ".join(f"word{i} and the free trade zone number {i}" for i in range(120)),  # far beyond 256 tokens
]


@dataclass(frozen=True, slots=True)
class Prepared:
    """What a build writes: the manifest entry and, for ONNX, the tokenizer file's text."""

    entry: dict[str, Any]
    tokenizer: str | None = None
    tokenizer_file: str = TOKENIZER  # in the generation folder

    @staticmethod
    def prune(index_dir: Path) -> None:
        """After the new generation is live: delete the ONNX files no generation references."""
        prune(index_dir)


def fallback(model_id: str, reason: str) -> Prepared:
    return Prepared({"format": "sentence-transformers", "model": model_id, "reason": reason})


def prepare(
    index_dir: Path,
    model_id: str,
    previous: tuple[Path, dict[str, Any]] | None,
    embedder: Embedder | None,
    load_model: Callable[[], Embedder],
    probes: list[str],
) -> Prepared:
    """The query encoder for a new generation: the previous one when it is for the same model and
    intact (no export, no 90 MB write), else a fresh export, else the sentence-transformers fallback.

    ``embedder``: the model that embedded this build's passages (None when every vector was
    reused; then the model is loaded with ``load_model`` only if an export is needed). Its
    ``st_model`` (a SentenceTransformer, see ``SentenceTransformerEmbedder``) is exported; an
    embedder without one (a test or bench stand-in) gets no ONNX encoder.
    """
    old = previous[1].get("query_encoder") if previous else None
    if previous is not None and isinstance(old, dict) and old.get("model") == model_id:
        try:
            spec = check(index_dir, previous[0], previous[1])
        except EncoderCheckError as exc:
            log.warning("the index %s; exporting the model again", exc)
            spec = None
        if spec is not None:
            return Prepared(spec.to_dict(), (previous[0] / TOKENIZER).read_text(encoding="utf-8"))
        if old.get("format") != "onnx" and embedder is None:
            return Prepared(old)  # could not be exported before; do not load the model just to retry
    if embedder is None:
        try:
            embedder = load_model()
        except Exception as exc:  # noqa: BLE001 - any failure means the same: no ONNX this time
            return _failed(model_id, f"the model did not load for export ({type(exc).__name__}: {exc})")
    model = getattr(embedder, "st_model", None)
    if model is None:  # a custom embedder (tests, benches): nothing to export
        log.info("no ONNX query encoder: %s is not a sentence-transformers model", type(embedder).__name__)
        return fallback(model_id, f"{type(embedder).__name__} is not a sentence-transformers model")
    try:
        return export(index_dir, model_id, model, embedder.dimension, probes)
    except Exception as exc:  # noqa: BLE001 - an exporter error must never fail the build
        return _failed(model_id, f"export failed ({type(exc).__name__}: {exc})")


def _failed(model_id: str, reason: str) -> Prepared:
    log.warning(
        "cannot use ONNX for model %r: %s; questions will be embedded with sentence-transformers", model_id, reason
    )
    return fallback(model_id, reason)


def _structure(model: Any) -> tuple[Any, Any, str | None]:
    """The Transformer and Pooling modules, or the reason this model is not exportable."""
    modules = list(model)
    kinds = [type(m).__name__ for m in modules]
    if not (2 <= len(kinds) <= 3 and kinds[:2] == ["Transformer", "Pooling"] and kinds[2:] in ([], ["Normalize"])):
        return None, None, f"modules {kinds} are not Transformer, Pooling[, Normalize]"
    transformer, pooling = modules[0], modules[1]
    if getattr(model, "default_prompt_name", None):
        return None, None, f"it has a default prompt {model.default_prompt_name!r}"
    config = pooling.get_config_dict()
    if config.get("pooling_mode") not in POOLINGS:
        return None, None, f"pooling mode {config.get('pooling_mode')!r} is not one of {POOLINGS}"
    tokenizer: Any = getattr(transformer, "tokenizer", None)
    if getattr(tokenizer, "backend_tokenizer", None) is None:
        return None, None, "its tokenizer is not a fast (tokenizers) tokenizer"
    if tokenizer.pad_token_id is None:
        return None, None, "its tokenizer has no padding token"
    if not set(tokenizer.model_input_names) <= set(INPUTS):
        return None, None, f"its tokenizer gives inputs {tokenizer.model_input_names}, not a subset of {INPUTS}"
    length = transformer.max_seq_length
    if not isinstance(length, int) or not 0 < length <= 100_000:
        return None, None, f"it has no usable maximum sequence length ({length!r})"
    return transformer, pooling, None


def export(index_dir: Path, model_id: str, model: Any, dimension: int, probes: list[str]) -> Prepared:
    """Export ``model`` (a SentenceTransformer) into ``index_dir/onnx/<sha256>.onnx`` and check it
    against the model's own vectors; ``dimension`` is the index's."""
    transformer, pooling, why = _structure(model)
    if why is None and model.get_embedding_dimension() != dimension:
        why = f"it gives vectors of dimension {model.get_embedding_dimension()}, the index holds {dimension}"
    if why is not None:
        return _failed(model_id, why)
    import torch
    from tokenizers import Tokenizer

    hf_tokenizer = transformer.tokenizer
    names = tuple(n for n in INPUTS if n in hf_tokenizer.model_input_names)
    tokenizer = Tokenizer.from_str(hf_tokenizer.backend_tokenizer.to_str())
    tokenizer.no_truncation()  # truncation and padding are set from the manifest when loading
    tokenizer.no_padding()
    sample = hf_tokenizer(["a short one", "and a somewhat longer second text"], padding=True, return_tensors="pt")

    class Transformer(torch.nn.Module):  # positional ONNX inputs -> the model's keyword arguments
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *tensors: Any) -> Any:
            return self.inner(**dict(zip(names, tensors, strict=True))).last_hidden_state

    inner = transformer.model
    if next(inner.parameters()).device.type != "cpu":
        inner = copy.deepcopy(inner).to("cpu")
    root = index_dir / ENCODER_DIR
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{uuid.uuid4().hex[:12]}"
    raw = root / f"{tmp.name}.raw.onnx"
    tmp.mkdir()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python branches
            torch.onnx.export(
                Transformer(inner).eval(),
                tuple(sample[n] for n in names),
                str(raw),
                dynamo=False,
                input_names=list(names),
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "sequence"} for n in (*names, "last_hidden_state")},
                opset_version=OPSET,
            )
        optimized_by = optimize(raw, tmp / MODEL_FILE)
        for path in tmp.iterdir():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
        sha, size = folder_sha256(tmp)
        final = root / sha
        if final.is_dir() and folder_sha256(final) == (sha, size):  # exported before, intact: keep it
            shutil.rmtree(tmp)
        else:
            shutil.rmtree(final, ignore_errors=True)  # a damaged copy under the same name
            os.rename(tmp, final)
    finally:
        raw.unlink(missing_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    spec = EncoderSpec(
        model=model_id,
        path=f"{ENCODER_DIR}/{sha}",
        sha256=sha,
        size=size,
        tokenizer_sha256="",
        max_seq_length=int(transformer.max_seq_length),
        pad_id=int(hf_tokenizer.pad_token_id),
        pad_token=str(hf_tokenizer.pad_token),
        inputs=names,
        pooling=str(pooling.get_config_dict()["pooling_mode"]),
        normalize=True,  # the Embedder contract: L2-normalised vectors, as SentenceTransformerEmbedder gives
        dimension=dimension,
        opset=OPSET,
        exported_with=f"torch {torch.__version__}",
        optimized_by=optimized_by,
        min_cosine=0.0,
    )
    text = tokenizer.to_str()
    texts = [*PROBES, *probes]
    want = model.encode(texts, batch_size=16, normalize_embeddings=True, convert_to_numpy=True)
    worst = agreement(OnnxEmbedder(spec, final / MODEL_FILE, text), np.asarray(want, dtype=np.float32), texts)
    if worst < MIN_COSINE:
        return _failed(model_id, f"the ONNX vectors agree only to cosine {worst:.6f} (< {MIN_COSINE})")
    spec = replace(spec, tokenizer_sha256=hashlib.sha256(text.encode()).hexdigest(), min_cosine=round(worst, 7))
    log.info("exported %s to %s (%.1f MB, worst probe cosine %.7f)", model_id, spec.path, spec.size / 1e6, worst)
    return Prepared(spec.to_dict(), text)


def optimize(source: Path, target: Path) -> str:
    """Write ``source`` with onnxruntime's extended graph optimisations applied (fused attention,
    layer norm, GELU) to ``target``, its weights in ``model.data`` beside it; returns the
    onnxruntime version. The extended level is the highest whose output does not depend on this
    machine's CPU (the "all" level adds layout changes for it)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(target)
    options.add_session_config_entry("session.optimized_model_external_initializers_file_name", DATA_FILE)
    options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    onnxruntime.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
    return str(onnxruntime.__version__)


def agreement(onnx: Embedder, want: NDArray[np.float32], texts: list[str]) -> float:
    """Worst cosine between ONNX vectors (batched, and one text at a time) and ``want``."""
    batched = onnx.encode(texts, batch_size=16)
    single = np.concatenate([onnx.encode([t]) for t in texts[:16]])
    return float(min((want * batched).sum(axis=1).min(), (want[:16] * single).sum(axis=1).min()))


def prune(index_dir: Path) -> None:
    """Delete ONNX folders (and leftovers of killed exports) that no generation in ``index_dir``
    references (call with the writer lock)."""
    import json

    root = index_dir / ENCODER_DIR
    if not root.is_dir():
        return
    keep: set[str] = set()
    for manifest in index_dir.glob("gen-*/manifest.json"):
        try:
            spec = spec_of(json.loads(manifest.read_text(encoding="utf-8")))
        except (OSError, ValueError, EncoderCheckError):
            continue
        if spec is not None:
            keep.add(Path(spec.path).name)
    for path in root.iterdir():
        if path.name not in keep:
            log.info("removing unreferenced %s", path)
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
