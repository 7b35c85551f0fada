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
"""

from __future__ import annotations

import datetime as _dt
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from roamsim.catalogue import commands as cat
from roamsim.catalogue.diameter import RESULT_NAMES
from roamsim.records.schema import OUTCOMES, PROCEDURE_TYPES, RATS, REGISTRATION_TYPES, TRIGGERS
from roamsim.scenario.schema import Scenario
from roamsim.world.model import World

NS = 1_000_000_000
MS = 1_000_000
EPISODE_TRIGGERS = ("arrival", "power_on", "border_crossing", "network_change")


def _pct(x: np.ndarray, q: float) -> float | None:
    return round(float(np.percentile(x, q)) / MS, 3) if x.size else None


def _latency(x: np.ndarray) -> dict[str, Any]:
    return {"count": int(x.size), "p50_ms": _pct(x, 50), "p95_ms": _pct(x, 95), "p99_ms": _pct(x, 99),
            "mean_ms": round(float(x.mean()) / MS, 3) if x.size else None}


def _distinct(a: np.ndarray, counts: bool = False) -> Any:
    """Sorted distinct values (and their counts): sort-based, which is far faster than
    ``np.unique``'s hash path on large int64 arrays in NumPy 2."""
    s = np.sort(a)
    first = np.nonzero(np.r_[True, s[1:] != s[:-1]])[0] if s.size else np.zeros(0, dtype=np.int64)
    if not counts:
        return s[first]
    return s[first], np.diff(np.r_[first, s.size])


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 6) if b else None


def _decode(col: Any) -> tuple[np.ndarray, list[str]]:
    """Dictionary column → (int indices, names)."""
    chunked = col.combine_chunks() if hasattr(col, "combine_chunks") else col
    return np.asarray(chunked.indices.to_numpy(zero_copy_only=False)), chunked.dictionary.to_pylist()


def _codes(col: Any, names: list[str]) -> np.ndarray:
    """Dictionary column → indices into ``names`` (whatever dictionary the file used)."""
    idx, dic = _decode(col)
    remap = np.asarray([names.index(d) if d in names else -1 for d in dic], dtype=np.int64)
    return remap[idx] if idx.size else idx.astype(np.int64)


