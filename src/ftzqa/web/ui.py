"""The Gradio page: chat, settings, example questions, "Add documents", and the /ask API.

Only wiring lives here; what is shown comes from ``render`` and what is done from ``service``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from html import escape
from typing import Any

import gradio as gr
from gradio.events import api as gr_api

from ..errors import FtzqaError
from .followup import resolve
from .render import render_answer, render_error
from .service import Service
from .style import CSS, theme
from .uploads import UPLOAD_SUFFIXES

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
    "<li><mark>Highlighted</mark>: the sentence that answers.</li>"
    "<li><b>[1]</b> document · § section · ¶ paragraph: where it is.</li>"
    "<li>The bar: relevance, relative to the best passage.</li>"
    "<li>Dashed cards: nearest passages when the documents do not answer.</li>"
    "</ul></div>"
)
API_DOC = (
    "Search the documents. Returns Answer.to_dict(): question, found, confidence and hits (rank, "
    "score, doc_id, title, section, paragraph, start, end, text, citation, evidence). A question "
    'the index cannot take returns {"error": message} instead.'
)


def _shown(question: str) -> str:
    """The user's message as shown in the chat: escaped, long ones shortened."""
    text = question.strip()
    if len(text) > SHOWN_QUESTION_CHARS:
        text = f"{text[:SHOWN_QUESTION_CHARS]}… ({len(question):,} characters)"
    return escape(text)


Messages = list[dict[str, Any]]
Respond = Callable[[str | None, Messages | None, float, str, str | None], tuple[str, Messages, str | None]]


def make_respond(service: Service) -> Respond:
    """The chat handler: (box, history, k, mode, previous query) -> (box, history, previous query)."""

    def respond(
        message: str | None, history: Messages | None, k: float, mode: str, previous: str | None
    ) -> tuple[str, Messages, str | None]:
        history = list(history or [])
        question = message or ""
        if question.strip():
            history.append({"role": "user", "content": _shown(question)})
        resolved = resolve(question, previous)
        try:
            answer, documents = service.ask(resolved.query, int(k), mode)
            reply = render_answer(answer, documents, mode=mode, rule=resolved.rule)
            previous = answer.question
        except FtzqaError as exc:
            reply = render_error(str(exc))
        except Exception:  # never show a stack trace; the log has it
            log.exception("search failed for %r", question[:200])
            reply = render_error("the search failed unexpectedly; the details are in the server log")
        history.append({"role": "assistant", "content": reply})
        return "", history, previous

    return respond


def make_add(service: Service) -> Callable[..., tuple[str, str, None]]:
    """The upload handler: files -> (result list, index status, cleared file box)."""

    def add_documents(files: list[str] | None, progress: gr.Progress = PROGRESS) -> tuple[str, str, None]:
        paths = [str(f) for f in files or []]
        try:
            lines = service.add(paths, lambda fraction, text: progress(fraction, desc=text))
        except Exception:
            log.exception("adding documents failed")
            lines = ["adding the documents failed unexpectedly; the details are in the server log"]
        shown = "\n".join(f"- {escape(line[:1].upper() + line[1:])}" for line in lines)
        return shown, service.status_line(), None

    return add_documents


def build_ui(service: Service, *, default_k: int = 3, examples: Sequence[str] = EXAMPLES) -> gr.Blocks:
    """The page for ``service`` (already started). Launch it with :func:`launch`."""
    demo: gr.Blocks
    with gr.Blocks(title="ftzqa — ask your documents", analytics_enabled=False) as demo:
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
                with gr.Accordion("Add documents", open=False, elem_id="fq-add"):
                    files = gr.File(
                        file_count="multiple", file_types=list(UPLOAD_SUFFIXES), type="filepath",
                        label="Drop .txt, .md, .html, .pdf or .docx files to add them", elem_id="fq-files",
                    )
                    result = gr.Markdown(elem_id="fq-add-result")
                status = gr.Markdown(service.status_line(), elem_classes="fq-status", elem_id="fq-status")
                gr.HTML(HELP)

        demo.load(service.status_line, outputs=[status], api_visibility="private")  # current on every visit
        respond = make_respond(service)
        chat_io: dict[str, Any] = {
            "fn": respond,
            "inputs": [question, chatbot, k, mode, previous],
            "outputs": [question, chatbot, previous],
            "api_visibility": "private",
            "concurrency_id": "search",
            "concurrency_limit": SEARCH_CONCURRENCY,
        }
        question.submit(**chat_io)
        ask.click(**chat_io)
        ex.load_input_event.then(**chat_io)
        new_chat.click(lambda: ([], None, ""), outputs=[chatbot, previous, question], api_visibility="private")
        chatbot.clear(lambda: None, outputs=[previous], api_visibility="private")
        files.upload(
            make_add(service), inputs=[files], outputs=[result, status, files],
            api_visibility="private", concurrency_limit=1,
        )

        def ask_api(question: str, k: int = default_k, mode: str = "hybrid") -> dict[str, Any]:
            try:
                return service.ask_dict(question, k, mode)
            except Exception:  # an API caller gets a message, never a stack trace
                log.exception("API search failed for %r", str(question)[:200])
                return {"error": "the search failed unexpectedly; the details are in the server log"}

        gr_api(
            ask_api, api_name="ask", api_description=API_DOC,
            concurrency_id="search", concurrency_limit=SEARCH_CONCURRENCY,
        )
    return demo


def launch(demo: gr.Blocks, **kwargs: Any) -> Any:
    """``demo.launch`` with the page's theme and style (Gradio 6 takes them at launch)."""
    kwargs.setdefault("max_file_size", "5mb")
    return demo.launch(theme=theme(), css=CSS, footer_links=["api"], **kwargs)
