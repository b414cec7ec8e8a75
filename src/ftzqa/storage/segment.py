"""One immutable segment of the embedded store: a folder under ``index/segments/``.

- ``segment.sqlite``: passages (by id, with their content key), documents (full text, by doc_id),
  the BM25 vocabulary (term -> term id) and the lexicon's word and phrase counts. Read by id, never
  loaded whole; opened read-only and ``immutable`` (no locks: nothing ever writes it again).
- ``ids.npy``: the global passage id of each row (ascending); rows are positions in the arrays.
- ``vectors.npy`` (+ ``dense.faiss`` above the ANN threshold: an IVF index; HNSW in older indexes): see
  ``vectors``.
- ``postings/``: BM25 term frequencies and lengths, see ``postings``.
- ``segment.json``: counts, kind and the size of every file, checked when the segment is opened.

A segment is written into a hidden temporary folder, fsynced and renamed into place; a generation
names the segments it uses, so a segment no generation names is garbage (``prune``).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import StorageError
from ..lexicon import LexiconCounts
from ..store import storage_error
from ..types import Document, Passage
from . import postings as bm25
from .vectors import FLAT, GRAPH, VECTORS, AnnSettings, SegmentVectors, build_ann

if TYPE_CHECKING:
    from numpy.typing import NDArray

SEGMENTS = "segments"
DB = "segment.sqlite"
IDS = "ids.npy"
META = "segment.json"
POSTINGS = "postings"
SEGMENT_FORMAT = 1
_CHUNK = 500  # ids per SQL "IN (...)" (SQLite allows 32,766 variables; small chunks stay fast)

SCHEMA = """
CREATE TABLE passages (id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, title TEXT NOT NULL,
    section TEXT NOT NULL, paragraph INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    text TEXT NOT NULL, key TEXT NOT NULL);
