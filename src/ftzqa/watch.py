"""Keep the index in sync with the corpus folder: ``ftzqa watch`` and ``app.py --watch``.

The folder is watched with ``watchfiles`` (inotify on Linux). A changed path is *pending* until
its size and modification time (or its absence) have not changed for ``quiet`` seconds, so a file
still being copied is never indexed half; then every settled path is applied in one incremental
update under the index's writer lock (``index.update``: only the new or changed files are read,
only passages not seen before are embedded, deleted files are dropped; a rename is a delete and an
add whose passages keep their vectors). A file whose content is what the index already holds
(written by ``ftzqa add`` or an upload, or touched without change) costs nothing. Hidden files
(editors' swap files, ``.tmp-*`` files of ftzqa's own atomic writes), backups ending in ``~``,
office lock files (``~$…``) and unsupported types are ignored. A file that cannot be read is
reported in one line and skipped; the watcher keeps going.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .corpus import SUPPORTED_SUFFIXES, list_files, sha256_bytes
from .embed import Embedder
from .errors import CorpusError, FtzqaError, IndexMissingError
from .index import BuildSummary, _lock_dir, build_unlocked, open_location, read_manifest, staleness, update
from .limits import Limits
from .settings import Settings
from .storage.location import pinned, resolve
from .store import writer_lock

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from .storage.location import Location

log = logging.getLogger(__name__)

QUIET_SECONDS = 0.5  # a file must keep its size and mtime this long before it is read
TICK_MS = 100  # how often pending files are looked at while nothing else happens
DEBOUNCE_MS = 1600  # longest time one burst of events is gathered before it is handed over

Stat = tuple[int, int] | None  # (size, mtime_ns), or None when the path does not exist


def ignored(name: str) -> bool:
    """Names the watcher never indexes: hidden, editor backups and locks, unsupported types."""
    return (
        name.startswith((".", "~", "#"))
        or name.endswith("~")
        or Path(name).suffix.lower() not in SUPPORTED_SUFFIXES
    )


@dataclass(frozen=True, slots=True)
class Applied:
    """What one update did; ``summary`` is None when the index already matched the folder."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one reason per file that could not be read
    summary: BuildSummary | None = None

    def lines(self) -> list[str]:
        out = [f"skipped {reason}" for reason in self.skipped]
        parts = [f"{verb} {', '.join(ids)}" for verb, ids in
                 (("added", self.added), ("updated", self.changed), ("removed", self.removed)) if ids]
        if parts and self.summary is not None:
            s = self.summary
            out.append(f"{'; '.join(parts)}: {s.documents} documents, {s.passages} passages "
                       f"({s.embedded} embedded) in {s.seconds:.1f} s")
        return out


def _stat(path: Path) -> Stat:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns) if path.is_file() else None


def _manifest(location: Location) -> dict[str, Any]:
    """The live manifest of the index at ``location`` (IndexMissingError when there is none)."""
    if isinstance(location, Path):
        return read_manifest(location)[1]
    store = open_location(location, query_encoder=False, for_writing=True)
    try:
        return dict(store.manifest)
    finally:
        store.close()


def apply(
    corpus_dir: Path, index_dir: str | Path | Location, doc_ids: Iterable[str], settings: Settings,
    embedder: Embedder | None, store: str | None = None,
) -> Applied:
    """Bring the index in line with the corpus files ``doc_ids`` (present: index them; absent:
    drop them), under the writer lock. Files whose content the index already holds are left.
    ``store``: as on ``build`` (default ``FTZQA_STORE``, else the embedded store in ``index_dir``)."""
    index_dir = resolve(index_dir, store)
    limit = Limits.from_env().max_file_bytes
    with writer_lock(_lock_dir(index_dir)):
        try:
            manifest = _manifest(index_dir)
        except IndexMissingError:
            summary = build_unlocked(corpus_dir, index_dir, settings, embedder)
            return Applied(added=sorted(summary_docs(index_dir)), skipped=summary.skipped, summary=summary)
        files: dict[str, str] = manifest["files"]
        documents: dict[str, str] = manifest["documents"]
        present, gone = [], []
        for doc_id in sorted(set(doc_ids)):
            path = corpus_dir / doc_id
            if path.is_file():  # as list_files sees it
                try:
                    size = path.stat().st_size
                    sha = sha256_bytes(path.read_bytes()) if size <= limit else ""  # too big: update says so
                except OSError:
                    sha = ""
                if sha and files.get(doc_id) == sha and (doc_id in documents or sha in documents.values()):
                    continue  # already indexed as it is (or indexed once under another name)
                present.append(doc_id)
            elif doc_id in documents or doc_id in files:
                gone.append(doc_id)
        # a file that repeated a removed document's content (indexed once) is indexed in its place
        lost = {documents[d] for d in gone if d in documents}
        if lost:
            present += [d for d, sha in files.items() if sha in lost and d not in documents and d not in gone
                        and (corpus_dir / d).is_file() and d not in present]
        if not present and not gone:
            return Applied()
        summary = update(corpus_dir, index_dir, present, settings, embedder, remove=gone, store=pinned(index_dir))
        skipped_ids = {reason.split(": ", 1)[0] for reason in summary.skipped}
        ok = [d for d in present if d not in skipped_ids]
        return Applied(
            added=[d for d in ok if d not in documents],
            changed=[d for d in ok if d in documents],
            removed=[d for d in gone if d in documents] + [d for d in present if d in skipped_ids and d in documents],
            skipped=summary.skipped,
            summary=summary,
        )


