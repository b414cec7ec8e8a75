"""Milvus's in-engine fusion (``hybrid_search`` + RRFRanker / WeightedRanker) against ftzqa's own.

    python bench/milvus_rankers.py               # FTZ gold + loose sets, 8 SQuAD articles x 20 questions
    python bench/milvus_rankers.py --articles 4  # fewer SQuAD articles

Ranking quality only (hit@1, hit@3, MRR@10 over answerable questions; follow-ups skipped), not
the verdict. Relevance as ``ftzqa.evaluate``: a passage is relevant when its text contains an
answer string, case-insensitively. Every index is a Milvus Lite file (``milvus:<path>.db``).

Per question, from the same analysed question (typo-corrected text, its ftzqa terms, its vector):

- ``ftzqa``: ``Retriever._rank(..., k=10, "hybrid")``, the ranking before the verdict may move
  the answering passage first: the store's dense top ``pool`` and BM25 top (engine list 2x deep,
  re-scored with ftzqa's BM25), union, ``dense_weight * minmax(cosine) + (1 - w) * minmax(bm25)``;
- ``ftzqa_search``: ``Retriever.search(k=10).hits`` (after the verdict's reorder), for reference;
- ``milvus_rrf``: ``hybrid_search`` with ``RRFRanker(60)``;
- ``milvus_weighted``: ``hybrid_search`` with ``WeightedRanker(0.5, 0.5)`` (pymilvus default
  ``norm_score=True``: arctan normalisation per metric, a route a passage is missing from adds 0).

Both ``hybrid_search`` requests are the store's own ``dense_search`` / ``bm25_search`` requests
(fields, metric types, params, the ``gen <= version`` filter, limits for k = ``Settings.pool``,
and the sparse query text: ``ms.term_token`` of each question term the index knows). The engine's
BM25 scores are its own (not ftzqa's re-scoring). SQuAD: the 8 evaluation articles of
``bench/squad.py --quick`` pooled in one index, 20 questions each (``Article.gold(20)``).
Timings: query side only (no embedding, no question analysis), Milvus Lite (searches FLAT).
Writes bench/results/milvus-rankers.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import (  # noqa: E402
    REPO,
    SQUAD,
    CachedEmbedder,
    evaluation_articles,
    load_squad,
    quiet,
    settings_dict,
    write_corpus,
    write_results,
)

from ftzqa.evaluate import DEPTH, GoldItem, contains_answer, first_relevant, load_gold  # noqa: E402
from ftzqa.index import build  # noqa: E402
from ftzqa.retrieve import Retriever, check_question  # noqa: E402
from ftzqa.settings import Settings  # noqa: E402
from ftzqa.storage import milvus_schema as ms  # noqa: E402
from ftzqa.storage.milvus import BM25_DEPTH  # noqa: E402

GOLD = REPO / "tests" / "data" / "ftz_gold.jsonl"
LOOSE = REPO / "tests" / "data" / "ftz_loose.jsonl"
METHODS = ("ftzqa", "ftzqa_search", "milvus_rrf", "milvus_weighted")
LABELS = {
    "ftzqa": "ftzqa fusion (_rank)",
    "ftzqa_search": "ftzqa search() (verdict order)",
    "milvus_rrf": "Milvus RRFRanker(60)",
    "milvus_weighted": "Milvus WeightedRanker(.5,.5)",
}


def store_spec(index_dir: Path) -> str:
    return f"milvus:{index_dir.absolute()}.milvus.db"


def index_and_load(corpus: Path, index_dir: Path, settings: Settings, embedder: CachedEmbedder) -> Retriever:
    build(corpus, index_dir, settings, embedder=embedder, store=store_spec(index_dir))
    return Retriever.load(index_dir, embedder=embedder, settings=settings, store=store_spec(index_dir))


def requests(retriever: Retriever, vector: np.ndarray, terms: list[str]) -> list[Any]:
    """The store's dense_search and bm25_search requests (k = the retriever's pool) as AnnSearchRequests."""
    from pymilvus import AnnSearchRequest

    store: Any = retriever.store
    k = max(DEPTH, retriever.settings.pool)
    store._prefetch_df(terms)  # noqa: SLF001 - as bm25_search does
    known = [t for t in terms if store.df(t) > 0]
    filt = f"gen <= {store._version}"  # noqa: SLF001 - the store's own filter
    reqs = [
        AnnSearchRequest(
            data=[np.asarray(vector, dtype=np.float32).tolist()], anns_field="dense",
            param={"metric_type": "IP", "params": {"ef": max(128, k)}}, limit=min(k, 16_384), filter=filt,
        )
    ]
    if known:  # bm25_search asks nothing without a known term
        reqs.append(
            AnnSearchRequest(
                data=[" ".join(ms.term_token(t) for t in known)], anns_field="sparse",
                param={"metric_type": "BM25"}, limit=min(max(BM25_DEPTH * k, k + 20), 16_384), filter=filt,
            )
        )
    return reqs


def milvus_ranking(retriever: Retriever, reqs: list[Any], ranker: Any) -> list[int]:
    store: Any = retriever.store
    hits = ms.client(store.target).hybrid_search(
        store.names["passages"], reqs, ranker, limit=DEPTH, output_fields=["id"]
    )[0]
    return [int(h["id"]) for h in hits]


def timed_call(fn: Callable[[], list[int]], into: list[float]) -> list[int]:
    started = time.perf_counter()
    out = fn()
    into.append((time.perf_counter() - started) * 1000)
    return out


def evaluate_set(name: str, retriever: Retriever, items: list[GoldItem]) -> dict[str, Any]:
    """hit@1, hit@3, MRR@10 of each method on the answerable, non-follow-up ``items``."""
    from pymilvus import RRFRanker, WeightedRanker

    items = [x for x in items if x.answerable and not x.followup]
    store: Any = retriever.store
    texts: dict[int, str] = {}
    ranks: dict[str, list[int | None]] = {m: [] for m in METHODS}
    ms_times: dict[str, list[float]] = {m: [] for m in METHODS}
    overlap = {"rrf": [], "weighted": []}  # |top-10 ∩ ftzqa's top-10|
    same_top = {"rrf": 0, "weighted": 0}
    no_sparse = 0
    for item in items:
        query = retriever.analyse(check_question(item.question))
        terms = store.tokenize(query.searched)
        vector = retriever.embedder.encode([query.searched])[0]
        reqs = requests(retriever, vector, terms)
        no_sparse += len(reqs) == 1
        weights = (0.5, 0.5) if len(reqs) == 2 else (0.5,)
        got = {
            "ftzqa": timed_call(
                lambda v=vector, t=terms: retriever._rank(v, t, DEPTH, "hybrid").ids.tolist(),  # noqa: SLF001
                ms_times["ftzqa"],
            ),
            "milvus_rrf": timed_call(lambda r=reqs: milvus_ranking(retriever, r, RRFRanker(60)),
                                     ms_times["milvus_rrf"]),
            "milvus_weighted": timed_call(lambda r=reqs, w=weights: milvus_ranking(retriever, r, WeightedRanker(*w)),
                                          ms_times["milvus_weighted"]),
        }
        started = time.perf_counter()  # search(): its hits carry their passages, not their ids
        shown = [h.passage.text for h in retriever.search(item.question, k=DEPTH, mode="hybrid").hits]
        ms_times["ftzqa_search"].append((time.perf_counter() - started) * 1000)
        ranks["ftzqa_search"].append(first_relevant([contains_answer(t, item.answers) for t in shown]))
        wanted = [i for ids in got.values() for i in ids if i not in texts]
        if wanted:
            wanted = list(dict.fromkeys(wanted))
            texts.update(zip(wanted, (p.text for p in store.passages(wanted)), strict=True))
        for m, ids in got.items():
            ranks[m].append(first_relevant([contains_answer(texts[i], item.answers) for i in ids[:DEPTH]]))
        for short in ("rrf", "weighted"):
            other = got[f"milvus_{short}"]
            overlap[short].append(len(set(other) & set(got["ftzqa"])))
            same_top[short] += bool(other and got["ftzqa"] and other[0] == got["ftzqa"][0])
    n = len(items)
    metrics = {
        m: {
            "hit@1": round(sum(r == 1 for r in rs) / n, 4),
            "hit@3": round(sum(r is not None and r <= 3 for r in rs) / n, 4),
            "mrr@10": round(sum(1 / r for r in rs if r) / n, 4),
            "p50_ms": round(statistics.median(ms_times[m]), 1),
        }
        for m, rs in ranks.items()
    }
    return {
        "name": name,
        "questions": n,
        "passages": store.passage_count,
        "metrics": metrics,
        "no_sparse_request": no_sparse,
        "top10_overlap_with_ftzqa": {k: round(float(np.mean(v)), 2) for k, v in overlap.items()},
        "same_top1_as_ftzqa": {k: round(v / n, 4) for k, v in same_top.items()},
        # paired hit@1 against ftzqa's fusion: questions only the method gets right / only ftzqa does
        "hit1_only_method_vs_only_ftzqa": {
            m: [sum(a == 1 and b != 1 for a, b in zip(rs, ranks["ftzqa"], strict=True)),
                sum(a != 1 and b == 1 for a, b in zip(rs, ranks["ftzqa"], strict=True))]
            for m, rs in ranks.items() if m != "ftzqa"
        },
        "first_relevant_rank": ranks,
    }


def check_hybrid(retriever: Retriever) -> None:
    """Stop with the engine's own message when Milvus Lite cannot run hybrid_search on a BM25 field."""
    from pymilvus import RRFRanker

    vector = retriever.embedder.encode(["free trade zone"])[0]
    terms = retriever.store.tokenize("free trade zone")
    try:
        milvus_ranking(retriever, requests(retriever, vector, terms), RRFRanker(60))
    except Exception as exc:  # noqa: BLE001 - report the engine's message as it is
        print(f"Milvus Lite cannot run hybrid_search here: {type(exc).__name__}: {exc}")
        raise SystemExit(2) from None


