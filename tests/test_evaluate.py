"""Metric math on hand-built Answers, the gold loader, and the tables."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
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
    searched_queries,
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

    def search(self, question: str, k: int = 5, mode: str = "hybrid", *, require: Sequence[str] = ()) -> Answer:
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
    off = judge(answer(["a"], found=False), [])
    assert off == Judgement(off_topic=True, found=False, kind="off_topic", confidence=0.1)
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


# --- kinds, fully right, near-misses, follow-ups, the verdict's PR curve ---------------------


def test_gold_item_kind_defaults_and_checks() -> None:
    assert GoldItem("q", ("a",)).kind == "answerable"
    assert GoldItem("q", ()).kind == "off_topic" and GoldItem("q", ()).off_topic
    near = GoldItem("q", (), "near_miss")
    assert not near.off_topic and not near.answerable and not near.followup
    assert GoldItem("and x", (), "near_miss", previous="q").followup
    with pytest.raises(ValueError, match="kind"):
        GoldItem("q", (), "maybe")
    with pytest.raises(ValueError, match="answers"):
        GoldItem("q", (), "answerable")
    with pytest.raises(ValueError, match="answers"):
        GoldItem("q", ("a",), "near_miss")


def test_load_gold_kinds_and_previous(tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    rows = [
        {"question": "qilu trains jan-july", "answers": ["879 trains"]},
        {"question": "and the yoy increase", "answers": ["41.5%"], "previous": "qilu trains jan-july"},
        {"question": "qilu trains to laos", "answers": [], "kind": "near_miss"},
        {"question": "capital of france", "answers": []},
        {"question": "and in 2019", "answers": [], "kind": "near_miss", "previous": "and the yoy increase"},
    ]
    gold.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    items = load_gold(gold)
    assert [i.kind for i in items] == ["answerable", "answerable", "near_miss", "off_topic", "near_miss"]
    assert [i.previous for i in items] == [None, "qilu trains jan-july", None, None, "and the yoy increase"]


def test_the_original_gold_file_loads_unchanged() -> None:
    items = load_gold(Path(__file__).parent / "data" / "ftz_gold.jsonl")
    assert {i.kind for i in items} == {"answerable", "off_topic"}
    assert sum(i.answerable for i in items) == 32 and sum(i.off_topic for i in items) == 9
    assert not any(i.followup for i in items)


@pytest.mark.parametrize(
    "line, words",
    [
        ('{"question": "q", "answers": [], "kind": "maybe"}', '"kind" must be one of'),
        ('{"question": "q", "answers": [], "kind": "answerable"}', 'needs "answers"'),
        ('{"question": "q", "answers": ["a"], "kind": "near_miss"}', 'must have "answers": []'),
        ('{"question": "q", "answers": ["a"], "previous": 3}', '"previous" must be'),
        ('{"question": "q", "answers": ["a"], "previous": " "}', '"previous" must be'),
    ],
)
def test_load_gold_names_a_bad_kind_or_previous(tmp_path: Path, line: str, words: str) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"question": "ok?", "answers": ["a"]}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(GoldFileError) as err:
        load_gold(gold)
    assert f"{gold}:2" in str(err.value) and words in str(err.value)


def test_load_gold_refuses_ambiguous_and_circular_chains(tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        '{"question": "and b", "answers": ["x"], "previous": "q1"}\n'
        '{"question": "and b", "answers": ["x"], "previous": "q2"}\n',
        encoding="utf-8",
    )
    with pytest.raises(GoldFileError, match="two different previous"):
        load_gold(gold)
    gold.write_text(
        '{"question": "and a", "answers": ["x"], "previous": "and b"}\n'
        '{"question": "and b", "answers": ["x"], "previous": "and a"}\n',
        encoding="utf-8",
    )
    with pytest.raises(GoldFileError, match="circle"):
        load_gold(gold)


def test_follow_ups_are_searched_as_the_product_rewrites_them_in_order() -> None:
    from ftzqa.web.followup import resolve

    first = "How many trains did the Qilu train run?"
    items = [
        GoldItem(first, ("879 trains",)),
        GoldItem("And Yunnan?", (), "near_miss", previous=first),
        GoldItem("what about the value", (), "near_miss", previous="And Yunnan?"),
        GoldItem("standalone question", ("x",)),
    ]
    second = resolve("And Yunnan?", first).query
    third = resolve("what about the value", second).query
    assert second != "And Yunnan?" and third != resolve("what about the value", "And Yunnan?").query
    assert searched_queries(items) == [first, second, third, "standalone question"]

    fake = FakeRetriever(
        {
            first: answer(["879 trains ran"]),
            second: answer(["879 trains ran"], found=True),
            third: answer(["other"], found=False),
            "standalone question": answer(["x"]),
        }
    )
    r = evaluate(fake, items)
    assert [c[0] for c in fake.calls] == [first, second, third, "standalone question"]
    assert r.followups == 2 and r.followups_right == 1  # the near-miss "And Yunnan?" was answered
    assert r.near_miss == 2 and r.near_miss_abstained == 0.5 and r.questions == 2


def test_fully_right_needs_found_top_hit_and_highlighted_answer() -> None:
    text = "Trains ran. It ran 879 trains."
    right = judge(answer([text], evidence=["It ran 879 trains."]), ["879 trains"])
    wrong_sentence = judge(answer([text], evidence=["Trains ran."]), ["879 trains"])
    refused = judge(answer([text], found=False, evidence=["It ran 879 trains."]), ["879 trains"])
    second = judge(answer(["nothing", text]), ["879 trains"])
    assert right.fully_right and right.correct_found
    assert not wrong_sentence.fully_right and wrong_sentence.correct_found
    assert not refused.fully_right and not refused.correct_found
    assert not second.fully_right and not second.correct_found
    r = summarise([right, wrong_sentence, refused, second], "hybrid")
    assert r.fully_right == 0.25 and r.hit_at_1 == 0.75 and r.wrongly_abstained == 0.25


def test_near_miss_is_its_own_kind() -> None:
    answered = judge(answer(["about Qilu"], found=True), [], kind="near_miss")
    refused = judge(answer(["about Qilu"], found=False), [], kind="near_miss")
    off = judge(answer(["x"], found=True), [])
    assert answered.kind == "near_miss" and not answered.off_topic and not answered.fully_right
    assert refused.fully_right and not refused.correct_found
    r = summarise([answered, refused, off], "hybrid")
    assert (r.questions, r.near_miss, r.off_topic) == (0, 2, 1)
    assert r.near_miss_abstained == 0.5 and r.abstained == 0.0 and r.off_topic_abstained == 0.0
    assert r.hit_at_1 is None and r.fully_right is None
    with pytest.raises(ValueError, match="does not agree"):
        Judgement(off_topic=True, found=False, kind="near_miss")


def _scored(kind: str, found: bool, confidence: float, rank: int | None = None) -> Judgement:
    return Judgement(
        off_topic=kind == "off_topic",
        found=found,
        first_relevant=rank,
        kind=kind,
        confidence=confidence,
        evidence_ok=True if rank == 1 else None,
    )


def test_pr_curve_and_operating_point() -> None:
    from ftzqa.evaluate import operating_point, pr_curve

    judged = [
        _scored("answerable", True, 0.9, rank=1),  # correct found
        _scored("answerable", True, 0.8, rank=2),  # found, wrong top hit
        _scored("answerable", False, 0.3, rank=1),  # refused, would be right
        _scored("near_miss", True, 0.7),  # a near-miss answered: a false positive
        _scored("off_topic", False, 0.2),
    ]
    curve = {p.threshold: p for p in pr_curve(judged, [0.0, 0.25, 0.5, 0.95])}
    assert (curve[0.0].precision, curve[0.0].recall, curve[0.0].found) == (pytest.approx(2 / 5), 2 / 3, 5)
    assert (curve[0.25].precision, curve[0.25].recall) == (pytest.approx(2 / 4), 2 / 3)
    assert (curve[0.5].precision, curve[0.5].recall) == (pytest.approx(1 / 3), pytest.approx(1 / 3))
    assert curve[0.95].precision is None and curve[0.95].recall == 0.0 and curve[0.95].found == 0

    # the operating point is what the product did, even where found and confidence disagree
    overruled = [*judged[:3], _scored("near_miss", False, 0.7), judged[4]]
    op = operating_point(overruled, 0.5)
    assert (op.precision, op.recall, op.threshold) == (pytest.approx(1 / 2), pytest.approx(1 / 3), 0.5)

    r = summarise(judged, "hybrid", threshold=0.391)
    assert r.threshold == 0.391 and r.operating_point is not None
    assert r.operating_point.precision == pytest.approx(1 / 3)
    thresholds = [p.threshold for p in r.pr_curve]
    assert thresholds == sorted(thresholds) and 0.391 in thresholds and 0.0 in thresholds and 1.0 in thresholds
    d = r.to_dict()
    json.dumps(d)
    assert d["operating_point"] == {"threshold": 0.391, "precision": 0.3333, "recall": 0.3333, "found": 3}
    assert [0.5, 0.3333, 0.3333] in d["pr_curve"]
    assert d["off_topic_abstained"] == 1.0 and d["near_miss_abstained"] == 0.0 and d["fully_right"] == 0.3333


def test_evaluate_labels_the_operating_point_with_the_retrievers_threshold() -> None:
    class Abstain:
        threshold = 0.42

    fake = FakeRetriever({"q": answer(["yes a"])})
    fake.abstain = Abstain()  # type: ignore[attr-defined]
    assert evaluate(fake, [GoldItem("q", ("a",))]).threshold == 0.42
    assert evaluate(FakeRetriever({"q": answer(["yes a"])}), [GoldItem("q", ("a",))]).threshold == 0.5


def test_format_reports_shows_the_new_rows_and_the_curve() -> None:
    from ftzqa.evaluate import format_curve

    judged = [_scored("answerable", True, 0.9, rank=1), _scored("near_miss", True, 0.7)]
    r = summarise(judged, "hybrid", threshold=0.4)
    table = format_reports({"hybrid": r})
    assert next(line for line in table.splitlines() if line.startswith("fully right")).split()[-1] == "1.000"
    assert next(line for line in table.splitlines() if line.startswith("near-miss abstained")).split()[-1] == "0.000"
    assert next(line for line in table.splitlines() if line.startswith("follow-ups right")).split()[-1] == "0/0"
    curve = format_curve({"hybrid": r})
    assert "0.500 / 1.000 @ 0.400" in curve.splitlines()[-1]
    assert any(line.startswith("t = 0.80") and "1.000 / 1.000" in line for line in curve.splitlines())
