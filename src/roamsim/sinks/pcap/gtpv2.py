"""GTPv2-C on S5/S8 (TS 29.274): header, information elements, messages, and the session's values.

Three layers, all pure, as for S6a (:mod:`~roamsim.sinks.pcap.diameter_s6a`):

* :class:`GtpMessage` holds the fields that vary between messages and
  :func:`encode` writes them as a GTPv2-C message (header with P=0 and, except
  for Echo, T=1, §5.1; IEs §8 in the order of the message's table in §7);
  :func:`decode` reads them back (tests round-trip the two).
* :class:`GtpHop` is what the records say about one message between a V-SGW
  and a PGW; :func:`gtp_message` maps it to a :class:`GtpMessage` with the IEs
  of TS 29.274 §7.2 on S5/S8.
* :func:`template` encodes a message once per *shape* and lists where the
  per-session values sit; a writer copies them from a fixed-layout
  :func:`session_record` (:meth:`GtpTemplate.fill`). Tests check that a filled
  template equals the full encoding.

Session values, all derived from the records so every capture agrees:

* TEIDs from the session (``e2e_id``) and the side: ``((e2e mod (2**30 - 1)) + 1) << 2 | side``
  with side 0 SGW-C, 1 PGW-C, 2 SGW-U, 3 PGW-U (never 0, distinct for 2**30 - 1 consecutive sessions).
  A Create Session Request has TEID 0 in its header (§5.5.2, no context yet); later requests carry
  the PGW's S5/S8-C TEID, responses the SGW's, except a "Context Not Found" response (TEID 0, §5.5.2).
* Sequence number: the transaction's ``txn_id`` mod 2**24 (§5.1; a retransmission keeps its original's).
* Charging ID (§8.29) ``(e2e mod (2**32 - 1)) + 1``; UE IPv4 address (PAA, §8.14) ``100.64.0.0/10``
  (RFC 6598 shared address space) + 1 + IMSI mod (2**22 - 2).
* MEI (§8.10): IMEISV ``35000000`` (a placeholder TAC) + the IMSI's last 6 digits + software version ``01``.
* ULI (§8.21.4, §8.21.5): TAI and ECGI in the visited PLMN; TAC ``1 + (IMSI · 7919) mod 0xFFFD``
  (never 0x0000 or 0xFFFE, TS 23.003 §19.4.2.3) and ECI ``(IMSI mod 2**28) · 0x9E3779B1 mod 2**28``: a
  stand-in cell per roamer (the simulator models no radio cells).
* MSISDN (§8.11) from :func:`~roamsim.sinks.pcap.numbering.msisdn_for` with the home PLMN and country.
* Recovery restart counter (§8.5) per element: CRC-32 of its name, low 8 bits.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np

from roamsim.sinks.pcap.addressing import Element, PlmnId
from roamsim.sinks.pcap.numbering import msisdn_for

PORT_GTPC = 2123
"""UDP port of GTPv2-C (TS 29.274 §4.2.1)."""
VERSION_FLAGS_TEID = 0x48
"""Octet 1 with version 2, P=0, T=1, MP=0 (§5.1)."""
VERSION_FLAGS_NO_TEID = 0x40
"""Octet 1 with version 2, P=0, T=0 (Echo, §5.1)."""

ECHO_REQUEST = 1
ECHO_RESPONSE = 2
CREATE_SESSION_REQUEST = 32
CREATE_SESSION_RESPONSE = 33
MODIFY_BEARER_REQUEST = 34
MODIFY_BEARER_RESPONSE = 35
DELETE_SESSION_REQUEST = 36
DELETE_SESSION_RESPONSE = 37

MESSAGE_TYPES: dict[str, tuple[int, int]] = {
    "CreateSession": (CREATE_SESSION_REQUEST, CREATE_SESSION_RESPONSE),
    "DeleteSession": (DELETE_SESSION_REQUEST, DELETE_SESSION_RESPONSE),
    "ModifyBearer": (MODIFY_BEARER_REQUEST, MODIFY_BEARER_RESPONSE),
}
"""Message name → (request type, response type) (TS 29.274 Table 6.1-1)."""
MESSAGE_NAMES: tuple[str, ...] = tuple(MESSAGE_TYPES)
"""Index → message name (the ``msg`` column of the rows; ``is_request`` picks request or response)."""
TYPE_NAMES: dict[int, str] = {
    ECHO_REQUEST: "Echo Request", ECHO_RESPONSE: "Echo Response",
    CREATE_SESSION_REQUEST: "Create Session Request", CREATE_SESSION_RESPONSE: "Create Session Response",
    MODIFY_BEARER_REQUEST: "Modify Bearer Request", MODIFY_BEARER_RESPONSE: "Modify Bearer Response",
    DELETE_SESSION_REQUEST: "Delete Session Request", DELETE_SESSION_RESPONSE: "Delete Session Response",
}

# Cause values (TS 29.274 Table 8.4-1): the ones a roaming S5/S8 session meets.
REQUEST_ACCEPTED = 16
CONTEXT_NOT_FOUND = 64
CAUSES: dict[int, str] = {
    16: "Request accepted",
    17: "Request accepted partially",
    18: "New PDN type due to network preference",
    19: "New PDN type due to single address bearer only",
    64: "Context Not Found",
    65: "Invalid Message Format",
    68: "Service not supported",
    69: "Mandatory IE incorrect",
    70: "Mandatory IE missing",
    72: "System failure",
    73: "No resources available",
    78: "Missing or unknown APN",
    83: "Preferred PDN type not supported",
    84: "All dynamic addresses are occupied",
    89: "Service denied",
    92: "User authentication failed",
    93: "APN access denied - no subscription",
    94: "Request rejected (reason not specified)",
    100: "Remote peer not responding",
    110: "Temporarily rejected due to handover/TAU/RAU procedure in progress",
    113: "APN Congestion",
    120: "GTP-C Entity Congestion",
}
"""Cause value → name (TS 29.274 Table 8.4-1). 16-63 accept a request, 64-239 reject it (§8.4)."""

# IE types (TS 29.274 Table 8.1-1)
IE_IMSI = 1
IE_CAUSE = 2
IE_RECOVERY = 3
IE_APN = 71
IE_AMBR = 72
IE_EBI = 73
IE_MEI = 75
IE_MSISDN = 76
IE_INDICATION = 77
IE_PAA = 79
IE_BEARER_QOS = 80
IE_RAT_TYPE = 82
IE_SERVING_NETWORK = 83
IE_ULI = 86
IE_F_TEID = 87
IE_BEARER_CONTEXT = 93
IE_CHARGING_ID = 94
IE_CHARGING_CHARACTERISTICS = 95
IE_PDN_TYPE = 99
IE_UE_TIME_ZONE = 114
IE_APN_RESTRICTION = 127
IE_SELECTION_MODE = 128

# F-TEID interface types (TS 29.274 Table 8.22-1) and the session sides they belong to
IF_S5S8_SGW_GTPU = 4
IF_S5S8_PGW_GTPU = 5
IF_S5S8_SGW_GTPC = 6
IF_S5S8_PGW_GTPC = 7
SIDE_SGW_C, SIDE_PGW_C, SIDE_SGW_U, SIDE_PGW_U = 0, 1, 2, 3
SIDE_OF_INTERFACE = {IF_S5S8_SGW_GTPC: SIDE_SGW_C, IF_S5S8_PGW_GTPC: SIDE_PGW_C,
                     IF_S5S8_SGW_GTPU: SIDE_SGW_U, IF_S5S8_PGW_GTPU: SIDE_PGW_U}

RAT_EUTRAN = 6
PDN_TYPE_IPV4 = 1
SELECTION_MODE_VERIFIED = 0
"""MS or network provided APN, subscription verified (§8.58)."""
APN = "internet"
DEFAULT_EBI = 5
ULI_TAI = 0x08
ULI_ECGI = 0x10
INDICATION_MSV = bytes((0x00, 0x01, 0x00))
"""Indication flags (§8.12) with MSV (MS validated) set: the roamer was authenticated over S6a."""
INDICATION_NONE = bytes(3)
APN_AMBR_KBPS = (50_000, 150_000)
"""APN-AMBR uplink, downlink in kbit/s (§8.7): the 50/150 Mbit/s of the S6a subscription."""
CHARGING_CHARACTERISTICS = 0x0800
"""Charging Characteristics (§8.30; TS 32.251 Annex A): the home operator's normal profile."""
UE_TIME_ZONE = (0x00, 0)
"""Time zone octet (TS 24.008 §10.5.3.8) and daylight saving adjustment: UTC, none (no local time is modelled)."""
UE_ADDRESS_BASE = 0x64400000
"""100.64.0.0, the RFC 6598 shared address space (/10) the PGW's UE addresses come from."""
MEI_BASE = 3_500_000_000_000_001
"""IMEISV ``35000000 SSSSSS 01``: a placeholder TAC, serial number, software version 01."""

