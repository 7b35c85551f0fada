"""A real Prometheus scrapes a real `roamsim run --metrics-port` on loopback; the values it stores
equal the run's kpis.json and Parquet files, and every dashboard expression evaluates."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from typing import Any

import numpy as np
import pytest

from metricskit import (
    by_label,
    dashboard,
    dashboard_variables,
    expressions,
    free_port,
    http_get,
    prometheus,
    query,
    quickstart_data,
    roamsim_cmd,
    substitute,
    write_scenario,
)
from roamsim.metrics.catalogue import DURATION_BUCKETS_S
from roamsim.records.schema import REGISTRATION_TYPES
from runkit import kpis, read

NS = 1_000_000_000


def _wait(predicate: Any, what: str, proc: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        assert proc.poll() is None, f"roamsim exited early ({proc.returncode}) while waiting for {what}"
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _one(base: str, expr: str) -> float:
    result = query(base, expr)
    assert len(result) == 1, (expr, result)
    return float(result[0]["value"][1])


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Prometheus up, then roamsim running with its endpoint; yields once a scrape saw the final values."""
    tmp = tmp_path_factory.mktemp("prom")
    scen = write_scenario(quickstart_data(errors=True), tmp / "qs.yaml")
    out = tmp / "run"
    port = free_port()
    with prometheus(tmp, scrape_target=f"127.0.0.1:{port}") as base:
        err = (tmp / "roamsim.err").open("w+")
        proc = subprocess.Popen(roamsim_cmd("run", str(scen), "-o", str(out), "--metrics-port", str(port),
                                            "--metrics-linger", "120"),
                                stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            def final_scraped() -> bool:
                mf = out / "manifest.json"
                if not mf.exists():
                    return False
                manifest = json.loads(mf.read_text(encoding="utf-8"))
                if manifest["status"] != "complete":
                    return False
                res = query(base, "roamsim_engine_events_total")
                return bool(res) and float(res[0]["value"][1]) == manifest["counts"]["events"]

            _wait(final_scraped, "a scrape of the final values", proc)
            # Lingering (Ctrl-C now ends the linger, not the run's output).
            _wait(lambda: "serving the final values" in (tmp / "roamsim.err").read_text(), "the linger", proc)
            yield base, out, proc, port
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # ends the linger early
            stdout, _ = proc.communicate(timeout=30)
            err.seek(0)
            proc_stderr = err.read()
            err.close()
            assert proc.returncode == 0, proc_stderr
            assert f"metrics: serving on http://127.0.0.1:{port}/metrics" in proc_stderr
            assert "Traceback" not in proc_stderr and "run complete" in stdout


def test_prometheus_holds_the_runs_kpis(scraped: Any) -> None:
    base, out, _, port = scraped
    k = kpis(out)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    # Identity and the engine's clock.
    info = query(base, "roamsim_run_info")
    assert len(info) == 1 and info[0]["metric"]["run_id"] == manifest["run_id"]
    assert info[0]["metric"]["job"] == "roamsim" and info[0]["metric"]["instance"] == f"127.0.0.1:{port}"
    window_end = (np.datetime64(manifest["window"]["start"].replace("+00:00", "")).astype("datetime64[ns]")
                  .astype(np.int64) + manifest["window"]["duration_ns"])
    assert _one(base, "roamsim_simulated_time_seconds") == window_end / NS
    # KPIs: successful attaches, steering rejects, timeouts.
    # kpis.json's "attach" view covers every RAT's initial registration.
    assert _one(base, 'sum(roamsim_registrations_total{result="success"})') \
        == k["overall"]["attach"]["successes"] > 0
    assert _one(base, 'sum(roamsim_registrations_total{result!="aborted"})') == k["overall"]["attach"]["attempts"]
    assert _one(base, "sum(roamsim_steering_rejects_total)") == k["overall"]["attach"]["steering_rejects"] > 0
    assert _one(base, "sum(roamsim_transaction_timeouts_total)") == k["overall"]["timeouts"]["transactions"] > 0
    # Messages by type at the origin = the hop-0 rows of messages.parquet; every row is on some link.
    m = read(out, "messages")
    assert by_label(query(base, "sum by (message) (roamsim_messages_total)"), "message") \
        == {name: float(n) for name, n in Counter(m["message"][m["hop"] == 0].tolist()).items()}
    assert _one(base, "sum(roamsim_link_messages_total)") == m["time"].size
    # Per partner: registrations per home → visited pair = procedures.parquet.
    p = read(out, "procedures")
    sel = np.isin(p["type"], list(REGISTRATION_TYPES)) & (p["outcome"] == "success")
    pairs = Counter(zip(p["home_plmn"][sel], p["visited_plmn"][sel], strict=True))
    res = query(base, 'sum by (home_plmn, visited_plmn) (roamsim_registrations_total{result="success"})')
    assert {(r["metric"]["home_plmn"], r["metric"]["visited_plmn"]): float(r["value"][1]) for r in res} \
        == {k2: float(v) for k2, v in pairs.items()}


def test_histogram_quantile_brackets_the_true_median(scraped: Any) -> None:
    base, out, _, _ = scraped
    p = read(out, "procedures")
    sel = (p["type"] == "attach") & (p["outcome"] == "success")
    median = float(np.median((p["end_time"] - p["start_time"])[sel])) / NS
    est = _one(base, 'histogram_quantile(0.5, sum by (le) '
                     '(roamsim_procedure_duration_seconds_bucket{procedure="attach"}))')
    bounds = [0.0, *DURATION_BUCKETS_S]
    i = next(j for j in range(1, len(bounds)) if median <= bounds[j])
    assert bounds[i - 1] <= est <= bounds[i], (median, est)


def test_every_dashboard_expression_evaluates(scraped: Any) -> None:
    base, _, _, _ = scraped
    d = dashboard()
    empty = []
    for raw in expressions(d):
        expr = substitute(raw, dashboard_variables(d))
        result = query(base, expr)  # asserts status success (valid PromQL)
        if not result:
            empty.append(raw)
    # Rates over a 1m window may be empty this soon; the cumulative panels must all have data.
    assert all("rate(" in e or "increase(" in e for e in empty), empty


def test_endpoint_content_negotiation(scraped: Any) -> None:
    _, _, _, port = scraped
    status, ctype, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
    assert "# TYPE roamsim_procedures_total counter" in body
    status, ctype, body = http_get(f"http://127.0.0.1:{port}/metrics",
                                   {"Accept": "application/openmetrics-text; version=1.0.0"})
    assert status == 200 and ctype.startswith("application/openmetrics-text")
    assert "# TYPE roamsim_procedures counter" in body and body.endswith("# EOF\n")
    assert http_get(f"http://127.0.0.1:{port}/nope")[0] == 404
