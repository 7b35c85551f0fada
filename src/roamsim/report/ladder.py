"""A ladder (sequence) diagram of one sample roamer's procedures, from messages.parquet.

The roamer is chosen deterministically, preferring what shows the most: the
lowest ``procedure_id`` of (1) a steered retry, (2) a steered attempt, (3) a
retry, (4) a failed procedure, (5) any procedure. The diagram shows that
procedure's registration episode (back to the attempt that started it, forward
to the first success) and the roamer's other procedures in between, at most
:data:`MAX_PROCEDURES` procedures and :data:`MAX_MESSAGES` messages.

Columns are the elements the messages cross, ordered by hops from the roamer's
serving node (MME, VLR, AMF: the procedures' ``mme`` column) towards the home
network, so the usual S6a path reads MME, V-DEA, IPX, H-DEA, HSS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from roamsim.report.columns import RunColumns
from roamsim.report.rundir import RunInput

MAX_PROCEDURES = 12
MAX_MESSAGES = 160
FOLLOW_UP_TRIGGERS = ("retry", "reselection", "backoff_expiry")
"""Triggers of an attempt that continues the previous one's registration episode."""
TIERS = ("a steered attempt that was retried", "a steered attempt", "a retried attempt", "a failed procedure",
         "the first procedure")


MESSAGE_COLUMNS = ("time", "procedure_id", "txn_id", "protocol", "interface", "message", "is_request", "origin",
                   "destination", "hop", "result_code", "experimental_result_code")
"""The columns of messages.parquet a ladder draws."""
LADDER_BATCH = 16_384
"""Rows per batch when reading a row group of messages.parquet up to the sample's last message."""


class LadderChoice:
    """The sample roamer, chosen while the procedures stream past (see the module docstring)."""

    def __init__(self) -> None:
        self.tier = len(TIERS)
        self.procedure_id = -1
        self.imsi = -1

    @property
    def found(self) -> bool:
        return self.tier < len(TIERS)

    @property
    def reason(self) -> str:
        return TIERS[self.tier] if self.found else ""

    def consider(self, pid: np.ndarray, imsi: np.ndarray, steered: np.ndarray, retry: np.ndarray,
                 failed: np.ndarray) -> None:
        """Offer procedures (all, or one row group's at a time)."""
        for tier, m in enumerate((steered & retry, steered, retry, failed, np.ones(pid.size, dtype=bool))):
            if tier > self.tier:
                break
            if m.any():
                i = int(np.argmin(np.where(m, pid, np.iinfo(np.int64).max)))
                if tier < self.tier or pid[i] < self.procedure_id:
                    self.tier, self.procedure_id, self.imsi = tier, int(pid[i]), int(imsi[i])
                break


@dataclass(frozen=True)
class Procedure:
    procedure_id: int
    type: str
    trigger: str
    outcome: str
    visited_plmn: str
    serving: str | None
    attempt: int | None
    steered: bool
    emm_cause: int | None
    start_ns: int
    end_ns: int


@dataclass(frozen=True)
class Message:
    time_ns: int
    procedure_id: int
    txn_id: int
    protocol: str
    interface: str
    message: str
    is_request: bool
    origin: str
    destination: str
    hop: int
    result_code: int | None
    experimental: bool


@dataclass(frozen=True)
class Ladder:
    imsi: int
    home_plmn: str
    reason: str
    procedures: list[Procedure]
    messages: list[Message]
    columns: list[str]
    roles: dict[str, str]
    """Element → role label (``V-DEA``, ``IPX``, ``HSS``)."""
    omitted_messages: int


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def _messages_of(run: RunInput, ids: list[int]) -> pa.Table:
    """All messages of the procedures ``ids``, in file order.

    Only the row groups whose procedure_id statistics (min, max) can hold one of them are read, and of
    those only the procedure_id column whole: the others are decoded batch by batch up to the last
    matching row (the sample is the lowest procedure id of its kind, so usually early in its row group).
    """
    pf = pq.ParquetFile(run.parquet("messages"), memory_map=True)
    column = pf.schema_arrow.get_field_index("procedure_id")
    wanted = pa.array(sorted(ids), type=pa.int64())
    names = [c for c in MESSAGE_COLUMNS if c in pf.schema_arrow.names]
    parts = []
    for rg in range(pf.num_row_groups):
        stats = pf.metadata.row_group(rg).column(column).statistics
        if stats is not None and stats.has_min_max and not any(stats.min <= i <= stats.max for i in ids):
            continue
        hits = pc.is_in(pf.read_row_group(rg, columns=["procedure_id"])["procedure_id"], value_set=wanted)
        rows = np.flatnonzero(np.asarray(pc.fill_null(hits, False).to_numpy(zero_copy_only=False), dtype=bool))
        seen = 0
        for batch in pf.iter_batches(batch_size=LADDER_BATCH, row_groups=[rg], columns=names):
            if not rows.size or seen > rows[-1]:
                break
            parts.append(batch.filter(pc.is_in(batch["procedure_id"], value_set=wanted)))
            seen += batch.num_rows
    return pa.Table.from_batches(parts) if parts else pf.schema_arrow.empty_table().select(names)


