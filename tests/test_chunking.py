from __future__ import annotations

from ftzqa.chunking import count_tokens, sentences, split
from ftzqa.corpus import parse_document
from ftzqa.settings import ChunkSettings


def test_offsets_are_exact_and_headings_become_sections() -> None:
    doc = parse_document(
        "a.md",
        b"---\ntitle: T\n---\n# T\n\nIntro para.\n\n## Part one\n\nFirst.\nStill first.\n\n"
        b"## Part two\nSecond.\n",
    )
    passages = split(doc)
    assert [p.text for p in passages] == ["Intro para.", "First.\nStill first.", "Second."]
    assert [p.section for p in passages] == ["T", "Part one", "Part two"]
    assert [p.paragraph for p in passages] == [1, 2, 3]
    for p in passages:
        assert doc.text[p.start : p.end] == p.text


def test_plain_text_short_lines_are_headings_but_sentences_are_not() -> None:
    doc = parse_document(
        "a.txt", b"Help foreign trade\n\nTrade grew.\n\nThe system is impressive.\n\nMore text."
    )
    passages = split(doc)
    assert [p.text for p in passages] == ["Trade grew.", "The system is impressive.", "More text."]
    assert passages[0].section == "Help foreign trade"


def test_long_paragraph_splits_at_sentences_under_budget() -> None:
    sentence = "The zone opened {} new trade routes to the west this year."
    para = " ".join(sentence.format(i) for i in range(40))
    doc = parse_document("a.txt", para.encode())
    passages = split(doc, ChunkSettings(max_tokens=50))
    assert len(passages) > 1
    assert {p.paragraph for p in passages} == {1}
    for p in passages:
        assert count_tokens(p.text) <= 50
        assert p.text.endswith(".") and doc.text[p.start : p.end] == p.text


def test_overlong_sentence_is_cut_at_words() -> None:
    doc = parse_document("a.txt", ("word " * 300).encode())
    passages = split(doc, ChunkSettings(max_tokens=100))
    assert len(passages) == 3
    assert all(doc.text[p.start : p.end] == p.text for p in passages)


def test_sentences_keep_abbreviations_and_decimals() -> None:
    spans = sentences("Mr. Li paid 7.2 billion yuan. Exports rose! U.S. trade fell.", offset=10)
    assert [s.text for s in spans] == ["Mr. Li paid 7.2 billion yuan.", "Exports rose!", "U.S. trade fell."]
    assert spans[1].start == 10 + 30
