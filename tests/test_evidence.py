"""The highlighted sentence holds the fact asked for, not the speaker's introduction."""

from __future__ import annotations

from ftzqa.evidence import best_sentence
from ftzqa.lexicon import Lexicon
from ftzqa.query import analyse
from ftzqa.settings import BM25Settings
from ftzqa.sparse import Tokenizer
from ftzqa.types import Passage

TOKENIZE = Tokenizer(BM25Settings())


def _passage(text: str, start: int = 100) -> Passage:
    return Passage("doc.md", "Title", "Section", 3, start, start + len(text), text)


def _best(question: str, text: str) -> str:
    lexicon = Lexicon.build([text])
    vocab = set(TOKENIZE(text))
    query = analyse(question, lexicon, TOKENIZE, vocab.__contains__)
    passage = _passage(text)
    ev = best_sentence(query, passage, TOKENIZE, lambda t: 1.0)
    assert passage.text[ev.span.start - passage.start : ev.span.end - passage.start] == ev.span.text
    return ev.span.text


def test_the_fact_wins_over_the_speakers_introduction() -> None:
    text = (
        "Wang Ping, deputy director of the Heilongjiang Provincial Department of Commerce, stated that the "
        "Heilongjiang zone builds a hub for cooperation with Russia. Exports reached 57.71 billion yuan, "
        "accounting for 14% of the country's trade with Russia."
    )
    assert _best("What were Heilongjiang's exports?", text).startswith("Exports reached 57.71 billion yuan")


def test_a_number_question_prefers_the_sentence_with_a_number() -> None:
    text = "The Qilu train links Shandong with Europe. The Qilu train opened 879 trains this year."
    assert _best("how many qilu trains", text) == "The Qilu train opened 879 trains this year."


def test_a_bare_attribution_is_never_the_whole_evidence() -> None:
    text = '"We will keep opening up and build a new height for reform." Tang Wenhong said.'
    evidence = _best("Who is Tang Wenhong?", text)
    assert evidence != "Tang Wenhong said." and evidence.endswith("Tang Wenhong said.")
    assert evidence.startswith('"We will keep opening up')


def test_ties_go_to_the_more_informative_sentence() -> None:
    text = "Tang Wenhong spoke. Tang Wenhong, Director of the Free Trade Zone and Port Department, stated the plan."
    assert _best("tang wenhong", text).startswith("Tang Wenhong, Director of the Free Trade Zone")


def test_a_one_sentence_passage_is_its_own_evidence() -> None:
    text = "Rye bread is dense and dark."
    assert _best("rye bread", text) == text
