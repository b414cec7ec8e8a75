"""Gold question sets: the JSONL file format, its loader, and follow-up resolution.

One question per line::

    {"question": "...", "answers": ["..."], "kind": "answerable", "previous": "..."}

- ``answers``: short strings found verbatim in the passage (and sentence) that answers;
  ``[]`` when the documents should not answer.
- ``kind`` (optional): ``answerable`` (the default when ``answers`` is non-empty),
  ``off_topic`` (the default when it is empty: nothing to do with the documents) or
  ``near_miss`` (on the documents' topic, but asks for something they do not state: another
  place, person, time or measure than the one the documents give that fact for).
- ``previous`` (optional): the question asked just before, for a follow-up ("and for
  Jiangsu"). The follow-up is searched as the product rewrites it
  (``ftzqa.web.followup.resolve``); when ``previous`` is itself a follow-up in the same file,
  the chain is resolved in order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import FtzqaError

if TYPE_CHECKING:
    from .web.followup import Resolved

KINDS = ("answerable", "near_miss", "off_topic")


class GoldFileError(FtzqaError, ValueError):
    """The gold question file is missing or has a bad line."""


@dataclass(frozen=True, slots=True)
class GoldItem:
    question: str
    answers: tuple[str, ...]  # empty: the documents should not answer
    kind: str = ""  # "" = from answers: answerable when there are answers, else off_topic
    previous: str | None = None  # the question before, for a follow-up

    def __post_init__(self) -> None:
        if not self.kind:
            object.__setattr__(self, "kind", "answerable" if self.answers else "off_topic")
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if (self.kind == "answerable") != bool(self.answers):
            raise ValueError(
                f"a {self.kind} question needs {'answers' if self.kind == 'answerable' else 'answers: []'}"
            )

    @property
    def off_topic(self) -> bool:
        return self.kind == "off_topic"

    @property
    def answerable(self) -> bool:
        return self.kind == "answerable"

    @property
    def followup(self) -> bool:
        return self.previous is not None


_EXAMPLE = '{"question": "Who is Tang Wenhong?", "answers": ["Director"]}'


def load_gold(path: str | Path) -> list[GoldItem]:
    """Read a JSONL gold file; blank lines are skipped, bad lines raise GoldFileError naming the line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise GoldFileError(
            f"gold file {str(path)!r} does not exist; pass --gold with a JSONL file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GoldFileError(f"gold file {str(path)!r} cannot be read as UTF-8 text ({exc})") from None
    items = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            items.append(_parse_line(line, f"{path}:{number}"))
    if not items:
        raise GoldFileError(f"gold file {str(path)!r} has no questions; add lines like {_EXAMPLE}")
    _chains(items, str(path))  # refuse ambiguous or circular follow-up chains up front
    return items


def _parse_line(line: str, where: str) -> GoldItem:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise GoldFileError(
            f"{where}: not valid JSON ({exc.msg}); each line must look like {_EXAMPLE}"
        ) from None
    if not isinstance(row, dict):
        raise GoldFileError(f"{where}: expected a JSON object, got {type(row).__name__}; use {_EXAMPLE}")
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise GoldFileError(f'{where}: "question" must be non-empty text, got {question!r}')
    answers = row.get("answers")
    if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
        raise GoldFileError(
            f'{where}: "answers" must be a list of non-empty strings ([] for an off-topic question), '
            f"got {answers!r}"
        )
    kind = row.get("kind", "")
    if kind not in ("", *KINDS):
        raise GoldFileError(f'{where}: "kind" must be one of {", ".join(KINDS)}, got {kind!r}')
    if kind == "answerable" and not answers:
        raise GoldFileError(f'{where}: an answerable question needs "answers"; give the answer strings')
    if kind in ("near_miss", "off_topic") and answers:
        raise GoldFileError(f'{where}: a {kind} question must have "answers": [], got {answers!r}')
    previous = row.get("previous")
    if previous is not None and (not isinstance(previous, str) or not previous.strip()):
        raise GoldFileError(f'{where}: "previous" must be the earlier question as text, got {previous!r}')
    return GoldItem(question=question, answers=tuple(answers), kind=kind, previous=previous)


def _chains(items: Sequence[GoldItem], where: str) -> dict[str, str | None]:
    """question -> its previous, for the follow-ups; refuses ambiguous and circular chains."""
    before: dict[str, str | None] = {}
    for item in items:
        if item.previous is None:
            continue
        known = before.setdefault(item.question, item.previous)
        if known != item.previous:
            raise GoldFileError(
                f"{where}: follow-up {item.question!r} has two different previous questions "
                f"({known!r} and {item.previous!r}); word one of them differently"
            )
    for start in before:
        seen = {start}
        step = before.get(start)
        while step is not None:
            if step in seen:
                raise GoldFileError(f"{where}: the follow-up chain of {start!r} goes round in a circle")
            seen.add(step)
            step = before.get(step)
    return before


def searched_queries(
    items: Sequence[GoldItem],
    is_name: Callable[[str], bool] | None = None,
    similar: Callable[[str, list[str]], list[float]] | None = None,
) -> list[str]:
    """What the product searches for each item: follow-ups rewritten by its own follow-up rule.

    A follow-up's ``previous`` is resolved first when it is itself a follow-up in ``items``
    (so "and for Jiangsu" -> "and what about exports" chains resolve in order). ``is_name``
    tells names typed in lower case, as the page does with the index's lexicon; ``similar``
    compares words, as the page does with the index's model ("what about imports").
    """
    return [r.query for r in resolved_queries(items, is_name, similar)]


def resolved_queries(
    items: Sequence[GoldItem],
    is_name: Callable[[str], bool] | None = None,
    similar: Callable[[str, list[str]], list[float]] | None = None,
) -> list[Resolved]:
    """``searched_queries`` with what the page also passes on: each follow-up's focus words."""
    from .web.followup import Resolved, resolve

    before = _chains(items, "gold set")
    memo: dict[str, Resolved] = {}

    def searched(question: str) -> Resolved:
        if question not in memo:
            previous = before.get(question)
            if previous is None:
                memo[question] = Resolved(question)
            else:
                memo[question] = resolve(question, searched(previous).query, is_name, similar)
        return memo[question]

    return [Resolved(item.question) if item.previous is None else searched(item.question) for item in items]
