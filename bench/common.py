"""Shared bench helpers: a disk-cached embedder, the SQuAD articles and their corpora.

Bench scripts only; nothing here is part of the ftzqa package.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import random
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ftzqa.evaluate import GoldItem

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
SQUAD = DATA / "squad-train" / "train-v1.1.reconstructed.json.gz"
RESULTS = REPO / "bench" / "results"
CACHE = RESULTS / "cache"

EVAL_SEED = 20241  # the 48 evaluation articles
DEV_SEED = 7919  # tuning / calibration articles, disjoint from the evaluation ones
N_ARTICLES = 48

log = logging.getLogger("bench")


class CachedEmbedder:
    """Wraps an embedder; vectors are kept by text hash in memory and in one .npz on disk.

    Lets the bench re-build many indexes (per article, per setting) embedding each text once.
    """

    def __init__(self, model: str = "all-MiniLM-L6-v2", cache_dir: Path | None = CACHE) -> None:
        from ftzqa.embed import SentenceTransformerEmbedder

        self._inner = SentenceTransformerEmbedder(model, "cpu")
        self.model_id = model
        self.dimension = self._inner.dimension
        safe = re.sub(r"[^\w.-]+", "_", model)
        self._path = cache_dir / f"{safe}.npz" if cache_dir else None
        self._vectors: dict[str, np.ndarray] = {}
        self._dirty = False
        self.embedded = 0  # texts actually run through the model
        if self._path and self._path.exists():
            with np.load(self._path, allow_pickle=False) as data:
                self._vectors = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha1(text.encode()).hexdigest()

    def encode(self, texts: list[str], *, batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        todo = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._vectors}
        if todo:
            fresh = self._inner.encode(list(todo.values()), batch_size=batch_size, show_progress=show_progress)
            self._vectors.update(zip(todo, fresh, strict=True))
            self.embedded += len(todo)
            self._dirty = True
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        """Write the cache, merged with what other processes saved meanwhile (under a file lock)."""
        if not (self._path and self._dirty):
            return
        from filelock import FileLock

        self._path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self._path) + ".lock"):
            if self._path.exists():
                with np.load(self._path, allow_pickle=False) as data:
                    for key, vector in zip(data["keys"].tolist(), data["vectors"], strict=True):
                        self._vectors.setdefault(key, vector)
            keys = list(self._vectors)
            tmp = self._path.with_suffix(".tmp.npz")
            np.savez(tmp, keys=np.array(keys), vectors=np.stack([self._vectors[k] for k in keys]))
            tmp.replace(self._path)
        self._dirty = False


@dataclass(frozen=True)
class Article:
    title: str
    paragraphs: list[str]
    qas: list[tuple[str, tuple[str, ...]]]  # (question, answer texts)
    qa_paragraphs: tuple[int, ...] = ()  # index into `paragraphs` of each question's gold paragraph

    def markdown(self) -> str:
        return f"---\ntitle: {self.title}\n---\n\n" + "\n\n".join(self.paragraphs) + "\n"

    def gold(self, limit: int | None = None, seed: int = 0) -> list[GoldItem]:
        qas = self.qas
        if limit is not None and len(qas) > limit:
            qas = random.Random(f"{seed}:{self.title}").sample(qas, limit)
        return [GoldItem(q, a) for q, a in qas]


def load_squad(path: Path = SQUAD) -> list[Article]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        data = json.load(fh)["data"]
    articles = []
    for art in data:
        paragraphs = [" ".join(p["context"].split()) for p in art["paragraphs"]]
        rows = [
            (
                q["question"].strip(),
                tuple(dict.fromkeys(a["text"] for a in q["answers"] if a["text"].strip())),
                i,
            )
            for i, p in enumerate(art["paragraphs"])
            for q in p["qas"]
        ]
        rows = [x for x in rows if x[0] and x[1]]
        qas = [(q, a) for q, a, _ in rows]
        articles.append(Article(art["title"].replace("_", " "), paragraphs, qas, tuple(i for _, _, i in rows)))
    return articles


def evaluation_articles(articles: list[Article], n: int = N_ARTICLES) -> list[Article]:
    return [articles[i] for i in sorted(random.Random(EVAL_SEED).sample(range(len(articles)), n))]


def dev_articles(articles: list[Article], n: int = N_ARTICLES) -> list[Article]:
    """Articles for tuning and calibration: never one of the evaluation articles."""
    taken = {a.title for a in evaluation_articles(articles)}
    rest = [i for i, a in enumerate(articles) if a.title not in taken]
    return [articles[i] for i in sorted(random.Random(DEV_SEED).sample(rest, n))]


def write_corpus(articles: list[Article], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, art in enumerate(articles):
        slug = re.sub(r"[^\w]+", "-", art.title.lower()).strip("-")[:60]
        (folder / f"{i:03d}-{slug}.md").write_text(art.markdown(), encoding="utf-8")
    return folder


def settings_dict(settings: Any) -> dict[str, Any]:
    return {
        "dense_weight": settings.dense_weight,
        "embed_title": settings.embed_title,
        "max_tokens": settings.chunk.max_tokens,
        "k1": settings.bm25.k1,
        "b": settings.bm25.b,
        "pool": settings.pool,
    }


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return path


def quiet() -> None:
    """Logging at WARNING; bm25s sets its own logger to DEBUG when imported, so import it first."""
    import bm25s  # noqa: F401

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    log.setLevel(logging.INFO)


@contextmanager
def timed(label: str, into: dict[str, float]) -> Iterator[None]:
    started = time.perf_counter()
    yield
    into[label] = round(time.perf_counter() - started, 1)
    log.info("%s: %.1f s", label, into[label])
