"""The library entry point: run a scenario into a run directory."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roamsim.engine.core import Engine
from roamsim.population.build import STREAM_ENGINE, STREAM_POPULATION, build_population, cohort_seed
from roamsim.records.buffers import RecordBuffers
from roamsim.scenario import Scenario
from roamsim.scenario.load import scenario_digest
from roamsim.sinks.eventlog import FILES, ParquetSink
from roamsim.sinks.kpis import compute_kpis
from roamsim.version import __version__
from roamsim.world.model import compile_world

MANIFEST = "manifest.json"
KPIS = "kpis.json"
TRACES = "traces"
S6A_CAPTURE = "s6a.pcapng"


@dataclass(frozen=True)
class TraceOptions:
    """Packet traces written into the run directory's ``traces/`` after the run."""

    sample: float | None = None
    """Keep this fraction of roamers (whole roamers: every message of a sampled IMSI)."""
    capture_point: str = "interconnect"
    """``interconnect`` (a probe at the visited DEA towards the IPX) or ``all`` (every hop)."""


class RunDirError(ValueError):
    """The output directory cannot be used for a run."""


@dataclass(frozen=True)
class Progress:
    """Progress of a running simulation, reported to an optional callback."""

    sim_time_ns: int
    """Simulated time elapsed since the window start."""
    window_ns: int
    """Length of the simulation window."""
    events: int
    """Engine events processed so far."""
    wall_s: float
    """Wall-clock seconds since the run started."""


@dataclass(frozen=True)
class RunSummary:
    """What a finished run wrote."""

    run_dir: Path
    status: str
    """``complete`` or ``partial``."""
    counts: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0


def _write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temporary file, then rename), with stable key order."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _prepare(out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            raise RunDirError(f"{out}: exists and is not a directory")
        entries = list(out.iterdir())
        if entries and not (out / MANIFEST).exists():
            raise RunDirError(f"{out}: exists, is not empty and holds no earlier run; choose another -o DIR")
        for e in entries:
            if e.is_file() and (e.name.startswith(FILES) or e.name.startswith(("manifest", "kpis"))):
                e.unlink()
            elif e.is_dir() and e.name == TRACES:
                shutil.rmtree(e)
    out.mkdir(parents=True, exist_ok=True)


def simulate(
    scenario: Scenario,
    out_dir: str | Path,
    *,
    seed: int | None = None,
    scale: float = 1.0,
    scenario_path: str | Path | None = None,
    progress: Callable[[Progress], None] | None = None,
    traces: TraceOptions | None = None,
) -> RunSummary:
    """Simulate ``scenario`` and write the run directory ``out_dir``.

    ``seed`` overrides the scenario's seed; ``scale`` multiplies every cohort's
    roamer count. ``scenario_path`` is hashed into the manifest when given.
    ``traces`` also writes ``traces/s6a.pcapng`` from the finished records.
    The manifest is written first with status ``running`` and rewritten last
    (``complete``, or ``partial`` after an interruption or failure); the
    Parquet files are always closed properly, so they stay readable.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if traces is not None and traces.sample is not None and not 0 < traces.sample <= 1:
        raise ValueError(f"the trace sample must be in (0, 1], got {traces.sample}")
    wall0 = time.perf_counter()
    out = Path(out_dir)
    # Compile and draw the population first: bad input fails before anything is written.
    phases: dict[str, float] = {}
    mark = time.perf_counter()
    run_seed = scenario.seed if seed is None else seed
    world = compile_world(scenario)
    population = build_population(scenario, world, seed=run_seed, scale=scale)
    phases["population_s"] = round(time.perf_counter() - mark, 3)
    _prepare(out)
    resolved = scenario.model_dump(mode="json", by_alias=True)
    digest = (
        scenario_digest(scenario_path) if scenario_path is not None
        else hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()
    )
    manifest: dict[str, Any] = {
        "run_id": f"{scenario.name}-seed{run_seed}-scale{scale:g}-{digest[:12]}",
        "roamsim_version": __version__,
        "scenario_name": scenario.name,
        "scenario_sha256": digest,
        "scenario_path": str(scenario_path) if scenario_path is not None else None,
        "seed": run_seed,
        "scale": scale,
        "rng": {
            "generator": "numpy PCG64 via SeedSequence(entropy=seed, spawn_key=(crc32(cohort name), stream))",
            "streams": {
                c.name: {"population": list(cohort_seed(run_seed, c.name, STREAM_POPULATION).spawn_key),
                         "engine": list(cohort_seed(run_seed, c.name, STREAM_ENGINE).spawn_key)}
                for c in scenario.cohorts
            },
        },
        "window": {"start": scenario.window.start.isoformat(), "duration_ns": scenario.window.duration},
        "status": "running",
        "files": [],
        "counts": {},
        "scenario": resolved,
    }
    _write_json(out / MANIFEST, manifest)

    t0 = int(scenario.window.start.timestamp() * 1e9)
    sink = ParquetSink(out, world, population.imsi, population.home, t0)
    records = RecordBuffers(sink)
    engine = Engine(scenario, world, population, records, seed=run_seed)

    def report(sim_ns: int, events: int) -> None:
        if progress is not None:
            progress(Progress(sim_ns, scenario.window.duration, events, time.perf_counter() - wall0))

    status = "partial"
    error: str | None = None
    files = [f"{n}.parquet" for n in FILES]
    counts: dict[str, int] = {}

    def finish() -> None:
        manifest.update(status=status, error=error, files=files, counts=counts,
                        wall_time_s=round(time.perf_counter() - wall0, 3), phases=phases)
        _write_json(out / MANIFEST, manifest)

    try:
        try:
            mark = time.perf_counter()
            engine.run(report if progress is not None else None)
            phases["engine_s"] = round(time.perf_counter() - mark, 3)
        finally:
            # Whatever happened, close the Parquet files properly (readable, never corrupt).
            records.flush()
            mark = time.perf_counter()
            sink.close()
            phases["write_tail_s"] = round(time.perf_counter() - mark, 3)
            counts.update(roamers=population.size, events=engine.events, transactions=records.transactions,
                          messages=sink.messages, procedures=records.procedures, sessions=records.sessions)
        mark = time.perf_counter()
        _write_json(out / KPIS, compute_kpis(out, scenario, world))
        files.append(KPIS)
        phases["kpis_s"] = round(time.perf_counter() - mark, 3)
        if traces is not None:
            from roamsim.sinks.pcap import write_capture

            mark = time.perf_counter()
            finish()  # the capture reads the manifest (status still "partial" until it is written)
            (out / TRACES).mkdir(exist_ok=True)
            cap = write_capture(out, out / TRACES / S6A_CAPTURE, sample=traces.sample,
                                capture_point=traces.capture_point)  # type: ignore[arg-type]
            files.append(f"{TRACES}/{S6A_CAPTURE}")
            counts["trace_packets"] = cap.packets
            phases["traces_s"] = round(time.perf_counter() - mark, 3)
        status = "complete"
    except BaseException as exc:  # recorded in the manifest, then re-raised
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise
    finally:
        finish()
    return RunSummary(out, status, counts, manifest["wall_time_s"])
