"""The event log's vectorised parts against straightforward row-by-row versions.

Message rows are checked against the hop rules written out per transaction (a request leaves element ``k``
at its request time plus the fixed delays to it, plus ``ipx_fwd`` once past the inter-country hop; an
answer retraces the path from the responder), in the log order (time, transaction id, hop, request
first); the record buffers against the tuples the engine appended.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import roamsim
from roamsim import load_scenario
from roamsim.catalogue import commands as cat
from roamsim.engine.base import Proc, Txn
from roamsim.engine.draws import Draws
from roamsim.records.buffers import PROC_COLUMNS, SESSION_COLUMNS, TXN_COLUMNS, RecordBuffers
from roamsim.sinks.eventlog import ParquetSink
from roamsim.world.model import World, compile_world

EXAMPLES = Path(roamsim.__file__).parent / "examples"
MS = 1_000_000
T0 = 1_800_000_000 * 1_000_000_000
Row = tuple[int, int, int, bool, str, str, str, int | None, int | None]


def _world() -> World:
    return compile_world(load_scenario(EXAMPLES / "quickstart.yaml"))


def _paths(w: World, first: bool) -> list[int]:
    """Paths of every shape: 4 hops from the visited side (inter-country hop 2) and from the home side (1);
    one hop inside an operator (none) and one direct hop between operators (GTP: hop 0)."""
    h, v = w.op_elem[0], w.op_elem[2]
    if first:
        return [w.path(v["sgw"], h["hss"], "dea", from_home=False), w.path(h["hss"], v["sgw"], "dea", from_home=True)]
    return [w.path(v["sgw"], v["pgw"], "dea"), w.path(v["sgw"], h["pgw"], None, from_home=False)]


def _batch(w: World, paths: list[int], n: int, first_id: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Transactions on ``paths`` with coarse times (so many messages share a time) in shuffled id order."""
    path = rng.choice(np.asarray(paths), n)
    hops = np.asarray(w.path_hops)[path]
    resp = np.where((hops == 4) & (rng.random(n) < 0.2), 3, hops)  # some answered at the home border agent
    cum_resp = np.asarray([w.path_cum_ns[p][r] for p, r in zip(path.tolist(), resp.tolist(), strict=True)])
    t_req = rng.integers(0, 40, n) * MS
    ipx_fwd = rng.integers(0, 3, n) * MS
    t_dep = t_req + cum_resp + ipx_fwd + rng.integers(0, 4, n) * MS
    answered = rng.random(n) < 0.8
    t_ans = np.where(answered, t_dep + cum_resp + rng.integers(0, 3, n) * MS, -1)
    elems = [w.path_elements[p] for p in path.tolist()]
    cols = {
        "txn_id": first_id + rng.permutation(n), "e2e_id": rng.integers(0, 1 << 40, n),
        "procedure_id": rng.integers(0, 1 << 30, n), "roamer": rng.integers(0, 50, n),
        "visited": np.full(n, 2), "command_code": rng.integers(0, len(cat.CATALOGUE), n), "path": path,
        "resp_hops": resp, "origin": np.asarray([e[0] for e in elems]),
        "responder": np.asarray([e[r] for e, r in zip(elems, resp.tolist(), strict=True)]),
        "request_time": t_req, "ipx_fwd": ipx_fwd, "depart_time": t_dep, "answer_time": t_ans,
        "result_code": np.where(answered, rng.choice(np.asarray([2001, 5001, 5420]), n), 0),
        "experimental": answered & (rng.random(n) < 0.3), "timed_out": ~answered,
        "retransmission": rng.integers(0, 2, n), "steering_reject": resp == 3,
        "queue_wait_ns": rng.integers(0, MS, n), "service_ns": rng.integers(0, MS, n),
        "interface": rng.integers(0, len(cat.INTERFACES), n),
    }
    return {k: np.asarray(v, dtype=np.int64) for k, v in cols.items()}


