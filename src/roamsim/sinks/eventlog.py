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

from roamsim.catalogue.diameter import COMMANDS
from roamsim.records import schema as rs
from roamsim.world.model import HOPS, World

FILES = ("transactions", "messages", "procedures")
MAX_PENDING = 2
DICTIONARY_COLUMNS = [
    "protocol", "interface", "command", "message", "origin", "responder", "destination", "type", "trigger", "home_plmn",
    "visited_plmn", "rat", "mme", "outcome",
]

_BY_CODE = {c.code: c for c in COMMANDS.values()}
MESSAGE_NAMES: list[str] = [n for c in COMMANDS.values() for n in (c.request, c.answer)]
COMMAND_NAMES: list[str] = [c.request[:2] for c in COMMANDS.values()]


def _lookup(codes: np.ndarray, table: dict[int, int]) -> np.ndarray:
    out = np.zeros(codes.shape[0], dtype=np.int8)
    for code, idx in table.items():
        out[codes == code] = idx
    return out


_REQ_IDX = {c.code: MESSAGE_NAMES.index(c.request) for c in COMMANDS.values()}
_ANS_IDX = {c.code: MESSAGE_NAMES.index(c.answer) for c in COMMANDS.values()}
_CMD_IDX = {c.code: i for i, c in enumerate(COMMANDS.values())}


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
                             ("procedures", rs.PROCEDURES)):
            self._writers[name] = pq.ParquetWriter(
                self.dir / f"{name}.parquet.part", schema, compression=compression,
                use_dictionary=[c for c in DICTIONARY_COLUMNS if c in schema.names],
            )
        self._plmn_names = list(world.op_plmn)
        self._elements = list(world.element_names)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roamsim-parquet")
        self._pending: list[Future[None]] = []

    def _submit(self, fn: Callable[..., None], *args: object) -> None:
        while len(self._pending) >= MAX_PENDING:
            self._pending.pop(0).result()
        self._pending.append(self._pool.submit(fn, *args))

    def write_transactions(self, c: dict[str, np.ndarray]) -> None:
        pe = np.asarray(self.world.path_elements, dtype=np.int16)
        ipx_hop = np.asarray(self.world.path_ipx_hop, dtype=np.int64)
        self._submit(self._transactions, c, pe, ipx_hop)

    def write_procedures(self, c: dict[str, np.ndarray]) -> None:
        self._submit(self._procedures, c)

    # -- transactions and messages -------------------------------------------
    def _transactions(self, c: dict[str, np.ndarray], pe: np.ndarray, ipx_hop: np.ndarray) -> None:
        t0 = self.t0
        imsi = self.imsi[c["roamer"]]
        answered = c["answer_time"] >= 0
        exp = c["experimental"].astype(bool)
        code = c["command_code"]
        table = pa.Table.from_arrays([
            pa.array(c["txn_id"]),
            pa.array(c["e2e_id"]),
            pa.array(c["procedure_id"]),
            pa.array(imsi),
            _dict(self.home[c["roamer"]].astype(np.int16), self._plmn_names, pa.int16()),
            _dict(c["visited"].astype(np.int16), self._plmn_names, pa.int16()),
            _dict(np.zeros(code.shape[0], dtype=np.int8), ["diameter"], pa.int8()),
            _dict(np.zeros(code.shape[0], dtype=np.int8), ["S6a"], pa.int8()),
            _dict(_lookup(code, _CMD_IDX), [c.request for c in COMMANDS.values()], pa.int8()),
            pa.array(code.astype(np.int32)),
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
        self._writers["transactions"].write_table(table)
        self._messages(c, pe, ipx_hop, imsi, answered, exp)

    def _messages(self, c: dict[str, np.ndarray], pe: np.ndarray, ipx_hop: np.ndarray, imsi: np.ndarray,
                  answered: np.ndarray, exp: np.ndarray) -> None:
        w = self.world
        cum = np.asarray(w.cum_fixed_ns, dtype=np.int64)
        path = c["path"]
        resp = c["resp_hops"]
        t_req = c["request_time"]
        ipx_fwd = c["ipx_fwd"]
        t_dep = c["depart_time"]
        ipx_back = np.where(answered, c["answer_time"] - t_dep - cum[resp], 0)
        long_haul = ipx_hop[path]  # the hop index that carries the inter-country latency
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("i", "time", "req", "orig", "dest", "hop")}
        for k in range(HOPS):
            sel = np.nonzero(resp > k)[0]
            parts["i"].append(sel)
            parts["time"].append(t_req[sel] + cum[k] + np.where(k > long_haul[sel], ipx_fwd[sel], 0))
            parts["req"].append(np.ones(sel.shape[0], dtype=bool))
            parts["orig"].append(pe[path[sel], k])
            parts["dest"].append(pe[path[sel], k + 1])
            parts["hop"].append(np.full(sel.shape[0], k, dtype=np.int8))
        for j in range(HOPS):
            sel = np.nonzero(answered & (resp > j))[0]
            pos = resp[sel] - j
            t = t_dep[sel] + cum[resp[sel]] - cum[pos] + np.where(pos <= long_haul[sel], ipx_back[sel], 0)
            parts["i"].append(sel)
            parts["time"].append(t)
            parts["req"].append(np.zeros(sel.shape[0], dtype=bool))
            parts["orig"].append(pe[path[sel], pos])
            parts["dest"].append(pe[path[sel], pos - 1])
            parts["hop"].append(np.full(sel.shape[0], j, dtype=np.int8))
        cat = {k: np.concatenate(v) for k, v in parts.items()}
        i = cat["i"]
        is_req = cat["req"]
        order = np.lexsort((~is_req, cat["hop"], c["txn_id"][i], cat["time"]))
        i = i[order]
        is_req = is_req[order]
        code = c["command_code"][i]
        msg_idx = np.where(is_req, _lookup(code, _REQ_IDX), _lookup(code, _ANS_IDX)).astype(np.int8)
        rc = c["result_code"][i].astype(np.int32)
        e = exp[i]
        table = pa.Table.from_arrays([
            pa.array(cat["time"][order] + self.t0),
            _dict(np.zeros(i.shape[0], dtype=np.int8), ["diameter"], pa.int8()),
            _dict(np.zeros(i.shape[0], dtype=np.int8), ["S6a"], pa.int8()),
            _dict(msg_idx, MESSAGE_NAMES, pa.int8()),
            pa.array(code.astype(np.int32)),
            pa.array(is_req),
            pa.array(c["txn_id"][i]),
            pa.array(c["e2e_id"][i]),
            pa.array(c["procedure_id"][i]),
            pa.array(imsi[i]),
            _dict(self.home[c["roamer"][i]].astype(np.int16), self._plmn_names, pa.int16()),
            _dict(c["visited"][i].astype(np.int16), self._plmn_names, pa.int16()),
            _dict(cat["orig"][order], self._elements, pa.int16()),
            _dict(cat["dest"][order], self._elements, pa.int16()),
            pa.array(cat["hop"][order]),
            _nullable(rc, is_req | e),
            _nullable(rc, is_req | ~e),
        ], schema=rs.MESSAGES)
        self.messages += table.num_rows
        self._writers["messages"].write_table(table)

    # -- procedures ------------------------------------------------------------
    def _procedures(self, c: dict[str, np.ndarray]) -> None:
        r = c["roamer"]
        n = r.shape[0]
        code = c["result_code"].astype(np.int32)
        table = pa.Table.from_arrays([
            pa.array(c["procedure_id"]),
            _dict(c["type"].astype(np.int8), list(rs.PROCEDURE_TYPES), pa.int8()),
            _dict(c["trigger"].astype(np.int8), list(rs.TRIGGERS), pa.int8()),
            pa.array(self.imsi[r]),
            _dict(self.home[r].astype(np.int16), self._plmn_names, pa.int16()),
            _dict(c["visited"].astype(np.int16), self._plmn_names, pa.int16()),
            _dict(np.full(n, rs.RATS.index("4G"), dtype=np.int8), list(rs.RATS), pa.int8()),
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
        self._writers["procedures"].write_table(table)

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
