"""End to end as a user runs it: the real CLI in a subprocess on the bundled examples."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tsharkkit import S6A, assert_clean

EXAMPLES = Path(__file__).resolve().parent.parent / "src" / "roamsim" / "examples"


def roamsim(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "roamsim", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def check_run(out: Path, expected_roamers: int) -> dict[str, object]:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "complete"
    assert manifest["counts"]["roamers"] == expected_roamers
    for name in ("transactions", "messages", "procedures"):
        assert pq.ParquetFile(out / f"{name}.parquet").metadata.num_rows == manifest["counts"][name]
    assert not list(out.glob("*.part")) and not list(out.glob("*.tmp"))
    kpis: dict[str, object] = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    return kpis


def test_quickstart_end_to_end_with_capture(tmp_path: Path) -> None:
    out = tmp_path / "qs"
    res = roamsim("run", str(EXAMPLES / "quickstart.yaml"), "-o", str(out), "--pcap")
    assert res.returncode == 0, res.stderr
    assert "run complete" in res.stdout and "registration success" in res.stdout
    assert "Traceback" not in res.stderr
    kpis = check_run(out, 4000)
    overall = kpis["overall"]
    assert isinstance(overall, dict)
    # Every roamer tries to register and nearly all eventually do (no outage in this scenario).
    assert overall["registration"]["eventual_success_ratio"] > 0.99
    steering = kpis["steering"]
    assert isinstance(steering, dict)
    uk_es = steering["234-15 in ES"]
    assert uk_es["max_rejects_per_roamer"] <= 5
    # Two Spanish networks of equal coverage: without steering about half would land on es-one.
    assert uk_es["share_on_preferred"] > 0.8
    # One capture per protocol: the quickstart runs every generation, with sessions and SMS.
    for name, expect in (("s6a.pcapng", S6A), ("map.pcapng", "gsm_map"), ("sbi.pcapng", "http2.headers.method"),
                         ("gtp.pcapng", "gtpv2.message_type == 32")):
        assert_clean(out / "traces" / name, expect)


@pytest.mark.slow
def test_summer_example_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "summer"
    res = roamsim("run", str(EXAMPLES / "summer-iberia-italy.yaml"), "-o", str(out), "--scale", "0.25")
    assert res.returncode == 0, res.stderr
    kpis = check_run(out, 30000)
    errors = kpis["overall"]["error_mix"]  # type: ignore[index]
    # uk-gamma has no agreement with es-one: the HSS answers 5004 and the UE forbids the PLMN.
    assert errors["5004 DIAMETER_ERROR_ROAMING_NOT_ALLOWED (experimental)"] > 0


@pytest.mark.slow
def test_one_million_roamers_end_to_end(tmp_path: Path) -> None:
    """The scale example completes and is internally consistent (timing is measured in benchmarks/)."""
    out = tmp_path / "scale"
    res = roamsim("run", str(EXAMPLES / "scale-1m.yaml"), "-o", str(out), timeout=1200)
    assert res.returncode == 0, res.stderr
    kpis = check_run(out, 1_000_000)
    assert kpis["overall"]["registration"]["eventual_success_ratio"] > 0.99  # type: ignore[index]
