"""One streaming pass over each Parquet file of a run: everything the report draws beyond kpis.json.

Row groups are read one at a time and reduced at once (counts per interval with
``numpy.bincount``, latency histograms, small per-key tallies), so memory stays
bounded by keys × intervals whatever the number of rows. Everything is keyed by
column values (``protocol``, ``interface``, ``type``, element names), so new
protocols and procedure types appear without a change here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from roamsim.records import schema
from roamsim.report import bins
from roamsim.report.columns import Vocabulary, numbers, row_groups
from roamsim.report.ladder import LadderChoice
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


def scan(run: RunInput, step_ns: int | None = None, t0_ns: int | None = None, nbins: int | None = None) -> RunData:
    """Aggregate a run's Parquet files. ``step_ns``/``t0_ns``/``nbins`` fix the intervals (to overlay runs)."""
    step = step_ns or bins.choose_step(run.window_ns)
    data = RunData(run, step, nbins or max(1, -(-run.window_ns // step)))
    t0 = run.t0_ns if t0_ns is None else t0_ns
    _procedures(data, t0)
    _transactions(data, t0)
    _messages(data, t0)
    return data


def _procedures(data: RunData, t0: int) -> None:
    run, nb = data.run, data.nbins
    ptype, trig, outc, plmn = Vocabulary(), Vocabulary(), Vocabulary(), Vocabulary()
    pols = policies(run)
    rows = FunnelRows()
    counts: dict[Any, np.ndarray] = {}  # (type, outcome/steered) → registrations per interval
    hist: dict[int, np.ndarray] = {}  # type → successful-procedure durations per interval
    tally: Counter[tuple[int, int, int, int]] = Counter()
    choice = LadderChoice()
    for g in row_groups(run.parquet("procedures"), ["procedure_id", "type", "trigger", "outcome", "home_plmn",
                                                    "visited_plmn", "start_time", "end_time", "steered", "imsi",
                                                    "mme"]):
        ty, tr, oc = ptype.encode(g["type"]), trig.encode(g["trigger"]), outc.encode(g["outcome"])
        home, vis = plmn.encode(g["home_plmn"]), plmn.encode(g["visited_plmn"])
        start, end = numbers(g["start_time"]), numbers(g["end_time"])
        steered = numbers(g["steered"], 0).astype(bool)
        imsi, pid = numbers(g["imsi"]), numbers(g["procedure_id"])
        success = oc == outc.code("success")
        reg = np.isin(ty, [ptype.code(t) for t in CHART_TYPES])
        initial = np.isin(ty, [ptype.code(t) for t in REGISTRATION_TYPES])
        # Registrations per interval: (type × {success, rejected, steering reject, timeout}).
        cls = np.where(success, 0, np.where(steered, 2, np.where(oc == outc.code("timeout"), 3, 1)))
        keep = reg & (oc != outc.code("aborted"))
        bins.add_counts(counts, (ty * 4 + cls)[keep], bins.time_bins(end[keep], t0, data.step_ns, nb), nb)
        ok = initial & success
        bins.add_hist(hist, ty[ok], bins.time_bins(end[ok], t0, data.step_ns, nb), end[ok] - start[ok], nb)
        key = ((ty * 4096 + home) * 4096 + vis) * 64 + oc
        k, c = np.unique(key, return_counts=True)
        for kk, cc in zip(k.tolist(), c.tolist(), strict=True):
            rest, o = divmod(kk, 64)
            rest, v = divmod(rest, 4096)
            t, h = divmod(rest, 4096)
            tally[(t, h, v, o)] += cc
        # Steering funnel: attach attempts of steered homes in steered countries.
        if pols:
            plmn_pol = {(h, v): j for j, p in enumerate(pols) for h in [plmn.code(p.home_plmn)]
                        for v in (plmn.code(x) for x in sorted(p.country_plmns))}
            pair = home * 4096 + vis
            pol_of = np.full(ty.size, -1, dtype=np.int64)
            for (h, v), j in plmn_pol.items():
                pol_of[pair == h * 4096 + v] = j
            m = initial & (pol_of >= 0)
            pref_codes = [[plmn.code(x) for x in p.preferred_plmns] for p in pols]
            is_pref = np.zeros(ty.size, dtype=bool)
            for j, codes in enumerate(pref_codes):
                is_pref |= (pol_of == j) & np.isin(vis, codes)
            rows.add(imsi[m], start[m], end[m], pol_of[m], is_pref[m], steered[m], success[m])
        choice.consider(pid, imsi, steered, tr == trig.code("retry"), ~success)
    for (ti, hi, vi, oi), n in tally.items():
        data.outcomes.setdefault((ptype.names[ti], plmn.names[hi], plmn.names[vi]), Counter())[outc.names[oi]] += n
    data.funnels = funnels(pols, rows)
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


def _transactions(data: RunData, t0: int) -> None:
    run, nb = data.run, data.nbins
    proto, iface, cmd = Vocabulary(), Vocabulary(), Vocabulary()
    answers: Counter[tuple[int, int, int, bool]] = Counter()
    timeouts: Counter[tuple[int, int]] = Counter()
    hist: dict[int, np.ndarray] = {}
    for g in row_groups(run.parquet("transactions"), ["protocol", "interface", "command", "result_code",
                                                      "experimental", "timed_out", "request_time",
                                                      "answer_time"]):
        p, i, c = proto.encode(g["protocol"]), iface.encode(g["interface"]), cmd.encode(g["command"])
        pi = p * 256 + i
        answered = ~np.asarray(g["result_code"].is_null().to_numpy(zero_copy_only=False), dtype=bool)
        rc = numbers(g["result_code"], 0).astype(np.int64)
        exp = numbers(g["experimental"], 0).astype(bool)
        tout = numbers(g["timed_out"], 0).astype(bool)
        req, ans = numbers(g["request_time"]), numbers(g["answer_time"], 0)
        key = (pi * 2 + exp) * 2**32 + rc
        k, n = np.unique(key[answered], return_counts=True)
        for kk, nn in zip(k.tolist(), n.tolist(), strict=True):
            code, rest = kk % 2**32, kk // 2**32
            answers[(rest // 2 // 256, rest // 2 % 256, code, bool(rest % 2))] += nn
        k, n = np.unique(pi[tout], return_counts=True)
        for kk, nn in zip(k.tolist(), n.tolist(), strict=True):
            timeouts[(kk // 256, kk % 256)] += nn
        for kk in np.unique(c * 65536 + pi).tolist():
            data.commands.setdefault(cmd.names[kk // 65536], (proto.names[kk % 65536 // 256],
                                                               iface.names[kk % 256]))
        ok = answered & ~tout
        bins.add_hist(hist, pi[ok], bins.time_bins(req[ok], t0, data.step_ns, nb), ans[ok] - req[ok], nb)
    data.errors = [ErrorRow(proto.names[p], iface.names[i], code, exp, n)
                   for (p, i, code, exp), n in sorted(answers.items(), key=lambda kv: (kv[0][:2], -kv[1]))]
    data.errors += [ErrorRow(proto.names[p], iface.names[i], None, False, n) for (p, i), n in sorted(timeouts.items())]
    for pi in sorted(hist):
        pct = bins.percentiles(hist[pi], PERCENTILES)
        label = f"{proto.names[pi // 256]} {iface.names[pi % 256]}"
        data.charts.append(TimeChart(
            f"rtt-{proto.names[pi // 256]}-{iface.names[pi % 256]}", f"{label} round trip per interval", "ms",
            [Line(f"p{q:g}", pct[:, j]) for j, q in enumerate(PERCENTILES)],
            "request sent to answer received at the origin, by the interval of the request; log-binned (±1.2 %)"))


MAX_LINKS = 8


def _messages(data: RunData, t0: int) -> None:
    run, nb = data.run, data.nbins
    elem, iface = Vocabulary(), Vocabulary()
    per_link: dict[tuple[str, str], np.ndarray] = {}
    link_ifaces: set[tuple[str, str, str]] = set()
    for g in row_groups(run.parquet("messages"), ["time", "is_request", "origin", "destination", "interface"]):
        req = numbers(g["is_request"], 0).astype(bool)
        o, d = elem.encode(g["origin"])[req], elem.encode(g["destination"])[req]
        i = iface.encode(g["interface"])[req]
        n, ni = len(elem.names), len(iface.names)
        link = np.minimum(o, d) * n + np.maximum(o, d)  # an unordered pair of elements

        def pair(key: int, n: int = n) -> tuple[str, str]:
            return elem.names[key // n], elem.names[key % n]

        bins.add_counts(per_link, link, bins.time_bins(numbers(g["time"])[req], t0, data.step_ns, nb), nb, pair)
        if link.size:
            for kk in bins.distinct(link * ni + i)[0].tolist():
                link_ifaces.add((*pair(kk // ni), iface.names[kk % ni]))
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
    data.charts.insert(1, TimeChart("tps-links", "TPS per link (mean per interval)", "tps", lines,
                                    "requests carried by a link in both directions"
                                    + (f"; the {len(top)} busiest of {len(per_link)} links" if more > 0 else "")))
