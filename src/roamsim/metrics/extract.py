"""From record batches to metric observations.

One function per record kind turns an Arrow record batch (the schemas of
:mod:`roamsim.records.schema`) into :class:`Observation` rows: the labels of
each row (as small codes plus their names), an optional value, and the
simulated time it belongs to. The live registry and the OpenMetrics time
series both tally these observations, so they count the same things.

What is counted where:

- a request at its request time (one per transaction row, retransmissions
  included), labelled with the answer's result code, ``timeout`` when its
  answer did not reach the origin in time;
- an answer at the time the responder sent it (the hop-0 answer row of
  ``messages``), labelled with its own result code;
- a message on a link: every row of ``messages``;
- a procedure attempt at its end time; the duration histogram takes the
  successful ones only (the ``latency`` of ``kpis.json`` does the same).

Active roamers follow the HSS's view of a registration (TS 23.401 §5.3.2.1,
§5.3.9; TS 29.272 §5.2.1.1-2): a successful attach or tracking area update
registers the roamer with that procedure's MME (and so its visited network),
replacing any earlier registration; a cancel location (whatever its outcome:
the HSS has dropped the old MME before it sends the CLR, on a new location
update and on return home) or a successful purge deregisters the roamer only
if it names the MME the roamer is registered with. Rows are applied in record
order, which is the order the engine decided them, so batch boundaries do not
change the result.

Codes are the batch's dictionary indices as written (no copy), and the rows
an observation keeps are taken with one Arrow call: a batch costs few NumPy
and Arrow calls, which matters on the event log's writer thread (see
:mod:`roamsim.metrics.tally`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from roamsim.records import schema as rs

Names = list[tuple[str, ...]]
Part = tuple[np.ndarray, Names]
"""Codes (non-negative integers of any width, one per row) and the label values each code stands for."""

REGISTRATION_TYPES = frozenset(rs.REGISTRATION_TYPES)
"""Initial registrations (EPS attach, 2G/3G location update, 5GS registration): ``roamsim_registrations_total``."""
REGISTERING_TYPES = REGISTRATION_TYPES | {"tracking_area_update", "gprs_location_update", "mobility_registration"}
"""Successful procedures that (re)register the roamer at the home register with the procedure's serving node."""
DEREGISTERING_TYPES = frozenset({"cancel_location", "purge"})
TIMEOUT = "timeout"


@dataclass(frozen=True)
class Observation:
    """Rows of one metric family from one batch."""

    family: str
    parts: list[Part]
    """One entry per group of labels, in the family's label order."""
    times: np.ndarray
    """Simulated time of each row, ns since the Unix epoch."""
    values: np.ndarray | None = None
    """Per-row value (a histogram's observation in ns, a gauge's delta); ``None`` counts 1 per row."""


