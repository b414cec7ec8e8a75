"""The near-miss generator of bench/nearmiss.py on a tiny synthetic article."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from common import Article  # noqa: E402
from nearmiss import generate, names  # noqa: E402

PARAGRAPHS = [
    # 0: the gold paragraph of every question below
    "In 1998 the mayor of Lyon, Gerard Collomb, opened the Rhone Museum. Visitors came from Geneva "
    "in great numbers, and the Rhone Museum sold 20,000 tickets in March.",
    # 1, 2: other names of the article, absent from paragraph 0
    "The Marseille harbour was rebuilt in 2004 by Jean Gaudin, who later moved to Toulouse.",
    "In 2011 Toulouse and Marseille signed a pact; Nice joined it in May.",
    # 3: a name that shares a word with the gold paragraph
    "The Lyon Opera and the Geneva Lakes Festival are rivals.",
]
QUESTIONS = [
    ("How many tickets did the Rhone Museum sell in March?", ("20,000",)),
    ("Who opened the museum in Lyon in 1998?", ("Gerard Collomb",)),
    ("Where did visitors of Gerard Collomb's museum come from?", ("Geneva",)),
    ("What did the mayor open?", ("the Rhone Museum",)),  # no name to swap
    ("What did Bordeaux build?", ("nothing",)),  # its name is not in the gold paragraph
]


def article() -> Article:
    return Article("Lyon", PARAGRAPHS, list(QUESTIONS), (0,) * len(QUESTIONS))


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"\w+", text)}


def test_names_are_capitalised_runs_years_and_quoted_titles() -> None:
    found = [(n.text, n.kind) for n in names('In 1998 the song "Blue Sky" by Jean Gaudin\'s band won. Then Paris.')]
    # "In" and "Then" open sentences and are not names; the possessive is dropped
    assert found == [("1998", "year"), ("Blue Sky", "title"), ("Jean Gaudin", "name"), ("Paris", "name")]
    # a capitalised run opening a sentence or a quotation may be an ordinary word: not taken
    assert names("New York is big. Rome too.") == []
    assert names('She said "Vocal acrobat" twice') == []
    assert names('She called him "Vocal acrobat and more"') == []
    # initials stay inside a name and end no sentence
    assert [n.text for n in names("Who met John W. O'Daniel and the U.S. Army?")] == ["John W. O'Daniel", "U.S. Army"]
    assert [n.text for n in names("Which Gerard Collomb museum opened in May?")] == ["Gerard Collomb", "May"]
    assert names("Which Gerard Collomb museum opened in May?")[1].kind == "month"


def test_swaps_only_names_shared_with_the_gold_paragraph_for_absent_ones_like_for_like() -> None:
    art = article()
    made = {m.source: m for m in generate(art, seed=1)}
    assert "What did the mayor open?" not in made and "What did Bordeaux build?" not in made
    assert set(made) == {q for q, _ in QUESTIONS[:3]}
    gold = PARAGRAPHS[0]
    for m in made.values():
        assert m.original in gold and m.original in m.source
        # the replacement: from the article, no word of it in the gold paragraph, not the original
        assert any(m.replacement in p for p in PARAGRAPHS[1:])
        assert not (_words(m.replacement) & _words(gold))
        assert m.question == m.source.replace(m.original, m.replacement, 1)
        assert m.gold().kind == "near_miss" and m.gold().answers == ()
        # like for like: a year for a year, a month for a month, two words for two words
        if m.original.isdigit():
            assert m.replacement in {"2004", "2011"}
        elif m.original == "March":
            assert m.replacement == "May"
        elif m.original == "Gerard Collomb":
            assert m.replacement == "Jean Gaudin"
        else:
            assert len(m.replacement.split()) == len(m.original.split()), m
    # "Lyon Opera" / "Geneva Lakes Festival" share a word with the gold paragraph: never used
    assert all("Lyon" not in m.replacement and "Geneva" not in m.replacement for m in made.values())


def test_the_possessive_stays_after_the_swapped_name() -> None:
    question = QUESTIONS[2][0]
    swaps = {m.question for s in range(30) for m in generate(article(), seed=s) if m.source == question}
    assert "Where did visitors of Jean Gaudin's museum come from?" in swaps


def test_generation_is_deterministic_and_seeded() -> None:
    art = article()
    first = generate(art, seed=1)
    assert generate(art, seed=1) == first
    seeds = {tuple(m.question for m in generate(art, seed=s)) for s in range(20)}
    assert len(seeds) > 1  # the seed picks among the possible swaps


def test_refuses_an_article_without_question_paragraphs() -> None:
    with pytest.raises(ValueError, match="paragraphs"):
        generate(Article("X", PARAGRAPHS, list(QUESTIONS)))


def test_names_is_linear_on_hostile_text() -> None:
    text = ("Aa " * 50_000) + ("'" * 50_000) + ("1999-" * 20_000)
    started = time.perf_counter()
    names(text)
    assert time.perf_counter() - started < 10  # generous: only quadratic behaviour gets near it


@pytest.mark.slow
def test_the_hand_checked_sample_is_what_the_generator_makes() -> None:
    """bench/nearmiss_check.md judged 50 generated near-misses; a changed generator needs a new check."""
    from common import SQUAD, evaluation_articles, load_squad
    from nearmiss import sample

    if not SQUAD.exists():
        pytest.skip(f"SQuAD data not found at {SQUAD}")
    check = Path(__file__).resolve().parents[1] / "bench" / "nearmiss_check.md"
    lines = check.read_text(encoding="utf-8").splitlines()
    rows = [line.split(" | ") for line in lines if re.match(r"\| \d+ \|", line)]
    checked = [row[2].replace("\\|", "|") for row in rows]
    assert len(checked) == 50
    assert [m.question for m in sample(evaluation_articles(load_squad()), 50)] == checked
