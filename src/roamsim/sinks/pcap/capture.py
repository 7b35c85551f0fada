"""Extract a pcapng capture from a finished run directory (:func:`write_capture`).

The capture is written from ``messages.parquet``, the same records as the
event log, so the two agree by construction: one packet per message row of
the selection, plus the SCTP association set-up and the Diameter
capabilities exchange (CER/CEA) the first time a link appears, and Diameter
watchdogs (DWR/DWA) on links idle for 30 s when the capture is unfiltered
(see ``watchdogs`` of :func:`write_capture`).

Reading is streamed. Only the needed columns are read, one row group at a
time; rows are time-ordered within a row group (a batch of completed
transactions) but batches overlap, so rows wait in a buffer until the
smallest time still to come from later row groups (from the Parquet column
statistics) has passed them. Memory is bounded by that overlap, plus a lookup
of the selected transactions (origin and responder, about 14 octets each) and
procedures (about 9 octets each).

Capture points:

* ``interconnect`` (default): what a probe at the visited network's DEA sees
  towards the IPX: the hops between the visited DEA and the ``ipx`` element,
  both directions.
* ``all``: every hop (MME–DEA, DEA–IPX, IPX–DEA, DEA–HSS).

Sampling keeps whole roamers: an IMSI is kept when a SplitMix64 hash of the
IMSI and the seed (the run's seed unless given), read as a fraction in [0, 1),
is below ``sample``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from roamsim.records.schema import PROCEDURE_TYPES
from roamsim.scenario import scenario_from_data
from roamsim.sinks.pcap.addressing import Addressing
from roamsim.sinks.pcap.diameter_s6a import BY_NAME
from roamsim.sinks.pcap.emit_s6a import S6aSctpEmitter
from roamsim.sinks.pcap.pcapng import PcapngWriter
from roamsim.version import __version__
from roamsim.world.model import BORDER, World, compile_world

DIAMETER = "diameter"
"""The protocol this writer emits (S6a); the other generations' rows are left to their emitters."""
CapturePoint = Literal["interconnect", "all"]
CAPTURE_POINTS: tuple[str, ...] = ("interconnect", "all")
CHUNK_ROWS = 65_536
"""Rows per chunk handed to the emitter."""
BATCH_ROWS = 131_072
"""Rows read from messages.parquet at a time."""

_COLUMNS = [
    "time", "command_code", "is_request", "txn_id", "e2e_id", "procedure_id", "imsi", "home_plmn",
    "visited_plmn", "origin", "destination", "hop", "result_code", "experimental_result_code", "protocol", "message",
]
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@dataclass(frozen=True)
class CaptureSummary:
    """What :func:`write_capture` wrote."""

    path: Path
    run_id: str
    packets: int
    """All packets, association set-up and CER/CEA included."""
    messages: int
    """Packets that carry a message row of messages.parquet."""
    links: int
    """Interfaces (one per link: a pair of adjacent elements)."""
    first_time: int | None
    last_time: int | None
    watchdogs: int = 0
    """DWR/DWA exchanges written on idle links (two packets each, counted in ``packets``)."""


# -- run directory --------------------------------------------------------------


def run_id_of(manifest: dict[str, Any]) -> str:
    """The run's id: the manifest's ``run_id`` when it has one, else made from its scenario, seed and digest."""
    rid = manifest.get("run_id")
    if isinstance(rid, str) and rid:
        return rid
    sha = str(manifest.get("scenario_sha256", ""))[:12]
    return f"{manifest.get('scenario_name', 'run')}-seed{manifest.get('seed')}-scale{manifest.get('scale')}-{sha}"


def load_world(run_dir: Path) -> tuple[dict[str, Any], World]:
    """The manifest and the compiled world of a run (element names exactly as the engine made them)."""
    manifest: dict[str, Any] = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    return manifest, compile_world(scenario_from_data(manifest["scenario"]))


