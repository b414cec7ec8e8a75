"""Periods a question names ("first half", "jan-july", "in august"), and whether a passage states them.

A figure for the first seven months does not answer a question about the first half; a period is a
constraint like a name: the passage must state it, in any of its usual forms ("first half" = "first
six months" = "January to June" = "H1"). Years are numbers and checked as such elsewhere.

A token scan over the question and the passage: linear in the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"[^\W_]+")
MONTHS = (
    "january february march april may june july august september october november december".split()
)
_MONTH = {m: i + 1 for i, m in enumerate(MONTHS)} | {m[:3]: i + 1 for i, m in enumerate(MONTHS)} | {"sept": 9}
_COUNT = "zero one two three four five six seven eight nine ten eleven twelve".split()
_ORDINAL = {"first": 1, "second": 2, "third": 3, "fourth": 4}
_RANGE = frozenset({"to", "through", "till", "until", "and", "thru"})
# "may" and "march" are also everyday words: months only beside a number or after these
_AMBIGUOUS = frozenset({"may", "mar", "march"})
_BEFORE_MONTH = frozenset({"in", "of", "since", "by", "until", "till", "from", "during", "early", "late", "mid", "end"})


@dataclass(frozen=True, slots=True)
class Period:
    label: str  # as shown ("the first half")
    forms: tuple[tuple[str, ...], ...]  # token sequences, any of which states it


# "past year" too: people say "last year" for the twelve months just gone
LAST_YEAR = Period("last year", (("last", "year"), ("previous", "year"), ("past", "year"), ("a", "year", "earlier")))


def _months_span(first: int, last: int) -> list[tuple[str, ...]]:
    a, b = MONTHS[first - 1], MONTHS[last - 1]
    return [(a, b), (a, "to", b), (a[:3], b[:3]), (a[:3], "to", b[:3]), (a, "through", b)]


def _first_months(n: int) -> list[tuple[str, ...]]:
    forms = [("first", _COUNT[n], "months"), ("first", str(n), "months")] + _months_span(1, n)
    if n == 6:
        forms += [("first", "half"), ("h1",), ("1h",)]
    if n == 3:
        forms += [("first", "quarter"), ("q1",)]
    return forms


def _half(which: int) -> Period:
    if which == 1:
        return Period("the first half", tuple(_first_months(6)))
    forms = [("second", "half"), ("h2",), ("2h",), ("last", "six", "months"), ("last", "6", "months")]
    return Period("the second half", tuple(forms + _months_span(7, 12)))


def _quarter(which: int) -> Period:
    names = ("first", "second", "third", "fourth")
    forms = [(names[which - 1], "quarter"), (f"q{which}",)] + _months_span(3 * which - 2, 3 * which)
    if which == 1:
        forms += [("first", "three", "months"), ("first", "3", "months")]
    return Period(f"the {names[which - 1]} quarter", tuple(forms))


def _month(tokens: list[str], i: int) -> int | None:
    m = _MONTH.get(tokens[i])
    if m is None or tokens[i] not in _AMBIGUOUS:
        return m
    beside = [t for t in tokens[max(0, i - 1) : i + 2 : 2] if t]
    if any(t.isdigit() for t in beside) or (i > 0 and tokens[i - 1] in _BEFORE_MONTH):
        return m
    return None


def _count(token: str) -> int | None:
    if token.isdigit():
        return int(token) if 1 <= int(token) <= 12 else None
    return _COUNT.index(token) if token in _COUNT[1:] else None


def periods(question: str) -> tuple[Period, ...]:
    """The periods ``question`` names, each once."""
    tokens = [t.lower() for t in _WORD.findall(question)]
    out: dict[str, Period] = {}
    i = 0
    while i < len(tokens):
        t = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if t in ("h1", "1h") or (t == "first" and nxt == "half"):
            out.setdefault("h1", _half(1))
            i += 2 if t == "first" else 1
            continue
        if t in ("h2", "2h") or (t == "second" and nxt == "half"):
            out.setdefault("h2", _half(2))
            i += 2 if t == "second" else 1
            continue
        if re.fullmatch(r"q[1-4]", t) or (t in _ORDINAL and nxt == "quarter"):
            which = int(t[1]) if t.startswith("q") else _ORDINAL[t]
            out.setdefault(f"q{which}", _quarter(which))
            i += 1 if t.startswith("q") else 2
            continue
        if t in ("last", "previous") and nxt == "year":  # a figure for this year does not answer it
            out.setdefault("last year", LAST_YEAR)
            i += 2
            continue
        if t == "first" and nxt and _count(nxt) and i + 2 < len(tokens) and tokens[i + 2] == "months":
            n = _count(nxt) or 0
            out.setdefault(f"m{n}", Period(f"the first {_COUNT[n]} months", tuple(_first_months(n))))
            i += 3
            continue
        month = _month(tokens, i)
        if month is not None:
            j = i + 1
            if j < len(tokens) and tokens[j] in _RANGE:
                j += 1
            last = _MONTH.get(tokens[j]) if j < len(tokens) and j > i else None
            if last is not None and last > month:  # "jan-jul", "january to july"
                if month == 1:
                    label = f"January to {MONTHS[last - 1].title()}"
                    out.setdefault(f"m{last}", Period(label, tuple(_first_months(last))))
                else:
                    label = f"{MONTHS[month - 1].title()} to {MONTHS[last - 1].title()}"
                    out.setdefault(label, Period(label, tuple(_months_span(month, last))))
                i = j + 1
                continue
            name = MONTHS[month - 1]
            out.setdefault(name, Period(name.title(), ((name,), (name[:3],)) + ((("sept",),) if month == 9 else ())))
        i += 1
    return tuple(out.values())


def states(tokens: list[str], period: Period) -> bool:
    """``tokens`` (a passage's words, lower case, in order) hold one of ``period``'s forms."""
    starts: dict[str, list[int]] = {}
    for i, t in enumerate(tokens):
        starts.setdefault(t, []).append(i)
    for form in period.forms:
        for i in starts.get(form[0], ()):
            if tuple(tokens[i : i + len(form)]) == form:
                return True
    return False
