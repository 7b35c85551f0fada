"""The report of one run: sections built from kpis.json (headline, tables) and the scan (charts, funnel, ladder)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from roamsim.report import html as h
from roamsim.report.codes import TIMEOUT, is_success, result_name
from roamsim.report.html import cell, figure, kpi_figure, kpi_get
from roamsim.report.ladder import Ladder
from roamsim.report.scan import REGISTRATION_TYPES, RunData, TimeChart
from roamsim.report.sequence import ladder_svg, procedure_title
from roamsim.report.steering import Funnel
from roamsim.report.svg import NS, Bar, Trace, bar_chart, esc, line_chart, utc
from roamsim.version import __version__

SECTIONS = (("kpis", "Headline KPIs"), ("partners", "Per partner"), ("transactions", "Transactions"),
            ("series", "Time series"), ("steering", "Steering"), ("errors", "Error mix"), ("ladder", "Sample roamer"))
LAT = (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99"))


def _tile(label: str, value: str, sub: str = "", small: bool = False) -> str:
    v = "v small" if small else "v"
    return f'<div class="tile"><div class="k">{esc(label)}</div><div class="{v}">{value}</div>' + (
        f'<div class="s">{sub}</div>' if sub else "") + "</div>"


def header(data: RunData, title: str) -> str:
    run = data.run
    m = run.manifest
    k = run.kpis
    end = run.t0_ns + run.window_ns
    procs = sum(v for v in (kpi_get(k, ("counts", "procedures")) or {}).values() if isinstance(v, int))
    return (
        f"<h1>{esc(title)}</h1>"
        f'<p class="meta">run <code>{esc(m.get("run_id", run.path.name))}</code> · roamsim '
        f'{esc(m.get("roamsim_version", "?"))} · seed {esc(m.get("seed", "?"))} · scale {esc(m.get("scale", "?"))}'
        f" · {esc(utc(run.t0_ns, '%Y-%m-%d %H:%M'))} → {esc(utc(end, '%Y-%m-%d %H:%M'))} UTC (simulated)</p>"
        f'<p class="meta">{kpi_figure(k, ("counts", "roamers_seen"), "count")} roamers · '
        f'{figure(procs, "count", metric="procedures")} procedures · '
        f'{kpi_figure(k, ("counts", "transactions"), "count")} transactions · '
        f'{kpi_figure(k, ("counts", "messages"), "count")} messages</p>'
        "<nav>" + "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in SECTIONS) + "</nav>"
    )


def _latency_figs(k: dict[str, Any], path: tuple[str, ...]) -> str:
    return " / ".join(kpi_figure(k, (*path, key), "ms") for key, _ in LAT)


def headline(k: dict[str, Any]) -> str:
    o = ("overall",)
    tiles = [
        _tile("Attach success, first attempt", kpi_figure(k, (*o, "attach", "first_attempt_success_ratio"), "ratio"),
              "all attempts " + kpi_figure(k, (*o, "attach", "success_ratio"), "ratio") + " · excluding steering "
              + kpi_figure(k, (*o, "attach", "success_ratio_ex_steering"), "ratio")),
        _tile("Registration, eventual success", kpi_figure(k, (*o, "registration", "eventual_success_ratio"), "ratio"),
              kpi_figure(k, (*o, "registration", "episodes"), "count") + " registration episodes"),
        _tile("Attach latency p50 / p95 / p99", _latency_figs(k, (*o, "latency", "attach")),
              "successful attach attempts", small=True),
        _tile("Registration delay p50 / p95 / p99", _latency_figs(k, (*o, "registration", "attach_delay")),
              "first attempt to success, retries included", small=True),
        _tile("Timeouts", kpi_figure(k, (*o, "timeouts", "transactions"), "count"),
              "transactions · " + kpi_figure(k, (*o, "timeouts", "procedures"), "count") + " procedures"),
        _tile("Extra signalling from steering", kpi_figure(k, (*o, "extra_signalling_ratio"), "ratio"),
              kpi_figure(k, (*o, "extra_transactions_from_steering"), "count") + " transactions"),
    ]
    for name in sorted(k.get("steering") or {}):
        p = ("steering", name)
        tiles.append(_tile(f"Steering {name}: share on preferred", kpi_figure(k, (*p, "share_on_preferred"), "ratio"),
                           kpi_figure(k, (*p, "rejects_per_steered_roamer"), "count")
                           + " rejects per steered roamer"))
    return f'<section id="kpis"><h2>Headline KPIs</h2><div class="tiles">{"".join(tiles)}</div></section>'


def _op_label(data: RunData, plmn: str) -> str:
    op = data.run.by_plmn(plmn)
    return f'<abbr title="{esc(op.name)} ({esc(op.id)})">{esc(plmn)}</abbr>' if op else esc(plmn)


def partners(data: RunData) -> str:
    k = data.run.kpis
    rows = []
    for key in sorted(k.get("per_partner") or {}):
        home, _, vis = key.partition("->")
        p = ("per_partner", key)
        out: Counter[str] = Counter()
        for t in REGISTRATION_TYPES:
            out.update(data.outcomes.get((t, home, vis), Counter()))
        lat = kpi_get(k, (*p, "latency")) or {}
        reg_type = max((t for t in REGISTRATION_TYPES if t in lat), key=lambda t: (lat[t].get("count") or 0, t),
                       default=REGISTRATION_TYPES[0])
        row = [cell(_op_label(data, home), home, "l"), cell(_op_label(data, vis), vis, "l")]
        for path, unit in (((*p, "attach", "attempts"), "count"), ((*p, "attach", "successes"), "count")):
            row.append(cell(kpi_figure(k, path, unit), kpi_get(k, path)))
        for outcome in ("rejected", "timeout"):
            row.append(cell(figure(out[outcome], "count", metric=f"attach_{outcome}"), out[outcome]))
        for ratio in ((*p, "attach", "success_ratio"), (*p, "attach", "first_attempt_success_ratio"),
                      (*p, "registration", "eventual_success_ratio")):
            row.append(cell(kpi_figure(k, ratio, "ratio"), kpi_get(k, ratio)))
        for key_ms, _ in LAT:
            lat_path = (*p, "latency", reg_type, key_ms)
            hint = "" if reg_type == REGISTRATION_TYPES[0] or key_ms != "p50_ms" else (
                f' <span class="note">{esc(reg_type.replace("_", " "))}</span>')
            row.append(cell(kpi_figure(k, lat_path, "ms") + hint, kpi_get(k, lat_path)))
        path = (*p, "attach", "steering_rejects")
        row.append(cell(kpi_figure(k, path, "count"), kpi_get(k, path)))
        rows.append(row)
    heads = ["Home", "Visited", "Attempts", "Successes", "Rejected", "Timed out", "Success", "First attempt",
             "Eventual", "Latency p50", "p95", "p99", "Steering rejects"]
    return ('<section id="partners"><h2>Per partner (home → visited)</h2>'
            '<p class="note">Initial registration attempts (attach, location update, 5G registration) that ended '
            "(aborted ones excluded); rejected includes steering rejects; eventual = registration episodes that "
            "ended registered, counted for the network of their first attempt; latency of successful attempts of the "
            "pair's main registration type (named when not attach). Click a header to sort.</p>"
            + h.table(heads, rows, left=2) + per_rat(data) + "</section>")


PER_RAT = (
    (("registration", "attempts"), "count", "Registrations"),
    (("registration", "success_ratio"), "ratio", "Success"),
    (("registration", "first_attempt_success_ratio"), "ratio", "First attempt"),
    (("registration_latency", "p50_ms"), "ms", "Latency p50"),
    (("registration_latency", "p95_ms"), "ms", "p95"),
    (("data_sessions", "attempts"), "count", "Data sessions"),
    (("data_sessions", "success_ratio"), "ratio", "Set-up success"),
    (("data_sessions", "setup_latency", "p50_ms"), "ms", "Set-up p50"),
    (("sms", "mt_attempts"), "count", "SMS MT"),
    (("sms", "mt_delivery_ratio"), "ratio", "MT delivered"),
    (("sms", "mo_attempts"), "count", "SMS MO"),
    (("sms", "mo_success_ratio"), "ratio", "MO success"),
)


def per_rat(data: RunData) -> str:
    """Registrations, data sessions and SMS per radio access technology (kpis.json ``per_rat``)."""
    k = data.run.kpis
    rats = sorted(k.get("per_rat") or {})
    if not rats:
        return ""
    rows = [[cell(esc(r), r, "l")] + [cell(kpi_figure(k, ("per_rat", r, *path), unit),
                                           kpi_get(k, ("per_rat", r, *path))) for path, unit, _ in PER_RAT]
            for r in rats]
    return ("<h3>Per radio access technology</h3>"
            + h.table(["RAT", *(head for _, _, head in PER_RAT)], rows))


def transactions(data: RunData) -> str:
    k = data.run.kpis
    rows = []
    for name in sorted((kpi_get(k, ("overall", "transactions")) or {}),
                       key=lambda n: (data.commands.get(n, ("", "")), n)):
        proto, iface = data.commands.get(name, ("?", "?"))
        p = ("overall", "transactions", name)
        row = [cell(esc(proto), proto, "l"), cell(esc(iface), iface, "l"), cell(esc(name), name, "l")]
        for path in ((*p, "requests"), (*p, "timeouts")):
            row.append(cell(kpi_figure(k, path, "count"), kpi_get(k, path)))
        for key_ms, _ in LAT:
            rtt = (*p, "round_trip", key_ms)
            row.append(cell(kpi_figure(k, rtt, "ms"), kpi_get(k, rtt)))
        rows.append(row)
    prows = []
    for t in sorted(kpi_get(k, ("overall", "latency")) or {}):
        p = ("overall", "latency", t)
        prows.append([cell(esc(t.replace("_", " ")), t, "l"), cell(kpi_figure(k, (*p, "count"), "count"),
                                                                   kpi_get(k, (*p, "count")))]
                     + [cell(kpi_figure(k, (*p, key_ms), "ms"), kpi_get(k, (*p, key_ms))) for key_ms, _ in LAT])
    links = kpi_get(k, ("tps", "per_link")) or {}
    lrows = [[cell(esc(n), n, "l")] + [cell(kpi_figure(k, ("tps", "per_link", n, f), u), kpi_get(
        k, ("tps", "per_link", n, f))) for f, u in (("requests", "count"), ("peak_tps", "count"), ("mean_tps", "tps"))]
        for n in sorted(links)]
    return ('<section id="transactions"><h2>Transactions by protocol and interface</h2>'
            '<p class="note">Round trip at the origin, answered transactions that did not time out.</p>'
            + h.table(["Protocol", "Interface", "Command", "Requests", "Timeouts", "Round trip p50", "p95", "p99"],
                      rows, left=3)
            + "<h3>Procedure latency (successful procedures)</h3>"
            + h.table(["Procedure", "Count", "p50", "p95", "p99"], prows)
            + f"<details><summary>Requests and TPS per link ({len(lrows)} links)</summary>"
            + h.table(["Link", "Requests", "Peak TPS (1 s)", "Mean TPS"], lrows) + "</details></section>")


def chart_block(chart: TimeChart, traces: list[Trace], t0_ns: int, step_ns: int, extra_note: str = "") -> str:
    step = step_ns / NS
    interval = f"{step / 3600:g} h" if step >= 3600 else (f"{step / 60:g} min" if step >= 60 else f"{step:g} s")
    totals = " · ".join(
        f"{esc(ln.name)} " + figure(ln.total, "count", kpi=ln.kpi, metric=f"{chart.key}|{ln.name}")
        for ln in chart.lines if ln.total is not None)
    note = f"{chart.note}; interval {interval}" + (f"; {extra_note}" if extra_note else "")
    return (f'<div class="chartbox" data-chart="{esc(chart.key)}"><h3>{esc(chart.title)}</h3>'
            + h.legend([(t.label, t.colour, t.dashed) for t in traces])
            + line_chart(traces, t0_ns=t0_ns, step_ns=step_ns, unit=chart.unit, title=chart.title)
            + f'<p class="note">{esc(note)}</p>'
            + (f'<p class="note totals">totals: {totals}</p>' if totals else "") + "</div>")


def series(data: RunData) -> str:
    blocks = [chart_block(c, [Trace(ln.name, ln.values, i) for i, ln in enumerate(c.lines)], data.run.t0_ns,
                          data.step_ns) for c in data.charts]
    return f'<section id="series"><h2>Time series</h2>{"".join(blocks)}</section>'


def funnel_rows(k: dict[str, Any], f: Funnel) -> list[tuple[str, str, float]]:
    """(stage, figure html, value) of one policy's funnel."""
    p = ("steering", f.policy.key)
    reg = kpi_get(k, (*p, "roamers_registered"))
    return [
        ("roamers registered in the country", kpi_figure(k, (*p, "roamers_registered"), "count"),
         float(reg) if isinstance(reg, int | float) else 0.0),
        ("steered roamers (at least one reject)", figure(f.steered_roamers, "count", kpi=(*p, "steered_roamers")),
         f.steered_roamers),
        ("→ landed on a preferred partner", figure(f.landed_on_preferred, "count", metric="landed_on_preferred"),
         f.landed_on_preferred),
        (f"→ accepted by a non-preferred partner ({f.policy.cap})",
         figure(f.accepted_after_cap, "count", metric="accepted_after_cap"), f.accepted_after_cap),
        ("→ not registered in the window", figure(f.not_registered, "count", metric="not_registered"),
         f.not_registered),
    ]


