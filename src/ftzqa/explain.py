"""Say in one line why the verdict is what it is: what the top passage matched and what it lacks.

"Matched: Yunnan · new market entities · per day" when the documents answer, followed by
"; not in this passage: imports" when the passage lacks words of the question that the documents
use elsewhere (a passage on Yunnan's exports, found for a question on its imports, says so where
the reader looks);
"Not found: the closest passage matches new market entities · per day, but not Guangxi
(mentioned elsewhere in the documents)." when they do not. Pure; built from the ``Query`` and the
top passage's terms.
"""

from __future__ import annotations

from dataclasses import dataclass

from .abstain import Passage, Signals
from .answertype import LABELS
from .query import NAME, NUMBER, TOP_POST, Query, Word

NOT_IN_PASSAGE = "; not in this passage: "  # joins a found answer's matched and missing words


@dataclass(frozen=True, slots=True)
class Explanation:
    matched: tuple[str, ...]
    missing: tuple[str, ...]
    reason: str


def _phrases(words: list[Word]) -> tuple[str, ...]:
    """Adjacent question words joined into phrases ("new market entities")."""
    out: list[list[str]] = []
    last = -2
    for w in words:
        label = w.surface if w.text == w.surface.lower() else w.text
        if w.at == last + 1 and out:
            out[-1].append(label)
        else:
            out.append([label])
        last = w.at
    return tuple(" ".join(p) for p in out)


def _join(items: tuple[str, ...] | list[str]) -> str:
    return " · ".join(items)


def _or_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def explain(query: Query, passage: Passage | None, signals: Signals | None, found: bool) -> Explanation:
    """Matched and missing words of ``query`` in the top passage, and the one-line reason."""
    if passage is None or signals is None:
        return Explanation((), (), "Not found: the documents have no passages to show.")
    hit = [w for w in query.words if passage.mentions(w)]
    miss = [w for w in query.words if not passage.mentions(w)]
    matched, missing = _phrases(hit), _phrases(miss)
    if found:
        reason = f"Matched: {_join(matched)}" if matched else "Matched by meaning"
        # words the documents use elsewhere but this passage lacks: "imports" beside a passage on
        # exports is for the reader to see; words the documents never use ("ran" for "opened", a
        # typo left as typed) are mostly the question's own wording, matched by meaning
        elsewhere = _phrases([w for w in miss if w.known])
        if elsewhere:
            reason += f"{NOT_IN_PASSAGE}{_join(elsewhere)}"
        return Explanation(matched, missing, reason)
    unknown_names = [w.surface for w in miss if w.kind in (NAME, NUMBER) and not w.known]
    other_names = [w.surface for w in miss if w.kind in (NAME, NUMBER) and w.known]
    periods = [p.label for p in query.periods if not passage.states(p)]
    posts = [(r, other) for r in query.roles if (other := passage.other_post(r))]
    unknown_terms = [w.surface for w in miss if w.kind not in (NAME, NUMBER) and not w.known]
    has = f"the closest passage matches {_join(matched)}" if matched else "no passage matches the question's words"
    if unknown_names:
        reason = f"the documents never mention {_or_list(unknown_names)}"
    elif other_names:
        reason = f"{has}, but not {_or_list(other_names)} (mentioned elsewhere in the documents)"
    elif periods:
        reason = f"{has}, but not for {_or_list(periods)}"
    elif query.figure and not passage.has_figure():
        reason = f"{has}, but gives no figure"
    elif query.share and passage.only_changes():
        reason = f"{has}, but gives a change in percent, not a share"
    elif posts:
        role, other = posts[0]
        instead = f"only the {other}" if role == TOP_POST else f"the {other}, not the {role}"
        reason = f"{has}, but names {instead}"
    elif unknown_terms:
        reason = f"{has}, but the documents never mention {_or_list(unknown_terms)}"
    elif query.asked is not None and signals.type_ok < 0.5:
        reason = f"{has}, but gives no {LABELS[query.asked].removeprefix('a ').removeprefix('an ')}"
    elif missing:
        reason = f"{has}, but not {_or_list(list(missing))}"
    else:
        reason = f"{has}, but it is not close enough in meaning to answer it"
    return Explanation(matched, missing, f"Not found: {reason}.")
