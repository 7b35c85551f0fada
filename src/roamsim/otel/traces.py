"""Procedures as OpenTelemetry traces: one span per sampled procedure, a child span per transaction hop.

Times are the run's *simulated* times (ns since the Unix epoch), so a trace shows
what the signalling did, not when roamsim computed it.

* Procedure span: name = procedure type (``attach``, ``purge``, ...), start/end
  from ``procedures.parquet``, kind INTERNAL, attributes ``roamsim.procedure_id``,
  ``roaming.procedure``, ``roaming.trigger``, ``roaming.home_plmn``,
  ``roaming.visited_plmn``, ``roaming.rat`` (and ``network.connection.subtype``,
  OTel semantic conventions), ``roaming.serving_node``, ``roaming.outcome``,
  ``roaming.emm_cause``, ``roaming.result_code`` or
  ``roaming.experimental_result_code``, ``roaming.attempt``, ``roaming.steered``;
  status ERROR with the cause in words unless the outcome is ``success``.
* Hop span: one per request hop of each transaction (``messages.parquet``), name =
  the request's message name (``ULR``), kind CLIENT, from the request leaving
  ``origin`` to the answer coming back over the same link (the procedure's end when
  no answer came), attributes ``roaming.protocol``, ``roaming.interface``,
  ``roaming.message``, ``roaming.answer``, ``roaming.command_code``, ``roaming.hop``,
  ``roaming.origin``, ``roaming.destination``, ``roaming.result_code`` /
  ``roaming.experimental_result_code``, ``roamsim.txn_id``; status ERROR unless
  the answer's code is of the protocol's success class (Diameter 2xxx, RFC 6733
  §7.1.2; MAP returnResult; HTTP 2xx; GTPv2-C acceptance causes), see
  :mod:`roamsim.report.codes`.

Attribute names follow ``shared/domain/roaming-facts.md`` §6.2 (no telecom
signalling semantic conventions exist). The IMSI (``roaming.imsi``) is added only
when asked for.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from roamsim.logs import describe_cause
from roamsim.otel.ids import RunIds, trace_id_int
from roamsim.report.codes import is_success, result_name

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan

PROCEDURE_COLUMNS = ("procedure_id", "type", "trigger", "imsi", "home_plmn", "visited_plmn", "rat", "mme",
                     "start_time", "end_time", "outcome", "emm_cause", "result_code", "experimental", "attempt",
                     "steered")
MESSAGE_COLUMNS = ("time", "protocol", "interface", "message", "command_code", "is_request", "txn_id",
                   "procedure_id", "origin", "destination", "hop", "result_code", "experimental_result_code")
CONNECTION_SUBTYPE = {"2G": "gsm", "3G": "umts", "4G": "lte", "5G": "nr"}
"""RAT → ``network.connection.subtype`` well-known value (OTel semantic conventions, network registry)."""


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary columns decoded to strings."""
    cols = [c.cast(pa.string()) if pa.types.is_dictionary(c.type) else c for c in table.columns]
    return pa.Table.from_arrays(cols, names=table.column_names)


def sampled_procedures(run_dir: Path, ids: RunIds, ratio: float) -> pa.Table:
    """The rows of ``procedures.parquet`` whose trace is sampled at ``ratio``, in file order."""
    pf = pq.ParquetFile(run_dir / "procedures.parquet")
    columns = [c for c in PROCEDURE_COLUMNS if c in pf.schema_arrow.names]
    parts = []
    for batch in pf.iter_batches(columns=columns, batch_size=262_144):
        mask = ids.sampled(batch.column("procedure_id").to_numpy(zero_copy_only=False), ratio)
        if mask.any():
            parts.append(_plain(pa.Table.from_batches([batch]).filter(pa.array(mask))))
    if not parts:
        return _plain(pa.Table.from_batches([], schema=pf.schema_arrow).select(columns))
    return pa.concat_tables(parts)


