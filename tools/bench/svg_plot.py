"""A small log-log line plot as SVG text, for the benchmark report (no plotting library needed)."""

from __future__ import annotations

import math
from html import escape

COLOURS = ("#1f77b4", "#d62728", "#ff7f0e", "#2ca02c", "#9467bd")
WIDTH, HEIGHT, MARGIN = 640, 400, 60


def _ticks(low: float, high: float) -> list[float]:
    return [10.0 ** e for e in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)]


def line_plot(series: dict[str, list[tuple[float, float, bool]]], *, x_label: str, y_label: str,
              title: str) -> str:
    """`series`: name -> [(x, y, estimated)]; an estimated point is joined by a dashed segment."""
    points = [(x, y) for values in series.values() for x, y, _ in values if x > 0 and y > 0]
    xs, ys = _ticks(min(p[0] for p in points), max(p[0] for p in points)), \
        _ticks(min(p[1] for p in points), max(p[1] for p in points))
    lx, hx, ly, hy = math.log10(xs[0]), math.log10(xs[-1]), math.log10(ys[0]), math.log10(ys[-1])

    def px(x: float) -> float:
        return MARGIN + (math.log10(x) - lx) / ((hx - lx) or 1) * (WIDTH - 2 * MARGIN)

    def py(y: float) -> float:
        return HEIGHT - MARGIN - (math.log10(y) - ly) / ((hy - ly) or 1) * (HEIGHT - 2 * MARGIN)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
           f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="13">{escape(title)}</text>']
    for x in xs:
        out.append(f'<line x1="{px(x):.1f}" y1="{MARGIN}" x2="{px(x):.1f}" y2="{HEIGHT - MARGIN}" stroke="#ddd"/>')
        out.append(f'<text x="{px(x):.1f}" y="{HEIGHT - MARGIN + 15}" text-anchor="middle">{x:g}</text>')
    for y in ys:
        out.append(f'<line x1="{MARGIN}" y1="{py(y):.1f}" x2="{WIDTH - MARGIN}" y2="{py(y):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{MARGIN - 5}" y="{py(y) + 4:.1f}" text-anchor="end">{y:g}</text>')
    out.append(f'<text x="{WIDTH / 2}" y="{HEIGHT - 15}" text-anchor="middle">{escape(x_label)}</text>')
    out.append(f'<text x="15" y="{HEIGHT / 2}" text-anchor="middle" '
               f'transform="rotate(-90 15 {HEIGHT / 2})">{escape(y_label)}</text>')
    for i, (name, values) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        pts = [(x, y, est) for x, y, est in values if x > 0 and y > 0]
        for (x0, y0, e0), (x1, y1, e1) in zip(pts, pts[1:]):
            dash = ' stroke-dasharray="5,4"' if e0 or e1 else ""
            out.append(f'<line x1="{px(x0):.1f}" y1="{py(y0):.1f}" x2="{px(x1):.1f}" y2="{py(y1):.1f}" '
                       f'stroke="{colour}" stroke-width="2"{dash}/>')
        for x, y, est in pts:
            fill = "white" if est else colour
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{fill}" stroke="{colour}"/>')
        out.append(f'<rect x="{MARGIN + 10}" y="{MARGIN + 8 + 16 * i}" width="12" height="3" fill="{colour}"/>')
        out.append(f'<text x="{MARGIN + 28}" y="{MARGIN + 13 + 16 * i}">{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
