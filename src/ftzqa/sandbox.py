"""Read files without trusting them: third-party parsers run in a worker process with limits.

``Extractor.extract`` reads .txt/.md in this process (bounded by the file size limit, processed in
linear time) and sends PDF, DOCX and HTML to a worker process (``ftzqa.parse_worker``) that caps
its own memory (RLIMIT_AS) and is killed when a file takes longer than the time limit. A file
that breaks the worker in any way raises ``CorpusError`` naming the file; the worker is then
restarted for the next file. One worker serves all the files read through one Extractor.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any

from .errors import CorpusError
from .formats import SUFFIXES, TEXT_SUFFIXES, Extracted, extract, suffix_of
from .limits import Limits
from .parse_worker import FRAME

log = logging.getLogger(__name__)

STARTUP_SECONDS = 60.0  # for the worker to import its parsers (not counted per file)
_BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from ftzqa.parse_worker import main; main(int(sys.argv[2]))"


class _Timeout(Exception):
    pass


class _Gone(Exception):
    pass


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exact(fd: int, size: int, deadline: float) -> bytes:
    # poll, not select.select: select fails on descriptors numbered 1024 and above, which a
    # long-running server (or a test session) reaches
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    chunks: list[bytes] = []
    while size:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not poller.poll(remaining * 1000):
            raise _Timeout
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise _Gone
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class Extractor:
    """Text and metadata of files; use as a context manager (the worker stops on exit)."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits.from_env()
        self.starts = 0  # worker processes started so far
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Extractor:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def extract(self, data: bytes, name: str) -> Extracted:
        suffix = suffix_of(name)
        if suffix in TEXT_SUFFIXES or suffix not in SUFFIXES:
            return extract(data, name, self.limits)
        return self._in_worker(data, name)

    def close(self) -> None:
        """Stop the worker: it exits when its input closes, or is killed after a second."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass
        _kill(proc)

    # --- the worker ---------------------------------------------------------------------------

    def _in_worker(self, data: bytes, name: str) -> Extracted:
        proc = self._worker(name)
        assert proc.stdin is not None and proc.stdout is not None
        header = json.dumps({"name": name, "limits": self.limits.to_dict()}).encode()
        deadline = time.monotonic() + self.limits.parse_seconds
        try:
            _write_all(proc.stdin.fileno(), FRAME.pack(len(header)) + header + FRAME.pack(len(data)))
            _write_all(proc.stdin.fileno(), data)
            (size,) = FRAME.unpack(_read_exact(proc.stdout.fileno(), FRAME.size, deadline))
            if size > 8 * self.limits.max_text_bytes + (16 << 20):
                raise _Gone
            reply: dict[str, Any] = json.loads(_read_exact(proc.stdout.fileno(), size, deadline))
        except _Timeout:
            self._stop()
            raise CorpusError(
                f"{name}: reading it took longer than {self.limits.parse_seconds:g} s and was stopped "
                "(FTZQA_PARSE_SECONDS); check the file, or raise the limit if it is genuine"
            ) from None
        except (_Gone, OSError, ValueError):
            raise CorpusError(self._crash_message(name)) from None
        if reply.get("ok"):
            return Extracted(str(reply["text"]), {str(k): str(v) for k, v in reply["fields"].items()})
        if reply.get("restart"):
            self._stop()
        raise CorpusError(str(reply.get("error") or f"{name}: cannot be read; check the file"))

    def _crash_message(self, name: str) -> str:
        code = self._stop()
        how = f"killed by {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
        return (
            f"{name}: the reader process stopped on this file ({how}), probably over the memory limit of "
            f"{self.limits.parse_memory_mb:g} MB (FTZQA_PARSE_MEMORY_MB); check the file, or raise the limit "
            "if it is genuine"
        )

    def _worker(self, name: str) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._stop()
        root = str(Path(__file__).resolve().parent.parent)
        proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT, root, str(self.limits.parse_memory_bytes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
            close_fds=True,
            start_new_session=True,  # Ctrl-C in a terminal goes to ftzqa, which stops the worker
        )
        weakref.finalize(self, _kill, proc)
        self.starts += 1
        self._proc = proc
        assert proc.stdout is not None
        try:
            (size,) = FRAME.unpack(_read_exact(proc.stdout.fileno(), FRAME.size, time.monotonic() + STARTUP_SECONDS))
            ready = json.loads(_read_exact(proc.stdout.fileno(), size, time.monotonic() + STARTUP_SECONDS))
            if not ready.get("ready"):
                raise _Gone
        except (_Timeout, _Gone, OSError, ValueError):
            code = self._stop()
            raise CorpusError(
                f"{name}: the document reader process could not start (exit code {code}); check that pypdf, "
                f"python-docx and trafilatura are installed and that FTZQA_PARSE_MEMORY_MB "
                f"({self.limits.parse_memory_mb:g}) leaves room for Python"
            ) from None
        log.debug("started parser worker pid %d", proc.pid)
        return proc

    def _stop(self) -> int | None:
        """Kill the worker (if any); returns its exit code."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        _kill(proc)
        return proc.returncode
