from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import FakeEmbedder

from ftzqa.errors import IndexMismatchError, InvalidQueryError
from ftzqa.retrieve import Retriever


@pytest.fixture
def retriever(tiny_index: Path) -> Retriever:
    return Retriever.load(tiny_index, embedder=FakeEmbedder())


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_each_mode_finds_the_passage_and_cites_it(retriever: Retriever, mode: str) -> None:
    answer = retriever.search("How long is the Danube?", k=3, mode=mode)
    top = answer.hits[0]
    assert "2,850 kilometres" in top.text
    assert top.passage.doc_id == "rivers.md" and top.passage.section == "The Danube"
    assert [h.rank for h in answer.hits] == [1, 2, 3]
    assert all(a.score >= b.score for a, b in zip(answer.hits, answer.hits[1:], strict=False))


def test_evidence_is_the_answering_sentence_inside_the_passage(retriever: Retriever) -> None:
    hit = retriever.search("How many kilometres long is the Danube?", k=1).hits[0]
    doc = retriever.index.documents[hit.passage.doc_id]
    assert hit.evidence.text == "It is 2,850 kilometres long."
    assert doc.text[hit.evidence.start : hit.evidence.end] == hit.evidence.text
    assert hit.passage.start <= hit.evidence.start < hit.evidence.end <= hit.passage.end


def test_to_dict_has_the_one_result_shape(retriever: Retriever) -> None:
    d = retriever.search("sourdough starter", k=2).to_dict()
    assert set(d) >= {"question", "found", "hits"}
    hit = d["hits"][0]
    assert set(hit) == {
        "rank",
        "score",
        "doc_id",
        "title",
        "section",
        "paragraph",
        "start",
        "end",
        "text",
        "citation",
        "evidence",
    }
    assert set(hit["evidence"]) == {"start", "end", "text"}
    assert hit["doc_id"] in hit["citation"] and f"¶ {hit['paragraph']}" in hit["citation"]


def test_k_larger_than_the_index_returns_everything(retriever: Retriever) -> None:
    assert len(retriever.search("bread", k=50).hits) == 5


@pytest.mark.parametrize(
    ("question", "k", "mode", "message"),
    [
        ("", 3, "hybrid", "empty"),
        ("   \n\t", 3, "hybrid", "empty"),
        ("x" * 5000, 3, "hybrid", "5,000 characters"),
        ("ok", 0, "hybrid", "k of 0"),
        ("ok", "3", "hybrid", "not a whole number"),
        ("ok", 3, "magic", "mode 'magic'"),
    ],
)
def test_bad_input_raises_a_clear_error(
    retriever: Retriever, question: str, k: object, mode: str, message: str
) -> None:
    with pytest.raises(InvalidQueryError, match=message):
        retriever.search(question, k=k, mode=mode)  # type: ignore[arg-type]


def test_embedder_with_wrong_dimension_is_refused(tiny_index: Path) -> None:
    with pytest.raises(IndexMismatchError, match="dimension 32"):
        Retriever.load(tiny_index, embedder=FakeEmbedder(dimension=32))


class _WaitsForKeywords(FakeEmbedder):
    """Embeds ``question`` only once the keyword search has started (or gives up after 20 s)."""

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question
        self.keywords_started = threading.Event()
        self.saw_keywords: list[bool] = []

    def encode(self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        if texts == [self.question]:  # the question, not the build's passages or the answer's sentences
            self.saw_keywords.append(self.keywords_started.wait(timeout=20))
        return super().encode(texts, batch_size=batch_size, show_progress=show_progress)


TWO_CORES = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="the overlap needs a second core")


