"""Decide whether the documents answer a question: a small logistic model over twelve signals.

For each of the top-ranked passages (all signals in [0, 1]):

- ``cosine``: dense similarity of the question and the passage;
- ``coverage``: share of the question's term weight (idf) that the passage (with its title and
  section) contains;
- ``topic_coverage``: the same over the question's topic words only (not its names): a passage
  that names the right province but not "exports" is not about exports;
- ``missing_names``: 1 when the passage does not mention one of the question's names or numbers
  (places, bodies, people, years, figures; "Russia" is mentioned by "Russian", "DB10s" by
  "DB10", "DST" by "daylight saving time", "United States" by "U.S."): a question about Guangxi
  is not answered by a passage about Yunnan, however close the rest of the wording; also 1 when
  the question can only be answered by a figure ("how many", "share of") and the passage holds
  no number at all, or when the question names a period ("first half", "jan-july", "last year")
  that the passage does not state in any form ("first six months", "January to July"), or a post
  ("director", "who heads") the passage names only as "deputy" or "vice" post, or a share where
  every percentage of the passage is a change ("increased by 41.8%");
- ``unknown_names``: share of the question's names and numbers found nowhere in the index;
- ``unknown_terms``: share of the question's topic-word weight carried by words the index has
  never seen (after typo correction): "land leases" in an index that never mentions leases (the
  monotone fit gives it weight 0: such words already count against the answer through
  ``coverage``, where an unseen word carries the highest idf);
- ``names_near``: share of the question's names within a sentence of the evidence (or in the
  title or section);
- ``type_ok``: 1 when the question asks for no particular kind of answer, or when the passage's
  evidence sentence holds the kind asked for (a number for "how many", a date for "when", a
  person or body for "who", a percentage for "what share"); 0 otherwise;
- ``rival``: how much better another of the top ten passages, one that misses a name of the
  question, covers the question's topic words: the documents say it, but for someone else;
- ``missing_words``: how many of the question's topic words the passage does not mention (a
  quarter for each, at most 1; the words the reason line lists as "not in this passage"):
  ``coverage`` weighs words by rarity, so a passage that shares the question's two rarest words but
  lacks four of its other words still covers much of it; a question from another document usually
  misses several;
- ``sentence_cosine``: dense similarity of the question and the passage's sentence closest to it
  in meaning (each sentence embedded on its own, by the index's model): a passage can share a
  question's words and general topic while none of its sentences says what the question asks;
- ``evidence_cosine``: the same for the evidence sentence (the one shown as the answer).

p(answered) = sigmoid(bias + w . signals); the question is answered when the best of the top
passages reaches the threshold. When the best-ranked passage fails the ``missing_names`` rule (it
is about another province, person or year, or lacks the figure or period asked for), a lower
passage answers only when it is clearly an answer (p >= ``outranked``): the question is most
likely about what the best match says, with one name swapped, and a passage that merely mentions
that name is shown as "Found" far more often wrongly than rightly (on the development articles,
2 of 3 such promotions of real questions had the wrong passage, and they were 9% of all
swapped-name near-misses).

Weights and threshold are fitted by ``bench/calibrate.py`` (monotone: each weight keeps its
signal's sign) on SQuAD development articles with real negatives (other articles' questions,
near-miss questions with one name swapped, and questions asked of a broad index of other
articles); ``outranked`` is set by hand there; see README.
"""

from __future__ import annotations

import gzip
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from .answertype import holds_figure, only_changes
from .evidence import Evidence
from .periods import Period, states
from .query import NAME, ROLE_MODIFIERS, ROLE_WORDS, TOP_POST, Query, Word

SIGNALS = (
    "cosine",
    "coverage",
    "topic_coverage",
    "missing_names",
    "unknown_names",
    "unknown_terms",
    "names_near",
    "type_ok",
    "rival",
    "missing_words",
    "sentence_cosine",
    "evidence_cosine",
)
MISSING_WORDS_FULL = 4  # missing_words is 1 from this many missing topic words
SUBJECT_SHARE = 1 / 3  # a name in this share of a document's paragraphs is its subject ...
SUBJECT_MIN_PARAGRAPHS = 5  # ... in a document of at least this many


