"""The Grafana dashboard and its provisioning files: valid, and every PromQL expression uses only
metrics (and labels) the catalogue defines. (The live Prometheus test also evaluates them.)"""

from __future__ import annotations

import re

import pytest
import yaml

from metricskit import DEPLOY, dashboard, dashboard_variables, expressions, panels, substitute
from roamsim.metrics.catalogue import BY_NAME, FAMILIES, all_series_names

PROMQL_FUNCTIONS = frozenset({
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "group",
    "rate", "irate", "increase", "delta", "idelta", "deriv", "histogram_quantile", "abs", "clamp_min", "clamp_max",
    "label_replace", "label_join", "vector", "scalar", "time", "timestamp", "last_over_time", "max_over_time",
    "min_over_time", "avg_over_time", "sum_over_time", "count_over_time", "round", "ceil", "floor", "sort",
    "sort_desc", "absent",
})
KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                      "offset", "inf", "nan"})
ALWAYS_LABELS = frozenset({"job", "instance"})
"""Labels Prometheus adds to every scraped series."""


def referenced(expr: str) -> tuple[set[str], list[tuple[str, set[str]]], set[str]]:
    """(metric names, (metric, matcher label names) pairs, grouping label names) of a PromQL expression."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    selectors = [(m.group(1), set(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", m.group(2))))
                 for m in re.finditer(r"([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}", s)]
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    grouping: set[str] = set()
    for m in re.finditer(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", s):
        grouping.update(x.strip() for x in m.group(2).split(",") if x.strip())
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    metrics: set[str] = set()
    for m in re.finditer(r"(?<![\w.:])([a-zA-Z_:][\w:]*)(\s*\()?", s):
        name, call = m.group(1), m.group(2)
        if call:
            assert name in PROMQL_FUNCTIONS, f"unknown function {name} in {expr!r}"
        elif name not in KEYWORDS:
            metrics.add(name)
    return metrics, selectors, grouping


def family_of(series: str) -> str:
    for f in FAMILIES:
        if series == f.name or (f.kind == "histogram" and series in (f"{f.name}_bucket", f"{f.name}_count",
                                                                    f"{f.name}_sum")):
            return f.name
    raise AssertionError(f"{series} is not in the catalogue")


def test_every_expression_uses_catalogue_metrics_and_labels() -> None:
    d = dashboard()
    exprs = expressions(d)
    assert len(exprs) >= 15
    known = all_series_names()
    used: set[str] = set()
    for raw in exprs:
        expr = substitute(raw, dashboard_variables(d))
        metrics, selectors, grouping = referenced(expr)
        assert metrics, f"no metric in {raw!r}"
        assert metrics <= known, f"{raw!r} references {metrics - known}"
        used |= metrics
        allowed = set(ALWAYS_LABELS)
        for m in metrics:
            allowed |= set(BY_NAME[family_of(m)].labels) | ({"le"} if m.endswith("_bucket") else set())
        for metric, labels in selectors:
            fam = BY_NAME[family_of(metric)]
            extra = {"le"} if metric.endswith("_bucket") else set()
            assert labels <= set(fam.labels) | extra | ALWAYS_LABELS, f"{raw!r}: {labels} not labels of {metric}"
        assert grouping <= allowed, f"{raw!r}: grouping by {grouping - allowed}"
    # The dashboard shows what the task asks for.
    assert {"roamsim_link_messages_total", "roamsim_steering_rejects_total", "roamsim_active_roamers",
            "roamsim_procedure_duration_seconds_bucket", "roamsim_registrations_total",
            "roamsim_messages_total"} <= used
    assert any("histogram_quantile(0.95" in e for e in exprs)


def test_parser_catches_unknown_metrics_and_labels() -> None:
    metrics, selectors, grouping = referenced(
        'sum by (le, foo) (rate(roamsim_nope_total{home_plmn="a"}[1m])) / on(x) up')
    assert metrics == {"roamsim_nope_total", "up"}
    assert selectors == [("roamsim_nope_total", {"home_plmn"})]
    assert grouping == {"le", "foo", "x"}
    with pytest.raises(AssertionError, match="unknown function"):
        referenced("frobnicate(roamsim_active_roamers)")
    with pytest.raises(AssertionError, match="not in the catalogue"):
        family_of("roamsim_nope_total")


def test_dashboard_is_grafana_shaped() -> None:
    d = dashboard()
    assert d["title"] and d["uid"] and isinstance(d["schemaVersion"], int) and d["schemaVersion"] >= 30
    variables = d["templating"]["list"]
    ds_vars = [v for v in variables if v["type"] == "datasource"]
    assert len(ds_vars) == 1 and ds_vars[0]["query"] == "prometheus"
    ds_ref = {"type": "prometheus", "uid": "${" + ds_vars[0]["name"] + "}"}
    for v in variables:
        if v["type"] == "query":
            assert v["datasource"] == ds_ref
            m = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", v["definition"])
            assert m is not None and m.group(2) == v["name"], v["definition"]
            assert m.group(2) in BY_NAME[family_of(m.group(1))].labels
    ids = [p["id"] for p in panels(d)]
    assert len(ids) == len(set(ids))
    kinds = {"row", "stat", "table", "timeseries", "bargauge", "piechart", "gauge", "barchart"}
    titles = []
    for p in panels(d):
        assert p["type"] in kinds and p["title"]
        g = p["gridPos"]
        assert all(isinstance(g[k], int) for k in "xywh") and g["x"] >= 0 and g["x"] + g["w"] <= 24 and g["h"] > 0
        titles.append(p["title"].lower())
        if p["type"] == "row":
            continue
        assert p["datasource"] == ds_ref
        targets = p["targets"]
        assert targets and len({t["refId"] for t in targets}) == len(targets)
        for t in targets:
            assert t["expr"].strip() and t["datasource"] == ds_ref
    for topic in ("partner", "p95", "tps per link", "steering funnel", "error mix", "active roamers"):
        assert any(topic in t for t in titles), topic


def test_provisioning_files_load_the_dashboard() -> None:
    ds = yaml.safe_load((DEPLOY / "provisioning" / "datasources" / "roamsim.yaml").read_text(encoding="utf-8"))
    assert ds["apiVersion"] == 1
    (source,) = ds["datasources"]
    assert source["type"] == "prometheus" and source["url"].startswith("http") and source["uid"]
    prov = yaml.safe_load((DEPLOY / "provisioning" / "dashboards" / "roamsim.yaml").read_text(encoding="utf-8"))
    assert prov["apiVersion"] == 1
    (provider,) = prov["providers"]
    assert provider["type"] == "file" and provider["options"]["path"].startswith("/")
    # The README tells how to mount the dashboards folder where the provider looks.
    readme = (DEPLOY.parent.parent / "README.md").read_text(encoding="utf-8")
    assert provider["options"]["path"] in readme and "deploy/grafana/provisioning" in readme
