"""TCAP dialogues (ITU-T Q.773) carrying MAP v3 operations (TS 29.002), encoded with :mod:`.ber`.

* :class:`TcapMessage` / :func:`encode_tcap` / :func:`decode_tcap`: BEGIN, CONTINUE and END with
  their transaction ids, the dialogue portion (AARQ in the BEGIN, AARE in the responder's first message,
  Q.773 dialogue portion and TS 29.002 §17.3.3 application contexts) and the components (invoke,
  returnResultLast, returnError; Q.773 component portion).
* :func:`argument`, :func:`result` and :func:`error_parameter`: the MAP parameters of the simulated
  operations (TS 29.002 §17.6.x/§17.7.x ASN.1, tags as there), from a :class:`MapData` that names the
  subscriber and the network entities.

Numbers (ISDN-AddressString, AddressString) are international E.164 (nature of address 1, numbering
plan 1: first octet ``0x91``) followed by TBCD digits with filler ``F`` (TS 29.002 §17.7.8; TS 29.002
§17.7.1 TBCD-STRING). IMSIs are TBCD without that octet.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from roamsim.sinks.pcap import ber
from roamsim.sinks.pcap.ber import BerError, ctx, enumerated, integer, null, octets, seq, tlv

OPERATIONS: dict[str, int] = {
    "sendAuthenticationInfo": 56,
    "updateLocation": 2,
    "insertSubscriberData": 7,
    "cancelLocation": 3,
    "updateGprsLocation": 23,
    "purgeMS": 67,
    "sendRoutingInfoForSM": 45,
    "mt-forwardSM": 44,
    "mo-forwardSM": 46,
    "reportSM-DeliveryStatus": 47,
    "alertServiceCentre": 64,
}
"""MAP operation name → local operation code (TS 29.002 §17.5)."""

APPLICATION_CONTEXTS: dict[str, tuple[int, int]] = {
    "sendAuthenticationInfo": (14, 3),   # infoRetrievalContext-v3
    "updateLocation": (1, 3),            # networkLocUpContext-v3
    "insertSubscriberData": (16, 3),     # subscriberDataMngtContext-v3 (standalone)
    "cancelLocation": (2, 3),            # locationCancellationContext-v3
    "updateGprsLocation": (32, 3),       # gprsLocationUpdateContext-v3
    "purgeMS": (27, 3),                  # msPurgingContext-v3
    "sendRoutingInfoForSM": (20, 3),     # shortMsgGatewayContext-v3
    "mt-forwardSM": (25, 3),             # shortMsgMT-RelayContext-v3
    "mo-forwardSM": (21, 3),             # shortMsgMO-RelayContext-v3
    "reportSM-DeliveryStatus": (20, 3),  # shortMsgGatewayContext-v3
    "alertServiceCentre": (23, 2),       # shortMsgAlertContext-v2 (the highest version, TS 29.002 §17.3.3)
}
"""Operation that opens a dialogue → (application context, version) (TS 29.002 §17.3.3)."""

ERRORS: dict[int, str] = {
    1: "unknownSubscriber", 5: "unidentifiedSubscriber", 6: "absentSubscriberSM", 8: "roamingNotAllowed",
    27: "absentSubscriber", 34: "systemFailure", 35: "dataMissing", 36: "unexpectedDataValue",
}
"""MAP error codes with names (TS 29.002 §17.6.6); any other code is written as a bare returnError."""
ROAMING_NOT_ALLOWED = 8
PLMN_ROAMING_NOT_ALLOWED = 0
"""RoamingNotAllowedCause plmnRoamingNotAllowed (TS 29.002 §17.7.7)."""

DIALOGUE_AS_ID = (0, 0, 17, 773, 1, 1, 1)
"""Object identifier of the dialogue-as-id abstract syntax (Q.773 dialogue portion)."""
TID_LEN = 4
"""Octets of every transaction id written (Q.773 allows 1-4; fixed width so templates can patch them)."""

TAG_BEGIN, TAG_END, TAG_CONTINUE, TAG_ABORT = 0x62, 0x64, 0x65, 0x67
TAG_OTID, TAG_DTID, TAG_DIALOGUE, TAG_COMPONENTS = 0x48, 0x49, 0x6B, 0x6C
TAG_INVOKE, TAG_RESULT_LAST, TAG_ERROR, TAG_REJECT = 0xA1, 0xA2, 0xA3, 0xA4
TAG_AARQ, TAG_AARE = 0x60, 0x61

Kind = Literal["begin", "continue", "end"]
ComponentKind = Literal["invoke", "result", "error"]
_KIND_TAG: dict[str, int] = {"begin": TAG_BEGIN, "continue": TAG_CONTINUE, "end": TAG_END}
_TAG_KIND: dict[int, Kind] = {TAG_BEGIN: "begin", TAG_CONTINUE: "continue", TAG_END: "end"}


def application_context(operation: str) -> tuple[int, ...]:
    """The application-context-name OID of the dialogue an operation opens: {0 4 0 0 1 0 ac version}."""
    ac, version = APPLICATION_CONTEXTS[operation]
    return (0, 4, 0, 0, 1, 0, ac, version)


# -- TCAP ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Component:
    """One component: an invoke, a returnResultLast or a returnError (Q.773 component portion)."""

    kind: ComponentKind
    invoke_id: int
    code: int
    """Operation code (invoke, result) or error code (error), local values."""
    parameter: bytes | None = None
    """The parameter as one BER TLV, or None (a result without one is a bare returnResultLast)."""


@dataclass(frozen=True)
class DialoguePortion:
    """AARQ (``request``) or AARE (accepted, no diagnostic) with the dialogue's application context."""

    request: bool
    context: tuple[int, ...]