HEADER_LEN = 12
"""Header length with a TEID (T=1)."""
SEQ_OFFSET = 8
"""Offset of the 3-octet sequence number in a T=1 header (4 when T=0)."""


class DecodeError(ValueError):
    """Bytes that are not a well-formed GTPv2-C message of the kind this module writes."""


# -- IEs ------------------------------------------------------------------------------


def ie(ie_type: int, data: bytes, instance: int = 0) -> bytes:
    """An IE (§8.2.1): type, length of the data, spare + instance, data."""
    return struct.pack("!BHB", ie_type, len(data), instance & 0x0F) + data


def tbcd(digits: str) -> bytes:
    """Telephony BCD (TS 29.274 §8.3, TS 29.002 §17.7.8): swapped nibbles, filler F for an odd count."""
    if not digits.isdigit():
        raise ValueError(f"not a digit string: {digits!r}")
    d = [int(c) for c in digits] + ([0xF] if len(digits) % 2 else [])
    return bytes((d[i + 1] << 4) | d[i] for i in range(0, len(d), 2))


def untbcd(data: bytes) -> str:
    """The digits of a TBCD string (up to the filler)."""
    out: list[str] = []
    for b in data:
        for nib in (b & 0x0F, b >> 4):
            if nib == 0xF:
                return "".join(out)
            if nib > 9:
                raise DecodeError(f"TBCD octet {b:#04x} is not a digit")
            out.append(str(nib))
    return "".join(out)


