"""``app.py --watch``: the corpus folder's changes reach the page without a restart.

The watcher (``ftzqa.watch``) runs in a thread of the server process with the service's own
embedder; after each update the service loads the new generation at once (the way it picks up
any other writer's), so the next question already sees it.
"""

from __future__ import annotations

import logging
import threading

from ..errors import FtzqaError
from ..watch import Watcher, start_in_thread
from .service import Service

log = logging.getLogger(__name__)


def watch_corpus(service: Service) -> tuple[Watcher, threading.Thread]:
    """Start watching ``service``'s corpus folder in a daemon thread."""

    def reload() -> None:
        try:
            service.retriever  # noqa: B018 - the property loads the new generation
        except FtzqaError as exc:
            log.warning("could not load the updated index: %s", exc)

    def report(line: str) -> None:
        (log.warning if line.startswith(("error", "skipped")) else log.info)("watch: %s", line)

    watcher = Watcher(
        service.corpus_dir, service.index_dir, service.settings, embedder=lambda: service.embedder,
        report=report, on_update=reload, store=service.store,
    )
    return watcher, start_in_thread(watcher)
