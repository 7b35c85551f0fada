"""S6a message rows → Ethernet/IPv4/SCTP/Diameter packets in a pcapng file, at template speed.

A message *shape* is everything about a message except its IMSI, identifiers,
authentication vector and timestamp: the command, the transaction's path
(origin and responder), the hop, the result and a few flags. Each shape is
encoded once (:func:`~roamsim.sinks.pcap.diameter_s6a.template`) and framed
once for its link direction (:meth:`~roamsim.sinks.pcap.sctp.SctpAssociation.template`),
inside a ready pcapng Enhanced Packet Block. Per packet the loop copies that
block and patches: EPB length and timestamp, hop-by-hop and end-to-end ids,
the Session-Id suffix, the IMSI digits, the AIA vector, IP identification and
checksum, TSN, stream and SSN, the CRC32c, and appends the per-packet comment.

The slow path (:meth:`S6aTemplate.fill`, :meth:`DataFrameTemplate.finish`) does
the same patches one call at a time; tests check that both give the bytes of a
full :func:`~roamsim.sinks.pcap.diameter_s6a.encode`.

A link's first message opens it: an interface (IDB), the SCTP association
set-up and the CER/CEA, timestamped just before that message (never before the
packet written last, so the file stays in time order).

Watchdogs (RFC 3539 §3.4, RFC 6733 §5.5): when an open link carries no packet
for :data:`WATCHDOG_INTERVAL_NS` (Tw), the element that opened it sends a DWR
and its peer answers with a DWA :data:`WATCHDOG_ANSWER_NS` later (sooner
when the capture's next packet comes sooner), and again Tw after that DWA
while the link stays idle: the DWA counts as activity like any packet, so no
packet follows the previous one on its link by more than Tw.
They are written in time order with the other packets: a heap holds each
open link's earliest possible due time (checked lazily against the link's last
packet when it comes up), and the per-packet loop compares the packet's time
with the heap's first due time only; the exchanges due before a packet are
written before it. Watchdogs are written only up to the last message row, so
none follow it. Their hop-by-hop and end-to-end ids are the association's
initiator tag plus a per-association counter (the CER/CEA have the tag
itself), and they go on stream 0 through the association's ordinary TSN and
SSN counters.
"""

from __future__ import annotations

import heapq
import struct
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from roamsim.sinks.pcap import diameter as dia
from roamsim.sinks.pcap.addressing import Addressing, Element, PlmnId
from roamsim.sinks.pcap.crc32c import crc32c
from roamsim.sinks.pcap.diameter_s6a import (
    BY_NAME,
    SESSION_SUFFIX_LEN,
    AuthVector,
    S6aHop,
    S6aTemplate,
    auth_vector,
    template,
)
from roamsim.sinks.pcap.pcapng import EPB, EPB_HEAD_LEN, OPT_COMMENT, PcapngWriter, epb_pair
from roamsim.sinks.pcap.sctp import (
    DATA_PAYLOAD_OFFSET,
    ETH_LEN,
    L2_L4_LEN,
    SCTP_COMMON_LEN,
    STREAMS,
    Direction,
    SctpAssociation,
)
from roamsim.world.model import World

MESSAGE_NAMES: tuple[str, ...] = tuple(BY_NAME)
"""Index → message name (``msg`` column of the rows)."""
SETUP_SPACING_NS = 50_000
"""Spacing of the association set-up packets written just before a link's first message."""
WATCHDOG_INTERVAL_NS = 30_000_000_000
"""Tw: an idle link's initiator sends a DWR after this long without a packet (RFC 3539 §3.4.1: 30 s)."""
WATCHDOG_ANSWER_NS = 1_000_000
"""Time from a DWR to its DWA (shorter when the next packet of the capture comes sooner)."""
FLUSH_BLOCKS = 8192
"""Blocks (two per packet) gathered before they are written."""
VECTOR_CACHE = 65_536
"""AIA vectors remembered (an AIA crosses up to four hops with the same vector)."""

