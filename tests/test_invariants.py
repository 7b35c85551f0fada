"""Invariants of one medium run, checked from its Parquet files alone.

The run has two home operators (one with a slow single-server HSS, a small waiting
room and an arrival surge, so it overloads now and then), transient HSS errors,
steering in Spain, multi-country itineraries, power cycles with purges, MME and
network changes, insert-subscriber-data, and two operator pairs without a roaming
agreement (so some Update-Locations are answered 5004 ROAMING_NOT_ALLOWED).

Rules: domain notes §1.1 (S6a flows, path MME → V-DEA → IPX → H-DEA → HSS, CLR to
the old MME, the Diameter → EMM mapping), §1.5 (attempt counter 5, T3411, T3402),
§1.6 (steering rejects, PLMN selection, EF_FPLMN on #11).
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from roamsim.catalogue.diameter import RESULT_NAMES
from runkit import MS, Columns, answers_at_origin, kpis, read, run

TIMEOUT_NS = 3_000 * MS
INTRA_NS = 1 * MS  # ipx.intra_plmn: MME-DEA and DEA-HSS
HOP_NS = 1 * MS  # ipx.hop_delay: per Diameter agent
MAX_ATTEMPTS = 5
T3402_NS = 720 * 1_000_000_000

OPERATORS: list[dict[str, Any]] = [
    {"id": "uk-alpha", "plmn": "234-15", "country": "GB",
     "hss": {"servers": 1, "service": {"lognormal": {"median": "20ms", "p99": "400ms"}}, "queue_limit": 5,
             "transient_errors": "2%"}},
    {"id": "de-beta", "plmn": "262-02", "country": "DE", "hss": {"transient_errors": "2%"}},
    {"id": "es-one", "plmn": "214-01", "country": "ES", "mmes": 3},
    {"id": "es-two", "plmn": "214-03", "country": "ES", "mmes": 2},
    {"id": "es-three", "plmn": "214-04", "country": "ES", "mmes": 2},
    {"id": "pt-one", "plmn": "268-01", "country": "PT", "mmes": 2},
    {"id": "fr-one", "plmn": "208-01", "country": "FR", "mmes": 2},
]
AGREEMENTS: dict[str, list[str]] = {
    # uk-alpha has no agreement with es-three, de-beta none with fr-one.
    "uk-alpha": ["es-one", "es-two", "pt-one", "fr-one"],
    "de-beta": ["es-one", "es-two", "es-three", "pt-one"],
}
SCENARIO: dict[str, Any] = {
    "name": "invariants",
    "seed": 11,
    "window": {"start": "2027-07-03T00:00:00Z", "duration": "1d"},
    "operators": OPERATORS,
    "ipx": {"intra_plmn": "1ms", "hop_delay": "1ms", "jitter": "10%"},
    "agreements": [{"home": h, "visited": v} for h, v in AGREEMENTS.items()],
    "steering": [{"home": "uk-alpha", "country": "ES", "preferred": ["es-one"], "max_rejects": 5}],
    "ue": {"max_attempts": MAX_ATTEMPTS, "t3402": "12m", "t3411": "10s"},
    "diameter": {"answer_timeout": "3s", "retransmissions": 1},
    "cohorts": [
        {"name": "uk", "home": "uk-alpha", "roamers": 2400, "destinations": {"ES": 0.6, "PT": 0.2},
         "itineraries": [{"countries": ["ES", "PT", "FR"], "weight": 0.2}],
         "stay": {"uniform": {"low": "4h", "high": "2d"}},
         "arrivals": {"profile": "flat", "surge": {"at": "2027-07-03T08:00:00Z", "for": "10m", "factor": 40}},
         "activity": {"power_cycles_per_day": 3, "mme_changes_per_day": 3, "network_changes_per_day": 0.5,
                      "idr_per_day": 1, "purge_probability": 0.8, "purge_after": "10m",
                      "off_duration": {"uniform": {"low": "1m", "high": "1h"}}}},
        {"name": "de", "home": "de-beta", "roamers": 1600, "destinations": {"ES": 0.7, "FR": 0.3},
         "itineraries": [{"countries": ["PT", "ES"], "weight": 0.3}],
         "stay": {"uniform": {"low": "4h", "high": "2d"}},
         "activity": {"power_cycles_per_day": 2, "mme_changes_per_day": 2, "idr_per_day": 1}},
    ],
}
# This run checks S6a in depth: no data sessions or SMS (tests/test_generations.py mixes every generation).
for _operator in OPERATORS:
    _operator["welcome_sms"] = False
for _cohort in SCENARIO["cohorts"]:
    _cohort["usage"] = {"sessions_per_day": 0, "sms_mt_per_day": 0, "sms_mo_per_day": 0}
PLMN = {op["id"]: op["plmn"] for op in OPERATORS}
OP_OF_PLMN = {v: k for k, v in PLMN.items()}
COUNTRY = {op["id"]: op["country"] for op in OPERATORS}
UE_PROCS = ("attach", "tracking_area_update")
EPISODE_TRIGGERS = ("arrival", "power_on", "border_crossing", "network_change")


@dataclass
class Run:
    dir: Path
    tx: Columns
    msg: Columns
    proc: Columns
    kpis: dict[str, Any]

    def txn_index(self, txn_ids: np.ndarray) -> np.ndarray:
        """Row of ``transactions`` for each txn id (transactions are sorted by txn id in the fixture)."""
        idx = np.searchsorted(self.tx["txn_id"], txn_ids)
        assert (self.tx["txn_id"][idx] == txn_ids).all()
        return idx

    def proc_index(self, proc_ids: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.proc["procedure_id"], proc_ids)
        assert (self.proc["procedure_id"][idx] == proc_ids).all()
        return idx


def _sorted(cols: Columns, *keys: str) -> Columns:
    order = np.lexsort(tuple(cols[k] for k in reversed(keys)))
    return {k: v[order] for k, v in cols.items()}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("invariants") / "run"
    run(SCENARIO, out, seed=3)
    tx = _sorted(read(out, "transactions"), "txn_id")
    proc = _sorted(read(out, "procedures"), "procedure_id")
    msg = read(out, "messages")
    assert np.unique(tx["txn_id"]).size == tx["txn_id"].size
    assert np.unique(proc["procedure_id"]).size == proc["procedure_id"].size
    return Run(out, tx, msg, proc, kpis(out))


def _op(element: str) -> str:
    return element.split(".", maxsplit=1)[0]


def _is_hss(names: np.ndarray) -> np.ndarray:
    return np.char.endswith(names.astype(str), ".hss")


# -- the run exercises what the invariants are about ------------------------------------------------


def test_the_run_exercises_every_mechanism(sim: Run) -> None:
    tx, p = sim.tx, sim.proc
    assert (tx["retransmission"] > 0).sum() >= 10
    assert (tx["timed_out"] & (tx["answer_time"] < 0)).sum() >= 10  # lost requests
    assert tx["steering_reject"].sum() >= 100
    assert (tx["queue_wait_ns"] > 0).sum() >= 100
    assert ((tx["result_code"] == 5004) & tx["experimental"]).sum() >= 10
    assert (tx["result_code"] == 3004).sum() >= 10
    triggers = Counter(p["trigger"].tolist())
    for trig in ("arrival", "retry", "reselection", "power_on", "border_crossing", "network_change",
                 "mme_change", "location_update", "return_home", "subscription_change", "inactivity"):
        assert triggers[trig] > 0, trig


# -- transactions and messages -------------------------------------------------------------------------


def test_every_request_is_answered_once_at_its_origin_or_timed_out(sim: Run) -> None:
    tx, m = sim.tx, sim.msg
    per_txn, answered, idx, final = answers_at_origin(tx, m, sim.txn_index)
    ans = ~m["is_request"]
    assert (per_txn[answered] == 1).all()
    assert (per_txn[~answered] == 0).all()
    assert tx["timed_out"][~answered].all()  # no answer at all: the origin timed out
    assert (tx["result_code"][~answered] == -1).all()

    t_req, t_ans = tx["request_time"], tx["answer_time"]
    assert (t_ans[answered] > t_req[answered]).all()
    # timed_out ⇔ no answer, or the answer came after the answer timeout.
    late = answered & (t_ans - t_req > TIMEOUT_NS)
    np.testing.assert_array_equal(tx["timed_out"], ~answered | late)

    # The answer time is when the last answer message (sent on the hop V-DEA → MME, or
    # H-DEA → HSS for HSS-initiated requests, both intra-PLMN) reaches the origin.
    last_time = np.full(tx["txn_id"].size, -1, dtype=np.int64)
    last_time[idx[final]] = m["time"][ans][final]
    np.testing.assert_array_equal(t_ans[answered], last_time[answered] + INTRA_NS)
    # No answer message of an unanswered request anywhere.
    assert not np.isin(m["txn_id"][ans], tx["txn_id"][~answered]).any()


def _hop_chains(m: Columns, request: bool) -> tuple[Columns, np.ndarray]:
    """Message rows of one direction sorted by (txn, hop), and the start row of each txn's group."""
    sel = m["is_request"] == request
    rows = _sorted({k: v[sel] for k, v in m.items()}, "txn_id", "hop")
    starts = np.nonzero(np.r_[True, rows["txn_id"][1:] != rows["txn_id"][:-1]])[0]
    return rows, starts


