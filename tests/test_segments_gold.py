"""The article's gold sets answered alike by an index in one segment, the same documents spread
over segments with removed documents among them, and that index compacted (real model)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ARTICLE_CORPUS

from ftzqa.gold import load_gold, searched_queries
from ftzqa.index import build, compact, read_manifest, remove
from ftzqa.ingest import add
from ftzqa.retrieve import Retriever

DATA = Path(__file__).parent / "data"
EXTRA = {
    "aaa-ports.md": "# Ports of the world\n\nRotterdam is Europe's largest port. It handled 14 million containers.\n\n"
    "Shanghai's Yangshan port runs automated cranes around the clock.\n",
    "zzz-trade.md": "# Trade notes\n\nThe free trade agreement cut tariffs on steel by 10 percent.\n\n"
    "Exports of machinery rose in the first half of the year.\n",
}


class MemoEmbedder:
    """The real model, each question embedded once."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.model_id, self.dimension = inner, inner.model_id, inner.dimension
        self.memo: dict[str, np.ndarray] = {}

    def encode(self, texts: list[str], **kwargs: Any) -> np.ndarray:
        missing = [t for t in texts if t not in self.memo]
        if missing:
            self.memo.update(zip(missing, self.inner.encode(missing), strict=True))
        return np.stack([self.memo[t] for t in texts])


def _answers(index: Path, embedder: MemoEmbedder) -> dict[str, tuple[Any, ...]]:
    retriever = Retriever.load(index, embedder=embedder)
    out = {}
    for name in ("ftz_gold.jsonl", "ftz_loose.jsonl"):
        items = load_gold(DATA / name)
        for query in searched_queries(items, retriever.store.lexicon.is_name):
            for mode in ("hybrid", "dense", "bm25"):
                a = retriever.search(query, k=10, mode=mode)
                out[f"{name}|{mode}|{query}"] = (
                    a.found, round(a.confidence, 4), a.reason,
                    tuple((h.passage.doc_id, h.passage.start, round(h.score, 4)) for h in a.hits),
                    tuple((h.evidence.start, h.evidence.end) for h in a.hits),
                )
    return out


@pytest.mark.slow
@pytest.mark.embedded_only("segments, tombstones and compaction")
def test_segmented_compacted_and_single_segment_indexes_answer_the_gold_sets_alike(
    article_index: Path, real_embedder: Any, tmp_path: Path
) -> None:
    embedder = MemoEmbedder(real_embedder)
    want = _answers(article_index, embedder)  # the article alone, one segment

    # the article between two other documents in one segment, one more in a segment of its own;
    # then all three removed: tombstones in the article's segment, whose statistics must be the
    # article's alone again
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(ARTICLE_CORPUS, corpus)
    for name, text in EXTRA.items():
        (corpus / name).write_text(text, encoding="utf-8")
    build(corpus, index, embedder=real_embedder)
    (tmp_path / "later.md").write_text(EXTRA["zzz-trade.md"].replace("Trade notes", "Later notes"), encoding="utf-8")
    add([tmp_path / "later.md"], corpus, index, embedder=real_embedder)
    assert len(read_manifest(index)[1]["segments"]) == 2
    remove([*EXTRA, "later.md"], corpus, index)
    manifest = read_manifest(index)[1]
    assert len(manifest["segments"]) == 1 and manifest["removed_passages"] == 4
    assert _answers(index, embedder) == want
    compact(index)
    assert read_manifest(index)[1]["removed_passages"] == 0
    assert _answers(index, embedder) == want

    # the article in a later segment (its passage ids start after another document's)
    later, later_corpus = tmp_path / "later", tmp_path / "later-corpus"
    later_corpus.mkdir()
    (later_corpus / "aaa-ports.md").write_text(EXTRA["aaa-ports.md"], encoding="utf-8")
    build(later_corpus, later, embedder=real_embedder)
    add([ARTICLE_CORPUS / "ftz-one-year.md"], later_corpus, later, embedder=real_embedder)
    remove(["aaa-ports.md"], later_corpus, later)
    manifest = read_manifest(later)[1]
    assert manifest["segments"][0]["first_id"] == 2 and manifest["passage_count"] == 36
    assert _answers(later, embedder) == want
