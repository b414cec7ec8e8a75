"""Grid search of the retrieval settings on the SQuAD *dev* articles (never the evaluation ones).

    python bench/tune.py [--questions 80]

For each chunking / title / BM25 setting it builds the pooled dev index once, scores every
question against every passage (dense cosine and BM25 as matrices) and replays the hybrid
fusion of ``Retriever._rank`` (candidate pool from both retrievers, min-max per question,
convex combination) for a sweep of dense weights, so one setting costs seconds, not minutes.
Writes bench/results/tune.json; the chosen values go into src/ftzqa/settings.py by hand.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SQUAD, Article, CachedEmbedder, dev_articles, load_squad, quiet, write_corpus, write_results  # noqa: E402

from ftzqa.index import build, load_index  # noqa: E402
from ftzqa.settings import BM25Settings, ChunkSettings, Settings  # noqa: E402

WEIGHTS = [round(x, 2) for x in np.arange(0.0, 1.0001, 0.05)]


@dataclass
class Matrices:
    dense: np.ndarray  # questions x passages, cosine
    bm25: np.ndarray  # questions x passages
    relevant: np.ndarray  # questions x passages, bool


def matrices(
    articles: list[Article], embedder: CachedEmbedder, settings: Settings, questions: int | None, work: Path
) -> Matrices:
    build(write_corpus(articles, work / "corpus"), work / "index", settings, embedder=embedder)
    idx = load_index(work / "index")
    items = [item for art in articles for item in art.gold(questions)]
    q = embedder.encode([x.question for x in items])
    dense = q @ idx.dense.vectors().T
    bm25 = np.stack([idx.sparse.scores(idx.sparse.tokenize(x.question)) for x in items])
    low = [p.text.lower() for p in idx.passages]
    relevant = np.array([[any(a.lower() in t for a in x.answers) for t in low] for x in items], dtype=bool)
    return Matrices(dense.astype(np.float32), bm25, relevant)


def _topn(scores: np.ndarray, n: int) -> np.ndarray:
    """Row-wise indices of the n best, unordered."""
    return np.argpartition(-scores, n - 1, axis=1)[:, :n]


def _minmax(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    lo = np.where(mask, x, np.inf).min(axis=1, keepdims=True)
    hi = np.where(mask, x, -np.inf).max(axis=1, keepdims=True)
    span = hi - lo
    return np.where(span > 1e-12, (x - lo) / np.where(span > 1e-12, span, 1.0), 0.0)


def metrics(ranked: np.ndarray, m: Matrices) -> dict[str, float]:
    """hit@1/3/5, MRR@10, nDCG@10 for row-wise rankings (first 10 columns used)."""
    rel = np.take_along_axis(m.relevant, ranked[:, :10], axis=1)
    first = np.where(rel.any(axis=1), rel.argmax(axis=1) + 1, 0)
    disc = 1.0 / np.log2(np.arange(2, 12))
    n_rel = np.minimum(m.relevant.sum(axis=1), 10)
    ideal = np.array([disc[:n].sum() for n in n_rel])
    ndcg = np.where(ideal > 0, (rel * disc).sum(axis=1) / np.where(ideal > 0, ideal, 1), 0.0)
    return {
        "hit@1": float((first == 1).mean()),
        "hit@3": float(((first >= 1) & (first <= 3)).mean()),
        "hit@5": float(((first >= 1) & (first <= 5)).mean()),
        "mrr": float(np.where(first > 0, 1.0 / np.maximum(first, 1), 0.0).mean()),
        "ndcg@10": float(ndcg.mean()),
    }


def rank(scores: np.ndarray, depth: int = 10) -> np.ndarray:
    top = _topn(scores, depth)
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def hybrid(m: Matrices, weight: float, pool: int) -> np.ndarray:
    """The ranking of Retriever._rank in hybrid mode, for every question at once."""
    n = min(pool, m.dense.shape[1])
    mask = np.zeros_like(m.relevant)
    np.put_along_axis(mask, _topn(m.dense, n), True, axis=1)
    by_bm25 = _topn(m.bm25, n)
    keyword = np.zeros_like(mask)
    np.put_along_axis(keyword, by_bm25, np.take_along_axis(m.bm25, by_bm25, axis=1) > 0, axis=1)
    mask |= keyword
    fused = weight * _minmax(m.dense, mask) + (1 - weight) * _minmax(m.bm25, mask)
    return rank(np.where(mask, fused, -np.inf))


def sweep(m: Matrices, pool: int) -> dict[str, Any]:
    out: dict[str, Any] = {"dense": metrics(rank(m.dense), m), "bm25": metrics(rank(m.bm25), m)}
    out["hybrid"] = {str(w): metrics(hybrid(m, w, pool), m) for w in WEIGHTS}
    return out


def best(s: dict[str, Any], key: str = "mrr") -> tuple[str, dict[str, float]]:
    w = max(s["hybrid"], key=lambda w: s["hybrid"][w][key])
    return w, s["hybrid"][w]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=SQUAD)
    p.add_argument("--questions", type=int, default=80, help="questions per article (default: %(default)s)")
    p.add_argument("--stage", choices=("chunk", "bm25", "all"), default="all")
    args = p.parse_args(argv)
    quiet()
    articles = dev_articles(load_squad(args.data))
    embedder = CachedEmbedder()
    base = Settings()
    runs: dict[str, Any] = {}

    def run(name: str, settings: Settings) -> dict[str, Any]:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="ftzqa-tune-") as tmp:
            m = matrices(articles, embedder, settings, args.questions, Path(tmp))
        embedder.save()
        s = sweep(m, settings.pool)
        w, h = best(s)
        runs[name] = s
        print(
            f"{name:28s} dense mrr {s['dense']['mrr']:.3f} h@1 {s['dense']['hit@1']:.3f}"
            f"  bm25 mrr {s['bm25']['mrr']:.3f} h@1 {s['bm25']['hit@1']:.3f}"
            f"  | best w {w}: mrr {h['mrr']:.3f} h@1 {h['hit@1']:.3f} ndcg {h['ndcg@10']:.3f}"
            f"  | w 0.5: mrr {s['hybrid']['0.5']['mrr']:.3f}  ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        return s

    if args.stage in ("chunk", "all"):
        for title in (True, False):
            for tokens in (128, 160, 200, 256):
                run(f"title={title} tokens={tokens}", replace(base, embed_title=title, chunk=ChunkSettings(tokens)))
    if args.stage in ("bm25", "all"):
        for k1 in (0.9, 1.2, 1.5, 2.0):
            for b in (0.3, 0.5, 0.75, 0.9):
                run(f"k1={k1} b={b}", replace(base, bm25=BM25Settings(k1=k1, b=b)))
    write_results(f"tune-{args.stage}", {"weights": WEIGHTS, "questions_per_article": args.questions, "runs": runs})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
