"""The index as a whole: build from the corpus (incrementally), add, remove, compact, load, staleness.

Storage is behind the ``ftzqa.storage`` protocol; this module decides *what* changes (which
documents are new, changed or gone, which passages need embedding) and the store writes it. The
embedded store (``storage.embedded``) is the default.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from .chunking import split
from .corpus import CorpusReport, fingerprint, read_corpus, sha256_bytes
from .embed import Embedder, resolve_model
from .errors import CorpusError, IndexDamagedError, IndexMismatchError, IndexMissingError, InvalidSettingError
from .lexicon import COUNTS_FORMAT, model_words
from .settings import BM25Settings, ChunkSettings, Settings
from .store import current_generation, writer_lock
from .types import Document, Passage, embed_input

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from .storage.embedded import EmbeddedStore
    from .storage.location import Location
    from .storage.milvus import MilvusStore
    from .storage.writer import Encoder

    AnyStore: TypeAlias = EmbeddedStore | MilvusStore

log = logging.getLogger(__name__)

# 3: segments (SQLite passages and documents, BM25 term frequencies with index-wide statistics,
#    HNSW above a size), tombstones, lexicon counts per segment; 2: lexicon.json, script profile
FORMAT_VERSION = 3
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 256 * 2**20  # a sha256 per document: far below this for any real corpus

__all__ = ["FORMAT_VERSION", "BuildSummary", "Staleness", "build", "compact", "embed_input", "load_index",
           "read_manifest", "remove", "update"]


def _key(text: str, model: str) -> str:
    return hashlib.sha256(f"{model}\x00{text}".encode()).hexdigest()


def rebuild_command(corpus_dir: str | Path, index_dir: str | Path | Location) -> str:
    from .storage.location import MilvusTarget

    if isinstance(index_dir, MilvusTarget):
        return f"ftzqa build --corpus {corpus_dir} --store {index_dir.spec}"
    return f"ftzqa build --corpus {corpus_dir} --index {index_dir}"


def _lock_dir(location: Location) -> Path:
    """The folder of the writer lock (the index folder; beside a Milvus Lite file)."""
    return location if isinstance(location, Path) else location.lock_dir


def _milvus_store(target: Any, model: str | None, locked: bool = False) -> MilvusStore:
    from .storage.milvus import open_store

    store = open_store(target, locked)
    corpus = str(store.manifest.get("corpus", "corpus"))
    if store.manifest.get("format_version") != FORMAT_VERSION:
        raise _refuse(target, f"has format version {store.manifest.get('format_version')!r}, this ftzqa reads "
                      f"{FORMAT_VERSION}", corpus)
    try:
        ChunkSettings(**store.manifest["chunker"])
        BM25Settings(**store.manifest["bm25"])
        built_with = store.model
        int(store.dimension)
    except (KeyError, TypeError, ValueError):
        raise _refuse(target, f"has an incomplete {MANIFEST}", corpus) from None
    _check_model(target, model, built_with, corpus)
    return store


@dataclass(frozen=True, slots=True)
class BuildSummary:
    documents: int
    passages: int
    embedded: int  # passages embedded in this build
    reused: int  # passages not embedded: unchanged, or vectors reused by content hash
    removed: int  # documents dropped since the previous index
    seconds: float
    skipped: list[str] = field(default_factory=list)
    segments: int = 1

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


def staleness(manifest: Mapping[str, Any], corpus_dir: str | Path | None = None) -> Staleness:
    """Compare the corpus folder now with what the manifest says was indexed."""
    folder = Path(corpus_dir) if corpus_dir else Path(manifest["corpus"])
    try:
        now = fingerprint(folder)
    except CorpusError:
        return Staleness([], [], sorted(manifest["files"]))
    then: dict[str, str] = manifest["files"]
    return Staleness(
        added=sorted(set(now) - set(then)),
        changed=sorted(k for k in now if k in then and now[k] != then[k]),
        removed=sorted(set(then) - set(now)),
    )


# --- reading ------------------------------------------------------------------------------------


def _refuse(index_dir: Path | Location, why: str, corpus: str = "corpus") -> IndexMismatchError:
    return IndexMismatchError(
        f"index at {str(index_dir)!r} {why}; rebuild it: {rebuild_command(corpus, index_dir)}"
    )


def _check_model(index_dir: Path | Location, model: str | None, built_with: str, corpus: str) -> None:
    """Refuse an index built with another model than the one asked for (``None``: any)."""
    if model is not None and model != built_with:
        raise IndexMismatchError(
            f"index at {str(index_dir)!r} was built with model {built_with!r}, not {model!r}; "
            f"rebuild it with: {rebuild_command(corpus, index_dir)} --model {model} "
            f"(or drop --model / FTZQA_MODEL to use {built_with!r})"
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


def load_index(
    index_dir: str | Path | Location, model: str | None = None, *, query_encoder: bool = True,
    for_writing: bool = False, store: str | None = None,
) -> AnyStore:
    """Open the live generation of the embedded store, checking the manifest before the big files.

    ``model``: when given, the index must have been built with it. ``query_encoder``: also verify
    the ONNX query encoder (presence, checksum, model); a build reading its predecessor skips it
    and checks the encoder itself before reusing it. ``for_writing``: skip what only searching
    needs (HNSW graphs, array bounds).
    """
    from .storage.location import resolve

    return open_location(resolve(index_dir, store), model, query_encoder=query_encoder, for_writing=for_writing)


def open_location(
    location: Location, model: str | None = None, *, query_encoder: bool = True, for_writing: bool = False,
    locked: bool = False,
) -> AnyStore:
    """``load_index`` of a resolved location (``FTZQA_STORE`` is not consulted again). ``locked``:
    the caller holds the writer lock (a Milvus change still marked in progress was interrupted)."""
    from .storage.embedded import EmbeddedStore

    if not isinstance(location, Path):
        return _milvus_store(location, model, locked)
    index_dir = location
    gen, m = read_manifest(index_dir)
    corpus = str(m.get("corpus", "corpus"))
    try:
        built_with, dim = str(m["model"]["id"]), int(m["model"]["dimension"])
        int(m["passage_count"])
        ChunkSettings(**m["chunker"])  # validates the recorded settings
        BM25Settings(**m["bm25"])
        bool(m["embedding"]["with_title"])
        if not isinstance(m["documents"], dict) or not isinstance(m["files"], dict) or dim <= 0:
            raise TypeError("documents, files")
    except (KeyError, TypeError, ValueError):
        raise _refuse(index_dir, f"has an incomplete {MANIFEST}", corpus) from None
    _check_model(index_dir, model, built_with, corpus)
    if query_encoder:
        from .onnx_embed import EncoderCheckError, check

        try:
            check(index_dir, gen, m)
        except EncoderCheckError as exc:
            raise _refuse(index_dir, str(exc), corpus) from None
    try:
        return EmbeddedStore(index_dir, gen, m, for_writing=for_writing)
    except InvalidSettingError:  # a bad FTZQA_ setting, not a damaged index: the message says which
        raise
    except Exception as exc:  # any damaged file means the same thing to the user
        raise _refuse(
            index_dir, f"has a damaged or missing file ({type(exc).__name__}: {exc})", corpus
        ) from None


def _previous(index_dir: Location) -> AnyStore | None:
    """The current index opened for writing, or None when there is none or it cannot be read."""
    try:
        return open_location(index_dir, query_encoder=False, for_writing=True, locked=True)
    except (IndexMissingError, IndexMismatchError):
        return None


def _legacy_vectors(index_dir: Path, model: str) -> dict[str, NDArray[np.float32]]:
    """Vectors of an index of format 2 (``passages.jsonl`` + ``dense.faiss``) built with ``model``,
    by content key, so rebuilding it in this format embeds nothing again. Empty when unreadable."""
    try:
        gen = current_generation(index_dir)
        if gen is None:
            return {}
        m = json.loads((gen / MANIFEST).read_text(encoding="utf-8"))
        if m.get("format_version") != 2 or m["model"]["id"] != model:
            return {}
        import faiss

        keys = [json.loads(line)["key"] for line in (gen / "passages.jsonl").open(encoding="utf-8") if line.strip()]
        index = faiss.read_index(str(gen / "dense.faiss"))
        if index.ntotal != len(keys):
            return {}
        vectors = np.asarray(index.reconstruct_n(0, index.ntotal), dtype=np.float32)
        return dict(zip(keys, vectors, strict=True))
    except Exception:  # noqa: BLE001 - an unreadable old index only means re-embedding
        return {}


# --- writing ------------------------------------------------------------------------------------


def _meta(settings: Settings, model_id: str, dimension: int, corpus: str, files: dict[str, str],
          skipped: list[str]) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "model": {"id": model_id, "dimension": dimension, "normalized": True},
        "embedding": {"with_title": settings.embed_title},
        "chunker": settings.chunk.to_dict(),
        "bm25": settings.bm25.to_dict(),
        "lexicon": dict(COUNTS_FORMAT),
        "corpus": corpus,
        "files": files,
        "skipped": skipped,
    }


def _compatible(previous: AnyStore | None, settings: Settings, model_id: str) -> bool:
    """The previous index can be changed in place (else it is rebuilt, reusing vectors by key): same
    model and settings, and word statistics counted the way this ftzqa counts them."""
    if previous is None:
        return False
    m = previous.manifest
    return (
        previous.model == model_id
        and m["embedding"]["with_title"] == settings.embed_title
        and m["chunker"] == settings.chunk.to_dict()
        and m["bm25"] == settings.bm25.to_dict()
        and m.get("lexicon") == COUNTS_FORMAT
    )


@dataclass
class _Plan:
    """Passages of new documents and which of them still need embedding."""

    documents: list[Document]
    passages: list[list[Passage]]
    keys: list[list[str]]
    inputs: list[str]  # embedded text of every new passage, in order
    todo: list[int]  # positions (in the flat order) to embed
    cache: dict[str, NDArray[np.float32]]


def _plan(
    documents: Sequence[Document],
    settings: Settings,
    model_id: str,
    lookup: Callable[[list[str]], Mapping[str, NDArray[np.float32]]],
) -> _Plan:
    """Split the documents; ``lookup`` gives the stored vectors of content keys (to reuse)."""
    passages = [split(doc, settings.chunk) for doc in documents]
    inputs = [embed_input(p, settings.embed_title) for ps in passages for p in ps]
    flat_keys = [_key(text, model_id) for text in inputs]
    keys, at = [], 0
    for ps in passages:
        keys.append(flat_keys[at : at + len(ps)])
        at += len(ps)
    cache = lookup(flat_keys) if flat_keys else {}
    found = {k: cache[k] for k in flat_keys if k in cache}
    todo = [i for i, k in enumerate(flat_keys) if k not in found]
    return _Plan(list(documents), passages, keys, inputs, todo, found)


def _embed(plan: _Plan, embedder: Embedder | None, settings: Settings, show_progress: bool,
           dimension: int | None) -> tuple[list[Any], Embedder | None, int]:
    """The NewDocuments of ``plan`` (embedding what is not cached); the embedder used; the dimension."""
    from .storage.base import NewDocument

    fresh: NDArray[np.float32] | None = None
    if plan.todo:
        if embedder is None:
            from .embed import SentenceTransformerEmbedder

            embedder = SentenceTransformerEmbedder(settings.model, settings.device)
        fresh = embedder.encode([plan.inputs[i] for i in plan.todo], batch_size=settings.batch_size,
                                show_progress=show_progress)
        dimension = embedder.dimension
    elif plan.cache:
        dimension = len(next(iter(plan.cache.values())))
    if dimension is None:
        raise ValueError("no vectors and no dimension")
    vectors = np.zeros((len(plan.inputs), dimension), dtype=np.float32)
    flat_keys = [k for ks in plan.keys for k in ks]
    for i, k in enumerate(flat_keys):
        if k in plan.cache:
            vectors[i] = plan.cache[k]
    if fresh is not None:
        vectors[plan.todo] = fresh
    out, at = [], 0
    for doc, ps, ks in zip(plan.documents, plan.passages, plan.keys, strict=True):
        out.append(NewDocument(doc, ps, ks, vectors[at : at + len(ps)]))
        at += len(ps)
    return out, embedder, dimension


def _encoder(index_dir: Path, model_id: str, previous: EmbeddedStore | None, embedder: Embedder | None,
             settings: Settings, inputs: list[str]) -> Encoder:
    """The question encoder for the new generation: reused, exported, or the fallback."""
    from .onnx_export import prepare
    from .storage.writer import Encoder

    def load_model() -> Embedder:
        from .embed import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(model_id, settings.device)

    if not inputs and previous is not None:  # sample probe texts from the index itself
        inputs = [embed_input(p, settings.embed_title) for p in _sample_passages(previous, 32)]
    probes = inputs[:: max(1, len(inputs) // 32)][:32]
    prior = (previous.path, previous.manifest) if previous is not None else None
    prepared = prepare(index_dir, model_id, prior, embedder, load_model, probes)
    return Encoder(prepared.entry, prepared.tokenizer, prepared.tokenizer_file)


def _sample_passages(store: EmbeddedStore, n: int) -> list[Passage]:
    out = []
    for p in store.iter_passages():
        out.append(p)
        if len(out) >= n:
            break
    return out


def _prune_encoders(index_dir: Path) -> None:
    from .onnx_export import prune

    prune(index_dir)


def build(
    corpus_dir: str | Path,
    index_dir: str | Path,
    settings: Settings | None = None,
    *,
    embedder: Embedder | None = None,
    show_progress: bool = False,
    store: str | None = None,
) -> BuildSummary:
    """Build or refresh the index from the corpus: only new and changed files are read, only
    passages not seen before are embedded, removed files are dropped.

    ``store``: ``milvus:PATH.db`` or ``milvus://HOST:PORT`` (default: ``FTZQA_STORE``, else the
    embedded store in ``index_dir``). Holds the writer lock; writes a new generation atomically;
    the old one keeps working if anything fails.
    """
    from .storage.location import resolve

    settings = settings or Settings.from_env()
    location = resolve(index_dir, store)
    with writer_lock(_lock_dir(location)):
        return build_unlocked(Path(corpus_dir), location, settings, embedder, show_progress)


def build_unlocked(
    corpus_dir: Path,
    index_dir: Location,
    settings: Settings,
    embedder: Embedder | None = None,
    show_progress: bool = False,
) -> BuildSummary:
    """``build`` without taking the writer lock: the caller holds it (see ``ingest.add``)."""
    started = time.perf_counter()
    model_id = embedder.model_id if embedder is not None else settings.model
    previous = _previous(index_dir)
    try:
        files = fingerprint(corpus_dir)
        compatible = _compatible(previous, settings, model_id)
        indexed: dict[str, str] = dict(previous.manifest["documents"]) if previous is not None else {}
        unchanged = {d: sha for d, sha in indexed.items() if compatible and files.get(d) == sha}
        report = read_corpus(corpus_dir, skip=unchanged)
        if not report.documents and not unchanged:
            reasons = "; ".join(s.reason for s in report.skipped)
            raise CorpusError(
                f"corpus folder {str(corpus_dir)!r} has no readable documents (.txt, .md, .html, .pdf, .docx)"
                + (f" ({reasons})" if reasons else "")
                + "; add some files and build again"
            )
        gone = [d for d in indexed if d not in unchanged] if compatible else []
        return _write(corpus_dir, index_dir, settings, embedder, show_progress, previous if compatible else None,
                      previous, report, gone, files, started, removed=len(set(indexed) - _current(report, unchanged)))
    finally:
        if previous is not None:
            previous.close()


def _current(report: CorpusReport, unchanged: Mapping[str, str]) -> set[str]:
    return {d.doc_id for d in report.documents} | set(unchanged)


def _write(
    corpus_dir: Path,
    index_dir: Location,
    settings: Settings,
    embedder: Embedder | None,
    show_progress: bool,
    base: AnyStore | None,
    previous: AnyStore | None,
    report: CorpusReport,
    remove: Sequence[str],
    files: dict[str, str],
    started: float,
    removed: int,
) -> BuildSummary:
    """Embed and write ``report``'s documents into a new generation on top of ``base`` (None: a new
    index, reusing vectors of ``previous`` when it was built with the same model)."""
    from .storage.writer import EmbeddedWriter

    model_id = embedder.model_id if embedder is not None else settings.model

    def lookup(keys: list[str]) -> Mapping[str, NDArray[np.float32]]:
        if previous is not None:
            if previous.model != model_id:
                return {}
            if not isinstance(index_dir, Path):
                from .storage.milvus_writer import MilvusWriter

                return MilvusWriter(index_dir, previous, settings).vectors_for(keys)  # type: ignore[arg-type]
            return previous.vectors_for(keys)  # type: ignore[union-attr]
        return _legacy_vectors(index_dir, model_id) if isinstance(index_dir, Path) else {}

    plan = _plan(report.documents, settings, model_id, lookup)
    known_dim = previous.dimension if previous is not None and previous.model == model_id else None
    new_docs, embedder, dimension = _embed(plan, embedder, settings, show_progress, known_dim)
    meta = _meta(settings, model_id, dimension, str(corpus_dir.resolve()), files,
                 [s.reason for s in report.skipped])
    if not isinstance(index_dir, Path):
        from .storage.milvus_writer import MilvusWriter

        MilvusWriter(index_dir, base, settings).update(  # type: ignore[arg-type]
            new_docs, remove, meta, sorted(model_words(resolve_model(model_id))))
        return _summary(index_dir, started, embedded=len(plan.todo), removed=removed,
                        skipped=[s.reason for s in report.skipped])
    encoder = _encoder(index_dir, model_id, previous, embedder, settings, plan.inputs)  # type: ignore[arg-type]
    writer = EmbeddedWriter(index_dir, base, settings)  # type: ignore[arg-type]
    writer.update(new_docs, remove, meta, encoder, sorted(model_words(resolve_model(model_id))))
    _prune_encoders(index_dir)
    return _summary(index_dir, started, embedded=len(plan.todo), removed=removed,
                    skipped=[s.reason for s in report.skipped])


def update(
    corpus_dir: str | Path,
    index_dir: str | Path | Location,
    doc_ids: Collection[str],
    settings: Settings,
    embedder: Embedder | None = None,
    show_progress: bool = False,
    remove: Collection[str] = (),
    store: str | None = None,
) -> BuildSummary:
    """Index the corpus files ``doc_ids`` (new or changed) and drop the documents ``remove``, without
    reading the rest of the corpus. A changed document that cannot be read any more (or now repeats
    another's content) is dropped too. Falls back to a full ``build`` when there is no index this
    one can be added to. Caller holds the writer lock."""
    started = time.perf_counter()
    from .storage.location import resolve

    corpus_dir, location = Path(corpus_dir), resolve(index_dir, store)
    model_id = embedder.model_id if embedder is not None else settings.model
    previous = _previous(location)
    if not _compatible(previous, settings, model_id):
        if previous is not None:
            absent = _not_in_corpus(previous, corpus_dir, set(remove))
            previous.close()
            if absent:
                raise IndexMismatchError(
                    f"index at {str(location)!r} must be rebuilt from its documents (it was built by an older "
                    f"ftzqa or with other settings), but {len(absent)} of the documents it holds are not in "
                    f"corpus folder {str(corpus_dir)!r} (e.g. {absent[0]!r}) and a rebuild would drop them; "
                    f"point --corpus at the folder that holds them, or, to drop them, rebuild: "
                    f"{rebuild_command(str(corpus_dir), location)}"
                )
        return build_unlocked(corpus_dir, location, settings, embedder, show_progress)
    assert previous is not None
    try:
        wanted, dropping = set(doc_ids), set(remove)
        indexed: dict[str, str] = previous.manifest["documents"]
        # documents that stay are not read, but a file repeating one of them is still indexed once
        kept = {d: sha for d, sha in indexed.items() if d not in wanted and d not in dropping}
        report = read_corpus(corpus_dir, only=wanted, skip=kept)
        read = {doc.doc_id for doc in report.documents}
        gone = sorted(d for d in indexed if d in dropping or (d in wanted and d not in read))
        files = {k: v for k, v in previous.manifest["files"].items() if k not in dropping}
        for doc in report.documents:  # files skipped now are not recorded: the next build tries them again
            files[doc.doc_id] = doc.sha256
        for skipped in report.skipped:  # except copies of an indexed document, which are indexed (once)
            if skipped.reason.endswith("; indexed once"):
                files[skipped.path] = sha256_bytes((corpus_dir / skipped.path).read_bytes())
        if not report.documents and not gone and files == previous.manifest["files"]:  # nothing to write
            return BuildSummary(len(indexed), previous.passage_count, 0, previous.passage_count, 0,
                                time.perf_counter() - started, [s.reason for s in report.skipped],
                                len(getattr(previous, "infos", [1])))
        if embedder is None and isinstance(location, Path):  # the ONNX encoder lives in the index folder
            from .storage.embedded import EmbeddedStore

            if isinstance(previous, EmbeddedStore):
                embedder = _small_update_embedder(previous, report.documents, settings)
        return _write(corpus_dir, location, settings, embedder, show_progress, previous, previous, report,
                      gone, files, started, removed=len(gone))
    finally:
        previous.close()


def _not_in_corpus(previous: AnyStore, corpus_dir: Path, dropping: set[str]) -> list[str]:
    """Indexed documents (other than ``dropping``) with no file in ``corpus_dir``, sorted: what a
    rebuild from that folder would lose."""
    return sorted(d for d in previous.manifest["documents"] if d not in dropping and not (corpus_dir / d).is_file())


# new text up to this size is embedded with the index's ONNX encoder rather than by loading torch
# and sentence-transformers (several seconds before the first vector): bench/scale.py, "add one"
SMALL_UPDATE_CHARS = 500_000


def _small_update_embedder(previous: EmbeddedStore, documents: list[Document], settings: Settings) -> Embedder | None:
    """The index's ONNX encoder for a small update on the CPU (it matches sentence-transformers within
    cosine 0.9999, checked when it was exported), else None (sentence-transformers)."""
    if settings.device not in (None, "cpu") or sum(len(d.text) for d in documents) > SMALL_UPDATE_CHARS:
        return None
    from .onnx_embed import OnnxEmbedder, spec_of

    try:
        spec = spec_of(previous.manifest)
        if spec is None or spec.model != previous.model:
            return None
        return OnnxEmbedder.for_index(previous.path.parent, previous.path, spec, threads=os.cpu_count() or 1)
    except Exception as exc:  # noqa: BLE001 - any failure: embed with sentence-transformers as a build does
        log.info("small update without the ONNX encoder (%s: %s)", type(exc).__name__, exc)
        return None


def remove(
    doc_ids: Sequence[str], corpus_dir: str | Path | None, index_dir: str | Path | Location,
    settings: Settings | None = None, *, store: str | None = None,
) -> BuildSummary:
    """Remove documents from the index (tombstones; nothing is rewritten) and, when ``corpus_dir``
    is given, their files from the corpus (after the index no longer holds them)."""
    started = time.perf_counter()
    from .storage.location import resolve

    settings = settings or Settings.from_env()
    location = resolve(index_dir, store)
    with writer_lock(_lock_dir(location)):
        previous = open_location(location, query_encoder=False, for_writing=True, locked=True)
        try:
            from .storage.writer import EmbeddedWriter, Encoder

            present = previous.manifest["documents"]
            missing = [d for d in doc_ids if d not in present]
            if missing:
                example = min(present, default="notes.md")
                raise CorpusError(
                    f"no document {missing[0]!r} in the index at {str(location)!r}; documents are named by their "
                    f"path in the corpus folder, e.g. {example!r}"
                )
            meta = _kept_meta(previous.manifest)
            meta["files"] = {k: v for k, v in meta["files"].items() if k not in set(doc_ids)}
            if not isinstance(location, Path):
                from .storage.milvus_writer import MilvusWriter

                MilvusWriter(location, previous, _writer_settings(settings, previous)).update(  # type: ignore[arg-type]
                    [], list(dict.fromkeys(doc_ids)), meta)
                return _finish_remove(doc_ids, corpus_dir, location, started)
            from .storage.embedded import EmbeddedStore

            assert isinstance(previous, EmbeddedStore)
            encoder = Encoder(previous.manifest["query_encoder"], _tokenizer_text(previous.path, previous.manifest))
            writer = EmbeddedWriter(location, previous, _writer_settings(settings, previous))
            writer.update([], list(dict.fromkeys(doc_ids)), meta, encoder)
        finally:
            previous.close()
        return _finish_remove(doc_ids, corpus_dir, location, started)


def _finish_remove(doc_ids: Sequence[str], corpus_dir: str | Path | None, location: Location,
                   started: float) -> BuildSummary:
    if corpus_dir is not None:
        for doc_id in doc_ids:
            target = Path(corpus_dir) / doc_id
            if target.is_file() and not target.is_symlink():
                target.unlink()
    return _summary(location, started)


def compact(index_dir: str | Path | Location, settings: Settings | None = None, *,
            store: str | None = None) -> BuildSummary:
    """Fold all segments into one and drop removed passages for good (rebuilds the HNSW graph of
    a large index: minutes at a million passages). A Milvus store compacts itself: nothing to do."""
    from .storage.location import resolve

    started = time.perf_counter()
    settings = settings or Settings.from_env()
    location = resolve(index_dir, store)
    if not isinstance(location, Path):
        return _summary(location, started)
    index_dir = location
    with writer_lock(index_dir):
        from .storage.embedded import EmbeddedStore

        previous = open_location(index_dir, query_encoder=False, for_writing=True)
        assert isinstance(previous, EmbeddedStore)
        try:
            from .storage.writer import EmbeddedWriter, Encoder

            tokenizer = _tokenizer_text(previous.path, previous.manifest)
            writer = EmbeddedWriter(index_dir, previous, _writer_settings(settings, previous))
            writer.compact(_kept_meta(previous.manifest), Encoder(previous.manifest["query_encoder"], tokenizer))
        finally:
            previous.close()
        return _summary(index_dir, started)


def _writer_settings(settings: Settings, store: AnyStore) -> Settings:
    """The settings the index was built with (chunker, BM25, embedding), with today's ANN threshold."""
    from dataclasses import replace

    m = store.manifest
    return replace(settings, model=store.model, embed_title=bool(m["embedding"]["with_title"]),
                   chunk=ChunkSettings(**m["chunker"]), bm25=BM25Settings(**m["bm25"]))


def _kept_meta(manifest: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("model", "embedding", "chunker", "bm25", "corpus", "files", "skipped")
    kept = {"format_version": FORMAT_VERSION, **{k: manifest[k] for k in keys}}
    if "lexicon" in manifest:  # an index counted before it was recorded keeps not saying so
        kept["lexicon"] = manifest["lexicon"]
    return kept


def _tokenizer_text(gen: Path, manifest: Mapping[str, Any]) -> str | None:
    from .onnx_embed import TOKENIZER, spec_of

    try:
        if spec_of(dict(manifest)) is None:
            return None
        return (gen / TOKENIZER).read_text(encoding="utf-8")
    except Exception:  # noqa: BLE001 - a damaged encoder stays damaged; load names the fix
        return None


def _summary(index_dir: Location, started: float, embedded: int = 0, removed: int = 0,
             skipped: list[str] | None = None) -> BuildSummary:
    store = open_location(index_dir, query_encoder=False, for_writing=True)
    try:
        return BuildSummary(len(store.manifest["documents"]), store.passage_count, embedded,
                            store.passage_count - embedded, removed, time.perf_counter() - started,
                            skipped=list(skipped or []), segments=len(getattr(store, "infos", [1])))
    finally:
        store.close()
