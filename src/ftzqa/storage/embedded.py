"""The embedded store (default): one index folder on this machine, read by id, never loaded whole.

Layout::

    index/CURRENT                 names the live generation
    index/gen-*/manifest.json     checked first: format, model, settings, segments, files, ...
    index/gen-*/removed.json      tombstones (see ``removed``)
    index/gen-*/dictionary.json   the model's own words (typo correction leaves them alone)
    index/gen-*/query-tokenizer.json
    index/segments/seg-*/         immutable segments (see ``segment``), shared by generations
    index/onnx/<sha256>/          the ONNX question encoder, shared by generations

A generation is small: it names its segments. Adding a document writes one small segment and a
new generation; removing one writes only a new generation; merges fold segments (see ``writer``).

Opening a generation opens every segment file (SQLite read-only, arrays memory-mapped, IVF / HNSW
indexes read into memory) and checks sizes and array bounds, so nothing is read half-way through a
question and a segment pruned later keeps working for a process that still serves it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..embed import Embedder
from ..lexicon import Lexicon, WordStats
from ..settings import BM25Settings
from ..sparse import Tokenizer
from ..store import current_generation
from ..types import Document, Passage
from .base import LiveDocuments, ManifestFacts
from .postings import KeywordIndex, Part
from .removed import FILE as REMOVED
from .removed import Removed
from .segment import SEGMENTS, Segment, SegmentInfo
from .vectors import AnnSettings

if TYPE_CHECKING:
    from numpy.typing import NDArray


DICTIONARY = "dictionary.json"


class StoreLexicon(Lexicon):
    """The lexicon over all segments: counts summed, removed documents' counts taken off."""

    def __init__(self, segments: Sequence[Segment], removed: Removed, dictionary: Path) -> None:
        self._segments = segments
        self._removed = removed.lexicon
        self._dictionary_file = dictionary
        self._dictionary: frozenset[str] | None = None
        self._stats: dict[str, WordStats | None] = {}
        self._lock = threading.Lock()

    @property
    def dictionary(self) -> frozenset[str]:
        if self._dictionary is None:
            try:
                words = json.loads(self._dictionary_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                words = []
            self._dictionary = frozenset(str(w) for w in words) if isinstance(words, list) else frozenset()
        return self._dictionary

    def stats(self, word: str) -> WordStats | None:
        if word in self._stats:
            return self._stats[word]
        df = mid = cap = 0
        for seg in self._segments:
            row = seg.word(word)
            if row is not None:
                df, mid, cap = df + row[0], mid + row[1], cap + row[2]
        gone = self._removed.words.get(word)
        if gone is not None:
            df, mid, cap = df - gone[0], mid - gone[1], cap - gone[2]
        found = WordStats(df, mid, cap) if df > 0 else None
        if len(self._stats) > 100_000:
            self._stats.clear()
        self._stats[word] = found
        return found

    def _phrases(self, initials: Sequence[str]) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for seg in self._segments:
            for i in initials:
                for phrase, n in seg.phrases(i):
                    counts[(i, phrase)] = counts.get((i, phrase), 0) + n
        for key, n in self._removed.phrases.items():
            if key in counts:
                counts[key] -= n
        return counts

    def _vocabulary(self) -> dict[str, int]:
        with self._lock:
            df: dict[str, int] = {}
            for seg in self._segments:
                for word, n in seg.all_words():
                    df[word] = df.get(word, 0) + n
            for word, (n, _, _) in self._removed.words.items():
                if word in df:
                    df[word] -= n
            return {w: n for w, n in df.items() if n > 0}


class EmbeddedStore(ManifestFacts):
    """A loaded generation of the embedded store (read-only; thread-safe for searches)."""

    def __init__(self, index_dir: Path, generation: Path, manifest: dict[str, Any], *, for_writing: bool = False):
        self.index_dir = index_dir
        self.path = generation  # the generation folder
        self._manifest = manifest
        self.ann = AnnSettings.from_dict(manifest["ann"]).for_search()
        self.bm25_settings = BM25Settings(**manifest["bm25"])
        self.infos = [SegmentInfo.from_dict(s) for s in manifest["segments"]]
        firsts = [s.first_id for s in self.infos]
        if any(b.first_id <= a.last_id for a, b in zip(self.infos, self.infos[1:], strict=False)) or any(
            s.first_id > s.last_id for s in self.infos
        ):
            raise ValueError("segments overlap or are out of order")
        self.removed = Removed.from_dict(json.loads((generation / REMOVED).read_text(encoding="utf-8")))
        unknown = set(self.removed.documents) - {s.name for s in self.infos}
        if unknown:
            raise ValueError(f"tombstones name unknown segments {sorted(unknown)[:3]}")
        self.segments: list[Segment] = []
        try:
            for info in self.infos:
                folder = index_dir / SEGMENTS / info.name
                self.segments.append(
                    Segment(folder, info, self.dimension, self.ann, self.removed.in_segment(info.name),
                            check=not for_writing, graph=not for_writing)
                )
        except BaseException:
            self.close()
            raise
        self._firsts = np.asarray(firsts, dtype=np.int64)
        sizes = [s.size for s in self.segments]
        self._offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)
        dead = np.zeros(int(self._offsets[-1]), dtype=bool)
        for seg, off in zip(self.segments, self._offsets.tolist(), strict=False):
            dead[off + seg.dead_rows] = True
        if int(dead.sum()) != self.removed.passages:
            raise ValueError(f"{int(dead.sum())} removed passages in the segments, {self.removed.passages} recorded")
        self._dead = dead
        live = int(self._offsets[-1]) - int(dead.sum())
        if live != int(manifest["passage_count"]):
            raise ValueError(f"{live} live passages, manifest says {manifest['passage_count']}")
        self.tokenize = Tokenizer(self.bm25_settings)
        offsets = self._offsets.tolist()
        self.keywords = KeywordIndex(
            [Part(s.postings, s.term_id, int(off)) for s, off in zip(self.segments, offsets, strict=False)],
            self.bm25_settings,
            dead=dead,
            removed_df=lambda t: self.removed.terms.get(t, 0),
            removed_passages=self.removed.passages,
            removed_length=self.removed.length,
        )
        self._lexicon = StoreLexicon(self.segments, self.removed, generation / DICTIONARY)
        self._documents = LiveDocuments(self.manifest["documents"], self.document)

    # --- what it is ------------------------------------------------------------------------------

    @property
    def location(self) -> str:
        return str(self.index_dir)

    @property
    def version(self) -> str:
        return self.path.name

    def latest_version(self) -> str | None:
        gen = current_generation(self.index_dir)
        return None if gen is None else gen.name

    @property
    def passage_count(self) -> int:
        return int(self._manifest["passage_count"])

    def query_embedder(self) -> Embedder | None:
        from ..onnx_embed import load_embedder

        return load_embedder(self.path, self._manifest)

    # --- text statistics -------------------------------------------------------------------------

    def idf(self, term: str) -> float:
        return self.keywords.idf(term)

    def known(self, term: str) -> bool:
        return self.keywords.known(term)

    @property
    def lexicon(self) -> Lexicon:
        return self._lexicon

    # --- ids and rows ----------------------------------------------------------------------------

    def _rows(self, ids: Sequence[int] | NDArray[np.int64]) -> NDArray[np.int64]:
        """Global rows of live passage ids (KeyError for one that is not live)."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return np.zeros(0, dtype=np.int64)
        seg = np.searchsorted(self._firsts, ids, side="right") - 1
        rows = np.empty(len(ids), dtype=np.int64)
        for s in np.unique(seg).tolist():
            if s < 0:
                raise KeyError(int(ids[seg == s][0]))
            mask = seg == s
            want = ids[mask]
            segment_ids = self.segments[s].ids
            local = np.searchsorted(segment_ids, want)
            bad = (local >= len(segment_ids)) | (segment_ids[np.minimum(local, len(segment_ids) - 1)] != want)
            if bad.any():
                raise KeyError(int(want[bad][0]))
            rows[mask] = local + self._offsets[s]
        if self._dead[rows].any():
            raise KeyError(int(ids[self._dead[rows]][0]))
        return rows

    def _ids(self, rows: NDArray[np.int64]) -> NDArray[np.int64]:
        seg = np.searchsorted(self._offsets, rows, side="right") - 1
        out = np.empty(len(rows), dtype=np.int64)
        for s in np.unique(seg).tolist():
            mask = seg == s
            out[mask] = np.asarray(self.segments[s].ids)[rows[mask] - self._offsets[s]]
        return out

    # --- reads by id ---------------------------------------------------------------------------

    def passages(self, ids: Sequence[int]) -> list[Passage]:
        wanted = [int(i) for i in ids]
        rows = self._rows(wanted)
        seg = np.searchsorted(self._offsets, rows, side="right") - 1
        found: dict[int, Passage] = {}
        for s in np.unique(seg).tolist():
            found.update(self.segments[s].passages([i for i, g in zip(wanted, seg.tolist(), strict=True) if g == s]))
        return [found[i] for i in wanted]

    def document(self, doc_id: str) -> Document | None:
        if doc_id not in self._manifest["documents"]:
            return None
        for seg in reversed(self.segments):
            if doc_id in self.removed.in_segment(seg.name):
                continue
            doc = seg.document(doc_id)
            if doc is not None:
                return doc
        return None

    def segment_of(self, doc_id: str) -> Segment | None:
        """The segment holding the live version of a document."""
        for seg in reversed(self.segments):
            if doc_id not in self.removed.in_segment(seg.name) and seg.document(doc_id) is not None:
                return seg
        return None

    def first_ids(self, n: int) -> NDArray[np.int64]:
        rows = np.flatnonzero(~self._dead)[: max(0, n)]
        return self._ids(rows.astype(np.int64))

    def iter_passages(self) -> Iterator[Passage]:
        for seg in self.segments:
            gone = self.removed.in_segment(seg.name)
            for _, passage, _ in seg.iter_passages():
                if passage.doc_id not in gone:
                    yield passage

    # --- search ----------------------------------------------------------------------------------

    def dense_search(self, vector: NDArray[np.float32], k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        rows, scores = [], []
        for seg, off in zip(self.segments, self._offsets.tolist(), strict=False):
            r, s = seg.dense.search(vector, k)
            rows.append(r + off)
            scores.append(s)
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        all_rows, all_scores = np.concatenate(rows), np.concatenate(scores).astype(np.float32)
        order = np.lexsort((all_rows, -all_scores))[:k]
        return self._ids(all_rows[order]), all_scores[order]

    def dense_scores(self, vector: NDArray[np.float32], ids: NDArray[np.int64]) -> NDArray[np.float32]:
        rows = self._rows(ids)
        out = np.zeros(len(rows), dtype=np.float32)
        seg = np.searchsorted(self._offsets, rows, side="right") - 1
        for s in np.unique(seg).tolist():
            mask = seg == s
            out[mask] = self.segments[s].dense.scores(vector, rows[mask] - self._offsets[s])
        return out

    def vectors(self, ids: NDArray[np.int64]) -> NDArray[np.float32]:
        rows = self._rows(ids)
        out = np.zeros((len(rows), self.dimension), dtype=np.float32)
        seg = np.searchsorted(self._offsets, rows, side="right") - 1
        for s in np.unique(seg).tolist():
            mask = seg == s
            out[mask] = self.segments[s].dense.rows(rows[mask] - self._offsets[s])
        return out

    def bm25_search(self, terms: list[str], k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        rows, scores = self.keywords.search(terms, k)
        return self._ids(rows), scores

    def bm25_scores(self, terms: list[str], ids: NDArray[np.int64]) -> NDArray[np.float32]:
        return self.keywords.scores(terms, self._rows(ids))

    # --- for writers -----------------------------------------------------------------------------

    def vectors_for(self, keys: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        """Stored vectors of passages with these content keys (removed ones included: an edited
        document's unchanged paragraphs keep their vectors)."""
        out: dict[str, NDArray[np.float32]] = {}
        todo = list(dict.fromkeys(keys))
        for seg in reversed(self.segments):
            if not todo:
                break
            found = seg.keys(todo)
            if found:
                rows = np.asarray(list(found.values()), dtype=np.int64)
                vectors = np.asarray(seg.dense.vectors[rows], dtype=np.float32)
                out.update(zip(found, vectors, strict=True))
                todo = [k for k in todo if k not in found]
        return out

    def close(self) -> None:
        for seg in self.segments:
            seg.close()

