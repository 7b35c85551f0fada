"""SBI message rows → Ethernet/IPv4/TCP/HTTP/2 packets in a pcapng file, at template speed.

One packet per row: a TCP segment with the message's HEADERS frame and, when
it has a body, its DATA frame (:mod:`roamsim.sinks.pcap.sbi`).

**Connections.** One TCP connection, and one HTTP/2 connection on it, per
ordered (client, server) pair of adjacent elements: the request's sender is
the client, so AMF → SEPP and SEPP → AMF (for the UDM's notifications) are
two connections. A connection opens at its first message, timestamped just
before it (never before the packet written last): an interface (IDB), SYN,
SYN-ACK, ACK, the client's preface with SETTINGS and a connection
WINDOW_UPDATE, the server's SETTINGS, WINDOW_UPDATE and SETTINGS ACK, and the
client's SETTINGS ACK (RFC 9113 §3.4, §6.5.3). Each request opens the next
odd stream id of its connection and its response uses the same stream (the
response of a request that is not in the capture takes a fresh one). A
retransmission (``retrans`` > 0) is a new request on a new stream: HTTP/2
has no retransmission flag. A request never answered leaves its stream open
(the client's RST_STREAM on time-out is not written).
Sequence and acknowledgement numbers advance per direction with no gap (see
:mod:`roamsim.sinks.pcap.tcp`). Flow control: both ends open the connection
window to 2**31 - 1 at once; after every :data:`WINDOW_REPLENISH` octets of
DATA in one direction the receiver returns them in a WINDOW_UPDATE (RFC 9113
§6.9), so the window never runs out however long the capture is. Stream
windows are never the limit (a body is far below 65,535 octets).

**N32-c.** On a connection that crosses N32 (one end is the IPX, or both
are SEPPs) the first message of a SEPP pair is preceded by the pair's N32-c
capability exchange on a stream of its own (TS 29.573 §5.2.2.2; like the
Diameter CER/CEA, once per pair and connection), the consumer's SEPP being
the sender.

**Templates.** A message *shape* is everything about a row except its IMSI,
procedure, transaction and time: the operation, request or answer, the HTTP
status, the hop's sender and receiver, the transaction's two ends, the home
and visited operators and the IMSI's length. Each shape is encoded once
(:func:`~roamsim.sinks.pcap.sbi.template`) and framed once for its
connection direction (:meth:`~roamsim.sinks.pcap.tcp.TcpConnection.template`)
inside a ready pcapng Enhanced Packet Block. Per packet the loop copies the
block and patches: EPB length and timestamp, the stream ids, the IMSI, MSIN
and MSISDN digits, the AKA context id and material, IP identification and
checksum, TCP sequence and acknowledgement numbers and checksum, and appends
the per-packet comment (``procedure_id=… txn_id=…``). With
``templates=False`` every message is encoded in full instead
(:func:`~roamsim.sinks.pcap.sbi.encode` and
:meth:`~roamsim.sinks.pcap.tcp.TcpConnection.segment`); both paths write the
same bytes (the tests check it; ``benchmarks/pcap_sbi.py`` compares their speed).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from roamsim.sinks.pcap import http2, sbi
from roamsim.sinks.pcap.addressing import Addressing, Element
from roamsim.sinks.pcap.numbering import msisdn_for
from roamsim.sinks.pcap.pcapng import EPB_HEAD_LEN, OPT_COMMENT, PcapngWriter, comment_option, epb_template
from roamsim.sinks.pcap.tcp import PAYLOAD_OFFSET, TcpConnection, TcpDirection

MESSAGE_NAMES = sbi.MESSAGE_NAMES
SETUP_SPACING_NS = 50_000
"""Spacing of the connection set-up packets written just before a connection's first message."""
WINDOW_REPLENISH = 1 << 30
"""DATA octets a receiver takes in before it returns them with a WINDOW_UPDATE."""
CLIENT_SETTINGS = ((http2.SETTINGS_ENABLE_PUSH, 0), (http2.SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20))
SERVER_SETTINGS = ((http2.SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20),)
OPEN_STREAMS_KEPT = 1 << 20
"""Requests per connection whose stream is remembered until their response (the oldest are forgotten)."""
FLUSH_BLOCKS = 8192
MATERIAL_CACHE = 65_536

