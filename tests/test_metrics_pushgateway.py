"""`roamsim run --pushgateway` against a real Prometheus Pushgateway on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from metricskit import (
    binary,
    free_port,
    http_get,
    parse_samples,
    quickstart_data,
    roamsim,
    samples_by_key,
    server,
    write_scenario,
)
from roamsim.metrics.pushgateway import PushError, group_path, push
from roamsim.metrics.snapshot import FamilySnapshot, SampleSnapshot


@pytest.fixture(scope="module")
def pushgateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("pushgateway")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [binary("prometheus-pushgateway"), f"--web.listen-address=127.0.0.1:{port}"]
    with server(cmd, f"{base}/-/ready", tmp / "pushgateway.log"):
        yield base


@pytest.fixture(scope="module")
def small_scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scenario(quickstart_data(duration="6h"), tmp_path_factory.mktemp("scen") / "qs6h.yaml")


def test_run_pushes_its_final_metrics(pushgateway: str, small_scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = roamsim("run", str(small_scenario), "-o", str(out), "--pushgateway", pushgateway + "/")
    assert res.returncode == 0, res.stderr
    run_id = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["run_id"]
    assert f"metrics: pushed to {pushgateway}/metrics/job/roamsim/run_id/{run_id}" in res.stderr
    status, _, body = http_get(f"{pushgateway}/metrics")
    assert status == 200
    pushed = {k: v for k, v in samples_by_key(body).items()
              if ("job", "roamsim") in k[1] and ("run_id", run_id) in k[1]}
    # The Pushgateway adds the grouping key and an empty instance label.
    expected = {(name, frozenset({**labels, "job": "roamsim", "run_id": run_id, "instance": ""}.items())): value
                for name, labels, value, _ in parse_samples((out / "metrics.prom").read_text(encoding="utf-8"))}
    assert expected and {k: v for k, v in pushed.items() if k[0].startswith("roamsim_")} == expected
    # The Pushgateway records the push itself.
    assert any(k[0] == "push_time_seconds" for k in pushed)


def test_push_replaces_the_group_and_encodes_slashes(pushgateway: str) -> None:
    fam = FamilySnapshot("roamsim_steering_rejects_total", "counter", "rejects", "",
                         [SampleSnapshot({"home_plmn": "001-01", "visited_plmn": "001-02"}, 5.0)])
    assert group_path("roamsim", {"run_id": "a/b"}) == "/metrics/job/roamsim/run_id@base64/YS9i"
    for value in (5.0, 7.0):  # PUT replaces the group: one sample, the last value
        push([FamilySnapshot(fam.name, fam.kind, fam.help, fam.unit,
                             [SampleSnapshot(fam.samples[0].labels, value)])], pushgateway, "lab/run 1")
    _, _, body = http_get(f"{pushgateway}/metrics")
    got = [(lab, v) for n, lab, v, _ in parse_samples(body)
           if n == "roamsim_steering_rejects_total" and lab.get("run_id") == "lab/run 1"]
    assert got == [({"home_plmn": "001-01", "instance": "", "job": "roamsim", "run_id": "lab/run 1",
                     "visited_plmn": "001-02"}, 7.0)]


def test_unreachable_pushgateway_fails_the_command(small_scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    url = f"http://127.0.0.1:{free_port()}"
    res = roamsim("run", str(small_scenario), "-o", str(out), "--pushgateway", url)
    assert res.returncode == 1
    assert f"error: cannot reach the Pushgateway at {url}" in res.stderr and "Traceback" not in res.stderr
    # The run itself is complete; only the push failed.
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["status"] == "complete"
    with pytest.raises(PushError, match="cannot reach"):
        push([], url, "x")


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:9091", "127.0.0.1:9091", "http://:9091", "http://h:99999",
                                 "http://h:9091/?q=1"])
def test_bad_pushgateway_url_is_bad_input(url: str, small_scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = roamsim("run", str(small_scenario), "-o", str(out), "--pushgateway", url)
    assert res.returncode == 2 and f"--pushgateway {url!r}" in res.stderr and "Traceback" not in res.stderr
    assert not out.exists()  # refused before anything was simulated
