"""Two runs side by side (B against A): KPI deltas, per-partner deltas, overlaid time series.

Every compared figure is one table row ``<tr data-kpi="[path]">`` with the value of
A (``data-run="a"``), of B (``data-run="b"``), the absolute delta B − A
(``data-delta="abs"``) and the relative delta (B − A) / |A| (``data-delta="rel"``);
ratios' absolute deltas are shown in percentage points. The time series of both
runs use the same intervals, B dashed over A, aligned on their window starts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from roamsim.report import bins
from roamsim.report import html as h
from roamsim.report.html import cell, figure, kpi_get
from roamsim.report.page import chart_block, funnel_rows
from roamsim.report.rundir import RunInput
from roamsim.report.scan import RunData, TimeChart, scan
from roamsim.report.svg import Trace, esc, utc

Row = tuple[str, tuple[str, ...], str, str | None]
"""(label, kpis.json path, unit, better direction ``up``/``down``/None)."""

HEADLINE: tuple[Row, ...] = (
    ("Attach success, first attempt", ("overall", "attach", "first_attempt_success_ratio"), "ratio", "up"),
    ("Attach success, all attempts", ("overall", "attach", "success_ratio"), "ratio", "up"),
    ("Attach success excluding steering", ("overall", "attach", "success_ratio_ex_steering"), "ratio", "up"),
    ("Registration, eventual success", ("overall", "registration", "eventual_success_ratio"), "ratio", "up"),
    ("Registration episodes", ("overall", "registration", "episodes"), "count", None),
    ("Attach latency p50", ("overall", "latency", "attach", "p50_ms"), "ms", "down"),
    ("Attach latency p95", ("overall", "latency", "attach", "p95_ms"), "ms", "down"),
    ("Attach latency p99", ("overall", "latency", "attach", "p99_ms"), "ms", "down"),
    ("Registration delay p50", ("overall", "registration", "attach_delay", "p50_ms"), "ms", "down"),
    ("Registration delay p95", ("overall", "registration", "attach_delay", "p95_ms"), "ms", "down"),
    ("Registration delay p99", ("overall", "registration", "attach_delay", "p99_ms"), "ms", "down"),
    ("Timed-out transactions", ("overall", "timeouts", "transactions"), "count", "down"),
    ("Timed-out procedures", ("overall", "timeouts", "procedures"), "count", "down"),
    ("Extra signalling from steering", ("overall", "extra_signalling_ratio"), "ratio", "down"),
    ("Roamers", ("counts", "roamers_seen"), "count", None),
    ("Transactions", ("counts", "transactions"), "count", None),
    ("Messages", ("counts", "messages"), "count", None),
)
STEERING: tuple[tuple[str, str, str, str | None], ...] = (
    ("share on preferred", "share_on_preferred", "ratio", "up"),
    ("steered roamers", "steered_roamers", "count", None),
    ("steering rejects", "steering_rejects", "count", "down"),
    ("rejects per steered roamer", "rejects_per_steered_roamer", "count", "down"),
)
PARTNER: tuple[tuple[str, tuple[str, ...], str, str | None], ...] = (
    ("attempts", ("attach", "attempts"), "count", None),
    ("successes", ("attach", "successes"), "count", None),
    ("success", ("attach", "success_ratio"), "ratio", "up"),
    ("first attempt", ("attach", "first_attempt_success_ratio"), "ratio", "up"),
    ("eventual", ("registration", "eventual_success_ratio"), "ratio", "up"),
    ("attach latency p50", ("latency", "attach", "p50_ms"), "ms", "down"),
    ("attach latency p95", ("latency", "attach", "p95_ms"), "ms", "down"),
    ("steering rejects", ("attach", "steering_rejects"), "count", "down"),
)


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def deltas(a: float | None, b: float | None) -> tuple[float | None, float | None]:
    """(B − A, (B − A) / |A|); None where undefined."""
    if a is None or b is None:
        return None, None
    d = b - a
    return d, (d / abs(a) if a else None)


def _delta_text(d: float | None, unit: str) -> str:
    if d is None:
        return "n/a"
    if unit == "ratio":
        return f"{100 * d:+.2f} pp"
    sign = "+" if d > 0 else ("−" if d < 0 else "±")
    return sign + h.fmt(abs(d), unit)


def compare_row(label: str, path: Sequence[str], unit: str, better: str | None, a: dict[str, Any],
                b: dict[str, Any], *, metric: str | None = None, va: float | None = None,
                vb: float | None = None) -> tuple[list[str], dict[str, str]]:
    """One comparison row's cells and ``<tr>`` attributes (values from kpis.json, or ``va``/``vb``)."""
    x = _number(kpi_get(a, path)) if va is None and metric is None else va
    y = _number(kpi_get(b, path)) if vb is None and metric is None else vb
    d, rel = deltas(x, y)
    cls = "" if not d or better is None else ("up" if (d > 0) == (better == "up") else "down")
    kpi = None if metric is not None else path
    cells = [
        cell(esc(label), label, "l"),
        f'<td data-run="a" data-sort="{"" if x is None else x}">{figure(x, unit, kpi=kpi, metric=metric)}</td>',
        f'<td data-run="b" data-sort="{"" if y is None else y}">{figure(y, unit, kpi=kpi, metric=metric)}</td>',
        f'<td data-delta="abs" data-value="{"" if d is None else repr(d)}" data-sort="{"" if d is None else d}"'
        f' class="{cls}">{esc(_delta_text(d, unit))}</td>',
        f'<td data-delta="rel" data-value="{"" if rel is None else repr(rel)}" data-sort="{"" if rel is None else rel}"'
        f' class="{cls}">{"n/a" if rel is None else f"{100 * rel:+.1f}%"}</td>',
    ]
    attrs = {"data-unit": unit}
    attrs["data-kpi" if metric is None else "data-metric"] = (
        json.dumps(list(path)) if metric is None else metric)
    return cells, attrs


