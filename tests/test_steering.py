"""Reject-based steering of roaming at the home DEA (domain notes §1.6; GSMA IR.73).

One home operator steers its roamers in Spain to one preferred partner among three,
rejecting Update-Location from the others with 5012 UNABLE_TO_COMPLY (→ EMM #17).
The UE retries the same PLMN until its attempt counter (5) runs out, then selects
another one; the steering platform gives up after ``max_rejects`` rejects or, with
``window``, once that long has passed since the first reject.
"""

from __future__ import annotations

import copy
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from runkit import NS, QUIET_ACTIVITY, Columns, kpis, read, run

HOME = "uk-alpha"
PREFERRED = "es-one"
PLMN = {"uk-alpha": "234-15", "es-one": "214-01", "es-two": "214-03", "es-three": "214-04"}
BASE: dict[str, Any] = {
    "name": "steering",
    "seed": 21,
    "window": {"start": "2027-07-03T00:00:00Z", "duration": "6h"},
    "operators": [
        {"id": HOME, "plmn": PLMN[HOME], "country": "GB", "hss": {"servers": 8}},
        {"id": "es-one", "plmn": PLMN["es-one"], "country": "ES", "mmes": 2},
        {"id": "es-two", "plmn": PLMN["es-two"], "country": "ES", "mmes": 2},
        {"id": "es-three", "plmn": PLMN["es-three"], "country": "ES", "mmes": 2},
    ],
    "agreements": [{"home": HOME, "visited": ["es-one", "es-two", "es-three"]}],
    "steering": [{"home": HOME, "country": "ES", "preferred": [PREFERRED], "reject_with": "unable-to-comply",
                  "max_rejects": 5}],
    "ue": {"max_attempts": 5, "t3411": "10s"},
    "cohorts": [{"name": "tourists", "home": HOME, "roamers": 1500, "destinations": {"ES": 1},
                 "arrivals": {"profile": "flat"}, "stay": "30d", "activity": QUIET_ACTIVITY}],
}
WINDOW_END_NS = int(datetime.fromisoformat(BASE["window"]["start"]).timestamp()) * NS + 6 * 3600 * NS


