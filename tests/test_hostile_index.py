"""Hostile or damaged index folders, full disks, and a restart after a kill (issue 9, findings 6 and 7).

Each damage gives one line naming the cause and the fix: exit code 2 in the CLI, a message on the
page and in the API, never a traceback; symlinks never lead ftzqa out of the index folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import FakeEmbedder, write_corpus

from ftzqa import cli
from ftzqa.errors import FtzqaError, IndexMismatchError, StorageError
from ftzqa.index import build, load_index
from ftzqa.settings import Settings
from ftzqa.store import current_generation, writer_lock
from ftzqa.web.service import Service

TESTS = Path(__file__).parent
FAKE = Settings(model="fake-model")


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI would load sentence-transformers; the fake embedder stands in (the index is under test)."""
    monkeypatch.setattr("ftzqa.embed.SentenceTransformerEmbedder", lambda *a, **k: FakeEmbedder())


def _gen(index: Path) -> Path:
    gen = current_generation(index)
    assert gen is not None
    return gen


def _current_is_a_directory(index: Path, outside: Path) -> None:
    (index / "CURRENT").unlink()
    (index / "CURRENT").mkdir()


def _current_not_utf8(index: Path, outside: Path) -> None:
    (index / "CURRENT").write_bytes(b"gen-\xff\xfe\n")


def _current_is_a_symlink(index: Path, outside: Path) -> None:
    name = (index / "CURRENT").read_text(encoding="utf-8")
    (outside / "pointer").write_text(name, encoding="utf-8")
    (index / "CURRENT").unlink()
    (index / "CURRENT").symlink_to(outside / "pointer")


def _current_names_something_else(index: Path, outside: Path) -> None:
    (index / "CURRENT").write_text("../elsewhere\n", encoding="utf-8")


def _generation_is_a_symlink_out(index: Path, outside: Path) -> None:
    """A complete, valid index outside ``index/``, reached through a ``gen-*`` symlink."""
    shutil.copytree(_gen(index), outside / "planted")
    (index / "gen-planted").symlink_to(outside / "planted", target_is_directory=True)
    (index / "CURRENT").write_text("gen-planted\n", encoding="utf-8")


def _deeply_nested_manifest(index: Path, outside: Path) -> None:
    (_gen(index) / "manifest.json").write_text("[" * 200_000 + "]" * 200_000, encoding="utf-8")


def _postings(index: Path) -> Path:
    (segment,) = json.loads((_gen(index) / "manifest.json").read_text(encoding="utf-8"))["segments"]
    return index / "segments" / segment["name"] / "postings"


def _bm25_ids_out_of_range(index: Path, outside: Path) -> None:
    path = _postings(index) / "rows.npy"
    ids = np.load(path, allow_pickle=False)
    ids[0] = 1_000_000
    np.save(path, ids, allow_pickle=False)


def _bm25_pointers_out_of_range(index: Path, outside: Path) -> None:
    path = _postings(index) / "indptr.npy"
    ptr = np.load(path, allow_pickle=False)
    ptr[-1] = 10**9
    np.save(path, ptr, allow_pickle=False)


def _segment_is_a_symlink_out(index: Path, outside: Path) -> None:
    """A segment folder replaced by a link to a copy outside ``index/``."""
    segment = _postings(index).parent
    shutil.copytree(segment, outside / "planted-segment")
    shutil.rmtree(segment)
    segment.symlink_to(outside / "planted-segment", target_is_directory=True)


def _segment_file_truncated(index: Path, outside: Path) -> None:
    path = _postings(index).parent / "segment.sqlite"
    path.write_bytes(path.read_bytes()[:1000])


DAMAGES: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "CURRENT is a directory": (_current_is_a_directory, "CURRENT is not a file"),
    "CURRENT is not UTF-8": (_current_not_utf8, "CURRENT is not"),
    "CURRENT is a symlink": (_current_is_a_symlink, "CURRENT is a symbolic link"),
    "CURRENT names a path": (_current_names_something_else, "not a generation folder"),
    "gen-* symlink out of index/": (_generation_is_a_symlink_out, "symbolic link"),
    "deeply nested manifest": (_deeply_nested_manifest, "unreadable manifest.json"),
    "BM25 ids out of range": (_bm25_ids_out_of_range, "damaged"),
    "BM25 pointers out of range": (_bm25_pointers_out_of_range, "damaged"),
    "segment symlink out of index/": (_segment_is_a_symlink_out, "symbolic link"),
    "segment file truncated": (_segment_file_truncated, "damaged"),
}


@pytest.fixture
def damaged(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Path, str]:
    corpus = write_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    build(corpus, index, embedder=FakeEmbedder())
    outside = tmp_path / "outside"
    outside.mkdir()
    damage, expected = DAMAGES[request.param]
    damage(index, outside)
    return corpus, index, expected


