"""The index's word list: which words it holds, how often, and which read as names.

Built from the passages at index time and saved as ``lexicon.json`` (plain lists, no pickle).
Two jobs at question time:

- **names without capitals.** People type "yunnan" and "qingdao" in lower case. A word counts as
  a name when the documents themselves write it capitalised in the middle of sentences (at least
  ``NAME_SHARE`` of those occurrences), so "Yunnan" is a name and "zone" is not, whatever the
  question's capitalisation.
- **typos.** A question word the index has never seen, and that is not a word of the embedding
  model's own vocabulary (``dictionary``: "name" is a word, not a typo of "same"), is matched
  to the closest indexed word by
  optimal-string-alignment distance (rapidfuzz): one edit for words of 4 to 7 letters, two for
  longer ones; ties go to the word sharing the longer beginning (Jaro-Winkler), then to the more
  frequent one ("yunan" -> "yunnan", not "yuan"). Nothing shorter than 4 letters is corrected.

- **acronyms.** "ftz" and "yoy" are spelled out from the documents themselves: the initials of
  capitalised phrases ("Free Trade Zone", and every shorter tail of "Shandong Pilot Free Trade
  Zone") and of hyphenated compounds ("year-on-year") seen at least twice.
- **blends.** "mofcom" is spelled out as "ministry of commerce" when no indexed word is a typo
  of it: it is the beginnings of that phrase's words run together (m·of·com), each main word
  giving at least its first letter, connectors all, some or none of theirs.

All scanning is linear: one pass of a simple character-class pattern over each text, and at most
``MAX_ACRONYM`` tails per capitalised run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_ACRONYM = 6  # longest phrase (in words) spelled out from its initials
MIN_ACRONYM_COUNT = 2
_CONNECTORS = frozenset({"of", "and", "for", "&"})
MIN_ACRONYM_LETTERS = 3  # two-letter "acronyms" are mostly people's initials and noise
MIN_PHRASE_LETTERS = 2  # phrases kept (by initials) for blends: "mofcom" is m·of·com, initials "mc"
MIN_BLEND, MAX_BLEND = 4, 10  # letters of a word tried as a blend
MAX_BLEND_HEADS = 4  # main words of a phrase a blend may run together
_PHRASE_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
NAME_SHARE = 0.7  # share of mid-sentence occurrences written capitalised for a word to be a name
MIN_CORRECTABLE = 4  # shorter words are never corrected
_LETTERS = re.compile(r"[^\W\d_]+")
# how ``LexiconCounts.of`` counts, recorded in every index's manifest; an index counted another
# way (before two-letter-initial phrases were kept for blends, say) is rebuilt by the next
# ``build`` or ``add``, its vectors reused: bump "version" whenever the counting changes
COUNTS_FORMAT: dict[str, int] = {"version": 2, "min_phrase_letters": MIN_PHRASE_LETTERS, "max_acronym": MAX_ACRONYM}
_SENTENCE_ENDS = frozenset(".!?:;\n")
_SKIPPED = frozenset(" \t\"'“”‘’()[]")


@dataclass(frozen=True, slots=True)
class WordStats:
    df: int  # passages holding the word
    mid: int  # occurrences not at the start of a sentence or line
    capitalised: int  # of those, written with a capital first letter

    @property
    def is_name(self) -> bool:
        return self.mid > 0 and self.capitalised >= NAME_SHARE * self.mid


def _sentence_start(text: str, pos: int) -> bool:
    """True when only spaces, quotes or brackets separate ``pos`` from a sentence end or line start."""
    i = pos - 1
    while i >= 0 and text[i] in _SKIPPED and pos - i < 64:
        i -= 1
    return i < 0 or text[i] in _SENTENCE_ENDS or pos - i >= 64


def scan(text: str) -> Iterable[tuple[str, bool, bool]]:
    """(lower-cased word, capitalised, mid-sentence) for each run of letters in ``text``."""
    for m in _LETTERS.finditer(text):
        word = m.group(0)
        yield word.lower(), word[0].isupper(), not _sentence_start(text, m.start())


def _initials(words: list[str]) -> str:
    return "".join(w[0] for w in words).lower()


def phrases(text: str) -> Iterable[tuple[str, str]]:
    """(initials, phrase) for the acronym candidates of ``text``: each tail of 2 to ``MAX_ACRONYM``
    words of a run of capitalised words (connectors such as "of" allowed inside, not counted in
    the initials), and each hyphenated compound of 3 or more parts."""
    run: list[str] = []
    last_end = -1

    def tails() -> Iterable[tuple[str, str]]:
        while run and run[-1].lower() in _CONNECTORS:
            run.pop()
        for n in range(2, min(len(run), MAX_ACRONYM) + 1):
            tail = run[-n:]
            if tail[0].lower() in _CONNECTORS:
                continue
            heads = [w for w in tail if w.lower() not in _CONNECTORS]
            if len(heads) >= 2:
                yield _initials(heads), " ".join(tail).lower()

    for m in _PHRASE_WORD.finditer(text):
        word = m.group(0)
        parts = word.split("-")
        if len(parts) >= 3:
            yield _initials(parts), word.lower()
        joined = last_end >= 0 and text[last_end : m.start()] == " "
        last_end = m.end()
        capital = word[0].isupper()
        if run and joined and (capital or word in _CONNECTORS):
            run.append(word)
            continue
        yield from tails()
        run = [word] if capital else []
    yield from tails()


@dataclass(slots=True)
class LexiconCounts:
    """The additive statistics a lexicon is made of, for some texts: summed over two sets of texts
    they are the statistics of both, so segments of an index can be counted apart, added up and
    (for deleted documents) taken away again.

    ``words``: word -> [df, mid, capitalised]; ``phrases``: (initials, phrase) -> occurrences, for
    acronym and blend candidates of at least ``MIN_PHRASE_LETTERS`` letters.
    """

    words: dict[str, list[int]] = field(default_factory=dict)
    phrases: dict[tuple[str, str], int] = field(default_factory=dict)

    @classmethod
    def of(cls, texts: Iterable[str]) -> LexiconCounts:
        out = cls()
        stats, counts = out.words, out.phrases
        for text in texts:
            for key in phrases(text):
                if len(key[0]) >= MIN_PHRASE_LETTERS:
                    counts[key] = counts.get(key, 0) + 1
            seen: set[str] = set()
            for word, capital, mid in scan(text):
                row = stats.get(word)
                if row is None:
                    row = stats[word] = [0, 0, 0]
                if word not in seen:
                    seen.add(word)
                    row[0] += 1
                if mid:
                    row[1] += 1
                    row[2] += capital
        return out

    def add(self, other: LexiconCounts, sign: int = 1) -> None:
        """Add (``sign`` 1) or take away (-1) ``other``; entries that reach zero are dropped."""
        for word, (df, mid, cap) in other.words.items():
            row = self.words.setdefault(word, [0, 0, 0])
            row[0] += sign * df
            row[1] += sign * mid
            row[2] += sign * cap
            if row[0] <= 0:
                del self.words[word]
        for key, n in other.phrases.items():
            total = self.phrases.get(key, 0) + sign * n
            if total > 0:
                self.phrases[key] = total
            else:
                self.phrases.pop(key, None)

    def to_dict(self) -> dict[str, Any]:
        return {"words": self.words, "phrases": [[i, p, n] for (i, p), n in self.phrases.items()]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LexiconCounts:
        words = {str(w): [int(x) for x in row][:3] for w, row in data.get("words", {}).items()}
        if any(len(row) != 3 for row in words.values()):
            raise ValueError("lexicon counts: a word row is not [df, mid, capitalised]")
        return cls(words, {(str(i), str(p)): int(n) for i, p, n in data.get("phrases", [])})


def best_acronyms(
    counts: dict[tuple[str, str], int], is_word: Callable[[str], bool], min_letters: int = MIN_ACRONYM_LETTERS
) -> dict[str, str]:
    """initials -> the phrase they most often stand for (seen ``MIN_ACRONYM_COUNT`` times or more;
    never for initials that are themselves a word of the documents)."""
    best: dict[str, tuple[int, str]] = {}
    for (initials, phrase), n in counts.items():
        if (
            n >= MIN_ACRONYM_COUNT
            and len(initials) >= min_letters
            and not is_word(initials)
            and (n, phrase) > best.get(initials, (0, ""))
        ):
            best[initials] = (n, phrase)
    return {k: v for k, (_, v) in sorted(best.items())}


def _blend_initials(word: str) -> set[str]:
    """Initials of the phrases ``word`` could be a blend of: its first letter and one to
    ``MAX_BLEND_HEADS - 1`` later letters, in order (at most C(9, 3) + C(9, 2) + 9 = 129)."""
    from itertools import combinations

    out: set[str] = set()
    for n in range(1, MAX_BLEND_HEADS):
        for picks in combinations(range(1, len(word)), n):
            out.add(word[0] + "".join(word[i] for i in picks))
    return out


def blends(word: str, phrase: str) -> bool:
    """``word`` is the beginnings of ``phrase``'s words run together: each main word gives at least
    its first letter, each connector ("of") all, some or none of its letters; at least one word
    gives two letters or more (else it is an acronym)."""
    parts = phrase.replace("-", " ").split()
    if sum(p not in _CONNECTORS for p in parts) < 2:
        return False
    # reach[j]: positions of ``word`` reachable after the first j words (with "a word gave 2+" flag)
    reach: set[tuple[int, bool]] = {(0, False)}
    for part in parts:
        least = 0 if part in _CONNECTORS else 1
        nxt: set[tuple[int, bool]] = set()
        for at, long in reach:
            for n in range(least, len(part) + 1):
                if word[at : at + n] != part[:n] or at + n > len(word):
                    break
                nxt.add((at + n, long or n >= 2))
        reach = nxt
        if not reach:
            return False
    return (len(word), True) in reach


class Lexicon:
    """What questions ask of a lexicon (names, acronyms, typos), over any source of word statistics.

    Subclasses give ``stats``, ``_phrases`` and ``_vocabulary``: ``MemoryLexicon`` holds everything
    in memory (``Lexicon.build``); an index store looks its statistics up where it keeps them.
    """

    _by_length: tuple[dict[int, list[str]], dict[str, int]] | None = None  # filled by the first correction

    @property
    def dictionary(self) -> frozenset[str]:
        """Words of the embedding model's own vocabulary: never taken for typos."""
        return frozenset()

    def stats(self, word: str) -> WordStats | None:
        raise NotImplementedError

    def _phrases(self, initials: Sequence[str]) -> dict[tuple[str, str], int]:
        """(initials, phrase) -> occurrences, for the phrases with any of these ``initials``."""
        raise NotImplementedError

    def _acronym(self, initials: str) -> str | None:
        """The phrase ``initials`` most often stands for (see ``best_acronyms``), or None."""
        return best_acronyms(self._phrases([initials]), self.__contains__).get(initials)

    def _vocabulary(self) -> dict[str, int]:
        """Every word of the documents with its document frequency (loaded when first needed)."""
        raise NotImplementedError

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self.stats(word) is not None

    def is_name(self, word: str) -> bool:
        """True when the documents write ``word`` (lower case) as a name."""
        s = self.stats(word)
        return s is not None and s.is_name

    def name_evidence(self, word: str) -> bool | None:
        """Whether the documents write ``word`` as a name; None when they never use it mid-sentence."""
        s = self.stats(word)
        return None if s is None or s.mid == 0 else s.is_name

    def spell_out(self, word: str) -> str | None:
        """The phrase an unseen acronym stands for in these documents ("ftz" -> "free trade zone")."""
        if word in self:
            return None
        found = self._acronym(word)
        if found is None and word.endswith("s") and len(word) > 2:  # "ftzs"
            found = self._acronym(word[:-1])
        return found

    def blend(self, word: str) -> str | None:
        """The phrase an unseen word runs together the beginnings of ("mofcom" -> "ministry of
        commerce"), seen ``MIN_ACRONYM_COUNT`` times or more; the most frequent when several fit."""
        if not (MIN_BLEND <= len(word) <= MAX_BLEND and word.isalpha() and word.islower()):
            return None
        if word in self or word in self.dictionary:
            return None
        counts = self._phrases(sorted(_blend_initials(word)))
        fits = [(n, phrase) for (_, phrase), n in counts.items() if n >= MIN_ACRONYM_COUNT and blends(word, phrase)]
        return max(fits)[1] if fits else None

    def correct(self, word: str) -> str | None:
        """The closest indexed word to an unseen ``word`` (lower case), or None when none is close."""
        if len(word) < MIN_CORRECTABLE or not word.isalpha() or word in self.dictionary or word in self:
            return None
        from rapidfuzz.distance import OSA, JaroWinkler
        from rapidfuzz.process import extract

        most = 1 if len(word) <= 7 else 2
        best: tuple[int, float, int, str] | None = None  # (distance, -prefix similarity, -df, word)
        buckets, df = self._buckets()
        for length in range(len(word) - most, len(word) + most + 1):
            choices = buckets.get(length)
            if not choices:
                continue
            for candidate, distance, _ in extract(word, choices, scorer=OSA.distance, score_cutoff=most, limit=8):
                similar = JaroWinkler.similarity(word, candidate)  # rewards a shared beginning
                key = (int(distance), -round(similar, 6), -df[candidate], candidate)
                if best is None or key < best:
                    best = key
        return best[3] if best else None

    def unheard_of(self, word: str) -> bool:
        """``word`` (lower case, letters only) is in neither the documents, English (as
        ``propernouns`` lists it) nor the model's vocabulary, nor a typo of such a word: most likely
        a name ("xiongan", a new area), not a word the documents happen not to use ("throughput",
        "ailment") or a misspelt one ("bussinesses", "presser")."""
        if len(word) < MIN_CORRECTABLE or not word.isalpha() or word in self:
            return False
        from .propernouns import english_or_typo, usually_capitalised

        return not usually_capitalised(word) and not english_or_typo(word, self.dictionary)

    def _buckets(self) -> tuple[dict[int, list[str]], dict[str, int]]:
        cached = self._by_length
        if cached is None:
            df = self._vocabulary()
            buckets: dict[int, list[str]] = {}
            for w in sorted(df):
                if len(w) >= MIN_CORRECTABLE:
                    buckets.setdefault(len(w), []).append(w)
            cached = (buckets, df)
            self._by_length = cached
        return cached


    @staticmethod
    def build(texts: Iterable[str], dictionary: frozenset[str] = frozenset()) -> MemoryLexicon:
        """The lexicon of ``texts``, in memory."""
        return MemoryLexicon.from_counts(LexiconCounts.of(texts), dictionary)

    @staticmethod
    def load(path: Path) -> MemoryLexicon:
        return MemoryLexicon.load(path)


