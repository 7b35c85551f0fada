"""The event log: transactions, messages, procedures and sessions as Parquet files.

Each file is written as ``NAME.parquet.part`` in row groups and renamed to
``NAME.parquet`` only after its footer is written, so a reader never sees a
half-written Parquet file. Message rows (one per message per hop) are derived
from the transaction records here, vectorised, with the same hop delays the
engine used: the log and the engine agree by construction.

Work is split by who needs the GIL. The Arrow tables are built on the caller's
(the engine's) thread, in a few NumPy passes per batch (the message rows from
per-path tables, one stable sort); one background thread then writes them
(Parquet encoding and compression release the GIL) and hands them to the
table observers, each file in submission order, with at most ``MAX_PENDING``
batches queued.
Building the tables on a background thread costs the Python engine more:
every NumPy call there releases the GIL and then waits up to a switch interval
(5 ms) to get it back from the busy engine, so the writer falls behind and the
engine stalls on the full queue (``benchmarks/writer_overhead.py``).

The compiled engine (:mod:`roamsim.engine.compiled`) holds no GIL while it runs, so for it the sink is made with
``tables_on_writer``: the caller only queues the record columns; a builder thread builds the tables and hands
them, in order, to two writer threads (messages.parquet has its own), so building, writing and the engine overlap
on both cores; the queue is then bounded by the record bytes it holds (``max_pending_bytes``, 256 MiB: a
transaction batch's tables, its messages above all, take about five times its records' bytes), not by a batch
count. Its record columns arrive as strided views of its row-major buffers; the builder thread makes the
transaction columns contiguous (:func:`_contiguous`) before its many passes over them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from roamsim.catalogue import commands as cat
from roamsim.placement import ThreadPlacement
from roamsim.records import schema as rs
from roamsim.world.model import MAX_HOPS, World

FILES = ("transactions", "messages", "procedures", "sessions")
MAX_PENDING = 2
DICTIONARY_COLUMNS = [
    "protocol", "interface", "command", "message", "origin", "responder", "destination", "type", "trigger", "home_plmn",
    "visited_plmn", "rat", "mme", "outcome", "routing", "apn",
]


def statistics_columns(schema: pa.Schema) -> list[str]:
    """Columns whose row groups get min/max statistics: the numeric ones, which readers prune row groups by (the
    capture writer by ``time``, the report's ladder by ``procedure_id``, DuckDB by any). Not the dictionary-encoded
    names: every row group holds most of their values, and their string statistics were a quarter of the time of
    writing messages.parquet."""
    return [name for name in schema.names if name not in DICTIONARY_COLUMNS]


MESSAGE_NAMES: list[str] = list(cat.MESSAGE_NAMES)
_MSG_IDX = np.stack([np.asarray(cat.REQUEST_INDEX), np.asarray(cat.ANSWER_INDEX)], axis=1).astype(np.int8).ravel()
"""``2 * command + (1 for the answer)`` → message index into :data:`MESSAGE_NAMES`."""
_WIRE_CODE = np.asarray([c.code for c in cat.CATALOGUE], dtype=np.int32)
_PROTO_IDX = np.asarray(cat.PROTOCOL_INDEX, dtype=np.int8)
SLOTS = 2 * MAX_HOPS
"""Message slots of a transaction: ``2 * hop`` is the request on that hop, ``2 * hop + 1`` the answer."""
_HOP = np.arange(MAX_HOPS)


def _names(names: tuple[str, ...] | list[str]) -> pa.Array:
    return pa.array(list(names), type=pa.string())


def _dict(indices: np.ndarray, names: pa.Array, itype: pa.DataType) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(indices, type=itype), names)


def _nullable(values: np.ndarray, null: np.ndarray) -> pa.Array:
    return pa.array(values, mask=null)


class PathTable:
    """Per (path, hops to the responder): the delay, start time and elements of each message slot.

    Rows are indexed ``path * (MAX_HOPS + 1) + resp_hops``, columns by slot (:data:`SLOTS`). The world's
    paths are only ever appended, so rows are added as new paths appear.
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self.paths = 0
        rows = (0, SLOTS)
        self.valid = np.zeros(rows, dtype=bool)
        """The slot exists: its hop is before the responder (an answer also needs the transaction answered)."""
        self.delay = np.zeros(rows, dtype=np.int64)
        """Fixed delay from the request time (requests) or the responder's departure time (answers)."""
        self.start = np.zeros(rows, dtype=np.int8)
        """Which start time the delay is added to: 0 the request time, 1 the request time plus ``ipx_fwd`` (a
        request past the inter-country hop), 2 the responder's departure, 3 that plus the way back's
        inter-country latency (an answer that has still to cross it)."""
        self.origin = np.zeros(rows, dtype=np.int16)
        self.destination = np.zeros(rows, dtype=np.int16)
        self.cum_resp = np.zeros(0, dtype=np.int64)
        """Fixed delay from the origin to the responder."""

    def update(self) -> None:
        """Add the rows of the paths made since the last call."""
        w = self.world
        old, new = self.paths, len(w.path_elements)
        if new == old:
            return
        pe = np.zeros((new - old, MAX_HOPS + 1), dtype=np.int16)
        cum = np.zeros((new - old, MAX_HOPS + 1), dtype=np.int64)
        for i, (elems, c) in enumerate(zip(w.path_elements[old:new], w.path_cum_ns[old:new], strict=True)):
            pe[i, :len(elems)] = elems
            cum[i, :len(c)] = c
        long_haul = np.asarray(w.path_ipx_hop[old:new], dtype=np.int64)[:, None, None]  # -1: none
        resp = np.arange(MAX_HOPS + 1)[:, None]  # (resp, hop)
        pos = np.clip(resp - _HOP, 0, MAX_HOPS)  # an answer's hop j leaves element resp - j
        shape = (new - old, MAX_HOPS + 1, MAX_HOPS, 2)
        valid = np.empty(shape, dtype=bool)
        valid[...] = (resp > _HOP)[None, :, :, None]
        delay = np.empty(shape, dtype=np.int64)
        delay[..., 0] = cum[:, None, :MAX_HOPS]
        delay[..., 1] = cum[:, :, None] - cum[:, pos]
        start = np.empty(shape, dtype=np.int8)
        start[..., 0] = (long_haul < _HOP) & (long_haul >= 0)
        start[..., 1] = 2 + (pos <= long_haul)
        orig = np.empty(shape, dtype=np.int16)
        dest = np.empty(shape, dtype=np.int16)
        orig[..., 0] = pe[:, None, :MAX_HOPS]
        dest[..., 0] = pe[:, None, 1:]
        orig[..., 1] = pe[:, pos]
        dest[..., 1] = pe[:, np.maximum(pos - 1, 0)]
        rows = ((new - old) * (MAX_HOPS + 1), SLOTS)
        self.valid = np.concatenate([self.valid, valid.reshape(rows)])
        self.delay = np.concatenate([self.delay, delay.reshape(rows)])
        self.start = np.concatenate([self.start, start.reshape(rows)])
        self.origin = np.concatenate([self.origin, orig.reshape(rows)])
        self.destination = np.concatenate([self.destination, dest.reshape(rows)])
        self.cum_resp = np.concatenate([self.cum_resp, cum.reshape(-1)])
        self.paths = new


def message_rows(c: dict[str, np.ndarray], paths: PathTable
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every message of a transaction batch on every hop, in log order: by time, then transaction id, hop,
    request before answer.

    Returns per message row: its transaction's row in the batch, its slot (:data:`SLOTS`), its time (relative
    to the window start) and its origin and destination elements. A request on hop ``k`` leaves element ``k``
    at ``request_time`` plus the fixed delays to it (plus ``ipx_fwd`` past the inter-country hop); an answer
    retraces the path from the responder, leaving it at ``depart_time``.
    """
    by_id = np.argsort(c["txn_id"], kind="stable")  # slots in (transaction id, slot) order ...
    pr = (c["path"] * (MAX_HOPS + 1) + c["resp_hops"])[by_id]
    n = pr.shape[0]
    t_ans = c["answer_time"][by_id]
    t_dep = c["depart_time"][by_id]
    answered = t_ans >= 0
    valid = paths.valid[pr]
    valid[:, 1::2] &= answered[:, None]
    starts = np.empty((n, 4), dtype=np.int64)  # the four start times of PathTable.start
    starts[:, 0] = c["request_time"][by_id]
    starts[:, 1] = starts[:, 0] + c["ipx_fwd"][by_id]
    starts[:, 2] = t_dep
    starts[:, 3] = np.where(answered, t_ans - paths.cum_resp[pr], t_dep)  # departure + the way back's latency
    time = paths.delay[pr]
    time += starts.reshape(-1)[paths.start[pr] + 4 * np.arange(n)[:, None]]
    q = np.flatnonzero(valid)
    t = time.reshape(-1)[q]
    order = np.argsort(t, kind="stable")  # ... then a stable sort by time
    q = q[order]
    row, slot = _split(q)
    return (by_id[row], slot, t[order], paths.origin[pr].reshape(-1)[q],
            paths.destination[pr].reshape(-1)[q])


def _split(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat (row, slot) positions → rows and slots."""
    if SLOTS & (SLOTS - 1) == 0:
        return q >> (SLOTS.bit_length() - 1), q & (SLOTS - 1)
    row, slot = np.divmod(q, SLOTS)
    return row, slot


_TRANSPOSE_ROWS = 4096


def _contiguous(c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The columns as contiguous arrays when they are the consecutive columns of one row-major block (the compiled
    engine hands its records over so): one transposing copy, cheaper than a strided read in every pass below."""
    cols = list(c.values())
    if not cols:
        return c
    first = cols[0]
    item, width = first.itemsize, len(cols)
    if (first.ndim != 1 or first.strides != (width * item,) or first.base is None
            or any(v.dtype != first.dtype or v.shape != first.shape or v.strides != first.strides
                   or v.base is not first.base or v.ctypes.data != first.ctypes.data + i * item
                   for i, v in enumerate(cols))):
        return c
    rows = first.shape[0]
    block = np.lib.stride_tricks.as_strided(first, shape=(rows, width), strides=(width * item, item), writeable=False)
    out = np.empty((width, rows), dtype=first.dtype)
    for i in range(0, rows, _TRANSPOSE_ROWS):  # in slices that stay in cache: 1.6x faster than one transpose
        out[:, i:i + _TRANSPOSE_ROWS] = block[i:i + _TRANSPOSE_ROWS].T
    return dict(zip(c, out, strict=True))


def _nbytes(c: dict[str, np.ndarray]) -> int:
    return sum(a.nbytes for a in c.values())


class ParquetSink:
    """Writes the four Parquet files of a run directory."""

    def __init__(self, run_dir: Path, world: World, imsi: np.ndarray, home: np.ndarray, t0: int,
                 compression: str = "zstd", *, tables_on_writer: bool = False,
                 max_pending_bytes: int = 1 << 28) -> None:
        self.dir = run_dir
        self.world = world
        self.imsi = imsi
        self.home = home.astype(np.int16)
        self.t0 = t0
        self.messages = 0
        self._writers: dict[str, pq.ParquetWriter] = {}
        for name, schema in (("transactions", rs.TRANSACTIONS), ("messages", rs.MESSAGES),
                             ("procedures", rs.PROCEDURES), ("sessions", rs.SESSIONS)):
            self._writers[name] = pq.ParquetWriter(
                self.dir / f"{name}.parquet.part", schema, compression=compression,
                use_dictionary=[c for c in DICTIONARY_COLUMNS if c in schema.names],
                write_statistics=statistics_columns(schema),
            )
        self._paths = PathTable(world)
        self._plmns = _names(world.op_plmn)
        self._elements = _names(world.element_names)
        self._protocols = _names(cat.PROTOCOLS)
        self._interfaces = _names(cat.INTERFACES)
        self._commands = _names(cat.COMMAND_NAMES)
        self._message_names = _names(MESSAGE_NAMES)
        self._types = _names(rs.PROCEDURE_TYPES)
        self._triggers = _names(rs.TRIGGERS)
        self._rats = _names(rs.RATS)
        self._outcomes = _names(rs.OUTCOMES)
        self._routings = _names(rs.ROUTINGS)
        self._apns = _names(["internet"])
        self._placement = ThreadPlacement() if tables_on_writer else None
        background = self._placement.join if self._placement is not None else None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roamsim-parquet", initializer=background)
        self._message_pool = (ThreadPoolExecutor(max_workers=1, thread_name_prefix="roamsim-messages",
                                                 initializer=background) if tables_on_writer else self._pool)
        """With ``tables_on_writer``, messages.parquet's own writer thread: it is most of the writing (8 rows per
        transaction), and the compiled engine outruns one writer thread. The Python engine is slower than one: a
        third busy thread would only take CPU time from it."""
        self._observe_lock = threading.Lock()
        self._builder = (ThreadPoolExecutor(max_workers=1, thread_name_prefix="roamsim-tables", initializer=background)
                         if tables_on_writer else None)
        """With ``tables_on_writer``: the thread that builds the tables, feeding the writer threads in order."""
        self.table_observers: list[Callable[[str, pa.Table], None]] = []
        """Called with (file name, table) after each table is written, on the thread that wrote it (one call at a
        time), each file's tables in write order."""
        self._pending: list[tuple[Future[list[Future[None]]], int]] = []
        self._max_pending_bytes = max_pending_bytes
        self.wait_s = 0.0
        """Seconds the caller spent waiting for the writer thread (a full queue)."""

    def _write(self, tables: tuple[tuple[str, pa.Table], ...]) -> None:
        for name, table in tables:
            self._writers[name].write_table(table)
            with self._observe_lock:
                for observe in self.table_observers:
                    observe(name, table)

    def _dispatch(self, tables: tuple[tuple[str, pa.Table], ...]) -> list[Future[None]]:
        """Queue a batch's tables on their writer threads (messages on its own beside the compiled engine): each file is
        written by one thread, in submission order."""
        messages = tuple(t for t in tables if t[0] == "messages")
        others = tuple(t for t in tables if t[0] != "messages")
        return [pool.submit(self._write, part) for pool, part in ((self._pool, others), (self._message_pool, messages))
                if part]

    def _full(self, size: int) -> bool:
        if self._builder is not None:
            return bool(self._pending) and sum(n for _, n in self._pending) + size > self._max_pending_bytes
        return len(self._pending) >= MAX_PENDING

    @staticmethod
    def _finished(f: Future[list[Future[None]]]) -> bool:
        """A queued batch is written (its result: its writes' futures)."""
        return f.done() and (f.exception() is not None or all(w.done() for w in f.result()))

    @staticmethod
    def _settle(f: Future[list[Future[None]]]) -> None:
        """Wait until a queued batch is written; its failure is raised here."""
        for w in f.result():
            w.result()

    def _submit(self, make: Callable[[], tuple[tuple[str, pa.Table], ...]], size: int) -> None:
        """Queue the tables ``make`` builds for the writer threads: built here, or on the builder thread with
        ``tables_on_writer``; waits while the queue is full."""
        while self._pending and self._finished(self._pending[0][0]):
            self._settle(self._pending.pop(0)[0])
        if self._full(size):
            t = time.perf_counter()
            self._spread(True)  # the engine waits: both cores for building and writing
            try:
                while self._full(size):
                    self._settle(self._pending.pop(0)[0])
            finally:
                self._spread(False)
            self.wait_s += time.perf_counter() - t
        if self._builder is not None:
            self._pending.append((self._builder.submit(lambda: self._dispatch(make())), size))
        else:
            built: Future[list[Future[None]]] = Future()
            built.set_result(self._dispatch(make()))
            self._pending.append((built, size))

    def _spread(self, everywhere: bool) -> None:
        if self._placement is not None:
            self._placement.spread(everywhere)

    def write_transactions(self, c: dict[str, np.ndarray]) -> None:
        self._submit(lambda: self._transaction_tables(c), _nbytes(c))

    def _transaction_tables(self, c: dict[str, np.ndarray]) -> tuple[tuple[str, pa.Table], ...]:
        self._paths.update()
        c = _contiguous(c)
        txn, t = self._transactions(c)
        msg = self._messages(t, message_rows(c, self._paths))
        self.messages += msg.num_rows
        return ("transactions", txn), ("messages", msg)

    def write_procedures(self, c: dict[str, np.ndarray]) -> None:
        self._submit(lambda: (("procedures", self._procedures(c)),), _nbytes(c))

    def write_sessions(self, c: dict[str, np.ndarray]) -> None:
        self._submit(lambda: (("sessions", self._sessions(c)),), _nbytes(c))

    # -- transactions and messages -------------------------------------------
    def _transactions(self, c: dict[str, np.ndarray]) -> tuple[pa.Table, dict[str, np.ndarray]]:
        """The transactions table, and the narrowed per-transaction columns the message rows repeat."""
        t0 = self.t0
        roamer = c["roamer"]
        t = {
            "txn_id": c["txn_id"], "e2e_id": c["e2e_id"], "procedure_id": c["procedure_id"],
            "imsi": self.imsi[roamer], "home": self.home[roamer], "visited": c["visited"].astype(np.int16),
            "command": c["command_code"].astype(np.int8), "interface": c["interface"].astype(np.int8),
            "result_code": c["result_code"].astype(np.int32), "experimental": c["experimental"].astype(bool),
        }
        unanswered = c["answer_time"] < 0
        cmd = t["command"]
        table = pa.Table.from_arrays([
            pa.array(t["txn_id"]),
            pa.array(t["e2e_id"]),
            pa.array(t["procedure_id"]),
            pa.array(t["imsi"]),
            _dict(t["home"], self._plmns, pa.int16()),
            _dict(t["visited"], self._plmns, pa.int16()),
            _dict(_PROTO_IDX[cmd], self._protocols, pa.int8()),
            _dict(t["interface"], self._interfaces, pa.int8()),
            _dict(cmd, self._commands, pa.int8()),
            pa.array(_WIRE_CODE[cmd]),
            _dict(c["origin"].astype(np.int16), self._elements, pa.int16()),
            _dict(c["responder"].astype(np.int16), self._elements, pa.int16()),
            pa.array(c["request_time"] + t0),
            _nullable(c["answer_time"] + t0, unanswered),
            _nullable(t["result_code"], unanswered),
            pa.array(t["experimental"]),
            pa.array(c["timed_out"].astype(bool)),
            pa.array(c["retransmission"].astype(np.int8)),
            pa.array(c["steering_reject"].astype(bool)),
            pa.array(c["queue_wait_ns"]),
            pa.array(c["service_ns"]),
        ], schema=rs.TRANSACTIONS)
        return table, t

    def _messages(self, t: dict[str, np.ndarray],
                  rows: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> pa.Table:
        """The messages table from the per-transaction columns and :func:`message_rows`."""
        i, slot, time, orig, dest = rows
        is_ans = slot & 1
        is_req = is_ans == 0
        cmd = t["command"][i]
        e = t["experimental"][i]
        rc = t["result_code"][i]
        return pa.Table.from_arrays([
            pa.array(time + self.t0),
            _dict(_PROTO_IDX[cmd], self._protocols, pa.int8()),
            _dict(t["interface"][i], self._interfaces, pa.int8()),
            _dict(_MSG_IDX[cmd.astype(np.intp) * 2 + is_ans], self._message_names, pa.int8()),
            pa.array(_WIRE_CODE[cmd]),
            pa.array(is_req),
            pa.array(t["txn_id"][i]),
            pa.array(t["e2e_id"][i]),
            pa.array(t["procedure_id"][i]),
            pa.array(t["imsi"][i]),
            _dict(t["home"][i], self._plmns, pa.int16()),
            _dict(t["visited"][i], self._plmns, pa.int16()),
            _dict(orig, self._elements, pa.int16()),
            _dict(dest, self._elements, pa.int16()),
            pa.array((slot >> 1).astype(np.int8)),
            _nullable(rc, is_req | e),
            _nullable(rc, is_req | ~e),
        ], schema=rs.MESSAGES)

    # -- procedures ------------------------------------------------------------
    def _procedures(self, c: dict[str, np.ndarray]) -> pa.Table:
        r = c["roamer"]
        code = c["result_code"].astype(np.int32)
        cause = c["emm_cause"].astype(np.int16)
        return pa.Table.from_arrays([
            pa.array(c["procedure_id"]),
            _dict(c["type"].astype(np.int8), self._types, pa.int8()),
            _dict(c["trigger"].astype(np.int8), self._triggers, pa.int8()),
            pa.array(self.imsi[r]),
            _dict(self.home[r], self._plmns, pa.int16()),
            _dict(c["visited"].astype(np.int16), self._plmns, pa.int16()),
            _dict(c["rat"].astype(np.int8), self._rats, pa.int8()),
            _dict(c["mme"].astype(np.int16), self._elements, pa.int16()),
            pa.array(c["start_time"] + self.t0),
            pa.array(c["end_time"] + self.t0),
            _dict(c["outcome"].astype(np.int8), self._outcomes, pa.int8()),
            _nullable(cause, cause == 0),
            _nullable(code, code == 0),
            pa.array(c["experimental"].astype(bool)),
            pa.array(c["attempt"].astype(np.int16)),
            pa.array(c["steered"].astype(bool)),
        ], schema=rs.PROCEDURES)

    def _sessions(self, c: dict[str, np.ndarray]) -> pa.Table:
        r = c["roamer"]
        n = r.shape[0]
        code = c["result_code"].astype(np.int32)
        return pa.Table.from_arrays([
            pa.array(c["session_id"]),
            pa.array(c["procedure_id"]),
            pa.array(self.imsi[r]),
            _dict(self.home[r], self._plmns, pa.int16()),
            _dict(c["visited"].astype(np.int16), self._plmns, pa.int16()),
            _dict(c["rat"].astype(np.int8), self._rats, pa.int8()),
            _dict(c["local_breakout"].astype(np.int8), self._routings, pa.int8()),
            _dict(np.zeros(n, dtype=np.int8), self._apns, pa.int8()),
            pa.array(c["start_time"] + self.t0),
            pa.array(c["end_time"] + self.t0),
            _dict(c["outcome"].astype(np.int8), self._outcomes, pa.int8()),
            _nullable(code, code == 0),
            pa.array(c["bytes_uplink"]),
            pa.array(c["bytes_downlink"]),
        ], schema=rs.SESSIONS)

    def close(self) -> None:
        """Finish queued batches, write every footer, then rename the files to their final names.

        The files are closed even when a batch failed; the failure is raised afterwards.
        """
        failure: BaseException | None = None
        self._spread(True)  # the engine is done
        for fut, _ in self._pending:
            try:
                self._settle(fut)
            except BaseException as exc:  # kept, and raised once the files are closed
                failure = failure or exc
        self._pending = []
        if self._builder is not None:
            self._builder.shutdown(wait=True)
        self._pool.shutdown(wait=True)
        self._message_pool.shutdown(wait=True)  # (the same pool without tables_on_writer: a no-op)
        for name, writer in self._writers.items():
            writer.close()
            (self.dir / f"{name}.parquet.part").replace(self.dir / f"{name}.parquet")
        self._writers = {}
        if failure is not None:
            raise failure
