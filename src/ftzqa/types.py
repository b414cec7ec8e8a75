"""Frozen dataclasses passed between stages: Document -> Passage -> Hit -> Answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Document:
    """One source file, its text as indexed (offsets point into ``text``)."""

    doc_id: str  # path relative to the corpus folder, with "/" separators
    title: str
    text: str
    sha256: str  # of the file's bytes
    source: str = ""
    author: str = ""
    date: str = ""


@dataclass(frozen=True, slots=True)
class Passage:
    """A contiguous span of a document: ``document.text[start:end] == text``."""

    doc_id: str
    title: str
    section: str
    paragraph: int  # 1-based paragraph number within the document (headings not counted)
    start: int
    end: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "section": self.section,
            "paragraph": self.paragraph,
            "start": self.start,
            "end": self.end,
            "text": self.text,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Passage:
        return cls(
            doc_id=str(data["doc_id"]),
            title=str(data["title"]),
            section=str(data["section"]),
            paragraph=int(data["paragraph"]),
            start=int(data["start"]),
            end=int(data["end"]),
            text=str(data["text"]),
        )


@dataclass(frozen=True, slots=True)
class Span:
    """A character span inside a document: ``document.text[start:end] == text``."""

    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked passage with its score and the sentence(s) that answer."""

    rank: int  # 1-based
    score: float  # higher is better
    passage: Passage
    evidence: Span

    @property
    def text(self) -> str:
        return self.passage.text

    @property
    def citation(self) -> str:
        p = self.passage
        parts = [p.title]
        if p.section:
            parts.append(f"§ {p.section}")
        parts.append(f"¶ {p.paragraph}")
        parts.append(f"chars {p.start}–{p.end}")
        return f"[{p.doc_id}] " + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        p = self.passage
        return {
            "rank": self.rank,
            "score": round(float(self.score), 6),
            "doc_id": p.doc_id,
            "title": p.title,
            "section": p.section,
            "paragraph": p.paragraph,
            "start": p.start,
            "end": p.end,
            "text": p.text,
            "citation": self.citation,
            "evidence": {
                "start": self.evidence.start,
                "end": self.evidence.end,
                "text": self.evidence.text,
            },
        }


@dataclass(frozen=True, slots=True)
class Answer:
    """The result of one search: ranked hits, whether the documents answer, and why.

    ``searched`` is the question as searched (typos corrected, shorthand spelled out; equal to
    ``question`` when nothing changed); ``corrections`` lists (typed, used) word pairs.
    ``matched`` / ``missing``: the question's names and terms the top passage holds / lacks.
    ``reason``: one line saying why the verdict is what it is.
    """

    question: str
    found: bool
    hits: list[Hit] = field(default_factory=list)
    confidence: float = 0.0  # estimated probability that the top hit answers
    searched: str = ""
    corrections: tuple[tuple[str, str], ...] = ()
    matched: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "searched": self.searched or self.question,
            "corrections": [{"typed": a, "used": b} for a, b in self.corrections],
            "found": self.found,
            "confidence": round(float(self.confidence), 4),
            "reason": self.reason,
            "matched": list(self.matched),
            "missing": list(self.missing),
            "hits": [h.to_dict() for h in self.hits],
        }


def embed_input(passage: Passage, with_title: bool) -> str:
    """The text that is embedded and keyword-indexed for a passage (with its title and section)."""
    if not with_title:
        return passage.text
    head = " — ".join(x for x in (passage.title, passage.section) if x)
    return f"{head}\n{passage.text}" if head else passage.text
