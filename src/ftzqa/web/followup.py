"""Follow-up questions in a conversation: one small, explainable rewriting rule (pure).

A question is a follow-up when it starts with "and", "what about", "how about" or "what of",
or when it has no content words of its own ("How many?"). A follow-up that only names
something ("And Yunnan?") replaces the first name in the previous question ("What was
Heilongjiang's trade?" -> "What was Yunnan's trade?"); one that names a single other thing
("What about imports?") replaces the previous question's word closest to it in meaning, when one
is close enough (``SWAP_SIMILARITY``: "exports"; the embedding model decides); any other
follow-up is appended to the previous question. Everything else is searched as typed.

A swapped-in word is what the follow-up asks about (``Resolved.focus``): the search requires an
answer to mention it, as it must mention the question's names. A passage on Yunnan's exports to
Vietnam does not answer "what about imports", however close it is to the rewritten question.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_CUE = re.compile(r"^\s*(?:(?:and\s+)?(?:what|how)\s+about|(?:and\s+)?what\s+of|and)\b", re.IGNORECASE)
_WORD = re.compile(r"[^\W_](?:[\w'’.-]*[^\W_])?")
_QUESTION_START = re.compile(
    r"^(?:who|whom|whose|what|when|where|why|which|how|is|are|was|were|do|does|did|can|could|"
    r"will|would|should|has|have|had)\b",
    re.IGNORECASE,
)
# words that carry no subject of their own
_STOP = frozenset(
    """a about after again all also am an and any are as at be been before being both but by can
    could did do does doing during each else few for from further had has have having he her here
    hers him his how i if in into is it its itself just many me more most much my no nor not now of
    off on once only or other our out over own same she should so some still such than that the
    their them then there these they this those through to too under until up very was we were what
    when where which while who whom whose why will with would you your yours please tell show
    number amount""".split()
)


# what a follow-up naming something may start with, left out of the name it swaps in
_LEADING = re.compile(r"^(?:(?:at|in|for|on|of|from|to|with|by|about)\s+)?(?:(?:the|a|an)\s+)?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Resolved:
    """What to search for; ``rule`` says why it differs from the question ("" when it does not)."""

    query: str
    rule: str = ""
    focus: tuple[str, ...] = ()  # words swapped in: what the follow-up asks about, so the answer must say them


def content_words(text: str) -> list[str]:
    """Words of ``text`` that are not function words (lower-cased, possessive 's dropped)."""
    words = (re.sub(r"['’]s$", "", m.group(0).lower()) for m in _WORD.finditer(text))
    return [w for w in words if w and w not in _STOP]


IsName = Callable[[str], bool]
# (word, candidates) -> similarity of word to each candidate, in [-1, 1]
Similar = Callable[[str, list[str]], list[float]]
# cosine of the model's word vectors: siblings a follow-up swaps in are close (imports/exports
# 0.63, south/north 0.68, 2019/2020 0.72), unrelated words of the same question are not (<= 0.4)
SWAP_SIMILARITY = 0.55


def embedding_similarity(encode: Callable[[list[str]], Any]) -> Similar:
    """A ``Similar`` from an embedder's ``encode`` (rows: one vector per text)."""

    def similar(word: str, candidates: list[str]) -> list[float]:
        import numpy as np

        vectors = np.asarray(encode([word, *candidates]), dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return [float(x) for x in vectors[1:] @ vectors[0]]

    return similar


def _capitalised(word: str) -> bool:
    return word[:1].isupper()


def first_name(text: str, is_name: IsName | None = None) -> tuple[int, int] | None:
    """(start, end) of the first run of names, or None.

    A name is a capitalised word after the first (a question's first word is capitalised anyway),
    or a word ``is_name`` accepts, first word included (lower case; the index knows "yunnan" is a
    name however it is typed, and wherever: "yunnan exports to vietnam").
    """
    span: list[int] | None = None
    for i, m in enumerate(re.finditer(r"[\w-]+", text)):
        word = m.group(0)
        known = is_name is not None and is_name(word.lower())
        named = known or (i > 0 and _capitalised(word))
        if named and word.lower() not in _STOP:
            if span is None:
                span = [m.start(), m.end()]
            elif not text[span[1] : m.start()].strip():
                span[1] = m.end()
            else:
                break
        elif span is not None:
            break
    return (span[0], span[1]) if span else None


def _is_name(text: str, is_name: IsName | None = None) -> bool:
    words = [re.sub(r"['’]s$", "", w) for w in re.findall(r"[\w'’-]+", text) if w.lower() not in _STOP]
    return bool(words) and all(
        _capitalised(w) or (is_name is not None and is_name(w.lower())) for w in words
    )


def _swap_word(rest: str, previous: str, similar: Similar) -> Resolved | None:
    """``previous`` with its word closest in meaning to the one word of ``rest``, or None."""
    words = content_words(rest)
    if len(words) != 1:
        return None
    spans = [m for m in _WORD.finditer(previous) if content_words(m.group(0))]
    candidates = [m for m in spans if content_words(m.group(0))[0] != words[0]]
    if not candidates:
        return None
    scores = similar(words[0], [content_words(m.group(0))[0] for m in candidates])
    best = max(range(len(candidates)), key=scores.__getitem__)
    if scores[best] < SWAP_SIMILARITY:
        return None
    m = candidates[best]
    new = next(w.group(0) for w in _WORD.finditer(rest) if content_words(w.group(0)))
    query = previous[: m.start()] + new + previous[m.end() :]
    return Resolved(query, f"follow-up: {new} in place of {m.group(0)}", (new,))


def resolve(
    question: str, previous: str | None, is_name: IsName | None = None, similar: Similar | None = None
) -> Resolved:
    """The query to search for ``question`` given the previous searched query (if any).

    ``is_name``: tells names typed in lower case ("and yunnan"); the index's lexicon provides it.
    ``similar``: word similarity (the index's embedding model) for "what about imports".
    """
    question = question.strip()
    if not previous or not question:
        return Resolved(question)
    cue = _CUE.match(question)
    rest = question[cue.end() :].strip(" \t,;:") if cue else question
    if not cue and content_words(question):
        return Resolved(question)
    if cue and _QUESTION_START.match(rest) and content_words(rest):
        return Resolved(question)  # "And how many zones are there?" stands on its own
    rest = rest.rstrip(" ?.!")
    if rest and _is_name(rest, is_name):
        name = first_name(previous, is_name)
        if name:
            start, end = name
            new = _LEADING.sub("", rest)  # "and at Shanghai": Shanghai in place of the name
            query = previous[:start] + new + previous[end:]
            return Resolved(query, f"follow-up: {new} in place of {previous[start:end]}", tuple(content_words(new)))
    if not rest:
        return Resolved(previous, "follow-up: the previous question again")
    if similar is not None:
        swapped = _swap_word(rest, previous, similar)
        if swapped is not None:
            return swapped
    base = previous.rstrip()
    mark = base[-1] if base[-1] in "?.!" else ""
    return Resolved(f"{base.rstrip('?.! ')} {rest}{mark}", "follow-up: added to the previous question")
