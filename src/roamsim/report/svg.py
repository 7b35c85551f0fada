"""Small inline-SVG charts: time lines, horizontal bars. No scripts, no external resources.

Colours come from CSS classes (``s<i>`` stroke, ``f<i>`` fill; see :data:`PALETTE`),
so the page needs no inline style attributes (the report's Content-Security-Policy
allows only its own hashed style sheet).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

import numpy as np

NS = 1_000_000_000
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f",
           "#bcbd22")
TICK_STEPS_S = (1, 5, 10, 30, 60, 300, 600, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400,
                7 * 86400, 14 * 86400, 28 * 86400)


def palette_css() -> str:
    """CSS classes of the palette: ``.s<i>`` stroke, ``.f<i>`` fill, ``.b<i>`` background, ``.d<i>`` border."""
    return "".join(f".s{i}{{stroke:{c}}}.f{i}{{fill:{c}}}.b{i}{{background:{c}}}.d{i}{{border-color:{c}}}"
                   for i, c in enumerate(PALETTE))


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Trace:
    """One line of a chart."""

    label: str
    values: np.ndarray
    """Per interval; NaN leaves a gap."""
    colour: int
    dashed: bool = False


def fmt_value(v: float, unit: str) -> str:
    """Axis label of a value: ms as ms/s, counts and TPS compactly."""
    if unit == "ms":
        return f"{v / 1000:g} s" if v >= 1000 else f"{v:g} ms"
    if abs(v) >= 1e6:
        return f"{v / 1e6:g}M"
    if abs(v) >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def _nice_ticks(vmax: float, n: int = 5) -> list[float]:
    if vmax <= 0 or not math.isfinite(vmax):
        return [0.0, 1.0]
    raw = vmax / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [i * step for i in range(math.ceil(vmax / step - 1e-9) + 1)]


def time_ticks(t_start_ns: int, t_end_ns: int, max_ticks: int = 8) -> tuple[list[int], str]:
    """Round tick times (ns, UTC-aligned) across a span and the strftime format of their labels."""
    span_s = max(1, (t_end_ns - t_start_ns) // NS)
    step = next((s for s in TICK_STEPS_S if span_s / s <= max_ticks), TICK_STEPS_S[-1])
    first = -(-t_start_ns // (step * NS)) * step * NS
    ticks = list(range(first, t_end_ns + 1, step * NS))
    if step >= 86400:
        fmt = "%a %d %b"
    elif span_s > 86400:
        fmt = "%d %b %H:%M"
    elif step >= 60:
        fmt = "%H:%M"
    else:
        fmt = "%H:%M:%S"
    return ticks, fmt


def utc(t_ns: int, fmt: str) -> str:
    return datetime.fromtimestamp(t_ns / NS, tz=UTC).strftime(fmt)


def line_chart(traces: Sequence[Trace], *, t0_ns: int, step_ns: int, unit: str, title: str,
               width: int = 1100, height: int = 250) -> str:
    """A time chart: x = simulated UTC time (bin centres), y linear (log for ``ms``)."""
    left, right, top, bottom = 64, 30, 10, 34
    pw, ph = width - left - right, height - top - bottom
    n = max((t.values.size for t in traces), default=1)
    t_end = t0_ns + n * step_ns
    finite = [t.values[np.isfinite(t.values)] for t in traces]
    vals = np.concatenate(finite) if finite else np.zeros(0)
    log = unit == "ms"
    if log:
        pos = vals[vals > 0]
        lo = 10 ** math.floor(math.log10(pos.min())) if pos.size else 1.0
        hi = 10 ** math.ceil(math.log10(pos.max())) if pos.size else 10.0
        hi = max(hi, lo * 10)
        yticks = [lo * 10**k for k in range(round(math.log10(hi / lo)) + 1)]

        def y(v: np.ndarray) -> np.ndarray:
            return np.asarray(top + ph - (np.log10(np.maximum(v, lo) / lo) / math.log10(hi / lo)) * ph, dtype=float)
    else:
        yticks = _nice_ticks(float(vals.max()) if vals.size else 0.0)
        ymax = yticks[-1] or 1.0

        def y(v: np.ndarray) -> np.ndarray:
            return top + ph - v / ymax * ph

    def x(t: np.ndarray) -> np.ndarray:
        return left + (t - t0_ns) / max(t_end - t0_ns, 1) * pw

    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
           f'aria-label="{esc(title)}">']
    for v in yticks:
        yy = float(y(np.asarray([v]))[0])
        out.append(f'<line class="grid" x1="{left}" x2="{left + pw}" y1="{_num(yy)}" y2="{_num(yy)}"/>'
                   f'<text class="ylab" x="{left - 6}" y="{_num(yy + 4)}">{esc(fmt_value(v, unit))}</text>')
    ticks, fmt = time_ticks(t0_ns, t_end)
    for t in ticks:
        xx = float(x(np.asarray([t]))[0])
        out.append(f'<line class="tick" x1="{_num(xx)}" x2="{_num(xx)}" y1="{top + ph}" y2="{top + ph + 5}"/>'
                   f'<text class="xlab" x="{_num(xx)}" y="{top + ph + 18}">{esc(utc(t, fmt))}</text>')
    out.append(f'<line class="axis" x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}"/>'
               f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{top + ph}"/>'
               f'<text class="xcap" x="{left + pw}" y="{height - 2}">simulated time (UTC)</text>')
    centres = t0_ns + (np.arange(n) + 0.5) * step_ns
    for tr in traces:
        xs, ys = x(centres[: tr.values.size]), y(np.nan_to_num(tr.values, nan=0.0))
        ok = np.isfinite(tr.values)
        parts = []
        for i in range(tr.values.size):
            if ok[i]:
                parts.append(f'{"L" if i and ok[i - 1] else "M"}{_num(float(xs[i]))} {_num(float(ys[i]))}')
        d = "".join(parts)
        if d:
            dash = ' stroke-dasharray="6 4"' if tr.dashed else ""
            out.append(f'<path class="line s{tr.colour % len(PALETTE)}" d="{d}"{dash}>'
                       f"<title>{esc(tr.label)}</title></path>")
    out.append("</svg>")
    return "".join(out)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str
    colour: int
    title: str = ""


def bar_chart(bars: Sequence[Bar], *, title: str, width: int = 1100, label_width: int = 380) -> str:
    """Horizontal bars scaled to the largest value, one row each."""
    row, top = 22, 4
    height = top * 2 + row * max(len(bars), 1)
    vmax = max((b.value for b in bars), default=0.0) or 1.0
    plot = width - label_width - 120
    out = [f'<svg class="chart bars" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
           f'aria-label="{esc(title)}">']
    for i, b in enumerate(bars):
        yy = top + i * row
        w = max(1.0, b.value / vmax * plot) if b.value > 0 else 0.0
        out.append(f'<text class="blab" x="{label_width - 8}" y="{yy + 15}">{esc(b.label)}</text>'
                   f'<rect class="f{b.colour % len(PALETTE)}" x="{label_width}" y="{yy + 3}" width="{_num(w)}" '
                   f'height="{row - 6}"><title>{esc(b.title or b.label)}</title></rect>'
                   f'<text class="bval" x="{_num(label_width + w + 6)}" y="{yy + 15}">{esc(b.text)}</text>')
    out.append("</svg>")
    return "".join(out)
