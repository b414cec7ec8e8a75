from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import FailingEmbedder, FakeEmbedder

from ftzqa.errors import CorpusError, IndexMismatchError, IndexMissingError
from ftzqa.index import build, embed_input, load_index, read_manifest
from ftzqa.store import current_generation


def test_round_trip_keeps_passages_vectors_and_manifest(tiny_corpus: Path, tmp_path: Path, store_kind: str) -> None:
    emb = FakeEmbedder()
    summary = build(tiny_corpus, tmp_path / "idx", embedder=emb)
    assert summary.documents == 2 and summary.passages == 5 == summary.embedded
    index = load_index(tmp_path / "idx")
    passages = list(index.iter_passages())
    assert len(passages) == index.passage_count == 5
    for p in passages:
        assert index.documents[p.doc_id].text[p.start : p.end] == p.text
    m = index.manifest
    assert m["model"] == {"id": "fake-model", "dimension": 64, "normalized": True}
    assert set(m["documents"]) == {"rivers.md", "bakery.txt"} and m["passage_count"] == 5
    assert {"chunker", "bm25", "format_version", "ftzqa_version"} <= set(m)
    if store_kind == "embedded":  # the embedded store's files (Milvus keeps its rows in the engine)
        gen = current_generation(tmp_path / "idx")
        assert gen is not None and {"manifest.json", "removed.json"} <= {p.name for p in gen.iterdir()}
        (segment,) = m["segments"]
        folder = tmp_path / "idx" / "segments" / segment["name"]
        expected_files = {"segment.sqlite", "vectors.npy", "ids.npy", "postings", "segment.json"}
        assert expected_files <= {p.name for p in folder.iterdir()}
    expected = FakeEmbedder().encode([embed_input(p, with_title=True) for p in passages])
    assert np.allclose(index.vectors(index.first_ids(5)), expected)


def test_incremental_build_embeds_only_new_and_changed(tiny_corpus: Path, tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    build(tiny_corpus, idx, embedder=FakeEmbedder())
    again = FakeEmbedder()
    summary = build(tiny_corpus, idx, embedder=again)
    assert again.embedded == 0 and summary.reused == 5

    (tiny_corpus / "new.md").write_text(
        "# New\n\nVolcanoes erupt lava.\n\nGeysers spout water.", encoding="utf-8"
    )
    adding = FakeEmbedder()
    summary = build(tiny_corpus, idx, embedder=adding)
    assert adding.embedded == 2 and summary.reused == 5 and summary.passages == 7

    text = (tiny_corpus / "bakery.txt").read_text(encoding="utf-8").replace("dense and dark", "light")
    (tiny_corpus / "bakery.txt").write_text(text, encoding="utf-8")
    (tiny_corpus / "rivers.md").unlink()
    editing = FakeEmbedder()
    summary = build(tiny_corpus, idx, embedder=editing)
    assert editing.embedded == 1  # only the edited paragraph
    assert summary.removed == 1 and summary.documents == 2
    assert all(p.doc_id != "rivers.md" for p in load_index(idx).iter_passages())


def test_an_index_counted_the_old_way_is_recounted_by_the_next_build_without_embedding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_kind: str
) -> None:
    """Word statistics counted before two-letter-initial phrases were kept ("mofcom" -> "ministry
    of commerce" needs them): the next build re-counts every document, reusing every vector."""
    from ftzqa import index as index_module
    from ftzqa import lexicon
    from ftzqa.retrieve import Retriever

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "trade.md").write_text(
        "# Trade\n\nThe Ministry of Commerce held a press conference on September 2.\n\n"
        "Officials of the Ministry of Commerce said trade grew.\n", encoding="utf-8")
    idx = tmp_path / "idx"
    with monkeypatch.context() as old:  # as ftzqa counted before
        old.setattr(lexicon, "MIN_PHRASE_LETTERS", 3)
        old.setattr(index_module, "COUNTS_FORMAT", {"version": 1, "min_phrase_letters": 3, "max_acronym": 6})
        build(corpus, idx, embedder=FakeEmbedder())
    before = Retriever.load(idx, embedder=FakeEmbedder())
    assert before.store.manifest["lexicon"]["version"] == 1
    assert before.store.lexicon.blend("mofcom") is None
    before.store.close()

    again = FakeEmbedder()
    summary = build(corpus, idx, embedder=again)
    assert again.embedded == 0 and summary.reused == summary.passages == 2
    after = Retriever.load(idx, embedder=FakeEmbedder())
    assert after.store.manifest["lexicon"] == lexicon.COUNTS_FORMAT
    assert after.store.lexicon.blend("mofcom") == "ministry of commerce"
    assert "mofcom" in {c.typed for c in after.analyse("mofcom press conference date").corrections}


