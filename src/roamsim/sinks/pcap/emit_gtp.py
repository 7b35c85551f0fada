"""GTPv2-C message rows → Ethernet/IPv4/UDP/GTPv2-C packets in a pcapng file, at template speed.

The rows are S5/S8 messages between a visited SGW and a PGW (the home
operator's for home-routed S8, the visited operator's for local breakout on
S5), one hop each: the GRX/IPX routes them as IP packets and has no GTP-level
element. A message *shape* is the message, request or response, cause, the
two elements, the home and visited operators and the IMSI's digit count.
Each shape is encoded once (:func:`~roamsim.sinks.pcap.gtpv2.template`) and
framed once for its path direction (:meth:`~roamsim.sinks.pcap.udp.UdpPath.template`)
inside a ready pcapng Enhanced Packet Block. The per-session values of a chunk
of rows (IMSI, MSISDN and MEI digits, cell, TEIDs, UE address, charging ID,
sequence number) are computed with NumPy into fixed-layout records
(:data:`~roamsim.sinks.pcap.gtpv2.RECORD_LEN` octets each); per packet the loop
copies the block, copies the shape's fields from the row's record, and patches
the EPB length and timestamp, the IP identification and checksum and the UDP
checksum, and appends the per-packet comment (``procedure_id=… txn_id=…``).

Sequence numbers are ``txn_id`` mod 2**24; a retransmitted request
(``retrans`` > 0) and its response keep the sequence number of the session's
latest original request of the same message (TS 29.274 §7.6), remembered for
:data:`RETRANSMISSION_WINDOW_NS`; without one (a capture that starts after
it) the row's own is used.

A path's first message opens it: an interface (IDB) named after the two
elements and an Echo Request / Echo Response exchange (TS 29.274 §7.1.1:
echo on a path in use, the set-up that Diameter has in CER/CEA), timestamped
just before that message and never before the packet written last.

Echo on idle paths (TS 29.274 §7.1.1 Echo Request/Response; TS 23.007: a
node detects a path failure with echoes on the paths it uses). Interval
chosen: 60 s, the shortest that TS 29.060 §7.2.1 allows on a path and the
value GTPv2-C nodes commonly keep. When a path carries no packet for
:data:`ECHO_INTERVAL_NS`, the element that opened it sends an Echo Request
and its peer answers :data:`ECHO_ANSWER_NS` later (sooner when the capture's
next packet comes sooner), and again 60 s after that while the path stays
idle, up to the last message row. Like the Diameter watchdogs they
describe a path's whole traffic, so a capture filtered by roamer or procedure
turns them off (``watchdogs=False``). Echo sequence numbers are
:data:`ECHO_SEQ_BASE` plus a per-path counter.
"""

from __future__ import annotations

import heapq
import struct
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from roamsim.sinks.pcap.addressing import Addressing, Element
from roamsim.sinks.pcap.gtpv2 import (
    MESSAGE_NAMES,
    PORT_GTPC,
    REC_CHARGING_ID,
    REC_ECI,
    REC_IMSI,
    REC_MEI,
    REC_MSISDN,
    REC_PAA,
    REC_SEQ,
    REC_TAC,
    REC_TEID,
    RECORD_LEN,
    GtpHop,
    GtpTemplate,
    cell_for,
    charging_id_for,
    echo,
    mei_for,
    teid_for,
    template,
    ue_ipv4_for,
)
from roamsim.sinks.pcap.numbering import msisdn_for
from roamsim.sinks.pcap.pcapng import EPB_HEAD_LEN, OPT_COMMENT, PcapngWriter, epb_pair, epb_template
from roamsim.sinks.pcap.udp import (
    IP_ID_OFFSET,
    UDP_CHECKSUM_OFFSET,
    UDP_PAYLOAD_OFFSET,
    UdpDirection,
    UdpPath,
)

