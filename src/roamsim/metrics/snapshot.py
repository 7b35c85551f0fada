"""Point-in-time copies of metric families: what every exporter (Prometheus text,
OpenMetrics, Pushgateway, OTLP) reads. Plain frozen data, no behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["counter", "gauge", "histogram"]


@dataclass(frozen=True)
class SampleSnapshot:
    """One labelled sample of a family.

    Counters and gauges set ``value``; histograms set ``buckets`` (cumulative
    ``(upper bound, count)`` pairs, ``+Inf`` last), ``count`` and ``sum``.
    ``timestamp_ns`` is the sample's time (ns since the Unix epoch) when it
    belongs to a point of a time series, ``None`` for "now".
    """

    labels: dict[str, str]
    value: float | None = None
    buckets: tuple[tuple[float, int], ...] | None = None
    count: int | None = None
    sum: float | None = None
    timestamp_ns: int | None = None


@dataclass(frozen=True)
class FamilySnapshot:
    """A metric family: its name (without the ``_total`` suffix of counter samples), kind, help, unit, samples.

    ``name`` is the full Prometheus name as exposed (``roamsim_procedures_total``
    for a counter); ``unit`` is the base unit (``seconds``) or ``""``.
    """

    name: str
    kind: Kind
    help: str
    unit: str
    samples: list[SampleSnapshot] = field(default_factory=list)
