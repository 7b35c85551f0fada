"""Text exposition of metric snapshots: Prometheus text format 0.0.4 and OpenMetrics 1.0.

Our own small encoder (no client library), used everywhere: the live
``/metrics`` endpoint, ``metrics.prom``, the Pushgateway body and the
OpenMetrics time series.

- Prometheus text format 0.0.4: https://prometheus.io/docs/instrumenting/exposition_formats/
  (``# HELP``/``# TYPE``, label values escaped ``\\\\``, ``\\"``, ``\\n``, optional integer
  millisecond timestamps).
- OpenMetrics 1.0: https://github.com/OpenObservability/OpenMetrics/blob/main/specification/OpenMetrics.md
  (counter families named without ``_total``, ``# UNIT``, timestamps in seconds,
  ``info`` for the run identity, a final ``# EOF``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from roamsim.metrics.snapshot import FamilySnapshot, SampleSnapshot

CONTENT_TYPE_TEXT = "text/plain; version=0.0.4; charset=utf-8"
CONTENT_TYPE_OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def _escape_label(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(v: str, openmetrics: bool) -> str:
    v = v.replace("\\", "\\\\").replace("\n", "\\n")
    return v.replace('"', '\\"') if openmetrics else v


def format_value(v: float) -> str:
    """A sample value: integers without a fraction, ``+Inf``/``-Inf``/``NaN`` spelled out."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v.is_integer() and abs(v) < 2**53:
        return str(int(v))
    return repr(v)


def format_le(bound: float) -> str:
    """A bucket bound as Go's shortest float text (``0.05``, ``1``, ``60``, ``+Inf``), in both formats.

    That is what the Pushgateway and the Go client libraries write, so the live
    endpoint, a pushed run and a backfilled run give the same ``le`` label values
    (Prometheus 2 stores ``le`` as written; ``1`` and ``1.0`` would be two buckets).
    """
    return "+Inf" if math.isinf(bound) else format_value(float(bound))


def format_labels(labels: dict[str, str], extra: tuple[str, str] | None = None) -> str:
    items = [*labels.items(), *([extra] if extra else [])]
    if not items:
        return ""
    return "{" + ",".join(f'{k}="{_escape_label(v)}"' for k, v in items) + "}"


def format_timestamp(ts_ns: int | None, openmetrics: bool) -> str:
    if ts_ns is None:
        return ""
    if openmetrics:
        return f" {ts_ns // 1_000_000_000}.{(ts_ns // 1_000_000) % 1000:03d}"
    return f" {ts_ns // 1_000_000}"


def sample_lines(name: str, s: SampleSnapshot, openmetrics: bool, timestamps: bool) -> Iterator[str]:
    ts = format_timestamp(s.timestamp_ns if timestamps else None, openmetrics)
    if s.buckets is not None:
        for bound, count in s.buckets:
            yield f"{name}_bucket{format_labels(s.labels, ('le', format_le(bound)))} {count}{ts}"
        yield f"{name}_count{format_labels(s.labels)} {s.count if s.count is not None else s.buckets[-1][1]}{ts}"
        if s.sum is not None:
            yield f"{name}_sum{format_labels(s.labels)} {format_value(s.sum)}{ts}"
        return
    if s.value is None:
        raise ValueError(f"{name}: a sample without a value")
    yield f"{name}{format_labels(s.labels)} {format_value(s.value)}{ts}"


def encode_text(families: Iterable[FamilySnapshot], *, timestamps: bool = True) -> str:
    """Prometheus text format 0.0.4 (``timestamps=False`` drops sample timestamps, as the textfile
    collector requires)."""
    lines: list[str] = []
    for f in families:
        lines.append(f"# HELP {f.name} {_escape_help(f.help, False)}")
        lines.append(f"# TYPE {f.name} {f.kind}")
        for s in f.samples:
            lines.extend(sample_lines(f.name, s, False, timestamps))
    return "\n".join(lines) + "\n"


def openmetrics_family(f: FamilySnapshot) -> tuple[str, str]:
    """The OpenMetrics family name and type of a snapshot family (``roamsim_procedures`` / ``counter``;
    ``roamsim_run`` / ``info`` for the run identity)."""
    if f.kind == "counter":
        if not f.name.endswith("_total"):
            raise ValueError(f"{f.name}: a counter's name must end in _total")
        return f.name[: -len("_total")], "counter"
    if f.name.endswith("_info") and all(s.value == 1.0 for s in f.samples):
        return f.name[: -len("_info")], "info"
    return f.name, f.kind


def openmetrics_header(f: FamilySnapshot) -> tuple[list[str], str]:
    """A family's OpenMetrics metadata lines (``# TYPE``, ``# UNIT``, ``# HELP``) and its samples' name."""
    name, kind = openmetrics_family(f)
    lines = [f"# TYPE {name} {kind}"]
    if f.unit:
        lines.append(f"# UNIT {name} {f.unit}")
    lines.append(f"# HELP {name} {_escape_help(f.help, True)}")
    return lines, {"counter": f"{name}_total", "info": f"{name}_info"}.get(kind, name)


def encode_openmetrics_family(f: FamilySnapshot) -> Iterator[str]:
    """The lines of one family in OpenMetrics 1.0 (samples in the order given: a time series must
    list each label set's points in time order)."""
    header, sample_name = openmetrics_header(f)
    yield from header
    for s in f.samples:
        yield from sample_lines(sample_name, s, True, True)


def encode_openmetrics(families: Iterable[FamilySnapshot]) -> str:
    """OpenMetrics 1.0 text, ending with ``# EOF``."""
    lines: list[str] = []
    for f in families:
        lines.extend(encode_openmetrics_family(f))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def write_textfile(families: Iterable[FamilySnapshot], path: Path) -> None:
    """Write final values for node-exporter's textfile collector: text format 0.0.4, no timestamps,
    atomically (a temporary file that the collector ignores, then a rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(encode_text(families, timestamps=False), encoding="utf-8")
    os.replace(tmp, path)
