"""The Milvus store: one version of an index held in Milvus (a server, a cluster, or Milvus Lite's
local file), read through pymilvus. Layout and connections: ``milvus_schema``; changes:
``milvus_writer``.

Searches run in the engine: dense top-k (HNSW on a server, FLAT on Lite) and BM25 top-k (Milvus's
sparse BM25 ``Function`` over the passage's ftzqa terms, so the engine tokenises nothing itself).
The BM25 *scores* the protocol returns are ftzqa's own (bm25s "lucene", index-wide statistics from
the stats collection, summed as ``storage.postings`` sums them): the engine's BM25 top list (taken
2x deep) is re-scored with them, so fusion and the verdict see the same numbers over both stores.
Why ftzqa fuses the two lists rather than ``hybrid_search``: README, "Milvus".
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..embed import Embedder
from ..lexicon import Lexicon, WordStats
from ..settings import BM25Settings
from ..sparse import Tokenizer
from ..types import Document, Passage
from . import milvus_schema as ms
from .base import LiveDocuments, ManifestFacts
from .location import MilvusTarget

if TYPE_CHECKING:
    from numpy.typing import NDArray


PASSAGE_FIELDS = ["id", "doc_id", "title", "section", "paragraph", "start", "end", "text"]
BM25_DEPTH = 2  # the engine's BM25 list is taken this many times deeper than asked, then re-scored


def _filter_in(field: str, values: Sequence[Any]) -> str:
    return f"{field} in {json.dumps(list(values), ensure_ascii=False)}"


class MilvusLexicon(Lexicon):
    """Word statistics looked up in the stats collection (cached per loaded version)."""

    def __init__(self, store: MilvusStore) -> None:
        self._store = store
        self._stats: dict[str, WordStats | None] = {}
        self._dictionary: frozenset[str] | None = None
        self._vocab: dict[str, int] | None = None
        self._lock = threading.Lock()

    @property
    def dictionary(self) -> frozenset[str]:
        if self._dictionary is None:
            words = self._store.manifest_part("dictionary")
            self._dictionary = frozenset(str(w) for w in words) if isinstance(words, list) else frozenset()
        return self._dictionary

    def stats(self, word: str) -> WordStats | None:
        if word not in self._stats:
            self.prefetch([word])
        return self._stats.get(word)

    def prefetch(self, words: Sequence[str]) -> None:
        todo = [w for w in dict.fromkeys(words) if w not in self._stats]
        for part in ms.batched(todo):
            rows = self._store.stats_rows([f"w:{w}" for w in part])
            for w in part:
                row = rows.get(f"w:{w}")
                self._stats[w] = WordStats(*row) if row is not None and row[0] > 0 else None
        if len(self._stats) > 100_000:
            self._stats.clear()

    def _phrases(self, initials: Sequence[str]) -> dict[tuple[str, str], int]:
        c = ms.client(self._store.target)
        counts: dict[tuple[str, str], int] = {}
        for part in ms.batched(list(initials)):
            rows = c.query(self._store.names["stats"], filter=_filter_in("initials", part),
                           output_fields=["initials", "phrase", "a"])
            counts.update(((str(r["initials"]), str(r["phrase"])), int(r["a"])) for r in rows if str(r["phrase"]))
        return counts

    def _vocabulary(self) -> dict[str, int]:
        with self._lock:
            if self._vocab is None:
                c = ms.client(self._store.target)
                it = c.query_iterator(self._store.names["stats"], batch_size=1000, filter='key like "w:%"',
                                      output_fields=["key", "a"])
                vocab: dict[str, int] = {}
                try:
                    while True:
                        page = it.next()
                        if not page:
                            break
                        vocab.update((str(r["key"])[2:], int(r["a"])) for r in page if int(r["a"]) > 0)
                finally:
                    it.close()
                self._vocab = vocab
            return self._vocab


class MilvusStore(ManifestFacts):
    """One version of a Milvus index (read-only; thread-safe for searches)."""

    def __init__(self, target: MilvusTarget, version: int, manifest: dict[str, Any]) -> None:
        self.target = target
        self.names = ms.names(target.prefix)
        self._version = version
        self._manifest = manifest
        self.bm25_settings = BM25Settings(**manifest["bm25"])
        self.tokenize = Tokenizer(self.bm25_settings)
        self._df: dict[str, int] = {}
        self._size = int(manifest["passage_count"])
        total = int(manifest["bm25_total_length"])
        self.avglen = total / self._size if self._size > 0 else 1.0
        self._lexicon = MilvusLexicon(self)
        self._documents = LiveDocuments(self.manifest["documents"], self.document)
        self._filter = f"gen <= {version}"
        # doc_id -> [first id, passage count]; passages of a document have consecutive ids
        self._ranges: dict[str, list[int]] = manifest["ranges"]
        self._extra: dict[str, Any] = {}

    # --- what it is ------------------------------------------------------------------------------

    @property
    def location(self) -> str:
        return self.target.spec

    @property
    def version(self) -> str:
        return f"v{self._version:08d}"

    def latest_version(self) -> str | None:
        from ..errors import StorageError

        try:
            now = ms.current(self.target)
        except Exception as exc:  # noqa: BLE001 - the engine went away: one clear message
            raise StorageError(f"cannot read the Milvus store {self.target.spec!r} ({exc}); "
                               "check that it is reachable") from None
        return None if now is None else f"v{int(now['version']):08d}"

    def manifest_part(self, key: str) -> Any:
        """A large manifest companion stored apart (the model's dictionary), read when needed."""
        if key not in self._extra:
            count = int(self._manifest.get(f"{key}_pieces", 0))
            rows = ms.client(self.target).query(
                self.names["meta"], ids=[f"{key}/{self._manifest[key + '_id']}/{i}" for i in range(count)],
                output_fields=["key", "value"],
            ) if count else []
            by_key = {str(r["key"]): str(r["value"]) for r in rows}
            text = "".join(by_key[k] for k in sorted(by_key, key=lambda k: int(k.rsplit("/", 1)[1])))
            self._extra[key] = json.loads(text) if text else None
        return self._extra[key]

    @property
    def passage_count(self) -> int:
        return self._size

    def query_embedder(self) -> Embedder | None:
        return None  # questions are embedded with sentence-transformers (the ONNX encoder lives in index folders)

    # --- text statistics -------------------------------------------------------------------------

    def stats_rows(self, keys: Sequence[str]) -> dict[str, tuple[int, int, int]]:
        if not keys:
            return {}
        rows = ms.client(self.target).query(self.names["stats"], ids=list(keys), output_fields=["key", "a", "b", "c"])
        return {str(r["key"]): (int(r["a"]), int(r["b"]), int(r["c"])) for r in rows}

    def _prefetch_df(self, terms: Sequence[str]) -> None:
        todo = [t for t in dict.fromkeys(terms) if t not in self._df]
        for part in ms.batched(todo):
            tokens = {t: ms.term_token(t) for t in part}
            rows = self.stats_rows([f"t:{x}" for x in tokens.values()])
            for t, x in tokens.items():
                row = rows.get(f"t:{x}")
                self._df[t] = row[0] if row is not None else 0
        if len(self._df) > 200_000:
            self._df.clear()

    def df(self, term: str) -> int:
        if term not in self._df:
            self._prefetch_df([term])
        return self._df.get(term, 0)

    def idf(self, term: str) -> float:
        df = self.df(term)
        return math.log(1.0 + (self._size - df + 0.5) / (df + 0.5))

    def known(self, term: str) -> bool:
        return self.df(term) > 0

    @property
    def lexicon(self) -> Lexicon:
        return self._lexicon

    # --- reads by id ---------------------------------------------------------------------------

    def _get(self, ids: Sequence[int], fields: list[str]) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        c = ms.client(self.target)
        for part in ms.batched(list(dict.fromkeys(int(i) for i in ids))):
            for row in c.query(self.names["passages"], filter=f"id in {[int(i) for i in part]} and {self._filter}",
                               output_fields=["id", *fields]):
                out[int(row["id"])] = row
        return out

    def _gone(self, pid: int) -> Exception:
        """The error for passage ``pid`` that this version lists but the engine no longer holds."""
        from ..errors import IndexChangedError, IndexDamagedError

        latest = self.latest_version()
        if latest != self.version or ms.get_meta(self.target, "writing") is not None:
            return IndexChangedError(
                f"passage {pid} of index version {self.version} was removed by a change to "
                f"{self.target.spec!r} while this question was answered; ask again once the newer "
                "version is loaded (the server reloads it by itself)")
        return IndexDamagedError(
            f"passage {pid} that index version {self.version} of {self.target.spec!r} lists is missing "
            "from the engine; rebuild it with `ftzqa build`")

    def passages(self, ids: Sequence[int]) -> list[Passage]:
        rows = self._get(ids, PASSAGE_FIELDS)
        out = []
        for i in ids:
            r = rows.get(int(i))
            if r is None:
                raise self._gone(int(i))
            out.append(Passage(str(r["doc_id"]), str(r["title"]), str(r["section"]), int(r["paragraph"]),
                               int(r["start"]), int(r["end"]), str(r["text"])))
        return out

    def document(self, doc_id: str) -> Document | None:
        if doc_id not in self._manifest["documents"]:
            return None
        rows = ms.client(self.target).query(
            self.names["documents"], filter=f"doc_id == {ms.lit(doc_id)} and gen <= {self._version}",
            output_fields=["n", "meta", "text", "gen"],
        )
        if not rows:
            return None
        newest = max(int(r["gen"]) for r in rows)
        rows = sorted((r for r in rows if int(r["gen"]) == newest), key=lambda r: int(r["n"]))
        meta = json.loads(str(rows[0]["meta"]))
        return Document(doc_id, meta["title"], "".join(str(r["text"]) for r in rows), meta["sha256"],
                        meta.get("source", ""), meta.get("author", ""), meta.get("date", ""))

    def first_ids(self, n: int) -> NDArray[np.int64]:
        out: list[int] = []
        for first, count in sorted(self._ranges.values()):
            out.extend(range(first, first + min(count, n - len(out))))
            if len(out) >= n:
                break
        return np.asarray(out[: max(0, n)], dtype=np.int64)

    def iter_passages(self) -> Iterator[Passage]:
        for first, count in sorted(self._ranges.values()):
            for start in range(first, first + count, ms.BATCH):
                yield from self.passages(list(range(start, min(first + count, start + ms.BATCH))))

    # --- search ----------------------------------------------------------------------------------

    @staticmethod
    def _ranked(ids: list[int], scores: list[float], k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        order = sorted(range(len(ids)), key=lambda j: (-scores[j], ids[j]))[:k]
        return (np.asarray([ids[j] for j in order], dtype=np.int64),
                np.asarray([scores[j] for j in order], dtype=np.float32))

    def dense_search(self, vector: NDArray[np.float32], k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        if k <= 0 or self._size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        hits = ms.client(self.target).search(
            self.names["passages"], data=[np.asarray(vector, dtype=np.float32).tolist()], anns_field="dense",
            limit=min(k, 16_384), filter=self._filter, output_fields=["id"],
            search_params={"metric_type": "IP", "params": {"ef": max(128, k)}},
        )[0]
        ids = [int(h["id"]) for h in hits]
        return self._ranked(ids, self.dense_scores(vector, np.asarray(ids, dtype=np.int64)).tolist(), k)

    def dense_scores(self, vector: NDArray[np.float32], ids: NDArray[np.int64]) -> NDArray[np.float32]:
        if len(ids) == 0:
            return np.zeros(0, dtype=np.float32)
        return (self.vectors(ids) @ np.asarray(vector, dtype=np.float32)).astype(np.float32)

    def vectors(self, ids: NDArray[np.int64]) -> NDArray[np.float32]:
        rows = self._get([int(i) for i in ids], ["dense"])
        out = np.zeros((len(ids), self.dimension), dtype=np.float32)
        for j, i in enumerate(ids.tolist()):
            r = rows.get(int(i))
            if r is None:
                raise self._gone(int(i))
            out[j] = np.asarray(r["dense"], dtype=np.float32)
        return out

    def bm25_search(self, terms: list[str], k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        self._prefetch_df(terms)
        known = [t for t in terms if self._df.get(t, 0) > 0]
        if not known or k <= 0 or self._size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        hits = ms.client(self.target).search(
            self.names["passages"], data=[" ".join(ms.term_token(t) for t in known)], anns_field="sparse",
            limit=min(max(BM25_DEPTH * k, k + 20), 16_384), filter=self._filter, output_fields=["id"],
            search_params={"metric_type": "BM25"},
        )[0]
        ids = np.asarray([int(h["id"]) for h in hits], dtype=np.int64)
        scores = self.bm25_scores(terms, ids)
        keep = scores > 0
        return self._ranked(ids[keep].tolist(), scores[keep].tolist(), k)

    def bm25_scores(self, terms: list[str], ids: NDArray[np.int64]) -> NDArray[np.float32]:
        """ftzqa's BM25, as ``storage.postings`` computes it, from the passages' stored terms."""
        ids = np.asarray(ids, dtype=np.int64)
        total = np.zeros(len(ids), dtype=np.float32)
        if len(ids) == 0:
            return total
        self._prefetch_df(terms)
        known = [t for t in terms if self._df.get(t, 0) > 0]
        if not known:
            return total
        rows = self._get(ids.tolist(), ["bm25"])
        counts, lengths = [], np.zeros(len(ids), dtype=np.float64)
        for j, i in enumerate(ids.tolist()):
            r = rows.get(int(i))
            if r is None:
                raise self._gone(int(i))
            tokens = str(r["bm25"]).split()
            counts.append(Counter(tokens))
            lengths[j] = len(tokens)
        k1, b = self.bm25_settings.k1, self.bm25_settings.b
        norm = k1 * ((1 - b) + b * lengths / self.avglen)
        per_term: dict[str, NDArray[np.float32]] = {}
        for t in dict.fromkeys(known):
            df = self._df[t]
            weight = float(np.float32(math.log(1 + (self._size - df + 0.5) / (df + 0.5))))
            token = ms.term_token(t)
            tf = np.asarray([c.get(token, 0) for c in counts], dtype=np.float32)
            per_term[t] = np.asarray(weight * (tf / (norm + tf)), dtype=np.float32)
        for t in known:  # question order, a repeated term once per time it was asked (float32)
            total += per_term[t]
        return total

    def close(self) -> None:
        pass  # the connection is shared per process (milvus_schema.client) and closed at exit


def _still_writing(target: MilvusTarget, writer_active: Any) -> bool:
    """``writing`` is set: is a change in progress (a writer on this machine holds the lock; the
    rows it adds stay hidden from the live version), or was one interrupted (nobody holds it, and
    the mark is still there once that is known)?"""
    return bool(writer_active(target.lock_dir)) or ms.get_meta(target, "writing") is None


def open_store(target: MilvusTarget, locked: bool = False) -> MilvusStore:
    """The live version of the index at ``target`` (IndexMissingError when there is none).

    ``locked``: the caller holds the writer lock (it is about to change the store)."""
    from ..errors import IndexDamagedError
    from ..store import writer_active

    now = ms.current(target)
    if now is None:
        raise ms.missing(target)
    if ms.get_meta(target, "writing") is not None and (locked or not _still_writing(target, writer_active)):
        raise IndexDamagedError(
            f"the Milvus store {target.spec!r} holds a change that was interrupted; rebuild it: "
            f"ftzqa build --corpus corpus --store {target.spec}"
        )
    try:
        version = int(now["version"])
        return MilvusStore(target, version, ms.read_manifest(target, version, int(now["pieces"])))
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexDamagedError(
            f"the Milvus store {target.spec!r} has a damaged manifest ({exc}); rebuild it: "
            f"ftzqa build --corpus corpus --store {target.spec}"
        ) from None
