"""Crash and concurrency safety: kill -9 mid-build, and two writers at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import FakeEmbedder, write_corpus

from ftzqa.index import build, load_index
from ftzqa.retrieve import Retriever

# Milvus Lite opens a file in one process at a time; the Milvus store's interrupted change is in test_milvus.py
pytestmark = pytest.mark.embedded_only("kill -9 of a child writing segment files, writers in two processes")

TESTS = Path(__file__).parent

# A child process that builds (or adds) with a slow fake embedder, so it can be killed mid-way.
CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from conftest import FakeEmbedder
    from ftzqa.index import build
    from ftzqa.ingest import add

    class Slow(FakeEmbedder):
        def encode(self, texts, **kw):
            out = []
            for t in texts:
                time.sleep({delay})
                out.append(super().encode([t])[0])
            import numpy as np
            return np.stack(out)

    cmd = sys.argv[1]
    if cmd == "build":
        build(sys.argv[2], sys.argv[3], embedder=Slow())
    else:
        add(sys.argv[4:], sys.argv[2], sys.argv[3], embedder=Slow())
    print("done", flush=True)
    """
)


def _child(tmp_path: Path, delay: float) -> Path:
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(tests=str(TESTS), delay=delay), encoding="utf-8")
    return script


def _many_docs(n: int) -> dict[str, str]:
    return {f"doc{i:03d}.md": f"# Doc {i}\n\nTopic number {i} is about item{i}.\n\nMore on item{i}." for i in range(n)}


@pytest.mark.parametrize("kill_after", [0.3, 0.9, 1.6, 2.4])
def test_kill_9_during_build_leaves_previous_index_working(tmp_path: Path, kill_after: float) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    index_dir = tmp_path / "index"
    build(corpus, index_dir, embedder=FakeEmbedder())
    before = load_index(index_dir)
    write_corpus(corpus, _many_docs(40))  # 80 new passages at 30 ms each: ~2.4 s of embedding
    proc = subprocess.Popen(
        [sys.executable, str(_child(tmp_path, 0.03)), "build", str(corpus), str(index_dir)],
        stdout=subprocess.PIPE,
    )
    time.sleep(kill_after)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    after = load_index(index_dir)  # old or (if it finished) new, never broken
    assert after.passage_count in (before.passage_count, before.passage_count + 80)
    answer = Retriever(after, FakeEmbedder()).search("How long is the Danube?", k=1)
    assert "2,850" in answer.hits[0].text
    # the next build is not blocked by the dead one and completes
    summary = build(corpus, index_dir, embedder=FakeEmbedder())
    assert summary.passages == before.passage_count + 80


def test_two_concurrent_adds_lose_nothing(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    index_dir = tmp_path / "index"
    build(corpus, index_dir, embedder=FakeEmbedder())
    script = _child(tmp_path, 0.05)
    files = []
    for name in ("alpha.md", "beta.md"):
        f = tmp_path / name
        topic = name[:-3]
        f.write_text(f"# {name}\n\nThe {topic} file talks about {topic}s.\n\nSecond paragraph.", encoding="utf-8")
        files.append(f)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), "add", str(corpus), str(index_dir), str(f)], stdout=subprocess.PIPE
        )
        for f in files
    ]
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0 and b"done" in out
    docs = {p.doc_id for p in load_index(index_dir).iter_passages()}
    assert {"alpha.md", "beta.md", "rivers.md", "bakery.txt"} <= docs


