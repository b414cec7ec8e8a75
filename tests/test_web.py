"""The web page without a browser: rendering, the follow-up rule, uploads, the service, /ask."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeEmbedder, write_corpus

from ftzqa.index import build
from ftzqa.settings import Settings
from ftzqa.types import Answer, Document, Hit, Passage, Span
from ftzqa.web.followup import content_words, first_name, resolve
from ftzqa.web.render import highlight, render_answer, render_error, surrounding
from ftzqa.web.service import Service
from ftzqa.web.uploads import check_upload

FAKE = Settings(model="fake-model")

DOC_TEXT = (
    "# Zones\n\nFirst paragraph about <b>tags</b> & things.\n\n## Trade\n\n"
    "Exports grew fast. Imports reached 5 billion yuan.\n\nLast paragraph here."
)


def _doc() -> Document:
    return Document(doc_id="zones.md", title="Zones & <Co>", text=DOC_TEXT, sha256="x")


def _hit(rank: int, score: float, sentence: str = "Imports reached 5 billion yuan.") -> Hit:
    text = "Exports grew fast. Imports reached 5 billion yuan."
    start = DOC_TEXT.index(text)
    passage = Passage("zones.md", "Zones & <Co>", "Trade", 2, start, start + len(text), text)
    ev = DOC_TEXT.index(sentence)
    return Hit(rank=rank, score=score, passage=passage, evidence=Span(ev, ev + len(sentence), sentence))


# --- rendering ---------------------------------------------------------------------------------


def test_found_answer_shows_citation_relevance_highlight_and_context() -> None:
    answer = Answer("How much were imports?", True, [_hit(1, 0.8), _hit(2, 0.2, "Exports grew fast.")], 0.87)
    html = render_answer(answer, {"zones.md": _doc()})
    assert "Found in your documents" in html and "confidence 87%" in html
    assert '<span class="fq-num">[1]</span>' in html and '<span class="fq-num">[2]</span>' in html
    assert "Zones &amp; &lt;Co&gt;" in html and "§ Trade" in html and "¶ 2" in html
    assert "Exports grew fast. <mark>Imports reached 5 billion yuan.</mark>" in html
    assert "width:100%" in html and "width:25%" in html  # relevance relative to the best hit
    assert "<details" in html and "Show surrounding context" in html
    assert "First paragraph about &lt;b&gt;tags&lt;/b&gt; &amp; things." in html  # context, escaped
    assert "Last paragraph here." in html
    assert "<b>" not in html and "\n" not in html  # one raw HTML line, nothing unescaped


def test_found_answer_shows_the_words_its_passage_lacks_on_their_own_line() -> None:
    reason = "Matched: yunnan · vietnam; not in this passage: imports"
    html = render_answer(Answer("yunnan imports from vietnam", True, [_hit(1, 1.0)], 0.7, reason=reason), {})
    assert '<div class="fq-why">Matched: yunnan · vietnam</div>' in html
    assert '<div class="fq-unmatched">Not in this passage: imports</div>' in html
    plain = render_answer(Answer("q", True, [_hit(1, 1.0)], 0.7, reason="Matched: yunnan"), {})
    assert '<div class="fq-why">Matched: yunnan</div>' in plain and "fq-unmatched" not in plain


def test_not_found_says_so_and_offers_nearest_passages() -> None:
    html = render_answer(Answer("Capital of France?", False, [_hit(1, 0.3)], 0.01), {"zones.md": _doc()})
    assert "Not found" in html and "Nearest passages, but not an answer" in html
    assert "fq-nearest" in html and "Found in your documents" not in html


def test_follow_up_rule_is_shown_with_the_searched_question() -> None:
    html = render_answer(Answer("What were Yunnan's exports?", True, [_hit(1, 1.0)], 0.9), {}, rule="r<1>")
    assert "Searched for “What were Yunnan&#x27;s exports?” (r&lt;1&gt;)" in html
    assert "<details" not in html  # no document text known: no context, still an answer


def test_highlight_uses_offsets_and_survives_a_bad_span() -> None:
    assert highlight(_hit(1, 1.0, "Exports grew fast.")).startswith("<mark>Exports grew fast.</mark> Imports")
    hit = _hit(1, 1.0)
    bad = Hit(1, 1.0, hit.passage, Span(0, 3, "# Z"))  # outside the passage
    assert highlight(bad) == "Exports grew fast. Imports reached 5 billion yuan."


def test_surrounding_takes_whole_paragraphs_and_partial_ones() -> None:
    text = "A one.\n\nB two.\n\nC three. C four.\n\nD five."
    mid = text.index("C four.")
    before, after = surrounding(text, mid, mid + len("C four."), paragraphs=1)
    assert before == ["B two.", "C three."] and after == ["D five."]
    start = text.index("B two.")
    assert surrounding(text, start, start + 6, paragraphs=1) == (["A one."], ["C three. C four."])
    assert surrounding(text, 0, 6, paragraphs=2) == ([], ["B two.", "C three. C four."])


def test_error_is_escaped() -> None:
    assert render_error("bad <input>") == (
        '<div class="fq-answer"><div class="fq-verdict fq-error">⚠ bad &lt;input&gt;</div></div>'
    )


# --- follow-up rule ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "previous", "query"),
    [
        ("And Yunnan?", "What were Heilongjiang's exports?", "What were Yunnan's exports?"),
        ("What about Guangxi?", "How much did Yunnan export to Vietnam?", "How much did Guangxi export to Vietnam?"),
        ("how about the Lingang New Area?", "How many Qilu trains ran?", "How many Lingang New Area trains ran?"),
        ("and in the first half?", "What did Yunnan export?", "What did Yunnan export in the first half?"),
        ("and at Shanghai?", "What did Yunnan export?", "What did Shanghai export?"),
        ("and for the Lingang New Area", "How many Qilu trains ran?", "How many Lingang New Area trains ran?"),
        ("And Yunnan?", "what was the trade volume?", "what was the trade volume Yunnan?"),
        ("How many?", "Qilu trains in July", "Qilu trains in July How many"),
        ("And?", "What did Yunnan export?", "What did Yunnan export?"),
        # stand-alone questions are searched as typed
        ("And how many zones are there?", "What did Yunnan export?", "And how many zones are there?"),
        ("Who is Tang Wenhong?", "What did Yunnan export?", "Who is Tang Wenhong?"),
        ("Andorra's exports?", "What did Yunnan export?", "Andorra's exports?"),
        ("And Yunnan?", None, "And Yunnan?"),
        ("", "What did Yunnan export?", ""),
    ],
)
def test_follow_up_rule(question: str, previous: str | None, query: str) -> None:
    resolved = resolve(question, previous)
    assert resolved.query == query
    assert bool(resolved.rule) == (query != question)


def _similar(word: str, candidates: list[str]) -> list[float]:
    """A stand-in similarity for the rule's logic (the real model's is tested in test_verdict.py)."""
    siblings = {frozenset({"imports", "exports"}), frozenset({"2019", "2020"})}
    return [0.7 if frozenset({word, c}) in siblings else 0.2 for c in candidates]


@pytest.mark.parametrize(
    ("question", "previous", "query", "focus"),
    [
        ("what about imports", "yunnan vietnam exports h1", "yunnan vietnam imports h1", ("imports",)),
        ("And 2019?", "Exports in 2020?", "Exports in 2019?", ("2019",)),
        # nothing close enough, or more than one word: appended as before, with no focus
        ("and the growth", "yunnan vietnam exports h1", "yunnan vietnam exports h1 the growth", ()),
        ("and imports growth", "yunnan vietnam exports h1", "yunnan vietnam exports h1 imports growth", ()),
        # a name still replaces the first name
        ("And Yunnan?", "What were Heilongjiang's exports?", "What were Yunnan's exports?", ("yunnan",)),
    ],
)
def test_a_follow_up_naming_one_thing_replaces_its_closest_word(
    question: str, previous: str, query: str, focus: tuple[str, ...]
) -> None:
    resolved = resolve(question, previous, None, _similar)
    assert resolved.query == query
    if "in place of" in resolved.rule and "Yunnan" not in question:
        assert resolved.rule.endswith("in place of exports") or resolved.rule.endswith("in place of 2020")
    # what the follow-up swapped in is what it asks about: the answer must mention it
    assert resolved.focus == focus


def test_a_lower_case_name_opening_the_previous_question_is_the_one_replaced() -> None:
    names = {"yunnan", "vietnam", "shanghai"}.__contains__
    resolved = resolve("and at shanghai", "yunnan imports from vietnam growth first half", names)
    assert resolved.query == "shanghai imports from vietnam growth first half"
    assert resolved.rule == "follow-up: shanghai in place of yunnan" and resolved.focus == ("shanghai",)
    # a capitalised first word is no name unless the index says so
    assert resolve("And Yunnan?", "What were Heilongjiang's exports?", names).query == "What were Yunnan's exports?"


def test_follow_up_helpers() -> None:
    assert content_words("What is it about Heilongjiang's trade?") == ["heilongjiang", "trade"]
    text = "What were Heilongjiang's exports to Russia?"
    assert first_name(text) == (10, 22)
    assert first_name("Exports of the zone?") is None  # the first word does not count


# --- uploads and the service (fake embedder, no model) -------------------------------------------


def test_check_upload_rejects_what_the_index_would_skip() -> None:
    assert check_upload("notes.md", b"# Notes\n\nSome text.") is None
    assert "unsupported file type" in (check_upload("tool.exe", b"MZ") or "")
    assert "cannot read this PDF" in (check_upload("report.pdf", b"%PDF-1.4") or "")
    assert "binary" in (check_upload("x.txt", b"\x00\x01") or "")
    assert "not UTF-8" in (check_upload("x.txt", b"caf\xe9") or "")
    assert "no text" in (check_upload("x.md", b"   \n") or "")


def test_uploads_get_safe_names_inside_the_corpus(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    service = Service(corpus, tmp_path / "index", FAKE, embedder=FakeEmbedder())
    service.start()
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    files = {"..\\..\\evil.md": "Evil twin text.", ".hidden notes.md": "Hidden text.", "a<b>|c.txt": "Odd name."}
    for name, text in files.items():
        (uploads / name).write_text(text, encoding="utf-8")
    lines = service.add([uploads / name for name in files])
    assert sorted(p.name for p in corpus.iterdir()) == sorted(
        ["bakery.txt", "rivers.md", "evil.md", "hidden notes.md", "a_b_c.txt"]
    )
    assert not list(tmp_path.glob("evil*")) and lines[0].startswith("added ")
    assert {"evil.md", "hidden notes.md", "a_b_c.txt"} <= set(service.retriever.index.documents)


def test_service_builds_missing_index_and_adds_documents(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    service = Service(corpus, tmp_path / "index", FAKE, embedder=FakeEmbedder())
    assert "indexed 2 documents" in service.start()
    assert "2 documents" in service.status_line()
    new = tmp_path / "volcanoes.md"
    new.write_text("# Volcanoes\n\nEtna erupts often on Sicily.", encoding="utf-8")
    bad = tmp_path / "slides.pdf"
    bad.write_bytes(b"%PDF")
    steps: list[str] = []
    lines = service.add([new, bad], lambda fraction, text: steps.append(text))
    assert lines[0] == "added volcanoes.md" and lines[1].startswith("slides.pdf: cannot read this PDF")
    assert lines[2].startswith("indexed 3 documents") and steps[-1] == "done"
    answer, documents = service.ask("Where does Etna erupt?", 1, "bm25")
    assert answer.hits[0].passage.doc_id == "volcanoes.md" and "volcanoes.md" in documents
    again = service.add([new])
    assert again == ["no new documents", "volcanoes.md: same content as volcanoes.md; not added again"]


def test_service_updates_a_stale_index_on_start(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    Service(corpus, tmp_path / "index", FAKE, embedder=FakeEmbedder()).start()
    (corpus / "new.txt").write_text("Fresh text about comets.", encoding="utf-8")
    service = Service(corpus, tmp_path / "index", FAKE, embedder=FakeEmbedder())
    assert "indexed 3 documents" in service.start()
    assert "new.txt" in service.retriever.index.documents


def test_service_picks_up_an_index_written_by_another_process(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    service = Service(corpus, tmp_path / "index", FAKE, embedder=FakeEmbedder())
    service.start()
    (corpus / "comets.md").write_text("# Comets\n\nHalley's comet returns every 76 years.", encoding="utf-8")
    build(corpus, tmp_path / "index", embedder=FakeEmbedder())  # as `ftzqa build` would, elsewhere
    answer, documents = service.ask("When does Halley's comet return?", 1, "bm25")
    assert "comets.md" in documents and answer.hits[0].passage.doc_id == "comets.md"


@pytest.mark.embedded_only("damages a segment file")
def test_service_keeps_a_load_error_and_reports_it_per_question(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    Service(corpus, index, FAKE, embedder=FakeEmbedder()).start()
    (next(index.glob("segments/seg-*")) / "segment.json").write_text("{broken", encoding="utf-8")
    service = Service(corpus, index, FAKE, embedder=FakeEmbedder())
    assert service.start().startswith("error: index at")
    result = service.ask_dict("Where is the Danube?")
    assert "damaged or missing file" in result["error"] and "ftzqa build" in result["error"]
    assert "index not loaded" in service.status_line()


def test_ask_dict_is_answer_to_dict_or_an_error(tmp_path: Path) -> None:
    service = Service(write_corpus(tmp_path / "corpus"), tmp_path / "index", FAKE, embedder=FakeEmbedder())
    service.start()
    result = service.ask_dict("How long is the Danube?", 2)
    assert result == service.ask("How long is the Danube?", 2)[0].to_dict()
    assert service.ask_dict("   ") == {"error": "the question is empty; type a question about your documents"}
    assert "50,000 characters" in service.ask_dict("x" * 50_000)["error"]
    assert "k of 0" in service.ask_dict("Danube", 0)["error"]


# --- the chat handler (Gradio imported, no server) ------------------------------------------------


def test_chat_handler_follow_up_and_errors(tmp_path: Path) -> None:
    from ftzqa.web.ui import make_respond

    service = Service(write_corpus(tmp_path / "corpus"), tmp_path / "index", FAKE, embedder=FakeEmbedder())
    service.start()
    respond = make_respond(service)
    box, history, previous = respond("How long is the Danube?", [], 2, "hybrid", None)
    assert box == "" and previous == "How long is the Danube?" and len(history) == 2
    assert history[0] == {"role": "user", "content": '<div class="fq-question">How long is the Danube?</div>'}
    _, history, previous = respond("And the Rhine?", history, 2, "hybrid", previous)
    assert previous == "How long is the Rhine?" and "Searched for “How long is the Rhine?”" in history[-1]["content"]
    _, history, kept = respond("", history, 2, "hybrid", previous)
    assert kept == previous and "the question is empty" in history[-1]["content"] and len(history) == 5
    _, history, _ = respond("<script>" + "x" * 50_000, history, 2, "hybrid", previous)
    shown = history[-2]["content"]
    assert shown.startswith('<div class="fq-question">&lt;script&gt;xxx') and "(50,008 characters)</div>" in shown
    assert "more than the 2,000 allowed" in history[-1]["content"]


def test_app_flags_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("ftzqa_app", Path(__file__).parents[1] / "app.py")
    assert spec and spec.loader
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    monkeypatch.setenv("FTZQA_INDEX_DIR", "/srv/idx")
    monkeypatch.setenv("FTZQA_CORPUS_DIR", "/srv/docs")
    args = app.parse_args([])
    assert (args.index, args.corpus, args.host, args.port, args.k) == ("/srv/idx", "/srv/docs", None, None, 3)
    args = app.parse_args(["--index", "i", "--corpus", "c", "--host", "0.0.0.0", "--port", "8000", "--k", "5"])
    assert (args.index, args.corpus, args.host, args.port, args.k) == ("i", "c", "0.0.0.0", 8000, 5)
    with pytest.raises(SystemExit):
        app.parse_args(["--k", "0"])


# --- the /ask API over HTTP (real model) ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, real_embedder: Any) -> Iterator[tuple[str, Service]]:
    from ftzqa.web.ui import build_ui, launch

    root = tmp_path_factory.mktemp("web")
    corpus = write_corpus(root / "corpus")
    shutil.copy(Path(__file__).parents[1] / "corpus" / "ftz-one-year.md", corpus)
    service = Service(corpus, root / "index", Settings(), embedder=real_embedder)
    service.start()
    demo = build_ui(service)
    port = _free_port()
    launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/", service
    finally:
        demo.close()


def test_ask_api_returns_answer_to_dict(served: tuple[str, Service]) -> None:
    from gradio_client import Client

    url, service = served
    client = Client(url, verbose=False)
    result = client.predict("Who is Tang Wenhong?", 3, api_name="/ask")
    assert result == service.ask("Who is Tang Wenhong?", 3)[0].to_dict()
    assert len(result["hits"]) == 3 and result["hits"][0]["doc_id"] == "ftz-one-year.md"
    trains = client.predict("How many Qilu Eurasian trains ran in the first seven months?", api_name="/ask")
    assert trains["found"] and "879 trains" in trains["hits"][0]["evidence"]["text"]
    assert client.predict("", 3, api_name="/ask") == {
        "error": "the question is empty; type a question about your documents"
    }
    assert "not one of" in client.predict("Danube", 2, "fuzzy", api_name="/ask")["error"]
