"""Ethernet II, IPv4 and SCTP framing (RFC 791, RFC 9260), with per-association state.

One :class:`SctpAssociation` per link (a pair of adjacent elements). It opens
with INIT / INIT-ACK / COOKIE-ECHO / COOKIE-ACK, then carries DATA chunks
(unfragmented, B and E bits set) with a TSN per direction and a stream
sequence number per direction and stream, and the CRC32c checksum. IPv4
headers have DF set, TTL 64, an identification counter per direction and a
correct header checksum.

For speed a writer asks for a :class:`DataFrameTemplate` (every header of a
DATA packet of a given payload, built once) and calls
:meth:`DataFrameTemplate.finish` per packet, which patches the counters and
both checksums in place. Verification tags and initial TSNs come from a hash
of the two element names, so a link looks the same in every capture.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from roamsim.sinks.pcap.addressing import Element
from roamsim.sinks.pcap.crc32c import crc32c

ETHERTYPE_IPV4 = 0x0800
IPPROTO_SCTP = 132
ETH_LEN = 14
IPV4_LEN = 20
SCTP_COMMON_LEN = 12
DATA_HEADER_LEN = 16
L2_L4_LEN = ETH_LEN + IPV4_LEN + SCTP_COMMON_LEN
"""Offset of the first chunk in a frame."""
DATA_PAYLOAD_OFFSET = L2_L4_LEN + DATA_HEADER_LEN
"""Offset of a DATA chunk's user data in a one-chunk frame."""
MTU = 1500

CHUNK_DATA = 0
CHUNK_INIT = 1
CHUNK_INIT_ACK = 2
CHUNK_COOKIE_ECHO = 10
CHUNK_COOKIE_ACK = 11
PARAM_IPV4 = 5
PARAM_STATE_COOKIE = 7

PPID_DIAMETER = 46
PORT_DIAMETER = 3868
STREAMS = 10
A_RWND = 106496

_CSUM_OFF = ETH_LEN + IPV4_LEN + 8
_IP_ID_OFF = ETH_LEN + 4
_IP_CSUM_OFF = ETH_LEN + 10
_TSN_OFF = L2_L4_LEN + 4


def _fold(s: int) -> int:
    s = (s & 0xFFFF) + (s >> 16)
    return (s & 0xFFFF) + (s >> 16)


def ones_complement_sum(data: bytes) -> int:
    """Sum of the 16-bit big-endian words of ``data`` (even length), folded to 16 bits."""
    return _fold(sum(struct.unpack(f"!{len(data) // 2}H", data)))


def ipv4_header(src: bytes, dst: bytes, payload_len: int, ident: int, proto: int = IPPROTO_SCTP) -> bytes:
    """A 20-octet IPv4 header with DF set, TTL 64 and its checksum (RFC 791 §3.1)."""
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, IPV4_LEN + payload_len, ident & 0xFFFF, 0x4000, 64, proto, 0,
                      src, dst)
    csum = ~ones_complement_sum(hdr) & 0xFFFF
    return hdr[:10] + struct.pack("!H", csum) + hdr[12:]


def ethernet_ipv4(src: Element, dst: Element, payload_len: int, ident: int, proto: int = IPPROTO_SCTP) -> bytes:
    """Ethernet II and IPv4 headers from ``src`` to ``dst``."""
    return dst.mac + src.mac + struct.pack("!H", ETHERTYPE_IPV4) + ipv4_header(
        src.ipv4, dst.ipv4, payload_len, ident, proto)


def _chunk(ctype: int, flags: int, value: bytes) -> bytes:
    return struct.pack("!BBH", ctype, flags, 4 + len(value)) + value + b"\0" * (-len(value) % 4)


def _param(ptype: int, value: bytes) -> bytes:
    return struct.pack("!HH", ptype, 4 + len(value)) + value + b"\0" * (-len(value) % 4)


def _tag(text: str) -> int:
    """A non-zero 32-bit value from a name (verification tags must not be 0, RFC 9260 §5.1)."""
    return (zlib.crc32(text.encode()) & 0xFFFFFFFE) | 1


@dataclass(slots=True)
class Direction:
    """Sender-side state of one direction of an association."""

    src: Element
    dst: Element
    peer_tag: int
    """The verification tag this direction's packets carry (the receiver's Initiate Tag)."""
    own_tag: int
    next_tsn: int
    ssn: list[int] = field(default_factory=lambda: [0] * STREAMS)
    ip_ident: int = 0


@dataclass
class DataFrameTemplate:
    """Headers of a one-DATA-chunk frame for a fixed payload length, patched per packet."""

    data: bytes
    """The whole frame with the payload area filled by the caller's template."""
    state: Direction
    ip_sum: int
    """Folded sum of the IPv4 header words except identification and checksum."""

    def finish(self, buf: bytearray, stream: int) -> None:
        """Set IP identification and checksum, TSN, stream, SSN and the CRC32c of a filled frame."""
        st = self.state
        ident = st.ip_ident
        st.ip_ident = (ident + 1) & 0xFFFF
        struct.pack_into("!H", buf, _IP_ID_OFF, ident)
        struct.pack_into("!H", buf, _IP_CSUM_OFF, ~_fold(self.ip_sum + ident) & 0xFFFF)
        tsn = st.next_tsn
        st.next_tsn = (tsn + 1) & 0xFFFFFFFF
        ssn = st.ssn[stream]
        st.ssn[stream] = (ssn + 1) & 0xFFFF
        struct.pack_into("!IHH", buf, _TSN_OFF, tsn, stream, ssn)
        struct.pack_into("<I", buf, _CSUM_OFF, crc32c(bytes(buf[L2_L4_LEN - SCTP_COMMON_LEN:])))