# A child that compacts (folding is slowed down, so it can be killed in the middle) or adds a file.
COMPACT_CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from conftest import FakeEmbedder
    import ftzqa.storage.segment as segment
    from ftzqa.index import compact
    from ftzqa.ingest import add
    from ftzqa.settings import Settings

    slow = segment.bm25.merge
    def merge(*args, **kwargs):
        print("merging", flush=True)
        time.sleep({delay})
        return slow(*args, **kwargs)
    segment.bm25.merge = merge
    settings = Settings(model="fake-model", ann_threshold=10)
    if sys.argv[1] == "compact":
        compact(sys.argv[2], settings)
    else:
        add(sys.argv[4:], sys.argv[3], sys.argv[2], settings, embedder=FakeEmbedder())
    print("done", flush=True)
    """
)


def _segmented(tmp_path: Path) -> tuple[Path, Path]:
    """An index of several segments with a removed document."""
    from ftzqa.index import remove
    from ftzqa.ingest import add
    from ftzqa.settings import Settings

    settings = Settings(model="fake-model", ann_threshold=10)
    corpus = write_corpus(tmp_path / "corpus")
    index_dir = tmp_path / "index"
    build(corpus, index_dir, settings, embedder=FakeEmbedder())
    for i in range(4):
        f = tmp_path / f"extra{i}.md"
        f.write_text(f"# Extra {i}\n\nComet number {i} is bright.\n\nItem{i} orbits slowly.", encoding="utf-8")
        add([f], corpus, index_dir, settings, embedder=FakeEmbedder())
    remove(["extra1.md"], corpus, index_dir, settings)
    return corpus, index_dir


@pytest.mark.parametrize("kill_after", [0.2, 0.8, 1.6])
def test_kill_9_during_compaction_leaves_a_working_index(tmp_path: Path, kill_after: float) -> None:
    corpus, index_dir = _segmented(tmp_path)
    before = load_index(index_dir)
    script = tmp_path / "compact_child.py"
    script.write_text(COMPACT_CHILD.format(tests=str(TESTS), delay=1.0), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script), "compact", str(index_dir)], stdout=subprocess.PIPE)
    time.sleep(kill_after)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    after = load_index(index_dir)  # the old generation, or the compacted one if it finished
    assert after.passage_count == before.passage_count == 11
    assert len(after.infos) in (len(before.infos), 1)
    answer = Retriever(after, FakeEmbedder()).search("How long is the Danube?", k=1)
    assert "2,850" in answer.hits[0].text
    from ftzqa.index import compact
    from ftzqa.settings import Settings

    summary = compact(index_dir, Settings(model="fake-model", ann_threshold=10))  # not blocked, and cleans up
    assert summary.segments == 1 and summary.passages == 11
    names = {p.name for p in (index_dir / "segments").iterdir()}
    assert not any(n.startswith(".tmp-") for n in names)
    from ftzqa.storage.writer import referenced_segments

    assert names == referenced_segments(index_dir)


def test_add_during_compaction_waits_for_it_and_loses_nothing(tmp_path: Path) -> None:
    corpus, index_dir = _segmented(tmp_path)
    script = tmp_path / "compact_child.py"
    script.write_text(COMPACT_CHILD.format(tests=str(TESTS), delay=1.5), encoding="utf-8")
    new = tmp_path / "late.md"
    new.write_text("# Late\n\nThe late file talks about lanterns.\n\nSecond paragraph.", encoding="utf-8")
    compacting = subprocess.Popen([sys.executable, str(script), "compact", str(index_dir)], stdout=subprocess.PIPE)
    assert compacting.stdout is not None and compacting.stdout.readline().strip() == b"merging"
    started = time.monotonic()
    adding = subprocess.Popen(
        [sys.executable, str(script), "add", str(index_dir), str(corpus), str(new)], stdout=subprocess.PIPE
    )
    out, _ = adding.communicate(timeout=120)
    assert adding.returncode == 0 and b"done" in out
    assert time.monotonic() - started > 0.5  # it waited for the compaction's lock
    rest, _ = compacting.communicate(timeout=120)
    assert compacting.returncode == 0 and b"done" in rest
    store = load_index(index_dir)
    assert {p.doc_id for p in store.iter_passages()} == {"rivers.md", "bakery.txt", "extra0.md", "extra2.md",
                                                         "extra3.md", "late.md"}
    assert store.manifest["removed_passages"] == 0 and len(store.infos) == 2  # compacted, then the add
    assert "lanterns" in Retriever(store, FakeEmbedder()).search("lanterns", k=1).hits[0].text
