"""Time bins and latency histograms for the report's time series.

Counts per interval are ``numpy.bincount`` over ``(key, bin)``, so a run of any
size is summarised in memory proportional to keys × bins. Latency
percentiles per interval come from log-spaced histograms (100 bins per decade,
±1.2 % resolution) rather than from the raw values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

NS = 1_000_000_000
MS = 1_000_000
NICE_STEPS_S = (1, 5, 10, 30, 60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 7 * 86400)
MAX_BINS = 400

HIST_MIN_NS = 100_000
"""Lower edge of the latency histogram (0.1 ms); anything faster lands in the first bin."""
HIST_DECADES = 6
HIST_PER_DECADE = 100
HIST_BINS = HIST_DECADES * HIST_PER_DECADE
"""Bins up to 0.1 ms × 10⁶ = 100 s; anything slower lands in the last bin."""


def choose_step(window_ns: int, max_bins: int = MAX_BINS) -> int:
    """The smallest round interval (ns) that cuts the window into at most ``max_bins`` bins."""
    for s in NICE_STEPS_S:
        if -(-window_ns // (s * NS)) <= max_bins:
            return s * NS
    return -(-window_ns // max_bins)


def time_bins(t_ns: np.ndarray, t0_ns: int, step_ns: int, nbins: int) -> np.ndarray:
    """Bin index of each time (clipped into the window)."""
    return np.asarray(np.clip((t_ns - t0_ns) // step_ns, 0, nbins - 1), dtype=np.int64)


def latency_bins(d_ns: np.ndarray) -> np.ndarray:
    """Histogram bin of each latency."""
    x = np.log10(np.maximum(d_ns, HIST_MIN_NS) / HIST_MIN_NS) * HIST_PER_DECADE
    return np.asarray(np.minimum(x.astype(np.int64), HIST_BINS - 1), dtype=np.int64)


def bin_centre_ms(b: np.ndarray) -> np.ndarray:
    """Geometric centre (ms) of histogram bins."""
    return HIST_MIN_NS * 10 ** ((b + 0.5) / HIST_PER_DECADE) / MS


def percentiles(hist: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """Percentiles (ms) per row of a (bins × HIST_BINS) histogram; NaN where a row is empty.

    The q-th percentile is the centre of the bin holding the ceil(q/100 × n)-th smallest value.
    """
    cum = np.cumsum(hist, axis=1)
    n = cum[:, -1]
    out = np.full((hist.shape[0], len(qs)), np.nan)
    nz = n > 0
    for j, q in enumerate(qs):
        rank = np.maximum(np.ceil(q / 100 * n[nz]), 1)
        idx = np.sum(cum[nz] < rank[:, None], axis=1)
        out[nz, j] = bin_centre_ms(idx)
    return out


def distinct(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct keys and each key's position among them (a bincount lookup table for small
    non-negative keys, which is far faster than sorting)."""
    if not keys.size:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    kmax = int(keys.max()) + 1
    if kmax <= 1 << 22 and int(keys.min()) >= 0:
        present = np.nonzero(np.bincount(keys, minlength=kmax))[0]
        lut = np.zeros(kmax, dtype=np.int64)
        lut[present] = np.arange(present.size)
        return present, lut[keys]
    k = np.unique(keys)
    return k, np.searchsorted(k, keys)


def add_counts(acc: dict[Any, np.ndarray], keys: np.ndarray, bins: np.ndarray, nbins: int,
               name: Callable[[int], Any] = int) -> None:
    """Add (key, bin) counts into ``acc`` (``name(key)`` → counts per bin)."""
    if not keys.size:
        return
    k, pos = distinct(keys)
    counts = np.bincount(pos * nbins + bins, minlength=k.size * nbins).reshape(k.size, nbins)
    for i, key in enumerate(k.tolist()):
        label = name(key)
        if label in acc:
            acc[label] += counts[i]
        else:
            acc[label] = counts[i].astype(np.int64)


def add_hist(acc: dict[int, np.ndarray], keys: np.ndarray, bins: np.ndarray, d_ns: np.ndarray,
             nbins: int) -> None:
    """Add latencies into per-key (bins × HIST_BINS) histograms (one bincount for all keys)."""
    if not keys.size:
        return
    k, pos = distinct(keys)
    size = nbins * HIST_BINS
    h = np.bincount((pos * nbins + bins) * HIST_BINS + latency_bins(d_ns), minlength=k.size * size)
    for i, key in enumerate(k.tolist()):
        part = h[i * size:(i + 1) * size].reshape(nbins, HIST_BINS)
        if key in acc:
            acc[key] += part
        else:
            acc[key] = part.astype(np.int64)
