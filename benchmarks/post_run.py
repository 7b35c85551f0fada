"""Post-run phases of a run: kpis.json (``compute_kpis``) and report.html (``write_report``).

Builds a run directory of the 1,000,000-roamer example at ``--scale`` (default 0.2; the
example's fixed seed) or takes one with ``--run-dir``, then times both phases in fresh
child processes, as ``roamsim run`` calls them (one shared read of the Parquet files
when the implementation offers it), best of ``--repeat``. With ``--baseline REV`` the
implementation of git revision REV (``git archive``, nothing checked out) runs
alternately with the working tree's on the same directory: both sets of times, their
ratio and whether both wrote the same bytes. Absolute times move 10-30 % between runs
on these machines; compare the ratio.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "src" / "roamsim" / "examples" / "scale-1m.yaml"

TIMER = """
import inspect, json, sys, time
from pathlib import Path
from roamsim.api import _write_json
from roamsim.report import write_report
from roamsim.scenario import scenario_from_data
from roamsim.sinks.kpis import compute_kpis
from roamsim.world.model import compile_world

run, out = Path(sys.argv[1]), Path(sys.argv[2])
scenario = scenario_from_data(json.loads((run / "manifest.json").read_text(encoding="utf-8"))["scenario"])
world = compile_world(scenario)
shared = {}
if "columns" in inspect.signature(compute_kpis).parameters:
    from roamsim.report.columns import RunColumns
    shared = {"columns": RunColumns(run)}
mark = time.perf_counter()
_write_json(out / "kpis.json", compute_kpis(run, scenario, world, **shared))
kpis_s = time.perf_counter() - mark
mark = time.perf_counter()
write_report(run, out / "report.html", **shared)
print(json.dumps({"kpis_s": kpis_s, "report_s": time.perf_counter() - mark}))
"""


def build_run(scale: float, out: Path) -> None:
    subprocess.run([sys.executable, "-m", "roamsim", "run", str(EXAMPLE), "--scale", str(scale), "-o", str(out)],
                   check=True, stdout=subprocess.DEVNULL)


def baseline_src(rev: str, into: Path) -> Path:
    """The ``src`` tree of git revision ``rev``, extracted with ``git archive``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev, "src"], check=True,
                             capture_output=True).stdout
    tar = into / "src.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(into, filter="data")
    return into / "src"


def time_phases(src: Path, run: Path, out: Path) -> dict[str, float]:
    """Both phases' seconds, in a child process importing roamsim from ``src``."""
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run([sys.executable, "-c", TIMER, str(run), str(out)], check=True, env=env,
                          capture_output=True, text=True)
    times: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return times


def rows(run: Path) -> int:
    counts = json.loads((run / "manifest.json").read_text(encoding="utf-8"))["counts"]
    return int(counts["procedures"] + counts["transactions"] + counts["messages"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.2, help="roamer scale of the example (1.0 = one million)")
    ap.add_argument("--run-dir", type=Path, help="time this finished run directory instead of building one")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each implementation (best is kept)")
    ap.add_argument("--baseline", metavar="REV", help="also time the implementation of this git revision")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        run = args.run_dir
        if run is None:
            run = tmp / "run"
            mark = time.perf_counter()
            build_run(args.scale, run)
            print(f"run of {EXAMPLE.name} --scale {args.scale} built in {time.perf_counter() - mark:.1f} s")
        contenders = {"current": ROOT / "src"}
        if args.baseline:
            contenders = {f"baseline {args.baseline}": baseline_src(args.baseline, tmp), **contenders}
        best: dict[str, dict[str, float]] = {}
        for _ in range(args.repeat):
            for name, src in contenders.items():
                t = time_phases(src, run, tmp / name.replace(" ", "-"))
                b = best.setdefault(name, t)
                for k, v in t.items():
                    b[k] = min(b[k], v)
        n = rows(run)
        for name, b in best.items():
            total = b["kpis_s"] + b["report_s"]
            print(f"{name}: kpis {b['kpis_s']:.2f} s, report {b['report_s']:.2f} s, total {total:.2f} s "
                  f"({n / total / 1e6:.2f} M rows/s over {n:,} procedure, transaction and message rows)")
        if args.baseline:
            o, c = best.values()
            dirs = [tmp / name.replace(" ", "-") for name in best]
            same = all(filecmp.cmp(dirs[0] / f, dirs[1] / f, shallow=False) for f in ("kpis.json", "report.html"))
            print(f"speed-up: kpis {o['kpis_s'] / c['kpis_s']:.2f}x, report {o['report_s'] / c['report_s']:.2f}x, "
                  f"total {(o['kpis_s'] + o['report_s']) / (c['kpis_s'] + c['report_s']):.2f}x; "
                  f"same kpis.json and report.html bytes: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