@dataclass(frozen=True, slots=True)
class Signals:
    cosine: float
    coverage: float
    topic_coverage: float = 1.0
    missing_names: float = 0.0
    unknown_names: float = 0.0
    unknown_terms: float = 0.0
    names_near: float = 1.0
    type_ok: float = 1.0
    rival: float = 0.0
    missing_words: float = 0.0
    sentence_cosine: float | None = None  # None: not measured, the passage's cosine stands in
    evidence_cosine: float | None = None

    def as_list(self) -> list[float]:
        return [self.cosine if value is None else value for value in (getattr(self, n) for n in SIGNALS)]


@dataclass(frozen=True, slots=True)
class AbstainModel:
    """p(answered) = sigmoid(bias + w . signals); answered when p >= threshold.

    A passage that does not mention every name and number of the question (``missing_names``)
    is never an answer: its p is 0, whatever its other signals. That rule comes first; the
    weights cover the rest.
    """

    bias: float
    weights: tuple[float, ...]
    threshold: float = 0.5
    outranked: float = 0.0  # p a lower passage needs when the best-ranked one fails missing_names

    def logit(self, signals: Signals) -> float:
        return self.bias + sum(w * x for w, x in zip(self.weights, signals.as_list(), strict=True))

    def probability(self, signals: Signals) -> float:
        if signals.missing_names > 0:
            return 0.0
        z = self.logit(signals)
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def answers(self, signals: Signals) -> bool:
        return self.probability(signals) >= self.threshold

    def probabilities(self, ranked: list[Signals]) -> list[float]:
        """p(answered) of each of the top passages, best-ranked first, with the ``outranked`` rule:
        under a best-ranked passage that fails ``missing_names``, one below ``outranked`` counts 0."""
        out = [self.probability(s) for s in ranked]
        if ranked and ranked[0].missing_names > 0:
            out = [out[0]] + [p if p >= self.outranked else 0.0 for p in out[1:]]
        return out


# fitted by: python bench/calibrate.py  (see README, "Not in the documents")
DEFAULT_MODEL = AbstainModel(
    bias=-6.555, weights=(3.069, 1.753, 0.868, 0.0, 0.0, 0.0, 0.546, 0.577, -0.923, -0.691, 2.965, 2.969),
    threshold=0.196, outranked=0.5,
)


PREFIX = 5  # "Russia" is present where a passage says "Russian", "Europe" where it says "European"
_CONNECTORS = frozenset({"of", "and", "for", "the", "&"})
_WORD = re.compile(r"[^\W_]+")
_RUN_JOINS = frozenset({"of", "the"})  # "Department of Commerce", "Bank of the West": one name
# countries English names in several ways that share no first letters: a question about "America"
# is answered by a passage on "the United States", one about the Netherlands by a passage on "Dutch
# ports" (lower case: words in a row of the passage; all capitals: an acronym as the passage writes
# it, dots taken out). Most come from data/countries.txt.gz (bench/countries.py: each country's
# names, then its people's adjective); these add what that list lacks. A country named in the
# question is mentioned by its adjective, not the other way round: "Chinese citizens" are not
# mentioned by a passage on China
_ALIAS_GROUPS = (
    ("united states", "america", "US", "USA"),
    ("united kingdom", "britain", "great britain", "UK"),
    ("netherlands", "holland"),
    ("soviet union", "USSR"),
)


@cache
def _aliases() -> dict[str, tuple[str, ...]]:
    """Each name of a country (lower case) -> every form that mentions it (its names and its
    people's adjective); read once, when first needed."""
    data = (resources.files("ftzqa") / "data" / "countries.txt.gz").read_bytes()
    out: dict[str, tuple[str, ...]] = {}
    for line in gzip.decompress(data).decode().splitlines():
        if line and not line.startswith("#"):
            names, _, adjectives = line.partition("\t")
            forms = tuple(f for f in (*names.split("|"), *adjectives.split("|")) if f)
            for name in names.split("|"):
                out[name] = forms
    for extra in _ALIAS_GROUPS:
        lower = [form.lower() for form in extra]
        merged = dict.fromkeys([*extra, *(f for name in lower for f in out.get(name, ()))])
        for name in lower:
            out[name] = tuple(merged)
    return out


