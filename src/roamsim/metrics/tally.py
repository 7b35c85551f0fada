"""Group observations by their labels (and, for a time series, by time bin).

Sums are exact int64 (counts, gauge deltas, histogram sums in nanoseconds),
so the order in which batches arrive never changes a value.
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


def _sum_by(key: np.ndarray, values: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys and the sum of ``values`` (or the row count) for each."""
    if key.size == 0:
        return key, np.zeros(0, dtype=np.int64)
    if values is None:
        top = int(key.max()) + 1
        if top <= 1 << 22:
            counts = np.bincount(key, minlength=top)
            uniq = np.nonzero(counts)[0]
            return uniq, counts[uniq].astype(np.int64)
        uniq, counts = np.unique(key, return_counts=True)
        return uniq, counts.astype(np.int64)
    top = int(key.max()) + 1
    v = values.astype(np.int64, copy=False)
    if top <= 1 << 22 and key.size < 1 << 28 and int(np.abs(v).max()) < 1 << 40:
        # Exact integer sums without sorting: two float64 bincounts of 24-bit halves stay below 2**53.
        rows = np.bincount(key, minlength=top)
        uniq = np.nonzero(rows)[0]
        hi = np.bincount(key, weights=(v >> 24).astype(np.float64), minlength=top)[uniq]
        lo = np.bincount(key, weights=(v & 0xFFFFFF).astype(np.float64), minlength=top)[uniq]
        return uniq, (np.rint(hi).astype(np.int64) << 24) + np.rint(lo).astype(np.int64)
    order = np.argsort(key, kind="stable")
    ks = key[order]
    starts = np.nonzero(np.r_[True, ks[1:] != ks[:-1]])[0]
    return ks[starts], np.add.reduceat(v[order], starts)


def _compose(parts: list[tuple[np.ndarray, Names]], *extra: tuple[np.ndarray, int]) -> tuple[np.ndarray, list[int]]:
    radices = [max(1, len(names)) for _, names in parts] + [r for _, r in extra]
    n = parts[0][0].shape[0] if parts else extra[0][0].shape[0]
    key = np.zeros(n, dtype=np.int64)
    for (c, _), r in zip(parts, radices, strict=False):
        key = key * r + c
    for c, r in extra:
        if r > 1:  # a radix of 1 has only the digit 0
            key = key * r + c
    if float(np.prod(np.asarray(radices, dtype=np.float64))) >= 2.0**62:
        raise OverflowError(f"label space too large to tally: radices {radices}")
    return key, radices


def _decode(keys: np.ndarray, radices: list[int]) -> list[list[int]]:
    """Mixed-radix keys → one list of digits per key (most significant first)."""
    digits: list[np.ndarray] = []
    k = keys.copy()
    for r in reversed(radices):
        digits.append(k % r)
        k //= r
    cols = [d.tolist() for d in reversed(digits)]
    return [list(row) for row in zip(*cols, strict=True)] if cols else [[] for _ in range(keys.size)]


def _labels(parts: list[tuple[np.ndarray, Names]], digits: list[int]) -> Labels:
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
    n = obs.times.shape[0]
    b = np.zeros(n, dtype=np.int64) if bins is None else bins
    if BY_NAME[obs.family].kind == "histogram":
        if obs.values is None:
            raise ValueError(f"{obs.family}: a histogram observation needs values")
        bucket = np.searchsorted(BUCKET_BOUNDS_NS, obs.values, side="left").astype(np.int64)
        key, radices = _compose(obs.parts, (b, nbins), (bucket, NBUCKETS))
        uniq, counts = _sum_by(key, None)
        cells: dict[tuple[Labels, int], HistogramCell] = {}
        for digits, c in zip(_decode(uniq, radices), counts.tolist(), strict=True):
            k = (_labels(obs.parts, digits[:-2]), digits[-2])
            cell = cells.setdefault(k, HistogramCell())
            cell.counts[digits[-1]] += c
        key, radices = _compose(obs.parts, (b, nbins))
        uniq, sums = _sum_by(key, obs.values)
        for digits, s in zip(_decode(uniq, radices), sums.tolist(), strict=True):
            cells[(_labels(obs.parts, digits[:-1]), digits[-1])].sum_ns += s
        return cells
    key, radices = _compose(obs.parts, (b, nbins))
    uniq, sums = _sum_by(key, obs.values)
    return {(_labels(obs.parts, d[:-1]), d[-1]): s for d, s in zip(_decode(uniq, radices), sums.tolist(), strict=True)}