def hop_rows(run_dir: Path, procedure_ids: pa.Array) -> pa.Table:
    """One row per request hop of the given procedures' transactions, joined with the answer on the same link.

    Answer columns (``answer_time``, ``answer``, ``result_code``, ``experimental_result_code``)
    are null where no answer came back.
    """
    dataset = ds.dataset(run_dir / "messages.parquet", format="parquet")
    columns = [c for c in MESSAGE_COLUMNS if c in dataset.schema.names]
    table = _plain(dataset.to_table(columns=columns, filter=pc.field("procedure_id").isin(procedure_ids)))
    is_req = table["is_request"]
    requests = table.filter(is_req).drop_columns(["is_request", "result_code", "experimental_result_code"])
    answers = table.filter(pc.invert(is_req)).select(
        ["txn_id", "origin", "destination", "time", "message", "result_code", "experimental_result_code"])
    # An answer goes back over the request's link: its origin is the request's destination.
    answers = answers.rename_columns(
        ["txn_id", "destination", "origin", "answer_time", "answer", "result_code", "experimental_result_code"])
    joined = requests.join(answers, keys=["txn_id", "origin", "destination"], join_type="left outer")
    return joined.sort_by([("procedure_id", "ascending"), ("time", "ascending"), ("hop", "ascending")])


def _code_attributes(code: int | None, experimental: bool | None) -> dict[str, int]:
    if code is None:
        return {}
    return {"roaming.experimental_result_code" if experimental else "roaming.result_code": int(code)}


class SpanBuilder:
    """Turns sampled procedure rows and their hop rows into SDK ``ReadableSpan`` objects."""

    def __init__(self, ids: RunIds, resource: Resource, *, include_imsi: bool = False) -> None:
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope
        from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

        from roamsim.version import __version__

        self._span, self._context, self._kind = ReadableSpan, SpanContext, SpanKind
        self._ok = Status(StatusCode.UNSET)
        self._status, self._error_code = Status, StatusCode.ERROR
        self._sampled = TraceFlags(TraceFlags.SAMPLED)
        self.ids = ids
        self.resource = resource
        self.include_imsi = include_imsi
        self.scope = InstrumentationScope("roamsim", __version__)

    def procedure_spans(self, procs: pa.Table, hops: pa.Table) -> list[ReadableSpan]:
        """The spans of ``procs`` (a slice of :func:`sampled_procedures`), each followed by its hop spans."""
        if procs.num_rows == 0:
            return []
        pid = procs["procedure_id"].to_numpy(zero_copy_only=False)
        high, low = self.ids.trace_ids(pid)
        span_ids = self.ids.procedure_span_ids(pid)
        by_proc = _group_hops(hops, pid)
        flags = self._sampled
        spans: list[ReadableSpan] = []
        for i, row in enumerate(procs.to_pylist()):
            trace_id = trace_id_int(high[i], low[i])
            ctx = self._context(trace_id, int(span_ids[i]), is_remote=False, trace_flags=flags)
            ok = row["outcome"] == "success"
            cause = "" if ok else describe_cause(row["outcome"], row.get("emm_cause"), row.get("result_code"),
                                                 row.get("experimental"))
            spans.append(self._span(
                name=row["type"], context=ctx, parent=None, resource=self.resource,
                attributes=self._procedure_attributes(row, cause), kind=self._kind.INTERNAL,
                instrumentation_scope=self.scope, status=self._ok if ok else self._status(self._error_code, cause),
                start_time=row["start_time"], end_time=row["end_time"],
            ))
            for hop in by_proc.get(row["procedure_id"], ()):
                spans.append(self._hop_span(hop, trace_id, ctx, row["end_time"]))
        return spans

    def _procedure_attributes(self, row: dict[str, Any], cause: str) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "roamsim.procedure_id": row["procedure_id"],
            "roaming.procedure": row["type"],
            "roaming.trigger": row.get("trigger"),
            "roaming.home_plmn": row.get("home_plmn"),
            "roaming.visited_plmn": row.get("visited_plmn"),
            "roaming.rat": row.get("rat"),
            "network.connection.subtype": CONNECTION_SUBTYPE.get(row.get("rat") or ""),
            "roaming.serving_node": row.get("mme"),
            "roaming.outcome": row["outcome"],
            "roaming.emm_cause": row.get("emm_cause"),
            "roaming.attempt": row.get("attempt"),
            "roaming.steered": row.get("steered"),
            **_code_attributes(row.get("result_code"), row.get("experimental")),
        }
        if cause:
            attrs["error.type"] = cause
        if self.include_imsi and row.get("imsi") is not None:
            attrs["roaming.imsi"] = str(row["imsi"])
        return {k: v for k, v in attrs.items() if v is not None}

    def _hop_span(self, hop: dict[str, Any], trace_id: int, parent: Any, procedure_end: int) -> ReadableSpan:
        answered = hop["answer_time"] is not None
        experimental = hop["experimental_result_code"] is not None
        code = hop["experimental_result_code"] if experimental else hop["result_code"]
        protocol = hop.get("protocol") or "diameter"
        if not answered or code is None:
            ok, description = False, "no answer"
        else:
            ok = is_success(protocol, code) is not False
            description = f"{result_name(protocol, code, experimental)} ({code})"
        attrs: dict[str, Any] = {
            "roamsim.txn_id": hop["txn_id"],
            "roamsim.procedure_id": hop["procedure_id"],
            "roaming.protocol": hop.get("protocol"),
            "roaming.interface": hop.get("interface"),
            "roaming.message": hop["message"],
            "roaming.answer": hop["answer"],
            "roaming.command_code": hop.get("command_code"),
            "roaming.hop": hop["hop"],
            "roaming.origin": hop["origin"],
            "roaming.destination": hop["destination"],
            **_code_attributes(hop["result_code"], False),
            **_code_attributes(hop["experimental_result_code"], True),
        }
        end = hop["answer_time"] if answered else max(procedure_end, hop["time"])
        ctx = self._context(trace_id, hop["span_id"], is_remote=False, trace_flags=parent.trace_flags)
        return self._span(
            name=hop["message"], context=ctx, parent=parent, resource=self.resource,
            attributes={k: v for k, v in attrs.items() if v is not None},
            kind=self._kind.CLIENT, instrumentation_scope=self.scope,
            status=self._ok if ok else self._status(self._error_code, description),
            start_time=hop["time"], end_time=end,
        )


