"""Write src/ftzqa/data/proper_nouns.txt.gz (English words usually written capitalised),
src/ftzqa/data/english_words.txt.gz (English words written in lower case),
src/ftzqa/data/common_words.txt.gz (words written in lower case far more often than not) and
src/ftzqa/data/common_acronyms.txt.gz (acronyms English uses as common nouns: "TV", "CEO").

    pip install spacy-lookups-data==1.0.5   # only to regenerate the list (MIT, 98 MB)
    python bench/propernouns.py

A question typed in lower case gives no sign of which words are names. For the words the index has
never seen, this list tells: "laos", "guangdong" and "sheffield" are written "Laos", "Guangdong"
and "Sheffield" in English text, "sort" and "firms" are not. The source is spaCy's English word
probabilities (``en_lexeme_prob``, estimated on a large web corpus, case kept): a word is listed
when its capitalised form is at least ``RATIO`` times as frequent as its lower-case form (or has
no lower-case form). Month and weekday names are left out: they are dates, which the verdict
reads as periods, not as names. Nothing about any corpus or question set is used.

The second list holds the lower-case words of four letters or more whose probability is at least
``MIN_LOGP`` (about half of the table's lower-case words; the rarest half is mostly misspellings
and names written in lower case): a lower-case word of a question that is in neither list, nor a
typo of a word in them, is taken for a name ("xiongan").

The third holds the lower-case words (three letters or more, probability at least ``MIN_LOGP``)
written in lower case at least ``RATIO`` times as often as capitalised and in capitals together,
sentence starts included ("court", "house", "towards"; not "west", "bond", "gdp"): in a question
typed in lower case, the documents' capitals alone do not make such a word a name.

The fourth holds the acronyms (two to five capitals) whose plural ("TVs", "CEOs", "URLs", "NGOs")
is at least ``PLURAL_SHARE`` as frequent as the acronym itself: things there are many of, common
nouns a question asks about ("what TV station"), not names a passage must use ("FBI", "NATO", "UK",
"GDP" are almost never plural). Measured on the table: common nouns' plurals are 1/3 to 1/25 as
frequent (TV 1/25, CD 1/4, URL 1/8, CEO 1/4), names' 1/60 and rarer (VAT 1/60, GDP 1/130, FBI
1/450).
"""

from __future__ import annotations

import gzip
import json
import math
import sys
from importlib import resources
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "src" / "ftzqa" / "data" / "proper_nouns.txt.gz"
ENGLISH = REPO / "src" / "ftzqa" / "data" / "english_words.txt.gz"
COMMON = REPO / "src" / "ftzqa" / "data" / "common_words.txt.gz"
ACRONYMS = REPO / "src" / "ftzqa" / "data" / "common_acronyms.txt.gz"
PLURAL_SHARE = 1 / 33  # an acronym's plural at least this frequent: a common noun
MIN_LOGP = -18.5  # lower-case words at least this probable (log) are English words
RATIO = 4.0  # capitalised at least this many times as often as in lower case
MIN_LENGTH = 3
DATES = frozenset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split()
)


def proper_nouns(prob: dict[str, float]) -> list[str]:
    out = set()
    for word, logp in prob.items():
        if len(word) < MIN_LENGTH or not word.isalpha() or not word[0].isupper() or not word[1:].islower():
            continue
        low = word.lower()
        lower = prob.get(low)
        if low not in DATES and (lower is None or logp - lower >= math.log(RATIO)):
            out.add(low)
    return sorted(out)


def english_words(prob: dict[str, float]) -> list[str]:
    return sorted(w for w, logp in prob.items() if len(w) >= 4 and w.isalpha() and w.islower() and logp >= MIN_LOGP)


def common_words(prob: dict[str, float]) -> list[str]:
    """Lower-case words English writes in lower case at least ``RATIO`` times as often as
    capitalised or in capitals (sentence starts included): "court", "house", "towards"; not
    "west", "bond", "gdp"."""
    out = []
    for word, logp in prob.items():
        if len(word) < MIN_LENGTH or not word.isalpha() or not word.islower() or logp < MIN_LOGP:
            continue
        cased = [prob[w] for w in {word.capitalize(), word.upper()} if w in prob]
        if not cased or logp - math.log(sum(math.exp(x) for x in cased)) >= math.log(RATIO):
            out.append(word)
    return sorted(out)


def common_acronyms(prob: dict[str, float]) -> list[str]:
    """Acronyms (lower case) whose plural is at least ``PLURAL_SHARE`` as frequent as they are."""
    out = []
    for word, logp in prob.items():
        if 2 <= len(word) <= 5 and word.isalpha() and word.isupper():
            plural = prob.get(word + "s")
            if plural is not None and plural - logp >= math.log(PLURAL_SHARE):
                out.append(word.lower())
    return sorted(out)


def _write(path: Path, header: str, words: list[str]) -> None:
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        f.write((header + "\n".join(words) + "\n").encode())
    print(f"{len(words)} words -> {path.relative_to(REPO)} ({path.stat().st_size:,} bytes)")


def main() -> int:
    try:
        source = resources.files("spacy_lookups_data") / "data" / "en_lexeme_prob.json.gz"
        with source.open("rb") as f:
            prob = json.loads(gzip.decompress(f.read()))
    except ModuleNotFoundError:
        print("needs spacy-lookups-data: pip install spacy-lookups-data==1.0.5", file=sys.stderr)
        return 1
    source_line = "# spacy-lookups-data 1.0.5 en_lexeme_prob (MIT License, Explosion AI); one word per line\n"
    _write(OUT, "# English words usually written capitalised; generated by bench/propernouns.py from\n" + source_line,
           proper_nouns(prob))
    _write(ENGLISH, f"# English words written in lower case (log probability >= {MIN_LOGP}); generated by\n"
           "# bench/propernouns.py from " + source_line[2:], english_words(prob))
    _write(COMMON, f"# English words written in lower case at least {RATIO:g} times as often as capitalised or in "
           "capitals;\n# generated by bench/propernouns.py from " + source_line[2:], common_words(prob))
    _write(ACRONYMS, f"# acronyms whose plural is at least 1/{1 / PLURAL_SHARE:.0f} as frequent as they are "
           "(common nouns);\n# generated by bench/propernouns.py from " + source_line[2:], common_acronyms(prob))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
