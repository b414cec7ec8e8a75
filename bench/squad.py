"""SQuAD bench: 48 Wikipedia articles, pooled and one index per article, dense/bm25/hybrid.

    python bench/squad.py            # full run (all questions of the 48 evaluation articles)
    python bench/squad.py --quick    # 8 articles, 20 questions each
    python bench/squad.py --quick --store milvus   # the same, every index in its own Milvus Lite file

Relevance: a passage is relevant when it contains one of the question's answer texts.
Per article, each article's index is asked: its own questions; near-misses of them
(bench/nearmiss.py: one name swapped for another of the article that the gold paragraph never
mentions; about 12% stay answerable, see bench/nearmiss_check.md); and the next article's
questions as off-topic probes. Pooled off-topic: the first half of the articles indexed
together, the questions of the second half asked of it. Also the loose FTZ gold set
(tests/data/ftz_loose.jsonl) on the article's index. Prints tables and the verdict's
precision/recall, writes bench/results/squad-<split>.json and a PR plot (docs/verdict-pr.svg on
a full run).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    REPO,
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
from nearmiss import generate  # noqa: E402
from prplot import Curve, write_svg  # noqa: E402

from ftzqa.evaluate import (  # noqa: E402
    EvalReport,
    GoldItem,
    Judgement,
    format_curve,
    format_reports,
    judge_all,
    load_gold,
    pr_curve,
    summarise,
    threshold_of,
)
from ftzqa.index import build  # noqa: E402
from ftzqa.retrieve import Retriever  # noqa: E402
from ftzqa.settings import MODES, BM25Settings, ChunkSettings, Settings  # noqa: E402

LOOSE = REPO / "tests" / "data" / "ftz_loose.jsonl"
PLOT = REPO / "docs" / "verdict-pr.svg"
FINE = [i / 100 for i in range(101)]  # thresholds of the plotted curves

Judged = dict[str, list[Judgement]]  # mode -> judgements
STORE = {"kind": "embedded"}  # --store: where each index of the run lives


def store_of(index_dir: Path) -> str:
    """The ``store=`` of the index folder ``index_dir``: the folder itself (embedded), or under
    ``--store milvus`` a Milvus Lite file beside it (one per index, as ``pytest --store milvus``)."""
    return f"milvus:{index_dir.absolute()}.milvus.db" if STORE["kind"] == "milvus" else "embedded"


def index_and_load(corpus: Path, index_dir: Path, settings: Settings, embedder: CachedEmbedder) -> Retriever:
    """Build the index of ``corpus`` in the chosen store and load it."""
    build(corpus, index_dir, settings, embedder=embedder, store=store_of(index_dir))
    return Retriever.load(index_dir, embedder=embedder, settings=settings, store=store_of(index_dir))


def done_with(index_dir: Path) -> None:
    """Stop the Milvus Lite server of ``index_dir``'s file (one per index would pile up)."""
    if STORE["kind"] == "milvus":
        from ftzqa.storage import milvus_schema

        milvus_schema.release(store_of(index_dir)[len("milvus:"):])


def near_misses(article: Article, questions: int | None, seed: int = 0) -> list[GoldItem]:
    """The article's near-miss questions (at most ``questions``, a seeded sample)."""
    made = [m.gold() for m in generate(article)]
    if questions is not None and len(made) > questions:
        made = random.Random(f"{seed}:near:{article.title}").sample(made, questions)
    return made


def reports_of(judged: Judged, threshold: float) -> dict[str, EvalReport]:
    return {mode: summarise(j, mode, threshold) for mode, j in judged.items()}


def pooled(
    articles: list[Article], embedder: CachedEmbedder, settings: Settings, work: Path, questions: int | None,
    modes: tuple[str, ...] = MODES,
) -> dict[str, EvalReport]:
    """All articles in one index; every article's questions asked of it."""
    retriever = index_and_load(write_corpus(articles, work / "corpus"), work / "index", settings, embedder)
    items = [item for art in articles for item in art.gold(questions)]
    reports = reports_of({mode: judge_all(retriever, items, mode) for mode in modes}, threshold_of(retriever))
    done_with(work / "index")
    return reports


