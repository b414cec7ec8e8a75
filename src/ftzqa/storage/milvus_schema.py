"""The Milvus side of the Milvus store: connections (one per URI and process), collections,
the manifest in pieces, and small helpers. pymilvus is imported here, lazily by callers.

Collections (``<prefix>`` from the store URI, default ``ftzqa``):

- ``<prefix>_passages``: ``id`` (INT64 primary key, the protocol's stable passage id), ``gen``
  (the version that added it: readers filter ``gen <= their version``, so rows of a change in
  progress stay hidden), ``key`` (content hash: vectors are reused by it), ``doc_id``, ``title``,
  ``section``, ``paragraph``, ``start``, ``end``,
  ``text``, ``bm25`` (the passage's ftzqa BM25 terms, each as a 16-hex-digit hash token, so
  Milvus's standard analyzer keeps them whole; a BM25 ``Function`` turns it into ``sparse``),
  ``sparse`` (SPARSE_INVERTED_INDEX, metric BM25, ftzqa's k1 and b), ``dense`` (HNSW on a server,
  FLAT on Milvus Lite, metric IP on L2-normalised vectors = cosine).
- ``<prefix>_documents``: document full texts in pieces of at most ``PIECE`` characters (a VARCHAR
  holds 65,535 bytes; a document of any size fits, a piece is one row keyed ``doc_id``/``n``),
  with title, sha256, source, author, date on piece 0.
- ``<prefix>_stats``: term and lexicon statistics (``t:<hash>`` BM25 document frequency,
  ``w:<word>`` df/mid-sentence/capitalised, ``p:<initials>`` phrases), changed by each writer.
- ``<prefix>_meta``: the manifest of each version in pieces, ``current`` naming the live version,
  and ``writing`` while a change is in progress.

Every collection has a vector field (Milvus requires one); the small ones a 2-d dummy.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import IndexMissingError, StorageError
from .location import MilvusTarget

PIECE = 16_000  # characters per stored piece: at most 64,000 UTF-8 bytes, under VARCHAR's 65,535
MAX_KEY = 4096
BATCH = 500  # rows per insert / ids per get
_clients: dict[str, Any] = {}
_lock = threading.Lock()


def term_token(term: str) -> str:
    """The token a BM25 term is stored as: 16 hex digits (one word for any analyzer)."""
    return hashlib.blake2b(term.encode("utf-8"), digest_size=8).hexdigest()


def names(prefix: str) -> dict[str, str]:
    return {k: f"{prefix}_{k}" for k in ("passages", "documents", "stats", "meta")}


def client(target: MilvusTarget) -> Any:
    """The shared client of ``target`` (Milvus Lite starts its local server once per process)."""
    with _lock:
        found = _clients.get(target.uri)
        if found is not None:
            return found
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise StorageError(
                f"store {target.spec!r} needs pymilvus (and milvus-lite for a local file); "
                "install them: pip install 'ftzqa[milvus]'"
            ) from None
        if target.lite:
            target.lock_dir.mkdir(parents=True, exist_ok=True)
            # Milvus Lite's in-process gRPC server logs a traceback each time the client probes an
            # RPC Lite does not implement (AllocTimestamp); the client copes, the user needs no trace
            import logging

            logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
        try:
            made = MilvusClient(target.uri, timeout=30)
        except Exception as exc:  # noqa: BLE001 - any connection failure means the same to the user
            raise StorageError(
                f"cannot open the Milvus store {target.spec!r} ({type(exc).__name__}: {_short(exc)}); "
                + ("check the file's folder is writable and no other process has it open"
                   if target.lite else "check that the Milvus server is running at that address")
            ) from None
        _clients[target.uri] = made
        return made


def release(uri: str) -> None:
    """Close the client of ``uri`` (and stop its Milvus Lite server)."""
    with _lock:
        found = _clients.pop(uri, None)
    if found is not None:
        try:
            found.close()
        except Exception:  # noqa: BLE001, S110 - already closed
            pass
    try:
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(uri)
    except Exception:  # noqa: BLE001, S110 - not installed, or not a Lite file
        pass


def open_uris() -> list[str]:
    with _lock:
        return list(_clients)


def close_all() -> None:
    """Close every client (stops Milvus Lite's local servers). Also run at exit."""
    with _lock:
        for c in _clients.values():
            try:
                c.close()
            except Exception:  # noqa: BLE001, S110 - closing at exit: nothing left to tell
                pass
        _clients.clear()
    try:  # pymilvus keeps Milvus Lite servers running after close; stop them
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_all()
    except Exception:  # noqa: BLE001, S110 - not installed, or already stopped
        pass


atexit.register(close_all)


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def create(target: MilvusTarget, dimension: int, k1: float, b: float) -> None:
    """Drop and create the four collections of an empty index."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    c = client(target)
    n = names(target.prefix)
    for name in n.values():
        if c.has_collection(name):
            c.drop_collection(name)

    def dummy(s: Any) -> None:
        s.add_field("v", DataType.FLOAT_VECTOR, dim=2)

    def flat(params: Any, field: str) -> None:
        params.add_index(field, index_type="FLAT", metric_type="L2")

    s = MilvusClient.create_schema(auto_id=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("gen", DataType.INT64)
    s.add_field("key", DataType.VARCHAR, max_length=64)
    s.add_field("doc_id", DataType.VARCHAR, max_length=MAX_KEY)
    s.add_field("title", DataType.VARCHAR, max_length=65_535)
    s.add_field("section", DataType.VARCHAR, max_length=65_535)
    s.add_field("paragraph", DataType.INT64)
    s.add_field("start", DataType.INT64)
    s.add_field("end", DataType.INT64)
    s.add_field("text", DataType.VARCHAR, max_length=65_535)
    s.add_field("bm25", DataType.VARCHAR, max_length=65_535, enable_analyzer=True,
                analyzer_params={"type": "standard"})
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
    s.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["bm25"],
                            output_field_names=["sparse"]))
    p = c.prepare_index_params()
    p.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                params={"bm25_k1": k1, "bm25_b": b})
    if target.lite:
        p.add_index("dense", index_type="FLAT", metric_type="IP")
    else:
        p.add_index("dense", index_type="HNSW", metric_type="IP", params={"M": 32, "efConstruction": 200})
    c.create_collection(n["passages"], schema=s, index_params=p, consistency_level="Strong")

    s = MilvusClient.create_schema(auto_id=False)
    s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=MAX_KEY + 16)
    s.add_field("doc_id", DataType.VARCHAR, max_length=MAX_KEY)
    s.add_field("gen", DataType.INT64)
    s.add_field("n", DataType.INT64)
    s.add_field("meta", DataType.VARCHAR, max_length=65_535)
    s.add_field("text", DataType.VARCHAR, max_length=65_535)
    dummy(s)
    p = c.prepare_index_params()
    flat(p, "v")
    c.create_collection(n["documents"], schema=s, index_params=p, consistency_level="Strong")

    s = MilvusClient.create_schema(auto_id=False)
    s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=MAX_KEY)
    s.add_field("initials", DataType.VARCHAR, max_length=MAX_KEY)
    s.add_field("phrase", DataType.VARCHAR, max_length=MAX_KEY)
    s.add_field("a", DataType.INT64)
    s.add_field("b", DataType.INT64)
    s.add_field("c", DataType.INT64)
    dummy(s)
    p = c.prepare_index_params()
    flat(p, "v")
    c.create_collection(n["stats"], schema=s, index_params=p, consistency_level="Strong")

    s = MilvusClient.create_schema(auto_id=False)
    s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=256)
    s.add_field("value", DataType.VARCHAR, max_length=65_535)
    dummy(s)
    p = c.prepare_index_params()
    flat(p, "v")
    c.create_collection(n["meta"], schema=s, index_params=p, consistency_level="Strong")


def lit(value: str | Sequence[str]) -> str:
    """A string (or list of strings) as a Milvus filter literal (JSON quoting: backslash escapes).
    Built here because Milvus Lite does not take ``filter_params`` templates."""
    return json.dumps(value if isinstance(value, str) else list(value), ensure_ascii=False)


def pieces(text: str) -> list[str]:
    return [text[i : i + PIECE] for i in range(0, len(text), PIECE)] or [""]


def exists(target: MilvusTarget) -> bool:
    """The index's collections exist (and are loaded for searching: a new process finds them
    released)."""
    c = client(target)
    wanted = list(names(target.prefix).values())
    if not all(c.has_collection(n) for n in wanted):
        return False
    for n in wanted:
        if str(c.get_load_state(n).get("state", "")).split(".")[-1] != "Loaded":
            c.load_collection(n)
    return True


def get_meta(target: MilvusTarget, key: str) -> str | None:
    rows = client(target).query(names(target.prefix)["meta"], ids=[key], output_fields=["value"])
    return str(rows[0]["value"]) if rows else None


def current(target: MilvusTarget) -> dict[str, Any] | None:
    """The ``current`` record ({"version", "pieces"}) or None when there is no index."""
    if not exists(target):
        return None
    text = get_meta(target, "current")
    return None if text is None else dict(json.loads(text))


def put_meta(target: MilvusTarget, rows: dict[str, str]) -> None:
    data = [{"key": k, "value": v, "v": [0.0, 0.0]} for k, v in rows.items()]
    if data:
        client(target).upsert(names(target.prefix)["meta"], data)


def delete_meta(target: MilvusTarget, keys: Sequence[str]) -> None:
    if keys:
        client(target).delete(names(target.prefix)["meta"], ids=list(keys))


def write_manifest(target: MilvusTarget, version: int, manifest: dict[str, Any]) -> int:
    """Store the manifest of ``version`` in pieces; returns how many."""
    parts = pieces(json.dumps(manifest, ensure_ascii=False))
    put_meta(target, {f"manifest/{version}/{i}": part for i, part in enumerate(parts)})
    return len(parts)


def read_manifest(target: MilvusTarget, version: int, count: int) -> dict[str, Any]:
    keys = [f"manifest/{version}/{i}" for i in range(count)]
    rows = client(target).query(names(target.prefix)["meta"], ids=keys, output_fields=["key", "value"])
    by_key = {str(r["key"]): str(r["value"]) for r in rows}
    if len(by_key) != count:
        raise ValueError(f"{count - len(by_key)} of {count} manifest pieces missing")
    return dict(json.loads("".join(by_key[k] for k in keys)))


def batched(items: Sequence[Any], size: int = BATCH) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def missing(target: MilvusTarget) -> IndexMissingError:
    return IndexMissingError(
        f"no index at {target.spec!r} (a Milvus store); build one: ftzqa build --corpus corpus --store {target.spec}"
    )