def steering(data: RunData) -> str:
    k = data.run.kpis
    if not data.funnels:
        return '<section id="steering"><h2>Steering funnel</h2><p class="note">No steering policy.</p></section>'
    parts = []
    for f in data.funnels:
        rows = funnel_rows(k, f)
        p = ("steering", f.policy.key)
        pref = ", ".join(sorted(f.policy.preferred_plmns))
        parts.append(
            f'<div class="funnel" data-policy="{esc(f.policy.key)}"><h3>{esc(f.policy.key)} '
            f'<span class="note">preferred {esc(pref)}</span></h3>'
            + bar_chart([Bar(s, v, f"{v:,.0f}", c) for c, (s, _, v) in enumerate(rows)],
                        title=f"steering funnel {f.policy.key}")
            + h.table(["Stage", "Roamers"], [[cell(esc(s), None, "l"), cell(fig)] for s, fig, _ in rows],
                      sortable=False)
            + '<p class="note">'
            + figure(f.rejects, "count", kpi=(*p, "steering_rejects")) + " steering rejects · "
            + kpi_figure(k, (*p, "rejects_per_steered_roamer"), "count") + " per steered roamer (max "
            + kpi_figure(k, (*p, "max_rejects_per_roamer"), "count") + ") · share on preferred "
            + kpi_figure(k, (*p, "share_on_preferred"), "ratio") + " · attach delay added (median) "
            + kpi_figure(k, (*p, "attach_delay_added_ms", "p50"), "ms") + "</p></div>")
    return ('<section id="steering"><h2>Steering funnel</h2><p class="note">Per policy (GSMA IR.73 reject-based '
            "steering): where steered roamers registered first after their first reject.</p>"
            + "".join(parts) + "</section>")