def _expected(w: World, c: dict[str, np.ndarray]) -> list[Row]:
    """The message rows of one batch, written out hop by hop."""
    names = w.element_names
    rows: list[Row] = []
    for r in range(c["txn_id"].size):
        p, resp = int(c["path"][r]), int(c["resp_hops"][r])
        elems, cum, long_haul = w.path_elements[p], w.path_cum_ns[p], w.path_ipx_hop[p]
        cmd = cat.CATALOGUE[int(c["command_code"][r])]
        tid = int(c["txn_id"][r])
        for k in range(resp):
            fwd = int(c["ipx_fwd"][r]) if 0 <= long_haul < k else 0
            t = int(c["request_time"][r]) + cum[k] + fwd
            rows.append((T0 + t, tid, k, True, names[elems[k]], names[elems[k + 1]], cmd.request, None, None))
        if c["answer_time"][r] < 0:
            continue
        t_dep = int(c["depart_time"][r])
        back = int(c["answer_time"][r]) - t_dep - cum[resp]
        code, exp = int(c["result_code"][r]), bool(c["experimental"][r])
        for j in range(resp):
            pos = resp - j
            t = t_dep + cum[resp] - cum[pos] + (back if pos <= long_haul else 0)
            rows.append((T0 + t, tid, j, False, names[elems[pos]], names[elems[pos - 1]], cmd.answer,
                         None if exp else code, code if exp else None))
    rows.sort(key=lambda x: (x[0], x[1], x[2], not x[3]))
    return rows


def _rows(table: pa.Table) -> list[Row]:
    cols = ["time", "txn_id", "hop", "is_request", "origin", "destination", "message", "result_code",
            "experimental_result_code"]
    return list(zip(*(table[c].to_pylist() for c in cols), strict=True))


def test_message_rows_follow_the_hops_of_each_transaction_in_log_order(tmp_path: Path) -> None:
    w = _world()
    rng = np.random.default_rng(11)
    first = _batch(w, _paths(w, first=True), 1500, 0, rng)
    n_paths = len(w.path_elements)
    second = _batch(w, _paths(w, first=True) + _paths(w, first=False), 1500, 1500, rng)  # paths made meanwhile
    assert len(w.path_elements) == n_paths + 2
    sink = ParquetSink(tmp_path, w, np.arange(50, dtype=np.int64) + 214_010_000_000_000,
                       rng.integers(0, len(w.op_ids), 50), T0)
    seen: list[tuple[str, pa.Table]] = []
    sink.table_observers.append(lambda name, table: seen.append((name, table)))
    sink.write_transactions(first)
    sink.write_transactions(second)
    sink.close()

    expected = _expected(w, first) + _expected(w, second)
    assert len({r[0] for r in expected}) < len(expected) / 2, "the batches should hold many equal times"
    assert {r[2] for r in expected} == {0, 1, 2, 3}
    messages = pq.read_table(tmp_path / "messages.parquet")
    assert _rows(messages) == expected
    assert sink.messages == len(expected)
    # The observers saw each table as written, each file's in order (beside the compiled engine messages.parquet
    # has its own writer thread, so the order across files is not fixed).
    assert sorted(name for name, _ in seen) == ["messages"] * 2 + ["transactions"] * 2
    assert pa.concat_tables([t for name, t in seen if name == "messages"]).equals(messages)
    tx = pq.read_table(tmp_path / "transactions.parquet")
    assert pa.concat_tables([t for name, t in seen if name == "transactions"]).equals(tx)
    np.testing.assert_array_equal(tx["txn_id"].to_numpy(), np.concatenate([first["txn_id"], second["txn_id"]]))
    assert tx["answer_time"].null_count == int((first["answer_time"] < 0).sum() + (second["answer_time"] < 0).sum())


