"""Changing the embedded store: add and remove documents, merge and compact segments.

Every change writes a new generation (``store.new_generation``: temporary folder, fsync, rename,
then ``CURRENT`` replaced atomically); new segments are complete and fsynced before a generation
names them. A writer killed at any moment leaves the previous generation working; the leftovers
(a half-written segment, a segment no generation names) are deleted by the next writer. The
caller holds the index's writer lock.

- **add** writes one new segment with the new documents (never rewriting existing ones); a
  document already present is replaced (its old version gets a tombstone).
- **remove** writes tombstones only (see ``removed``).
- **merge policy** (after each change): when the flat (exactly searched) segments at the end hold
  more than the ANN threshold, they are folded into one (which gets an IVF index); when there are
  more than ``MAX_SEGMENTS`` segments, the adjacent pair with the fewest passages is folded, as long
  as the result stays under ``AUTO_MERGE_LIMIT`` passages (bigger folds wait for ``compact``, so an
  add never rebuilds a big index). A fold drops the tombstoned passages of what it folds.
- **compact** folds everything into one segment without tombstones.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import __version__
from ..errors import CorpusError
from ..lexicon import LexiconCounts
from ..script import profile
from ..settings import Settings
from ..sparse import Tokenizer
from ..store import new_generation, write_json
from ..types import embed_input
from . import segment as segments
from .base import NewDocument
from .embedded import DICTIONARY, EmbeddedStore
from .removed import FILE as REMOVED
from .removed import Removed
from .segment import SEGMENTS, Segment, SegmentInfo, lexicon_texts
from .vectors import FLAT, HNSW, AnnSettings

if TYPE_CHECKING:
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

MAX_SEGMENTS = 8
AUTO_MERGE_LIMIT = 100_000  # passages; an automatic fold never builds a bigger segment
MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class Encoder:
    """The question encoder a generation records: the manifest entry, and the tokenizer file's
    text (ONNX encoders only)."""

    entry: dict[str, Any]
    tokenizer: str | None = None
    tokenizer_file: str = "query-tokenizer.json"


def _clone(removed: Removed) -> Removed:
    return Removed.from_dict(json.loads(json.dumps(removed.to_dict())))


class EmbeddedWriter:
    """Writes new generations of the embedded store in ``index_dir``.

    ``previous``: the live generation to change (opened ``for_writing``), or None to start afresh
    (a new index, or one built with another model or other settings).
    """

    def __init__(self, index_dir: Path, previous: EmbeddedStore | None, settings: Settings) -> None:
        self.index_dir = index_dir
        self.previous = previous
        self.settings = settings
        self.ann = AnnSettings(threshold=settings.ann_threshold)
        self.tokenize = Tokenizer(settings.bm25)

    def vectors_for(self, keys: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        return self.previous.vectors_for(keys) if self.previous is not None else {}

    def _terms(self, passage: Any) -> list[str]:
        return self.tokenize(embed_input(passage, self.settings.embed_title))

    # --- add and remove ------------------------------------------------------------------------

    def update(
        self,
        add: Sequence[NewDocument],
        remove: Sequence[str],
        meta: Mapping[str, Any],
        encoder: Encoder,
        dictionary: Sequence[str] | None = None,
    ) -> str:
        """A new generation with ``add`` added and ``remove`` removed; returns its name.

        ``meta``: manifest fields the caller owns (model, embedding, chunker, bm25, corpus, files,
        skipped). ``dictionary``: the model's words (None: keep the previous generation's).
        """
        prev = self.previous
        infos = list(prev.infos) if prev else []
        removed = _clone(prev.removed) if prev else Removed()
        documents: dict[str, str] = dict(prev.manifest["documents"]) if prev else {}
        next_id = int(prev.manifest["next_id"]) if prev else 0
        scripts: Counter[str] = Counter(prev.scripts) if prev else Counter()
        opened: dict[str, Segment] = {s.name: s for s in prev.segments} if prev else {}
        gone_now = LexiconCounts()
        new_words = LexiconCounts()

        # tombstones: removed documents, and the old versions of replaced ones
        replaced = [d.document.doc_id for d in add if d.document.doc_id in documents]
        unknown = [d for d in remove if d not in documents]
        if unknown:
            raise CorpusError(f"no document {unknown[0]!r} in the index; name documents by their path in the corpus")
        for doc_id in dict.fromkeys([*remove, *replaced]):
            assert prev is not None
            seg = prev.segment_of(doc_id)
            if seg is None:  # listed but not found: the manifest and the segments disagree
                raise ValueError(f"document {doc_id!r} is listed but no segment holds it")
            doc = seg.document(doc_id)
            assert doc is not None
            tomb = Removed.of(seg.name, [(doc, seg.passages_of(doc_id))], self._terms)
            removed.add(tomb)
            gone_now.add(tomb.lexicon)
            del documents[doc_id]

        # one new segment for the new documents
        new_info: SegmentInfo | None = None
        if add:
            passages = [p for d in add for p in d.passages]
            ids = np.arange(next_id, next_id + len(passages), dtype=np.int64)
            keys = [k for d in add for k in d.keys]
            vectors = np.concatenate([np.asarray(d.vectors, dtype=np.float32) for d in add])
            for d in add:
                new_words.add(LexiconCounts.of(lexicon_texts(d.document, d.passages)))
            new_info = segments.write(
                self.index_dir, ids, [d.document for d in add], passages, keys, vectors,
                [self._terms(p) for p in passages], new_words, self.ann,
            )
            infos.append(new_info)
            next_id += len(passages)
            documents.update((d.document.doc_id, d.document.sha256) for d in add)
        if not documents:
            raise CorpusError("that would leave the index without documents; keep at least one, or build anew")

        # the scripts of the index's distinct words: words new to it count, words gone from it stop counting
        def old_df(word: str) -> int:
            found = prev.lexicon.stats(word) if prev is not None else None
            return found.df if found is not None else 0

        fresh = [w for w in new_words.words if old_df(w) <= 0]
        scripts.update(profile(fresh))
        lost = [
            w for w, (df, _, _) in gone_now.words.items()
            if old_df(w) + new_words.words.get(w, [0])[0] - df <= 0
        ]
        scripts.subtract(profile(lost))

        if new_info is not None:
            opened[new_info.name] = self._open(new_info, set())
        try:
            infos, removed = self._merge_policy(infos, removed, opened)
            return self._commit(infos, removed, documents, next_id, scripts, meta, encoder, dictionary)
        finally:
            for name, seg in opened.items():
                if prev is None or name not in {s.name for s in prev.segments}:
                    seg.close()

    def _open(self, info: SegmentInfo, dead: set[str]) -> Segment:
        dimension = self.previous.dimension if self.previous else None
        folder = self.index_dir / SEGMENTS / info.name
        meta = json.loads((folder / segments.META).read_text(encoding="utf-8"))
        return Segment(folder, info, int(dimension or meta["dimension"]), self.ann, dead, check=False, graph=False)

    # --- merging ---------------------------------------------------------------------------------

    def _merge_policy(
        self, infos: list[SegmentInfo], removed: Removed, opened: dict[str, Segment]
    ) -> tuple[list[SegmentInfo], Removed]:
        # a segment whose every passage was removed is simply dropped
        for info in list(infos):
            if removed.in_segment(info.name) and not opened[info.name].live_mask(removed.in_segment(info.name)).any():
                removed = self._purge(removed, [opened[info.name]])
                infos.remove(info)
        while True:
            tail: list[int] = []
            for i in range(len(infos) - 1, -1, -1):
                if infos[i].dense != FLAT:
                    break
                tail.insert(0, i)
            if len(tail) >= 2 and sum(infos[i].passages for i in tail) > self.ann.threshold:
                run = tail
            elif len(infos) > MAX_SEGMENTS:
                pairs = [
                    (infos[i].passages + infos[i + 1].passages, -i, i)
                    for i in range(len(infos) - 1)
                    if infos[i].passages + infos[i + 1].passages <= AUTO_MERGE_LIMIT
                ]
                if not pairs:
                    log.warning("%d segments; run ftzqa compact to fold them", len(infos))
                    break
                i = min(pairs)[2]
                run = [i, i + 1]
            else:
                break
            infos, removed = self._fold(infos, removed, opened, run)
        return infos, removed

    def _fold(
        self, infos: list[SegmentInfo], removed: Removed, opened: dict[str, Segment], run: list[int]
    ) -> tuple[list[SegmentInfo], Removed]:
        parts = [opened[infos[i].name] for i in run]
        log.info("folding %d segments (%d passages)", len(parts), sum(p.size for p in parts))
        dropped = [set(removed.in_segment(p.name)) for p in parts]
        purged = self._tombstones(parts, removed)
        merged = segments.merge(self.index_dir, parts, dropped, purged.lexicon, self.ann)
        removed = _clone(removed)
        removed.add(purged, -1)
        new = [] if merged is None else [merged]
        if merged is not None:
            opened[merged.name] = self._open(merged, set())
        return infos[: run[0]] + new + infos[run[-1] + 1 :], removed

    def _tombstones(self, parts: Sequence[Segment], removed: Removed) -> Removed:
        """What the tombstones in ``parts`` count for (recomputed from their passages)."""
        total = Removed()
        for seg in parts:
            docs = []
            for doc_id in sorted(removed.in_segment(seg.name)):
                doc = seg.document(doc_id)
                if doc is not None:
                    docs.append((doc, seg.passages_of(doc_id)))
            if docs:
                total.add(Removed.of(seg.name, docs, self._terms))
        return total

    def _purge(self, removed: Removed, parts: Sequence[Segment]) -> Removed:
        out = _clone(removed)
        out.add(self._tombstones(parts, removed), -1)
        return out

    def compact(self, meta: Mapping[str, Any], encoder: Encoder) -> str:
        """One segment, no tombstones, and an IVF index where an older ftzqa left an HNSW graph."""
        prev = self.previous
        if prev is None:
            raise ValueError("nothing to compact")
        opened = {s.name: s for s in prev.segments}
        infos, removed = list(prev.infos), _clone(prev.removed)
        if len(infos) > 1 or removed.passages or any(i.dense == HNSW for i in infos):
            infos, removed = self._fold(infos, removed, opened, list(range(len(infos))))
        try:
            return self._commit(
                infos, removed, dict(prev.manifest["documents"]), int(prev.manifest["next_id"]),
                Counter(prev.scripts), meta, encoder, None,
            )
        finally:
            for name, seg in opened.items():
                if name not in {s.name for s in prev.segments}:
                    seg.close()

    # --- the generation ------------------------------------------------------------------------

    def _commit(
        self,
        infos: list[SegmentInfo],
        removed: Removed,
        documents: dict[str, str],
        next_id: int,
        scripts: Counter[str],
        meta: Mapping[str, Any],
        encoder: Encoder,
        dictionary: Sequence[str] | None,
    ) -> str:
        live = sum(i.passages for i in infos) - removed.passages
        manifest = {
            "format_version": meta["format_version"],
            "ftzqa_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "store": "embedded",
            **{k: v for k, v in meta.items() if k != "format_version"},
            "ann": self.ann.to_dict(),
            "passage_count": live,
            "document_count": len(documents),
            "scripts": {k: v for k, v in sorted(scripts.items()) if v > 0},
            "documents": documents,
            "segments": [i.to_dict() for i in infos],
            "next_id": next_id,
            "removed_passages": removed.passages,
            "query_encoder": encoder.entry,
        }
        if dictionary is None and self.previous is not None and (self.previous.path / DICTIONARY).is_file():
            words = (self.previous.path / DICTIONARY).read_text(encoding="utf-8")
        else:
            words = json.dumps(sorted(dictionary or []), ensure_ascii=False)
        with new_generation(self.index_dir) as tmp:
            (tmp / REMOVED).write_text(json.dumps(removed.to_dict(), ensure_ascii=False), encoding="utf-8")
            (tmp / DICTIONARY).write_text(words, encoding="utf-8")
            if encoder.tokenizer is not None:
                (tmp / encoder.tokenizer_file).write_text(encoder.tokenizer, encoding="utf-8")
            write_json(tmp / MANIFEST, manifest)  # last: a folder without it is not an index
            name = tmp  # the folder is renamed on success; its final name is read from CURRENT below
        del name
        keep = referenced_segments(self.index_dir)
        segments.prune(self.index_dir, keep)
        from ..store import current_generation

        gen = current_generation(self.index_dir)
        return gen.name if gen is not None else ""


def referenced_segments(index_dir: Path) -> set[str]:
    """Names of the segments some generation in ``index_dir`` uses."""
    keep: set[str] = set()
    for path in index_dir.glob("gen-*/manifest.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            keep.update(str(s["name"]) for s in data.get("segments", []))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return keep
