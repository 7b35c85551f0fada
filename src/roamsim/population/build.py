"""Cohorts → roamers and their exogenous timelines, vectorised with NumPy.

Each cohort draws from its own random stream (keyed by the cohort's name), so
adding or removing a cohort never changes another cohort's roamers. What a
roamer does on its own initiative (arrive, power-cycle, move between MMEs or
networks, cross a border, go home) is drawn here up front as sorted event
arrays; the engine reacts to them.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from roamsim.scenario.errors import Problem, ScenarioError
from roamsim.scenario.reference import cohort_block_size, msin_digits
from roamsim.scenario.schema import Cohort, Scenario
from roamsim.world.model import World

NS_PER_DAY = 86_400 * 1_000_000_000
NS_PER_MIN = 60 * 1_000_000_000

# Exogenous event kinds, in the order they are applied when simultaneous.
EV_ARRIVE = 0
EV_LEG = 1
EV_POWER_OFF = 2
EV_PURGE = 3
EV_POWER_ON = 4
EV_MME_CHANGE = 5
EV_NET_CHANGE = 6
EV_IDR = 7
EV_DEPART = 8
EV_SESSION_START = 9
EV_SESSION_END = 10
EV_SMS_MT = 11
EV_SMS_MO = 12

STREAM_POPULATION = 0
STREAM_ENGINE = 1
STREAM_DEVICES = 2
STREAM_USAGE = 3
"""Streams per cohort. Devices and usage have their own, so adding them left the older draws unchanged."""
RAT_NAMES = ("2G", "3G", "4G", "5G")

# Relative arrival rate per UTC hour. "airport-banks" follows the morning,
# midday and evening arrival banks of European airports [est, domain notes §2.4].
PROFILES: dict[str, tuple[float, ...]] = {
    "flat": (1.0,) * 24,
    "diurnal": (0.15, 0.1, 0.08, 0.08, 0.12, 0.25, 0.5, 0.8, 1.0, 1.0, 1.0, 1.0,
                1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.95, 0.85, 0.7, 0.5, 0.35, 0.2),
    "airport-banks": (0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.6, 1.0, 1.6, 1.8, 1.3, 0.9,
                      1.0, 1.5, 1.7, 1.2, 0.9, 1.0, 1.5, 1.7, 1.3, 0.8, 0.4, 0.2),
}


IMSI_BLOCKS = 99
"""A cohort's IMSIs share one of 99 MSIN blocks of its home operator (the MSIN's first two digits)."""


def _imsi_block(name: str, taken: set[int]) -> int:
    """The cohort's MSIN block, chosen by its name so that adding or reordering cohorts does not
    renumber another cohort's roamers (only a hash collision, resolved by probing, depends on order)."""
    block = zlib.crc32(name.encode()) % IMSI_BLOCKS
    for _ in range(IMSI_BLOCKS):
        if block + 1 not in taken:
            taken.add(block + 1)
            return block + 1
        block = (block + 1) % IMSI_BLOCKS
    raise ValueError(f"more than {IMSI_BLOCKS} cohorts share one home operator")


def cohort_seed(seed: int, name: str, stream: int) -> np.random.SeedSequence:
    """The seed sequence of one cohort's stream: keyed by the cohort's name, not its position."""
    return np.random.SeedSequence(entropy=seed, spawn_key=(zlib.crc32(name.encode()), stream))


@dataclass
class Population:
    """All roamers (global index r) and their exogenous events sorted by (time, roamer, kind)."""

    imsi: np.ndarray
    """int64 IMSI per roamer."""
    home: np.ndarray
    """int16 home operator per roamer."""
    cohort: np.ndarray
    """int16 cohort index per roamer."""
    ev_time: np.ndarray
    """int64 ns since the window start."""
    ev_roamer: np.ndarray
    ev_kind: np.ndarray
    ev_param: np.ndarray
    device: np.ndarray | None = None
    """int8 best RAT per roamer (index into ``RAT_NAMES``); None means every device is 4G."""
    session_bytes: np.ndarray | None = None
    """int64 data volume of each session (``ev_param`` of EV_SESSION_START/END indexes it)."""

    @property
    def size(self) -> int:
        return int(self.imsi.shape[0])


