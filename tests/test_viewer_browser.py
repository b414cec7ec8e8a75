"""The source viewer in headless Chromium (Debian's /usr/bin/chromium): a citation opens its
document at the passage with the evidence sentence in view; a permalink does the same; a hostile
document's markup is shown as text and never runs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from ftzqa.settings import Settings

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 30_000  # ms
HOSTILE_NAME = 'zebra"><img src=x onerror=window.fqPwned=1>.md'
HOSTILE = (
    "---\ntitle: Zebra <script>window.fqPwned=2</script> sanctuary\n---\n\n"
    "# The sanctuary\n\n"
    "The zebra sanctuary opened in the hills. <img src=x onerror=\"window.fqPwned=3\">\n\n"
    "The zebra sanctuary holds 41 zebras and 7 keepers. <script>window.fqPwned=4</script>\n\n"
    "Visitors come <b onmouseover=window.fqPwned=5>every</b> spring.\n"
)
QUESTION = "How many zebras does the zebra sanctuary hold?"
EVIDENCE = "The zebra sanctuary holds 41 zebras and 7 keepers."

if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
playwright_sync = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright (pip)")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, real_embedder: Any) -> Iterator[tuple[str, Any]]:
    """The app over the repo's corpus plus a hostile document; yields (url, service)."""
    from test_browser import _free_port

    from ftzqa.web.service import Service
    from ftzqa.web.ui import build_ui, launch

    root = tmp_path_factory.mktemp("viewer")
    shutil.copytree(REPO / "corpus", root / "corpus")
    (root / "corpus" / HOSTILE_NAME).write_text(HOSTILE, encoding="utf-8")
    service = Service(root / "corpus", root / "index", Settings(), embedder=real_embedder)
    service.start()
    assert HOSTILE_NAME in service.retriever.store.documents
    demo = build_ui(service)
    port = _free_port()
    launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/", service
    finally:
        demo.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


def _open(context: Any, url: str) -> Any:
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#fq-question textarea")
    return page


def _ask(page: Any, question: str) -> Any:
    before = page.locator(".fq-answer").count()
    page.fill("#fq-question textarea", question)
    page.click("#fq-ask")
    page.wait_for_function(f"document.querySelectorAll('.fq-answer').length > {before}", timeout=TIMEOUT)
    return page.locator(".fq-answer").last


def _in_view(page: Any, selector: str) -> bool:
    """True when the element is inside the window's viewport and inside the viewer panel (which scrolls)."""
    return bool(page.evaluate(
        """(selector) => {
          const el = document.querySelector(selector);
          const box = document.querySelector('#fq-viewer');
          if (!el || !box) return false;
          const r = el.getBoundingClientRect(), b = box.getBoundingClientRect();
          const inWindow = r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0;
          const inBox = r.top >= b.top - 1 && r.bottom <= b.bottom + 1;
          return inWindow && inBox;
        }""",
        selector,
    ))


def _wait_in_view(page: Any, selector: str) -> None:
    page.wait_for_selector(selector, state="visible", timeout=TIMEOUT)
    page.wait_for_function(
        """(selector) => {
          const el = document.querySelector(selector), box = document.querySelector('#fq-viewer');
          if (!el || !box) return false;
          const r = el.getBoundingClientRect(), b = box.getBoundingClientRect();
          return r.height > 0 && r.top >= Math.max(0, b.top - 1)
            && r.bottom <= Math.min(window.innerHeight, b.bottom + 1);
        }""",
        arg=selector, timeout=TIMEOUT,
    )


def test_citation_opens_the_document_with_the_evidence_in_view(context: Any, served: tuple[str, Any]) -> None:
    url, _ = served
    page = _open(context, url)
    reply = _ask(page, "How many Qilu Eurasian trains ran in the first seven months?")
    assert "Found in your documents" in reply.locator(".fq-verdict").inner_text()
    link = reply.locator(".fq-hit").first.locator("a.fq-open")
    assert "open source" in link.inner_text()
    link.click()
    _wait_in_view(page, "#fq-viewer .fq-src-evidence")
    evidence = page.locator("#fq-viewer .fq-src-evidence")
    assert "879 trains" in evidence.inner_text()
    assert _in_view(page, "#fq-viewer .fq-src-evidence")
    viewer = page.locator("#fq-viewer")
    assert "China's pilot free trade zones, one year on" in viewer.locator(".fq-src-title").inner_text()
    assert "The whole document as indexed" in viewer.inner_text()
    # the whole document is there: its first and last paragraphs too, far out of view
    text = viewer.locator(".fq-src-text").inner_text()
    assert len(text) > 8_000
    assert page.url.rstrip("/") == url.rstrip("/")  # opened in place, not by navigating away
    page.click("#fq-viewer-close")
    page.wait_for_selector("#fq-viewer", state="detached", timeout=TIMEOUT)
    # a second citation of a new answer opens at its own place
    reply = _ask(page, "How many reform pilot tasks are in the overall plan?")
    reply.locator(".fq-hit").first.locator("a.fq-open").click()
    page.wait_for_function(
        "(document.querySelector('#fq-viewer .fq-src-evidence')?.innerText || '').includes('713')", timeout=TIMEOUT
    )
    _wait_in_view(page, "#fq-viewer .fq-src-evidence")


