"""Helpers of the metrics tests: scenarios, real Prometheus/Pushgateway servers on loopback, a small
parser of the text exposition (independent of the encoder under test)."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from serverkit import free_port, stop

__all__ = ["free_port"]  # re-exported for the metrics tests

EXAMPLES = Path(__file__).resolve().parent.parent / "src" / "roamsim" / "examples"
DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "grafana"
DASHBOARD = DEPLOY / "dashboards" / "roamsim.json"
GRAFANA_BUILTINS = {"__rate_interval": "1m", "__interval": "1m", "__range": "1h"}
QUICKSTART = EXAMPLES / "quickstart.yaml"

Key = tuple[str, frozenset[tuple[str, str]]]


def quickstart_data(*, errors: bool = False, duration: str | None = None) -> dict[str, Any]:
    """The bundled quickstart as plain data; ``errors`` adds HSS transient errors (lost requests → timeouts,
    4181 Experimental-Result, 3002, 3004) so every result kind shows up."""
    data: dict[str, Any] = yaml.safe_load(QUICKSTART.read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    if errors:
        for op in data["operators"]:
            if op["id"] in ("uk-alpha", "de-beta"):
                op.setdefault("hss", {})["transient_errors"] = 0.05
    if duration is not None:
        data["window"]["duration"] = duration
    return data


def write_scenario(data: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def roamsim_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "roamsim", *args]


def roamsim(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(roamsim_cmd(*args), capture_output=True, text=True, timeout=timeout, check=False)


def binary(name: str) -> str:
    """A Debian-packaged server binary (installed by `make test`); fail loudly when it is missing."""
    path = shutil.which(name)
    assert path is not None, f"{name} is missing: run `make test` (it installs the Debian packages) or apt-get it"
    return path


def http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 5) -> tuple[int, str, str]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


def wait_http(url: str, proc: subprocess.Popen[str] | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if http_get(url, timeout=1)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready after {timeout} s")


@contextmanager
def server(cmd: list[str], ready_url: str, log: Path) -> Iterator[subprocess.Popen[str]]:
    """Run a server process until the block ends (terminated, then killed if it lingers)."""
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            wait_http(ready_url, proc)
            yield proc
        finally:
            stop(proc)


@contextmanager
def prometheus(tmp: Path, *, scrape_target: str | None = None, storage: Path | None = None) -> Iterator[str]:
    """A real Prometheus on loopback (1 s scrape interval); yields its base URL."""
    port = free_port()
    config: dict[str, Any] = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}}
    if scrape_target is not None:
        config["scrape_configs"] = [{"job_name": "roamsim", "scrape_interval": "1s", "scrape_timeout": "1s",
                                     "static_configs": [{"targets": [scrape_target]}]}]
    cfg = tmp / "prometheus.yml"
    cfg.write_text(yaml.safe_dump(config), encoding="utf-8")
    data = storage if storage is not None else tmp / "prometheus-data"
    cmd = [binary("prometheus"), f"--config.file={cfg}", f"--storage.tsdb.path={data}",
           f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=100y"]
    base = f"http://127.0.0.1:{port}"
    with server(cmd, f"{base}/-/ready", tmp / "prometheus.log"):
        yield base


def query(base: str, expr: str, at: float | None = None) -> list[dict[str, Any]]:
    """An instant query through Prometheus's HTTP API; the result vector."""
    params = {"query": expr}
    if at is not None:
        params["time"] = f"{at:.3f}"
    status, _, body = http_get(f"{base}/api/v1/query?{urllib.parse.urlencode(params)}")
    data = json.loads(body)
    assert status == 200 and data["status"] == "success", (expr, body)
    result: list[dict[str, Any]] = data["data"]["result"]
    return result


def by_label(result: list[dict[str, Any]], label: str) -> dict[str, float]:
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in result}


# -- a small, independent parser of the text exposition ---------------------------------------
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+(\S+))?$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')


def _unescape(v: str) -> str:
    return re.sub(r'\\(.)', lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v)


def parse_labels(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        m = _LABEL.match(text, pos)
        assert m is not None, f"bad labels: {text!r} at {pos}"
        out[m.group(1)] = _unescape(m.group(2))
        pos = m.end()
    return out


def parse_samples(text: str) -> list[tuple[str, dict[str, str], float, str | None]]:
    """(name, labels, value, timestamp text) of every sample line (comments skipped)."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m is not None, f"bad sample line: {line!r}"
        out.append((m.group(1), parse_labels(m.group(3) or ""), float(m.group(4)), m.group(6)))
    return out


def samples_by_key(text: str, drop: tuple[str, ...] = ()) -> dict[Key, float]:
    """Sample values by (name, labels); later samples of the same series win (the last point)."""
    out: dict[Key, float] = {}
    for name, labels, value, _ in parse_samples(text):
        out[(name, frozenset((k, v) for k, v in labels.items() if k not in drop))] = value
    return out


# -- the Grafana dashboard ---------------------------------------------------------------------
def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def panels(d: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in d["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def expressions(d: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in panels(d) for t in p.get("targets", [])]


def substitute(expr: str, variables: dict[str, str]) -> str:
    """Grafana's variable interpolation, enough for these expressions."""
    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        assert name in variables, f"undefined variable ${name} in {expr!r}"
        return variables[name]
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", repl, expr)


def dashboard_variables(d: dict[str, Any], value: str = ".*") -> dict[str, str]:
    names = {v["name"]: value for v in d["templating"]["list"] if v["type"] != "datasource"}
    return {**names, **GRAFANA_BUILTINS}
