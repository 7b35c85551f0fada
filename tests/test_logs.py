"""Structured logs: JSON lines on stderr with the run id, IMSIs only on request, levels from flag or env."""

from __future__ import annotations

import json
import logging
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from roamsim import simulate
from roamsim.api import Progress
from roamsim.cli.main import cli
from roamsim.logs import JsonFormatter, RunLogObserver, configure_logging, log_context
from runkit import scenario

EXAMPLE = Path(__file__).resolve().parent.parent / "src" / "roamsim" / "examples" / "quickstart.yaml"
HEAD = ("ts", "level", "logger", "msg", "run_id")
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _run(out: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    res = CliRunner().invoke(cli, ["run", str(EXAMPLE), "-o", str(out), "--scale", "0.05", *args], env=env)
    assert res.exit_code == 0, res.output
    return res


def _lines(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines()]


def _manifest(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    return data


def _failed(run_dir: Path) -> list[dict[str, Any]]:
    procs = pq.read_table(run_dir / "procedures.parquet")
    outcome = procs["outcome"].cast("string")
    keep = pc.or_(pc.equal(outcome, "rejected"), pc.equal(outcome, "timeout"))
    rows: list[dict[str, Any]] = procs.filter(keep).to_pylist()
    return rows


@pytest.fixture(scope="module")
def debug_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("logs") / "run"
    return out, _run(out, "--log-level", "debug", "--log-format", "json")


@pytest.fixture(autouse=True)
def _no_log_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ROAMSIM_LOG_LEVEL", "ROAMSIM_LOG_FORMAT", "ROAMSIM_LOG_IMSI"):
        monkeypatch.delenv(var, raising=False)


def test_every_line_is_json_with_the_run_id(debug_run: tuple[Path, Any]) -> None:
    out, res = debug_run
    lines = _lines(res.stderr)
    run_id = _manifest(out)["run_id"]
    assert len(lines) > 5
    for line in lines:
        assert tuple(line)[:5] == HEAD
        assert line["run_id"] == run_id
        assert ISO_UTC.match(line["ts"]), line["ts"]
        assert line["logger"].startswith("roamsim.")


def test_lifecycle_lines_match_the_manifest(debug_run: tuple[Path, Any]) -> None:
    out, res = debug_run
    manifest = _manifest(out)
    lines = _lines(res.stderr)
    (start,) = [x for x in lines if x["msg"] == "run started"]
    assert (start["scenario"], start["seed"], start["scale"]) == ("quickstart", manifest["seed"], 0.05)
    assert start["level"] == "info"
    phases = {x["phase"]: x["duration_s"] for x in lines if x["msg"] == "phase done"}
    # every phase the run had finished when it ended (metrics.prom is written after)
    assert {f"{k}_s" for k in phases} == set(manifest["phases"]) - {"metrics_s"}
    assert all(phases[k.removesuffix("_s")] == v for k, v in manifest["phases"].items() if k != "metrics_s")
    (done,) = [x for x in lines if x["msg"] == "run complete"]
    assert done["counts"] == manifest["counts"]
    assert done["status"] == "complete"
    assert lines.index(start) < lines.index(done)


def test_one_debug_line_per_failed_procedure(debug_run: tuple[Path, Any]) -> None:
    out, res = debug_run
    lines = [x for x in _lines(res.stderr) if x["logger"] == "roamsim.procedures"]
    failed = _failed(out)
    assert failed, "the quickstart scenario has rejected attaches (steering)"
    assert [x["procedure_id"] for x in lines] == [r["procedure_id"] for r in failed]
    for line, row in zip(lines, failed, strict=True):
        assert line["level"] == "debug"
        assert (line["type"], line["outcome"]) == (row["type"], row["outcome"])
        assert (line["home_plmn"], line["visited_plmn"]) == (row["home_plmn"], row["visited_plmn"])
        assert line["emm_cause"] == row["emm_cause"]
        assert line["cause"] and line["cause"] in line["msg"]
        if row["emm_cause"] is not None:
            assert f"EMM cause #{row['emm_cause']}" in line["cause"]


def test_imsi_is_absent_unless_asked_for(debug_run: tuple[Path, Any], tmp_path: Path) -> None:
    _, res = debug_run
    assert all("imsi" not in x for x in _lines(res.stderr))
    imsis = {str(r["imsi"]) for r in _failed(debug_run[0])}
    assert not any(i in res.stderr for i in imsis)
    out = tmp_path / "run"
    res = _run(out, "--log-level", "debug", "--log-format", "json", "--log-imsi")
    lines = [x for x in _lines(res.stderr) if x["logger"] == "roamsim.procedures"]
    assert [x["imsi"] for x in lines] == [r["imsi"] for r in _failed(out)]


def test_stdout_keeps_the_summary_and_headline_only(debug_run: tuple[Path, Any], tmp_path: Path) -> None:
    _, res = debug_run
    quiet = _run(tmp_path / "quiet")
    assert quiet.stderr == ""  # default level warning: a good run logs nothing
    strip = re.compile(r"\(.*?; [\d.]+ s\)")  # the summary line holds paths and wall time
    assert strip.sub("", res.stdout.replace(str(debug_run[0]), "X")) == \
        strip.sub("", quiet.stdout.replace(str(tmp_path / "quiet"), "X"))
    assert "{" not in res.stdout


def test_level_filtering(tmp_path: Path) -> None:
    res = _run(tmp_path / "a", "--log-level", "info", "--log-format", "json")
    levels = {x["level"] for x in _lines(res.stderr)}
    assert levels == {"info"}
    res = _run(tmp_path / "b", "--log-level", "error", "--log-format", "json")
    assert res.stderr == ""


def test_env_var_sets_the_level_and_the_flag_wins(tmp_path: Path) -> None:
    env = {"ROAMSIM_LOG_LEVEL": "DEBUG", "ROAMSIM_LOG_FORMAT": "json"}
    res = _run(tmp_path / "a", env=env)
    assert "debug" in {x["level"] for x in _lines(res.stderr)}
    res = _run(tmp_path / "b", "--log-level", "warning", env=env)
    assert res.stderr == ""
    res = _run(tmp_path / "c", env={"ROAMSIM_LOG_LEVEL": "info", "ROAMSIM_LOG_FORMAT": "json"})
    assert {x["level"] for x in _lines(res.stderr)} == {"info"}


def test_group_options_apply_and_run_options_override(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["--log-level", "info", "--log-format", "json", "run", str(EXAMPLE),
                                   "-o", str(tmp_path / "a"), "--scale", "0.05"])
    assert res.exit_code == 0
    assert {x["level"] for x in _lines(res.stderr)} == {"info"}
    res = CliRunner().invoke(cli, ["--log-level", "info", "--log-format", "json", "run", str(EXAMPLE),
                                   "-o", str(tmp_path / "b"), "--scale", "0.05", "--log-level", "error"])
    assert res.exit_code == 0
    assert res.stderr == ""


def test_text_format(tmp_path: Path) -> None:
    res = _run(tmp_path / "a", "--log-level", "info", "--log-format", "text")
    lines = res.stderr.splitlines()
    assert lines and not any(line.startswith("{") for line in lines)
    assert any(" INFO    roamsim.run: run started run_id=quickstart-" in line for line in lines)


def test_a_bad_level_is_a_usage_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["run", str(EXAMPLE), "-o", str(tmp_path / "x"), "--log-level", "loud"])
    assert res.exit_code == 2
    assert "--log-level" in res.stderr and "loud" in res.stderr
    assert not (tmp_path / "x").exists()
    res = CliRunner().invoke(cli, ["run", str(EXAMPLE), "-o", str(tmp_path / "x")], env={"ROAMSIM_LOG_LEVEL": "loud"})
    assert res.exit_code == 2
    assert "loud" in res.stderr


def test_interrupted_run_logs_partial(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = {
        "name": "interrupted", "seed": 3, "window": {"start": "2027-07-03T00:00:00Z", "duration": "1d"},
        "operators": [{"id": "uk-alpha", "plmn": "234-15", "country": "GB"},
                      {"id": "es-one", "plmn": "214-01", "country": "ES"}],
        "agreements": [{"home": "uk-alpha", "visited": ["es-one"]}],
        "cohorts": [{"name": "uk", "home": "uk-alpha", "roamers": 20_000, "destinations": {"ES": 1},
                     "arrivals": {"profile": "flat"}}],
    }

    def stop(p: Progress) -> None:
        raise KeyboardInterrupt

    configure_logging("info", "json")
    observer = RunLogObserver(seed=3, scale=1.0)
    with pytest.raises(KeyboardInterrupt):
        simulate(scenario(data), tmp_path / "run", progress=stop, observers=[observer])
    lines = _lines(capsys.readouterr().err)
    (partial,) = [x for x in lines if x["msg"].startswith("run partial")]
    assert partial["level"] == "warning"
    assert partial["status"] == "partial"
    assert partial["run_id"] == _manifest(tmp_path / "run")["run_id"] == observer.run_id
    assert not any(x["msg"] == "run complete" for x in lines)


def test_formatter_fields_context_and_imsi() -> None:
    record = logging.LogRecord("roamsim.x", logging.WARNING, __file__, 1, "hello %s", ("you",), None)
    record.imsi = 234150100000007
    record.procedure_id = 9
    with log_context(run_id="r-1", phase="engine"):
        line = json.loads(JsonFormatter().format(record))
        with_imsi = json.loads(JsonFormatter(include_imsi=True).format(record))
    assert line["msg"] == "hello you"
    assert (line["run_id"], line["phase"], line["procedure_id"], line["level"]) == ("r-1", "engine", 9, "warning")
    assert "imsi" not in line
    assert with_imsi["imsi"] == 234150100000007
    outside = json.loads(JsonFormatter().format(record))
    assert outside["run_id"] is None and "phase" not in outside


def test_logs_and_progress_bar_share_a_terminal(tmp_path: Path) -> None:
    """stderr on a pseudo-terminal (progress bar shown), stdout a pipe: JSON log lines come through whole."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}
    out = tmp_path / "run"
    with subprocess.Popen([sys.executable, "-m", "roamsim", "run", str(EXAMPLE), "-o", str(out), "--scale", "0.2",
                           "--log-level", "info", "--log-format", "json"],
                          stdout=subprocess.PIPE, stderr=follower, env=env) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        os.close(leader)
        assert proc.stdout is not None
        stdout = proc.stdout.read().decode()
        assert proc.wait(timeout=120) == 0
    screen = b"".join(chunks).decode()
    assert "simulating" in screen  # the progress bar was drawn on the terminal
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen).replace("\r", "\n")
    logs = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    msgs = [x["msg"] for x in logs]
    assert (msgs[0], msgs[-1]) == ("run started", "run complete")
    assert sum(x["msg"] == "phase done" for x in logs) == len(_manifest(out)["phases"]) - 1
    assert stdout.startswith("run complete: ")
    assert "{" not in stdout and "simulating" not in stdout
