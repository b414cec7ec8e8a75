"""The embedded store: segments, removal with tombstones, merges and compaction, index-wide BM25
statistics, the IVF switch (and HNSW segments of older indexes), and load refusing damaged or old
indexes. Fake embedder (fast).

Under ``pytest --store milvus`` the tests of what a user sees (statistics, removal, changed
documents, the CLI) run against Milvus Lite; those of the embedded store's files are skipped."""

from __future__ import annotations

import json
import os
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import FakeEmbedder, manifest_of, write_corpus

from ftzqa import cli
from ftzqa.errors import CorpusError, IndexMismatchError, InvalidSettingError
from ftzqa.index import build, compact, load_index, read_manifest, remove
from ftzqa.ingest import add
from ftzqa.retrieve import Retriever
from ftzqa.settings import BM25Settings, Settings
from ftzqa.sparse import Tokenizer
from ftzqa.storage import postings
from ftzqa.storage.vectors import (
    GRAPH,
    HNSW,
    IVF,
    VECTORS,
    AnnSettings,
    RowFile,
    SegmentVectors,
    build_ann,
    lists_for,
)
from ftzqa.storage.writer import MAX_SEGMENTS

FAKE = Settings(model="fake-model")
TOPICS = [
    ("volcanoes", "Etna erupts often and Vesuvius buried Pompeii in 79 AD. Lava flows reached the sea."),
    ("comets", "Halley's Comet returns every 76 years. Its tail points away from the Sun."),
    ("bridges", "The Golden Gate Bridge opened in 1937. Its towers are 227 metres tall."),
    ("tea", "Green tea is steamed, black tea is oxidised. Darjeeling grows in the Himalayan foothills."),
    ("glaciers", "The Aletsch Glacier is the largest in the Alps. It lost 3 kilometres since 1870."),
    ("owls", "Barn owls hunt by sound alone. The snowy owl lives in the Arctic tundra."),
    ("chess", "Magnus Carlsen became world champion in 2013. The Sicilian Defence answers 1.e4."),
    ("deserts", "The Atacama Desert is the driest place on Earth. Some stations never recorded rain."),
]
QUESTIONS = [
    "How long is the Danube?",
    "When did the Golden Gate Bridge open?",
    "Which volcano buried Pompeii?",
    "Where does Darjeeling tea grow?",
    "How often does Halley's Comet return?",
    "Who became world champion in 2013?",
    "What is the driest desert?",
    "How does sourdough bread rise?",
    "What is the capital of France?",
]


def _doc(name: str, body: str) -> str:
    return f"# {name.title()}\n\n{body}\n\nMore about {name}: {body.split('.')[0].lower()} again.\n"


def _answers(index: Path) -> list[dict[str, object]]:
    retriever = Retriever.load(index, embedder=FakeEmbedder())
    out = []
    for q in QUESTIONS:
        for mode in ("hybrid", "dense", "bm25"):
            a = retriever.search(q, k=5, mode=mode).to_dict()
            out.append({"q": q, "mode": mode, "found": a["found"], "confidence": a["confidence"],
                        "hits": [(h["doc_id"], h["start"], h["score"]) for h in a["hits"]]})
    return out


