"""What kind of answer a question asks for, and whether a sentence holds one.

Kinds: ``number`` (how many / how much / how long ...), ``percent`` (what percentage / share),
``date`` (when / what year / which month ...), ``person`` (who / whom / whose). Other questions
ask for no particular kind (None) and every sentence satisfies them.

Everything is a token scan or a bounded pattern: linear in the text.
"""

from __future__ import annotations

import re

NUMBER, PERCENT, DATE, PERSON = "number", "percent", "date", "person"
LABELS = {NUMBER: "a number", PERCENT: "a percentage", DATE: "a date or time", PERSON: "a person or organisation"}

_WORD = re.compile(r"[^\W_]+")
_HOW = {"many": NUMBER, "much": NUMBER, "long": NUMBER, "far": NUMBER, "big": NUMBER, "large": NUMBER,
        "high": NUMBER, "old": NUMBER, "fast": NUMBER, "often": NUMBER, "tall": NUMBER, "heavy": NUMBER}
# "what <word>" / "which <word>": the word names the kind asked for (and is not a topic word)
TYPE_WORDS = {
    "percentage": PERCENT, "percent": PERCENT, "proportion": PERCENT, "share": PERCENT,
    "year": DATE, "years": DATE, "date": DATE, "day": DATE, "month": DATE, "decade": DATE, "century": DATE,
    "time": DATE, "period": DATE,
    "number": NUMBER, "amount": NUMBER, "value": NUMBER, "total": NUMBER, "size": NUMBER, "cost": NUMBER,
    "price": NUMBER, "rate": NUMBER,
}
_FIGURE_WORDS = frozenset({"percentage", "percent", "proportion", "share", "number", "amount"})
# a keyword query ending in one of these, a measure, asks for a figure ("hebei reform implementation
# rate", "qilu train trade value", "port container throughput"); a question with a question word
# says what it asks in other ways
_TRAILING_FIGURE = (
    _FIGURE_WORDS
    | {w for w, kind in TYPE_WORDS.items() if kind in (NUMBER, PERCENT)}
    | {"count", "growth", "yoy", "increase", "volume", "throughput", "output", "revenue", "population", "sales",
       "turnover", "costs"}
)
# a question about a change ("by how much did exports grow", "yoy growth") asks for a change in
# percent; one about a share ("what share of trade") for a part of a whole, which a change is not
_SHARE_WORDS = frozenset({"share", "proportion", "percentage", "percent", "%"})
_CHANGE_WORDS = frozenset(
    """increase increased increases decrease decreased growth grow grew grown rise rose risen fall fell
    drop dropped up down yoy change changed more less higher lower gain gained decline declined""".split()
)
_PERCENT_SIGN = re.compile(r"%|\bper ?cent\b", re.IGNORECASE)  # no nested repeats: linear on any text
_CHANGE_BEFORE = frozenset(
    """by up down increase increased increasing rose rise rising grew grow growth growing fell fall
    dropped drop decreased decrease declined decline gained gain surged jumped""".split()
)
_QUESTION_WORDS = frozenset("what which who whom whose when where why how".split())
_BEFORE_QUESTION = frozenset(
    "and or but so then of by to from with since until".split()
)
_OF_WORDS = {"share": PERCENT, "percentage": PERCENT, "proportion": PERCENT, "number": NUMBER, "amount": NUMBER}
_NUMBER_WORDS = frozenset(
    """one two three four five six seven eight nine ten eleven twelve thirteen fifteen twenty thirty forty
    fourteen sixteen seventeen eighteen nineteen fifty sixty seventy eighty ninety hundred hundreds thousand
    thousands million millions billion billions trillion dozen dozens half halves third thirds quarter quarters
    double twice triple zero""".split()
)
_MONTHS = frozenset(
    """january february march april may june july august september october november december jan feb mar
    apr jun jul aug sep sept oct nov dec""".split()
)
_TIME_WORDS = frozenset(
    """year years month months week weeks day days daily today yesterday century centuries decade decades
    monday tuesday wednesday thursday friday saturday sunday ago since until during spring summer autumn
    winter annual annually period hour hours minute minutes ad bc bce ce era""".split()
)
_PERSON_WORDS = frozenset(
    """director minister president chairman chairwoman chair governor mayor secretary deputy chief head
    king queen prince princess emperor pope bishop general officer leader founder author writer reporter
    spokesman spokeswoman spokesperson professor dr mr mrs ms sir lord lady ceo manager commissioner
    ministry department commission company corporation university government council committee agency
    bureau office institute association organization organisation party he she his her him they them""".split()
)


def _interrogative(words: list[str], i: int) -> bool:
    """``words[i]`` ("when", "who") asks, rather than joins a clause: it opens the question, ends
    it ("... was founded when"), or follows a conjunction or a preposition that takes it ("and
    when", "since when", "by whom"). "What did she own when she was a child?" and "people who
    are ..." ask no date or person."""
    return i == 0 or i == len(words) - 1 or words[i - 1] in _BEFORE_QUESTION


_OTHER_ASKING = frozenset("what which where why".split())


def _asks_how(words: list[str], i: int) -> bool:
    """``words[i]`` ("how", before "many", "much" ...) asks, rather than opens a clause of a
    question that asks something else: "what tool shows how many people visited" asks for a tool,
    "what limits how much is exported" what limits it; "and how many" asks as well."""
    return (i > 0 and words[i - 1] in ("and", "or")) or not _OTHER_ASKING.intersection(words[:i])


