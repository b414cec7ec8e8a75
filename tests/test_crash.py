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
    assert len(after.passages) in (len(before.passages), len(before.passages) + 80)
    answer = Retriever(after, FakeEmbedder()).search("How long is the Danube?", k=1)
    assert "2,850" in answer.hits[0].text
    # the next build is not blocked by the dead one and completes
    summary = build(corpus, index_dir, embedder=FakeEmbedder())
    assert summary.passages == len(before.passages) + 80


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
    docs = {p.doc_id for p in load_index(index_dir).passages}
    assert {"alpha.md", "beta.md", "rivers.md", "bakery.txt"} <= docs