def test_hop_rows_follow_the_s6a_path(sim: Run) -> None:
    tx, p = sim.tx, sim.proc
    steering = tx["steering_reject"]
    n_hops = np.where(steering, 3, 4)
    answered = ~tx["answer_time_null"]
    home_op = np.array([OP_OF_PLMN[h] for h in p["home_plmn"][sim.proc_index(tx["procedure_id"])]])
    visited_op = np.array([OP_OF_PLMN[v] for v in p["visited_plmn"][sim.proc_index(tx["procedure_id"])]])
    from_hss = _is_hss(tx["origin"])
    # Steering rejects are answered by the home DEA, everything else by the HSS or the MME.
    assert (tx["responder"][steering] == np.char.add(home_op[steering], ".dea")).all()
    assert ((tx["responder"] == np.char.add(home_op, ".hss")) | from_hss | steering).all()
    assert (tx["origin"][from_hss] == np.char.add(home_op[from_hss], ".hss")).all()
    assert np.isin(tx["command"][from_hss], ["CLR", "IDR"]).all()

    last_request_time = np.zeros(tx["txn_id"].size, dtype=np.int64)
    for request in (True, False):
        rows, starts = _hop_chains(sim.msg, request)
        idx = sim.txn_index(rows["txn_id"][starts])
        counts = np.diff(np.r_[starts, rows["txn_id"].size])
        if request:
            assert idx.size == tx["txn_id"].size  # every transaction has request rows
            np.testing.assert_array_equal(counts, n_hops[idx])
        else:
            assert answered[idx].all()
            assert idx.size == answered.sum()
            np.testing.assert_array_equal(counts, n_hops[idx])
        pos = np.arange(rows["txn_id"].size) - np.repeat(starts, counts)
        np.testing.assert_array_equal(rows["hop"], pos)
        same = rows["txn_id"][1:] == rows["txn_id"][:-1]
        assert (rows["time"][1:][same] > rows["time"][:-1][same]).all(), "hops not contiguous in time"
        assert (rows["origin"][1:][same] == rows["destination"][:-1][same]).all(), "path broken"
        first, last = starts, np.r_[starts[1:], rows["txn_id"].size] - 1
        if request:
            np.testing.assert_array_equal(rows["origin"][first], tx["origin"][idx])
            np.testing.assert_array_equal(rows["destination"][last], tx["responder"][idx])
            np.testing.assert_array_equal(rows["time"][first], tx["request_time"][idx])
            last_request_time[idx] = rows["time"][last]
        else:
            # The responder answers after the request reached it.
            assert (rows["time"][first] > last_request_time[idx]).all()
            np.testing.assert_array_equal(rows["origin"][first], tx["responder"][idx])
            np.testing.assert_array_equal(rows["destination"][last], tx["origin"][idx])

        # Element names hop by hop: MME → V-DEA → ipx → H-DEA → HSS (reversed for HSS-initiated requests).
        txn_row = np.repeat(idx, counts)
        h, v = home_op[txn_row], visited_op[txn_row]
        chain = np.stack([np.char.add(v, ".mme"), np.char.add(v, ".dea"), np.full(h.size, "ipx"),
                          np.char.add(h, ".dea"), np.char.add(h, ".hss")])
        hss_first = from_hss[txn_row]
        toward_hss = hss_first != request  # MME-initiated request, or answer to an HSS-initiated one
        # Position of each row's origin and destination on the MME → HSS chain.
        o_pos = np.where(request, np.where(hss_first, 4 - rows["hop"], rows["hop"]),
                         np.where(hss_first, rows["hop"], n_hops[txn_row] - rows["hop"]))
        d_pos = o_pos + np.where(toward_hss, 1, -1)
        cols = np.arange(h.size)
        exp_o, exp_d = chain[o_pos, cols], chain[d_pos, cols]
        for got, exp in ((rows["origin"], exp_o), (rows["destination"], exp_d)):
            is_mme = np.char.endswith(exp, ".mme")
            assert (got[~is_mme] == exp[~is_mme]).all()
            assert all(re.fullmatch(re.escape(e) + r"\d+", g) for g, e in zip(got[is_mme], exp[is_mme],
                                                                               strict=True))