def apn_labels(apn: str) -> bytes:
    """An APN as DNS labels (TS 23.003 §9.1): each label's length, then its octets."""
    out = b""
    for label in apn.split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise ValueError(f"APN {apn!r}: a label must have 1 to 63 characters")
        out += bytes((len(raw),)) + raw
    return out


def _apn_text(data: bytes) -> str:
    labels, pos = [], 0
    while pos < len(data):
        n = data[pos]
        if n == 0 or pos + 1 + n > len(data):
            raise DecodeError("bad APN label length")
        labels.append(data[pos + 1:pos + 1 + n].decode("ascii"))
        pos += 1 + n
    return ".".join(labels)


@dataclass(frozen=True)
class FTeid:
    """Fully qualified TEID (§8.22), IPv4 only."""

    interface: int
    teid: int
    ipv4: bytes
    instance: int = 0

    def encode(self) -> bytes:
        return ie(IE_F_TEID, struct.pack("!BI", 0x80 | self.interface, self.teid) + self.ipv4, self.instance)


@dataclass(frozen=True)
class BearerQos:
    """Bearer Level QoS (§8.15): ARP (PCI, PL, PVI as in TS 29.212 §5.3.46), QCI, bit rates in kbit/s."""

    pci: bool
    """Pre-emption capability disabled."""
    pl: int
    pvi: bool
    """Pre-emption vulnerability disabled."""
    qci: int
    mbr_ul: int = 0
    mbr_dl: int = 0
    gbr_ul: int = 0
    gbr_dl: int = 0

    def encode(self) -> bytes:
        arp = (int(self.pci) << 6) | ((self.pl & 0x0F) << 2) | int(self.pvi)
        rates = b"".join(v.to_bytes(5, "big") for v in (self.mbr_ul, self.mbr_dl, self.gbr_ul, self.gbr_dl))
        return ie(IE_BEARER_QOS, bytes((arp, self.qci)) + rates)


DEFAULT_QOS = BearerQos(pci=True, pl=8, pvi=False, qci=9)
"""QCI 9, ARP priority 8, may not pre-empt, pre-emptable; a non-GBR bearer, so MBR = GBR = 0 (§8.15)."""