def errors(data: RunData) -> str:
    per_iface: Counter[tuple[str, str]] = Counter()
    for e in data.errors:
        if e.code is not None:
            per_iface[(e.protocol, e.interface)] += e.count
    rows, attrs, bars = [], [], []
    for e in data.errors:
        name = TIMEOUT if e.code is None else result_name(e.protocol, e.code, e.experimental)
        kind = "timeout" if e.code is None else ("experimental" if e.experimental else "result")
        ok = None if e.code is None else is_success(e.protocol, e.code)
        share = e.count / per_iface[(e.protocol, e.interface)] if per_iface[(e.protocol, e.interface)] else None
        rows.append([cell(esc(e.protocol), e.protocol, "l"), cell(esc(e.interface), e.interface, "l"),
                     cell("" if e.code is None else str(e.code), -1 if e.code is None else e.code, "l"),
                     cell(esc(kind), kind, "l"), cell(esc(name), name, "l"),
                     cell(figure(e.count, "count", metric="answers"), e.count),
                     cell(figure(share, "ratio", metric="share_of_answers") if e.code is not None else "",
                          share)])
        attrs.append({"data-protocol": e.protocol, "data-interface": e.interface,
                      "data-code": "" if e.code is None else str(e.code),
                      "data-experimental": "true" if e.experimental else "false"})
        if ok is not True:
            label = f"{e.protocol} {e.interface} " + ("timeout" if e.code is None else f"{e.code} {name}")
            bars.append(Bar(label[:52], e.count, f"{e.count:,}", 1 if ok is False else 3, label))
    chart = (bar_chart(bars, title="failed answers and timeouts") if bars
             else '<p class="note">No failed answer and no timeout.</p>')
    return ('<section id="errors"><h2>Error mix by result code</h2>'
            '<p class="note">Answers by protocol, interface and result code (Diameter Result-Code or '
            "Experimental-Result-Code, named from the message catalogue), and transactions that timed out.</p>"
            + chart + h.table(["Protocol", "Interface", "Code", "Kind", "Name", "Answers", "Share"], rows, left=5,
                              row_attrs=attrs) + "</section>")


