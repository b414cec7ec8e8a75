"""SQuAD bench: 48 Wikipedia articles, pooled and one index per article, dense/bm25/hybrid.

    python bench/squad.py            # full run (all questions of the 48 evaluation articles)
    python bench/squad.py --quick    # 8 articles, 20 questions each

Relevance: a passage is relevant when it contains one of the question's answer texts.
Off-topic probes: one article's questions asked of another article's index (answer: none).
Prints tables and writes bench/results/squad.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    SQUAD,
    Article,
    CachedEmbedder,
    dev_articles,
    evaluation_articles,
    load_squad,
    quiet,
    settings_dict,
    timed,
    write_corpus,
    write_results,
)

from ftzqa.evaluate import EvalReport, GoldItem, Judgement, format_reports, judge_all, summarise  # noqa: E402
from ftzqa.index import build  # noqa: E402
from ftzqa.retrieve import Retriever  # noqa: E402
from ftzqa.settings import MODES, BM25Settings, ChunkSettings, Settings  # noqa: E402


def pooled(
    articles: list[Article], embedder: CachedEmbedder, settings: Settings, work: Path, questions: int | None,
    modes: tuple[str, ...] = MODES,
) -> dict[str, EvalReport]:
    """All articles in one index; every article's questions asked of it."""
    build(write_corpus(articles, work / "corpus"), work / "index", settings, embedder=embedder)
    retriever = Retriever.load(work / "index", embedder=embedder, settings=settings)
    items = [item for art in articles for item in art.gold(questions)]
    return {mode: summarise(judge_all(retriever, items, mode), mode) for mode in modes}


def per_article(
    articles: list[Article], embedder: CachedEmbedder, settings: Settings, work: Path, questions: int | None,
    modes: tuple[str, ...] = MODES,
) -> dict[str, EvalReport]:
    """One index per article: its own questions, plus the next article's questions as off-topic probes."""
    judged: dict[str, list[Judgement]] = {m: [] for m in modes}
    for i, art in enumerate(articles):
        folder = work / f"article-{i:03d}"
        build(write_corpus([art], folder / "corpus"), folder / "index", settings, embedder=embedder)
        retriever = Retriever.load(folder / "index", embedder=embedder, settings=settings)
        other = articles[(i + 1) % len(articles)]
        items = art.gold(questions) + [GoldItem(x.question, ()) for x in other.gold(questions)]
        for mode in modes:
            judged[mode] += judge_all(retriever, items, mode)
    return {mode: summarise(judged[mode], mode) for mode in modes}


def settings_from(args: argparse.Namespace) -> Settings:
    base = Settings()
    return replace(
        base,
        dense_weight=args.dense_weight if args.dense_weight is not None else base.dense_weight,
        embed_title=base.embed_title if args.title is None else args.title == "yes",
        chunk=ChunkSettings(max_tokens=args.max_tokens or base.chunk.max_tokens),
        bm25=BM25Settings(
            k1=args.k1 if args.k1 is not None else base.bm25.k1,
            b=args.b if args.b is not None else base.bm25.b,
        ),
    )


def add_setting_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dense-weight", type=float, default=None)
    p.add_argument("--title", choices=("yes", "no"), default=None, help="embed the title (default: Settings)")
    p.add_argument("--max-tokens", type=int, default=None)
    p.add_argument("--k1", type=float, default=None)
    p.add_argument("--b", type=float, default=None)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=SQUAD, help="SQuAD v1.1 JSON (.gz)")
    p.add_argument("--articles", type=int, default=None, help="use only the first N evaluation articles")
    p.add_argument("--questions", type=int, default=None, help="at most N questions per article")
    p.add_argument("--quick", action="store_true", help="same as --articles 8 --questions 20")
    p.add_argument("--split", choices=("eval", "dev"), default="eval", help="dev: the tuning articles")
    p.add_argument("--no-per-article", action="store_true")
    add_setting_flags(p)
    args = p.parse_args(argv)
    quiet()
    if args.quick:
        args.articles, args.questions = args.articles or 8, args.questions or 20
    settings = settings_from(args)
    times: dict[str, float] = {}
    started = time.perf_counter()
    with timed("load data + model", times):
        everything = load_squad(args.data)
        articles = (evaluation_articles if args.split == "eval" else dev_articles)(everything)
        articles = articles[: args.articles] if args.articles else articles
        embedder = CachedEmbedder()
        embedder.encode([x.question for a in articles for x in a.gold(args.questions)])  # one batch
    results: dict[str, dict[str, EvalReport]] = {}
    with tempfile.TemporaryDirectory(prefix="ftzqa-squad-") as tmp:
        with timed("pooled", times):
            results["pooled"] = pooled(articles, embedder, settings, Path(tmp) / "pooled", args.questions)
        embedder.save()
        if not args.no_per_article:
            with timed("per-article", times):
                results["per_article"] = per_article(articles, embedder, settings, Path(tmp), args.questions)
    embedder.save()
    times["total"] = round(time.perf_counter() - started, 1)
    n_q = sum(len(a.gold(args.questions)) for a in articles)
    print(f"\nSQuAD v1.1 train, {len(articles)} {args.split} articles, {n_q} questions")
    print(f"settings: {settings_dict(settings)}")
    for name, reports in results.items():
        print(f"\n{name.replace('_', '-')}:\n{format_reports(reports)}")
    print(f"\ntimes (s): {times}; texts embedded this run: {embedder.embedded}")
    out = write_results(
        f"squad-{args.split}",
        {
            "articles": [a.title for a in articles],
            "questions": n_q,
            "settings": settings_dict(settings),
            "seconds": times,
            "results": {k: {m: r.to_dict() for m, r in v.items()} for k, v in results.items()},
        },
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
