"""Changing the Milvus store: add and remove documents (by doc_id) as one new version.

Order of a change (the caller holds the writer lock): mark ``writing``; insert the new passages and
documents with ``gen`` = the new version (readers filter ``gen <= their version``, so they stay
hidden); update the term and lexicon statistics; delete the removed and replaced documents' rows;
store the new manifest; point ``current`` at it; clear ``writing``. Milvus has no transaction over
several rows, so a reader of the old version sees a removal at once (a question that lists a
removed passage and then reads it gets IndexChangedError; the service loads the newer version and
asks again), and a writer killed half-way
leaves ``writing`` set: the store then refuses to load and says to rebuild (``ftzqa build``
starts afresh). The previous version's manifest is kept one change longer for readers that still
serve it.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import __version__
from ..errors import CorpusError
from ..lexicon import LexiconCounts
from ..script import profile
from ..settings import Settings
from ..sparse import Tokenizer
from ..types import Document, Passage, embed_input
from . import milvus_schema as ms
from .base import NewDocument
from .location import MilvusTarget
from .milvus import MilvusStore
from .segment import lexicon_texts

if TYPE_CHECKING:
    from numpy.typing import NDArray


class MilvusWriter:
    """Writes new versions of the Milvus index at ``target``; ``previous``: the live version to
    change, or None to start afresh (drops the collections)."""

    def __init__(self, target: MilvusTarget, previous: MilvusStore | None, settings: Settings) -> None:
        self.target = target
        self.previous = previous
        self.settings = settings
        self.tokenize = Tokenizer(settings.bm25)
        self.names = ms.names(target.prefix)

    def vectors_for(self, keys: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        """Stored vectors by content key (unchanged passages of an edited document keep theirs)."""
        prev = self.previous
        if prev is None or not keys:
            return {}
        wanted = set(keys)
        out: dict[str, NDArray[np.float32]] = {}
        c = ms.client(self.target)
        for part in ms.batched(sorted(wanted)):
            for row in c.query(self.names["passages"], filter=f"key in {ms.lit(part)}",
                               output_fields=["key", "dense"]):
                out[str(row["key"])] = np.asarray(row["dense"], dtype=np.float32)
        return out

    def _terms(self, passage: Passage) -> list[str]:
        return self.tokenize(embed_input(passage, self.settings.embed_title))

    def update(
        self,
        add: Sequence[NewDocument],
        remove: Sequence[str],
        meta: Mapping[str, Any],
        dictionary: Sequence[str] | None = None,
    ) -> str:
        prev = self.previous
        c = ms.client(self.target)
        if prev is None:
            dimension = int(meta["model"]["dimension"])
            ms.create(self.target, dimension, self.settings.bm25.k1, self.settings.bm25.b)
        m = prev.manifest if prev is not None else {}
        version = int(prev.version[1:]) + 1 if prev is not None else 1
        documents: dict[str, str] = dict(m.get("documents", {}))
        ranges: dict[str, list[int]] = {k: list(v) for k, v in m.get("ranges", {}).items()}
        next_id = int(m.get("next_id", 0))
        total_length = int(m.get("bm25_total_length", 0))
        count = int(m.get("passage_count", 0))
        scripts: Counter[str] = Counter(prev.scripts) if prev is not None else Counter()

        unknown = [d for d in remove if d not in documents]
        if unknown:
            raise CorpusError(f"no document {unknown[0]!r} in the index; name documents by their path in the corpus")
        replaced = [d.document.doc_id for d in add if d.document.doc_id in documents]
        gone = list(dict.fromkeys([*remove, *replaced]))
        left = (set(documents) - set(gone)) | {d.document.doc_id for d in add}
        if not left:
            raise CorpusError("that would leave the index without documents; keep at least one, or build anew")

        ms.put_meta(self.target, {"writing": json.dumps({"version": version, "started": time.time()})})
        terms_delta: Counter[str] = Counter()
        words = LexiconCounts()

        # what the removed documents counted for
        gone_words = LexiconCounts()
        for doc_id in gone:
            assert prev is not None
            doc = prev.document(doc_id)
            first, n = ranges[doc_id]
            passages = prev.passages(list(range(first, first + n)))
            if doc is not None:
                gone_words.add(LexiconCounts.of(lexicon_texts(doc, passages)))
            for p in passages:
                t = self._terms(p)
                total_length -= len(t)
                terms_delta.subtract(set(ms.term_token(x) for x in t))
            count -= n

        # the new documents' rows
        for d in add:
            doc, passages = d.document, list(d.passages)
            ids = list(range(next_id, next_id + len(passages)))
            rows = []
            vectors = np.asarray(d.vectors, dtype=np.float32)
            for pid, p, key, vec in zip(ids, passages, d.keys, vectors, strict=True):
                t = self._terms(p)
                total_length += len(t)
                tokens = [ms.term_token(x) for x in t]
                terms_delta.update(set(tokens))
                rows.append({
                    "id": pid, "gen": version, "key": key, "doc_id": doc.doc_id, "title": p.title, "section": p.section,
                    "paragraph": p.paragraph, "start": p.start, "end": p.end, "text": p.text,
                    "bm25": " ".join(tokens), "dense": vec.tolist(),
                })
            for part in ms.batched(rows):
                c.insert(self.names["passages"], list(part))
            self._insert_document(doc, version)
            words.add(LexiconCounts.of(lexicon_texts(doc, passages)))
            ranges[doc.doc_id] = [next_id, len(passages)]
            documents[doc.doc_id] = doc.sha256
            next_id += len(passages)
            count += len(passages)

        # statistics
        old_df: dict[str, int] = {}
        if prev is not None:
            prev.lexicon.prefetch([*words.words, *gone_words.words])  # type: ignore[attr-defined]
            for w in [*words.words, *gone_words.words]:
                s = prev.lexicon.stats(w)
                old_df[w] = s.df if s is not None else 0
        fresh = [w for w in words.words if old_df.get(w, 0) <= 0]
        scripts.update(profile(fresh))
        lost = [w for w, (df, _, _) in gone_words.words.items()
                if old_df.get(w, 0) + words.words.get(w, [0])[0] - df <= 0]
        scripts.subtract(profile(lost))
        self._update_stats(terms_delta, words, gone_words)

        # the removed and replaced documents' rows
        added = {d.document.doc_id for d in add}
        for doc_id in gone:
            where = f"doc_id == {ms.lit(doc_id)} and gen < {version}"
            c.delete(self.names["passages"], filter=where)
            c.delete(self.names["documents"], filter=where)
            if doc_id not in added:
                documents.pop(doc_id, None)
                ranges.pop(doc_id, None)

        manifest = {
            "format_version": meta["format_version"],
            "ftzqa_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "store": "milvus",
            **{k: v for k, v in meta.items() if k != "format_version"},
            "passage_count": count,
            "document_count": len(documents),
            "bm25_total_length": total_length,
            "scripts": {k: v for k, v in sorted(scripts.items()) if v > 0},
            "documents": documents,
            "ranges": ranges,
            "next_id": next_id,
        }
        self._dictionary(manifest, version, dictionary)
        pieces = ms.write_manifest(self.target, version, manifest)
        ms.put_meta(self.target, {"current": json.dumps({"version": version, "pieces": pieces})})
        ms.delete_meta(self.target, ["writing"])
        self._prune(version)
        return f"v{version:08d}"

    def _dictionary(self, manifest: dict[str, Any], version: int, dictionary: Sequence[str] | None) -> None:
        prev = self.previous
        if dictionary is None and prev is not None and "dictionary_id" in prev.manifest:
            manifest["dictionary_id"] = prev.manifest["dictionary_id"]
            manifest["dictionary_pieces"] = prev.manifest["dictionary_pieces"]
            return
        parts = ms.pieces(json.dumps(sorted(dictionary or []), ensure_ascii=False))
        ms.put_meta(self.target, {f"dictionary/{version}/{i}": p for i, p in enumerate(parts)})
        manifest["dictionary_id"] = version
        manifest["dictionary_pieces"] = len(parts)

    def _insert_document(self, doc: Document, version: int) -> None:
        info = json.dumps({"title": doc.title, "sha256": doc.sha256, "source": doc.source,
                           "author": doc.author, "date": doc.date}, ensure_ascii=False)
        if len(info.encode("utf-8")) > 65_000:
            info = json.dumps({"title": doc.title[:4000], "sha256": doc.sha256, "source": doc.source[:4000],
                               "author": doc.author[:4000], "date": doc.date[:200]}, ensure_ascii=False)
        rows = [{"key": f"{doc.doc_id}#{version}#{i}", "doc_id": doc.doc_id, "gen": version, "n": i,
                 "meta": info if i == 0 else "", "text": part, "v": [0.0, 0.0]}
                for i, part in enumerate(ms.pieces(doc.text))]
        for part in ms.batched(rows, 50):
            ms.client(self.target).insert(self.names["documents"], list(part))

    def _update_stats(self, terms: Counter[str], words: LexiconCounts, gone: LexiconCounts) -> None:
        delta: dict[str, list[int]] = {}
        initials: dict[str, tuple[str, str]] = {}
        for token, n in terms.items():
            if n:
                delta[f"t:{token}"] = [n, 0, 0]
        for source, sign in ((words, 1), (gone, -1)):
            for w, (df, mid, cap) in source.words.items():
                row = delta.setdefault(f"w:{w}", [0, 0, 0])
                row[0] += sign * df
                row[1] += sign * mid
                row[2] += sign * cap
            for (i, phrase), n in source.phrases.items():
                key = f"p:{i}\x1f{phrase}"
                if len(key) > ms.MAX_KEY:
                    continue
                initials[key] = (i, phrase)
                delta.setdefault(key, [0, 0, 0])[0] += sign * n
        delta = {k: v for k, v in delta.items() if any(v)}
        c = ms.client(self.target)
        keys = sorted(delta)
        for part in ms.batched(keys, 1000):
            have = {str(r["key"]): r for r in c.query(self.names["stats"], ids=list(part),
                                                      output_fields=["key", "initials", "phrase", "a", "b", "c"])}
            upsert, drop = [], []
            for key in part:
                old = have.get(key)
                a, b, cc = (int(old["a"]), int(old["b"]), int(old["c"])) if old is not None else (0, 0, 0)
                d = delta[key]
                a, b, cc = a + d[0], b + d[1], cc + d[2]
                if a <= 0:
                    if old is not None:
                        drop.append(key)
                    continue
                i, phrase = initials.get(key, ("", ""))
                upsert.append({"key": key, "initials": i, "phrase": phrase, "a": a, "b": b, "c": cc,
                               "v": [0.0, 0.0]})
            if upsert:
                c.upsert(self.names["stats"], upsert)
            if drop:
                c.delete(self.names["stats"], ids=drop)

    def _prune(self, version: int) -> None:
        """Manifests older than the previous version (readers may still serve the previous one)."""
        c = ms.client(self.target)
        rows = c.query(self.names["meta"], filter='key like "manifest/%"', output_fields=["key"])
        old = [str(r["key"]) for r in rows if int(str(r["key"]).split("/")[1]) < version - 1]
        ms.delete_meta(self.target, old)
