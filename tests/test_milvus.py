"""The Milvus store (Milvus Lite, a local file): the same answers as the embedded store, add and
remove visible to the next question, other writers noticed, the CLI and the page with --store.

These run whatever ``--store`` the suite runs with (they name their stores themselves)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, FakeEmbedder, write_corpus

from ftzqa.errors import FtzqaError, IndexMismatchError, IndexMissingError, InvalidSettingError
from ftzqa.index import build, remove
from ftzqa.retrieve import Retriever
from ftzqa.storage.location import MilvusTarget, parse, resolve

QUESTIONS = [
    "How long is the Danube?",
    "What does sourdough bread need?",
    "Where does the Rhine reach the sea?",
    "pelicans",
    "What is the capital of Peru?",
]


def lite(tmp_path: Path, name: str = "m") -> str:
    return f"milvus:{tmp_path / name}.db"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("milvus:", "ending in .db"),
        ("milvus:index", "ending in .db"),
        ("milvus://localhost", "HOST:PORT"),
        ("milvus://localhost:99999", "HOST:PORT"),
        ("milvus://localhost:19530/bad-name", "collection name"),
        ("postgres://x", "unknown form"),
    ],
)
def test_bad_store_values_name_the_value_what_is_expected_and_the_fix(value: str, fragment: str) -> None:
    with pytest.raises(InvalidSettingError) as err:
        parse(value)
    text = str(err.value)
    assert repr(value) in text and fragment in text
    assert "milvus:PATH.db" in text and "--store" in text and "FTZQA_STORE" in text


def test_store_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_kind: str) -> None:
    server = parse("milvus://db.example.org:19530/docs", tmp_path / "index")
    assert isinstance(server, MilvusTarget) and not server.lite
    assert (server.uri, server.prefix) == ("http://db.example.org:19530", "docs")
    assert server.lock_dir.parent == tmp_path / "index"
    local = parse(f"milvus:{tmp_path}/a.db")
    assert isinstance(local, MilvusTarget) and local.lite and local.uri == f"{tmp_path}/a.db"
    assert parse("embedded", tmp_path / "i") == tmp_path / "i"
    monkeypatch.setenv("FTZQA_STORE", f"milvus:{tmp_path}/env.db")
    if store_kind == "embedded":  # under --store milvus the suite replaces the default itself
        assert resolve(tmp_path / "i", None) == parse(f"milvus:{tmp_path}/env.db")
    assert resolve(tmp_path / "i", "embedded") == tmp_path / "i"  # store= wins over the environment


def _answers(retriever: Retriever) -> list[dict[str, object]]:
    return [retriever.search(q, k=3, mode=m).to_dict() for q in QUESTIONS for m in ("dense", "bm25", "hybrid")]


def test_same_answers_as_the_embedded_store_through_add_and_remove(tmp_path: Path) -> None:
    """Identical Answer.to_dict() over both stores (ids, scores, verdicts, evidence) after a build,
    an add and a remove; each change visible to the next question."""
    spec = lite(tmp_path)
    corpora = {s: write_corpus(tmp_path / f"corpus-{i}") for i, s in enumerate(("embedded", spec))}
    embedder = FakeEmbedder()
    for store in ("embedded", spec):
        build(corpora[store], tmp_path / "index", embedder=embedder, store=store)
    both = [Retriever.load(tmp_path / "index", embedder=embedder, store=s) for s in ("embedded", spec)]
    assert both[1].store.location == spec and both[1].store.passage_count == both[0].store.passage_count
    assert _answers(both[0]) == _answers(both[1])

    peru = _file(tmp_path, "peru.md", "# Peru\n\nLima is the capital of Peru. It lies on the coast.\n")
    from ftzqa.ingest import add

    for store in ("embedded", spec):
        report = add([peru], corpora[store], tmp_path / "index", embedder=embedder, store=store)
        assert report.added == ["peru.md"]
    both = [Retriever.load(tmp_path / "index", embedder=embedder, store=s) for s in ("embedded", spec)]
    lima = both[1].search("What is the capital of Peru?", k=3)
    assert lima.hits[0].passage.doc_id == "peru.md"
    assert _answers(both[0]) == _answers(both[1])

    for store in ("embedded", spec):
        remove(["bakery.txt"], None, tmp_path / "index", store=store)
    both = [Retriever.load(tmp_path / "index", embedder=embedder, store=s) for s in ("embedded", spec)]
    assert "bakery.txt" not in both[1].store.documents
    assert all(h.passage.doc_id != "bakery.txt" for h in both[1].search("sourdough bread", k=5).hits)
    assert _answers(both[0]) == _answers(both[1])
    assert both[1].store.document("rivers.md") == both[0].store.document("rivers.md")


def test_long_document_text_is_stored_in_pieces(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    body = "\n\n".join(f"Paragraph {i} tells of the river number {i} and its many bridges." for i in range(3000))
    write_corpus(corpus, {"long.md": f"# Long\n\n{body}\n"})
    spec = lite(tmp_path)
    build(corpus, tmp_path / "index", embedder=FakeEmbedder(), store=spec)
    r = Retriever.load(tmp_path / "index", embedder=FakeEmbedder(), store=spec)
    doc = r.store.document("long.md")
    assert doc is not None and len(doc.text.encode()) > 65_535 and doc.text.rstrip().endswith("many bridges.")
    assert doc.text[r.store.passages([0])[0].start : r.store.passages([0])[0].end] == r.store.passages([0])[0].text


def test_missing_index_and_model_mismatch_say_how_to_fix(tmp_path: Path) -> None:
    spec = lite(tmp_path)
    with pytest.raises(IndexMissingError, match="ftzqa build --corpus corpus --store milvus:"):
        Retriever.load(tmp_path / "index", store=spec)
    build(write_corpus(tmp_path / "corpus"), tmp_path / "index", embedder=FakeEmbedder(), store=spec)
    with pytest.raises(IndexMismatchError, match="built with model 'fake-model'.*--store milvus:"):
        Retriever.load(tmp_path / "index", model="other-model", store=spec)


def test_a_running_service_notices_another_writer(tmp_path: Path) -> None:
    from ftzqa.web.service import Service

    corpus = write_corpus(tmp_path / "corpus")
    spec = lite(tmp_path)
    embedder = FakeEmbedder()
    from ftzqa.settings import Settings

    service = Service(corpus, tmp_path / "index", Settings(model="fake-model"), embedder=embedder, store=spec)
    service.start()
    before = service.retriever.store.version
    assert service.status() is not None and service.status().documents == 2  # type: ignore[union-attr]
    remove(["bakery.txt"], None, tmp_path / "index", store=spec)  # another writer
    assert service.retriever.store.latest_version() != before
    assert service.retriever.store.version != before
    assert "bakery.txt" not in service.retriever.store.documents
    lines = service.add([_file(tmp_path, "owls.md", "# Owls\n\nThe barn owl hunts mice at night.\n")])
    assert any("added owls.md" in line for line in lines)
    answer = service.ask("What does the barn owl hunt?", k=3)[0]
    assert answer.hits[0].passage.doc_id == "owls.md"


def _change_after_the_search(store, change):  # type: ignore[no-untyped-def]
    """Make ``store``'s first keyword search run ``change`` (another writer) after listing its ids,
    before their rows are read: the moment a removal meets a question in flight. (The keyword
    search, not the dense one: the dense search may run on another thread, beside the reads.)"""
    search = store.bm25_search
    done: list[object] = []

    def search_then_change(terms, k):  # type: ignore[no-untyped-def]
        ids = search(terms, k)
        if not done:
            done.append(change())
        return ids

    store.bm25_search = search_then_change
    return done


def test_a_change_in_the_middle_of_a_question_is_a_clear_error_and_the_service_asks_again(tmp_path: Path) -> None:
    """Milvus deletes a removed document's rows at once: a reader of the older version meeting that
    gets IndexChangedError (not a KeyError), and the service loads the newer version and asks again."""
    from ftzqa.errors import IndexChangedError
    from ftzqa.settings import Settings
    from ftzqa.web.service import Service

    corpus = write_corpus(tmp_path / "corpus")
    spec = lite(tmp_path)
    build(corpus, tmp_path / "index", embedder=FakeEmbedder(), store=spec)
    old = Retriever.load(tmp_path / "index", embedder=FakeEmbedder(), store=spec)
    _change_after_the_search(old.store, lambda: remove(["bakery.txt"], None, tmp_path / "index", store=spec))
    with pytest.raises(IndexChangedError, match="removed by a change.*ask again"):
        old.search("What does sourdough bread need?", k=3)

    service = Service(corpus, tmp_path / "index", Settings(model="fake-model"), embedder=FakeEmbedder(), store=spec)
    service.start()
    store = service.retriever.store
    changed = _change_after_the_search(store, lambda: remove(["rivers.md"], None, tmp_path / "index", store=spec))
    answer = service.ask("Where does the Rhine reach the sea?", k=3)[0]
    assert changed and service.retriever.store.version != store.version
    assert answer.hits and "rivers.md" not in {h.passage.doc_id for h in answer.hits}


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / "uploads" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_an_interrupted_change_refuses_to_load_and_build_starts_afresh(tmp_path: Path) -> None:
    from ftzqa.storage import milvus_schema
    from ftzqa.storage.location import parse as parse_store

    corpus = write_corpus(tmp_path / "corpus")
    spec = lite(tmp_path)
    build(corpus, tmp_path / "index", embedder=FakeEmbedder(), store=spec)
    target = parse_store(spec)
    assert isinstance(target, MilvusTarget)
    milvus_schema.put_meta(target, {"writing": json.dumps({"version": 9})})  # as a killed writer leaves it
    with pytest.raises(FtzqaError, match="interrupted; rebuild it: ftzqa build"):
        Retriever.load(tmp_path / "index", store=spec)
    summary = build(corpus, tmp_path / "index", embedder=FakeEmbedder(), store=spec)
    assert summary.documents == 2
    assert Retriever.load(tmp_path / "index", embedder=FakeEmbedder(), store=spec).search("Danube").found is not None


@pytest.mark.slow
def test_cli_round_trip_with_store_milvus(tmp_path: Path) -> None:
    """The real CLI, in child processes, with the real model: build, ask --json, add, remove."""
    corpus = write_corpus(tmp_path / "corpus")
    spec = lite(tmp_path, "cli")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("FTZQA_STORE", None)

    def ftzqa(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ftzqa.cli", *args], capture_output=True, text=True,
                              env=env, timeout=600, cwd=tmp_path)

    built = ftzqa("build", "--corpus", str(corpus), "--store", spec)
    assert built.returncode == 0, built.stderr
    assert "indexed 2 documents" in built.stdout
    assert not (tmp_path / "index").exists()  # nothing in the embedded folder
    asked = ftzqa("ask", "How long is the Danube?", "--json", "--store", spec, "--corpus", str(corpus))
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["found"] and answer["hits"][0]["doc_id"] == "rivers.md"
    assert "2,850" in answer["hits"][0]["text"]
    new = _file(tmp_path, "owls.md", "# Owls\n\nThe barn owl hunts mice at night in open fields.\n")
    added = ftzqa("add", str(new), "--corpus", str(corpus), "--store", spec)
    assert added.returncode == 0, added.stderr
    asked = ftzqa("ask", "What does the barn owl hunt?", "--json", "--store", spec)
    assert json.loads(asked.stdout)["hits"][0]["doc_id"] == "owls.md"
    removed = ftzqa("remove", "owls.md", "--corpus", str(corpus), "--store", spec)
    assert removed.returncode == 0, removed.stderr
    asked = ftzqa("ask", "What does the barn owl hunt?", "--json", "--store", spec)
    assert all(h["doc_id"] != "owls.md" for h in json.loads(asked.stdout)["hits"])
    bad = ftzqa("ask", "Danube", "--store", "milvus://nowhere")
    assert bad.returncode == 2 and "'milvus://nowhere'" in bad.stderr and "Traceback" not in bad.stderr