def test_message_names_and_result_codes_match_their_transaction(sim: Run) -> None:
    tx, m = sim.tx, sim.msg
    idx = sim.txn_index(m["txn_id"])
    req = m["is_request"]
    ans_name = {"ULR": "ULA", "AIR": "AIA", "CLR": "CLA", "IDR": "IDA", "PUR": "PUA"}
    expected = np.where(req, tx["command"][idx], [ans_name[c] for c in tx["command"][idx]])
    np.testing.assert_array_equal(m["message"], expected)
    np.testing.assert_array_equal(m["command_code"], tx["command_code"][idx])
    np.testing.assert_array_equal(m["e2e_id"], tx["e2e_id"][idx])
    np.testing.assert_array_equal(m["imsi"], tx["imsi"][idx])
    exp = tx["experimental"][idx]
    code = tx["result_code"][idx]
    assert (m["result_code"][req] == -1).all() and (m["experimental_result_code"][req] == -1).all()
    a = ~req
    np.testing.assert_array_equal(m["result_code"][a], np.where(exp[a], -1, code[a]))
    np.testing.assert_array_equal(m["experimental_result_code"][a], np.where(exp[a], code[a], -1))


def test_retransmissions_reuse_the_end_to_end_id(sim: Run) -> None:
    """RFC 6733: after the answer timeout (§5.5.4), or at once on a 3004 DIAMETER_TOO_BUSY answer (§7.1.3)."""
    tx = sim.tx
    first = tx["retransmission"] == 0
    np.testing.assert_array_equal(tx["e2e_id"][first], tx["txn_id"][first])
    by_key = {(int(e), int(k)): i for i, (e, k) in enumerate(zip(tx["e2e_id"], tx["retransmission"], strict=True))}
    assert len(by_key) == tx["txn_id"].size  # (e2e id, retransmission number) is unique
    kinds: Counter[str] = Counter()
    for i in np.nonzero(~first)[0].tolist():
        prev = by_key[(int(tx["e2e_id"][i]), int(tx["retransmission"][i]) - 1)]
        if tx["timed_out"][prev]:
            assert tx["request_time"][i] - tx["request_time"][prev] == TIMEOUT_NS
            kinds["timeout"] += 1
        else:
            assert tx["result_code"][prev] == 3004
            assert tx["request_time"][i] == tx["answer_time"][prev]
            kinds["too_busy"] += 1
        for col in ("command", "origin", "responder", "procedure_id", "imsi"):
            assert tx[col][i] == tx[col][prev], col
        assert tx["txn_id"][i] > tx["txn_id"][prev]
    assert kinds["timeout"] >= 10
    assert kinds["too_busy"] >= 10
    assert tx["retransmission"].max() <= SCENARIO["diameter"]["retransmissions"]