_EPB_HEAD = EPB_HEAD_LEN
_TCP_AT = _EPB_HEAD + PAYLOAD_OFFSET - 20
_IP_ID_AT = _EPB_HEAD + 14 + 4
_POWERS_OF_TEN = np.array([10**k for k in range(1, 19)], dtype=np.int64)
_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF


@dataclass
class _Conn:
    """One TCP + HTTP/2 connection from ``client`` to ``server``, made on first use."""

    client: Element
    server: Element
    n32: bool
    tcp: TcpConnection | None = None
    iface: int = -1
    next_stream: int = 1
    streams: dict[int, int] = field(default_factory=dict)
    """txn_id → stream id of a request still waiting for its response."""
    pairs: set[tuple[str, str]] = field(default_factory=set)
    """SEPP pairs whose N32-c exchange this connection carried."""
    flow: list[int] = field(default_factory=lambda: [0, 0])
    """DATA octets not yet returned by a WINDOW_UPDATE: [client → server, server → client]."""


@dataclass
class _Shape:
    hop: sbi.SbiHop
    conn: _Conn
    imsi_digits: int
    tpl: sbi.SbiTemplate | None = None


class _Fast(NamedTuple):
    """Everything the per-packet loop needs for one shape, as plain values."""

    data: bytes
    """EPB header (28 octets) + frame + padding to 32 bits."""
    base_total: int
    """EPB total length without the comment option."""
    iface: int
    conn: _Conn
    direction: int
    """0: sent by the connection's client, 1: by its server."""
    is_request: bool
    stream_at: tuple[int, ...]
    imsi_at: tuple[int, ...]
    imsi_len: int
    msin_at: tuple[int, ...]
    msin_from: int
    sn_at: tuple[int, ...]
    ctx_at: tuple[int, ...]
    material: tuple[tuple[str, int, int], ...]
    ip_sum: int
    pseudo_sum: int
    state: TcpDirection
    peer: TcpDirection
    payload_len: int
    data_len: int
    frame_end: int
    odd: bool