def _with(**steering: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["steering"][0].update(steering)
    return data


def _without_steering() -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    del data["steering"]
    return data


def _first_registration(p: Columns) -> dict[int, str]:
    """Visited PLMN of each IMSI's first successful attach."""
    ok = np.nonzero((p["type"] == "attach") & (p["outcome"] == "success"))[0]
    ok = ok[np.argsort(p["end_time"][ok], kind="stable")]
    first: dict[int, str] = {}
    for i in ok.tolist():
        first.setdefault(int(p["imsi"][i]), str(p["visited_plmn"][i]))
    return first


def _settled(p: Columns) -> set[int]:
    """IMSIs that arrived at least 20 minutes before the window end (time for 5 retries and T3402)."""
    arrival = (p["type"] == "attach") & (p["trigger"] == "arrival")
    return set(p["imsi"][arrival & (p["start_time"] < WINDOW_END_NS - 1200 * NS)].tolist())


def _share_on_preferred(p: Columns) -> float:
    first = _first_registration(p)
    return sum(v == PLMN[PREFERRED] for v in first.values()) / len(first)


@pytest.fixture(scope="module")
def steered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("steering") / "run"
    run(BASE, out)
    return out


def test_no_roamer_sees_more_than_max_rejects(steered: Path) -> None:
    tx = read(steered, "transactions")
    per_roamer = Counter(tx["imsi"][tx["steering_reject"]].tolist())
    assert per_roamer
    assert max(per_roamer.values()) == 5  # the cap is reached, never passed
    # Rejected roamers registered in the end, on a preferred or a non-preferred partner.
    p = read(steered, "procedures")
    settled = _settled(p)
    assert len(settled) > 1400
    assert set(per_roamer) & settled <= set(_first_registration(p))


@pytest.mark.parametrize("max_rejects", [1, 3])
def test_a_lower_cap_accepts_the_non_preferred_partner(max_rejects: int, tmp_path: Path) -> None:
    run(_with(max_rejects=max_rejects), tmp_path / "run")
    tx = read(tmp_path / "run", "transactions")
    p = read(tmp_path / "run", "procedures")
    per_roamer = Counter(tx["imsi"][tx["steering_reject"]].tolist())
    assert max(per_roamer.values()) == max_rejects
    # Fewer rejects than attempts: the UE's retry on the same PLMN is accepted.
    first = _first_registration(p)
    assert all(first[imsi] != PLMN[PREFERRED] for imsi in set(per_roamer) & _settled(p))


def test_steering_raises_the_share_on_the_preferred_partner(steered: Path, tmp_path: Path) -> None:
    run(_without_steering(), tmp_path / "free")
    free = read(tmp_path / "free", "procedures")
    with_steering = read(steered, "procedures")
    assert not free["steered"].any()
    share_free = _share_on_preferred(free)
    share_steered = _share_on_preferred(with_steering)
    # One partner of three; with 5 rejects the UE moves on after the first non-preferred one.
    assert 0.25 < share_free < 0.42
    assert share_steered > share_free + 0.2
    settled = _settled(free)
    assert settled == _settled(with_steering)  # the same roamers arrive at the same times
    assert settled <= set(_first_registration(free)) & set(_first_registration(with_steering))
    policy = kpis(steered)["steering"][f"{PLMN[HOME]} in ES"]
    assert policy["share_on_preferred"] == pytest.approx(share_steered, abs=1e-6)


def test_every_steering_reject_is_a_5012_from_the_home_dea_and_a_steered_procedure(steered: Path) -> None:
    tx = read(steered, "transactions")
    m = read(steered, "messages")
    p = read(steered, "procedures")
    st = tx["steering_reject"]
    assert st.sum() > 100
    assert (tx["command"][st] == "ULR").all()
    assert (tx["result_code"][st] == 5012).all() and not tx["experimental"][st].any()
    assert (tx["responder"][st] == f"{HOME}.dea").all()
    # The HSS never answers 5012 here: every 5012 is a steering reject.
    assert ((tx["result_code"] == 5012) == st).all()

    ans = ~m["is_request"] & (m["result_code"] == 5012)
    rows = Counter(zip(m["txn_id"][ans].tolist(), m["hop"][ans].tolist(), m["origin"][ans].tolist(), strict=True))
    for txn in tx["txn_id"][st].tolist():
        assert rows[(txn, 0, f"{HOME}.dea")] == 1  # answered by the home DEA
        assert rows[(txn, 1, "ipx")] == 1
        assert sum(1 for h in range(4) if (txn, h, f"{HOME}.hss") in rows) == 0
    assert set(m["txn_id"][ans].tolist()) == set(tx["txn_id"][st].tolist())
    assert not np.isin(m["txn_id"][m["is_request"] & (m["destination"] == f"{HOME}.hss")], tx["txn_id"][st]).any()

    by_id = {int(pid): i for i, pid in enumerate(p["procedure_id"])}
    for pid in tx["procedure_id"][st].tolist():
        i = by_id[pid]
        assert p["type"][i] == "attach"
        assert p["steered"][i]
        assert p["emm_cause"][i] == 17
        assert p["result_code"][i] == 5012
        assert p["outcome"][i] == "rejected"
        assert p["visited_plmn"][i] != PLMN[PREFERRED]
    # And no procedure is marked steered without a steering reject.
    assert Counter(tx["procedure_id"][st].tolist()) == Counter(p["procedure_id"][p["steered"]].tolist())


def _time_at_home_dea(tx: Columns, m: Columns) -> np.ndarray:
    """When each ULR was at the home DEA: the reject leaving it, or the request leaving it for the HSS."""
    t = np.full(tx["txn_id"].size, -1, dtype=np.int64)
    pos = {int(x): i for i, x in enumerate(tx["txn_id"])}
    leaving = (~m["is_request"] & (m["hop"] == 0) & (m["origin"] == f"{HOME}.dea")) | (
        m["is_request"] & (m["origin"] == f"{HOME}.dea"))
    for txn, time in zip(m["txn_id"][leaving].tolist(), m["time"][leaving].tolist(), strict=True):
        t[pos[txn]] = time
    return t


def test_rejects_stop_after_the_window(tmp_path: Path) -> None:
    window_s = 30
    run(_with(max_rejects=100, window=f"{window_s}s"), tmp_path / "run")
    tx = read(tmp_path / "run", "transactions")
    m = read(tmp_path / "run", "messages")
    at_dea = _time_at_home_dea(tx, m)
    st = tx["steering_reject"]
    first_reject: dict[int, int] = {}
    last_reject: dict[int, int] = {}
    for imsi, t in zip(tx["imsi"][st].tolist(), at_dea[st].tolist(), strict=True):
        first_reject[imsi] = min(first_reject.get(imsi, t), t)
        last_reject[imsi] = max(last_reject.get(imsi, t), t)
    assert first_reject
    assert all(last_reject[i] - first_reject[i] < window_s * NS for i in first_reject)

    # After the window, the ULR from the non-preferred partner passes the DEA.
    origin_op = np.array([o.split(".")[0] for o in tx["origin"]])
    passed = (tx["command"] == "ULR") & ~st & (origin_op != PREFERRED)
    accepted_late = 0
    for imsi, t in zip(tx["imsi"][passed].tolist(), at_dea[passed].tolist(), strict=True):
        if imsi in first_reject:
            assert t - first_reject[imsi] >= window_s * NS
            accepted_late += 1
    assert accepted_late > 50
    # Retries every T3411 = 10 s: at most 4 rejects fit in 30 s, fewer than the attempt counter.
    assert max(Counter(tx["imsi"][st].tolist()).values()) <= 4
