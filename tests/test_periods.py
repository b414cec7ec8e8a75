"""Periods in questions ("h1", "jan-july", "in august") and whether a passage states them."""

from __future__ import annotations

import re

import pytest

from ftzqa.abstain import Passage, signals
from ftzqa.evidence import Evidence
from ftzqa.periods import periods, states
from ftzqa.query import analyse
from ftzqa.settings import BM25Settings
from ftzqa.sparse import Tokenizer


def _tokens(text: str) -> list[str]:
    return [t.lower() for t in re.findall(r"[^\W_]+", text)]


@pytest.mark.parametrize(
    ("question", "label"),
    [
        ("qilu train growth in the first half", "the first half"),
        ("yunnan exports h1", "the first half"),
        ("foreign capital jan-july", "January to July"),
        ("foreign capital from january to july", "January to July"),
        ("trains in the first 7 months", "the first seven months"),
        ("q3 exports", "the third quarter"),
        ("market entities by end of june", "June"),
        ("trade from march to may", "March to May"),
    ],
)
def test_periods_are_read_from_the_question(question: str, label: str) -> None:
    assert [p.label for p in periods(question)] == [label]


@pytest.mark.parametrize("question", ["what may happen to the zones", "how did the march of reform go", "2019 exports"])
def test_everyday_words_and_years_are_no_periods(question: str) -> None:
    assert periods(question) == ()


@pytest.mark.parametrize(
    ("question", "passage", "stated"),
    [
        ("jan-jul", "In the first seven months of this year, trade rose.", True),
        ("first 7 months", "From January to July, trade rose.", True),
        ("h1", "In the first six months, exports rose.", True),
        ("first half", "In the first half of the year, exports rose.", True),
        ("first half", "In the first seven months of this year, trains ran.", False),
        ("jan-july", "In the first half of the year, exports rose.", False),
        ("in august", "As of Aug. 31, six zones were one year old.", True),
        ("in august", "As of July, six zones were one year old.", False),
    ],
)
def test_a_passage_states_a_period_in_any_of_its_forms(question: str, passage: str, stated: bool) -> None:
    (period,) = periods(question)
    assert states(_tokens(passage), period) is stated


def test_a_passage_that_does_not_state_the_period_is_no_answer() -> None:
    text = 'In the first seven months of this year, the "Qilu" Eurasian train ran 879 trains, up 32% year-on-year.'
    tokenize = Tokenizer(BM25Settings())
    vocab = set(tokenize(text))
    passage = Passage(set(tokenize(text)), text)
    evidence = Evidence(span=None, names_near=1.0, holds_type=True)  # type: ignore[arg-type]

    def sig(question: str) -> float:
        query = analyse(question, None, tokenize, vocab.__contains__)
        return signals(query, passage, 0.8, lambda t: 1.0, evidence).missing_names

    assert sig("qilu trains yoy growth in the first half") == 1.0
    assert sig("qilu trains yoy growth jan-jul") == 0.0
    assert sig("qilu trains yoy growth") == 0.0
