"""Add files to the corpus (safe names, duplicates by content) and refresh the index."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .corpus import SUPPORTED_SUFFIXES, list_files, sha256_bytes
from .embed import Embedder
from .errors import CorpusError
from .index import BuildSummary, build_unlocked
from .settings import Settings
from .store import atomic_write, writer_lock

MAX_NAME = 120


@dataclass(frozen=True, slots=True)
class AddReport:
    added: list[str] = field(default_factory=list)  # doc_ids written into the corpus
    duplicates: list[str] = field(default_factory=list)  # messages for files already present
    summary: BuildSummary | None = None

    def line(self) -> str:
        parts = [f"added {len(self.added)} file(s)"]
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} already in the corpus")
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


def copy_into_corpus(sources: list[tuple[str, bytes]], corpus_dir: str | Path) -> tuple[list[str], list[str]]:
    """Write (name, bytes) pairs into the corpus; returns (new doc_ids, duplicate messages).

    Caller holds the writer lock. Each file is written to a hidden temporary name and renamed.
    """
    corpus = Path(corpus_dir)
    if not corpus.is_dir():
        raise CorpusError(
            f"corpus folder {str(corpus)!r} does not exist; create it or pass --corpus with the right folder"
        )
    existing = {sha256_bytes(p.read_bytes()): p.relative_to(corpus).as_posix() for p in list_files(corpus)}
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
) -> AddReport:
    """Copy ``paths`` into the corpus and update the index (only new passages are embedded)."""
    sources = []
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise CorpusError(f"{str(path)!r} is not a file; check the path")
        sources.append((path.name, path.read_bytes()))
    return add_bytes(sources, corpus_dir, index_dir, settings, embedder=embedder, show_progress=show_progress)


def add_bytes(
    sources: list[tuple[str, bytes]],
    corpus_dir: str | Path = "corpus",
    index_dir: str | Path = "index",
    settings: Settings | None = None,
    *,
    embedder: Embedder | None = None,
    show_progress: bool = False,
) -> AddReport:
    """Like ``add`` for in-memory files (uploads): (file name, content) pairs."""
    settings = settings or Settings.from_env()
    with writer_lock(Path(index_dir)):
        added, duplicates = copy_into_corpus(sources, corpus_dir)
        try:
            summary = build_unlocked(
                Path(corpus_dir), Path(index_dir), settings, embedder, show_progress=show_progress
            )
        except Exception:
            for doc_id in added:  # leave the corpus as it was: the index did not take the files
                (Path(corpus_dir) / doc_id).unlink(missing_ok=True)
            raise
    return AddReport(added, duplicates, summary)