def _same(a: list[dict[str, object]], b: list[dict[str, object]], *, ids_kept: bool = True) -> None:
    """Same answers. ``ids_kept``: both indexes number the passages alike (a segmented index and its
    compacted form); otherwise (an index built afresh, documents in another order) passages with
    equal scores may come in another order, and bm25's zero-score padding may differ."""
    for x, y in zip(a, b, strict=True):
        assert (x["q"], x["mode"], x["found"]) == (y["q"], y["mode"], y["found"])
        hx, hy = list(x["hits"]), list(y["hits"])  # type: ignore[call-overload]
        if ids_kept or any(h[2] > 0 for h in hx):  # else: which unmatched passages pad bm25 depends on ids
            assert abs(float(x["confidence"]) - float(y["confidence"])) < 1e-4  # type: ignore[arg-type]
        if ids_kept:
            assert [h[:2] for h in hx] == [h[:2] for h in hy], (x["q"], x["mode"])
            assert np.allclose([h[2] for h in hx], [h[2] for h in hy], atol=1e-5)
            continue
        if x["mode"] == "bm25":
            hx, hy = [h for h in hx if h[2] > 0], [h for h in hy if h[2] > 0]
        assert np.allclose([h[2] for h in hx], [h[2] for h in hy], atol=1e-5), (x["q"], x["mode"])
        cut = min([h[2] for h in hx], default=0.0)
        above_x = sorted(h[:2] for h in hx if h[2] > cut + 1e-5)
        above_y = sorted(h[:2] for h in hy if h[2] > cut + 1e-5)
        assert above_x == above_y, (x["q"], x["mode"])


def _segments(index: Path) -> list[dict[str, object]]:
    segments: list[dict[str, object]] = read_manifest(index)[1]["segments"]
    return segments


@pytest.fixture
def grown(tmp_path: Path) -> tuple[Path, Path]:
    """The tiny corpus, then one document added at a time: one segment each."""
    corpus = write_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    build(corpus, index, FAKE, embedder=FakeEmbedder())
    for name, body in TOPICS[:5]:
        path = tmp_path / f"{name}.md"
        path.write_text(_doc(name, body), encoding="utf-8")
        add([path], corpus, index, FAKE, embedder=FakeEmbedder())
    return corpus, index


@pytest.mark.embedded_only("segment files")
def test_add_writes_a_new_segment_and_leaves_the_others_untouched(grown: tuple[Path, Path], tmp_path: Path) -> None:
    corpus, index = grown
    before = _segments(index)
    assert len(before) == 6 and all(s["dense"] == "flat" for s in before)
    stamps = {p: p.stat().st_mtime_ns for p in (index / "segments").rglob("*") if p.is_file()}
    path = tmp_path / "owls.md"
    path.write_text(_doc(*TOPICS[5]), encoding="utf-8")
    embedder = FakeEmbedder()
    add([path], corpus, index, FAKE, embedder=embedder)
    after = _segments(index)
    assert after[:6] == before and len(after) == 7
    assert embedder.embedded == 2  # the new document's passages only
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())  # nothing rewritten
    ids = [(s["first_id"], s["last_id"]) for s in after]
    assert ids == sorted(ids) and all(a[1] < b[0] for a, b in zip(ids, ids[1:], strict=False))


@pytest.mark.embedded_only("segments and their compaction")
def test_segmented_and_compacted_and_fresh_indexes_answer_alike(grown: tuple[Path, Path], tmp_path: Path) -> None:
    corpus, index = grown
    segmented = _answers(index)
    fresh = tmp_path / "fresh"
    build(corpus, fresh, FAKE, embedder=FakeEmbedder())  # the same documents, one segment
    assert len(_segments(fresh)) == 1
    _same(segmented, _answers(fresh), ids_kept=False)
    summary = compact(index, FAKE)
    assert summary.segments == 1 and len(_segments(index)) == 1
    _same(segmented, _answers(index))


def test_bm25_statistics_are_index_wide(grown: tuple[Path, Path], tmp_path: Path) -> None:
    corpus, index = grown
    fresh = tmp_path / "fresh"
    build(corpus, fresh, FAKE, embedder=FakeEmbedder())
    a, b = load_index(index), load_index(fresh)
    assert a.passage_count == b.passage_count
    terms = a.tokenize("Danube bread comet volcano 1937 tea glacier Alps lava sea")
    for t in terms + ["nothing-like-it"]:
        assert a.idf(t) == b.idf(t) and a.known(t) == b.known(t)
    ids_a, scores_a = a.bm25_search(terms, 50)
    ids_b, scores_b = b.bm25_search(terms, 50)
    ranked_a = sorted(zip(scores_a.tolist(), (p.text for p in a.passages(ids_a.tolist())), strict=True))
    ranked_b = sorted(zip(scores_b.tolist(), (p.text for p in b.passages(ids_b.tolist())), strict=True))
    assert len(ranked_a) >= 10 and ranked_a == ranked_b  # the same scores, bit for bit


