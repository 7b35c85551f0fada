"""OTLP export settings: the standard ``OTEL_*`` environment variables, and the ``otel`` extra.

Read here (OpenTelemetry SDK environment variable specification):

* ``OTEL_SDK_DISABLED=true``: export nothing.
* ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG``: ``always_on``, ``always_off``,
  ``traceidratio`` and their ``parentbased_*`` forms (a procedure span has no parent,
  so they act alike). Unset, roamsim samples ``traceidratio`` at
  :data:`DEFAULT_RATIO` (a run has millions of procedures), not the SDK's
  ``parentbased_always_on``.

The exporters read the rest themselves: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (default
``http://localhost:4318``), ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT``, ``*_HEADERS``, ``*_TIMEOUT``,
``*_COMPRESSION``, ``*_CERTIFICATE``; the resource reads ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

EXTRA = "otel"
INSTALL_HINT = "pip install 'roamsim[otel]'"
DEFAULT_RATIO = 0.01
"""Share of procedures exported as traces when ``OTEL_TRACES_SAMPLER_ARG`` is not set."""

_ALWAYS_ON = ("always_on", "parentbased_always_on")
_ALWAYS_OFF = ("always_off", "parentbased_always_off")
_RATIO = ("traceidratio", "parentbased_traceidratio")


class OtlpConfigError(ValueError):
    """Bad input to an export: an ``OTEL_*`` variable roamsim cannot use, or a directory that is no complete run."""


class OtlpUnavailable(ImportError):
    """The ``otel`` extra (OpenTelemetry SDK and OTLP/HTTP exporter) is not installed."""


@dataclass(frozen=True)
class OtlpSettings:
    """What the environment asks of an export."""

    ratio: float
    """Share of procedures kept as traces (0 to 1)."""
    disabled: bool = False
    """``OTEL_SDK_DISABLED`` is true: export nothing."""


def require_sdk() -> None:
    """Fail with the install line when the ``otel`` extra is missing."""
    try:
        import opentelemetry.exporter.otlp.proto.http
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError as exc:
        raise OtlpUnavailable(
            f"OTLP export needs the optional '{EXTRA}' extra (OpenTelemetry SDK and OTLP/HTTP exporter, "
            f"missing: {exc.name}); install it with: {INSTALL_HINT}"
        ) from None


def _ratio_arg(env: Mapping[str, str]) -> float:
    raw = env.get("OTEL_TRACES_SAMPLER_ARG", "").strip()
    if not raw:
        return DEFAULT_RATIO
    try:
        ratio = float(raw)
    except ValueError:
        ratio = math.nan
    if not 0.0 <= ratio <= 1.0:
        raise OtlpConfigError(f"OTEL_TRACES_SAMPLER_ARG={raw!r} is not a sampling ratio between 0 and 1")
    return ratio


def settings_from_env(env: Mapping[str, str]) -> OtlpSettings:
    """Read the sampler and ``OTEL_SDK_DISABLED`` from ``env``; bad values raise :class:`OtlpConfigError`."""
    disabled = env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    sampler = env.get("OTEL_TRACES_SAMPLER", "").strip().lower()
    if sampler in _ALWAYS_ON:
        ratio = 1.0
    elif sampler in _ALWAYS_OFF:
        ratio = 0.0
    elif sampler in ("", *_RATIO):
        ratio = _ratio_arg(env)
    else:
        allowed = ", ".join((*_ALWAYS_ON, *_ALWAYS_OFF, *_RATIO))
        raise OtlpConfigError(f"OTEL_TRACES_SAMPLER={sampler!r} is not supported by roamsim; use one of: {allowed}")
    return OtlpSettings(ratio=ratio, disabled=disabled)
