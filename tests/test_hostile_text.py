"""Hostile text: every text path must take linear time on 1 MB adversarial inputs.

Each test runs under a deadline of CPU time used by this process (SIGPROF, so other work on a
busy machine does not count; Python's ``re`` engine checks for signals while matching, so a
runaway pattern is interrupted too). The deadline is far above what linear work on 1 MB needs
(a few seconds at most); only quadratic or worse behaviour reaches it. The second half checks that
the rewritten functions give exactly what the old patterns gave, on many short random strings.
"""

from __future__ import annotations

import random
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import pytest

from ftzqa.chunking import heading_text, sentences, split
from ftzqa.corpus import parse_document
from ftzqa.evidence import best_sentence
from ftzqa.lexicon import Lexicon
from ftzqa.query import analyse
from ftzqa.settings import BM25Settings
from ftzqa.sparse import Tokenizer
from ftzqa.types import Answer, Document, Hit, Passage, Span
from ftzqa.web.followup import content_words, first_name, resolve
from ftzqa.web.render import highlight, render_answer, surrounding, text_html

DEADLINE = 20.0  # CPU seconds per test
MB = 1_000_000


@contextmanager
def within(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"used more than {seconds:.0f} s of CPU: super-linear on hostile input")

    previous = signal.signal(signal.SIGPROF, expire)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


@pytest.fixture(autouse=True)
def deadline() -> Iterator[None]:
    with within(DEADLINE):
        yield