def _arrival_times(rng: np.random.Generator, c: Cohort, n: int, start_ns: int, window_ns: int) -> np.ndarray:
    """Draw ``n`` arrival offsets from the cohort's rate profile (per-minute bins, surges applied)."""
    bins = max(1, -(-window_ns // NS_PER_MIN))
    edges = np.arange(bins, dtype=np.int64) * NS_PER_MIN
    hour = ((start_ns + edges) // (3600 * 1_000_000_000)) % 24
    weight = np.asarray(PROFILES[c.arrivals.profile], dtype=np.float64)[hour]
    for surge in c.arrivals.surges:
        s0 = int(surge.at.timestamp() * 1e9) - start_ns
        inside = (edges + NS_PER_MIN > s0) & (edges < s0 + surge.for_)
        weight[inside] *= surge.factor
    cdf = np.cumsum(weight)
    cdf /= cdf[-1]
    b = np.searchsorted(cdf, rng.random(n), side="right")
    b = np.minimum(b, bins - 1)
    t = edges[b] + (rng.random(n) * NS_PER_MIN).astype(np.int64)
    return np.sort(np.minimum(t, window_ns - 1))


def _poisson_times(
    rng: np.random.Generator, per_day: float, t0: np.ndarray, t1: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson event times at ``per_day`` within each roamer's [t0, t1); returns (owner, time)."""
    dur = np.maximum(t1 - t0, 0)
    if per_day <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    counts = rng.poisson(per_day * dur / NS_PER_DAY)
    owner = np.repeat(np.arange(t0.shape[0], dtype=np.int64), counts)
    t = t0[owner] + (rng.random(owner.shape[0]) * dur[owner]).astype(np.int64)
    return owner, t


def build_population(s: Scenario, world: World, *, seed: int, scale: float = 1.0) -> Population:
    """Draw every cohort's roamers and merge their events into one sorted timeline."""
    start_ns = int(s.window.start.timestamp() * 1e9)
    window_ns = s.window.duration
    country_idx = {c: i for i, c in enumerate(world.countries)}
    op_idx = {op_id: i for i, op_id in enumerate(world.op_ids)}
    taken: dict[str, set[int]] = {}
    imsis, homes, cohorts, devices = [], [], [], []
    session_bytes: list[np.ndarray] = []
    n_sessions = 0
    ev: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    offset = 0
    for ci, c in enumerate(s.cohorts):
        n = max(1, round(c.roamers * scale))
        rng = np.random.default_rng(cohort_seed(seed, c.name, STREAM_POPULATION))
        h = op_idx[c.home]
        msin_len = msin_digits(world.op_plmn[h])
        block_size = cohort_block_size(world.op_plmn[h])
        block = _imsi_block(c.name, taken.setdefault(c.home, set()))
        if n > block_size:
            raise ScenarioError("--scale", [Problem(
                f"cohorts[{ci}].roamers",
                f"{n:,} roamers after scaling exceed the {block_size:,} IMSIs of one cohort block: "
                "expected a smaller --scale, or split the cohort")])
        imsi = int(world.op_plmn[h].replace("-", "")) * 10**msin_len + block * block_size + np.arange(n, dtype=np.int64)
        imsis.append(imsi)
        homes.append(np.full(n, h, dtype=np.int16))
        cohorts.append(np.full(n, ci, dtype=np.int16))
        drng = np.random.default_rng(cohort_seed(seed, c.name, STREAM_DEVICES))
        rats = sorted(c.devices, key=lambda r: RAT_NAMES.index(r.value))
        dw = np.asarray([c.devices[r] for r in rats], dtype=np.float64)
        devices.append(np.asarray([RAT_NAMES.index(r.value) for r in rats], dtype=np.int8)[
            drng.choice(len(rats), size=n, p=dw / dw.sum())])

        # Trips: a single destination country or a multi-country itinerary.
        trips: list[list[str]] = [[k] for k, w in c.destinations.items() if w > 0]
        weights = [w for w in c.destinations.values() if w > 0]
        trips += [it.countries for it in c.itineraries]
        weights += [it.weight for it in c.itineraries]
        p = np.asarray(weights, dtype=np.float64)
        trip = rng.choice(len(trips), size=n, p=p / p.sum())

        arrive = _arrival_times(rng, c, n, start_ns, window_ns)
        stay = np.maximum(c.stay.sample(rng, n), 1.0).astype(np.int64)
        depart = arrive + stay
        present_end = np.minimum(depart, window_ns)
        local = np.arange(n, dtype=np.int64)

        parts_t = [arrive]
        parts_r = [local]
        parts_k = [np.full(n, EV_ARRIVE, dtype=np.int8)]
        parts_p = [np.asarray([country_idx[trips[t][0]] for t in range(len(trips))], dtype=np.int64)[trip]]
        # Further legs of itineraries split the stay equally.
        for ti, legs in enumerate(trips):
            if len(legs) < 2:
                continue
            who = np.nonzero(trip == ti)[0]
            for j in range(1, len(legs)):
                parts_t.append(arrive[who] + stay[who] * j // len(legs))
                parts_r.append(who)
                parts_k.append(np.full(who.shape[0], EV_LEG, dtype=np.int8))
                parts_p.append(np.full(who.shape[0], country_idx[legs[j]], dtype=np.int64))
        act = c.activity
        # Power cycles: off at t, on after the off-duration; the MME purges a UE
        # that stays off longer than purge_after, with purge_probability.
        own, t = _poisson_times(rng, act.power_cycles_per_day, arrive, present_end)
        off = np.maximum(act.off_duration.sample(rng, own.shape[0]), 1.0).astype(np.int64)
        purge = (rng.random(own.shape[0]) < act.purge_probability) & (off > act.purge_after)
        cycle = np.arange(own.shape[0], dtype=np.int64)
        parts_t.append(t)
        parts_r.append(own)
        parts_k.append(np.full(own.shape[0], EV_POWER_OFF, dtype=np.int8))
        parts_p.append(cycle)
        on = (t + off) < present_end[own]
        parts_t.append((t + off)[on])
        parts_r.append(own[on])
        parts_k.append(np.full(int(on.sum()), EV_POWER_ON, dtype=np.int8))
        parts_p.append(cycle[on])
        pur = purge & ((t + act.purge_after) < present_end[own])
        parts_t.append((t + act.purge_after)[pur])
        parts_r.append(own[pur])
        parts_k.append(np.full(int(pur.sum()), EV_PURGE, dtype=np.int8))
        parts_p.append(cycle[pur])
        for kind, rate in ((EV_MME_CHANGE, act.mme_changes_per_day), (EV_NET_CHANGE, act.network_changes_per_day),
                           (EV_IDR, act.idr_per_day)):
            own, t = _poisson_times(rng, rate, arrive, present_end)
            parts_t.append(t)
            parts_r.append(own)
            parts_k.append(np.full(own.shape[0], kind, dtype=np.int8))
            parts_p.append(np.zeros(own.shape[0], dtype=np.int64))
        # Usage (own stream): data sessions with their volume, MT and MO SMS.
        urng = np.random.default_rng(cohort_seed(seed, c.name, STREAM_USAGE))
        use = c.usage
        own, t = _poisson_times(urng, use.sessions_per_day, arrive, present_end)
        dur = np.maximum(use.session_duration.sample(urng, own.shape[0]), 1e9).astype(np.int64)
        per_session = use.data_per_day.sample(urng, own.shape[0]) / max(use.sessions_per_day, 1e-9)
        sid = n_sessions + np.arange(own.shape[0], dtype=np.int64)
        n_sessions += own.shape[0]
        session_bytes.append(np.maximum(per_session, 0).astype(np.int64))
        ends = (t + dur) < present_end[own]
        parts_t += [t, (t + dur)[ends]]
        parts_r += [own, own[ends]]
        parts_k += [np.full(own.shape[0], EV_SESSION_START, dtype=np.int8),
                    np.full(int(ends.sum()), EV_SESSION_END, dtype=np.int8)]
        parts_p += [sid, sid[ends]]
        for kind, rate in ((EV_SMS_MT, use.sms_mt_per_day), (EV_SMS_MO, use.sms_mo_per_day)):
            own, t = _poisson_times(urng, rate, arrive, present_end)
            parts_t.append(t)
            parts_r.append(own)
            parts_k.append(np.full(own.shape[0], kind, dtype=np.int8))
            parts_p.append(np.zeros(own.shape[0], dtype=np.int64))
        gone = depart < window_ns
        parts_t.append(depart[gone])
        parts_r.append(local[gone])
        parts_k.append(np.full(int(gone.sum()), EV_DEPART, dtype=np.int8))
        parts_p.append(np.zeros(int(gone.sum()), dtype=np.int64))
        ev.append((np.concatenate(parts_t), np.concatenate(parts_r) + offset,
                   np.concatenate(parts_k), np.concatenate(parts_p)))
        offset += n

    ev_t = np.concatenate([e[0] for e in ev])
    ev_r = np.concatenate([e[1] for e in ev])
    ev_k = np.concatenate([e[2] for e in ev])
    ev_p = np.concatenate([e[3] for e in ev])
    order = np.lexsort((ev_k, ev_r, ev_t))
    return Population(
        imsi=np.concatenate(imsis),
        home=np.concatenate(homes),
        cohort=np.concatenate(cohorts),
        ev_time=ev_t[order],
        ev_roamer=ev_r[order],
        ev_kind=ev_k[order],
        ev_param=ev_p[order],
        device=np.concatenate(devices),
        session_bytes=np.concatenate(session_bytes) if session_bytes else np.zeros(0, dtype=np.int64),
    )