SETUP_SPACING_NS = 50_000
"""Spacing of the Echo exchange written just before a path's first message."""
ECHO_INTERVAL_NS = 60_000_000_000
"""An idle path's opener sends an Echo Request after this long without a packet (module docstring)."""
ECHO_ANSWER_NS = 1_000_000
"""Time from an Echo Request to its Echo Response (shorter when the capture's next packet comes sooner)."""
ECHO_SEQ_BASE = 0x800000
"""Echo sequence numbers: this plus a per-path counter (mod 2**24)."""
RETRANSMISSION_WINDOW_NS = 60_000_000_000
"""How long an original request's sequence number is kept for its retransmissions (T3 × (N3 + 1) is 10 s)."""
FLUSH_BLOCKS = 8192
"""Blocks (two per packet) gathered before they are written."""

_EPB_HEAD = EPB_HEAD_LEN
_POW10 = np.array([10**k for k in range(19)], dtype=np.int64)
_NEVER = 1 << 63
_CREATE = MESSAGE_NAMES.index("CreateSession")


@dataclass
class _Path:
    """A path (pair of adjacent elements): its UDP state and interface, made on first use."""

    a: Element
    b: Element
    interface: str
    udp: UdpPath | None = None
    iface: int = -1
    echoes: int = 0
    """Echo exchanges written on this path."""


@dataclass
class _Shape:
    gtp: GtpTemplate
    path: _Path
    sender: Element


class _Fast(NamedTuple):
    """Everything the per-packet loop needs for one shape, as plain values."""

    data: bytes
    """EPB header (28 octets) + frame + padding to 32 bits."""
    base_total: int
    """EPB total length without the comment option."""
    iface: int
    ops: tuple[tuple[int, int, int], ...]
    """(offset in ``data``, offset in the record, length)."""
    ip_sum: int
    state: UdpDirection
    udp_sum: int
    sum_end: int
    """End of the UDP checksum's span in ``data`` (the frame, plus the zero pad octet when its length is odd)."""


