"""KPIs of a run, computed from its Parquet files (so they can be recomputed by anyone).

Definitions (domain notes §6.1; GSMA IR.42 for the success ratios):

- *attach success ratio* (the ``attach`` views): successful initial
  registration attempts (4G attach, 2G/3G location update, 5G registration) /
  those that ended (aborted attempts excluded); *first-attempt*: the same over
  attempts whose attempt counter was 1. ``per_rat`` splits them by RAT.
- *registration episode*: the attach attempts from one trigger (arrival, power
  on, border crossing, network change) until success; *eventual success* is the
  share of episodes that registered, *attach delay* the time from the
  episode's first attempt to its success (ULA, UpdateLocation result, or the
  last Nudm answer). Per partner pair, an episode
  counts for the network of its first attempt.
- *TPS*: requests per second received by an element, or carried by a link
  (both directions), in one-second bins of simulated time.
- *inbound/outbound roamers per day*: distinct IMSIs with a successful
  registration (initial or update, any RAT) in a visited network / of a home network, per UTC day.
- *per RAT*: registration attempts, success and latency; data-session set-up
  (Create Session / Nsmf create, or a recorded session without roaming
  signalling) success and latency; MT SMS delivered at the first try (an
  absent subscriber counts as not delivered; the later alert-triggered
  delivery is its own attempt); MO SMS success.
- *steering*: share of steered-policy roamers whose first registration in the
  country was on a preferred partner; steering rejects per steered roamer; extra
  signalling = transactions of attach attempts rejected by steering; attach delay
  added = mean delay of steered episodes minus that of unsteered ones.

Every figure is computed column-wise from one read of each file
(:class:`roamsim.report.columns.RunColumns`, shared with the HTML report): groups
by stable sorts of small integer keys, percentiles from one sort per group (NumPy's
linear method, same bits), busiest seconds from one sort of the requests'
(key, second) pairs, computed on a second thread meanwhile.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from roamsim.catalogue import commands as cat
from roamsim.catalogue.diameter import RESULT_NAMES
from roamsim.records.schema import OUTCOMES, PROCEDURE_TYPES, RATS, REGISTRATION_TYPES, TRIGGERS
from roamsim.report.columns import ReadFile, RunColumns, Vocabulary, index_in, numbers
from roamsim.scenario.schema import Scenario
from roamsim.world.model import World

NS = 1_000_000_000
MS = 1_000_000
EPISODE_TRIGGERS = ("arrival", "power_on", "border_crossing", "network_change")
PERCENTILES = (50, 95, 99)


def percentiles_of_sorted(s: np.ndarray, qs: tuple[float, ...] = PERCENTILES) -> list[float]:
    """``numpy.percentile(s, qs)`` (method "linear", Hyndman & Fan type 7) of an ascending non-empty array,
    by the same floating-point steps: the virtual index (n − 1)·q/100, its floor, and the interpolation
    from the nearer end, so the results are the same bits. Sorting once and indexing is several times
    faster than ``numpy.percentile``'s partition for the many small groups of kpis.json."""
    n = int(s.size)
    out = []
    for q in qs:
        virtual = (n - 1) * (q / 100)
        if virtual >= n - 1:
            lo = hi = -1
            gamma = virtual + 1  # NumPy measures from index -1 here; both ends are the maximum anyway
        else:
            lo = math.floor(virtual)
            hi = lo + 1
            gamma = virtual - lo
        a, b = s[lo].item(), s[hi].item()  # Python ints for integer arrays: b − a is exact, as in int64
        diff = b - a
        out.append(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma)
    return out


def _latency(x: np.ndarray) -> dict[str, Any]:
    """Count, p50/p95/p99 (NumPy's linear interpolation) and mean of durations in ns, in ms."""
    if not x.size:
        return {"count": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "mean_ms": None}
    p50, p95, p99 = (round(v / MS, 3) for v in percentiles_of_sorted(np.sort(x)))
    return {"count": int(x.size), "p50_ms": p50, "p95_ms": p95, "p99_ms": p99,
            "mean_ms": round(float(x.mean()) / MS, 3)}


