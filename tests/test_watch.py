"""``ftzqa watch`` (issue 11, point 2): the real command in a child process, with the real model,
over a small corpus; files are created, edited, renamed, deleted, copied slowly and broken while it
runs, and a reader like the page (``web.service.Service``, which picks up another process's
generation) asks until each change is answerable or gone. Waits are polls with a generous
timeout; nothing here asserts a duration (bench/watch.py measures it).

Under ``pytest --store milvus`` the watcher of the shared fixture runs in a thread of the test
process (what ``ftzqa watch`` runs, with the same lines), because Milvus Lite opens a file in one
process at a time and the reader here is in the test process; a Milvus server has no such limit.
``test_ctrl_c_stops_cleanly`` runs the real command in a child process on both stores.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, manifest_of, store_args, version_of, write_corpus

from ftzqa.watch import ignored

TIMEOUT = 90.0  # s: model load and an update on a busy 2-core machine; only a hang reaches it


class InProcess:
    """``ftzqa watch`` run in a thread of this process (its ``Watcher``, model and report lines),
    with the part of ``subprocess.Popen`` the tests use."""

    def __init__(self, corpus: Path, index: Path, log: Path) -> None:
        from ftzqa.embed import SentenceTransformerEmbedder
        from ftzqa.settings import Settings
        from ftzqa.watch import Watcher

        settings = Settings()
        lock = threading.Lock()

        def report(line: str) -> None:
            with lock, open(log, "a", encoding="utf-8") as out:
                out.write(line + "\n")

        log.write_text("", encoding="utf-8")
        self.watcher = Watcher(corpus, index, settings, report=report,
                               embedder=lambda: SentenceTransformerEmbedder(settings.model, settings.device))
        self.returncode: int | None = None

        def run() -> None:
            try:
                self.watcher.run(ready=lambda: report(f"watching {corpus} for changes (Ctrl-C to stop)"))
                report("stopped watching")
                self.returncode = 0
            except BaseException as exc:
                report(f"watcher failed: {type(exc).__name__}: {exc}")
                self.returncode = 1

        self.thread = threading.Thread(target=run, name="test-watch", daemon=True)
        self.thread.start()

    def poll(self) -> int | None:
        return self.returncode if not self.thread.is_alive() else None

    def terminate(self) -> None:
        self.watcher.stop()

    def wait(self, timeout: float | None = None) -> int | None:
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise subprocess.TimeoutExpired("ftzqa watch (thread)", timeout or 0)
        return self.returncode

    def kill(self) -> None:
        self.watcher.stop()


@dataclass
class Watching:
    corpus: Path
    index: Path
    proc: subprocess.Popen[bytes] | InProcess
    log: Path
    service: Any

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def cited(self, question: str, k: int = 3) -> list[tuple[str, str]]:
        """(doc_id, passage text) of the top ``k`` passages for ``question`` in the live index."""
        answer, _ = self.service.ask(question, k=k)
        return [(h.passage.doc_id, h.passage.text) for h in answer.hits]

    def documents(self) -> dict[str, str]:
        return dict(manifest_of(self.index)["documents"])


def poll(what: str, check: Callable[[], bool], timeout: float = TIMEOUT, watching: Watching | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if watching is not None and watching.proc.poll() is not None:
            raise AssertionError(f"ftzqa watch exited with {watching.proc.returncode}:\n{watching.output()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}\n{watching.output() if watching else ''}")
        time.sleep(0.2)


def start_watch(corpus: Path, index: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))}
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ftzqa.cli", "watch", "--corpus", str(corpus), "--index", str(index),
             *store_args(index)],
            stdout=out, stderr=subprocess.STDOUT, env=env,
            # as in a terminal: a shell's background job (CI started with "&") ignores SIGINT, and
            # Python then keeps ignoring it; the Ctrl-C test needs it delivered
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )


@pytest.fixture(scope="module")
def watching(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watching]:
    """``ftzqa watch`` over the tiny corpus, started without an index (it builds one)."""
    from ftzqa.settings import Settings
    from ftzqa.web.service import Service

    root = tmp_path_factory.mktemp("watch")
    corpus, index, log = write_corpus(root / "corpus"), root / "index", root / "watch.log"
    proc = InProcess(corpus, index, log) if store_args(index) else start_watch(corpus, index, log)
    w = Watching(corpus, index, proc, log, None)
    try:
        poll("the watcher is ready", lambda: "watching" in w.output(), TIMEOUT * 3, w)
        poll("the first index is built", lambda: _indexed(w), TIMEOUT * 3, w)
        w.service = Service(corpus, index, Settings())
        w.service.start()
        yield w
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _indexed(w: Watching) -> bool:
    """The watcher has built the first index (it says so once the new index is live)."""
    return any(line.startswith("added ") for line in w.output().splitlines())


def _lines(w: Watching, needle: str) -> list[str]:
    return [line for line in w.output().splitlines() if needle in line]


def test_a_new_file_becomes_answerable(watching: Watching) -> None:
    (watching.corpus / "comets.md").write_text("# Comets\n\nHalley's comet returns every 76 years.\n")
    poll("comets.md answers", lambda: watching.cited("How often does Halley's comet return?")[0][0] == "comets.md",
         watching=watching)
    assert "rivers.md" in watching.documents()  # the rest of the corpus is still there


def test_an_edit_replaces_the_old_text_and_embeds_only_the_changed_passage(watching: Watching) -> None:
    owls = watching.corpus / "owls.md"
    keep = "Barn owls hunt mice in the dark over open fields and farmland."
    owls.write_text(f"# Owls\n\n{keep}\n\nSnowy owls nest on the Arctic tundra.\n")
    poll("owls.md indexed", lambda: "owls.md" in watching.documents(), watching=watching)
    owls.write_text(f"# Owls\n\n{keep}\n\nEagle owls are the largest owls of Europe.\n")
    poll("the edit answers", lambda: any("Eagle owls" in text for _, text in watching.cited("Which owls are largest?")),
         watching=watching)
    texts = [text for _, text in watching.cited("Where do snowy owls nest?", k=10)]
    assert not any("Snowy owls" in t for t in texts)
    edit = _lines(watching, "updated owls.md")
    assert len(edit) == 1 and "(1 embedded)" in edit[0], watching.output()  # the kept paragraph kept its vector


def test_a_rename_moves_the_citation_without_embedding(watching: Watching) -> None:
    (watching.corpus / "glaciers.md").write_text("# Glaciers\n\nThe Aletsch glacier is the largest in the Alps.\n")
    question = "Which is the largest glacier in the Alps?"
    poll("glaciers.md answers", lambda: watching.cited(question)[0][0] == "glaciers.md", watching=watching)
    (watching.corpus / "glaciers.md").rename(watching.corpus / "ice.md")
    poll("ice.md answers", lambda: watching.cited(question)[0][0] == "ice.md", watching=watching)
    assert "glaciers.md" not in [d for d, _ in watching.cited(question, k=10)]
    moved = _lines(watching, "added ice.md")
    assert moved and "removed glaciers.md" in moved[0] and "(0 embedded)" in moved[0], watching.output()


def test_a_deleted_file_is_gone(watching: Watching) -> None:
    (watching.corpus / "volcano.md").write_text("# Volcanoes\n\nMount Etna erupted again in spring.\n")
    question = "Which volcano erupted in spring?"
    poll("volcano.md answers", lambda: watching.cited(question)[0][0] == "volcano.md", watching=watching)
    (watching.corpus / "volcano.md").unlink()
    poll("volcano.md gone", lambda: "volcano.md" not in [d for d, _ in watching.cited(question, k=10)],
         watching=watching)
    assert "volcano.md" not in watching.documents()


def test_a_file_still_being_copied_is_not_indexed_half(watching: Watching) -> None:
    first = "# Lighthouses\n\nThe Tower of Hercules is the oldest lighthouse still in use.\n\n"
    rest = "".join(f"Keeper {i} climbed the {i * 3} steps of the lighthouse every evening.\n\n" for i in range(40))
    path = watching.corpus / "lighthouses.md"
    with open(path, "w", encoding="utf-8") as fh:  # the first part alone is a complete, valid document
        fh.write(first)
        fh.flush()
        for i in range(0, len(rest), 60):  # a slow copy: a little more every 0.1 s for about 4 s
            time.sleep(0.1)
            fh.write(rest[i : i + 60])
            fh.flush()
    full = hashlib.sha256((first + rest).encode()).hexdigest()
    poll("the whole file is indexed", lambda: watching.documents().get("lighthouses.md") == full, watching=watching)
    poll("the watcher reports it", lambda: bool(_lines(watching, "lighthouses.md")), watching=watching)
    assert len(_lines(watching, "lighthouses.md")) == 1, watching.output()  # indexed once, never half first
    top = watching.cited("How many steps did keeper 39 climb?", k=3)
    assert any("117 steps" in text for _, text in top)


def test_a_bad_file_is_skipped_and_the_watcher_keeps_going(watching: Watching) -> None:
    (watching.corpus / "broken.txt").write_bytes(b"\x00\x01binary\xff\xfe" * 50)
    poll("broken.txt reported", lambda: bool(_lines(watching, "skipped broken.txt")), watching=watching)
    line = _lines(watching, "skipped broken.txt")[0]
    assert "binary" in line and "Traceback" not in watching.output()
    (watching.corpus / "tides.md").write_text("# Tides\n\nThe Bay of Fundy has the highest tides on Earth.\n")
    poll("tides.md answers after the bad file",
         lambda: watching.cited("Where are the highest tides?")[0][0] == "tides.md", watching=watching)
    assert "broken.txt" not in watching.documents()


def test_temporary_and_hidden_files_are_never_indexed(watching: Watching) -> None:
    text = "# Storks\n\nWhite storks winter in Africa and return to Alsace in March.\n"
    for name in (".tmp-1a2b3c.md", ".storks.md.swp", "storks.md~", "~$storks.docx", "#storks.md#", "storks.part"):
        (watching.corpus / name).write_text(text)
    (watching.corpus / "marker.md").write_text("# Marker\n\nThe zebra crossing was painted blue.\n")
    poll("marker.md indexed", lambda: "marker.md" in watching.documents(), watching=watching)
    time.sleep(1.5)  # anything pending with it has settled by now too
    assert not [d for d in watching.documents() if "storks" in d]


def test_ignored_names() -> None:
    assert all(ignored(n) for n in (".x.md", "a.md~", "~$a.docx", "#a.md#", "a.swp", "a.part", "4913", "a.md.tmp"))
    assert not any(ignored(n) for n in ("a.md", "B.TXT", "c.pdf", "d.docx", "e.html"))


def test_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    corpus, index, log = write_corpus(tmp_path / "corpus"), tmp_path / "index", tmp_path / "watch.log"
    proc = start_watch(corpus, index, log)
    w = Watching(corpus, index, proc, log, None)
    try:
        poll("ready", lambda: "watching" in w.output(), TIMEOUT * 3, w)
        poll("indexed", lambda: _indexed(w), TIMEOUT * 3, w)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(TIMEOUT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = w.output()
    assert out.rstrip().endswith("stopped watching") and "Traceback" not in out, out
    assert not list(index.glob(".tmp-*"))


# --- the update step on its own (fake embedder: fast) --------------------------------------------------


@pytest.fixture
def synced(tmp_path: Path) -> tuple[Path, Path, Any]:
    from conftest import FakeEmbedder

    from ftzqa.index import build

    corpus, index = write_corpus(tmp_path / "corpus"), tmp_path / "index"
    embedder = FakeEmbedder()
    build(corpus, index, embedder=embedder)
    return corpus, index, embedder


def _apply(synced: tuple[Path, Path, Any], *doc_ids: str) -> Any:
    from ftzqa.settings import Settings
    from ftzqa.watch import apply

    corpus, index, embedder = synced
    return apply(corpus, index, doc_ids, Settings(model="fake-model"), embedder)


def _documents(index: Path) -> dict[str, str]:
    return dict(manifest_of(index)["documents"])


def test_apply_leaves_an_unchanged_file_alone(synced: tuple[Path, Path, Any]) -> None:
    corpus, index, embedder = synced
    before = version_of(index)
    (corpus / "rivers.md").touch()
    applied = _apply(synced, "rivers.md", "never-there.md")
    assert applied.summary is None and applied.lines() == [] and version_of(index) == before


def test_apply_drops_a_file_edited_into_something_unreadable(synced: tuple[Path, Path, Any]) -> None:
    corpus, index, _ = synced
    (corpus / "bakery.txt").write_bytes(b"\x00\xff" * 20)
    applied = _apply(synced, "bakery.txt")
    assert applied.removed == ["bakery.txt"] and applied.skipped[0].startswith("bakery.txt:")
    assert set(_documents(index)) == {"rivers.md"}


def test_apply_a_copy_is_indexed_once_and_takes_over_when_the_original_goes(synced: tuple[Path, Path, Any]) -> None:
    corpus, index, _ = synced
    (corpus / "copy.md").write_bytes((corpus / "rivers.md").read_bytes())
    applied = _apply(synced, "copy.md")
    assert "same content as rivers.md" in applied.skipped[0] and "copy.md" not in _documents(index)
    (corpus / "rivers.md").unlink()
    applied = _apply(synced, "rivers.md")
    assert applied.removed == ["rivers.md"] and applied.added == ["copy.md"]
    assert set(_documents(index)) == {"bakery.txt", "copy.md"}
    assert applied.summary.embedded == 0  # the copy's passages kept their vectors


def test_a_moved_folder_moves_its_documents(synced: tuple[Path, Path, Any]) -> None:
    from ftzqa.settings import Settings
    from ftzqa.watch import Watcher

    corpus, index, embedder = synced
    (corpus / "notes").mkdir()
    (corpus / "notes" / "a.md").write_text("# A\n\nAlpha text about owls.\n")
    _apply(synced, "notes/a.md")
    (corpus / "notes").rename(corpus / "papers")
    watcher = Watcher(corpus, index, Settings(model="fake-model"))
    moved = watcher._doc_ids(str((corpus / "notes").resolve())) + watcher._doc_ids(str((corpus / "papers").resolve()))
    assert sorted(moved) == ["notes/a.md", "papers/a.md"]
    _apply(synced, *moved)
    assert set(_documents(index)) == {"bakery.txt", "rivers.md", "papers/a.md"}


def test_watch_refuses_a_bad_quiet_period(capsys: pytest.CaptureFixture[str]) -> None:
    from ftzqa.cli import main

    assert main(["watch", "--quiet", "-1"]) == 2
    assert "--quiet of -1.0 is outside 0-3600 seconds" in capsys.readouterr().err
