"""Tombstones: documents removed from segments that still hold them, and what they counted for.

Segments are immutable, so removing a document records it here (``removed.json`` in the
generation) until a merge or compaction rewrites its segment without it. Its passages are left out
of every result, and its contribution to the index-wide statistics (passages, total length, each
term's document frequency, the lexicon's word and phrase counts) is subtracted, so that removing a
document gives the same statistics as never having added it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..lexicon import LexiconCounts
from ..types import Document, Passage
from .segment import lexicon_texts

FILE = "removed.json"


def term_counts(token_lists: Iterable[list[str]]) -> tuple[dict[str, int], int, int]:
    """(document frequency per term, passages, total length) of passages given as term lists."""
    df: dict[str, int] = {}
    n = length = 0
    for tokens in token_lists:
        n += 1
        length += len(tokens)
        for t in set(tokens):
            df[t] = df.get(t, 0) + 1
    return df, n, length


@dataclass(slots=True)
class Removed:
    documents: dict[str, set[str]] = field(default_factory=dict)  # segment name -> removed doc_ids
    passages: int = 0
    length: int = 0
    terms: dict[str, int] = field(default_factory=dict)
    lexicon: LexiconCounts = field(default_factory=LexiconCounts)

    @classmethod
    def of(
        cls,
        segment: str,
        docs: Sequence[tuple[Document, Sequence[Passage]]],
        terms_of: Callable[[Passage], list[str]],
    ) -> Removed:
        """The tombstones of ``docs`` (with their passages) in ``segment``."""
        df, n, length = term_counts(terms_of(p) for _, passages in docs for p in passages)
        lexicon = LexiconCounts()
        for doc, passages in docs:
            lexicon.add(LexiconCounts.of(lexicon_texts(doc, passages)))
        return cls({segment: {d.doc_id for d, _ in docs}}, n, length, df, lexicon)

    def add(self, other: Removed, sign: int = 1) -> None:
        """Add (``sign`` 1) or take back (-1, after a merge dropped them for good) ``other``."""
        for seg, docs in other.documents.items():
            mine = self.documents.setdefault(seg, set())
            if sign > 0:
                mine |= docs
            else:
                mine -= docs
            if not mine:
                del self.documents[seg]
        self.passages += sign * other.passages
        self.length += sign * other.length
        for t, n in other.terms.items():
            total = self.terms.get(t, 0) + sign * n
            if total > 0:
                self.terms[t] = total
            else:
                self.terms.pop(t, None)
        self.lexicon.add(other.lexicon, sign)

    def in_segment(self, segment: str) -> set[str]:
        return self.documents.get(segment, set())

    def to_dict(self) -> dict[str, Any]:
        return {
            "documents": {s: sorted(d) for s, d in sorted(self.documents.items())},
            "passages": self.passages,
            "length": self.length,
            "terms": self.terms,
            "lexicon": self.lexicon.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Removed:
        documents = {str(s): {str(d) for d in docs} for s, docs in data["documents"].items()}
        terms = {str(t): int(n) for t, n in data["terms"].items()}
        return cls(documents, int(data["passages"]), int(data["length"]), terms,
                   LexiconCounts.from_dict(data["lexicon"]))
