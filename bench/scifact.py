"""SciFact bench (BEIR layout): nDCG@10 by document for dense, bm25 and hybrid.

    python bench/scifact.py            # all 5,183 abstracts, every training claim with qrels
    python bench/scifact.py --quick    # 100 claims, their abstracts + 1,000 others

One Markdown document per abstract (front matter title, abstract text). Passages are mapped
back to their abstract; an abstract ranks where its best passage ranks. Relevance: the qrels.
Prints the table next to the published test-split figures and writes bench/results/scifact.json.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATA, CachedEmbedder, quiet, settings_dict, write_results  # noqa: E402
from squad import add_setting_flags, settings_from  # noqa: E402

from ftzqa.evaluate import ndcg  # noqa: E402
from ftzqa.index import build  # noqa: E402
from ftzqa.retrieve import Retriever  # noqa: E402
from ftzqa.settings import MODES  # noqa: E402

PUBLISHED = [  # nDCG@10 on the SciFact *test* split (data README), for orientation only
    ("BM25", "0.665–0.687"),
    ("all-MiniLM-L6-v2", "0.645"),
    ("BM25 + cross-encoder", "0.682–0.688"),
    ("bge-small-en-v1.5", "0.713"),
]
PASSAGES_PER_QUERY = 40  # enough passages to fill 10 distinct abstracts


def load(folder: Path) -> tuple[dict[str, tuple[str, str]], dict[str, str], dict[str, set[str]]]:
    with gzip.open(folder / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        corpus = {(r := json.loads(line))["_id"]: (r["title"], r["text"]) for line in fh if line.strip()}
    with open(folder / "queries.train.jsonl", encoding="utf-8") as fh:
        queries = {(r := json.loads(line))["_id"]: r["text"] for line in fh if line.strip()}
    qrels: dict[str, set[str]] = {}
    with open(folder / "qrels" / "train.tsv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if int(row["score"]) > 0:
                qrels.setdefault(row["query-id"], set()).add(row["corpus-id"])
    return corpus, queries, qrels


def write(corpus: dict[str, tuple[str, str]], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for doc_id, (title, text) in corpus.items():
        title = " ".join(title.split()).replace('"', "'")
        (folder / f"{doc_id}.md").write_text(f'---\ntitle: "{title}"\n---\n\n{text.strip()}\n', encoding="utf-8")
    return folder


def doc_ndcg(retriever: Retriever, queries: dict[str, str], qrels: dict[str, set[str]], mode: str) -> float:
    scores = []
    for qid, text in queries.items():
        answer = retriever.search(text, k=PASSAGES_PER_QUERY, mode=mode)
        ranked = list(dict.fromkeys(h.passage.doc_id.removesuffix(".md") for h in answer.hits))[:10]
        scores.append(ndcg([d in qrels[qid] for d in ranked], len(qrels[qid])))
    return sum(scores) / len(scores)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA / "scifact", help="BEIR SciFact folder")
    p.add_argument("--limit", type=int, default=None, help="only N claims, their abstracts + 10 x N others")
    p.add_argument("--quick", action="store_true", help="same as --limit 100")
    p.add_argument("--weights", default="", help="extra hybrid dense weights to try, e.g. 0.3,0.4")
    add_setting_flags(p)
    args = p.parse_args(argv)
    quiet()
    limit = args.limit or (100 if args.quick else None)
    settings = settings_from(args)
    started = time.perf_counter()
    corpus, all_queries, qrels = load(args.data)
    queries = {q: all_queries[q] for q in sorted(qrels, key=int) if q in all_queries}
    if limit:
        queries = dict(random.Random(1).sample(sorted(queries.items()), min(limit, len(queries))))
        keep = {d for q in queries for d in qrels[q]} | set(random.Random(2).sample(sorted(corpus), 10 * limit))
        corpus = {d: v for d, v in corpus.items() if d in keep}
    embedder = CachedEmbedder()
    embedder.encode(list(queries.values()))
    times: dict[str, float] = {}
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="ftzqa-scifact-") as tmp:
        t = time.perf_counter()
        summary = build(write(corpus, Path(tmp) / "corpus"), Path(tmp) / "index", settings, embedder=embedder)
        embedder.save()
        times["build"] = round(time.perf_counter() - t, 1)
        retriever = Retriever.load(Path(tmp) / "index", embedder=embedder, settings=settings)
        t = time.perf_counter()
        for mode in MODES:
            results[mode] = doc_ndcg(retriever, queries, qrels, mode)
        for w in [float(x) for x in args.weights.split(",") if x.strip()]:
            other = Retriever(retriever.index, embedder, replace(settings, dense_weight=w))
            results[f"hybrid w={w}"] = doc_ndcg(other, queries, qrels, "hybrid")
        times["search"] = round(time.perf_counter() - t, 1)
    times["total"] = round(time.perf_counter() - started, 1)
    print(f"\nSciFact train: {len(queries)} claims, {len(corpus)} abstracts, {summary.passages} passages")
    print(f"settings: {settings_dict(settings)}")
    print(f"\n{'nDCG@10':28s} {'train (here)':>12s}")
    for name, value in results.items():
        print(f"{'ftzqa ' + name:28s} {value:12.3f}")
    print(f"\n{'published (test split)':28s}")
    for name, value in PUBLISHED:
        print(f"{name:28s} {value:>12s}")
    print(f"\ntimes (s): {times}; texts embedded this run: {embedder.embedded}")
    out = write_results(
        "scifact" + ("-limited" if limit else ""),
        {
            "claims": len(queries),
            "abstracts": len(corpus),
            "passages": summary.passages,
            "settings": settings_dict(settings),
            "ndcg@10": results,
            "published_test_split": dict(PUBLISHED),
            "seconds": times,
        },
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