def _distinct(a: np.ndarray, counts: bool = False) -> Any:
    """Sorted distinct values (and their counts): sort-based, which is far faster than
    ``np.unique``'s hash path on large int64 arrays in NumPy 2."""
    s = np.sort(a)
    first = np.nonzero(np.r_[True, s[1:] != s[:-1]])[0] if s.size else np.zeros(0, dtype=np.int64)
    if not counts:
        return s[first]
    return s[first], np.diff(np.r_[first, s.size])


def _groups(keys: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(key, its row indices ascending) for each distinct key, keys ascending.

    Keys are narrowed to the smallest integer type first: NumPy's stable sort of 8- and 16-bit
    integers is a radix sort.
    """
    if not keys.size:
        return iter(())
    narrow = keys.astype(np.result_type(np.min_scalar_type(int(keys.min())), np.min_scalar_type(int(keys.max()))))
    order = np.argsort(narrow, kind="stable")
    s = keys[order]
    first = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    return zip(s[first].tolist(), np.split(order, first[1:]), strict=True)


def _member(codes: np.ndarray, names: Sequence[str], wanted: Iterable[str | int]) -> np.ndarray:
    """Which ``codes`` (indices into ``names``, -1 for none) are one of ``wanted`` (names or indices):
    a lookup table, one gather instead of ``numpy.isin``'s passes."""
    table = np.zeros(len(names) + 1, dtype=bool)  # the last entry answers for -1
    table[[w if isinstance(w, int) else names.index(w) for w in wanted]] = True
    return np.asarray(table[codes], dtype=bool)


class _TransactionsPerProcedure:
    """How many transactions belong to a set of procedures (``numpy.isin`` of their ids, by table lookup)."""

    def __init__(self, tx_procedure: np.ndarray, procedure_id: np.ndarray) -> None:
        self.size = int(procedure_id.max()) + 1 if procedure_id.size else 0
        known = (tx_procedure >= 0) & (tx_procedure < self.size)
        self.per_id = np.bincount(tx_procedure[known], minlength=self.size)
        self.procedure_id = procedure_id

    def of(self, procedures: np.ndarray) -> int:
        """Transactions whose procedure_id is that of one of the ``procedures`` (a mask over them)."""
        ids = np.zeros(self.size, dtype=bool)
        ids[self.procedure_id[procedures]] = True
        return int(self.per_id[ids].sum())


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 6) if b else None


class _Procedures:
    """procedures.parquet as arrays; enumerations as indices into the schema's lists and the world's PLMNs."""

    def __init__(self, read: ReadFile, plmns: list[str]) -> None:
        p = read.table
        self.n = p.num_rows
        self.pid = read.array("procedure_id")
        self.type = index_in(p["type"], PROCEDURE_TYPES)
        self.trigger = index_in(p["trigger"], TRIGGERS)
        self.outcome = index_in(p["outcome"], OUTCOMES)
        self.home = index_in(p["home_plmn"], plmns)
        self.visited = index_in(p["visited_plmn"], plmns)
        self.rat = index_in(p["rat"], RATS)
        self.imsi = read.array("imsi")
        self.start = read.array("start_time")
        self.end = read.array("end_time")
        self.attempt = read.array("attempt")
        self.steered = np.asarray(read.array("steered", 0), dtype=bool)
        self.success = self.outcome == OUTCOMES.index("success")
        self.ended = self.outcome != OUTCOMES.index("aborted")
        self.is_attach = _member(self.type, PROCEDURE_TYPES, REGISTRATION_TYPES)
        self.duration = self.end - self.start

    def attach_stats(self, idx: np.ndarray) -> dict[str, Any]:
        a = idx[self.is_attach[idx] & self.ended[idx]]
        ok, first, st = self.success[a], self.attempt[a] == 1, self.steered[a]
        return {
            "attempts": int(a.size),
            "successes": int(ok.sum()),
            "success_ratio": _ratio(int(ok.sum()), int(a.size)),
            "first_attempt_success_ratio": _ratio(int((first & ok).sum()), int(first.sum())),
            "success_ratio_ex_steering": _ratio(int((~st & ok).sum()), int((~st).sum())),
            "steering_rejects": int(st.sum()),
        }

    def latency_by_type(self, idx: np.ndarray) -> dict[str, Any]:
        ok = idx[self.success[idx]]
        return {PROCEDURE_TYPES[t]: _latency(self.duration[ok[g]]) for t, g in _groups(self.type[ok]) if t >= 0}


