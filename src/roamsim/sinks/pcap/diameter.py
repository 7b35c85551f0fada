"""Diameter base protocol encoding (RFC 6733 §3, §4) and a minimal decoder.

Pure functions from values to bytes. Application codecs (``diameter_s6a``)
build their messages from these; the decoder exists for templates (finding
where a field sits) and for tests (round trips), not for parsing the wild.

Also the base-protocol messages a capture needs on every Diameter peer
connection: Capabilities-Exchange (CER/CEA, RFC 6733 §5.3) and
Device-Watchdog (DWR/DWA, §5.5).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from roamsim.catalogue.diameter import S6A_APPLICATION_ID, VENDOR_3GPP

VERSION = 1
HEADER_LEN = 20

# Command flags (RFC 6733 §3)
CMD_REQUEST = 0x80
CMD_PROXIABLE = 0x40
CMD_ERROR = 0x20
CMD_RETRANSMITTED = 0x10

# AVP flags (RFC 6733 §4.1)
AVP_VENDOR = 0x80
AVP_MANDATORY = 0x40

# Base commands (RFC 6733 §3.1)
CAPABILITIES_EXCHANGE = 257
DEVICE_WATCHDOG = 280
RELAY_APPLICATION_ID = 0xFFFFFFFF


class Code:
    """AVP codes used by the codecs (RFC 6733 §4.5, TS 29.272 §7.3, TS 29.229 §6.3, TS 29.212 §5.3)."""

    USER_NAME = 1
    HOST_IP_ADDRESS = 257
    AUTH_APPLICATION_ID = 258
    VENDOR_SPECIFIC_APPLICATION_ID = 260
    SESSION_ID = 263
    ORIGIN_HOST = 264
    SUPPORTED_VENDOR_ID = 265
    VENDOR_ID = 266
    FIRMWARE_REVISION = 267
    RESULT_CODE = 268
    PRODUCT_NAME = 269
    AUTH_SESSION_STATE = 277
    ORIGIN_STATE_ID = 278
    ROUTE_RECORD = 282
    DESTINATION_REALM = 283
    DESTINATION_HOST = 293
    ORIGIN_REALM = 296
    EXPERIMENTAL_RESULT = 297
    EXPERIMENTAL_RESULT_CODE = 298
    SERVICE_SELECTION = 493
    MAX_REQUESTED_BANDWIDTH_DL = 515
    MAX_REQUESTED_BANDWIDTH_UL = 516
    SUPPORTED_FEATURES = 628
    FEATURE_LIST_ID = 629
    FEATURE_LIST = 630
    MSISDN = 701
    QOS_CLASS_IDENTIFIER = 1028
    RAT_TYPE = 1032
    ALLOCATION_RETENTION_PRIORITY = 1034
    PRIORITY_LEVEL = 1046
    PRE_EMPTION_CAPABILITY = 1047
    PRE_EMPTION_VULNERABILITY = 1048
    SUBSCRIPTION_DATA = 1400
    ULR_FLAGS = 1405
    ULA_FLAGS = 1406
    VISITED_PLMN_ID = 1407
    REQUESTED_EUTRAN_AUTHENTICATION_INFO = 1408
    NUMBER_OF_REQUESTED_VECTORS = 1410
    IMMEDIATE_RESPONSE_PREFERRED = 1412
    AUTHENTICATION_INFO = 1413
    E_UTRAN_VECTOR = 1414
    NETWORK_ACCESS_MODE = 1417
    CANCELLATION_TYPE = 1420
    CONTEXT_IDENTIFIER = 1423
    SUBSCRIBER_STATUS = 1424
    ALL_APN_CONFIGURATIONS_INCLUDED_INDICATOR = 1428
    APN_CONFIGURATION_PROFILE = 1429
    APN_CONFIGURATION = 1430
    EPS_SUBSCRIBED_QOS_PROFILE = 1431
    AMBR = 1435
    PUA_FLAGS = 1442
    RAND = 1447
    XRES = 1448
    AUTN = 1449
    KASME = 1450
    PDN_TYPE = 1456
    PUR_FLAGS = 1635


GROUPED: frozenset[int] = frozenset({
    Code.VENDOR_SPECIFIC_APPLICATION_ID, Code.EXPERIMENTAL_RESULT, Code.SUPPORTED_FEATURES,
    Code.ALLOCATION_RETENTION_PRIORITY, Code.SUBSCRIPTION_DATA, Code.REQUESTED_EUTRAN_AUTHENTICATION_INFO,
    Code.AUTHENTICATION_INFO, Code.E_UTRAN_VECTOR, Code.APN_CONFIGURATION_PROFILE, Code.APN_CONFIGURATION,
    Code.EPS_SUBSCRIBED_QOS_PROFILE, Code.AMBR,
})
"""AVP codes whose data is a list of AVPs (the decoder descends into them)."""


# -- encoding -------------------------------------------------------------------


def avp(code: int, data: bytes, *, mandatory: bool = True, vendor: int | None = None) -> bytes:
    """One AVP, padded to 4 octets (the AVP Length excludes the padding, RFC 6733 §4.1)."""
    flags = AVP_MANDATORY if mandatory else 0
    if vendor is None:
        head = struct.pack("!II", code, (flags << 24) | (8 + len(data)))
    else:
        head = struct.pack("!III", code, ((flags | AVP_VENDOR) << 24) | (12 + len(data)), vendor)
    return head + data + b"\0" * (-len(data) % 4)


def u32(code: int, value: int, *, mandatory: bool = True, vendor: int | None = None) -> bytes:
    """An Unsigned32 or Enumerated AVP."""
    return avp(code, struct.pack("!I", value), mandatory=mandatory, vendor=vendor)


def u64(code: int, value: int, *, mandatory: bool = True, vendor: int | None = None) -> bytes:
    return avp(code, struct.pack("!Q", value), mandatory=mandatory, vendor=vendor)


def utf8(code: int, value: str, *, mandatory: bool = True, vendor: int | None = None) -> bytes:
    """A UTF8String or DiameterIdentity AVP."""
    return avp(code, value.encode("utf-8"), mandatory=mandatory, vendor=vendor)


def grouped(code: int, members: Iterable[bytes], *, mandatory: bool = True, vendor: int | None = None) -> bytes:
    return avp(code, b"".join(members), mandatory=mandatory, vendor=vendor)


def g3(code: int, members: Iterable[bytes], *, mandatory: bool = True) -> bytes:
    """A grouped 3GPP (vendor 10415) AVP."""
    return grouped(code, members, mandatory=mandatory, vendor=VENDOR_3GPP)


def u3(code: int, value: int, *, mandatory: bool = True) -> bytes:
    """An Unsigned32/Enumerated 3GPP (vendor 10415) AVP."""
    return u32(code, value, mandatory=mandatory, vendor=VENDOR_3GPP)


def o3(code: int, value: bytes, *, mandatory: bool = True) -> bytes:
    """An OctetString 3GPP (vendor 10415) AVP."""
    return avp(code, value, mandatory=mandatory, vendor=VENDOR_3GPP)


def address_ipv4(code: int, ipv4: bytes) -> bytes:
    """An Address AVP holding an IPv4 address (family 1, RFC 6733 §4.3.1)."""
    return avp(code, b"\x00\x01" + ipv4)


def experimental_result(code: int, vendor: int = VENDOR_3GPP) -> bytes:
    """Experimental-Result {Vendor-Id, Experimental-Result-Code} (RFC 6733 §7.6)."""
    return grouped(Code.EXPERIMENTAL_RESULT, [u32(Code.VENDOR_ID, vendor), u32(Code.EXPERIMENTAL_RESULT_CODE, code)])


def vendor_specific_application_id(app_id: int = S6A_APPLICATION_ID, vendor: int = VENDOR_3GPP) -> bytes:
    return grouped(Code.VENDOR_SPECIFIC_APPLICATION_ID, [u32(Code.VENDOR_ID, vendor),
                                                         u32(Code.AUTH_APPLICATION_ID, app_id)])


def message(command: int, flags: int, application_id: int, hop_by_hop: int, end_to_end: int,
            avps: Iterable[bytes]) -> bytes:
    """A Diameter message: the 20-octet header (RFC 6733 §3) and its AVPs."""
    body = b"".join(avps)
    length = HEADER_LEN + len(body)
    return struct.pack("!IIIII", (VERSION << 24) | length, (flags << 24) | command, application_id,
                       hop_by_hop & 0xFFFFFFFF, end_to_end & 0xFFFFFFFF) + body


# -- decoding -------------------------------------------------------------------


@dataclass(frozen=True)
class DecodedAvp:
    code: int
    flags: int
    vendor: int | None
    data: bytes
    offset: int
    """Offset of the AVP's data in the whole message."""
    children: tuple[DecodedAvp, ...] = ()

    @property
    def u32(self) -> int:
        value: int = struct.unpack("!I", self.data)[0]
        return value

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")

    def find(self, code: int) -> DecodedAvp | None:
        return next((c for c in self.children if c.code == code), None)