class Passage:
    """What the verdict looks up in one passage: its terms, term prefixes and word initials."""

    def __init__(
        self, terms: set[str], text: str, body: str | None = None,
        subject: Callable[[tuple[str, ...]], bool] | None = None,
    ) -> None:
        """``text``: the passage with its title and section; ``body``: the passage alone (default
        ``text``), where a figure must be: "one year on" in the title answers no "how many".
        ``subject``: whether words (lower case) are its document's subject (``is_subject``)."""
        self.terms = terms
        self._subject = subject
        self.prefixes = {t[:PREFIX] for t in terms if len(t) >= PREFIX and not t[0].isdigit()}
        self._text = text
        self._body = text if body is None else body
        self._initials: str | None = None
        self._compact: set[str] | None = None
        self._figure: bool | None = None
        self._changes: bool | None = None
        self._tokens: list[str] | None = None
        self._runs: list[frozenset[str]] | None = None
        self._run_initials: set[str] | None = None

    def only_changes(self) -> bool:
        """The passage itself holds percentages, and each is a change ("increased by 41.8%"): it
        gives no share of anything."""
        if self._changes is None:
            self._changes = only_changes(self._body)
        return self._changes

    def has_figure(self) -> bool:
        """The passage itself (not its title or section) holds a number, a number word or a
        percentage."""
        if self._figure is None:
            self._figure = holds_figure(self._body)
        return self._figure

    def states(self, period: Period) -> bool:
        """The passage states ``period`` in one of its forms ("first six months" for "h1")."""
        return states(self._words(), period)

    def _words(self) -> list[str]:
        """The passage's words (with its title and section), lower case, in order; read once."""
        if self._tokens is None:
            self._tokens = [t.lower() for t in _WORD.findall(self._text)]
        return self._tokens

    def other_post(self, role: str) -> str | None:
        """The post the passage names instead of ``role`` ("deputy director"), when it names
        ``role`` only with a modifier ("deputy", "vice") before it; None when it names the post on
        its own somewhere, or not at all: a passage naming only the deputy director does not say
        who the director is. ``role`` ``TOP_POST`` (who heads it?): any post, all of them modified."""
        words = self._words()
        seen: str | None = None
        for i, t in enumerate(words):
            if t != role and not (role == TOP_POST and t in ROLE_WORDS):
                continue
            before = words[i - 1] if i > 0 else ""
            if before not in ROLE_MODIFIERS:
                return None
            seen = seen or f"{before} {t}"
        return seen

    def compact(self) -> set[str]:
        """The passage's words as written, dots taken out ("U.S." -> "US", "D.C." -> "DC")."""
        if self._compact is None:
            self._compact = set(_WORD.findall(self._text.replace(".", "")))
        return self._compact

    def initials(self) -> str:
        """First letters of the passage's words, connectors left out ("National Archives and Records
        Administration" -> "nara"), so an acronym is a substring of it."""
        if self._initials is None:
            words = self._text.lower().replace("-", " ").split()
            self._initials = "".join(w[0] for w in words if w not in _CONNECTORS and w[0].isalpha())
        return self._initials

    def mentions(self, word: Word) -> bool:
        """The passage holds ``word``: all its terms, or a form sharing its first letters, or (for
        an acronym) words whose initials spell it."""
        if all(t in self.terms for t in word.terms) or any(all(t in self.terms for t in alt) for alt in word.also):
            return True
        if all(len(t) >= PREFIX and t[:PREFIX] in self.prefixes for t in word.terms):
            return True
        letters = word.surface
        if len(letters) >= 3 and letters[-1] == "s" and letters[:-1].isupper():
            letters = letters[:-1]  # "PCBs": one "PCB" or more
        # an acronym as written ("DST"), typed in lower case ("dst": a name, so the documents write
        # it in capitals), or a word the index never saw
        acronym = letters.isupper() or (letters.islower() and word.kind == NAME) or not word.known
        if not (2 <= len(letters) <= 6 and letters.isalpha() and acronym):
            return False
        if letters.upper() in self.compact():
            return True
        if len(letters) == 2:  # two letters match any text's initials by chance: only a whole name's
            return letters.lower() in self.run_initials()  # "US" for "United States"
        return letters.lower() in self.initials()

    def run_initials(self) -> set[str]:
        """Initials of each run of two or more capitalised words, lower case ("United States" ->
        "us", "European Union" -> "eu")."""
        if self._run_initials is None:
            out: set[str] = set()
            letters: list[str] = []
            end = -1
            for m in _WORD.finditer(self._text):
                word = m.group(0)
                if word[0].isupper() and letters and self._text[end : m.start()] == " ":
                    letters.append(word[0])
                else:
                    if len(letters) >= 2:
                        out.add("".join(letters).lower())
                    letters = [word[0]] if word[0].isupper() else []
                end = m.end()
            if len(letters) >= 2:
                out.add("".join(letters).lower())
            self._run_initials = out
        return self._run_initials

    def name_runs(self) -> list[frozenset[str]]:
        """The passage's runs of capitalised words, lower case, joined over "of", "the" and a
        possessive: "Yunnan Pilot Free Trade Zone", "Department of Commerce", "Edmund Burke's Club",
        "Lee" (in "Lee's only book"). One pass."""
        if self._runs is None:
            runs: list[frozenset[str]] = []
            run: list[str] = []
            end = -1
            for m in _WORD.finditer(self._text):
                word = m.group(0)
                spaced = self._text[end : m.start()] == " "
                if word[0].isupper() and run and spaced:
                    run.append(word.lower())
                elif run and spaced and word in _RUN_JOINS:
                    pass  # "Department of Commerce": the run may go on after "of"
                elif run and word == "s" and self._text[end : m.start()] in ("'", "\u2019"):
                    pass  # "Edmund Burke's Club": one name, so its "Club" is not a club on its own
                else:
                    if run:
                        runs.append(frozenset(run))
                    run = [word.lower()] if word[0].isupper() else []
                end = m.end()
            if run:
                runs.append(frozenset(run))
            self._runs = runs
        return self._runs

    def _says(self, form: str) -> bool:
        """The passage holds ``form``: an acronym as written ("US", "U.S."), or its words in a row."""
        if form.isupper():
            return form in self.compact()
        want = form.split()
        words = self._words()
        n = len(want)
        return any(words[i : i + n] == want for i in range(len(words) - n + 1) if words[i] == want[0])

    def mentions_name(self, phrase: tuple[Word, ...]) -> bool:
        """The passage mentions a name phrase: every word of it (in some form), another name of the
        same country ("the United States" for "America"), its initials ("US" for "United States"),
        or its last word on its own, as a later mention names a
        person or body ("Lee" for "Harper Lee", "the Archive" for "the Internet Archive"): a run
        of capitalised words holding that word and no word from outside the phrase. "Hainan
        Provincial Department" is not mentioned by a passage about the Yunnan Provincial
        Department."""
        if all(self.mentions(w) for w in phrase):
            return True
        group = _aliases().get(" ".join(w.text for w in phrase))
        if group is not None and any(self._says(form) for form in group):
            return True
        if any(w.kind != NAME for w in phrase):
            return False
        if self._subject is not None and self._subject(tuple(w.text for w in phrase)):
            return True
        if len(phrase) < 2:
            return False
        if "".join(w.surface[0] for w in phrase).upper() in self.compact():
            return True
        words = {w.text for w in phrase} | {w.surface.lower() for w in phrase}
        tail = phrase[-1].text
        return len(tail) >= 3 and any(tail in run and run <= words for run in self.name_runs())


