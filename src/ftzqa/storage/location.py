"""Which store an index lives in: the embedded folder (default) or Milvus, from ``--store``,
``FTZQA_STORE`` or ``store=`` (no engine is imported here).

Forms:

- ``embedded`` (or nothing): the embedded store in the index folder (``--index``, default ``index``);
- ``milvus:PATH.db``: Milvus Lite, the embedded Milvus engine, in a local file;
- ``milvus://HOST:PORT`` (``milvus+https://HOST:PORT`` for TLS), optionally ``/NAME`` for the
  collection prefix (default ``ftzqa``): a Milvus standalone server or a distributed cluster's proxy.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidSettingError

ENV = "FTZQA_STORE"
DEFAULT_PREFIX = "ftzqa"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")
_HOST = re.compile(r"[A-Za-z0-9.\-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")
EXPECTED = (
    "expected 'embedded', 'milvus:PATH.db' (Milvus Lite, a local file) or 'milvus://HOST:PORT[/NAME]' "
    "(a Milvus server)"
)


@dataclass(frozen=True, slots=True)
class MilvusTarget:
    """A Milvus index: ``uri`` as pymilvus takes it, the collections' name ``prefix``, and the local
    folder for the writer lock (beside a Lite file; under the index folder for a server)."""

    spec: str  # as the user wrote it (messages, rebuild commands)
    uri: str
    prefix: str
    lock_dir: Path
    lite: bool

    def __str__(self) -> str:
        return self.spec


Location = Path | MilvusTarget


def _bad(value: str, why: str) -> InvalidSettingError:
    return InvalidSettingError(
        f"store {value!r} is not usable: {why}; {EXPECTED}; pass one of those with --store or {ENV}"
    )


def parse(value: str, index_dir: str | Path = "index") -> Location:
    """The location ``value`` names (``index_dir`` for the embedded store and a server's lock)."""
    text = value.strip()
    if text in ("", "embedded"):
        return Path(index_dir)
    if text.startswith(("milvus://", "milvus+https://")):
        scheme, rest = text.split("://", 1)
        hostport, _, name = rest.partition("/")
        name = name or DEFAULT_PREFIX
        host, sep, port = hostport.rpartition(":")
        if not sep or not _HOST.fullmatch(host) or not port.isdigit() or not 0 < int(port) < 65536:
            raise _bad(value, "the server part is not HOST:PORT with a port from 1 to 65535")
        if not _NAME.fullmatch(name):
            raise _bad(value, f"the collection name {name!r} is not letters, digits and _ (at most 40)")
        uri = f"{'https' if scheme.endswith('https') else 'http'}://{host}:{port}"
        safe = re.sub(r"[^A-Za-z0-9.\-]", "_", f"{host}_{port}_{name}")
        return MilvusTarget(text, uri, name, Path(index_dir) / f"milvus-{safe}", lite=False)
    if text.startswith("milvus:"):
        path = text[len("milvus:") :]
        if not path or not path.endswith(".db"):
            raise _bad(value, "Milvus Lite needs a file name ending in .db")
        file = Path(path).expanduser().absolute()
        return MilvusTarget(text, str(file), DEFAULT_PREFIX, file.parent / f"{file.name}.ftzqa", lite=True)
    raise _bad(value, "unknown form")


def pinned(location: Location) -> str:
    """The ``store=`` value that names ``location`` again (ignoring ``FTZQA_STORE``)."""
    return "embedded" if isinstance(location, Path) else location.spec


def default_store(index_dir: str | Path) -> str:
    """The store when none is given: ``FTZQA_STORE``, else the embedded one (the test suite's
    ``--store milvus`` replaces this to put every index of the suite in Milvus Lite)."""
    return os.environ.get(ENV, "")


def resolve(index_dir: str | Path | MilvusTarget = "index", store: str | None = None) -> Location:
    """The location from ``store=`` (else ``FTZQA_STORE``, else the embedded folder ``index_dir``)."""
    if isinstance(index_dir, MilvusTarget):
        return index_dir
    chosen = store if store is not None else default_store(index_dir)
    return parse(chosen, index_dir)
