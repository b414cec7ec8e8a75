"""Read a question the way it was typed: its words, which are names, typos, shorthand, and the kind
of answer it asks for.

``analyse`` turns a question into a ``Query``:

- each content word becomes a ``Word``: a *name* (place, body, person: a word the documents write
  capitalised, an unseen word capitalised in the question, or an unseen word English usually
  writes capitalised, such as "laos" in a question typed in lower case, or one that is no English
  word at all, such as "xiongan": ``propernouns``, ``Lexicon.unheard_of``), a
  *number* (years included) or a plain *topic* word; ``known`` says whether the index holds it;
- a word the index has never seen is spelled out when it is common shorthand ("h1" -> "first
  half", "jan" -> "january") or an acronym of the documents ("ftz" -> "free trade zone",
  ``Lexicon.spell_out``), else corrected to the closest indexed word (``Lexicon.correct``), else
  read as a blend of a phrase of the documents ("mofcom" -> "ministry of commerce", ``Lexicon.blend``);
  ``searched`` is the question with those replacements, and is what gets searched;
- ``asked`` is the kind of answer wanted (``answertype``); ``periods`` the periods it names.

One pass over the question's tokens; nothing here depends on the passages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .answertype import asked as asked_kind
from .answertype import asks_figure, asks_share
from .lexicon import Lexicon
from .periods import Period, periods
from .propernouns import plain_word, usually_capitalised

# shorthand people type that documents spell out; language-level, not about any corpus
SHORTHAND = {
    "yoy": "year-on-year",
    "qoq": "quarter-on-quarter",
    "ytd": "year to date",
    "h1": "first half",
    "h2": "second half",
    "1h": "first half",
    "2h": "second half",
    "q1": "first quarter",
    "q2": "second quarter",
    "q3": "third quarter",
    "q4": "fourth quarter",
    "jan": "january",
    "feb": "february",
    "mar": "march",
    "apr": "april",
    "jun": "june",
    "jul": "july",
    "aug": "august",
    "sep": "september",
    "sept": "september",
    "oct": "october",
    "nov": "november",
    "dec": "december",
    "mln": "million",
    "mn": "million",
    "bn": "billion",
    "bln": "billion",
    "pct": "percent",
    "govt": "government",
    "gov": "government",
    "dept": "department",
    "intl": "international",
    "approx": "approximately",
    "avg": "average",
    "nr": "number",
    "num": "number",
    "co": "company",
    "corp": "corporation",
    "univ": "university",
    "tv": "television",
}
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W_]+")
# function words: searched, but they are no constraint a passage has to meet
FUNCTION_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each else every few for from
    further had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most much my myself no nor not now of off on once only or other ought our ours
    out over own per same she should so some still such than that the their theirs them themselves then
    there these they this those through to too under until up upon very was we were what when where
    which while who whom whose why will with within without would you your yours please tell show give
    list find many mr mrs ms dr prof sir st get gets got gotten getting""".split()
)
# words that say what is asked for about a person or thing ("reporter name", "kou jie title", "zhu
# min position"), not what it is about: a passage gives the name or post without using the word
ASKING_WORDS = frozenset(
    {"name", "names", "title", "titles", "job", "jobs", "position", "post", "acronym", "abbreviation"}
)
_STANDS = frozenset({"stand", "stands"})  # "what does UGR stand for": the passage spells it out (below)
NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty"
).split()
NAME, NUMBER, TOPIC = "name", "number", "topic"
_ORDINAL_ENDINGS = frozenset({"st", "nd", "rd", "th"})  # "5th" is read as "5" and "th"
ORDINAL_WORDS = (
    "zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
    "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
).split()


@dataclass(frozen=True, slots=True)
class Correction:
    typed: str
    used: str


