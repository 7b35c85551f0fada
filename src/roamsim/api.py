"""The library entry point: run a scenario into a run directory."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import pyarrow as pa

from roamsim.engine import ENGINES, EngineChoice
from roamsim.engine.compiled import NotCovered
from roamsim.engine.compiled import unsupported as compiled_unsupported
from roamsim.engine.core import Engine
from roamsim.population.build import STREAM_ENGINE, STREAM_POPULATION, Population, build_population, cohort_seed
from roamsim.records.buffers import RecordBuffers
from roamsim.report import REPORT_FILE, write_report
from roamsim.report.columns import RunColumns
from roamsim.scenario import Scenario
from roamsim.scenario.load import scenario_digest
from roamsim.sinks.eventlog import FILES, ParquetSink
from roamsim.sinks.kpis import compute_kpis
from roamsim.version import __version__
from roamsim.world.model import World, compile_world

if TYPE_CHECKING:
    from roamsim.engine.compiled.driver import CompiledEngine
    from roamsim.metrics.registry import MetricsRegistry

MANIFEST = "manifest.json"
KPIS = "kpis.json"
METRICS = "metrics.prom"
TRACES = "traces"
S6A_CAPTURE = "s6a.pcapng"
"""The S6a capture's name in ``traces/`` (the other protocols': :data:`roamsim.sinks.pcap.capture.CAPTURE_FILES`)."""


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


@dataclass(frozen=True)
class RunStart:
    """What a run observer learns when the run starts (the manifest has been written)."""

    run_id: str
    scenario: str
    version: str
    window_start_ns: int
    """Start of the simulation window, ns since the Unix epoch."""
    window_ns: int
    run_dir: Path


@dataclass(frozen=True)
class RunEnd:
    """What a run observer learns when the run ends (before the final manifest is written)."""

    status: str
    """``complete`` or ``partial``."""
    counts: dict[str, int]
    phases: dict[str, float]
    wall_s: float


class RunObserver(Protocol):
    """Watches a run as it goes: its start, each record batch as the event log writes it, the engine's
    progress, and its end.

    ``record_batch`` is called on the event log's writer thread, in write order, with kinds named after
    the Parquet files (``transactions``, ``messages``, ``procedures``, ...) and batches of their schemas
    (:mod:`roamsim.records.schema`); the other calls come from the thread that runs :func:`simulate`.
    An exception raised by an observer fails the run.
    """

    def run_started(self, run: RunStart) -> None: ...

    def record_batch(self, kind: str, batch: pa.RecordBatch) -> None: ...

    def progress(self, p: Progress) -> None: ...

    def run_finished(self, end: RunEnd) -> None: ...


def _hand_to(observers: Sequence[RunObserver]) -> Callable[[str, pa.Table], None]:
    """A table observer of the event log that hands each record batch to the run's observers."""

    def observe(kind: str, table: pa.Table) -> None:
        for batch in table.to_batches():
            for o in observers:
                o.record_batch(kind, batch)

    return observe


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
            if e.is_file() and e.name.startswith((*FILES, "manifest", "kpis", "metrics", REPORT_FILE)):
                e.unlink()
            elif e.is_dir() and e.name == TRACES:
                shutil.rmtree(e)
    out.mkdir(parents=True, exist_ok=True)


def _engine_kind(choice: EngineChoice, scenario: Scenario, world: World, population: Population
                 ) -> Literal["python", "compiled"]:
    """Which engine runs this scenario (see :func:`simulate`); checked before anything is written."""
    if choice not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {choice!r}")
    if choice == "python":
        return "python"
    reason = compiled_unsupported(scenario, world, population)
    if reason is None:
        return "compiled"
    if choice == "compiled":
        raise NotCovered(f"the compiled engine does not cover this scenario's {reason}; use the python or auto "
                         "engine")
    return "python"


