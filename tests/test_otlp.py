"""OTLP export (`roamsim run --otlp`, `roamsim otlp`) into a real OTLP/HTTP receiver on 127.0.0.1.

The receiver decodes the protobuf requests with opentelemetry-proto; the oracles are the
run's Parquet files and its metrics registry.
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from otlpkit import Received, any_value, attributes, otlp_receiver
from roamsim.cli.main import cli
from roamsim.metrics.registry import registry_for_run
from roamsim.otel.config import DEFAULT_RATIO, OtlpConfigError, settings_from_env
from roamsim.otel.ids import RunIds, sample_bound

EXAMPLE = Path(__file__).resolve().parent.parent / "src" / "roamsim" / "examples" / "quickstart.yaml"
KINDS = {"counter": "sum", "gauge": "gauge", "histogram": "histogram"}


@pytest.fixture(autouse=True)
def _clean_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for var in [v for v in os.environ if v.startswith("OTEL_")] + ["ROAMSIM_OTLP", "ROAMSIM_OTLP_IMSI"]:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("otlp") / "run"
    res = CliRunner().invoke(cli, ["run", str(EXAMPLE), "-o", str(out), "--scale", "0.05"])
    assert res.exit_code == 0, res.output
    return out


def _manifest(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    return data


def _rows(run_dir: Path, name: str) -> list[dict[str, Any]]:
    table = pq.read_table(run_dir / f"{name}.parquet")
    cols = [c.cast(pa.string()) if pa.types.is_dictionary(c.type) else c for c in table.columns]
    rows: list[dict[str, Any]] = pa.Table.from_arrays(cols, names=table.column_names).to_pylist()
    return rows


def _export(run_dir: Path, env: dict[str, str], *args: str) -> tuple[Received, Any]:
    with otlp_receiver() as (url, got):
        res = CliRunner().invoke(cli, ["otlp", str(run_dir), *args], env={"OTEL_EXPORTER_OTLP_ENDPOINT": url, **env})
    assert res.exit_code == 0, res.output
    return got, res


def _roots(got: Received) -> dict[int, Any]:
    """Procedure spans by roamsim.procedure_id."""
    return {attributes(s.attributes)["roamsim.procedure_id"]: s for _, s in got.spans() if not s.parent_span_id}


def _children(got: Received) -> dict[bytes, list[Any]]:
    out: dict[bytes, list[Any]] = {}
    for _, s in got.spans():
        if s.parent_span_id:
            out.setdefault(s.parent_span_id, []).append(s)
    return out


@pytest.fixture(scope="module")
def all_spans(run_dir: Path) -> Received:
    """Every procedure exported (always_on), with custom resource attributes."""
    got, res = _export(run_dir, {"OTEL_TRACES_SAMPLER": "always_on", "OTEL_SERVICE_NAME": "roamsim-lab",
                                 "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=lab,team=roaming"})
    assert "procedure traces" in res.stdout
    return got


# ------------------------------------------------------------------- traces


def test_always_on_sends_one_span_per_procedure(run_dir: Path, all_spans: Received) -> None:
    procs = _rows(run_dir, "procedures")
    roots = _roots(all_spans)
    assert sorted(roots) == sorted(r["procedure_id"] for r in procs)
    assert len({s.trace_id for s in roots.values()}) == len(procs)  # one trace per procedure


def test_procedure_spans_carry_simulated_times_and_attributes(run_dir: Path, all_spans: Received) -> None:
    roots = _roots(all_spans)
    for row in _rows(run_dir, "procedures"):
        span = roots[row["procedure_id"]]
        attrs = attributes(span.attributes)
        assert (span.start_time_unix_nano, span.end_time_unix_nano) == (row["start_time"], row["end_time"])
        assert span.name == row["type"] == attrs["roaming.procedure"]
        assert (attrs["roaming.home_plmn"], attrs["roaming.visited_plmn"]) == (row["home_plmn"], row["visited_plmn"])
        assert (attrs["roaming.rat"], attrs["roaming.outcome"]) == (row["rat"], row["outcome"])
        assert (attrs["roaming.attempt"], attrs["roaming.steered"]) == (row["attempt"], row["steered"])
        assert attrs.get("roaming.emm_cause") == row["emm_cause"]
        assert len(span.trace_id) == 16 and len(span.span_id) == 8
        # status: UNSET for a success, ERROR with the cause otherwise
        assert span.status.code == (0 if row["outcome"] == "success" else 2)
        if row["outcome"] != "success":
            assert span.status.message == attrs["error.type"] != ""
        assert not any("imsi" in k for k in attrs)


def test_hop_spans_are_children_with_message_times(run_dir: Path, all_spans: Received) -> None:
    msgs = _rows(run_dir, "messages")
    answers = {(m["txn_id"], m["origin"], m["destination"]): m for m in msgs if not m["is_request"]}
    requests: dict[int, list[dict[str, Any]]] = {}
    for m in msgs:
        if m["is_request"]:
            requests.setdefault(m["procedure_id"], []).append(m)
    procs = {r["procedure_id"]: r for r in _rows(run_dir, "procedures")}
    children = _children(all_spans)
    checked = 0
    for pid, root in _roots(all_spans).items():
        kids = children.get(root.span_id, [])
        expected = requests.get(pid, [])
        assert len(kids) == len(expected), pid
        assert all(k.trace_id == root.trace_id for k in kids)
        by_key = {(attributes(k.attributes)["roamsim.txn_id"], attributes(k.attributes)["roaming.hop"]): k
                  for k in kids}
        for req in expected:
            span = by_key[(req["txn_id"], req["hop"])]
            attrs = attributes(span.attributes)
            assert span.name == req["message"] == attrs["roaming.message"]
            assert (attrs["roaming.origin"], attrs["roaming.destination"]) == (req["origin"], req["destination"])
            assert span.start_time_unix_nano == req["time"]
            answer = answers.get((req["txn_id"], req["destination"], req["origin"]))
            if answer is None:
                assert span.end_time_unix_nano == max(procs[pid]["end_time"], req["time"])
                assert span.status.code == 2 and span.status.message == "no answer"
            else:
                assert span.end_time_unix_nano == answer["time"]
                code = answer["experimental_result_code"] or answer["result_code"]
                key = "roaming.experimental_result_code" if answer["experimental_result_code"] else \
                    "roaming.result_code"
                assert attrs[key] == code
            assert span.kind == 3  # SPAN_KIND_CLIENT
            checked += 1
    assert checked == sum(1 for m in msgs if m["is_request"] and m["procedure_id"] in procs)
    assert len({s.span_id for _, s in all_spans.spans()}) == len(all_spans.spans())  # span ids unique


def test_resource_attributes_come_from_the_environment_and_the_run(run_dir: Path, all_spans: Received) -> None:
    resources = {json.dumps(r, sort_keys=True) for r, _ in all_spans.spans()}
    assert len(resources) == 1
    res = json.loads(resources.pop())
    assert res["service.name"] == "roamsim-lab"  # OTEL_SERVICE_NAME wins over the default
    assert (res["deployment.environment"], res["team"]) == ("lab", "roaming")
    manifest = _manifest(run_dir)
    assert res["roamsim.run_id"] == manifest["run_id"]
    assert (res["roamsim.scenario"], res["roamsim.seed"], res["roamsim.scale"]) == ("quickstart", 42, 0.05)
    assert all_spans.content_types and set(all_spans.content_types) == {"application/x-protobuf"}


def test_ratio_sampling_is_consistent_and_deterministic(run_dir: Path, all_spans: Received) -> None:
    """At 0.2 exactly the procedures whose trace id's low 64 bits are below 0.2·2^64 (TraceIdRatioBased)."""
    ratio = 0.2
    got, res = _export(run_dir, {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": str(ratio)})
    bound = round(ratio * 2**64)
    full = _roots(all_spans)
    expected = {pid for pid, s in full.items() if int.from_bytes(s.trace_id[8:], "big") < bound}
    sampled = _roots(got)
    assert set(sampled) == expected
    assert 0.1 * len(full) < len(expected) < 0.3 * len(full)
    # the same run gives the same ids
    assert all(sampled[p].trace_id == full[p].trace_id and sampled[p].span_id == full[p].span_id for p in sampled)
    # hop spans of the sampled procedures only, and all of them
    kids = _children(got)
    assert sum(len(kids.get(s.span_id, [])) for s in sampled.values()) == len(got.spans()) - len(sampled)
    assert f"{len(sampled):,} procedure traces" in res.stdout


def test_default_ratio_is_one_percent() -> None:
    assert settings_from_env({}).ratio == DEFAULT_RATIO == 0.01
    assert settings_from_env({"OTEL_TRACES_SAMPLER": "parentbased_always_off"}).ratio == 0.0
    assert settings_from_env({"OTEL_TRACES_SAMPLER_ARG": "0.5"}).ratio == 0.5
    assert settings_from_env({"OTEL_SDK_DISABLED": "TRUE"}).disabled
    for bad in ({"OTEL_TRACES_SAMPLER_ARG": "2"}, {"OTEL_TRACES_SAMPLER_ARG": "x"},
                {"OTEL_TRACES_SAMPLER": "jaeger_remote"}):
        with pytest.raises(OtlpConfigError, match=next(iter(bad))):
            settings_from_env(bad)


def test_sampling_keeps_subsets_and_ids_never_collide() -> None:
    ids = RunIds("some-run")
    pid = np.arange(1, 200_001, dtype=np.int64)
    high, low = ids.trace_ids(pid)
    assert len(set(zip(high.tolist(), low.tolist(), strict=True))) == pid.size
    assert not ids.sampled(pid, 0.0).any() and ids.sampled(pid, 1.0).all()
    small, big = ids.sampled(pid, 0.01), ids.sampled(pid, 0.1)
    assert not (small & ~big).any()
    assert abs(small.mean() - 0.01) < 0.002 and abs(big.mean() - 0.1) < 0.005
    assert (RunIds("some-run").trace_ids(pid)[1] == low).all()
    assert not (RunIds("other-run").trace_ids(pid)[1] == low).any()
    assert sample_bound(1.0) == 2**64 and sample_bound(0.5) == 2**63
    assert (ids.procedure_span_ids(pid) != 0).all()


def test_imsi_only_with_otlp_imsi(run_dir: Path) -> None:
    got, _ = _export(run_dir, {"OTEL_TRACES_SAMPLER_ARG": "0.3"}, "--otlp-imsi")
    imsi = {r["procedure_id"]: str(r["imsi"]) for r in _rows(run_dir, "procedures")}
    roots = _roots(got)
    assert roots
    assert all(attributes(s.attributes)["roaming.imsi"] == imsi[p] for p, s in roots.items())


# ------------------------------------------------------------------ metrics


def _points(metric: Any) -> list[Any]:
    return list(getattr(metric, metric.WhichOneof("data")).data_points)


def _check_metrics(got: Received, families: list[Any], window: tuple[int, int]) -> None:
    (req,) = got.metrics
    (rm,) = req.resource_metrics
    (sm,) = rm.scope_metrics
    sent = {m.name: m for m in sm.metrics}
    expected = {f.name: f for f in families if f.samples}
    assert set(sent) == set(expected)
    for name, fam in expected.items():
        metric = sent[name]
        assert metric.WhichOneof("data") == KINDS[fam.kind]
        assert metric.unit == {"seconds": "s"}.get(fam.unit, fam.unit)
        points = {json.dumps(attributes(p.attributes), sort_keys=True): p for p in _points(metric)}
        assert len(points) == len(fam.samples)
        for s in fam.samples:
            p = points[json.dumps(s.labels, sort_keys=True)]
            assert p.time_unix_nano == (s.timestamp_ns or window[1])
            if fam.kind == "histogram":
                assert (p.count, p.sum) == (s.count, pytest.approx(s.sum))
                assert list(p.explicit_bounds) == [u for u, _ in s.buckets if not math.isinf(u)]
                assert np.cumsum(p.bucket_counts).tolist() == [c for _, c in s.buckets]
                assert not p.HasField("min") and not p.HasField("max")
                assert p.start_time_unix_nano == window[0]
            else:
                assert any_value(p) == pytest.approx(s.value)
        if fam.kind == "counter":
            assert metric.sum.is_monotonic and metric.sum.aggregation_temporality == 2  # CUMULATIVE


def test_run_with_otlp_exports_traces_and_the_registry_metrics(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with otlp_receiver() as (url, got):
        res = CliRunner().invoke(cli, ["run", str(EXAMPLE), "-o", str(out), "--scale", "0.05", "--otlp"],
                                 env={"OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_TRACES_SAMPLER_ARG": "0.05"})
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("run complete: ")
    assert "otlp: " in res.stderr and url in res.stderr
    roots = _roots(got)
    assert roots and len(roots) < len(_rows(out, "procedures")) * 0.15
    manifest = _manifest(out)
    start = int(np.datetime64(manifest["window"]["start"].replace("+00:00", ""), "ns").astype(np.int64))
    families = registry_for_run(out).snapshot()
    volatile = {"roamsim_engine_events_per_second"}  # wall-clock rate: the rebuilt registry has its own
    _check_metrics(_without(got, volatile), [f for f in families if f.name not in volatile],
                   (start, start + manifest["window"]["duration_ns"]))


def _without(got: Received, names: set[str]) -> Received:
    for req in got.metrics:
        for rm in req.resource_metrics:
            for sm in rm.scope_metrics:
                keep = [m for m in sm.metrics if m.name not in names]
                del sm.metrics[:]
                sm.metrics.extend(keep)
    return got


def test_otlp_command_sends_the_registry_snapshot(run_dir: Path, all_spans: Received) -> None:
    manifest = _manifest(run_dir)
    start = int(np.datetime64(manifest["window"]["start"].replace("+00:00", ""), "ns").astype(np.int64))
    _check_metrics(all_spans, registry_for_run(run_dir).snapshot(),
                   (start, start + manifest["window"]["duration_ns"]))
    names = Counter(m.name for req in all_spans.metrics for rm in req.resource_metrics
                    for sm in rm.scope_metrics for m in sm.metrics)
    assert names["roamsim_procedures_total"] == 1


# ------------------------------------------------------------------- errors


def test_missing_extra_is_bad_input(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http", None)
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["run", str(EXAMPLE), "-o", str(out), "--scale", "0.05", "--otlp"])
    assert res.exit_code == 2
    assert "pip install 'roamsim[otel]'" in res.stderr and "'otel' extra" in res.stderr
    assert "Traceback" not in res.output
    assert not out.exists()  # said before any work


def test_bad_sampler_argument_is_bad_input(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["run", str(EXAMPLE), "-o", str(out), "--otlp"],
                             env={"OTEL_TRACES_SAMPLER_ARG": "1.5"})
    assert res.exit_code == 2
    assert "OTEL_TRACES_SAMPLER_ARG='1.5'" in res.stderr
    assert not out.exists()


def test_not_a_run_directory_is_bad_input(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["otlp", str(tmp_path)])
    assert res.exit_code == 2
    assert "not a run directory" in res.stderr


def test_a_refusing_collector_fails_the_export(run_dir: Path) -> None:
    with otlp_receiver(status=400) as (url, got):
        res = CliRunner().invoke(cli, ["otlp", str(run_dir)], env={"OTEL_EXPORTER_OTLP_ENDPOINT": url,
                                                                    "OTEL_TRACES_SAMPLER_ARG": "0.5"})
    assert res.exit_code == 1
    assert f"the OTLP collector at {url}/v1/traces could not be reached or did not accept" in res.stderr
    assert "Traceback" not in res.output
    assert got.content_types  # it was asked


def test_an_unreachable_collector_fails_the_export(run_dir: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    res = CliRunner().invoke(cli, ["--log-format", "json", "otlp", str(run_dir)],
                             env={"OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
                                  "OTEL_TRACES_SAMPLER_ARG": "0.5"})
    assert res.exit_code == 1
    assert f"error: the OTLP export failed: the OTLP collector at {url}/v1/traces could not be reached" in res.stderr
    # the exporter's own complaints come through as JSON log lines, tied to the run
    logs = [json.loads(line) for line in res.stderr.splitlines() if line.startswith("{")]
    assert logs and all(x["run_id"] == _manifest(run_dir)["run_id"] for x in logs)
    assert {x["logger"] for x in logs} <= {"opentelemetry.exporter.otlp.proto.http.trace_exporter"}


def test_sdk_disabled_sends_nothing(run_dir: Path) -> None:
    with otlp_receiver() as (url, got):
        res = CliRunner().invoke(cli, ["otlp", str(run_dir)], env={"OTEL_EXPORTER_OTLP_ENDPOINT": url,
                                                                    "OTEL_SDK_DISABLED": "true"})
    assert res.exit_code == 0
    assert "nothing exported" in res.stdout
    assert not got.content_types
