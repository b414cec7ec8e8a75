"""The Gradio page: chat, settings, example questions, "Add documents", and the /ask API.

Only wiring lives here; what is shown comes from ``render`` and what is done from ``service``.
"""

from __future__ import annotations

import logging
import stat
import time
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.events import api as gr_api

from ..errors import FtzqaError
from ..retrieve import check_question
from ..sanitize import without_surrogates
from ..settings import MAX_UPLOAD_MB, UPLOAD_CACHE_SECONDS, env_int
from .followup import resolve
from .mcp_tool import DESCRIPTION as MCP_DESCRIPTION
from .mcp_tool import RequireToken, make_tool, mcp_problem, not_a_tool
from .render import render_answer, render_error
from .service import Service
from .source_ui import add_source_viewer
from .style import CSS, theme
from .uploads import UPLOAD_SUFFIXES
from .viewer import VIEWER_CSS

log = logging.getLogger(__name__)

EXAMPLES = (
    "How many Qilu Eurasian trains ran in the first seven months?",
    "How many reform pilot tasks are in the overall plan?",
    "What were Heilongjiang's exports?",
    "How many new market entities were born every day in Yunnan?",
    "How much did the Youyiguan Port shorten customs clearance time?",
)
MODES = [("Hybrid", "hybrid"), ("Meaning (dense)", "dense"), ("Keyword (BM25)", "bm25")]
SEARCH_CONCURRENCY = 4  # searches are thread-safe; 2-4 suits a small CPU machine
SHOWN_QUESTION_CHARS = 400
PROGRESS = gr.Progress()  # Gradio's marker default: the add handler reports progress
HELP = (
    '<div class="fq-help"><b>Reading an answer</b><ul>'
    "<li>The banner first: <b>Found</b> with what matched (and the question's words the passage "
    "does not hold: check those), or <b>Not found</b> and why.</li>"
    "<li><mark>Highlighted</mark>: the sentence that answers (only when found).</li>"
    "<li><b>[1]</b> document · § section · ¶ paragraph: where it is.</li>"
    "<li>The bar: relevance, relative to the best passage (full for the first).</li>"
    '<li>Dashed cards: nearest passages when the documents do not answer; their '
    '<span class="fq-closest">closest sentence</span> is underlined, not highlighted.</li>'
    "</ul></div>"
)
# after each answer, show the question and its verdict banner, not the end of the last passage
SCROLL_TO_QUESTION = """() => {
  const show = () => {
    const rows = document.querySelectorAll('#fq-chat .message-row.user-row');
    if (rows.length) rows[rows.length - 1].scrollIntoView({block: 'start'});
  };
  requestAnimationFrame(() => requestAnimationFrame(show));
}"""
API_DOC = (
    "Search the documents. Returns Answer.to_dict(): question, found, confidence and hits (rank, "
    "score, doc_id, title, section, paragraph, start, end, text, citation, evidence). A question "
    'the index cannot take returns {"error": message} instead.'
)


def _shown(question: str) -> str:
    """The user's message as shown in the chat: plain text (one raw HTML block, so neither
    Markdown nor HTML in it is rendered), long ones shortened, lone surrogates replaced."""
    text = question[: SHOWN_QUESTION_CHARS * 2].strip()
    if len(question.strip()) > SHOWN_QUESTION_CHARS:
        text = f"{text[:SHOWN_QUESTION_CHARS]}… ({len(question):,} characters)"
    text = escape(without_surrogates(text)).replace("\r", "").replace("\n", "<br>")
    return f'<div class="fq-question">{text}</div>'


Messages = list[dict[str, Any]]
Respond = Callable[[str | None, Messages | None, float, str, str | None], tuple[str, Messages, str | None]]


def make_respond(service: Service) -> Respond:
    """The chat handler: (box, history, k, mode, previous query) -> (box, history, previous query)."""

    def respond(
        message: str | None, history: Messages | None, k: float, mode: str, previous: str | None
    ) -> tuple[str, Messages, str | None]:
        history = list(history or [])
        raw = message if isinstance(message, str) else ""
        if raw.strip():
            history.append({"role": "user", "content": _shown(raw)})
        try:
            question = check_question(raw, service.settings.max_question_chars)  # length first
            resolved = resolve(question, previous, service.is_name, service.similar)
            answer, documents = service.ask(resolved.query, int(k), mode, resolved.focus)
            reply = render_answer(answer, documents, mode=mode, rule=resolved.rule)
            previous = answer.question
        except FtzqaError as exc:
            reply = render_error(service.public(str(exc)))
        except Exception:  # never show a stack trace; the log has it
            log.exception("search failed for %r", raw[:200])
            reply = render_error("the search failed unexpectedly; the details are in the server log")
        history.append({"role": "assistant", "content": reply})
        return "", history, previous

    return respond


def _upload_folder() -> Path:
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()).resolve()