def asked(question: str) -> tuple[str | None, frozenset[str]]:
    """The kind of answer ``question`` asks for, and the words that said so (not topic words)."""
    words = [w.lower() for w in _WORD.findall(question[:2000])]
    for i, w in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if w == "how" and nxt in _HOW and _asks_how(words, i):
            return _HOW[nxt], frozenset()
        if w in ("what", "which") and nxt in TYPE_WORDS:
            return TYPE_WORDS[nxt], frozenset({nxt})
        if w == "when" and _interrogative(words, i):
            return DATE, frozenset()
        if w in ("who", "whom", "whose") and _interrogative(words, i):
            return PERSON, frozenset()
    # keyword questions: "share of trade", "number of trains"
    for w, nxt in zip(words, words[1:], strict=False):
        if nxt == "of" and w in _OF_WORDS:
            return _OF_WORDS[w], frozenset({w})
    if "%" in question:
        return PERCENT, frozenset()
    return None, frozenset()


# between a question word and "number of" / "share of" that it asks for: "what was the total number of"
_ASKING_FILLER = frozenset("is was are were be the a an total overall exact approximate estimated current".split())


def asks_figure(question: str) -> bool:
    """The question can only be answered with a figure: "how many", "how much", "what percentage",
    "number of ...", "share of ...", or a keyword query ending in "rate", "total", "value" ...
    ("which group has the highest rate of ..." asks for a group). A passage without any number
    cannot answer it."""
    words = [w.lower() for w in _WORD.findall(question[:2000])]
    # "number of" / "share of" asks for a figure when it is what the question asks for: in a keyword
    # query (no question word before it), or with only "is the", "was the total" ... between the
    # latest question word and it ("what was the number of"); not "which province has the largest
    # share of" (asks for a province) or "what limits the number of people" (asks what limits it)
    asking, asked_for = False, True  # a question word seen; only fillers since the latest one
    for i, (w, nxt) in enumerate(zip(words, words[1:], strict=False)):
        if w == "how" and nxt in ("many", "much") and _asks_how(words, i):
            return True
        if w in ("what", "which") and nxt in _FIGURE_WORDS:
            return True
        if nxt == "of" and w in _FIGURE_WORDS and (not asking or asked_for):
            return True
        if w in _QUESTION_WORDS:
            asking, asked_for = True, True
        elif w not in _ASKING_FILLER:
            asked_for = False
    if words and words[-1] in _TRAILING_FIGURE and not _QUESTION_WORDS.intersection(words):
        return True
    return "%" in question


def asks_share(question: str) -> bool:
    """``question`` asks what share of something ("yunnan share of the zones foreign trade", "what
    percentage of ..."), not by how much something changed."""
    words = {w.lower() for w in _WORD.findall(question[:2000])} | ({"%"} if "%" in question else set())
    return bool(words & _SHARE_WORDS) and not words & _CHANGE_WORDS and "year-on-year" not in question.lower()


def only_changes(text: str) -> bool:
    """Every percentage in ``text`` is a change ("increased by 41.8%", "up 5%", "29.6% year-on-year"),
    and it holds at least one: such a passage gives no share of anything."""
    found = False
    for m in _PERCENT_SIGN.finditer(text[:100_000]):
        number = text[max(0, m.start() - 30) : m.start()].rstrip()
        if not number[-1:].isdigit():  # "per cent" with no figure before it
            continue
        found = True
        before = [w.lower() for w in _WORD.findall(number.rstrip("0123456789.,"))][-2:]  # before the figure
        after = text[m.end() : m.end() + 20].lower()
        level = before[-1:] in (["to"], ["at"])  # "rose to 14%": where it got to, a share perhaps
        change = bool(set(before) & _CHANGE_BEFORE) and not level
        if not (change or after.lstrip(" ,").startswith(("year-on-year", "yoy"))):
            return False
    return found


def _number_word(text: str) -> bool:
    """``text`` holds a number word that counts something: "one" in "one-off", "one-stop" or "one of
    the" is an idiom or a pronoun, not a figure."""
    for m in _WORD.finditer(text):
        w = m.group().lower()
        if w not in _NUMBER_WORDS:
            continue
        if w != "one":
            return True
        after = text[m.end() : m.end() + 4].lower()
        if not (after.startswith("-") or after.startswith(" of ")):
            return True
    return False


def holds_figure(text: str) -> bool:
    """``text`` holds a number, a number word or a percentage."""
    return holds(NUMBER, text) or holds(PERCENT, text)


def holds(kind: str | None, sentence: str, given: frozenset[str] = frozenset()) -> bool:
    """True when ``sentence`` contains an answer of ``kind`` (always, for no particular kind).

    ``given``: lower-case words of the question; for ``person`` they do not count as the answer
    ("Who is Tang Wenhong?" is not answered by "Tang Wenhong said.").
    """
    if kind is None:
        return True
    if kind == PERCENT:
        return "%" in sentence or "percent" in sentence.lower() or "per cent" in sentence.lower()
    words = _WORD.findall(sentence)
    lower = [w.lower() for w in words]
    if kind == NUMBER:
        return any(w[0].isdigit() for w in words) or _number_word(sentence)
    if kind == DATE:
        return any(
            (w.isdigit() and len(w) in (1, 2, 3, 4)) or lw in _MONTHS or lw in _TIME_WORDS
            for w, lw in zip(words, lower, strict=True)
        )
    if kind == PERSON:
        if any(w in _PERSON_WORDS and w not in given for w in lower):
            return True
        # a run of two capitalised words, not opening the sentence nor from the question ("Zhang Deping")
        run = 0
        for i, (w, lw) in enumerate(zip(words, lower, strict=True)):
            run = run + 1 if i > 0 and w[0].isupper() and lw not in given else 0
            if run >= 2:
                return True
        return False
    return True
