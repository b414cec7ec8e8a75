"""Which writing systems a text uses, to tell when a question is in a script the index cannot read.

The script of a letter is the first word of its Unicode name ("LATIN", "CJK", "CYRILLIC",
"ARABIC", "HANGUL", ...), with Japanese kana folded into "CJK". One pass per text; nothing
else is inspected.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

_FOLD = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "IDEOGRAPHIC": "CJK", "HALFWIDTH": "CJK", "FULLWIDTH": "CJK"}
NAMES = {
    "LATIN": "English or another Latin-script language",
    "CJK": "Chinese or Japanese",
    "HANGUL": "Korean",
    "CYRILLIC": "Cyrillic script",
    "ARABIC": "Arabic script",
    "GREEK": "Greek",
    "HEBREW": "Hebrew",
    "DEVANAGARI": "Devanagari script",
    "THAI": "Thai",
}


@lru_cache(maxsize=4096)
def script_of(ch: str) -> str:
    """The script of one letter ("LATIN", "CJK", ...); "" for a non-letter."""
    if not ch.isalpha():
        return ""
    name = unicodedata.name(ch, "")
    first = name.split(" ", 1)[0] if name else "OTHER"
    return _FOLD.get(first, first)


def profile(texts: Iterable[str]) -> Counter[str]:
    """Letters per script over ``texts``."""
    counts: Counter[str] = Counter()
    for text in texts:
        for ch in text:
            s = script_of(ch)
            if s:
                counts[s] += 1
    return counts


def foreign_share(question: str, known: Counter[str], rare: float = 0.01) -> tuple[float, str]:
    """Share of the question's letters in scripts that make up under ``rare`` of the index's
    letters, and the main such script ("" when none)."""
    total_known = sum(known.values()) or 1
    letters = profile([question])
    n = sum(letters.values())
    if n == 0:
        return 0.0, ""
    foreign = Counter({s: c for s, c in letters.items() if known.get(s, 0) / total_known < rare})
    if not foreign:
        return 0.0, ""
    return sum(foreign.values()) / n, foreign.most_common(1)[0][0]
