"""Add files to the corpus (safe names, duplicates by content) and refresh the index."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .corpus import SUPPORTED_SUFFIXES, list_files, parse_document, sha256_bytes, too_big
from .embed import Embedder
from .errors import CorpusError, FtzqaError
from .formats import one_line
from .index import BuildSummary, read_manifest, update
from .limits import Limits
from .settings import Settings
from .store import atomic_write, writer_lock

if TYPE_CHECKING:
    from .storage.location import Location

MAX_NAME = 120


@dataclass(frozen=True, slots=True)
class AddReport:
    added: list[str] = field(default_factory=list)  # doc_ids written into the corpus
    duplicates: list[str] = field(default_factory=list)  # messages for files already present
    summary: BuildSummary | None = None
    rejected: list[str] = field(default_factory=list)  # one reason per file that could not be added

    def line(self) -> str:
        parts = [f"added {len(self.added)} file(s)"]
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} already in the corpus")
        if self.rejected:
            parts.append(f"{len(self.rejected)} not added (unreadable)")
        if self.summary:
            parts.append(self.summary.line())
        return "; ".join(parts)


def safe_name(name: str) -> str:
    """A file name that stays inside the corpus: no folders, no leading dots, tame characters."""
    base = unicodedata.normalize("NFC", name.replace("\\", "/").split("/")[-1])
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = stem.lstrip(".-") or "document"
    stem = stem[: MAX_NAME - len(suffix) - 1]
    return f"{stem}.{suffix.lower()}" if suffix else stem


def _free_name(folder: Path, name: str) -> Path:
    target = folder / name
    stem, suffix = target.stem, target.suffix
    n = 2
    while target.exists():
        target = folder / f"{stem}-{n}{suffix}"
        n += 1
    return target


def copy_into_corpus(
    sources: list[tuple[str, bytes]], corpus_dir: str | Path, known: dict[str, str] | None = None
) -> tuple[list[str], list[str]]:
    """Write (name, bytes) pairs into the corpus; returns (new doc_ids, duplicate messages).

    ``known``: doc_id -> sha256 of files the index already fingerprinted (not read again; a big
    corpus is not hashed for every added file). Caller holds the writer lock. Each file is
    written to a hidden temporary name and renamed.
    """
    corpus = Path(corpus_dir)
    if not corpus.is_dir():
        raise CorpusError(
            f"corpus folder {str(corpus)!r} does not exist; create it or pass --corpus with the right folder"
        )
    known = known or {}
    existing: dict[str, str] = {}
    for p in list_files(corpus):
        doc_id = p.relative_to(corpus).as_posix()
        existing.setdefault(known[doc_id] if doc_id in known else sha256_bytes(p.read_bytes()), doc_id)
    added: list[str] = []
    duplicates: list[str] = []
    for name, data in sources:
        clean = safe_name(name)
        if Path(clean).suffix.lower() not in SUPPORTED_SUFFIXES:
            raise CorpusError(
                f"{name}: unsupported file type {Path(clean).suffix or '(none)'!r}; "
                f"supported: {', '.join(SUPPORTED_SUFFIXES)}"
            )
        digest = sha256_bytes(data)
        if digest in existing:
            duplicates.append(f"{name}: same content as {existing[digest]}; not added again")
            continue
        target = _free_name(corpus, clean)
        atomic_write(target, data, f"save {target.name} into the corpus folder {corpus}")
        existing[digest] = target.name
        added.append(target.name)
    return added, duplicates


def add(
    paths: list[str | Path],
    corpus_dir: str | Path = "corpus",
    index_dir: str | Path = "index",
    settings: Settings | None = None,
    *,
    embedder: Embedder | None = None,
    show_progress: bool = False,
    store: str | None = None,
) -> AddReport:
    """Copy ``paths`` into the corpus and update the index (only new passages are embedded).

    A file that cannot be indexed is not copied: it is listed in ``rejected`` with the reason.
    """
    sources = []
    rejected = []
    limit = Limits.from_env().max_file_bytes
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise CorpusError(f"{str(path)!r} is not a file; check the path")
        reason = too_big(path.name, path.stat().st_size, limit)
        if reason:
            rejected.append(reason)
            continue
        sources.append((path.name, path.read_bytes()))
    report = add_bytes(sources, corpus_dir, index_dir, settings, embedder=embedder, show_progress=show_progress,
                       store=store)
    return replace(report, rejected=rejected + report.rejected)


def check_sources(sources: list[tuple[str, bytes]]) -> tuple[list[tuple[str, bytes]], list[str]]:
    """Split (name, bytes) pairs into those the index can read and one-line reasons for the rest.

    PDF, DOCX and HTML are parsed in one worker process (``ftzqa.sandbox``).
    """
    from .sandbox import Extractor

    good: list[tuple[str, bytes]] = []
    bad: list[str] = []
    with Extractor() as extractor:
        for name, data in sources:
            clean = safe_name(name)
            reason = too_big(name, len(data), extractor.limits.max_file_bytes)
            if reason is None and Path(clean).suffix.lower() in SUPPORTED_SUFFIXES:
                try:
                    parse_document(clean, data, extractor)
                except CorpusError as exc:
                    reason = one_line(str(exc), 1000).replace(clean, name, 1)
                except Exception as exc:  # one odd file must not stop the others
                    reason = f"{name}: cannot be read ({type(exc).__name__}: {one_line(str(exc))}); check the file"
            if reason:
                bad.append(reason)
            else:
                good.append((name, data))
    return good, bad


def add_bytes(
    sources: list[tuple[str, bytes]],
    corpus_dir: str | Path = "corpus",
    index_dir: str | Path = "index",
    settings: Settings | None = None,
    *,
    embedder: Embedder | None = None,
    show_progress: bool = False,
    store: str | None = None,
) -> AddReport:
    """Like ``add`` for in-memory files (uploads): (file name, content) pairs.

    Every file is read first; one that cannot be indexed is not written into the corpus and is
    listed in ``rejected`` with the reason. When no file is left, the index is not touched.
    """
    settings = settings or Settings.from_env()
    sources, rejected = check_sources(sources)
    if not sources:
        return AddReport(rejected=rejected)
    from .index import _lock_dir
    from .storage.location import pinned, resolve

    location = resolve(index_dir, store)
    with writer_lock(_lock_dir(location)):
        added, duplicates = copy_into_corpus(sources, corpus_dir, _fingerprints(location, Path(corpus_dir)))
        try:
            # only the new files are read, chunked and embedded; the rest of the corpus is not touched
            summary = update(corpus_dir, location, added, settings, embedder, show_progress=show_progress,
                             store=pinned(location))
            late = [r for r in summary.skipped if r.split(": ", 1)[0] in added]
            for reason in late:  # readable a moment ago, skipped by the build (e.g. a time limit): take it out
                doc_id = reason.split(": ", 1)[0]
                (Path(corpus_dir) / doc_id).unlink(missing_ok=True)
                added.remove(doc_id)
            rejected += late
            if late:  # reported once, as rejected (the index never held them)
                summary = replace(summary, skipped=[r for r in summary.skipped if r not in late])
        except Exception:
            for doc_id in added:  # leave the corpus as it was: the index did not take the files
                (Path(corpus_dir) / doc_id).unlink(missing_ok=True)
            raise
    return AddReport(added, duplicates, summary, rejected)


def _fingerprints(index_dir: Location, corpus_dir: Path) -> dict[str, str]:
    """The indexed files' sha256 by doc_id, when the index is of this corpus folder (else empty)."""
    try:
        if isinstance(index_dir, Path):
            manifest = read_manifest(index_dir)[1]
        else:
            from .index import open_location

            manifest = open_location(index_dir, query_encoder=False, for_writing=True).manifest
        if Path(str(manifest.get("corpus", ""))) != corpus_dir.resolve():
            return {}
        files = manifest.get("files", {})
        return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}
    except FtzqaError:
        return {}