class MemoryLexicon(Lexicon):
    """Word statistics of some texts, held in memory, with name detection, acronyms and typo correction."""

    def __init__(
        self,
        words: list[str],
        df: list[int],
        mid: list[int],
        capitalised: list[int],
        *,
        acronyms: dict[str, str] | None = None,
        dictionary: frozenset[str] = frozenset(),
    ) -> None:
        if not (len(words) == len(df) == len(mid) == len(capitalised)):
            raise ValueError("lexicon columns differ in length")
        self.words = words
        self.acronyms = acronyms or {}
        self._dictionary = dictionary
        self._row = {w: i for i, w in enumerate(words)}
        self._df, self._mid, self._cap = df, mid, capitalised

    @classmethod
    def from_counts(cls, counts: LexiconCounts, dictionary: frozenset[str] = frozenset()) -> MemoryLexicon:
        stats = counts.words
        words = sorted(stats)
        columns = [[stats[w][i] for w in words] for i in range(3)]
        acronyms = best_acronyms(counts.phrases, stats.__contains__, MIN_PHRASE_LETTERS)
        return cls(words, *columns, acronyms=acronyms, dictionary=dictionary)

    @property
    def dictionary(self) -> frozenset[str]:
        return self._dictionary

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word in self._row

    def stats(self, word: str) -> WordStats | None:
        i = self._row.get(word)
        return None if i is None else WordStats(self._df[i], self._mid[i], self._cap[i])

    def _phrases(self, initials: Sequence[str]) -> dict[tuple[str, str], int]:
        # the best phrase per initials is all a MemoryLexicon keeps (it was seen often enough)
        return {(i, self.acronyms[i]): MIN_ACRONYM_COUNT for i in initials if i in self.acronyms}

    def _vocabulary(self) -> dict[str, int]:
        return dict(zip(self.words, self._df, strict=True))

    def to_dict(self) -> dict[str, Any]:
        return {
            "words": self.words,
            "df": self._df,
            "mid": self._mid,
            "capitalised": self._cap,
            "acronyms": self.acronyms,
            "dictionary": sorted(self.dictionary),
        }

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> MemoryLexicon:
        data = json.loads(path.read_text(encoding="utf-8"))
        words = [str(w) for w in data["words"]]
        df, mid, capitalised = ([int(x) for x in data[key]] for key in ("df", "mid", "capitalised"))
        acronyms = {str(k): str(v) for k, v in data.get("acronyms", {}).items()}
        dictionary = frozenset(str(w) for w in data.get("dictionary", []))
        return cls(words, df, mid, capitalised, acronyms=acronyms, dictionary=dictionary)


def model_words(model_path: str) -> frozenset[str]:
    """Whole lower-case words (4+ letters) of a model's tokenizer vocabulary, read from its folder
    (``tokenizer.json`` or ``vocab.txt``); empty when the model is not a local folder."""
    folder = Path(model_path)
    entries: Iterable[str] = ()
    try:
        if (folder / "tokenizer.json").is_file():
            vocab = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
            entries = vocab.keys() if isinstance(vocab, dict) else (str(row[0]) for row in vocab)
        elif (folder / "vocab.txt").is_file():
            entries = (folder / "vocab.txt").read_text(encoding="utf-8").split()
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return frozenset()
    out = set()
    for entry in entries:
        word = entry.lstrip("▁Ġ")  # SentencePiece / byte-level BPE word starts
        if len(word) >= MIN_CORRECTABLE and word.isalpha() and word.islower():
            out.add(word)
    return frozenset(out)