def test_an_add_that_needs_a_rebuild_never_drops_documents_missing_from_the_corpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_kind: str
) -> None:
    """An index that must be rebuilt (counted by an older ftzqa) is rebuilt from the corpus folder;
    when that folder lacks some of the indexed documents, ``add`` refuses instead of dropping them."""
    from ftzqa import index as index_module
    from ftzqa.errors import IndexMismatchError
    from ftzqa.ingest import add

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\nAlpha text about rivers.\n", encoding="utf-8")
    (corpus / "b.md").write_text("# B\n\nBeta text about mountains.\n", encoding="utf-8")
    idx = tmp_path / "idx"
    with monkeypatch.context() as old:
        old.setattr(index_module, "COUNTS_FORMAT", {"version": 1, "min_phrase_letters": 3, "max_acronym": 6})
        build(corpus, idx, embedder=FakeEmbedder())
    (corpus / "b.md").rename(tmp_path / "b.md")  # the index holds b.md; its folder no longer does
    new = tmp_path / "c.md"
    new.write_text("# C\n\nGamma text about lakes.\n", encoding="utf-8")
    with pytest.raises(IndexMismatchError, match=r"1 of the documents it holds are not in corpus folder .*'b.md'"):
        add([new], corpus, idx, embedder=FakeEmbedder())
    assert sorted(load_index(idx).manifest["documents"]) == ["a.md", "b.md"]  # untouched
    assert not (corpus / "c.md").exists()  # the corpus is as it was
    (tmp_path / "b.md").rename(corpus / "b.md")
    add([new], corpus, idx, embedder=FakeEmbedder())  # with every document at hand: rebuilt, nothing lost
    assert sorted(load_index(idx).manifest["documents"]) == ["a.md", "b.md", "c.md"]


def test_failed_build_leaves_old_index_working(tiny_index: Path, tiny_corpus: Path) -> None:
    before = load_index(tiny_index).manifest
    (tiny_corpus / "new.md").write_text("Brand new text.", encoding="utf-8")
    with pytest.raises(RuntimeError, match="on purpose"):
        build(tiny_corpus, tiny_index, embedder=FailingEmbedder())
    after = load_index(tiny_index)
    assert after.manifest == before and after.passage_count == 5
    assert not list(tiny_index.glob(".tmp-*"))


def test_staleness_is_reported(tiny_index: Path, tiny_corpus: Path) -> None:
    index = load_index(tiny_index)
    assert not index.staleness(tiny_corpus).stale
    (tiny_corpus / "extra.md").write_text("More.", encoding="utf-8")
    (tiny_corpus / "bakery.txt").write_text("Changed.", encoding="utf-8")
    (tiny_corpus / "rivers.md").unlink()
    stale = index.staleness(tiny_corpus)
    assert (stale.added, stale.changed, stale.removed) == (["extra.md"], ["bakery.txt"], ["rivers.md"])


def test_missing_index_names_the_build_command(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="ftzqa build"):
        load_index(tmp_path / "nothing")


def _edit_manifest(index_dir: Path, **changes: object) -> None:
    gen, manifest = read_manifest(index_dir)
    manifest.update(changes)
    (gen / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def test_wrong_model_is_refused_with_the_fix(tiny_index: Path) -> None:
    with pytest.raises(IndexMismatchError, match="built with model 'fake-model'.*--model other"):
        load_index(tiny_index, model="other")


@pytest.mark.embedded_only("edits the manifest file of a generation folder")
def test_wrong_format_version_is_refused(tiny_index: Path) -> None:
    _edit_manifest(tiny_index, format_version=99)
    with pytest.raises(IndexMismatchError, match="format version 99.*ftzqa build"):
        load_index(tiny_index)


@pytest.mark.embedded_only("edits the manifest file of a generation folder")
def test_wrong_dimension_is_refused(tiny_index: Path) -> None:
    _, m = read_manifest(tiny_index)
    _edit_manifest(tiny_index, model={**m["model"], "dimension": 384})
    with pytest.raises(IndexMismatchError, match="dimension 64"):
        load_index(tiny_index)


@pytest.mark.embedded_only("damages segment and manifest files")
def test_corrupt_manifest_and_damaged_files_are_refused(tiny_index: Path) -> None:
    gen = current_generation(tiny_index)
    assert gen is not None
    (segment,) = read_manifest(tiny_index)[1]["segments"]
    vectors = tiny_index / "segments" / segment["name"] / "vectors.npy"
    vectors.write_bytes(b"garbage" * (vectors.stat().st_size // 7) + b"g" * (vectors.stat().st_size % 7))
    with pytest.raises(IndexMismatchError, match="damaged"):
        load_index(tiny_index)
    (gen / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="unreadable manifest.json"):
        load_index(tiny_index)


def test_empty_corpus_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    with pytest.raises(CorpusError, match="no readable"):
        build(tmp_path / "c", tmp_path / "i", embedder=FakeEmbedder())


@pytest.mark.embedded_only("counts generation folders")
def test_old_generations_are_pruned(tiny_corpus: Path, tmp_path: Path) -> None:
    for _ in range(4):
        build(tiny_corpus, tmp_path / "idx", embedder=FakeEmbedder())
    assert len(list((tmp_path / "idx").glob("gen-*"))) == 2


@pytest.mark.embedded_only("breaks the embedded writer's file writes")
def test_failure_while_writing_files_leaves_old_index(
    tiny_index: Path, tiny_corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = load_index(tiny_index).manifest

    def broken_write(path: Path, data: object) -> None:
        path.write_text('{"format_version": 1, "trunc', encoding="utf-8")  # half-written, then disk full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ftzqa.storage.writer.write_json", broken_write)
    (tiny_corpus / "new.md").write_text("Brand new text.", encoding="utf-8")
    with pytest.raises(OSError, match="No space"):
        build(tiny_corpus, tiny_index, embedder=FakeEmbedder())
    assert load_index(tiny_index).manifest == before
    assert not list(tiny_index.glob(".tmp-*"))


@pytest.mark.embedded_only("deletes a segment file")
def test_deleted_segment_file_is_refused_with_the_fix(tiny_index: Path) -> None:
    (segment,) = read_manifest(tiny_index)[1]["segments"]
    (tiny_index / "segments" / segment["name"] / "vectors.npy").unlink()
    with pytest.raises(IndexMismatchError, match="damaged or missing file.*vectors.npy.*ftzqa build"):
        load_index(tiny_index)