@dataclass(frozen=True, slots=True)
class Word:
    """One content word of the question."""

    surface: str  # as typed
    text: str  # as searched (lower case, corrected or spelled out)
    kind: str  # NAME, NUMBER or TOPIC
    terms: tuple[str, ...]  # its index terms
    known: bool  # the index holds all of its terms
    at: int = 0  # position among the question's tokens (adjacent words form phrases)
    styled: bool = False  # the documents write it as a name, though it is also a common word ("court")
    # other forms that mention it as well, each as its terms: ("fifth",) for "5th"; ("1975",) for
    # "1970s"; ("18", "th", "centuri") for "1700s"
    also: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class Query:
    question: str  # as typed (cleaned)
    searched: str  # with corrections and shorthand spelled out
    words: tuple[Word, ...] = ()
    corrections: tuple[Correction, ...] = ()
    asked: str | None = None
    type_words: frozenset[str] = field(default_factory=frozenset)  # "year" in "what year": not topic
    figure: bool = False  # only a figure answers it ("how many", "share of"): see answertype.asks_figure
    periods: tuple[Period, ...] = ()  # "first half", "jan-july": the passage must state them (``periods``)
    roles: tuple[str, ...] = ()  # posts asked about with no "deputy" / "vice" before them (``roles``)
    share: bool = False  # asks for a share, which a change in percent is not: see answertype.asks_share

    @property
    def names(self) -> tuple[Word, ...]:
        return tuple(w for w in self.words if w.kind in (NAME, NUMBER))

    @property
    def topic(self) -> tuple[Word, ...]:
        return tuple(w for w in self.words if w.kind == TOPIC)

    def name_phrases(self) -> list[tuple[Word, ...]]:
        """Adjacent names as one phrase each ("Tang Wenhong", "Qilu Eurasian"); numbers alone."""
        out: list[list[Word]] = []
        for w in self.names:
            if out and w.kind == NAME and out[-1][-1].kind == NAME and w.at == out[-1][-1].at + 1:
                out[-1].append(w)
            else:
                out.append([w])
        return [tuple(p) for p in out]


_RUN_CONNECTORS = frozenset({"of", "the", "and", "de", "du", "la", "le", "von", "van", "der", "y"})


def _capitalised_runs(question: str) -> set[int]:
    """Token positions (as ``_TOKEN`` finds them) of capitalised words in runs of two or more after
    the first word, joined by spaces and at most one connector ("House of Wisdom"). One pass."""
    out: set[int] = set()
    run: list[int] = []  # capitalised tokens of the current run
    gap_connector = False  # the run's last token is a connector
    prev_end = 0
    for i, m in enumerate(_TOKEN.finditer(question)):
        word = m.group(0)
        spaced = not question[prev_end : m.start()].strip()
        prev_end = m.end()
        if i > 0 and word[0].isupper() and spaced and (run or not gap_connector):
            run.append(i)
            gap_connector = False
            continue
        if run and spaced and not gap_connector and word.lower() in _RUN_CONNECTORS:
            gap_connector = True
            continue
        if len(run) >= 2:
            out.update(run)
        run, gap_connector = ([i] if i > 0 and word[0].isupper() else []), False
    if len(run) >= 2:
        out.update(run)
    return out


