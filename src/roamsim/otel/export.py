"""Export a finished run over OTLP/HTTP (protobuf): sampled procedures as traces, the run's metrics.

The OpenTelemetry SDK's own OTLP/HTTP exporters send the data, so the standard
``OTEL_EXPORTER_OTLP_*`` variables (endpoint, headers, timeout, compression,
certificates) apply unchanged; see :mod:`roamsim.otel.config`.

Resource: ``service.name`` ``roamsim`` and ``service.version`` unless
``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES`` say otherwise, every
``OTEL_RESOURCE_ATTRIBUTES`` pair, and the run's identity ``roamsim.run_id``,
``roamsim.scenario``, ``roamsim.seed``, ``roamsim.scale`` (these always win).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roamsim.otel.config import OtlpConfigError, OtlpSettings, require_sdk, settings_from_env

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource

    from roamsim.metrics.registry import MetricsRegistry

MANIFEST = "manifest.json"
DEFAULT_ENDPOINT = "http://localhost:4318"
_log = logging.getLogger("roamsim.otlp")


class OtlpExportError(RuntimeError):
    """The collector refused the data or could not be reached."""


@dataclass(frozen=True)
class OtlpSummary:
    """What an export sent."""

    ratio: float
    """Share of procedures sampled."""
    procedures: int = 0
    """Procedure (root) spans sent."""
    spans: int = 0
    """All spans sent (procedures and hops)."""
    metrics: int = 0
    """Metric families sent."""
    disabled: bool = False
    """``OTEL_SDK_DISABLED`` was true: nothing was sent."""


def signal_endpoint(signal: str) -> str:
    """Where the exporter sends ``traces`` or ``metrics`` (for messages; the exporter reads the same variables)."""
    specific = os.environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", "").strip()
    if specific:
        return specific
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or DEFAULT_ENDPOINT
    return f"{base.rstrip('/')}/v1/{signal}"


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The manifest of a complete run; anything else is bad input (:class:`OtlpConfigError`)."""
    path = run_dir / MANIFEST
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OtlpConfigError(f"{run_dir} is not a run directory (no {MANIFEST})") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise OtlpConfigError(f"{path} cannot be read: {exc}") from None
    if data.get("status") != "complete":
        raise OtlpConfigError(f"{run_dir}: the run is {data.get('status')!r}, not complete; "
                              "only complete runs are exported")
    return data


def run_resource(manifest: dict[str, Any]) -> Resource:
    """The OTLP resource of a run (see the module docstring for precedence)."""
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource

    from roamsim.version import __version__

    defaults = {"service.name": "roamsim", "service.version": __version__,
                "service.instance.id": str(manifest["run_id"])}
    sdk: dict[str, Any] = {k: v for k, v in Resource.create({}).attributes.items() if k.startswith("telemetry.sdk.")}
    run: dict[str, Any] = {
        "roamsim.run_id": str(manifest["run_id"]), "roamsim.scenario": str(manifest.get("scenario_name")),
        "roamsim.seed": int(manifest.get("seed", 0)), "roamsim.scale": float(manifest.get("scale", 1.0)),
    }
    return Resource(defaults).merge(OTELResourceDetector().detect()).merge(Resource({**sdk, **run}))


def export_traces(run_dir: Path, manifest: dict[str, Any], settings: OtlpSettings, resource: Resource, *,
                  include_imsi: bool = False) -> tuple[int, int]:
    """Send the sampled procedures' spans; returns (procedure spans, all spans)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    from roamsim.otel.traces import span_batches

    exporter = OTLPSpanExporter()
    procedures = spans = 0
    try:
        for n, batch in span_batches(run_dir, str(manifest["run_id"]), settings.ratio, resource,
                                     include_imsi=include_imsi):
            if exporter.export(batch) is not SpanExportResult.SUCCESS:
                raise OtlpExportError(f"the OTLP collector at {signal_endpoint('traces')} could not be reached "
                                      f"or did not accept the spans (after {spans:,} spans were sent)")
            procedures += n
            spans += len(batch)
    finally:
        exporter.shutdown()  # type: ignore[no-untyped-call]  # the SDK leaves it unannotated
    return procedures, spans


def export_metrics(manifest: dict[str, Any], registry: MetricsRegistry, resource: Resource) -> int:
    """Send the registry's snapshot as OTLP metrics; returns the number of metric families."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics.export import MetricExportResult

    from roamsim.otel.metrics import metrics_data, window_bounds

    start_ns, end_ns = window_bounds(manifest)
    data, families = metrics_data(registry.snapshot(), resource, start_ns=start_ns, end_ns=end_ns)
    if families == 0:
        return 0
    exporter = OTLPMetricExporter()
    try:
        if exporter.export(data) is not MetricExportResult.SUCCESS:
            raise OtlpExportError(f"the OTLP collector at {signal_endpoint('metrics')} could not be reached "
                                  "or did not accept the metrics")
    finally:
        exporter.shutdown()
    return families


def export_run(run_dir: str | Path, *, include_imsi: bool = False, traces: bool = True, metrics: bool = True,
               registry: MetricsRegistry | None = None) -> OtlpSummary:
    """Export the complete run ``run_dir`` over OTLP/HTTP as configured by the ``OTEL_*`` variables.

    ``registry`` is the run's metrics registry when the caller has it; otherwise it is
    rebuilt from the run directory. Raises :class:`roamsim.otel.config.OtlpUnavailable`
    (extra missing), :class:`roamsim.otel.config.OtlpConfigError` (bad input) and
    :class:`OtlpExportError` (the collector failed).
    """
    require_sdk()
    path = Path(run_dir)
    settings = settings_from_env(os.environ)
    manifest = read_manifest(path)
    if settings.disabled:
        _log.info("OTLP export skipped: OTEL_SDK_DISABLED is true", extra={"run_id": manifest["run_id"]})
        return OtlpSummary(ratio=settings.ratio, disabled=True)
    resource = run_resource(manifest)
    procedures = spans = families = 0
    if traces:
        procedures, spans = export_traces(path, manifest, settings, resource, include_imsi=include_imsi)
    if metrics:
        if registry is None:
            from roamsim.metrics.registry import registry_for_run

            registry = registry_for_run(path)
        families = export_metrics(manifest, registry, resource)
    summary = OtlpSummary(ratio=settings.ratio, procedures=procedures, spans=spans, metrics=families)
    _log.info("OTLP export done", extra={
        "run_id": manifest["run_id"], "sampling_ratio": settings.ratio, "procedure_spans": procedures,
        "spans": spans, "metric_families": families, "traces_endpoint": signal_endpoint("traces"),
    })
    return summary
