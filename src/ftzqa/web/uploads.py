"""Check uploaded files before they go into the corpus (saving and safe names: ``ftzqa.ingest``).

A file that would only be skipped by the index build (wrong type, not UTF-8, empty, too big) is
rejected here with the reason, so it never lands in the corpus folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..corpus import SUPPORTED_SUFFIXES, max_file_bytes, parse_document
from ..errors import CorpusError
from ..ingest import safe_name

UPLOAD_SUFFIXES = SUPPORTED_SUFFIXES


def check_upload(name: str, data: bytes) -> str | None:
    """Why the file ``name`` with content ``data`` cannot be added, or None when it can."""
    clean = safe_name(name)
    if Path(clean).suffix.lower() not in UPLOAD_SUFFIXES:
        return f"{name}: unsupported file type; upload one of {', '.join(UPLOAD_SUFFIXES)}"
    limit = max_file_bytes()
    if len(data) > limit:
        return f"{name}: {len(data) / 2**20:.1f} MB is more than the {limit / 2**20:.0f} MB allowed (FTZQA_MAX_FILE_MB)"
    try:
        parse_document(clean, data)  # the index build's own checks: readable, not empty
    except CorpusError as exc:
        return str(exc)
    return None


@dataclass(slots=True)
class Uploads:
    accepted: list[tuple[str, bytes]] = field(default_factory=list)  # (original name, content)
    rejected: list[str] = field(default_factory=list)  # one message per file


def read_uploads(paths: Sequence[str | Path]) -> Uploads:
    """Read uploaded temporary files (their names are the names the user chose) and check them."""
    out = Uploads()
    for raw in paths:
        path = Path(raw)
        try:
            data = path.read_bytes()
        except OSError as exc:
            out.rejected.append(f"{path.name}: cannot be read ({exc.strerror})")
            continue
        reason = check_upload(path.name, data)
        if reason:
            out.rejected.append(reason)
        else:
            out.accepted.append((path.name, data))
    return out
