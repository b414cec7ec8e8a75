"""Hostile files: bombs and broken files are refused with one line each, in a worker process with
limits, and never stop a build, the app's start, an upload batch or ``ftzqa add`` of the others.

The bombs are built in memory (tests/hostile_files.py) and stay small on disk; each test runs
under a wall-clock deadline that only a hang or a runaway parse reaches.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import hostile_files as H
import pytest
from conftest import FakeEmbedder, write_corpus

from ftzqa import cli
from ftzqa.corpus import parse_document, read_corpus
from ftzqa.errors import CorpusError
from ftzqa.index import build
from ftzqa.limits import Limits
from ftzqa.sandbox import Extractor
from ftzqa.settings import Settings
from ftzqa.web.service import Service
from ftzqa.web.uploads import check_upload, read_uploads

DEADLINE = 120  # seconds of wall time per test; the old in-process parse of these took minutes
FAKE = Settings(model="fake-model")
GOOD_MD = "# Harbour\n\nThe harbour moved twelve million tonnes of cargo last year.\n"


@pytest.fixture(autouse=True)
def deadline() -> Iterator[None]:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"took longer than {DEADLINE} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(DEADLINE)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI loads sentence-transformers; these tests use the fake embedder instead."""
    monkeypatch.setattr("ftzqa.embed.SentenceTransformerEmbedder", lambda *a, **k: FakeEmbedder())


def _refused(name: str, data: bytes, *needles: str) -> str:
    with pytest.raises(CorpusError) as info:
        parse_document(name, data)
    message = str(info.value)
    assert message.startswith(f"{name}: ") and "\n" not in message and "Traceback" not in message
    for needle in needles:
        assert needle in message
    return message


# --- finding 2: decompression bombs ----------------------------------------------------------


def test_docx_bomb_is_refused_by_its_compression_ratio() -> None:
    data = H.docx_bomb(40 * 2**20)  # 150 KB on disk, 40 MB of XML
    assert len(data) < 400_000
    _refused("bomb.docx", data, "word/document.xml expands", "FTZQA_MAX_ZIP_RATIO", "zip bomb")


def test_docx_member_claiming_gigabytes_is_refused_before_unzipping() -> None:
    _refused("claims.docx", H.docx_claiming(4_000_000_000), "FTZQA_MAX_UNZIPPED_MB", "word/document.xml")


def test_docx_with_too_many_members_is_refused() -> None:
    _refused("padded.docx", H.docx_many_members(10_001), "files inside")


def test_extracted_text_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTZQA_MAX_ZIP_RATIO", "100000")  # let the archive through: the text limit must act
    monkeypatch.setenv("FTZQA_MAX_TEXT_MB", "1")
    _refused("long.docx", H.docx_bomb(4 * 2**20), "more than 1 MB of text", "FTZQA_MAX_TEXT_MB")


def test_pdf_page_tree_claiming_a_hundred_million_pages_is_refused() -> None:
    data = H.pdf_page_tree_bomb()
    assert len(data) < 2_000
    _refused("pages.pdf", data, "100,000,000 pages", "FTZQA_MAX_PDF_PAGES")
    _refused("lying.pdf", H.pdf_page_tree_bomb(declared=1), "cannot read this PDF")


def test_pdf_flate_bomb_is_refused() -> None:
    _refused("flate.pdf", H.pdf_flate_bomb(80_000_000), "cannot read this PDF", "LimitReachedError")


def test_memory_bomb_stops_the_worker_not_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    for var, value in (("FTZQA_MAX_ZIP_RATIO", "1e9"), ("FTZQA_MAX_UNZIPPED_MB", "1e4"), ("FTZQA_MAX_TEXT_MB", "1e4")):
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("FTZQA_PARSE_MEMORY_MB", "300")
    bomb = H.docx_bomb(400 * 2**20)  # 400 MB of XML for python-docx/lxml: far over 300 MB
    with Extractor() as extractor:
        with pytest.raises(CorpusError, match=r"memory.*FTZQA_PARSE_MEMORY_MB") as info:
            parse_document("bomb.docx", bomb, extractor)
        assert str(info.value).startswith("bomb.docx: ")
        doc = parse_document("fine.docx", H.plain_docx(["After the bomb, this still reads."]), extractor)
        assert doc.text.strip() == "After the bomb, this still reads."
        assert extractor.starts == 2  # the worker was replaced after the bomb