def _group_hops(hops: pa.Table, pids: np.ndarray) -> dict[int, list[dict[str, Any]]]:
    """Hop rows of the procedures ``pids``, grouped by procedure id (rows keep their order)."""
    if hops.num_rows == 0:
        return {}
    sel = hops.filter(pc.is_in(hops["procedure_id"], value_set=pa.array(pids, pa.int64())))
    out: dict[int, list[dict[str, Any]]] = {}
    for row in sel.to_pylist():
        out.setdefault(row["procedure_id"], []).append(row)
    return out


def span_batches(run_dir: Path, run_id: str, ratio: float, resource: Resource, *, include_imsi: bool = False,
                 procedures_per_batch: int = 500) -> Iterator[tuple[int, Sequence[ReadableSpan]]]:
    """(procedure count, spans) batches of a run's sampled procedures, ready for an exporter."""
    ids = RunIds(run_id)
    procs = sampled_procedures(run_dir, ids, ratio)
    if procs.num_rows == 0:
        return
    hops = hop_rows(run_dir, procs["procedure_id"].combine_chunks())
    span_ids = ids.hop_span_ids(hops["txn_id"].to_numpy(zero_copy_only=False),
                                hops["hop"].to_numpy(zero_copy_only=False))
    hops = hops.append_column("span_id", pa.array(span_ids, pa.uint64()))
    builder = SpanBuilder(ids, resource, include_imsi=include_imsi)
    for start in range(0, procs.num_rows, procedures_per_batch):
        chunk = procs.slice(start, procedures_per_batch)
        yield chunk.num_rows, builder.procedure_spans(chunk, hops)
