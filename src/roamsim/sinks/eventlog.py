"""The event log: transactions, messages and procedures as Parquet files.

Each file is written as ``NAME.parquet.part`` in row groups and renamed to
``NAME.parquet`` only after its footer is written, so a reader never sees a
half-written Parquet file. Message rows (one per message per hop) are derived
from the transaction records here, vectorised, with the same hop delays the
engine used: the log and the engine agree by construction.

Encoding runs on one background thread (Arrow releases the GIL), in
submission order, with at most ``MAX_PENDING`` batches queued.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from roamsim.catalogue import commands as cat
from roamsim.records import schema as rs
from roamsim.world.model import MAX_HOPS, World

FILES = ("transactions", "messages", "procedures", "sessions")
MAX_PENDING = 2
DICTIONARY_COLUMNS = [
    "protocol", "interface", "command", "message", "origin", "responder", "destination", "type", "trigger", "home_plmn",
    "visited_plmn", "rat", "mme", "outcome", "routing", "apn",
]

MESSAGE_NAMES: list[str] = list(cat.MESSAGE_NAMES)
_REQ_IDX = np.asarray(cat.REQUEST_INDEX, dtype=np.int16)
_ANS_IDX = np.asarray(cat.ANSWER_INDEX, dtype=np.int16)
_WIRE_CODE = np.asarray([c.code for c in cat.CATALOGUE], dtype=np.int32)
_PROTO_IDX = np.asarray(cat.PROTOCOL_INDEX, dtype=np.int8)


def _dict(indices: np.ndarray, names: list[str], itype: pa.DataType) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(indices, type=itype), pa.array(names, type=pa.string()))


def _nullable(values: np.ndarray, null: np.ndarray) -> pa.Array:
    return pa.array(values, mask=null)


class ParquetSink:
    """Writes the three Parquet files of a run directory."""

    def __init__(self, run_dir: Path, world: World, imsi: np.ndarray, home: np.ndarray, t0: int,
                 compression: str = "zstd") -> None:
        self.dir = run_dir
        self.world = world
        self.imsi = imsi
        self.home = home
        self.t0 = t0
        self.messages = 0
        self._writers: dict[str, pq.ParquetWriter] = {}
        for name, schema in (("transactions", rs.TRANSACTIONS), ("messages", rs.MESSAGES),
                             ("procedures", rs.PROCEDURES), ("sessions", rs.SESSIONS)):
            self._writers[name] = pq.ParquetWriter(
                self.dir / f"{name}.parquet.part", schema, compression=compression,
                use_dictionary=[c for c in DICTIONARY_COLUMNS if c in schema.names],
            )
        self._plmn_names = list(world.op_plmn)
        self._elements = list(world.element_names)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roamsim-parquet")
        self.table_observers: list[Callable[[str, pa.Table], None]] = []
        """Called with (file name, table) after each table is written, on the writer thread, in write order."""
        self._pending: list[Future[None]] = []

    def _write(self, name: str, table: pa.Table) -> None:
        self._writers[name].write_table(table)
        for observe in self.table_observers:
            observe(name, table)

    def _submit(self, fn: Callable[..., None], *args: object) -> None:
        while len(self._pending) >= MAX_PENDING:
            self._pending.pop(0).result()
        self._pending.append(self._pool.submit(fn, *args))

    def write_transactions(self, c: dict[str, np.ndarray]) -> None:
        w = self.world
        n = len(w.path_elements)
        pe = np.zeros((n, MAX_HOPS + 1), dtype=np.int16)
        pcum = np.zeros((n, MAX_HOPS + 1), dtype=np.int64)
        for i, (elems, cum) in enumerate(zip(w.path_elements, w.path_cum_ns, strict=True)):
            pe[i, :len(elems)] = elems
            pcum[i, :len(cum)] = cum
        ipx_hop = np.asarray(w.path_ipx_hop, dtype=np.int64)
        self._submit(self._transactions, c, pe, pcum, ipx_hop)

    def write_procedures(self, c: dict[str, np.ndarray]) -> None:
        self._submit(self._procedures, c)

    def write_sessions(self, c: dict[str, np.ndarray]) -> None:
        self._submit(self._sessions, c)

    # -- transactions and messages -------------------------------------------
    def _transactions(self, c: dict[str, np.ndarray], pe: np.ndarray, pcum: np.ndarray, ipx_hop: np.ndarray
                      ) -> None:
        t0 = self.t0
        imsi = self.imsi[c["roamer"]]
        answered = c["answer_time"] >= 0
        exp = c["experimental"].astype(bool)
        cmd = c["command_code"]
        code = _WIRE_CODE[cmd]
        table = pa.Table.from_arrays([
            pa.array(c["txn_id"]),
            pa.array(c["e2e_id"]),
            pa.array(c["procedure_id"]),
            pa.array(imsi),
            _dict(self.home[c["roamer"]].astype(np.int16), self._plmn_names, pa.int16()),
            _dict(c["visited"].astype(np.int16), self._plmn_names, pa.int16()),
            _dict(_PROTO_IDX[cmd], list(cat.PROTOCOLS), pa.int8()),
            _dict(c["interface"].astype(np.int8), list(cat.INTERFACES), pa.int8()),
            _dict(cmd.astype(np.int8), list(cat.COMMAND_NAMES), pa.int8()),
            pa.array(code),
            _dict(c["origin"].astype(np.int16), self._elements, pa.int16()),
            _dict(c["responder"].astype(np.int16), self._elements, pa.int16()),
            pa.array(c["request_time"] + t0),
            _nullable(c["answer_time"] + t0, ~answered),
            _nullable(c["result_code"].astype(np.int32), ~answered),
            pa.array(exp),
            pa.array(c["timed_out"].astype(bool)),
            pa.array(c["retransmission"].astype(np.int8)),
            pa.array(c["steering_reject"].astype(bool)),
            pa.array(c["queue_wait_ns"]),
            pa.array(c["service_ns"]),
        ], schema=rs.TRANSACTIONS)
        self._write("transactions", table)
        self._messages(c, pe, pcum, ipx_hop, imsi, answered, exp)

    def _messages(self, c: dict[str, np.ndarray], pe: np.ndarray, pcum: np.ndarray, ipx_hop: np.ndarray,
                  imsi: np.ndarray, answered: np.ndarray, exp: np.ndarray) -> None:
        path = c["path"]
        resp = c["resp_hops"]
        t_req = c["request_time"]
        ipx_fwd = c["ipx_fwd"]
        t_dep = c["depart_time"]
        cum = pcum[path]  # per row: cumulative fixed delay to each element of its path
        rows = np.arange(path.shape[0])
        ipx_back = np.where(answered, c["answer_time"] - t_dep - cum[rows, resp], 0)
        long_haul = ipx_hop[path]  # the hop index that carries the inter-country latency (-1: none)
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("i", "time", "req", "orig", "dest", "hop")}
        for k in range(MAX_HOPS):
            sel = np.nonzero(resp > k)[0]
            parts["i"].append(sel)
            parts["time"].append(t_req[sel] + cum[sel, k] + np.where(
                (k > long_haul[sel]) & (long_haul[sel] >= 0), ipx_fwd[sel], 0))
            parts["req"].append(np.ones(sel.shape[0], dtype=bool))
            parts["orig"].append(pe[path[sel], k])
            parts["dest"].append(pe[path[sel], k + 1])
            parts["hop"].append(np.full(sel.shape[0], k, dtype=np.int8))
        for j in range(MAX_HOPS):
            sel = np.nonzero(answered & (resp > j))[0]
            pos = resp[sel] - j
            t = t_dep[sel] + cum[sel, resp[sel]] - cum[sel, pos] + np.where(pos <= long_haul[sel], ipx_back[sel], 0)
            parts["i"].append(sel)
            parts["time"].append(t)
            parts["req"].append(np.zeros(sel.shape[0], dtype=bool))
            parts["orig"].append(pe[path[sel], pos])
            parts["dest"].append(pe[path[sel], pos - 1])
            parts["hop"].append(np.full(sel.shape[0], j, dtype=np.int8))
        cat_ = {k: np.concatenate(v) for k, v in parts.items()}
        i = cat_["i"]
        is_req = cat_["req"]
        order = np.lexsort((~is_req, cat_["hop"], c["txn_id"][i], cat_["time"]))
        i = i[order]
        is_req = is_req[order]
        cmd = c["command_code"][i]
        msg_idx = np.where(is_req, _REQ_IDX[cmd], _ANS_IDX[cmd]).astype(np.int8)
        rc = c["result_code"][i].astype(np.int32)
        e = exp[i]
        table = pa.Table.from_arrays([
            pa.array(cat_["time"][order] + self.t0),
            _dict(_PROTO_IDX[cmd], list(cat.PROTOCOLS), pa.int8()),
            _dict(c["interface"][i].astype(np.int8), list(cat.INTERFACES), pa.int8()),
            _dict(msg_idx, MESSAGE_NAMES, pa.int8()),
            pa.array(_WIRE_CODE[cmd]),
            pa.array(is_req),
            pa.array(c["txn_id"][i]),
            pa.array(c["e2e_id"][i]),
            pa.array(c["procedure_id"][i]),
            pa.array(imsi[i]),
            _dict(self.home[c["roamer"][i]].astype(np.int16), self._plmn_names, pa.int16()),
            _dict(c["visited"][i].astype(np.int16), self._plmn_names, pa.int16()),
            _dict(cat_["orig"][order], self._elements, pa.int16()),
            _dict(cat_["dest"][order], self._elements, pa.int16()),
            pa.array(cat_["hop"][order]),
            _nullable(rc, is_req | e),
            _nullable(rc, is_req | ~e),
        ], schema=rs.MESSAGES)
        self.messages += table.num_rows
        self._write("messages", table)

    # -- procedures ------------------------------------------------------------
    def _procedures(self, c: dict[str, np.ndarray]) -> None:
        r = c["roamer"]
        code = c["result_code"].astype(np.int32)
        table = pa.Table.from_arrays([
            pa.array(c["procedure_id"]),
            _dict(c["type"].astype(np.int8), list(rs.PROCEDURE_TYPES), pa.int8()),
            _dict(c["trigger"].astype(np.int8), list(rs.TRIGGERS), pa.int8()),
            pa.array(self.imsi[r]),
            _dict(self.home[r].astype(np.int16), self._plmn_names, pa.int16()),
            _dict(c["visited"].astype(np.int16), self._plmn_names, pa.int16()),
            _dict(c["rat"].astype(np.int8), list(rs.RATS), pa.int8()),
            _dict(c["mme"].astype(np.int16), self._elements, pa.int16()),
            pa.array(c["start_time"] + self.t0),
            pa.array(c["end_time"] + self.t0),
            _dict(c["outcome"].astype(np.int8), list(rs.OUTCOMES), pa.int8()),
            _nullable(c["emm_cause"].astype(np.int16), c["emm_cause"] == 0),
            _nullable(code, code == 0),
            pa.array(c["experimental"].astype(bool)),
            pa.array(c["attempt"].astype(np.int16)),
            pa.array(c["steered"].astype(bool)),
        ], schema=rs.PROCEDURES)
        self._write("procedures", table)

    def _sessions(self, c: dict[str, np.ndarray]) -> None:
        r = c["roamer"]
        n = r.shape[0]
        code = c["result_code"].astype(np.int32)
        table = pa.Table.from_arrays([
            pa.array(c["session_id"]),
            pa.array(c["procedure_id"]),
            pa.array(self.imsi[r]),
            _dict(self.home[r].astype(np.int16), self._plmn_names, pa.int16()),
            _dict(c["visited"].astype(np.int16), self._plmn_names, pa.int16()),
            _dict(c["rat"].astype(np.int8), list(rs.RATS), pa.int8()),
            _dict(c["local_breakout"].astype(np.int8), list(rs.ROUTINGS), pa.int8()),
            _dict(np.zeros(n, dtype=np.int8), ["internet"], pa.int8()),
            pa.array(c["start_time"] + self.t0),
            pa.array(c["end_time"] + self.t0),
            _dict(c["outcome"].astype(np.int8), list(rs.OUTCOMES), pa.int8()),
            _nullable(code, code == 0),
            pa.array(c["bytes_uplink"]),
            pa.array(c["bytes_downlink"]),
        ], schema=rs.SESSIONS)
        self._write("sessions", table)

    def close(self) -> None:
        """Finish queued batches, write every footer, then rename the files to their final names.

        The files are closed even when a batch failed; the failure is raised afterwards.
        """
        failure: BaseException | None = None
        for fut in self._pending:
            exc = fut.exception()
            failure = failure or exc
        self._pending = []
        self._pool.shutdown(wait=True)
        for name, writer in self._writers.items():
            writer.close()
            (self.dir / f"{name}.parquet.part").replace(self.dir / f"{name}.parquet")
        self._writers = {}
        if failure is not None:
            raise failure
