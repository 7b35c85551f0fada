"""TCP framing (RFC 9293) over Ethernet II and IPv4, with per-connection state.

One :class:`TcpConnection` per ordered (client, server) pair of elements. It
opens with SYN / SYN-ACK / ACK (MSS and window-scale options, RFC 9293
§3.7.1 and RFC 7323 §2), then carries data segments (PSH+ACK) whose sequence
number is the sender's next octet and whose acknowledgement number is the
peer's next octet, so every segment acknowledges all the peer has sent: there
are no pure ACKs after the handshake and the sequence space has no gaps.
IPv4 headers come from :func:`roamsim.sinks.pcap.sctp.ethernet_ipv4` (DF set,
TTL 64, an identification counter per direction).

Initial sequence numbers and the client's ephemeral port follow from a hash
of the two element names (the port in 32768–60999, Linux's default
``ip_local_port_range``), so a connection looks the same in every capture.

For speed a writer asks for a :class:`SegmentTemplate` (every header of a
data segment of a given length, built once) and patches per packet the IP
identification and header checksum, the sequence and acknowledgement numbers
and the TCP checksum (:meth:`SegmentTemplate.finish`). The TCP checksum
(RFC 9293 §3.1, pseudo-header of RFC 9293 §3.1 / RFC 791) is the one's
complement sum of 16-bit words; since 2**16 ≡ 1 (mod 0xFFFF), that sum is
the big-endian integer value of the bytes modulo 0xFFFF (0 standing for
0xFFFF), which :func:`checksum` computes at C speed.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from roamsim.sinks.pcap.addressing import Element
from roamsim.sinks.pcap.sctp import ETH_LEN, IPV4_LEN, MTU, ethernet_ipv4, ones_complement_sum

IPPROTO_TCP = 6
TCP_LEN = 20
"""Header length of a data segment (no options)."""
PAYLOAD_OFFSET = ETH_LEN + IPV4_LEN + TCP_LEN
"""Offset of a data segment's payload in a frame."""
MSS = MTU - IPV4_LEN - TCP_LEN
"""Largest payload of one segment (1460 on Ethernet)."""
WINDOW = 0xFFFF
"""Window field of every segment; scaled by 2**:data:`WINDOW_SCALE` after the handshake (8 MiB)."""
WINDOW_SCALE = 7
EPHEMERAL_PORTS = (32768, 60999)

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

_IP_ID_OFF = ETH_LEN + 4
_IP_CSUM_OFF = ETH_LEN + 10
_TCP_OFF = ETH_LEN + IPV4_LEN
_SEQ_OFF = _TCP_OFF + 4
_CSUM_OFF = _TCP_OFF + 16
_SYN_OPTIONS = struct.pack("!BBHBBBB", 2, 4, MSS, 1, 3, 3, WINDOW_SCALE)
"""MSS (kind 2), NOP, window scale (kind 3): 8 octets."""


def checksum(data: bytes | bytearray | memoryview, initial: int = 0) -> int:
    """The Internet checksum (RFC 1071) of ``data`` plus a partial sum ``initial`` (a value mod 0xFFFF).

    ``data`` of odd length is padded with a zero octet. The result is never
    0xFFFF; a sum of all-zero data (impossible for a TCP segment) would give 0.
    """
    v = int.from_bytes(data, "big")
    if len(data) & 1:
        v <<= 8
    return -(initial + v) % 0xFFFF


def pseudo_header_sum(src: bytes, dst: bytes, tcp_length: int) -> int:
    """Partial sum (mod 0xFFFF) of the IPv4 pseudo-header (RFC 9293 §3.1)."""
    return int.from_bytes(src + dst + struct.pack("!BBH", 0, IPPROTO_TCP, tcp_length), "big") % 0xFFFF


def _hash(text: str) -> int:
    return zlib.crc32(text.encode())


@dataclass(slots=True)
class TcpDirection:
    """Sender-side state of one direction of a connection."""

    src: Element
    dst: Element
    sport: int
    dport: int
    isn: int
    next_seq: int
    """Sequence number of the next octet this direction sends."""
    ip_ident: int = 0


@dataclass(slots=True)
class SegmentTemplate:
    """Headers of a data segment with a fixed payload length, patched per packet."""

    data: bytes
    """The whole frame, payload area zero."""
    state: TcpDirection
    peer: TcpDirection
    ip_sum: int
    """Folded sum of the IPv4 header words except identification and checksum."""
    pseudo_sum: int
    """Pseudo-header partial sum (mod 0xFFFF)."""
    payload_len: int

    def finish(self, buf: bytearray) -> None:
        """Set IP identification and checksum, sequence and acknowledgement numbers and the TCP checksum
        of a frame whose payload is filled in; advance the sender's sequence number."""
        st = self.state
        ident = st.ip_ident
        st.ip_ident = (ident + 1) & 0xFFFF
        cs = self.ip_sum + ident
        struct.pack_into("!H", buf, _IP_ID_OFF, ident)
        struct.pack_into("!H", buf, _IP_CSUM_OFF, ~((cs & 0xFFFF) + (cs >> 16)) & 0xFFFF)
        seq = st.next_seq
        st.next_seq = (seq + self.payload_len) & 0xFFFFFFFF
        struct.pack_into("!II", buf, _SEQ_OFF, seq, self.peer.next_seq)
        struct.pack_into("!H", buf, _CSUM_OFF, checksum(memoryview(buf)[_TCP_OFF:], self.pseudo_sum))


