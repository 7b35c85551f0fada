"""Ethernet II, IPv4 and UDP framing (RFC 768, RFC 791), with per-path state.

One :class:`UdpPath` per link (a pair of adjacent elements). UDP has no
connection set-up; a path only keeps, per direction, the IPv4 identification
counter (IPv4 headers as in :mod:`~roamsim.sinks.pcap.sctp`: DF set, TTL 64,
header checksum). Every datagram carries a UDP checksum over the RFC 768
pseudo-header (source and destination address, protocol 17, UDP length), the
UDP header and the payload; a computed checksum of 0 is sent as 0xFFFF.

For speed a writer asks for a :class:`UdpFrameTemplate` (every header of a
datagram of a given payload length, built once) and patches per packet the IP
identification and checksum and the UDP checksum. The UDP checksum uses
:func:`ones_complement_mod`: the 16-bit ones'-complement sum of a buffer is its
big-endian integer value modulo 0xFFFF (2**16 ≡ 1), which Python computes in C.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from roamsim.sinks.pcap.addressing import Element
from roamsim.sinks.pcap.sctp import ETH_LEN, IPV4_LEN, MTU, ethernet_ipv4, ones_complement_sum

IPPROTO_UDP = 17
UDP_LEN = 8
UDP_PAYLOAD_OFFSET = ETH_LEN + IPV4_LEN + UDP_LEN
"""Offset of the UDP payload in a frame."""
UDP_CHECKSUM_OFFSET = ETH_LEN + IPV4_LEN + 6
IP_ID_OFFSET = ETH_LEN + 4
IP_CHECKSUM_OFFSET = ETH_LEN + 10


def ones_complement_mod(data: bytes | bytearray) -> int:
    """The ones'-complement sum of the 16-bit words of ``data`` (even length), as a residue modulo 0xFFFF.

    It equals the folded sum (RFC 1071) except that an all-ones sum comes out as 0.
    """
    return int.from_bytes(data, "big") % 0xFFFF


def udp_checksum_from(total: int) -> int:
    """The UDP checksum field for a sum residue (:func:`ones_complement_mod`): 0 is sent as 0xFFFF (RFC 768)."""
    return ~(total % 0xFFFF) & 0xFFFF


def pseudo_header_sum(src: bytes, dst: bytes, udp_len: int) -> int:
    """The residue of the IPv4 pseudo-header (RFC 768): addresses, zero, protocol 17, UDP length."""
    return ones_complement_mod(src + dst + struct.pack("!BBH", 0, IPPROTO_UDP, udp_len))


def udp_segment(src: Element, dst: Element, sport: int, dport: int, payload: bytes) -> bytes:
    """A UDP header with its checksum, followed by ``payload``."""
    udp_len = UDP_LEN + len(payload)
    head = struct.pack("!HHHH", sport, dport, udp_len, 0)
    padded = head + payload + b"\0" * (len(payload) & 1)
    csum = udp_checksum_from(pseudo_header_sum(src.ipv4, dst.ipv4, udp_len) + ones_complement_mod(padded))
    return head[:6] + struct.pack("!H", csum) + payload


@dataclass(slots=True)
class UdpDirection:
    """Sender-side state of one direction of a path."""

    src: Element
    dst: Element
    ip_ident: int = 0


@dataclass
class UdpFrameTemplate:
    """Headers of a datagram for a fixed payload length, patched per packet."""

    data: bytes
    """The whole frame with a zero payload area (the caller copies its payload in)."""
    state: UdpDirection
    ip_sum: int
    """Folded sum of the IPv4 header words except identification and checksum."""
    udp_sum: int
    """Residue of the pseudo-header and the UDP header with a zero checksum."""

    def finish(self, buf: bytearray, base: int = 0) -> None:
        """Set the IP identification and both checksums of a filled frame that starts at ``base`` in ``buf``.

        The UDP checksum covers ``buf`` up to the end of the frame, plus one zero octet when the
        payload has an odd length (``buf`` must have it, as a padded pcapng block does).
        """
        st = self.state
        ident = st.ip_ident
        st.ip_ident = (ident + 1) & 0xFFFF
        cs = self.ip_sum + ident
        struct.pack_into("!H", buf, base + IP_ID_OFFSET, ident)
        struct.pack_into("!H", buf, base + IP_CHECKSUM_OFFSET, ~((cs & 0xFFFF) + (cs >> 16)) & 0xFFFF)
        n = len(self.data)
        end = base + n + ((n - UDP_PAYLOAD_OFFSET) & 1)
        total = self.udp_sum + ones_complement_mod(buf[base + UDP_PAYLOAD_OFFSET:end])
        struct.pack_into("!H", buf, base + UDP_CHECKSUM_OFFSET, udp_checksum_from(total))


class UdpPath:
    """The datagrams between ``a`` and ``b``, both on ``port`` (e.g. GTP-C 2123, TS 29.274 §4.2)."""

    def __init__(self, a: Element, b: Element, *, port: int) -> None:
        self.port = port
        self.out = UdpDirection(a, b)
        self.back = UdpDirection(b, a)
        self._templates: dict[tuple[bool, int], UdpFrameTemplate] = {}

    def direction(self, src: Element) -> UdpDirection:
        """The direction whose sender is ``src``."""
        return self.out if src.name == self.out.src.name else self.back

    def frame(self, src: Element, payload: bytes) -> bytes:
        """A frame with ``payload`` from ``src`` (the slow path: Echo, tests)."""
        tpl = self.template(src, len(payload))
        buf = bytearray(tpl.data) + b"\0"
        buf[UDP_PAYLOAD_OFFSET:UDP_PAYLOAD_OFFSET + len(payload)] = payload
        tpl.finish(buf)
        return bytes(buf[:-1])

    def template(self, src: Element, payload_len: int) -> UdpFrameTemplate:
        """The frame template of a datagram from ``src`` carrying ``payload_len`` octets (cached)."""
        forward = src.name == self.out.src.name
        key = (forward, payload_len)
        found = self._templates.get(key)
        if found is not None:
            return found
        st = self.out if forward else self.back
        udp_len = UDP_LEN + payload_len
        if IPV4_LEN + udp_len > MTU:
            raise ValueError(f"a {payload_len}-octet message does not fit one {MTU}-octet IP packet")
        head = ethernet_ipv4(st.src, st.dst, udp_len, 0, IPPROTO_UDP)
        ip_hdr = bytearray(head[ETH_LEN:ETH_LEN + IPV4_LEN])
        ip_hdr[4:6] = b"\0\0"
        ip_hdr[10:12] = b"\0\0"
        udp_head = struct.pack("!HHHH", self.port, self.port, udp_len, 0)
        found = UdpFrameTemplate(
            data=head + udp_head + b"\0" * payload_len, state=st, ip_sum=ones_complement_sum(bytes(ip_hdr)),
            udp_sum=pseudo_header_sum(st.src.ipv4, st.dst.ipv4, udp_len) + ones_complement_mod(udp_head))
        self._templates[key] = found
        return found
