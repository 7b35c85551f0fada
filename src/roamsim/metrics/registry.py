"""The metrics registry: the run's metrics, fed with record batches while the engine runs.

A :class:`MetricsRegistry` is a run observer (:class:`roamsim.api.RunObserver`):
it receives each transactions, messages and procedures batch as the event log
writes it (on the writer thread), the engine's progress (on the engine
thread) and the run's start and end. :meth:`MetricsRegistry.snapshot` is the one
read API every exporter uses. :func:`registry_for_run` rebuilds the final
registry of a finished run by feeding it the run directory's Parquet files,
batch by batch, through the same code.
"""

from __future__ import annotations

import datetime as _dt
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from roamsim.api import MANIFEST, RunEnd, RunStart
from roamsim.metrics import extract
from roamsim.metrics.catalogue import DURATION_BUCKETS_S, FAMILIES
from roamsim.metrics.snapshot import FamilySnapshot, SampleSnapshot
from roamsim.metrics.tally import NS, HistogramCell, Labels, tally

if TYPE_CHECKING:
    from roamsim.api import Progress

RECORD_FILES = ("transactions", "messages", "procedures")
"""Record kinds the registry reads (any other kind is ignored)."""

_EXTRACT = {"transactions": extract.transactions, "messages": extract.messages, "procedures": extract.procedures}


class MetricsRegistry:
    """Counters, gauges and histograms of one run (catalogue: :mod:`roamsim.metrics.catalogue`).

    Thread-safe: batches, progress and snapshots may come from different threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sums: dict[str, dict[Labels, int]] = {f.name: {} for f in FAMILIES if f.kind != "histogram"}
        self._hist: dict[str, dict[Labels, HistogramCell]] = {f.name: {} for f in FAMILIES if f.kind == "histogram"}
        self._registrations = extract.Registrations()
        self._info: Labels | None = None
        self._window_start_ns: int | None = None
        self._sim_time_ns: int | None = None
        self._events = 0
        self._events_per_s: float | None = None
        self._last_rate_point: tuple[int, float] | None = None

    # -- run observer ------------------------------------------------------------
    def run_started(self, run: RunStart) -> None:
        """Record the run's identity and put the simulated clock at the window start."""
        with self._lock:
            self._info = (run.run_id, run.scenario, run.version)
            self._window_start_ns = run.window_start_ns
            self._sim_time_ns = run.window_start_ns
            self._last_rate_point = (0, 0.0)

    def record_batch(self, kind: str, batch: pa.RecordBatch) -> None:
        """Count one record batch (``transactions``, ``messages`` or ``procedures``; others are ignored)."""
        fn = _EXTRACT.get(kind)
        if fn is None:
            return
        observations = fn(batch)
        with self._lock:
            if kind == "procedures":
                delta = self._registrations.apply(batch)
                if delta is not None:
                    observations.append(delta)
            for obs in observations:
                self._add(obs)

    def progress(self, p: Progress) -> None:
        """Move the simulated clock and the engine counters."""
        with self._lock:
            self._set_engine(p.sim_time_ns, p.events)
            if self._last_rate_point is not None and p.wall_s > self._last_rate_point[1]:
                ev0, wall0 = self._last_rate_point
                self._events_per_s = (p.events - ev0) / (p.wall_s - wall0)
            self._last_rate_point = (p.events, p.wall_s)

    def run_finished(self, end: RunEnd) -> None:
        """Final engine figures: the event count and the engine phase's mean event rate."""
        with self._lock:
            events = end.counts.get("events")
            if events is not None:
                self._events = int(events)
            engine_s = end.phases.get("engine_s")
            if engine_s:
                self._events_per_s = self._events / engine_s

    def set_engine(self, sim_time_ns: int, events: int) -> None:
        """Set the simulated clock (ns since the window start) and the engine's event count."""
        with self._lock:
            self._set_engine(sim_time_ns, events)

    # -- internals ----------------------------------------------------------------
    def _set_engine(self, sim_time_ns: int, events: int) -> None:
        if self._window_start_ns is not None:
            self._sim_time_ns = self._window_start_ns + sim_time_ns
        self._events = events

    def _add(self, obs: extract.Observation) -> None:
        cells = tally(obs)
        if obs.family in self._hist:
            dest = self._hist[obs.family]
            for (labels, _), cell in cells.items():
                assert isinstance(cell, HistogramCell)
                mine = dest.setdefault(labels, HistogramCell())
                mine.counts += cell.counts
                mine.sum_ns += cell.sum_ns
        else:
            sums = self._sums[obs.family]
            for (labels, _), value in cells.items():
                assert isinstance(value, int)
                sums[labels] = sums.get(labels, 0) + value

    # -- read API ------------------------------------------------------------------
    def snapshot(self) -> list[FamilySnapshot]:
        """Every family of the catalogue with its current samples (sorted by labels)."""
        with self._lock:
            out = []
            for fam in FAMILIES:
                samples: list[SampleSnapshot] = []
                if fam.name == "roamsim_run_info":
                    if self._info is not None:
                        samples.append(SampleSnapshot(dict(zip(fam.labels, self._info, strict=True)), 1.0))
                elif fam.name == "roamsim_simulated_time_seconds":
                    if self._sim_time_ns is not None:
                        samples.append(SampleSnapshot({}, self._sim_time_ns / NS))
                elif fam.name == "roamsim_engine_events_total":
                    samples.append(SampleSnapshot({}, float(self._events)))
                elif fam.name == "roamsim_engine_events_per_second":
                    if self._events_per_s is not None:
                        samples.append(SampleSnapshot({}, float(self._events_per_s)))
                elif fam.kind == "histogram":
                    for labels, cell in sorted(self._hist[fam.name].items()):
                        samples.append(histogram_sample(dict(zip(fam.labels, labels, strict=True)), cell))
                else:
                    for labels, value in sorted(self._sums[fam.name].items()):
                        samples.append(SampleSnapshot(dict(zip(fam.labels, labels, strict=True)), float(value)))
                out.append(FamilySnapshot(fam.name, fam.kind, fam.help, fam.unit, samples))
            return out

    @property
    def run_id(self) -> str | None:
        """The observed run's id (``None`` before it starts)."""
        with self._lock:
            return self._info[0] if self._info is not None else None

    def registered_roamers(self) -> int:
        """Roamers registered now (the sum of ``roamsim_active_roamers``)."""
        with self._lock:
            return self._registrations.active()


