""""Remove documents" on the page: a list of the index's documents and a button, inside the
"Add documents" panel. Built only when the page has logins and is not read-only
(``Access.removals``), so without them there is no handler to call; the server checks the user on
every removal (``Service.remove``), whatever the page shows.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

import gradio as gr

from .service import Service


class RemovalControls:
    """The components, made inside the panel (``build``) and wired after it (``wire``)."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.choose = gr.Dropdown(
            choices=service.document_ids(), value=[], multiselect=True, label="Remove documents",
            info="Removes them from the index and the corpus folder.", elem_id="fq-remove-docs",
        )
        self.button = gr.Button("Remove", size="sm", variant="stop", elem_id="fq-remove")
        self.result = gr.Markdown(elem_id="fq-remove-result")

    def wire(self, demo: gr.Blocks, status: gr.Markdown) -> None:
        self.button.click(
            make_remove(self.service), inputs=[self.choose], outputs=[self.result, status, self.choose],
            api_visibility="private",
        )
        current = make_choices(self.service)
        demo.load(current, outputs=[self.choose], api_visibility="private")
        self.choose.focus(current, outputs=[self.choose], api_visibility="private")  # picks up other writers'


def make_choices(service: Service) -> Callable[[gr.Request], Any]:
    def document_choices(request: gr.Request) -> Any:
        allowed = service.access.may_remove(getattr(request, "username", None))
        return gr.Dropdown(choices=service.document_ids() if allowed else [])

    return document_choices


def make_remove(service: Service) -> Callable[[list[str] | None, gr.Request], tuple[str, str, Any]]:
    """The remove handler: chosen doc_ids -> (result list, index status, refreshed list)."""

    def remove_documents(chosen: list[str] | None, request: gr.Request) -> tuple[str, str, Any]:
        user = getattr(request, "username", None)
        lines = service.remove(list(chosen or []), user=user)
        shown = "\n".join(f"- {escape(line[:1].upper() + line[1:])}" for line in lines)
        allowed = service.access.may_remove(user)
        return shown, service.status_line(), gr.Dropdown(choices=service.document_ids() if allowed else [], value=[])

    return remove_documents