class _Episodes:
    """Registration episodes: the attach attempts of one IMSI from one trigger until success."""

    def __init__(self, pr: _Procedures) -> None:
        ai = np.nonzero(pr.is_attach)[0]
        ai = ai[np.lexsort((pr.pid[ai], pr.imsi[ai]))]
        self.rows = ai
        imsi = pr.imsi[ai]
        starts = _member(pr.trigger[ai], TRIGGERS, EPISODE_TRIGGERS)
        starts[1:] |= imsi[1:] != imsi[:-1]
        if ai.size:
            starts[0] = True
        self.of_row = np.cumsum(starts) - 1
        """Episode of each attach attempt (in ``rows`` order)."""
        first = np.flatnonzero(starts)
        self.n = n = first.size
        last = np.r_[first[1:] - 1, ai.size - 1] if n else first
        ok = pr.success[ai]
        if n:
            self.success = np.logical_or.reduceat(ok, first)
            self.steered = np.logical_or.reduceat(pr.steered[ai], first)
            first_start = np.minimum.reduceat(pr.start[ai], first)
        else:
            self.success = self.steered = np.zeros(0, dtype=bool)
            first_start = np.zeros(0, dtype=np.int64)
        self.aborted = ~pr.ended[ai][last]
        done = np.zeros(n, dtype=np.int64)
        done[self.of_row[ok]] = pr.end[ai][ok]
        self.home = np.zeros(n, dtype=np.int64)
        self.home[self.of_row] = pr.home[ai]
        self.first_visited = pr.visited[ai][first]
        self.delay = np.where(self.success, done - first_start, 0)

    def stats(self, idx: np.ndarray) -> dict[str, Any]:
        """Episodes ``idx`` (ascending) that were not aborted: count, eventual success, attach delay."""
        m = idx[~self.aborted[idx]]
        ok = m[self.success[m]]
        return {"episodes": int(m.size), "eventual_success_ratio": _ratio(int(ok.size), int(m.size)),
                "attach_delay": _latency(self.delay[ok])}


def _round_trips(tx: ReadFile) -> np.ndarray:
    """answer_time − request_time of each transaction (0 where unanswered).

    As kpis.json has always computed it: when the column has nulls, both times go through float64
    first (a 256 ns grain at today's epoch times), so recomputed files stay byte-identical.
    """
    request = tx.array("request_time")
    if not tx.table["answer_time"].null_count:
        return np.asarray(tx.array("answer_time") - request, dtype=np.int64)
    answered = ~np.asarray(tx.table["answer_time"].is_null().to_numpy(zero_copy_only=False), dtype=bool)
    rtt = tx.array("answer_time", 0).astype(np.float64) - request.astype(np.float64)
    return np.where(answered, rtt, 0.0).astype(np.int64)


