"""Wall time and peak memory of `roamsim run` on the 1,000,000-roamer example (issue 2: ≤ 2 min, ≤ 4 GiB).

Runs the CLI in a child process and reads its peak resident set size from
``getrusage(RUSAGE_CHILDREN)``. With ``--pcap-sample F`` it runs a second time
with a capture and prints the cost ratio (issue 3: ≤ 2× at F = 0.1). Absolute
times move 10–30% between runs on these machines; the ratio is measured in one run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "src" / "roamsim" / "examples" / "scale-1m.yaml"


def run(out: Path, *extra: str) -> tuple[float, dict[str, float]]:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "roamsim", "run", str(EXAMPLE), "-o", str(out), *extra], check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    phases = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["phases"]
    return wall, phases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", type=float, default=1.0, help="roamer scale (1.0 = one million)")
    ap.add_argument("--pcap-sample", type=float, default=None, help="also run with a capture at this sample")
    args = ap.parse_args()
    scale = ["--scale", str(args.scale)]
    with tempfile.TemporaryDirectory() as tmp:
        wall, phases = run(Path(tmp) / "plain", *scale)
        peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
        print(f"roamsim run {EXAMPLE.name} --scale {args.scale}: {wall:.1f} s wall, peak RSS {peak_gib:.2f} GiB")
        print("  phases: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(phases.items())))
        if args.pcap_sample is not None:
            wall2, phases2 = run(Path(tmp) / "pcap", *scale, "--pcap-sample", str(args.pcap_sample))
            print(f"with --pcap-sample {args.pcap_sample}: {wall2:.1f} s wall "
                  f"({wall2 / wall:.2f}x the run without a capture; traces {phases2.get('traces_s', 0):.1f} s)")


if __name__ == "__main__":
    main()