def _one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ftzqa: error: ") and "Traceback" not in err
    return lines[0]


@pytest.mark.embedded_only("damages the index folder's files")
@pytest.mark.parametrize("damaged", list(DAMAGES), indirect=True)
def test_damaged_index_is_one_line_with_the_fix_in_the_cli(
    damaged: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    corpus, index, expected = damaged
    with pytest.raises(IndexMismatchError, match=expected):
        load_index(index)
    assert cli.main(["ask", "How long is the Danube?", "--index", str(index), "--corpus", str(corpus)]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert expected in line and ("ftzqa build" in line or "remove" in line), line


@pytest.mark.embedded_only("damages the index folder's files")
@pytest.mark.parametrize("damaged", list(DAMAGES), indirect=True)
def test_damaged_index_is_a_message_on_the_page_not_a_crash(damaged: tuple[Path, Path, str]) -> None:
    corpus, index, expected = damaged
    service = Service(corpus, index, FAKE, embedder=FakeEmbedder())
    service.start()  # must not raise
    error = service.ask_dict("How long is the Danube?")["error"]
    assert expected in error and str(index.parent) not in error  # no server paths on the page
    assert expected in service.status_line()


@pytest.mark.embedded_only("generation folders and CURRENT")
def test_symlinked_generation_is_never_read(tmp_path: Path) -> None:
    """The planted index outside ``index/`` holds different text; nothing of it may be served."""
    corpus = write_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    build(corpus, index, embedder=FakeEmbedder())
    planted_corpus = write_corpus(tmp_path / "planted-corpus", {"secret.md": "# Secret\n\nThe vault code is 4711."})
    build(planted_corpus, tmp_path / "planted-index", embedder=FakeEmbedder())
    planted = _gen(tmp_path / "planted-index")
    (index / "gen-planted").symlink_to(planted, target_is_directory=True)
    (index / "CURRENT").write_text("gen-planted\n", encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="symbolic link"):
        load_index(index)
    # a rebuild replaces the pointer with a real generation and leaves the planted folder alone
    build(corpus, index, embedder=FakeEmbedder())
    assert set(load_index(index).documents) == {"rivers.md", "bakery.txt"}
    assert (planted / "manifest.json").is_file()


@pytest.mark.embedded_only("the CURRENT pointer file")
def test_build_refuses_a_current_directory_with_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    build(corpus, index, embedder=FakeEmbedder())
    _current_is_a_directory(index, tmp_path)
    assert cli.main(["build", "--corpus", str(corpus), "--index", str(index)]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "CURRENT is not a file" in line and "rm -r" in line
    assert not list(index.glob(".tmp-*"))


@pytest.mark.embedded_only("the index folder's lock file")
def test_lock_file_symlink_is_refused_and_its_target_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    build(corpus, index, embedder=FakeEmbedder())
    victim = tmp_path / "precious.txt"
    victim.write_text("do not truncate me", encoding="utf-8")
    (index / ".lock").unlink(missing_ok=True)
    (index / ".lock").symlink_to(victim)
    assert cli.main(["build", "--corpus", str(corpus), "--index", str(index)]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert ".lock is a symbolic link" in line and "remove it" in line
    assert victim.read_text(encoding="utf-8") == "do not truncate me"
    with pytest.raises(IndexMismatchError, match="symbolic link"), writer_lock(index):
        pass


@pytest.mark.embedded_only("the index folder's lock file")
def test_lock_that_is_a_folder_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    build(corpus, index, embedder=FakeEmbedder())
    (index / ".lock").unlink(missing_ok=True)
    (index / ".lock").mkdir()
    assert cli.main(["build", "--corpus", str(corpus), "--index", str(index)]) == 2
    assert ".lock is not a plain file (a folder)" in _one_line_error(capsys.readouterr().err)


@pytest.mark.embedded_only("the index folder's lock file")
def test_lock_symlink_to_a_folder_is_one_line_in_add(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    build(corpus, index, embedder=FakeEmbedder())
    (index / ".lock").unlink(missing_ok=True)
    (index / ".lock").symlink_to(tmp_path, target_is_directory=True)
    new = tmp_path / "new.md"
    new.write_text("# New\n\nNew text.", encoding="utf-8")
    assert cli.main(["add", str(new), "--corpus", str(corpus), "--index", str(index)]) == 2
    assert ".lock is a symbolic link" in _one_line_error(capsys.readouterr().err)
    assert not (corpus / "new.md").exists()


# --- full disk --------------------------------------------------------------------------------------

# The child fills the disk for real, then runs the CLI (with the fake embedder) or the web service.
# Two ways to run out of room, both real kernel errors from real writes (numpy, FAISS's C++ writer,
# json, the corpus copy): a small tmpfs in a private mount namespace (`unshare --mount`; needs root,
# skipped elsewhere) gives ENOSPC exactly as a full disk does; RLIMIT_FSIZE (any user, any Linux)
# makes the kernel refuse writes past a size with EFBIG. What is under test is our handling of the
# error: message, clean-up, old index kept.
DISK_CHILD = textwrap.dedent(
    """
    import json, os, resource, signal, sys
    sys.path.insert(0, {tests!r})
    from conftest import FakeEmbedder, write_corpus
    import ftzqa.embed
    ftzqa.embed.SentenceTransformerEmbedder = lambda *a, **k: FakeEmbedder()
    from pathlib import Path
    from ftzqa import cli
    from ftzqa.index import build, load_index

    mode, root, leave, action, big = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    corpus, index = root / "corpus", root / "index"
    write_corpus(corpus)
    build(corpus, index, embedder=FakeEmbedder())
    if action in ("build", "serve"):
        (corpus / "big.md").write_bytes(Path(big).read_bytes())
    if mode == "tmpfs":
        st = os.statvfs(root)
        with open(root / "filler", "wb") as fh:
            fh.write(b"\\0" * max(0, st.f_bavail * st.f_frsize - leave))
    else:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (leave, leave))
    report = {{}}
    if action == "add":
        report["rc"] = cli.main(["add", big, "--corpus", str(corpus), "--index", str(index)])
    elif action == "build":
        report["rc"] = cli.main(["build", "--corpus", str(corpus), "--index", str(index)])
    elif action == "upload":
        from ftzqa.settings import Settings
        from ftzqa.web.service import Service
        settings = Settings(model="fake-model", max_upload_passages=5000)
        service = Service(corpus, index, settings, embedder=FakeEmbedder())
        service.start()
        report["lines"] = service.add([big])
        report["status"] = service.status_line()
    else:
        from ftzqa.settings import Settings
        from ftzqa.web.service import Service
        service = Service(corpus, index, Settings(model="fake-model"), embedder=FakeEmbedder())
        report["start"] = service.start(background=False)
        report["status"] = service.status_line()
        report["answer"] = service.ask_dict("How long is the Danube?", 1)
    report["left"] = [p.name for d in (corpus, index) for p in d.glob(".tmp-*")]
    report["corpus"] = sorted(p.name for p in corpus.iterdir())
    report["indexed"] = sorted(load_index(index).documents)
    print(json.dumps(report))
    """
)


def _tmpfs_works() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt && umount /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


TMPFS = _tmpfs_works()
MODES = [
    pytest.param("tmpfs", marks=pytest.mark.skipif(not TMPFS, reason="needs root and unshare for a private tmpfs")),
    "rlimit",
]
BIG = "# Big\n\n" + "\n\n".join(f"Paragraph {i} talks about comets and item{i}." for i in range(3000))
# big.md is about 140 KB, its passages.jsonl about 800 KB: room for one but not the other
ROOM = {"corpus": 60_000, "index": 250_000}
CAUSE = {"tmpfs": "No space left on device", "rlimit": "File too large"}


def _run_disk_child(tmp_path: Path, mode: str, leave: int, action: str) -> tuple[dict[str, Any], str]:
    """Run the child; returns its report and its stderr (where the CLI prints errors)."""
    script = tmp_path / "disk_child.py"
    script.write_text(DISK_CHILD.format(tests=str(TESTS)), encoding="utf-8")
    root = tmp_path / "disk"
    root.mkdir()
    big = tmp_path / "big.md"  # outside the full disk
    big.write_text(BIG, encoding="utf-8")
    child = [sys.executable, str(script), mode, str(root), str(leave), action, str(big)]
    if mode == "tmpfs":
        # the mount lives and dies with the private namespace: nothing to clean up, nothing leaks
        mount = f'mount -t tmpfs -o size=3m tmpfs "{root}" && exec "$@"'
        child = ["unshare", "--mount", "sh", "-c", mount, "sh", *child]
    src = str(TESTS.parent / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(child, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


@pytest.mark.embedded_only("fills the disk under the index folder's files")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("where", list(ROOM))
def test_add_on_a_full_disk_is_one_line_and_leaves_nothing(tmp_path: Path, mode: str, where: str) -> None:
    report, err = _run_disk_child(tmp_path, mode, ROOM[where], "add")
    assert report["rc"] == 2
    line = _one_line_error(err)
    assert CAUSE[mode] in line and ("free" in line or "limit" in line), line
    assert report["left"] == [] and report["corpus"] == ["bakery.txt", "rivers.md"]
    assert report["indexed"] == ["bakery.txt", "rivers.md"]


@pytest.mark.embedded_only("fills the disk under the index folder's files")
@pytest.mark.parametrize("mode", MODES)
def test_build_on_a_full_disk_is_one_line_and_keeps_the_old_index(tmp_path: Path, mode: str) -> None:
    report, err = _run_disk_child(tmp_path, mode, ROOM["index"], "build")
    assert report["rc"] == 2
    line = _one_line_error(err)
    assert CAUSE[mode] in line and "ftzqa build" in line, line
    assert report["left"] == [] and report["indexed"] == ["bakery.txt", "rivers.md"]


@pytest.mark.embedded_only("fills the disk under the index folder's files")
@pytest.mark.parametrize("mode", MODES)
def test_app_serves_the_last_good_index_when_the_disk_is_full(tmp_path: Path, mode: str) -> None:
    report, _ = _run_disk_child(tmp_path, mode, ROOM["index"], "serve")
    assert "kept the existing index" in report["start"]
    assert "2 documents" in report["status"] and "could not be updated" in report["status"]
    assert CAUSE[mode] in report["status"] and str(tmp_path) not in report["status"]
    assert report["answer"]["hits"][0]["doc_id"] == "rivers.md"
    assert report["left"] == []


@pytest.mark.embedded_only("fills the disk under the index folder's files")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("where", list(ROOM))
def test_upload_on_a_full_disk_is_a_clear_message_on_the_page(tmp_path: Path, mode: str, where: str) -> None:
    report, _ = _run_disk_child(tmp_path, mode, ROOM[where], "upload")
    text = " ".join(report["lines"])
    assert text.startswith("nothing added: cannot ") and CAUSE[mode] in text and "unexpectedly" not in text
    assert str(tmp_path) not in text  # no server paths on the page
    assert report["left"] == [] and report["corpus"] == ["bakery.txt", "rivers.md"]
    assert "2 documents" in report["status"]


def test_storage_errors_are_typed() -> None:
    assert issubclass(StorageError, FtzqaError) and issubclass(StorageError, OSError)


# --- restart after a kill: serve the old index at once, refresh in the background ---------------------


class SlowEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def encode(self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        if any("Comet" in text for text in texts):  # the new documents' passages: a build
            self.release.wait(60)
        return super().encode(texts, batch_size=batch_size, show_progress=show_progress)


def test_stale_index_is_served_at_once_and_refreshed_in_the_background(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    build(corpus, index, embedder=FakeEmbedder())
    write_corpus(corpus, {f"doc{i}.md": f"# Doc {i}\n\nComet number {i} is bright." for i in range(5)})
    embedder = SlowEmbedder()
    service = Service(corpus, index, FAKE, embedder=embedder)
    message = service.start(background=True)  # returns while the build waits on the embedder
    assert "updating" in message
    answer = service.ask_dict("How long is the Danube?", 1)
    assert answer["hits"][0]["doc_id"] == "rivers.md"  # the old index answers meanwhile
    assert "2 documents" in service.status_line() and "updating" in service.status_line()
    embedder.release.set()
    assert service.wait_for_update(timeout=60)
    assert "7 documents" in service.status_line() and "updating" not in service.status_line()
    assert service.ask_dict("Which comet is bright?", 1)["hits"][0]["doc_id"].startswith("doc")


def test_background_refresh_failure_keeps_the_old_index_with_a_warning(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    build(corpus, index, embedder=FakeEmbedder())
    (corpus / "new.md").write_text("# New\n\nNew text.", encoding="utf-8")

    class Broken(FakeEmbedder):
        def encode(self, texts: list[str], **kw: object) -> np.ndarray:
            if any("New" in text for text in texts):  # the new document's passages: the build fails
                raise StorageError("cannot write the index: No space left on device; free some disk space")
            return super().encode(texts)

    service = Service(corpus, index, FAKE, embedder=Broken())
    service.start(background=True)
    assert service.wait_for_update(timeout=60)
    status = service.status_line()
    assert "2 documents" in status and "could not be updated" in status and "No space" in status
    assert service.ask_dict("How long is the Danube?", 1)["hits"][0]["doc_id"] == "rivers.md"


@pytest.mark.embedded_only("generation folders and CURRENT")
def test_no_tmp_files_after_a_failed_generation(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    build(corpus, index, embedder=FakeEmbedder())
    started = time.time()
    (corpus / "x.md").write_text("# X\n\nSome text.", encoding="utf-8")
    _current_is_a_directory(index, tmp_path)
    with pytest.raises(IndexMismatchError):
        build(corpus, index, embedder=FakeEmbedder())
    assert not list(index.glob(".tmp-*")) and not list(index.glob(".CURRENT.*"))
    assert all(p.stat().st_mtime < started for p in index.glob("gen-*"))