class SbiEmitter:
    """Writes SBI message rows (see :meth:`emit`) as packets into a :class:`PcapngWriter`."""

    def __init__(self, writer: PcapngWriter, addressing: Addressing, element_names: Sequence[str],
                 op_ids: Sequence[str], op_country: Sequence[str], *, templates: bool = True) -> None:
        if len(element_names) > 1 << 16 or len(op_ids) > 1 << 16:
            raise ValueError("at most 65,536 elements and operators")
        self.writer = writer
        self.addressing = addressing
        self.element_names = list(element_names)
        self.op_ids = list(op_ids)
        self.op_country = list(op_country)
        self.templates = templates
        self.window_replenish = WINDOW_REPLENISH
        self.messages = 0
        self.first_time: int | None = None
        self.last_time: int | None = None
        self.connections: dict[tuple[int, int], _Conn] = {}
        self.shapes: list[_Shape] = []
        self.window_updates = 0
        """WINDOW_UPDATE packets written after the connections' set-up."""
        self.n32c_exchanges = 0
        self._elements: dict[int, Element] = {}
        self._keys: dict[tuple[int, int], int] = {}
        self._fast: list[_Fast | None] = []
        self._ready: list[bool] = []
        self._last = 0
        """Time of the packet written last."""
        self._material: dict[tuple[int, int], dict[str, bytes]] = {}

    # -- elements and shapes --------------------------------------------------------
    def element(self, index: int) -> Element:
        found = self._elements.get(index)
        if found is None:
            found = self._elements[index] = self.addressing.element(self.element_names[index])
        return found

    def _op_element(self, op: int, local: str) -> Element:
        return self.addressing.element(f"{self.op_ids[op]}.{local}")

    def hop(self, msg: int, is_request: bool, status: int, origin: int, destination: int, txn_origin: int,
            txn_responder: int, home_op: int, visited_op: int) -> sbi.SbiHop:
        """The :class:`~roamsim.sinks.pcap.sbi.SbiHop` of a row (module docstring of :mod:`.sbi` for the rules)."""
        name = MESSAGE_NAMES[msg]
        op = sbi.OPERATIONS[name]
        if not is_request:
            sbi.check_status(name, status)
        consumer = self.element(txn_origin)
        responder = self.element(txn_responder)
        notification = op.producer == "amf"
        producer_op = visited_op if notification else home_op
        producer_opid = self.op_ids[producer_op]
        if responder.kind == op.producer and responder.operator == producer_opid:
            producer = responder
        else:  # answered on the way (a SEPP or the IPX); a notification's AMF is then not known: amf1
            producer = self._op_element(producer_op, "amf1" if notification else op.producer)
        across = consumer.operator != producer.operator
        home = self.addressing.plmn_of(self.op_ids[home_op])
        prefix = msisdn_for(0, str(home), self.op_country[home_op])[:-8]
        return sbi.SbiHop(
            name=name, is_request=is_request, status=0 if is_request else status,
            sender=self.element(origin), receiver=self.element(destination), consumer=consumer,
            producer=producer, home=home, visited=self.addressing.plmn_of(self.op_ids[visited_op]),
            msisdn_prefix=prefix,
            consumer_sepp=self.addressing.element(f"{consumer.operator}.sepp") if across else None,
            producer_sepp=self.addressing.element(f"{producer.operator}.sepp") if across else None,
        )

    def _shape(self, key: tuple[int, int], f: tuple[int, ...]) -> int:
        msg, is_req, status, digits, home, visited, origin, dest, t_origin, t_resp = f
        h = self.hop(msg, bool(is_req), status, origin, dest, t_origin, t_resp, home, visited)
        if digits <= sbi.plmn_digits(h.home):
            raise ValueError(f"IMSI of {digits} digits has no MSIN after the home PLMN {h.home}")
        ckey = (origin, dest) if is_req else (dest, origin)
        conn = self.connections.get(ckey)
        if conn is None:
            client, server = h.client, h.server
            n32 = "ipx" in (client.kind, server.kind) or client.kind == server.kind == "sepp"
            conn = self.connections[ckey] = _Conn(client, server, n32)
        self.shapes.append(_Shape(h, conn, digits))
        self._fast.append(None)
        self._ready.append(False)
        self._keys[key] = len(self.shapes) - 1
        return len(self.shapes) - 1

    # -- connection set-up -------------------------------------------------------------
    def _setup(self, shape: _Shape) -> list[bytes]:
        """Frames that must precede the shape's first packet: connection opening, N32-c exchange."""
        conn, h = shape.conn, shape.hop
        frames: list[bytes] = []
        if conn.tcp is None:
            tcp = conn.tcp = TcpConnection(conn.client, conn.server, server_port=sbi.PORT)
            c, s = conn.client, conn.server
            label = "N32-f" if conn.n32 else "SBI"
            conn.iface = self.writer.add_interface(
                f"{c.name}->{s.name}",
                f"{label} HTTP/2 (h2c) over TCP: {sbi.fqdn(c)} ({c.ipv4_text}:{tcp.client_port}) -> "
                f"{sbi.fqdn(s)} ({s.ipv4_text}:{sbi.PORT})")
            opening = http2.window_update(0, http2.MAX_WINDOW - http2.DEFAULT_WINDOW)
            frames += tcp.handshake()
            frames.append(tcp.segment(c, http2.PREFACE + http2.settings(CLIENT_SETTINGS) + opening))
            frames.append(tcp.segment(s, http2.settings(SERVER_SETTINGS) + opening + http2.settings(ack=True)))
            frames.append(tcp.segment(c, http2.settings(ack=True)))
        initiator, responder = h.consumer_sepp, h.producer_sepp
        if conn.n32 and initiator is not None and responder is not None:
            pair = (min(initiator.name, responder.name), max(initiator.name, responder.name))
            if pair not in conn.pairs:
                conn.pairs.add(pair)
                tcp = conn.tcp
                req, rsp = sbi.n32c_exchange(initiator, responder)
                stream = self._new_stream(conn)
                frames.append(tcp.segment(conn.client, sbi.encode_message(req, stream)))
                frames.append(tcp.segment(conn.server, sbi.encode_message(rsp, stream)))
                conn.flow[0] += len(req.body)
                conn.flow[1] += len(rsp.body)
                self.n32c_exchanges += 1
        return frames

    def _prepare(self, sid: int, t: int) -> None:
        """Write what precedes the shape's first packet and, with templates, make its per-packet block."""
        shape = self.shapes[sid]
        frames = self._setup(shape)
        n = len(frames)
        for j, frame in enumerate(frames):
            ts = max(self._last, t - (n - j) * SETUP_SPACING_NS)
            self.writer.packet(shape.conn.iface, ts, frame)
            self._last = ts
        self._ready[sid] = True
        if self.templates:
            self._fast[sid] = self._make_fast(shape)

    def _make_fast(self, shape: _Shape) -> _Fast:
        h, conn = shape.hop, shape.conn
        tpl = shape.tpl = sbi.template(h, shape.imsi_digits)
        tcp = conn.tcp
        if tcp is None:
            raise AssertionError("connection not opened")
        seg = tcp.template(h.sender, len(tpl.data))
        frame = bytearray(seg.data)
        frame[PAYLOAD_OFFSET:] = tpl.data
        n = len(frame)
        pad = -n % 4
        base = _EPB_HEAD + PAYLOAD_OFFSET
        at: dict[str, list[int]] = {}
        material = []
        for name, off, width in tpl.fields:
            if name in sbi.MATERIAL:
                material.append((name, base + off, width))
            else:
                at.setdefault(name, []).append(base + off)
        return _Fast(
            data=epb_template(conn.iface, frame),
            base_total=_EPB_HEAD + n + pad + 4, iface=conn.iface, conn=conn,
            direction=0 if h.is_request else 1, is_request=h.is_request,
            stream_at=tuple(base + s for s in tpl.stream_at),
            imsi_at=tuple(at.get("imsi", ())), imsi_len=shape.imsi_digits,
            msin_at=tuple(at.get("msin", ())), msin_from=sbi.plmn_digits(h.home),
            sn_at=tuple(at.get("sn", ())), ctx_at=tuple(at.get("ctx", ())), material=tuple(material),
            ip_sum=seg.ip_sum, pseudo_sum=seg.pseudo_sum, state=seg.state, peer=seg.peer,
            payload_len=seg.payload_len, data_len=tpl.data_len, frame_end=_EPB_HEAD + n, odd=bool(n & 1),
        )

    def _new_stream(self, conn: _Conn) -> int:
        s = conn.next_stream
        if s > http2.MAX_STREAM_ID:
            raise ValueError(f"HTTP/2 stream ids exhausted on {conn.client.name} -> {conn.server.name} "
                             "(RFC 9113 §5.1.1)")
        conn.next_stream = s + 2
        return s

    def _stream(self, conn: _Conn, is_request: bool, txn: int) -> int:
        """The stream of a message: a new one for a request, the request's for a response."""
        if is_request:
            s = self._new_stream(conn)
            streams = conn.streams
            if len(streams) >= OPEN_STREAMS_KEPT:
                del streams[next(iter(streams))]
            streams[txn] = s
            return s
        found = conn.streams.pop(txn, None)
        return self._new_stream(conn) if found is None else found

    def _window_update(self, conn: _Conn, direction: int, t: int) -> None:
        """The receiver of ``direction``'s DATA returns the octets it took in (RFC 9113 §6.9)."""
        tcp = conn.tcp
        if tcp is None:
            raise AssertionError("connection not opened")
        receiver = conn.server if direction == 0 else conn.client
        frame = tcp.segment(receiver, http2.window_update(0, conn.flow[direction]))
        conn.flow[direction] = 0
        self.writer.packet(conn.iface, t, frame)
        self._last = t
        self.window_updates += 1

    def _material_of(self, imsi: int, proc: int) -> dict[str, bytes]:
        key = (imsi, proc)
        m = self._material.get(key)
        if m is None:
            if len(self._material) >= MATERIAL_CACHE:
                self._material.clear()
            m = self._material[key] = sbi.aka_material(imsi, proc)
        return m

    # -- rows -----------------------------------------------------------------------
    def _shape_ids(self, c: dict[str, np.ndarray]) -> np.ndarray:
        n = c["time"].shape[0]
        msg = c["msg"].astype(np.int64)
        if msg.min() < 0 or msg.max() >= len(MESSAGE_NAMES):
            bad = int(msg[(msg < 0) | (msg >= len(MESSAGE_NAMES))][0])
            raise ValueError(f"msg {bad} is not an SBI message index (0..{len(MESSAGE_NAMES) - 1})")
        is_req = c["is_request"].astype(bool)
        status = np.where(is_req, 0, c["rc"]).astype(np.int64)
        bad_status = ~is_req & ~(((status >= 200) & (status <= 299)) | ((status >= 400) & (status <= 599)))
        if bad_status.any():
            i = int(np.flatnonzero(bad_status)[0])
            raise ValueError(f"rc {int(status[i])} of a {MESSAGE_NAMES[int(msg[i])]} answer is not an HTTP status "
                             "(2xx, 4xx or 5xx)")
        imsi = c["imsi"].astype(np.int64)
        if imsi.min() <= 0:
            raise ValueError(f"imsi {int(imsi.min())} is not an IMSI")
        digits = np.searchsorted(_POWERS_OF_TEN, imsi, side="right") + 1
        cols = {"origin": c["origin"], "destination": c["destination"], "txn_origin": c["txn_origin"],
                "txn_responder": c["txn_responder"]}
        for name, col in cols.items():
            if col.min() < 0 or col.max() >= len(self.element_names):
                raise ValueError(f"{name} index {int(col.max())} is outside the {len(self.element_names)} elements")
        for name in ("home_op", "visited_op"):
            col = c[name]
            if col.min() < 0 or col.max() >= len(self.op_ids):
                raise ValueError(f"{name} index {int(col.max())} is outside the {len(self.op_ids)} operators")
        f = [msg, is_req.astype(np.int64), status, digits.astype(np.int64), c["home_op"].astype(np.int64),
             c["visited_op"].astype(np.int64), *(col.astype(np.int64) for col in cols.values())]
        k1 = f[0] | (f[1] << 4) | (f[2] << 5) | (f[3] << 15) | (f[4] << 20) | (f[5] << 36)
        k2 = f[6] | (f[7] << 16) | (f[8] << 32) | (f[9] << 48)
        uniq, first, inverse = np.unique(np.stack((k1, k2), axis=1), axis=0, return_index=True, return_inverse=True)
        ids = np.empty(uniq.shape[0], dtype=np.int64)
        for u, (a, b) in enumerate(uniq.tolist()):
            found = self._keys.get((a, b))
            if found is None:
                row = int(first[u])
                found = self._shape((a, b), tuple(int(col[row]) for col in f))
            ids[u] = found
        return ids[inverse.reshape(n)]

    def emit(self, c: dict[str, np.ndarray]) -> None:
        """Write time-ordered rows: columns ``time``, ``msg`` (index into :data:`MESSAGE_NAMES`),
        ``is_request``, ``txn_id``, ``e2e_id``, ``procedure_id``, ``imsi``, ``origin``, ``destination``,
        ``txn_origin``, ``txn_responder``, ``hop``, ``rc`` (the HTTP status of an answer), ``retrans``,
        ``home_op``, ``visited_op``."""
        n = c["time"].shape[0]
        if n == 0:
            return
        sids = self._shape_ids(c).tolist()
        times = c["time"].tolist()
        if self.first_time is None:
            self.first_time = times[0]
        args = (sids, times, c["imsi"].tolist(), c["txn_id"].tolist(), c["procedure_id"].tolist())
        if self.templates:
            self._write_fast(*args)
        else:
            self._write_full(*args)
        self.messages += n
        self.last_time = times[-1]

    def _write_full(self, sids: list[int], times: list[int], imsis: list[int], txns: list[int],
                    procs: list[int]) -> None:
        """The straightforward path: encode every message in full."""
        writer = self.writer
        for sid, t, imsi, txn, proc in zip(sids, times, imsis, txns, procs, strict=True):
            if not self._ready[sid]:
                self._prepare(sid, t)
            shape = self.shapes[sid]
            h, conn = shape.hop, shape.conn
            tcp = conn.tcp
            if tcp is None:
                raise AssertionError("connection not opened")
            if len(str(imsi)) != shape.imsi_digits:
                raise AssertionError("IMSI length differs from its shape")
            stream = self._stream(conn, h.is_request, txn)
            message = sbi.http_message(h, sbi.variables(imsi, proc, h.home))
            frame = tcp.segment(h.sender, sbi.encode_message(message, stream))
            writer.packet(conn.iface, t, frame, comment_option(f"procedure_id={proc} txn_id={txn}"))
            self._last = t
            if message.body:
                d = 0 if h.is_request else 1
                conn.flow[d] += len(message.body)
                if conn.flow[d] >= self.window_replenish:
                    self._window_update(conn, d, t)

    def _write_fast(self, sids: list[int], times: list[int], imsis: list[int], txns: list[int],
                    procs: list[int]) -> None:
        fast = self._fast
        writer = self.writer
        out: list[bytes | bytearray] = []
        put = out.append
        pack = struct.pack
        pack_into = struct.pack_into
        from_bytes = int.from_bytes
        material_of = self._material_of
        replenish = self.window_replenish
        m32 = _M32
        max_stream = http2.MAX_STREAM_ID
        kept = OPEN_STREAMS_KEPT
        pads = (b"\0" * 4, b"\0" * 7, b"\0" * 6, b"\0" * 5)  # option padding + opt_endofopt
        tcp_at, seq_at, csum_at, ip_id_at = _TCP_AT, _TCP_AT + 4, _TCP_AT + 16, _IP_ID_AT
        prev = self._last
        for sid, t, imsi, txn, proc in zip(sids, times, imsis, txns, procs, strict=True):
            f = fast[sid]
            if f is None:
                writer.write_blocks(out, len(out) // 2)
                out = []
                put = out.append
                self._last = max(self._last, prev)
                self._prepare(sid, t)
                f = fast[sid]
                if f is None:
                    raise AssertionError("shape not prepared")
            (data, base_total, iface, conn, direction, is_req, stream_at, imsi_at, imsi_len, msin_at, msin_from,
             sn_at, ctx_at, material, ip_sum, pseudo_sum, st, peer, plen, data_len, frame_end, odd) = f
            streams = conn.streams
            if is_req:
                stream = conn.next_stream
                if stream > max_stream:
                    stream = self._new_stream(conn)  # raises
                conn.next_stream = stream + 2
                if len(streams) >= kept:
                    del streams[next(iter(streams))]
                streams[txn] = stream
            else:
                stream = streams.pop(txn, 0) or self._new_stream(conn)
            buf = bytearray(data)
            text = b"procedure_id=%d txn_id=%d" % (proc, txn)
            ln = len(text)
            total = base_total + ln + (-ln % 4) + 8
            pack_into("<IIII", buf, 4, total, iface, t >> 32, t & m32)
            for at in stream_at:
                pack_into("!I", buf, at, stream)
            if imsi_at or msin_at:
                digits = b"%d" % imsi
                if len(digits) != imsi_len:
                    raise AssertionError(f"IMSI {imsi} does not fit its {imsi_len}-digit template")
                for at in imsi_at:
                    buf[at:at + imsi_len] = digits
                if msin_at:
                    msin = digits[msin_from:]
                    w = len(msin)
                    for at in msin_at:
                        buf[at:at + w] = msin
            if sn_at:
                sn = b"%08d" % (imsi % 100_000_000)
                for at in sn_at:
                    buf[at:at + 8] = sn
            if ctx_at:
                ctx = b"%016x" % (proc & _M64)
                for at in ctx_at:
                    buf[at:at + 16] = ctx
            if material:
                mat = material_of(imsi, proc)
                for name, at, w in material:
                    buf[at:at + w] = mat[name]
            ident = st.ip_ident
            st.ip_ident = (ident + 1) & 0xFFFF
            cs = ip_sum + ident
            pack_into("!HHBBH", buf, ip_id_at, ident, 0x4000, 64, 6, ~((cs & 0xFFFF) + (cs >> 16)) & 0xFFFF)
            seq = st.next_seq
            st.next_seq = (seq + plen) & m32
            pack_into("!II", buf, seq_at, seq, peer.next_seq)
            v = from_bytes(memoryview(buf)[tcp_at:frame_end], "big")
            if odd:
                v <<= 8
            pack_into("!H", buf, csum_at, -(pseudo_sum + v) % 0xFFFF)
            put(buf)
            put(pack("<HH", OPT_COMMENT, ln) + text + pads[ln & 3] + pack("<I", total))
            prev = t
            if data_len:
                flow = conn.flow
                flow[direction] += data_len
                if flow[direction] >= replenish:
                    writer.write_blocks(out, len(out) // 2)
                    out = []
                    put = out.append
                    self._window_update(conn, direction, t)
            if len(out) >= FLUSH_BLOCKS:
                writer.write_blocks(out, len(out) // 2)
                out = []
                put = out.append
        writer.write_blocks(out, len(out) // 2)
        self._last = max(self._last, prev)