@dataclass(frozen=True)
class TcapMessage:
    """A TCAP message: ``otid`` for BEGIN and CONTINUE, ``dtid`` for CONTINUE and END (4-octet ids)."""

    kind: Kind
    otid: int | None
    dtid: int | None
    dialogue: DialoguePortion | None
    components: tuple[Component, ...]


def _dialogue(d: DialoguePortion) -> bytes:
    version = ctx(0, ber.bit_string_contents(1, 1))  # protocol-version version1 (Q.773 dialogue portion)
    context = ctx(1, ber.oid(d.context), constructed=True)
    if d.request:
        pdu = tlv(bytes((TAG_AARQ,)), version + context)
    else:
        result = ctx(2, integer(0), constructed=True)  # accepted
        diagnostic = ctx(3, ctx(1, integer(0), constructed=True), constructed=True)  # dialogue-service-user null
        pdu = tlv(bytes((TAG_AARE,)), version + context + result + diagnostic)
    external = tlv(b"\x28", ber.oid(DIALOGUE_AS_ID) + ctx(0, pdu, constructed=True))  # single-ASN1-type
    return tlv(bytes((TAG_DIALOGUE,)), external)


def _component(c: Component) -> bytes:
    head = integer(c.invoke_id) + integer(c.code)
    if c.kind == "invoke":
        return tlv(bytes((TAG_INVOKE,)), head + (c.parameter or b""))
    if c.kind == "result":
        body = integer(c.invoke_id)
        if c.parameter is not None:
            body += seq(integer(c.code), c.parameter)
        return tlv(bytes((TAG_RESULT_LAST,)), body)
    return tlv(bytes((TAG_ERROR,)), head + (c.parameter or b""))


def encode_tcap(m: TcapMessage) -> bytes:
    """The BER of a TCAP message (Q.773 TCMessage)."""
    body = b""
    if m.otid is not None:
        body += tlv(bytes((TAG_OTID,)), struct.pack("!I", m.otid))
    if m.dtid is not None:
        body += tlv(bytes((TAG_DTID,)), struct.pack("!I", m.dtid))
    if m.dialogue is not None:
        body += _dialogue(m.dialogue)
    if m.components:
        body += tlv(bytes((TAG_COMPONENTS,)), b"".join(_component(c) for c in m.components))
    return tlv(bytes((_KIND_TAG[m.kind],)), body)


def _decode_dialogue(t: ber.Tlv) -> DialoguePortion:
    external = t.children()
    if len(external) != 1 or external[0].number != ber.EXTERNAL:
        raise BerError("dialogue portion is not one EXTERNAL")
    ref, enc = external[0].children()
    if ber.decode_oid(ref.contents) != DIALOGUE_AS_ID:
        raise BerError(f"dialogue abstract syntax {ber.decode_oid(ref.contents)}")
    (pdu,) = enc.children()
    if not pdu.is_(ber.APPLICATION, 0) and not pdu.is_(ber.APPLICATION, 1):
        raise BerError(f"dialogue PDU [APPLICATION {pdu.number}] is neither AARQ nor AARE")
    context: tuple[int, ...] | None = None
    for f in pdu.children():
        if f.is_(ber.CONTEXT, 1):
            context = ber.decode_oid(f.children()[0].contents)
    if context is None:
        raise BerError("dialogue PDU without application-context-name")
    return DialoguePortion(request=pdu.number == 0, context=context)


