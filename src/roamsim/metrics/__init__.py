"""Run metrics: a catalogue, a registry fed with the engine's record batches, and exporters
(Prometheus text and OpenMetrics, ``metrics.prom``, a live ``/metrics`` endpoint, the
Pushgateway, an OpenMetrics time series over simulated time).

:meth:`MetricsRegistry.snapshot` is the one read API; other exporters (OTLP) convert
its :class:`FamilySnapshot` list. :func:`registry_for_run` rebuilds a finished run's registry.
"""

from roamsim.metrics.registry import MetricsRegistry, registry_for_run
from roamsim.metrics.snapshot import FamilySnapshot, SampleSnapshot

__all__ = ["FamilySnapshot", "MetricsRegistry", "SampleSnapshot", "registry_for_run"]
