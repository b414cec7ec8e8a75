"""Near-miss questions from SQuAD: a real question with one name swapped for another of its article.

    python bench/nearmiss.py                 # how many questions of the 48 evaluation articles get one
    python bench/nearmiss.py --sample 50     # a seeded sample with context, for checking by hand

Rule: take a real question; among the names it shares with its gold paragraph, swap one for
another name of the same article that the gold paragraph never mentions (no word of it occurs
there). The article then mostly no longer answers the question: a near-miss negative (on
topic, one entity changed). Checked by hand in bench/nearmiss_check.md.

Names: runs of capitalised words (not starting a sentence, a quotation or the question, except
after an opening function word: "Which Gerard Collomb ..."; possessive 's dropped; a leading
"The" dropped), quoted titles ("Formation") and 4-digit years
(1000-2099). Swaps are like for like: a year for a year, a month for a month, a quoted title
for a quoted title, a name for a name of the same number of words (one word more or fewer when
there is none), preferring names the article uses more than once. Linear-time and
deterministic; choices are seeded by (seed, article, question).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SQUAD, Article, evaluation_articles, load_squad  # noqa: E402

from ftzqa.evaluate import GoldItem  # noqa: E402

SEED = 4242

_TOKEN = re.compile(r"[^\W_][\w'’-]*")  # one class, one quantifier: linear
_POSSESSIVE = ("'s", "’s", "'", "’")
_MONTHS = frozenset(
    "January February March April May June July August September October November December".split()
)
_LEADING = frozenset({"The", "A", "An"})
# words that open a sentence or question without being part of a name
_OPENERS = frozenset(
    """a about according after against along also although among an and any are as at before
    besides between both but by can could did do does during each either for from had has have
    he her his how if in is it its many most much neither no nor not of on once one or other our
    over she since so some such than that the their then there these they this those though to
    under unlike until upon was we were what when where whereas which while who whom whose why
    will with within without would""".split()
)
_QUOTES = frozenset({'"', "“", "”", "'", "‘", "’"})


@dataclass(frozen=True, slots=True)
class Name:
    text: str  # as written, possessive dropped
    kind: str  # "year" | "month" | "title" (the whole of a quotation) | "name"
    size: int  # words
    start: int  # offsets in the text it was found in
    end: int


@dataclass(frozen=True, slots=True)
class NearMiss:
    article: str
    paragraph: int  # the source question's gold paragraph
    source: str  # the real question
    question: str  # the near-miss
    original: str  # the name swapped out
    replacement: str  # the name swapped in

    def gold(self) -> GoldItem:
        return GoldItem(self.question, (), "near_miss")


def _initial(word: str) -> bool:
    return len(word) == 1 and word.isupper()


def _words(text: str) -> Iterator[tuple[str, int, int, bool]]:
    """(word, start, end, starts a sentence) for each word of ``text``; "W." (an initial) ends none."""
    previous_end = 0
    previous = ""
    for m in _TOKEN.finditer(text):
        gap = text[previous_end : m.start()]
        ends = any(c in gap for c in ".!?") and not (_initial(previous) and gap in (".", ". "))
        yield m.group(0), m.start(), m.end(), not previous or ends
        previous_end, previous = m.end(), m.group(0)


def _bare(word: str, end: int) -> tuple[str, int]:
    for suffix in _POSSESSIVE:
        if word.endswith(suffix) and len(word) > len(suffix):
            return word[: -len(suffix)], end - len(suffix)
    return word, end


def names(text: str) -> list[Name]:
    """Names and years of ``text`` in order (see module doc)."""
    out: list[Name] = []
    run: list[tuple[str, int, int]] = []
    run_ok = False

    def close() -> None:
        words = list(run)
        while words and words[0][0] in _LEADING:
            words = words[1:]
        if words and not (len(words) == 1 and len(words[0][0]) < 2):
            start, end = words[0][1], words[-1][2]
            quoted = text[start - 1 : start] in _QUOTES
            if quoted and text[end : end + 1] in _QUOTES:
                out.append(Name(text[start:end], "title", len(words), start, end))
            elif run_ok and not quoted:  # a run opening a quotation is like one opening a sentence
                kind = "month" if len(words) == 1 and words[0][0] in _MONTHS else "name"
                out.append(Name(text[start:end], kind, len(words), start, end))
        run.clear()

    for word, start, end, sentence_start in _words(text):
        if word.isdigit() and len(word) == 4 and 1000 <= int(word) <= 2099:
            close()
            out.append(Name(word, "year", 1, start, end))
            continue
        bare, bare_end = _bare(word, end)
        if sentence_start and bare.lower() in _OPENERS:
            close()  # "Which Gerard Collomb ...": the name starts after the opening word
            continue
        if bare[:1].isupper() and bare != "I":
            gap = text[run[-1][2] : start] if run else ""
            joined = bool(run) and (gap in (" ", "-") or (gap in (".", ". ") and _initial(run[-1][0])))
            if not joined:
                close()
                run_ok = not sentence_start
            run.append((bare, start, bare_end))
            if bare_end != end:  # a possessive ends the name
                close()
        else:
            close()
    close()
    return out


def _lower_words(text: str) -> set[str]:
    """Lower-cased words of ``text``, each also without a possessive and a plural "s" ("ISPs" -> "isp")."""
    out: set[str] = set()
    for m in _TOKEN.finditer(text):
        word = m.group(0).lower()
        bare = _bare(word, 0)[0]
        out.update((word, bare))
        if len(bare) > 3 and bare.endswith("s"):
            out.add(bare[:-1])
    return out


def _mentions(text: str, name: str) -> bool:
    """``name`` occurs in ``text`` as whole words (case-sensitive)."""
    return re.search(r"(?<!\w)" + re.escape(name) + r"(?!\w)", text) is not None


@dataclass(frozen=True, slots=True)
class Pooled:
    """A name of the article: how often it occurs, and its words (lower-cased) for the absence test."""

    name: Name
    count: int
    words: frozenset[str]


def _candidates(name: Name, pool: Sequence[Pooled], banned: set[str]) -> list[str]:
    """Pool names of the same kind and shape whose words are all absent from ``banned``.

    Names the article uses more than once are preferred (they are its people, places and
    bodies rather than passing mentions).
    """
    fits = [p for p in pool if p.name.kind == name.kind and p.name.text != name.text and not (p.words & banned)]
    if name.kind == "name":
        for spread in (0, 1):
            near = [p for p in fits if abs(p.name.size - name.size) <= spread]
            if near:
                fits = near
                break
        else:
            return []
    frequent = [p for p in fits if p.count > 1]
    return sorted({p.name.text for p in (frequent or fits)})


def article_pool(article: Article) -> list[Pooled]:
    """Every name of the article's paragraphs, once each, with its number of occurrences."""
    seen: dict[tuple[str, str], Name] = {}
    counts: dict[tuple[str, str], int] = {}
    for paragraph in article.paragraphs:
        for n in names(paragraph):
            key = (n.kind, n.text)
            seen.setdefault(key, n)
            counts[key] = counts.get(key, 0) + 1
    return [Pooled(n, counts[key], frozenset(_lower_words(n.text))) for key, n in seen.items()]