def _decode_component(t: ber.Tlv) -> Component:
    parts = t.children()
    if not parts or parts[0].number != ber.INTEGER:
        raise BerError("component without invokeID")
    invoke_id = ber.decode_integer(parts[0].contents)
    if t.cls != ber.CONTEXT or t.number not in (1, 2, 3):
        raise BerError(f"component [{t.number}] is not invoke, returnResultLast or returnError")
    if t.number == 2:
        if len(parts) == 1:
            return Component("result", invoke_id, 0, None)
        inner = parts[1].children()
        param = None
        if len(inner) > 1:
            p = inner[1]
            param = ber.identifier(p.cls, p.number, p.constructed) + ber.length(len(p.contents)) + p.contents
        return Component("result", invoke_id, ber.decode_integer(inner[0].contents), param)
    if len(parts) < 2:
        raise BerError("component without operation or error code")
    param = None
    if len(parts) > 2:
        p = parts[2]
        param = ber.identifier(p.cls, p.number, p.constructed) + ber.length(len(p.contents)) + p.contents
    kind: ComponentKind = "invoke" if t.number == 1 else "error"
    return Component(kind, invoke_id, ber.decode_integer(parts[1].contents), param)


def decode_tcap(data: bytes) -> TcapMessage:
    """A TCAP message as :func:`encode_tcap` writes it."""
    top, end = ber.decode_one(data)
    if end != len(data):
        raise BerError(f"{len(data) - end} octets after the TCAP message")
    kind = _TAG_KIND.get(data[0])
    if kind is None:
        raise BerError(f"TCAP message tag {data[0]:#04x} is not BEGIN, CONTINUE or END")
    otid = dtid = None
    dialogue = None
    comps: tuple[Component, ...] = ()
    for part in top.children():
        if part.is_(ber.APPLICATION, 8):
            otid = int.from_bytes(part.contents, "big")
        elif part.is_(ber.APPLICATION, 9):
            dtid = int.from_bytes(part.contents, "big")
        elif part.is_(ber.APPLICATION, 11):
            dialogue = _decode_dialogue(part)
        elif part.is_(ber.APPLICATION, 12):
            comps = tuple(_decode_component(c) for c in part.children())
        else:
            raise BerError(f"unexpected [APPLICATION {part.number}] in a TCAP message")
    return TcapMessage(kind, otid, dtid, dialogue, comps)


# -- MAP values ------------------------------------------------------------------------


def tbcd(digits: str) -> bytes:
    """TBCD-STRING (TS 29.002 §17.7.1): two digits per octet, first in the low nibble, filler F."""
    if not digits.isdigit():
        raise ValueError(f"TBCD digits must be decimal digits, got {digits!r}")
    padded = digits + "F" if len(digits) % 2 else digits
    return bytes.fromhex("".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2)))


def address_string(digits: str) -> bytes:
    """ISDN-AddressString / AddressString: international number, E.164 plan (0x91), then TBCD digits."""
    return b"\x91" + tbcd(digits)


def decode_tbcd(raw: bytes) -> str:
    """The digits of a TBCD-STRING."""
    out = []
    for b in raw:
        out.append(b & 0x0F)
        out.append(b >> 4)
    if out and out[-1] == 0xF:
        out.pop()
    if any(d > 9 for d in out):
        raise BerError(f"not TBCD digits: {raw.hex()}")
    return "".join(str(d) for d in out)


@dataclass(frozen=True)
class Quintuplet:
    """A UMTS authentication vector (TS 33.102 §6.3.2): RAND, XRES, CK, IK, AUTN."""

    rand: bytes
    xres: bytes
    ck: bytes
    ik: bytes
    autn: bytes


AMF_UMTS = b"\x00\x00"
"""Authentication management field of a UMTS vector (TS 33.102 Annex F: no separation bit)."""


def quintuplet(imsi: int, txn_id: int) -> Quintuplet:
    """A deterministic stand-in vector for one transaction (BLAKE2b of the IMSI and the transaction).

    Well-formed (AUTN = SQN⊕AK ‖ AMF ‖ MAC, 16 octets; 8-octet XRES) but derived from no key.
    """
    h = hashlib.blake2b(struct.pack("<qq", imsi, txn_id), digest_size=64, person=b"roamsim-umts").digest()
    return Quintuplet(rand=h[0:16], xres=h[16:24], ck=h[24:40], ik=h[40:56], autn=h[56:62] + AMF_UMTS + h[62:64]
                      + hashlib.blake2b(h, digest_size=6, person=b"roamsim-mac").digest())