def _bm25s_scores(texts: list[str], query: list[str], settings: BM25Settings) -> np.ndarray:
    import bm25s

    tokenize = Tokenizer(settings)
    model = bm25s.BM25(k1=settings.k1, b=settings.b, method="lucene")
    model.index([tokenize(t) for t in texts], show_progress=False)
    ids = model.get_tokens_ids(query)
    return np.zeros(len(texts), np.float32) if not ids else np.asarray(model.get_scores_from_ids(ids))


def test_bm25_scores_equal_bm25s_to_the_last_bit() -> None:
    rng = random.Random(7)
    words = [f"w{i}" for i in range(60)] + ["danube", "river", "sea", "2,850", "41.5%"]
    texts = [" ".join(rng.choices(words, k=rng.randint(1, 40))) for _ in range(300)]
    settings = BM25Settings()
    tokenize = Tokenizer(settings)
    index = postings.KeywordIndex([postings.Part(postings.build([tokenize(t) for t in texts]),
                                                  _lookup([tokenize(t) for t in texts]), 0)], settings)
    for _ in range(40):
        query = tokenize(" ".join(rng.choices(words + ["unknown"], k=rng.randint(1, 6))))
        want = _bm25s_scores(texts, query, settings)
        got = index.scores(query, np.arange(len(texts)))
        assert np.array_equal(got, want.astype(np.float32))


def _lookup(token_lists: list[list[str]]):  # type: ignore[no-untyped-def]
    terms = sorted({t for tokens in token_lists for t in tokens})
    table = {t: i for i, t in enumerate(terms)}
    return table.get


@pytest.mark.parametrize("seed", [1, 50])
def test_top_k_is_the_top_of_every_passage_scored(seed: int) -> None:
    """Rare and very common terms, several parts, removed rows: top-k search returns the k best of
    every passage scored one by one, removed ones left out (ties: lower row first)."""
    rng = random.Random(seed)
    common = ["the", "year", "first"]
    rare = [f"r{i}" for i in range(200)]
    docs = [[*rng.choices(common, k=rng.randint(1, 8)), *rng.choices(rare, k=rng.randint(0, 3))] for _ in range(3000)]
    parts, offset = [], 0
    for lo, hi in ((0, 1200), (1200, 2900), (2900, 3000)):
        parts.append(postings.Part(postings.build(docs[lo:hi]), _lookup(docs[lo:hi]), offset))
        offset += hi - lo
    dead = np.zeros(3000, dtype=bool)
    dead[rng.sample(range(3000), 300)] = True
    index = postings.KeywordIndex(parts, BM25Settings(), dead=dead)
    for _ in range(60):
        query = rng.choices(common, k=rng.randint(0, 3)) + rng.choices(rare, k=rng.randint(0, 3))
        k = rng.choice([1, 10, 100])
        rows, scores = index.search(query, k)
        full = index.scores(query, np.arange(3000))
        full[dead] = 0
        order = np.lexsort((np.arange(3000), -full))
        want = order[full[order] > 0][:k]
        assert rows.tolist() == want.tolist()
        assert np.array_equal(scores, full[want])


