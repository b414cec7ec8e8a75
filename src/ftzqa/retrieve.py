"""The public search entry point: question -> Answer (ranked, cited hits + found/not found)."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .abstain import DEFAULT_MODEL as DEFAULT_ABSTAIN
from .abstain import AbstainModel, Signals, is_subject, paragraphs, rival_topic, signals
from .abstain import Passage as VerdictPassage
from .chunking import sentences as split_sentences
from .embed import Embedder
from .errors import InvalidQueryError
from .evidence import Evidence, best_sentence
from .explain import explain
from .fusion import convex, rrf
from .index import Staleness, load_index
from .query import Query, analyse
from .script import NAMES as SCRIPT_NAMES
from .script import foreign_share
from .settings import MAX_K, MAX_QUESTION_CHARS, MODES, Settings
from .types import Answer, Hit, Passage, embed_input

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from .storage.base import Store

log = logging.getLogger(__name__)

ABSTAIN_DEPTH = 3  # the decision looks at this many top passages


SUBJECT_CACHE = 64  # documents whose paragraphs are kept for is_subject ...
SUBJECT_CHARS = 500_000  # ... from the first this many characters of each (memory and time bounded)
RIVAL_DEPTH = 10  # passages compared with the top ones ("the documents say it, but for someone else")
SENTENCE_CACHE = 4096  # sentences whose vectors are kept (a one-article index: all of them) ...
SENTENCES_PER_PASSAGE = 24  # ... of at most this many first sentences of each passage


class _Ready(NamedTuple):
    """A passage read and prepared while the question was being embedded."""

    passage: Passage
    verdict: VerdictPassage
    evidence: Evidence


class Ranking(NamedTuple):
    ids: NDArray[np.int64]
    scores: NDArray[np.float32]
    cosines: dict[int, float] | None = None  # exact dense cosines already known, by passage id


Matches = tuple["NDArray[np.int64]", "NDArray[np.float32]"]  # ids and scores, best first

# the question is embedded on one of these threads while the calling thread runs the keyword search:
# onnxruntime releases the GIL, so on two cores the two overlap (bench/scale.py: at 1,000,000
# passages BM25 takes longer than the embedding itself); a few threads serve concurrent questions
EMBED_THREADS = 4
_embed_pool: ThreadPoolExecutor | None = None
_embed_pool_lock = threading.Lock()


def _embedding_pool() -> ThreadPoolExecutor:
    global _embed_pool
    with _embed_pool_lock:
        if _embed_pool is None:
            _embed_pool = ThreadPoolExecutor(EMBED_THREADS, thread_name_prefix="ftzqa-embed")
            # a forked child (a server's workers forked after a warm-up question) has none of the
            # pool's threads: it starts a pool of its own instead of waiting on dead ones forever
            os.register_at_fork(after_in_child=_forget_pool)
        return _embed_pool


def _cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def _forget_pool() -> None:
    global _embed_pool, _embed_pool_lock
    _embed_pool = None
    _embed_pool_lock = threading.Lock()


def _filled(
    candidates: NDArray[np.int64], ids: NDArray[np.int64], scores: NDArray[np.float32], rest: Callable[..., Any]
) -> NDArray[np.float32]:
    """Scores of the sorted ``candidates``: the known ``scores`` of ``ids`` (all among them), and
    ``rest(missing_ids)`` for the others."""
    out = np.zeros(len(candidates), dtype=np.float32)
    at = np.searchsorted(candidates, ids)
    out[at] = scores
    missing = np.ones(len(candidates), dtype=bool)
    missing[at] = False
    if missing.any():
        out[missing] = rest(candidates[missing])
    return out


def _shown(value: object) -> str:
    """A short repr of a bad value for an error message (never the whole of a huge one)."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        return "a number too large to show"
    return text if len(text) <= 40 else f"{text[:40]}… ({len(text):,} characters)"


def check_question(question: object, max_chars: int = MAX_QUESTION_CHARS) -> str:
    """The question with control characters (and lone surrogates) as spaces, stripped.

    The length is checked first, in constant time for any input, so a huge question costs
    nothing; then the (bounded) text is cleaned.
    """
    if not isinstance(question, str):
        raise InvalidQueryError(f"question must be text, got {type(question).__name__}; pass a string")
    if len(question) > max_chars:
        length = len(question.strip())  # only scans the ends; surrounding spaces do not count
        if length > max_chars:
            raise InvalidQueryError(
                f"the question is {length:,} characters long, more than the {max_chars:,} allowed; "
                "ask a shorter question"
            )
    cleaned = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in question).strip()
    if not cleaned:
        raise InvalidQueryError("the question is empty; type a question about your documents")
    return cleaned