def analyse(
    question: str,
    lexicon: Lexicon | None,
    tokenize: Callable[[str], list[str]],
    known: Callable[[str], bool],
    required: frozenset[str] = frozenset(),
) -> Query:
    """The ``Query`` for ``question`` against an index with this lexicon, tokenizer and vocabulary.

    ``required``: words (lower case) the answer must mention, like a name, although they are plain
    words: the one word a follow-up swapped in ("what about imports" after a question on exports).
    """
    kind, type_words = asked_kind(question)
    # a question with capitals after its first word was typed with care: its lower-case words are
    # not names. One typed all in lower case leaves it to the documents ("yunnan" is a name there).
    tokens = _TOKEN.findall(question)
    cased = any(t[:1].isupper() for t in tokens[1:])
    in_run = _capitalised_runs(question) if cased else set()
    # in a question with lower-case words, a capitalised word the documents never use is a name
    # the asker wrote with care ("Plotinus"), not a typo of a plain word ("platinum"): it is
    # corrected only to a word the documents write capitalised at least once in mid-sentence
    # ("Shangdong" -> "Shandong", "Pradox of the Stone" -> "Paradox of the Stone"). A
    # question mostly in capitals ("What were Heilongjiang Expots") says nothing about which are.
    lower = sum(t[:1].islower() for t in tokens[1:])
    # "what does UGR stand for" asks what an acronym spells out; "stand" is no constraint then
    spells_out = not cased or any(len(t) >= 2 and t.isupper() for t in tokens)
    names_cased = cased and lower > len(tokens) - 1 - lower
    index = -1
    pieces: list[str] = []
    words: list[Word] = []
    corrections: list[Correction] = []
    pos = 0
    first = True
    at = -1
    for m in _TOKEN.finditer(question):
        surface = m.group(0)
        low = surface.lower()
        gap = question[pos : m.start()]
        pieces.append(gap)
        pos = m.end()
        text = low
        terms = tokenize(low)
        # words apart from punctuation do not form one phrase; "high-tech", "Beijing-Tianjin" do
        at += 1 if not gap.strip() or gap == "-" else 2
        is_first, first = first, False
        index += 1
        if low in _ORDINAL_ENDINGS and m.start() > 0 and question[m.start() - 1].isdigit():
            pieces.append(surface)  # the "th" of "5th": read with its number, below
            continue
        ending = question[m.end() : m.end() + 3].lower()
        if low.isdigit() and ending[:2] in _ORDINAL_ENDINGS and not ending[2:].isalnum():
            # "5th batch": a number the passage must state, as "5th" or as "fifth"
            spelled = ORDINAL_WORDS[int(low)] if len(low) <= 2 and int(low) < len(ORDINAL_WORDS) else ""
            also: tuple[tuple[str, ...], ...] = (tuple(tokenize(spelled)),) if spelled else ()
            words.append(Word(surface + ending[:2], low, NUMBER, tuple(terms), _known(terms, also, known), at,
                              also=also))
            pieces.append(surface)
            continue
        plural = _decade_ending(question, m.end())
        if plural and len(low) == 4 and low.isdigit() and low.endswith("0"):
            # "the 1970s" / "1970's": any year of the decade; "the 1700s": of the century, or its name
            also = _decade_forms(low, tokenize)
            words.append(Word(surface + plural, low, NUMBER, tuple(terms), _known(terms, also, known), at,
                              also=also))
            pieces.append(surface)
            continue
        asking = low in ASKING_WORDS or (
            spells_out and low in _STANDS and question[m.end() : m.end() + 4].lower() == " for"
        )
        if not terms or low in type_words or low in FUNCTION_WORDS or asking or len(low) == 1:
            pieces.append(surface)
            continue
        is_known = all(known(t) for t in terms)
        if surface[0].isdigit():
            if len(low) >= 3 or not low.isdigit():  # years, amounts, 41.8: a constraint
                words.append(Word(surface, low, NUMBER, tuple(terms), is_known, at))
                pieces.append(surface)
                continue
            if not is_known and int(low) < len(NUMBER_WORDS):  # "7" where the documents say "seven"
                spelled = NUMBER_WORDS[int(low)]
                if known(spelled):
                    corrections.append(Correction(surface, spelled))
                    words.append(Word(surface, spelled, TOPIC, (spelled,), True, at))
                    pieces.append(spelled)
                    continue
            words.append(Word(surface, low, TOPIC, tuple(terms), is_known, at))
            pieces.append(surface)
            continue
        if not is_known and len(low) > 3 and low.endswith("s") and all(known(t) for t in tokenize(low[:-1])):
            text, terms, is_known = low[:-1], tokenize(low[:-1]), True  # "JFKs", "DB10s": the name itself
        if not is_known:
            fixed = SHORTHAND.get(low)
            if fixed is None and lexicon is not None:
                fixed = lexicon.spell_out(low)
                if fixed is None:
                    fixed = lexicon.correct(low)
                    if fixed and names_cased and not is_first and surface[0].isupper() and not _ever_capitalised(
                        lexicon, fixed
                    ):
                        fixed = None
                fixed = fixed or lexicon.blend(low)
            if fixed:
                text, terms = fixed, tokenize(fixed)
                is_known = bool(terms) and all(known(t) for t in terms)
                corrections.append(Correction(surface, fixed))
        evidence = lexicon.name_evidence(text) if lexicon is not None else None
        if cased and not surface[0].isupper():
            name = False
        elif cased and not is_first:
            # capitalised by the asker: a name unless the documents disagree, and always when it is
            # part of a run of capitalised words ("Yellow Tiger", "House of Wisdom", "Signal Hill")
            # even if the documents write those words in lower case one by one
            name = evidence is not False or index in in_run
        else:
            # the documents' own writing decides, but not for a common English word: "west",
            # "court", "bond" are capitalised in "West Germanic", "Supreme Court", "James Bond",
            # and a question typed in lower case means the plain word as often as the name. For a
            # word the documents never use, English usage decides ("laos" is a name, "sort" is
            # not), and a word near no English word at all ("xiongan") is a name
            name = (evidence is True and not plain_word(text)) or (
                evidence is None and not is_known
                and (usually_capitalised(text) or (lexicon is not None and lexicon.unheard_of(text)))
            )
        name = name or low in required or text in required
        styled = not name and not cased and evidence is True
        words.append(Word(surface, text, NAME if name else TOPIC, tuple(terms), is_known, at, styled))
        pieces.append(text if text != low else surface)
    pieces.append(question[pos:])
    searched = "".join(pieces) if corrections else question
    if not cased:
        words = _of_names(_styled_runs(words), [t.lower() for t in tokens])
    return Query(
        question, searched, tuple(words), tuple(corrections), kind, type_words, asks_figure(question),
        periods(searched), roles(searched), asks_share(question),
    )