def compute_kpis(run_dir: Path, s: Scenario, world: World) -> dict[str, Any]:
    """Compute kpis.json for a finished run directory."""
    t0 = int(s.window.start.timestamp() * NS)
    window = s.window.duration
    nsec = max(1, -(-window // NS))
    plmns = world.op_plmn
    pair_name = {(h, v): f"{plmns[h]}->{plmns[v]}" for h in range(len(plmns)) for v in range(len(plmns))}

    # -- procedures ------------------------------------------------------------
    p = pq.read_table(run_dir / "procedures.parquet")
    ptype = _codes(p["type"], list(PROCEDURE_TYPES))
    trig = _codes(p["trigger"], list(TRIGGERS))
    outc = _codes(p["outcome"], list(OUTCOMES))
    home = _codes(p["home_plmn"], plmns)
    vis = _codes(p["visited_plmn"], plmns)
    imsi = p["imsi"].to_numpy()
    start = p["start_time"].to_numpy()
    end = p["end_time"].to_numpy()
    attempt = p["attempt"].to_numpy()
    steered = p["steered"].to_numpy(zero_copy_only=False)
    success = outc == OUTCOMES.index("success")
    ended = outc != OUTCOMES.index("aborted")
    is_attach = np.isin(ptype, [PROCEDURE_TYPES.index(t) for t in REGISTRATION_TYPES])
    rat = _codes(p["rat"], list(RATS))

    duration = end - start
    everything = np.arange(len(p))

    def latency_by_type(idx: np.ndarray) -> dict[str, Any]:
        ok = idx[success[idx]]
        d, ty = duration[ok], ptype[ok]
        return {t: _latency(d[ty == i]) for i, t in enumerate(PROCEDURE_TYPES) if (ty == i).any()}

    def attach_stats(idx: np.ndarray) -> dict[str, Any]:
        a = idx[is_attach[idx] & ended[idx]]
        ok, first, st = success[a], attempt[a] == 1, steered[a]
        return {
            "attempts": int(a.size),
            "successes": int(ok.sum()),
            "success_ratio": _ratio(int(ok.sum()), int(a.size)),
            "first_attempt_success_ratio": _ratio(int((first & ok).sum()), int(first.sum())),
            "success_ratio_ex_steering": _ratio(int((~st & ok).sum()), int((~st).sum())),
            "steering_rejects": int(st.sum()),
        }

    # Registration episodes (attach attempts from one trigger until success).
    ai = np.nonzero(is_attach)[0]
    ai = ai[np.lexsort((p["procedure_id"].to_numpy()[ai], imsi[ai]))]
    episode_start = np.isin(trig[ai], [TRIGGERS.index(t) for t in EPISODE_TRIGGERS])
    new_imsi = np.ones(ai.size, dtype=bool)
    new_imsi[1:] = imsi[ai][1:] != imsi[ai][:-1]
    ep = np.cumsum(episode_start | new_imsi) - 1
    n_ep = int(ep[-1]) + 1 if ai.size else 0
    ep_success = np.zeros(n_ep, dtype=bool)
    np.logical_or.at(ep_success, ep, success[ai])
    ep_aborted = np.zeros(n_ep, dtype=bool)
    last = np.ones(ai.size, dtype=bool)
    last[:-1] = ep[1:] != ep[:-1]
    ep_aborted[ep[last]] = ~ended[ai][last]
    ep_first = np.full(n_ep, np.iinfo(np.int64).max)
    np.minimum.at(ep_first, ep, start[ai])
    ep_done = np.zeros(n_ep, dtype=np.int64)
    ok = success[ai]
    ep_done[ep[ok]] = end[ai][ok]
    ep_steered = np.zeros(n_ep, dtype=bool)
    np.logical_or.at(ep_steered, ep, steered[ai])
    ep_home = np.zeros(n_ep, dtype=np.int64)
    ep_home[ep] = home[ai]
    starts = episode_start | new_imsi
    ep_first_visited = np.zeros(n_ep, dtype=np.int64)
    ep_first_visited[ep[starts]] = vis[ai][starts]
    ep_delay = np.where(ep_success, ep_done - ep_first, 0)

    def episode_stats(mask: np.ndarray) -> dict[str, Any]:
        m = mask & ~ep_aborted
        return {"episodes": int(m.sum()), "eventual_success_ratio": _ratio(int((m & ep_success).sum()), int(m.sum())),
                "attach_delay": _latency(ep_delay[m & ep_success])}

    # -- transactions ----------------------------------------------------------
    tx = pq.read_table(run_dir / "transactions.parquet",
                       columns=["command", "result_code", "experimental", "timed_out", "request_time",
                                "answer_time", "steering_reject", "procedure_id", "protocol"])
    cmd_idx, cmd_names = _decode(tx["command"])
    proto = _codes(tx["protocol"], list(cat.PROTOCOLS))
    rc = tx["result_code"].to_numpy(zero_copy_only=False)
    answered = ~tx["result_code"].is_null().to_numpy(zero_copy_only=False)
    exp = tx["experimental"].to_numpy(zero_copy_only=False)
    tout = tx["timed_out"].to_numpy(zero_copy_only=False)
    rtt = tx["answer_time"].to_numpy(zero_copy_only=False)
    req_t = tx["request_time"].to_numpy()
    error_mix: dict[str, int] = {}
    codes = (np.where(answered, rc, 0).astype(np.int64) * 2 + exp.astype(np.int64)) * 4 + proto
    code_counts = np.bincount(codes[answered])
    for key in np.nonzero(code_counts)[0].tolist():
        count = code_counts[key]
        pr, code, is_exp = cat.PROTOCOLS[key % 4], key // 8, bool((key // 4) % 2)
        error_mix[result_label(pr, code, is_exp)] = int(count)
    transactions = {}
    for i, name in enumerate(cmd_names):
        m = cmd_idx == i
        if not m.any():
            continue
        ok_rtt = m & answered & ~tout
        transactions[name] = {
            "requests": int(m.sum()),
            "timeouts": int((m & tout).sum()),
            "round_trip": _latency((rtt - req_t)[ok_rtt].astype(np.int64)),
        }

    # Steered attempts' transactions (AIR and the rejected ULR) = extra signalling.
    steered_procs = p["procedure_id"].to_numpy()[is_attach & steered]
    extra = int(np.isin(tx["procedure_id"].to_numpy(), steered_procs).sum())

    # -- TPS per element and per link (requests only) -------------------------
    # One bincount per row group over (key, second), keys = elements, then links.
    names = list(world.element_names)
    ne = len(names)
    link_of = np.full(ne * ne, -1, dtype=np.int64)  # (lower, upper element) → compact link id
    link_keys: list[int] = []
    element_keys: list[np.ndarray] = []
    link_sec_keys: list[np.ndarray] = []
    pf = pq.ParquetFile(run_dir / "messages.parquet")
    total_messages = 0
    for rg in range(pf.num_row_groups):
        m = pf.read_row_group(rg, columns=["time", "is_request", "origin", "destination"])
        total_messages += m.num_rows
        req = m["is_request"].to_numpy(zero_copy_only=False)
        sec = np.clip(((m["time"].to_numpy() - t0) // NS)[req], 0, nsec - 1)
        o_idx = _codes(m["origin"], names)[req]
        d_idx = _codes(m["destination"], names)[req]
        element_keys.append(d_idx * nsec + sec)
        lk = np.minimum(o_idx, d_idx) * ne + np.maximum(o_idx, d_idx)
        for k in np.nonzero(np.bincount(lk, minlength=ne * ne))[0].tolist():
            if link_of[k] < 0:
                link_of[k] = len(link_keys)
                link_keys.append(k)
        link_sec_keys.append(link_of[lk] * nsec + sec)
    eb = np.bincount(np.concatenate(element_keys), minlength=ne * nsec).reshape(ne, nsec) if element_keys \
        else np.zeros((ne, nsec), dtype=np.int64)
    nl = len(link_keys)
    lb = np.bincount(np.concatenate(link_sec_keys), minlength=nl * nsec).reshape(nl, nsec) if nl \
        else np.zeros((0, nsec), dtype=np.int64)
    del element_keys, link_sec_keys
    element_counts = {names[e]: eb[e] for e in range(ne) if eb[e].any()}
    link_counts = {f"{names[k // ne]}<->{names[k % ne]}": lb[j] for j, k in enumerate(link_keys)}

    def tps(counts: dict[str, np.ndarray]) -> dict[str, Any]:
        return {k: {"peak_tps": int(v.max()), "mean_tps": round(float(v.sum()) / nsec, 4), "requests": int(v.sum())}
                for k, v in sorted(counts.items())}

    # -- roamers per day ----------------------------------------------------------
    reg = success & np.isin(ptype, [PROCEDURE_TYPES.index(t) for t in (*REGISTRATION_TYPES, "tracking_area_update",
                                                                        "mobility_registration")])
    day = (end - t0) // (86_400 * NS)
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
        in_country = np.isin(vis, world.country_ops[country])
        m = is_attach & (home == h) & in_country
        first_reg: dict[int, int] = {}
        for k in np.nonzero(m & success)[0][np.argsort(end[m & success], kind="stable")]:
            first_reg.setdefault(int(imsi[k]), int(vis[k]))
        on_pref = sum(1 for v in first_reg.values() if v in pol.preferred)
        rej = m & steered
        steered_imsis, per = _distinct(imsi[rej], counts=True)
        ep_m = np.zeros(n_ep, dtype=bool)
        ep_m[ep[m[ai]]] = True
        ep_m &= ep_home == h
        d_st = ep_delay[ep_m & ep_steered & ep_success & ~ep_aborted]
        d_un = ep_delay[ep_m & ~ep_steered & ep_success & ~ep_aborted]
        steering[f"{plmns[h]} in {country}"] = {
            "preferred": sorted(plmns[v] for v in pol.preferred),
            "roamers_registered": len(first_reg),
            "share_on_preferred": _ratio(on_pref, len(first_reg)),
            "steered_roamers": int(steered_imsis.size),
            "steering_rejects": int(per.sum()),
            "rejects_per_steered_roamer": round(float(per.mean()), 4) if per.size else None,
            "max_rejects_per_roamer": int(per.max()) if per.size else 0,
            "extra_transactions": int(np.isin(tx["procedure_id"].to_numpy(),
                                              p["procedure_id"].to_numpy()[rej]).sum()),
            "attach_delay_steered": _latency(d_st),
            "attach_delay_unsteered": _latency(d_un),
            "attach_delay_added_ms": {
                "mean": round((float(d_st.mean()) - float(d_un.mean())) / MS, 3),
                "p50": round((float(np.median(d_st)) - float(np.median(d_un))) / MS, 3),
            } if d_st.size and d_un.size else None,
        }

    pairs = {}
    n_ops = len(plmns)
    pair_key = home * n_ops + vis
    order = np.argsort(pair_key, kind="stable")
    sorted_keys = pair_key[order]
    first_idx = np.nonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])[0]
    keys = sorted_keys[first_idx]
    for key, group in zip(keys.tolist(), np.split(order, first_idx[1:]), strict=True):
        if is_attach[group].any():
            pairs[pair_name[(key // n_ops, key % n_ops)]] = {
                "attach": attach_stats(group),
                "registration": episode_stats(
                    (ep_home == key // n_ops) & (ep_first_visited == key % n_ops)),
                "latency": latency_by_type(group),
            }

    # -- per RAT: registrations, data sessions, SMS ------------------------------------
    session_create = ptype == PROCEDURE_TYPES.index("session_create")
    sms_mt = ptype == PROCEDURE_TYPES.index("sms_mt")
    sms_mo = ptype == PROCEDURE_TYPES.index("sms_mo")
    per_rat = {}
    for ri, rat_name in enumerate(RATS):
        sel_rat = np.nonzero(rat == ri)[0]
        if not sel_rat.size:
            continue
        reg_rat = sel_rat[is_attach[sel_rat]]
        ses = sel_rat[session_create[sel_rat]]
        mt = sel_rat[sms_mt[sel_rat]]
        mo = sel_rat[sms_mo[sel_rat]]
        per_rat[rat_name] = {
            "registration": attach_stats(reg_rat),
            "registration_latency": _latency(duration[reg_rat[success[reg_rat]]]),
            "data_sessions": {"attempts": int(ses.size), "success_ratio": _ratio(int(success[ses].sum()), ses.size),
                              "setup_latency": _latency(duration[ses[success[ses]]])},
            "sms": {"mt_attempts": int(mt.size), "mt_delivery_ratio": _ratio(int(success[mt].sum()), mt.size),
                    "mo_attempts": int(mo.size), "mo_success_ratio": _ratio(int(success[mo].sum()), mo.size)},
        }
    sessions_file = run_dir / "sessions.parquet"
    volume: dict[str, Any] = {}
    if sessions_file.exists():
        sess = pq.read_table(sessions_file, columns=["rat", "bytes_uplink", "bytes_downlink", "routing"])
        srat = _codes(sess["rat"], list(RATS))
        up, down = sess["bytes_uplink"].to_numpy(), sess["bytes_downlink"].to_numpy()
        for ri, rat_name in enumerate(RATS):
            m_r = srat == ri
            if m_r.any():
                volume[rat_name] = {"sessions": int(m_r.sum()), "bytes_uplink": int(up[m_r].sum()),
                                    "bytes_downlink": int(down[m_r].sum())}

    return {
        "window": {"start": s.window.start.isoformat(), "duration_s": window / NS},
        "counts": {
            "roamers_seen": int(_distinct(imsi).size),
            "procedures": {t: int((ptype == i).sum()) for i, t in enumerate(PROCEDURE_TYPES)},
            "transactions": len(tx),
            "messages": total_messages,
        },
        "overall": {
            "attach": attach_stats(everything),
            "registration": episode_stats(np.ones(n_ep, dtype=bool)),
            "latency": latency_by_type(everything),
            "transactions": transactions,
            "timeouts": {"transactions": int(tout.sum()),
                         "procedures": int((outc == OUTCOMES.index("timeout")).sum())},
            "error_mix": error_mix,
            "extra_transactions_from_steering": extra,
            "extra_signalling_ratio": _ratio(extra, len(tx)),
        },
        "per_partner": pairs,
        "per_home": {plmns[h]: {"registration": episode_stats(ep_home == h)}
                     for h in sorted(set(ep_home.tolist()))},
        "tps": {"per_element": tps(element_counts), "per_link": tps(link_counts)},
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