@dataclass(frozen=True)
class BearerContext:
    """Bearer Context (§8.28), grouped: EBI, cause, F-TEIDs, QoS, charging ID."""

    ebi: int
    cause: int | None = None
    fteids: tuple[FTeid, ...] = ()
    qos: BearerQos | None = None
    charging_id: int | None = None

    def encode(self) -> bytes:
        parts = [ie(IE_EBI, bytes((self.ebi & 0x0F,)))]
        if self.cause is not None:
            parts.append(_cause(self.cause))
        parts += [f.encode() for f in self.fteids]
        if self.qos is not None:
            parts.append(self.qos.encode())
        if self.charging_id is not None:
            parts.append(ie(IE_CHARGING_ID, struct.pack("!I", self.charging_id)))
        return ie(IE_BEARER_CONTEXT, b"".join(parts))


@dataclass(frozen=True)
class UserLocation:
    """User Location Information (§8.21) with a TAI and an ECGI of one PLMN."""

    plmn: bytes
    tac: int
    eci: int

    def encode(self) -> bytes:
        return ie(IE_ULI, bytes((ULI_TAI | ULI_ECGI,)) + self.plmn + struct.pack("!H", self.tac) + self.plmn
                  + struct.pack("!I", self.eci & 0x0FFFFFFF))


def _cause(value: int) -> bytes:
    if not 0 < value < 256:
        raise ValueError(f"GTP cause {value} is not a cause value (1-255, TS 29.274 Table 8.4-1)")
    return ie(IE_CAUSE, bytes((value, 0)))


# -- messages ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GtpMessage:
    """The varying fields of one GTPv2-C message; :func:`encode` writes those that are set."""

    message_type: int
    seq: int
    teid: int | None = 0
    """Header TEID; None for a header without one (T=0: Echo)."""
    cause: int | None = None
    imsi: str | None = None
    msisdn: str | None = None
    mei: str | None = None
    uli: UserLocation | None = None
    serving_network: bytes | None = None
    rat_type: int | None = None
    indication: bytes | None = None
    fteids: tuple[FTeid, ...] = ()
    apn: str | None = None
    selection_mode: int | None = None
    pdn_type: int | None = None
    paa: bytes | None = None
    """IPv4 PDN address (PDN type IPv4)."""
    apn_restriction: int | None = None
    ambr: tuple[int, int] | None = None
    ebi: int | None = None
    """Linked EPS Bearer ID (top level)."""
    bearer: BearerContext | None = None
    recovery: int | None = None
    ue_time_zone: tuple[int, int] | None = None
    charging_characteristics: int | None = None

    @property
    def name(self) -> str:
        return TYPE_NAMES.get(self.message_type, f"type {self.message_type}")


_GENERIC_ORDER = (
    "cause", "imsi", "msisdn", "mei", "uli", "serving_network", "rat_type", "indication", "fteids", "apn",
    "selection_mode", "pdn_type", "paa", "apn_restriction", "ambr", "ebi", "bearer", "recovery", "ue_time_zone",
    "charging_characteristics",
)
_LEADING: dict[int, tuple[str, ...]] = {
    # TS 29.274 Table 7.2.9.1-1 (Delete Session Request): Cause, LBI, ULI, Indication, ..., UE Time Zone
    DELETE_SESSION_REQUEST: ("cause", "ebi", "uli", "indication"),
    # Table 7.2.8-1 (Modify Bearer Response): Cause, MSISDN, LBI, APN Restriction, ..., Bearer Contexts
    MODIFY_BEARER_RESPONSE: ("cause", "msisdn", "ebi", "apn_restriction"),
}
_ORDER: dict[int, tuple[str, ...]] = {
    t: lead + tuple(f for f in _GENERIC_ORDER if f not in lead) for t, lead in _LEADING.items()}
"""IE order per message type where the generic order (that of Tables 7.2.1-1 to 7.2.7-1) does not fit;
every order lists every field."""


def _field_ies(m: GtpMessage, name: str) -> bytes:
    value = getattr(m, name)
    if value is None or value == ():
        return b""
    if name == "cause":
        return _cause(value)
    if name in _TBCD_CODES:
        return ie(_TBCD_CODES[name], tbcd(value))
    if name in ("uli", "bearer"):
        return bytes(value.encode())
    if name == "fteids":
        return b"".join(f.encode() for f in value)
    if name == "serving_network":
        return ie(IE_SERVING_NETWORK, value)
    if name == "indication":
        return ie(IE_INDICATION, value)
    if name == "apn":
        return ie(IE_APN, apn_labels(value))
    if name == "paa":
        return ie(IE_PAA, bytes((PDN_TYPE_IPV4,)) + value)
    if name == "ambr":
        return ie(IE_AMBR, struct.pack("!II", *value))
    if name == "ue_time_zone":
        tz, dst = value
        return ie(IE_UE_TIME_ZONE, bytes((tz, dst & 0x03)))
    if name == "charging_characteristics":
        return ie(IE_CHARGING_CHARACTERISTICS, struct.pack("!H", value))
    return ie(_OCTET_CODES[name], bytes((value,)))