def test_top_k_is_the_same_from_concurrent_threads() -> None:
    """Each thread keeps its own score accumulator between searches: questions searched at once
    from several threads get exactly what they get one by one."""
    rng = random.Random(3)
    words = [f"w{i}" for i in range(300)]
    docs = [rng.choices(words, k=rng.randint(3, 30)) for _ in range(5000)]
    index = postings.KeywordIndex([postings.Part(postings.build(docs), _lookup(docs), 0)], BM25Settings())
    queries = [rng.choices(words, k=rng.randint(1, 6)) for _ in range(200)]
    alone = [index.search(q, 20) for q in queries]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda q: index.search(q, 20), queries))
    for (rows_a, scores_a), (rows_b, scores_b) in zip(alone, together, strict=True):
        assert rows_a.tolist() == rows_b.tolist() and np.array_equal(scores_a, scores_b)


def test_remove_leaves_the_statistics_of_never_having_added(grown: tuple[Path, Path], tmp_path: Path,
                                                            store_kind: str) -> None:
    corpus, index = grown
    summary = remove(["comets.md", "rivers.md"], corpus, index, FAKE)
    assert summary.documents == 5 and not (corpus / "comets.md").exists() and not (corpus / "rivers.md").exists()
    manifest = manifest_of(index)
    assert "comets.md" not in manifest["documents"] and "rivers.md" not in manifest["files"]
    if store_kind == "embedded":
        # rivers.md shares its segment with bakery.txt: a tombstone; comets.md was a segment of its own: dropped
        assert manifest["removed_passages"] == 3 and len(manifest["segments"]) == 5
    store = load_index(index)
    assert {p.doc_id for p in store.iter_passages()} == {"bakery.txt", "volcanoes.md", "bridges.md", "tea.md",
                                                          "glaciers.md"}
    assert store.document("comets.md") is None and "comets.md" not in store.documents
    fresh = tmp_path / "fresh"
    build(corpus, fresh, FAKE, embedder=FakeEmbedder())
    other = load_index(fresh)
    for word in ("comet", "halley", "danube", "tea", "bread", "sun"):
        assert store.lexicon.stats(word) == other.lexicon.stats(word), word
        for term in store.tokenize(word):
            assert store.idf(term) == other.idf(term) and store.known(term) == other.known(term)
    assert store.scripts == other.scripts
    assert not store.known("halley") and store.lexicon.stats("halley") is None
    before = _answers(index)
    _same(before, _answers(fresh), ids_kept=False)
    compact(index, FAKE)
    if store_kind == "embedded":
        assert manifest_of(index)["removed_passages"] == 0
    _same(before, _answers(index))