def test_permalink_opens_the_same_view(context: Any, served: tuple[str, Any]) -> None:
    url, service = served
    answer = service.retriever.search("How many Qilu Eurasian trains ran in the first seven months?", k=1)
    hit = answer.hits[0]
    link = (
        f"{url}?doc={quote(hit.passage.doc_id)}&start={hit.passage.start}&end={hit.passage.end}"
        f"&evidence_start={hit.evidence.start}&evidence_end={hit.evidence.end}"
    )
    page = _open(context, link)
    _wait_in_view(page, "#fq-viewer .fq-src-evidence")
    assert page.locator("#fq-viewer .fq-src-evidence").inner_text() == hit.evidence.text
    # the permalink shown in the viewer is the same link
    href = page.locator("#fq-viewer a.fq-src-link").get_attribute("href")
    assert href and f"start={hit.passage.start}" in href and f"evidence_end={hit.evidence.end}" in href


def test_bad_permalinks_show_a_message(context: Any, served: tuple[str, Any]) -> None:
    url, _ = served
    cases = {
        "?doc=../../etc/passwd&start=0&end=10": "no document named '../../etc/passwd' is in the index",
        "?doc=ftz-one-year.md&start=10&end=99999999": "is not a span of 'ftz-one-year.md'",
        "?doc=ftz-one-year.md&start=ten&end=20": "start='ten' is not a character offset",
        "?doc=ftz-one-year.md&start=1": "the link has no end=",
    }
    for query, message in cases.items():
        page = _open(context, url + query)
        page.wait_for_selector("#fq-viewer .fq-error", timeout=TIMEOUT)
        text = page.locator("#fq-viewer").inner_text()
        assert message in text, (query, text)
        assert "Traceback" not in text
        page.close()


def test_hostile_document_is_shown_as_text_and_never_runs(context: Any, served: tuple[str, Any]) -> None:
    url, _ = served
    page = _open(context, url)
    reply = _ask(page, QUESTION)
    hit = reply.locator(".fq-hit").filter(has_text="41 zebras").first
    hit.locator("a.fq-open").click()
    _wait_in_view(page, "#fq-viewer .fq-src-evidence")
    assert page.locator("#fq-viewer .fq-src-evidence").inner_text() == EVIDENCE
    viewer = page.locator("#fq-viewer")
    text = viewer.locator(".fq-src-text").inner_text()
    assert '<img src=x onerror="window.fqPwned=3">' in text and "<script>window.fqPwned=4</script>" in text
    assert HOSTILE_NAME in viewer.locator(".fq-src-doc").inner_text()
    markup = "#fq-viewer-body img, #fq-viewer-body script, #fq-viewer-body b, #fq-viewer-body svg"
    assert viewer.locator(markup).count() == 0
    page.locator("#fq-viewer .fq-src-text").hover()
    page.wait_for_timeout(300)
    assert page.evaluate("window.fqPwned === undefined")
    # the same through a permalink
    page2 = _open(context, url + "?doc=" + quote(HOSTILE_NAME) + "&start=0&end=20")
    page2.wait_for_selector("#fq-viewer .fq-src-evidence", timeout=TIMEOUT)
    assert page2.evaluate("window.fqPwned === undefined")


def test_permalink_behind_a_login_opens_after_signing_in(browser: Any, served: tuple[str, Any]) -> None:
    """The viewer is behind the page's login; Gradio's login page reloads the same URL, so the
    permalink's view opens once signed in."""
    from test_browser import _free_port

    from ftzqa.web.access import Access
    from ftzqa.web.service import Service
    from ftzqa.web.ui import build_ui, launch

    _, open_service = served
    service = Service(
        open_service.corpus_dir, open_service.index_dir, Settings(), embedder=open_service.embedder,
        access=Access(users={"alice": "secret-pw"}),
    )
    service.start()
    demo = build_ui(service)
    port = _free_port()
    launch(demo, service, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/?doc=ftz-one-year.md&start=4754&end=4931")
        page.wait_for_selector("input[type=password]", timeout=TIMEOUT)
        assert page.locator("#fq-viewer").count() == 0 and "879 trains" not in page.content()
        page.locator("input[type=text]").first.fill("alice")
        page.fill("input[type=password]", "secret-pw")
        page.locator("button", has_text="Login").click()
        _wait_in_view(page, "#fq-viewer .fq-src-evidence")
        assert "879 trains" in page.locator("#fq-viewer .fq-src-evidence").inner_text()
    finally:
        context.close()
        demo.close()
