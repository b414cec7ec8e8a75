"""The search as an MCP tool for agents, served by Gradio's built-in MCP server (``app.py --mcp``).

One tool, ``ask(question, k, mode)``, returning ``Answer.to_dict()`` as JSON text (the same
fields as the ``/ask`` endpoint). Gradio makes a tool of every public API endpoint, so ``/ask``
itself (which returns a dict, shown by Gradio's MCP server as a Python repr, not JSON) is kept
out of the tool list with :func:`not_a_tool`.

Gradio's MCP endpoint (``/gradio_api/mcp``) does not check Gradio's login, and a non-queued tool
runs without one. So with logins on, MCP is only served with a token: every request under
``/gradio_api/mcp`` must carry ``Authorization: Bearer TOKEN`` (:class:`RequireToken`).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from .service import Service

log = logging.getLogger(__name__)

MCP_PATH = "/gradio_api/mcp"
DESCRIPTION = (
    "Search the user's own documents (the files indexed by this ftzqa server) and return the passages "
    "that answer the question, each cited exactly. Nothing is generated: the answer is the evidence, so "
    "quote or cite it rather than adding facts. Returns JSON: question; searched (the question as "
    "searched, after typo corrections); found; confidence (0-1); reason (one line saying why); matched / "
    "missing (the question's words the top passage holds / lacks); hits, best first. found=true: hit 1 "
    "answers the question and its evidence sentence holds the answer. found=false: the documents do not "
    "contain the answer; the hits are only the nearest passages and must not be presented as an answer "
    "(say the documents do not say). Each hit: rank, score (higher is better), doc_id (file name in the "
    "corpus), title, section, paragraph (1-based), start / end (character offsets of the passage in the "
    "document's text), text (the passage), citation (one line to show the user), evidence {start, end, "
    "text} (the answering sentence, offsets in the same text). A question the index cannot take returns "
    '{"error": message} instead.'
)


def not_a_tool(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Keep a public API function out of Gradio's MCP tool list (its ``list_tools`` lists only
    functions without an MCP type or with the type "tool")."""
    fn._mcp_type = "api"  # type: ignore[attr-defined]
    return fn


def make_tool(service: Service, default_k: int = 3) -> Callable[..., str]:
    """The MCP tool function (its name and docstring become the tool's name and parameters)."""

    def ask(question: str, k: int = default_k, mode: str = "hybrid") -> str:
        """Search the documents.

        Args:
            question: the question, in the documents' language (a plain sentence; at most 2,000 characters)
            k: how many passages to return, 1-50 (default 3)
            mode: "hybrid" (default: meaning and keywords), "dense" (meaning only) or "bm25" (keywords only)
        """
        try:
            result = service.ask_dict(question, k, mode)
        except Exception:  # an agent gets a message, never a stack trace
            log.exception("MCP search failed for %r", str(question)[:200])
            result = {"error": "the search failed unexpectedly; the details are in the server log"}
        return json.dumps(result, ensure_ascii=False)

    return ask


class RequireToken:
    """ASGI middleware: requests under ``/gradio_api/mcp`` need ``Authorization: Bearer TOKEN``."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") == "http" and MCP_PATH in str(scope.get("path", "")):
            given = b""
            for key, value in scope.get("headers") or []:
                if key.lower() == b"authorization":
                    given = value
                    break
            if not hmac.compare_digest(given, self.expected):
                from starlette.responses import JSONResponse

                response = JSONResponse(
                    {"error": "this MCP server needs a token: send the header Authorization: Bearer TOKEN "
                              "(the --mcp-token / FTZQA_MCP_TOKEN of the server)"},
                    status_code=401, headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def mcp_problem(login: bool, token: str | None) -> str | None:
    """Why MCP cannot be served with these settings, or None."""
    if token is not None and len(token) < 16:
        return (
            "--mcp-token is shorter than 16 characters; use a long random one "
            "(python -c 'import secrets; print(secrets.token_urlsafe())')"
        )
    if login and not token:
        return (
            "--mcp with logins needs --mcp-token TOKEN (or FTZQA_MCP_TOKEN): Gradio's MCP endpoint does not "
            "check the page's login, so agents must send Authorization: Bearer TOKEN instead"
        )
    return None
