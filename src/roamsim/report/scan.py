"""One pass over the columns of each Parquet file of a run: everything the report draws beyond kpis.json.

The columns come from :class:`~roamsim.report.columns.RunColumns` (one read per
file, shared with kpis.json) and are reduced column-wise (counts per interval with
``numpy.bincount``, latency histograms, small per-key tallies); the aggregates take
memory proportional to keys × intervals. Everything is keyed by column values
(``protocol``, ``interface``, ``type``, element names), so new protocols and
procedure types appear without a change here.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from roamsim.records import schema
from roamsim.report import bins
from roamsim.report.columns import ReadFile, RunColumns, Vocabulary
from roamsim.report.ladder import Ladder, LadderChoice, read_ladder
from roamsim.report.rundir import RunInput
from roamsim.report.steering import Funnel, FunnelRows, Policy, funnels

REGISTRATION_TYPES = schema.REGISTRATION_TYPES
"""Initial registrations, one per RAT family: the "attach" view of kpis.json (IR.42 attach / LU success ratios)."""
CHART_TYPES = (*REGISTRATION_TYPES, "tracking_area_update", "gprs_location_update", "mobility_registration")
"""Procedure types counted in the registrations chart (initial and updating registrations)."""
PERCENTILES = (50.0, 95.0, 99.0)


@dataclass(frozen=True)
class Line:
    """One series of a time chart."""

    name: str
    values: np.ndarray
    """One value per interval (NaN: no data)."""
    total: float | None = None
    """The raw total the series sums (e.g. requests), for cross-checks."""
    kpi: tuple[str, ...] | None = None
    """Where ``total`` also appears in kpis.json."""


@dataclass(frozen=True)
class TimeChart:
    """A chart of values per interval of simulated time."""

    key: str
    title: str
    unit: str
    """``count``, ``tps`` or ``ms``."""
    lines: list[Line]
    note: str = ""


@dataclass(frozen=True)
class ErrorRow:
    """Answers of one result code (or timeouts: ``code`` None) on one protocol/interface."""

    protocol: str
    interface: str
    code: int | None
    experimental: bool
    count: int


@dataclass
class RunData:
    """The run's aggregates for the report."""

    run: RunInput
    step_ns: int
    nbins: int
    charts: list[TimeChart] = field(default_factory=list)
    outcomes: dict[tuple[str, str, str], Counter[str]] = field(default_factory=dict)
    """(procedure type, home PLMN, visited PLMN) → outcome → attempts."""
    errors: list[ErrorRow] = field(default_factory=list)
    commands: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Command (request name) → (protocol, interface)."""
    funnels: list[Funnel] = field(default_factory=list)
    ladder: LadderChoice | None = None
    sample: Ladder | None = None
    """The sample roamer's ladder (when scanned with ``sample``)."""


def policies(run: RunInput) -> list[Policy]:
    """The steering policies of the manifest's resolved scenario."""
    ops = {o.id: o for o in run.operators}
    out = []
    for st in (run.manifest.get("scenario") or {}).get("steering") or []:
        home = ops.get(str(st.get("home")))
        if home is None:
            continue
        country = str(st.get("country"))
        preferred = frozenset(ops[p].plmn for p in st.get("preferred") or [] if p in ops)
        window = st.get("window")
        cap = f"after {st.get('max_rejects', 5)} rejects" + (f" or {window}" if window else "")
        out.append(Policy(f"{home.plmn} in {country}", home.plmn, country, preferred,
                          frozenset(o.plmn for o in run.operators if o.country == country), cap))
    return out


