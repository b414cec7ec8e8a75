"""Scale bench: indexes of 100,000 and 1,000,000 passages from real text, per storage engine.

    python bench/scale.py                             # 100k and 1M, embedded store (1M: ~1 h here)
    python bench/scale.py --sizes 100000 --queries 100
    python bench/scale.py --report bench/results/scale.json     # print the table again

**Text.** SQuAD train articles and SciFact abstracts from ../shared/data: first as they are, then
"variants" of each (every paragraph rewritten from sentences drawn from the same article, as
bench/synth.py does), until the index holds exactly the asked-for number of passages. Vocabulary,
lengths and BM25 statistics are those of real text.

**Vectors.** Embedding a million passages with the real model on these 2 cores would take about
8 hours (~35 passages/s), so only a sample is real: every original passage whose
all-MiniLM-L6-v2 vector is in the shared embedding cache (bench/results/cache, filled by
bench/squad.py and bench/scifact.py; ``--sample N`` embeds more). The rest get vectors from a
clustered distribution fitted to the real ones, never uniform random vectors (on those every ANN
index looks broken: nearest neighbours in 384-d are barely nearer than anything else):

- each article has a centre: the mean of its real vectors when it has some, else a draw from a
  Gaussian mixture fitted to the real articles' centres (k-means clusters, full between-article
  covariance);
- each passage is its article's centre plus within-article noise with the full covariance of the
  real passages around their article's mean, then L2-normalised.

The output compares the real sample with synthetic passages drawn around the same articles'
centres (how near passages of one article are to each other, nearest-passage cosines of real
questions, and the store's IVF recall@10 on both), so the within-article fit can be judged.

**Measured per size and store**, each phase in a fresh process: build from vectors (everything
after embedding: SQLite, BM25 postings, lexicon, IVF), disk, build peak RSS; load (open the index
and check it, as a server starts), serve RSS (after the queries; "beyond the model" takes off what
the ONNX question encoder itself holds); p50/p95 of the full answer per mode (``Retriever.search``:
question embedding, ranking, evidence, verdict) and of the question embedding alone (ONNX, one
thread), on real SQuAD questions; ANN recall@10 of dense search against exact search over all
vectors; ``ftzqa add`` of one 50-passage document and ``ftzqa remove`` of one document, as a user
runs them (cold process: the add loads the model to embed its passages). The load average is
recorded; compare figures from an otherwise idle machine only.

Also, once per run, the ``ann`` phase: one segment's dense search exact against IVF at 2,000 to
50,000 vectors (where the store's ANN threshold belongs), with recall@10 by nprobe. And on demand,
``--phase graphs --sizes 100000 --variants sq8-efc120`` (after a run with ``--keep``): HNSW graphs
over a built index's vectors, recall@10 and time by efSearch (the index this store built before IVF).
Phases can be picked with ``--phases`` (serve, add and cli reuse an index kept with ``--keep``).

``--store`` picks the engine (``embedded``, the default; other engines add their rows here).
Writes bench/results/scale.json and prints the README table.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import logging
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CACHE, DATA, RESULTS, Article, load_squad, quiet  # noqa: E402
from synth import _variant  # noqa: E402

from ftzqa.chunking import split  # noqa: E402
from ftzqa.corpus import parse_document  # noqa: E402
from ftzqa.settings import Settings  # noqa: E402
from ftzqa.types import Document, Passage, embed_input  # noqa: E402

log = logging.getLogger("bench.scale")
REPO = Path(__file__).resolve().parents[1]
WORK = RESULTS / "scale"
SEED = 2027
MODEL = "all-MiniLM-L6-v2"
STORES = ("embedded",)
ADD_PASSAGES = 50
PASSAGES_PER_SECOND = 35  # the real model on these 2 cores (bench/speed.py), for the "~8 h" note


def _scifact() -> list[Article]:
    with gzip.open(DATA / "scifact" / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [Article(" ".join(r["title"].split()).replace('"', "'"), [r["text"].strip()], [])
            for r in rows if r["text"].strip()]


def _markdown(article: Article, paragraphs: list[str], scifact: bool) -> str:
    if scifact:  # as bench/scifact.py writes them (so cached vectors match)
        return f'---\ntitle: "{article.title}"\n---\n\n{paragraphs[0]}\n'
    return f"---\ntitle: {article.title}\n---\n\n" + "\n\n".join(paragraphs) + "\n"


def documents(n: int, squad: list[Article], scifact: list[Article]) -> Iterator[tuple[Document, list[Passage], int]]:
    """(document, passages, article number) until exactly ``n`` passages; copy 0 of every article
    first (real text), then variants."""
    settings = Settings()
    articles = [(a, False) for a in squad] + [(a, True) for a in scifact]
    order = list(range(len(articles)))
    random.Random(SEED).shuffle(order)
    cache: dict[str, list[list[str]]] = {}
    total, copy = 0, 0
    while total < n:
        for number in order:
            article, sci = articles[number]
            need = n - total
            if need <= 0:
                return
            paragraphs = list(article.paragraphs) if copy == 0 else _variant(article, copy, cache)
            title = article.title if copy == 0 else f"{article.title} (variant {copy})"
            shown = Article(title, article.paragraphs, [])
            doc_id = f"{copy:03d}/{'sf' if sci else 'sq'}{number:05d}.md"
            doc = parse_document(doc_id, _markdown(shown, paragraphs, sci).encode())
            passages = split(doc, settings.chunk)
            if len(passages) > need:  # cut the last document short at a passage end
                doc = Document(doc.doc_id, doc.title, doc.text[: passages[need - 1].end],
                               hashlib.sha256(f"{doc_id}:{need}".encode()).hexdigest(), doc.source)
                passages = split(doc, settings.chunk)[:need]
            total += len(passages)
            yield doc, passages, number
        copy += 1


def _cache_key(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def real_vectors(wanted: dict[str, str], sample: int) -> dict[str, np.ndarray]:
    """Real vectors of original passages (by embedded text): from the shared cache, and embedded
    until ``sample`` when asked."""
    found: dict[str, np.ndarray] = {}
    path = CACHE / f"{MODEL}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as data:
            index = {k: i for i, k in enumerate(data["keys"].tolist())}
            rows = [(t, index[_cache_key(t)]) for t in wanted.values() if _cache_key(t) in index]
            vectors = data["vectors"]
            for text, row in rows:
                found[text] = np.asarray(vectors[row], dtype=np.float32)
    if sample > len(found):
        from common import CachedEmbedder

        rest = [t for t in wanted.values() if t not in found]
        random.Random(SEED).shuffle(rest)
        rest = rest[: sample - len(found)]
        log.info("embedding %d more sample passages with the real model", len(rest))
        embedder = CachedEmbedder(MODEL)
        found.update(zip(rest, embedder.encode(rest, show_progress=True), strict=True))
        embedder.save()
    return found


class Fitted:
    """Article centres and within-article noise fitted to real vectors (see the module docstring)."""

    def __init__(self, groups: dict[int, np.ndarray], rng: np.random.Generator) -> None:
        self.rng = rng
        self.centres = {a: v.mean(axis=0) for a, v in groups.items()}
        # residuals around a mean of m vectors are smaller by (m - 1) / m in variance: scaled back up
        within = np.concatenate([(v - v.mean(axis=0)) * np.sqrt(len(v) / (len(v) - 1))
                                 for v in groups.values() if len(v) >= 2])
        self.within = np.linalg.cholesky(np.cov(within, rowvar=False) + 1e-6 * np.eye(within.shape[1]))
        import faiss

        cents = np.stack(list(self.centres.values())).astype(np.float32)
        k = max(2, min(64, len(cents) // 6))
        km = faiss.Kmeans(cents.shape[1], k, niter=25, seed=SEED, verbose=False)
        km.train(cents)
        _, label = km.index.search(cents, 1)
        self.clusters = km.centroids
        self.weights = np.bincount(label[:, 0], minlength=k) / len(cents)
        between = cents - self.clusters[label[:, 0]]
        self.between = np.linalg.cholesky(np.cov(between, rowvar=False) + 1e-6 * np.eye(cents.shape[1]))

    def new_centre(self) -> np.ndarray:
        k = self.rng.choice(len(self.clusters), p=self.weights)
        return self.clusters[k] + self.between @ self.rng.standard_normal(self.clusters.shape[1])

    def passages(self, centre: np.ndarray, n: int) -> np.ndarray:
        x = centre + self.rng.standard_normal((n, len(centre))) @ self.within.T
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


# --- phases (each in its own process) --------------------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _disk_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 2**20


def encoder_index() -> Path:
    """An index of the article built with the real model: its ONNX question encoder is copied into
    every scale index (built once, kept)."""
    folder = WORK / "encoder"
    if not (folder / "index" / "CURRENT").exists():
        from ftzqa.index import build

        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(REPO / "corpus", folder / "corpus")
        build(folder / "corpus", folder / "index")
    return folder / "index"


def phase_build(size: int, folder: Path, sample: int) -> dict[str, Any]:
    from ftzqa.index import FORMAT_VERSION, read_manifest
    from ftzqa.lexicon import COUNTS_FORMAT
    from ftzqa.onnx_embed import TOKENIZER
    from ftzqa.storage.base import NewDocument
    from ftzqa.storage.writer import EmbeddedWriter, Encoder

    started = time.perf_counter()
    squad, scifact = load_squad(), _scifact()
    docs = list(documents(size, squad, scifact))
    originals = {p_key: embed_input(p, True) for d, ps, _ in docs if d.doc_id.startswith("000/")
                 for p_key, p in ((f"{d.doc_id}#{i}", p) for i, p in enumerate(ps))}
    real = real_vectors(originals, sample)
    corpus_s = time.perf_counter() - started

    rng = np.random.default_rng(SEED)
    groups: dict[int, list[np.ndarray]] = {}
    for d, ps, number in docs:
        if d.doc_id.startswith("000/"):
            for p in ps:
                v = real.get(embed_input(p, True))
                if v is not None:
                    groups.setdefault(number, []).append(v)
    fitted = Fitted({a: np.stack(v) for a, v in groups.items()}, rng)
    centres = dict(fitted.centres)
    new_docs = []
    real_used = 0
    for d, ps, number in docs:
        if number not in centres:
            centres[number] = fitted.new_centre()
        vectors = fitted.passages(centres[number], len(ps))
        if d.doc_id.startswith("000/"):
            for i, p in enumerate(ps):
                v = real.get(embed_input(p, True))
                if v is not None:
                    vectors[i] = v
                    real_used += 1
        keys = [hashlib.sha256(f"{MODEL}\x00{embed_input(p, True)}".encode()).hexdigest() for p in ps]
        new_docs.append(NewDocument(d, ps, keys, vectors))
    del docs
    vectors_s = time.perf_counter() - started - corpus_s

    index = folder / "index"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "corpus").mkdir(parents=True)
    source = encoder_index()
    gen, manifest = read_manifest(source)
    entry = manifest["query_encoder"]
    shutil.copytree(source / entry["path"], index / entry["path"])
    encoder = Encoder(entry, (gen / TOKENIZER).read_text(encoding="utf-8"))
    settings = Settings()
    meta = {"format_version": FORMAT_VERSION, "model": {"id": MODEL, "dimension": 384, "normalized": True},
            "embedding": {"with_title": True}, "chunker": settings.chunk.to_dict(), "bm25": settings.bm25.to_dict(),
            "corpus": str((folder / "corpus").resolve()), "files": {}, "skipped": [], "lexicon": dict(COUNTS_FORMAT)}
    dictionary = json.loads((gen / "dictionary.json").read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    EmbeddedWriter(index, None, settings).update(new_docs, [], meta, encoder, dictionary)
    build_s = time.perf_counter() - t0
    graph = sum(p.stat().st_size for p in index.rglob("dense.faiss")) / 2**20
    return {"passages": size, "documents": len(new_docs), "real_vectors": real_used, "corpus_s": round(corpus_s, 1),
            "vectors_s": round(vectors_s, 1), "build_s": round(build_s, 1), "build_peak_mb": round(_peak_mb()),
            "disk_mb": round(_disk_mb(index)), "graph_mb": round(graph), "fit": fit_report(fitted, real, groups)}


def fit_report(fitted: Fitted, real: dict[str, np.ndarray], groups: dict[int, list[np.ndarray]]) -> dict[str, Any]:
    """The real sample against synthetic passages drawn around the same articles' centres (the
    within-article noise is what is fitted; the questions' own articles stay where they are):
    median cosine of a passage to the others of its article, nearest-passage cosines of real
    questions, and the store's IVF recall@10 (nprobe as served) on both."""
    import tempfile

    from ftzqa.storage.vectors import GRAPH, IVF, NPROBE, AnnSettings, SegmentVectors, build_ann

    real_set = np.stack([v for vs in groups.values() for v in vs]).astype(np.float32)
    synth = np.concatenate([fitted.passages(fitted.centres[a], len(vs)) for a, vs in groups.items()])
    owner = np.concatenate([np.full(len(vs), a) for a, vs in groups.items()])
    q = _embed_questions(_questions(300))
    out: dict[str, Any] = {"sample": len(real_set), "articles": len(groups)}
    none = np.zeros(0, dtype=np.int64)
    for name, base in (("real", real_set), ("synthetic", synth)):
        sims = []
        for a in np.unique(owner)[:500]:
            rows = base[owner == a]
            if len(rows) >= 2:
                g = rows @ rows.T
                sims.append(float(g[np.triu_indices(len(rows), 1)].mean()))
        scores = q @ base.T
        top = -np.sort(-scores, axis=1)[:, :10]
        truth = np.argsort(-scores, axis=1)[:, :10]
        with tempfile.TemporaryDirectory() as tmp:
            build_ann(base, Path(tmp) / GRAPH)
            import faiss

            store = SegmentVectors(base, faiss.read_index(str(Path(tmp) / GRAPH)), AnnSettings(threshold=1), none)
            recall = np.mean([len(set(t.tolist()) & set(store.search(v, 10)[0].tolist())) / 10
                              for v, t in zip(q, truth, strict=True)])
        out[name] = {"same_article_cos": round(float(np.median(sims)), 3) if sims else None,
                     "top1_cos": round(float(np.median(top[:, 0])), 3),
                     "top10_cos": round(float(np.median(top[:, 9])), 3), f"{IVF}_recall10": round(float(recall), 3),
                     "nprobe": NPROBE}
    return out