_TBCD_CODES = {"imsi": IE_IMSI, "msisdn": IE_MSISDN, "mei": IE_MEI}
_OCTET_CODES = {"rat_type": IE_RAT_TYPE, "selection_mode": IE_SELECTION_MODE, "pdn_type": IE_PDN_TYPE,
                "apn_restriction": IE_APN_RESTRICTION, "ebi": IE_EBI, "recovery": IE_RECOVERY}


def header(message_type: int, body_len: int, seq: int, teid: int | None) -> bytes:
    """The GTPv2-C header (§5.1): P=0; T=1 with ``teid``, T=0 when ``teid`` is None."""
    if not 0 <= seq < 1 << 24:
        raise ValueError(f"sequence number {seq} does not fit 24 bits")
    if teid is None:
        return struct.pack("!BBHI", VERSION_FLAGS_NO_TEID, message_type, body_len + 4, seq << 8)
    return struct.pack("!BBHII", VERSION_FLAGS_TEID, message_type, body_len + 8, teid, seq << 8)


def encode(m: GtpMessage) -> bytes:
    """The bytes of ``m``: header, then its IEs in the order of the message's table (TS 29.274 §7)."""
    body = b"".join(_field_ies(m, n) for n in _ORDER.get(m.message_type, _GENERIC_ORDER))
    return header(m.message_type, len(body), m.seq, m.teid) + body


@dataclass(frozen=True)
class Ie:
    """One decoded IE: ``offset`` is where its data starts in the message."""

    type: int
    instance: int
    offset: int
    data: bytes
    children: tuple[Ie, ...] = field(default=())


def _parse_ies(buf: bytes, start: int, end: int, grouped: bool) -> tuple[Ie, ...]:
    out: list[Ie] = []
    pos = start
    while pos < end:
        if pos + 4 > end:
            raise DecodeError(f"truncated IE header at octet {pos}")
        t, n, inst = struct.unpack_from("!BHB", buf, pos)
        if pos + 4 + n > end:
            raise DecodeError(f"IE type {t} at octet {pos} runs past its container")
        kids = _parse_ies(buf, pos + 4, pos + 4 + n, False) if grouped and t == IE_BEARER_CONTEXT else ()
        out.append(Ie(t, inst & 0x0F, pos + 4, bytes(buf[pos + 4:pos + 4 + n]), kids))
        pos += 4 + n
    return tuple(out)


def parse(buf: bytes) -> tuple[int, int | None, int, tuple[Ie, ...]]:
    """(message type, header TEID or None, sequence number, IEs) of a message (the header is checked)."""
    if len(buf) < 8:
        raise DecodeError("shorter than a GTPv2-C header")
    flags, mtype, length = struct.unpack_from("!BBH", buf, 0)
    if flags >> 5 != 2:
        raise DecodeError(f"version {flags >> 5} is not GTPv2")
    if flags & 0x10:
        raise DecodeError("piggybacked messages (P=1) are not written here")
    if length + 4 != len(buf):
        raise DecodeError(f"header length {length} does not match {len(buf)} octets")
    if flags & 0x08:
        teid, seq = struct.unpack_from("!II", buf, 4)
        start: int = HEADER_LEN
        teid_or_none: int | None = teid
    else:
        (seq,) = struct.unpack_from("!I", buf, 4)
        start, teid_or_none = 8, None
    return mtype, teid_or_none, seq >> 8, _parse_ies(buf, start, len(buf), True)


def _fteid(e: Ie) -> FTeid:
    if len(e.data) != 9 or not e.data[0] & 0x80:
        raise DecodeError("F-TEID without exactly one IPv4 address")
    return FTeid(e.data[0] & 0x3F, struct.unpack_from("!I", e.data, 1)[0], e.data[5:9], e.instance)


