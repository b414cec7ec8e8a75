"""The torch-free query path: ONNX export at build, vectors equal to sentence-transformers', the
manifest check, reuse of the exported file, fallback for models that cannot be exported, and
``ftzqa ask`` without torch. Real model throughout."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ARTICLE_CORPUS, write_corpus

from ftzqa import cli
from ftzqa.embed import SentenceTransformerEmbedder
from ftzqa.errors import IndexMismatchError
from ftzqa.index import build, embed_input, load_index
from ftzqa.onnx_embed import TOKENIZER, OnnxEmbedder, load_embedder
from ftzqa.retrieve import Retriever
from ftzqa.store import current_generation

# the encoder is stored in the embedded index folder; a Milvus store embeds questions with sentence-transformers
pytestmark = pytest.mark.embedded_only("the ONNX query encoder stored in the index folder")
REPO = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "How many Qilu Eurasian trains ran in the first seven months?",
    "Who is Tang Wenhong?",
    "What is the capital of France?",
]
HEAVY = ("torch", "transformers", "sentence_transformers", "scipy", "gradio")


def _onnx(index_dir: Path) -> OnnxEmbedder:
    index = load_index(index_dir)
    embedder = load_embedder(index.path, index.manifest)
    assert isinstance(embedder, OnnxEmbedder)
    return embedder


def _encoder(index_dir: Path) -> dict[str, Any]:
    gen = current_generation(index_dir)
    assert gen is not None
    entry: dict[str, Any] = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))["query_encoder"]
    return entry


def varied_texts() -> list[str]:
    """A few hundred texts: questions, sentences and passages of the article, texts longer than the
    model's 256 tokens, very short ones, numbers, and many scripts and symbols."""
    text = (ARTICLE_CORPUS / "ftz-one-year.md").read_text(encoding="utf-8")
    paragraphs = [p.strip() for p in text.split("\n\n") if len(p.strip()) > 40]
    sentences = [s.strip() for p in paragraphs for s in p.split(". ") if len(s.strip()) > 3]
    gold = [json.loads(line)["question"] for line in (REPO / "tests" / "data" / "ftz_gold.jsonl").open()]
    long = [" ".join(paragraphs[i : i + 4]) for i in range(0, len(paragraphs) - 4, 2)]
    short = ["?", "a", "Yes", "What?", "trains", "FTZ", "Q3", "—", "...", "OK!", "  padded  ", "\tTab\n"]
    numbers = [
        "879", "41.5%", "7.2 billion yuan", "13.11 billion", "1,234,567.89", "3.14e-10", "2020-08-31",
        "+86 10 1234 5678", "0x1F4A", "½ ⅓ ¾", "１２３４５", "١٢٣٤", "IV, XIV and MMXX", "-273.15 °C",
        "In 2019 exports grew 12.5% to ¥4.3 trillion ($610 billion).", "7 × 8 = 56; 2^10 = 1024",
    ]
    unicode = [
        "自由贸易试验区有多少个？", "山东 江苏 广西 河北 云南 黑龙江", "中国(山东)自由贸易试验区一周年",
        "Свободная торговая зона Китая", "منطقة التجارة الحرة", "מסחר חופשי", "मुक्त व्यापार क्षेत्र",
        "自由貿易試験区の一年", "자유무역시험구", "Ελεύθερη ζώνη εμπορίου", "naïve café façade résumé",
        "Zürich–Genève “quoted” ‘text’ …", "e\u0301le\u0300ve (combining accents)", "zero\u200bwidth\u200bspace",
        "emoji 🚂🇨🇳📈 trains", "😀" * 40, "ﬁnance ﬂow (ligatures)", "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ",
        "\u202eright-to-left override\u202c", "tab\tseparated\tvalues", "Ĳssel Œuvre Straße ß",
    ]
    templates = ["What did {} report?", "How did {} change?", "Where is {}?", "Tell me about {}", "{} in 2020"]
    names = ["Heilongjiang", "Yunnan", "the Ministry of Commerce", "Qilu trains", "Lingang New Area",
             "foreign capital", "Hainan", "the overall plan", "cross-border e-commerce", "Guangxi"]
    generated = [t.format(n) for t in templates for n in names]
    body = " ".join(paragraphs)
    prefixes = [body[:n] for n in range(40, 2400, 40)]  # 10 to ~500 tokens, across the 256 limit
    shouted = [g.upper() for g in gold[:20]] + [f"{g.lower()} {g}" for g in gold[:20]]
    texts = gold + sentences + paragraphs + long + prefixes + short + numbers + unicode + generated + shouted
    return list(dict.fromkeys(texts))