class SctpAssociation:
    """An SCTP association between ``initiator`` and ``responder`` (both on ``port``)."""

    def __init__(self, initiator: Element, responder: Element, *, port: int = PORT_DIAMETER,
                 ppid: int = PPID_DIAMETER) -> None:
        self.port = port
        self.ppid = ppid
        tag_i = _tag(f"{initiator.name}>{responder.name}")
        tag_r = _tag(f"{responder.name}<{initiator.name}")
        self.out = Direction(initiator, responder, peer_tag=tag_r, own_tag=tag_i, next_tsn=tag_i)
        self.back = Direction(responder, initiator, peer_tag=tag_i, own_tag=tag_r, next_tsn=tag_r)
        self._templates: dict[tuple[bool, int], DataFrameTemplate] = {}

    def direction(self, src: Element) -> Direction:
        """The direction whose sender is ``src``."""
        return self.out if src.name == self.out.src.name else self.back

    def _packet(self, st: Direction, vtag: int, chunks: bytes) -> bytes:
        common = struct.pack("!HHII", self.port, self.port, vtag, 0) + chunks
        sctp = common[:8] + struct.pack("<I", crc32c(common)) + common[12:]
        frame = ethernet_ipv4(st.src, st.dst, len(sctp), st.ip_ident) + sctp
        st.ip_ident = (st.ip_ident + 1) & 0xFFFF
        return frame

    def handshake(self) -> list[bytes]:
        """INIT, INIT-ACK, COOKIE-ECHO, COOKIE-ACK (RFC 9260 §5.1), as frames."""
        o, b = self.out, self.back
        cookie = struct.pack("!IIII", o.own_tag, b.own_tag, o.next_tsn, b.next_tsn) + b"roamsim-cookie.."
        init = _chunk(CHUNK_INIT, 0, struct.pack("!IIHHI", o.own_tag, A_RWND, STREAMS, STREAMS, o.next_tsn)
                      + _param(PARAM_IPV4, o.src.ipv4))
        init_ack = _chunk(CHUNK_INIT_ACK, 0, struct.pack("!IIHHI", b.own_tag, A_RWND, STREAMS, STREAMS, b.next_tsn)
                          + _param(PARAM_STATE_COOKIE, cookie) + _param(PARAM_IPV4, b.src.ipv4))
        return [
            self._packet(o, 0, init),
            self._packet(b, o.own_tag, init_ack),
            self._packet(o, b.own_tag, _chunk(CHUNK_COOKIE_ECHO, 0, cookie)),
            self._packet(b, o.own_tag, _chunk(CHUNK_COOKIE_ACK, 0, b"")),
        ]

    def data_frame(self, src: Element, payload: bytes, stream: int = 0) -> bytes:
        """A frame with one DATA chunk from ``src`` (the slow path: CER, DWR, tests)."""
        tpl = self.template(src, len(payload))
        buf = bytearray(tpl.data)
        buf[DATA_PAYLOAD_OFFSET:DATA_PAYLOAD_OFFSET + len(payload)] = payload
        tpl.finish(buf, stream)
        return bytes(buf)

    def template(self, src: Element, payload_len: int) -> DataFrameTemplate:
        """The frame template of a DATA packet from ``src`` carrying ``payload_len`` octets (cached)."""
        forward = src.name == self.out.src.name
        key = (forward, payload_len)
        found = self._templates.get(key)
        if found is not None:
            return found
        st = self.out if forward else self.back
        chunk_len = DATA_HEADER_LEN + payload_len
        sctp_len = SCTP_COMMON_LEN + chunk_len + (-payload_len % 4)
        if IPV4_LEN + sctp_len > MTU:
            raise ValueError(f"a {payload_len}-octet message does not fit one {MTU}-octet IP packet")
        head = ethernet_ipv4(st.src, st.dst, sctp_len, 0)
        ip_hdr = bytearray(head[ETH_LEN:ETH_LEN + IPV4_LEN])
        ip_hdr[4:6] = b"\0\0"
        ip_hdr[10:12] = b"\0\0"
        data = (head + struct.pack("!HHII", self.port, self.port, st.peer_tag, 0)
                + struct.pack("!BBHIHHI", CHUNK_DATA, 0x03, chunk_len, 0, 0, 0, self.ppid)
                + b"\0" * (payload_len + (-payload_len % 4)))
        found = DataFrameTemplate(data, st, ones_complement_sum(bytes(ip_hdr)))
        self._templates[key] = found
        return found
