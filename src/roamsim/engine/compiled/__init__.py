"""The compiled engine: the Python engine's semantics for the S6a core, as a numba kernel.

:mod:`kernel` holds the compiled event loop, :mod:`driver` runs it (numba is imported only there).
:func:`unsupported` tells up front whether a scenario stays inside what the kernel covers; when it does not,
:func:`roamsim.api.simulate` runs the Python engine (:class:`roamsim.engine.core.Engine`).
"""

from __future__ import annotations

import numpy as np

from roamsim.engine import base as B
from roamsim.population import build as pop
from roamsim.population.build import Population
from roamsim.scenario.schema import Scenario
from roamsim.world.model import World


class NotCovered(ValueError):
    """The compiled engine was asked for a scenario it does not cover (the message says what)."""


COVERED_EVENTS = frozenset((pop.EV_ARRIVE, pop.EV_LEG, pop.EV_POWER_OFF, pop.EV_PURGE, pop.EV_POWER_ON,
                            pop.EV_MME_CHANGE, pop.EV_NET_CHANGE, pop.EV_IDR, pop.EV_DEPART,
                            pop.EV_SESSION_START, pop.EV_SESSION_END, pop.EV_SMS_MT, pop.EV_SMS_MO))
"""Population events the kernel handles: a roamer's stay and its usage (data sessions, MT and MO SMS)."""

MAX_EXCLUSIONS = 32
"""Most PLMN exclusion slots per roamer the kernel is laid out with (3 int64 each)."""
EXCLUSION_KINDS = 4
"""Forbidden PLMN (#11), forbidden for roaming (#13/#15), attempt counter ran out, barred (#42)."""


def exclusion_slots(world: World, population: Population) -> int:
    """PLMN exclusion slots one roamer can need at most: every kind for every network of every country it visits
    (a network is excluded only in its own country, while the roamer is there; TS 23.122 §3.1)."""
    visits = (population.ev_kind == pop.EV_ARRIVE) | (population.ev_kind == pop.EV_LEG)
    if not visits.any():
        return 1
    per_country = np.asarray([len(world.country_ops[c]) for c in world.countries], dtype=np.int64)
    cohort = population.cohort[population.ev_roamer[visits]].astype(np.int64)
    country = population.ev_param[visits].astype(np.int64)
    pairs = np.unique(cohort * len(world.countries) + country)  # (cohort, country) visited by someone
    networks = np.bincount(pairs // len(world.countries), weights=per_country[pairs % len(world.countries)])
    return max(1, EXCLUSION_KINDS * int(networks.max()))


def unsupported(s: Scenario, world: World, population: Population) -> str | None:
    """Why the kernel cannot run this scenario exactly (None: it can). Checked before the run.

    Covered: 4G (S6a) registrations only, a roamer's stay events, reject-based steering (5G SoR is never taken
    without 5G), and its usage on 4G: data sessions (GTPv2-C over S8 home-routed, or local breakout), MT SMS
    (SRI-for-SM, MT-ForwardSM over SGs, absent subscriber and AlertServiceCentre), MO SMS, welcome SMS.
    Not covered: any 2G/3G/5G registration."""
    slots = exclusion_slots(world, population)
    if slots > MAX_EXCLUSIONS:
        return f"roamers visiting {slots // EXCLUSION_KINDS} networks (more than {MAX_EXCLUSIONS // EXCLUSION_KINDS})"
    kinds = set(np.unique(population.ev_kind).tolist()) - COVERED_EVENTS
    if kinds:
        return f"population events {sorted(kinds)}"
    devices = np.unique(population.device).tolist() if population.device is not None else [B.R4G]
    homes = sorted({world.op_ids.index(c.home) for c in s.cohorts})
    n_ops = len(world.op_ids)
    for d in devices:
        for h in homes:
            for v in range(n_ops):
                rat = world.rat_for(d, h, v)
                if rat not in (-1, B.R4G):
                    return "2G/3G/5G registrations"
    return None