def test_the_text_set_is_varied_and_large_enough(real_embedder: SentenceTransformerEmbedder) -> None:
    texts = varied_texts()
    tokenizer = real_embedder.st_model.tokenizer
    lengths = [len(tokenizer(t, verbose=False)["input_ids"]) for t in texts]
    assert len(texts) >= 300
    assert sum(n > 256 for n in lengths) >= 10 and sum(n <= 8 for n in lengths) >= 20
    assert sum(any(ord(c) > 0x2000 for c in t) for t in texts) >= 20


def test_onnx_vectors_match_sentence_transformers(
    article_index: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    texts = varied_texts()
    onnx = _onnx(article_index)
    want = real_embedder.encode(texts)
    batched = onnx.encode(texts, batch_size=32)  # in batches of MAX_BATCH
    single = np.concatenate([onnx.encode([t]) for t in texts])  # questions are embedded one at a time
    assert batched.shape == single.shape == want.shape and batched.dtype == np.float32
    assert np.allclose(np.linalg.norm(single, axis=1), 1.0, atol=1e-5)
    worst = min(float((want * batched).sum(axis=1).min()), float((want * single).sum(axis=1).min()))
    print(f"min cosine ONNX vs sentence-transformers over {len(texts)} texts: {worst:.7f}")
    assert worst >= 0.9999
    assert onnx.encode([]).shape == (0, 384)


def test_manifest_records_the_encoder_with_the_model_settings(article_index: Path) -> None:
    entry = _encoder(article_index)
    assert entry["format"] == "onnx" and entry["model"] == "all-MiniLM-L6-v2"
    assert entry["pooling"] == "mean" and entry["normalize"] is True
    assert entry["max_seq_length"] == 256 and entry["dimension"] == 384
    assert entry["path"] == f"onnx/{entry['sha256']}"
    files = sorted((article_index / entry["path"]).iterdir())
    assert [f.name for f in files] == ["model.data", "model.onnx"]
    assert sum(f.stat().st_size for f in files) == entry["size"] and entry["size"] > 80e6
    assert entry["min_cosine"] >= 0.9999


def _cli_without_torch(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``ftzqa ARGS`` in a fresh process; it must succeed without importing torch or transformers."""
    script = (
        "import json, sys\n"
        "from ftzqa.cli import main\n"
        "code = main(sys.argv[1:])\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
        "print(json.dumps(heavy), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    heavy = json.loads(done.stderr.strip().splitlines()[-1])
    assert not [m for m in heavy if m.split(".")[0] in ("torch", "transformers", "sentence_transformers")]
    return done


def test_ask_does_not_import_torch_and_answers_like_sentence_transformers(
    article_index: Path, article_retriever: Retriever
) -> None:
    for question in QUESTIONS:
        done = _cli_without_torch("ask", question, "--index", str(article_index), "--json", "-k", "5")
        got = json.loads(done.stdout)
        want = article_retriever.search(question, k=5).to_dict()  # sentence-transformers embeds here
        assert [(h["doc_id"], h["start"], h["end"], h["evidence"]) for h in got["hits"]] == [
            (h["doc_id"], h["start"], h["end"], h["evidence"]) for h in want["hits"]
        ]
        assert got["found"] == want["found"] and got["confidence"] == pytest.approx(want["confidence"], abs=1e-3)
        assert [h["score"] for h in got["hits"]] == pytest.approx([h["score"] for h in want["hits"]], abs=1e-4)


def test_console_entry_prints_everything_before_its_fast_exit(
    article_index: Path, article_retriever: Retriever
) -> None:
    """``ftzqa`` (cli.run) ends ``ask`` with os._exit: output must be complete, exit codes kept."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    command = [sys.executable, "-m", "ftzqa.cli", "ask", "--index", str(article_index)]
    done = subprocess.run([*command, QUESTIONS[1], "--json", "-k", "10"], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["hits"] == article_retriever.search(QUESTIONS[1], k=10).to_dict()["hits"]
    bad = subprocess.run([*command, "   "], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("ftzqa: error: the question is empty")


def test_web_service_answers_without_torch(article_index: Path) -> None:
    """app.py's question path: the Service loads the index and answers with the ONNX encoder."""
    corpus = load_index(article_index).manifest["corpus"]
    script = (
        "import json, sys\n"
        "from ftzqa.settings import Settings\n"
        "from ftzqa.web.service import Service\n"
        "service = Service(sys.argv[1], sys.argv[2], Settings())\n"
        "line = service.start()\n"
        "answer = service.ask_dict(sys.argv[3], 1)\n"
        "print(json.dumps({'start': line, 'answer': answer, 'torch': 'torch' in sys.modules}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, "-c", script, corpus, str(article_index), QUESTIONS[0]],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["start"].startswith("loaded the index") and out["torch"] is False
    assert "879" in out["answer"]["hits"][0]["evidence"]["text"]


def test_python_api_search_uses_the_onnx_encoder(article_index: Path) -> None:
    retriever = Retriever.load(article_index)
    assert isinstance(retriever.embedder, OnnxEmbedder)
    assert retriever.search(QUESTIONS[0], k=1).hits[0].evidence.text.count("879")


@pytest.fixture
def article_copy(article_index: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "index"
    shutil.copytree(article_index, copy)
    return copy


def _refused(index_dir: Path) -> str:
    with pytest.raises(IndexMismatchError) as err:
        Retriever.load(index_dir)
    message = str(err.value)
    assert "rebuild it: ftzqa build --corpus" in message and str(index_dir) in message
    return message


def test_missing_onnx_files_are_refused_with_the_fix(article_copy: Path) -> None:
    folder = article_copy / _encoder(article_copy)["path"]
    (folder / "model.data").unlink()  # the weights
    assert "damaged ONNX query encoder" in _refused(article_copy)
    shutil.rmtree(folder)
    assert "missing its ONNX query encoder" in _refused(article_copy)


def test_damaged_onnx_file_is_refused(article_copy: Path) -> None:
    path = article_copy / _encoder(article_copy)["path"] / "model.data"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte changed
    path.write_bytes(bytes(data))
    assert "do not match the checksum" in _refused(article_copy)


def test_encoder_of_another_model_is_refused(article_copy: Path) -> None:
    gen = current_generation(article_copy)
    assert gen is not None
    manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    manifest["query_encoder"]["model"] = "paraphrase-MiniLM-L3-v2"
    (gen / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert "exported from model 'paraphrase-MiniLM-L3-v2'" in _refused(article_copy)


def test_missing_or_edited_tokenizer_is_refused(article_copy: Path) -> None:
    gen = current_generation(article_copy)
    assert gen is not None
    tokenizer = gen / TOKENIZER
    tokenizer.write_text(tokenizer.read_text(encoding="utf-8").replace('"[UNK]"', '"[UNKNOWN]"'), encoding="utf-8")
    assert "damaged query tokenizer" in _refused(article_copy)
    tokenizer.unlink()
    assert "missing its query tokenizer" in _refused(article_copy)


def test_cli_reports_a_damaged_encoder_in_one_line(article_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.rmtree(article_copy / _encoder(article_copy)["path"])
    assert cli.main(["ask", QUESTIONS[0], "--index", str(article_copy)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ftzqa: error: ") and "\n" not in err and "ftzqa build" in err


def test_rebuild_restores_a_deleted_encoder_without_embedding_passages(
    article_copy: Path, tmp_path: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    entry = _encoder(article_copy)
    shutil.rmtree(article_copy / entry["path"])
    corpus = Path(load_index(article_copy, query_encoder=False).manifest["corpus"])
    summary = build(corpus, article_copy, embedder=real_embedder)
    assert summary.embedded == 0 and summary.reused == summary.passages
    again = _encoder(article_copy)
    assert again["format"] == "onnx" and (article_copy / again["path"] / "model.onnx").is_file()
    assert Retriever.load(article_copy).search(QUESTIONS[0], k=1).hits[0].evidence.text.count("879")


def test_adding_a_document_reuses_the_onnx_file_and_prunes_unreferenced_ones(
    article_index: Path, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(ARTICLE_CORPUS, corpus)
    index_dir = tmp_path / "index"
    shutil.copytree(article_index, index_dir)
    entry = _encoder(index_dir)
    blob = index_dir / entry["path"] / "model.data"
    before = blob.stat()
    stray = index_dir / "onnx" / ("0" * 64)
    stray.mkdir()
    (stray / "model.onnx").write_bytes(b"left over from an older model")
    leftover = index_dir / "onnx" / ".tmp-0123456789ab.raw.onnx"  # of a killed export
    leftover.write_bytes(b"half")
    (corpus / "hainan.md").write_text("# Hainan\n\nHainan opened a free trade port in 2020.\n", encoding="utf-8")
    summary = build(corpus, index_dir, embedder=SentenceTransformerEmbedder(device="cpu"))
    assert summary.embedded == 1
    after = _encoder(index_dir)
    assert after == entry  # the same exported file, not a new export
    assert blob.stat().st_ino == before.st_ino and blob.stat().st_mtime_ns == before.st_mtime_ns
    assert not stray.exists() and not leftover.exists()  # no generation references them
    assert [p.name for p in (index_dir / "onnx").iterdir()] == [entry["sha256"]]
    answer = Retriever.load(index_dir).search("When did Hainan open a free trade port?", k=1)
    assert answer.hits[0].passage.doc_id == "hainan.md"


@pytest.fixture(scope="module")
def variant_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two real models made from the packaged MiniLM weights: CLS pooling with 128 tokens
    (exportable) and one with an extra Dense layer (not exportable)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Dense, Normalize, Pooling, Transformer

    from ftzqa.embed import resolve_model

    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    out = {}
    for name, extra in (("cls128", []), ("dense", [Dense(384, 96)])):
        transformer = Transformer(resolve_model("all-MiniLM-L6-v2"), max_seq_length=128)
        pooling = Pooling(384, "cls" if name == "cls128" else "mean")
        model = SentenceTransformer(modules=[transformer, pooling, *extra, Normalize()], device="cpu")
        model.save(str(root / name))
        out[name] = root / name
    return out


def test_pooling_and_length_are_read_from_the_model(variant_models: dict[str, Path], tmp_path: Path) -> None:
    model = str(variant_models["cls128"])
    embedder = SentenceTransformerEmbedder(model, device="cpu")
    build(write_corpus(tmp_path / "corpus"), tmp_path / "index", embedder=embedder)
    entry = _encoder(tmp_path / "index")
    assert entry["format"] == "onnx" and entry["pooling"] == "cls" and entry["max_seq_length"] == 128
    texts = varied_texts()[::3]
    assert sum(len(embedder.st_model.tokenizer(t, verbose=False)["input_ids"]) > 128 for t in texts) >= 10
    got = _onnx(tmp_path / "index").encode(texts)
    assert float((got * embedder.encode(texts)).sum(axis=1).min()) >= 0.9999


def test_model_the_exporter_cannot_handle_falls_back_to_sentence_transformers(
    variant_models: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = str(variant_models["dense"])
    corpus, index_dir = write_corpus(tmp_path / "corpus"), tmp_path / "index"
    with caplog.at_level(logging.WARNING, logger="ftzqa"):
        build(corpus, index_dir, embedder=SentenceTransformerEmbedder(model, device="cpu"))
    assert any("cannot use ONNX" in r.getMessage() and "Dense" in r.getMessage() for r in caplog.records)
    entry = _encoder(index_dir)
    assert entry["format"] == "sentence-transformers" and "Dense" in entry["reason"]
    assert not (index_dir / "onnx").exists() or not any((index_dir / "onnx").iterdir())
    retriever = Retriever.load(index_dir)
    assert isinstance(retriever.embedder, SentenceTransformerEmbedder)
    assert retriever.search("How long is the Danube?", k=1).hits[0].passage.doc_id == "rivers.md"


def test_exporter_error_falls_back_and_the_build_succeeds(
    tmp_path: Path, real_embedder: SentenceTransformerEmbedder, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("unsupported operator aten::imaginary")

    monkeypatch.setattr(torch.onnx, "export", broken)
    corpus, index_dir = write_corpus(tmp_path / "corpus"), tmp_path / "index"
    with caplog.at_level(logging.WARNING, logger="ftzqa"):
        summary = build(corpus, index_dir, embedder=real_embedder)
    assert summary.passages == 5
    assert any("aten::imaginary" in r.getMessage() for r in caplog.records)
    entry = _encoder(index_dir)
    assert entry["format"] == "sentence-transformers" and "aten::imaginary" in entry["reason"]
    assert list((index_dir / "onnx").iterdir()) == []  # the half-written file is gone
    assert Retriever.load(index_dir).search("Where does the Rhine rise?", k=1).hits[0].passage.doc_id == "rivers.md"


def test_fake_embedder_index_has_no_onnx_and_keeps_its_embedder(tiny_index: Path) -> None:
    entry = _encoder(tiny_index)
    assert entry["format"] == "sentence-transformers" and "FakeEmbedder" in entry["reason"]
    index = load_index(tiny_index)
    assert load_embedder(index.path, index.manifest) is None


def test_passage_inputs_embed_alike(article_index: Path, real_embedder: SentenceTransformerEmbedder) -> None:
    """The index's own passages (title + section + text), as the build embedded them."""
    index = load_index(article_index)
    passages = list(index.iter_passages())
    texts = [embed_input(p, index.with_title) for p in passages]
    got = _onnx(article_index).encode(texts)
    assert float((got * index.vectors(index.first_ids(len(passages)))).sum(axis=1).min()) >= 0.9999


def test_adding_a_small_document_embeds_it_without_torch_like_sentence_transformers(
    article_index: Path, tmp_path: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(ARTICLE_CORPUS, corpus)
    index_dir = tmp_path / "index"
    shutil.copytree(article_index, index_dir)
    new = tmp_path / "hainan.md"
    new.write_text("# Hainan\n\nHainan Free Trade Port cut tariffs on 1,500 goods in 2025.\n", encoding="utf-8")
    done = _cli_without_torch("add", str(new), "--corpus", str(corpus), "--index", str(index_dir))
    assert "1 embedded" in done.stdout
    store = load_index(index_dir)
    try:
        (passage,) = [p for p in store.iter_passages() if p.doc_id == "hainan.md"]
        want = real_embedder.encode([embed_input(passage, store.with_title)])[0]
        ids, scores = store.dense_search(want / np.linalg.norm(want), 1)  # inner product with the stored vector
        assert store.passages([int(ids[0])])[0] == passage and float(scores[0]) >= 0.9999
    finally:
        store.close()