# -- one registration at a time -------------------------------------------------------------------------


def test_hss_cancels_exactly_the_previous_mme(sim: Run) -> None:
    """Replay the HSS view per IMSI: successful ULRs, PURs and return-home CLRs in HSS order."""
    tx, m, p = sim.tx, sim.msg, sim.proc
    trigger = p["trigger"][sim.proc_index(tx["procedure_id"])]
    # Departure of each answer from its responder (answer hop 0) and arrival of each request there.
    a0 = ~m["is_request"] & (m["hop"] == 0)
    depart = np.full(tx["txn_id"].size, -1, dtype=np.int64)
    depart[sim.txn_index(m["txn_id"][a0])] = m["time"][a0]
    r3 = m["is_request"] & (m["hop"] == 3)
    arrive = np.full(tx["txn_id"].size, -1, dtype=np.int64)
    arrive[sim.txn_index(m["txn_id"][r3])] = m["time"][r3] + HOP_NS + INTRA_NS

    at_hss = _is_hss(tx["responder"]) & (tx["result_code"] == 2001)
    # The HSS works FIFO: an answer leaves after waiting and service.
    np.testing.assert_array_equal(
        depart[at_hss], arrive[at_hss] + tx["queue_wait_ns"][at_hss] + tx["service_ns"][at_hss])

    events: dict[int, list[tuple[int, int, str, str]]] = defaultdict(list)
    ulr = np.nonzero(at_hss & (tx["command"] == "ULR"))[0]
    pur = np.nonzero(at_hss & (tx["command"] == "PUR"))[0]
    home_clr = np.nonzero((tx["command"] == "CLR") & (trigger == "return_home"))[0]
    for kind, rows, t in (("ulr", ulr, arrive), ("pur", pur, arrive), ("depart", home_clr, tx["request_time"])):
        for row in rows.tolist():
            target = tx["responder"][row] if kind == "depart" else tx["origin"][row]
            events[int(tx["imsi"][row])].append((int(t[row]), row, kind, str(target)))

    expected: Counter[tuple[int, str, int]] = Counter()
    cancels = 0
    for imsi, evs in events.items():
        registered = ""
        for _, i, kind, mme in sorted(evs):
            if kind == "ulr":
                if registered and registered != mme:
                    expected[(imsi, registered, int(depart[i]))] += 1
                    if _op(registered) != _op(mme):
                        cancels += 1
                registered = mme
            elif kind == "pur":
                if registered == mme:
                    registered = ""
            else:
                assert mme == registered, f"return-home CLR of {imsi} to {mme}, registered at {registered!r}"
                registered = ""
    clr = (tx["command"] == "CLR") & (trigger == "location_update")
    observed = Counter(zip(tx["imsi"][clr].tolist(), tx["responder"][clr].tolist(),
                           tx["request_time"][clr].tolist(), strict=True))
    assert cancels > 100  # moves between visited networks happened
    assert observed == expected
    # Only the HSS originates CLR and IDR; the MMEs originate everything else.
    assert (_is_hss(tx["origin"]) == np.isin(tx["command"], ["CLR", "IDR"])).all()