def _questions(n: int) -> list[str]:
    """Real SQuAD questions about articles with real vectors in the cache (their paragraphs are in
    every index), shuffled."""
    cached = set()
    path = CACHE / f"{MODEL}.npz"
    with np.load(path, allow_pickle=False) as data:
        cached = set(data["keys"].tolist())
    out = []
    for article in load_squad():
        doc = parse_document("x.md", article.markdown().encode())
        if any(_cache_key(embed_input(p, True)) in cached for p in split(doc)[:3]):
            out += [q for q, _ in article.qas]
    random.Random(SEED).shuffle(out)
    return out[:n]


def _embed_questions(questions: list[str]) -> np.ndarray:
    from ftzqa.index import load_index

    store = load_index(encoder_index())
    embedder = store.query_embedder()
    assert embedder is not None
    return np.asarray(embedder.encode(questions), dtype=np.float32)


def phase_serve(folder: Path, queries: int) -> dict[str, Any]:
    import bm25s  # noqa: F401  (its import-time logging setup, before timing anything)

    from ftzqa.retrieve import Retriever

    index = folder / "index"
    questions = _questions(queries + 20)
    rss_start = _rss_mb()
    t0 = time.perf_counter()
    retriever = Retriever.load(index)
    load_s = time.perf_counter() - t0
    rss_loaded = _rss_mb()
    embedder = retriever.embedder  # the ONNX session: "the model"
    embedder.encode(["warm up"])
    model_mb = _rss_mb() - rss_loaded
    store = retriever.store
    for q in questions[:20]:  # warm-up: first touches of the mapped files
        for mode in ("hybrid", "dense", "bm25"):
            retriever.search(q, k=5, mode=mode)
    times: dict[str, list[float]] = {m: [] for m in ("embed", "dense", "bm25", "hybrid", "dense_only", "bm25_only")}
    vectors = []
    for q in questions[20:]:
        t = time.perf_counter()
        v = embedder.encode([q])[0]
        times["embed"].append(time.perf_counter() - t)
        vectors.append(v)
        for mode in ("dense", "bm25", "hybrid"):
            retriever.forget()  # each answer as a new question's: no sentence vectors kept from the others
            t = time.perf_counter()
            retriever.search(q, k=5, mode=mode)
            times[mode].append(time.perf_counter() - t)
        terms = store.tokenize(q)
        t = time.perf_counter()
        store.dense_search(v, 100)
        times["dense_only"].append(time.perf_counter() - t)
        t = time.perf_counter()
        store.bm25_search(terms, 100)
        times["bm25_only"].append(time.perf_counter() - t)
    rss_serve = _rss_mb()
    recall = _recall(store, np.stack(vectors))
    sweep = {}
    ivf = [seg.dense._params for seg in store.segments if seg.info.dense == "ivf"]
    for nprobe in SERVE_NPROBE:  # recall and dense search time (the 100-candidate pool) at other nprobe values
        for params in ivf:
            params.nprobe = nprobe
        took = []
        for v in vectors:
            t = time.perf_counter()
            store.dense_search(v, 100)
            took.append(time.perf_counter() - t)
        sweep[str(nprobe)] = {"recall10": _recall(store, np.stack(vectors)),
                              "dense_only_ms": round(1000 * statistics.median(took), 2)}
    for params in ivf:
        params.nprobe = store.ann.nprobe
    ms = {m: (round(1000 * statistics.median(v), 2), round(1000 * float(np.percentile(v, 95)), 2))
          for m, v in times.items()}
    return {"load_s": round(load_s, 2), "rss_start_mb": round(rss_start), "rss_loaded_mb": round(rss_loaded),
            "model_mb": round(model_mb), "rss_serve_mb": round(rss_serve),
            "beyond_model_mb": round(rss_serve - model_mb), "queries": len(vectors), "ms": ms,
            "hybrid_over_embed": round(ms["hybrid"][0] / ms["embed"][0], 2), "recall10": recall, "nprobe_sweep": sweep,
            "segments": [s.info.dense for s in store.segments]}