def _bearer(e: Ie) -> BearerContext:
    b = BearerContext(ebi=0)
    fteids = []
    for c in e.children:
        if c.type == IE_EBI:
            b = replace(b, ebi=c.data[0] & 0x0F)
        elif c.type == IE_CAUSE:
            b = replace(b, cause=c.data[0])
        elif c.type == IE_F_TEID:
            fteids.append(_fteid(c))
        elif c.type == IE_BEARER_QOS:
            d = c.data
            rates = [int.from_bytes(d[2 + 5 * k:7 + 5 * k], "big") for k in range(4)]
            b = replace(b, qos=BearerQos(bool(d[0] & 0x40), (d[0] >> 2) & 0x0F, bool(d[0] & 0x01), d[1], *rates))
        elif c.type == IE_CHARGING_ID:
            b = replace(b, charging_id=struct.unpack("!I", c.data)[0])
        else:
            raise DecodeError(f"IE type {c.type} in a Bearer Context is not one this module writes")
    return replace(b, fteids=tuple(fteids))


def decode(buf: bytes) -> GtpMessage:
    """Read back the :class:`GtpMessage` fields of a message (inverse of :func:`encode`)."""
    mtype, teid, seq, ies = parse(buf)
    kw: dict[str, Any] = {}
    fteids = []
    for e in ies:
        d, t = e.data, e.type
        if t == IE_CAUSE:
            kw["cause"] = d[0]
        elif t in _TBCD_FIELDS:
            kw[_TBCD_FIELDS[t]] = untbcd(d)
        elif t == IE_ULI:
            if len(d) != 13 or d[0] != ULI_TAI | ULI_ECGI:
                raise DecodeError("ULI without exactly a TAI and an ECGI")
            kw["uli"] = UserLocation(d[1:4], struct.unpack_from("!H", d, 4)[0],
                                     struct.unpack_from("!I", d, 9)[0] & 0x0FFFFFFF)
        elif t == IE_SERVING_NETWORK:
            kw["serving_network"] = d
        elif t == IE_INDICATION:
            kw["indication"] = d
        elif t == IE_F_TEID:
            fteids.append(_fteid(e))
        elif t == IE_APN:
            kw["apn"] = _apn_text(d)
        elif t == IE_PAA:
            if len(d) != 5 or d[0] & 0x07 != PDN_TYPE_IPV4:
                raise DecodeError("PAA is not one IPv4 address")
            kw["paa"] = d[1:5]
        elif t == IE_AMBR:
            kw["ambr"] = struct.unpack("!II", d)
        elif t == IE_BEARER_CONTEXT:
            kw["bearer"] = _bearer(e)
        elif t == IE_UE_TIME_ZONE:
            kw["ue_time_zone"] = (d[0], d[1] & 0x03)
        elif t == IE_CHARGING_CHARACTERISTICS:
            kw["charging_characteristics"] = struct.unpack("!H", d)[0]
        elif t in _OCTET_FIELDS and len(d) == 1:
            name, mask = _OCTET_FIELDS[t]
            kw[name] = d[0] & mask
        else:
            raise DecodeError(f"IE type {t} (length {len(d)}) is not one this module writes")
    return GtpMessage(mtype, seq, teid, fteids=tuple(fteids), **kw)


_TBCD_FIELDS = {IE_IMSI: "imsi", IE_MSISDN: "msisdn", IE_MEI: "mei"}
_OCTET_FIELDS = {IE_RAT_TYPE: ("rat_type", 0xFF), IE_SELECTION_MODE: ("selection_mode", 0x03),
                 IE_PDN_TYPE: ("pdn_type", 0x07), IE_APN_RESTRICTION: ("apn_restriction", 0xFF),
                 IE_EBI: ("ebi", 0x0F), IE_RECOVERY: ("recovery", 0xFF)}


# -- session values -------------------------------------------------------------------


Ints = TypeVar("Ints", int, np.ndarray)
"""A scalar or a NumPy integer array: the session rules below work on both."""


def teid_for(e2e_id: Ints, side: int) -> Ints:
    """The TEID of one side of a session (module docstring); works on NumPy arrays too."""
    return (((e2e_id % (2**30 - 1)) + 1) << 2) | side


def charging_id_for(e2e_id: Ints) -> Ints:
    return e2e_id % 0xFFFFFFFF + 1


def ue_ipv4_for(imsi: Ints) -> Ints:
    """The UE's IPv4 address as an integer (module docstring)."""
    return UE_ADDRESS_BASE + 1 + imsi % (2**22 - 2)


