"""The MCP tool, called with the official ``mcp`` client against the real ``app.py --mcp``; and how
MCP and the source viewer behave behind a login."""

from __future__ import annotations

import asyncio
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from app_process import REPO, call_event, running_app

pytest.importorskip("mcp", reason="the MCP tests need the mcp package (pip install 'mcp>=1.21,<2')")

from mcp import ClientSession  # noqa: E402
from mcp.client.streamable_http import streamablehttp_client  # noqa: E402

QUESTION = "How many Qilu Eurasian trains ran in the first seven months?"
TOKEN = "a-long-enough-test-token-0123456789"


async def _session(url: str, headers: dict[str, str] | None, work: Any) -> Any:
    async with streamablehttp_client(url + "/gradio_api/mcp/", headers=headers) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return await work(session)


def mcp_call(url: str, work: Any, headers: dict[str, str] | None = None) -> Any:
    """Run the async MCP client in a thread of its own (the browser tests' Playwright keeps an
    event loop in this one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _session(url, headers, work)).result()


async def _tools_and_answers(session: ClientSession) -> tuple[Any, Any, Any]:
    tools = await session.list_tools()
    found = await session.call_tool("ask", {"question": QUESTION, "k": 2, "mode": "hybrid"})
    empty = await session.call_tool("ask", {"question": "", "k": 3, "mode": "hybrid"})
    return tools, found, empty


def test_mcp_tool_ask_answers_with_citations(tmp_path: Path) -> None:
    from gradio_client import Client

    with running_app(tmp_path, "--mcp") as app:
        tools, found, empty = mcp_call(app.url, _tools_and_answers)
        assert [t.name for t in tools.tools] == ["ask"]  # never /ask's dict twin, never upload or remove
        tool = tools.tools[0]
        assert "found=false" in tool.description and "citation" in tool.description
        assert set(tool.inputSchema["properties"]) == {"question", "k", "mode"}
        assert tool.inputSchema["required"] == ["question"]
        assert not found.isError
        answer = json.loads(found.content[0].text)  # JSON, not a Python repr
        assert answer["found"] is True and len(answer["hits"]) == 2
        top = answer["hits"][0]
        assert top["doc_id"] == "ftz-one-year.md" and top["paragraph"] == 18
        assert top["section"] == "Explore the advantages"
        assert top["citation"].startswith("[ftz-one-year.md] China's pilot free trade zones, one year on, § Explore")
        assert "879 trains" in top["evidence"]["text"] and top["start"] <= top["evidence"]["start"]
        article = (REPO / "corpus" / "ftz-one-year.md").read_text(encoding="utf-8")
        assert top["text"] in article
        # the same JSON as /ask
        client = Client(app.url, verbose=False)
        assert client.predict(QUESTION, 2, "hybrid", api_name="/ask") == answer
        assert json.loads(empty.content[0].text) == {
            "error": "the question is empty; type a question about your documents"
        }


def test_mcp_behind_a_login_needs_the_token_and_the_viewer_needs_the_login(tmp_path: Path) -> None:
    with running_app(tmp_path, "--mcp", "--mcp-token", TOKEN, "--auth", "alice:secret-pw") as app:
        # no token: refused before Gradio's MCP server (which does not check the login) sees it
        for path in ("/gradio_api/mcp/", "/gradio_api/mcp/sse", "/gradio_api/mcp/schema"):
            r = httpx.post(app.url + path, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=30)
            assert r.status_code == 401, (path, r.status_code, r.text)
            assert "Authorization: Bearer TOKEN" in r.json()["error"]
        wrong = {"Authorization": "Bearer not-the-token"}
        assert httpx.post(app.url + "/gradio_api/mcp/", headers=wrong, json={}, timeout=30).status_code == 401
        with pytest.raises(Exception):  # noqa: B017 (the client's error type varies by transport)
            mcp_call(app.url, _tools_and_answers)
        # with the token: works
        tools, found, _ = mcp_call(app.url, _tools_and_answers, {"Authorization": f"Bearer {TOKEN}"})
        assert [t.name for t in tools.tools] == ["ask"]
        assert json.loads(found.content[0].text)["found"] is True
        # the page and the source viewer stay behind the login
        anonymous = app.client()
        assert anonymous.get("/config").status_code == 401
        alice = app.client("alice", "secret-pw")
        config = alice.get("/config").json()
        viewer_body = next(
            c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "fq-viewer-body"
        )
        fn_index = next(
            int(d["id"]) for d in config["dependencies"]
            if viewer_body in d.get("outputs", []) and d.get("inputs")
        )
        query = "?doc=ftz-one-year.md&start=4754&end=4931"
        refused = call_event(anonymous, fn_index, [query])
        assert refused.get("status") == 401, refused
        shown = call_event(alice, fn_index, [query])
        html = shown["output"]["data"][0]
        assert '<mark class="fq-src-evidence">In the first seven months' in str(html)


def test_mcp_with_logins_but_no_token_is_refused_at_start() -> None:
    sys.path.insert(0, str(REPO))
    import app as app_module

    with pytest.raises(SystemExit) as exit_info:
        app_module.parse_args(["--mcp", "--auth", "alice:pw"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        app_module.parse_args(["--mcp", "--mcp-token", "short"])
    args = app_module.parse_args(["--mcp"])
    assert args.mcp and args.mcp_token is None
