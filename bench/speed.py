"""Speed and memory bench: build throughput, incremental add, query latency, peak RSS, CLI start-up.

    python bench/speed.py                          # full run: ~12 min on 2 idle cores, most of it one
                                                   # real 10,000-passage build
    python bench/speed.py --quick                  # ~3 min: small sizes, fewer queries
    python bench/speed.py --only latency,cli --sizes 1000,10000,100000 --queries 100
    python bench/speed.py --report bench/results/speed.json     # print the tables again

What is measured, and how:
- build throughput: ``ftzqa.index.build`` (model loaded beforehand) against raw
  ``SentenceTransformer.encode`` of the very same passage texts, same batch size, alternating runs
  in one process; real model, real SQuAD paragraphs.
- incremental add: ``ingest.add`` of one median-sized SQuAD article to a 10,000-passage index, against
  a full rebuild of that index from scratch; the real model embeds in both (no extrapolation).
- query latency: ``Retriever.search`` per mode (the full answer: ranking, evidence, found/not found)
  and the query embedding alone, per question, on indexes of 1k/10k/100k passages. Those indexes
  are built with random unit vectors (synth.FakeEmbedder) under the real model's id, so the real
  model embeds the questions; a flat FAISS search costs the same whatever the vector values.
- peak RSS: each phase runs in a fresh interpreter and reports its own VmHWM; CLI commands run
  under a tiny launcher that reads ``ru_maxrss`` from ``wait4``.
- ``ftzqa --help`` and ``ftzqa ask`` as a user runs them, from a cold process (warm page cache).
  ``ftzqa ask`` on the article twice: with the ONNX query encoder that ``ftzqa build`` exports
  (the default; torch is never imported), and on a copy of the article index built without one
  (as before ONNX: sentence-transformers and torch load to embed the question). The ONNX model
  alone (session start, one question) is timed like the sentence-transformers model.

Timings depend on what else the machine runs: the load average is recorded at start, end and
around each phase; compare figures only from runs on an otherwise idle machine.
Prints tables and writes bench/results/speed.json (speed-quick.json with --quick).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import load_squad, write_results  # noqa: E402
from synth import FakeEmbedder, held_out, make_corpus, write_article  # noqa: E402

from ftzqa.settings import MODES, Settings  # noqa: E402

log = logging.getLogger("bench.speed")

REPO = Path(__file__).resolve().parents[1]
ARTICLE_QUESTION = "How many reform pilot tasks were identified in the overall plan?"
GOALS = {"build_ratio": 0.9, "add_ratio": 0.05, "hybrid_over_embed": 1.3, "help_s": 0.5, "ask_s": 1.5}

FULL = {"throughput_n": 1000, "repeats": 3, "incremental_n": 10_000, "sizes": "1000,10000,100000",
        "queries": 200, "ask_runs": 3, "help_runs": 7}
QUICK = {"throughput_n": 200, "repeats": 2, "incremental_n": 1000, "sizes": "1000,10000",
         "queries": 30, "ask_runs": 2, "help_runs": 5}


# ---------------------------------------------------------------- phases (each in a subprocess)


class TimedEmbedder:
    """Delegates to an embedder and adds up the seconds spent in ``encode``."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dimension = inner.dimension
        self.seconds = 0.0

    def encode(self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.inner.encode(texts, batch_size=batch_size, show_progress=show_progress)
        finally:
            self.seconds += time.perf_counter() - started


def _clock() -> float:
    return time.perf_counter()


def phase_model(p: dict[str, Any]) -> dict[str, Any]:
    """The model alone: load time and the RSS floor of any process that embeds."""
    from ftzqa.embed import SentenceTransformerEmbedder

    t = _clock()
    embedder = SentenceTransformerEmbedder(Settings().model, "cpu")
    load_s = _clock() - t
    seconds = []
    for q in [ARTICLE_QUESTION] * 3 + p["questions"]:
        t = _clock()
        embedder.encode([q])
        seconds.append(_clock() - t)
    import torch

    return {"model_load_s": load_s, "torch_threads": torch.get_num_threads(), "query": _stats(seconds[3:])}


def phase_onnx_model(p: dict[str, Any]) -> dict[str, Any]:
    """The ONNX query encoder of an index alone: session start and one question at a time."""
    from ftzqa.index import load_index
    from ftzqa.onnx_embed import OnnxEmbedder, load_embedder

    index = load_index(p["index"])
    t = _clock()
    embedder = load_embedder(index.path, index.manifest)
    load_s = _clock() - t
    assert isinstance(embedder, OnnxEmbedder), "the article index has no ONNX query encoder"
    two = OnnxEmbedder.for_index(index.path.parent, index.path, embedder.spec, threads=2)
    seconds: dict[int, list[float]] = {1: [], 2: []}
    for q in [ARTICLE_QUESTION] * 3 + p["questions"]:  # alternate, so that load hits both alike
        for threads, e in ((1, embedder), (2, two)):
            t = _clock()
            e.encode([q])
            seconds[threads].append(_clock() - t)
    return {"model_load_s": load_s, "query": _stats(seconds[1][3:]), "query_2_threads": _stats(seconds[2][3:]),
            "torch_imported": "torch" in sys.modules}


def phase_onnx_export(p: dict[str, Any]) -> dict[str, Any]:
    """What a build pays for the ONNX encoder: a fresh export (with its agreement check) against
    reusing the file of the previous generation (its checksum check), model already loaded."""
    from ftzqa.embed import SentenceTransformerEmbedder
    from ftzqa.onnx_embed import check
    from ftzqa.onnx_export import export

    work = Path(p["work"])
    embedder = SentenceTransformerEmbedder(Settings().model, "cpu")
    embedder.encode(["warm up"])
    t = _clock()
    prepared = export(work, embedder.model_id, embedder.st_model, embedder.dimension, [])
    export_s = _clock() - t
    assert prepared.entry["format"] == "onnx", prepared.entry
    manifest = {"model": {"id": embedder.model_id, "dimension": embedder.dimension}, "query_encoder": prepared.entry}
    gen = work / "gen"
    gen.mkdir()
    (gen / "query-tokenizer.json").write_bytes((prepared.tokenizer or "").encode("utf-8"))
    t = _clock()
    check(work, gen, manifest)
    check_s = _clock() - t
    return {"export_s": export_s, "reuse_check_s": check_s, "file_mb": prepared.entry["size"] / 2**20,
            "min_cosine": prepared.entry["min_cosine"]}


def phase_build_without_onnx(p: dict[str, Any]) -> dict[str, Any]:
    """The article indexed as before the ONNX encoder existed: the same sentence-transformers
    vectors, but the embedder is wrapped, so the build has no model to export and records the
    sentence-transformers fallback; ``ftzqa ask`` on it loads torch."""
    from ftzqa.embed import SentenceTransformerEmbedder
    from ftzqa.index import build, read_manifest

    settings = Settings()
    summary = build(p["corpus"], p["index"], settings,
                    embedder=TimedEmbedder(SentenceTransformerEmbedder(settings.model, "cpu")))
    encoder = read_manifest(p["index"])[1]["query_encoder"]
    assert encoder["format"] == "sentence-transformers", encoder
    return {"passages": summary.passages}


def phase_throughput(p: dict[str, Any]) -> dict[str, Any]:
    """ftzqa build (model already loaded) against raw SentenceTransformer.encode, same passages."""
    from sentence_transformers import SentenceTransformer

    from ftzqa.chunking import split
    from ftzqa.corpus import read_corpus
    from ftzqa.embed import SentenceTransformerEmbedder, resolve_model
    from ftzqa.index import build, embed_input

    settings = Settings(batch_size=p["batch_size"])
    corpus, work = Path(p["corpus"]), Path(p["work"])
    inputs = [
        embed_input(x, settings.embed_title)
        for d in read_corpus(corpus).documents
        for x in split(d, settings.chunk)
    ]
    t = _clock()
    embedder = TimedEmbedder(SentenceTransformerEmbedder(settings.model, "cpu"))
    model_load_s = _clock() - t
    raw = SentenceTransformer(resolve_model(settings.model), device="cpu")

    def encode_raw() -> None:
        raw.encode(inputs, batch_size=settings.batch_size, normalize_embeddings=True,
                   convert_to_numpy=True, show_progress_bar=False)

    embedder.encode(inputs[: settings.batch_size], batch_size=settings.batch_size)  # warm-up, both
    raw.encode(inputs[: settings.batch_size], batch_size=settings.batch_size, show_progress_bar=False)
    runs = []
    for i in range(p["repeats"]):  # alternate, so that a noisy neighbour hits both sides alike
        t, cpu = _clock(), time.process_time()
        encode_raw()
        raw_s, raw_cpu = _clock() - t, time.process_time() - cpu
        embedder.seconds = 0.0
        t, cpu = _clock(), time.process_time()
        summary = build(corpus, work / f"index-{i}", settings, embedder=embedder)
        build_s, build_cpu = _clock() - t, time.process_time() - cpu
        assert summary.embedded == len(inputs), (summary.embedded, len(inputs))
        runs.append({"raw_s": raw_s, "build_s": build_s, "build_embed_s": embedder.seconds,
                     "raw_cpu_s": raw_cpu, "build_cpu_s": build_cpu, "load": _load()})
    best_raw = min(r["raw_s"] for r in runs)
    best = min(runs, key=lambda r: r["build_s"])
    n = len(inputs)
    return {
        "passages": n,
        "batch_size": settings.batch_size,
        "model_load_s": model_load_s,
        "runs": runs,
        "raw_pps": n / best_raw,
        "build_pps": n / best["build_s"],
        "build_embed_s": best["build_embed_s"],
        "build_other_s": best["build_s"] - best["build_embed_s"],
        "ratio": best_raw / best["build_s"],  # best of each side
        "ratio_paired": statistics.median(r["raw_s"] / r["build_s"] for r in runs),  # run by run
        "ratio_cpu": min(r["raw_cpu_s"] for r in runs) / min(r["build_cpu_s"] for r in runs),
    }


def phase_incremental(p: dict[str, Any]) -> dict[str, Any]:
    """Full rebuild of an N-passage index with the real model, then ``ingest.add`` of one document."""
    from ftzqa.embed import SentenceTransformerEmbedder
    from ftzqa.index import build
    from ftzqa.ingest import add

    settings = Settings(batch_size=p["batch_size"])
    corpus, index = Path(p["corpus"]), Path(p["work"]) / "index"
    embedder = TimedEmbedder(SentenceTransformerEmbedder(settings.model, "cpu"))
    embedder.encode(["warm up"] * settings.batch_size)
    embedder.seconds = 0.0
    t = _clock()
    full = build(corpus, index, settings, embedder=embedder)
    full_s, full_embed_s = _clock() - t, embedder.seconds
    embedder.seconds = 0.0
    t = _clock()
    noop = build(corpus, index, settings, embedder=embedder)
    noop_s = _clock() - t
    t = _clock()
    report = add([p["document"]], corpus, index, settings, embedder=embedder)
    add_s, add_embed_s = _clock() - t, embedder.seconds
    assert report.summary is not None and noop.embedded == 0
    return {
        "passages": full.passages,
        "full_s": full_s,
        "full_embed_s": full_embed_s,
        "noop_s": noop_s,
        "add_passages": report.summary.embedded,
        "add_s": add_s,
        "add_embed_s": add_embed_s,
        "ratio": add_s / full_s,
    }


def phase_build(p: dict[str, Any]) -> dict[str, Any]:
    """Build a latency-size index with the fake embedder (no model in this process)."""
    from ftzqa.index import build

    t = _clock()
    summary = build(p["corpus"], p["index"], Settings(), embedder=FakeEmbedder())
    seconds = _clock() - t
    disk = sum(f.stat().st_size for f in Path(p["index"]).rglob("*") if f.is_file())
    return {"passages": summary.passages, "build_s": seconds, "disk_mb": disk / 2**20}


def _stats(values: list[float]) -> dict[str, float]:
    a = np.asarray(values) * 1000.0
    return {"p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)),
            "mean_ms": float(a.mean())}


def phase_serve(p: dict[str, Any]) -> dict[str, Any]:
    """Load the index and the real model, then time query embedding and each mode per question."""
    from ftzqa.retrieve import Retriever

    questions: list[str] = p["questions"]
    t = _clock()
    retriever = Retriever.load(p["index"], settings=Settings())
    load_s = _clock() - t
    t = _clock()
    embedder = retriever.embedder
    model_s = _clock() - t
    t = _clock()
    retriever.search(questions[0], k=p["k"], mode="hybrid")
    first_s = _clock() - t
    for q in questions[1:6]:  # warm-up
        for mode in MODES:
            retriever.search(q, k=p["k"], mode=mode)
    times: dict[str, list[float]] = {"embed": [], **{m: [] for m in MODES}}
    for q in questions[6:]:
        t = _clock()
        embedder.encode([q])
        times["embed"].append(_clock() - t)
        for mode in MODES:
            retriever.forget()  # each answer as a new question's: no sentence vectors kept from the others
            t = _clock()
            retriever.search(q, k=p["k"], mode=mode)
            times[mode].append(_clock() - t)
    out: dict[str, Any] = {"passages": retriever.store.passage_count, "queries": len(times["embed"]),
                           "index_load_s": load_s, "model_load_s": model_s, "first_answer_s": first_s}
    out.update({name: _stats(v) for name, v in times.items()})
    over = [h - e for h, e in zip(times["hybrid"], times["embed"], strict=True)]
    out["hybrid_overhead"] = _stats(over)
    out["hybrid_over_embed"] = out["hybrid"]["p50_ms"] / out["embed"]["p50_ms"]
    return out


PHASES = {"model": phase_model, "throughput": phase_throughput, "incremental": phase_incremental,
          "build": phase_build, "serve": phase_serve, "onnx_model": phase_onnx_model,
          "build_without_onnx": phase_build_without_onnx, "onnx_export": phase_onnx_export}


# ---------------------------------------------------------------- driver


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Unlike ``ru_maxrss`` it does not carry over the parent's
    peak from before ``exec``, so a phase's figure is its own."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: an upper bound


def run_phase(name: str, params: dict[str, Any], work: Path) -> dict[str, Any]:
    """Run one phase in a fresh interpreter; add its wall time, peak RSS and the load around it."""
    out = work / f"result-{name}-{time.time_ns()}.json"
    cmd = [sys.executable, __file__, "--phase", name, "--params", json.dumps(params), "--out", str(out)]
    load_before, started = _load(), _clock()
    subprocess.run(cmd, check=True)
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    result.update(process_s=_clock() - started, load_before=load_before, load_after=_load())
    return result


# Starts a command and reports its wall time and peak RSS. It runs in its own small interpreter
# because a child's ru_maxrss includes the peak of the process that spawned it.
_LAUNCHER = """
import json, os, sys, time
t = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
print("\\n" + json.dumps({"s": time.perf_counter() - t, "rss_kb": usage.ru_maxrss,
                  "cpu_s": usage.ru_utime + usage.ru_stime,
                  "code": os.waitstatus_to_exitcode(status)}))
"""


def ftzqa_command() -> list[str]:
    script = Path(sys.executable).with_name("ftzqa")
    # the installed script, unless it predates the current entry point (then reinstall: make install)
    current = script.exists() and "from ftzqa.cli import run" in script.read_text(encoding="utf-8", errors="replace")
    return [str(script)] if current else [sys.executable, "-m", "ftzqa.cli"]


def run_cli(args: list[str], runs: int) -> dict[str, Any]:
    """Wall time and peak RSS of ``ftzqa ARGS`` started ``runs`` times from a cold process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FTZQA_")}
    seconds, rss, cpu = [], [], []
    for _ in range(runs):
        with tempfile.TemporaryFile() as sink:
            done = subprocess.run([sys.executable, "-c", _LAUNCHER, *ftzqa_command(), *args], stdout=subprocess.PIPE,
                                  stderr=sink, env=env, check=True, text=True)
        measured = json.loads(done.stdout.strip().splitlines()[-1])
        if measured["code"]:
            raise SystemExit(f"ftzqa {' '.join(args)} failed with exit code {measured['code']}")
        seconds.append(measured["s"])
        rss.append(measured["rss_kb"] / 1024)
        cpu.append(measured["cpu_s"])
    return {"runs": seconds, "median_s": statistics.median(seconds), "first_s": seconds[0],
            "median_cpu_s": statistics.median(cpu),
            "peak_rss_mb": max(rss), "load": _load()}


def environment() -> dict[str, Any]:
    from importlib.metadata import version

    import ftzqa

    return {
        "ftzqa_from": str(Path(ftzqa.__file__).parent),  # tells a run on a patched copy from one on src/
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        **{name: version(name) for name in ("torch", "sentence-transformers", "faiss-cpu", "bm25s", "numpy")},
        "platform": platform.platform(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes and few queries (a few minutes)")
    parser.add_argument("--sizes", help=f"passage counts for latency and RSS (default {FULL['sizes']})")
    parser.add_argument("--only", default="throughput,incremental,latency,cli",
                        help="comma-separated parts to run (default: all)")
    parser.add_argument("--queries", type=int, help="questions per size and mode")
    parser.add_argument("--ask-runs", type=int, help="cold ftzqa ask runs on the article, per variant")
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one, removed after)")
    parser.add_argument("--report", type=Path, help="print the tables of a saved results file and stop")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--params", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    log.setLevel(logging.INFO)
    if args.report:
        print(report(json.loads(args.report.read_text(encoding="utf-8"))))
        return 0
    if args.phase:
        result = PHASES[args.phase](json.loads(args.params))
        result["peak_rss_mb"] = peak_rss_mb()
        Path(args.out).write_text(json.dumps(result), encoding="utf-8")
        return 0

    plan = dict(QUICK if args.quick else FULL)
    if args.sizes:
        plan["sizes"] = args.sizes
    if args.queries:
        plan["queries"] = args.queries
    if args.ask_runs:
        plan["ask_runs"] = args.ask_runs
    parts = set(args.only.split(","))
    sizes = [int(s) for s in str(plan["sizes"]).split(",") if s]
    work = args.work or Path(tempfile.mkdtemp(prefix="ftzqa-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"quick": args.quick, "plan": plan, "environment": environment(),
                               "load_start": _load(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    started = _clock()
    try:
        articles = load_squad()
        batch = Settings().batch_size
        log.info("sentence-transformers model alone")
        questions = [q for a in articles for q, _ in a.qas[:1]][: plan["queries"]]
        results["model"] = run_phase("model", {"questions": questions}, work)
        if "throughput" in parts:
            n = plan["throughput_n"]
            log.info("build throughput: %d real passages, real model", n)
            corpus = make_corpus(articles, n, work / "tp-corpus", max_copies=1)
            results["throughput"] = run_phase(
                "throughput",
                {"corpus": str(corpus.folder), "work": str(work / "tp"), "batch_size": batch,
                 "repeats": plan["repeats"]},
                work,
            )
        if "incremental" in parts:
            n = plan["incremental_n"]
            log.info("incremental add: %d real passages, real model for rebuild and add", n)
            corpus = make_corpus(articles, n, work / "inc-corpus", max_copies=1)
            document = write_article(held_out(articles, corpus.articles), work / "inc-new")
            results["incremental"] = run_phase(
                "incremental",
                {"corpus": str(corpus.folder), "work": str(work / "inc"), "document": str(document),
                 "batch_size": batch},
                work,
            )
        if "latency" in parts:
            results["latency"] = {}
            for size in sizes:
                log.info("latency and RSS at %d passages", size)
                corpus = make_corpus(articles, size, work / f"lat-{size}" / "corpus")
                index = work / f"lat-{size}" / "index"
                built = run_phase("build", {"corpus": str(corpus.folder), "index": str(index)}, work)
                served = run_phase(
                    "serve",
                    {"index": str(index), "k": 5, "questions": corpus.questions[: plan["queries"] + 6]},
                    work,
                )
                entry = {"corpus_documents": corpus.documents, "build": built, "serve": served}
                if "cli" in parts:
                    entry["cold_ask"] = run_cli(
                        ["ask", corpus.questions[0], "--index", str(index), "--corpus", str(corpus.folder)], 1
                    )
                results["latency"][str(size)] = entry
        if "cli" in parts:
            log.info("CLI start-up")
            index = work / "article-index"
            cli: dict[str, Any] = {"help": run_cli(["--help"], plan["help_runs"])}
            cli["build_article"] = run_cli(["build", "--corpus", str(REPO / "corpus"), "--index", str(index)], 1)
            plain = work / "article-index-without-onnx"
            run_phase("build_without_onnx", {"corpus": str(REPO / "corpus"), "index": str(plain)}, work)
            for name, folder in (("ask_article", index), ("ask_article_without_onnx", plain)):
                cli[name] = run_cli(
                    ["ask", ARTICLE_QUESTION, "--index", str(folder), "--corpus", str(REPO / "corpus")],
                    plan["ask_runs"],
                )
            results["cli"] = cli
            results["onnx_model"] = run_phase("onnx_model", {"index": str(index), "questions": questions}, work)
            results["onnx_export"] = run_phase("onnx_export", {"work": str(work / "export")}, work)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    results["load_end"] = _load()
    results["total_s"] = _clock() - started
    path = write_results("speed-quick" if args.quick else "speed", results)
    print(report(results))
    print(f"\nwrote {path.relative_to(REPO)}")
    return 0


# ---------------------------------------------------------------- tables


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]

    def line(cells: list[Any]) -> str:
        return "  ".join(str(c).rjust(w) for c, w in zip(cells, widths, strict=True))

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _goal(value: float, goal: float, below: bool) -> str:
    met = value <= goal if below else value >= goal
    return f"{'met' if met else 'MISSED'} ({'<=' if below else '>='} {goal:g})"


def report(r: dict[str, Any]) -> str:
    env = r["environment"]
    out = [
        f"machine: {env['cpus']} CPUs, torch {env['torch']} "
        f"({r['model']['torch_threads'] if 'model' in r else '?'} threads), "
        f"load average {r['load_start']} at start, {r['load_end']} at end, {r['total_s'] / 60:.1f} min"
    ]
    if "throughput" in r:
        t = r["throughput"]
        out += ["", "Build throughput (real model, real SQuAD paragraphs, model loaded beforehand)", _table(
            ["passages", "raw encode p/s", "ftzqa build p/s", "ratio", "paired", "CPU time", "build: embed s",
             "other s", "peak RSS MB"],
            [[t["passages"], f"{t['raw_pps']:.1f}", f"{t['build_pps']:.1f}", f"{t['ratio']:.3f}",
              f"{t.get('ratio_paired', float('nan')):.3f}", f"{t.get('ratio_cpu', float('nan')):.3f}",
              f"{t['build_embed_s']:.1f}",
              f"{t['build_other_s']:.2f}", f"{t['peak_rss_mb']:.0f}"]],
        ), f"ratio: best raw / best build of {len(t['runs'])} alternating runs; paired: median run by run; "
           "CPU time: the same on process CPU seconds",
            f"goal: {_goal(t['ratio'], GOALS['build_ratio'], below=False)}"]
    if "incremental" in r:
        i = r["incremental"]
        out += ["", "Incremental add of one document vs full rebuild (real model for both)", _table(
            ["passages", "full rebuild s", "no-op refresh s", "add passages", "add s", "add: embed s", "ratio",
             "peak RSS MB"],
            [[i["passages"], f"{i['full_s']:.1f}", f"{i['noop_s']:.2f}", i["add_passages"], f"{i['add_s']:.2f}",
              f"{i['add_embed_s']:.2f}", f"{i['ratio']:.3f}", f"{i['peak_rss_mb']:.0f}"]],
        ), f"goal: {_goal(i['ratio'], GOALS['add_ratio'], below=True)}" if i["passages"] >= 10_000
            else "goal: set for a 10,000-passage index (run without --quick)"]
    if "latency" in r:
        rows, mem = [], []
        for size, e in r["latency"].items():
            s, b = e["serve"], e["build"]
            rows.append([size, f"{s['embed']['p50_ms']:.1f}"]
                        + [f"{s[m]['p50_ms']:.1f} / {s[m]['p95_ms']:.1f}" for m in ("dense", "bm25", "hybrid")]
                        + [f"{s['hybrid_overhead']['p50_ms']:.1f}", f"{s['hybrid_over_embed']:.2f}"])
            cold = e.get("cold_ask", {}).get("median_s")
            mem.append([size, f"{b['build_s']:.1f}", f"{b['peak_rss_mb']:.0f}", f"{b['disk_mb']:.0f}",
                        f"{s['index_load_s']:.2f}", f"{s['model_load_s']:.2f}", f"{s['first_answer_s']:.2f}",
                        f"{s['peak_rss_mb']:.0f}", f"{cold:.2f}" if cold is not None else "-"])
        worst = max(e["serve"]["hybrid_over_embed"] for e in r["latency"].values())
        queries = next(iter(r["latency"].values()))["serve"]["queries"]
        out += ["", f"Query latency, ms, p50 / p95 over {queries} SQuAD questions, k=5, full answer incl. evidence",
                _table(["passages", "embed only", "dense", "bm25", "hybrid", "hybrid - embed", "hybrid/embed"],
                       rows),
                f"goal hybrid p50 / embed p50: {_goal(worst, GOALS['hybrid_over_embed'], below=True)} (worst size)",
                "", "Build and serve per size (build with random vectors, serve with the real model; these "
                "indexes have no ONNX encoder, so questions and the cold ask use sentence-transformers)",
                _table(["passages", "build s", "build RSS MB", "disk MB", "index load s", "model load s",
                        "first answer s", "serve RSS MB", "cold ask s"], mem)]
    if "model" in r:
        m = r["model"]
        out += ["", f"sentence-transformers model alone: loads in {m['model_load_s']:.2f} s, "
                f"one question in {m['query']['p50_ms']:.1f} ms p50 ({m['query']['p95_ms']:.1f} p95), "
                f"peak RSS {m['peak_rss_mb']:.0f} MB"]
    if "onnx_model" in r:
        m = r["onnx_model"]
        out += [f"ONNX query encoder alone (onnxruntime, 1 thread): starts in {m['model_load_s']:.2f} s, "
                f"one question in {m['query']['p50_ms']:.1f} ms p50 ({m['query']['p95_ms']:.1f} p95; with 2 threads "
                f"{m['query_2_threads']['p50_ms']:.1f} / {m['query_2_threads']['p95_ms']:.1f}), "
                f"peak RSS {m['peak_rss_mb']:.0f} MB, torch imported: {m['torch_imported']}"]
    if "onnx_export" in r:
        x = r["onnx_export"]
        out += [f"ONNX export at build: {x['export_s']:.1f} s for {x['file_mb']:.0f} MB (incl. the agreement check, "
                f"worst probe cosine {x['min_cosine']}); reusing it in the next build: checksum in "
                f"{x['reuse_check_s']:.2f} s"]
    if "cli" in r:
        c = r["cli"]
        rows = [[name, len(v["runs"]), f"{v['median_s']:.2f}", f"{v['first_s']:.2f}",
                 f"{v['median_cpu_s']:.2f}" if "median_cpu_s" in v else "-", f"{v['peak_rss_mb']:.0f}"]
                for name, v in c.items()]
        out += ["", "CLI from a cold process (the repository's article, real model)",
                _table(["command", "runs", "median s", "first s", "median CPU s", "peak RSS MB"], rows),
                "CPU s: user + system seconds of the process (a busy machine inflates wall time, less so this)",
                f"goal ftzqa --help: {_goal(c['help']['median_s'], GOALS['help_s'], below=True)}"]
        if "ask_article" in c:
            out.append(f"goal cold ftzqa ask on the article (ONNX): "
                       f"{_goal(c['ask_article']['median_s'], GOALS['ask_s'], below=True)}")
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