def tbcd_rows(values: np.ndarray, ndigits: np.ndarray) -> np.ndarray:
    """TBCD of each value with its digit count (at most 16), F-filled to 8 octets: an (n, 8) uint8 array."""
    exp = ndigits.astype(np.int64)[:, None] - 1 - np.arange(16, dtype=np.int64)[None, :]
    digits = (values.astype(np.int64)[:, None] // _POW10[np.clip(exp, 0, 18)]) % 10
    digits = np.where(exp >= 0, digits, 0x0F)
    out: np.ndarray = (digits[:, 0::2] | (digits[:, 1::2] << 4)).astype(np.uint8)
    return out


def _be(values: np.ndarray, width: int) -> np.ndarray:
    return values.astype(">u4" if width == 4 else ">u2").view(np.uint8).reshape(-1, width)


def digit_count(values: np.ndarray) -> np.ndarray:
    """Decimal digits of each positive value."""
    return np.searchsorted(_POW10[1:], values, side="right") + 1


class GtpEmitter:
    """Writes GTPv2-C message rows (see :meth:`emit`) as packets into a :class:`PcapngWriter`.

    ``element_names``, ``op_ids`` and ``op_country`` are the world's (the rows'
    ``origin``/``destination`` and ``home_op``/``visited_op`` index them).
    ``watchdogs``: write Echo exchanges on paths idle for 60 s (module
    docstring); only meaningful when the rows are a path's whole traffic.
    """

    def __init__(self, writer: PcapngWriter, addressing: Addressing, element_names: Sequence[str],
                 op_ids: Sequence[str], op_country: Sequence[str], *, watchdogs: bool = True) -> None:
        self.writer = writer
        self.addressing = addressing
        self.element_names = list(element_names)
        self.op_ids = list(op_ids)
        self.op_country = list(op_country)
        self.watchdogs = watchdogs
        self.messages = 0
        self.first_time: int | None = None
        self.last_time: int | None = None
        self.watchdog_exchanges = 0
        """Echo exchanges written on idle paths (two packets each; the first-use ones not counted)."""
        self.paths: dict[frozenset[str], _Path] = {}
        self.shapes: list[_Shape] = []
        self._fast: list[_Fast | None] = []
        self._keys: dict[int, int] = {}
        self.written_until = 0
        """Timestamp of the packet written last; set-up packets are never written before it. A writer that
        interleaves several emitters in one file sets it to the file's last timestamp before each :meth:`emit`."""
        self._due: list[tuple[int, int]] = []
        self._seen: list[int] = []
        self._by_iface: dict[int, _Path] = {}
        self._msisdn_prefix: dict[int, tuple[int, int]] = {}
        self._original_seq: dict[tuple[int, int], tuple[int, int]] = {}
        self._original_order: deque[tuple[int, tuple[int, int]]] = deque()
        self._el_bits = max(1, len(self.element_names).bit_length())
        self._op_bits = max(1, len(self.op_ids).bit_length())
        if 2 + 1 + 8 + 2 * self._el_bits + 2 * self._op_bits + 5 > 63:
            raise ValueError(f"{len(self.element_names)} elements and {len(self.op_ids)} operators are too many "
                             "for the GTP shape key")

    # -- shapes ---------------------------------------------------------------------
    def hop(self, msg: int, is_request: bool, cause: int, origin: int, destination: int, home_op: int,
            visited_op: int, imsi: int, e2e_id: int, seq: int) -> GtpHop:
        """The :class:`GtpHop` of one row (the slow path; tests use it as the reference)."""
        o = self.addressing.element(self.element_names[origin])
        d = self.addressing.element(self.element_names[destination])
        sgw, pgw = (o, d) if is_request else (d, o)
        if sgw.kind != "sgw" or pgw.kind != "pgw":
            raise ValueError(f"GTPv2 {MESSAGE_NAMES[msg]} {'request' if is_request else 'response'} from "
                             f"{o.name} to {d.name}: requests go from an SGW to a PGW, responses back")
        home = self.op_ids[home_op]
        return GtpHop(MESSAGE_NAMES[msg], is_request, sgw, pgw, self.addressing.plmn_of(home),
                      self.op_country[home_op], self.addressing.plmn_of(self.op_ids[visited_op]), imsi, e2e_id, seq,
                      None if is_request else cause)

    def _shape(self, key: int, f: tuple[int, ...]) -> int:
        msg, req, cause, origin, destination, home, visited, ndigits = f
        h = self.hop(msg, bool(req), cause, origin, destination, home, visited,
                     10 ** (ndigits - 1) if ndigits else 10**14, 0, 0)
        lk = frozenset((h.sgw.name, h.pgw.name))
        path = self.paths.get(lk)
        if path is None:
            path = self.paths[lk] = _Path(h.sgw, h.pgw, h.interface)
        self.shapes.append(_Shape(template(h), path, h.sgw if h.is_request else h.pgw))
        self._fast.append(None)
        self._keys[key] = len(self.shapes) - 1
        return len(self.shapes) - 1

    def _write_frame(self, iface: int, ts: int, frame: bytes, out: list[bytes | bytearray]) -> None:
        out.extend(epb_pair(iface, ts, frame))

    def _echo_frames(self, path: _Path) -> tuple[bytes, bytes]:
        udp = path.udp
        if udp is None:
            raise AssertionError("echo on a path not opened")
        seq = (ECHO_SEQ_BASE + path.echoes) & 0xFFFFFF
        path.echoes += 1
        return udp.frame(path.a, echo(True, seq, path.a)), udp.frame(path.b, echo(False, seq, path.b))

    def _open(self, path: _Path, first: Element, t: int) -> None:
        """Write the interface and the Echo exchange of a path first used at ``t``."""
        other = path.b if first.name == path.a.name else path.a
        path.a, path.b = first, other
        path.udp = UdpPath(first, other, port=PORT_GTPC)
        path.iface = self.writer.add_interface(
            f"{first.name}<->{other.name}",
            f"{path.interface} GTPv2-C/UDP {first.host} ({first.ipv4_text}) <-> {other.host} ({other.ipv4_text})")
        frames = self._echo_frames(path)
        for j, frame in enumerate(frames):
            ts = max(self.written_until, t - (len(frames) - j) * SETUP_SPACING_NS)
            self.writer.packet(path.iface, ts, frame)
            self.written_until = ts
        seen = self._seen
        seen.extend([t] * (path.iface + 1 - len(seen)))
        seen[path.iface] = t
        self._by_iface[path.iface] = path
        if self.watchdogs:
            heapq.heappush(self._due, (t + ECHO_INTERVAL_NS, path.iface))

    def _idle_echoes(self, until: int, out: list[bytes | bytearray], prev: int) -> int:
        """Append the Echo exchanges due before ``until`` to ``out`` (in time order); the last time written."""
        due, seen, interval = self._due, self._seen, ECHO_INTERVAL_NS
        made: list[tuple[int, int, int, bytes]] = []
        while due[0][0] < until:
            d, iface = due[0]
            idle_until = seen[iface] + interval
            if idle_until > d:  # the path carried a packet since this entry was pushed
                heapq.heapreplace(due, (idle_until, iface))
                continue
            answer = min(d + ECHO_ANSWER_NS, until - 1)
            heapq.heapreplace(due, (answer + interval, iface))
            seen[iface] = answer
            request, response = self._echo_frames(self._by_iface[iface])
            made.append((d, len(made), iface, request))
            made.append((answer, len(made), iface, response))
        if not made:
            return prev
        made.sort()
        for ts, _, iface, frame in made:
            self._write_frame(iface, ts, frame, out)
        self.watchdog_exchanges += len(made) // 2
        return max(prev, made[-1][0])

    def _prepare(self, sid: int, t: int) -> _Fast:
        shape = self.shapes[sid]
        path = shape.path
        if path.udp is None:
            self._open(path, shape.sender, t)
        udp = path.udp
        if udp is None:
            raise AssertionError("path not opened")
        payload = shape.gtp.data
        ft = udp.template(shape.sender, len(payload))
        frame = bytearray(ft.data)
        frame[UDP_PAYLOAD_OFFSET:UDP_PAYLOAD_OFFSET + len(payload)] = payload
        n = len(frame)
        pad = -n % 4
        base = _EPB_HEAD + UDP_PAYLOAD_OFFSET
        fast = _Fast(
            data=epb_template(path.iface, frame),
            base_total=_EPB_HEAD + n + pad + 4, iface=path.iface,
            ops=tuple((base + dst, src, ln) for dst, src, ln in shape.gtp.ops),
            ip_sum=ft.ip_sum, state=ft.state, udp_sum=ft.udp_sum, sum_end=_EPB_HEAD + n + (len(payload) & 1),
        )
        self._fast[sid] = fast
        return fast

    # -- per-row values -----------------------------------------------------------------
    def _sequence_numbers(self, c: dict[str, np.ndarray], msg: np.ndarray, is_req: np.ndarray) -> np.ndarray:
        """``txn_id`` mod 2**24, or the original request's for retransmissions and their responses."""
        seq = (c["txn_id"].astype(np.int64) & 0xFFFFFF)
        retrans = c["retrans"].astype(np.int64) > 0
        rows = np.nonzero(retrans | is_req)[0]
        if rows.size == 0:
            return seq
        known, order = self._original_seq, self._original_order
        times = c["time"][rows].tolist()
        keys = zip(c["e2e_id"][rows].tolist(), msg[rows].tolist(), strict=True)
        for i, t, key, again in zip(rows.tolist(), times, keys, retrans[rows].tolist(), strict=True):
            while order and order[0][0] < t - RETRANSMISSION_WINDOW_NS:
                old_t, old_key = order.popleft()
                if known.get(old_key, (0, -1))[1] == old_t:
                    del known[old_key]
            if again:
                found = known.get(key)
                if found is not None:
                    seq[i] = found[0]
            else:
                known[key] = (int(seq[i]), t)
                order.append((t, key))
        return seq

    def _msisdn_prefixes(self, home: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row: the MSISDN's digits before the subscriber number (as an int) and their count."""
        for op in np.unique(home).tolist():
            if op not in self._msisdn_prefix:
                plmn = str(self.addressing.plmn_of(self.op_ids[op]))
                prefix = msisdn_for(0, plmn, self.op_country[op])[:-8]
                self._msisdn_prefix[op] = (int(prefix), len(prefix))
        table = np.zeros((len(self.op_ids), 2), dtype=np.int64)
        for op, (value, n) in self._msisdn_prefix.items():
            table[op] = (value, n)
        return table[home, 0], table[home, 1]

    def records(self, c: dict[str, np.ndarray], seq: np.ndarray) -> bytes:
        """The rows' session records (:data:`~roamsim.sinks.pcap.gtpv2.RECORD_LEN` octets each), concatenated."""
        imsi = c["imsi"].astype(np.int64)
        e2e = c["e2e_id"].astype(np.int64)
        n = imsi.shape[0]
        prefix, plen = self._msisdn_prefixes(c["home_op"].astype(np.int64))
        rec = np.empty((n, RECORD_LEN), dtype=np.uint8)
        rec[:, REC_IMSI:REC_IMSI + 8] = tbcd_rows(imsi, digit_count(imsi))
        rec[:, REC_MSISDN:REC_MSISDN + 8] = tbcd_rows(prefix * 10**8 + imsi % 10**8, plen + 8)
        rec[:, REC_MEI:REC_MEI + 8] = tbcd_rows(mei_for(imsi), np.full(n, 16))
        tac, eci = cell_for(imsi)
        rec[:, REC_TAC:REC_TAC + 2] = _be(tac, 2)
        rec[:, REC_ECI:REC_ECI + 4] = _be(eci, 4)
        for side in range(4):
            rec[:, REC_TEID + 4 * side:REC_TEID + 4 * side + 4] = _be(teid_for(e2e, side), 4)
        rec[:, REC_PAA:REC_PAA + 4] = _be(ue_ipv4_for(imsi), 4)
        rec[:, REC_CHARGING_ID:REC_CHARGING_ID + 4] = _be(charging_id_for(e2e), 4)
        rec[:, REC_SEQ:REC_SEQ + 3] = _be(seq, 4)[:, 1:]
        return rec.tobytes()

    # -- rows -----------------------------------------------------------------------------
    def emit(self, c: dict[str, np.ndarray]) -> None:
        """Write time-ordered rows: columns ``time``, ``msg`` (index into :data:`MESSAGE_NAMES`), ``is_request``,
        ``txn_id``, ``e2e_id``, ``procedure_id``, ``imsi``, ``origin``, ``destination``, ``rc`` (the GTP cause of
        responses), ``retrans``, ``home_op``, ``visited_op`` (others, as ``hop``, are not needed)."""
        n = c["time"].shape[0]
        if n == 0:
            return
        is_req = c["is_request"].astype(bool)
        msg = c["msg"].astype(np.int64)
        if msg.min() < 0 or msg.max() >= len(MESSAGE_NAMES):
            bad = int(msg[(msg < 0) | (msg >= len(MESSAGE_NAMES))][0])
            raise ValueError(f"msg {bad} is not an index into the GTPv2 MESSAGE_NAMES {MESSAGE_NAMES}")
        cause = np.where(is_req, 0, c["rc"]).astype(np.int64)
        wrong = ~is_req & ((cause < 1) | (cause > 255))
        if wrong.any():
            raise ValueError(f"GTP cause {int(cause[wrong][0])} of a response is not a cause value "
                             "(1-255, TS 29.274 Table 8.4-1)")
        imsi = c["imsi"].astype(np.int64)
        ndigits = np.where(is_req & (msg == _CREATE), digit_count(imsi), 0)
        if (ndigits > 15).any():
            raise ValueError(f"IMSI {int(imsi[ndigits > 15][0])} has more than 15 digits")
        fields = (msg, is_req.astype(np.int64), cause, c["origin"].astype(np.int64),
                  c["destination"].astype(np.int64), c["home_op"].astype(np.int64), c["visited_op"].astype(np.int64),
                  ndigits)
        widths = (2, 1, 8, self._el_bits, self._el_bits, self._op_bits, self._op_bits, 5)
        key = np.zeros(n, dtype=np.int64)
        for col, width in zip(fields, widths, strict=True):
            key = (key << width) | col
        uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        ids = np.empty(uniq.shape[0], dtype=np.int64)
        for u, k in enumerate(uniq.tolist()):
            found = self._keys.get(k)
            if found is None:
                row = int(first[u])
                found = self._shape(k, tuple(int(f[row]) for f in fields))
            ids[u] = found
        times = c["time"].tolist()
        if self.first_time is None:
            self.first_time = times[0]
        seq = self._sequence_numbers(c, msg, is_req)
        self._write(ids[inverse].tolist(), times, self.records(c, seq), c["txn_id"].tolist(),
                    c["procedure_id"].tolist())
        self.messages += n
        self.last_time = times[-1]

    def _write(self, sids: list[int], times: list[int], recs: bytes, txns: list[int], procs: list[int]) -> None:
        fast = self._fast
        writer = self.writer
        out: list[bytes | bytearray] = []
        put = out.append
        pack = struct.pack
        pack_into = struct.pack_into
        from_bytes = int.from_bytes
        m32 = 0xFFFFFFFF
        ip_id = _EPB_HEAD + IP_ID_OFFSET
        csum_at = _EPB_HEAD + UDP_CHECKSUM_OFFSET
        sum_start = _EPB_HEAD + UDP_PAYLOAD_OFFSET
        pads = (b"\0" * 4, b"\0" * 7, b"\0" * 6, b"\0" * 5)  # option padding + opt_endofopt
        prev = self.written_until
        due = self._due
        seen = self._seen
        next_due = due[0][0] if due else _NEVER
        r = -RECORD_LEN
        for sid, t, txn, proc in zip(sids, times, txns, procs, strict=True):
            r += RECORD_LEN
            if t > next_due:
                prev = self._idle_echoes(t, out, prev)
                next_due = due[0][0]
            f = fast[sid]
            if f is None:
                writer.write_blocks(out, len(out) // 2)
                out = []
                put = out.append
                self.written_until = max(self.written_until, prev)
                f = self._prepare(sid, t)
                next_due = due[0][0] if due else _NEVER
            prev = t
            data, base_total, iface, ops, ip_sum, st, udp_sum, sum_end = f
            seen[iface] = t
            buf = bytearray(data)
            for dst, src, ln in ops:
                buf[dst:dst + ln] = recs[r + src:r + src + ln]
            text = b"procedure_id=%d txn_id=%d" % (proc, txn)
            ln = len(text)
            total = base_total + ln + (-ln % 4) + 8
            pack_into("<IIII", buf, 4, total, iface, t >> 32, t & m32)
            ident = st.ip_ident
            st.ip_ident = (ident + 1) & 0xFFFF
            cs = ip_sum + ident
            pack_into("!HHBBH", buf, ip_id, ident, 0x4000, 64, 17, ~((cs & 0xFFFF) + (cs >> 16)) & 0xFFFF)
            pack_into("!H", buf, csum_at, ~((udp_sum + from_bytes(buf[sum_start:sum_end], "big")) % 0xFFFF) & 0xFFFF)
            put(buf)
            put(pack("<HH", OPT_COMMENT, ln) + text + pads[ln & 3] + pack("<I", total))
            if len(out) >= FLUSH_BLOCKS:
                writer.write_blocks(out, len(out) // 2)
                out = []
                put = out.append
        writer.write_blocks(out, len(out) // 2)
        self.written_until = max(self.written_until, prev)
