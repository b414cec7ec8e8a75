"""Time from a file landing in a watched corpus of 1,000 documents to it being answerable.

A corpus of 1,000 documents (one SQuAD paragraph each, from the evaluation articles; vectors from
the shared cache under bench/results/cache when present) is indexed once. Then the real
``ftzqa watch`` runs as a child process (real model), and for each trial a one-page file (the
first paragraphs of a SQuAD article outside the corpus, about 3,000 characters) is written into
the corpus folder the way ``cp`` writes it. A reader like the page (``web.service.Service``,
which picks up the generation another process wrote) asks one of that article's questions every
50 ms; the time until one of the passages the page shows (the top 3) cites the new file is the
latency. The file is then
deleted and the time until no passage cites it is measured the same way.

    python bench/watch.py [--trials 7] [--docs 1000] [--work DIR]

Goal (issue 11): a 1-page file answerable within 5 s. Writes bench/results/watch.json.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    CACHE,
    REPO,
    RESULTS,
    Article,
    CachedEmbedder,
    evaluation_articles,
    load_squad,
    log,
    quiet,
    write_results,
)

PAGE_CHARS = 3000  # about one printed page
POLL = 0.05
SHOWN = 3  # passages the page shows by default
TIMEOUT = 120.0  # s: a trial that takes longer is recorded as failed, not waited for forever


def corpus_documents(articles: list[Article], n: int) -> list[tuple[str, str]]:
    """``n`` (file name, text) pairs: one SQuAD paragraph per document, with its article's title."""
    out: list[tuple[str, str]] = []
    for a, art in enumerate(articles):
        for p, paragraph in enumerate(art.paragraphs):
            out.append((f"{a:02d}-{p:03d}.md", f"---\ntitle: {art.title}\n---\n\n{paragraph}\n"))
            if len(out) == n:
                return out
    raise SystemExit(f"the evaluation articles have only {len(out)} paragraphs; pass --docs {len(out)} or fewer")


def page_of(article: Article) -> tuple[str, str, str]:
    """(markdown of about one page, a question whose paragraph is in it, that paragraph's text)."""
    kept: list[str] = []
    for paragraph in article.paragraphs:
        if kept and sum(map(len, kept)) + len(paragraph) > PAGE_CHARS:
            break
        kept.append(paragraph)
    for (question, _answers), where in zip(article.qas, article.qa_paragraphs, strict=True):
        if where < len(kept):
            return f"---\ntitle: {article.title}\n---\n\n" + "\n\n".join(kept) + "\n", question, kept[where]
    raise ValueError(f"no question for the first paragraphs of {article.title}")


def start_watcher(corpus: Path, index: Path, out: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))}
    with open(out, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "ftzqa.cli", "watch", "--corpus", str(corpus), "--index",
                                 str(index)], stdout=fh, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 600
    while "watching" not in out.read_text(encoding="utf-8", errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"ftzqa watch did not start:\n{out.read_text(errors='replace')}")
        time.sleep(0.2)
    return proc


