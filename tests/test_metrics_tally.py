"""``tally`` against a row-by-row sum, over label spaces small and large, values small and large, time bins."""

from __future__ import annotations

import bisect
from collections import defaultdict

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from roamsim.metrics.extract import Observation, Part
from roamsim.metrics.tally import BUCKET_BOUNDS_NS, NBUCKETS, HistogramCell, tally

RADICES = [1, 3, 40, 5_000]
"""Label counts per part: with several large ones the label space exceeds the dense-count limit (2**22)."""


@st.composite
def observations(draw: st.DrawFn) -> tuple[Observation, np.ndarray | None, int]:
    n = draw(st.integers(0, 200))
    radices = draw(st.lists(st.sampled_from(RADICES), min_size=1, max_size=4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from([np.int8, np.int16, np.int64]))
    parts: list[Part] = []
    for i, r in enumerate(radices):
        codes = rng.integers(0, min(r, 3) if draw(st.booleans()) else r, n)  # few or many distinct codes
        parts.append((codes.astype(dtype if r <= 40 else np.int64), [(f"p{i}-{c}",) for c in range(r)]))
    histogram = draw(st.booleans())
    big = draw(st.booleans())
    if histogram:
        values: np.ndarray | None = rng.integers(0, 2**42 if big else 70 * 10**9, n)
        family = "roamsim_procedure_duration_seconds"
    else:
        values = rng.integers(-(2**45) if big else -3, 2**45 if big else 4, n) if draw(st.booleans()) else None
        family = "roamsim_link_messages_total"
    nbins = draw(st.sampled_from([1, 1, 4]))
    bins = rng.integers(0, nbins, n) if draw(st.booleans()) or nbins > 1 else None
    times = rng.integers(0, 10**12, n)
    return Observation(family, parts, times, values), bins, nbins


@settings(max_examples=300, deadline=None)
@given(observations())
def test_tally_equals_a_row_by_row_sum(case: tuple[Observation, np.ndarray | None, int]) -> None:
    obs, bins, nbins = case
    n = obs.times.size
    keys = [(tuple(obs.parts[p][1][int(obs.parts[p][0][i])][0] for p in range(len(obs.parts))),
             0 if bins is None else int(bins[i])) for i in range(n)]
    got = tally(obs, bins, nbins)
    if obs.family == "roamsim_procedure_duration_seconds":
        assert obs.values is not None
        counts: dict[tuple[tuple[str, ...], int], list[int]] = defaultdict(lambda: [0] * NBUCKETS)
        sums: dict[tuple[tuple[str, ...], int], int] = defaultdict(int)
        bounds = BUCKET_BOUNDS_NS.tolist()
        for k, v in zip(keys, obs.values.tolist(), strict=True):
            counts[k][bisect.bisect_left(bounds, v)] += 1
            sums[k] += v
        assert all(isinstance(c, HistogramCell) for c in got.values())
        assert {k: (c.counts.tolist(), c.sum_ns) for k, c in got.items()  # type: ignore[union-attr]
                } == {k: (counts[k], sums[k]) for k in counts}
    else:
        expected: dict[tuple[tuple[str, ...], int], int] = defaultdict(int)
        for i, k in enumerate(keys):
            expected[k] += 1 if obs.values is None else int(obs.values[i])
        assert got == dict(expected)