_EPB_HEAD = EPB_HEAD_LEN
_POWERS_OF_TEN = np.array([10**k for k in range(1, 19)], dtype=np.int64)
_KEY_WIDTHS = (5, 16, 16, 3, 14, 1, 1, 1, 5)
_MME_ORIGINATED = frozenset({316, 318, 321})
_NEVER = 1 << 63


@dataclass
class _Link:
    """A link (pair of adjacent elements): its association and interface, made on first use."""

    a: Element
    b: Element
    assoc: SctpAssociation | None = None
    iface: int = -1
    watchdogs: int = 0
    """DWR/DWA exchanges written on this link."""
    watchdog_messages: tuple[bytes, bytes] | None = None
    """DWR and DWA with zero ids, made on the link's first watchdog."""


@dataclass
class _Shape:
    s6a: S6aTemplate
    link: _Link
    sender: Element


class _Fast(NamedTuple):
    """Everything the per-packet loop needs for one shape, as plain values."""

    data: bytes
    """EPB header (28 octets) + frame + padding to 32 bits."""
    base_total: int
    """EPB total length without the comment option."""
    iface: int
    session: int
    imsi: int
    imsi_len: int
    vector: tuple[int, int, int, int] | None
    sender_pos: int
    ip_sum: int
    state: Direction
    crc_end: int


