"""Row buffers the engine appends to, flushed to a sink as NumPy column batches.

The engine appends one tuple per record (the cheapest thing CPython does);
every ``batch`` rows the tuples become one int64 block, one contiguous row
per named column, and go to the sink. Memory stays flat however long the
run is.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from roamsim.engine.base import Proc, Txn

TXN_COLUMNS = (
    "txn_id", "e2e_id", "procedure_id", "roamer", "visited", "command_code", "path", "resp_hops", "origin", "responder",
    "request_time", "ipx_fwd", "depart_time", "answer_time", "result_code", "experimental", "timed_out",
    "retransmission", "steering_reject", "queue_wait_ns", "service_ns", "interface",
)
"""Columns of a transaction batch (times relative to the window start; -1 = none)."""

PROC_COLUMNS = (
    "procedure_id", "type", "trigger", "roamer", "visited", "mme", "start_time", "end_time", "outcome",
    "emm_cause", "result_code", "experimental", "attempt", "steered", "rat",
)
"""Columns of a procedure batch."""

SESSION_COLUMNS = (
    "session_id", "procedure_id", "roamer", "visited", "rat", "local_breakout", "start_time", "end_time", "outcome",
    "result_code", "bytes_uplink", "bytes_downlink",
)
"""Columns of a session batch."""


class Sink(Protocol):
    """Consumes record batches."""

    def write_transactions(self, cols: dict[str, np.ndarray]) -> None: ...

    def write_procedures(self, cols: dict[str, np.ndarray]) -> None: ...

    def write_sessions(self, cols: dict[str, np.ndarray]) -> None: ...


def _columns(rows: list[tuple[int, ...]], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The rows as int64 columns: one ``(columns, rows)`` block, each column a contiguous row of it.

    ``np.fromiter`` over the flattened tuples, then one transposing copy, is about a quarter cheaper than
    ``np.array(rows)`` and a copy per column; it runs on the engine's thread, so it is engine time.
    """
    k = len(names)
    flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64, count=len(rows) * k)
    return dict(zip(names, flat.reshape(len(rows), k).T.copy(), strict=True))


class RecordBuffers:
    """Transaction and procedure rows, flushed to ``sink`` every ``batch`` rows."""

    def __init__(self, sink: Sink, batch: int = 200_000) -> None:
        self.sink = sink
        self.batch = batch
        self._txn: list[tuple[int, ...]] = []
        self._proc: list[tuple[int, ...]] = []
        self._sess: list[tuple[int, ...]] = []
        self.transactions = 0
        self.procedures = 0
        self.sessions = 0

    def transaction(self, txn: Txn, t_ans: int, code: int, exp: bool, timed_out: bool, steering: bool,
                    wait: int, service: int, resp_hops: int, t_depart: int) -> None:
        self._txn.append((
            txn.id, txn.e2e, txn.proc.id, txn.proc.r, txn.proc.visited, txn.cmd, txn.path, resp_hops, txn.origin,
            txn.responder, txn.t_req, txn.ipx_fwd, t_depart, t_ans, code, exp, timed_out, txn.retry, steering, wait,
            service, txn.iface,
        ))
        if len(self._txn) >= self.batch:
            self.flush_transactions()

    def procedure(self, proc: Proc, t_end: int, outcome: int, cause: int, code: int, exp: bool) -> None:
        self._proc.append((
            proc.id, proc.kind, proc.trigger, proc.r, proc.visited, proc.mme, proc.start, t_end, outcome,
            cause, code, exp, proc.attempt, proc.steered, proc.rat,
        ))
        if len(self._proc) >= self.batch:
            self.flush_procedures()

    def session(self, setup: Proc, t_end: int, outcome: int, code: int, planned_bytes: int, uplink_share: float,
                local_breakout: bool) -> None:
        """A data session ended (or failed to start), with the volume drawn for it."""
        self._sess.append((
            setup.x, setup.id, setup.r, setup.visited, setup.rat, local_breakout, setup.start, t_end, outcome, code,
            int(planned_bytes * uplink_share), planned_bytes - int(planned_bytes * uplink_share),
        ))
        if len(self._sess) >= self.batch:
            self.flush_sessions()

    def flush_transactions(self) -> None:
        if self._txn:
            self.transactions += len(self._txn)
            self.sink.write_transactions(_columns(self._txn, TXN_COLUMNS))
            self._txn = []

    def flush_procedures(self) -> None:
        if self._proc:
            self.procedures += len(self._proc)
            self.sink.write_procedures(_columns(self._proc, PROC_COLUMNS))
            self._proc = []

    def flush_sessions(self) -> None:
        if self._sess:
            self.sessions += len(self._sess)
            self.sink.write_sessions(_columns(self._sess, SESSION_COLUMNS))
            self._sess = []

    def flush(self) -> None:
        self.flush_transactions()
        self.flush_procedures()
        self.flush_sessions()