@dataclass(frozen=True)
class DecodedMessage:
    command: int
    flags: int
    application_id: int
    hop_by_hop: int
    end_to_end: int
    avps: tuple[DecodedAvp, ...] = field(default=())

    @property
    def is_request(self) -> bool:
        return bool(self.flags & CMD_REQUEST)

    def find(self, code: int) -> DecodedAvp | None:
        """The first top-level AVP with ``code``."""
        return next((a for a in self.avps if a.code == code), None)

    def find_all(self, code: int) -> list[DecodedAvp]:
        return [a for a in self.avps if a.code == code]

    def walk(self) -> Iterator[DecodedAvp]:
        """Every AVP, depth first."""
        stack = list(reversed(self.avps))
        while stack:
            a = stack.pop()
            yield a
            stack.extend(reversed(a.children))


class DecodeError(ValueError):
    """Bytes that are not a well-formed Diameter message."""


def _decode_avps(buf: bytes, start: int, end: int) -> tuple[DecodedAvp, ...]:
    out: list[DecodedAvp] = []
    pos = start
    while pos < end:
        if end - pos < 8:
            raise DecodeError(f"truncated AVP header at {pos}")
        code, word = struct.unpack_from("!II", buf, pos)
        flags, length = word >> 24, word & 0xFFFFFF
        head = 8
        vendor: int | None = None
        if flags & AVP_VENDOR:
            vendor = struct.unpack_from("!I", buf, pos + 8)[0]
            head = 12
        if length < head or pos + length > end:
            raise DecodeError(f"AVP {code} at {pos}: bad length {length}")
        data = bytes(buf[pos + head:pos + length])
        children = _decode_avps(buf, pos + head, pos + length) if code in GROUPED else ()
        out.append(DecodedAvp(code, flags, vendor, data, pos + head, children))
        pos += length + (-length % 4)
    if pos != end:
        raise DecodeError(f"AVPs end at {pos}, their container at {end}")
    return tuple(out)