def codes(arr: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """A string or dictionary column as (integer codes, names), whatever dictionary the writer used.

    The codes are the dictionary's indices as written (int8 or int16 for the event log), not copied.
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr)
    idx = np.asarray(arr.indices.to_numpy(zero_copy_only=False))
    return idx, [str(x) for x in arr.dictionary.to_pylist()]


def _single(arr: pa.Array) -> Part:
    idx, names = codes(arr)
    return idx, [(n,) for n in names]


def _np(arr: pa.Array, fill: int = 0) -> np.ndarray:
    if arr.null_count:
        arr = pc.fill_null(arr, fill)
    return np.asarray(arr.to_numpy(zero_copy_only=False))


def _rows(batch: pa.RecordBatch, sel: np.ndarray, columns: list[str]) -> pa.RecordBatch:
    """``columns`` of the rows ``sel``: one Arrow call instead of one NumPy gather per column."""
    return batch.select(columns).take(pa.array(sel))


def _lookup(names: Names, wanted: frozenset[str] | set[str]) -> np.ndarray:
    """Code → whether its (single) name is in ``wanted``, to index with the codes."""
    return np.asarray([n in wanted for (n,) in names] or [False], dtype=bool)


def _result_part(code: np.ndarray, experimental: np.ndarray, timeout: np.ndarray) -> Part:
    """Result labels: ``2001``, ``exp:5004`` for an Experimental-Result-Code (RFC 6733 §7.1, TS 29.272 §7.4.3),
    ``timeout``."""
    key = code.astype(np.int64) * 2 + experimental
    key += 1
    key[timeout] = 0
    if key.size and int(key.min()) >= 0 and int(key.max()) < 1 << 20:  # codes are small: no sort needed
        seen = np.bincount(key)
        uniq = np.flatnonzero(seen)
        table = np.zeros(seen.size, dtype=np.int64)
        table[uniq] = np.arange(uniq.size)
        inv = table[key]
    else:
        uniq, inv = np.unique(key, return_inverse=True)
    uniq = uniq - 1
    names: Names = []
    for k in uniq.tolist():
        if k < 0:
            names.append((TIMEOUT,))
        else:
            names.append((f"exp:{k // 2}" if k % 2 else str(k // 2),))
    return inv.astype(np.int64, copy=False), names


_PAIR = ["home_plmn", "visited_plmn"]
_MESSAGE = ["protocol", "interface", "command"]


def transactions(batch: pa.RecordBatch) -> list[Observation]:
    """Requests (with their fate), timeouts and steering rejects."""
    n = batch.num_rows
    if n == 0:
        return []
    home, vis, proto, iface, cmd = (_single(batch[c]) for c in (*_PAIR, *_MESSAGE))
    rc = batch["result_code"]
    timed_out = _np(batch["timed_out"])
    if rc.null_count:
        timed_out = timed_out | _np(rc.is_null())
    result = _result_part(_np(rc), _np(batch["experimental"]), timed_out)
    t_req = _np(batch["request_time"]).astype(np.int64, copy=False)
    out = [Observation("roamsim_messages_total", [proto, iface, cmd, result, home, vis], t_req)]
    sel = np.flatnonzero(timed_out)
    if sel.size:
        sub = _rows(batch, sel, [*_MESSAGE, *_PAIR, "request_time"])
        out.append(Observation("roamsim_transaction_timeouts_total",
                               [_single(sub[c]) for c in (*_MESSAGE, *_PAIR)], _np(sub["request_time"])))
    sel = np.flatnonzero(_np(batch["steering_reject"]))
    if sel.size:
        sub = _rows(batch, sel, [*_PAIR, "request_time", "answer_time"])
        t_ans = _np(sub["answer_time"], -1)
        out.append(Observation("roamsim_steering_rejects_total", [_single(sub[c]) for c in _PAIR],
                               np.where(t_ans >= 0, t_ans, _np(sub["request_time"]))))
    return out


def messages(batch: pa.RecordBatch) -> list[Observation]:
    """Messages per link, and each answer as its responder sends it (hop 0)."""
    if batch.num_rows == 0:
        return []
    t = _np(batch["time"]).astype(np.int64, copy=False)
    out = [Observation("roamsim_link_messages_total", [_single(batch["origin"]), _single(batch["destination"])], t)]
    sel = np.flatnonzero((_np(batch["hop"]) == 0) > _np(batch["is_request"]))  # hop 0 and not a request
    if sel.size:
        sub = _rows(batch, sel, ["protocol", "interface", "message", *_PAIR, "time", "result_code",
                                 "experimental_result_code"])
        base, exp_col = sub["result_code"], sub["experimental_result_code"]
        base_null = _np(base.is_null())
        experimental = base_null & _np(exp_col.is_valid())
        code = _np(pc.coalesce(base, exp_col), 0)
        out.append(Observation("roamsim_messages_total", [
            _single(sub[c]) for c in ("protocol", "interface", "message")
        ] + [_result_part(code, experimental, base_null & ~experimental)] + [
            _single(sub[c]) for c in _PAIR
        ], _np(sub["time"]).astype(np.int64, copy=False)))
    return out


class Registrations:
    """Which MME (and visited network) each roamer is registered with, across batches.

    Held as two sorted arrays (IMSI → MME code, pair code; -1 = not registered),
    so a million roamers cost a few tens of MB. Not thread-safe: the registry
    holds its lock while it calls :meth:`apply`.
    """

    def __init__(self) -> None:
        self.imsi = np.zeros(0, dtype=np.int64)
        self.mme = np.zeros(0, dtype=np.int64)
        self.pair = np.zeros(0, dtype=np.int64)
        self._mmes: dict[str, int] = {}
        self._pairs: dict[tuple[str, str], int] = {}
        self._pair_tables: dict[tuple[tuple[str, ...], tuple[str, ...]], np.ndarray] = {}
        self.pair_names: Names = []

    def _intern_mmes(self, names: list[str]) -> np.ndarray:
        return np.asarray([self._mmes.setdefault(n, len(self._mmes)) for n in names], dtype=np.int64)

    def _pair_table(self, home: list[str], vis: list[str]) -> np.ndarray:
        """Pair code of every (home code, visited code), flattened home-major (the event log's dictionaries are
        the same in every batch, so this is built once)."""
        key = (tuple(home), tuple(vis))
        table = self._pair_tables.get(key)
        if table is None:
            pair_codes = []
            for pair in itertools.product(home, vis):
                code = self._pairs.get(pair)
                if code is None:
                    code = self._pairs[pair] = len(self.pair_names)
                    self.pair_names.append(pair)
                pair_codes.append(code)
            table = self._pair_tables[key] = np.asarray(pair_codes, dtype=np.int64)
        return table

    def _roles(self, types: list[str], outcomes: list[str]) -> np.ndarray:
        """(type code, outcome code) → 0: no effect, 1: (re)registers, 2: may deregister."""
        role = np.zeros((max(1, len(types)), max(1, len(outcomes))), dtype=np.int8)
        for i, t in enumerate(types):
            for j, o in enumerate(outcomes):
                if t in REGISTERING_TYPES and o == "success":
                    role[i, j] = 1
                elif t == "cancel_location" or (t == "purge" and o == "success"):
                    role[i, j] = 2
        return role

    def apply(self, batch: pa.RecordBatch) -> Observation | None:
        """Apply a procedures batch; return the gauge deltas (+1/-1 per pair) it causes."""
        ptype, pnames = codes(batch["type"])
        outc, onames = codes(batch["outcome"])
        role = self._roles(pnames, onames)[ptype, outc]
        event = np.flatnonzero(role)
        if event.size == 0:
            return None
        sub = _rows(batch, event, ["imsi", "mme", "home_plmn", "visited_plmn", "end_time"])
        reg = role[event] == 1
        imsi = _np(sub["imsi"]).astype(np.int64, copy=False)
        mc, mnames = codes(sub["mme"])
        mme = self._intern_mmes(mnames)[mc]
        hc, hnames = codes(sub["home_plmn"])
        vc, vnames = codes(sub["visited_plmn"])
        pair = self._pair_table(hnames, vnames)[np.ravel_multi_index((hc, vc), (len(hnames), len(vnames)))]
        times = _np(sub["end_time"]).astype(np.int64, copy=False)

        order = np.argsort(imsi, kind="stable")  # grouped by IMSI, record order inside a group
        imsi, mme, pair, times, reg = imsi[order], mme[order], pair[order], times[order], reg[order]
        n = imsi.size
        gstart = np.r_[True, imsi[1:] != imsi[:-1]]
        gid = np.cumsum(gstart) - 1
        gimsi = imsi[gstart]
        # The state before this batch, per IMSI.
        pos = np.searchsorted(self.imsi, gimsi)
        if self.imsi.size:
            at = np.minimum(pos, self.imsi.size - 1)
            known = self.imsi[at] == gimsi
            prior_mme = np.where(known, self.mme[at], -1)
            prior_pair = np.where(known, self.pair[at], -1)
        else:
            at = pos
            known = np.zeros(gimsi.size, dtype=bool)
            prior_mme = prior_pair = np.full(gimsi.size, -1, dtype=np.int64)
        # Segments: a group's rows up to its first registration, then from each registration on.
        sstart = gstart | reg
        seg = np.cumsum(sstart) - 1
        first = np.nonzero(sstart)[0]
        base_mme = np.where(reg[first], mme[first], prior_mme[gid[first]])
        base_pair = np.where(reg[first], pair[first], prior_pair[gid[first]])
        # A deregistration takes effect if it names the segment's MME and is the first one to do so.
        match = ~reg & (base_mme[seg] >= 0) & (mme == base_mme[seg])
        cm = np.cumsum(match)
        before = cm[first] - match[first]
        effective = match & (cm - before[seg] == 1)
        ended = np.zeros(first.size, dtype=bool)
        ended[seg[effective]] = True
        registered_at_end = (base_mme >= 0) & ~ended
        # A registration replaces whatever registration was there just before it.
        r_rows = np.nonzero(reg)[0]
        prev_seg = seg[r_rows] - 1
        at_gstart = gstart[r_rows]
        prev_registered = np.where(at_gstart, prior_mme[gid[r_rows]] >= 0,
                                   registered_at_end[np.maximum(prev_seg, 0)])
        prev_pair = np.where(at_gstart, prior_pair[gid[r_rows]], base_pair[np.maximum(prev_seg, 0)])
        drop = r_rows[prev_registered]
        eff = np.nonzero(effective)[0]
        d_pair = np.concatenate([pair[r_rows], prev_pair[prev_registered], base_pair[seg[eff]]])
        d_val = np.concatenate([np.ones(r_rows.size, dtype=np.int64), -np.ones(drop.size + eff.size, dtype=np.int64)])
        d_time = np.concatenate([times[r_rows], times[drop], times[eff]])
        # The state after this batch.
        last = seg[np.r_[np.nonzero(gstart[1:])[0], n - 1]]  # each group's last segment
        end_mme = np.where(registered_at_end[last], base_mme[last], -1)
        end_pair = np.where(registered_at_end[last], base_pair[last], -1)
        self.mme[at[known]] = end_mme[known]
        self.pair[at[known]] = end_pair[known]
        new = ~known & (end_mme >= 0)
        if new.any():
            self.imsi = np.insert(self.imsi, pos[new], gimsi[new])
            self.mme = np.insert(self.mme, pos[new], end_mme[new])
            self.pair = np.insert(self.pair, pos[new], end_pair[new])
        return Observation("roamsim_active_roamers", [(d_pair, list(self.pair_names))], d_time, d_val)

    def active(self) -> int:
        """Roamers registered now."""
        return int((self.mme >= 0).sum())


def procedures(batch: pa.RecordBatch) -> list[Observation]:
    """Procedure attempts by outcome, registrations, and durations of the successful ones."""
    if batch.num_rows == 0:
        return []
    ptype, home, vis, rat, outcome = (_single(batch[c]) for c in ("type", *_PAIR, "rat", "outcome"))
    end = _np(batch["end_time"]).astype(np.int64, copy=False)
    out = [Observation("roamsim_procedures_total", [ptype, home, vis, rat, outcome], end)]
    sel = np.flatnonzero(_lookup(ptype[1], REGISTRATION_TYPES)[ptype[0]])
    if sel.size:
        sub = _rows(batch, sel, [*_PAIR, "rat", "outcome", "end_time"])
        out.append(Observation("roamsim_registrations_total", [_single(sub[c]) for c in (*_PAIR, "rat", "outcome")],
                               _np(sub["end_time"]).astype(np.int64, copy=False)))
    sel = np.flatnonzero(_lookup(outcome[1], {"success"})[outcome[0]])
    if sel.size:
        sub = _rows(batch, sel, ["type", *_PAIR, "rat", "start_time", "end_time"])
        t_end = _np(sub["end_time"]).astype(np.int64, copy=False)
        out.append(Observation("roamsim_procedure_duration_seconds",
                               [_single(sub[c]) for c in ("type", *_PAIR, "rat")], t_end,
                               t_end - _np(sub["start_time"])))
    return out
