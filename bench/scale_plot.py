"""The ``scale`` section's picture: a log-log SVG of the start time and the memory of one server against the graph's
size, ours against Oxigraph's (the README shows it; the section's table is :func:`bench.report.scale_table`).

The picture is written by a small SVG writer (no plotting library): two panels, one series per server, a point per
measured size, axes in whole decades, and a caption naming the run (date, commit, cores, load average). The output
depends on the run's results only (no clock, no random ids).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path

from bench.model import Results, ScaleRow

SERIES = (
    ("ours", "ours (embedded, bundle)", "#1f77b4"),
    ("sparql", "ours (sparql engine)", "#2ca02c"),
    ("oxigraph", "Oxigraph serve-read-only", "#d62728"),
)
"""Server key, legend, colour: the picture's series in the order of the legend."""
PICTURE = Path(__file__).resolve().parents[1] / "docs" / "screenshots" / "scale.svg"
"""Where ``python -m bench`` writes the picture the README shows (``--plot``)."""


def _start(row: ScaleRow) -> float | None:
    return row.start_s if row.start_s is not None else row.health_s


def _pss(row: ScaleRow) -> float | None:
    return row.pss_one_mb


PANELS: tuple[tuple[str, Callable[[ScaleRow], float | None]], ...] = (
    ("start to first answer (s)", _start),
    ("PSS of one server (MB)", _pss),
)
PANEL_W, PANEL_H = 330, 230
LEFT, TOP, GAP = 70, 40, 20
"""Room left of each panel (its y labels), above the panels (titles), between the panels beyond ``LEFT``."""
WIDTH, HEIGHT = 2 * (LEFT + PANEL_W) + GAP + 30, TOP + PANEL_H + 80


SLACK = 0.02
"""Decades by which a figure may pass its axis's end before the axis grows by a decade (1,001,463 triples is
drawn at 1M, 2% of a decade inside the frame's edge, not on an axis running to 10M)."""


def _decades(values: Sequence[float]) -> tuple[int, int]:
    low = math.floor(math.log10(min(values)) + SLACK)
    high = math.ceil(math.log10(max(values)) - SLACK)
    return low, max(high, low + 1)


def _panel(x0: float, title: str, points: dict[str, list[tuple[float, float]]]) -> list[str]:
    """One log-log panel at ``x0``: frame, decade grid and labels, one polyline and its dots per series."""
    xs = [x for series in points.values() for x, _ in series]
    ys = [y for series in points.values() for _, y in series]
    if not xs:
        return []
    (x_low, x_high), (y_low, y_high) = _decades(xs), _decades(ys)

    def px(x: float) -> float:
        return x0 + (math.log10(x) - x_low) / (x_high - x_low) * PANEL_W

    def py(y: float) -> float:
        return TOP + PANEL_H - (math.log10(y) - y_low) / (y_high - y_low) * PANEL_H

    out = [
        f'<text x="{x0 + PANEL_W / 2:.1f}" y="{TOP - 12}" text-anchor="middle" font-weight="bold">'
        f"{escape(title)}</text>",
        f'<rect x="{x0}" y="{TOP}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#888"/>',
    ]
    for exponent in range(x_low, x_high + 1):
        x = px(10.0**exponent)
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + PANEL_H}" stroke="#ddd"/>')
        label = _power(exponent, "triples")
        out.append(f'<text x="{x:.1f}" y="{TOP + PANEL_H + 16}" text-anchor="middle">{label}</text>')
    for exponent in range(y_low, y_high + 1):
        y = py(10.0**exponent)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + PANEL_W}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{_power(exponent, "")}</text>')
    for key, _, colour in SERIES:
        series = sorted(points.get(key, []))
        if not series:
            continue
        line = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in series)
        out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{colour}"/>' for x, y in series]
    return out


def _power(exponent: int, unit: str) -> str:
    """A decade as a short label: 0.01, 0.1, 1, 10, 100, 1,000; 10k, 100k, 1M, 10M for triples."""
    if unit == "triples" and exponent >= 3:
        return f"{10 ** (exponent % 3)}{'kMG'[exponent // 3 - 1]}"
    return f"{10.0**exponent:,.{max(0, -exponent)}f}"


def scale_svg(results: Results) -> str | None:
    """The picture of ``results.scale`` as an SVG document; None when no size was measured."""
    if not any(_start(row) or _pss(row) for row in results.scale):
        return None
    body: list[str] = []
    for index, (title, value) in enumerate(PANELS):
        points: dict[str, list[tuple[float, float]]] = {}
        for row in results.scale:
            figure = value(row)
            if figure is not None and figure > 0:
                points.setdefault(row.server, []).append((float(row.triples), figure))
        body += _panel(LEFT + index * (PANEL_W + LEFT + GAP), title, points)
    legend_y = TOP + PANEL_H + 40
    for index, (_, label, colour) in enumerate(SERIES):
        x = LEFT + index * 240
        line = f'x1="{x}" y1="{legend_y}" x2="{x + 24}" y2="{legend_y}"'
        body.append(f'<line {line} stroke="{colour}" stroke-width="3"/>')
        body.append(f'<text x="{x + 30}" y="{legend_y + 4}">{escape(label)}</text>')
    body.append(f'<text x="{LEFT}" y="{HEIGHT - 8}" fill="#555">{escape(_caption(results))}</text>')
    header = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'font-family="sans-serif" font-size="12">'
    )
    title = "<title>Start time and memory against the graph's size, log-log (python -m bench, scale)</title>"
    background = f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>'
    return "\n".join([header, title, background, *body, "</svg>"]) + "\n"


def _caption(results: Results) -> str:
    """Where the figures come from: the machine, its load and the commit (a shared machine's figures are rough)."""
    m = results.machine
    load = f"{m.get('loadavg_start', ['?'])[0]}-{(m.get('loadavg_end') or ['?'])[0]}"
    return (
        f"python -m bench (scale), {results.started[:10]}, commit {m.get('commit', '?')}, {m.get('cores', '?')} "
        f"cores, load average {load} (start and end of the run)"
    )


def write_picture(results: Results, path: Path) -> Path | None:
    """Write :func:`scale_svg` to ``path``; None (nothing written) when the run measured no size."""
    svg = scale_svg(results)
    if svg is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(svg, encoding="utf-8")
    return path
