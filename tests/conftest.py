"""Shared fixtures: a deterministic fake embedder, a tiny corpus, and the real-model index."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
ARTICLE_CORPUS = REPO / "corpus"
SEED = REPO.parent / "shared" / "seed" / "ftz-one-year.txt"


class FakeEmbedder:
    """Hashed bag of lowercase words: similar wording gives similar vectors. Counts what it embeds."""

    def __init__(self, dimension: int = 64, model_id: str = "fake-model") -> None:
        self.dimension = dimension
        self.model_id = model_id
        self.calls: list[list[str]] = []

    @property
    def embedded(self) -> int:
        return sum(len(c) for c in self.calls)

    def encode(self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int(hashlib.md5(word.encode()).hexdigest(), 16)
                out[i, h % self.dimension] += 1.0 if (h >> 8) % 2 else -1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else out[i]
            if not norm:
                out[i, 0] = 1.0
        return out


class FailingEmbedder(FakeEmbedder):
    def encode(self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        raise RuntimeError("embedding failed on purpose")


TINY_DOCS = {
    "rivers.md": (
        "---\ntitle: Rivers of Europe\nsource: Test Atlas\n---\n\n# Rivers of Europe\n\n"
        "## The Danube\n\n"
        "The Danube flows through ten countries. It is 2,850 kilometres long.\n\n"
        "The Danube delta is a haven for pelicans.\n\n"
        "## The Rhine\n\n"
        "The Rhine rises in the Swiss Alps and reaches the North Sea near Rotterdam.\n"
    ),
    "bakery.txt": (
        "Baking bread\n\n"
        "Sourdough bread needs a starter made of flour and water. The dough rests overnight.\n\n"
        "Rye bread is dense and dark.\n"
    ),
}


# a document about the Greeks: "Greece" is in 3 of its 6 paragraphs, "Greeks" in 2, "Turkey" in 1;
# the third paragraph, on the state formed in 1830, names none of them
GREEKS = "\n\n".join([
    "The Greeks have lived in Greece and Asia Minor for millennia.",
    "Greek colonies spread across the Mediterranean, from Greece to Sicily.",
    "The modern state was officially formed in 1830 after the war of independence.",
    "Many Greeks emigrated to the United States and Australia in the 20th century.",
    "Greece joined the European Union in 1981.",
    "The Greek minority of Turkey has dwindled to a few thousand.",
])


def write_corpus(folder: Path, docs: dict[str, str] = TINY_DOCS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


# --- which store the suite runs against ------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store", default="embedded", choices=["embedded", "milvus"],
        help="run the suite against this store: embedded (default) or milvus (every index the tests "
        "build, beside its index folder, in a Milvus Lite file)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--store") != "milvus":
        return
    for item in items:
        marker = item.get_closest_marker("embedded_only")
        if marker is not None:
            why = marker.args[0] if marker.args else marker.kwargs.get("reason", "about the embedded store")
            item.add_marker(pytest.mark.skip(reason=f"embedded store only: {why}"))


def milvus_spec(index_dir: str | Path) -> str:
    """The Milvus Lite file that stands for the index folder ``index_dir`` under --store milvus."""
    return f"milvus:{Path(index_dir).absolute()}.milvus.db"


def store_args(index_dir: str | Path) -> list[str]:
    """The ``--store`` arguments a child process (``ftzqa ...``, ``app.py``) needs for the index
    folder ``index_dir`` under the store being tested (none for the embedded store)."""
    if os.environ.get("FTZQA_TEST_STORE") == "milvus":
        return ["--store", milvus_spec(index_dir)]
    return []


def manifest_of(index_dir: str | Path) -> dict[str, Any]:
    """The live manifest of the index at ``index_dir``, in whichever store is being tested."""
    from ftzqa.index import load_index

    store = load_index(index_dir, query_encoder=False, for_writing=True)
    try:
        return dict(store.manifest)
    finally:
        store.close()


def version_of(index_dir: str | Path) -> str:
    """The live version (embedded: generation) of the index at ``index_dir``: changes with every write."""
    from ftzqa.index import load_index

    store = load_index(index_dir, query_encoder=False, for_writing=True)
    try:
        return store.version
    finally:
        store.close()


@pytest.fixture(scope="session")
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--store"))


@pytest.fixture(scope="session", autouse=True)
def _store_under_test(store_kind: str):  # type: ignore[no-untyped-def]
    """Under --store milvus, every index a test builds or opens by folder (no store named) lives in
    Milvus Lite beside that folder; Lite's servers are stopped at the end."""
    if store_kind != "milvus":
        yield
        return
    from ftzqa.storage import location, milvus_schema

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(location, "default_store", milvus_spec)
        patch.setenv("FTZQA_TEST_STORE", "milvus")  # app_process: the child app gets --store too
        yield
    milvus_schema.close_all()


@pytest.fixture(autouse=True)
def _release_milvus(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Stop the Milvus Lite servers a test started in its own folder (session indexes stay up), on
    either store (test_milvus.py opens Lite files in the embedded run too)."""
    yield
    import sys

    milvus_schema = sys.modules.get("ftzqa.storage.milvus_schema")
    if milvus_schema is not None:
        for uri in milvus_schema.open_uris():
            if uri.startswith(str(tmp_path)):
                milvus_schema.release(uri)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def tiny_index(tmp_path: Path, tiny_corpus: Path, fake_embedder: FakeEmbedder) -> Path:
    from ftzqa.index import build

    index_dir = tmp_path / "index"
    build(tiny_corpus, index_dir, embedder=fake_embedder)
    return index_dir


@pytest.fixture(scope="session")
def real_embedder():  # type: ignore[no-untyped-def]
    from ftzqa.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(device="cpu")


@pytest.fixture(scope="session")
def article_index(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> Path:  # type: ignore[no-untyped-def]
    """The real article indexed with the real model, built once per session."""
    from ftzqa.index import build

    root = tmp_path_factory.mktemp("article")
    corpus = root / "corpus"
    shutil.copytree(ARTICLE_CORPUS, corpus)
    build(corpus, root / "index", embedder=real_embedder)
    return root / "index"


@pytest.fixture(scope="session")
def article_retriever(article_index: Path, real_embedder):  # type: ignore[no-untyped-def]
    from ftzqa.retrieve import Retriever

    return Retriever.load(article_index, embedder=real_embedder)


CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"
]


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    """One headless Debian Chromium for every browser test module: Playwright's sync API runs one
    instance per thread at a time, so the modules share it."""
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("browser tests need Chromium at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright (pip)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
