"""The source viewer on the page: a side panel that opens a citation's document at its passage.

A click on a citation's link (``a.fq-open``, whose href is the permalink query) is caught in the
browser and sent to the server through a hidden button; visiting the page with a permalink
(``?doc=…&start=…&end=…``) opens the same view on load. Both go through Gradio's events, so
the viewer is behind the same login as the page. What is shown comes from ``viewer``.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import FtzqaError
from .service import Service
from .viewer import view

log = logging.getLogger(__name__)

# Installed once per page: a plain left click on a citation link opens the viewer in place
# (modified clicks still open the permalink in a new tab); returns the page's own query.
INSTALL = """(query) => {
  if (!window.fqViewer) {
    window.fqViewer = {query: ''};
    document.addEventListener('click', (event) => {
      const link = event.target instanceof Element ? event.target.closest('a.fq-open') : null;
      if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      event.stopPropagation();
      window.fqViewer.query = new URL(link.getAttribute('href') || '', window.location.href).search;
      const button = document.querySelector('#fq-open-btn');
      if (button) button.click();
    }, true);
  }
  return window.location.search;
}"""
READ_CLICKED = "(query) => (window.fqViewer && window.fqViewer.query) || ''"
# the marked sentence into view, inside the panel (which scrolls) and the window
SCROLL_TO_EVIDENCE = """() => {
  let tries = 0;
  const show = () => {
    const mark = document.querySelector('#fq-viewer .fq-src-evidence');
    if (mark) { mark.scrollIntoView({block: 'center'}); return; }
    if (++tries < 50) setTimeout(show, 100);
  };
  requestAnimationFrame(show);
}"""


def make_open(service: Service) -> Any:
    """The handler: a permalink query string -> (viewer HTML, the panel shown or left as is)."""
    import gradio as gr

    def open_source(query: str | None) -> tuple[Any, Any]:
        try:
            documents = service.retriever.store.documents
            shown = view(query if isinstance(query, str) else "", documents)
        except FtzqaError as exc:
            from .viewer import render_problem

            shown = (render_problem(service.public(str(exc))), "")
        except Exception:  # never a stack trace on the page; the log has it
            log.exception("opening the source failed for %r", str(query)[:200])
            from .viewer import render_problem

            shown = (render_problem("the source could not be opened; the details are in the server log"), "")
        if shown is None:  # the page was opened without a permalink
            return gr.skip(), gr.skip()
        return shown[0], gr.Column(visible=True)

    return open_source


def add_source_viewer(demo: Any, service: Service) -> None:
    """Add the viewer panel and its events to ``demo`` (a gr.Blocks; call inside its ``with``)."""
    import gradio as gr

    query = gr.Textbox(visible="hidden", elem_id="fq-open-query")
    opener = gr.Button("Open source", visible="hidden", elem_id="fq-open-btn")
    with gr.Column(visible=False, elem_id="fq-viewer") as panel:
        with gr.Row(elem_classes="fq-viewer-bar"):
            gr.Markdown("**Source** — the document as indexed; the passage is shaded, its evidence sentence marked")
            close = gr.Button("Close", size="sm", scale=0, min_width=80, elem_id="fq-viewer-close")
        body = gr.HTML(elem_id="fq-viewer-body", js_on_load=None)
    open_source = make_open(service)
    common: dict[str, Any] = {
        "fn": open_source, "inputs": [query], "outputs": [body, panel], "api_visibility": "private",
    }
    scroll: dict[str, Any] = {"fn": None, "js": SCROLL_TO_EVIDENCE, "api_visibility": "private"}
    opener.click(js=READ_CLICKED, **common).then(**scroll)
    demo.load(js=INSTALL, **common).then(**scroll)  # a permalink opens the viewer on arrival
    close.click(lambda: gr.Column(visible=False), outputs=[panel], api_visibility="private")
