"""README's command-line examples run as written (issue 11, point 1), so README and code cannot drift.

The shell blocks of README.md that call ``ftzqa`` are read from the README itself and run the way
a user would: each ``$ `` line through bash, after ``source .venv/bin/activate`` (the line README
gives for putting ``ftzqa`` on the PATH), in a folder holding a copy of the repository's corpus,
with the real model. The output README shows under a command must appear in what it prints, in
order (``[...]`` stands for elided text, and timings such as ``13.2 s`` may differ); an output
line ending in ``(exit code N)`` gives the exit code, otherwise it is 0. Commands that start a
server or run until Ctrl-C (``python app.py``, ``make``, ``ftzqa watch``) and lines marked
``# (illustrative)`` are not run: each is checked to be one of those.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import REPO, store_args

README = REPO / "README.md"
SHELLS = {"console", "bash", "sh", "shell"}
NOT_RUN = ("python app.py", "make ", "ftzqa watch")  # servers and commands that run until Ctrl-C
ILLUSTRATIVE = "(illustrative)"
EXIT = re.compile(r"\s+\(exit code (\d+)\)$")
TIMING = re.compile(r"\b\d+(?:\.\d+)? s\b")  # "13.2 s"
COMMAND_TIMEOUT = 600  # s: the first build loads torch and embeds the article on a busy machine


@dataclass
class Example:
    command: str
    line: int
    output: list[str] = field(default_factory=list)
    exit_code: int = 0


def blocks(text: str) -> list[tuple[str, int, list[str]]]:
    """(language, first line number, lines) of every fenced block."""
    out, current, lang, start = [], None, "", 0
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("```"):
            if current is None:
                current, lang, start = [], line[3:].strip().lower(), number + 1
            else:
                out.append((lang, start, current))
                current = None
        elif current is not None:
            current.append(line)
    return out


def examples(text: str) -> list[Example]:
    """The commands (with their shown output) of the shell blocks that call ftzqa, in README order."""
    found: list[Example] = []
    for lang, start, lines in blocks(text):
        if lang not in SHELLS:
            continue
        commands: list[Example] = []
        for offset, line in enumerate(lines):
            if lang == "console":
                if line.startswith("$ "):
                    commands.append(Example(line[2:].strip(), start + offset))
                elif commands and line.strip():
                    shown = line.strip()
                    code = EXIT.search(shown)
                    if code:
                        commands[-1].exit_code = int(code.group(1))
                        shown = shown[: code.start()].rstrip()
                    commands[-1].output.append(shown)
            elif line.strip() and not line.lstrip().startswith("#"):
                commands.append(Example(line.strip(), start + offset))
        if any(c.command.startswith("ftzqa ") for c in commands):
            found += commands
    return found


def skipped(example: Example) -> bool:
    return example.command.startswith(NOT_RUN) or ILLUSTRATIVE in example.command


def pattern(shown: str) -> re.Pattern[str]:
    """``shown`` as a regular expression: literal, but ``[...]`` matches anything and a timing any timing."""

    def literal(text: str) -> str:
        return re.escape(text).replace(re.escape("[...]"), ".*")

    parts, last = [], 0
    for m in TIMING.finditer(shown):
        parts += [literal(shown[last : m.start()]), r"[\d.]+ s"]
        last = m.end()
    return re.compile("".join([*parts, literal(shown[last:])]))


def missing_output(shown: list[str], printed: str) -> str | None:
    """The first shown line not found (in order) in the printed lines, or None."""
    lines = [line.strip() for line in printed.splitlines()]
    at = 0
    for expected in shown:
        regex = pattern(expected)
        while at < len(lines) and not regex.fullmatch(lines[at]):
            at += 1
        if at == len(lines):
            return expected
        at += 1
    return None


def test_readme_has_cli_examples_to_run() -> None:
    found = examples(README.read_text(encoding="utf-8"))
    run = [e for e in found if not skipped(e)]
    assert sum(e.command.startswith("ftzqa ") for e in run) >= 6, [e.command for e in found]
    assert any(e.command.startswith("ftzqa remove") for e in run) and any(e.exit_code == 2 for e in run)
    assert "source .venv/bin/activate" in README.read_text(encoding="utf-8")


def test_pattern_rules() -> None:
    assert missing_output(["indexed 1 documents in 13.2 s"], "x\nindexed 1 documents in 9.0 s\n") is None
    assert missing_output(["[1] a [...] c"], "[1] a bbb c") is None
    assert missing_output(["a", "b"], "b\na") == "b"  # order matters
    assert missing_output(["score 0.97"], "score 0.98") == "score 0.97"  # only timings are loose


@pytest.mark.slow
def test_every_readme_cli_example_runs_as_written(tmp_path: Path) -> None:
    work = tmp_path / "clone"
    work.mkdir()
    shutil.copytree(REPO / "corpus", work / "corpus")
    venv = Path(sys.prefix)  # the virtualenv running the tests, as `make` creates it: .venv/
    (work / ".venv").symlink_to(venv, target_is_directory=True)
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FTZQA_INDEX_DIR", "FTZQA_CORPUS_DIR")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(venv)))
    if store_args(work / "index"):  # pytest --store milvus: the same commands and output over Milvus Lite
        env["FTZQA_STORE"] = store_args(work / "index")[1]
    ran = 0
    for example in examples(README.read_text(encoding="utf-8")):
        if skipped(example):
            continue
        done = subprocess.run(
            ["bash", "-c", f"source .venv/bin/activate && {example.command}"], cwd=work, env=env,
            capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
        )
        printed = done.stdout + done.stderr
        where = f"README.md line {example.line}: $ {example.command}\n--- printed:\n{printed}"
        assert done.returncode == example.exit_code, where
        gap = missing_output(example.output, printed)
        assert gap is None, f"{where}\n--- README shows, but it did not print:\n{gap}"
        ran += 1
    assert ran >= 6