def read_ladder(run: RunInput, choice: LadderChoice, cols: RunColumns | None = None) -> Ladder:
    """Read the chosen roamer's episode from the Parquet files (its procedures from ``cols``)."""
    table = (RunColumns(run.path) if cols is None else cols).table("procedures")
    p = table.filter(pc.equal(table["imsi"], pa.scalar(choice.imsi, table.schema.field("imsi").type)))
    procs = sorted(_rows(p), key=lambda r: (int(r["start_time"]), int(r["procedure_id"])))
    at = next(i for i, r in enumerate(procs) if r["procedure_id"] == choice.procedure_id)
    first = at
    anchor_type = procs[at]["type"]
    while first > 0 and procs[first]["type"] == anchor_type and procs[first]["trigger"] in FOLLOW_UP_TRIGGERS:
        prev = next((j for j in range(first - 1, -1, -1) if procs[j]["type"] == anchor_type), None)
        if prev is None:
            break
        first = prev
    last = next((j for j in range(at, len(procs))
                 if procs[j]["type"] == anchor_type and procs[j]["outcome"] == "success"), len(procs) - 1)
    chosen = procs[first:last + 1][:MAX_PROCEDURES]
    procedures = [Procedure(
        int(r["procedure_id"]), str(r["type"]), str(r["trigger"]), str(r["outcome"]),
        str(r["visited_plmn"]), None if r.get("mme") is None else str(r["mme"]),
        None if r.get("attempt") is None else int(r["attempt"]),
        bool(r.get("steered")), None if r.get("emm_cause") is None else int(r["emm_cause"]),
        int(r["start_time"]), int(r["end_time"]),
    ) for r in chosen]
    ids = [q.procedure_id for q in procedures]
    m = _messages_of(run, ids)
    m = m.take(pc.sort_indices(m, [("time", "ascending"), ("txn_id", "ascending"), ("hop", "ascending")]))
    rows = _rows(m)
    messages = [Message(
        int(r["time"]), int(r["procedure_id"]), int(r["txn_id"]), str(r["protocol"]),
        str(r["interface"]), str(r["message"]), bool(r["is_request"]), str(r["origin"]), str(r["destination"]),
        int(r.get("hop") or 0),
        _result(r), r.get("experimental_result_code") is not None,
    ) for r in rows[:MAX_MESSAGES]]
    home = str(procs[at]["home_plmn"])
    columns = order_columns(messages, {q.serving for q in procedures if q.serving})
    return Ladder(choice.imsi, home, choice.reason, procedures, messages, columns, roles(run, columns, home),
                  len(rows) - len(messages))


def _result(r: dict[str, Any]) -> int | None:
    for key in ("experimental_result_code", "result_code"):
        v = r.get(key)
        if v is not None:
            return int(v)
    return None


def order_columns(messages: list[Message], serving: set[str]) -> list[str]:
    """Elements ordered by hops from the serving node (ties: first appearance)."""
    chains: dict[int, list[Message]] = {}
    for msg in messages:
        if msg.is_request:
            chains.setdefault(msg.txn_id, []).append(msg)
    if not serving and messages:
        serving = {messages[0].origin}
    pos: dict[str, int] = {s: 0 for s in serving}
    for _ in range(2):  # a second round places chains that start from an element placed by a later one
        for chain in chains.values():
            reqs = sorted(chain, key=lambda x: x.hop)
            path = [reqs[0].origin] + [x.destination for x in reqs]
            if path[0] in pos:
                base, step = pos[path[0]], 1
            elif path[-1] in pos:
                base, step = pos[path[-1]] + len(path) - 1, -1
            else:
                continue
            for k, e in enumerate(path):
                pos.setdefault(e, base + step * k)
    seen: dict[str, int] = {}
    for msg in messages:
        for e in (msg.origin, msg.destination):
            seen.setdefault(e, len(seen))
    far = max(pos.values(), default=0) + 1
    return sorted(seen, key=lambda e: (pos.get(e, far), seen[e]))


_KIND = re.compile(r"[a-z]+")


def roles(run: RunInput, columns: list[str], home_plmn: str) -> dict[str, str]:
    """Role labels: the element kind, with V-/H- when the kind appears on both sides."""
    sides: dict[str, str] = {}
    kinds: dict[str, str] = {}
    for e in columns:
        m = _KIND.match(e.rpartition(".")[2])
        kinds[e] = (m.group(0) if m else e).upper()
        op = run.operator_of_element(e)
        sides[e] = "" if op is None else ("H" if op.plmn == home_plmn else "V")
    both = {k for k in kinds.values() if {sides[e] for e in columns if kinds[e] == k} >= {"H", "V"}}
    return {e: f"{sides[e]}-{kinds[e]}" if kinds[e] in both else kinds[e] for e in columns}