def test_slow_file_is_stopped_at_the_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTZQA_PARSE_SECONDS", "2")
    with Extractor() as extractor:
        with pytest.raises(CorpusError, match=r"slow.pdf: reading it took longer than 2 s .*FTZQA_PARSE_SECONDS"):
            parse_document("slow.pdf", H.pdf_slow(300_000), extractor)
        doc = parse_document("fine.pdf", H.pdf_text(["Still readable."]), extractor)
        assert "Still readable." in doc.text and extractor.starts == 2


def test_limits_come_from_the_environment_and_bad_values_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTZQA_MAX_PDF_PAGES", "7")
    monkeypatch.setenv("FTZQA_PARSE_SECONDS", "2.5")
    limits = Limits.from_env()
    assert limits.max_pdf_pages == 7 and limits.parse_seconds == 2.5 and limits.max_file_mb == 50
    monkeypatch.setenv("FTZQA_MAX_TEXT_MB", "lots")
    with pytest.raises(CorpusError, match="FTZQA_MAX_TEXT_MB of 'lots' is not a number"):
        Limits.from_env()


# --- finding 3: one unreadable file breaks nothing else --------------------------------------


def test_unreadable_files_are_one_line_each() -> None:
    _refused("notes.docx", b"These are plain notes, saved with the wrong extension.\n", "not a valid zip archive")
    _refused("broken.docx", H.docx_malformed_xml(), "cannot read this .docx", "XMLSyntaxError")
    _refused("cut.pdf", H.pdf_text(["Truncated."])[:200], "cannot read this PDF")


HOSTILE = {
    "notes.docx": lambda: b"plain text with a .docx name",
    "broken.docx": H.docx_malformed_xml,
    "bomb.docx": lambda: H.docx_bomb(40 * 2**20),
    "pages.pdf": H.pdf_page_tree_bomb,
    "flate.pdf": lambda: H.pdf_flate_bomb(80_000_000),
}


def _hostile_corpus(folder: Path) -> Path:
    write_corpus(folder)  # rivers.md, bakery.txt
    (folder / "report.pdf").write_bytes(H.pdf_text(["Port imports rose by ten percent in May."]))
    (folder / "memo.docx").write_bytes(H.plain_docx(["The ferry timetable changes in June."]))
    for name, make in HOSTILE.items():
        (folder / name).write_bytes(make())
    return folder


def _check_skipped(reasons: list[str]) -> None:
    assert sorted(r.split(": ", 1)[0] for r in reasons) == sorted(HOSTILE)
    assert all("\n" not in r and "Traceback" not in r for r in reasons)


def test_one_worker_reads_a_whole_corpus_and_bad_files_are_skipped(tmp_path: Path) -> None:
    corpus = _hostile_corpus(tmp_path / "corpus")
    with Extractor() as extractor:
        report = read_corpus(corpus, extractor)
    assert sorted(d.doc_id for d in report.documents) == ["bakery.txt", "memo.docx", "report.pdf", "rivers.md"]
    _check_skipped([s.reason for s in report.skipped])
    assert extractor.starts == 1  # every refusal is a reply from the worker: it serves the whole corpus


def test_build_indexes_the_good_files_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _hostile_corpus(tmp_path / "corpus")
    summary = build(corpus, tmp_path / "index", embedder=FakeEmbedder())
    assert summary.documents == 4
    _check_skipped(summary.skipped)
    assert cli.main(["build", "--corpus", str(corpus), "--index", str(tmp_path / "index2")]) == 0
    captured = capsys.readouterr()
    assert "indexed 4 documents" in captured.out and "Traceback" not in captured.err
    assert sum(line.startswith("ftzqa: skipped ") for line in captured.err.splitlines()) == len(HOSTILE)


def test_the_app_starts_with_bad_files_in_the_corpus(tmp_path: Path) -> None:
    corpus = _hostile_corpus(tmp_path / "corpus")
    service = Service(corpus, tmp_path / "index", FAKE, embedder=FakeEmbedder())
    assert service.start().startswith("indexed 4 documents")
    answer, _ = service.ask("When does the ferry timetable change?", 1, "bm25")
    assert answer.hits[0].passage.doc_id == "memo.docx"


def test_an_upload_batch_keeps_the_good_files(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    service = Service(corpus, tmp_path / "index", FAKE, embedder=FakeEmbedder())
    service.start()
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "volcanoes.md").write_text("# Volcanoes\n\nEtna erupts often on Sicily.\n", encoding="utf-8")
    for name, make in HOSTILE.items():
        (uploads / name).write_bytes(make())
    lines = service.add([uploads / "volcanoes.md", *(uploads / n for n in HOSTILE)])
    assert lines[0] == "added volcanoes.md"
    assert sorted(line.split(": ", 1)[0] for line in lines[1:-1]) == sorted(HOSTILE)
    assert sorted(p.name for p in corpus.iterdir()) == ["bakery.txt", "rivers.md", "volcanoes.md"]
    assert "volcanoes.md" in service.retriever.index.documents


