"""Read a corpus folder into Documents (.txt and .md, optional front matter)."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .chunking import first_heading, label
from .errors import CorpusError
from .formats import SUFFIXES, TEXT_SUFFIXES, one_line
from .limits import Limits
from .types import Document

if TYPE_CHECKING:
    from .sandbox import Extractor

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = SUFFIXES
MAX_FIELD_CHARS = 1000  # source, author, date from front matter or file metadata
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class CorpusReport:
    documents: list[Document]
    skipped: list[Skipped] = field(default_factory=list)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_front_matter(raw: str) -> tuple[dict[str, str], str]:
    """Split ``key: value`` front matter from the body. Returns (fields, body)."""
    m = _FRONT_MATTER.match(raw)
    if not m:
        return {}, raw
    fields: dict[str, str] = {}
    for line in m.group(1).splitlines():
        key, sep, value = line.partition(":")
        if not sep or not key.strip() or key.startswith((" ", "\t", "#")):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        fields[key.strip().lower()] = value
    return fields, raw[m.end() :]


def parse_document(doc_id: str, data: bytes, extractor: Extractor | None = None) -> Document:
    """Turn one file's bytes into a Document; ``doc_id`` is its path relative to the corpus.

    PDF, DOCX and HTML are parsed in the ``extractor``'s worker process (a new one when None).
    """
    if extractor is None:
        from .sandbox import Extractor

        with Extractor() as own:
            return parse_document(doc_id, data, own)
    extracted = extractor.extract(data, doc_id)
    fields, body = dict(extracted.fields), extracted.text
    if doc_id.lower().endswith(TEXT_SUFFIXES):
        front, body = parse_front_matter(body)
        fields.update(front)
    if not body.strip():
        raise CorpusError(f"{doc_id}: has no text to index; add text or remove the file")
    title = label(fields.get("title", ""))
    if not title:
        title = first_heading(body) or Path(doc_id).stem.replace("_", " ").replace("-", " ")
    return Document(
        doc_id=doc_id,
        title=label(title),
        text=body,
        sha256=sha256_bytes(data),
        source=label(fields.get("source", ""), MAX_FIELD_CHARS),
        author=label(fields.get("author", ""), MAX_FIELD_CHARS),
        date=label(fields.get("date", ""), MAX_FIELD_CHARS),
    )


def max_file_bytes() -> int:
    """Largest file read, from ``FTZQA_MAX_FILE_MB`` (default 50 MB)."""
    return Limits.from_env().max_file_bytes


def too_big(name: str, size: int, limit: int) -> str | None:
    """Why a file of ``size`` bytes is refused, or None when it is within ``limit``."""
    if size <= limit:
        return None
    return f"{name}: is {size / 2**20:.1f} MB, over the {limit / 2**20:g} MB limit; split it or raise FTZQA_MAX_FILE_MB"


def list_files(corpus_dir: str | Path) -> list[Path]:
    """Supported files under the corpus folder, sorted, hidden files skipped."""
    root = Path(corpus_dir)
    if not root.is_dir():
        raise CorpusError(
            f"corpus folder {str(root)!r} does not exist; create it and put .txt or .md files in it, "
            "or pass --corpus with the right folder"
        )
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES:
            files.append(path)
    return files


def listed(corpus_dir: str | Path, doc_id: str) -> Path | None:
    """The file ``doc_id`` when ``list_files`` would list it (without listing the whole folder), else None."""
    root = Path(corpus_dir)
    parts = Path(doc_id).parts
    if not parts or Path(doc_id).is_absolute() or any(part.startswith(".") for part in parts):
        return None
    path = root.joinpath(*parts)
    folders = [root.joinpath(*parts[:i]) for i in range(1, len(parts))]
    if any(f.is_symlink() for f in folders) or path.suffix.lower() not in SUPPORTED_SUFFIXES or not path.is_file():
        return None
    return path


def doc_id_for(path: Path, corpus_dir: str | Path) -> str:
    return path.relative_to(Path(corpus_dir)).as_posix()


def fingerprint(corpus_dir: str | Path) -> dict[str, str]:
    """sha256 of every supported file, keyed by doc_id (cheap: no parsing)."""
    return {doc_id_for(p, corpus_dir): sha256_bytes(p.read_bytes()) for p in list_files(corpus_dir)}


def read_corpus(
    corpus_dir: str | Path,
    extractor: Extractor | None = None,
    *,
    skip: Mapping[str, str] | None = None,
    only: Collection[str] | None = None,
) -> CorpusReport:
    """Read every supported file; a file that cannot be used, for any reason, is reported and
    skipped with a one-line reason, never fatal. PDF, DOCX and HTML files are parsed in one
    worker process (the ``extractor``'s, or a new one for this call).

    ``skip``: doc_id -> sha256 of documents already indexed and unchanged: not read again, but a
    file with the same content is still "indexed once". ``only``: read just these doc_ids.
    """
    if extractor is None:
        from .sandbox import Extractor

        with Extractor() as own:
            return read_corpus(corpus_dir, own, skip=skip, only=only)
    documents: list[Document] = []
    skipped: list[Skipped] = []
    skip = skip or {}
    seen: dict[str, str] = {sha: doc_id for doc_id, sha in sorted(skip.items(), reverse=True)}
    limit = extractor.limits.max_file_bytes
    if only is not None:  # a few files of a big corpus: do not list the whole folder
        if not Path(corpus_dir).is_dir():
            list_files(corpus_dir)  # raises the usual error
        paths = [p for p in (listed(corpus_dir, d) for d in sorted(only)) if p is not None]
    else:
        paths = list_files(corpus_dir)
    for path in paths:
        doc_id = doc_id_for(path, corpus_dir)
        if doc_id in skip or (only is not None and doc_id not in only):
            continue
        try:
            reason = too_big(doc_id, path.stat().st_size, limit)
            if reason:
                raise CorpusError(reason)
            data = path.read_bytes()
            doc = parse_document(doc_id, data, extractor)
        except CorpusError as exc:  # before OSError: CorpusError is a FileNotFoundError too
            skipped.append(Skipped(doc_id, one_line(str(exc), 1000)))
            continue
        except OSError as exc:
            skipped.append(
                Skipped(doc_id, f"{doc_id}: cannot be read ({exc.strerror}); check its permissions")
            )
            continue
        except Exception as exc:  # a bug or an odd file must not stop the build: skip it, log the details
            log.debug("unexpected error reading %s", doc_id, exc_info=True)
            why = f"{type(exc).__name__}: {one_line(str(exc))}"
            skipped.append(Skipped(doc_id, f"{doc_id}: cannot be read ({why}); check the file"))
            continue
        if doc.sha256 in seen:
            skipped.append(Skipped(doc_id, f"{doc_id}: same content as {seen[doc.sha256]}; indexed once"))
            continue
        seen[doc.sha256] = doc_id
        documents.append(doc)
    for s in skipped:
        log.warning("skipped %s", s.reason)
    return CorpusReport(documents, skipped)