def _known(terms: list[str] | tuple[str, ...], also: tuple[tuple[str, ...], ...], known: Callable[[str], bool]) -> bool:
    """The index holds all of ``terms``, or all terms of one of the other forms ``also``."""
    return all(known(t) for t in terms) or any(alt and all(known(t) for t in alt) for alt in also)


def _decade_ending(question: str, end: int) -> str:
    """The "s" or "'s" right after a number ending at ``end`` ("1970s", "1970's"), else ""."""
    for ending in ("s", "'s", "\u2019s"):
        after = end + len(ending)
        if question[end:after] == ending and not question[after : after + 1].isalnum():
            return ending
    return ""


def _decade_forms(year: str, tokenize: Callable[[str], list[str]]) -> tuple[tuple[str, ...], ...]:
    """Other forms of "the <year>s": the decade's other years ("1975" for the 1970s); for a
    century ("1700s"), its years and its name ("18th century", "eighteenth century")."""
    first = int(year)
    if first % 100:
        return tuple((str(y),) for y in range(first + 1, first + 10))
    number = first // 100 + 1
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    names = [f"{number}{suffix} century"]
    if number < len(ORDINAL_WORDS):
        names.append(f"{ORDINAL_WORDS[number]} century")
    return tuple((str(y),) for y in range(first + 1, first + 100)) + tuple(tuple(tokenize(n)) for n in names)


def _ever_capitalised(lexicon: Lexicon, word: str) -> bool:
    """The documents write ``word`` capitalised in the middle of a sentence at least once."""
    stats = lexicon.stats(word)
    return stats is not None and stats.capitalised > 0


def _styled_runs(words: list[Word]) -> list[Word]:
    """In a question typed in lower case, a common word the documents write as a name is a name
    next to another name or such word: "supreme court", "white house", "yunnan department"; alone
    ("north and west", "towards") it is the plain word."""
    out = list(words)
    for i, w in enumerate(words):
        if not w.styled:
            continue
        near = [v for v in words[max(0, i - 1) : i + 2] if v is not w and abs(v.at - w.at) == 1]
        if any(v.kind == NAME or v.styled for v in near):
            out[i] = replace(w, kind=NAME)
    return out


def _of_names(words: list[Word], tokens: list[str]) -> list[Word]:
    """In a question typed in lower case, the word after "<name> of" is part of that name: "ministry
    of finance" names a body the documents must mention whole, as "Ministry of Finance" would. The
    first word may be a common word the documents write as a name ("house of commons"): then both
    are names."""
    out = list(words)
    for i, w in enumerate(out[:-1]):
        nxt = out[i + 1]
        if (
            (w.kind == NAME or w.styled) and nxt.kind in (NAME, TOPIC) and nxt.at == w.at + 2
            and _between(tokens, w, nxt) == "of"
        ):
            out[i] = replace(w, kind=NAME)
            out[i + 1] = replace(nxt, kind=NAME)
    return out


def _between(tokens: list[str], first: Word, second: Word) -> str:
    """The one token between two words of the question (their surfaces found in order), or ""."""
    for i in range(len(tokens) - 2):
        if tokens[i] == first.surface.lower() and tokens[i + 2] == second.surface.lower():
            return tokens[i + 1]
    return ""


# posts, and the words that make a different post of them: a deputy director is not the director.
# "former" and "acting" are left out: a former president was the president
ROLE_WORDS = frozenset(
    """director minister president chairman chairwoman chairperson chair secretary governor mayor
    manager commissioner chancellor dean editor principal ambassador premier superintendent
    administrator treasurer""".split()
)
ROLE_MODIFIERS = frozenset("deputy vice assistant associate co sub under lieutenant".split())
# "who heads / leads / runs X" asks for the top post, whatever its name
HEAD_VERBS = frozenset("heads headed leads led runs ran chairs chaired directs directed".split())
TOP_POST = "*"  # in ``roles``: the question asks who heads something


def roles(question: str) -> tuple[str, ...]:
    """The posts ``question`` names without a modifier before them ("director" in "who is the
    director of ...", not in "who is the deputy director"), lower case, each once; ``TOP_POST``
    when it asks who heads, leads or runs something."""
    tokens = [t.lower() for t in _TOKEN.findall(question)]
    out = [t for i, t in enumerate(tokens) if t in ROLE_WORDS and (i == 0 or tokens[i - 1] not in ROLE_MODIFIERS)]
    if any(t in HEAD_VERBS and i > 0 and tokens[i - 1] == "who" for i, t in enumerate(tokens)):
        out.append(TOP_POST)
    return tuple(dict.fromkeys(out))