def ladder_section(ladder: Ladder | None) -> str:
    if ladder is None:
        return '<section id="ladder"><h2>Sample roamer</h2><p class="note">No procedure in this run.</p></section>'
    prows = [[cell(str(p.procedure_id), p.procedure_id), cell(esc(utc(p.start_ns, "%Y-%m-%d %H:%M:%S")),
                                                              p.start_ns, "l"),
              cell(esc(procedure_title(p)), None, "l"),
              cell(h.fmt((p.end_ns - p.start_ns) / 1e6, "ms"), p.end_ns - p.start_ns)] for p in ladder.procedures]
    more = (f'<p class="note">{ladder.omitted_messages:,} more messages of these procedures are not drawn.</p>'
            if ladder.omitted_messages else "")
    return (f'<section id="ladder" data-imsi="{ladder.imsi}"><h2>Sample roamer: IMSI {ladder.imsi} '
            f'(home {esc(ladder.home_plmn)})</h2><p class="note">Chosen as the lowest procedure id of '
            f"{esc(ladder.reason)}; its registration episode as recorded in messages.parquet, one arrow per "
            "message on each hop.</p>"
            + h.table(["Procedure", "Start (UTC)", "What", "Duration"], prows, left=0, sortable=False)
            + f'<div class="scroll">{ladder_svg(ladder)}</div>{more}</section>')


def render(data: RunData, ladder: Ladder | None) -> str:
    """The whole report page."""
    title = f"roamsim report: {data.run.label()}"
    body = (header(data, title) + headline(data.run.kpis) + partners(data) + transactions(data) + series(data)
            + steering(data) + errors(data) + ladder_section(ladder)
            + f'<p class="note">Written by roamsim {esc(__version__)} from the run directory alone; KPI '
              "definitions: roamsim.sinks.kpis (kpis.json).</p>")
    return h.page(title, body)
