"""Removing documents on the page (issue 11, point 2) and ``app.py --watch``.

Only signed-in users who may add documents can remove them; without logins, or read-only, the
page has no remove handler at all (checked in the config the server sends, and by posting to the
real app's queue the way test_access does). The real app runs with the real model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from app_process import App, call_event, running_app
from conftest import FakeEmbedder, write_corpus

from ftzqa.settings import Settings
from ftzqa.web.access import Access
from ftzqa.web.service import Service

FAKE = Settings(model="fake-model")
USERS = {"alice": "wonder", "bob": "builder"}


def _service(tmp_path: Path, access: Access) -> Service:
    service = Service(write_corpus(tmp_path / "corpus"), tmp_path / "index", FAKE, embedder=FakeEmbedder(),
                      access=access)
    service.start()
    return service


def test_only_signed_in_users_who_may_add_can_remove(tmp_path: Path) -> None:
    service = _service(tmp_path, Access(users=USERS, upload_users=frozenset({"alice"})))
    refused = ["bob may not remove documents on this server; ask its operator"]
    assert service.remove(["rivers.md"], user="bob") == refused
    assert service.remove(["rivers.md"], user=None) == [
        "this user may not remove documents on this server; ask its operator"
    ]
    assert (service.corpus_dir / "rivers.md").exists() and "rivers.md" in service.document_ids()
    lines = service.remove(["rivers.md"], user="alice")
    assert lines == ["removed rivers.md", "1 documents, 2 passages left"]
    assert not (service.corpus_dir / "rivers.md").exists() and service.document_ids() == ["bakery.txt"]
    answer, _ = service.ask("How long is the Danube?", 3, "bm25")
    assert all(h.passage.doc_id != "rivers.md" for h in answer.hits)
    unknown = service.remove(["../../etc/passwd"], user="alice")
    assert unknown[0].startswith("nothing removed: no document '../../etc/passwd' in the index")
    last = service.remove(["bakery.txt"], user="alice")  # the index keeps at least one document
    assert last[0].startswith("nothing removed: that would leave the index without documents")
    assert (service.corpus_dir / "bakery.txt").exists()


@pytest.mark.parametrize(
    ("access", "why"),
    [(Access(), "signed-in users"), (Access(users=USERS, read_only=True), "read-only")],
)
def test_without_logins_or_read_only_nobody_removes(tmp_path: Path, access: Access, why: str) -> None:
    service = _service(tmp_path, access)
    assert why in service.remove(["rivers.md"], user="alice")[0]
    assert (service.corpus_dir / "rivers.md").exists()


def _remove_handlers(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in config["dependencies"] if d.get("api_name") == "remove_documents"]


@pytest.mark.parametrize(
    ("access", "present"),
    [
        (Access(), False),
        (Access(users=USERS, read_only=True), False),
        (Access(read_only=True), False),
        (Access(users=USERS), True),
        (Access(users=USERS, upload_users=frozenset({"alice"})), True),
    ],
)
def test_the_remove_handler_exists_only_with_logins_and_not_read_only(
    tmp_path: Path, access: Access, present: bool
) -> None:
    from ftzqa.web.ui import build_ui

    demo = build_ui(_service(tmp_path, access))
    config = demo.get_config_file()
    assert bool(_remove_handlers(config)) is present
    ids = {c.get("props", {}).get("elem_id") for c in config["components"]}
    assert ("fq-remove-docs" in ids) is present


# --- the real app: removal through the queue, and --watch ------------------------------------------


@pytest.fixture(scope="module")
def watching_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    flags = ["--auth", "alice:wonder", "--auth", "bob:builder", "--upload-users", "alice", "--watch"]
    with running_app(tmp_path_factory.mktemp("remove"), *flags) as app:
        yield app


def _ask(app: App, question: str) -> dict[str, Any]:
    client = app.client("bob", "builder")
    r = client.post("/gradio_api/run/ask", json={"data": [question, 3, "hybrid"]})
    assert r.status_code == 200, r.text
    return dict(r.json()["data"][0])


def test_page_removal_for_a_permitted_user_only(watching_app: App) -> None:
    bob = watching_app.client("bob", "builder")
    (handler,) = _remove_handlers(bob.get("/config").json())
    refused = call_event(bob, int(handler["id"]), [["rivers.md"]])
    assert refused["success"] and "Bob may not remove documents" in refused["output"]["data"][0]
    assert (watching_app.corpus / "rivers.md").exists()

    alice = watching_app.client("alice", "wonder")
    done = call_event(alice, int(handler["id"]), [["rivers.md"]])
    assert done["success"] and "Removed rivers.md" in done["output"]["data"][0], done
    assert not (watching_app.corpus / "rivers.md").exists()
    hits = _ask(watching_app, "How long is the Danube?")["hits"]
    assert all(h["doc_id"] != "rivers.md" for h in hits)


def test_app_watch_picks_up_a_new_file(watching_app: App) -> None:
    (watching_app.corpus / "comets.md").write_text("# Comets\n\nHalley's comet returns every 76 years.\n")
    deadline = time.monotonic() + 120
    while True:
        hits = _ask(watching_app, "How often does Halley's comet return?")["hits"]
        if hits and hits[0]["doc_id"] == "comets.md":
            break
        assert time.monotonic() < deadline, watching_app.output()
        time.sleep(0.5)
    assert "watch: added comets.md" in watching_app.output()


CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
UI_TIMEOUT = 30_000  # ms


def in_browser(test: Callable[[Any], None]) -> None:
    """Run ``test(browser)`` with headless Chromium in a thread of its own: Playwright's sync API
    refuses a thread where an asyncio loop runs (one left by an in-process Gradio test)."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright (pip)")

    def run() -> None:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
            try:
                test(browser)
            finally:
                browser.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(run).result()


def _logged_in(browser: Any, app: App, user: str, password: str) -> Any:
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    page.goto(app.url)
    page.wait_for_selector("input[type=password]")
    page.fill("input[data-testid=textbox]", user)
    page.fill("input[type=password]", password)
    page.get_by_role("button", name="Login").click()
    page.wait_for_selector("#fq-question textarea", timeout=UI_TIMEOUT)
    return page


@pytest.mark.browser
def test_browser_permitted_user_removes_a_document(watching_app: App) -> None:
    in_browser(lambda browser: _permitted_user_removes(browser, watching_app))


def _permitted_user_removes(browser: Any, watching_app: App) -> None:
    page = _logged_in(browser, watching_app, "alice", "wonder")
    page.get_by_text("Add documents").click()
    page.click("#fq-remove-docs input")
    page.get_by_role("option", name="bakery.txt").click()
    page.click("#fq-remove")
    page.wait_for_function(
        "document.querySelector('#fq-remove-result').innerText.includes('Removed bakery.txt')", timeout=UI_TIMEOUT
    )
    assert not (watching_app.corpus / "bakery.txt").exists()
    assert "documents" in page.locator("#fq-status").inner_text()
    page.context.close()


@pytest.mark.browser
def test_browser_other_users_see_no_remove_control(watching_app: App) -> None:
    in_browser(lambda browser: _others_see_no_control(browser, watching_app))


def _others_see_no_control(browser: Any, watching_app: App) -> None:
    page = _logged_in(browser, watching_app, "bob", "builder")
    page.wait_for_timeout(500)  # the per-user panel visibility arrives with the page's load event
    assert not page.locator("#fq-remove").is_visible() and not page.get_by_text("Add documents").is_visible()
    page.context.close()