class TcpConnection:
    """A TCP connection from ``client`` (an ephemeral port) to ``server`` (``server_port``)."""

    def __init__(self, client: Element, server: Element, *, server_port: int) -> None:
        key = f"{client.name}>{server.name}:{server_port}"
        lo, hi = EPHEMERAL_PORTS
        self.client_port = lo + _hash(key + "/port") % (hi - lo + 1)
        self.server_port = server_port
        isn_c, isn_s = _hash(key + "/client"), _hash(key + "/server")
        self.out = TcpDirection(client, server, self.client_port, server_port, isn_c, isn_c)
        self.back = TcpDirection(server, client, server_port, self.client_port, isn_s, isn_s)
        self._templates: dict[tuple[bool, int], SegmentTemplate] = {}

    def direction(self, src: Element) -> tuple[TcpDirection, TcpDirection]:
        """(sender's direction, peer's direction) for segments sent by ``src``."""
        return (self.out, self.back) if src.name == self.out.src.name else (self.back, self.out)

    def _segment(self, st: TcpDirection, seq: int, ack: int, flags: int, payload: bytes = b"",
                 options: bytes = b"") -> bytes:
        hlen = TCP_LEN + len(options)
        window = WINDOW
        tcp = struct.pack("!HHIIBBHHH", st.sport, st.dport, seq, ack, (hlen // 4) << 4, flags, window, 0, 0)
        tcp += options + payload
        csum = checksum(tcp, pseudo_header_sum(st.src.ipv4, st.dst.ipv4, len(tcp)))
        tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
        frame = ethernet_ipv4(st.src, st.dst, len(tcp), st.ip_ident, IPPROTO_TCP) + tcp
        st.ip_ident = (st.ip_ident + 1) & 0xFFFF
        return frame

    def handshake(self) -> list[bytes]:
        """SYN, SYN-ACK, ACK (RFC 9293 §3.5) as frames; afterwards each side's next octet is ISN + 1."""
        o, b = self.out, self.back
        frames = [
            self._segment(o, o.isn, 0, SYN, options=_SYN_OPTIONS),
            self._segment(b, b.isn, (o.isn + 1) & 0xFFFFFFFF, SYN | ACK, options=_SYN_OPTIONS),
            self._segment(o, (o.isn + 1) & 0xFFFFFFFF, (b.isn + 1) & 0xFFFFFFFF, ACK),
        ]
        o.next_seq = (o.isn + 1) & 0xFFFFFFFF
        b.next_seq = (b.isn + 1) & 0xFFFFFFFF
        return frames

    def segment(self, src: Element, payload: bytes) -> bytes:
        """A data segment (PSH+ACK) from ``src`` carrying ``payload`` (the slow path)."""
        if len(payload) > MSS:
            raise ValueError(f"a {len(payload)}-octet payload does not fit one segment (MSS {MSS})")
        st, peer = self.direction(src)
        frame = self._segment(st, st.next_seq, peer.next_seq, PSH | ACK, payload)
        st.next_seq = (st.next_seq + len(payload)) & 0xFFFFFFFF
        return frame

    def template(self, src: Element, payload_len: int) -> SegmentTemplate:
        """The frame template of a data segment from ``src`` carrying ``payload_len`` octets (cached)."""
        forward = src.name == self.out.src.name
        key = (forward, payload_len)
        found = self._templates.get(key)
        if found is not None:
            return found
        if payload_len > MSS:
            raise ValueError(f"a {payload_len}-octet payload does not fit one segment (MSS {MSS})")
        st, peer = (self.out, self.back) if forward else (self.back, self.out)
        tcp_len = TCP_LEN + payload_len
        head = ethernet_ipv4(st.src, st.dst, tcp_len, 0, IPPROTO_TCP)
        ip_hdr = bytearray(head[ETH_LEN:])
        ip_hdr[4:6] = b"\0\0"
        ip_hdr[10:12] = b"\0\0"
        tcp = struct.pack("!HHIIBBHHH", st.sport, st.dport, 0, 0, (TCP_LEN // 4) << 4, PSH | ACK, WINDOW, 0, 0)
        found = SegmentTemplate(
            data=head + tcp + b"\0" * payload_len, state=st, peer=peer, ip_sum=ones_complement_sum(bytes(ip_hdr)),
            pseudo_sum=pseudo_header_sum(st.src.ipv4, st.dst.ipv4, tcp_len), payload_len=payload_len)
        self._templates[key] = found
        return found