def _recall(store: Any, queries: np.ndarray) -> float:
    """recall@10 of the store's dense search against exact search over every stored vector."""
    best_scores = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 10), dtype=np.int64)
    for seg in store.segments:
        vectors, ids = seg.dense.vectors, np.asarray(seg.ids)
        for start in range(0, len(vectors), 200_000):
            scores = queries @ np.asarray(vectors[start : start + 200_000]).T
            both = np.concatenate([best_scores, scores], axis=1)
            cand = np.concatenate([best_ids, np.broadcast_to(ids[start : start + 200_000], scores.shape)], axis=1)
            top = np.argpartition(-both, 9, axis=1)[:, :10]
            best_scores = np.take_along_axis(both, top, axis=1)
            best_ids = np.take_along_axis(cand, top, axis=1)
    hits = [len(set(best_ids[i].tolist()) & set(store.dense_search(q, 10)[0].tolist())) / 10
            for i, q in enumerate(queries)]
    return round(float(np.mean(hits)), 4)


def phase_add(folder: Path) -> dict[str, Any]:
    """``ftzqa add`` of a 50-passage document, then ``ftzqa remove`` of one document of the big
    segment, each as a user runs it (a fresh process)."""
    from ftzqa.index import read_manifest

    article = max(load_squad(), key=lambda a: len(a.paragraphs))
    settings = Settings()
    single = [p for p in _variant(article, 999, {})
              if len(split(parse_document("p.md", p.encode()), settings.chunk)) == 1]  # one passage each
    text = f"---\ntitle: {article.title} (added)\n---\n\n" + "\n\n".join(single[:ADD_PASSAGES]) + "\n"
    assert len(split(parse_document("added.md", text.encode()), settings.chunk)) == ADD_PASSAGES
    new = folder / "added.md"
    new.write_text(text, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cli = [sys.executable, "-m", "ftzqa.cli"]
    # on a hard-linked copy (segments are immutable; every change writes new files and renames
    # CURRENT), so the measured index stays as built for the serve phase
    index, corpus = folder / "index-add", folder / "corpus-add"
    shutil.rmtree(index, ignore_errors=True)
    shutil.rmtree(corpus, ignore_errors=True)
    subprocess.run(["cp", "-al", str(folder / "index"), str(index)], check=True)
    shutil.copytree(folder / "corpus", corpus)
    t = time.perf_counter()
    out = subprocess.run([*cli, "add", str(new), "--index", str(index), "--corpus", str(corpus)],
                         capture_output=True, text=True, env=env)
    add_s = time.perf_counter() - t
    if out.returncode or f"({ADD_PASSAGES} embedded" not in out.stdout:
        raise RuntimeError(f"ftzqa add did not embed {ADD_PASSAGES} passages: {out.stdout} {out.stderr}")
    victim = min(d for d in read_manifest(index)[1]["documents"] if d.startswith("000/"))
    t = time.perf_counter()
    out = subprocess.run([*cli, "remove", victim, "--keep-files", "--index", str(index), "--corpus", str(corpus)],
                         capture_output=True, text=True, env=env)
    remove_s = time.perf_counter() - t
    if out.returncode:
        raise RuntimeError(out.stderr)
    t = time.perf_counter()
    subprocess.run([*cli, "--help"], capture_output=True, env=env, check=True)
    start_s = time.perf_counter() - t
    segments = read_manifest(index)[1]["segments"]
    shutil.rmtree(index)
    shutil.rmtree(corpus)
    return {"add_s": round(add_s, 1), "remove_s": round(remove_s, 1), "cli_start_s": round(start_s, 2),
            "segments_after": [(s["passages"], s["dense"]) for s in segments]}


ANN_SIZES = (2_000, 5_000, 10_000, 20_000, 50_000)
NPROBE_SWEEP = (16, 32, 64, 128, 256)
SERVE_NPROBE = (32, 64, 128, 256)  # nprobe tried on the built indexes


def phase_ann(queries: int) -> dict[str, Any]:
    """Where an approximate index starts to pay: one segment's dense search (the hybrid pool, 100
    candidates, one thread) exact against IVF as the store builds it, at several segment sizes, on
    the same vectors as the scale indexes (real sample first, then fitted ones) and real questions;
    with recall@10 against exact search for a few nprobe values."""
    import tempfile

    from ftzqa.storage.vectors import AnnSettings, SegmentVectors, build_ann

    n = max(ANN_SIZES)
    squad, scifact = load_squad(), _scifact()
    docs = list(documents(n, squad, scifact))
    real = real_vectors({f"{d.doc_id}#{j}": embed_input(p, True) for d, ps, _ in docs
                         if d.doc_id.startswith("000/") for j, p in enumerate(ps)}, 0)
    rng = np.random.default_rng(SEED)
    groups: dict[int, list[np.ndarray]] = {}
    for d, ps, number in docs:
        for p in ps:
            v = real.get(embed_input(p, True))
            if v is not None and d.doc_id.startswith("000/"):
                groups.setdefault(number, []).append(v)
    fitted = Fitted({a: np.stack(v) for a, v in groups.items()}, rng)
    centres = dict(fitted.centres)
    parts = []
    for d, ps, number in docs:
        if number not in centres:
            centres[number] = fitted.new_centre()
        vectors = fitted.passages(centres[number], len(ps))
        for i, p in enumerate(ps):
            v = real.get(embed_input(p, True))
            if v is not None and d.doc_id.startswith("000/"):
                vectors[i] = v
        parts.append(vectors)
    base = np.concatenate(parts)[:n]
    q = _embed_questions(_questions(queries))
    none = np.zeros(0, dtype=np.int64)
    out: dict[str, Any] = {"queries": len(q), "sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for size in ANN_SIZES:
            vectors = np.ascontiguousarray(base[:size])
            ann = AnnSettings(threshold=1)
            flat = SegmentVectors(vectors, None, ann, none)
            t0 = time.perf_counter()
            build_ann(vectors, Path(tmp) / "g.faiss")
            build_s = time.perf_counter() - t0
            import faiss

            graph = faiss.read_index(str(Path(tmp) / "g.faiss"))
            row: dict[str, Any] = {"graph_build_s": round(build_s, 1)}
            truth = []
            seconds = []
            for v in q:
                t = time.perf_counter()
                rows, _ = flat.search(v, 100)
                seconds.append(time.perf_counter() - t)
                truth.append(set(rows[:10].tolist()))
            row["exact_ms"] = round(1000 * statistics.median(seconds), 3)
            row["lists"] = int(graph.nlist)
            for nprobe in NPROBE_SWEEP:
                ivf = SegmentVectors(vectors, graph, AnnSettings(threshold=1, nprobe=nprobe), none)
                seconds, hits = [], []
                for v, want in zip(q, truth, strict=True):
                    t = time.perf_counter()
                    rows, _ = ivf.search(v, 100)
                    seconds.append(time.perf_counter() - t)
                    hits.append(len(want & set(rows[:10].tolist())) / 10)
                row[f"ivf_p{nprobe}_ms"] = round(1000 * statistics.median(seconds), 3)
                row[f"ivf_p{nprobe}_recall10"] = round(float(np.mean(hits)), 4)
            out["sizes"][str(size)] = row
            log.info("ann %d: %s", size, json.dumps(row))
    return out


GRAPH_VARIANTS = {"sq8-efc40": ("sq8", 40), "sq8-efc120": ("sq8", 120), "flat-efc40": ("flat", 40)}
GRAPH_EF = (128, 256, 512)


def phase_graphs(folder: Path, queries: int, variants: list[str]) -> dict[str, Any]:
    """HNSW graphs (what this store built before IVF) on the vectors of a built index (its one big
    segment): recall@10 against exact search after the store's exact re-scoring of the candidates,
    and time per search, by efSearch."""
    import faiss

    from ftzqa.storage.segment import SEGMENTS
    from ftzqa.storage.vectors import VECTORS, AnnSettings, SegmentVectors

    seg = max((folder / "index" / SEGMENTS).iterdir(), key=lambda p: (p / VECTORS).stat().st_size)
    vectors = np.load(seg / VECTORS, mmap_mode="r", allow_pickle=False)
    q = _embed_questions(_questions(queries))
    truth = [set(r.tolist()) for r in faiss.knn(q, np.ascontiguousarray(vectors), 10,
                                               metric=faiss.METRIC_INNER_PRODUCT)[1]]
    none = np.zeros(0, dtype=np.int64)
    out: dict[str, Any] = {"passages": len(vectors), "queries": len(q)}
    faiss.omp_set_num_threads(2)
    for name in variants:
        kind, efc = GRAPH_VARIANTS[name]
        t0 = time.perf_counter()
        graph = (faiss.IndexHNSWSQ(vectors.shape[1], faiss.ScalarQuantizer.QT_8bit, 32, faiss.METRIC_INNER_PRODUCT)
                 if kind == "sq8" else faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT))
        graph.hnsw.efConstruction = efc
        graph.train(np.ascontiguousarray(vectors))
        graph.add(np.ascontiguousarray(vectors))
        row: dict[str, Any] = {"build_s": round(time.perf_counter() - t0, 1)}
        for ef in GRAPH_EF:
            search = SegmentVectors(vectors, graph, AnnSettings(threshold=1, ef_search=ef), none)
            took, hits = [], []
            for v, want in zip(q, truth, strict=True):
                t = time.perf_counter()
                rows, _ = search.search(v, 10)
                took.append(time.perf_counter() - t)
                hits.append(len(want & set(rows.tolist())) / 10)
            row[str(ef)] = {"recall10": round(float(np.mean(hits)), 4), "ms": round(1000 * statistics.median(took), 2)}
        out[name] = row
        log.info("graphs %s: %s", name, json.dumps(row))
    return out


ARTICLE_QUESTION = "How many reform pilot tasks were identified in the overall plan?"  # as bench/speed.py
ASK_RUNS = 3
_LAUNCHER = """
import json, os, sys, time
t = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
print(json.dumps({"s": time.perf_counter() - t, "rss_kb": usage.ru_maxrss, "code": os.waitstatus_to_exitcode(status)}))
"""


def _without_onnx(index: Path, plain: Path) -> Path:
    """A hard-linked copy of ``index`` whose live generation records no ONNX encoder, as an index
    built before the encoder existed: questions are embedded by sentence-transformers (torch)."""
    from ftzqa.index import read_manifest
    from ftzqa.settings import Settings as _Settings

    shutil.rmtree(plain, ignore_errors=True)
    subprocess.run(["cp", "-al", str(index), str(plain)], check=True)
    gen, manifest = read_manifest(plain)
    copy = gen.with_name(gen.name + "-st")
    shutil.copytree(gen, copy)  # a real copy: the manifest is rewritten
    manifest["query_encoder"] = {"format": "sentence-transformers", "model": _Settings().model,
                                 "reason": "bench: the path without ONNX"}
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (plain / "CURRENT").unlink()  # a hard link to the original's: replaced, not written through
    (plain / "CURRENT").write_text(copy.name + "\n", encoding="utf-8")
    return plain


def _cold_ask(index: Path, corpus: Path, question: str, runs: int) -> dict[str, Any]:
    """``ftzqa ask`` from process start to answer (the installed console script, this checkout's
    sources first), median of ``runs``; and whether torch was imported on that path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FTZQA_")}
    env["PYTHONPATH"] = str(REPO / "src")
    script = Path(sys.executable).with_name("ftzqa")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "ftzqa.cli"]
    args = ["ask", question, "-k", "3", "--index", str(index), "--corpus", str(corpus)]
    seconds, rss = [], []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", _LAUNCHER, *command, *args], capture_output=True, text=True,
                              env=env, check=True)
        measured = json.loads(done.stdout.strip().splitlines()[-1])
        if measured["code"]:
            raise RuntimeError(f"ftzqa ask failed ({measured['code']}): {done.stderr[-2000:]}")
        seconds.append(measured["s"])
        rss.append(measured["rss_kb"] / 1024)
    traced = subprocess.run([sys.executable, "-X", "importtime", "-m", "ftzqa.cli", *args], capture_output=True,
                            text=True, env=env, check=True)
    modules = {line.rsplit("|", 1)[-1].strip() for line in traced.stderr.splitlines()
               if line.startswith("import time:")}
    return {"median_s": round(statistics.median(seconds), 2), "runs": [round(x, 2) for x in seconds],
            "peak_rss_mb": round(max(rss)), "torch_imported": "torch" in modules}


def phase_cli(folder: Path) -> dict[str, Any]:
    """Cold ``ftzqa ask`` with and without the ONNX question encoder: on the article (the issue's
    target) and on this size's index."""
    article = encoder_index()
    out: dict[str, Any] = {}
    plain_article = _without_onnx(article, WORK / "encoder" / "index-without-onnx")
    out["article_onnx"] = _cold_ask(article, REPO / "corpus", ARTICLE_QUESTION, ASK_RUNS)
    out["article_without_onnx"] = _cold_ask(plain_article, REPO / "corpus", ARTICLE_QUESTION, ASK_RUNS)
    question = _questions(1)[0]
    out["index_onnx"] = _cold_ask(folder / "index", folder / "corpus", question, ASK_RUNS)
    plain = _without_onnx(folder / "index", folder / "index-without-onnx")
    out["index_without_onnx"] = _cold_ask(plain, folder / "corpus", question, 1)
    shutil.rmtree(plain)
    return out


# --- driver --------------------------------------------------------------------------------------


def _child(phase: str, size: int, store: str, args: argparse.Namespace) -> dict[str, Any]:
    folder = WORK / f"{store}-{size}"
    cmd = [sys.executable, __file__, "--phase", phase, "--sizes", str(size), "--store", store,
           "--queries", str(args.queries), "--sample", str(args.sample)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    log.info("%s %s %d ...", phase, store, size)
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise RuntimeError(f"{phase} {size} failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = round(time.perf_counter() - started, 1)
    result["load_average"] = round(os.getloadavg()[0], 2)
    log.info("%s %s %d: %s", phase, store, size, json.dumps(result))
    del folder
    return result


def table(results: dict[str, Any]) -> str:
    head = ("| store | passages | build from vectors | disk | serve RSS (beyond model) | load | embed p50 | "
            "dense p50 / p95 | bm25 p50 / p95 | hybrid p50 / p95 | hybrid / embed | recall@10 | add 50 passages | "
            "remove 1 | load avg |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    asks, fits, sweeps = [], [], []
    for key, r in results["runs"].items():
        store, size = key.split(":")
        b, s, a = r.get("build", {}), r.get("serve", {}), r.get("add", {})
        if not s:
            continue
        ms = s["ms"]
        lines.append(
            f"| {store} | {int(size):,} | {b.get('build_s', float('nan')):.0f} s | "
            f"{b.get('disk_mb', float('nan')) / 1024:.2f} GB | "
            f"{s['rss_serve_mb']:,} MB ({s['beyond_model_mb']:,} MB) | {s['load_s']:.2f} s | {ms['embed'][0]:.1f} | "
            f"{ms['dense'][0]:.1f} / {ms['dense'][1]:.1f} | {ms['bm25'][0]:.1f} / {ms['bm25'][1]:.1f} | "
            f"{ms['hybrid'][0]:.1f} / {ms['hybrid'][1]:.1f} | **{s['hybrid_over_embed']:.2f}** | {s['recall10']:.3f} | "
            f"{a.get('add_s', float('nan')):.1f} s | {a.get('remove_s', float('nan')):.1f} s |"
        )
        load = [r[p]["load_average"] for p in ("build", "serve", "add", "cli") if p in r]
        lines[-1] += f" {min(load):.1f}–{max(load):.1f} |" if load else " |"
        c = r.get("cli")
        if c:
            io, ip, ao, ap = c["index_onnx"], c["index_without_onnx"], c["article_onnx"], c["article_without_onnx"]
            asks.append(
                f"- {int(size):,} passages: cold `ftzqa ask` (process start to answer, median of {len(io['runs'])}) "
                f"{io['median_s']:.2f} s with ONNX (torch imported: {io['torch_imported']}), "
                f"{ip['median_s']:.2f} s with sentence-transformers; on the article "
                f"{ao['median_s']:.2f} s with ONNX (torch imported: {ao['torch_imported']}, "
                f"{ao['peak_rss_mb']} MB peak), {ap['median_s']:.2f} s without ({ap['peak_rss_mb']} MB), "
                f"load {c['load_average']:.1f}")
        f = b.get("fit")
        if f:
            real, synth = f["real"], f["synthetic"]
            if "ivf_recall10" in real:
                fits.append(
                    f"- {int(size):,}: {b['real_vectors']:,} real vectors ({f['articles']} articles), against "
                    f"synthetic passages drawn around the same articles' centres: cosine between passages of one "
                    f"article (median) {real['same_article_cos']} vs {synth['same_article_cos']}; nearest-passage "
                    f"cosine of real questions (median top-1 / top-10) {real['top1_cos']} / {real['top10_cos']} vs "
                    f"{synth['top1_cos']} / {synth['top10_cos']}; IVF recall@10 {real['ivf_recall10']} vs "
                    f"{synth['ivf_recall10']}")
        sweep_of = s.get("nprobe_sweep") or {}
        if sweep_of:
            sweeps.append(f"- {int(size):,}: " + "; ".join(
                f"nprobe {p}: recall@10 {v['recall10']:.3f}, dense {v['dense_only_ms']:.2f} ms"
                for p, v in sweep_of.items()))
    out = "\n".join(lines)
    if asks:
        out += "\n\nCold ask:\n" + "\n".join(asks)
    if sweeps:
        out += "\n\nIVF nprobe on the built index (dense search of the 100-candidate pool, one thread, p50):\n"
        out += "\n".join(sweeps)
    if fits:
        out += "\n\nFit of the synthetic vectors:\n" + "\n".join(fits)
    ann = results.get("ann")
    if ann:
        probes = sorted({int(k.split("_")[1][1:]) for row in ann["sizes"].values() for k in row
                         if k.startswith("ivf_p") and k.endswith("_ms")})
        head = ("| segment passages | lists | exact ms | "
                + " | ".join(f"IVF nprobe {p} ms / recall@10" for p in probes) + " | index build |")
        rows = [head, "|" + "---|" * (head.count("|") - 1)]
        for size, row in ann["sizes"].items():
            if "lists" not in row:
                continue
            rows.append(f"| {int(size):,} | {row['lists']} | {row['exact_ms']:.2f} | " + " | ".join(
                f"{row[f'ivf_p{p}_ms']:.2f} / {row[f'ivf_p{p}_recall10']:.3f}" for p in probes)
                + f" | {row['graph_build_s']:.1f} s |")
        out += (f"\n\nExact vs IVF for one segment ({ann['queries']} real questions, 100 candidates, one thread, "
                f"load {ann.get('load_average', float('nan')):.1f}):\n" + "\n".join(rows))
    graphs = results.get("graphs")
    if graphs:
        head = "| graph (M 32) | build | " + " | ".join(f"efSearch {ef}: recall@10 / ms" for ef in GRAPH_EF) + " |"
        rows = [head, "|" + "---|" * (head.count("|") - 1)]
        for name in GRAPH_VARIANTS:
            if name in graphs:
                g = graphs[name]
                built = f"{g['build_s']:.0f} s"
                rows.append(f"| {name} | {built} | " + " | ".join(
                    f"{g[str(ef)]['recall10']:.3f} / {g[str(ef)]['ms']:.2f}" for ef in GRAPH_EF) + " |")
        out += (f"\n\nHNSW variants on the {graphs['passages']:,} vectors of the built index ({graphs['queries']} "
                f"real questions, exact re-scoring, one thread for search, two for builds):\n" + "\n".join(rows))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--store", default="embedded", help=f"storage engine: {', '.join(STORES)}")
    parser.add_argument("--queries", type=int, default=200, help="SQuAD questions timed per size")
    parser.add_argument("--sample", type=int, default=0, help="real vectors wanted (embeds beyond the cache)")
    parser.add_argument("--phase", choices=("build", "serve", "add", "cli", "ann", "graphs"), help=argparse.SUPPRESS)
    parser.add_argument("--variants", default=",".join(GRAPH_VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--report", help="print the table of results files (comma-separated)")
    parser.add_argument("--out", default=str(RESULTS / "scale.json"), help="results file (runs are merged into it)")
    parser.add_argument("--keep", action="store_true", help="keep the indexes (bench/results/scale/)")
    parser.add_argument("--phases", default="ann,build,serve,add,cli",
                        help="phases to run (ann: exact vs IVF by segment size, once; then per size build, serve, "
                             "add, cli); serve, add and cli reuse a kept index")
    args = parser.parse_args()
    quiet()
    logging.getLogger("bench.scale").setLevel(logging.INFO)
    if args.report:
        merged: dict[str, Any] = {"runs": {}}
        for name in args.report.split(","):
            data = json.loads(Path(name).read_text(encoding="utf-8"))
            for key, phases in data.get("runs", {}).items():  # phases of one run may come from several files
                merged["runs"].setdefault(key, {}).update(phases)
            merged.update({k: v for k, v in data.items() if k in ("ann", "graphs")})
        print(table(merged))
        return
    stores = args.store.split(",")
    for store in stores:
        if store not in STORES:
            parser.error(f"store {store!r} is not measured here yet; pick one of {', '.join(STORES)}")
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.phase == "graphs":
        print(json.dumps(phase_graphs(WORK / f"{args.store}-{sizes[0]}", args.queries, args.variants.split(","))))
        return
    if args.phase == "ann":
        print(json.dumps(phase_ann(args.queries)))
        return
    if args.phase:
        folder = WORK / f"{args.store}-{sizes[0]}"
        if args.phase == "build":
            out = phase_build(sizes[0], folder, args.sample)
        elif args.phase == "serve":
            out = phase_serve(folder, args.queries)
        elif args.phase == "add":
            out = phase_add(folder)
        else:
            out = phase_cli(folder)
        print(json.dumps(out))
        return
    started = time.perf_counter()
    path = Path(args.out).resolve()
    results: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"runs": {}}
    results["machine"] = {"cpus": os.cpu_count(), "load_average_start": round(os.getloadavg()[0], 2)}
    results["note"] = (f"embedding {max(sizes):,} passages with the real model here would take about "
                       f"{max(sizes) / PASSAGES_PER_SECOND / 3600:.0f} h; vectors beyond the real sample are synthetic "
                       "(clustered, fitted to the real ones)")
    if "ann" in args.phases.split(","):
        results["ann"] = _child("ann", 0, "embedded", args)
        RESULTS.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    for size in sizes:
        for store in stores:
            run = results["runs"].setdefault(f"{store}:{size}", {})
            for phase in ("build", "serve", "add", "cli"):
                if phase in args.phases.split(","):
                    run[phase] = _child(phase, size, store, args)
                    RESULTS.mkdir(parents=True, exist_ok=True)
                    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
            RESULTS.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
            if not args.keep:
                shutil.rmtree(WORK / f"{store}-{size}", ignore_errors=True)
    results["total_s"] = round(time.perf_counter() - started)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(results["note"])
    print(table(results))
    print(f"written {path}; {results['total_s'] / 60:.0f} min")


if __name__ == "__main__":
    main()
