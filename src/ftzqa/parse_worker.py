"""The worker process that parses untrusted PDF, DOCX and HTML files (started by ``ftzqa.sandbox``).

It limits its own address space (RLIMIT_AS) and core dumps before importing any parser, then
answers requests on stdin/stdout until stdin closes. Frames are an 8-byte big-endian length and
that many bytes; a request is a JSON header frame ({"name", "limits"}) and a data frame; the
reply is one JSON frame: {"ok": true, "text", "fields"} or {"ok": false, "error", "restart"}.
Nothing runs at import.
"""

from __future__ import annotations

import json
import os
import struct
import sys
from typing import IO, Any

from .errors import CorpusError
from .formats import extract, one_line
from .limits import Limits

FRAME = struct.Struct(">Q")


def read_frame(stream: IO[bytes]) -> bytes | None:
    head = stream.read(FRAME.size)
    if len(head) < FRAME.size:
        return None
    (size,) = FRAME.unpack(head)
    data = stream.read(size)
    return data if len(data) == size else None


def write_frame(stream: IO[bytes], data: bytes) -> None:
    stream.write(FRAME.pack(len(data)) + data)
    stream.flush()


def _clean(text: str) -> str:
    """Text safe to encode as UTF-8 (a lone surrogate from a broken PDF string becomes '?')."""
    return text.encode("utf-8", "replace").decode("utf-8")


def handle(header: dict[str, Any], data: bytes) -> dict[str, Any]:
    """Parse one file; every outcome is a reply (only a crash or a kill ends the process)."""
    name = str(header.get("name", "file"))
    limits = Limits(**header["limits"])
    try:
        extracted = extract(data, name, limits)
        fields = {str(k): _clean(str(v)) for k, v in extracted.fields.items()}
        return {"ok": True, "text": _clean(extracted.text), "fields": fields}
    except CorpusError as exc:
        return {"ok": False, "error": one_line(str(exc), 1000)}
    except MemoryError:
        return {
            "ok": False,
            "restart": True,
            "error": f"{name}: reading it needed more than {limits.parse_memory_mb:g} MB of memory and was "
            "stopped (FTZQA_PARSE_MEMORY_MB); check the file, or raise the limit if it is genuine",
        }
    except RecursionError:
        return {"ok": False, "error": f"{name}: is nested too deeply to read; check the file"}
    except Exception as exc:
        return {
            "ok": False,
            "error": f"{name}: cannot be read ({type(exc).__name__}: {one_line(str(exc))}); check the file",
        }


def main(memory_bytes: int) -> None:
    import resource
    import signal

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when this process ends
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the reply stream
    sys.stdout = sys.stderr
    stdin = os.fdopen(os.dup(0), "rb")
    import logging

    logging.disable(logging.CRITICAL)  # pypdf warns about every odd PDF; the reply says what matters
    for module in ("pypdf", "docx", "trafilatura"):  # imported once, before any file is timed
        try:
            __import__(module)
        except ImportError:
            pass
    write_frame(out, b'{"ready": true}')
    while True:
        header = read_frame(stdin)
        data = read_frame(stdin) if header is not None else None
        if header is None or data is None:
            return
        try:
            reply = handle(json.loads(header), data)
            del data
            payload = json.dumps(reply, ensure_ascii=False).encode("utf-8")
        except MemoryError:
            return  # the parent sees the worker gone and names the file
        write_frame(out, payload)
