"""What the page does, without Gradio: load (or build) the index once, answer, add documents.

The Retriever is swapped under a lock after an update, so questions keep being answered while
documents are added; one update runs at a time. At start, an existing index is served at once
and refreshed in the background when the corpus changed. Messages meant for users never hold
server paths (the log has the full text).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..chunking import split
from ..corpus import parse_document
from ..embed import Embedder
from ..errors import CorpusError, FtzqaError, IndexChangedError, IndexMissingError
from ..index import build
from ..ingest import add_bytes, safe_name
from ..retrieve import Retriever
from ..sanitize import redact_paths
from ..settings import Settings
from ..store import current_generation
from ..types import Answer, Document
from .access import Access
from .uploads import read_uploads

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
MAX_REMOVE = 1000  # documents one removal on the page may take


@dataclass(frozen=True, slots=True)
class Status:
    documents: int
    passages: int
    model: str

    def line(self) -> str:
        docs = "1 document" if self.documents == 1 else f"{self.documents} documents"
        return f"**Index:** {docs}, {self.passages} passages · model `{self.model}`"


# a question that meets a change removing rows of the loaded version is asked again this often,
# each time after waiting up to CHANGED_WAIT seconds for this process's own update to finish
CHANGED_RETRIES = 3
CHANGED_WAIT = 60.0


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
        access: Access | None = None,
        store: str | None = None,
    ) -> None:
        from ..storage.location import pinned, resolve

        self.corpus_dir = Path(corpus_dir)
        self.index_dir = Path(index_dir)
        self.location = resolve(self.index_dir, store)
        self.store = pinned(self.location)  # "embedded" or the Milvus URI, as given
        self.settings = settings or Settings.from_env()
        self.access = access or Access()
        self._embedder = embedder
        self._retriever: Retriever | None = None
        self._error: FtzqaError | None = None
        self._warning: str | None = None  # the last update failed; the old index is served
        self._updating = False
        self._refresh: threading.Thread | None = None
        self._swap = threading.Lock()
        self._update = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.settings.max_uploads_in_flight)
        self._last_follow_error = ""

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from ..embed import SentenceTransformerEmbedder

            self._embedder = SentenceTransformerEmbedder(self.settings.model, self.settings.device)
        return self._embedder

    # --- messages for users --------------------------------------------------------------------

    def public(self, message: str) -> str:
        """``message`` without server paths: the corpus and index folders by their names, any
        other absolute path by its last part."""
        folders: dict[str | Path, str] = {
            self.corpus_dir: self.corpus_dir.name or "corpus", self.index_dir: self.index_dir.name or "index"
        }
        if not isinstance(self.location, Path) and self.location.lite:
            folders[Path(self.location.uri)] = Path(self.location.uri).name
        return redact_paths(message, folders)

    # --- start and background refresh ------------------------------------------------------------

    def start(self, *, background: bool = False) -> str:
        """Load the index; build it when missing; refresh it when the corpus changed.

        With ``background``, an existing index is served at once and the refresh runs in a
        thread (the status line says so). Never raises FtzqaError: a failure is kept and shown
        as the answer to every question until an update succeeds; a failed refresh keeps the
        last good index and shows a warning.
        """
        with self._update:
            retriever: Retriever | None = None
            try:
                retriever = self._load()
                stale = retriever.staleness(self.corpus_dir)
                if not stale.stale:
                    self._set(retriever)
                    return f"loaded the index at {self.location}"
                log.info("corpus changed (%s); updating the index", stale.describe())
                self._set(retriever)  # serve it while the update runs
            except IndexMissingError:
                log.info("no index at %s; building it from %s", self.index_dir, self.corpus_dir)
            except FtzqaError as exc:  # damaged or built differently: say how to rebuild, do not guess
                return self._fail(exc)
            if not (background and retriever is not None):
                return self._rebuild(retriever)
            with self._swap:
                self._updating = True
            self._refresh = threading.Thread(target=self._rebuild_locked, args=(retriever,), daemon=True)
            self._refresh.start()
            return f"loaded the index at {self.location}; updating it in the background (the corpus changed)"

    def wait_for_update(self, timeout: float | None = None) -> bool:
        """Wait for a background refresh; True when none is running any more."""
        if self._refresh is not None:
            self._refresh.join(timeout)
            return not self._refresh.is_alive()
        return True

    def _rebuild_locked(self, retriever: Retriever | None) -> None:
        with self._update:
            try:
                log.info("%s", self._rebuild(retriever))
            except Exception:  # a thread has nobody to raise to: keep serving, say so
                log.exception("updating the index failed")
                self._warn("the update failed unexpectedly; the details are in the server log")
            finally:
                with self._swap:
                    self._updating = False

    def _rebuild(self, retriever: Retriever | None) -> str:
        """Build and load; on failure keep ``retriever`` (if any) with a warning. Caller holds _update."""
        try:
            summary = build(self.corpus_dir, self.index_dir, self.settings, embedder=self.embedder, store=self.store)
            self._set(self._load())
            return summary.line()
        except FtzqaError as exc:
            if retriever is None:
                return self._fail(exc)
            self._set(retriever)
            log.warning("kept the existing index; update failed: %s", exc)
            self._warn(str(exc))
            return f"kept the existing index; the update failed: {self.public(str(exc))}"

    def _warn(self, message: str) -> None:
        with self._swap:
            self._warning = message

    def _fail(self, exc: FtzqaError) -> str:
        log.error("%s", exc)
        with self._swap:
            self._retriever, self._error = None, exc
        return f"error: {self.public(str(exc))}"

    def _load(self) -> Retriever:
        # questions reuse the sentence-transformers model only when this process already has it
        # (given, or loaded to build); otherwise the index's ONNX encoder embeds them, without torch
        return Retriever.load(
            self.index_dir, model=self.settings.model, embedder=self._embedder, settings=self.settings,
            store=self.store,
        )

    def _set(self, retriever: Retriever) -> None:
        with self._swap:
            self._retriever, self._error, self._warning = retriever, None, None

    def _follow_other_writers(self) -> None:
        """Load the new generation when another process (``ftzqa add``/``build``) replaced the index.

        Reads only the small pointer file per question; the swap is atomic, so a half-written
        index is never served. Skipped while this process is itself updating.
        """
        with self._swap:
            current = self._retriever.store if self._retriever else None
        loaded = current.version if current is not None else None
        try:
            if isinstance(self.location, Path) or current is None:
                gen = current_generation(self.index_dir) if isinstance(self.location, Path) else None
                live = gen.name if gen is not None else None
            else:  # another store: ask it (one small read)
                live = current.latest_version()
        except FtzqaError as exc:  # a damaged pointer: keep serving what is loaded
            if str(exc) != self._last_follow_error:
                log.warning("cannot follow the index pointer: %s", exc)
                self._last_follow_error = str(exc)
            return
        if live is None or live == loaded or not self._update.acquire(blocking=False):
            return
        try:
            self._set(self._load())
            log.info("picked up the index generation %s written by another process", live)
        except FtzqaError as exc:  # keep serving the old one
            log.warning("could not load the new index generation %s: %s", live, exc)
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

    def is_name(self, word: str) -> bool:
        """True when the loaded index's documents write ``word`` (lower case) as a name."""
        with self._swap:
            retriever = self._retriever
        return retriever is not None and retriever.store.lexicon.is_name(word)

    def similar(self, word: str, candidates: list[str]) -> list[float]:
        """Similarity of ``word`` to each candidate by the loaded index's model (follow-ups)."""
        from .followup import embedding_similarity

        with self._swap:
            retriever = self._retriever
        if retriever is None:
            return [0.0] * len(candidates)
        return embedding_similarity(retriever.embedder.encode)(word, candidates)

    def status(self) -> Status | None:
        with self._swap:
            r = self._retriever
        return Status(len(r.store.documents), r.store.passage_count, r.store.model) if r else None

    def status_line(self) -> str:
        status = self.status()
        with self._swap:
            error, warning, updating = self._error, self._warning, self._updating
        if not status:
            return self.public(f"index not loaded: {error}" if error else "index not loaded")
        line = status.line()
        if updating:
            line += " · updating the index in the background (questions are answered meanwhile)"
        if warning:
            line += f" · ⚠ the index could not be updated: {self.public(warning)}; serving the last good index"
        return line

    # --- questions ---------------------------------------------------------------------------------

    def ask(
        self, question: str, k: int = 3, mode: str = "hybrid", require: Sequence[str] = ()
    ) -> tuple[Answer, Mapping[str, Document]]:
        """Search the current index; also returns its documents (for the surrounding context).
        ``require``: words an answer must mention (``Retriever.search``)."""
        for attempt in range(CHANGED_RETRIES + 1):
            retriever = self.retriever
            try:
                return retriever.search(question, k=k, mode=mode, require=require), retriever.store.documents
            except IndexChangedError:
                # a change (here or in another process) removed rows of the loaded version
                # mid-question: wait for it to finish, load the newer version, ask again
                if attempt == CHANGED_RETRIES:
                    raise
                if self._update.acquire(timeout=CHANGED_WAIT):
                    self._update.release()
                time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    def ask_dict(self, question: str, k: int = 3, mode: str = "hybrid") -> dict[str, Any]:
        """``Answer.to_dict()``, or ``{"error": message}`` for a question the index cannot take."""
        try:
            return self.ask(question, k, mode)[0].to_dict()
        except FtzqaError as exc:
            return {"error": self.public(str(exc))}

    # --- uploads -----------------------------------------------------------------------------------

    def add(
        self, paths: Sequence[str | Path], progress: Progress = _no_progress, user: str | None = None
    ) -> list[str]:
        """Save uploads into the corpus and update the index in place; returns result lines.

        Refused (with a message, nothing saved) when this server is read-only, ``user`` may not
        add documents, or too many uploads are already in flight. At most
        ``settings.max_upload_passages`` passages are added per upload.
        """
        if not self.access.may_add(user):
            if self.access.read_only:
                return ["this server is read-only: documents cannot be added here"]
            return [f"{user or 'this user'} may not add documents on this server; ask its operator"]
        if not self._slots.acquire(blocking=False):
            limit = self.settings.max_uploads_in_flight
            return [f"{limit} uploads are already being indexed or waiting; try again when they are done"]
        try:
            progress(0.05, "checking the files")
            uploads = read_uploads(paths)  # read now: Gradio may clean its cache while we wait
            accepted, too_big = self._within_passage_budget(uploads.accepted)
            rejected = [*too_big, *uploads.rejected]
            if not accepted:
                return [self.public(line) for line in rejected] or ["no files to add"]
            with self._update:
                progress(0.2, "saving and indexing (only new passages are embedded)")
                try:
                    report = add_bytes(
                        accepted, self.corpus_dir, self.index_dir, self.settings, embedder=self.embedder,
                        store=self.store,
                    )
                    progress(0.9, "loading the updated index")
                    self._set(self._load())
                except FtzqaError as exc:
                    log.warning("upload failed: %s", exc)
                    return [self.public(f"nothing added: {exc}"), *(self.public(x) for x in rejected)]
                progress(1.0, "done")
        finally:
            self._slots.release()
        lines = [f"added {', '.join(report.added)}" if report.added else "no new documents"]
        lines += [*report.duplicates, *rejected]
        if report.summary and report.added:
            lines.append(report.summary.line())
        return [self.public(line) for line in lines]

    def document_ids(self) -> list[str]:
        """The documents of the loaded index, by doc_id (their path in the corpus)."""
        with self._swap:
            retriever = self._retriever
        return sorted(retriever.store.documents) if retriever is not None else []

    def remove(self, doc_ids: Sequence[str], user: str | None = None) -> list[str]:
        """Remove documents from the index and the corpus (``ftzqa remove``); returns result lines.

        Refused (nothing removed) unless ``user`` is signed in and may add documents; at most
        ``MAX_REMOVE`` documents at once; names not in the index are refused with the reason.
        """
        if not self.access.may_remove(user):
            if self.access.read_only:
                return ["this server is read-only: documents cannot be removed here"]
            if not self.access.login:
                return ["documents can be removed here only by signed-in users; use ftzqa remove on the server"]
            return [f"{user or 'this user'} may not remove documents on this server; ask its operator"]
        names = list(dict.fromkeys(d for d in doc_ids if isinstance(d, str) and d))
        if not names:
            return ["choose the documents to remove first"]
        if len(names) > MAX_REMOVE:
            return [f"{len(names):,} documents chosen, and one removal may take at most {MAX_REMOVE:,}; choose fewer"]
        from ..index import remove

        with self._update:
            try:
                summary = remove(names, self.corpus_dir, self.index_dir, self.settings, store=self.store)
                self._set(self._load())
            except FtzqaError as exc:
                log.warning("removal failed: %s", exc)
                return [self.public(f"nothing removed: {exc}")]
        log.info("%s removed %s", user, ", ".join(names))
        return [self.public(f"removed {', '.join(names)}"),
                f"{summary.documents} documents, {summary.passages} passages left"]

    def _within_passage_budget(self, files: list[tuple[str, bytes]]) -> tuple[list[tuple[str, bytes]], list[str]]:
        """Files taken in order while their passages fit ``max_upload_passages``; the rest refused."""
        budget = self.settings.max_upload_passages
        kept: list[tuple[str, bytes]] = []
        refused: list[str] = []
        for name, data in files:
            try:
                count = len(split(parse_document(safe_name(name), data), self.settings.chunk))
            except CorpusError as exc:
                refused.append(str(exc))
                continue
            if count > budget:
                refused.append(
                    f"{name}: {count:,} passages, and one upload may add at most "
                    f"{self.settings.max_upload_passages:,} (FTZQA_MAX_UPLOAD_PASSAGES); split the file, "
                    "or add it on the server with: ftzqa add"
                )
                continue
            budget -= count
            kept.append((name, data))
        return kept, refused
