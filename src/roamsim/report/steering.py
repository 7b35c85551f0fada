"""The steering funnel per policy: steered roamers → rejects → where they registered.

For one steering policy (home operator, visited country; GSMA IR.73 reject-based
steering at the home DEA) and its registration attempts in that country:

- *steered roamers*: roamers with at least one attempt rejected by steering
  (the procedures' ``steered`` flag); *rejects*: those attempts;
- of the steered roamers, by their first successful registration in the country
  after their first steering reject: *landed on a preferred partner*, *accepted
  by a non-preferred partner* (the policy gave up: ``max_rejects`` or ``window``
  reached), or *not registered* before the end of the window.

The first two figures are those of ``kpis.json`` (``steering.<policy>``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Policy:
    """A steering policy as the manifest's resolved scenario states it."""

    key: str
    """``"<home PLMN> in <country>"``, the key of ``kpis.json``'s ``steering``."""
    home_plmn: str
    country: str
    preferred_plmns: frozenset[str]
    country_plmns: frozenset[str]
    cap: str
    """How the policy gives up, e.g. ``"after 5 rejects"``."""


@dataclass(frozen=True)
class Funnel:
    """One policy's funnel (roamer counts; ``rejects`` counts attempts)."""

    policy: Policy
    steered_roamers: int
    rejects: int
    landed_on_preferred: int
    accepted_after_cap: int
    not_registered: int


@dataclass
class FunnelRows:
    """Registration attempts of steered homes in steered countries, gathered row group by row group."""

    imsi: list[np.ndarray] = field(default_factory=list)
    start: list[np.ndarray] = field(default_factory=list)
    end: list[np.ndarray] = field(default_factory=list)
    policy: list[np.ndarray] = field(default_factory=list)
    visited_preferred: list[np.ndarray] = field(default_factory=list)
    steered: list[np.ndarray] = field(default_factory=list)
    success: list[np.ndarray] = field(default_factory=list)

    def add(self, imsi: np.ndarray, start: np.ndarray, end: np.ndarray, policy: np.ndarray,
            visited_preferred: np.ndarray, steered: np.ndarray, success: np.ndarray) -> None:
        for name, arr in (("imsi", imsi), ("start", start), ("end", end), ("policy", policy),
                          ("visited_preferred", visited_preferred), ("steered", steered), ("success", success)):
            getattr(self, name).append(arr)


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def funnels(policies: list[Policy], rows: FunnelRows) -> list[Funnel]:
    """The funnel of each policy from the gathered attempts."""
    imsi, start, end = _cat(rows.imsi, np.int64), _cat(rows.start, np.int64), _cat(rows.end, np.int64)
    pol, pref = _cat(rows.policy, np.int64), _cat(rows.visited_preferred, np.bool_)
    steered, success = _cat(rows.steered, np.bool_), _cat(rows.success, np.bool_)
    out = []
    for j, p in enumerate(policies):
        m = pol == j
        st = m & steered
        roamers, first_reject_at = _first_by_roamer(imsi[st], start[st])
        landed = accepted = 0
        ok = np.nonzero(m & success)[0]
        if roamers.size and ok.size:
            # Each steered roamer's successful attempts after its first reject, earliest first.
            k = np.searchsorted(roamers, imsi[ok])
            k_in = np.minimum(k, roamers.size - 1)
            mine = (roamers[k_in] == imsi[ok]) & (start[ok] >= first_reject_at[k_in])
            ok, k_in = ok[mine], k_in[mine]
            order = np.lexsort((end[ok], k_in))
            first = order[np.r_[True, k_in[order][1:] != k_in[order][:-1]]] if order.size else order
            landed = int(pref[ok[first]].sum())
            accepted = int(first.size - landed)
        out.append(Funnel(p, int(roamers.size), int(st.sum()), landed, accepted,
                          int(roamers.size) - landed - accepted))
    return out


def _first_by_roamer(imsi: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct IMSIs (sorted) and the earliest time of each."""
    if not imsi.size:
        return imsi, t
    order = np.lexsort((t, imsi))
    s = imsi[order]
    first = np.r_[True, s[1:] != s[:-1]]
    return s[first], t[order][first]