def remove_uploaded(paths: Sequence[str]) -> None:
    """Delete processed uploads from Gradio's cache (each sits in a folder of its own there).
    Only files inside the cache folder are touched.

    Also removes the empty ``tmp*`` files gr.File(type="filepath") leaves in the cache for
    every file it hands over (Gradio 6 opens one and never deletes it), once a minute old, so
    that none belongs to an upload still being received.
    """
    cache = _upload_folder()
    now = time.time()
    for leftover in cache.glob("tmp*"):
        try:
            info = leftover.lstat()
            if stat.S_ISREG(info.st_mode) and info.st_size == 0 and now - info.st_mtime > 60:
                leftover.unlink()
        except OSError:
            continue
    for raw in paths:
        path = Path(raw).resolve()
        if cache not in path.parents or not path.is_file():
            continue
        try:
            path.unlink()
            if path.parent != cache and not any(path.parent.iterdir()):
                path.parent.rmdir()
        except OSError as exc:
            log.warning("could not remove the uploaded file %s: %s", path, exc)


def make_add(service: Service) -> Callable[..., tuple[str, str, None]]:
    """The upload handler: files -> (result list, index status, cleared file box).

    The server decides who may add documents (``service.access``), whatever the page shows.
    """

    def add_documents(
        files: list[str] | None, request: gr.Request, progress: gr.Progress = PROGRESS
    ) -> tuple[str, str, None]:
        paths = [str(f) for f in files or []]
        user = getattr(request, "username", None)
        try:
            lines = service.add(paths, lambda fraction, text: progress(fraction, desc=text), user=user)
        except Exception:
            log.exception("adding documents failed")
            lines = ["adding the documents failed unexpectedly; the details are in the server log"]
        finally:
            remove_uploaded(paths)
        shown = "\n".join(f"- {escape(line[:1].upper() + line[1:])}" for line in lines)
        return shown, service.status_line(), None

    return add_documents


def upload_cache_seconds() -> int:
    """How long uploads not yet processed stay in Gradio's cache (FTZQA_UPLOAD_CACHE_SECONDS)."""
    return env_int("FTZQA_UPLOAD_CACHE_SECONDS", 1, UPLOAD_CACHE_SECONDS)


def build_ui(
    service: Service, *, default_k: int = 3, examples: Sequence[str] = EXAMPLES, mcp: bool = False
) -> gr.Blocks:
    """The page for ``service`` (already started). Launch it with :func:`launch` (with ``mcp``,
    pass ``mcp=True`` there too: the page then also has the MCP tool ``ask``)."""
    demo: gr.Blocks
    access = service.access
    cache = upload_cache_seconds()
    # every `cache` seconds, delete cached uploads older than `cache` seconds
    with gr.Blocks(
        title="ftzqa — ask your documents", analytics_enabled=False, delete_cache=(cache, cache)
    ) as demo:
        previous = gr.State(None)
        with gr.Row(elem_classes="fq-header"):
            gr.HTML(
                '<div class="fq-brand"><h1>Ask your documents</h1><p>Every answer is a passage quoted '
                "from the documents, with its citation. Nothing is generated.</p></div>"
            )
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=480):
                chatbot = gr.Chatbot(
                    label="Conversation",
                    show_label=False,
                    height="66vh",
                    min_height=420,
                    layout="panel",
                    buttons=[],
                    feedback_options=None,
                    latex_delimiters=[],
                    placeholder="Ask a question about the documents, or pick an example below.",
                    elem_id="fq-chat",
                    autoscroll=False,  # SCROLL_TO_QUESTION instead: the verdict must be in view
                )
                with gr.Row(elem_classes="fq-ask-row"):
                    question = gr.Textbox(
                        show_label=False,
                        placeholder="Ask a question… (follow-ups like “And Yunnan?” work too)",
                        lines=1,
                        max_lines=4,
                        scale=5,
                        autofocus=True,
                        elem_id="fq-question",
                    )
                    ask = gr.Button("Ask", variant="primary", scale=1, min_width=90, elem_id="fq-ask")
                ex = gr.Examples(list(examples), inputs=[question], label="Examples from the article")
            with gr.Column(scale=1, min_width=260):
                with gr.Group():
                    k = gr.Slider(1, 10, value=default_k, step=1, label="Passages to show")
                    mode = gr.Radio(MODES, value="hybrid", label="Search mode")
                new_chat = gr.Button("New conversation", size="sm")
                if access.uploads:  # read-only: neither the panel nor its handler exist
                    with gr.Accordion(
                        "Add documents", open=False, elem_id="fq-add", visible=access.upload_users is None
                    ) as add_panel:
                        files = gr.File(
                            file_count="multiple", file_types=list(UPLOAD_SUFFIXES), type="filepath",
                            label="Drop .txt, .md, .html, .pdf or .docx files to add them", elem_id="fq-files",
                        )
                        result = gr.Markdown(elem_id="fq-add-result")
                        if access.removals:  # only with logins, never read-only: else no handler exists
                            from .removal import RemovalControls

                            removal = RemovalControls(service)
                status = gr.Markdown(service.status_line(), elem_classes="fq-status", elem_id="fq-status")
                gr.HTML(HELP)

        demo.load(service.status_line, outputs=[status], api_visibility="private")  # current on every visit
        add_source_viewer(demo, service)  # citations open their document; so do permalinks
        if access.uploads and access.upload_users is not None:

            def show_panel(request: gr.Request) -> Any:
                return gr.Accordion(visible=access.may_add(getattr(request, "username", None)))

            demo.load(show_panel, outputs=[add_panel], api_visibility="private")
        respond = make_respond(service)
        chat_io: dict[str, Any] = {
            "fn": respond,
            "inputs": [question, chatbot, k, mode, previous],
            "outputs": [question, chatbot, previous],
            "api_visibility": "private",
            "concurrency_id": "search",
            "concurrency_limit": SEARCH_CONCURRENCY,
        }
        scroll: dict[str, Any] = {"fn": None, "js": SCROLL_TO_QUESTION, "api_visibility": "private"}
        question.submit(**chat_io).then(**scroll)
        ask.click(**chat_io).then(**scroll)
        ex.load_input_event.then(**chat_io).then(**scroll)
        new_chat.click(lambda: ([], None, ""), outputs=[chatbot, previous, question], api_visibility="private")
        chatbot.clear(lambda: None, outputs=[previous], api_visibility="private")
        if access.uploads:
            # no queue limit here: the service refuses uploads beyond its own in-flight limit at once
            files.upload(
                make_add(service), inputs=[files], outputs=[result, status, files],
                api_visibility="private", concurrency_limit=None,
            )
            if access.removals:
                removal.wire(demo, status)

        def ask_api(question: str, k: int = default_k, mode: str = "hybrid") -> dict[str, Any]:
            try:
                return service.ask_dict(question, k, mode)
            except Exception:  # an API caller gets a message, never a stack trace
                log.exception("API search failed for %r", str(question)[:200])
                return {"error": "the search failed unexpectedly; the details are in the server log"}

        gr_api(
            not_a_tool(ask_api), api_name="ask", api_description=API_DOC,
            concurrency_id="search", concurrency_limit=SEARCH_CONCURRENCY,
        )
        if mcp:  # the MCP tool: the same answer as JSON text; not queued, so no loopback login is needed
            gr_api(make_tool(service, default_k), api_name="ask_json", api_description=MCP_DESCRIPTION, queue=False)
    return demo


