"""Check uploaded files before they go into the corpus (saving and safe names: ``ftzqa.ingest``).

A file that would only be skipped by the index build (wrong type, not UTF-8, empty, too big,
unreadable, a decompression bomb) is rejected here with the reason, so it never lands in the
corpus folder; the other files of the same batch are still accepted. PDF, DOCX and HTML are
parsed in one worker process per batch (``ftzqa.sandbox``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..corpus import SUPPORTED_SUFFIXES, parse_document, too_big
from ..errors import CorpusError
from ..formats import one_line
from ..ingest import safe_name
from ..sandbox import Extractor

UPLOAD_SUFFIXES = SUPPORTED_SUFFIXES


def check_upload(name: str, data: bytes, extractor: Extractor | None = None) -> str | None:
    """Why the file ``name`` with content ``data`` cannot be added, or None when it can."""
    clean = safe_name(name)
    if Path(clean).suffix.lower() not in UPLOAD_SUFFIXES:
        return f"{name}: unsupported file type; upload one of {', '.join(UPLOAD_SUFFIXES)}"
    if extractor is None:
        with Extractor() as own:
            return check_upload(name, data, own)
    reason = too_big(name, len(data), extractor.limits.max_file_bytes)
    if reason:
        return reason
    try:
        parse_document(clean, data, extractor)  # the index build's own checks: readable, not empty
    except CorpusError as exc:
        return one_line(str(exc), 1000)
    except Exception as exc:  # whatever else goes wrong with one file, the batch goes on
        return f"{name}: cannot be read ({type(exc).__name__}: {one_line(str(exc))}); check the file"
    return None


@dataclass(slots=True)
class Uploads:
    accepted: list[tuple[str, bytes]] = field(default_factory=list)  # (original name, content)
    rejected: list[str] = field(default_factory=list)  # one message per file


def read_uploads(paths: Sequence[str | Path], extractor: Extractor | None = None) -> Uploads:
    """Read uploaded temporary files (their names are the names the user chose) and check them."""
    if extractor is None:
        with Extractor() as own:
            return read_uploads(paths, own)
    out = Uploads()
    for raw in paths:
        path = Path(raw)
        try:
            reason = too_big(path.name, path.stat().st_size, extractor.limits.max_file_bytes)
            data = b"" if reason else path.read_bytes()  # never read a file that is too big
        except OSError as exc:
            out.rejected.append(f"{path.name}: cannot be read ({exc.strerror})")
            continue
        reason = reason or check_upload(path.name, data, extractor)
        if reason:
            out.rejected.append(reason)
        else:
            out.accepted.append((path.name, data))
    return out
