"""SIGTRAN below TCAP: SCCP unitdata (ITU-T Q.713) carried by M3UA (RFC 4666) over SCTP (PPID 3, port 2905).

* SCCP: :func:`gt_address` (called/calling party address routed on a global title: GTI 4, E.164,
  international, Q.713 §3.4) and :func:`udt` (UDT, protocol class 0 with "return message on error",
  Q.713 §4.10); :func:`decode_udt` reads one back.
* M3UA: :func:`data` (DATA with Routing Context and Protocol Data, RFC 4666 §3.3.1) and the ASP
  management messages a link opens with: ASPUP / ASPUP-ACK (§3.5.1, §3.5.2), ASPAC / ASPAC-ACK
  (§3.7.1, §3.7.2); :func:`decode_m3ua` reads any of them back.
* :func:`point_codes`: a signalling point code per element.

**Point codes** (ITU-T Q.704 §2.2 routing label: 14 bits): ``crc32(element name) & 0x3FFF``; 0 is not used, and a
code already taken by another element of the same world moves to the next free one (``+1``, wrapping),
names taken in sorted order. Each hop is an MTP-level hop between SCCP relay points (the STPs and the IPX
translate global titles), so the OPC and DPC of a packet are its sender's and its receiver's codes.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

PPID_M3UA = 3
"""SCTP payload protocol identifier of M3UA (RFC 4666, IANA considerations)."""
PORT_M3UA = 2905
"""The registered SCTP port of M3UA (RFC 4666, IANA considerations)."""

SSN_HLR = 6
SSN_VLR = 7
SSN_MSC = 8
SSN_SGSN = 149
"""Subsystem numbers of the MAP entities (ITU-T Q.713 §3.4.2.2 and Annex B; 3GPP TS 23.003)."""

SI_SCCP = 3
"""Service indicator of SCCP (ITU-T Q.704 §14.2.1)."""
NI_INTERNATIONAL = 0
"""Network indicator of the international network (Q.704 §14.2.2): roaming signalling crosses it."""

SCCP_UDT = 0x09
PROTOCOL_CLASS_0_RETURN = 0x80
"""Protocol class 0 (connectionless, no sequencing) with "return message on error" (Q.713 §3.6)."""
AI_ROUTE_ON_GT = 0x00
AI_GTI_4 = 0x10
AI_SSN = 0x02
TT_UNKNOWN = 0
NP_E164 = 1
NAI_INTERNATIONAL = 4

M3UA_VERSION = 1
CLASS_TRANSFER = 1
CLASS_ASPSM = 3
CLASS_ASPTM = 4
TYPE_DATA = 1
TYPE_ASPUP = 1
TYPE_ASPUP_ACK = 4
TYPE_ASPAC = 1
TYPE_ASPAC_ACK = 3
TAG_ROUTING_CONTEXT = 0x0006
TAG_TRAFFIC_MODE = 0x000B
TAG_PROTOCOL_DATA = 0x0210
TRAFFIC_MODE_LOADSHARE = 2
ROUTING_CONTEXT = 1
"""The one routing context of every link (RFC 4666 §3.3.1: identifies the AS of the traffic)."""

DATA_HEADER_LEN = 8 + 8 + 4 + 12
"""Octets of an M3UA DATA message before the user data: common header, Routing Context, Protocol Data
parameter header and OPC/DPC/SI/NI/MP/SLS."""
DATA_SLS_OFFSET = DATA_HEADER_LEN - 1


class SigtranError(ValueError):
    """Bytes that are not a message this module writes."""


# -- SCCP ---------------------------------------------------------------------------


def bcd_digits(digits: str) -> bytes:
    """Address signals two per octet, first digit in the low nibble, filler 0 for an odd count (Q.713 §3.4.2.3.1)."""
    if not digits.isdigit():
        raise ValueError(f"global title digits must be decimal digits, got {digits!r}")
    padded = digits + "0" if len(digits) % 2 else digits
    return bytes((int(padded[i + 1]) << 4) | int(padded[i]) for i in range(0, len(padded), 2))


def gt_address(ssn: int, digits: str) -> bytes:
    """A called/calling party address: route on GT, GTI 4 (TT 0, NP E.164, NAI international), SSN present.

    Q.713 §3.4.1 address indicator, §3.4.2.3.4 global title of indicator 0100; the encoding scheme is BCD
    odd (1) or even (2) by the digit count.
    """
    es = 1 if len(digits) % 2 else 2
    return bytes((AI_ROUTE_ON_GT | AI_GTI_4 | AI_SSN, ssn, TT_UNKNOWN, (NP_E164 << 4) | es, NAI_INTERNATIONAL)) + \
        bcd_digits(digits)


def udt(called: bytes, calling: bytes, data: bytes) -> bytes:
    """A unitdata message (Q.713 §4.10): class 0 with return on error; pointers relative to their own octet."""
    if len(data) > 255:
        raise ValueError(f"a {len(data)}-octet TCAP message does not fit a UDT (at most 255 octets)")
    p1 = 3
    p2 = p1 - 1 + 1 + len(called)
    p3 = p2 - 1 + 1 + len(calling)
    return bytes((SCCP_UDT, PROTOCOL_CLASS_0_RETURN, p1, p2, p3, len(called))) + called + \
        bytes((len(calling),)) + calling + bytes((len(data),)) + data


@dataclass(frozen=True)
class SccpAddress:
    """A decoded GT-routed party address."""

    ssn: int
    digits: str
    translation_type: int
    numbering_plan: int
    nature_of_address: int
    route_on_gt: bool


@dataclass(frozen=True)
class Unitdata:
    """A decoded UDT."""

    protocol_class: int
    called: SccpAddress
    calling: SccpAddress
    data: bytes


def decode_address(raw: bytes) -> SccpAddress:
    """A party address of the form :func:`gt_address` writes."""
    if len(raw) < 5 or raw[0] & 0x3C != AI_GTI_4 or not raw[0] & AI_SSN or raw[0] & 0x01:
        raise SigtranError(f"not a GTI-4 address with SSN and no point code: {raw.hex()}")
    es = raw[3] & 0x0F
    nibbles = []
    for b in raw[5:]:
        nibbles += [b & 0x0F, b >> 4]
    if es == 1:
        nibbles = nibbles[:-1]
    elif es != 2:
        raise SigtranError(f"encoding scheme {es} is not BCD")
    return SccpAddress(ssn=raw[1], digits="".join(str(n) for n in nibbles), translation_type=raw[2],
                       numbering_plan=raw[3] >> 4, nature_of_address=raw[4] & 0x7F, route_on_gt=not raw[0] & 0x40)


def decode_udt(msg: bytes) -> Unitdata:
    """A UDT as :func:`udt` writes it."""
    if len(msg) < 5 or msg[0] != SCCP_UDT:
        raise SigtranError(f"not an SCCP UDT (message type {msg[0] if msg else None})")

    def part(pointer_at: int) -> bytes:
        start = pointer_at + msg[pointer_at]
        if start >= len(msg) or start + 1 + msg[start] > len(msg):
            raise SigtranError("a UDT pointer or length runs past the message")
        return msg[start + 1:start + 1 + msg[start]]

    return Unitdata(msg[1], decode_address(part(2)), decode_address(part(3)), part(4))


# -- M3UA ---------------------------------------------------------------------------


def _param(tag: int, value: bytes) -> bytes:
    return struct.pack("!HH", tag, 4 + len(value)) + value + b"\0" * (-len(value) % 4)


def _message(msg_class: int, msg_type: int, params: bytes) -> bytes:
    return struct.pack("!BBBBI", M3UA_VERSION, 0, msg_class, msg_type, 8 + len(params)) + params


def data(opc: int, dpc: int, payload: bytes, *, sls: int = 0, si: int = SI_SCCP, ni: int = NI_INTERNATIONAL,
         mp: int = 0, routing_context: int = ROUTING_CONTEXT) -> bytes:
    """A DATA message (RFC 4666 §3.3.1): Routing Context, then Protocol Data (the MTP3 routing label and SIO)."""
    pd = struct.pack("!IIBBBB", opc, dpc, si, ni, mp, sls) + payload
    return _message(CLASS_TRANSFER, TYPE_DATA,
                    _param(TAG_ROUTING_CONTEXT, struct.pack("!I", routing_context)) + _param(TAG_PROTOCOL_DATA, pd))


def aspup() -> bytes:
    """ASP Up (RFC 4666 §3.5.1)."""
    return _message(CLASS_ASPSM, TYPE_ASPUP, b"")


def aspup_ack() -> bytes:
    """ASP Up Ack (RFC 4666 §3.5.2)."""
    return _message(CLASS_ASPSM, TYPE_ASPUP_ACK, b"")


def _active(msg_type: int, routing_context: int) -> bytes:
    return _message(CLASS_ASPTM, msg_type, _param(TAG_TRAFFIC_MODE, struct.pack("!I", TRAFFIC_MODE_LOADSHARE))
                    + _param(TAG_ROUTING_CONTEXT, struct.pack("!I", routing_context)))


def aspac(routing_context: int = ROUTING_CONTEXT) -> bytes:
    """ASP Active (RFC 4666 §3.7.1), loadshare traffic mode."""
    return _active(TYPE_ASPAC, routing_context)


def aspac_ack(routing_context: int = ROUTING_CONTEXT) -> bytes:
    """ASP Active Ack (RFC 4666 §3.7.2)."""
    return _active(TYPE_ASPAC_ACK, routing_context)


@dataclass(frozen=True)
class ProtocolData:
    """The Protocol Data parameter of a DATA message."""

    opc: int
    dpc: int
    si: int
    ni: int
    mp: int
    sls: int
    payload: bytes


@dataclass(frozen=True)
class M3uaMessage:
    """A decoded M3UA message: class, type and its parameters in order."""

    msg_class: int
    msg_type: int
    params: tuple[tuple[int, bytes], ...]

    def param(self, tag: int) -> bytes:
        for t, v in self.params:
            if t == tag:
                return v
        raise SigtranError(f"no parameter {tag:#06x}")

    def protocol_data(self) -> ProtocolData:
        v = self.param(TAG_PROTOCOL_DATA)
        if len(v) < 12:
            raise SigtranError("Protocol Data shorter than its routing label")
        opc, dpc, si, ni, mp, sls = struct.unpack_from("!IIBBBB", v)
        return ProtocolData(opc, dpc, si, ni, mp, sls, v[12:])


def decode_m3ua(msg: bytes) -> M3uaMessage:
    """An M3UA message (RFC 4666 §3.1, §3.2)."""
    if len(msg) < 8:
        raise SigtranError("shorter than the M3UA common header")
    version, _, msg_class, msg_type, total = struct.unpack_from("!BBBBI", msg)
    if version != M3UA_VERSION or total != len(msg):
        raise SigtranError(f"version {version}, length {total} for a {len(msg)}-octet message")
    params, pos = [], 8
    while pos < total:
        if pos + 4 > total:
            raise SigtranError("truncated parameter header")
        tag, plen = struct.unpack_from("!HH", msg, pos)
        if plen < 4 or pos + plen > total:
            raise SigtranError(f"parameter {tag:#06x} of length {plen} runs past the message")
        params.append((tag, msg[pos + 4:pos + plen]))
        pos += plen + (-plen % 4)
    return M3uaMessage(msg_class, msg_type, tuple(params))


# -- point codes ----------------------------------------------------------------------


def point_codes(names: Iterable[str]) -> dict[str, int]:
    """A 14-bit ITU point code per element name (module docstring), collisions resolved in sorted order."""
    taken = {0}
    out: dict[str, int] = {}
    for name in sorted(set(names)):
        if len(taken) > 0x3FFF:
            raise ValueError("more elements than 14-bit point codes")
        pc = zlib.crc32(name.encode("utf-8")) & 0x3FFF
        while pc in taken:
            pc = (pc + 1) & 0x3FFF
        taken.add(pc)
        out[name] = pc
    return out