@dataclass
class S6aSctpEmitter:
    """Writes S6a message rows (see :meth:`emit`) as packets into a :class:`PcapngWriter`.

    ``watchdogs``: write DWR/DWA on links idle for Tw (module docstring). Only
    meaningful when the rows are a link's whole traffic: a capture filtered by
    roamer or procedure shows links idle that are not.
    """

    writer: PcapngWriter
    world: World
    addressing: Addressing
    watchdogs: bool = True
    elements: list[Element] = field(init=False)
    links: dict[frozenset[str], _Link] = field(default_factory=dict)
    shapes: list[_Shape] = field(default_factory=list)
    fast: list[_Fast | None] = field(default_factory=list)
    keys: dict[int, int] = field(default_factory=dict)
    last_time: int = 0
    messages: int = 0
    first_time: int | None = None
    watchdog_exchanges: int = 0
    """DWR/DWA exchanges written (two packets each)."""
    _due: list[tuple[int, int]] = field(default_factory=list, init=False, repr=False)
    """Heap of (earliest due time of a watchdog, interface) with one entry per open link, when ``watchdogs``."""
    _seen: list[int] = field(default_factory=list, init=False, repr=False)
    """Time of the last packet (or watchdog exchange) per interface."""
    _by_iface: dict[int, _Link] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.elements = [self.addressing.element(n) for n in self.world.element_names]

    # -- shapes ---------------------------------------------------------------------
    def path(self, origin: int, responder: int) -> tuple[tuple[Element, ...], int]:
        """A transaction's request path and the responder's position on it, from its origin and responder."""
        w = self.world
        o_op, r_op = w.element_op[origin], w.element_op[responder]
        # AIR, ULR, PUR: MME → V-DEA → IPX → H-DEA → HSS; CLR, IDR: HSS → H-DEA → IPX → V-DEA → MME
        target = w.op_hss[r_op] if w.element_kind[origin] == "mme" else responder
        path = (origin, w.op_dea[o_op], w.ipx, w.op_dea[r_op], target)
        resp = 3 if w.element_kind[responder] == "dea" else 4
        return tuple(self.elements[e] for e in path), resp

    def hop(self, msg: int, origin: int, responder: int, hop: int, rc: int, exp: bool, retrans: bool,
            initial: bool, imsi: int, txn_id: int, e2e_id: int) -> S6aHop:
        """The :class:`S6aHop` of one row (the slow path; tests use it as the reference)."""
        path, resp = self.path(origin, responder)
        name = MESSAGE_NAMES[msg]
        code, request = BY_NAME[name]
        mme = path[0] if code in _MME_ORIGINATED else path[-1]
        if mme.plmn is None:
            raise AssertionError(f"{mme.name} has no PLMN")
        visited: PlmnId = mme.plmn
        return S6aHop(name=name, path=path, responder=resp, hop=hop, imsi=imsi, txn_id=txn_id, e2e_id=e2e_id,
                      visited_plmn=visited, result_code=None if request else rc, experimental=exp,
                      retransmission=retrans, initial_attach=initial)

    def _shape(self, key: int, f: tuple[int, ...]) -> int:
        msg, origin, responder, hop, rc, exp, retrans, initial, ndigits = f
        h = self.hop(msg, origin, responder, hop, rc, bool(exp), bool(retrans), bool(initial),
                     10 ** (ndigits - 1) if ndigits else 1, 0, 0)
        sender, receiver = h.link
        lk = frozenset((sender.name, receiver.name))
        link = self.links.get(lk)
        if link is None:
            link = self.links[lk] = _Link(sender, receiver)
        self.shapes.append(_Shape(template(h), link, sender))
        self.fast.append(None)
        self.keys[key] = len(self.shapes) - 1
        return len(self.shapes) - 1

    def _open(self, link: _Link, first: Element, t: int) -> None:
        """Write the interface, the SCTP association set-up and CER/CEA of a link first used at ``t``."""
        other = link.b if first.name == link.a.name else link.a
        assoc = SctpAssociation(first, other)
        link.assoc, link.a, link.b = assoc, first, other
        link.iface = self.writer.add_interface(
            f"{first.name}<->{other.name}",
            f"S6a Diameter/SCTP {first.host} ({first.ipv4_text}) <-> {other.host} ({other.ipv4_text})")
        ident = assoc.out.own_tag
        cer = dia.capabilities_exchange(request=True, host=first.host, realm=first.realm, ipv4=first.ipv4,
                                        hop_by_hop=ident, end_to_end=ident, relay=first.kind in ("dea", "ipx"))
        cea = dia.capabilities_exchange(request=False, host=other.host, realm=other.realm, ipv4=other.ipv4,
                                        hop_by_hop=ident, end_to_end=ident, relay=other.kind in ("dea", "ipx"))
        frames = [*assoc.handshake(), assoc.data_frame(first, cer), assoc.data_frame(other, cea)]
        n = len(frames)
        for j, frame in enumerate(frames):
            ts = max(self.last_time, t - (n - j) * SETUP_SPACING_NS)
            self.writer.packet(link.iface, ts, frame)
            self.last_time = ts
        seen = self._seen
        seen.extend([t] * (link.iface + 1 - len(seen)))
        seen[link.iface] = t
        self._by_iface[link.iface] = link
        if self.watchdogs:
            heapq.heappush(self._due, (t + WATCHDOG_INTERVAL_NS, link.iface))

    def _watchdog_exchanges(self, until: int, out: list[bytes | bytearray], prev: int) -> int:
        """Append the DWR/DWA exchanges due before ``until`` to ``out`` (as EPB pairs, in time order).

        Returns the time of the last packet appended, or ``prev`` when none was.
        """
        due, seen, tw = self._due, self._seen, WATCHDOG_INTERVAL_NS
        made: list[tuple[int, int, int, bytes]] = []
        while due[0][0] < until:
            d, iface = due[0]
            idle_until = seen[iface] + tw
            if idle_until > d:  # the link carried a packet since this entry was pushed
                heapq.heapreplace(due, (idle_until, iface))
                continue
            answer = min(d + WATCHDOG_ANSWER_NS, until - 1)
            heapq.heapreplace(due, (answer + tw, iface))
            seen[iface] = answer
            link = self._by_iface[iface]
            assoc = link.assoc
            if assoc is None:
                raise AssertionError("watchdog on a link not opened")
            if link.watchdog_messages is None:
                link.watchdog_messages = (
                    dia.device_watchdog(request=True, host=link.a.host, realm=link.a.realm, hop_by_hop=0,
                                        end_to_end=0),
                    dia.device_watchdog(request=False, host=link.b.host, realm=link.b.realm, hop_by_hop=0,
                                        end_to_end=0))
            dwr, dwa = link.watchdog_messages
            link.watchdogs += 1
            ids = struct.pack("!II", *((assoc.out.own_tag + link.watchdogs) & 0xFFFFFFFF,) * 2)
            made.append((d, len(made), iface, assoc.data_frame(link.a, dwr[:12] + ids + dwr[20:])))
            made.append((answer, len(made), iface, assoc.data_frame(link.b, dwa[:12] + ids + dwa[20:])))
        if not made:
            return prev
        made.sort()
        for ts, _, iface, frame in made:
            out.extend(epb_pair(iface, ts, frame))
        self.watchdog_exchanges += len(made) // 2
        return max(prev, made[-1][0])

    def _prepare(self, sid: int, t: int) -> _Fast:
        shape = self.shapes[sid]
        link = shape.link
        if link.assoc is None:
            self._open(link, shape.sender, t)
        assoc = link.assoc
        if assoc is None:
            raise AssertionError("link not opened")
        payload = shape.s6a.data
        ft = assoc.template(shape.sender, len(payload))
        frame = bytearray(ft.data)
        frame[DATA_PAYLOAD_OFFSET:DATA_PAYLOAD_OFFSET + len(payload)] = payload
        n = len(frame)
        pad = -n % 4
        head = struct.pack("<IIIIIII", EPB, 0, link.iface, 0, 0, n, n)
        base = _EPB_HEAD + DATA_PAYLOAD_OFFSET
        s = shape.s6a
        vec = None if s.vector is None else tuple(base + v for v in s.vector)
        fast = _Fast(
            data=head + bytes(frame) + b"\0" * pad, base_total=_EPB_HEAD + n + pad + 4, iface=link.iface,
            session=base + s.session, imsi=base + s.imsi if s.imsi >= 0 else 0, imsi_len=s.imsi_len,
            vector=vec,  # type: ignore[arg-type]
            sender_pos=s.request_sender, ip_sum=ft.ip_sum, state=ft.state, crc_end=_EPB_HEAD + n,
        )
        self.fast[sid] = fast
        return fast

    # -- rows -----------------------------------------------------------------------
    def emit(self, c: dict[str, np.ndarray]) -> None:
        """Write time-ordered rows: columns ``time``, ``msg``, ``is_request``, ``txn_id``, ``e2e_id``,
        ``procedure_id``, ``imsi``, ``hop``, ``rc``, ``exp``, ``txn_origin``, ``txn_responder``, ``retrans``,
        ``initial`` (see :func:`roamsim.sinks.pcap.capture.iter_selected_rows`)."""
        n = c["time"].shape[0]
        if n == 0:
            return
        is_req = c["is_request"]
        ulr = c["msg"] == MESSAGE_NAMES.index("ULR")
        fields = (
            c["msg"].astype(np.int64),
            c["txn_origin"].astype(np.int64),
            c["txn_responder"].astype(np.int64),
            c["hop"].astype(np.int64),
            np.where(is_req, 0, c["rc"]).astype(np.int64),
            (c["exp"] & ~is_req).astype(np.int64),
            ((c["retrans"] > 0) & is_req).astype(np.int64),
            (c["initial"] & ulr).astype(np.int64),
            np.where(is_req, np.searchsorted(_POWERS_OF_TEN, c["imsi"], side="right") + 1, 0).astype(np.int64),
        )
        key = np.zeros(n, dtype=np.int64)
        for col, width in zip(fields, _KEY_WIDTHS, strict=True):
            key = (key << width) | col
        uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        ids = np.empty(uniq.shape[0], dtype=np.int64)
        for u, k in enumerate(uniq.tolist()):
            found = self.keys.get(k)
            if found is None:
                row = int(first[u])
                found = self._shape(k, tuple(int(f[row]) for f in fields))
            ids[u] = found
        times = c["time"].tolist()
        if self.first_time is None:
            self.first_time = times[0]
        self._write(ids[inverse].tolist(), times, c["imsi"].tolist(), c["txn_id"].tolist(),
                    c["e2e_id"].tolist(), c["procedure_id"].tolist())
        self.messages += n
        self.last_time = times[-1]

    def _write(self, sids: list[int], times: list[int], imsis: list[int], txns: list[int], e2es: list[int],
               procs: list[int]) -> None:
        fast = self.fast
        writer = self.writer
        out: list[bytes | bytearray] = []
        put = out.append
        pack = struct.pack
        pack_into = struct.pack_into
        crc = crc32c
        m32 = 0xFFFFFFFF
        nstreams = STREAMS - 1
        ip_id = _EPB_HEAD + ETH_LEN + 4
        tsn_at = _EPB_HEAD + L2_L4_LEN + 4
        csum_at = _EPB_HEAD + L2_L4_LEN - 4
        sctp_at = _EPB_HEAD + L2_L4_LEN - SCTP_COMMON_LEN
        dia_ids = _EPB_HEAD + DATA_PAYLOAD_OFFSET + 12
        pads = (b"\0" * 4, b"\0" * 7, b"\0" * 6, b"\0" * 5)  # option padding + opt_endofopt
        vectors: dict[int, AuthVector] = {}
        prev = self.last_time
        due = self._due
        seen = self._seen
        next_due = due[0][0] if due else _NEVER
        for sid, t, imsi, txn, e2e, proc in zip(sids, times, imsis, txns, e2es, procs, strict=True):
            if t > next_due:
                prev = self._watchdog_exchanges(t, out, prev)
                next_due = due[0][0]
            f = fast[sid]
            if f is None:
                writer.write_blocks(out, len(out) // 2)
                out = []
                put = out.append
                self.last_time = max(self.last_time, prev)
                f = self._prepare(sid, t)
                next_due = due[0][0] if due else _NEVER
            prev = t
            data, base_total, iface, session, imsi_at, imsi_len, vector, sender_pos, ip_sum, st, crc_end = f
            seen[iface] = t
            buf = bytearray(data)
            text = b"procedure_id=%d txn_id=%d" % (proc, txn)
            ln = len(text)
            total = base_total + ln + (-ln % 4) + 8
            pack_into("<IIII", buf, 4, total, iface, t >> 32, t & m32)
            pack_into("!II", buf, dia_ids, ((txn << 3) | sender_pos) & m32, e2e & m32)
            if e2e <= m32:  # the template's high half is already 0000000000
                buf[session + 11:session + SESSION_SUFFIX_LEN] = b"%010d" % e2e
            else:
                buf[session:session + SESSION_SUFFIX_LEN] = b"%010d;%010d" % ((e2e >> 32) & m32, e2e & m32)
            if imsi_at:
                digits = b"%d" % imsi
                if len(digits) != imsi_len:
                    raise ValueError(f"IMSI {imsi} does not fit its {imsi_len}-digit template")
                buf[imsi_at:imsi_at + imsi_len] = digits
            if vector is not None:
                v = vectors.get(txn)
                if v is None:
                    if len(vectors) > VECTOR_CACHE:
                        vectors.clear()
                    v = vectors[txn] = auth_vector(imsi, txn)
                r, x, a, k = vector
                buf[r:r + 16] = v.rand
                buf[x:x + 8] = v.xres
                buf[a:a + 16] = v.autn
                buf[k:k + 32] = v.kasme
            ident = st.ip_ident
            st.ip_ident = (ident + 1) & 0xFFFF
            cs = ip_sum + ident
            pack_into("!HHBBH", buf, ip_id, ident, 0x4000, 64, 132, ~((cs & 0xFFFF) + (cs >> 16)) & 0xFFFF)
            tsn = st.next_tsn
            st.next_tsn = (tsn + 1) & m32
            stream = 1 + e2e % nstreams
            ssns = st.ssn
            ssn = ssns[stream]
            ssns[stream] = (ssn + 1) & 0xFFFF
            pack_into("!IHH", buf, tsn_at, tsn, stream, ssn)
            pack_into("<I", buf, csum_at, crc(bytes(buf[sctp_at:crc_end])))
            put(buf)
            put(pack("<HH", OPT_COMMENT, ln) + text + pads[ln & 3] + pack("<I", total))
            if len(out) >= FLUSH_BLOCKS:
                writer.write_blocks(out, len(out) // 2)
                out = []
                put = out.append
        writer.write_blocks(out, len(out) // 2)