def pooled_off_topic(
    articles: list[Article], embedder: CachedEmbedder, settings: Settings, work: Path, questions: int | None,
    modes: tuple[str, ...] = MODES,
) -> dict[str, EvalReport]:
    """The first half of the articles in one index; the second half's questions asked of it (off-topic)."""
    half = len(articles) // 2
    indexed, asked = articles[:half], articles[half:]
    retriever = index_and_load(write_corpus(indexed, work / "corpus"), work / "index", settings, embedder)
    items = [GoldItem(x.question, ()) for art in asked for x in art.gold(questions)]
    reports = reports_of({mode: judge_all(retriever, items, mode) for mode in modes}, threshold_of(retriever))
    done_with(work / "index")
    return reports


def per_article(
    articles: list[Article], embedder: CachedEmbedder, settings: Settings, work: Path, questions: int | None,
    modes: tuple[str, ...] = MODES, judged: Judged | None = None,
) -> dict[str, EvalReport]:
    """One index per article: its own questions, their near-misses, and the next article's questions
    as off-topic probes. ``judged`` (if given) receives the per-question judgements."""
    judged = {m: [] for m in modes} if judged is None else judged
    threshold = 0.5
    for i, art in enumerate(articles):
        folder = work / f"article-{i:03d}"
        retriever = index_and_load(write_corpus([art], folder / "corpus"), folder / "index", settings, embedder)
        threshold = threshold_of(retriever)
        other = articles[(i + 1) % len(articles)]
        items = (
            art.gold(questions)
            + near_misses(art, questions)
            + [GoldItem(x.question, ()) for x in other.gold(questions)]
        )
        for mode in modes:
            judged.setdefault(mode, []).extend(judge_all(retriever, items, mode))
        done_with(folder / "index")
    return reports_of(judged, threshold)


def ftz_loose(
    embedder: CachedEmbedder, settings: Settings, work: Path, modes: tuple[str, ...] = MODES,
    judged: Judged | None = None,
) -> dict[str, EvalReport]:
    """The loose FTZ gold set on an index of the repository's corpus (the article)."""
    judged = {m: [] for m in modes} if judged is None else judged
    retriever = index_and_load(REPO / "corpus", work / "index", settings, embedder)
    items = load_gold(LOOSE)
    for mode in modes:
        judged.setdefault(mode, []).extend(judge_all(retriever, items, mode))
    reports = reports_of(judged, threshold_of(retriever))
    done_with(work / "index")
    return reports


