"""`roamsim export openmetrics`: promtool builds TSDB blocks from it over the simulated window, and a
Prometheus started on those blocks answers with the run's values at its simulated dates."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from metricskit import binary, parse_samples, prometheus, query, quickstart_data, roamsim, samples_by_key
from roamsim import simulate
from roamsim.metrics.exposition import encode_text
from roamsim.metrics.registry import registry_for_run
from runkit import read, scenario

NS = 1_000_000_000
STEP_S = 1800


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("export")
    out = tmp / "run"
    assert simulate(scenario(quickstart_data(errors=True)), out).status == "complete"
    om = tmp / "run.om"
    res = roamsim("export", "openmetrics", str(out), "-o", str(om), "--step", f"{STEP_S}s")
    assert res.returncode == 0, res.stderr
    assert f"wrote {om}" in res.stderr
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return out, om, manifest


def _window_ms(manifest: dict[str, Any]) -> tuple[int, int]:
    start = int(np.datetime64(manifest["window"]["start"].replace("+00:00", ""), "ms").astype(np.int64))
    return start, start + manifest["window"]["duration_ns"] // 1_000_000


def test_series_points_and_final_values(exported: tuple[Path, Path, dict[str, Any]]) -> None:
    out, om, manifest = exported
    text = om.read_text(encoding="utf-8")
    assert text.endswith("# EOF\n") and text.count("# EOF") == 1
    start_ms, end_ms = _window_ms(manifest)
    samples = parse_samples(text)
    stamps = sorted({round(float(ts) * 1000) for *_, ts in samples if ts is not None})
    assert all(ts is not None for *_, ts in samples)
    assert stamps == [*range(start_ms, end_ms, STEP_S * 1000), end_ms]
    # Counters never go down along a series; the last point of every series is the run's final value.
    series: dict[tuple[str, frozenset[tuple[str, str]]], list[float]] = {}
    for name, labels, value, _ in samples:
        series.setdefault((name, frozenset(labels.items())), []).append(value)
    for (name, _), vals in series.items():
        if name.endswith(("_total", "_bucket", "_count")):
            assert vals == sorted(vals), name
            assert vals[0] == 0 and len(vals) == len(stamps)
    final = samples_by_key(encode_text(registry_for_run(out).snapshot(), timestamps=False))
    last = samples_by_key(text)
    engine = {k for k in final if k[0].startswith("roamsim_engine_")}
    assert set(last) == set(final) - engine
    assert {k: v for k, v in final.items() if k not in engine} == last
    # The active-roamer gauge moves up and down over the day (arrivals, departures).
    roamers = [sum(v[i] for (n, _), v in series.items() if n == "roamsim_active_roamers")
               for i in range(len(stamps))]
    assert roamers[0] == 0 and max(roamers) > 0


def _tsdb_list(path: Path) -> list[dict[str, str]]:
    res = subprocess.run([binary("promtool"), "tsdb", "list", str(path)], capture_output=True, text=True,
                         check=True)
    lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
    header = re.split(r"\s{2,}", lines[0].strip())
    return [dict(zip(header, re.split(r"\s{2,}", ln.strip()), strict=True)) for ln in lines[1:]]


def test_promtool_builds_blocks_over_the_simulated_window(exported: tuple[Path, Path, dict[str, Any]],
                                                          tmp_path: Path) -> None:
    out, om, manifest = exported
    blocks = tmp_path / "blocks"
    res = subprocess.run([binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(om), str(blocks)],
                         capture_output=True, text=True, check=False, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    listing = _tsdb_list(blocks)
    assert listing
    start_ms, end_ms = _window_ms(manifest)
    assert min(int(b["MIN TIME"]) for b in listing) == start_ms
    assert max(int(b["MAX TIME"]) for b in listing) == end_ms + 1  # a block's max time is exclusive
    assert sum(int(b["NUM SAMPLES"]) for b in listing) == len(parse_samples(om.read_text(encoding="utf-8")))

    # A Prometheus on those blocks sees the run at its simulated dates.
    messages = read(out, "messages")["time"].size
    with prometheus(tmp_path, storage=blocks) as base:
        at_end = query(base, "sum(roamsim_link_messages_total)", at=end_ms / 1000)
        assert float(at_end[0]["value"][1]) == messages
        at_start = query(base, "sum(roamsim_link_messages_total)", at=start_ms / 1000)
        assert float(at_start[0]["value"][1]) == 0
        mid = float(query(base, "sum(roamsim_link_messages_total)", at=(start_ms + end_ms) / 2000)[0]["value"][1])
        assert 0 < mid < messages
        info = query(base, "roamsim_run_info", at=end_ms / 1000)
        assert info[0]["metric"]["run_id"] == manifest["run_id"]


def test_metrics_prom_passes_promtool(exported: tuple[Path, Path, dict[str, Any]]) -> None:
    out, _, _ = exported
    res = subprocess.run([binary("promtool"), "check", "metrics"], input=(out / "metrics.prom").read_text(),
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0 and not res.stdout and not res.stderr, res.stdout + res.stderr


def test_export_to_stdout_and_bad_input(exported: tuple[Path, Path, dict[str, Any]], tmp_path: Path) -> None:
    out, om, _ = exported
    res = roamsim("export", "openmetrics", str(out), "--step", "30m")
    assert res.returncode == 0 and res.stdout == om.read_text(encoding="utf-8")
    for step in ("500ms", "1.0001s", "soon"):
        res = roamsim("export", "openmetrics", str(out), "--step", step)
        assert res.returncode == 2 and "--step" in res.stderr and "Traceback" not in res.stderr, (step, res.stderr)
    res = roamsim("export", "openmetrics", str(tmp_path / "nothing"))
    assert res.returncode == 2 and "not a run directory" in res.stderr
    assert not list(tmp_path.iterdir())
