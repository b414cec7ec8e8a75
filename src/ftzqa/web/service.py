"""What the page does, without Gradio: load (or build) the index once, answer, add documents.

The Retriever is swapped under a lock after an update, so questions keep being answered while
documents are added; one update runs at a time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..embed import Embedder
from ..errors import FtzqaError, IndexMissingError
from ..index import build
from ..ingest import add_bytes
from ..retrieve import Retriever
from ..settings import Settings
from ..store import current_generation
from ..types import Answer, Document
from .uploads import read_uploads

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]


@dataclass(frozen=True, slots=True)
class Status:
    documents: int
    passages: int
    model: str

    def line(self) -> str:
        docs = "1 document" if self.documents == 1 else f"{self.documents} documents"
        return f"**Index:** {docs}, {self.passages} passages · model `{self.model}`"


def _no_progress(fraction: float, message: str) -> None:
    log.info("%3.0f%% %s", fraction * 100, message)


class Service:
    """One per process: holds the embedder (loaded once) and the current Retriever."""

    def __init__(
        self,
        corpus_dir: str | Path = "corpus",
        index_dir: str | Path = "index",
        settings: Settings | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.corpus_dir = Path(corpus_dir)
        self.index_dir = Path(index_dir)
        self.settings = settings or Settings.from_env()
        self._embedder = embedder
        self._retriever: Retriever | None = None
        self._error: FtzqaError | None = None
        self._swap = threading.Lock()
        self._update = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from ..embed import SentenceTransformerEmbedder

            self._embedder = SentenceTransformerEmbedder(self.settings.model, self.settings.device)
        return self._embedder

    def start(self) -> str:
        """Load the index, building it first when missing or stale. Never raises FtzqaError:
        a failure is kept and shown as the answer to every question until an update succeeds."""
        with self._update:
            retriever: Retriever | None = None
            try:
                retriever = self._load()
                stale = retriever.staleness(self.corpus_dir)
                if not stale.stale:
                    self._set(retriever)
                    return f"loaded the index at {self.index_dir}"
                log.info("corpus changed (%s); updating the index", stale.describe())
            except IndexMissingError:
                log.info("no index at %s; building it from %s", self.index_dir, self.corpus_dir)
            except FtzqaError as exc:  # damaged or built differently: say how to rebuild, do not guess
                return self._fail(exc)
            try:
                summary = build(self.corpus_dir, self.index_dir, self.settings, embedder=self.embedder)
                self._set(self._load())
                return summary.line()
            except FtzqaError as exc:
                if retriever is None:
                    return self._fail(exc)
                self._set(retriever)
                log.warning("kept the existing index; update failed: %s", exc)
                return f"kept the existing index; the update failed: {exc}"

    def _fail(self, exc: FtzqaError) -> str:
        log.error("%s", exc)
        with self._swap:
            self._retriever, self._error = None, exc
        return f"error: {exc}"

    def _load(self) -> Retriever:
        # questions reuse the sentence-transformers model only when this process already has it
        # (given, or loaded to build); otherwise the index's ONNX encoder embeds them, without torch
        return Retriever.load(
            self.index_dir, model=self.settings.model, embedder=self._embedder, settings=self.settings
        )

    def _set(self, retriever: Retriever) -> None:
        with self._swap:
            self._retriever, self._error = retriever, None

    def _follow_other_writers(self) -> None:
        """Load the new generation when another process (``ftzqa add``/``build``) replaced the index.

        Reads only the small pointer file per question; the swap is atomic, so a half-written
        index is never served. Skipped while this process is itself updating.
        """
        with self._swap:
            loaded = self._retriever.index.path if self._retriever else None
        live = current_generation(self.index_dir)
        if live is None or live == loaded or not self._update.acquire(blocking=False):
            return
        try:
            self._set(self._load())
            log.info("picked up the index generation %s written by another process", live.name)
        except FtzqaError as exc:  # keep serving the old one
            log.warning("could not load the new index generation %s: %s", live.name, exc)
        finally:
            self._update.release()

    @property
    def retriever(self) -> Retriever:
        """The current Retriever (reloaded if another process updated the index)."""
        self._follow_other_writers()
        with self._swap:
            retriever, error = self._retriever, self._error
        if retriever is None:
            raise error or IndexMissingError(f"the index at {str(self.index_dir)!r} is not loaded yet")
        return retriever

    def status(self) -> Status | None:
        with self._swap:
            r = self._retriever
        return Status(len(r.index.documents), len(r.index.passages), r.index.model) if r else None

    def status_line(self) -> str:
        status = self.status()
        if status:
            return status.line()
        with self._swap:
            error = self._error
        return f"index not loaded: {error}" if error else "index not loaded"

    def ask(self, question: str, k: int = 3, mode: str = "hybrid") -> tuple[Answer, Mapping[str, Document]]:
        """Search the current index; also returns its documents (for the surrounding context)."""
        retriever = self.retriever
        return retriever.search(question, k=k, mode=mode), retriever.index.documents

    def ask_dict(self, question: str, k: int = 3, mode: str = "hybrid") -> dict[str, Any]:
        """``Answer.to_dict()``, or ``{"error": message}`` for a question the index cannot take."""
        try:
            return self.ask(question, k, mode)[0].to_dict()
        except FtzqaError as exc:
            return {"error": str(exc)}

    def add(self, paths: Sequence[str | Path], progress: Progress = _no_progress) -> list[str]:
        """Save uploads into the corpus and update the index in place; returns result lines."""
        with self._update:
            progress(0.05, "checking the files")
            uploads = read_uploads(paths)
            if not uploads.accepted:
                return uploads.rejected or ["no files to add"]
            progress(0.2, "saving and indexing (only new passages are embedded)")
            try:
                report = add_bytes(
                    uploads.accepted, self.corpus_dir, self.index_dir, self.settings, embedder=self.embedder
                )
                progress(0.9, "loading the updated index")
                self._set(self._load())
            except FtzqaError as exc:
                return [f"nothing added: {exc}", *uploads.rejected]
            progress(1.0, "done")
        lines = [f"added {', '.join(report.added)}" if report.added else "no new documents"]
        lines += [*report.duplicates, *uploads.rejected]
        if report.summary and report.added:
            lines.append(report.summary.line())
        return lines
