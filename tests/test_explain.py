"""One line saying why: what the top passage matched, and what it lacks."""

from __future__ import annotations

import pytest

from ftzqa.abstain import Passage, Signals
from ftzqa.explain import explain
from ftzqa.lexicon import Lexicon
from ftzqa.query import analyse
from ftzqa.settings import BM25Settings
from ftzqa.sparse import Tokenizer

TOKENIZE = Tokenizer(BM25Settings())
TEXTS = [
    "Kou Jie said about 160 new market entities were born every day in the Yunnan zone.",
    "Trade in Guangxi deepened cooperation with ASEAN. Exports rose 41.8% in the first half.",
]
LEXICON = Lexicon.build(TEXTS)
VOCAB = {t for text in TEXTS for t in TOKENIZE(text)}
YUNNAN = Passage(set(TOKENIZE(TEXTS[0])), TEXTS[0])
OK = Signals(cosine=0.7, coverage=1.0)


def _explain(question: str, found: bool, signals: Signals = OK):  # type: ignore[no-untyped-def]
    query = analyse(question, LEXICON, TOKENIZE, VOCAB.__contains__)
    return explain(query, YUNNAN, signals, found)


def test_found_lists_what_matched() -> None:
    why = _explain("how many new market entities per day in yunnan", found=True)
    assert why.reason == "Matched: new market entities · day · yunnan"
    assert why.matched == ("new market entities", "day", "yunnan") and why.missing == ()


def test_found_says_which_words_the_passage_lacks() -> None:
    why = _explain("how many new market entities per day in yunnan in the first half", found=True)
    assert why.missing == ("first half",)
    assert why.reason == "Matched: new market entities · day · yunnan; not in this passage: first half"


def test_a_name_found_elsewhere_is_named_as_missing() -> None:
    why = _explain("how many new market entities per day in guangxi", found=False)
    assert why.missing == ("guangxi",)
    assert why.reason == (
        "Not found: the closest passage matches new market entities · day, "
        "but not guangxi (mentioned elsewhere in the documents)."
    )


def test_a_name_the_documents_never_mention() -> None:
    why = _explain("How many new market entities in Zhengzhou?", found=False)
    assert why.reason == "Not found: the documents never mention Zhengzhou."


def test_words_the_documents_never_use() -> None:
    why = _explain("land leases in yunnan", found=False)
    assert why.reason == (
        "Not found: the closest passage matches yunnan, but the documents never mention land or leases."
    )


def test_the_kind_of_answer_is_missing() -> None:
    why = _explain("when was kou jie born", found=False, signals=Signals(cosine=0.5, coverage=0.6, type_ok=0.0))
    assert why.reason.startswith("Not found: the closest passage matches kou jie born") and why.reason.endswith(
        "but gives no date or time."
    )


def test_no_passages() -> None:
    query = analyse("anything", LEXICON, TOKENIZE, VOCAB.__contains__)
    assert explain(query, None, None, False).reason == "Not found: the documents have no passages to show."


def test_a_period_the_passage_does_not_state() -> None:
    why = _explain("new market entities per day in yunnan in h1", found=False)
    assert why.reason == (
        "Not found: the closest passage matches new market entities · day · yunnan, but not for the first half."
    )


def test_a_lower_case_name_english_capitalises_and_the_documents_never_mention() -> None:
    why = _explain("new market entities per day in laos", found=False)
    assert why.reason == "Not found: the documents never mention laos."


def test_a_figure_question_over_a_passage_without_figures() -> None:
    text = "Kou Jie said new market entities were born every day in the Yunnan zone."
    query = analyse("how many new market entities in yunnan", LEXICON, TOKENIZE, VOCAB.__contains__)
    refused = Signals(cosine=0.7, coverage=1.0, missing_names=1.0)
    why = explain(query, Passage(set(TOKENIZE(text)), text), refused, False)
    assert why.reason == "Not found: the closest passage matches new market entities · yunnan, but gives no figure."
    # the same question over the passage that counts them is not refused for want of a figure
    assert "figure" not in _explain("how many new market entities in yunnan", found=False).reason


def test_hyphenated_words_stay_one_phrase() -> None:
    text = "Lingang set cross-border financing quotas for high-tech enterprises."
    query = analyse("high-tech enterprises with cross-border quotas", Lexicon.build([text]), TOKENIZE, lambda t: True)
    why = explain(query, Passage(set(TOKENIZE(text)), text), OK, True)
    assert why.reason == "Matched: high tech enterprises · cross border quotas"


@pytest.mark.parametrize(
    ("question", "ending"),
    [
        ("who is the director of the yunnan department", "but names the deputy director, not the director."),
        ("who heads the yunnan department", "but names only the deputy director."),
    ],
)
def test_a_deputy_is_named_as_another_post(question: str, ending: str) -> None:
    text = "Kou Jie, deputy director of the Yunnan Provincial Department of Commerce, said so."
    query = analyse(question, LEXICON, TOKENIZE, VOCAB.__contains__)
    refused = Signals(cosine=0.7, coverage=1.0, missing_names=1.0)
    why = explain(query, Passage(set(TOKENIZE(text)), text), refused, False)
    assert why.reason.endswith(ending)