def test_successful_attach_never_overlaps_a_procedure_in_another_network(sim: Run) -> None:
    p = sim.proc
    ue = np.isin(p["type"], UE_PROCS)
    rows = _sorted({k: v[ue] for k, v in p.items()}, "imsi", "start_time", "procedure_id")
    same = rows["imsi"][1:] == rows["imsi"][:-1]
    # The UE runs one procedure at a time (a new one starts when the previous one ended).
    assert (rows["start_time"][1:][same] >= rows["end_time"][:-1][same]).all()
    assert (rows["end_time"] >= rows["start_time"]).all()

    # And, as stated: a successful attach and a UE procedure in another visited network never overlap.
    ok = rows["outcome"] == "success"
    by_imsi: dict[int, list[int]] = defaultdict(list)
    for i, imsi in enumerate(rows["imsi"].tolist()):
        by_imsi[imsi].append(i)
    checked = 0
    for idx in by_imsi.values():
        for i in idx:
            if not (ok[i] and rows["type"][i] == "attach"):
                continue
            for j in idx:
                if rows["visited_plmn"][j] != rows["visited_plmn"][i]:
                    checked += 1
                    assert (rows["end_time"][j] <= rows["start_time"][i]
                            or rows["start_time"][j] >= rows["end_time"][i])
    assert checked > 1000


# -- UE behaviour on rejects ----------------------------------------------------------------------------------


def test_attempt_counter(sim: Run) -> None:
    p = sim.proc
    att = p["type"] == "attach"
    assert (p["attempt"][att] >= 1).all()
    assert (p["attempt"][att] <= MAX_ATTEMPTS).all()
    assert (p["attempt"][att] == MAX_ATTEMPTS).sum() > 50
    # The counter is reset when a new registration episode starts.
    assert (p["attempt"][att & np.isin(p["trigger"], EPISODE_TRIGGERS)] == 1).all()
    # EMM causes come from the Diameter → EMM table (TS 29.272 Annex A).
    rejected = att & (p["outcome"] == "rejected")
    table = {(5012, False): 17, (5004, True): 11, (4181, True): 17, (3002, False): 15, (3004, False): 42}
    for code, exp, cause in zip(p["result_code"][rejected], p["experimental"][rejected], p["emm_cause"][rejected],
                                strict=True):
        assert table[(int(code), bool(exp))] == cause
    assert (p["emm_cause"][att & (p["outcome"] == "timeout")] == 17).all()
    assert (p["emm_cause"][p["outcome"] == "success"] == -1).all()


