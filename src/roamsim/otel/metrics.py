"""The run's metrics (:meth:`roamsim.metrics.registry.MetricsRegistry.snapshot`) as OTLP metrics.

The same families and label sets as the Prometheus exposition, under the same
names, so a collector's Prometheus exporter gives back the ``roamsim_*`` series:

* counter → Sum (monotonic, cumulative); gauge → Gauge;
* histogram → Histogram (cumulative): ``explicit_bounds`` are the finite bucket
  upper bounds, ``bucket_counts`` the per-bucket counts (OTLP metrics data model,
  "Histogram": ``len(bucket_counts) == len(explicit_bounds) + 1``), taken from
  the cumulative Prometheus buckets by differencing; min and max are unknown and
  left unset (optional fields).

Units are mapped to UCUM (``seconds`` → ``s``). Points are stamped in simulated
time like the spans: a sample's own timestamp when it has one, otherwise the end
of the simulation window; cumulative series start at the window start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricsData
    from opentelemetry.sdk.resources import Resource

    from roamsim.metrics.snapshot import FamilySnapshot, SampleSnapshot

UCUM_UNITS = {"seconds": "s", "bytes": "By", "ratio": "1", "": ""}


def window_bounds(manifest: dict[str, Any]) -> tuple[int, int]:
    """(start, end) of the run's simulation window, ns since the Unix epoch."""
    start = dt.datetime.fromisoformat(manifest["window"]["start"])
    start_ns = int(start.timestamp()) * 1_000_000_000 + start.microsecond * 1000
    return start_ns, start_ns + int(manifest["window"]["duration_ns"])


def _number(value: float | None) -> int | float:
    v = 0.0 if value is None else float(value)
    return int(v) if v.is_integer() and abs(v) < 2**63 else v


def bucket_counts(buckets: Sequence[tuple[float, int]], count: int) -> tuple[list[float], list[int]]:
    """Cumulative ``(upper, count)`` buckets → (finite explicit bounds, per-bucket counts incl. overflow)."""
    bounds: list[float] = []
    counts: list[int] = []
    previous = 0
    for upper, cumulative in buckets:
        if upper == float("inf"):
            break
        bounds.append(float(upper))
        counts.append(int(cumulative) - previous)
        previous = int(cumulative)
    counts.append(int(count) - previous)
    return bounds, counts


def _point_time(sample: SampleSnapshot, end_ns: int) -> int:
    return sample.timestamp_ns if sample.timestamp_ns is not None else end_ns


def _metric(family: FamilySnapshot, start_ns: int, end_ns: int) -> Any:
    from opentelemetry.sdk.metrics.export import (
        AggregationTemporality,
        Gauge,
        Histogram,
        HistogramDataPoint,
        Metric,
        NumberDataPoint,
        Sum,
    )

    unit = UCUM_UNITS.get(family.unit, family.unit)
    data: Sum | Gauge | Histogram
    if family.kind == "histogram":
        points = []
        for s in family.samples:
            bounds, counts = bucket_counts(s.buckets or (), s.count or 0)
            points.append(HistogramDataPoint(
                attributes=dict(s.labels), start_time_unix_nano=start_ns, time_unix_nano=_point_time(s, end_ns),
                count=int(s.count or 0), sum=float(s.sum or 0.0), bucket_counts=counts, explicit_bounds=bounds,
                min=None, max=None,  # type: ignore[arg-type]  # unknown: left unset in OTLP
            ))
        data = Histogram(data_points=points, aggregation_temporality=AggregationTemporality.CUMULATIVE)
    else:
        numbers = [NumberDataPoint(attributes=dict(s.labels), start_time_unix_nano=start_ns,
                                   time_unix_nano=_point_time(s, end_ns), value=_number(s.value))
                   for s in family.samples]
        if family.kind == "counter":
            data = Sum(data_points=numbers, aggregation_temporality=AggregationTemporality.CUMULATIVE,
                       is_monotonic=True)
        else:
            data = Gauge(data_points=numbers)
    return Metric(name=family.name, description=family.help, unit=unit, data=data)


def metrics_data(families: Sequence[FamilySnapshot], resource: Resource, *, start_ns: int,
                 end_ns: int) -> tuple[MetricsData, int]:
    """The families with at least one sample, as one OTLP ``MetricsData``; returns it and the family count."""
    from opentelemetry.sdk.metrics.export import MetricsData, ResourceMetrics, ScopeMetrics
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    from roamsim.version import __version__

    metrics = [_metric(f, start_ns, end_ns) for f in families if f.samples]
    scope = ScopeMetrics(scope=InstrumentationScope("roamsim", __version__), metrics=metrics, schema_url="")
    data = MetricsData(resource_metrics=[ResourceMetrics(resource=resource, scope_metrics=[scope], schema_url="")])
    return data, len(metrics)
