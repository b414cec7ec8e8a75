"""The index: passages + dense + sparse + manifest. Build (incremental), save, load, staleness."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import __version__
from .chunking import split
from .corpus import fingerprint, read_corpus
from .dense import DenseIndex
from .embed import Embedder, resolve_model
from .errors import CorpusError, IndexDamagedError, IndexMismatchError, IndexMissingError
from .lexicon import Lexicon, model_words
from .script import profile
from .settings import BM25Settings, ChunkSettings, Settings
from .sparse import SparseIndex
from .store import current_generation, new_generation, read_jsonl, write_json, write_jsonl, writer_lock
from .types import Document, Passage

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from .onnx_export import Prepared

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: lexicon.json, script profile, BM25 tokens without lone "s"/"t", "%" = "percent"
MANIFEST = "manifest.json"
PASSAGES = "passages.jsonl"
DOCUMENTS = "documents.jsonl"
DENSE = "dense.faiss"
SPARSE = "bm25"
LEXICON = "lexicon.json"
MAX_MANIFEST_BYTES = 256 * 2**20  # a sha256 per document: far below this for any real corpus


def embed_input(passage: Passage, with_title: bool) -> str:
    """The text that is embedded and keyword-indexed for a passage."""
    if not with_title:
        return passage.text
    head = " — ".join(x for x in (passage.title, passage.section) if x)
    return f"{head}\n{passage.text}" if head else passage.text


def _key(text: str, model: str) -> str:
    return hashlib.sha256(f"{model}\x00{text}".encode()).hexdigest()


def rebuild_command(corpus_dir: str | Path, index_dir: str | Path) -> str:
    return f"ftzqa build --corpus {corpus_dir} --index {index_dir}"


@dataclass(frozen=True, slots=True)
class BuildSummary:
    documents: int
    passages: int
    embedded: int  # passages embedded in this build
    reused: int  # passages whose vectors were reused by content hash
    removed: int  # documents dropped since the previous index
    seconds: float
    skipped: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = (
            f"indexed {self.documents} documents, {self.passages} passages "
            f"({self.embedded} embedded, {self.reused} reused, {self.removed} documents removed) "
            f"in {self.seconds:.1f} s"
        )
        if self.skipped:
            text += f"; skipped {len(self.skipped)} file(s)"
        return text


@dataclass(frozen=True, slots=True)
class Staleness:
    added: list[str]
    changed: list[str]
    removed: list[str]

    @property
    def stale(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def describe(self) -> str:
        parts = [
            f"{len(v)} {k}"
            for k, v in (("added", self.added), ("changed", self.changed), ("removed", self.removed))
            if v
        ]
        return ", ".join(parts)


class Index:
    """A loaded index generation (read-only)."""

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        passages: list[Passage],
        documents: dict[str, Document],
        keys: list[str],
        dense: DenseIndex,
        sparse: SparseIndex,
        lexicon: Lexicon,
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.passages = passages
        self.documents = documents
        self.keys = keys
        self.dense = dense
        self.sparse = sparse
        self.lexicon = lexicon

    @property
    def model(self) -> str:
        return str(self.manifest["model"]["id"])

    @property
    def dimension(self) -> int:
        return int(self.manifest["model"]["dimension"])

    @property
    def with_title(self) -> bool:
        return bool(self.manifest["embedding"]["with_title"])

    @property
    def scripts(self) -> dict[str, int]:
        """Letters per writing system in the indexed text ("LATIN": ..., "CJK": ...)."""
        return {str(k): int(v) for k, v in self.manifest.get("scripts", {}).items()}

    def staleness(self, corpus_dir: str | Path | None = None) -> Staleness:
        """Compare the corpus folder now with what was indexed."""
        folder = Path(corpus_dir) if corpus_dir else Path(self.manifest["corpus"])
        try:
            now = fingerprint(folder)
        except CorpusError:
            return Staleness([], [], sorted(self.manifest["files"]))
        then: dict[str, str] = self.manifest["files"]
        return Staleness(
            added=sorted(set(now) - set(then)),
            changed=sorted(k for k in now if k in then and now[k] != then[k]),
            removed=sorted(set(then) - set(now)),
        )


def _refuse(index_dir: Path, why: str, corpus: str = "corpus") -> IndexMismatchError:
    return IndexMismatchError(
        f"index at {str(index_dir)!r} {why}; rebuild it: {rebuild_command(corpus, index_dir)}"
    )


def read_manifest(index_dir: str | Path) -> tuple[Path, dict[str, Any]]:
    """The live generation folder and its checked manifest (format version only)."""
    index_dir = Path(index_dir)
    gen = current_generation(index_dir)  # raises IndexDamagedError for a bad CURRENT
    if gen is None or not (gen / MANIFEST).is_file():
        raise IndexMissingError(
            f"no index at {str(index_dir)!r}; build one: {rebuild_command('corpus', index_dir)}"
        )
    links = sorted(p.name for p in gen.iterdir() if p.is_symlink())
    if links:
        raise IndexDamagedError(
            f"index at {str(index_dir)!r} has symbolic links in {gen.name} ({', '.join(links[:3])}); ftzqa "
            f"never follows links out of the index; rebuild it: {rebuild_command('corpus', index_dir)}"
        )
    try:
        if (gen / MANIFEST).stat().st_size > MAX_MANIFEST_BYTES:
            raise ValueError("too large")
        manifest = json.loads((gen / MANIFEST).read_text(encoding="utf-8"))
        version = manifest["format_version"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        raise _refuse(index_dir, f"has an unreadable {MANIFEST}") from None
    corpus = str(manifest.get("corpus", "corpus"))
    if version != FORMAT_VERSION:
        raise _refuse(index_dir, f"has format version {version!r}, this ftzqa reads {FORMAT_VERSION}", corpus)
    return gen, manifest


def load_index(index_dir: str | Path, model: str | None = None, *, query_encoder: bool = True) -> Index:
    """Load the live generation, checking the manifest before the big files.

    ``model``: when given, the index must have been built with it. ``query_encoder``: also verify
    the ONNX query encoder (presence, checksum, model); a build reading its predecessor skips it
    and checks the encoder itself before reusing it.
    """
    index_dir = Path(index_dir)
    gen, m = read_manifest(index_dir)
    corpus = str(m.get("corpus", "corpus"))
    try:
        built_with, dim, count = str(m["model"]["id"]), int(m["model"]["dimension"]), int(m["passage_count"])
        ChunkSettings(**m["chunker"])  # validates the recorded settings
        bm25 = BM25Settings(**m["bm25"])
    except (KeyError, TypeError, ValueError):
        raise _refuse(index_dir, f"has an incomplete {MANIFEST}", corpus) from None
    if model is not None and model != built_with:
        raise IndexMismatchError(
            f"index at {str(index_dir)!r} was built with model {built_with!r}, not {model!r}; "
            f"rebuild it with: {rebuild_command(corpus, index_dir)} --model {model} "
            f"(or drop --model / FTZQA_MODEL to use {built_with!r})"
        )
    if query_encoder:
        from .onnx_embed import EncoderCheckError, check

        try:
            check(index_dir, gen, m)
        except EncoderCheckError as exc:
            raise _refuse(index_dir, str(exc), corpus) from None
    try:
        rows = read_jsonl(gen / PASSAGES)
        passages = [Passage.from_dict(r) for r in rows]
        keys = [str(r["key"]) for r in rows]
        documents = {d["doc_id"]: Document(**d) for d in read_jsonl(gen / DOCUMENTS)}
        dense = DenseIndex.load(gen / DENSE)
        sparse = SparseIndex.load(gen / SPARSE, bm25)
        lexicon = Lexicon.load(gen / LEXICON)
    except Exception as exc:  # any damaged file means the same thing to the user
        raise _refuse(
            index_dir, f"has a damaged or missing file ({type(exc).__name__}: {exc})", corpus
        ) from None
    if dense.dimension != dim:
        raise _refuse(index_dir, f"holds vectors of dimension {dense.dimension}, manifest says {dim}", corpus)
    if not (len(passages) == dense.size == sparse.size == count):
        raise _refuse(
            index_dir,
            f"is inconsistent ({len(passages)} passages, {dense.size} vectors, {sparse.size} BM25 rows, "
            f"manifest {count})",
            corpus,
        )
    return Index(gen, m, passages, documents, keys, dense, sparse, lexicon)


def _previous(
    index_dir: Path, model: str
) -> tuple[dict[str, NDArray[np.float32]], set[str], tuple[Path, dict[str, Any]] | None]:
    """From the current index (if any): vectors keyed by content hash (when built with ``model``),
    the documents it holds, and its folder and manifest."""
    try:
        old = load_index(index_dir, query_encoder=False)
    except (IndexMissingError, IndexMismatchError):
        return {}, set(), None
    documents = set(old.manifest.get("documents", {}))
    if old.model != model:
        return {}, documents, (old.path, old.manifest)
    vectors = old.dense.vectors()
    return {k: vectors[i] for i, k in enumerate(old.keys)}, documents, (old.path, old.manifest)


def _query_encoder(
    index_dir: Path,
    model_id: str,
    previous: tuple[Path, dict[str, Any]] | None,
    embedder: Embedder | None,
    settings: Settings,
    inputs: list[str],
) -> Prepared:
    """The ONNX query encoder for the new generation (reused, exported, or the fallback)."""
    from .onnx_export import prepare

    def load_model() -> Embedder:
        from .embed import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(model_id, settings.device)

    probes = inputs[:: max(1, len(inputs) // 32)][:32]
    return prepare(index_dir, model_id, previous, embedder, load_model, probes)


def build(
    corpus_dir: str | Path,
    index_dir: str | Path,
    settings: Settings | None = None,
    *,
    embedder: Embedder | None = None,
    show_progress: bool = False,
) -> BuildSummary:
    """Build or refresh the index from the corpus, embedding only passages not seen before.

    Holds the writer lock; writes a new generation atomically; the old one keeps working
    if anything fails.
    """
    settings = settings or Settings.from_env()
    with writer_lock(Path(index_dir)):
        return build_unlocked(Path(corpus_dir), Path(index_dir), settings, embedder, show_progress)


def build_unlocked(
    corpus_dir: Path,
    index_dir: Path,
    settings: Settings,
    embedder: Embedder | None = None,
    show_progress: bool = False,
) -> BuildSummary:
    """``build`` without taking the writer lock: the caller holds it (see ``ingest.add``)."""
    started = time.perf_counter()
    report = read_corpus(corpus_dir)
    if not report.documents:
        reasons = "; ".join(s.reason for s in report.skipped)
        raise CorpusError(
            f"corpus folder {str(corpus_dir)!r} has no readable documents (.txt, .md, .html, .pdf, .docx)"
            + (f" ({reasons})" if reasons else "")
            + "; add some files and build again"
        )
    passages = [p for doc in report.documents for p in split(doc, settings.chunk)]
    inputs = [embed_input(p, settings.embed_title) for p in passages]
    model_id = embedder.model_id if embedder is not None else settings.model
    keys = [_key(text, model_id) for text in inputs]

    cache, old_docs, previous = _previous(index_dir, model_id)
    todo = [i for i, k in enumerate(keys) if k not in cache]
    fresh: NDArray[np.float32] | None = None
    if todo:
        if embedder is None:
            from .embed import SentenceTransformerEmbedder

            embedder = SentenceTransformerEmbedder(settings.model, settings.device)
        fresh = embedder.encode(
            [inputs[i] for i in todo], batch_size=settings.batch_size, show_progress=show_progress
        )
        dimension = embedder.dimension
    else:
        dimension = len(next(iter(cache.values())))
    vectors = np.zeros((len(passages), dimension), dtype=np.float32)
    for i, k in enumerate(keys):
        if k in cache:
            vectors[i] = cache[k]
    if fresh is not None:
        vectors[todo] = fresh
    encoder = _query_encoder(index_dir, model_id, previous, embedder, settings, inputs)
    dense = DenseIndex.build(vectors, dimension)
    sparse = SparseIndex.build(inputs, settings.bm25)
    # passage texts, then each title and section once (repeating them per passage would make
    # every word of a title-cased heading look like a name)
    headings = dict.fromkeys(x for p in passages for x in (p.title, p.section) if x)
    lexicon = Lexicon.build([p.text for p in passages] + list(headings), model_words(resolve_model(model_id)))
    manifest = {
        "format_version": FORMAT_VERSION,
        "ftzqa_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model": {"id": model_id, "dimension": dimension, "normalized": True},
        "embedding": {"with_title": settings.embed_title},
        "chunker": settings.chunk.to_dict(),
        "bm25": settings.bm25.to_dict(),
        "passage_count": len(passages),
        "scripts": dict(profile(lexicon.words)),
        "corpus": str(corpus_dir.resolve()),
        "documents": {d.doc_id: d.sha256 for d in report.documents},
        "files": fingerprint(corpus_dir),
        "skipped": [s.reason for s in report.skipped],
        "query_encoder": encoder.entry,
    }
    with new_generation(index_dir) as tmp:
        rows = [{**p.to_dict(), "key": k} for p, k in zip(passages, keys, strict=True)]
        write_jsonl(tmp / PASSAGES, rows)
        write_jsonl(
            tmp / DOCUMENTS,
            [
                {
                    "doc_id": d.doc_id,
                    "title": d.title,
                    "text": d.text,
                    "sha256": d.sha256,
                    "source": d.source,
                    "author": d.author,
                    "date": d.date,
                }
                for d in report.documents
            ],
        )
        dense.save(tmp / DENSE)
        (tmp / SPARSE).mkdir()
        sparse.save(tmp / SPARSE)
        lexicon.save(tmp / LEXICON)
        if encoder.tokenizer is not None:
            (tmp / encoder.tokenizer_file).write_bytes(encoder.tokenizer.encode("utf-8"))
        write_json(tmp / MANIFEST, manifest)  # last: a folder without it is not an index
    encoder.prune(index_dir)
    current = {d.doc_id for d in report.documents}
    return BuildSummary(
        documents=len(report.documents),
        passages=len(passages),
        embedded=len(todo),
        reused=len(passages) - len(todo),
        removed=len(old_docs - current),
        seconds=time.perf_counter() - started,
        skipped=[s.reason for s in report.skipped],
    )
