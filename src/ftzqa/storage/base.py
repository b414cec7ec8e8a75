"""The storage protocol: everything retrieval, the verdict, the page and the build need from an index.

Two halves, so that a remote engine can implement them:

- ``Store`` (reading one consistent version of the index): top-k searches and scores for given
  passage ids, passages and documents by id, and the text statistics the verdict needs
  (``tokenize``, ``idf``, ``known``, ``lexicon``). Nothing returns an array over every passage.
  Term statistics and the lexicon may stay local to ftzqa even when the passages live elsewhere.
- ``StoreWriter`` (changing it): add documents with their passages and vectors, remove documents,
  compact; each call makes one new version visible atomically, or none.

Passage ids are int64 and stable: a passage keeps its id until it is removed (compaction does not
renumber), and ids grow in the order passages were added, so "lower id first" breaks score ties
the same way in every store and every segmentation. Scores are higher-is-better: cosine for dense,
BM25 (bm25s "lucene" variant, index-wide statistics) for keyword search.

``ftzqa.storage.embedded`` is the default implementation (one folder on this machine).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..embed import Embedder
from ..lexicon import Lexicon
from ..types import Document, Passage

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ..index import Staleness


@dataclass(frozen=True, slots=True)
class NewDocument:
    """A document to add, with its passages (in order), their content keys and vectors."""

    document: Document
    passages: Sequence[Passage]
    keys: Sequence[str]
    vectors: NDArray[np.float32]  # (len(passages), dimension), L2-normalised


class Store(Protocol):
    """One consistent, read-only version of an index. Thread-safe for concurrent readers."""

    # --- what it is ------------------------------------------------------------------------------
    @property
    def location(self) -> str:
        """Where the index lives (a folder, or an engine's URI), for messages."""

    @property
    def version(self) -> str:
        """Names this version; a writer's next commit gets another one."""

    def latest_version(self) -> str | None:
        """The version a fresh ``open`` would load now (None: no index), to notice other writers.
        Raises FtzqaError when the index cannot be read."""

    @property
    def manifest(self) -> Mapping[str, Any]:
        """Model id and dimension, chunker/BM25/embedding settings, corpus folder, files, ... (JSON)."""

    @property
    def model(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def with_title(self) -> bool:
        """Passages were embedded and keyword-indexed with their title and section."""

    @property
    def scripts(self) -> dict[str, int]:
        """Letters per writing system over the index's distinct words."""

    @property
    def passage_count(self) -> int: ...

    @property
    def documents(self) -> Mapping[str, Document]:
        """Live documents by doc_id (read when looked up; iterating lists the ids)."""

    def staleness(self, corpus_dir: str | Path | None = None) -> Staleness: ...

    def query_embedder(self) -> Embedder | None:
        """The question encoder stored with the index (ONNX, no torch), or None."""

    # --- text statistics (the verdict) ---------------------------------------------------------
    @property
    def tokenize(self) -> Callable[[str], list[str]]:
        """Text to BM25 terms, as the index was built (lower case, stems, numbers kept whole)."""

    def idf(self, term: str) -> float:
        """Index-wide inverse document frequency; the highest value for a term the index lacks."""

    def known(self, term: str) -> bool:
        """The term occurs in at least one live passage."""

    @property
    def lexicon(self) -> Lexicon: ...

    # --- reads by id ---------------------------------------------------------------------------
    def passages(self, ids: Sequence[int]) -> list[Passage]:
        """Passages in the order of ``ids`` (KeyError for an id that is not live; a shared engine
        raises IndexChangedError when a newer change removed a passage this version lists)."""

    def document(self, doc_id: str) -> Document | None: ...

    def first_ids(self, n: int) -> NDArray[np.int64]:
        """The ``n`` lowest live passage ids (pads a keyword ranking that matched fewer than k)."""

    def iter_passages(self) -> Iterator[Passage]:
        """Every live passage in id order (evaluation: counting relevant passages)."""

    # --- search ----------------------------------------------------------------------------------
    def dense_search(self, vector: NDArray[np.float32], k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Ids and cosines of the ``k`` nearest passages, best first (approximate above the ANN
        threshold; the cosines themselves are exact)."""

    def dense_scores(self, vector: NDArray[np.float32], ids: NDArray[np.int64]) -> NDArray[np.float32]:
        """Exact cosines of the given passages."""

    def vectors(self, ids: NDArray[np.int64]) -> NDArray[np.float32]:
        """The stored vectors of the given passages, (len(ids), dimension)."""

    def bm25_search(self, terms: list[str], k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Ids and BM25 scores of the ``k`` best passages with a positive score, best first
        (ties: lower id first); ``terms`` as ``tokenize`` gives them (repeats count)."""

    def bm25_scores(self, terms: list[str], ids: NDArray[np.int64]) -> NDArray[np.float32]:
        """BM25 scores of the given passages (0 where no term occurs)."""

    def close(self) -> None: ...


class ManifestFacts:
    """What a store reads straight from its manifest (shared by the stores; ``_manifest`` and
    ``_documents`` are set by their constructors)."""

    _manifest: dict[str, Any]
    _documents: Mapping[str, Document]

    @property
    def manifest(self) -> dict[str, Any]:
        return self._manifest

    @property
    def model(self) -> str:
        return str(self._manifest["model"]["id"])

    @property
    def dimension(self) -> int:
        return int(self._manifest["model"]["dimension"])

    @property
    def with_title(self) -> bool:
        return bool(self._manifest["embedding"]["with_title"])

    @property
    def scripts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self._manifest.get("scripts", {}).items()}

    @property
    def documents(self) -> Mapping[str, Document]:
        return self._documents

    def staleness(self, corpus_dir: str | Path | None = None) -> Staleness:
        from ..index import staleness

        return staleness(self._manifest, corpus_dir)


class LiveDocuments(Mapping[str, Document]):
    """A store's live documents by doc_id (from its manifest), each read when looked up."""

    def __init__(self, ids: Mapping[str, Any], read: Callable[[str], Document | None]) -> None:
        self._ids = ids
        self._read = read

    def __getitem__(self, doc_id: str) -> Document:
        doc = self._read(doc_id)
        if doc is None:
            raise KeyError(doc_id)
        return doc

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._ids))

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._ids


class StoreWriter(Protocol):
    """Changes an index; the caller holds the index's writer lock. Each method commits one new
    version atomically (readers see the old one or the new one) and returns its version."""

    def vectors_for(self, keys: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        """Stored vectors of passages with these content keys (to skip re-embedding them)."""

    def update(
        self, add: Sequence[NewDocument], remove: Sequence[str], meta: Mapping[str, Any], encoder: Any
    ) -> str:
        """Add documents (a doc_id already present replaces the old one) and remove others by doc_id."""

    def compact(self) -> str:
        """Fold everything into the fewest, cleanest structures (drop removed passages for good)."""