def scts(t_ns: int) -> bytes:
    """TP-Service-Centre-Time-Stamp (TS 23.040 §9.2.3.11): UTC, semi-octets swapped, time zone 0."""
    d = datetime.fromtimestamp(t_ns // 1_000_000_000, UTC)
    return bytes(((v % 10) << 4) | (v // 10) for v in (d.year % 100, d.month, d.day, d.hour, d.minute, d.second, 0))


SMS_TEXT = "roamsim test message"
"""User data of the simulated short messages (GSM 7-bit default alphabet, TS 23.038 §6.2.1)."""


def gsm7_pack(text: str) -> bytes:
    """Septets packed LSB first (TS 23.038 §6.1.2.1); ``text`` must use letters, digits and space only."""
    if not all(c.isascii() and (c.isalnum() or c == " ") for c in text):
        raise ValueError(f"only ASCII letters, digits and space map 1:1 to GSM 7-bit: {text!r}")
    acc = nbits = 0
    out = bytearray()
    for c in text:
        acc |= ord(c) << nbits
        nbits += 7
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc & 0xFF)
    return bytes(out)


def _sms_address(digits: str) -> bytes:
    """TP-OA / TP-DA (TS 23.040 §9.1.2.5): digit count, international E.164 (0x91), TBCD digits."""
    return bytes((len(digits),)) + address_string(digits)


def sms_deliver(originator: str, timestamp: bytes, text: str = SMS_TEXT) -> bytes:
    """An SMS-DELIVER TPDU (TS 23.040 §9.2.2.1): no more messages, PID 0, DCS 0 (GSM 7-bit)."""
    return b"\x04" + _sms_address(originator) + b"\x00\x00" + timestamp + bytes((len(text),)) + gsm7_pack(text)


def sms_submit(destination: str, reference: int = 0, text: str = SMS_TEXT) -> bytes:
    """An SMS-SUBMIT TPDU (TS 23.040 §9.2.2.2): no validity period, PID 0, DCS 0 (GSM 7-bit)."""
    return bytes((0x01, reference & 0xFF)) + _sms_address(destination) + b"\x00\x00" + bytes((len(text),)) + \
        gsm7_pack(text)


@dataclass(frozen=True)
class MapData:
    """What the parameters of one operation say: the subscriber and the numbers of the entities involved.

    Numbers are E.164 digit strings (global titles of :mod:`roamsim.sinks.pcap.numbering`). ``gprs``
    marks the packet-switched variant: an SGSN asks for vectors or purges, the HLR sends GPRS
    subscription data, the short message goes to or comes from an SGSN.
    """

    imsi: str = ""
    msisdn: str = ""
    vlr: str = ""
    """VLR number, also used as the MSC number (a combined MSC/VLR)."""
    sgsn: str = ""
    sgsn_ipv4: bytes = b"\0\0\0\0"
    hlr: str = ""
    smsc: str = ""
    serving_node: str = ""
    """The node that serves the subscriber, for the SRI-for-SM result (an MSC or, with ``gprs``, an SGSN)."""
    visited_plmn: bytes = b"\0\0\0"
    gprs: bool = False
    vector: Quintuplet | None = None
    sm_timestamp: bytes = b"\0" * 7


def _gsn_address(ipv4: bytes) -> bytes:
    """GSN-Address (TS 29.002 §17.7.1, TS 23.003 §5.1): address type IPv4 with length 4, then the address."""
    return b"\x04" + ipv4


def _isd_argument(d: MapData) -> bytes:
    """InsertSubscriberDataArg (TS 29.002 §17.7.1): IMSI, MSISDN, category, status, then CS teleservices
    (telephony, SMS MT/MO) or, for an SGSN, GPRS subscription data with one IPv4 PDP context."""
    head = ctx(0, tbcd(d.imsi)) + ctx(1, address_string(d.msisdn)) + ctx(2, b"\x0a") + enumerated(0, b"\x83")
    if not d.gprs:
        return seq(head, ctx(6, octets(b"\x11") + octets(b"\x21") + octets(b"\x22"), constructed=True))
    pdp = seq(integer(1),
              ctx(16, b"\xf1\x21"),            # PDP type IETF IPv4 (TS 29.060 §7.7.27)
              ctx(18, b"\x23\x92\x1f"),        # QoS (TS 24.008 §10.5.6.5 octets 3-5): delay 2, reliab. 3, best effort
              ctx(20, b"\x08internet"))        # APN "internet" (TS 23.003 §9.1 label encoding)
    gprs = ctx(16, null() + ctx(1, pdp, constructed=True), constructed=True)
    return seq(head, gprs, enumerated(2, ber.identifier(ber.CONTEXT, 24)))  # networkAccessMode onlyPacket


def argument(operation: str, d: MapData) -> bytes:
    """The invoke parameter of ``operation`` (TS 29.002 §17.6/§17.7 argument types)."""
    if operation == "sendAuthenticationInfo":
        return seq(ctx(0, tbcd(d.imsi)), integer(1),  # numberOfRequestedVectors
                   enumerated(1 if d.gprs else 0, b"\x83"),  # requestingNodeType vlr / sgsn
                   ctx(4, d.visited_plmn))  # requestingPLMN-Id
    if operation == "updateLocation":
        vlr = address_string(d.vlr)
        return seq(octets(tbcd(d.imsi)), ctx(1, vlr), octets(vlr),
                   ctx(6, ctx(0, ber.bit_string_contents(0b1110, 4)), constructed=True))  # vlr-Capability: CAMEL 1-3
    if operation == "insertSubscriberData":
        return _isd_argument(d)
    if operation == "cancelLocation":
        return tlv(b"\xa3", octets(tbcd(d.imsi)) + enumerated(0))  # [3] identity imsi, updateProcedure
    if operation == "updateGprsLocation":
        return seq(octets(tbcd(d.imsi)), octets(address_string(d.sgsn)), octets(_gsn_address(d.sgsn_ipv4)))
    if operation == "purgeMS":
        number = ctx(1, address_string(d.sgsn)) if d.gprs else ctx(0, address_string(d.vlr))
        return tlv(b"\xa3", octets(tbcd(d.imsi)) + number)
    if operation == "sendRoutingInfoForSM":
        return seq(ctx(0, address_string(d.msisdn)), ber.boolean(True, b"\x81"),  # sm-RP-PRI
                   ctx(2, address_string(d.smsc)))
    if operation == "mt-forwardSM":
        return seq(ctx(0, tbcd(d.imsi)), ctx(4, address_string(d.smsc)),
                   octets(sms_deliver(d.smsc, d.sm_timestamp)))
    if operation == "mo-forwardSM":
        return seq(ctx(4, address_string(d.smsc)), ctx(2, address_string(d.msisdn)), octets(sms_submit(d.smsc)),
                   octets(tbcd(d.imsi)))
    if operation == "reportSM-DeliveryStatus":
        return seq(octets(address_string(d.msisdn)), octets(address_string(d.smsc)), enumerated(1))  # absentSubscr.
    if operation == "alertServiceCentre":
        return seq(octets(address_string(d.msisdn)), octets(address_string(d.smsc)))
    raise ValueError(f"unknown MAP operation {operation!r}")


def result(operation: str, d: MapData) -> bytes | None:
    """The returnResultLast parameter of ``operation``, or None when the operation returns none."""
    if operation == "sendAuthenticationInfo":
        v = d.vector
        if v is None:
            raise ValueError("a sendAuthenticationInfo result needs a vector")
        q = seq(octets(v.rand), octets(v.xres), octets(v.ck), octets(v.ik), octets(v.autn))
        return tlv(b"\xa3", ctx(1, q, constructed=True))  # [3] quintupletList [1]
    if operation in ("updateLocation", "updateGprsLocation"):
        return seq(octets(address_string(d.hlr)))
    if operation in ("insertSubscriberData", "cancelLocation", "purgeMS", "mt-forwardSM", "mo-forwardSM"):
        return seq()
    if operation == "sendRoutingInfoForSM":
        node = ctx(1, address_string(d.serving_node)) + (ctx(5, b"") if d.gprs else b"")  # gprsNodeIndicator
        return seq(octets(tbcd(d.imsi)), ctx(0, node, constructed=True))
    if operation == "reportSM-DeliveryStatus":
        return seq(octets(address_string(d.msisdn)))  # storedMSISDN
    if operation == "alertServiceCentre":
        return None
    raise ValueError(f"unknown MAP operation {operation!r}")


def error_parameter(code: int) -> bytes | None:
    """The returnError parameter: roamingNotAllowed carries plmnRoamingNotAllowed (TS 29.002 §17.7.7); the
    other errors are sent without their optional parameter."""
    if code == ROAMING_NOT_ALLOWED:
        return seq(enumerated(PLMN_ROAMING_NOT_ALLOWED))
    return None
