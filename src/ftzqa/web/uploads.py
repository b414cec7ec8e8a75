"""Save uploaded files into the corpus folder: safe names only, nothing outside it, no duplicates."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..corpus import SUPPORTED_SUFFIXES, fingerprint, parse_document, sha256_bytes
from ..errors import CorpusError

MAX_BYTES = 5 * 1024 * 1024
UPLOAD_SUFFIXES = (".txt", ".md")
_UNSAFE = re.compile(r"[^\w.-]+")
_MAX_STEM = 80


def safe_name(filename: str) -> str:
    """A plain file name from a user-supplied one: no folders, no leading dot, only word characters,
    dots and dashes, at most ~90 characters; the suffix is kept (lower-cased)."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFKC", filename))[-1]
    base = "".join(ch for ch in base if ch.isprintable())
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = _UNSAFE.sub("-", stem).strip(".-_ ")[:_MAX_STEM].strip(".-_ ") or "document"
    suffix = _UNSAFE.sub("", suffix).lower()[:10]
    return f"{stem}.{suffix}" if suffix else stem


def _free_path(folder: Path, name: str) -> Path:
    stem, suffix = Path(name).stem, Path(name).suffix
    path, n = folder / name, 2
    while path.exists():
        path, n = folder / f"{stem}-{n}{suffix}", n + 1
    return path


@dataclass(slots=True)
class SaveReport:
    saved: list[str] = field(default_factory=list)  # doc_ids written into the corpus
    duplicates: list[str] = field(default_factory=list)  # messages
    rejected: list[str] = field(default_factory=list)  # messages

    def line(self) -> str:
        parts = []
        if self.saved:
            parts.append(f"added {len(self.saved)} file(s): {', '.join(self.saved)}")
        parts.extend(self.duplicates)
        parts.extend(self.rejected)
        return "; ".join(parts) or "no files to add"


def save_uploads(paths: Sequence[str | Path], corpus_dir: str | Path) -> SaveReport:
    """Copy ``paths`` into ``corpus_dir`` under safe, unused names.

    A file whose bytes are already in the corpus is not copied; a file that is not a readable
    .txt/.md text document is rejected with the reason.
    """
    folder = Path(corpus_dir)
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    known = {sha: doc_id for doc_id, sha in fingerprint(folder).items()}
    report = SaveReport()
    for source in paths:
        shown = Path(source).name
        name = safe_name(shown)
        if Path(name).suffix not in UPLOAD_SUFFIXES:
            report.rejected.append(f"{shown}: not a .txt or .md file; convert it to text first")
            continue
        try:
            data = Path(source).read_bytes()
            if len(data) > MAX_BYTES:
                raise CorpusError(f"{shown}: is {len(data) / 1e6:.1f} MB, more than {MAX_BYTES / 1e6:.0f} MB")
            parse_document(name, data)  # same checks as the index build: UTF-8, not empty
        except OSError as exc:
            report.rejected.append(f"{shown}: cannot be read ({exc.strerror})")
            continue
        except CorpusError as exc:
            report.rejected.append(str(exc))
            continue
        sha = sha256_bytes(data)
        if sha in known:
            report.duplicates.append(f"{shown}: same content as {known[sha]}, not added again")
            continue
        target = _free_path(folder, name)
        if target.resolve().parent != root or target.suffix not in SUPPORTED_SUFFIXES:
            report.rejected.append(f"{shown}: cannot be saved under a safe name")
            continue
        with open(target, "xb") as fh:  # never overwrite
            fh.write(data)
        known[sha] = target.name
        report.saved.append(target.name)
    return report