def mei_for(imsi: Ints) -> Ints:
    """The IMEISV (16 digits) as an integer (module docstring)."""
    return MEI_BASE + (imsi % 1_000_000) * 100


def cell_for(imsi: Ints) -> tuple[Ints, Ints]:
    """(TAC, ECI) of the roamer's stand-in serving cell (module docstring)."""
    return 1 + (imsi * 7919) % 0xFFFD, ((imsi % 2**28) * 0x9E3779B1) % 2**28


def restart_counter(element: Element) -> int:
    """The Recovery restart counter of an element (§8.5): fixed per element (none restarts in a run)."""
    return zlib.crc32(element.name.encode()) & 0xFF


# -- records → messages -------------------------------------------------------------------


@dataclass(frozen=True)
class GtpHop:
    """One S5/S8 message between a V-SGW and a PGW, as the records describe it."""

    name: str
    """A :data:`MESSAGE_NAMES` entry."""
    is_request: bool
    sgw: Element
    pgw: Element
    home_plmn: PlmnId
    home_country: str
    visited_plmn: PlmnId
    imsi: int
    e2e_id: int
    seq: int
    cause: int | None = None
    """The answer's cause; None for requests."""

    @property
    def message_type(self) -> int:
        return MESSAGE_TYPES[self.name][0 if self.is_request else 1]

    @property
    def interface(self) -> str:
        """``S8`` between operators (home routed), ``S5`` inside one (local breakout, TS 23.401 §4.2)."""
        return "S5" if self.sgw.operator == self.pgw.operator else "S8"

    @property
    def accepted(self) -> bool:
        return self.cause is not None and 16 <= self.cause < 64

    @property
    def header_side(self) -> int:
        """Whose TEID the header carries: a side, or -1 for TEID 0 (§5.5.2)."""
        if self.is_request:
            return -1 if self.name == "CreateSession" else SIDE_PGW_C
        return -1 if self.cause == CONTEXT_NOT_FOUND else SIDE_SGW_C

    @property
    def msisdn(self) -> str:
        return msisdn_for(self.imsi, str(self.home_plmn), self.home_country)


def gtp_message(h: GtpHop) -> GtpMessage:
    """The :class:`GtpMessage` a hop carries, with the IEs TS 29.274 §7.2 lists on S5/S8."""
    e2e = h.e2e_id
    side = h.header_side
    m = GtpMessage(h.message_type, h.seq, 0 if side < 0 else teid_for(e2e, side))
    tac, eci = cell_for(h.imsi)
    uli = UserLocation(h.visited_plmn.tbcd(), tac, eci)
    sgw_c = FTeid(IF_S5S8_SGW_GTPC, teid_for(e2e, SIDE_SGW_C), h.sgw.ipv4)
    pgw_c = FTeid(IF_S5S8_PGW_GTPC, teid_for(e2e, SIDE_PGW_C), h.pgw.ipv4)
    if h.is_request:
        if h.name == "CreateSession":  # Table 7.2.1-1
            return replace(
                m, imsi=str(h.imsi), msisdn=h.msisdn, mei=str(mei_for(h.imsi)), uli=uli,
                serving_network=h.visited_plmn.tbcd(), rat_type=RAT_EUTRAN, indication=INDICATION_MSV,
                fteids=(sgw_c,), apn=APN, selection_mode=SELECTION_MODE_VERIFIED, pdn_type=PDN_TYPE_IPV4,
                paa=bytes(4), apn_restriction=0, ambr=APN_AMBR_KBPS,
                bearer=BearerContext(DEFAULT_EBI, fteids=(
                    FTeid(IF_S5S8_SGW_GTPU, teid_for(e2e, SIDE_SGW_U), h.sgw.ipv4, 2),), qos=DEFAULT_QOS),
                recovery=restart_counter(h.sgw), ue_time_zone=UE_TIME_ZONE,
                charging_characteristics=CHARGING_CHARACTERISTICS)
        if h.name == "ModifyBearer":  # Table 7.2.7-1, no SGW relocation: location and RAT reporting
            return replace(m, uli=uli, serving_network=h.visited_plmn.tbcd(), rat_type=RAT_EUTRAN,
                           indication=INDICATION_MSV, ue_time_zone=UE_TIME_ZONE)
        return replace(m, ebi=DEFAULT_EBI, uli=uli, indication=INDICATION_NONE)  # Table 7.2.9.1-1
    if h.cause is None:
        raise ValueError(f"{h.name} response without a cause")
    m = replace(m, cause=h.cause)
    if not h.accepted:
        return m
    if h.name == "CreateSession":  # Table 7.2.2-1
        return replace(
            m, fteids=(pgw_c, replace(pgw_c, instance=1)), paa=ue_ipv4_for(h.imsi).to_bytes(4, "big"),
            apn_restriction=0, ambr=APN_AMBR_KBPS,
            bearer=BearerContext(DEFAULT_EBI, cause=REQUEST_ACCEPTED, fteids=(
                FTeid(IF_S5S8_PGW_GTPU, teid_for(e2e, SIDE_PGW_U), h.pgw.ipv4, 2),),
                charging_id=charging_id_for(e2e)),
            recovery=restart_counter(h.pgw))
    return m  # Modify Bearer Response (Table 7.2.8-1), Delete Session Response (Table 7.2.10.1-1): the cause


