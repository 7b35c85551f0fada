"""OpenTelemetry export of a finished run (the optional ``otel`` extra): traces and metrics over OTLP/HTTP.

:func:`export_run` sends sampled procedures as traces (simulated times, ids
derived from the run and procedure ids) and the run's metrics. Nothing here
imports the OpenTelemetry SDK until an export starts, so ``roamsim`` works
without the extra; :func:`require_sdk` names it when it is missing.
"""

from roamsim.otel.config import DEFAULT_RATIO, OtlpConfigError, OtlpSettings, OtlpUnavailable, require_sdk
from roamsim.otel.export import OtlpExportError, OtlpSummary, export_run

__all__ = [
    "DEFAULT_RATIO", "OtlpConfigError", "OtlpExportError", "OtlpSettings", "OtlpSummary", "OtlpUnavailable",
    "export_run", "require_sdk",
]
