from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FakeEmbedder, store_args

from ftzqa import cli


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI loads sentence-transformers; these tests use the fake embedder instead."""
    monkeypatch.setattr("ftzqa.embed.SentenceTransformerEmbedder", lambda *a, **k: FakeEmbedder())


def test_build_then_ask_json(tiny_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    idx = str(tmp_path / "idx")
    assert cli.main(["build", "--corpus", str(tiny_corpus), "--index", idx]) == 0
    assert "indexed 2 documents, 5 passages" in capsys.readouterr().out
    assert (
        cli.main(
            [
                "ask",
                "How long is the Danube?",
                "--index",
                idx,
                "--corpus",
                str(tiny_corpus),
                "--json",
                "-k",
                "2",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["question"] == "How long is the Danube?" and len(data["hits"]) == 2
    assert "2,850" in data["hits"][0]["text"]


def test_ask_text_marks_the_evidence(
    tiny_index: Path, tiny_corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli.main(["ask", "How long is the Danube?", "--index", str(tiny_index), "--corpus", str(tiny_corpus)])
        == 0
    )
    out = capsys.readouterr().out
    assert "**It is 2,850 kilometres long.**" in out and "[rivers.md]" in out


def test_stale_index_warns_with_the_command(
    tiny_index: Path, tiny_corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tiny_corpus / "more.md").write_text("Extra text.", encoding="utf-8")
    assert cli.main(["ask", "Danube", "--index", str(tiny_index), "--corpus", str(tiny_corpus)]) == 0
    err = capsys.readouterr().err
    where = " ".join(store_args(tiny_index)) or f"--index {tiny_index}"  # the store the index is in
    assert "stale" in err and f"ftzqa build --corpus {tiny_corpus} {where}" in err


def test_add_command(
    tiny_index: Path, tiny_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "new.md"
    doc.write_text("Glaciers carve valleys.", encoding="utf-8")
    assert cli.main(["add", str(doc), "--corpus", str(tiny_corpus), "--index", str(tiny_index)]) == 0
    assert "added 1 file(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ask", "", "--index", "{idx}"], "question is empty"),
        (["ask", "q", "-k", "0", "--index", "{idx}"], "k of 0"),
        (["ask", "q", "--index", "{tmp}/none"], "no index at"),
        (["build", "--corpus", "{tmp}/none", "--index", "{tmp}/i"], "does not exist"),
        (["ask", "q", "--index", "{idx}", "--model", "other"], "built with model"),
    ],
)
def test_errors_exit_2_with_one_line(
    argv: list[str], message: str, tiny_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [a.format(idx=tiny_index, tmp=tmp_path) for a in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.embedded_only("a child process opens the session's article index, which Milvus Lite lets one process hold")
def test_a_reader_that_goes_away_stops_the_cli_quietly(article_index: Path) -> None:
    """``ftzqa ask ... | head -0``: the pipe is closed before the answer is written; the CLI stops
    with SIGPIPE's status and no traceback or error line."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    read, write = os.pipe()
    os.close(read)  # nobody will ever read the answer
    try:
        done = subprocess.run(
            [sys.executable, "-c", "import sys; from ftzqa.cli import main; sys.exit(main(sys.argv[1:]))",
             "ask", "yunnan exports to vietnam", "--index", str(article_index)],
            stdout=write, stderr=subprocess.PIPE, text=True, env=env, timeout=300, check=False,
        )
    finally:
        os.close(write)
    assert done.returncode == 141, done.stderr
    assert done.stderr == ""


def test_a_skipped_file_is_reported_once(
    tiny_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    (tiny_corpus / "notes.docx").write_text("not a zip archive", encoding="utf-8")
    caplog.set_level("WARNING")
    idx = tmp_path / "idx"
    assert cli.main(["build", "--corpus", str(tiny_corpus), "--index", str(idx), *store_args(idx)]) == 0
    err = capsys.readouterr().err
    assert err.count("notes.docx") == 1 and "skipped notes.docx: is not a .docx document" in err
    assert not [r for r in caplog.records if "notes.docx" in r.getMessage()]