def check_k(k: object, max_k: int = MAX_K) -> int:
    """``k`` as an int from 1 to ``max_k`` (whole floats such as 3.0 are accepted)."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        if isinstance(k, float) and k.is_integer():
            k = int(k)
        else:
            raise InvalidQueryError(
                f"k of {_shown(k)} is not a whole number; pass k as an integer from 1 to {max_k}"
            )
    if int(k) < 1:
        raise InvalidQueryError(f"k of {_shown(int(k))} is less than 1; pass k from 1 to {max_k}")
    if int(k) > max_k:
        raise InvalidQueryError(f"k of {_shown(int(k))} is more than the {max_k} allowed; pass k from 1 to {max_k}")
    return int(k)


def check_mode(mode: object) -> str:
    if not isinstance(mode, str) or mode not in MODES:
        raise InvalidQueryError(f"mode {_shown(mode)} is not one of {', '.join(MODES)}; pick one of those")
    return mode


MAX_REQUIRED = 20  # words a search may require; a follow-up requires one
_REQUIRED_WORD = re.compile(r"[^\W_]+")


def _required(require: object) -> frozenset[str]:
    """``require`` (words an answer must mention) as a set of lower-case words."""
    if isinstance(require, str) or not isinstance(require, Sequence | set | frozenset):
        raise InvalidQueryError(
            f"require of {_shown(require)} is not a list of words; pass a list such as ['imports'], or nothing"
        )
    if len(require) > MAX_REQUIRED:
        raise InvalidQueryError(
            f"require has {len(require):,} words, more than the {MAX_REQUIRED} allowed; pass fewer words"
        )
    out: set[str] = set()
    for word in require:
        if not isinstance(word, str) or len(word) > MAX_QUESTION_CHARS:
            raise InvalidQueryError(f"require holds {_shown(word)}, not a word; pass words as short strings")
        out.update(w.lower() for w in _REQUIRED_WORD.findall(word))
    return frozenset(out)


class Retriever:
    """Searches one loaded index (any ``Store``). Thread-safe for concurrent ``search`` calls."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder | None = None,
        settings: Settings | None = None,
        abstain: AbstainModel = DEFAULT_ABSTAIN,
    ) -> None:
        self.store = store
        self.settings = settings or Settings()
        self.abstain = abstain
        self._embedder = embedder
        self._overlaps: bool | None = None
        self._subjects: dict[tuple[str, str], list[str]] = {}  # (store version, doc_id) -> paragraphs
        self._sentences: dict[str, NDArray[np.float32]] = {}  # sentence -> its vector (by self.embedder)
        self._sentences_lock = threading.Lock()

    @property
    def index(self) -> Store:
        """The store (the name earlier versions used)."""
        return self.store

    @classmethod
    def load(
        cls,
        index_dir: str | Path = "index",
        *,
        model: str | None = None,
        embedder: Embedder | None = None,
        settings: Settings | None = None,
        store: str | None = None,
    ) -> Retriever:
        """Load ``index_dir`` (or the store ``store``: ``milvus:PATH.db``, ``milvus://HOST:PORT``;
        default ``FTZQA_STORE``); ``model`` (if given) must match the one the index was built with."""
        loaded = load_index(index_dir, model=model, store=store)
        if embedder is not None and embedder.dimension != loaded.dimension:
            from .errors import IndexMismatchError

            loaded.close()
            raise IndexMismatchError(
                f"embedder {embedder.model_id!r} gives vectors of dimension {embedder.dimension}, "
                f"the index holds {loaded.dimension}; use the model the index was built with ({loaded.model!r})"
            )
        return cls(loaded, embedder, settings)

    @property
    def embedder(self) -> Embedder:
        """The question embedder: the given one, else the index's ONNX encoder (no torch), else
        sentence-transformers."""
        if self._embedder is None:
            self._embedder = self.store.query_embedder()
        if self._embedder is None:
            from .embed import SentenceTransformerEmbedder

            self._embedder = SentenceTransformerEmbedder(self.store.model, self.settings.device)
        return self._embedder

    def forget(self) -> None:
        """Drop the kept sentence vectors and document paragraphs, so the next question costs what
        a question about passages never asked about before costs (benchmarks time it)."""
        with self._sentences_lock:
            self._sentences.clear()
        self._subjects.clear()

    def staleness(self, corpus_dir: str | Path | None = None) -> Staleness:
        return self.store.staleness(corpus_dir)

    def search(self, question: str, k: int = 5, mode: str = "hybrid", *, require: Sequence[str] = ()) -> Answer:
        """Best ``k`` passages for ``question`` with evidence, whether they answer it, and why.

        ``require``: words of the question an answer must mention, as it must mention the
        question's names (a follow-up's swapped-in word: ``web.followup.Resolved.focus``)."""
        question = check_question(question, self.settings.max_question_chars)
        k = check_k(k)
        mode = check_mode(mode)
        refusal = self._unreadable(question)
        if refusal:
            return Answer(question=question, found=False, searched=question, reason=refusal)
        query, ranking, evidence, sigs, passages = self._run(question, k, mode, _required(require))
        probabilities = self.abstain.probabilities(sigs)
        confidence = max(probabilities, default=0.0)
        found = confidence >= self.abstain.threshold
        order = list(range(len(ranking.ids)))
        if found and probabilities[0] < self.abstain.threshold:
            # the passage that answers comes first: "Found" is always about passage [1]
            best = probabilities.index(confidence)
            order.insert(0, order.pop(best))
            sigs = [sigs[best]] + [s for i, s in enumerate(sigs) if i != best]
        ids, scores = ranking.ids.tolist(), ranking.scores.tolist()
        hits = [
            Hit(rank=rank, score=float(scores[i]), passage=passages[ids[i]], evidence=evidence[i].span)
            for rank, i in enumerate(order, start=1)
        ]
        top = self._verdict_passage(passages[ids[order[0]]]) if ids else None
        why = explain(query, top, sigs[0] if sigs else None, found)
        return Answer(
            question=question,
            found=found,
            hits=hits,
            confidence=confidence,
            searched=query.searched,
            corrections=tuple((c.typed, c.used) for c in query.corrections),
            matched=why.matched,
            missing=why.missing,
            reason=why.reason,
        )

    def signals(self, question: str, mode: str = "hybrid") -> list[Signals]:
        """The abstention signals of the top passages, as ``search`` computes them (for calibration)."""
        question = check_question(question, self.settings.max_question_chars)
        return self._run(question, ABSTAIN_DEPTH, check_mode(mode), complete=True)[3]

    def _run(
        self, question: str, k: int, mode: str, required: frozenset[str] = frozenset(), *, complete: bool = False
    ) -> tuple[Query, Ranking, list[Evidence], list[Signals], dict[int, Passage]]:
        """Analyse, rank, pick evidence and compute the verdict's signals (``search`` and ``signals``;
        ``complete``: of every top passage, see ``_signals``); also the passages read for it, by id."""
        depth = max(k, RIVAL_DEPTH)
        query, terms, vector, nearest, keywords, ready = self._read_embed_match(question, required, depth, mode)
        wide = self._rank(vector, terms, depth, mode, keywords, nearest)
        ranking = wide._replace(ids=wide.ids[:k], scores=wide.scores[:k])
        wanted = list(dict.fromkeys(wide.ids.tolist() + ranking.ids.tolist()))
        unread = [pid for pid in wanted if pid not in ready]
        passages = {pid: ready[pid].passage for pid in wanted if pid in ready}
        passages.update(zip(unread, self.store.passages(unread), strict=True))
        evidence = [
            ready[pid].evidence if pid in ready else self._evidence(query, passages[pid])
            for pid in ranking.ids.tolist()
        ]
        verdict = {pid: ready[pid].verdict for pid in wanted if pid in ready}
        pool = [(passages[pid], verdict.get(pid)) for pid in wide.ids.tolist()]
        sigs = self._signals(query, vector, ranking, evidence, pool, complete)
        return query, ranking, evidence, sigs, passages

    def analyse(self, question: str, required: frozenset[str] = frozenset()) -> Query:
        """The question's words, names, corrections and asked-for kind, against this index."""
        store = self.store
        return analyse(question, store.lexicon, store.tokenize, store.known, required)

    def _unreadable(self, question: str) -> str:
        """A message when the question is mostly in a script the indexed documents do not use."""
        scripts = self.store.scripts
        share, script = foreign_share(question, Counter(scripts))
        if share < 0.5:
            return ""
        main = max(scripts.items(), key=lambda kv: kv[1], default=("LATIN", 0))[0]
        reads = "English" if main == "LATIN" else SCRIPT_NAMES.get(main, main.title())
        return (
            f"Not found: this question is in {SCRIPT_NAMES.get(script, script.title())}, and this index "
            f"reads {reads}; ask in {reads}, or rebuild the index with a multilingual model via --model."
        )

    def _overlap(self) -> bool:
        """Whether the question is embedded on another thread while this one works: only when the
        embedder leaves a core free (the ONNX encoder uses one thread; torch on the CPU uses every
        core, and a second busy thread beside it made hybrid answers slower, bench/speed.py)."""
        if self._overlaps is None:
            used = getattr(self.embedder, "cpu_threads", None)
            self._overlaps = (int(used()) if callable(used) else 1) < _cores()
        return self._overlaps

    def _encode_both(self, texts: list[str]) -> NDArray[np.float32]:
        """``embedder.encode(texts)``, half of them on another thread when the embedder leaves a
        core free (``_overlap``): the sentences of an answer take longer than its question."""
        encode = self.embedder.encode
        if len(texts) < 2 or not self._overlap():
            return encode(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        halves = order[0::2], order[1::2]  # alike in length: both threads finish together
        other = _embedding_pool().submit(encode, [texts[i] for i in halves[1]])
        out = np.zeros((len(texts), self.embedder.dimension), dtype=np.float32)
        try:
            out[halves[0]] = encode([texts[i] for i in halves[0]])
        finally:
            out[halves[1]] = other.result()
        return out

    def _keyword_depth(self, k: int, mode: str) -> int:
        """How many keyword matches ``_rank`` takes for ``k`` passages."""
        return k if mode == "bm25" else max(k, self.settings.pool)

    def _dense_depth(self, k: int, mode: str) -> int:
        """How many nearest passages ``_rank`` takes for ``k`` passages."""
        return k if mode == "dense" else max(k, self.settings.pool)

    def _read_embed_match(
        self, question: str, required: frozenset[str], depth: int, mode: str
    ) -> tuple[Query, list[str], NDArray[np.float32], Matches | None, Matches | None, dict[int, _Ready]]:
        """The question read (``analyse``), its terms, its vector, its nearest passages (unless
        ``mode`` is bm25) and its keyword matches (unless ``mode`` is dense), for ``depth`` passages;
        some of the keyword matches read and prepared (by id).

        The question is embedded and its nearest passages found on another thread while this one
        reads the question and runs the keyword search (onnxruntime and FAISS release the GIL): as
        typed, from the start, since most questions are searched as typed; again once read, when a
        correction changed what is searched."""
        encode, store = self.embedder.encode, self.store
        n_dense = 0 if mode == "bm25" else self._dense_depth(depth, mode)
        n_keywords = 0 if mode == "dense" else self._keyword_depth(depth, mode)

        def embed_and_search(text: str) -> tuple[NDArray[np.float32], Matches | None]:
            vector = encode([text])[0]
            return vector, (store.dense_search(vector, n_dense) if n_dense else None)

        if not self._overlap():  # the embedding keeps every core busy: one thing after another
            query = self.analyse(question, required)
            terms = store.tokenize(query.searched)
            vector, nearest = embed_and_search(query.searched)
            return query, terms, vector, nearest, store.bm25_search(terms, n_keywords) if n_keywords else None, {}
        pool = _embedding_pool()
        as_typed = pool.submit(embed_and_search, question)
        query = self.analyse(question, required)
        dense = as_typed if query.searched == question else pool.submit(embed_and_search, query.searched)
        terms = store.tokenize(query.searched)
        ready: dict[int, _Ready] = {}
        try:
            keywords = store.bm25_search(terms, n_keywords) if n_keywords else None
            if keywords is not None and not dense.done():
                # meanwhile: read the best keyword matches, most of which the final ranking keeps,
                # and prepare their evidence and verdict; stop once the other thread is done
                ids = keywords[0][:depth].tolist()
                for pid, passage in zip(ids, store.passages(ids), strict=True):
                    if dense.done():
                        break
                    ready[pid] = _Ready(passage, self._verdict_passage(passage), self._evidence(query, passage))
        finally:
            vector, nearest = dense.result()
        return query, terms, vector, nearest, keywords, ready

    def _rank(
        self,
        query: NDArray[np.float32],
        terms: list[str],
        k: int,
        mode: str,
        keywords: Matches | None = None,
        nearest: Matches | None = None,
    ) -> Ranking:
        """The best ``k`` passages by ``mode`` (``keywords``: the store's ``bm25_search`` of ``terms``
        for ``_keyword_depth(k, mode)``, ``nearest``: its ``dense_search`` of ``query`` for
        ``_dense_depth(k, mode)``, when already done)."""
        store = self.store
        if keywords is None and mode != "dense":
            keywords = store.bm25_search(terms, self._keyword_depth(k, mode))
        if nearest is None and mode != "bm25":
            nearest = store.dense_search(query, self._dense_depth(k, mode))
        if mode == "dense":
            assert nearest is not None
            ids, cos = nearest
            return Ranking(ids, cos, dict(zip(ids.tolist(), cos.tolist(), strict=True)))
        assert keywords is not None
        if mode == "bm25":
            ids, scores = keywords
            if len(ids) < k:  # like a full score array: passages without a query term follow, by id
                pad = np.setdiff1d(store.first_ids(k + len(ids)), ids, assume_unique=True)[: k - len(ids)]
                ids = np.concatenate([ids, pad])
                scores = np.concatenate([scores, np.zeros(len(pad), dtype=np.float32)])
            return Ranking(ids, scores)
        assert nearest is not None
        dense_ids, dense_cos = nearest
        by_bm25, bm25_top = keywords
        if self.settings.fusion == "rrf":
            table = rrf(dense_ids, by_bm25)
            ids = np.array(sorted(table, key=lambda i: -table[i]), dtype=np.int64)[:k]
            return Ranking(ids, np.array([table[i] for i in ids.tolist()], dtype=np.float32))
        candidates = np.unique(np.concatenate([dense_ids, by_bm25]))
        # both searches give exact scores for what they found; only the rest is looked up
        cosines = _filled(candidates, dense_ids, dense_cos, lambda ids: store.dense_scores(query, ids))
        bm25 = _filled(candidates, by_bm25, bm25_top, lambda ids: store.bm25_scores(terms, ids))
        fused = convex(cosines, bm25, self.settings.dense_weight)
        order = np.argsort(-fused, kind="stable")[:k]
        known = dict(zip(candidates[order].tolist(), cosines[order].tolist(), strict=True))
        return Ranking(candidates[order], fused[order], known)

    def _evidence(self, query: Query, passage: Passage) -> Evidence:
        store = self.store
        headings: frozenset[str] = frozenset()
        if store.with_title:
            headings = frozenset(store.tokenize(f"{passage.title}\n{passage.section}"))
        return best_sentence(query, passage, store.tokenize, store.idf, headings)

    def _verdict_passage(self, passage: Passage) -> VerdictPassage:
        text = embed_input(passage, self.store.with_title)
        doc_id = passage.doc_id
        return VerdictPassage(
            set(self.store.tokenize(text)), text, passage.text, subject=lambda words: self._is_subject(doc_id, words)
        )

    def _is_subject(self, doc_id: str, words: tuple[str, ...]) -> bool:
        """``abstain.is_subject`` for a document's paragraphs (of its first ``SUBJECT_CHARS``
        characters), read once per index version (the last ``SUBJECT_CACHE`` documents asked about
        are kept)."""
        key = (self.store.version, doc_id)
        blocks = self._subjects.get(key)
        if blocks is None:
            doc = self.store.document(doc_id)
            blocks = paragraphs(doc.text[:SUBJECT_CHARS]) if doc is not None else []
            if len(self._subjects) >= SUBJECT_CACHE:
                self._subjects.clear()
            self._subjects[key] = blocks
        return is_subject(blocks, words)

    def _signals(
        self,
        query: Query,
        vector: NDArray[np.float32],
        ranking: Ranking,
        evidence: list[Evidence],
        pool: list[tuple[Passage, VerdictPassage | None]],
        complete: bool = False,
    ) -> list[Signals]:
        """Signals of each of the top ``ABSTAIN_DEPTH`` passages; found when any is likely to answer.
        ``pool``: the ranked passages, each with its verdict view when already prepared. Unless
        ``complete``, only the first passage's when it answers: the verdict is then "found" on it
        whatever the others' are, and their sentences need not be embedded (most found answers)."""
        store = self.store
        top = ranking.ids[:ABSTAIN_DEPTH]
        verdict = [v if v is not None else self._verdict_passage(p) for p, v in pool]
        # the best topic match among the passages that miss one of the question's names
        rival = max((rival_topic(query, v, store.idf) for v in verdict), default=0.0)
        out = []
        known = ranking.cosines or {}
        top_ids = top.tolist()
        if all(i in known for i in top_ids):  # the ranking knows them already
            cosines = [known[i] for i in top_ids]
        else:
            cosines = store.dense_scores(vector, top).tolist()
        for view, cos, ev in zip(verdict[: len(top)], cosines, evidence, strict=False):
            out.append(signals(query, view, float(cos), store.idf, ev, rival))
        # the sentences are embedded only for passages the name rule leaves (for the others p is 0)
        open_ = [j for j, s in enumerate(out) if s.missing_names == 0]
        first = open_[:1] if open_[:1] == [0] and not complete else open_
        self._fill_sentences(query, vector, out, first, pool, evidence)
        if first != open_:
            if self.abstain.probability(out[0]) >= self.abstain.threshold:
                return out[:1]  # the best-ranked passage answers: the ones below cannot change that
            self._fill_sentences(query, vector, out, open_[1:], pool, evidence)
        return out

    def _fill_sentences(
        self,
        query: Query,
        vector: NDArray[np.float32],
        out: list[Signals],
        which: list[int],
        pool: list[tuple[Passage, VerdictPassage | None]],
        evidence: list[Evidence],
    ) -> None:
        """Set the sentence cosines of ``out[j]`` for each ``j`` in ``which``."""
        closest = self._sentence_cosines(query, vector, [pool[j][0] for j in which], [evidence[j] for j in which])
        for j, (best, shown) in zip(which, closest, strict=True):
            out[j] = replace(out[j], sentence_cosine=best, evidence_cosine=shown)

    def _sentence_cosines(
        self, query: Query, vector: NDArray[np.float32], passages: list[Passage], evidence: list[Evidence]
    ) -> list[tuple[float, float]]:
        """Per passage: the question's cosine with its closest sentence, and with its evidence
        sentence. Sentences are embedded one by one with the question's embedder (in one batch per
        question; the last ``SENTENCE_CACHE`` are kept, so a small index soon has them all). Only
        the evidence sentence and those sharing a word with the question are compared: on the
        development articles (bench/calibrate.py) that embeds 46% fewer sentences and moves no
        row by more than 0.002."""
        wanted = {t for w in query.words for t in w.terms}
        tokenize = self.store.tokenize
        spans = [
            [
                s
                for s in split_sentences(p.text, p.start)[:SENTENCES_PER_PASSAGE]
                if s.start == ev.span.start or not wanted.isdisjoint(tokenize(s.text))
            ]
            for p, ev in zip(passages, evidence, strict=True)
        ]
        texts = [s.text for group in spans for s in group] + [ev.span.text for ev in evidence]
        with self._sentences_lock:
            known = {t: self._sentences[t] for t in texts if t in self._sentences}
        todo = list(dict.fromkeys(t for t in texts if t not in known))
        if todo:
            fresh = self._encode_both(todo)
            known.update(zip(todo, fresh, strict=True))
            with self._sentences_lock:
                if len(self._sentences) + len(todo) > SENTENCE_CACHE:
                    self._sentences.clear()
                self._sentences.update(zip(todo, fresh, strict=True))
        out = []
        for group, ev in zip(spans, evidence, strict=True):
            shown = float(np.dot(known[ev.span.text], vector))
            best = max((float(np.dot(known[s.text], vector)) for s in group), default=shown)
            out.append((max(best, shown), shown))
        return out
