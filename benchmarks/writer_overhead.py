"""Cost of the event-log writer thread to the engine: a null sink against the real ParquetSink + metrics.

Loads ``--example`` (default the 1M-roamer one), compiles the world and draws
the population once at ``--scale`` (default 0.2), then runs
:class:`roamsim.engine.core.Engine` on it, alternating

- (a) a null sink: the record batches are built (``RecordBuffers``) and dropped;
- (b) what :func:`roamsim.simulate` wires: a ``ParquetSink`` writing the four
  Parquet files, a ``MetricsRegistry`` fed every table on the writer thread
  through ``api._hand_to``, and the engine's progress reports,

``--repeat`` times each, and prints the best engine time of each (``Engine.run``,
which includes the last flush, as the manifest's ``engine_s``) and their ratio
b/a. Each run's engine time is split into the engine thread's CPU time, time it
was ready but had no CPU (Linux schedstat: other processes), time it waited for
a slot in the writer's queue, and the rest: time it waited for the GIL. Also
printed: the writer thread's CPU time and the time (b) needs after the engine
to finish its queue and footers (the manifest's ``write_tail_s``).

Both contenders run in one process, side by side: compare the ratio, not
absolute seconds from different runs. On a shared virtual machine the engine's
own CPU time moves by ±10 % from one run to the next; use ``--repeat 3`` or more.
"""
from __future__ import annotations

import argparse
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from roamsim import load_scenario
from roamsim.api import Progress, RunStart, _hand_to
from roamsim.engine.core import Engine
from roamsim.metrics.registry import MetricsRegistry
from roamsim.population.build import Population, build_population
from roamsim.records.buffers import RecordBuffers
from roamsim.scenario import Scenario
from roamsim.sinks.eventlog import ParquetSink
from roamsim.world.model import World, compile_world

EXAMPLES = Path(__file__).resolve().parent.parent / "src" / "roamsim" / "examples"


class NullSink:
    """Takes every record batch and keeps nothing."""

    def write_transactions(self, cols: dict[str, np.ndarray]) -> None:
        pass

    def write_procedures(self, cols: dict[str, np.ndarray]) -> None:
        pass

    def write_sessions(self, cols: dict[str, np.ndarray]) -> None:
        pass


def _thread_cpu(prefix: str) -> float:
    """CPU seconds of the live thread whose name starts with ``prefix`` (0 when there is none)."""
    for th in threading.enumerate():
        if th.name.startswith(prefix) and th.ident is not None:
            return time.clock_gettime(time.pthread_getcpuclockid(th.ident))
    return 0.0


