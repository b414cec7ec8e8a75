"""Keyword search: tokenizer (lowercase, numbers kept, stopwords, Snowball stems) and BM25 via bm25s."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .settings import BM25Settings

if TYPE_CHECKING:
    from numpy.typing import NDArray

# interrogatives carry no topic; dropping them keeps "how many" from matching every passage
_QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how many much did does do was were is are".split()
)
_CLITICS = frozenset({"s", "t"})  # "Yunnan's" and "don't" leave a lone letter behind
_PERCENT = frozenset({"%", "percent", "percentage", "percentages", "pct"})  # one term: "80%" = "80 percent"
_WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W_]+|%")


@lru_cache(maxsize=4)
def _stopwords(name: str) -> frozenset[str]:
    if not name:
        return frozenset()
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | _QUESTION_WORDS | _CLITICS


@lru_cache(maxsize=4)
def _stemmer(name: str) -> Callable[[str], str]:
    if not name:
        return lambda w: w
    import Stemmer

    return Stemmer.Stemmer(name).stemWord  # type: ignore[no-any-return]


def _bm25s() -> Any:
    """Import bm25s, undoing its import-time DEBUG level on its logger."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


# words whose term is remembered; a server lives long and questions bring any words, so the memory
# is emptied when full (a build's vocabulary refills what it needs)
CACHE_WORDS = 200_000


class Tokenizer:
    """Text to BM25 terms. Digit groups lose their commas ("1,200" -> "1200")."""

    def __init__(self, settings: BM25Settings) -> None:
        self._stop = _stopwords(settings.stopwords)
        self._stem = _stemmer(settings.stemmer)
        self._cache: dict[str, str] = {}  # word -> its term ("" for a stopword)

    def _term(self, word: str) -> str:
        if word in self._stop:
            return ""
        if word in _PERCENT:
            return "percent"
        if word[0].isdigit():
            return word.replace(",", "")
        return str(self._stem(word))

    def __call__(self, text: str) -> list[str]:
        cache = self._cache
        terms = []
        for word in _WORD.findall(text.lower()):
            term = cache.get(word)
            if term is None:
                if len(cache) >= CACHE_WORDS:
                    cache.clear()
                term = cache[word] = self._term(word)
            if term:
                terms.append(term)
        return terms


class SparseIndex:
    """BM25 over passages (bm25s), plus document frequencies for term weighting."""

    def __init__(self, retriever: Any, settings: BM25Settings) -> None:
        self._bm25 = retriever
        self.settings = settings
        self.tokenize = Tokenizer(settings)
        indptr = np.asarray(retriever.scores["indptr"])
        self._df = np.diff(indptr)
        self.size = int(retriever.scores["num_docs"])

    @classmethod
    def build(cls, texts: list[str], settings: BM25Settings) -> SparseIndex:
        tokenize = Tokenizer(settings)
        retriever = _bm25s().BM25(k1=settings.k1, b=settings.b, method="lucene")
        retriever.index([tokenize(t) for t in texts], show_progress=False)
        return cls(retriever, settings)

    def scores(self, question_terms: list[str]) -> NDArray[np.float32]:
        """BM25 score of every passage for the given terms (zeros when none is known)."""
        ids = self._bm25.get_tokens_ids(question_terms)
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)

    def idf(self, term: str) -> float:
        """Inverse document frequency; a term absent from the index gets the highest value."""
        tid = self._bm25.vocab_dict.get(term)
        df = int(self._df[tid]) if tid is not None and tid < len(self._df) else 0
        n = self.size
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def known(self, term: str) -> bool:
        """True when the term occurs in at least one passage."""
        tid = self._bm25.vocab_dict.get(term)
        return tid is not None and tid < len(self._df) and int(self._df[tid]) > 0

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path, settings: BM25Settings) -> SparseIndex:
        retriever = _bm25s().BM25.load(str(folder), show_progress=False, verbosity=0)
        _check_arrays(retriever)
        return cls(retriever, settings)


def _check_arrays(retriever: Any) -> None:
    """Refuse BM25 arrays that do not fit together (a damaged or tampered ``bm25/`` folder)."""
    scores = retriever.scores
    data, indices, indptr = (np.asarray(scores[k]) for k in ("data", "indices", "indptr"))
    n = int(scores["num_docs"])
    vocab = retriever.vocab_dict
    problems = []
    term_ids = [v for k, v in vocab.items() if k]  # bm25s keeps "" as a never-queried last term
    if n < 0 or indptr.ndim != 1 or len(indptr) < 1 or len(data) != len(indices):
        problems.append("array sizes disagree")
    elif len(indptr) and (indptr[0] != 0 or indptr[-1] != len(indices) or np.any(np.diff(indptr) < 0)):
        problems.append("term pointers out of range")
    elif len(indices) and (indices.min() < 0 or indices.max() >= n):
        problems.append(f"passage ids out of range 0-{n - 1}")
    elif term_ids and (min(term_ids) < 0 or max(term_ids) >= len(indptr) - 1):
        problems.append("term ids out of range")
    elif not np.all(np.isfinite(data)):
        problems.append("scores that are not numbers")
    if problems:
        raise ValueError(f"BM25 arrays: {problems[0]}")
