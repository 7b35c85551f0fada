"""Group observations by their labels (and, for a time series, by time bin).

Sums are exact int64 (counts, gauge deltas, histogram sums in nanoseconds),
so the order in which batches arrive never changes a value.

A batch costs a handful of NumPy calls per observation (one mixed-radix key,
one count): the live registry runs on the event log's writer thread, where
every call that releases the GIL then waits for the busy engine to hand it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from roamsim.metrics.catalogue import BY_NAME, DURATION_BUCKETS_S
from roamsim.metrics.extract import Names, Observation

NS = 1_000_000_000
BUCKET_BOUNDS_NS = np.asarray([round(b * NS) for b in DURATION_BUCKETS_S], dtype=np.int64)
NBUCKETS = len(DURATION_BUCKETS_S) + 1
"""Finite buckets plus ``+Inf``."""

Labels = tuple[str, ...]


SPLIT = 1 << 24
"""Values are summed as two float64 bincounts of their high and low 24-bit halves: exact while each half's sum
stays below 2**53."""


def _sum_by(key: np.ndarray, values: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys and the sum of ``values`` (or the row count) for each."""
    if key.size == 0:
        return key.astype(np.int64), np.zeros(0, dtype=np.int64)
    top = int(key.max()) + 1
    if values is None:
        if top <= 1 << 22:
            counts = np.bincount(key, minlength=top)
            uniq = np.flatnonzero(counts)
            return uniq, counts[uniq].astype(np.int64, copy=False)
        uniq, counts = np.unique(key, return_counts=True)
        return uniq.astype(np.int64, copy=False), counts.astype(np.int64, copy=False)
    v = values.astype(np.int64, copy=False)
    if top <= 1 << 22 and key.size < 1 << 28 and int(np.abs(v).max()) < 1 << 40:
        # Exact integer sums without sorting: high and low 24-bit halves each stay below 2**53 when summed.
        rows = np.bincount(key, minlength=top)
        uniq = np.flatnonzero(rows)
        hi, lo = np.divmod(v, SPLIT)
        hi_sum = np.bincount(key, weights=hi, minlength=top)[uniq]
        lo_sum = np.bincount(key, weights=lo, minlength=top)[uniq]
        return uniq, np.rint(hi_sum).astype(np.int64) * SPLIT + np.rint(lo_sum).astype(np.int64)
    order = np.argsort(key, kind="stable")
    ks = key[order]
    starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
    return ks[starts].astype(np.int64, copy=False), np.add.reduceat(v[order], starts)


def _compose(n: int, parts: list[tuple[np.ndarray, Names]], *extra: tuple[np.ndarray | None, int]
             ) -> tuple[np.ndarray, list[int]]:
    """Mixed-radix key of each of the ``n`` rows (most significant part first) and the radices (one per part
    and extra).

    An extra of radix 1 has only the digit 0 (its codes may be ``None``) and is left out of the key; its
    radix is kept, for decoding.
    """
    radices = [max(1, len(names)) for _, names in parts] + [r for _, r in extra]
    if float(np.prod(np.asarray(radices, dtype=np.float64))) >= 2.0**62:
        raise OverflowError(f"label space too large to tally: radices {radices}")
    digits = [c for c, _ in parts] + [c for c, r in extra if r > 1 and c is not None]
    dims = [max(1, len(names)) for _, names in parts] + [r for c, r in extra if r > 1 and c is not None]
    if len(digits) < len(parts) + sum(r > 1 for _, r in extra):
        raise ValueError("codes are needed for every radix above 1")
    if not digits:
        return np.zeros(n, dtype=np.int64), radices
    if len(digits) == 1:
        return digits[0], radices
    return np.ravel_multi_index(tuple(digits), tuple(dims)), radices


def _decode(keys: np.ndarray, radices: list[int]) -> list[tuple[int, ...]]:
    """Mixed-radix keys → one tuple of digits per key (most significant first)."""
    if not radices:
        return [() for _ in range(keys.size)]
    cols = [d.tolist() for d in np.unravel_index(keys, radices)]
    return list(zip(*cols, strict=True))


def _labels(parts: list[tuple[np.ndarray, Names]], digits: tuple[int, ...]) -> Labels:
    out: list[str] = []
    for (_, names), d in zip(parts, digits, strict=False):
        out.extend(names[d])
    return tuple(out)


@dataclass
class HistogramCell:
    """One histogram's bucket counts (not cumulative, ``+Inf`` last) and sum in ns."""

    counts: np.ndarray = field(default_factory=lambda: np.zeros(NBUCKETS, dtype=np.int64))
    sum_ns: int = 0


def tally(obs: Observation, bins: np.ndarray | None = None, nbins: int = 1,
          ) -> dict[tuple[Labels, int], int] | dict[tuple[Labels, int], HistogramCell]:
    """Sum ``obs`` by (labels, time bin); a histogram family gives a :class:`HistogramCell` per key.

    ``bins`` is each row's time bin (all 0 when ``None``)."""
    if bins is None and nbins > 1:
        bins = np.zeros(obs.times.shape[0], dtype=np.int64)
    bin_extra = (bins, nbins)
    if BY_NAME[obs.family].kind == "histogram":
        if obs.values is None:
            raise ValueError(f"{obs.family}: a histogram observation needs values")
        bucket = np.searchsorted(BUCKET_BOUNDS_NS, obs.values, side="left")
        key, radices = _compose(obs.times.shape[0], obs.parts, bin_extra, (bucket, NBUCKETS))
        uniq, counts = _sum_by(key, None)
        cells: dict[tuple[Labels, int], HistogramCell] = {}
        for digits, c in zip(_decode(uniq, radices), counts.tolist(), strict=True):
            k = (_labels(obs.parts, digits[:-2]), digits[-2])
            cell = cells.get(k)
            if cell is None:
                cell = cells[k] = HistogramCell()
            cell.counts[digits[-1]] += c
        # The bucket is the least significant digit: the key without it groups by (labels, bin).
        uniq, sums = _sum_by(key // NBUCKETS, obs.values)
        for digits, s in zip(_decode(uniq, radices[:-1]), sums.tolist(), strict=True):
            cells[(_labels(obs.parts, digits[:-1]), digits[-1])].sum_ns += s
        return cells
    key, radices = _compose(obs.times.shape[0], obs.parts, bin_extra)
    uniq, sums = _sum_by(key, obs.values)
    return {(_labels(obs.parts, d[:-1]), d[-1]): s for d, s in zip(_decode(uniq, radices), sums.tolist(), strict=True)}