def wait_until(service: Any, question: str, doc_id: str, present: bool, started: float) -> tuple[float, int] | None:
    """(seconds from ``started``, rank) once one of the top ``SHOWN`` passages cites ``doc_id``
    (``present``), or once none does (rank 0); None after ``TIMEOUT``."""
    while time.perf_counter() - started < TIMEOUT:
        answer, _ = service.ask(question, k=SHOWN)
        cited = [h.passage.doc_id for h in answer.hits]
        if (doc_id in cited) == present:
            return time.perf_counter() - started, cited.index(doc_id) + 1 if present else 0
        time.sleep(POLL)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=7)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=RESULTS / "watch-work")
    args = parser.parse_args()
    quiet()
    from ftzqa.index import build
    from ftzqa.settings import Settings
    from ftzqa.web.service import Service

    articles = load_squad()
    chosen = evaluation_articles(articles)
    docs = corpus_documents(chosen, args.docs)
    taken = {a.title for a in chosen}
    pages = [page_of(a) for a in articles if a.title not in taken and len(a.paragraphs) >= 3][: args.trials]

    corpus, index = args.work / "corpus", args.work / "index"
    corpus.mkdir(parents=True, exist_ok=True)
    wanted = {name for name, _ in docs}
    for stray in corpus.iterdir():  # a trial file left by an interrupted run
        if stray.name not in wanted:
            stray.unlink()
    for name, text in docs:
        path = corpus / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    result: dict[str, Any] = {"documents": len(docs), "cache": str(CACHE)}
    started = time.perf_counter()
    embedder = CachedEmbedder()
    summary = build(corpus, index, Settings(), embedder=embedder)
    embedder.save()
    result["index"] = {"passages": summary.passages, "embedded": summary.embedded, "seconds": round(
        time.perf_counter() - started, 1)}
    log.info("index: %s", summary.line())
    del embedder

    log_path = args.work / "watch.log"
    watcher = start_watcher(corpus, index, log_path)
    service = Service(corpus, index, Settings())
    log.info("%s", service.start())
    trials: list[dict[str, Any]] = []
    load = os.getloadavg()
    try:
        for i, (text, question, _paragraph) in enumerate(pages):
            name = f"trial-{i}.md"
            path = corpus / name
            t0 = time.perf_counter()
            with open(path, "w", encoding="utf-8") as fh:  # as cp writes it: in place, not renamed
                fh.write(text)
            added = wait_until(service, question, name, True, t0)
            t1 = time.perf_counter()
            path.unlink()
            removed = wait_until(service, question, name, False, t1)
            update = [line for line in log_path.read_text(encoding="utf-8").splitlines() if f"added {name}:" in line]
            took = re.search(r"in ([\d.]+) s$", update[-1]) if update else None
            trials.append({"file": name, "chars": len(text), "question": question,
                           "watcher_update_s": float(took.group(1)) if took else None,
                           "answerable_s": None if added is None else round(added[0], 2),
                           "rank": None if added is None else added[1],
                           "removed_s": None if removed is None else round(removed[0], 2)})
            log.info("trial %d: answerable after %s s, gone %s s after deletion", i, trials[-1]["answerable_s"],
                     trials[-1]["removed_s"])
            time.sleep(1.0)
    finally:
        watcher.terminate()
        watcher.wait(60)
    ok = [t["answerable_s"] for t in trials if t["answerable_s"] is not None]
    gone = [t["removed_s"] for t in trials if t["removed_s"] is not None]
    result.update({
        "trials": trials,
        "failed": len(trials) - len(ok),
        "answerable_p50_s": round(statistics.median(ok), 2) if ok else None,
        "answerable_max_s": round(max(ok), 2) if ok else None,
        "watcher_update_p50_s": statistics.median(u) if (u := [t["watcher_update_s"] for t in trials
                                                                 if t["watcher_update_s"] is not None]) else None,
        "removed_p50_s": round(statistics.median(gone), 2) if gone else None,
        "removed_max_s": round(max(gone), 2) if gone else None,
        "goal_s": 5.0,
        "load_average_before": [round(x, 2) for x in load],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "watch_log": log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-2 * len(trials) - 2:],
    })
    path = write_results("watch", result)
    print(f"{len(docs)} documents ({summary.passages} passages) watched; {len(trials)} trials, one page each")
    print(f"answerable after landing: p50 {result['answerable_p50_s']} s, max {result['answerable_max_s']} s "
          f"(goal <= 5 s){'; FAILED: ' + str(result['failed']) if result['failed'] else ''}")
    print(f"of which the watcher's update (read, embed, write): p50 {result['watcher_update_p50_s']} s")
    print(f"gone after deletion:      p50 {result['removed_p50_s']} s, max {result['removed_max_s']} s")
    print(f"load average {result['load_average_before']} -> {result['load_average_after']}; written to {path}")


if __name__ == "__main__":
    main()
