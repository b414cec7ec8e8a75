"""Who may use the page and who may add documents (issue 9, finding 4), against the real app.py.

Each app runs in its own process with the real model; requests are raw HTTP, made the way the
attacker in the issue made them (an event's fn_index taken from /config and posted to
/gradio_api/queue/join), and the page is driven in headless Chromium.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from app_process import App, call_event, file_payload, find_upload_event, running_app, upload_to_cache

from ftzqa.web.access import Access, AccessError, exposure_warning, make_access

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
ANSWER_TIMEOUT = 30_000  # ms
COMETS = b"# Comets\n\nHalley's comet returns every 76 years.\n"
BASE = ["bakery.txt", "ftz-one-year.md", "rivers.md"]


@pytest.fixture(scope="module")
def auth_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """Two users; only alice may add documents; unprocessed uploads expire after 2 s."""
    root = tmp_path_factory.mktemp("auth")
    flags = ["--auth", "alice:wonder", "--auth", "bob:builder", "--upload-users", "alice"]
    with running_app(root, *flags, env={"FTZQA_UPLOAD_CACHE_SECONDS": "2"}) as app:
        yield app


@pytest.fixture(scope="module")
def read_only_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    with running_app(tmp_path_factory.mktemp("readonly"), env={"FTZQA_READ_ONLY": "1"}) as app:
        yield app


def _corpus(app: App) -> list[str]:
    return sorted(p.name for p in app.corpus.iterdir())


def _dependency(config: dict[str, Any], api_name: str) -> dict[str, Any]:
    return next(d for d in config["dependencies"] if d.get("api_name") == api_name)


# --- login ------------------------------------------------------------------------------------------


def test_without_login_the_api_config_and_uploads_get_401(auth_app: App) -> None:
    fn_index = find_upload_event(auth_app.client("bob", "builder").get("/config").json())
    assert fn_index is not None
    anon = auth_app.client()
    calls = {
        "config": anon.get("/config"),
        "api info": anon.get("/gradio_api/info"),
        "openapi": anon.get("/gradio_api/openapi.json"),
        "call /ask": anon.post("/gradio_api/call/ask", json={"data": ["Who is Tang Wenhong?", 3, "hybrid"]}),
        "run /ask": anon.post("/gradio_api/run/ask", json={"data": ["Who is Tang Wenhong?", 3, "hybrid"]}),
        "file": anon.get(f"/gradio_api/file={auth_app.corpus / 'rivers.md'}"),
        "upload": upload_to_cache(anon, "comets.md", COMETS),
    }
    assert {name: r.status_code for name, r in calls.items()} == dict.fromkeys(calls, 401)
    joined = call_event(anon, fn_index, [file_payload("/tmp/x.md", "x.md")])
    assert joined["status"] == 401
    # the page itself answers 200 with Gradio's login form only: no components, no documents
    page = anon.get("/")
    assert page.status_code == 200 and '"auth_required":true' in page.text.replace(" ", "")
    assert "Ask your documents" not in page.text and "Tang Wenhong" not in page.text
    assert anon.post("/login", data={"username": "bob", "password": "wrong"}).status_code == 400
    assert _corpus(auth_app) == BASE


def test_logged_in_user_gets_answers_through_the_api(auth_app: App) -> None:
    from gradio_client import Client

    client = Client(auth_app.url, auth=("bob", "builder"), verbose=False)
    result = client.predict("How many Qilu Eurasian trains ran in the first seven months?", 1, api_name="/ask")
    assert result["found"] and "879 trains" in result["hits"][0]["evidence"]["text"]
    too_many = client.predict("Who is Tang Wenhong?", 100_000, api_name="/ask")
    assert too_many == {"error": "k of 100000 is more than the 50 allowed; pass k from 1 to 50"}


def test_only_upload_users_can_add_documents_even_through_the_queue(auth_app: App) -> None:
    bob = auth_app.client("bob", "builder")
    fn_index = find_upload_event(bob.get("/config").json())
    assert fn_index is not None
    stored = upload_to_cache(bob, "comets.md", COMETS).json()[0]
    result = call_event(bob, fn_index, [file_payload(stored, "comets.md")])
    assert result["success"] and "may not add documents" in result["output"]["data"][0]
    assert _corpus(auth_app) == BASE
    assert not Path(stored).exists()  # the refused upload is gone from Gradio's cache too

    alice = auth_app.client("alice", "wonder")
    stored = upload_to_cache(alice, "comets.md", COMETS).json()[0]
    result = call_event(alice, fn_index, [file_payload(stored, "comets.md")])
    assert result["success"] and "Added comets.md" in result["output"]["data"][0]
    assert "comets.md" in _corpus(auth_app) and not Path(stored).exists()


def test_the_upload_handler_only_takes_files_uploaded_to_the_cache(auth_app: App) -> None:
    secret = auth_app.root / "secret.md"
    secret.write_text("# Secret\n\nThe vault code is 4711.\n", encoding="utf-8")
    alice = auth_app.client("alice", "wonder")
    fn_index = find_upload_event(alice.get("/config").json())
    assert fn_index is not None
    result = call_event(alice, fn_index, [file_payload(str(secret), "secret.md")])
    assert not result.get("success")
    assert "secret.md" not in _corpus(auth_app) and secret.exists()


def test_unprocessed_uploads_are_deleted_from_the_cache(auth_app: App) -> None:
    stored = Path(upload_to_cache(auth_app.client("alice", "wonder"), "later.md", COMETS).json()[0])
    assert stored.exists()
    deadline = time.monotonic() + 60  # FTZQA_UPLOAD_CACHE_SECONDS=2: deleted within seconds
    while stored.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not stored.exists()


def test_a_lone_surrogate_does_not_break_the_response_stream(auth_app: App) -> None:
    bob = auth_app.client("bob", "builder")
    config = bob.get("/config").json()
    chat = _dependency(config, "respond")
    result = call_event(bob, int(chat["id"]), ["\ud800How long is the Danube?", [], 2, "hybrid", None])
    assert result["success"], result
    history = result["output"]["data"][1]
    assert "\ufffdHow long is the Danube?" in json.dumps(history, ensure_ascii=False)
    assert "2,850" in json.dumps(history[-1]["content"])
    api = call_event(bob, int(_dependency(config, "ask")["id"]), ["\udfffWho is Tang Wenhong?", 1, "hybrid"])
    assert api["success"] and api["output"]["data"][0]["hits"]


# --- read-only -----------------------------------------------------------------------------------------


def test_read_only_has_no_upload_handler_to_reach(read_only_app: App) -> None:
    client = read_only_app.client()
    config = client.get("/config").json()
    assert find_upload_event(config) is None
    assert not [d for d in config["dependencies"] if any(t[1] == "upload" for t in d.get("targets", []))]
    refused = upload_to_cache(client, "comets.md", COMETS)
    assert refused.status_code == 403 and "read-only" in refused.text
    before = client.post("/gradio_api/call/ask", json={"data": ["Danube", 1, "hybrid"]}).status_code
    assert before == 200
    # every event the page has, called with a file where its inputs are: nothing is added
    planted = read_only_app.cache / "planted" / "comets.md"
    planted.parent.mkdir(parents=True)
    planted.write_bytes(COMETS)
    for dep in config["dependencies"]:
        data = [file_payload(str(planted), "comets.md") for _ in dep.get("inputs", [])]
        call_event(client, int(dep["id"]), data)
    assert _corpus(read_only_app) == BASE
    assert "WARNING" not in read_only_app.output()  # loopback: no exposure warning


# --- flags and environment ------------------------------------------------------------------------------


def test_access_from_flags_file_and_environment(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("# logins\nalice:pass:with:colons\n\ncarol:c4rol\n", encoding="utf-8")
    access = make_access(["bob:builder"], users, "dave:d,erin:e", upload_users="alice, bob")
    assert access.users == {"bob": "builder", "alice": "pass:with:colons", "carol": "c4rol", "dave": "d", "erin": "e"}
    assert access.may_add("alice") and access.may_add("bob") and not access.may_add("carol")
    assert not access.may_add(None)
    assert make_access().may_add(None) and not make_access(read_only=True).may_add("alice")
    for bad, message in [
        ({"auth": ["alice"]}, "not user:password"),
        ({"auth": ["alice:"]}, "'alice:…' is not user:password"),  # the password is never echoed
        ({"upload_users": "alice"}, "--upload-users needs logins"),
        ({"auth": ["a:1"], "upload_users": "zed"}, "zed, who have no login"),
        ({"auth_file": tmp_path / "missing.txt"}, "cannot be read"),
        ({"auth": ["a:1", "a:2"]}, "given twice"),
    ]:
        with pytest.raises(AccessError, match=message):
            make_access(**bad)  # type: ignore[arg-type]


def test_app_flags_and_environment_for_access(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("ftzqa_app", Path(__file__).parents[1] / "app.py")
    assert spec and spec.loader
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    args = app.parse_args(["--auth", "alice:a", "--auth", "bob:b", "--upload-users", "alice"])
    assert args.access == Access({"alice": "a", "bob": "b"}, False, frozenset({"alice"}))
    monkeypatch.setenv("FTZQA_READ_ONLY", "1")
    monkeypatch.setenv("FTZQA_AUTH", "carol:c")
    args = app.parse_args([])
    assert args.access.read_only and args.access.users == {"carol": "c"}
    with pytest.raises(SystemExit):
        app.parse_args(["--auth", "nopassword"])


def test_exposure_warning_only_without_a_login_off_loopback() -> None:
    open_access = Access()
    assert exposure_warning("127.0.0.1", open_access) is None
    assert exposure_warning("localhost", open_access) is None and exposure_warning("::1", open_access) is None
    warning = exposure_warning("0.0.0.0", open_access)
    assert warning and "without a login" in warning and "add documents" in warning and "--auth" in warning
    read_only = exposure_warning("192.168.1.5", Access(read_only=True))
    assert read_only and "read every document" in read_only and "add documents" not in read_only
    assert exposure_warning("0.0.0.0", Access({"alice": "a"})) is None


# --- the page in Chromium -------------------------------------------------------------------------------


# `browser` (conftest.py): one Chromium shared by every browser test module


def _page(browser: Any, url: str) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(url)
    return page


def _log_in(page: Any, user: str, password: str) -> None:
    page.wait_for_selector("input[type=password]")
    page.fill("input[data-testid=textbox]", user)
    page.fill("input[type=password]", password)
    page.get_by_role("button", name="Login").click()


def _ask(page: Any, question: str) -> Any:
    replies = page.locator(".fq-answer")
    before = replies.count()
    page.fill("#fq-question textarea", question)
    page.click("#fq-ask")
    page.wait_for_function(f"document.querySelectorAll('.fq-answer').length > {before}", timeout=ANSWER_TIMEOUT)
    return replies.last


@pytest.mark.browser
def test_browser_login_then_chat_without_the_upload_panel(browser: Any, auth_app: App) -> None:
    page = _page(browser, auth_app.url)
    _log_in(page, "bob", "wrong")
    page.wait_for_selector("text=Incorrect Credentials", timeout=ANSWER_TIMEOUT)
    assert page.locator("#fq-question").count() == 0
    _log_in(page, "bob", "builder")
    page.wait_for_selector("#fq-question textarea", timeout=ANSWER_TIMEOUT)
    reply = _ask(page, "How many Qilu Eurasian trains ran in the first seven months?")
    assert "879 trains" in reply.inner_text()
    page.wait_for_timeout(500)  # the per-user panel visibility arrives with the page's load event
    assert not page.get_by_text("Add documents").is_visible()
    page.context.close()


@pytest.mark.browser
def test_browser_upload_user_sees_the_panel_and_adds_a_document(
    browser: Any, auth_app: App, tmp_path: Path
) -> None:
    page = _page(browser, auth_app.url)
    _log_in(page, "alice", "wonder")
    page.wait_for_selector("#fq-question textarea", timeout=ANSWER_TIMEOUT)
    page.get_by_text("Add documents").click()
    doc = tmp_path / "moon.md"
    doc.write_text("# Moon base\n\nThe lunar base grows potatoes in 12 greenhouses.\n", encoding="utf-8")
    page.set_input_files("#fq-files input[type=file]", str(doc))
    page.wait_for_function(
        "document.querySelector('#fq-add-result').innerText.includes('Added')", timeout=ANSWER_TIMEOUT
    )
    assert "moon.md" in _corpus(auth_app)
    page.context.close()


@pytest.mark.browser
def test_browser_read_only_page_has_no_upload_panel(browser: Any, read_only_app: App) -> None:
    page = _page(browser, read_only_app.url)
    page.wait_for_selector("#fq-question textarea", timeout=ANSWER_TIMEOUT)
    assert "Found in your documents" in _ask(page, "How many reform pilot tasks are there?").inner_text()
    assert page.locator("#fq-add").count() == 0 and page.locator("input[type=file]").count() == 0
    assert page.get_by_text("Add documents").count() == 0
    page.context.close()