def near_miss(
    question: str, paragraph: str, pool: Sequence[Pooled], rng: random.Random
) -> tuple[str, str, str] | None:
    """(near-miss question, original name, replacement) or None when no swap exists."""
    shared = [n for n in names(question) if _mentions(paragraph, n.text)]
    banned = _lower_words(paragraph) | _lower_words(question)
    options = [(n, c) for n in shared if (c := _candidates(n, pool, banned))]
    if not options:
        return None
    name, candidates = options[rng.randrange(len(options))]
    new = candidates[rng.randrange(len(candidates))]
    return question[: name.start] + new + question[name.end :], name.text, new


def generate(article: Article, seed: int = SEED) -> list[NearMiss]:
    """One near-miss per question of ``article`` where a swap exists (deterministic for a seed)."""
    if len(article.qa_paragraphs) != len(article.qas):
        raise ValueError(
            f"article {article.title!r} does not record its questions' paragraphs; load it with load_squad"
        )
    pool = article_pool(article)
    out: list[NearMiss] = []
    seen: set[str] = set()
    for (question, _), index in zip(article.qas, article.qa_paragraphs, strict=True):
        rng = random.Random(f"{seed}|{article.title}|{question}")
        made = near_miss(question, article.paragraphs[index], pool, rng)
        if made is None or made[0] in seen:
            continue
        seen.add(made[0])
        out.append(NearMiss(article.title, index, question, made[0], made[1], made[2]))
    return out


def sample(articles: Sequence[Article], n: int, seed: int = SEED) -> list[NearMiss]:
    everything = [m for a in articles for m in generate(a, seed)]
    return random.Random(seed).sample(everything, min(n, len(everything)))


def _context(article: Article, name: str, limit: int = 3) -> list[str]:
    """Sentences of the article that mention ``name`` (for the hand check)."""
    found = []
    for i, paragraph in enumerate(article.paragraphs):
        for sentence in re.split(r"(?<=[.!?])\s+", paragraph):
            if _mentions(sentence, name):
                found.append(f"[¶{i}] {sentence}")
                if len(found) >= limit:
                    return found
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=SQUAD)
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--sample", type=int, default=0, help="print N near-misses with context to check by hand")
    args = p.parse_args(argv)
    articles = evaluation_articles(load_squad(args.data))
    made = {a.title: generate(a, args.seed) for a in articles}
    questions = sum(len(a.qas) for a in articles)
    total = sum(len(v) for v in made.values())
    kinds: dict[str, int] = {}
    for m in (m for v in made.values() for m in v):
        kind = next(n.kind for n in names(m.source) if n.text == m.original)
        kinds[kind] = kinds.get(kind, 0) + 1
    print(f"{len(articles)} evaluation articles, {questions} questions, {total} near-misses ({kinds})")
    by_title = {a.title: a for a in articles}
    for i, m in enumerate(sample(articles, args.sample, args.seed), start=1):
        art = by_title[m.article]
        print(f"\n#{i} [{m.article}] ¶{m.paragraph}\n  real: {m.source}\n  near: {m.question}")
        print(f"  swap: {m.original} -> {m.replacement}")
        print(f"  gold ¶: {art.paragraphs[m.paragraph]}")
        for line in _context(art, m.replacement):
            print(f"  mentions: {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