def _table(rows: list[tuple[list[str], dict[str, str]]], first: str = "KPI") -> str:
    return h.table([first, "A", "B", "Δ (B − A)", "Δ relative"], [r for r, _ in rows],
                   row_attrs=[a for _, a in rows])


def _union(a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[str]:
    return sorted(set(a or {}) | set(b or {}))


def headline_section(a: dict[str, Any], b: dict[str, Any]) -> str:
    rows = [compare_row(label, path, unit, better, a, b) for label, path, unit, better in HEADLINE]
    for pol in _union(a.get("steering"), b.get("steering")):
        rows += [compare_row(f"Steering {pol}: {label}", ("steering", pol, key), unit, better, a, b)
                 for label, key, unit, better in STEERING]
    for name in _union(kpi_get(a, ("overall", "transactions")), kpi_get(b, ("overall", "transactions"))):
        p = ("overall", "transactions", name)
        rows += [compare_row(f"{name} requests", (*p, "requests"), "count", None, a, b),
                 compare_row(f"{name} round trip p95", (*p, "round_trip", "p95_ms"), "ms", "down", a, b)]
    return f'<section id="kpis"><h2>Headline KPIs</h2>{_table(rows)}</section>'


def partner_section(a: dict[str, Any], b: dict[str, Any]) -> str:
    rows = []
    for pair in _union(a.get("per_partner"), b.get("per_partner")):
        rows += [compare_row(f"{pair} {label}", ("per_partner", pair, *path), unit, better, a, b)
                 for label, path, unit, better in PARTNER]
    return ('<section id="partners"><h2>Per partner (home → visited)</h2>'
            '<p class="note">Rows missing in one run show n/a. Click a header to sort.</p>'
            + _table(rows, "Partner and KPI") + "</section>")


def funnel_section(da: RunData, db: RunData) -> str:
    rows = []
    fa = {f.policy.key: f for f in da.funnels}
    fb = {f.policy.key: f for f in db.funnels}
    for key in sorted(set(fa) | set(fb)):
        stages_a = {s: v for s, _, v in funnel_rows(da.run.kpis, fa[key])} if key in fa else {}
        stages_b = {s: v for s, _, v in funnel_rows(db.run.kpis, fb[key])} if key in fb else {}
        for stage in dict.fromkeys([*stages_a, *stages_b]):
            rows.append(compare_row(f"{key}: {stage}", (), "count", None, {}, {}, metric=f"funnel|{key}|{stage}",
                                    va=stages_a.get(stage), vb=stages_b.get(stage)))
    if not rows:
        return ""
    return f'<section id="steering"><h2>Steering funnel</h2>{_table(rows, "Policy and stage")}</section>'


def errors_section(da: RunData, db: RunData) -> str:
    def tally(d: RunData) -> dict[str, float]:
        out: dict[str, float] = {}
        for e in d.errors:
            label = f"{e.protocol} {e.interface} " + ("timeout" if e.code is None else (
                f"{e.code}{' (experimental)' if e.experimental else ''}"))
            out[label] = out.get(label, 0) + e.count
        return out

    ta, tb = tally(da), tally(db)
    rows = [compare_row(label, (), "count", None, {}, {}, metric=f"answers|{label}", va=ta.get(label),
                        vb=tb.get(label)) for label in sorted(set(ta) | set(tb))]
    return f'<section id="errors"><h2>Error mix</h2>{_table(rows, "Result")}</section>'


def series_section(da: RunData, db: RunData, aligned_note: str) -> str:
    charts_a = {c.key: c for c in da.charts}
    charts_b = {c.key: c for c in db.charts}
    blocks = []
    for key in dict.fromkeys([*charts_a, *charts_b]):
        ca, cb = charts_a.get(key), charts_b.get(key)
        base = ca or cb
        assert base is not None
        names = list(dict.fromkeys([ln.name for c in (ca, cb) if c for ln in c.lines]))
        traces = [Trace(f"{ln.name} ({run})", ln.values, names.index(ln.name), run == "B")
                  for run, c in (("A", ca), ("B", cb)) if c for ln in c.lines]
        chart = TimeChart(base.key, base.title, base.unit, [], base.note)
        blocks.append(chart_block(chart, traces, da.run.t0_ns, da.step_ns, "B dashed" + aligned_note))
    return f'<section id="series"><h2>Time series (A solid, B dashed)</h2>{"".join(blocks)}</section>'


def _run_meta(tag: str, run: RunInput) -> str:
    m = run.manifest
    return (f'<p class="meta"><b>{tag}</b> <code>{esc(run.path)}</code> · run <code>{esc(m.get("run_id", "?"))}</code>'
            f' · seed {esc(m.get("seed", "?"))} · scale {esc(m.get("scale", "?"))} · '
            f"{esc(utc(run.t0_ns, '%Y-%m-%d %H:%M'))} UTC + {run.window_ns / 3.6e12:g} h</p>")


def render_comparison(a: RunInput, b: RunInput) -> str:
    """The comparison page of B against A."""
    window = max(a.window_ns, b.window_ns)
    step = bins.choose_step(window)
    nbins = max(1, -(-window // step))
    da, db = scan(a, step, nbins=nbins), scan(b, step, nbins=nbins)
    aligned = "" if a.t0_ns == b.t0_ns else (
        f"; B starts at {utc(b.t0_ns, '%Y-%m-%d %H:%M')} UTC and is drawn from A's window start")
    title = f"roamsim comparison: {a.label()} (A) vs {b.label()} (B)"
    body = (f"<h1>{esc(title)}</h1>" + _run_meta("A", a) + _run_meta("B", b)
            + '<nav><a href="#kpis">Headline KPIs</a><a href="#partners">Per partner</a>'
              '<a href="#steering">Steering</a><a href="#errors">Error mix</a><a href="#series">Time series</a></nav>'
            + headline_section(a.kpis, b.kpis) + partner_section(a.kpis, b.kpis) + funnel_section(da, db)
            + errors_section(da, db) + series_section(da, db, aligned))
    return h.page(title, body)