class _RefuseUploads:
    """ASGI middleware for a read-only server: Gradio's generic upload route stores files for any
    component; with no upload handler there is no reason to accept them."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = str(scope.get("path", "")).rstrip("/")
        if scope.get("type") == "http" and path.endswith("/gradio_api/upload"):
            from starlette.responses import PlainTextResponse

            response = PlainTextResponse("this server is read-only: uploads are turned off", status_code=403)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _middleware(cls: Any, **options: Any) -> Any:
    from starlette.middleware import Middleware

    return Middleware(cls, **options)


def launch(
    demo: gr.Blocks, service: Service | None = None, *, mcp: bool = False, mcp_token: str | None = None, **kwargs: Any
) -> Any:
    """``demo.launch`` with the page's theme and style (Gradio 6 takes them at launch), Gradio's
    login when ``service.access`` has users, and uploads refused outright when it is read-only.

    ``mcp`` serves Gradio's MCP server at /gradio_api/mcp; with ``mcp_token`` every request there
    needs ``Authorization: Bearer TOKEN`` (required with logins: see ``mcp_tool``)."""
    kwargs.setdefault("max_file_size", f"{MAX_UPLOAD_MB}mb")
    kwargs["mcp_server"] = mcp  # never turned on by GRADIO_MCP_SERVER behind our back
    problem = mcp_problem(service is not None and service.access.login, mcp_token) if mcp else None
    if problem:
        raise ValueError(problem)
    if mcp and mcp_token:
        app_kwargs = dict(kwargs.pop("app_kwargs", None) or {})
        app_kwargs["middleware"] = [
            *app_kwargs.get("middleware", []), _middleware(RequireToken, token=mcp_token)
        ]
        kwargs["app_kwargs"] = app_kwargs
    if service is not None:
        access = service.access
        if access.login:
            kwargs.setdefault("auth", access.gradio_auth())
            kwargs.setdefault("auth_message", "Log in to ask questions of these documents.")
        if access.read_only:
            from starlette.middleware import Middleware

            app_kwargs = dict(kwargs.pop("app_kwargs", None) or {})
            app_kwargs["middleware"] = [*app_kwargs.get("middleware", []), Middleware(_RefuseUploads)]
            kwargs["app_kwargs"] = app_kwargs
    return demo.launch(theme=theme(), css=CSS + VIEWER_CSS, footer_links=["api"], **kwargs)