def histogram_sample(labels: dict[str, str], cell: HistogramCell, timestamp_ns: int | None = None) -> SampleSnapshot:
    """A histogram cell as a snapshot sample: cumulative buckets, ``+Inf`` last, sum in seconds."""
    cum = np.cumsum(cell.counts).tolist()
    bounds = (*DURATION_BUCKETS_S, float("inf"))
    return SampleSnapshot(labels, None, tuple(zip(bounds, cum, strict=True)), int(cum[-1]), cell.sum_ns / NS,
                          timestamp_ns)


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The run directory's manifest; ``FileNotFoundError``/``ValueError`` when it is not a run directory."""
    path = Path(run_dir) / MANIFEST
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if "run_id" not in data or "window" not in data:
        raise ValueError(f"{path}: not a roamsim manifest")
    return data


def run_start(run_dir: Path, manifest: dict[str, Any]) -> RunStart:
    """The :class:`RunStart` a run directory's manifest describes."""
    start = _dt.datetime.fromisoformat(manifest["window"]["start"])
    return RunStart(run_id=manifest["run_id"], scenario=manifest["scenario_name"],
                    version=manifest["roamsim_version"], window_start_ns=int(start.timestamp() * 1e9),
                    window_ns=int(manifest["window"]["duration_ns"]), run_dir=Path(run_dir))


def record_batches(run_dir: Path, kind: str) -> Iterator[pa.RecordBatch]:
    """The batches of ``kind.parquet`` in file order (one per row group)."""
    pf = pq.ParquetFile(Path(run_dir) / f"{kind}.parquet")
    for rg in range(pf.num_row_groups):
        yield from pf.read_row_group(rg).to_batches()


def registry_for_run(run_dir: str | Path) -> MetricsRegistry:
    """Rebuild the final registry of a finished run from its Parquet files and manifest."""
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    start = run_start(run_dir, manifest)
    reg = MetricsRegistry()
    reg.run_started(start)
    for kind in RECORD_FILES:
        for batch in record_batches(run_dir, kind):
            reg.record_batch(kind, batch)
    counts = manifest.get("counts", {})
    reg.set_engine(start.window_ns if manifest.get("status") == "complete" else 0, int(counts.get("events", 0)))
    reg.run_finished(RunEnd(status=manifest.get("status", "partial"), counts=counts,
                            phases=manifest.get("phases", {}), wall_s=float(manifest.get("wall_time_s", 0.0))))
    return reg