def _runqueue_wait() -> float:
    """Seconds this thread has waited for a CPU so far (Linux schedstat; 0 elsewhere): other processes'
    load, which the GIL does not explain."""
    try:
        return int(Path("/proc/thread-self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


@dataclass(frozen=True)
class Timing:
    """One engine run."""

    engine_s: float
    """``Engine.run`` wall time (the manifest's ``engine_s``)."""
    engine_cpu_s: float
    """CPU time of the engine's thread meanwhile."""
    runqueue_s: float
    """Time the engine's thread was ready but had no CPU (other processes, or the writer thread)."""
    transactions: int
    queue_wait_s: float = 0.0
    """Time the engine waited for a slot in the writer's queue."""
    tail_s: float = 0.0
    """Time the writer needed after the engine finished (the manifest's ``write_tail_s``)."""
    writer_cpu_s: float = 0.0
    """CPU time of the writer thread during the engine phase."""

    def line(self) -> str:
        gil = self.engine_s - self.engine_cpu_s - self.runqueue_s - self.queue_wait_s
        return (f"engine {self.engine_s:.2f} s = CPU {self.engine_cpu_s:.2f} + no CPU {self.runqueue_s:.2f} "
                f"+ queue {self.queue_wait_s:.2f} + GIL wait {gil:.2f}")


def run_null(s: Scenario, w: World, p: Population, seed: int) -> Timing:
    """The engine with the null sink."""
    records = RecordBuffers(NullSink())
    engine = Engine(s, w, p, records, seed=seed)
    t, cpu, rq = time.perf_counter(), time.thread_time(), _runqueue_wait()
    engine.run()
    return Timing(time.perf_counter() - t, time.thread_time() - cpu, _runqueue_wait() - rq, records.transactions)


def run_real(s: Scenario, w: World, p: Population, seed: int, out: Path) -> Timing:
    """The engine with the event log and the metrics registry, wired as :func:`roamsim.simulate` does."""
    t0 = int(s.window.start.timestamp() * 1e9)
    out.mkdir()
    sink = ParquetSink(out, w, p.imsi, p.home, t0)
    registry = MetricsRegistry()
    sink.table_observers.append(_hand_to([registry]))
    registry.run_started(RunStart("bench", s.name, "bench", t0, s.window.duration, out))
    records = RecordBuffers(sink)
    engine = Engine(s, w, p, records, seed=seed)
    wall0 = time.perf_counter()

    def report(sim_ns: int, events: int) -> None:
        registry.progress(Progress(sim_ns, s.window.duration, events, time.perf_counter() - wall0))

    t, cpu, rq = time.perf_counter(), time.thread_time(), _runqueue_wait()
    engine.run(report)
    engine_s, engine_cpu, runqueue = time.perf_counter() - t, time.thread_time() - cpu, _runqueue_wait() - rq
    records.flush()
    writer_cpu = _thread_cpu("roamsim-parquet")  # read before close() ends the thread
    t = time.perf_counter()
    sink.close()
    queue_wait = getattr(sink, "wait_s", 0.0)  # (not measured by versions before it existed)
    return Timing(engine_s, engine_cpu, runqueue, records.transactions, queue_wait, time.perf_counter() - t,
                  writer_cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--example", default="scale-1m", help="bundled example to run (default scale-1m)")
    ap.add_argument("--scale", type=float, default=0.2, help="roamer scale (scale-1m: 1.0 = one million roamers)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each contender (best is reported)")
    args = ap.parse_args()
    s = load_scenario(EXAMPLES / f"{args.example}.yaml")
    w = compile_world(s)
    p = build_population(s, w, seed=s.seed, scale=args.scale)
    runs: dict[str, list[Timing]] = {"null": [], "real": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            for which in ("null", "real") if i % 2 == 0 else ("real", "null"):
                r = run_null(s, w, p, s.seed) if which == "null" else run_real(s, w, p, s.seed, Path(tmp) / f"{i}")
                runs[which].append(r)
                print(f"  {which}: {r.line()}", flush=True)
    counts = {r.transactions for rs in runs.values() for r in rs}
    if len(counts) != 1:
        raise SystemExit(f"the contenders recorded different transaction counts: {sorted(counts)}")
    a = min(runs["null"], key=lambda r: r.engine_s)
    b = min(runs["real"], key=lambda r: r.engine_s)
    print(f"{args.example} --scale {args.scale:g}: {p.size} roamers, {counts.pop()} transactions, "
          f"best of {args.repeat}")
    print(f"  (a) null sink:              {a.line()}")
    print(f"  (b) ParquetSink + metrics:  {b.line()}")
    print(f"      writer thread CPU {b.writer_cpu_s:.2f} s during the engine phase, then a tail of {b.tail_s:.2f} s")
    print(f"  ratio b/a (engine phase): {b.engine_s / a.engine_s:.3f}; "
          f"(engine + tail)/a: {(b.engine_s + b.tail_s) / a.engine_s:.3f}")
    if max(a.runqueue_s, b.runqueue_s) > 0.02 * a.engine_s:
        print("  note: the engine thread waited for a CPU: other processes are loading this machine")


if __name__ == "__main__":
    main()
