from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FakeEmbedder

from ftzqa.errors import CorpusError
from ftzqa.index import load_index
from ftzqa.ingest import add, add_bytes, safe_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd.md", "passwd.md"),
        ("..\\evil.TXT", "evil.txt"),
        ("my notes (v2).md", "my notes _v2_.md"),
        ("北京 报告.md", "北京 报告.md"),
        (".hidden.md", "hidden.md"),
        ("...", "document"),
    ],
)
def test_safe_name_stays_inside_the_corpus(raw: str, expected: str) -> None:
    assert safe_name(raw) == expected


def test_add_copies_files_and_updates_the_index(tiny_index: Path, tiny_corpus: Path, tmp_path: Path) -> None:
    new = tmp_path / "volcano notes.md"
    new.write_text("# Volcanoes\n\nEtna erupts often.\n\nVesuvius buried Pompeii.", encoding="utf-8")
    emb = FakeEmbedder()
    report = add([new], tiny_corpus, tiny_index, embedder=emb)
    assert report.added == ["volcano notes.md"] and (tiny_corpus / "volcano notes.md").is_file()
    assert emb.embedded == 2  # nothing else re-embedded
    assert any(p.doc_id == "volcano notes.md" for p in load_index(tiny_index).iter_passages())


def test_duplicates_by_content_are_reported_not_added(tiny_index: Path, tiny_corpus: Path) -> None:
    same = (tiny_corpus / "bakery.txt").read_bytes()
    report = add_bytes([("other-name.txt", same)], tiny_corpus, tiny_index, embedder=FakeEmbedder())
    assert report.added == [] and "same content as bakery.txt" in report.duplicates[0]
    assert not (tiny_corpus / "other-name.txt").exists()


def test_name_clash_with_different_content_gets_a_new_name(tiny_index: Path, tiny_corpus: Path) -> None:
    report = add_bytes(
        [("bakery.txt", b"Different bakery text.")], tiny_corpus, tiny_index, embedder=FakeEmbedder()
    )
    assert report.added == ["bakery-2.txt"]


def test_unsupported_or_missing_files_are_refused(
    tiny_index: Path, tiny_corpus: Path, tmp_path: Path
) -> None:
    with pytest.raises(CorpusError, match="unsupported file type '.exe'"):
        add_bytes([("tool.exe", b"MZ")], tiny_corpus, tiny_index, embedder=FakeEmbedder())
    with pytest.raises(CorpusError, match="is not a file"):
        add([tmp_path / "missing.md"], tiny_corpus, tiny_index, embedder=FakeEmbedder())
