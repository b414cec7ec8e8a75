"""A precision/recall plot of the found / not-found verdict as a small hand-written SVG (no plotting library).

    write_svg(path, "title", [Curve("SQuAD ...", points, operating_point), ...])

Recall on x, precision on y, both 0..1; each curve is a polyline over its thresholds and its
operating point is a ring labelled with the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from ftzqa.evaluate import PRPoint

WIDTH, HEIGHT = 640, 470
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 40, 140  # margins; the legend sits under the axes
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
DASHES = ("", "7 4", "", "2 3", "7 4")  # curves that overlap stay visible


@dataclass(frozen=True)
class Curve:
    label: str
    points: Sequence[PRPoint]
    operating: PRPoint | None


def _x(recall: float) -> float:
    return LEFT + recall * (WIDTH - LEFT - RIGHT)


def _y(precision: float) -> float:
    return TOP + (1 - precision) * (HEIGHT - TOP - BOTTOM)


def render(title: str, curves: Sequence[Curve], note: str = "") -> str:
    """The SVG document as text."""
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>',
    ]
    for i in range(11):  # grid and ticks every 0.1
        v = i / 10
        x, y = _x(v), _y(v)
        out.append(f'<line x1="{x:.1f}" y1="{_y(0):.1f}" x2="{x:.1f}" y2="{_y(1):.1f}" stroke="#eee"/>')
        out.append(f'<line x1="{_x(0):.1f}" y1="{y:.1f}" x2="{_x(1):.1f}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{_y(0) + 16:.1f}" text-anchor="middle">{v:.1f}</text>')
        out.append(f'<text x="{_x(0) - 6:.1f}" y="{y + 4:.1f}" text-anchor="end">{v:.1f}</text>')
    out.append(
        f'<rect x="{_x(0):.1f}" y="{_y(1):.1f}" width="{_x(1) - _x(0):.1f}" height="{_y(0) - _y(1):.1f}" '
        'fill="none" stroke="#444"/>'
    )
    out.append(f'<text x="{(_x(0) + _x(1)) / 2:.1f}" y="{_y(0) + 34:.1f}" text-anchor="middle">recall</text>')
    out.append(
        f'<text transform="translate(16 {(_y(0) + _y(1)) / 2:.1f}) rotate(-90)" text-anchor="middle">precision</text>'
    )
    legend_y = _y(0) + 58
    for i, curve in enumerate(curves):
        colour = COLOURS[i % len(COLOURS)]
        dash = f' stroke-dasharray="{DASHES[i % len(DASHES)]}"' if DASHES[i % len(DASHES)] else ""
        pts = [p for p in curve.points if p.precision is not None and p.recall is not None]
        if pts:
            path = " ".join(f"{_x(p.recall):.1f},{_y(p.precision):.1f}" for p in pts)  # type: ignore[arg-type]
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        op = curve.operating
        label = curve.label
        if op is not None and op.precision is not None and op.recall is not None:
            x, y = _x(op.recall), _y(op.precision)
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="white" stroke="{colour}" stroke-width="2.5"/>')
            out.append(f'<text x="{x + 9:.1f}" y="{y - 8:.1f}" fill="{colour}">t = {op.threshold:.2f}</text>')
            label += f" (operating point: precision {op.precision:.2f}, recall {op.recall:.2f})"
        y = legend_y + 18 * i
        out.append(
            f'<line x1="{LEFT}" y1="{y - 4}" x2="{LEFT + 24}" y2="{y - 4}" stroke="{colour}" stroke-width="2"{dash}/>'
        )
        out.append(f'<text x="{LEFT + 32}" y="{y}">{escape(label)}</text>')
    if note:
        out.append(f'<text x="{LEFT}" y="{legend_y + 18 * len(curves) + 6}" fill="#555">{escape(note)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_svg(path: Path, title: str, curves: Sequence[Curve], note: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(title, curves, note), encoding="utf-8")
    return path
