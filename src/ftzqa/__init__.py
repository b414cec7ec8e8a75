"""ftzqa: offline question answering over your documents, answered with cited evidence."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .index import BuildSummary
    from .ingest import AddReport
    from .retrieve import Retriever

__all__ = ["__version__", "build", "load", "add"]


def build(corpus: str = "corpus", index: str = "index", **kwargs: Any) -> BuildSummary:
    """Build or refresh the index from a corpus folder; returns a BuildSummary."""
    from .index import build as _build

    return _build(corpus, index, **kwargs)


def load(index: str = "index", **kwargs: Any) -> Retriever:
    """Load an index (manifest checked first) and return a Retriever with ``.search()``."""
    from .retrieve import Retriever

    return Retriever.load(index, **kwargs)


def add(paths: list[str | Path], corpus: str = "corpus", index: str = "index", **kwargs: Any) -> AddReport:
    """Copy files into the corpus and update the index."""
    from .ingest import add as _add

    return _add(paths, corpus, index, **kwargs)
