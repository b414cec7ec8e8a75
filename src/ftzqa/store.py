"""Atomic on-disk generations: ``index/CURRENT`` names the live folder ``index/gen-*``.

A build writes a new generation into a temporary folder, renames it into place and then
replaces ``CURRENT`` with ``os.replace`` (atomic), so a reader sees the old index or the new
one, never half of one, and a build killed at any moment leaves the old index working.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

POINTER = "CURRENT"
LOCK = ".lock"


def current_generation(index_dir: Path) -> Path | None:
    """The live generation folder, or None when there is no index."""
    try:
        name = (index_dir / POINTER).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    return index_dir / name


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # not supported on this platform
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def new_generation(index_dir: Path) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it becomes the live generation."""
    index_dir.mkdir(parents=True, exist_ok=True)
    tmp = index_dir / f".tmp-{uuid.uuid4().hex[:12]}"
    tmp.mkdir()
    try:
        yield tmp
        _fsync_tree(tmp)
        name = f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**9:09d}"
        final = index_dir / name
        os.rename(tmp, final)
        pointer_tmp = index_dir / f".{POINTER}.{uuid.uuid4().hex[:8]}"
        pointer_tmp.write_text(name + "\n", encoding="utf-8")
        with open(pointer_tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(pointer_tmp, index_dir / POINTER)
        _fsync_dir(index_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _prune(index_dir, keep={name})


def _prune(index_dir: Path, keep: set[str]) -> None:
    """Remove leftovers: temporary folders and all but the newest older generation.

    The previous generation is kept so that a reader that has just read the old pointer can
    still open it.
    """
    gens = sorted((p for p in index_dir.glob("gen-*") if p.is_dir() and p.name not in keep), reverse=True)
    for old in gens[1:]:
        shutil.rmtree(old, ignore_errors=True)
    for tmp in index_dir.glob(".tmp-*"):
        if time.time() - tmp.stat().st_mtime > 3600:  # abandoned by a killed build
            shutil.rmtree(tmp, ignore_errors=True)
    for ptr in index_dir.glob(f".{POINTER}.*"):
        ptr.unlink(missing_ok=True)


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@contextmanager
def writer_lock(index_dir: Path, timeout: float = 600.0) -> Iterator[None]:
    """Serialise writers (build/add) on one index folder across processes."""
    from filelock import FileLock

    index_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(index_dir / LOCK), timeout=timeout):
        yield
