"""The run's metrics as a time series over simulated time, in OpenMetrics 1.0, for backfilling.

Every ``step`` of the simulated window gets one point per series, stamped with
its simulated time (ns since the Unix epoch): counters cumulative up to that
point, gauges at that point (active roamers, the simulated clock), histograms
cumulative. Point 0 is the window start (all zeros), the last point the window
end (it includes requests still draining after it), so the samples span the
simulated window exactly. ``promtool tsdb create-blocks-from openmetrics FILE DIR``
turns the file into TSDB blocks at the simulated dates.

The observations are the registry's (:mod:`roamsim.metrics.extract`), binned by
their simulated time; the engine's own counters (events, events per second)
have no simulated-time history and are left out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from roamsim.metrics import extract
from roamsim.metrics.catalogue import DURATION_BUCKETS_S, FAMILIES, Family
from roamsim.metrics.exposition import format_labels, format_le, format_timestamp, format_value, openmetrics_header
from roamsim.metrics.registry import RECORD_FILES, read_manifest, record_batches, run_start
from roamsim.metrics.snapshot import FamilySnapshot, SampleSnapshot
from roamsim.metrics.tally import NBUCKETS, NS, HistogramCell, Labels, tally

DEFAULT_STEP_NS = 60 * NS
SKIPPED = frozenset({"roamsim_engine_events_total", "roamsim_engine_events_per_second"})
"""Families with no simulated-time history."""


@dataclass(frozen=True)
class SeriesSummary:
    """What an export wrote."""

    points: int
    """Points per series (window start to window end)."""
    series: int
    """Label sets written (a histogram counts once)."""
    start_ns: int
    end_ns: int


@dataclass
class _Hist:
    counts: np.ndarray
    sums: np.ndarray


class _Series:
    """Per-bin sums of every family, by labels."""

    def __init__(self, nbins: int) -> None:
        self.nbins = nbins
        self.sums: dict[str, dict[Labels, np.ndarray]] = {}
        self.hists: dict[str, dict[Labels, _Hist]] = {}

    def add(self, obs: extract.Observation, bins: np.ndarray) -> None:
        for (labels, b), cell in tally(obs, bins, self.nbins).items():
            if isinstance(cell, HistogramCell):
                h = self.hists.setdefault(obs.family, {}).setdefault(
                    labels, _Hist(np.zeros((self.nbins, NBUCKETS), dtype=np.int64), np.zeros(self.nbins, np.int64)))
                h.counts[b] += cell.counts
                h.sums[b] += cell.sum_ns
            else:
                arr = self.sums.setdefault(obs.family, {}).setdefault(labels, np.zeros(self.nbins, dtype=np.int64))
                arr[b] += cell


def _at_points(per_bin: np.ndarray) -> np.ndarray:
    """Per-bin sums → cumulative values at points 0..nbins (point k sums bins < k)."""
    zero = np.zeros((1, *per_bin.shape[1:]), dtype=per_bin.dtype)
    return np.concatenate([zero, np.cumsum(per_bin, axis=0)])


def _family_lines(fam: Family, data: _Series, times: np.ndarray, info: Labels) -> Iterator[str]:
    """One family's lines; each label set's points in time order (hot path: plain string building)."""
    header, name = openmetrics_header(FamilySnapshot(fam.name, fam.kind, fam.help, fam.unit,
                                                     [SampleSnapshot({}, 1.0)] if fam.name.endswith("_info") else []))
    yield from header
    ts = [format_timestamp(t, True) for t in times.tolist()]
    if fam.name == "roamsim_run_info":
        prefix = f"{name}{format_labels(dict(zip(fam.labels, info, strict=True)))} 1"
        for t in ts:
            yield prefix + t
    elif fam.name == "roamsim_simulated_time_seconds":
        for t_ns, t in zip(times.tolist(), ts, strict=True):
            yield f"{name} {format_value(t_ns / NS)}{t}"
    elif fam.kind == "histogram":
        les = [format_le(b) for b in (*DURATION_BUCKETS_S, float("inf"))]
        for labels, h in sorted(data.hists.get(fam.name, {}).items()):
            lab = dict(zip(fam.labels, labels, strict=True))
            bucket_prefix = [f"{name}_bucket{format_labels(lab, ('le', le))} " for le in les]
            count_prefix = f"{name}_count{format_labels(lab)} "
            sum_prefix = f"{name}_sum{format_labels(lab)} "
            cum = np.cumsum(_at_points(h.counts), axis=1).tolist()
            sums = _at_points(h.sums).tolist()
            for k, t in enumerate(ts):
                row = cum[k]
                for bp, c in zip(bucket_prefix, row, strict=True):
                    yield f"{bp}{c}{t}"
                yield f"{count_prefix}{row[-1]}{t}"
                yield f"{sum_prefix}{format_value(sums[k] / NS)}{t}"
    else:
        for labels, arr in sorted(data.sums.get(fam.name, {}).items()):
            prefix = f"{name}{format_labels(dict(zip(fam.labels, labels, strict=True)))} "
            for t, v in zip(ts, _at_points(arr).tolist(), strict=True):
                yield f"{prefix}{v}{t}"


def export_openmetrics(run_dir: str | Path, out: TextIO, step_ns: int = DEFAULT_STEP_NS) -> SeriesSummary:
    """Write the OpenMetrics time series of the finished run ``run_dir`` to ``out`` (ends with ``# EOF``)."""
    if step_ns <= 0:
        raise ValueError(f"the step must be positive, got {step_ns} ns")
    run_dir = Path(run_dir)
    start = run_start(run_dir, read_manifest(run_dir))
    t0, window = start.window_start_ns, start.window_ns
    nbins = max(1, -(-window // step_ns))
    times = np.minimum(t0 + np.arange(nbins + 1, dtype=np.int64) * step_ns, t0 + window)
    data = _Series(nbins)
    registrations = extract.Registrations()
    fns = {"transactions": extract.transactions, "messages": extract.messages, "procedures": extract.procedures}
    for kind in RECORD_FILES:
        for batch in record_batches(run_dir, kind):
            observations = fns[kind](batch)
            if kind == "procedures":
                delta = registrations.apply(batch)
                if delta is not None:
                    observations.append(delta)
            for obs in observations:
                data.add(obs, np.clip((obs.times - t0) // step_ns, 0, nbins - 1))
    series = 0
    info = (start.run_id, start.scenario, start.version)
    for fam in FAMILIES:
        if fam.name in SKIPPED:
            continue
        for line in _family_lines(fam, data, times, info):
            out.write(line)
            out.write("\n")
        series += len(data.hists.get(fam.name, {})) + len(data.sums.get(fam.name, {}))
    out.write("# EOF\n")
    return SeriesSummary(points=nbins + 1, series=series + 2, start_ns=int(times[0]), end_ns=int(times[-1]))


def write_openmetrics(run_dir: str | Path, path: str | Path, step_ns: int = DEFAULT_STEP_NS) -> SeriesSummary:
    """:func:`export_openmetrics` into the file ``path``, written atomically (temporary file, then rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="\n") as f:
            summary = export_openmetrics(run_dir, f, step_ns)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return summary