def _to_ns(value: int | str | datetime | None) -> int | None:
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, str):
        if value.lstrip("-").isdigit():
            return int(value)
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"{value.isoformat()}: give a time zone (times are UTC)")
    return int(value.timestamp()) * 1_000_000_000 + value.microsecond * 1000


def sample_keep(imsi: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Which IMSIs a ``fraction`` sample keeps (SplitMix64 of IMSI + seed; deterministic, whole roamers)."""
    x = imsi.astype(np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = (x ^ (x >> np.uint64(31))) & _MASK64
    return (x >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53)) < fraction


def _dict_codes(col: pa.ChunkedArray, lookup: dict[str, int], what: str) -> np.ndarray:
    """Map a (dictionary-encoded) string column to ints via ``lookup``; unknown strings are an error."""
    parts = []
    for ch in col.chunks:
        if pa.types.is_dictionary(ch.type):
            words = ch.dictionary.to_pylist()
            idx = ch.indices.to_numpy(zero_copy_only=False)
        else:
            words = pc.unique(ch).to_pylist()
            idx = pc.index_in(ch, pa.array(words)).to_numpy(zero_copy_only=False)
        unknown = [w for w in words if w not in lookup]
        if unknown:
            raise ValueError(f"{what} {unknown[0]!r} in the records is not in the run's world")
        table = np.array([lookup[w] for w in words], dtype=np.int32)
        parts.append(table[idx.astype(np.int64)] if len(idx) else np.empty(0, np.int32))
    return np.concatenate(parts) if parts else np.empty(0, np.int32)


def _dict_words(col: pa.ChunkedArray) -> set[str]:
    """The distinct strings of a dictionary column."""
    words: set[str] = set()
    for chunk in col.chunks:
        values = chunk.dictionary if pa.types.is_dictionary(chunk.type) else pc.unique(chunk)
        words.update(str(w) for w in values.to_pylist())
    return words


def _emitter_name(message: str) -> str:
    """A records message name as the emitters name it (GTP drops "Request" / "Response": ``is_request`` tells)."""
    for suffix in ("Request", "Response"):
        if message.endswith(suffix) and message[0].isupper() and "_" not in message:
            return message[: -len(suffix)]
    return message


def _int_col(col: pa.ChunkedArray, null: int = 0) -> np.ndarray:
    return np.asarray(pc.fill_null(col, null).to_numpy(zero_copy_only=False)) if col.null_count else \
        np.asarray(col.to_numpy(zero_copy_only=False))


# -- selection ------------------------------------------------------------------


@dataclass
class Selection:
    """Which message rows go into a capture (see :func:`write_capture`)."""

    imsi: np.ndarray | None = None
    home_ops: np.ndarray | None = None
    visited_ops: np.ndarray | None = None
    procedure_ids: np.ndarray | None = None
    start: int | None = None
    end: int | None = None
    sample: float | None = None
    seed: int = 0
    capture_point: str = "interconnect"

    def roamer_mask(self, imsi: np.ndarray, home: np.ndarray, visited: np.ndarray,
                    procedure: np.ndarray) -> np.ndarray:
        """Rows of the selected roamers, networks and procedures (no time or capture point)."""
        keep = np.ones(imsi.shape[0], dtype=bool)
        if self.imsi is not None:
            keep &= np.isin(imsi, self.imsi)
        if self.home_ops is not None:
            keep &= np.isin(home, self.home_ops)
        if self.visited_ops is not None:
            keep &= np.isin(visited, self.visited_ops)
        if self.procedure_ids is not None:
            keep &= np.isin(procedure, self.procedure_ids)
        if self.sample is not None:
            keep &= sample_keep(imsi, self.sample, self.seed)
        return keep


def _ops_for(value: str | Iterable[str] | None, world: World) -> np.ndarray | None:
    if value is None:
        return None
    wanted = [value] if isinstance(value, str) else list(value)
    ops = []
    for w in wanted:
        found = [i for i, (oid, plmn) in enumerate(zip(world.op_ids, world.op_plmn, strict=True)) if w in (oid, plmn)]
        if not found:
            raise ValueError(f"no operator {w!r} in this run (PLMNs: {', '.join(world.op_plmn)})")
        ops += found
    return np.array(sorted(set(ops)), dtype=np.int32)


# -- the reader -----------------------------------------------------------------


def _txn_lookup(run_dir: Path, sel: Selection, elem_index: dict[str, int], op_index: dict[str, int]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sorted txn ids of the selected roamers with their origin, responder and retransmission counter."""
    pf = pq.ParquetFile(run_dir / "transactions.parquet")
    ids, orig, resp, retr = [], [], [], []
    for g in range(pf.num_row_groups):
        t = pf.read_row_group(g, columns=["txn_id", "procedure_id", "imsi", "home_plmn", "visited_plmn", "origin",
                                          "responder", "retransmission"])
        keep = sel.roamer_mask(_int_col(t["imsi"]), _dict_codes(t["home_plmn"], op_index, "PLMN"),
                               _dict_codes(t["visited_plmn"], op_index, "PLMN"), _int_col(t["procedure_id"]))
        ids.append(_int_col(t["txn_id"])[keep])
        orig.append(_dict_codes(t["origin"], elem_index, "element")[keep].astype(np.int16))
        resp.append(_dict_codes(t["responder"], elem_index, "element")[keep].astype(np.int16))
        retr.append(_int_col(t["retransmission"])[keep].astype(np.int8))
    if not ids:
        return (np.empty(0, np.int64), np.empty(0, np.int16), np.empty(0, np.int16), np.empty(0, np.int8))
    all_ids = np.concatenate(ids)
    order = np.argsort(all_ids, kind="stable")
    return all_ids[order], np.concatenate(orig)[order], np.concatenate(resp)[order], np.concatenate(retr)[order]


def _attach_procedures(run_dir: Path, sel: Selection, op_index: dict[str, int]) -> np.ndarray:
    """Sorted ids of the selected roamers' attach procedures (their ULRs carry the Initial-Attach flag)."""
    pf = pq.ParquetFile(run_dir / "procedures.parquet")
    out = []
    for g in range(pf.num_row_groups):
        t = pf.read_row_group(g, columns=["procedure_id", "type", "imsi", "home_plmn", "visited_plmn"])
        pid = _int_col(t["procedure_id"])
        keep = sel.roamer_mask(_int_col(t["imsi"]), _dict_codes(t["home_plmn"], op_index, "PLMN"),
                               _dict_codes(t["visited_plmn"], op_index, "PLMN"), pid)
        types = _dict_codes(t["type"], {n: i for i, n in enumerate(PROCEDURE_TYPES)}, "procedure type")
        out.append(pid[keep & (types == PROCEDURE_TYPES.index("attach"))])
    return np.sort(np.concatenate(out)) if out else np.empty(0, np.int64)


def _procedures_of_type(run_dir: Path, types: list[str]) -> np.ndarray:
    bad = [t for t in types if t not in PROCEDURE_TYPES]
    if bad:
        raise ValueError(f"unknown procedure type {bad[0]!r}: expected one of {', '.join(PROCEDURE_TYPES)}")
    t = pq.read_table(run_dir / "procedures.parquet", columns=["procedure_id", "type"])
    codes = _dict_codes(t["type"], {n: i for i, n in enumerate(PROCEDURE_TYPES)}, "procedure type")
    wanted = [PROCEDURE_TYPES.index(x) for x in types]
    return np.sort(_int_col(t["procedure_id"])[np.isin(codes, wanted)])


def _row_group_min_times(pf: pq.ParquetFile) -> tuple[list[int], list[int]]:
    col = pf.schema_arrow.get_field_index("time")
    mins, maxs = [], []
    for g in range(pf.num_row_groups):
        st = pf.metadata.row_group(g).column(col).statistics
        if st is not None and st.has_min_max:
            mins.append(int(st.min))
            maxs.append(int(st.max))
        else:  # no statistics: read the column
            times = _int_col(pf.read_row_group(g, columns=["time"])["time"])
            mins.append(int(times.min()) if times.size else 2**63 - 1)
            maxs.append(int(times.max()) if times.size else -(2**63))
    return mins, maxs


def _slices(pf: pq.ParquetFile, groups: list[int], batch_rows: int) -> Iterator[tuple[int, pa.Table, bool]]:
    """(position in ``groups``, a slice of that row group, whether it is the group's last slice)."""
    for j, g in enumerate(groups):
        it = pf.iter_batches(batch_size=batch_rows, row_groups=[g], columns=_COLUMNS)
        batch = next(it, None)
        while batch is not None:
            following = next(it, None)
            yield j, pa.Table.from_batches([batch]), following is None
            batch = following


def _take(c: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in c.items()}


def iter_selected_rows(run_dir: Path, world: World, sel: Selection, *, chunk_rows: int = CHUNK_ROWS,
                       batch_rows: int = BATCH_ROWS, protocol: str = DIAMETER,
                       names: Sequence[str] | None = None) -> Iterator[dict[str, np.ndarray]]:
    """The selected message rows of one protocol as column chunks, in global time order (ties keep file order).

    Columns: ``time``, ``msg`` (index into ``names``, the emitter's message names; for
    Diameter :data:`MESSAGE_NAMES`), ``is_request``, ``txn_id``, ``e2e_id``,
    ``procedure_id``, ``imsi``, ``origin`` and ``destination`` (world element
    indices), ``hop``, ``rc`` (0 on requests), ``exp``, ``txn_origin``,
    ``txn_responder``, ``retrans``, ``initial``, ``home_op``, ``visited_op``.
    """
    if protocol != DIAMETER and names is None:
        raise ValueError(f"message names are needed for protocol {protocol!r}")
    name_index = {n: i for i, n in enumerate(names or ())}
    elem_index = {n: i for i, n in enumerate(world.element_names)}
    op_index = {p: i for i, p in enumerate(world.op_plmn)}
    txn_ids, txn_orig, txn_resp, txn_retr = _txn_lookup(run_dir, sel, elem_index, op_index)
    attach = _attach_procedures(run_dir, sel, op_index)
    msg_index = {v: i for i, v in enumerate(BY_NAME.values())}
    code_req = np.full((1024, 2), -1, dtype=np.int16)
    for (cmd, req), i in msg_index.items():
        code_req[cmd, int(req)] = i
    border = BORDER.get(protocol)
    border_of = None if border is None else np.asarray([e[border] for e in world.op_elem], dtype=np.int32)
    elem_op = np.asarray(world.element_op, dtype=np.int32)
    ipx = world.ipx

    pf = pq.ParquetFile(run_dir / "messages.parquet")
    mins, maxs = _row_group_min_times(pf)
    groups = [g for g in range(pf.num_row_groups)
              if (sel.start is None or maxs[g] >= sel.start) and (sel.end is None or mins[g] < sel.end)]
    suffix_min = [2**63 - 1] * (len(groups) + 1)
    for j in range(len(groups) - 1, -1, -1):
        suffix_min[j] = min(suffix_min[j + 1], mins[groups[j]])

    pending: dict[str, np.ndarray] | None = None
    group_sorted, group_last = True, None
    for j, t, last_slice in _slices(pf, groups, batch_rows):
        time = _int_col(t["time"])
        if time.size:
            if np.any(np.diff(time) < 0) or (group_last is not None and time[0] < group_last):
                group_sorted = False
            group_last = int(time[-1])
        imsi = _int_col(t["imsi"])
        visited = _dict_codes(t["visited_plmn"], op_index, "PLMN")
        keep = sel.roamer_mask(imsi, _dict_codes(t["home_plmn"], op_index, "PLMN"), visited,
                               _int_col(t["procedure_id"]))
        keep &= pc.equal(t["protocol"].cast(pa.string()), protocol).to_numpy(zero_copy_only=False)
        if sel.start is not None:
            keep &= time >= sel.start
        if sel.end is not None:
            keep &= time < sel.end
        origin = _dict_codes(t["origin"], elem_index, "element")
        dest = _dict_codes(t["destination"], elem_index, "element")
        if sel.capture_point == "interconnect":
            if border_of is None:
                # GTP crosses the IPX as plain IP: the interconnect is every hop between two operators.
                keep &= elem_op[origin] != elem_op[dest]
            else:
                vb = border_of[visited]
                keep &= ((origin == vb) & (dest == ipx)) | ((origin == ipx) & (dest == vb))
        idx = np.nonzero(keep)[0]
        is_req = _int_col(t["is_request"])[idx].astype(bool)
        code = _int_col(t["command_code"])[idx]
        exp_code = _int_col(t["experimental_result_code"])[idx]
        txn = _int_col(t["txn_id"])[idx]
        pos = np.searchsorted(txn_ids, txn)
        pos_c = np.minimum(pos, max(txn_ids.shape[0] - 1, 0))
        if txn.size and (txn_ids.size == 0 or not np.array_equal(txn_ids[pos_c], txn)):
            raise ValueError("messages.parquet has transactions that transactions.parquet lacks")
        proc = _int_col(t["procedure_id"])[idx]
        ap = np.searchsorted(attach, proc)
        initial = (ap < attach.shape[0]) & (attach[np.minimum(ap, max(attach.shape[0] - 1, 0))] == proc) \
            if attach.size else np.zeros(proc.shape[0], dtype=bool)
        if protocol == DIAMETER:
            msg = code_req[code, is_req.astype(np.int64)]
            if (msg < 0).any():
                raise ValueError(f"unknown S6a command code {int(code[msg < 0][0])}")
        else:
            lookup = {m: name_index.get(_emitter_name(m), -1) for m in _dict_words(t["message"])}
            msg = _dict_codes(t["message"], lookup, "message")[idx]
            if (msg < 0).any():
                raise ValueError(f"a {protocol} message in the records has no packet encoding")
        rows = {
            "time": time[idx], "msg": msg, "is_request": is_req, "txn_id": txn,
            "e2e_id": _int_col(t["e2e_id"])[idx], "procedure_id": proc, "imsi": imsi[idx],
            "origin": origin[idx], "destination": dest[idx], "hop": _int_col(t["hop"])[idx],
            "rc": np.where(exp_code > 0, exp_code, _int_col(t["result_code"])[idx]), "exp": exp_code > 0,
            "txn_origin": txn_orig[pos_c] if txn.size else np.empty(0, np.int16),
            "txn_responder": txn_resp[pos_c] if txn.size else np.empty(0, np.int16),
            "retrans": txn_retr[pos_c] if txn.size else np.empty(0, np.int8),
            "initial": initial,
            "home_op": _dict_codes(t["home_plmn"], op_index, "PLMN")[idx].astype(np.int16),
            "visited_op": visited[idx].astype(np.int16),
        }
        pending = rows if pending is None else {k: np.concatenate((pending[k], rows[k])) for k in rows}
        del rows, t
        order = np.argsort(pending["time"], kind="stable")
        pending = _take(pending, order)
        # Rows still to come: later row groups start at their minimum time (statistics); the rest of
        # this row group is not earlier than this slice's last row when the group is time-ordered (checked).
        watermark = suffix_min[j + 1]
        if not last_slice:
            watermark = min(watermark, group_last if group_sorted and group_last is not None else -(2**63))
        else:
            group_sorted, group_last = True, None
        cut = int(np.searchsorted(pending["time"], watermark, side="left"))
        for s in range(0, cut, chunk_rows):
            yield _take(pending, np.arange(s, min(cut, s + chunk_rows)))
        pending = _take(pending, np.arange(cut, pending["time"].shape[0]))
    if pending is not None:
        n = pending["time"].shape[0]
        for s in range(0, n, chunk_rows):
            yield _take(pending, np.arange(s, min(n, s + chunk_rows)))


# -- the public function ----------------------------------------------------------


def write_capture(
    run_dir: str | Path,
    out_file: str | Path,
    *,
    imsi: int | str | Iterable[int | str] | None = None,
    home: str | Iterable[str] | None = None,
    visited: str | Iterable[str] | None = None,
    procedure: int | str | Iterable[int | str] | None = None,
    start: int | str | datetime | None = None,
    end: int | str | datetime | None = None,
    sample: float | None = None,
    sample_seed: int | None = None,
    capture_point: CapturePoint = "interconnect",
    watchdogs: bool | None = None,
    protocol: str = DIAMETER,
) -> CaptureSummary:
    """Write one protocol's signalling of a finished run as a pcapng file (S6a by default).

    ``protocol``: ``diameter`` (S6a over SCTP), ``MAP`` (MAP/TCAP/SCCP/M3UA over
    SCTP), ``SBI`` (5G SBI as HTTP/2 over TCP) or ``GTPv2`` (GTPv2-C over UDP);
    :data:`CAPTURE_FILES` names the file each one gets in a run directory.

    ``imsi``: one or more IMSIs. ``home`` / ``visited``: PLMNs (``"214-01"``) or
    operator ids. ``procedure``: procedure ids, or procedure types
    (``"attach"``, ``"purge"``, ...). ``start`` / ``end``: a time window,
    ``[start, end)``, as integer ns since the epoch or ISO 8601 with a zone.
    ``sample``: keep this fraction of roamers, whole (module docstring).
    ``capture_point``: ``"interconnect"`` or ``"all"``.

    ``watchdogs``: write Diameter watchdogs: a DWR from the element that
    opened the link, answered by a DWA 1 ms later, when a link has carried no
    packet for 30 s (Tw, RFC 3539 / RFC 6733 §5.5), and again 30 s after each
    DWA while it stays idle, up to the capture's last message (none after it).
    Idleness is a property of a link's whole traffic, and a capture filtered
    by ``imsi``, ``home``, ``visited``, ``procedure`` or ``sample`` shows
    links idle that are not, so ``None`` (the default) writes them only when
    none of those filters is given (a time window ``start`` / ``end`` is
    fine); ``True`` / ``False`` force them on or off. (At the ``interconnect``
    capture point, an operator that is both a home and a visited network has
    the hops of its home role on the same DEA–IPX link, and those are not
    captured there: that link's watchdogs reflect its visited-role traffic.)
    ``CaptureSummary.watchdogs`` counts the exchanges written.

    The file is written as ``<out_file>.part`` and renamed when complete.
    """
    run = Path(run_dir)
    out = Path(out_file)
    if capture_point not in CAPTURE_POINTS:
        raise ValueError(f"capture_point must be one of {', '.join(CAPTURE_POINTS)}, got {capture_point!r}")
    if sample is not None and not 0.0 <= sample <= 1.0:
        raise ValueError(f"sample must be a fraction in [0, 1], got {sample}")
    manifest, world = load_world(run)
    run_id = run_id_of(manifest)
    sel = Selection(start=_to_ns(start), end=_to_ns(end), sample=sample, capture_point=capture_point,
                    seed=int(manifest.get("seed", 0)) if sample_seed is None else sample_seed)
    if imsi is not None:
        values = [imsi] if isinstance(imsi, int | str) else list(imsi)
        sel.imsi = np.array(sorted(int(v) for v in values), dtype=np.int64)
    sel.home_ops = _ops_for(home, world)
    sel.visited_ops = _ops_for(visited, world)
    if procedure is not None:
        values = [procedure] if isinstance(procedure, int | str) else list(procedure)
        ids = [int(v) for v in values if isinstance(v, int) or str(v).isdigit()]
        types = [str(v) for v in values if not (isinstance(v, int) or str(v).isdigit())]
        found = _procedures_of_type(run, types) if types else np.empty(0, np.int64)
        sel.procedure_ids = np.unique(np.concatenate((np.array(ids, dtype=np.int64), found)))

    addressing = Addressing.for_world(world)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    if watchdogs is None:
        watchdogs = all(v is None for v in (imsi, home, visited, procedure, sample))
    described = [f"capture point {capture_point}"]
    for label, value in (("imsi", imsi), ("home", home), ("visited", visited), ("procedure", procedure),
                         ("from", start), ("to", end), ("sample", sample)):
        if value is not None:
            described.append(f"{label} {value}")
    described.append("DWR/DWA on links idle 30 s" if watchdogs else "no DWR/DWA")
    with open(part, "wb") as f:
        writer = PcapngWriter(
            f, comment=f"roamsim run {run_id} (scenario {manifest.get('scenario_name')}, seed "
                       f"{manifest.get('seed')}); {'; '.join(described)}",
            application=f"roamsim {__version__}")
        writer.name_resolution(
            (e.ipv4, [e.host]) for e in (addressing.element(n) for n in world.element_names))
        if protocol == DIAMETER:
            s6a = S6aSctpEmitter(writer, world, addressing, watchdogs=watchdogs)
            for chunk in iter_selected_rows(run, world, sel):
                s6a.emit(chunk)
            writer.flush()
            emitted: _Emitter = s6a
            exchanges = s6a.watchdog_exchanges
        else:
            emitter, names = _emitter_for(protocol, writer, addressing, world, watchdogs=watchdogs)
            for chunk in iter_selected_rows(run, world, sel, protocol=protocol, names=names):
                emitter.emit(chunk)
            writer.flush()
            emitted, exchanges = emitter, 0
    os.replace(part, out)
    return CaptureSummary(out, run_id, writer.packets, emitted.messages, writer.interfaces, emitted.first_time,
                          emitted.last_time if emitted.messages else None, exchanges)


CAPTURE_FILES: dict[str, str] = {DIAMETER: "s6a.pcapng", "MAP": "map.pcapng", "SBI": "sbi.pcapng",
                                 "GTPv2": "gtp.pcapng"}
"""Protocol → capture file name in a run directory's ``traces/``."""


class _Emitter(Protocol):
    @property
    def messages(self) -> int: ...

    @property
    def first_time(self) -> int | None: ...

    @property
    def last_time(self) -> int | None: ...

    def emit(self, c: dict[str, np.ndarray]) -> None: ...


def _emitter_for(protocol: str, writer: PcapngWriter, addressing: Addressing, world: World, *, watchdogs: bool
                 ) -> tuple[_Emitter, Sequence[str]]:
    """The emitter of a protocol other than S6a, and its message names."""
    args = (writer, addressing, world.element_names, world.op_ids, world.op_country)
    if protocol == "MAP":
        from roamsim.sinks.pcap import emit_map
        return emit_map.MapEmitter(*args), emit_map.MESSAGE_NAMES
    if protocol == "SBI":
        from roamsim.sinks.pcap import emit_sbi
        return emit_sbi.SbiEmitter(*args), emit_sbi.MESSAGE_NAMES
    if protocol == "GTPv2":
        from roamsim.sinks.pcap import emit_gtp, gtpv2
        return emit_gtp.GtpEmitter(*args, watchdogs=watchdogs), gtpv2.MESSAGE_NAMES
    raise ValueError(f"no packet traces for protocol {protocol!r}: expected one of {', '.join(CAPTURE_FILES)}")


def protocols_in(run_dir: str | Path) -> list[str]:
    """The protocols a run's messages.parquet holds, in :data:`CAPTURE_FILES` order."""
    pf = pq.ParquetFile(Path(run_dir) / "messages.parquet")
    found: set[str] = set()
    for g in range(pf.num_row_groups):
        found |= _dict_words(pf.read_row_group(g, columns=["protocol"])["protocol"])
    return [p for p in CAPTURE_FILES if p in found]
