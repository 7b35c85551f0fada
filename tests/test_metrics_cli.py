"""The metrics options of `roamsim run`: bad input exits 2 before simulating; the endpoint is reported."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from metricskit import quickstart_data, roamsim, write_scenario


@pytest.fixture(scope="module")
def small_scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scenario(quickstart_data(duration="2h"), tmp_path_factory.mktemp("scen") / "qs2h.yaml")


def test_port_in_use_is_bad_input(small_scenario: Path, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = tmp_path / "run"
        res = roamsim("run", str(small_scenario), "-o", str(out), "--metrics-port", str(port))
    assert res.returncode == 2, res.stderr
    assert f"--metrics-host 127.0.0.1 --metrics-port {port}: cannot listen on 127.0.0.1:{port}" in res.stderr
    assert "Traceback" not in res.stderr and not out.exists()


@pytest.mark.parametrize(("option", "value"), [("--metrics-linger", "soon"), ("--metrics-linger", "-1"),
                                               ("--metrics-port", "70000"), ("--metrics-port", "http")])
def test_bad_option_values_exit_2(option: str, value: str, small_scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = roamsim("run", str(small_scenario), "-o", str(out), option, value)
    assert res.returncode == 2 and option in res.stderr and "Traceback" not in res.stderr
    assert not out.exists()


def test_port_0_picks_a_free_port_and_says_which(small_scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = roamsim("run", str(small_scenario), "-o", str(out), "--metrics-port", "0", "--metrics-linger", "0.2s")
    assert res.returncode == 0, res.stderr
    m = re.search(r"metrics: serving on http://127\.0\.0\.1:(\d+)/metrics", res.stderr)
    assert m is not None and int(m.group(1)) > 0
    assert "serving the final values" in res.stderr and "for 0.2 s" in res.stderr
    assert (out / "metrics.prom").read_text(encoding="utf-8").startswith("# HELP roamsim_run_info")
    # The port is released when the command ends.
    with socket.socket() as s:
        s.bind(("127.0.0.1", int(m.group(1))))


def test_help_lists_the_metrics_options() -> None:
    res = roamsim("run", "--help")
    assert res.returncode == 0
    for opt in ("--metrics-port", "--metrics-host", "--metrics-linger", "--pushgateway", "ROAMSIM_RUN_METRICS_PORT"):
        assert opt in res.stdout
    res = roamsim("export", "openmetrics", "--help")
    assert res.returncode == 0 and "--step" in res.stdout
