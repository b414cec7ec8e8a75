"""The hand-written PR plot of bench/prplot.py: valid SVG, one line per curve, the operating point placed."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from prplot import Curve, _x, _y, render, write_svg  # noqa: E402

from ftzqa.evaluate import PRPoint  # noqa: E402

NS = "{http://www.w3.org/2000/svg}"


def test_plot_has_a_line_per_curve_and_rings_at_the_operating_points(tmp_path: Path) -> None:
    points = [PRPoint(0.0, 0.5, 0.9, 10), PRPoint(0.5, 0.8, 0.6, 5), PRPoint(1.0, None, 0.0, 0)]
    curves = [
        Curve("SQuAD <per article>", points, PRPoint(0.39, 0.7, 0.65, 6)),
        Curve("FTZ", points[:2], None),
    ]
    path = write_svg(tmp_path / "pr.svg", "title & more", curves, note="a note")
    root = ET.fromstring(path.read_text(encoding="utf-8"))  # well-formed, escaped
    lines = root.findall(f"{NS}polyline")
    assert len(lines) == 2
    # the point without a precision is left out; coordinates follow recall (x) and precision (y)
    assert lines[0].get("points") == f"{_x(0.9):.1f},{_y(0.5):.1f} {_x(0.6):.1f},{_y(0.8):.1f}"
    (ring,) = root.findall(f"{NS}circle")
    assert (float(ring.get("cx", "")), float(ring.get("cy", ""))) == (round(_x(0.65), 1), round(_y(0.7), 1))
    texts = [t.text or "" for t in root.iter(f"{NS}text")]
    assert "t = 0.39" in texts and "title & more" in texts
    assert any(t.startswith("SQuAD <per article> (operating point: precision 0.70, recall 0.65)") for t in texts)
    assert render("t", []).startswith("<svg")