def echo(request: bool, seq: int, sender: Element) -> bytes:
    """Echo Request or Response (§7.1.1, §7.1.2): T=0 header and the sender's Recovery."""
    return encode(GtpMessage(ECHO_REQUEST if request else ECHO_RESPONSE, seq, None,
                             recovery=restart_counter(sender)))


# -- templates --------------------------------------------------------------------------

# Layout of a session record: the per-packet values, each at a fixed offset, in wire format.
REC_IMSI = 0
REC_MSISDN = 8
REC_MEI = 16
REC_TAC = 24
REC_ECI = 26
REC_TEID = 30
"""Four TEIDs, by side."""
REC_PAA = 46
REC_CHARGING_ID = 50
REC_SEQ = 54
RECORD_LEN = 57


def session_record(h: GtpHop) -> bytes:
    """The per-packet values of ``h`` in the record layout (TBCD fields padded with F to 8 octets)."""
    tac, eci = cell_for(h.imsi)
    return b"".join((
        tbcd(str(h.imsi)).ljust(8, b"\xff"), tbcd(h.msisdn).ljust(8, b"\xff"),
        tbcd(str(mei_for(h.imsi))), struct.pack("!HI", tac, eci),
        b"".join(teid_for(h.e2e_id, s).to_bytes(4, "big") for s in range(4)),
        struct.pack("!II", ue_ipv4_for(h.imsi), charging_id_for(h.e2e_id)), h.seq.to_bytes(3, "big"),
    ))


@dataclass(frozen=True)
class GtpTemplate:
    """An encoded message of one shape and the copies that fill in a session record."""

    data: bytes
    ops: tuple[tuple[int, int, int], ...]
    """(offset in the message, offset in the record, length) per variable field."""

    def fill(self, buf: bytearray, base: int, record: bytes) -> None:
        """Copy the record's values into ``buf``, where the message starts at ``base``."""
        for dst, src, n in self.ops:
            buf[base + dst:base + dst + n] = record[src:src + n]


def template(h: GtpHop) -> GtpTemplate:
    """Encode the shape of ``h`` once and locate its variable fields."""
    data = encode(gtp_message(h))
    ops = [(SEQ_OFFSET, REC_SEQ, 3)]
    if h.header_side >= 0:
        ops.append((4, REC_TEID + 4 * h.header_side, 4))
    _, _, _, ies = parse(data)
    for e in (x for top in ies for x in (top, *top.children)):
        off = e.offset
        if e.type == IE_IMSI:
            ops.append((off, REC_IMSI, len(e.data)))
        elif e.type == IE_MSISDN:
            ops.append((off, REC_MSISDN, len(e.data)))
        elif e.type == IE_MEI:
            ops.append((off, REC_MEI, len(e.data)))
        elif e.type == IE_ULI:
            ops += [(off + 4, REC_TAC, 2), (off + 9, REC_ECI, 4)]
        elif e.type == IE_F_TEID:
            ops.append((off + 1, REC_TEID + 4 * SIDE_OF_INTERFACE[e.data[0] & 0x3F], 4))
        elif e.type == IE_PAA and h.accepted:
            ops.append((off + 1, REC_PAA, 4))
        elif e.type == IE_CHARGING_ID:
            ops.append((off, REC_CHARGING_ID, 4))
    return GtpTemplate(data, tuple(sorted(ops)))