def _attach_sequences(p: Columns) -> dict[int, list[int]]:
    att = np.nonzero(p["type"] == "attach")[0]
    att = att[np.lexsort((p["procedure_id"][att], p["start_time"][att], p["imsi"][att]))]
    seqs: dict[int, list[int]] = defaultdict(list)
    for i in att.tolist():
        seqs[int(p["imsi"][i])].append(i)
    return seqs


def test_five_network_failures_move_the_ue_to_another_plmn_or_t3402(sim: Run) -> None:
    p = sim.proc
    failed17 = (p["emm_cause"] == 17) & np.isin(p["outcome"], ["rejected", "timeout"])
    seen = moved = 0
    for seq in _attach_sequences(p).values():
        for k, i in enumerate(seq):
            if not (failed17[i] and p["attempt"][i] == MAX_ATTEMPTS):
                continue
            seen += 1
            # Five consecutive #17 failures on this PLMN, counted 1..5.
            prev = seq[max(0, k - MAX_ATTEMPTS + 1):k + 1]
            assert len(prev) == MAX_ATTEMPTS
            assert [int(p["attempt"][j]) for j in prev] == list(range(1, MAX_ATTEMPTS + 1))
            assert all(failed17[j] and p["visited_plmn"][j] == p["visited_plmn"][i] for j in prev)
            if k + 1 == len(seq):
                continue
            nxt = seq[k + 1]
            if p["trigger"][nxt] in EPISODE_TRIGGERS:
                continue  # power cycle or a new country resets the UE
            assert p["trigger"][nxt] != "retry"
            assert p["attempt"][nxt] == 1
            if p["visited_plmn"][nxt] != p["visited_plmn"][i]:
                moved += 1
            else:
                assert p["start_time"][nxt] - p["end_time"][i] >= T3402_NS
                assert p["trigger"][nxt] == "backoff_expiry"
    assert seen > 50
    assert moved > 20


def test_roaming_not_allowed_forbids_the_plmn_for_the_rest_of_the_run(sim: Run) -> None:
    tx, p = sim.tx, sim.proc
    # The HSS answers 5004 exactly for pairs without an agreement.
    ulr = (tx["command"] == "ULR") & _is_hss(tx["responder"]) & ~tx["answer_time_null"]
    pi = sim.proc_index(tx["procedure_id"][ulr])
    pairs = zip(p["home_plmn"][pi], p["visited_plmn"][pi], tx["result_code"][ulr], tx["experimental"][ulr],
                strict=True)
    for h, v, code, exp in pairs:
        allowed = OP_OF_PLMN[v] in AGREEMENTS[OP_OF_PLMN[h]]
        if code in (2001, 5004):
            assert (code == 2001) == allowed and exp == (code == 5004)

    r5004 = (p["result_code"] == 5004) & p["experimental"]
    assert r5004.sum() >= 10
    assert (p["emm_cause"][r5004] == 11).all()
    assert (p["outcome"][r5004] == "rejected").all()
    ue = np.isin(p["type"], UE_PROCS)
    first_ban: dict[tuple[int, str], int] = {}
    for i in np.nonzero(r5004)[0].tolist():
        key = (int(p["imsi"][i]), str(p["visited_plmn"][i]))
        first_ban[key] = min(first_ban.get(key, int(p["end_time"][i])), int(p["end_time"][i]))
    # One 5004 per roamer and PLMN (an attempt already in flight aside), and never an attempt after it.
    later = 0
    for i in np.nonzero(ue)[0].tolist():
        ban = first_ban.get((int(p["imsi"][i]), str(p["visited_plmn"][i])))
        if ban is not None and p["start_time"][i] >= ban:
            later += 1
    assert later == 0
    assert len(first_ban) == r5004.sum()

    # #11: the UE selects another PLMN at once (TS 24.301 §5.5.1.2.5); if none is left but some
    # come back later (attempt counter ran out, #42), it waits T3402.
    immediate = 0
    for seq in _attach_sequences(p).values():
        for i, nxt in itertools.pairwise(seq):
            if not r5004[i] or p["trigger"][nxt] in EPISODE_TRIGGERS:
                continue
            assert p["attempt"][nxt] == 1
            if p["trigger"][nxt] == "reselection":
                assert p["start_time"][nxt] == p["end_time"][i]
                immediate += 1
            else:
                assert p["trigger"][nxt] == "backoff_expiry"
                assert p["start_time"][nxt] - p["end_time"][i] >= T3402_NS
    assert immediate >= 10