def test_check_upload_reports_bombs_and_never_raises() -> None:
    for name, make in HOSTILE.items():
        reason = check_upload(name, make())
        assert reason is not None and reason.startswith(f"{name}: ") and "\n" not in reason
    assert check_upload("memo.docx", H.plain_docx(["Fine."])) is None


def test_oversized_upload_is_refused_without_reading_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTZQA_MAX_FILE_MB", "1")
    big = tmp_path / "big.md"
    with big.open("wb") as f:
        f.truncate(3 * 2**20)  # sparse: 3 MB that read_uploads must not load
    ok = tmp_path / "ok.md"
    ok.write_text(GOOD_MD, encoding="utf-8")
    uploads = read_uploads([big, ok])
    assert [name for name, _ in uploads.accepted] == ["ok.md"]
    assert uploads.rejected[0].startswith("big.md: is 3.0 MB, over the 1 MB limit")


# --- finding 8 (part): ftzqa add of a file it cannot index ------------------------------------


def test_add_of_an_unreadable_file_exits_2_and_leaves_nothing(
    tiny_index: Path, tiny_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted(p.name for p in tiny_corpus.iterdir())
    bad = tmp_path / "notes.docx"
    bad.write_bytes(b"plain text with a .docx name")
    assert cli.main(["add", str(bad), "--corpus", str(tiny_corpus), "--index", str(tiny_index)]) == 2
    captured = capsys.readouterr()
    assert "not added: notes.docx: is not a .docx document" in captured.err and "Traceback" not in captured.err
    assert "added 0 file(s)" in captured.out
    assert sorted(p.name for p in tiny_corpus.iterdir()) == before  # no file, no hidden temporary file


def test_add_keeps_the_good_files_of_a_mixed_batch(
    tiny_index: Path, tiny_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "harbour.md"
    good.write_text(GOOD_MD, encoding="utf-8")
    bomb = tmp_path / "bomb.docx"
    bomb.write_bytes(H.docx_bomb(40 * 2**20))
    argv = ["add", str(good), str(bomb), "--corpus", str(tiny_corpus), "--index", str(tiny_index)]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert "added 1 file(s)" in captured.out and "1 not added" in captured.out
    assert "not added: bomb.docx: word/document.xml expands" in captured.err
    assert sorted(p.name for p in tiny_corpus.iterdir()) == ["bakery.txt", "harbour.md", "rivers.md"]


def test_add_takes_out_a_file_the_build_skipped_after_the_check(
    tiny_index: Path, tiny_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file readable when checked but skipped by the build (a time limit hit on a busy machine,
    say) is removed from the corpus again and reported; the index is rebuilt without it."""
    from ftzqa.ingest import add

    real = Extractor.extract
    calls: dict[str, int] = {}

    def flaky(self: Extractor, data: bytes, name: str) -> object:
        calls[name] = calls.get(name, 0) + 1
        if name == "late.md" and calls[name] > 1:  # the check passes, the build's read fails
            raise CorpusError("late.md: reading it took longer than 60 s and was stopped (FTZQA_PARSE_SECONDS)")
        return real(self, data, name)

    monkeypatch.setattr(Extractor, "extract", flaky)
    late = tmp_path / "late.md"
    late.write_text(GOOD_MD, encoding="utf-8")
    report = add([late], tiny_corpus, tiny_index, FAKE, embedder=FakeEmbedder())
    assert report.added == [] and report.rejected[0].startswith("late.md: reading it took longer")
    assert sorted(p.name for p in tiny_corpus.iterdir()) == ["bakery.txt", "rivers.md"]
    assert report.summary is not None and report.summary.documents == 2 and not report.summary.skipped


def test_the_worker_reads_files_when_the_process_holds_over_1024_descriptors() -> None:
    """A long-running server (or a long test session) holds many descriptors; select.select fails on
    those numbered 1024 and above, which killed a healthy worker as "could not start"."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        pytest.skip(f"the open-files limit here is {soft}")
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        with Extractor() as extractor:
            doc = parse_document("fine.docx", H.plain_docx(["Read past descriptor 1024."]), extractor)
            assert doc.text.strip() == "Read past descriptor 1024."
    finally:
        for fd in held:
            os.close(fd)