def plot(path: Path, squad: Judged, ftz: Judged, threshold: float, n_articles: int, mode: str = "hybrid") -> Path:
    """The verdict's precision/recall curves (``mode``) with their operating points, as an SVG."""
    from ftzqa.evaluate import operating_point

    curves = []
    if squad.get(mode):
        real = sum(j.kind == "answerable" for j in squad[mode])
        negatives = len(squad[mode]) - real
        curves.append(
            Curve(
                f"SQuAD per article: {real:,} real, {negatives:,} near-miss + off-topic",
                pr_curve(squad[mode], FINE),
                operating_point(squad[mode], threshold),
            )
        )
        near = [j for j in squad[mode] if j.kind != "off_topic"]
        curves.append(
            Curve(
                "SQuAD per article, near-misses as the only negatives",
                pr_curve(near, FINE),
                operating_point(near, threshold),
            )
        )
    if ftz.get(mode):
        curves.append(
            Curve(
                f"FTZ loose set: {sum(j.kind == 'answerable' for j in ftz[mode])} real, "
                f"{sum(j.kind != 'answerable' for j in ftz[mode])} near-miss + off-topic",
                pr_curve(ftz[mode], FINE),
                operating_point(ftz[mode], threshold),
            )
        )
    note = (
        f"{mode}; {n_articles} SQuAD articles; correct = found with a relevant top passage; "
        "python bench/squad.py"
    )
    return write_svg(path, "Found / not found: precision and recall over the threshold", curves, note)


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
    p.add_argument("--plot", type=Path, default=None, help="PR plot (default: docs/verdict-pr.svg on a full run)")
    p.add_argument("--store", choices=("embedded", "milvus"), default="embedded",
                   help="embedded (default) or milvus: each index in a Milvus Lite file of its own")
    add_setting_flags(p)
    args = p.parse_args(argv)
    quiet()
    STORE["kind"] = args.store
    suffix = "" if args.store == "embedded" else f"-{args.store}"
    if args.quick:
        args.articles, args.questions = args.articles or 8, args.questions or 20
    full = not (args.articles or args.questions) and args.split == "eval" and not args.no_per_article
    plot_path = args.plot or (
        PLOT if full and not suffix else REPO / "bench" / "results" / f"verdict-pr-{args.split}{suffix}.svg"
    )
    settings = settings_from(args)
    times: dict[str, float] = {}
    started = time.perf_counter()
    with timed("load data + model", times):
        everything = load_squad(args.data)
        articles = (evaluation_articles if args.split == "eval" else dev_articles)(everything)
        articles = articles[: args.articles] if args.articles else articles
        embedder = CachedEmbedder()
        near = {a.title: near_misses(a, args.questions) for a in articles}
        embedder.encode(
            [x.question for a in articles for x in a.gold(args.questions)]
            + [x.question for items in near.values() for x in items]
        )  # one batch
    results: dict[str, dict[str, EvalReport]] = {}
    squad_judged: Judged = {}
    ftz_judged: Judged = {}
    threshold = 0.5
    with tempfile.TemporaryDirectory(prefix="ftzqa-squad-") as tmp:
        with timed("pooled", times):
            results["pooled"] = pooled(articles, embedder, settings, Path(tmp) / "pooled", args.questions)
        embedder.save()
        with timed("pooled off-topic", times):
            results["pooled_off_topic"] = pooled_off_topic(
                articles, embedder, settings, Path(tmp) / "pooled-off-topic", args.questions
            )
        embedder.save()
        if not args.no_per_article:
            with timed("per-article", times):
                results["per_article"] = per_article(
                    articles, embedder, settings, Path(tmp), args.questions, judged=squad_judged
                )
        with timed("ftz loose", times):
            results["ftz_loose"] = ftz_loose(embedder, settings, Path(tmp) / "ftz", judged=ftz_judged)
        threshold = results["ftz_loose"]["hybrid"].threshold
    embedder.save()
    times["total"] = round(time.perf_counter() - started, 1)
    n_q = sum(len(a.gold(args.questions)) for a in articles)
    n_near = sum(len(v) for v in near.values())
    half = len(articles) // 2
    print(f"\nSQuAD v1.1 train, {len(articles)} {args.split} articles, {n_q} questions, {n_near} near-misses, "
          f"{args.store} store")
    print(f"settings: {settings_dict(settings)}")
    titles = {
        "pooled": "pooled (all articles in one index, their questions)",
        "pooled_off_topic": f"pooled off-topic ({half} articles in one index, the other {len(articles) - half}'s "
        "questions asked of it)",
        "per_article": "per article (own questions, their near-misses, the next article's questions as off-topic)",
        "ftz_loose": f"FTZ loose set ({LOOSE.relative_to(REPO)}) on the article",
    }
    for name, reports in results.items():
        print(f"\n{titles[name]}:\n{format_reports(reports)}")
        if name != "pooled_off_topic":
            print(f"\n{format_curve(reports)}")
    print(f"\ntimes (s): {times}; texts embedded this run: {embedder.embedded}")
    out = write_results(
        f"squad-{args.split}{suffix}",
        {
            "store": args.store,
            "articles": [a.title for a in articles],
            "questions": n_q,
            "near_misses": n_near,
            "settings": settings_dict(settings),
            "seconds": times,
            "results": {k: {m: r.to_dict() for m, r in v.items()} for k, v in results.items()},
        },
    )
    print(f"wrote {out}")
    print(f"wrote {plot(plot_path, squad_judged, ftz_judged, threshold, len(articles))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
