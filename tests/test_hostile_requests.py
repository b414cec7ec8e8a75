"""Hostile requests (issue 9, findings 5 and 8): bounded work per request, safe output.

HTTP-level checks against the real app.py (k over the API, a lone surrogate in the stream,
uploads and the cache, who may add) are in test_access.py; the question bubble in Chromium is in
test_browser.py.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import FakeEmbedder, write_corpus

from ftzqa import cli
from ftzqa.errors import InvalidQueryError
from ftzqa.index import build
from ftzqa.retrieve import Retriever, check_k, check_question
from ftzqa.sanitize import json_safe, redact_paths, terminal_safe, without_surrogates
from ftzqa.settings import MAX_K, Settings
from ftzqa.web.service import Service

FAKE = Settings(model="fake-model")
# Only a full scan (or worse) of the question can take this long; the length check is O(1).
REFUSAL_TIMEOUT = 1.0  # s, for a 30-million-character question (it took 6 s before)


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ftzqa.embed.SentenceTransformerEmbedder", lambda *a, **k: FakeEmbedder())


@pytest.fixture
def service(tmp_path: Path) -> Service:
    svc = Service(write_corpus(tmp_path / "corpus"), tmp_path / "index", FAKE, embedder=FakeEmbedder())
    svc.start()
    return svc


# --- k --------------------------------------------------------------------------------------------------


def test_k_above_the_maximum_is_refused_in_the_python_api(tiny_index: Path) -> None:
    retriever = Retriever.load(tiny_index, embedder=FakeEmbedder())
    with pytest.raises(InvalidQueryError, match=r"^k of 51 is more than the 50 allowed; pass k from 1 to 50$"):
        retriever.search("Danube", k=51)
    assert len(retriever.search("Danube", k=MAX_K).hits) == 5  # every passage the index has
    for bad in (100_000, 10**5000, "5" * 1000):
        with pytest.raises(InvalidQueryError) as caught:
            check_k(bad)
        assert len(str(caught.value)) < 200  # the message names the value without repeating all of it


def test_k_above_the_maximum_is_one_line_in_the_cli(
    tiny_index: Path, tiny_corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["ask", "Danube", "-k", "100000", "--index", str(tiny_index)]) == 2
    err = capsys.readouterr().err
    assert err == "ftzqa: error: k of 100000 is more than the 50 allowed; pass k from 1 to 50\n"


def test_k_above_the_maximum_is_an_error_in_the_web_api(service: Service) -> None:
    expected = "k of 100000 is more than the 50 allowed; pass k from 1 to 50"
    assert service.ask_dict("Danube", 100_000) == {"error": expected}


# --- question length: checked before any other work --------------------------------------------------------


HUGE = "x" * 30_000_000


def _refused_quickly(call: object, *args: object) -> str:
    started = time.perf_counter()
    try:
        result = call(*args)  # type: ignore[operator]
    except InvalidQueryError as exc:
        result = str(exc)
    elapsed = time.perf_counter() - started
    assert elapsed < REFUSAL_TIMEOUT, f"took {elapsed:.2f} s"
    return json.dumps(result)


def test_a_30_million_character_question_is_refused_at_once(tiny_index: Path, service: Service) -> None:
    expected = "the question is 30,000,000 characters long, more than the 2,000 allowed"
    assert expected in _refused_quickly(check_question, HUGE, 2000)
    assert expected in _refused_quickly(Retriever.load(tiny_index, embedder=FakeEmbedder()).search, HUGE)
    assert expected in _refused_quickly(service.ask_dict, HUGE)
    from ftzqa.web.ui import make_respond

    assert expected in _refused_quickly(make_respond(service), HUGE, [], 3, "hybrid", "How long is the Danube?")


def test_surrounding_spaces_do_not_count_and_controls_become_spaces() -> None:
    assert check_question("  What is\x00the Danube?\u202e  " + " " * 5000, 2000) == "What is the Danube?"
    with pytest.raises(InvalidQueryError, match="2,001 characters"):
        check_question(" " + "y" * 2001 + " ", 2000)


# --- uploads -------------------------------------------------------------------------------------------------


def _upload(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_passages_per_upload_are_capped(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    service = Service(corpus, tmp_path / "index", Settings(model="fake-model", max_upload_passages=10),
                      embedder=FakeEmbedder())
    service.start()
    big = _upload(tmp_path / "up", "big.md", "# Big\n\n" + "\n\n".join(f"Paragraph {i} on comets." for i in range(30)))
    small = _upload(tmp_path / "up", "small.md", "# Small\n\nGeysers spout water.")
    lines = service.add([big, small])
    assert lines[0] == "added small.md"
    assert lines[1] == (
        "big.md: 30 passages, and one upload may add at most 10 (FTZQA_MAX_UPLOAD_PASSAGES); "
        "split the file, or add it on the server with: ftzqa add"
    )
    assert sorted(p.name for p in corpus.iterdir()) == ["bakery.txt", "rivers.md", "small.md"]


class BlockingEmbedder(FakeEmbedder):
    """Holds every build until released, so uploads stay in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.building = threading.Event()
        self.release = threading.Event()

    def encode(self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        if any("Upload" in t for t in texts):
            self.building.set()
            self.release.wait(60)
        return super().encode(texts, batch_size=batch_size, show_progress=show_progress)


def test_uploads_in_flight_are_capped(tmp_path: Path) -> None:
    embedder = BlockingEmbedder()
    service = Service(write_corpus(tmp_path / "corpus"), tmp_path / "index",
                      Settings(model="fake-model", max_uploads_in_flight=2), embedder=embedder)
    service.start()
    files = [_upload(tmp_path / f"up{i}", f"u{i}.md", f"# Upload {i}\n\nUpload number {i}.") for i in range(3)]
    results: dict[int, list[str]] = {}
    second_checking = threading.Event()

    def add(i: int) -> None:
        def progress(fraction: float, text: str) -> None:
            if i == 1 and text == "checking the files":
                second_checking.set()

        results[i] = service.add([files[i]], progress)

    first = threading.Thread(target=add, args=(0,))
    first.start()
    assert embedder.building.wait(30)  # the first upload is being indexed
    second = threading.Thread(target=add, args=(1,))
    second.start()
    assert second_checking.wait(30)  # the second holds the other slot, waiting for the first
    add(2)  # refused at once, while both are still in flight
    assert results[2] == ["2 uploads are already being indexed or waiting; try again when they are done"]
    embedder.release.set()
    first.join(60)
    second.join(60)
    assert results[0][0] == "added u0.md" and results[1][0] == "added u1.md"
    assert service.add([files[2]])[0] == "added u2.md"  # a slot is free again


def test_processed_uploads_are_removed_from_gradios_cache(
    tmp_path: Path, service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "gradio-cache"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    from ftzqa.web.ui import make_add

    uploaded = [
        _upload(cache / "a1", "comets.md", "# Comets\n\nHalley's comet returns every 76 years."),
        _upload(cache / "b2", "bad.exe", "MZ"),
    ]
    elsewhere = _upload(tmp_path / "mine", "keep.md", "# Keep\n\nNot in the cache.")
    shown, status, cleared = make_add(service)([*map(str, uploaded), str(elsewhere)], None, lambda *a, **k: None)
    assert "Added comets.md" in shown and "unsupported file type" in shown and cleared is None
    assert not list(cache.rglob("*")) and elsewhere.exists()


# --- output safety -------------------------------------------------------------------------------------------

EVIL = (
    "---\ntitle: Comets\x1b]0;pwned\x07\n---\n\n# Comets\n\n"
    "Halley's comet\x1b[2J\x1b[H returns every 76 years\x9b31m \u202eevil\u202c.\x07\r\n"
)


def test_ask_prints_no_terminal_controls_but_json_stays_exact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = write_corpus(tmp_path / "corpus", {"comets.md": EVIL})
    index = tmp_path / "index"
    build(corpus, index, embedder=FakeEmbedder())
    question = "When does Halley's comet\x1b]2;owned\x07 return?"
    assert cli.main(["ask", question, "--index", str(index), "-k", "1"]) == 0
    out = capsys.readouterr().out
    assert not set(out) & {"\x1b", "\x07", "\x9b", "\u202e", "\u202c", "\r"}
    assert "Halley's comet returns every 76 years31m evil." in out and "Comets" in out
    assert cli.main(["ask", question, "--index", str(index), "-k", "1", "--json"]) == 0
    raw = capsys.readouterr().out
    assert not set(raw) & {"\x1b", "\x07", "\x9b", "\u202e"}
    text = json.loads(raw)["hits"][0]["text"]
    assert "\x1b[2J\x1b[H" in text and "\x9b31m \u202eevil\u202c" in text  # exact document text


def test_terminal_safe_and_json_safe() -> None:
    assert terminal_safe("a\x1b[1;31mb\x1b]8;;http://x\x1b\\c\x1bPq#0\x1b\\d\te\nf\x85g\u2066h") == "abcd\te\nfgh"
    assert json.loads(json_safe(json.dumps({"t": "x\x9by\u202e"}, ensure_ascii=False))) == {"t": "x\x9by\u202e"}
    assert without_surrogates("a\ud800b\ud83d\ude00") == "a\ufffdb\U0001f600"


@pytest.mark.embedded_only("damages a segment file")
def test_errors_on_the_page_never_show_server_paths(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    index = tmp_path / "srv" / "index"
    Service(corpus, index, FAKE, embedder=FakeEmbedder()).start()
    (next(index.glob("segments/seg-*")) / "vectors.npy").unlink()  # messages name absolute paths
    service = Service(corpus, index, FAKE, embedder=FakeEmbedder())
    with caplog.at_level(logging.ERROR):
        service.start()
    error = service.ask_dict("Where is the Danube?")["error"]
    assert "damaged or missing file" in error and "ftzqa build --corpus corpus --index index" in error
    for shown in (error, service.status_line()):
        assert str(tmp_path) not in shown and "/srv/" not in shown
    assert str(index) in caplog.text  # the full message is in the server log
    from ftzqa.web.ui import make_respond

    _, history, _ = make_respond(service)("Where is the Danube?", [], 3, "hybrid", None)
    assert "damaged or missing file" in history[-1]["content"] and str(tmp_path) not in history[-1]["content"]


def test_redact_paths_keeps_relative_names() -> None:
    text = "no index at '/srv/data/index'; cannot open /opt/faiss/io.cpp:68 or docs/a.md, 1/2 done"
    assert redact_paths(text, {"/srv/data/index": "index"}) == (
        "no index at 'index'; cannot open io.cpp:68 or docs/a.md, 1/2 done"
    )


def test_a_lone_surrogate_in_a_question_is_cleaned(service: Service) -> None:
    import orjson  # what Gradio encodes responses with: it refuses lone surrogates

    answer = service.ask_dict("\ud800How long is the Danube?\udfff", 1)
    assert answer["question"] == "How long is the Danube?"
    orjson.dumps(answer)
    from ftzqa.web.ui import make_respond

    _, history, previous = make_respond(service)("\ud800How long is the Danube?", [], 1, "hybrid", None)
    orjson.dumps(history)
    assert history[0]["content"] == '<div class="fq-question">\ufffdHow long is the Danube?</div>'
    assert previous == "How long is the Danube?"


def test_the_question_bubble_is_plain_text(service: Service) -> None:
    from ftzqa.web.ui import make_respond

    _, history, _ = make_respond(service)("![i](x) **bold** <img src=x>\n\nsecond", [], 1, "hybrid", None)
    assert history[0]["content"] == (
        '<div class="fq-question">![i](x) **bold** &lt;img src=x&gt;<br><br>second</div>'
    )  # one raw HTML block: Markdown is not applied inside it, and nothing in it is markup
