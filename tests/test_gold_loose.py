"""The loose gold set (questions typed the way people type them): its shape, and ``ftzqa eval`` on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftzqa import cli
from ftzqa.chunking import sentences, split
from ftzqa.corpus import parse_document
from ftzqa.gold import GoldItem, load_gold, searched_queries

DATA = Path(__file__).parent / "data"
LOOSE = DATA / "ftz_loose.jsonl"
ARTICLE = Path(__file__).resolve().parents[1] / "corpus" / "ftz-one-year.md"


def _items() -> list[GoldItem]:
    return load_gold(LOOSE)


def _sentences() -> list[str]:
    doc = parse_document(ARTICLE.name, ARTICLE.read_bytes())
    return [s.text.lower() for p in split(doc) for s in sentences(p.text, p.start)]


def test_loose_set_has_the_required_counts() -> None:
    items = _items()
    standalone = [i for i in items if not i.followup]
    follow = [i for i in items if i.followup]
    assert sum(i.answerable for i in standalone) >= 45
    assert sum(i.kind == "near_miss" for i in standalone) >= 22
    assert len(follow) >= 6
    assert any(i.answerable for i in follow) and any(i.kind == "near_miss" for i in follow)
    assert len({i.question for i in items}) == len(items), "a question appears twice"


def test_loose_set_is_typed_loosely() -> None:
    questions = [i.question for i in _items()]
    assert sum("?" not in q for q in questions) >= 0.9 * len(questions)
    assert sum(q == q.lower() for q in questions) >= 0.85 * len(questions)


@pytest.mark.parametrize("name", ["ftz_loose.jsonl", "ftz_fresh.jsonl"])
def test_every_answer_is_verbatim_in_one_sentence_of_the_article(name: str) -> None:
    sents = _sentences()
    items = load_gold(DATA / name)
    missing = [(i.question, a) for i in items for a in i.answers if not any(a.lower() in s for s in sents)]
    assert missing == []
    assert len({i.question for i in items}) == len(items), "a question appears twice"


def test_no_unanswerable_question_carries_an_answer_and_follow_ups_resolve() -> None:
    items = _items()
    assert all(not i.answers for i in items if not i.answerable)
    queries = searched_queries(items)
    for item, query in zip(items, queries, strict=True):
        if item.followup:
            assert query != item.question, f"follow-up {item.question!r} was not rewritten"
        else:
            assert query == item.question


def test_eval_reports_every_new_measure_on_the_loose_set(
    article_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ftzqa.retrieve import Retriever

    items = _items()
    assert cli.main(["eval", "--gold", str(LOOSE), "--index", str(article_index), "--compare", "--json"]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert set(reports) == {"hybrid", "dense", "bm25"}
    threshold = Retriever.load(article_index).abstain.threshold
    for report in reports.values():
        assert report["questions"] == sum(i.answerable for i in items)
        assert report["near_miss"] == sum(i.kind == "near_miss" for i in items)
        assert report["off_topic"] == sum(i.off_topic for i in items)
        assert report["followups"] == sum(i.followup for i in items)
        assert 0 <= report["followups_right"] <= report["followups"]
        for key in ("hit_at_1", "fully_right", "near_miss_abstained", "off_topic_abstained", "wrongly_abstained"):
            assert 0.0 <= report[key] <= 1.0, key
        assert report["fully_right"] <= report["hit_at_1"]
        recalls = [r for _, _, r in report["pr_curve"]]
        assert recalls == sorted(recalls, reverse=True) and recalls[0] <= 1.0
        assert report["operating_point"]["threshold"] == pytest.approx(threshold, abs=1e-4)
    # issue 8's bar on the follow-ups: every pair right with the product's own retriever
    assert reports["hybrid"]["followups_right"] == reports["hybrid"]["followups"]


def test_eval_prints_the_curve_and_operating_point(article_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["eval", "--gold", str(LOOSE), "--index", str(article_index)]) == 0
    out = capsys.readouterr().out
    for label in ("fully right", "near-miss abstained", "off-topic abstained", "follow-ups right", "operating point"):
        assert label in out