def scan(run: RunInput, step_ns: int | None = None, t0_ns: int | None = None, nbins: int | None = None,
         columns: RunColumns | None = None, sample: bool = False) -> RunData:
    """Aggregate a run's Parquet files. ``step_ns``/``t0_ns``/``nbins`` fix the intervals (to overlay runs);
    ``columns`` shares one read of the files with kpis.json; ``sample`` also reads the sample roamer's ladder.

    The transactions are reduced on a second thread while this one does the procedures, the ladder and
    the link chart (NumPy and pyarrow release the GIL); the parts are put together here, in a fixed order.
    """
    step = step_ns or bins.choose_step(run.window_ns)
    data = RunData(run, step, nbins or max(1, -(-run.window_ns // step)))
    t0 = run.t0_ns if t0_ns is None else t0_ns
    cols = RunColumns(run.path) if columns is None else columns
    cols.prefetch()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="roamsim-scan") as pool:
        transactions = pool.submit(_transactions, data, t0, cols)
        _procedures(data, t0, cols.file("procedures"))
        if sample and data.ladder is not None:
            data.sample = read_ladder(run, data.ladder, cols)
        links = _messages(data, t0, cols)
        data.errors, data.commands, rtt_charts = transactions.result()
    data.charts += rtt_charts
    data.charts.insert(1, links)
    return data


def _member(codes: np.ndarray, size: int, wanted: list[int]) -> np.ndarray:
    """Which ``codes`` (below ``size``) are in ``wanted``: one lookup instead of ``numpy.isin``'s passes."""
    table = np.zeros(size, dtype=bool)
    table[wanted] = True
    return np.asarray(table[codes], dtype=bool)


def _procedures(data: RunData, t0: int, read: ReadFile) -> None:
    nb, table = data.nbins, read.table
    ptype, trig, outc, plmn = Vocabulary(), Vocabulary(), Vocabulary(), Vocabulary()
    pols = policies(data.run)
    # Enumerations are encoded chunk by chunk, each vocabulary's extra names added after each chunk as
    # they were after each row group, so codes (and the order of the charts, which follows them) are
    # those of a row-group-by-row-group reader.
    ty, tr, oc, home, vis = (np.empty(table.num_rows, dtype=np.int64) for _ in range(5))
    at = 0
    for batch in table.to_batches():
        end = at + batch.num_rows
        ptype.encode_into(batch["type"], ty[at:end])
        trig.encode_into(batch["trigger"], tr[at:end])
        outc.encode_into(batch["outcome"], oc[at:end])
        plmn.encode_into(batch["home_plmn"], home[at:end])
        plmn.encode_into(batch["visited_plmn"], vis[at:end])
        at = end
        for name in CHART_TYPES:
            ptype.code(name)
        for name in ("success", "timeout", "aborted"):
            outc.code(name)
        for p in pols:
            for x in (p.home_plmn, *sorted(p.country_plmns)):
                plmn.code(x)
        for p in pols:
            for x in p.preferred_plmns:
                plmn.code(x)
        trig.code("retry")
    start, end = read.array("start_time"), read.array("end_time")
    steered = np.asarray(read.array("steered", 0), dtype=bool)
    imsi, pid = read.array("imsi"), read.array("procedure_id")
    success = oc == outc.code("success")
    reg = _member(ty, len(ptype.names), [ptype.code(t) for t in CHART_TYPES])
    initial = _member(ty, len(ptype.names), [ptype.code(t) for t in REGISTRATION_TYPES])
    # Registrations per interval: (type × {success, rejected, steering reject, timeout}).
    cls = np.where(success, 0, np.where(steered, 2, np.where(oc == outc.code("timeout"), 3, 1)))
    keep = reg & (oc != outc.code("aborted"))
    counts: dict[Any, np.ndarray] = {}  # (type, outcome/steered) → registrations per interval
    bins.add_counts(counts, (ty * 4 + cls)[keep], bins.time_bins(end[keep], t0, data.step_ns, nb), nb)
    ok = initial & success
    hist: dict[int, np.ndarray] = {}  # type → successful-procedure durations per interval
    bins.add_hist(hist, ty[ok], bins.time_bins(end[ok], t0, data.step_ns, nb), end[ok] - start[ok], nb)
    # Attempts per (type, home, visited, outcome).
    n_p, n_o = len(plmn.names), len(outc.names)
    tally = np.bincount(((ty * n_p + home) * n_p + vis) * n_o + oc)
    for key, n in zip(np.flatnonzero(tally).tolist(), tally[tally > 0].tolist(), strict=True):
        rest, o = divmod(key, n_o)
        rest, v = divmod(rest, n_p)
        t, h = divmod(rest, n_p)
        data.outcomes.setdefault((ptype.names[t], plmn.names[h], plmn.names[v]), Counter())[outc.names[o]] += n
    # Steering funnel: attach attempts of steered homes in steered countries.
    if pols:
        policy_of = np.full((n_p, n_p), -1, dtype=np.int64)  # (home, visited) → policy
        preferred = np.zeros((len(pols), n_p), dtype=bool)  # policy × visited
        for j, p in enumerate(pols):
            for x in sorted(p.country_plmns):
                policy_of[plmn.code(p.home_plmn), plmn.code(x)] = j
            preferred[j, [plmn.code(x) for x in p.preferred_plmns]] = True
        m = np.flatnonzero(initial)
        m = m[policy_of[home[m], vis[m]] >= 0]
        pol_m, vis_m = policy_of[home[m], vis[m]], vis[m]
        rows = FunnelRows()
        rows.add(imsi[m], start[m], end[m], pol_m, preferred[pol_m, vis_m], steered[m], success[m])
        data.funnels = funnels(pols, rows)
    choice = LadderChoice()
    choice.consider(pid, imsi, steered, tr == trig.code("retry"), ~success)
    data.ladder = choice if choice.found else None
    lines: list[Line] = []
    labels = ("successful", "rejected", "rejected by steering", "timed out")
    for key in sorted(counts):
        t, cl = divmod(key, 4)
        name = ptype.names[t].replace("_", " ")
        lines.append(Line(f"{name} {labels[cl]}", counts[key].astype(float), float(counts[key].sum())))
    data.charts.append(TimeChart("registrations", "Registrations per interval", "count", lines,
                                 "registration attempts by the interval they ended in"))
    for t in sorted(hist):
        pct = bins.percentiles(hist[t], PERCENTILES)
        name = ptype.names[t].replace("_", " ")
        data.charts.append(TimeChart(
            f"duration-{ptype.names[t]}", f"Successful {name} duration per interval", "ms",
            [Line(f"p{q:g}", pct[:, j]) for j, q in enumerate(PERCENTILES)],
            "from the first request to the last answer; percentiles of a log-binned histogram (±1.2 %)"))


def _first_seen(pos: np.ndarray, n: int, starts: np.ndarray) -> np.ndarray:
    """Keys 0..n-1 (``pos``: each row's key; ``starts``: where each row group begins in ``pos``, then its end)
    ordered by the first row group holding them, then by key: the order a row-group-by-row-group tally
    meets them (keys never met come last)."""
    groups = starts.size - 1
    first = np.full(n, groups, dtype=np.int64)
    for g in range(groups):
        met = np.bincount(pos[starts[g]:starts[g + 1]], minlength=n) > 0
        first[met & (first == groups)] = g
    return np.lexsort((np.arange(n), first))


def _transactions(data: RunData, t0: int, cols: RunColumns
                  ) -> tuple[list[ErrorRow], dict[str, tuple[str, str]], list[TimeChart]]:
    """Error mix, command → (protocol, interface) and round-trip charts, from transactions.parquet (reads
    only ``data``'s intervals: it runs beside :func:`_procedures`)."""
    read = cols.file("transactions")
    nb, table = data.nbins, read.table
    proto, iface, cmd = Vocabulary(), Vocabulary(), Vocabulary()
    p, i, c = proto.encode(table["protocol"]), iface.encode(table["interface"]), cmd.encode(table["command"])
    ni = max(len(iface.names), 1)
    pi = p * ni + i  # (protocol, interface), ordered as the pair
    answered = ~np.asarray(table["result_code"].is_null().to_numpy(zero_copy_only=False), dtype=bool)
    exp = read.array("experimental", 0)
    tout = np.asarray(read.array("timed_out", 0), dtype=bool)
    req, ans = read.array("request_time"), read.array("answer_time", 0)
    starts = np.r_[0, np.cumsum(read.row_group_rows, dtype=np.int64)]
    pis, pi_pos = bins.distinct(pi)
    codes, code_pos = bins.distinct(read.array("result_code", 0))
    nc = max(codes.size, 1)
    # Answers per (protocol, interface, result code, experimental), listed in the order they first appear
    # (row group by row group, each group's keys ascending): rows with equal counts keep that order.
    a = np.flatnonzero(answered)
    key = (pi_pos[a] * 2 + exp[a]) * nc + code_pos[a]
    n_key = np.bincount(key, minlength=pis.size * 2 * nc)
    answers: dict[tuple[int, int, int, bool], int] = {}
    for k in _first_seen(key, n_key.size, np.asarray(np.searchsorted(a, starts))).tolist():
        if n_key[k]:
            rest, code = divmod(k, nc)
            pij, e = divmod(rest, 2)
            pk = int(pis[pij])
            answers[(pk // ni, pk % ni, int(codes[code]), bool(e))] = int(n_key[k])
    timeouts = np.bincount(pi_pos[tout], minlength=pis.size)
    used = c * pis.size + pi_pos
    n_used = np.bincount(used, minlength=len(cmd.names) * pis.size)
    commands: dict[str, tuple[str, str]] = {}
    for k in _first_seen(used, n_used.size, starts).tolist():
        if n_used[k]:
            pk = int(pis[k % pis.size])
            commands.setdefault(cmd.names[k // pis.size], (proto.names[pk // ni], iface.names[pk % ni]))
    ok = np.flatnonzero(answered & ~tout)
    hist: dict[int, np.ndarray] = {}
    bins.add_hist(hist, pi[ok], bins.time_bins(req[ok], t0, data.step_ns, nb), ans[ok] - req[ok], nb)
    errors = [ErrorRow(proto.names[p], iface.names[i], code, exp, n)
              for (p, i, code, exp), n in sorted(answers.items(), key=lambda kv: (kv[0][:2], -kv[1]))]
    errors += [ErrorRow(proto.names[int(k) // ni], iface.names[int(k) % ni], None, False, int(n))
               for k, n in zip(pis.tolist(), timeouts.tolist(), strict=True) if n]
    charts = []
    for pk in sorted(hist):
        pct = bins.percentiles(hist[pk], PERCENTILES)
        label = f"{proto.names[pk // ni]} {iface.names[pk % ni]}"
        charts.append(TimeChart(
            f"rtt-{proto.names[pk // ni]}-{iface.names[pk % ni]}", f"{label} round trip per interval", "ms",
            [Line(f"p{q:g}", pct[:, j]) for j, q in enumerate(PERCENTILES)],
            "request sent to answer received at the origin, by the interval of the request; log-binned (±1.2 %)"))
    return errors, commands, charts


MAX_LINKS = 8


def _messages(data: RunData, t0: int, cols: RunColumns) -> TimeChart:
    """The chart of TPS per link, from the request rows of messages.parquet."""
    run, nb, requests = data.run, data.nbins, cols.requests()
    elements, interfaces, link, nl = requests.elements, requests.interfaces, requests.link, len(requests.links)
    counts = np.bincount(link.astype(np.int64) * nb + requests.time_bins(t0, data.step_ns, nb),
                         minlength=nl * nb).reshape(nl, nb)
    pairs = [(elements[a], elements[b]) for a, b in requests.links]  # each in the order of first appearance
    per_link = dict(zip(pairs, counts, strict=True))
    ni = len(interfaces)
    used = np.bincount(link.astype(np.int64) * ni + requests.interface, minlength=nl * ni)
    link_ifaces = {(*pairs[k // ni], interfaces[k % ni]) for k in np.flatnonzero(used).tolist()}
    kpi_links = {frozenset(k.split("<->")): k for k in (run.kpis.get("tps") or {}).get("per_link", {})}
    step_s = data.step_ns / bins.NS
    top = sorted(per_link, key=lambda k: (-int(per_link[k].sum()), k))[:MAX_LINKS]
    lines = []
    for k in top:
        a, b = k
        name = kpi_links.get(frozenset((a, b)), f"{a}<->{b}")
        ifs = "/".join(sorted(f for x, y, f in link_ifaces if (x, y) == k))
        kpi = ("tps", "per_link", name, "requests") if name in kpi_links.values() else None
        lines.append(Line(f"{name} ({ifs})", per_link[k] / step_s, float(per_link[k].sum()), kpi))
    more = len(per_link) - len(top)
    return TimeChart("tps-links", "TPS per link (mean per interval)", "tps", lines,
                     "requests carried by a link in both directions"
                     + (f"; the {len(top)} busiest of {len(per_link)} links" if more > 0 else ""))
