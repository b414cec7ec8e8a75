"""Attribute near-misses from SQuAD: a real question with one topic word swapped for its nearest
neighbour among the article's words that the gold paragraph never uses.

    python bench/attrswap.py --sample 30     # a seeded sample with the swap shown, to check by hand

bench/nearmiss.py swaps a *name* ("Yunnan" -> "Guangxi"); people's near-misses as often swap the
*attribute* ("exports" -> "imports", "trains" -> "flights"): right place, right topic, a measure the
documents do not give for it. Rule: among the question's lower-case content words (4+ letters)
that occur in its gold paragraph, pick one (seeded); replace it with the article word closest to it
by MiniLM embedding (at least ``MIN_COSINE``) among those the article writes in lower case at least
twice, the gold paragraph never uses, that are no inflection of the word and end in the same two
letters (a rough stand-in for the same part of speech). Closest words are mostly siblings
(imports/exports, north/south, early/later); some are synonyms (artist/singer), which leave the
question answerable: noise, like the ~12% of nearmiss.py.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SQUAD, Article, CachedEmbedder, dev_articles, load_squad, quiet  # noqa: E402

from ftzqa.answertype import TYPE_WORDS  # noqa: E402
from ftzqa.query import FUNCTION_WORDS  # noqa: E402

SEED = 5151
MIN_COSINE = 0.5
PREFIX = 5  # words sharing these first letters are inflections of each other
_WORD = re.compile(r"[^\W_]+")
Encode = Callable[[list[str]], np.ndarray]


def _content(word: str) -> bool:
    return len(word) >= 4 and word.isalpha() and word not in FUNCTION_WORDS and word not in TYPE_WORDS


def article_words(article: Article) -> list[str]:
    """Words the article writes in lower case (not names), at least twice."""
    counts = Counter(w for p in article.paragraphs for w in _WORD.findall(p) if w.islower() and _content(w))
    return sorted(w for w, c in counts.items() if c >= 2)


def swaps(article: Article, encode: Encode, limit: int | None = None, seed: int = SEED) -> list[tuple[str, str, str]]:
    """(question, swapped word, replacement) for the article's questions that get one."""
    vocab = article_words(article)
    if not vocab:
        return []
    vectors = encode(vocab)
    row = {w: i for i, w in enumerate(vocab)}
    out = []
    for (question, _), index in zip(article.qas, article.qa_paragraphs, strict=True):
        gold = {w.lower() for w in _WORD.findall(article.paragraphs[index])}
        mine = [w for w in dict.fromkeys(_WORD.findall(question)) if w.islower() and _content(w) and w in gold]
        if not mine:
            continue
        rng = random.Random(f"{seed}|{article.title}|{question}")
        word = rng.choice(mine)
        allowed = np.array([w not in gold and w[:PREFIX] != word[:PREFIX] and w[-2:] == word[-2:] for w in vocab])
        if not allowed.any():
            continue
        v = vectors[row[word]] if word in row else encode([word])[0]
        sims = np.where(allowed, vectors @ v, -1.0)
        best = int(sims.argmax())
        if sims[best] < MIN_COSINE:
            continue
        swapped = re.sub(rf"\b{re.escape(word)}\b", vocab[best], question, count=1)
        out.append((swapped, word, vocab[best]))
    if limit is not None and len(out) > limit:
        out = random.Random(f"{seed}:{article.title}").sample(out, limit)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sample", type=int, default=30)
    args = p.parse_args(argv)
    quiet()
    embedder = CachedEmbedder()
    articles = dev_articles(load_squad(SQUAD))
    made = []
    for a in articles[:12]:
        made += [(a.title, *s) for s in swaps(a, embedder.encode)]
    embedder.save()
    for title, q, old, new in random.Random(SEED).sample(made, min(args.sample, len(made))):
        print(f"[{title}] {old} -> {new}: {q}")
    print(f"{len(made)} attribute near-misses from 12 dev articles")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