@pytest.mark.embedded_only("FAISS IVF segments")
def test_removed_passages_never_come_back_from_an_ivf_segment(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", {f"{n}.md": _doc(n, b) for n, b in TOPICS})
    index = tmp_path / "index"
    small = Settings(model="fake-model", ann_threshold=8)
    build(corpus, index, small, embedder=FakeEmbedder())
    assert [s["dense"] for s in _segments(index)] == ["ivf"]
    remove(["volcanoes.md"], corpus, index, small)
    store = load_index(index)
    vector = FakeEmbedder().encode(["Which volcano buried Pompeii? Etna Vesuvius lava"])[0]
    ids, _ = store.dense_search(vector, 100)
    assert len(ids) == store.passage_count == 14
    assert "volcanoes.md" not in {p.doc_id for p in store.passages(ids.tolist())}
    hits = Retriever(store, FakeEmbedder()).search("Which volcano buried Pompeii?", k=20, mode="dense").hits
    assert hits and all(h.passage.doc_id != "volcanoes.md" for h in hits)


@pytest.mark.embedded_only("FAISS IVF segments")
def test_ivf_above_the_threshold_exact_below(tmp_path: Path) -> None:
    docs = {f"{n}-{i}.md": _doc(f"{n} {i}", b) for n, b in TOPICS for i in range(3)}
    corpus = write_corpus(tmp_path / "corpus", docs)
    small, large = tmp_path / "exact", tmp_path / "ivf"
    build(corpus, small, FAKE, embedder=FakeEmbedder())
    build(corpus, large, Settings(model="fake-model", ann_threshold=20), embedder=FakeEmbedder())
    assert [s["dense"] for s in _segments(small)] == ["flat"]
    assert [s["dense"] for s in _segments(large)] == ["ivf"]
    (segment,) = _segments(large)
    assert (large / "segments" / str(segment["name"]) / "dense.faiss").is_file()
    assert read_manifest(large)[1]["ann"]["threshold"] == 20
    a, b = load_index(small), load_index(large)
    recall = []
    for q in QUESTIONS:
        v = FakeEmbedder().encode([q])[0]
        exact_ids, exact_scores = a.dense_search(v, 10)
        ann_ids, ann_scores = b.dense_search(v, 10)
        recall.append(len(set(exact_ids.tolist()) & set(ann_ids.tolist())) / 10)
        assert np.allclose(b.dense_scores(v, ann_ids), ann_scores)  # cosines are exact
    assert np.mean(recall) >= 0.9


def _clustered(n: int, seed: int = 7) -> np.ndarray:
    """Unit vectors around 40 centres (like passages of 40 articles), not uniform on the sphere."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, 64)).astype(np.float32)
    x = centres[rng.integers(0, 40, n)] + 0.6 * rng.standard_normal((n, 64)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_ivf_list_counts() -> None:
    assert lists_for(100_000) == 1024 and lists_for(1_000_000) == 4096
    assert lists_for(10_000) == 256  # 4 sqrt(n) = 400 rounds to 512, but 512 lists need 19,968 points
    assert lists_for(20) == 1


@pytest.mark.embedded_only("FAISS IVF segments")
def test_ivf_scans_few_lists_and_rescores_exactly(tmp_path: Path) -> None:
    vectors = _clustered(6_000)
    np.save(tmp_path / VECTORS, vectors)
    assert build_ann(np.load(tmp_path / VECTORS, mmap_mode="r"), tmp_path / GRAPH) == IVF
    dead = np.arange(0, 6_000, 3, dtype=np.int64)  # every third row removed
    seg = SegmentVectors.open(tmp_path, IVF, AnnSettings(threshold=1, nprobe=8), dead)
    assert seg.graph.nlist == lists_for(6_000) == 128 and seg._params.nprobe == 8  # 8 of 128 lists
    rng = np.random.default_rng(3)
    recall = []
    for q in _clustered(50, seed=11) + 0.05 * rng.standard_normal((50, 64)).astype(np.float32):
        q = (q / np.linalg.norm(q)).astype(np.float32)
        exact = vectors @ q
        exact[dead] = -np.inf
        truth = set(np.argsort(-exact)[:10].tolist())
        rows, scores = seg.search(q, 10)
        assert not set(rows.tolist()) & set(dead.tolist())
        assert np.allclose(scores, vectors[rows] @ q, atol=1e-6)  # exact cosines, best first
        assert list(scores) == sorted(scores, reverse=True)
        recall.append(len(truth & set(rows.tolist())) / 10)
    assert 0.9 <= np.mean(recall)


def _mapped_kb(path: Path) -> int:
    """Resident kilobytes of this process's mappings of the file ``path`` (Linux)."""
    total, current = 0, ""
    with open("/proc/self/smaps", encoding="ascii", errors="replace") as fh:
        for line in fh:
            head = line.split()
            if head and "-" in head[0] and len(head) >= 5:  # a mapping's first line
                current = head[5] if len(head) > 5 else ""
            elif line.startswith("Rss:") and current == str(path.resolve()):
                total += int(head[1])
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux /proc/self/smaps")
def test_searching_a_big_segment_maps_none_of_its_vectors_into_the_process(tmp_path: Path) -> None:
    """Candidates' vectors are read from the file: reading them through the memory map put whole
    page-cache folios into the serving process (137 MB for 100 rows of a 1M-passage file)."""
    vectors = _clustered(4_000)
    np.save(tmp_path / VECTORS, vectors)
    build_ann(np.load(tmp_path / VECTORS, mmap_mode="r"), tmp_path / GRAPH)
    seg = SegmentVectors.open(tmp_path, IVF, AnnSettings(threshold=1), np.zeros(0, dtype=np.int64))
    for q in _clustered(30, seed=5):
        rows, scores = seg.search(q, 10)
        assert np.allclose(scores, vectors[rows] @ q, atol=1e-6)
        seg.scores(q, np.arange(0, 4_000, 97))
    assert _mapped_kb(tmp_path / VECTORS) == 0  # other tests' indexes may be mapped: this file only
    np.asarray(seg.vectors[np.arange(0, 4_000, 97)])  # the same rows through the map do show up
    assert _mapped_kb(tmp_path / VECTORS) > 0
    seg.close()


def test_rows_are_read_from_the_file_in_the_order_asked(tmp_path: Path) -> None:
    array = np.arange(40 * 3, dtype=np.float32).reshape(40, 3)
    np.save(tmp_path / "a.npy", array)
    reader = RowFile(np.load(tmp_path / "a.npy", mmap_mode="r"))
    rows = np.array([7, 3, 4, 5, 39, 0, 4, 7], dtype=np.int64)  # runs, repeats, both ends, any order
    assert np.array_equal(reader.rows(rows), array[rows])
    assert reader.rows(np.zeros(0, dtype=np.int64)).shape == (0, 3)
    with pytest.raises(IndexError, match="out of range 0-39"):
        reader.rows(np.array([40]))
    reader.close()


@pytest.mark.embedded_only("FAISS HNSW segments")
def test_an_index_with_hnsw_segments_still_loads_and_searches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Indexes built before IVF hold HNSW segments: they are searched as before, and a compaction
    rewrites them as IVF."""
    import faiss

    from ftzqa.storage import segment

    def old_builder(vectors: np.ndarray, path: Path) -> str:
        graph = faiss.IndexHNSWSQ(vectors.shape[1], faiss.ScalarQuantizer.QT_8bit, 32, faiss.METRIC_INNER_PRODUCT)
        graph.train(np.ascontiguousarray(vectors))
        graph.add(np.ascontiguousarray(vectors))
        faiss.write_index(graph, str(path))
        return HNSW

    docs = {f"{n}-{i}.md": _doc(f"{n} {i}", b) for n, b in TOPICS for i in range(3)}
    corpus = write_corpus(tmp_path / "corpus", docs)
    index, exact = tmp_path / "index", tmp_path / "exact"
    settings = Settings(model="fake-model", ann_threshold=20)
    build(corpus, exact, FAKE, embedder=FakeEmbedder())
    with monkeypatch.context() as m:
        m.setattr(segment, "build_ann", old_builder)
        build(corpus, index, settings, embedder=FakeEmbedder())
    assert [s["dense"] for s in _segments(index)] == ["hnsw"]
    manifest = json.loads((read_manifest(index)[0] / "manifest.json").read_text(encoding="utf-8"))
    del manifest["ann"]["nprobe"]  # as written before IVF
    (read_manifest(index)[0] / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    before = _answers(index)
    _same(before, _answers(exact))
    compact(index, settings)
    assert [s["dense"] for s in _segments(index)] == ["ivf"]
    _same(_answers(index), before)


@pytest.mark.embedded_only("the segment merge policy")
def test_many_small_adds_keep_the_segment_count_bounded(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    settings = Settings(model="fake-model", ann_threshold=12)
    build(corpus, index, settings, embedder=FakeEmbedder())
    for i in range(20):
        path = tmp_path / f"note{i}.md"
        path.write_text(f"# Note {i}\n\nThing{i} number {i} is here.\n\nIt is item{i}.", encoding="utf-8")
        add([path], corpus, index, settings, embedder=FakeEmbedder())
        segments = _segments(index)
        assert len(segments) <= MAX_SEGMENTS
        flat = [s for s in segments if s["dense"] == "flat"]
        assert sum(int(s["passages"]) for s in flat[-len(flat):]) <= 12 + 2  # flat tail folded past the threshold
    assert any(s["dense"] == "ivf" for s in _segments(index))
    store = load_index(index)
    assert store.passage_count == 45 and len(store.documents) == 22
    hit = Retriever(store, FakeEmbedder()).search("Which thing is number 7?", k=1, mode="bm25").hits[0]
    assert hit.passage.doc_id == "note7.md"


def test_changed_document_replaces_its_old_version(grown: tuple[Path, Path]) -> None:
    corpus, index = grown
    (corpus / "tea.md").write_text(_doc("tea", "Oolong tea is partly oxidised. Taiwan grows it."), encoding="utf-8")
    embedder = FakeEmbedder()
    summary = build(corpus, index, FAKE, embedder=embedder)
    assert summary.documents == 7 and embedder.embedded == 2
    store = load_index(index)
    assert "Oolong" in store.documents["tea.md"].text
    texts = [p.text for p in store.iter_passages() if p.doc_id == "tea.md"]
    assert len(texts) == 2 and all("Darjeeling" not in t for t in texts)
    assert not store.known(store.tokenize("Darjeeling")[0])


def test_removing_unknown_or_every_document_is_refused(grown: tuple[Path, Path]) -> None:
    corpus, index = grown
    with pytest.raises(CorpusError, match="no document 'nope.md'.*path in the corpus"):
        remove(["nope.md"], corpus, index, FAKE)
    everything = list(manifest_of(index)["documents"])
    with pytest.raises(CorpusError, match="without documents"):
        remove(everything, corpus, index, FAKE)
    assert load_index(index).passage_count == 15 and (corpus / "tea.md").exists()


def test_cli_remove_and_compact(grown: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    corpus, index = grown
    monkeypatch.setenv("FTZQA_MODEL", "fake-model")
    assert cli.main(["remove", "tea.md", "--corpus", str(corpus), "--index", str(index)]) == 0
    assert "removed 1 document(s)" in capsys.readouterr().out and not (corpus / "tea.md").exists()
    assert cli.main(["remove", "comets.md", "--keep-files", "--corpus", str(corpus), "--index", str(index)]) == 0
    assert (corpus / "comets.md").exists()
    assert cli.main(["remove", "ghost.md", "--corpus", str(corpus), "--index", str(index)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no document 'ghost.md'" in err[0]
    assert cli.main(["compact", "--index", str(index)]) == 0
    assert "compacted into 1 segment(s): 5 documents, 11 passages" in capsys.readouterr().out


@pytest.mark.embedded_only("format-2 index folders")
def test_old_format_is_refused_with_the_rebuild_command_and_rebuilt_without_embedding(
    tiny_index: Path, tiny_corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An index of format 2 (one folder with passages.jsonl and dense.faiss) is refused on load;
    the rebuild reuses its vectors by content hash."""
    import faiss

    gen, manifest = read_manifest(tiny_index)
    store = load_index(tiny_index)
    passages = list(store.iter_passages())
    keys = [k for s in store.segments for _, _, k in s.iter_passages()]
    vectors = store.vectors(store.first_ids(len(passages)))
    old = tiny_index / "gen-20200101-000000-000000000"
    old.mkdir()
    with open(old / "passages.jsonl", "w", encoding="utf-8") as fh:
        for p, k in zip(passages, keys, strict=True):
            fh.write(json.dumps({**p.to_dict(), "key": k}) + "\n")
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    faiss.write_index(flat, str(old / "dense.faiss"))
    (old / "manifest.json").write_text(json.dumps({**manifest, "format_version": 2}), encoding="utf-8")
    (tiny_index / "CURRENT").write_text(old.name + "\n", encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="format version 2, this ftzqa reads 3; rebuild it: ftzqa build"):
        load_index(tiny_index)
    assert cli.main(["ask", "bread?", "--index", str(tiny_index)]) == 2
    assert "format version 2" in capsys.readouterr().err
    embedder = FakeEmbedder()
    summary = build(tiny_corpus, tiny_index, embedder=embedder)
    assert summary.passages == 5 and embedder.embedded == 0


@pytest.mark.embedded_only("the tombstone file of a generation")
def test_damaged_tombstones_are_refused(grown: tuple[Path, Path]) -> None:
    corpus, index = grown
    remove(["tea.md"], corpus, index, FAKE)
    gen, _ = read_manifest(index)
    data = json.loads((gen / "removed.json").read_text(encoding="utf-8"))
    data["passages"] = 99
    (gen / "removed.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="damaged.*removed passages.*ftzqa build"):
        load_index(index)


@pytest.mark.embedded_only("pruned segment files")
def test_readers_keep_working_after_their_segments_are_pruned(grown: tuple[Path, Path], tmp_path: Path) -> None:
    """A server holding an old generation still answers after writers pruned its files."""
    corpus, index = grown
    old = Retriever.load(index, embedder=FakeEmbedder())
    compact(index, FAKE)
    path = tmp_path / "owls.md"
    path.write_text(_doc(*TOPICS[5]), encoding="utf-8")
    add([path], corpus, index, FAKE, embedder=FakeEmbedder())
    compact(index, FAKE)
    live = {str(s["name"]) for s in _segments(index)}
    assert not any(s.name in live for s in old.store.segments)
    assert not any((index / "segments" / s.name).exists() for s in old.store.segments)
    answer = old.search("When did the Golden Gate Bridge open?", k=1)
    assert "1937" in answer.hits[0].text
    assert old.store.latest_version() != old.store.version


@pytest.mark.embedded_only("segment folders")
def test_segment_files_are_not_written_through_links(grown: tuple[Path, Path], tmp_path: Path) -> None:
    corpus, index = grown
    outside = tmp_path / "outside"
    outside.mkdir()
    (index / "segments" / "seg-planted").symlink_to(outside, target_is_directory=True)
    compact(index, FAKE)
    assert not (index / "segments" / "seg-planted").exists() and outside.is_dir() and not os.listdir(outside)


@pytest.mark.embedded_only("FAISS IVF segments")
def test_nprobe_is_a_search_time_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FTZQA_NPROBE sets how many lists an IVF search scans when the index is loaded (no rebuild);
    a bad value is refused with the variable, the value and the fix."""
    rng = random.Random(5)
    words = [f"w{i}" for i in range(400)]
    docs = {
        f"doc{d}.md": "\n\n".join(" ".join(rng.choices(words, k=30)) for _ in range(6)) for d in range(40)
    }  # 240 passages: enough for several lists
    corpus = write_corpus(tmp_path / "corpus", docs)
    index = tmp_path / "ivf"
    build(corpus, index, Settings(model="fake-model", ann_threshold=20), embedder=FakeEmbedder())
    (ivf,) = [s for s in load_index(index).segments if s.info.dense == "ivf"]
    lists = int(ivf.dense.graph.nlist)
    assert lists >= 2 and ivf.dense._params.nprobe == min(128, lists)
    monkeypatch.setenv("FTZQA_NPROBE", "1")
    store = load_index(index)
    (ivf,) = [s for s in store.segments if s.info.dense == "ivf"]
    assert ivf.dense._params.nprobe == 1 and store.ann.nprobe == 1
    assert read_manifest(index)[1]["ann"]["nprobe"] == 128  # the index itself is unchanged
    monkeypatch.setenv("FTZQA_NPROBE", "many")
    with pytest.raises(InvalidSettingError, match="FTZQA_NPROBE of 'many'.*set it to one"):
        load_index(index)