def paragraphs(text: str) -> list[str]:
    """A document's paragraphs (blocks between blank lines), lower case, for ``is_subject``."""
    return [block.lower() for block in text.split("\n\n") if block.strip()]


def is_subject(blocks: Sequence[str], words: Sequence[str]) -> bool:
    """Each of ``words`` (lower case) is in at least ``SUBJECT_SHARE`` of a document's paragraphs
    (``blocks``, from ``paragraphs``; at least ``SUBJECT_MIN_PARAGRAPHS`` of them): the document's
    subject, which every passage of it is about without naming it. "Greece" in an article on the
    Greeks, whose paragraph on the state formed in 1830 need not say "Greece" again. A literal
    search with word edges for each word: linear in the document."""
    if len(blocks) < SUBJECT_MIN_PARAGRAPHS or not words:
        return False
    least = SUBJECT_SHARE * len(blocks)
    for word in words:
        edged = re.compile(rf"(?<!\w){re.escape(word)}(?!\w)")
        if sum(1 for block in blocks if word in block and edged.search(block)) < least:
            return False
    return True


def signals(
    query: Query,
    passage: Passage,
    cosine: float,
    idf: Callable[[str], float],
    evidence: Evidence,
    rival: float = 0.0,
    sentence_cosine: float | None = None,
    evidence_cosine: float | None = None,
) -> Signals:
    """The signals of one question against one of its top passages (``passage``: the passage with
    its title and section; the two sentence cosines as ``Retriever`` measures them)."""
    phrases = query.name_phrases()
    unknown = sum(1 for p in phrases if not all(w.known for w in p))
    unmentioned = sum(1 for p in phrases if not passage.mentions_name(p))
    weights = {t: idf(t) for w in query.words for t in w.terms}
    total = sum(weights.values())
    coverage = sum(v for t, v in weights.items() if t in passage.terms) / total if total > 0 else 0.0
    topic_weight = {t: idf(t) for w in query.topic for t in w.terms}
    topic_total = sum(topic_weight.values())
    unseen = {t for w in query.topic if not w.known for t in w.terms}
    lacking = {w.text for w in query.topic if not passage.mentions(w)}  # as the reason line lists them
    return Signals(
        cosine=cosine,
        coverage=coverage,
        topic_coverage=_share(topic_weight, passage.terms, topic_total, empty=1.0),
        missing_names=1.0 if unmentioned or _unmet(query, passage) else 0.0,
        unknown_names=unknown / len(phrases) if phrases else 0.0,
        unknown_terms=_share(topic_weight, unseen, topic_total, empty=0.0),
        names_near=evidence.names_near,
        type_ok=1.0 if evidence.holds_type else 0.0,
        rival=max(0.0, rival - _share(topic_weight, passage.terms, topic_total, empty=1.0)),
        missing_words=min(1.0, len(lacking) / MISSING_WORDS_FULL),
        sentence_cosine=sentence_cosine,
        evidence_cosine=evidence_cosine,
    )


def _unmet(query: Query, passage: Passage) -> bool:
    """Only a figure answers the question and the passage has none, or it names a period the
    passage does not state, or a post the passage only names with "deputy" or "vice" before it, or
    a share where the passage's percentages are all changes ("increased by 41.8%")."""
    if query.figure and not passage.has_figure():
        return True
    if any(passage.other_post(r) for r in query.roles):
        return True
    if query.share and passage.only_changes():
        return True
    return any(not passage.states(p) for p in query.periods)


def rival_topic(query: Query, passage: Passage, idf: Callable[[str], float]) -> float:
    """Topic coverage of ``passage`` when it misses one of the question's names (else 0)."""
    phrases = query.name_phrases()
    if not phrases or all(passage.mentions_name(p) for p in phrases):
        return 0.0
    weights = {t: idf(t) for w in query.topic for t in w.terms}
    return _share(weights, passage.terms, sum(weights.values()), empty=0.0)


def _share(weights: dict[str, float], present: set[str], total: float, empty: float) -> float:
    """Share of the weight of ``weights`` carried by terms in ``present`` (``empty`` when none)."""
    return sum(v for t, v in weights.items() if t in present) / total if total > 0 else empty
