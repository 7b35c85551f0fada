"""The HSS queue against queueing theory: Erlang C (M/M/c), Erlang B (M/M/c/c) and M/M/c/K.

Engine level: one home operator whose roamers each attach once (AIR, then ULR) at
uniformly drawn arrival times, so AIRs reach the HSS as a Poisson stream (N points
uniform over the window). A roamer's ULR follows its AIR by a round trip plus
``ue.nas_delay``, which couples the two requests; the coupling spans ~0.1 s while the
queue forgets its state in ~1 s, and the comparison holds within 5% without moving
the ULRs further away (no displacement by a larger ``nas_delay`` was needed).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from roamsim.engine.queue import ServerQueue
from runkit import NS, QUIET_ACTIVITY, read, run


def erlang_b(c: int, a: float) -> float:
    """Blocking probability of M/M/c/c with offered load ``a`` (stable recursion)."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """Probability of waiting in M/M/c with offered load ``a`` < c."""
    b = erlang_b(c, a)
    return c * b / (c - a * (1.0 - b))


def mean_wait(c: int, lam: float, mu: float) -> float:
    """Erlang C mean wait in queue W_q = C(c, a) / (c mu - lambda)."""
    return erlang_c(c, lam / mu) / (c * mu - lam)


def mmck_blocking(c: int, waiting_room: int, a: float) -> float:
    """Blocking probability of M/M/c/K with K = c + waiting_room."""
    p = [a**n / math.factorial(n) for n in range(c + 1)]
    p += [p[c] * (a / c) ** j for j in range(1, waiting_room + 1)]
    return p[-1] / sum(p)


def test_formulas_on_known_values() -> None:
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_b(4, 3.0) == pytest.approx(3.375 / 16.375)
    assert erlang_c(1, 0.8) == pytest.approx(0.8)  # M/M/1: P(wait) = rho
    assert mean_wait(1, 8.0, 10.0) == pytest.approx(0.8 / (10.0 - 8.0))  # rho / (mu - lambda)
    assert mmck_blocking(3, 0, 2.0) == pytest.approx(erlang_b(3, 2.0))
    assert mmck_blocking(1, 2, 0.5) == pytest.approx(0.5**3 * 0.5 / (1 - 0.5**4))


# -- ServerQueue alone ------------------------------------------------------------------------------------


def _drive(servers: int, limit: int, lam: float, mean_service: float, n: int, seed: int) -> np.ndarray:
    """Poisson arrivals with exponential service through a ServerQueue; the wait per request, -1 if refused."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / lam, n)).astype(np.int64).tolist()
    service = rng.exponential(mean_service, n).astype(np.int64).tolist()
    q = ServerQueue(servers, limit)
    waits = np.empty(n, dtype=np.int64)
    for i, (t, s) in enumerate(zip(arrivals, service, strict=True)):
        start = q.admit(t, s)
        waits[i] = start - t if start >= 0 else -1
    return waits


@pytest.mark.parametrize("servers", [1, 3])
def test_server_queue_mean_wait_is_erlang_c(servers: int) -> None:
    mean_s = 10e6  # ns
    mu = 1.0 / mean_s
    lam = 0.8 * servers * mu
    waits = _drive(servers, 10**9, lam, mean_s, 400_000, seed=servers)
    assert (waits >= 0).all()
    w = waits[20_000:]  # skip the start from an empty system
    assert w.mean() == pytest.approx(mean_wait(servers, lam, mu), rel=0.05)
    assert (w > 0).mean() == pytest.approx(erlang_c(servers, lam / mu), rel=0.05)


@pytest.mark.parametrize(("servers", "load"), [(1, 0.7), (4, 3.0), (8, 7.5)])
def test_server_queue_without_waiting_room_blocks_like_erlang_b(servers: int, load: float) -> None:
    mean_s = 10e6
    waits = _drive(servers, 0, load / mean_s, mean_s, 200_000, seed=7 + servers)
    assert ((waits == 0) | (waits == -1)).all()  # admitted at once or refused, never queued
    assert (waits == -1).mean() == pytest.approx(erlang_b(servers, load), rel=0.03)


def test_server_queue_with_finite_waiting_room_blocks_like_mmck() -> None:
    mean_s = 10e6
    servers, room, load = 2, 3, 1.8
    waits = _drive(servers, room, load / mean_s, mean_s, 200_000, seed=5)
    assert (waits == -1).mean() == pytest.approx(mmck_blocking(servers, room, load), rel=0.05)
    assert (waits > 0).any()


# -- the engine's HSS ---------------------------------------------------------------------------------------


def _scenario(servers: int, mean_ms: int, roamers: int, window_s: int) -> dict[str, Any]:
    return {
        "name": f"mmc-{servers}",
        "seed": 5,
        "window": {"start": "2027-07-03T00:00:00Z", "duration": f"{window_s}s"},
        "operators": [
            {"id": "hh", "plmn": "234-15", "country": "GB",
             "hss": {"servers": servers, "service": {"exponential": {"mean": f"{mean_ms}ms"}},
                     "queue_limit": 10_000_000, "transient_errors": 0}},
            {"id": "vv", "plmn": "214-01", "country": "ES", "welcome_sms": False},
        ],
        "ipx": {"jitter": 0},
        "agreements": [{"home": "hh", "visited": ["vv"]}],
        "cohorts": [{"name": "once", "home": "hh", "roamers": roamers, "destinations": {"ES": 1},
                     "arrivals": {"profile": "flat"}, "stay": "30d", "activity": QUIET_ACTIVITY,
                     "usage": {"sessions_per_day": 0, "sms_mt_per_day": 0, "sms_mo_per_day": 0}}],
    }


@pytest.mark.parametrize("servers", [1, 4])
def test_hss_mean_wait_is_erlang_c(servers: int, tmp_path: Path) -> None:
    rho, window_s = 0.8, 7200
    mean_s = 0.010 * servers  # keeps the number of roamers the same for every c
    mu = 1.0 / mean_s
    # lambda = 2 requests per roamer / window; rho = lambda E[S] / c.
    roamers = round(rho * servers * window_s / (2 * mean_s))
    lam = 2 * roamers / window_s
    assert lam * mean_s / servers == pytest.approx(rho, rel=1e-4)

    run(_scenario(servers, round(mean_s * 1000), roamers, window_s), tmp_path / "run")
    tx = read(tmp_path / "run", "transactions")
    assert np.char.endswith(tx["responder"], ".hss").all()
    assert (tx["result_code"] == 2001).all() and not tx["timed_out"].any()
    assert sorted(np.unique(tx["command"], return_counts=True)[1].tolist()) == [roamers, roamers]

    # Steady state: leave out the first minute (empty HSS) and the last seconds (ULRs only).
    t = (tx["request_time"] - tx["request_time"].min()) / NS
    steady = (t >= 60) & (t < window_s - 10)
    service = tx["service_ns"][steady] / NS
    assert service.mean() == pytest.approx(mean_s, rel=0.01)
    busy = tx["service_ns"].sum() / NS / (servers * window_s)
    assert busy == pytest.approx(rho, rel=0.01)
    wait = tx["queue_wait_ns"][steady] / NS
    assert wait.mean() == pytest.approx(mean_wait(servers, lam, mu), rel=0.05)
    assert (wait > 0).mean() == pytest.approx(erlang_c(servers, lam / mu), rel=0.05)