class SmallBatchesOnOneThread:
    """An embedder that embeds a few texts (a watched file's new passages) on one CPU thread.

    On a small machine whose cores are busy, PyTorch's threads wait on each other: embedding four
    passages took 2.2-3.0 s on two threads and 0.8-1.2 s on one, with the load average at 7 on 2
    cores (it is about even when idle). Larger batches (a first build) keep all threads.
    """

    SMALL = 64

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dimension = inner.dimension

    def encode(self, texts: list[str], *, batch_size: int = 32, show_progress: bool = False) -> NDArray[np.float32]:
        if len(texts) > self.SMALL:
            return self.inner.encode(texts, batch_size=batch_size, show_progress=show_progress)
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self.inner.encode(texts, batch_size=batch_size, show_progress=show_progress)
        finally:
            torch.set_num_threads(before)


def summary_docs(index_dir: Location) -> list[str]:
    try:
        return list(_manifest(index_dir)["documents"])
    except FtzqaError:
        return []


class Watcher:
    """Watches ``corpus_dir`` and applies settled changes to the index at ``index_dir``.

    ``embedder``: a function giving the embedder to use (called once, when the watcher starts, so
    the first change does not wait for the model). ``report``: receives one line per event worth
    telling (files applied, files skipped, an update that failed). ``on_update``: called after
    each new generation (``app.py --watch`` loads it at once). ``store``: as on ``build`` (default
    ``FTZQA_STORE``, else the embedded store in ``index_dir``).
    """

    def __init__(
        self,
        corpus_dir: str | Path,
        index_dir: str | Path,
        settings: Settings,
        embedder: Callable[[], Embedder | None] = lambda: None,
        report: Callable[[str], None] = log.info,
        on_update: Callable[[], None] = lambda: None,
        quiet: float = QUIET_SECONDS,
        store: str | None = None,
    ) -> None:
        self.corpus_dir = Path(corpus_dir)
        self.index_dir = resolve(Path(index_dir), store)  # the embedded folder or a Milvus location
        self.settings = settings
        self._embedder_factory = embedder
        self._embedder: Embedder | None = None
        self.report = report
        self.on_update = on_update
        self.quiet = quiet
        self.stop_event = threading.Event()
        self._pending: dict[str, tuple[Stat, float]] = {}  # doc_id -> (last stat, when it last changed)

    def stop(self) -> None:
        self.stop_event.set()

    def relevant(self, path: str) -> bool:
        """A path worth looking at: inside the corpus, no hidden part, and (for a file) a supported
        name. Folders count (a moved or deleted folder reports only itself)."""
        rel = self._relative(path)
        if rel is None or not rel.parts or any(part.startswith(".") for part in rel.parts):
            return False
        return not ignored(rel.name) or not Path(path).suffix or Path(path).is_dir()

    def _relative(self, path: str) -> Path | None:
        """``path`` (as the watcher reports it) relative to the corpus folder, or None when outside."""
        for root in (self.corpus_dir.absolute(), self.corpus_dir.resolve()):
            try:
                return Path(path).relative_to(root)
            except ValueError:
                continue
        return None

    def _doc_ids(self, path: str) -> list[str]:
        """The doc_ids an event on ``path`` may concern: the file itself, or what a folder held and holds."""
        relative = self._relative(path)
        if relative is None:
            return []
        rel = relative.as_posix()
        if not ignored(Path(rel).name):
            return [rel]
        out = [d for d in summary_docs(self.index_dir) if d.startswith(rel + "/")]
        folder = self.corpus_dir / rel
        if folder.is_dir():
            out += [p.relative_to(self.corpus_dir).as_posix() for p in list_files(folder)]
        return out

    def _note(self, doc_ids: Collection[str], now: float) -> None:
        for doc_id in doc_ids:
            self._pending[doc_id] = (_stat(self.corpus_dir / doc_id), now)

    def _settled(self, now: float) -> list[str]:
        """Pending paths unchanged for ``quiet`` seconds (the others stay pending)."""
        done = []
        for doc_id, (seen, since) in list(self._pending.items()):
            current = _stat(self.corpus_dir / doc_id)
            if current != seen:
                self._pending[doc_id] = (current, now)
            elif now - since >= self.quiet:
                done.append(doc_id)
                del self._pending[doc_id]
        return done

    def _initial(self) -> list[str]:
        """What changed while nobody watched (everything, when there is no index yet)."""
        try:
            manifest = _manifest(self.index_dir)
        except IndexMissingError:
            return [p.relative_to(self.corpus_dir).as_posix() for p in list_files(self.corpus_dir)]
        stale = staleness(manifest, self.corpus_dir)
        return [*stale.added, *stale.changed, *stale.removed]

    def _load_embedder(self) -> Embedder | None:
        from .embed import SentenceTransformerEmbedder

        embedder = self._embedder_factory()
        if isinstance(embedder, SentenceTransformerEmbedder):
            embedder.encode(["ftzqa watch"])  # the first forward pass is slow: take it now, not on a change
            return SmallBatchesOnOneThread(embedder)
        return embedder

    def _apply(self, doc_ids: list[str]) -> None:
        try:
            if self._embedder is None:
                self._embedder = self._load_embedder()
            applied = apply(self.corpus_dir, self.index_dir, doc_ids, self.settings, self._embedder,
                            store=pinned(self.index_dir))
        except FtzqaError as exc:
            self.report(f"error: not applied ({', '.join(doc_ids[:5])}): {exc}")
            return
        except Exception as exc:  # one odd change must not stop the watcher; the log has the details
            log.debug("update failed", exc_info=True)
            self.report(f"error: not applied ({', '.join(doc_ids[:5])}): {type(exc).__name__}: {exc}")
            return
        for line in applied.lines():
            self.report(line)
        if applied.summary is not None:
            self.on_update()

    def run(self, ready: Callable[[], None] = lambda: None) -> None:
        """Watch until ``stop()`` (or Ctrl-C in the main thread, which raises KeyboardInterrupt).

        ``ready`` is called once the folder is being watched; changes made while nobody watched are
    applied like any other (once settled).
        """
        from watchfiles import watch

        if not self.corpus_dir.is_dir():
            raise CorpusError(
                f"corpus folder {str(self.corpus_dir)!r} does not exist; create it or pass --corpus with the "
                "right folder"
            )
        self._embedder = self._load_embedder()
        started = False
        for changes in watch(
            self.corpus_dir, watch_filter=lambda _change, path: self.relevant(path), debounce=DEBOUNCE_MS,
            step=50, stop_event=self.stop_event, rust_timeout=TICK_MS, yield_on_timeout=True,
            raise_interrupt=threading.current_thread() is threading.main_thread(),
        ):
            now = time.monotonic()
            if not started:  # the watch is in place: catch up with what changed before it (once settled)
                self._note(self._initial(), now)
                started = True
                ready()
            for _change, path in changes:
                self._note(self._doc_ids(path), now)
            settled = self._settled(now)
            if settled:
                self._apply(settled)
            if self.stop_event.is_set():
                break


def start_in_thread(watcher: Watcher) -> threading.Thread:
    """Run ``watcher`` in a daemon thread (``app.py --watch``); a failure to start is reported."""

    def run() -> None:
        try:
            watcher.run()
        except FtzqaError as exc:
            watcher.report(f"error: not watching the corpus: {exc}")
        except Exception as exc:  # a thread has nobody to raise to
            log.exception("the watcher stopped")
            watcher.report(f"error: the watcher stopped ({type(exc).__name__}); the details are in the log")

    thread = threading.Thread(target=run, name="ftzqa-watch", daemon=True)
    thread.start()
    return thread
