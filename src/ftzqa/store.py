"""Atomic on-disk generations: ``index/CURRENT`` names the live folder ``index/gen-*``.

A build writes a new generation into a temporary folder, renames it into place and then
replaces ``CURRENT`` with ``os.replace`` (atomic), so a reader sees the old index or the new
one, never half of one, and a build killed at any moment leaves the old index working.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import stat
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import FtzqaError, IndexDamagedError, StorageError

POINTER = "CURRENT"
LOCK = ".lock"
MAX_POINTER_BYTES = 256  # "gen-YYYYmmdd-HHMMSS-nnnnnnnnn\n" is 30
_GENERATION = re.compile(r"gen-[A-Za-z0-9_-]{1,100}")  # bounded, no nested quantifiers; fullmatch only


def _rebuild(index_dir: Path) -> str:
    return f"ftzqa build --index {index_dir}"


def current_generation(index_dir: Path) -> Path | None:
    """The live generation folder, or None when there is no index.

    Raises IndexDamagedError when ``CURRENT`` is there but is not a small UTF-8 file naming a
    real ``gen-*`` folder inside ``index_dir`` (a symbolic link is never followed out of it).
    """
    pointer = index_dir / POINTER
    try:
        info = os.lstat(pointer)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISLNK(info.st_mode):
        raise IndexDamagedError(
            f"{pointer} is a symbolic link; ftzqa writes it as a plain file and never follows links "
            f"out of the index folder; remove it (rm {pointer}) and rebuild: {_rebuild(index_dir)}"
        )
    if not stat.S_ISREG(info.st_mode):
        raise IndexDamagedError(
            f"{pointer} is not a file (a {_kind(info.st_mode)}); it should name the live generation; "
            f"remove it (rm -r {pointer}) and rebuild: {_rebuild(index_dir)}"
        )
    try:
        with open(pointer, "rb") as fh:
            raw = fh.read(MAX_POINTER_BYTES + 1)
        name = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise IndexDamagedError(
            f"{pointer} is not UTF-8 text naming a generation folder; rebuild: {_rebuild(index_dir)}"
        ) from None
    except OSError as exc:
        raise IndexDamagedError(f"{pointer} cannot be read ({exc.strerror}); rebuild: {_rebuild(index_dir)}") from None
    if not name:
        return None
    if len(raw) > MAX_POINTER_BYTES or not _GENERATION.fullmatch(name):
        shown = name[:60] + ("…" if len(name) > 60 else "")
        raise IndexDamagedError(
            f"{pointer} names {shown!r}, which is not a generation folder (gen-…); rebuild: {_rebuild(index_dir)}"
        )
    gen = index_dir / name
    try:
        info = os.lstat(gen)
    except FileNotFoundError:
        raise IndexDamagedError(
            f"{pointer} names {name}, which does not exist in {index_dir}; rebuild: {_rebuild(index_dir)}"
        ) from None
    if stat.S_ISLNK(info.st_mode):
        raise IndexDamagedError(
            f"{gen} is a symbolic link; ftzqa only reads generation folders inside {index_dir}; "
            f"remove the link (rm {gen}) and rebuild: {_rebuild(index_dir)}"
        )
    if not stat.S_ISDIR(info.st_mode):
        raise IndexDamagedError(f"{gen} is not a folder; rebuild: {_rebuild(index_dir)}")
    return gen


def _check_replaceable(pointer: Path) -> None:
    """A build replaces ``CURRENT`` (a file, or a link, is replaced itself); anything else is in the way."""
    try:
        mode = os.lstat(pointer).st_mode
    except FileNotFoundError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise IndexDamagedError(
            f"{pointer} is not a file (a {_kind(mode)}), so a build cannot replace it; remove it "
            f"(rm -r {pointer}) and run the command again"
        )


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISFIFO(mode):
        return "named pipe"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "special file"


def storage_error(exc: OSError, doing: str, hint: str = "") -> StorageError:
    """A one-line StorageError for an OSError raised while ``doing`` something."""
    cause = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        remedy = "free some disk space"
    elif exc.errno == errno.EFBIG:
        remedy = "raise the file size limit (ulimit -f) or free some disk space"
    elif exc.errno == errno.EROFS:
        remedy = "use a writable disk"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        remedy = "check the folder's owner and permissions"
    else:
        remedy = "check the disk"
    error = StorageError(f"cannot {doing}: {cause}; {remedy} and try again{hint}")
    error.errno, error.strerror = exc.errno, exc.strerror
    return error


def atomic_write(path: Path, data: bytes, doing: str) -> None:
    """Write ``data`` to ``path`` through a hidden temporary file in the same folder and rename it
    into place; the temporary file is removed whatever happens."""
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex[:12]}{path.suffix}")
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise storage_error(exc, doing) from exc
    finally:
        tmp.unlink(missing_ok=True)


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
    """Yield an empty temporary folder; on success it becomes the live generation.

    On any failure the temporary folder (and a half-made generation) is removed and the old
    index stays live; a write error (disk full, ...) becomes a one-line StorageError.
    """
    hint = f" ({_rebuild(index_dir)} refreshes the index)"
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, f"create the index folder {index_dir}", hint) from exc
    _check_replaceable(index_dir / POINTER)  # before doing any work
    tmp = index_dir / f".tmp-{uuid.uuid4().hex[:12]}"
    final: Path | None = None
    pointer_tmp = index_dir / f".{POINTER}.{uuid.uuid4().hex[:8]}"
    live = False
    try:
        tmp.mkdir()
        yield tmp
        _fsync_tree(tmp)
        name = f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**9:09d}"
        final = index_dir / name
        os.rename(tmp, final)
        with open(pointer_tmp, "x", encoding="utf-8") as fh:
            fh.write(name + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(pointer_tmp, index_dir / POINTER)
        live = True
        _fsync_dir(index_dir)
    except StorageError:
        raise
    except OSError as exc:
        raise storage_error(exc, f"write the index in {index_dir}", hint) from exc
    finally:
        if not live:
            shutil.rmtree(tmp, ignore_errors=True)
            if final is not None:
                shutil.rmtree(final, ignore_errors=True)
            pointer_tmp.unlink(missing_ok=True)
    _prune(index_dir, keep={name})


def _prune(index_dir: Path, keep: set[str]) -> None:
    """Remove leftovers: temporary folders and all but the newest older generation.

    The previous generation is kept so that a reader that has just read the old pointer can
    still open it.
    """
    gens = sorted(
        (p for p in index_dir.glob("gen-*") if not p.is_symlink() and p.is_dir() and p.name not in keep),
        reverse=True,
    )
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


def writer_active(index_dir: Path) -> bool:
    """Whether a writer on this machine (this process or another) holds ``index_dir``'s writer
    lock right now. Only looks: the lock is taken and released at once when it is free."""
    import fcntl

    try:
        fd = os.open(index_dir / LOCK, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False  # no lock file: nobody ever wrote here
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # filelock locks with flock too
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


@contextmanager
def writer_lock(index_dir: Path, timeout: float = 600.0) -> Iterator[None]:
    """Serialise writers (build/add) on one index folder across processes.

    The lock file must be a plain file inside the index folder: a symbolic link is refused (it
    would make the lock create or truncate a file elsewhere).
    """
    from filelock import FileLock, Timeout

    path = index_dir / LOCK
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, flags, 0o644)
        mode = os.fstat(fd).st_mode
        os.close(fd)
    except OSError as exc:
        if os.path.islink(path):
            raise IndexDamagedError(
                f"{path} is a symbolic link, not the lock file ftzqa creates; remove it (rm {path}) "
                "and run the command again"
            ) from None
        if not os.path.lexists(path):
            raise storage_error(exc, f"create the lock file {path}") from exc
        mode = os.lstat(path).st_mode
    if not stat.S_ISREG(mode):
        raise IndexDamagedError(
            f"{path} is not a plain file (a {_kind(mode)}); remove it (rm -r {path}) and run the command again"
        )
    lock = FileLock(str(path), timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise FtzqaError(
            f"another ftzqa build or add has held {path} for {timeout:g} s; wait for it to finish "
            "and run the command again"
        ) from None
    try:
        yield
    finally:
        lock.release()
