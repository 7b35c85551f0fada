"""The run directory: an interrupted run stays readable, unusable directories are refused, reruns replace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from roamsim import simulate
from roamsim.api import Progress, RunDirError
from roamsim.engine.compiled import driver
from runkit import FILES, read, run, scenario


def _scenario(name: str, roamers: int, duration: str = "1d") -> dict[str, Any]:
    return {
        "name": name,
        "seed": 3,
        "window": {"start": "2027-07-03T00:00:00Z", "duration": duration},
        "operators": [
            {"id": "uk-alpha", "plmn": "234-15", "country": "GB", "hss": {"transient_errors": "1%"}},
            {"id": "es-one", "plmn": "214-01", "country": "ES"},
            {"id": "es-two", "plmn": "214-03", "country": "ES"},
        ],
        "agreements": [{"home": "uk-alpha", "visited": ["es-one", "es-two"]}],
        "steering": [{"home": "uk-alpha", "country": "ES", "preferred": ["es-one"]}],
        "cohorts": [{"name": "uk", "home": "uk-alpha", "roamers": roamers, "destinations": {"ES": 1},
                     "arrivals": {"profile": "flat"},
                     "activity": {"power_cycles_per_day": 3, "mme_changes_per_day": 3, "idr_per_day": 1}}],
    }


def _manifest(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    return data


def _interrupt_after_first_report(run_dir: Path, data: dict[str, Any]) -> list[Progress]:
    reports: list[Progress] = []

    def progress(p: Progress) -> None:
        reports.append(p)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simulate(scenario(data), run_dir, progress=progress)
    return reports


def test_an_interrupted_run_is_partial_and_readable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(driver, "PROGRESS_EVERY", 200_000)  # the compiled engine (auto) reports as the Python one
    out = tmp_path / "run"
    data = _scenario("interrupted", 20_000)
    reports = _interrupt_after_first_report(out, data)
    assert len(reports) == 1
    # Interrupted early: the first report comes long before the window end.
    assert 0 < reports[0].sim_time_ns < reports[0].window_ns // 2
    assert reports[0].events == 200_000

    manifest = _manifest(out)
    assert manifest["status"] == "partial"
    assert manifest["error"] == "KeyboardInterrupt"
    assert manifest["scenario_name"] == "interrupted"
    assert manifest["counts"]["events"] == 200_000
    assert "kpis.json" not in manifest["files"]
    assert not (out / "kpis.json").exists()
    assert not list(out.glob("*.part")) and not list(out.glob("*.tmp"))
    assert sorted(p.name for p in out.iterdir()) == sorted(["manifest.json"] + [f"{n}.parquet" for n in FILES])
    for name in FILES:
        table = pq.read_table(out / f"{name}.parquet")
        assert table.num_rows > 0
        assert table.num_rows == manifest["counts"][name]
    # What was written is consistent: every transaction has its request messages.
    tx = read(out, "transactions")
    m = read(out, "messages")
    assert set(tx["txn_id"].tolist()) == set(m["txn_id"].tolist())


def test_a_non_empty_directory_without_a_manifest_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("do not delete", encoding="utf-8")
    with pytest.raises(RunDirError):
        simulate(scenario(_scenario("refused", 10, "1h")), out)
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]
    assert (out / "thesis.tex").read_text(encoding="utf-8") == "do not delete"

    a_file = tmp_path / "file"
    a_file.write_text("x", encoding="utf-8")
    with pytest.raises(RunDirError):
        simulate(scenario(_scenario("refused", 10, "1h")), a_file)


def test_an_empty_or_missing_directory_is_used(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    run(_scenario("empty", 50, "1h"), tmp_path / "empty")
    run(_scenario("missing", 50, "1h"), tmp_path / "missing" / "nested")
    assert _manifest(tmp_path / "missing" / "nested")["status"] == "complete"


def test_a_second_run_replaces_the_first(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run(_scenario("first", 400, "6h"), out)
    first = _manifest(out)
    run(_scenario("second", 150, "6h"), out, seed=99)
    second = _manifest(out)
    assert second["status"] == "complete"
    assert (second["scenario_name"], second["seed"]) == ("second", 99)
    assert second["counts"]["roamers"] == 150 != first["counts"]["roamers"]
    for name in FILES:
        assert pq.read_table(out / f"{name}.parquet").num_rows == second["counts"][name]
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["counts"]["transactions"] == second["counts"]["transactions"]
    assert len(read(out, "procedures")["imsi"]) == second["counts"]["procedures"]


def test_an_interrupted_rerun_leaves_no_stale_kpis(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run(_scenario("complete", 200, "6h"), out)
    assert (out / "kpis.json").exists()
    _interrupt_after_first_report(out, _scenario("interrupted", 20_000))
    manifest = _manifest(out)
    assert (manifest["status"], manifest["scenario_name"]) == ("partial", "interrupted")
    assert not (out / "kpis.json").exists()
    for name in FILES:
        assert pq.read_table(out / f"{name}.parquet").num_rows == manifest["counts"][name]