def test_record_buffers_flush_full_batches_as_int64_columns() -> None:
    batches: list[tuple[str, dict[str, np.ndarray]]] = []

    class Keep:
        def write_transactions(self, cols: dict[str, np.ndarray]) -> None:
            batches.append(("transactions", cols))

        def write_procedures(self, cols: dict[str, np.ndarray]) -> None:
            batches.append(("procedures", cols))

        def write_sessions(self, cols: dict[str, np.ndarray]) -> None:
            batches.append(("sessions", cols))

    rec = RecordBuffers(Keep(), batch=2)
    draws = Draws(np.random.SeedSequence(0), 0.0)
    procs = [Proc(10 + i, 1, 100 + i, 2, 3, 40 + i, 1_000 * i, 1, True, 0, draws) for i in range(3)]
    for i, p in enumerate(procs):
        txn = Txn(7 * i, 5 * i, p, 4, 6, 8, 9, 2**40 + i, i % 2, 11, 1)
        rec.transaction(txn, 2**41 + i, 2001, bool(i % 2), False, i == 2, 12, 13, 4, 2**40 + 500 + i)
        rec.procedure(p, 5_000 + i, 0, 0, 2001, False)
        p.x = 77 + i
        rec.session(p, 9_000 + i, 0, 0, 1_000 + i, 0.25, True)
    assert [k for k, _ in batches] == ["transactions", "procedures", "sessions"]
    rec.flush()
    assert [k for k, _ in batches] == ["transactions", "procedures", "sessions"] * 2
    assert (rec.transactions, rec.procedures, rec.sessions) == (3, 3, 3)
    for kind, names in (("transactions", TXN_COLUMNS), ("procedures", PROC_COLUMNS), ("sessions", SESSION_COLUMNS)):
        got = [c for k, c in batches if k == kind]
        assert [len(c[names[0]]) for c in got] == [2, 1]
        for cols in got:
            assert list(cols) == list(names)
            assert all(a.dtype == np.int64 and a.flags.c_contiguous for a in cols.values())
    tx = {k: np.concatenate([c[k] for kind, c in batches if kind == "transactions"]) for k in TXN_COLUMNS}
    assert tx["txn_id"].tolist() == [0, 7, 14]
    assert tx["request_time"].tolist() == [2**40, 2**40 + 1, 2**40 + 2]
    assert tx["answer_time"].tolist() == [2**41, 2**41 + 1, 2**41 + 2]
    assert tx["experimental"].tolist() == [0, 1, 0]
    assert tx["steering_reject"].tolist() == [0, 0, 1]
    assert tx["roamer"].tolist() == [100, 101, 102]
    sess = {k: np.concatenate([c[k] for kind, c in batches if kind == "sessions"]) for k in SESSION_COLUMNS}
    assert sess["session_id"].tolist() == [77, 78, 79]
    assert (sess["bytes_uplink"] + sess["bytes_downlink"]).tolist() == [1_000, 1_001, 1_002]
    assert sess["bytes_uplink"].tolist() == [250, 250, 250]


@pytest.mark.parametrize("batch", [1, 3, 1000])
def test_message_rows_do_not_depend_on_the_path_table_growing_between_batches(tmp_path: Path, batch: int) -> None:
    """The same transactions written as one batch per ``batch`` rows give each batch's expected rows."""
    w = _world()
    rng = np.random.default_rng(5)
    c = _batch(w, _paths(w, first=True) + _paths(w, first=False), 40, 0, rng)
    sink = ParquetSink(tmp_path, w, np.arange(50, dtype=np.int64), np.zeros(50, dtype=np.int64), T0)
    expected: list[Row] = []
    for a in range(0, 40, batch):
        part = {k: v[a:a + batch] for k, v in c.items()}
        sink.write_transactions(part)
        expected += _expected(w, part)
    sink.close()
    assert _rows(pq.read_table(tmp_path / "messages.parquet")) == expected


def test_row_groups_carry_min_max_statistics_for_numeric_columns_only(tmp_path: Path) -> None:
    """Readers prune row groups by ``time`` (the capture writer) and ``procedure_id`` (the report's ladder): those
    need statistics; the dictionary-encoded names get none (their cost was a quarter of writing messages)."""
    w = _world()
    rng = np.random.default_rng(5)
    sink = ParquetSink(tmp_path, w, np.arange(50, dtype=np.int64) + 214_010_000_000_000,
                       rng.integers(0, len(w.op_ids), 50), T0)
    sink.write_transactions(_batch(w, _paths(w, first=True), 400, 0, rng))
    sink.close()
    for name in ("messages", "transactions"):
        meta = pq.ParquetFile(tmp_path / f"{name}.parquet").metadata
        group = meta.row_group(0)
        with_stats = {group.column(i).path_in_schema for i in range(group.num_columns)
                      if group.column(i).statistics is not None and group.column(i).statistics.has_min_max}
        numeric = {f.name for f in meta.schema.to_arrow_schema() if not pa.types.is_dictionary(f.type)}
        assert with_stats == numeric, name
        assert "time" in with_stats or "request_time" in with_stats
    times = pq.read_table(tmp_path / "messages.parquet", columns=["time"])["time"]
    stats = pq.ParquetFile(tmp_path / "messages.parquet").metadata.row_group(0).column(0).statistics
    assert (stats.min, stats.max) == (pc.min(times).as_py(), pc.max(times).as_py())