def decode(buf: bytes) -> DecodedMessage:
    """Decode one Diameter message (header and AVPs, grouped AVPs of :data:`GROUPED` recursively)."""
    if len(buf) < HEADER_LEN:
        raise DecodeError("shorter than a Diameter header")
    w0, w1, app, hbh, e2e = struct.unpack_from("!IIIII", buf, 0)
    if w0 >> 24 != VERSION:
        raise DecodeError(f"version {w0 >> 24}")
    length = w0 & 0xFFFFFF
    if length != len(buf) or length % 4:
        raise DecodeError(f"message length {length} for {len(buf)} octets")
    return DecodedMessage(w1 & 0xFFFFFF, w1 >> 24, app, hbh, e2e, _decode_avps(buf, HEADER_LEN, length))


# -- base protocol messages ------------------------------------------------------

PRODUCT_NAME = "roamsim"


def capabilities_exchange(*, request: bool, host: str, realm: str, ipv4: bytes, hop_by_hop: int,
                          end_to_end: int, relay: bool, firmware: int = 1) -> bytes:
    """CER (``request``) or CEA with Result-Code 2001 (RFC 6733 §5.3.1-2).

    Diameter agents (DEA, IPX proxy) advertise the Relay application; end
    points advertise S6a as a vendor-specific application of 3GPP.
    """
    avps = []
    if not request:
        avps.append(u32(Code.RESULT_CODE, 2001))
    avps += [
        utf8(Code.ORIGIN_HOST, host),
        utf8(Code.ORIGIN_REALM, realm),
        address_ipv4(Code.HOST_IP_ADDRESS, ipv4),
        u32(Code.VENDOR_ID, 0),
        utf8(Code.PRODUCT_NAME, PRODUCT_NAME, mandatory=False),
        u32(Code.SUPPORTED_VENDOR_ID, VENDOR_3GPP),
    ]
    if relay:
        avps.append(u32(Code.AUTH_APPLICATION_ID, RELAY_APPLICATION_ID))
    else:
        avps.append(vendor_specific_application_id())
    avps.append(u32(Code.FIRMWARE_REVISION, firmware, mandatory=False))
    flags = CMD_REQUEST if request else 0
    return message(CAPABILITIES_EXCHANGE, flags, 0, hop_by_hop, end_to_end, avps)


def device_watchdog(*, request: bool, host: str, realm: str, hop_by_hop: int, end_to_end: int) -> bytes:
    """DWR (``request``) or DWA with Result-Code 2001 (RFC 6733 §5.5.1-2)."""
    avps = [] if request else [u32(Code.RESULT_CODE, 2001)]
    avps += [utf8(Code.ORIGIN_HOST, host), utf8(Code.ORIGIN_REALM, realm)]
    return message(DEVICE_WATCHDOG, CMD_REQUEST if request else 0, 0, hop_by_hop, end_to_end, avps)