@TWO_CORES
@pytest.mark.parametrize("mode", ["hybrid", "bm25"])
def test_the_keyword_search_runs_while_the_question_is_embedded(tiny_index: Path, mode: str) -> None:
    embedder = _WaitsForKeywords("How long is the Danube?")
    retriever = Retriever.load(tiny_index, embedder=embedder)
    store = retriever.store
    search = store.bm25_search

    def bm25_search(terms: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        embedder.keywords_started.set()
        return search(terms, k)

    store.bm25_search = bm25_search  # type: ignore[method-assign]
    alone = Retriever.load(tiny_index, embedder=FakeEmbedder()).search("How long is the Danube?", k=3, mode=mode)
    answer = retriever.search("How long is the Danube?", k=3, mode=mode)
    # run one after the other, the embedding would have waited in vain
    assert embedder.saw_keywords == [True]
    assert [h.passage for h in answer.hits] == [h.passage for h in alone.hits]
    assert [h.score for h in answer.hits] == pytest.approx([h.score for h in alone.hits])
    assert (answer.found, answer.confidence) == (alone.found, pytest.approx(alone.confidence))


def test_a_process_forked_after_a_question_still_answers(tiny_index: Path, store_kind: str) -> None:
    """A server that warms up and then forks its workers: the child has none of the parent's
    embedding threads, and must not wait for them."""
    if store_kind != "embedded":
        pytest.skip("a Milvus client's gRPC channel does not survive a fork (pymilvus: connect after forking)")
    retriever = Retriever.load(tiny_index, embedder=FakeEmbedder())
    want = [h.passage for h in retriever.search("How long is the Danube?", k=3).hits]
    pid = os.fork()
    if pid == 0:  # the child: answer, then report through the exit status
        try:
            got = [h.passage for h in retriever.search("How long is the Danube?", k=3).hits]
            os._exit(0 if got == want else 1)
        finally:
            os._exit(2)
    deadline = time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked process never answered (it waited on the parent's threads)")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(status) == 0


class _SlowEmbedder(FakeEmbedder):
    """Takes half a second per question, and says when it has embedded one."""

    def __init__(self) -> None:
        super().__init__()
        self.finished = threading.Event()

    def encode(self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        out = super().encode(texts, batch_size=batch_size, show_progress=show_progress)
        if len(texts) == 1:
            time.sleep(0.5)
            self.finished.set()
        return out


@TWO_CORES
@pytest.mark.parametrize("question", ["How long is the Danube?", "sourdough starter", "volcano eruption"])
def test_passages_prepared_during_the_embedding_give_the_same_answer(tiny_index: Path, question: str) -> None:
    """While the question is embedded, the best keyword matches are read and their evidence and
    verdict prepared; the answer is the one computed after the embedding."""
    slow = _SlowEmbedder()
    retriever = Retriever.load(tiny_index, embedder=slow)
    read_while_busy: list[bool] = []
    passages = retriever.store.passages

    def reading(ids: list[int]) -> list:  # type: ignore[type-arg]
        read_while_busy.append(not slow.finished.is_set())
        return passages(ids)

    retriever.store.passages = reading  # type: ignore[method-assign]
    answer = retriever.search(question, k=5).to_dict()
    expected = Retriever.load(tiny_index, embedder=FakeEmbedder()).search(question, k=5).to_dict()
    assert read_while_busy[0] is True  # the first read happened during the embedding
    assert answer == expected


class _BusyEmbedder(FakeEmbedder):
    """Says it keeps every core busy (like torch on the CPU); records the threads it runs on."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[threading.Thread] = []

    def cpu_threads(self) -> int:
        return len(os.sched_getaffinity(0))

    def encode(self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        self.threads.append(threading.current_thread())
        return super().encode(texts, batch_size=batch_size, show_progress=show_progress)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_an_embedder_that_uses_every_core_runs_on_the_calling_thread(tiny_index: Path, mode: str) -> None:
    busy = _BusyEmbedder()
    answer = Retriever.load(tiny_index, embedder=busy).search("How long is the Danube?", k=3, mode=mode)
    # the question (then the verdict's sentences) embedded here, nothing beside it
    assert busy.threads and set(busy.threads) == {threading.current_thread()}
    expected = Retriever.load(tiny_index, embedder=FakeEmbedder()).search("How long is the Danube?", k=3, mode=mode)
    assert answer.to_dict() == expected.to_dict()


def test_a_name_that_is_the_documents_subject_is_not_missing_from_its_passages(tmp_path: Path) -> None:
    from conftest import GREEKS, write_corpus

    from ftzqa.index import build

    greeks = f"The Greeks\n\n{GREEKS}\n"
    corpus = write_corpus(tmp_path / "corpus", {"greeks.md": greeks, "bakery.txt": "Rye bread is dense and dark.\n"})
    build(corpus, tmp_path / "index", embedder=FakeEmbedder())
    retriever = Retriever.load(tmp_path / "index", embedder=FakeEmbedder())
    # the store reads the document's paragraphs: "Greece" is in 3 of its 7 (with the title), "Turkey" in one
    top = retriever.search("When was the Greece we know today officially formed?", k=1, mode="bm25").hits[0]
    assert "officially formed in 1830" in top.passage.text
    assert retriever.signals("When was the Greece we know today officially formed?", "bm25")[0].missing_names == 0.0
    assert retriever.signals("When was the Turkey we know today officially formed?", "bm25")[0].missing_names == 1.0


def test_the_verdict_measures_each_open_passages_closest_sentence(tiny_index: Path) -> None:
    """Each top passage that the name rule leaves gets the question's cosine with its closest
    sentence and with its evidence sentence, each sentence embedded on its own (only the evidence
    sentence and those sharing a word with the question); a passage that misses a name of the
    question (its p is 0 whatever else) gets none, and nothing is embedded for it."""
    from ftzqa.chunking import sentences

    embedder = FakeEmbedder()
    retriever = Retriever.load(tiny_index, embedder=embedder)
    tokenize = retriever.store.tokenize
    plain = FakeEmbedder()
    for question in ("How long is the Danube?", "What does sourdough bread need?"):
        query, ranking, evidence, sigs, passages = retriever._run(question, 3, "hybrid", complete=True)
        vector = plain.encode([question])[0]
        embedded = {text for call in embedder.calls for text in call}
        asked = {t for w in query.words for t in w.terms}
        opened = 0
        for pid, ev, sig in zip(ranking.ids.tolist(), evidence, sigs, strict=False):
            passage = passages[pid]
            if sig.missing_names:
                assert sig.sentence_cosine is None and sig.evidence_cosine is None
                continue
            opened += 1
            spans = sentences(passage.text, passage.start)
            compared = [s.text for s in spans if s.start == ev.span.start or asked & set(tokenize(s.text))]
            assert sig.sentence_cosine == pytest.approx(float(max(plain.encode(compared) @ vector)))
            assert sig.evidence_cosine == pytest.approx(float(plain.encode([ev.span.text])[0] @ vector))
            assert sig.sentence_cosine >= sig.evidence_cosine
            assert set(compared) <= embedded
        assert opened >= 1 and len(sigs) == 3
    assert "The dough rests overnight." not in {t for call in embedder.calls for t in call}  # shares no word
    # asked again, the sentences are known: only the question is embedded
    before = len(embedder.calls)
    retriever.search("How long is the Danube?", k=3)
    assert embedder.calls[before:] == [["How long is the Danube?"]]
    # no passage mentions 1990: nothing but the question is embedded
    dated = "How long was the Danube in 1990?"
    before = len(embedder.calls)
    assert all(s.missing_names == 1.0 and s.sentence_cosine is None for s in retriever.signals(dated))
    assert embedder.calls[before:] == [[dated]]


@pytest.mark.parametrize("first_answers", [True, False])
def test_the_verdict_stops_at_a_best_ranked_passage_that_answers(tiny_index: Path, first_answers: bool) -> None:
    """When passage [1] answers, the passages below cannot change the verdict: their sentences are
    not embedded, and "found" and its confidence are passage [1]'s. When it does not, every open
    passage's sentences are compared, as ``signals`` (all of them) gives them."""
    from ftzqa.abstain import DEFAULT_MODEL

    question = "What does sourdough bread need?"
    # a threshold every open passage passes, or none does: which one decides is known beforehand
    model = replace(DEFAULT_MODEL, threshold=1e-9 if first_answers else 1.0)
    embedder = FakeEmbedder()
    retriever = Retriever(Retriever.load(tiny_index).store, embedder, abstain=model)
    full = retriever.signals(question)
    assert len(full) == 3 and full[0].missing_names == 0 and full[1].missing_names == 0
    every = model.probabilities(full)
    _, ranking, evidence, _, passages = retriever._run(question, 3, "hybrid", complete=True)
    lower = {ev.span.text for ev in evidence[1:]} - {evidence[0].span.text}
    assert lower  # the passages below have evidence sentences of their own
    retriever.forget()
    before = len(embedder.calls)
    answer = retriever.search(question, k=3)
    embedded = {text for call in embedder.calls[before:] for text in call}
    assert [h.passage for h in answer.hits] == [passages[i] for i in ranking.ids.tolist()]
    if first_answers:
        assert answer.found and answer.confidence == pytest.approx(every[0])
        assert embedded.isdisjoint(lower)
    else:
        assert not answer.found and answer.confidence == pytest.approx(max(every))
        assert lower <= embedded
