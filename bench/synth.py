"""Corpora of a chosen passage count built from SQuAD text, and a fast fake embedder (speed bench only).

Sizes up to ~19,000 passages use real SQuAD paragraphs, one article per document. Larger sizes
add "variants" of each article: every paragraph is replaced by as many sentences as it had,
drawn at random from the same article, so vocabulary, lengths and BM25 statistics stay those
of real Wikipedia text while no two documents are identical (the build skips duplicates).
Passage counts are exact: they are counted with ftzqa's own chunker.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ftzqa.chunking import sentences, split
from ftzqa.corpus import parse_document
from ftzqa.settings import DEFAULT_MODEL, ChunkSettings

if TYPE_CHECKING:
    from common import Article

SEED = 1357


class FakeEmbedder:
    """Random unit vectors under the real model's id and dimension: indexes load with the real model.

    A flat inner-product search costs the same whatever the vector values, so latency and memory
    measured on these vectors hold for real ones; only the ranking is meaningless.
    """

    def __init__(self, model_id: str = DEFAULT_MODEL, dimension: int = 384, seed: int = SEED) -> None:
        self.model_id = model_id
        self.dimension = dimension
        self._rng = np.random.default_rng(seed)

    def encode(self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        vectors = self._rng.standard_normal((len(texts), self.dimension), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors


@dataclass
class Corpus:
    folder: Path
    passages: int = 0
    documents: int = 0
    articles: list[str] = field(default_factory=list)  # SQuAD titles whose text is in the corpus
    questions: list[str] = field(default_factory=list)  # their SQuAD questions, shuffled


def _slug(text: str) -> str:
    return re.sub(r"[^\w]+", "-", text.lower()).strip("-")[:60]


def _document(title: str, paragraphs: list[str]) -> str:
    return f"---\ntitle: {title}\n---\n\n" + "\n\n".join(paragraphs) + "\n"


def _sentences(article: Article, cache: dict[str, list[list[str]]]) -> list[list[str]]:
    if article.title not in cache:
        cache[article.title] = [[s.text for s in sentences(p)] or [p] for p in article.paragraphs]
    return cache[article.title]


def _variant(article: Article, copy: int, cache: dict[str, list[list[str]]]) -> list[str]:
    """Paragraphs of the article rewritten from its own sentences (copy 0: the original)."""
    if copy == 0:
        return list(article.paragraphs)
    paragraphs = _sentences(article, cache)
    pool = [s for p in paragraphs for s in p]
    rng = random.Random(f"{SEED}:{article.title}:{copy}")
    return [" ".join(rng.choices(pool, k=len(p))) for p in paragraphs]


def make_corpus(
    articles: list[Article],
    n_passages: int,
    folder: Path,
    chunk: ChunkSettings | None = None,
    *,
    max_copies: int | None = None,
) -> Corpus:
    """Write documents into ``folder`` until the corpus has exactly ``n_passages`` passages.

    ``max_copies=1`` keeps to the original SQuAD paragraphs (raises if there are too few).
    """
    chunk = chunk or ChunkSettings()
    folder.mkdir(parents=True, exist_ok=True)
    order = list(articles)
    random.Random(SEED).shuffle(order)
    out = Corpus(folder)
    cache: dict[str, list[list[str]]] = {}
    copy = 0
    while out.passages < n_passages:
        if max_copies is not None and copy >= max_copies:
            raise ValueError(f"{n_passages} passages asked for, only {out.passages} available")
        for article in order:
            need = n_passages - out.passages
            if need <= 0:
                break
            title = article.title if copy == 0 else f"{article.title} (variant {copy})"
            raw = _document(title, _variant(article, copy, cache))
            name = f"{copy:03d}-{_slug(article.title)}.md"
            doc = parse_document(name, raw.encode())
            passages = split(doc, chunk)
            while len(passages) > need:  # cut the last document short at a passage end
                body = doc.text[: passages[need - 1].end] + "\n"
                raw = raw[: len(raw) - len(doc.text)] + body
                doc = parse_document(name, raw.encode())
                passages = split(doc, chunk)
            (folder / name).write_text(raw, encoding="utf-8")
            out.passages += len(passages)
            out.documents += 1
            if copy == 0:
                out.articles.append(article.title)
        copy += 1
    used = set(out.articles)
    out.questions = [q for a in articles if a.title in used for q, _ in a.qas]
    random.Random(SEED).shuffle(out.questions)
    return out


def held_out(articles: list[Article], used: list[str]) -> Article:
    """An article not in ``used`` of median length: the "one more document" for incremental add."""
    taken = set(used)
    rest = sorted((a for a in articles if a.title not in taken), key=lambda a: (len(a.paragraphs), a.title))
    return rest[len(rest) // 2]


def write_article(article: Article, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_slug(article.title)}.md"
    path.write_text(_document(article.title, list(article.paragraphs)), encoding="utf-8")
    return path
