"""The page's look: a Gradio theme and the CSS for the answer markup made by ``render``."""

from __future__ import annotations

from typing import Any

CSS = """
.gradio-container { max-width: 1280px !important; margin: 0 auto !important; }
.fq-brand h1 { font-size: 1.6rem; margin: 0.2rem 0 0.1rem; }
.fq-brand p { margin: 0; color: var(--body-text-color-subdued); }
.fq-status { font-size: 0.85rem; color: var(--body-text-color-subdued); }
.fq-help { font-size: 0.82rem; color: var(--body-text-color-subdued); padding: 4px 2px; }
.fq-help ul { margin: 4px 0 0 1.1em; padding: 0; }
.fq-help li { margin: 2px 0; }
.fq-help mark { background: #ffec99; color: #1f2328; padding: 0 2px; border-radius: 3px; }
.fq-answer { font-size: 0.95rem; line-height: 1.55; }
.fq-asked { font-size: 0.85rem; color: var(--body-text-color-subdued); margin-bottom: 6px; }
.fq-verdict { font-weight: 600; padding: 7px 12px; border-radius: 8px; margin-bottom: 10px; }
.fq-yes { background: #e6f4ea; color: #1e6b3a; }
.fq-no { background: #fff3e0; color: #8a4b00; }
.fq-error { background: #fdecea; color: #a0231a; }
.dark .fq-yes { background: #1d3a28; color: #a6e3b8; }
.dark .fq-no { background: #3d2a12; color: #f6c98a; }
.dark .fq-error { background: #45201c; color: #f4a9a1; }
.fq-sub { font-weight: 400; font-size: 0.88rem; margin-top: 2px; }
.fq-conf { font-weight: 400; opacity: 0.8; margin-left: 8px; }
.fq-why { font-weight: 400; font-size: 0.88rem; margin-top: 2px; }
.fq-unmatched { font-weight: 400; font-size: 0.88rem; margin-top: 2px; font-style: italic; }
.fq-hit { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 14px;
  margin: 10px 0; background: var(--background-fill-primary); }
.fq-nearest .fq-hit { border-style: dashed; }
.fq-cite { font-size: 0.85rem; color: var(--body-text-color-subdued); }
.fq-num { font-weight: 700; color: var(--color-accent); margin-right: 2px; }
.fq-title { font-weight: 600; color: var(--body-text-color); }
.fq-doc { font-family: var(--font-mono); font-size: 0.75rem; margin-left: 6px; opacity: 0.75; }
.fq-rel { display: flex; align-items: center; gap: 8px; font-size: 0.75rem; margin: 4px 0 6px;
  color: var(--body-text-color-subdued); }
.fq-bar { display: inline-block; width: 110px; height: 6px; border-radius: 3px; overflow: hidden;
  background: var(--border-color-primary); }
.fq-fill { display: block; height: 100%; background: var(--color-accent); }
.fq-nearest .fq-fill { background: var(--body-text-color-subdued); }
.fq-text { margin: 0.3rem 0 !important; }
.fq-answer mark { background: #ffec99; color: #1f2328; padding: 1px 2px; border-radius: 3px; }
.fq-hit + .fq-hit mark { background: #fff6cc; }
.fq-closest { border-bottom: 2px dotted var(--body-text-color-subdued); }
.fq-help .fq-closest { padding: 0 2px; }
.fq-ctx summary { cursor: pointer; font-size: 0.8rem; color: var(--color-accent); margin-top: 4px; }
.fq-ctx p { font-size: 0.88rem; color: var(--body-text-color-subdued); margin: 6px 0; }
.fq-ctx .fq-ctx-here { color: var(--body-text-color); border-left: 3px solid var(--color-accent);
  padding-left: 8px; }
.fq-ctx .fq-ctx-head { font-weight: 600; color: var(--body-text-color); }
"""


def theme() -> Any:
    import gradio as gr

    return gr.themes.Soft(
        primary_hue="teal",
        neutral_hue="slate",
        font=[gr.themes.LocalFont("IBM Plex Sans", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif"],
    )