HOSTILE = {
    "spaces": "Intro words here.\n\n" + " " * MB + "x",
    "tabs": "\t" * MB + "x",
    "dots": "." * MB + "x",
    "dots_at_end": "A sentence" + "." * MB,
    "bangs": "!" * MB + "a",
    "cjk_stops": "。" * (MB // 4) + "x",
    "closers": "." + '"' * MB + "x",
    "hashes": "#" * MB + " x",
    "heading_spaces": "# a" + " " * MB + "x",
    "heading_mixed": "# a" + " \t#" * (MB // 3) + "x",
    "heading_hashes": "# a" + "#" * MB + "x",
    "blank_lines": "x\n" + "\n" * MB + "x",
    "blank_lines_spaced": "\n \n" * (MB // 3) + "x",
    "one_line": "word " * (MB // 5),
    "one_word": "a" * MB,
    "newline_space_cr": ("\n" + " " * 50 + "\r") * (MB // 52) + "x",
    "dot_space": ". " * (MB // 2),
    "initials": "a. " * (MB // 3),
    "front_matter_open": "---\n" + "k: v\n" * (MB // 5),
    "front_matter_spaces": "---" + " " * MB,
    "digits": "1," * (MB // 2) + "x",
}
NAMES = sorted(HOSTILE)
ANSWER = "The answer paragraph names Yunnan. It has a second sentence with 42 in it."


def _offsets_hold(text: str, passages: list[Passage]) -> None:
    for p in passages:
        assert text[p.start : p.end] == p.text


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("suffix", [".md", ".txt"])
def test_reading_and_chunking_are_linear(name: str, suffix: str) -> None:
    data = (HOSTILE[name] + "\n\n" + ANSWER + "\n").encode()
    doc = parse_document("hostile" + suffix, data)
    passages = split(doc)
    _offsets_hold(doc.text, passages)
    assert any(p.text == ANSWER for p in passages)
    assert all(len(p.text) <= 10_000 for p in passages)  # no megabyte passages


@pytest.mark.parametrize("name", NAMES)
def test_sentences_are_linear(name: str) -> None:
    text = HOSTILE[name]
    spans = sentences(text, 7)
    for s in spans:
        assert text[s.start - 7 : s.end - 7] == s.text


@pytest.mark.parametrize("name", NAMES)
def test_heading_detection_is_linear(name: str) -> None:
    for line in HOSTILE[name].split("\n"):
        heading_text(line)


@pytest.mark.parametrize("name", NAMES)
def test_evidence_and_tokenizer_are_linear(name: str) -> None:
    tokenize = Tokenizer(BM25Settings())
    text = HOSTILE[name] + " " + ANSWER
    passage = Passage("h.md", "H", "", 1, 0, len(text), text)
    # the lexicon is learnt from the hostile document, the question is read against it
    lexicon = Lexicon.build([text])
    vocab = set(tokenize(text))
    query = analyse("How many in Yunnan?", lexicon, tokenize, vocab.__contains__)
    span = best_sentence(query, passage, tokenize, lambda t: 1.0).span
    assert text[span.start : span.end] == span.text
    assert "42" in span.text or "Yunnan" in span.text  # the number asked for, or the name
    # a hostile question over an ordinary passage
    short = Passage("h.md", "H", "", 1, 0, len(ANSWER), ANSWER)
    small = Lexicon.build([ANSWER])
    hostile_query = analyse(HOSTILE[name], small, tokenize, set(tokenize(ANSWER)).__contains__)
    best_sentence(hostile_query, short, tokenize, lambda t: 1.0)


def _hit(doc: Document, passage_text: str) -> Hit:
    start = doc.text.index(passage_text)
    passage = Passage(doc.doc_id, doc.title, "", 1, start, start + len(passage_text), passage_text)
    first = sentences(passage_text, start)[0]
    return Hit(1, 1.0, passage, Span(first.start, first.end, first.text))


@pytest.mark.parametrize("name", NAMES)
def test_rendering_is_linear(name: str) -> None:
    hostile = HOSTILE[name]
    text = hostile + "\n\n" + ANSWER + "\n\n" + hostile
    doc = Document("h.md", "H", text, "x")
    html = render_answer(Answer(hostile, True, [_hit(doc, ANSWER)], 0.9), {"h.md": doc}, rule="follow-up")
    assert "<mark>The answer paragraph names Yunnan.</mark>" in html
    before, after = surrounding(text, text.index(ANSWER), text.index(ANSWER) + len(ANSWER), paragraphs=2)
    # the passage itself is the hostile text: highlight and context of a megabyte passage
    big = Document("b.md", "B", "Before.\n\n" + hostile + "\n\nAfter.", "x")
    body = hostile.strip()
    if body:
        hit = _hit(big, body)
        highlight(hit)
        render_answer(Answer("q", True, [hit], 0.9), {"b.md": big})
    text_html(hostile)


@pytest.mark.parametrize("name", NAMES)
def test_follow_up_resolution_is_linear(name: str) -> None:
    hostile = HOSTILE[name]
    resolve(hostile, "What were Heilongjiang's exports?")
    resolve("And " + hostile, "What were Heilongjiang's exports?")
    resolve("And Yunnan?", hostile)
    content_words(hostile)
    first_name(hostile)


def test_a_hostile_document_still_indexes_its_real_paragraphs() -> None:
    """The issue's reproduction: a heading line of 30,000 spaces took ~50 s; now instant."""
    data = ("# a" + " " * 30_000 + "x\n\n" + ANSWER + "\n\n" + "." * 20_000 + "\n").encode()
    doc = parse_document("hostile.md", data)
    assert doc.title == "a…"  # a heading labels every passage under it: shortened to 200 characters
    passages = split(doc)
    _offsets_hold(doc.text, passages)
    assert passages[0].text == ANSWER and passages[0].section == doc.title


# --- the rewrites give what the old patterns gave, on ordinary and odd short strings -----------

OLD_CORPUS_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
OLD_MD_HEADING = re.compile(r"[ \t]{0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
OLD_SENT_END = re.compile(r"[.!?。！？]+[\"'”’)\]]*(?=\s|$)|[。！？]")
ALPHABET = list('  \t\n\n##..!?。？")abX\r\f1')


def _random_strings(count: int, seed: int) -> Iterator[str]:
    rng = random.Random(seed)
    for _ in range(count):
        yield "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 24)))
    yield from ["# Title", "## Part two ##", "   ### x #", "####### no", "#no", "# ", "#  ", "# #", "\t# tab"]


def test_heading_text_matches_the_old_pattern() -> None:
    for s in _random_strings(20_000, 1):
        line = s.split("\n")[0]
        m = OLD_MD_HEADING.match(line)
        assert heading_text(line) == (m.group(2) if m else None), repr(line)


def test_document_title_matches_the_old_pattern_on_ordinary_headings() -> None:
    for s in _random_strings(5_000, 2):
        body = "Some text.\n" + s + "\n# Final heading\n"
        m = OLD_CORPUS_HEADING.search(body.replace("\r\n", "\n").replace("\r", "\n"))  # as read
        expected = m.group(1).strip() if m else "doc"
        if not expected.strip("#"):  # the old pattern took an all-blank or all-# heading as the title
            continue
        assert parse_document("doc.md", body.encode()).title == expected, repr(body)


def _old_sentences(text: str) -> list[tuple[int, int]]:
    from ftzqa.chunking import _is_abbreviation

    out, start = [], 0
    for m in OLD_SENT_END.finditer(text):
        if _is_abbreviation(text, m.start() + 1 if text[m.start()] == "." else 0):
            continue
        piece = text[start : m.end()]
        if piece.strip():
            s = start + len(piece) - len(piece.lstrip())
            out.append((s, s + len(piece.strip())))
        start = m.end()
    piece = text[start:]
    if piece.strip():
        s = start + len(piece) - len(piece.lstrip())
        out.append((s, s + len(piece.strip())))
    return out


def test_sentences_match_the_old_pattern() -> None:
    for s in _random_strings(20_000, 3):
        assert [(x.start, x.end) for x in sentences(s)] == _old_sentences(s), repr(s)


def test_text_html_and_surrounding_match_the_old_patterns() -> None:
    from html import escape

    old_break = re.compile(r"\n[ \t]*\n\s*")
    for s in _random_strings(10_000, 4):
        assert text_html(s) == escape(re.sub(r"[ \t]*\n\s*", " ", s), quote=True), repr(s)
        mid = len(s) // 2
        for start, end in ((mid, mid), (0, mid), (mid, len(s))):
            head, tail = s[:start], s[end:]
            starts = not head.strip() or bool(re.search(r"\n[ \t]*\n\s*$", head))
            ends = not tail.strip() or bool(re.match(r"\s*\n[ \t]*\n", tail))
            before = [b.strip() for b in old_break.split(head) if b.strip()]
            after = [b.strip() for b in old_break.split(tail) if b.strip()]
            got_before, got_after = surrounding(s, start, end, paragraphs=1)
            # the paragraph counts depend on starts/ends; compare through the public result
            n_before, n_after = 1 + (not starts), 1 + (not ends)
            assert got_before == _old_take(before[::-1], n_before)[::-1], repr(s)
            assert got_after == _old_take(after, n_after), repr(s)


def _old_take(blocks: list[str], n: int) -> list[str]:
    heading = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.*?)[ \t#]*$")
    out: list[str] = []
    count = 0
    for block in blocks:
        if count >= n:
            break
        out.append(block)
        count += not heading.match(block)
    return out


PERIOD_RUNS = {
    "months": "january " * (MB // 8),
    "ranges": "jan-jul " * (MB // 8),
    "first": "first " * (MB // 6),
    "first_half": "first half " * (MB // 11),
}


@pytest.mark.parametrize("name", NAMES + sorted(PERIOD_RUNS))
def test_periods_are_linear(name: str) -> None:
    from ftzqa.periods import periods, states

    hostile = HOSTILE.get(name) or PERIOD_RUNS[name]
    tokens = hostile.lower().split()
    for period in periods("first half jan-july in august q3 first 7 months"):
        states(tokens, period)
    periods(hostile)
    resolve("what about " + hostile[:1000], hostile, None, lambda w, c: [0.0] * len(c))


@pytest.mark.parametrize("name", [*NAMES, "percent_digits", "percent_signs"])
def test_the_verdict_s_answer_kinds_are_linear(name: str) -> None:
    from ftzqa.abstain import Passage as VerdictPassage
    from ftzqa.answertype import asks_figure, asks_share, only_changes
    from ftzqa.query import roles

    extra = {"percent_digits": "1." * (MB // 2) + "%", "percent_signs": "by 1% " * (MB // 6)}
    hostile = HOSTILE.get(name) or extra[name]
    only_changes(hostile)
    asks_share(hostile), asks_figure(hostile), roles(hostile)
    VerdictPassage(set(), hostile).other_post("director")
    VerdictPassage(set(), hostile).run_initials()


def test_the_tokenizer_remembers_a_bounded_number_of_words(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long-running server meets any words in questions: the word memory is emptied when full,
    and the terms stay the same."""
    from ftzqa import sparse

    monkeypatch.setattr(sparse, "CACHE_WORDS", 1_000)
    tokenize = Tokenizer(BM25Settings())
    words = [f"word{i}x" for i in range(5_000)]
    for start in range(0, len(words), 100):
        tokenize(" ".join(words[start : start + 100]))
        assert len(tokenize._cache) <= 1_000
    text = "Yunnan's exports rose 41.8% to 1,200 billion yuan, the ministry said"
    assert tokenize(text) == Tokenizer(BM25Settings())(text) == [
        "yunnan", "export", "rose", "41.8", "percent", "1200", "billion", "yuan", "ministri", "said"
    ]