def print_table(result: dict[str, Any]) -> None:
    print(f"\n{result['name']}: {result['questions']} questions, {result['passages']} passages"
          f" (no sparse request: {result['no_sparse_request']})")
    print(f"  {'method':32s} {'hit@1':>6s} {'hit@3':>6s} {'MRR@10':>7s} {'p50 ms':>7s}")
    for m, v in result["metrics"].items():
        print(f"  {LABELS[m]:32s} {v['hit@1']:6.3f} {v['hit@3']:6.3f} {v['mrr@10']:7.3f} {v['p50_ms']:7.1f}")
    print(f"  top-10 overlap with ftzqa (of 10): {result['top10_overlap_with_ftzqa']}; "
          f"same top-1: {result['same_top1_as_ftzqa']}")
    print(f"  hit@1 [only the method, only ftzqa fusion]: {result['hit1_only_method_vs_only_ftzqa']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=SQUAD, help="SQuAD v1.1 JSON (.gz)")
    p.add_argument("--articles", type=int, default=8, help="SQuAD evaluation articles (0: none)")
    p.add_argument("--questions", type=int, default=20, help="questions per SQuAD article")
    args = p.parse_args(argv)
    quiet()
    import pymilvus

    settings = Settings()
    embedder = CachedEmbedder()
    results: list[dict[str, Any]] = []
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="ftzqa-rankers-") as tmp:
        started = time.perf_counter()
        ftz = index_and_load(REPO / "corpus", Path(tmp) / "ftz" / "index", settings, embedder)
        seconds["ftz build"] = round(time.perf_counter() - started, 1)
        check_hybrid(ftz)
        for label, path in (("FTZ gold", GOLD), ("FTZ loose", LOOSE)):
            started = time.perf_counter()
            results.append(evaluate_set(f"{label} ({path.relative_to(REPO)})", ftz, load_gold(path)))
            seconds[label] = round(time.perf_counter() - started, 1)
            print_table(results[-1])
        ms.release(store_spec(Path(tmp) / "ftz" / "index")[len("milvus:"):])
        articles = evaluation_articles(load_squad(args.data))[: args.articles] if args.articles else []
        if articles:
            started = time.perf_counter()
            folder = Path(tmp) / "squad"
            squad = index_and_load(write_corpus(articles, folder / "corpus"), folder / "index", settings, embedder)
            embedder.save()
            seconds["squad build"] = round(time.perf_counter() - started, 1)
            started = time.perf_counter()
            items = [x for a in articles for x in a.gold(args.questions)]
            results.append(evaluate_set(
                f"SQuAD pooled ({len(articles)} eval articles x {args.questions} questions, one index)", squad, items,
            ))
            seconds["squad"] = round(time.perf_counter() - started, 1)
            print_table(results[-1])
    embedder.save()
    lite = version("milvus-lite")
    print(f"\nseconds: {seconds}  (p50 ms: Milvus Lite {lite}, which searches FLAT; pymilvus {pymilvus.__version__})")
    out = write_results("milvus-rankers", {
        "store": "milvus lite",
        "pymilvus": pymilvus.__version__,
        "milvus_lite": lite,
        "settings": settings_dict(settings),
        "articles": [a.title for a in articles],
        "questions_per_article": args.questions,
        "methods": LABELS,
        "notes": "hit@1/hit@3/MRR@10 over answerable, non-follow-up questions; p50_ms: query side only "
                 "(no embedding/analysis), Milvus Lite (FLAT); ftzqa = Retriever._rank before the verdict; "
                 "ftzqa_search = search() hits after the verdict's reorder",
        "seconds": seconds,
        "results": results,
    })
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
