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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from roamsim.records import schema as rs

Names = list[tuple[str, ...]]
Part = tuple[np.ndarray, Names]
"""Codes (int64, one per row) and the label values each code stands for."""

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
    """A string or dictionary column as (int64 codes, names), whatever dictionary the writer used."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr)
    idx = arr.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return idx, [str(x) for x in arr.dictionary.to_pylist()]


def _single(arr: pa.Array) -> Part:
    idx, names = codes(arr)
    return idx, [(n,) for n in names]


def _np(arr: pa.Array, fill: int = 0) -> np.ndarray:
    if arr.null_count:
        arr = pc.fill_null(arr, fill)
    return np.asarray(arr.to_numpy(zero_copy_only=False))


def _take(part: Part, sel: np.ndarray) -> Part:
    return part[0][sel], part[1]


def _result_part(code: np.ndarray, experimental: np.ndarray, timeout: np.ndarray) -> Part:
    """Result labels: ``2001``, ``exp:5004`` for an Experimental-Result-Code (RFC 6733 §7.1, TS 29.272 §7.4.3),
    ``timeout``."""
    key = np.where(timeout, 0, code.astype(np.int64) * 2 + experimental.astype(np.int64) + 1)
    if key.size and int(key.min()) >= 0 and int(key.max()) < 1 << 20:  # codes are small: no sort needed
        seen = np.bincount(key)
        uniq = np.nonzero(seen)[0]
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
    return inv.astype(np.int64), names


def transactions(batch: pa.RecordBatch) -> list[Observation]:
    """Requests (with their fate), timeouts and steering rejects."""
    n = batch.num_rows
    if n == 0:
        return []
    home = _single(batch["home_plmn"])
    vis = _single(batch["visited_plmn"])
    proto = _single(batch["protocol"])
    iface = _single(batch["interface"])
    cmd = _single(batch["command"])
    rc = batch["result_code"]
    timed_out = _np(batch["timed_out"]).astype(bool) | _np(rc.is_null()).astype(bool)
    result = _result_part(_np(rc), _np(batch["experimental"]).astype(bool), timed_out)
    t_req = _np(batch["request_time"]).astype(np.int64)
    out = [Observation("roamsim_messages_total", [proto, iface, cmd, result, home, vis], t_req)]
    sel = np.nonzero(timed_out)[0]
    if sel.size:
        out.append(Observation("roamsim_transaction_timeouts_total",
                               [_take(p, sel) for p in (proto, iface, cmd, home, vis)], t_req[sel]))
    sel = np.nonzero(_np(batch["steering_reject"]).astype(bool))[0]
    if sel.size:
        t_ans = _np(batch["answer_time"], -1).astype(np.int64)
        out.append(Observation("roamsim_steering_rejects_total", [_take(home, sel), _take(vis, sel)],
                               np.where(t_ans[sel] >= 0, t_ans[sel], t_req[sel])))
    return out


def messages(batch: pa.RecordBatch) -> list[Observation]:
    """Messages per link, and each answer as its responder sends it (hop 0)."""
    if batch.num_rows == 0:
        return []
    t = _np(batch["time"]).astype(np.int64)
    out = [Observation("roamsim_link_messages_total", [_single(batch["origin"]), _single(batch["destination"])], t)]
    is_req = _np(batch["is_request"]).astype(bool)
    sel = np.nonzero(~is_req & (_np(batch["hop"]) == 0))[0]
    if sel.size:
        idx = pa.array(sel)
        base = batch["result_code"].take(idx)
        exp_col = batch["experimental_result_code"].take(idx)
        experimental = _np(base.is_null()).astype(bool) & ~_np(exp_col.is_null()).astype(bool)
        code = np.where(experimental, _np(exp_col), _np(base))
        missing = _np(base.is_null()).astype(bool) & ~experimental
        out.append(Observation("roamsim_messages_total", [
            _take(_single(batch[c]), sel) for c in ("protocol", "interface", "message")
        ] + [_result_part(code, experimental, missing)] + [
            _take(_single(batch[c]), sel) for c in ("home_plmn", "visited_plmn")
        ], t[sel]))
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
        self.pair_names: Names = []

    def _intern_mmes(self, names: list[str]) -> np.ndarray:
        return np.asarray([self._mmes.setdefault(n, len(self._mmes)) for n in names], dtype=np.int64)

    def _intern_pairs(self, home: list[str], vis: list[str], hc: np.ndarray, vc: np.ndarray) -> np.ndarray:
        key = hc * max(1, len(vis)) + vc
        uniq, inv = np.unique(key, return_inverse=True)
        table = []
        for k in uniq.tolist():
            name = (home[k // max(1, len(vis))], vis[k % max(1, len(vis))])
            if name not in self._pairs:
                self._pairs[name] = len(self.pair_names)
                self.pair_names.append(name)
            table.append(self._pairs[name])
        return np.asarray(table, dtype=np.int64)[inv] if uniq.size else np.zeros(0, dtype=np.int64)

    def apply(self, batch: pa.RecordBatch) -> Observation | None:
        """Apply a procedures batch; return the gauge deltas (+1/-1 per pair) it causes."""
        ptype, pnames = codes(batch["type"])
        outc, onames = codes(batch["outcome"])
        success = np.zeros(len(onames), dtype=bool)
        success[[i for i, n in enumerate(onames) if n == "success"]] = True
        ok = success[outc] if outc.size else np.zeros(0, dtype=bool)
        reg_t = np.isin(ptype, [i for i, n in enumerate(pnames) if n in REGISTERING_TYPES])
        cancel_t = ptype == (pnames.index("cancel_location") if "cancel_location" in pnames else -1)
        purge_t = ptype == (pnames.index("purge") if "purge" in pnames else -1)
        is_reg = reg_t & ok
        event = np.nonzero(is_reg | cancel_t | (purge_t & ok))[0]
        if event.size == 0:
            return None
        imsi = _np(batch["imsi"]).astype(np.int64)[event]
        mc, mnames = codes(batch["mme"])
        mme = self._intern_mmes(mnames)[mc[event]]
        hc, hnames = codes(batch["home_plmn"])
        vc, vnames = codes(batch["visited_plmn"])
        pair = self._intern_pairs(hnames, vnames, hc[event], vc[event])
        times = _np(batch["end_time"]).astype(np.int64)[event]
        reg = is_reg[event]

        order = np.argsort(imsi, kind="stable")  # grouped by IMSI, record order inside a group
        imsi, mme, pair, times, reg = imsi[order], mme[order], pair[order], times[order], reg[order]
        n = imsi.size
        gstart = np.r_[True, imsi[1:] != imsi[:-1]]
        gid = np.cumsum(gstart) - 1
        gimsi = imsi[gstart]
        # The state before this batch, per IMSI.
        pos = np.searchsorted(self.imsi, gimsi)
        known = pos < self.imsi.size
        known[known] = self.imsi[pos[known]] == gimsi[known]
        prior_mme = np.full(gimsi.size, -1, dtype=np.int64)
        prior_pair = np.full(gimsi.size, -1, dtype=np.int64)
        prior_mme[known] = self.mme[pos[known]]
        prior_pair[known] = self.pair[pos[known]]
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
        self.mme[pos[known]] = end_mme[known]
        self.pair[pos[known]] = end_pair[known]
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
    ptype = _single(batch["type"])
    home = _single(batch["home_plmn"])
    vis = _single(batch["visited_plmn"])
    rat = _single(batch["rat"])
    outcome = _single(batch["outcome"])
    end = _np(batch["end_time"]).astype(np.int64)
    out = [Observation("roamsim_procedures_total", [ptype, home, vis, rat, outcome], end)]
    is_reg = np.isin(ptype[0], [i for i, (n,) in enumerate(ptype[1]) if n in REGISTRATION_TYPES])
    sel = np.nonzero(is_reg)[0]
    if sel.size:
        out.append(Observation("roamsim_registrations_total", [_take(p, sel) for p in (home, vis, rat, outcome)],
                               end[sel]))
    ok = np.isin(outcome[0], [i for i, (n,) in enumerate(outcome[1]) if n == "success"])
    sel = np.nonzero(ok)[0]
    if sel.size:
        start = _np(batch["start_time"]).astype(np.int64)
        out.append(Observation("roamsim_procedure_duration_seconds", [_take(p, sel) for p in (ptype, home, vis, rat)],
                               end[sel], end[sel] - start[sel]))
    return out