def simulate(
    scenario: Scenario,
    out_dir: str | Path,
    *,
    seed: int | None = None,
    scale: float = 1.0,
    scenario_path: str | Path | None = None,
    progress: Callable[[Progress], None] | None = None,
    traces: TraceOptions | None = None,
    observers: Sequence[RunObserver] = (),
    metrics: bool = True,
    engine: EngineChoice = "auto",
) -> RunSummary:
    """Simulate ``scenario`` and write the run directory ``out_dir``.

    ``seed`` overrides the scenario's seed; ``scale`` multiplies every cohort's
    roamer count. ``scenario_path`` is hashed into the manifest when given.
    ``traces`` also writes one capture per protocol into ``traces/`` (``s6a.pcapng``, ``map.pcapng``,
    ``sbi.pcapng``, ``gtp.pcapng``) from the finished records.
    ``observers`` watch the run as it goes (:class:`RunObserver`). With ``metrics``
    a :class:`roamsim.metrics.registry.MetricsRegistry` observes the run (the
    first one among ``observers``, or a new one) and its final values are
    written to ``metrics.prom``.
    ``engine``: ``compiled`` runs the numba kernel (:mod:`roamsim.engine.compiled`; an error when the scenario
    uses what it does not cover), ``python`` the Python engine, ``auto`` the kernel whenever it covers the
    scenario. Both write the same bytes.
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
    engine_kind = _engine_kind(engine, scenario, world, population)
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
            "generator": "numpy PCG64 via SeedSequence(entropy=seed, spawn_key=(crc32(cohort name), stream)); the "
                         "engine stream's children 0, 1, 2 draw uniforms, IPX jitter and service times",
            "streams": {
                c.name: {"population": list(cohort_seed(run_seed, c.name, STREAM_POPULATION).spawn_key),
                         "engine": list(cohort_seed(run_seed, c.name, STREAM_ENGINE).spawn_key)}
                for c in scenario.cohorts
            },
        },
        "window": {"start": scenario.window.start.isoformat(), "duration_ns": scenario.window.duration},
        "engine": engine_kind,
        "status": "running",
        "files": [],
        "counts": {},
        "scenario": resolved,
    }
    _write_json(out / MANIFEST, manifest)

    t0 = int(scenario.window.start.timestamp() * 1e9)
    # The compiled engine runs without the GIL: the writer thread builds the tables meanwhile, on the other core.
    sink = ParquetSink(out, world, population.imsi, population.home, t0, tables_on_writer=engine_kind == "compiled")
    watchers: list[RunObserver] = list(observers)
    registry: MetricsRegistry | None = None
    if metrics:
        from roamsim.metrics.registry import MetricsRegistry

        registry = next((o for o in watchers if isinstance(o, MetricsRegistry)), None)
        if registry is None:
            registry = MetricsRegistry()
            watchers.append(registry)
    if watchers:
        # Observers see each table the event log writes, on its writer thread, as it writes it.
        sink.table_observers.append(_hand_to(watchers))
        start = RunStart(manifest["run_id"], scenario.name, __version__, t0, scenario.window.duration, out)
        for o in watchers:
            o.run_started(start)
    records = RecordBuffers(sink)
    runner: Engine | CompiledEngine
    if engine_kind == "compiled":
        from roamsim.engine.compiled.driver import CompiledEngine

        runner = CompiledEngine(scenario, world, population, records, seed=run_seed)
    else:
        runner = Engine(scenario, world, population, records, seed=run_seed)

    def report(sim_ns: int, events: int) -> None:
        p = Progress(sim_ns, scenario.window.duration, events, time.perf_counter() - wall0)
        if progress is not None:
            progress(p)
        for o in watchers:
            o.progress(p)

    status = "partial"
    error: str | None = None
    files = [f"{n}.parquet" for n in FILES]
    counts: dict[str, int] = {}

    ended: list[bool] = []

    def end_observers(how: str) -> None:
        if not ended:
            ended.append(True)
            end = RunEnd(how, dict(counts), dict(phases), round(time.perf_counter() - wall0, 3))
            for o in watchers:
                o.run_finished(end)

    def finish() -> None:
        manifest.update(status=status, error=error, files=files, counts=counts,
                        wall_time_s=round(time.perf_counter() - wall0, 3), phases=phases)
        _write_json(out / MANIFEST, manifest)

    try:
        try:
            mark = time.perf_counter()
            runner.run(report if progress is not None or watchers else None)
            phases["engine_s"] = round(time.perf_counter() - mark, 3)
            if not isinstance(runner, Engine):
                phases["kernel_s"] = round(runner.kernel_s, 3)  # of engine_s, in the compiled event loop
        finally:
            # Whatever happened, close the Parquet files properly (readable, never corrupt).
            records.flush()
            events = runner.events
            del runner  # its state (the compiled engine's arenas: 1 GiB at 1M roamers) is not needed any more
            mark = time.perf_counter()
            sink.close()
            phases["write_tail_s"] = round(time.perf_counter() - mark, 3)
            counts.update(roamers=population.size, events=events, transactions=records.transactions,
                          messages=sink.messages, procedures=records.procedures, sessions=records.sessions)
        mark = time.perf_counter()
        columns = RunColumns(out)  # one read of the Parquet files for the KPIs and the report
        _write_json(out / KPIS, compute_kpis(out, scenario, world, columns))
        files.append(KPIS)
        phases["kpis_s"] = round(time.perf_counter() - mark, 3)
        mark = time.perf_counter()
        write_report(out, columns=columns)
        del columns
        files.append(REPORT_FILE)
        phases["report_s"] = round(time.perf_counter() - mark, 3)
        if traces is not None:
            from roamsim.sinks.pcap.capture import CAPTURE_FILES, protocols_in, write_capture

            mark = time.perf_counter()
            finish()  # the capture reads the manifest (status still "partial" until it is written)
            (out / TRACES).mkdir(exist_ok=True)
            counts["trace_packets"] = 0
            for protocol in protocols_in(out):
                name = CAPTURE_FILES[protocol]
                cap = write_capture(out, out / TRACES / name, sample=traces.sample, protocol=protocol,
                                    capture_point=traces.capture_point)  # type: ignore[arg-type]
                files.append(f"{TRACES}/{name}")
                counts["trace_packets"] += cap.packets
            phases["traces_s"] = round(time.perf_counter() - mark, 3)
        end_observers("complete")
        if registry is not None:
            from roamsim.metrics.exposition import write_textfile

            mark = time.perf_counter()
            write_textfile(registry.snapshot(), out / METRICS)
            files.append(METRICS)
            phases["metrics_s"] = round(time.perf_counter() - mark, 3)
        status = "complete"
    except BaseException as exc:  # recorded in the manifest, then re-raised
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        end_observers("partial")
        raise
    finally:
        finish()
    return RunSummary(out, status, counts, manifest["wall_time_s"])
