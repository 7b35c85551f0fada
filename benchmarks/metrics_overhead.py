"""Cost of the live metrics registry (issue 5: < 10 %): the same run with and without it, side by side.

Runs ``simulate()`` in this process on the quickstart and on a larger example
(``--example``, default the 1M-roamer one, at ``--scale``), alternating "no observer" (``metrics=False``) and "registry"
(the default: a MetricsRegistry fed every record batch, ``metrics.prom`` at the
end), ``--repeat`` times each, and prints the best wall time of each and their
ratio, and the CPU time the registry's batch handler took (on the event log's
writer thread, beside the engine): on a shared machine the wall ratio is noisy,
the handler's CPU share is not.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from roamsim import load_scenario, simulate
from roamsim.metrics.registry import MetricsRegistry

EXAMPLES = Path(__file__).resolve().parent.parent / "src" / "roamsim" / "examples"


class TimedRegistry(MetricsRegistry):
    """A registry that adds up the CPU time its batch handler takes (the writer thread's, GIL waits excluded)."""

    def __init__(self) -> None:
        super().__init__()
        self.batch_s = 0.0

    def record_batch(self, kind: str, batch: pa.RecordBatch) -> None:
        t = time.thread_time()
        super().record_batch(kind, batch)
        self.batch_s += time.thread_time() - t


def measure(name: str, scale: float, repeat: int, tmp: Path) -> None:
    s = load_scenario(EXAMPLES / f"{name}.yaml")
    runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    handler: list[float] = []
    for i in range(repeat):
        for with_metrics in (False, True) if i % 2 == 0 else (True, False):
            out = tmp / f"{name}-{i}-{with_metrics}"
            t, cpu = time.perf_counter(), time.process_time()
            if with_metrics:
                reg = TimedRegistry()
                simulate(s, out, scale=scale, observers=[reg])
                handler.append(reg.batch_s)
            else:
                simulate(s, out, scale=scale, metrics=False)
            runs[with_metrics].append((time.perf_counter() - t, time.process_time() - cpu))
            shutil.rmtree(out)
    (a, a_cpu), (b, b_cpu) = (min(runs[False]), min(runs[True]))
    a_cpu, b_cpu = min(c for _, c in runs[False]), min(c for _, c in runs[True])
    print(f"{name} --scale {scale:g} (best of {repeat}): without observer {a:.2f} s wall / {a_cpu:.2f} s CPU, "
          f"with the registry {b:.2f} s / {b_cpu:.2f} s: ratio {b / a:.3f} wall, {b_cpu / a_cpu:.3f} CPU; "
          f"registry batch handling {min(handler):.2f} s CPU ({min(handler) / a_cpu:.1%} of the plain run's CPU)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--example", default="scale-1m", help="the larger bundled example to run")
    ap.add_argument("--scale", type=float, default=0.2, help="its scale (scale-1m: 1.0 = one million roamers)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="the quickstart only")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measure("quickstart", 1.0, max(args.repeat, 3), Path(tmp))
        if not args.quick:
            measure(args.example, args.scale, args.repeat, Path(tmp))


if __name__ == "__main__":
    main()