CREATE TABLE documents (doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL,
    sha256 TEXT NOT NULL, source TEXT NOT NULL, author TEXT NOT NULL, date TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE terms (term TEXT PRIMARY KEY, tid INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE words (word TEXT PRIMARY KEY, df INTEGER NOT NULL, mid INTEGER NOT NULL,
    cap INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE phrases (initials TEXT NOT NULL, phrase TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (initials, phrase)) WITHOUT ROWID;
"""
_PASSAGE_COLUMNS = 'id, doc_id, title, section, paragraph, start, "end", text'


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """A segment as the manifest lists it."""

    name: str
    passages: int
    first_id: int
    last_id: int
    dense: str  # FLAT, IVF, or HNSW (indexes built before IVF)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passages": self.passages,
            "first_id": self.first_id,
            "last_id": self.last_id,
            "dense": self.dense,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SegmentInfo:
        info = cls(str(data["name"]), int(data["passages"]), int(data["first_id"]), int(data["last_id"]),
                   str(data["dense"]))
        if not info.name.startswith("seg-") or "/" in info.name or info.name in (".", ".."):
            raise ValueError(f"segment name {info.name!r}")
        return info


def lexicon_texts(document: Document, passages: Sequence[Passage]) -> list[str]:
    """The texts a document adds to the lexicon: its passages, then each of its title and section
    headings once (repeating them per passage would make a title-cased heading look like names)."""
    headings = dict.fromkeys(x for p in passages for x in (p.title, p.section) if x)
    return [p.text for p in passages] + list(headings)


# --- writing ----------------------------------------------------------------------------------------


@contextmanager
def _writing(index_dir: Path) -> Iterator[None]:
    """Write errors as one-line StorageErrors. SQLite reports a full disk as "database or disk is
    full" without the cause, so the cause is found by writing a little into the same folder."""
    hint = f" (ftzqa build --index {index_dir} refreshes the index)"
    doing = f"write the index in {index_dir}"
    try:
        yield
    except StorageError:
        raise
    except OSError as exc:
        raise storage_error(exc, doing, hint) from exc
    except sqlite3.Error as exc:
        probe = index_dir / SEGMENTS / f".probe-{uuid.uuid4().hex[:8]}"
        try:
            with open(probe, "wb") as fh:
                fh.write(b"\0" * (1 << 20))
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as cause:
            raise storage_error(cause, doing, hint) from exc
        finally:
            probe.unlink(missing_ok=True)
        raise storage_error(OSError(errno.ENOSPC, f"SQLite: {exc}"), doing, hint) from exc


def _new_folder(index_dir: Path) -> tuple[Path, str]:
    root = index_dir / SEGMENTS
    root.mkdir(parents=True, exist_ok=True)
    name = f"seg-{time.time_ns():x}-{uuid.uuid4().hex[:6]}"
    tmp = root / f".tmp-{name}"
    tmp.mkdir()
    return tmp, name


def _read_only(path: Path) -> str:
    """The SQLite URI of a finished segment database: read-only, immutable (no locking)."""
    return f"{path.resolve().as_uri()}?mode=ro&immutable=1"


def _connect_new(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path.resolve().as_uri(), uri=True, isolation_level=None)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA page_size=8192")
    db.executescript(SCHEMA)
    return db


def _finish(tmp: Path, name: str, meta: dict[str, Any]) -> Path:
    """Record the file sizes, fsync everything and rename the folder into place."""
    files = {p.relative_to(tmp).as_posix(): p.stat().st_size for p in sorted(tmp.rglob("*")) if p.is_file()}
    (tmp / META).write_text(json.dumps({**meta, "files": files}, indent=1) + "\n", encoding="utf-8")
    for path in tmp.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    final = tmp.parent / name
    os.rename(tmp, final)
    _fsync_dir(tmp.parent)
    return final


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_lexicon(db: sqlite3.Connection, counts: LexiconCounts) -> None:
    db.executemany("INSERT INTO words VALUES (?, ?, ?, ?)", ((w, *row) for w, row in counts.words.items()))
    db.executemany("INSERT INTO phrases VALUES (?, ?, ?)", ((i, p, n) for (i, p), n in counts.phrases.items()))


def _dense(tmp: Path, vectors: NDArray[np.float32], ann: AnnSettings) -> str:
    np.save(tmp / VECTORS, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
    if len(vectors) >= ann.threshold:
        return build_ann(np.load(tmp / VECTORS, mmap_mode="r"), tmp / GRAPH)
    return FLAT


def write(
    index_dir: Path,
    ids: NDArray[np.int64],
    documents: Sequence[Document],
    passages: Sequence[Passage],
    keys: Sequence[str],
    vectors: NDArray[np.float32],
    tokens: Sequence[list[str]],
    lexicon: LexiconCounts,
    ann: AnnSettings,
) -> SegmentInfo:
    """Write a segment of new passages (ids ascending, grouped by document) and their documents."""
    if not (len(ids) == len(passages) == len(keys) == len(vectors) == len(tokens)) or len(ids) == 0:
        raise ValueError("a segment needs as many ids, keys, vectors and term lists as passages (at least one)")
    with _writing(index_dir):
        return _write(index_dir, ids, documents, passages, keys, vectors, tokens, lexicon, ann)


def _write(
    index_dir: Path,
    ids: NDArray[np.int64],
    documents: Sequence[Document],
    passages: Sequence[Passage],
    keys: Sequence[str],
    vectors: NDArray[np.float32],
    tokens: Sequence[list[str]],
    lexicon: LexiconCounts,
    ann: AnnSettings,
) -> SegmentInfo:
    tmp, name = _new_folder(index_dir)
    try:
        db = _connect_new(tmp / DB)
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO passages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (int(i), p.doc_id, p.title, p.section, p.paragraph, p.start, p.end, p.text, k)
                for i, p, k in zip(ids.tolist(), passages, keys, strict=True)
            ),
        )
        db.executemany(
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((d.doc_id, d.title, d.text, d.sha256, d.source, d.author, d.date) for d in documents),
        )
        data = bm25.build(tokens)
        db.executemany("INSERT INTO terms VALUES (?, ?)", ((t, i) for i, t in enumerate(data.terms)))
        _write_lexicon(db, lexicon)
        _close_new(db)
        np.save(tmp / IDS, np.asarray(ids, dtype=np.int64), allow_pickle=False)
        (tmp / POSTINGS).mkdir()
        data.save(tmp / POSTINGS)
        kind = _dense(tmp, vectors, ann)
        meta = {"format": SEGMENT_FORMAT, "passages": len(ids), "documents": len(documents),
                "dimension": int(vectors.shape[1]), "dense": kind, "terms": len(data.terms)}
        _finish(tmp, name, meta)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return SegmentInfo(name, len(ids), int(ids[0]), int(ids[-1]), kind)


def _close_new(db: sqlite3.Connection) -> None:
    db.execute("COMMIT")
    db.execute('CREATE INDEX passage_doc ON passages (doc_id)')
    db.execute("CREATE INDEX passage_key ON passages (key)")
    db.execute("ANALYZE")
    db.close()


def merge(
    index_dir: Path,
    parts: Sequence[Segment],
    dropped_docs: Sequence[set[str]],
    purged: LexiconCounts,
    ann: AnnSettings,
) -> SegmentInfo | None:
    """One segment holding the live passages and documents of adjacent segments ``parts``.

    ``dropped_docs``: per part, the deleted doc_ids whose passages are left out; ``purged``: their
    lexicon counts (taken off the summed word counts). None when nothing is left.
    """
    keeps = [seg.live_mask(dropped) for seg, dropped in zip(parts, dropped_docs, strict=True)]
    if sum(int(k.sum()) for k in keeps) == 0:
        return None
    with _writing(index_dir):
        return _merge(index_dir, parts, dropped_docs, purged, ann, keeps)


def _merge(
    index_dir: Path,
    parts: Sequence[Segment],
    dropped_docs: Sequence[set[str]],
    purged: LexiconCounts,
    ann: AnnSettings,
    keeps: list[NDArray[np.bool_]],
) -> SegmentInfo:
    total = sum(int(k.sum()) for k in keeps)
    tmp, name = _new_folder(index_dir)
    try:
        db = _connect_new(tmp / DB)
        for i, seg in enumerate(parts):
            db.execute("ATTACH DATABASE ? AS src", (_read_only(seg.folder / DB),))
            db.execute("BEGIN")
            dropped = sorted(dropped_docs[i])
            db.execute("CREATE TEMP TABLE gone (doc_id TEXT PRIMARY KEY)")
            db.executemany("INSERT INTO gone VALUES (?)", ((d,) for d in dropped))
            for table in ("passages", "documents"):
                db.execute(f"INSERT INTO {table} SELECT * FROM src.{table} WHERE doc_id NOT IN gone")
            db.execute(
                "INSERT INTO words SELECT word, df, mid, cap FROM src.words WHERE true ON CONFLICT (word) DO UPDATE "
                "SET df = df + excluded.df, mid = mid + excluded.mid, cap = cap + excluded.cap"
            )
            db.execute(
                "INSERT INTO phrases SELECT initials, phrase, n FROM src.phrases WHERE true "
                "ON CONFLICT (initials, phrase) DO UPDATE SET n = n + excluded.n"
            )
            db.execute("DROP TABLE gone")
            db.execute("COMMIT")
            db.execute("DETACH DATABASE src")
        db.execute("BEGIN")
        db.executemany(
            "UPDATE words SET df = df - ?, mid = mid - ?, cap = cap - ? WHERE word = ?",
            ((df, mid, cap, w) for w, (df, mid, cap) in purged.words.items()),
        )
        db.execute("DELETE FROM words WHERE df <= 0")
        db.executemany(
            "UPDATE phrases SET n = n - ? WHERE initials = ? AND phrase = ?",
            ((n, i, p) for (i, p), n in purged.phrases.items()),
        )
        db.execute("DELETE FROM phrases WHERE n <= 0")
        data = bm25.merge([(seg.postings, seg.terms(), keep) for seg, keep in zip(parts, keeps, strict=True)])
        db.executemany("INSERT INTO terms VALUES (?, ?)", ((t, i) for i, t in enumerate(data.terms)))
        documents = int(db.execute("SELECT count(*) FROM documents").fetchone()[0])
        _close_new(db)
        ids = np.concatenate([np.asarray(seg.ids)[keep] for seg, keep in zip(parts, keeps, strict=True)])
        np.save(tmp / IDS, ids, allow_pickle=False)
        (tmp / POSTINGS).mkdir()
        data.save(tmp / POSTINGS)
        dimension = parts[0].dimension
        vectors = np.lib.format.open_memmap(tmp / VECTORS, mode="w+", dtype=np.float32, shape=(total, dimension))
        at = 0
        for seg, keep in zip(parts, keeps, strict=True):
            rows = np.flatnonzero(keep)
            for start in range(0, len(rows), 100_000):
                chunk = rows[start : start + 100_000]
                vectors[at : at + len(chunk)] = seg.dense.vectors[chunk]
                at += len(chunk)
        vectors.flush()
        del vectors
        kind = FLAT
        if total >= ann.threshold:
            kind = build_ann(np.load(tmp / VECTORS, mmap_mode="r"), tmp / GRAPH)
        meta = {"format": SEGMENT_FORMAT, "passages": total, "documents": documents, "dimension": dimension,
                "dense": kind, "terms": len(data.terms)}
        _finish(tmp, name, meta)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return SegmentInfo(name, total, int(ids[0]), int(ids[-1]), kind)


# --- reading ----------------------------------------------------------------------------------------


class Segment:
    """An open segment. Every file is opened here, so a segment deleted later (by a writer pruning
    old generations) keeps working for a reader that still holds it."""

    def __init__(
        self,
        folder: Path,
        info: SegmentInfo,
        dimension: int,
        ann: AnnSettings,
        dead_docs: set[str],
        *,
        check: bool = True,
        graph: bool = True,
    ) -> None:
        """``check``: verify array bounds (readers); ``graph``: read the IVF / HNSW index (writers only
        copy vectors and never search, so they skip both)."""
        self.folder = folder
        self.info = info
        meta = _read_meta(folder)
        if meta.get("format") != SEGMENT_FORMAT:
            raise ValueError(f"segment {info.name} has format {meta.get('format')!r}, not {SEGMENT_FORMAT}")
        for rel, size in dict(meta["files"]).items():
            path = folder / rel
            if path.is_symlink() or not path.is_file() or path.stat().st_size != int(size):
                raise ValueError(f"segment {info.name}: {rel} is missing or has the wrong size")
        if int(meta["dimension"]) != dimension:
            raise ValueError(
                f"segment {info.name} holds vectors of dimension {meta['dimension']}, manifest says {dimension}"
            )
        if int(meta["passages"]) != info.passages or meta["dense"] != info.dense:
            raise ValueError(f"segment {info.name} does not match the manifest")
        self.dimension = dimension
        self.db = sqlite3.connect(_read_only(folder / DB), uri=True, check_same_thread=False)
        self.ids: NDArray[np.int64] = np.load(folder / IDS, mmap_mode="r", allow_pickle=False)
        n = info.passages
        if self.ids.shape != (n,) or (n and (int(self.ids[0]) != info.first_id or int(self.ids[-1]) != info.last_id)):
            raise ValueError(f"segment {info.name}: ids do not match the manifest")
        self.postings = bm25.PostingsData.load(folder / POSTINGS)
        if self.postings.size != n:
            raise ValueError(f"segment {info.name}: {self.postings.size} BM25 rows for {n} passages")
        if check:
            self.postings.check(int(meta["terms"]))
        self.dead_rows = self.rows_of_docs(dead_docs)
        self.dense = SegmentVectors.open(folder, info.dense if graph else FLAT, ann, self.dead_rows)
        if self.dense.vectors.shape != (n, dimension):
            raise ValueError(f"segment {info.name}: vectors of shape {self.dense.vectors.shape}, not {(n, dimension)}")

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def size(self) -> int:
        return self.info.passages

    def rows_of_docs(self, doc_ids: Iterable[str]) -> NDArray[np.int64]:
        """Rows of the passages of these documents (sorted)."""
        found: list[int] = []
        wanted = sorted(set(doc_ids))
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            found += [r[0] for r in self.db.execute(f"SELECT id FROM passages WHERE doc_id IN ({marks})", chunk)]
        return np.searchsorted(self.ids, np.sort(np.asarray(found, dtype=np.int64))).astype(np.int64)

    def live_mask(self, dropped_docs: set[str]) -> NDArray[np.bool_]:
        keep = np.ones(self.size, dtype=bool)
        keep[self.rows_of_docs(dropped_docs)] = False
        return keep

    def passages(self, ids: Sequence[int]) -> dict[int, Passage]:
        out: dict[int, Passage] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = [int(i) for i in ids[start : start + _CHUNK]]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(f"SELECT {_PASSAGE_COLUMNS} FROM passages WHERE id IN ({marks})", chunk):
                out[int(row[0])] = Passage(str(row[1]), str(row[2]), str(row[3]), int(row[4]), int(row[5]),
                                           int(row[6]), str(row[7]))
        return out

    def iter_passages(self) -> Iterator[tuple[int, Passage, str]]:
        """(id, passage, content key) of every passage here, in id order."""
        for row in self.db.execute(f"SELECT {_PASSAGE_COLUMNS}, key FROM passages ORDER BY id"):
            yield int(row[0]), Passage(str(row[1]), str(row[2]), str(row[3]), int(row[4]), int(row[5]),
                                       int(row[6]), str(row[7])), str(row[8])

    def passages_of(self, doc_id: str) -> list[Passage]:
        rows = self.db.execute(f"SELECT {_PASSAGE_COLUMNS} FROM passages WHERE doc_id = ? ORDER BY id", (doc_id,))
        return [Passage(str(r[1]), str(r[2]), str(r[3]), int(r[4]), int(r[5]), int(r[6]), str(r[7])) for r in rows]

    def document(self, doc_id: str) -> Document | None:
        row = self.db.execute(
            "SELECT doc_id, title, text, sha256, source, author, date FROM documents WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        return None if row is None else Document(*(str(x) for x in row))

    def keys(self, keys: Sequence[str]) -> dict[str, int]:
        """Row of a passage with each content key that is here."""
        out: dict[str, int] = {}
        for start in range(0, len(keys), _CHUNK):
            chunk = list(keys[start : start + _CHUNK])
            marks = ",".join("?" * len(chunk))
            for key, pid in self.db.execute(f"SELECT key, id FROM passages WHERE key IN ({marks})", chunk):
                out.setdefault(str(key), int(pid))
        if not out:
            return {}
        rows = np.searchsorted(self.ids, np.asarray(list(out.values()), dtype=np.int64))
        return dict(zip(out, rows.tolist(), strict=True))

    def term_id(self, term: str) -> int | None:
        row = self.db.execute("SELECT tid FROM terms WHERE term = ?", (term,)).fetchone()
        return None if row is None else int(row[0])

    def terms(self) -> list[str]:
        """Every term, by term id."""
        return [str(t) for (t,) in self.db.execute("SELECT term FROM terms ORDER BY tid")]

    def word(self, word: str) -> tuple[int, int, int] | None:
        row = self.db.execute("SELECT df, mid, cap FROM words WHERE word = ?", (word,)).fetchone()
        return None if row is None else (int(row[0]), int(row[1]), int(row[2]))

    def words(self, words: Sequence[str]) -> dict[str, int]:
        """Document frequency of those of ``words`` that are here."""
        out: dict[str, int] = {}
        for start in range(0, len(words), _CHUNK):
            chunk = list(words[start : start + _CHUNK])
            marks = ",".join("?" * len(chunk))
            out.update((str(w), int(df)) for w, df in self.db.execute(
                f"SELECT word, df FROM words WHERE word IN ({marks})", chunk))
        return out

    def all_words(self) -> Iterator[tuple[str, int]]:
        for w, df in self.db.execute("SELECT word, df FROM words"):
            yield str(w), int(df)

    def phrases(self, initials: str) -> list[tuple[str, int]]:
        return [(str(p), int(n)) for p, n in self.db.execute(
            "SELECT phrase, n FROM phrases WHERE initials = ?", (initials,))]

    def close(self) -> None:
        self.db.close()
        self.dense.close()


def _read_meta(folder: Path) -> dict[str, Any]:
    path = folder / META
    if path.is_symlink() or not folder.is_dir() or folder.is_symlink():
        raise ValueError(f"segment folder {folder.name} is missing or a symbolic link")
    if path.stat().st_size > 1 << 20:
        raise ValueError(f"{META} is too large")
    meta = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(meta, dict) or not isinstance(meta.get("files"), dict):
        raise ValueError(f"{META} is not a segment description")
    return meta


def prune(index_dir: Path, keep: set[str]) -> None:
    """Delete segment folders (and leftovers of killed writers) that are not in ``keep``. Call with
    the writer lock."""
    root = index_dir / SEGMENTS
    if not root.is_dir():
        return
    for path in root.iterdir():
        if path.name not in keep and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_symlink():
            path.unlink(missing_ok=True)