# -- kpis.json agrees with the Parquet files ------------------------------------------------------------------


def test_kpi_counts_match_the_parquet_files(sim: Run) -> None:
    tx, m, p, k = sim.tx, sim.msg, sim.proc, sim.kpis
    counts = k["counts"]
    assert counts["transactions"] == tx["txn_id"].size
    assert counts["messages"] == m["time"].size
    assert counts["roamers_seen"] == np.unique(p["imsi"]).size
    assert {t: n for t, n in counts["procedures"].items() if n} == dict(Counter(p["type"].tolist()))

    per_cmd = k["overall"]["transactions"]
    assert set(per_cmd) == set(tx["command"].tolist())
    for cmd, stats in per_cmd.items():
        sel = tx["command"] == cmd
        assert stats["requests"] == sel.sum()
        assert stats["timeouts"] == (sel & tx["timed_out"]).sum()
    assert k["overall"]["timeouts"]["transactions"] == tx["timed_out"].sum()
    assert k["overall"]["timeouts"]["procedures"] == (p["outcome"] == "timeout").sum()

    answered = ~tx["answer_time_null"]
    mix: Counter[str] = Counter()
    for code, exp in zip(tx["result_code"][answered].tolist(), tx["experimental"][answered].tolist(), strict=True):
        mix[f"{code} {RESULT_NAMES[(code, exp)]}{' (experimental)' if exp else ''}"] += 1
    assert k["overall"]["error_mix"] == dict(mix)

    ended_attach = (p["type"] == "attach") & (p["outcome"] != "aborted")
    pairs: dict[str, Counter[str]] = defaultdict(Counter)
    for h, v, outcome, steered in zip(p["home_plmn"][ended_attach], p["visited_plmn"][ended_attach],
                                      p["outcome"][ended_attach], p["steered"][ended_attach], strict=True):
        c = pairs[f"{h}->{v}"]
        c["attempts"] += 1
        c["successes"] += outcome == "success"
        c["steering_rejects"] += bool(steered)
    got = {pair: {key: v["attach"][key] for key in ("attempts", "successes", "steering_rejects")}
           for pair, v in k["per_partner"].items() if v["attach"]["attempts"]}
    assert got == {pair: {key: c[key] for key in ("attempts", "successes", "steering_rejects")}
                   for pair, c in pairs.items()}
    overall = k["overall"]["attach"]
    assert overall["attempts"] == ended_attach.sum()
    assert overall["successes"] == (ended_attach & (p["outcome"] == "success")).sum()

    # Steering rejects per policy, from the transactions (answered 5012 by the home DEA).
    st = tx["steering_reject"]
    origin_country = np.array([COUNTRY[_op(o)] for o in tx["origin"][st]])
    home_plmn = np.array([PLMN[_op(r)] for r in tx["responder"][st]])
    rejects = Counter(f"{h} in {c}" for h, c in zip(home_plmn, origin_country, strict=True))
    assert {key: v["steering_rejects"] for key, v in k["steering"].items()} == dict(rejects)
    per_roamer = Counter(tx["imsi"][st].tolist())
    policy = k["steering"][f"{PLMN['uk-alpha']} in ES"]
    assert policy["steered_roamers"] == len(per_roamer)
    assert policy["max_rejects_per_roamer"] == max(per_roamer.values())
    assert k["overall"]["extra_transactions_from_steering"] == np.isin(
        tx["procedure_id"], p["procedure_id"][(p["type"] == "attach") & p["steered"]]).sum()


def test_no_procedure_starts_after_the_window(sim: Run) -> None:
    """Requests in flight at the window's end are drained, but no new attempt starts then."""
    manifest = json.loads((sim.dir / "manifest.json").read_text(encoding="utf-8"))
    start = int(datetime.fromisoformat(manifest["window"]["start"]).timestamp() * 1e9)
    end = start + int(manifest["window"]["duration_ns"])
    ue_initiated = np.isin(sim.proc["type"], ["attach", "tracking_area_update"])
    assert ue_initiated.any()
    assert (sim.proc["start_time"][ue_initiated] < end).all()
