"""Metric math on hand-built Answers, the gold loader, and the tables."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from ftzqa.errors import FtzqaError
from ftzqa.evaluate import (
    GoldFileError,
    GoldItem,
    Judgement,
    count_relevant,
    evaluate,
    format_report,
    format_reports,
    judge,
    load_gold,
    ndcg,
    reciprocal_rank,
    summarise,
)
from ftzqa.types import Answer, Hit, Passage, Span


def passage(text: str, n: int = 0) -> Passage:
    return Passage(
        doc_id="doc.md", title="Doc", section="", paragraph=n + 1, start=0, end=len(text), text=text
    )


def answer(texts: list[str], found: bool = True, evidence: list[str] | None = None) -> Answer:
    hits = []
    for i, text in enumerate(texts):
        ev = evidence[i] if evidence else text
        start = text.find(ev)
        span = Span(start, start + len(ev), ev)
        hits.append(Hit(rank=i + 1, score=1.0 - i / 10, passage=passage(text, i), evidence=span))
    return Answer(question="q", found=found, hits=hits, confidence=0.9 if found else 0.1)


class FakeIndex:
    def __init__(self, passages: list[Passage]) -> None:
        self.passages = passages


class FakeRetriever:
    """Returns prepared Answers by question; records the calls."""

    def __init__(self, answers: dict[str, Answer], passages: list[Passage] | None = None) -> None:
        self.answers = answers
        self.calls: list[tuple[str, int, str]] = []
        if passages is not None:
            self.index = FakeIndex(passages)

    def search(self, question: str, k: int = 5, mode: str = "hybrid") -> Answer:
        self.calls.append((question, k, mode))
        return self.answers[question]


# --- pure math ----------------------------------------------------------------------------


def test_reciprocal_rank() -> None:
    assert reciprocal_rank([False, False, True, True]) == pytest.approx(1 / 3)
    assert reciprocal_rank([True]) == 1.0
    assert reciprocal_rank([False] * 5) == 0.0
    assert reciprocal_rank([False] * 10 + [True]) == 0.0  # beyond depth 10


def test_ndcg_known_values() -> None:
    assert ndcg([True, False, False], n_relevant=1) == 1.0
    # one relevant item at rank 2: (1/log2 3) / 1
    assert ndcg([False, True], n_relevant=1) == pytest.approx(1 / math.log2(3))
    # two relevant at ranks 1 and 3, two exist: (1 + 1/2) / (1 + 1/log2 3)
    assert ndcg([True, False, True], n_relevant=2) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    # a third relevant passage exists but was not retrieved: the ideal grows
    assert ndcg([True, False, True], n_relevant=3) == pytest.approx(1.5 / (1 + 1 / math.log2(3) + 0.5))
    assert ndcg([False, False], n_relevant=0) == 0.0
    # the ideal is capped at depth
    assert ndcg([True] * 10, n_relevant=50) == pytest.approx(1.0)


def test_judge_relevance_is_case_insensitive_substring() -> None:
    j = judge(answer(["Nothing here.", "It opened in MAY 2019."]), ["may 2019"])
    assert j.first_relevant == 2
    assert j.rr == 0.5
    assert j.evidence_ok is None  # top hit not relevant: evidence not judged
    assert not j.off_topic and j.found


def test_judge_evidence_checks_the_top_hit_sentence() -> None:
    text = "Paris is big. The capital is Paris since 508."
    good = judge(answer([text], evidence=["The capital is Paris since 508."]), ["508"])
    bad = judge(answer([text], evidence=["Paris is big."]), ["508"])
    assert good.evidence_ok is True
    assert bad.evidence_ok is False


def test_judge_off_topic_and_empty_hits() -> None:
    assert judge(answer(["a"], found=False), []) == Judgement(off_topic=True, found=False)
    j = judge(Answer(question="q", found=False, hits=[]), ["x"])
    assert j.first_relevant is None and j.rr == 0.0 and j.ndcg == 0.0 and j.evidence_ok is None


def test_summarise_known_values() -> None:
    judged = [
        judge(answer(["the answer A", "b", "c"]), ["answer a"]),  # rank 1
        judge(answer(["x", "y", "has B"], found=False), ["b"]),  # rank 3, wrongly abstained
        judge(answer(["p", "q", "r", "s", "t", "with C"]), ["c"]),  # rank 6
        judge(answer(["none"]), ["zzz"]),  # miss
        judge(answer(["off"], found=False), []),  # off-topic, abstained
        judge(answer(["off"], found=True), []),  # off-topic, answered
    ]
    r = summarise(judged, "hybrid")
    assert (r.questions, r.off_topic) == (4, 2)
    assert r.hit_at_1 == pytest.approx(0.25)
    assert r.hit_at_3 == pytest.approx(0.5)
    assert r.hit_at_5 == pytest.approx(0.5)
    assert r.mrr == pytest.approx((1 + 1 / 3 + 1 / 6 + 0) / 4)
    expected_ndcg = (1 + 1 / math.log2(4) + 1 / math.log2(7) + 0) / 4
    assert r.ndcg_at_10 == pytest.approx(expected_ndcg)
    assert r.evidence == 1.0 and r.evidence_questions == 1
    assert r.wrongly_abstained == pytest.approx(0.25)
    assert r.abstained == pytest.approx(0.5)


def test_summarise_undefined_rates_are_none() -> None:
    r = summarise([judge(answer(["a"], found=False), [])], "bm25")
    assert r.hit_at_1 is None and r.mrr is None and r.evidence is None and r.wrongly_abstained is None
    assert r.abstained == 1.0
    d = r.to_dict()
    assert d["hit_at_1"] is None and d["mode"] == "bm25"
    json.dumps(d)


def test_count_relevant() -> None:
    texts = ["the danube", "the rhine", "danube delta"]
    assert count_relevant(texts, ["Danube"]) == 2
    assert count_relevant(texts, ["rhine", "DANUBE"]) == 3
    assert count_relevant(texts, ["volga"]) == 0


# --- runner -------------------------------------------------------------------------------


def test_evaluate_uses_index_passages_for_the_ideal() -> None:
    hits = ["Answer one here", "nothing", "nothing else"]
    fake = FakeRetriever(
        {"q1": answer(hits), "q2": answer(["x"], found=False)},
        passages=[passage(t) for t in hits + ["another answer one copy"]],
    )
    items = [GoldItem("q1", ("answer one",)), GoldItem("q2", ())]
    r = evaluate(fake, items, "dense")
    assert fake.calls == [("q1", 10, "dense"), ("q2", 10, "dense")]
    # two relevant passages in the index, only the first retrieved
    assert r.ndcg_at_10 == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert r.hit_at_1 == 1.0 and r.abstained == 1.0 and r.mode == "dense"


def test_evaluate_without_index_counts_retrieved_only() -> None:
    fake = FakeRetriever({"q": answer(["no", "yes ANSWER"])})
    r = evaluate(fake, [GoldItem("q", ("answer",))])
    assert r.ndcg_at_10 == pytest.approx(1 / math.log2(3))
    assert r.mrr == 0.5


# --- gold file ----------------------------------------------------------------------------


def test_load_gold(tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        '{"question": "Who?", "answers": ["Tang"]}\n\n{"question": "Capital of France?", "answers": []}\n',
        encoding="utf-8",
    )
    items = load_gold(gold)
    assert items == [GoldItem("Who?", ("Tang",)), GoldItem("Capital of France?", ())]
    assert items[1].off_topic and not items[0].off_topic


@pytest.mark.parametrize(
    "line, words",
    [
        ("{not json", "not valid JSON"),
        ('["a"]', "JSON object"),
        ('{"answers": ["a"]}', '"question"'),
        ('{"question": "q", "answers": "a"}', '"answers"'),
        ('{"question": "q", "answers": [1]}', '"answers"'),
        ('{"question": "q"}', '"answers"'),
    ],
)
def test_load_gold_names_the_bad_line(tmp_path: Path, line: str, words: str) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"question": "ok?", "answers": ["a"]}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(GoldFileError) as err:
        load_gold(gold)
    assert f"{gold}:2" in str(err.value) and words in str(err.value)
    assert isinstance(err.value, FtzqaError)


def test_load_gold_missing_and_empty(tmp_path: Path) -> None:
    with pytest.raises(GoldFileError, match="does not exist"):
        load_gold(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(GoldFileError, match="no questions"):
        load_gold(tmp_path / "empty.jsonl")


# --- tables -------------------------------------------------------------------------------


def test_format_reports_side_by_side() -> None:
    a = summarise([judge(answer(["yes"]), ["yes"])], "dense")
    b = summarise([judge(answer(["no", "yes"]), ["yes"])], "bm25")
    table = format_reports({"dense": a, "bm25": b})
    lines = table.splitlines()
    assert lines[0].split() == ["dense", "bm25"]
    hit1 = next(line for line in lines if line.startswith("hit@1"))
    assert hit1.split()[-2:] == ["1.000", "0.000"]
    abst = next(line for line in lines if line.startswith("off-topic abstained"))
    assert abst.split()[-2:] == ["–", "–"]
    assert format_report(a).splitlines()[0].split() == ["dense"]


def test_evaluate_on_real_index(tiny_index: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    from ftzqa.retrieve import Retriever

    retriever = Retriever.load(tiny_index, embedder=fake_embedder)
    items = [GoldItem("How long is the Danube?", ("2,850 kilometres",)), GoldItem("What is sourdough?", ())]
    r = evaluate(retriever, items, "bm25")
    assert r.questions == 1 and r.off_topic == 1
    assert r.hit_at_1 == 1.0 and r.evidence == 1.0


def test_unknown_names_signal_counts_names_absent_from_the_index() -> None:
    from ftzqa.abstain import name_terms, signals
    from ftzqa.settings import BM25Settings
    from ftzqa.sparse import Tokenizer

    tokenize = Tokenizer(BM25Settings())
    names = name_terms("How many zones does Brazil have? Ask Tang Wenhong.", tokenize)
    assert names == ["brazil", "tang", "wenhong"]
    known = {"zone", "tang", "wenhong"}
    sig = signals(["zone", "brazil"], {"zone"}, 0.5, lambda t: 1.0, known.__contains__, names)
    assert sig.unknown_names == 1 / 3 and sig.coverage == 0.5 and sig.unknown == 0.5