def _busiest_seconds(keys: np.ndarray, n_ids: int, nsec: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For keys ``id * nsec + second`` (id < ``n_ids``): the ids present, their totals and busiest-second counts.

    One sort; each id's keys are then a slice (found by binary search) and its seconds the runs of equal keys.
    """
    s = np.sort(keys)
    limits = np.minimum(np.arange(n_ids + 1, dtype=np.int64) * nsec, np.iinfo(s.dtype).max)
    bounds = np.searchsorted(s, limits.astype(s.dtype))  # the keys' own type: no converted copy of s
    runs = np.r_[0, np.flatnonzero(s[1:] != s[:-1]) + 1, s.size]  # start of each second's run, then the end
    per_second = np.diff(runs)
    ids = np.flatnonzero(np.diff(bounds))
    first_run = np.searchsorted(runs, bounds[ids])
    return ids, np.diff(bounds)[ids], np.maximum.reduceat(per_second, first_run) if ids.size else ids


def _tps(cols: RunColumns, names: list[str], t0: int, nsec: int, pool: ThreadPoolExecutor) -> dict[str, Any]:
    """Requests received per element and carried per link (both directions), in 1 s bins of simulated time
    (the links' busiest seconds on another thread of ``pool``)."""
    requests = cols.requests()
    second = requests.time_bins(t0, NS, nsec)
    links, link = requests.links, requests.link
    elements, n = requests.elements, len(requests.elements)
    world_index = {name: i for i, name in enumerate(names)}

    def keys(ids: np.ndarray, n_ids: int) -> np.ndarray:
        """``id * nsec + second``, in 32 bits when they fit (NumPy sorts those twice as fast)."""
        k = ids.astype(np.int32 if n_ids * nsec < 2**31 else np.int64)
        np.multiply(k, nsec, out=k)
        np.add(k, second, out=k)
        return k

    def link_name(pair: tuple[int, int]) -> str:
        """``<element><-><element>``, the one earlier in the world's element order first."""
        ends = sorted((elements[e] for e in pair), key=lambda e: (world_index.get(e, len(names)), e))
        return "<->".join(ends)

    def tps(ids: np.ndarray, total: np.ndarray, peak: np.ndarray, name: list[str]) -> dict[str, Any]:
        return {name[i]: {"peak_tps": p, "mean_tps": round(float(t) / nsec, 4), "requests": t}
                for i, t, p in sorted(zip(ids.tolist(), total.tolist(), peak.tolist(), strict=True),
                                      key=lambda r: name[r[0]])}

    per_link = pool.submit(lambda: _busiest_seconds(keys(link, len(links)), len(links), nsec))
    per_element = _busiest_seconds(keys(requests.destination, n), n, nsec)
    return {"per_element": tps(*per_element, elements),
            "per_link": tps(*per_link.result(), [link_name(k) for k in links])}


def compute_kpis(run_dir: Path, s: Scenario, world: World, columns: RunColumns | None = None) -> dict[str, Any]:
    """Compute kpis.json for a finished run directory.

    ``columns`` shares one read of the Parquet files with :func:`roamsim.report.write_report`.
    """
    cols = RunColumns(run_dir) if columns is None else columns
    if cols.path.resolve() != Path(run_dir).resolve():
        raise ValueError(f"columns read {cols.path}, not {run_dir}")
    t0 = int(s.window.start.timestamp() * NS)
    nsec = max(1, -(-s.window.duration // NS))
    cols.prefetch()
    # Busiest seconds per element and link on two more threads (NumPy sorts with the GIL released).
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="roamsim-tps") as pool:
        tps = pool.submit(_tps, cols, list(world.element_names), t0, nsec, pool)
        kpis = _from_records(cols, s, world, t0)
        kpis["tps"] = tps.result()
        kpis["counts"]["messages"] = cols.requests().rows
    return kpis


def _from_records(cols: RunColumns, s: Scenario, world: World, t0: int) -> dict[str, Any]:
    """Every KPI but the TPS, from procedures.parquet, transactions.parquet and sessions.parquet."""
    window = s.window.duration
    plmns = world.op_plmn

    pr = _Procedures(cols.file("procedures"), plmns)
    ptype, home, vis, imsi, success, is_attach = pr.type, pr.home, pr.visited, pr.imsi, pr.success, pr.is_attach
    everything = np.arange(pr.n)
    ep = _Episodes(pr)

    # -- transactions ----------------------------------------------------------
    txf = cols.file("transactions")
    tx = txf.table
    commands = Vocabulary()
    cmd = commands.encode(tx["command"])
    proto = index_in(tx["protocol"], cat.PROTOCOLS)
    answered = ~np.asarray(tx["result_code"].is_null().to_numpy(zero_copy_only=False), dtype=bool)
    rc = txf.array("result_code", 0)
    exp = np.asarray(txf.array("experimental", 0), dtype=bool)
    tout = np.asarray(txf.array("timed_out", 0), dtype=bool)
    tx_pid = txf.array("procedure_id")
    error_mix: dict[str, int] = {}
    codes = (rc.astype(np.int64) * 2 + exp) * 4 + proto
    code_counts = np.bincount(codes[answered])
    for key in np.nonzero(code_counts)[0].tolist():
        pr_name, code, is_exp = cat.PROTOCOLS[key % 4], key // 8, bool((key // 4) % 2)
        error_mix[result_label(pr_name, code, is_exp)] = int(code_counts[key])
    rtt = _round_trips(txf)
    rtt_ok = answered & ~tout
    transactions = {commands.names[c]: {"requests": int(g.size), "timeouts": int(tout[g].sum()),
                                        "round_trip": _latency(rtt[g[rtt_ok[g]]])}
                    for c, g in _groups(cmd)}

    # Steered attempts' transactions (AIR and the rejected ULR) = extra signalling.
    per_procedure = _TransactionsPerProcedure(tx_pid, pr.pid)
    extra = per_procedure.of(is_attach & pr.steered)

    # -- roamers per day ----------------------------------------------------------
    reg = success & _member(ptype, PROCEDURE_TYPES, (*REGISTRATION_TYPES, "tracking_area_update",
                                                     "mobility_registration"))
    day = (pr.end - t0) // (86_400 * NS)
    inbound: dict[str, dict[str, int]] = defaultdict(dict)
    outbound: dict[str, dict[str, int]] = defaultdict(dict)
    start_day = s.window.start.date()
    sel = np.nonzero(reg)[0]
    for key_arr, out in ((vis, inbound), (home, outbound)):
        if not sel.size:
            continue
        # One int64 per (operator, day, IMSI): IMSIs are below 2**50.
        group = key_arr[sel].astype(np.int64) * 4096 + day[sel]
        distinct = _distinct((group << 50) | imsi[sel])
        keys, counts = _distinct(distinct >> 50, counts=True)
        for key, cnt in zip(keys.tolist(), counts.tolist(), strict=True):
            out[plmns[key // 4096]][str(start_day + _dt.timedelta(days=key % 4096))] = cnt

    # -- steering -----------------------------------------------------------------
    steering = {}
    for (h, country), pol in world.steering.items():
        m = is_attach & (home == h) & _member(vis, plmns, world.country_ops[country])
        ok = np.nonzero(m & success)[0]
        ok = ok[np.argsort(pr.end[ok], kind="stable")]
        # Each roamer's first successful registration in the country (by end time, ties by row).
        _, first = np.unique(imsi[ok], return_index=True)
        registered = int(first.size)
        on_pref = int(np.isin(vis[ok[first]], sorted(pol.preferred)).sum())
        rej = m & pr.steered
        steered_imsis, per = _distinct(imsi[rej], counts=True)
        ep_m = np.zeros(ep.n, dtype=bool)
        ep_m[ep.of_row[m[ep.rows]]] = True
        ep_m &= ep.home == h
        done = ep_m & ep.success & ~ep.aborted
        d_st = ep.delay[done & ep.steered]
        d_un = ep.delay[done & ~ep.steered]
        steering[f"{plmns[h]} in {country}"] = {
            "preferred": sorted(plmns[v] for v in pol.preferred),
            "roamers_registered": registered,
            "share_on_preferred": _ratio(on_pref, registered),
            "steered_roamers": int(steered_imsis.size),
            "steering_rejects": int(per.sum()),
            "rejects_per_steered_roamer": round(float(per.mean()), 4) if per.size else None,
            "max_rejects_per_roamer": int(per.max()) if per.size else 0,
            "extra_transactions": per_procedure.of(rej),
            "attach_delay_steered": _latency(d_st),
            "attach_delay_unsteered": _latency(d_un),
            "attach_delay_added_ms": {
                "mean": round((float(d_st.mean()) - float(d_un.mean())) / MS, 3),
                "p50": round((float(np.median(d_st)) - float(np.median(d_un))) / MS, 3),
            } if d_st.size and d_un.size else None,
        }

    # -- per partner: attempts by (home, visited), episodes by (home, first visited) --------------
    n_ops = len(plmns)
    episodes_of = dict(_groups(ep.home * n_ops + ep.first_visited))
    no_episode = np.zeros(0, dtype=np.int64)
    pairs = {}
    for key, group in _groups(home * n_ops + vis):
        if is_attach[group].any():
            pairs[f"{plmns[key // n_ops]}->{plmns[key % n_ops]}"] = {
                "attach": pr.attach_stats(group),
                "registration": ep.stats(episodes_of.get(key, no_episode)),
                "latency": pr.latency_by_type(group),
            }

    # -- per RAT: registrations, data sessions, SMS ------------------------------------
    session_create = ptype == PROCEDURE_TYPES.index("session_create")
    sms_mt = ptype == PROCEDURE_TYPES.index("sms_mt")
    sms_mo = ptype == PROCEDURE_TYPES.index("sms_mo")
    per_rat = {}
    for ri, sel_rat in _groups(pr.rat):
        if ri < 0:
            continue
        reg_rat = sel_rat[is_attach[sel_rat]]
        ses = sel_rat[session_create[sel_rat]]
        mt = sel_rat[sms_mt[sel_rat]]
        mo = sel_rat[sms_mo[sel_rat]]
        per_rat[RATS[ri]] = {
            "registration": pr.attach_stats(reg_rat),
            "registration_latency": _latency(pr.duration[reg_rat[success[reg_rat]]]),
            "data_sessions": {"attempts": int(ses.size), "success_ratio": _ratio(int(success[ses].sum()), ses.size),
                              "setup_latency": _latency(pr.duration[ses[success[ses]]])},
            "sms": {"mt_attempts": int(mt.size), "mt_delivery_ratio": _ratio(int(success[mt].sum()), mt.size),
                    "mo_attempts": int(mo.size), "mo_success_ratio": _ratio(int(success[mo].sum()), mo.size)},
        }
    sessions_file = cols.path / "sessions.parquet"
    volume: dict[str, Any] = {}
    if sessions_file.exists():
        sess = pq.read_table(sessions_file, columns=["rat", "bytes_uplink", "bytes_downlink"])
        up, down = numbers(sess["bytes_uplink"]), numbers(sess["bytes_downlink"])
        for ri, g in _groups(index_in(sess["rat"], RATS)):
            if ri >= 0:
                volume[RATS[ri]] = {"sessions": int(g.size), "bytes_uplink": int(up[g].sum()),
                                    "bytes_downlink": int(down[g].sum())}

    per_type = np.bincount(ptype[ptype >= 0], minlength=len(PROCEDURE_TYPES))
    return {
        "window": {"start": s.window.start.isoformat(), "duration_s": window / NS},
        "counts": {
            "roamers_seen": int(_distinct(imsi).size),
            "procedures": {t: int(per_type[i]) for i, t in enumerate(PROCEDURE_TYPES)},
            "transactions": tx.num_rows,
        },
        "overall": {
            "attach": pr.attach_stats(everything),
            "registration": ep.stats(np.arange(ep.n)),
            "latency": pr.latency_by_type(everything),
            "transactions": transactions,
            "timeouts": {"transactions": int(tout.sum()),
                         "procedures": int((pr.outcome == OUTCOMES.index("timeout")).sum())},
            "error_mix": error_mix,
            "extra_transactions_from_steering": extra,
            "extra_signalling_ratio": _ratio(extra, tx.num_rows),
        },
        "per_partner": pairs,
        "per_home": {plmns[h]: {"registration": ep.stats(g)} for h, g in _groups(ep.home)},
        "roamers_per_day": {"inbound_by_visited": dict(inbound), "outbound_by_home": dict(outbound)},
        "steering": steering,
        "per_rat": per_rat,
        "data_volume": volume,
    }


def result_label(protocol: str, code: int, experimental: bool) -> str:
    """A result code with its name, e.g. ``5004 DIAMETER_ERROR_ROAMING_NOT_ALLOWED (experimental)`` or
    ``MAP 8 roamingNotAllowed`` (Diameter keeps the bare form: it came first)."""
    if protocol == cat.DIAMETER:
        return f"{code} {RESULT_NAMES.get((code, experimental), 'UNKNOWN')}{' (experimental)' if experimental else ''}"
    if protocol == cat.MAP:
        return f"MAP {code} {'returnResult' if code == 0 else cat.MAP_ERRORS.get(code, 'UNKNOWN')}"
    if protocol == cat.SBI:
        return f"SBI {code} {'OK' if 200 <= code < 300 else cat.SBI_CAUSES.get(code, 'UNKNOWN')}"
    return f"{protocol} {code} {'Request accepted' if code == 16 else 'UNKNOWN'}"


def _pct_text(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def _ms_text(ms: float | None) -> str:
    if ms is None:
        return "n/a"
    return f"{ms / 1000:.1f} s" if abs(ms) >= 1000 else f"{ms:.0f} ms"


def headline(k: dict[str, Any]) -> list[str]:
    """A few lines of the KPIs a roaming team looks at first (printed by ``roamsim run``)."""
    o = k["overall"]
    a, reg = o["attach"], o["registration"]
    lines = [
        f"registration success (attach, location update, 5G registration) {_pct_text(a['success_ratio'])} "
        f"(first attempt {_pct_text(a['first_attempt_success_ratio'])}, "
        f"excluding steering {_pct_text(a['success_ratio_ex_steering'])}); registrations {reg['episodes']:,}, "
        f"eventual success {_pct_text(reg['eventual_success_ratio'])}, "
        f"delay p50 {_ms_text(reg['attach_delay']['p50_ms'])} p95 {_ms_text(reg['attach_delay']['p95_ms'])}",
        "S6a round trip " + ", ".join(
            f"{name} p50 {_ms_text(t['round_trip']['p50_ms'])} p95 {_ms_text(t['round_trip']['p95_ms'])}"
            for name, t in o["transactions"].items() if name in ("AIR", "ULR")
        ) + f"; timeouts {o['timeouts']['transactions']:,}",
    ]
    per_rat = k.get("per_rat", {})
    if per_rat:
        parts = []
        for rat, v in per_rat.items():
            reg_v = v["registration"]
            if reg_v["attempts"]:
                parts.append(f"{rat} {reg_v['attempts']:,} ({_pct_text(reg_v['success_ratio'])} ok)")
        sessions = sum(v["data_sessions"]["attempts"] for v in per_rat.values())
        mt = sum(v["sms"]["mt_attempts"] for v in per_rat.values())
        delivered = sum(round((v["sms"]["mt_delivery_ratio"] or 0) * v["sms"]["mt_attempts"]) for v in per_rat.values())
        lines.append(f"registration attempts per RAT: {', '.join(parts)}; data sessions {sessions:,}; "
                     f"MT SMS {mt:,} ({_pct_text(delivered / mt if mt else None)} delivered at first try)")
    for name, st in k["steering"].items():
        added = st["attach_delay_added_ms"]
        lines.append(
            f"steering {name}: {_pct_text(st['share_on_preferred'])} on preferred, "
            f"{st['rejects_per_steered_roamer'] or 0:.2f} rejects per steered roamer, "
            f"attach delay +{_ms_text(added['p50'] if added else None)} (median)"
        )
    return lines
