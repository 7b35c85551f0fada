"""MAP message rows → Ethernet/IPv4/SCTP/M3UA/SCCP/TCAP/MAP packets in a pcapng file, at template speed.

**Dialogues.** A row's ``e2e_id`` names its TCAP dialogue. A message (a transaction's invoke, or its
result) is placed in its dialogue the first time one of its rows appears, and every hop of it then
carries the same SCCP, TCAP and MAP bytes (the STPs and the IPX relay on the global title, ITU-T Q.714):

* an invoke whose dialogue is not open opens it with a BEGIN (AARQ with the operation's application
  context, invoke id 1); so does a retransmission (``retrans`` > 0) of the opening invoke;
* the answer to the opening invoke closes it with an END (returnResultLast or returnError);
* anything else is a CONTINUE: an invoke nested in the dialogue (insertSubscriberData sent by the HLR
  inside updateLocation or updateGprsLocation, invoke ids 2, 3, ...) and its result;
* the responder's first message carries the AARE (ITU-T Q.774 dialogue handling; TS 29.002 §15).

Transaction ids: the initiator's is ``e2e_id + retrans × 0x9E3779B9`` mod 2**32 (the low 32 bits of
``e2e_id`` for a first attempt; a retransmitted BEGIN starts a new transaction, the old one having timed
out, ITU-T Q.774), the responder's that value times 0x9E3779B1 (mod 2**32, a bijection). An answer
whose dialogue start is not among the rows (a capture that starts mid-dialogue) is written as if the
dialogue had been opened.

**Addresses.** Global titles (E.164, :mod:`.numbering`) route every message; the subsystem is the HLR's
(6), the VLR's (7), the MSC's (8, also the SMSC's, the SMSF's and the MSC/VLR's for short messages)
or the SGSN's (149). The BEGIN of a dialogue that a VLR or SGSN opens towards the HLR is called on the E.214
MGT of the IMSI, an SRI-for-SM on the MSISDN; later messages use the HLR's own title, and the home
HLR is the responding side of such dialogues even when a home STP answers for it (steering). The M3UA
OPC and DPC are the hop's sender and receiver (:func:`.sigtran.point_codes`); SLS is ``e2e_id`` mod 16
and the SCTP stream ``1 + e2e_id`` mod 9, so a dialogue stays in sequence.

**Links.** The first message on a pair of adjacent elements opens it: an interface (IDB), the SCTP
association (PPID 3, port 2905), then ASPUP / ASPUP-ACK and ASPAC / ASPAC-ACK on stream 0 from the
element that sent that message, timestamped just before it and never before the packet written last.

**Speed.** A message *shape* is everything but its IMSI, MSISDN, called-party digits, transaction ids,
vector and SMS timestamp; each is encoded once (:func:`template`) and the variable fields are patched at
the offsets found by encoding it with two fillings. The frame around a payload is built once per link
direction and length; per packet the loop copies it and sets the pcapng timestamp and comment, the SLS,
the IPv4 identification and checksum, TSN, stream, SSN and the CRC32c.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, NamedTuple

import numpy as np

from roamsim.sinks.pcap import sigtran
from roamsim.sinks.pcap.addressing import Addressing, Element
from roamsim.sinks.pcap.crc32c import crc32c
from roamsim.sinks.pcap.numbering import element_gt, mgt_for, msisdn_for
from roamsim.sinks.pcap.pcapng import EPB, EPB_HEAD_LEN, OPT_COMMENT, PcapngWriter, comment_option
from roamsim.sinks.pcap.sctp import (
    DATA_PAYLOAD_OFFSET,
    ETH_LEN,
    L2_L4_LEN,
    SCTP_COMMON_LEN,
    STREAMS,
    DataFrameTemplate,
    Direction,
    SctpAssociation,
)
from roamsim.sinks.pcap.tcap_map import (
    OPERATIONS,
    Component,
    ComponentKind,
    DialoguePortion,
    Kind,
    MapData,
    Quintuplet,
    TcapMessage,
    application_context,
    argument,
    encode_tcap,
    error_parameter,
    quintuplet,
    result,
    scts,
    tbcd,
)

MESSAGE_NAMES: tuple[str, ...] = tuple(OPERATIONS)
"""Index → MAP operation name (``msg`` column of the rows)."""
SETUP_SPACING_NS = 50_000
"""Spacing of the link set-up packets written just before a link's first message."""
MESSAGE_TTL_NS = 60_000_000_000
"""How long a message's bytes are kept for its later hops (its hops are milliseconds apart)."""
DIALOGUE_IDLE_NS = 600_000_000_000
"""An open dialogue with no new message for this long is forgotten (TCAP ml timer, TS 29.002 §17.1.2: ≤ 10 min)."""
SERVING_CACHE = 1 << 20
"""IMSIs whose serving MSC/VLR, SGSN or SMSF is remembered (for the SRI-for-SM result); cleared when full."""
FLUSH_BLOCKS = 8192
TID_MULTIPLIER = 0x9E3779B1
TID_RETRANS_STEP = 0x9E3779B9

HLR_TARGETED = frozenset({"sendAuthenticationInfo", "updateLocation", "updateGprsLocation", "purgeMS",
                          "sendRoutingInfoForSM", "reportSM-DeliveryStatus"})
"""Operations addressed to the subscriber's HLR (their responding side is the home HLR)."""
SMS_RELAY = frozenset({"mt-forwardSM", "mo-forwardSM"})
"""Operations between an SMSC and an MSC or SGSN (the MSC/VLR answers on the MSC's subsystem)."""

Portion = Literal["", "aarq", "aare"]
"""No dialogue portion, an AARQ or an AARE."""
_EPB_HEAD = EPB_HEAD_LEN
_M3UA_AT = _EPB_HEAD + DATA_PAYLOAD_OFFSET
_SLS_AT = _M3UA_AT + sigtran.DATA_SLS_OFFSET
_ZERO_VECTOR = Quintuplet(b"\0" * 16, b"\0" * 8, b"\0" * 16, b"\0" * 16, b"\0" * 16)
_NO_DATA = MapData()
_NO_STAMP = b"\0" * 7
_SRI_SM = list(OPERATIONS).index("sendRoutingInfoForSM")
_SERVING_KINDS = ("vlr", "sgsn", "smsf")
_USES: dict[str, tuple[str, ...]] = {
    "sendAuthenticationInfo": ("visited_plmn", "gprs"),
    "updateLocation": ("vlr", "hlr"),
    "insertSubscriberData": ("gprs",),
    "cancelLocation": (),
    "updateGprsLocation": ("sgsn", "sgsn_ipv4", "hlr"),
    "purgeMS": ("vlr", "sgsn", "gprs"),
    "sendRoutingInfoForSM": ("smsc", "serving_node", "gprs"),
    "mt-forwardSM": ("smsc",),
    "mo-forwardSM": ("smsc",),
    "reportSM-DeliveryStatus": ("smsc",),
    "alertServiceCentre": ("smsc",),
}
"""The fixed :class:`MapData` fields each operation's parameters use (the others do not split shapes)."""


# -- payload shapes ------------------------------------------------------------------


@dataclass(frozen=True)
class MapShape:
    """Everything about a message's SCCP/TCAP/MAP bytes except the fields of :class:`MessageValues`."""

    operation: str
    component: ComponentKind
    code: int
    """Operation code, or the error code of a returnError."""
    kind: Kind
    dialogue: Portion
    context_operation: str
    """The operation that opened the dialogue (its application context goes into the AARQ/AARE)."""
    invoke_id: int
    called_ssn: int
    called_gt: str
    """The called party's global title; empty when it is the variable MGT or MSISDN (``called_len`` digits)."""
    called_len: int
    calling_ssn: int
    calling_gt: str
    imsi_len: int
    msisdn_len: int
    data: MapData
    """The fixed numbers of the message (its IMSI, MSISDN, vector and timestamp are not used)."""


@dataclass(frozen=True)
class MessageValues:
    """The fields patched per message."""

    otid: int
    dtid: int
    imsi: str
    msisdn: str
    called: str
    vector: Quintuplet
    sm_timestamp: bytes


def encode_payload(shape: MapShape, v: MessageValues) -> bytes:
    """The full SCCP UDT of a message (the slow path and the reference for :func:`template`)."""
    d = replace(shape.data, imsi=v.imsi, msisdn=v.msisdn, vector=v.vector, sm_timestamp=v.sm_timestamp)
    op = shape.operation
    param: bytes | None
    if shape.component == "invoke":
        param = argument(op, d)
    elif shape.component == "result":
        param = result(op, d)
    else:
        param = error_parameter(shape.code)
    portion = None if not shape.dialogue else DialoguePortion(
        shape.dialogue == "aarq", application_context(shape.context_operation))
    tcap = encode_tcap(TcapMessage(
        shape.kind, v.otid if shape.kind != "end" else None, v.dtid if shape.kind != "begin" else None, portion,
        (Component(shape.component, shape.invoke_id, shape.code, param),)))
    called = sigtran.gt_address(shape.called_ssn, shape.called_gt or v.called)
    return sigtran.udt(called, sigtran.gt_address(shape.calling_ssn, shape.calling_gt), tcap)


_SLOT_FIELDS = ("otid", "dtid", "imsi", "msisdn", "called", "rand", "xres", "ck", "ik", "autn", "sm_timestamp")


def _fill_a(shape: MapShape) -> MessageValues:
    return MessageValues(0, 0, "1" * shape.imsi_len, "1" * shape.msisdn_len, "1" * shape.called_len,
                         _ZERO_VECTOR, b"\0" * 7)


def _fill_b(a: MessageValues, name: str) -> MessageValues:
    if name == "otid":
        return replace(a, otid=0xFFFFFFFF)
    if name == "dtid":
        return replace(a, dtid=0xFFFFFFFF)
    if name == "imsi":
        return replace(a, imsi="2" * len(a.imsi))
    if name == "msisdn":
        return replace(a, msisdn="2" * len(a.msisdn))
    if name == "called":
        return replace(a, called="2" * len(a.called))
    if name == "sm_timestamp":
        return replace(a, sm_timestamp=b"\xff" * 7)
    part: bytes = getattr(a.vector, name)
    return replace(a, vector=replace(a.vector, **{name: b"\xff" * len(part)}))


@dataclass(frozen=True)
class PayloadTemplate:
    """A shape's payload with the offsets of its variable fields (each may occur more than once)."""

    data: bytes
    slots: tuple[tuple[str, tuple[int, ...], int], ...]
    """(field, offsets, length)."""

    def fill(self, v: MessageValues) -> bytes:
        """The payload with ``v``'s fields patched in (equal to :func:`encode_payload`)."""
        buf = bytearray(self.data)
        for name, offsets, n in self.slots:
            value = _encoded(v, name)
            if len(value) != n:
                raise ValueError(f"{name} is {len(value)} octets where the template has {n}")
            for o in offsets:
                buf[o:o + n] = value
        return bytes(buf)


def _encoded(v: MessageValues, name: str) -> bytes:
    if name in ("otid", "dtid"):
        return struct.pack("!I", getattr(v, name))
    if name in ("imsi", "msisdn"):
        return tbcd(getattr(v, name))
    if name == "called":
        return sigtran.bcd_digits(v.called)
    if name == "sm_timestamp":
        return v.sm_timestamp
    value: bytes = getattr(v.vector, name)
    return value


def template(shape: MapShape) -> PayloadTemplate:
    """Encode ``shape`` once and find where each variable field sits, by encoding it with one field changed."""
    a = _fill_a(shape)
    base = encode_payload(shape, a)
    slots = []
    sai_result = shape.operation == "sendAuthenticationInfo" and shape.component == "result"
    mt_invoke = shape.operation == "mt-forwardSM" and shape.component == "invoke"
    absent = {"called"} if not shape.called_len else set()
    if not sai_result:
        absent |= {"rand", "xres", "ck", "ik", "autn"}
    if not mt_invoke:
        absent.add("sm_timestamp")
    for name in _SLOT_FIELDS:
        if name in absent:
            continue  # not in this shape (a test fills every field of every shape and compares)
        other = encode_payload(shape, _fill_b(a, name))
        if len(other) != len(base):
            raise AssertionError(f"{name} changed the length of {shape.operation}")
        diff = [i for i, (x, y) in enumerate(zip(base, other, strict=True)) if x != y]
        if not diff:
            continue
        n = len(_encoded(a, name))
        offsets = tuple(diff[i] for i in range(0, len(diff), n))
        if len(diff) % n or any(diff[i:i + n] != list(range(o, o + n)) for i, o in zip(
                range(0, len(diff), n), offsets, strict=True)):
            raise AssertionError(f"{name} of {shape.operation} is not {n} contiguous octets")
        slots.append((name, offsets, n))
    return PayloadTemplate(base, tuple(slots))


# -- the emitter ------------------------------------------------------------------------


@dataclass(slots=True)
class _Dialogue:
    initiator: int
    responder: int
    open_txn: int
    open_msg: int
    itid: int
    rtid: int
    last: int
    responder_spoke: bool = False
    next_invoke: int = 2
    invokes: dict[int, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Link:
    assoc: SctpAssociation
    iface: int


class _Frame(NamedTuple):
    """EPB header + frame up to the payload, the padding after it, and what the per-packet loop patches."""

    head: bytes
    tail: bytes
    base_total: int
    iface: int
    ip_sum: int
    state: Direction
    crc_end: int


class MapEmitter:
    """Writes MAP message rows (see :meth:`emit`) as SIGTRAN packets into a :class:`PcapngWriter`.

    ``reference``: encode every packet in full, one layer after the other (:func:`encode_payload`,
    :func:`.sigtran.data`, :meth:`SctpAssociation.data_frame`, :meth:`PcapngWriter.packet`), without
    templates: the slow path the tests compare the template path with, byte for byte.
    """

    def __init__(self, writer: PcapngWriter, addressing: Addressing, element_names: Sequence[str],
                 op_ids: Sequence[str], op_country: Sequence[str], *, reference: bool = False) -> None:
        self.writer = writer
        self.reference = reference
        self.addressing = addressing
        self.element_names = list(element_names)
        self.op_ids = list(op_ids)
        self.op_country = list(op_country)
        self._op_index = {op: i for i, op in enumerate(self.op_ids)}
        self._by_name = {name: i for i, name in enumerate(self.element_names)}
        self._elements: dict[int, Element] = {}
        self._gts: dict[int, str] = {}
        self._pc = sigtran.point_codes(self.element_names)
        self.messages = 0
        self.first_time: int | None = None
        self.last_time: int | None = None
        self._written = -(1 << 62)
        """Time of the packet written last."""
        self._links: dict[tuple[int, int], _Link] = {}
        self._frames: dict[int, _Frame] = {}
        """Frame around a payload, by ``(sender << 40) | (receiver << 16) | payload length``."""
        self._templates: dict[MapShape, PayloadTemplate] = {}
        self._shapes: dict[tuple[int | bool | str, ...], tuple[MapShape, str, PayloadTemplate]] = {}
        self._kinds = [self.element(i).kind for i in range(len(self.element_names))]
        self._plmns = [str(addressing.plmn_of(op)) for op in self.op_ids]
        self._payloads: dict[int, bytes] = {}
        self._described: dict[int, tuple[MapShape, MessageValues]] = {}
        self._payload_times: deque[tuple[int, int]] = deque()
        self._dialogues: dict[int, _Dialogue] = {}
        self._dialogue_times: deque[tuple[int, int]] = deque()
        self._serving: dict[int, int] = {}
        self._next_sweep = -(1 << 62)

    # -- elements and numbers ------------------------------------------------------------
    def element(self, idx: int) -> Element:
        e = self._elements.get(idx)
        if e is None:
            e = self._elements[idx] = self.addressing.element(self.element_names[idx])
        return e

    def _country(self, e: Element) -> str:
        if e.operator is None:
            raise ValueError(f"{e.name} has no operator")
        return self.op_country[self._op_index[e.operator]]

    def gt(self, idx: int) -> str:
        """The E.164 global title of an element."""
        found = self._gts.get(idx)
        if found is None:
            e = self.element(idx)
            found = self._gts[idx] = element_gt(e, self._country(e) if e.operator is not None else "")
        return found

    def _named(self, op: int, kind: str) -> int:
        name = f"{self.op_ids[op]}.{kind}"
        found = self._by_name.get(name)
        if found is None:
            raise ValueError(f"the MAP capture needs element {name!r}, which the world does not have")
        return found

    def _ssn(self, idx: int, context_operation: str) -> int:
        kind = self.element(idx).kind
        if kind == "hlr":
            return sigtran.SSN_HLR
        if kind == "sgsn":
            return sigtran.SSN_SGSN
        if kind in ("smsc", "smsf"):
            return sigtran.SSN_MSC
        if kind == "vlr":
            return sigtran.SSN_MSC if context_operation in SMS_RELAY else sigtran.SSN_VLR
        raise ValueError(f"element {self.element(idx).name} ({kind}) is not a MAP entity")

    def serving_node(self, imsi: int, visited_op: int) -> int:
        """The MSC/VLR or SGSN last seen serving ``imsi``, else the visited network's first VLR (or SGSN)."""
        found = self._serving.get(imsi)
        if found is not None:
            return found
        op = self.op_ids[visited_op]
        for kind in ("vlr1", "sgsn1"):
            idx = self._by_name.get(f"{op}.{kind}")
            if idx is not None:
                return idx
        raise ValueError(f"no MSC/VLR or SGSN of {op} to name as the serving node of IMSI {imsi}")

    # -- dialogues ------------------------------------------------------------------------
    def _place(self, msg: int, is_req: bool, txn: int, e2e: int, retrans: int, t: int, origin: int,
               responder: int) -> tuple[_Dialogue, Kind, Portion, int, bool]:
        """Put a new message into its dialogue: (dialogue, TCAP kind, dialogue portion, invoke id, from initiator)."""
        dialogues = self._dialogues
        d = dialogues.get(e2e)
        tid = (e2e + retrans * TID_RETRANS_STEP) & 0xFFFFFFFF
        if is_req:
            if d is None or (retrans > 0 and origin == d.initiator and msg == d.open_msg):
                d = _Dialogue(origin, responder, txn, msg, tid, (tid * TID_MULTIPLIER) & 0xFFFFFFFF, t)
                d.invokes[txn] = 1
                dialogues[e2e] = d
                self._dialogue_times.append((t, e2e))
                return d, "begin", "aarq", 1, True
            d.last = t
            iid = d.next_invoke
            d.next_invoke = iid + 1
            d.invokes[txn] = iid
            from_initiator = origin == d.initiator
        else:
            if d is None:  # the dialogue's start is not in the rows: as if it had been opened
                d = _Dialogue(origin, responder, txn, msg, tid, (tid * TID_MULTIPLIER) & 0xFFFFFFFF, t)
                d.invokes[txn] = 1
            d.last = t
            iid = d.invokes.get(txn, 1)
            from_initiator = responder == d.initiator
            if txn == d.open_txn:
                dialogues.pop(e2e, None)
                aare = not d.responder_spoke
                d.responder_spoke = True
                return d, "end", "aare" if aare else "", iid, False
        portion: Portion = ""
        if not from_initiator and not d.responder_spoke:
            portion = "aare"
        if not from_initiator:
            d.responder_spoke = True
        self._dialogue_times.append((t, e2e))
        return d, "continue", portion, iid, from_initiator

    def _sweep(self, t: int) -> None:
        times, payloads = self._payload_times, self._payloads
        while times and times[0][0] < t - MESSAGE_TTL_NS:
            key = times.popleft()[1]
            payloads.pop(key, None)
            self._described.pop(key, None)
        dts, dialogues = self._dialogue_times, self._dialogues
        while dts and dts[0][0] < t - DIALOGUE_IDLE_NS:
            _, e2e = dts.popleft()
            d = dialogues.get(e2e)
            if d is not None and d.last < t - DIALOGUE_IDLE_NS:
                del dialogues[e2e]
        self._next_sweep = t + 1_000_000_000

    def _new_message(self, msg: int, is_req: bool, rc: int, txn: int, e2e: int, retrans: int, t: int, imsi: int,
                     origin: int, responder: int, home_op: int, visited_op: int) -> bytes:
        """Place a message in its dialogue and fill its payload (the same on every hop) from its template.

        The shape is looked up by the few integers that decide it, so :meth:`_shape` runs once per shape."""
        d, kind, portion, iid, from_initiator = self._place(msg, is_req, txn, e2e, retrans, t, origin, responder)
        node = self._serving_of(msg, imsi, origin, responder, d.initiator, visited_op)
        digits = str(imsi)
        key = (msg, is_req, rc, kind, portion, iid, from_initiator, d.initiator, d.responder, d.open_msg, origin,
               responder, node, home_op, visited_op, len(digits))
        entry = self._shapes.get(key)
        if entry is None:
            shape, called = self._shape(msg, is_req, rc, txn, d, kind, portion, iid, from_initiator, origin,
                                        responder, node, home_op, visited_op, len(digits))
            tpl = self._templates.get(shape)
            if tpl is None:
                tpl = self._templates[shape] = template(shape)
            entry = self._shapes[key] = (shape, called, tpl)
        shape, called, tpl = entry
        return tpl.fill(self._values(shape, called, d, from_initiator, imsi, digits, txn, home_op))

    def _describe(self, msg: int, is_req: bool, rc: int, txn: int, e2e: int, retrans: int, t: int, imsi: int,
                  origin: int, responder: int, home_op: int, visited_op: int) -> tuple[MapShape, MessageValues]:
        """Place a message in its dialogue: its shape and the values patched into it (the reference path)."""
        d, kind, portion, iid, from_initiator = self._place(msg, is_req, txn, e2e, retrans, t, origin, responder)
        node = self._serving_of(msg, imsi, origin, responder, d.initiator, visited_op)
        digits = str(imsi)
        shape, called = self._shape(msg, is_req, rc, txn, d, kind, portion, iid, from_initiator, origin, responder,
                                    node, home_op, visited_op, len(digits))
        return shape, self._values(shape, called, d, from_initiator, imsi, digits, txn, home_op)

    def _serving_of(self, msg: int, imsi: int, origin: int, responder: int, initiator: int, visited_op: int) -> int:
        """The MSC/VLR, SGSN or SMSF of a message: one of its transaction's ends or its dialogue's initiator; else, when
        the message names one (the SRI-for-SM result), :meth:`serving_node`; else -1."""
        kinds = self._kinds
        for e in (origin, responder, initiator):
            if kinds[e] in _SERVING_KINDS:
                serving = self._serving
                if len(serving) >= SERVING_CACHE:
                    serving.clear()
                serving[imsi] = e
                return e
        return self.serving_node(imsi, visited_op) if msg == _SRI_SM else -1

    def _shape(self, msg: int, is_req: bool, rc: int, txn: int, d: _Dialogue, kind: Kind, portion: Portion,
               iid: int, from_initiator: bool, origin: int, responder: int, node: int, home_op: int,
               visited_op: int, imsi_len: int) -> tuple[MapShape, str]:
        """The shape of a message, and what its variable called party is (``mgt``, ``msisdn`` or nothing)."""
        op = MESSAGE_NAMES[msg]
        context_op = MESSAGE_NAMES[d.open_msg]
        hlr = self._named(home_op, "hlr")
        # the two sides of the dialogue: (subsystem, global title)
        ini = d.initiator
        res = hlr if context_op in HLR_TARGETED else d.responder
        ini_addr = (self._ssn(ini, context_op), self.gt(ini))
        res_addr = (self._ssn(res, context_op), self.gt(res))
        own, peer = (ini_addr, res_addr) if from_initiator else (res_addr, ini_addr)
        plmn = str(self.addressing.plmn_of(self.op_ids[home_op]))
        country = self.op_country[home_op]
        msisdn_len = len(msisdn_for(10**14, plmn, country))
        called, called_gt, called_len = "", peer[1], 0
        if kind == "begin" and context_op in HLR_TARGETED and context_op != "reportSM-DeliveryStatus":
            called = "msisdn" if context_op == "sendRoutingInfoForSM" else "mgt"
            called_gt = ""
            called_len = msisdn_len if called == "msisdn" else len(mgt_for(10 ** (imsi_len - 1), plmn, country))
        # the MAP numbers: the serving node, the home HLR and SMSC, as far as the operation uses them
        uses = _USES[op]
        data = MapData(hlr=self.gt(hlr) if "hlr" in uses else "",
                       visited_plmn=self.addressing.plmn_of(self.op_ids[visited_op]).tbcd())
        if "smsc" in uses:
            smsc = next((e for e in (origin, responder) if self._kinds[e] == "smsc"), -1)
            data = replace(data, smsc=self.gt(smsc if smsc >= 0 else self._named(home_op, "smsc")))
        if node >= 0:
            node_gt = self.gt(node)
            data = replace(data, vlr=node_gt, sgsn=node_gt, sgsn_ipv4=self.element(node).ipv4,
                           serving_node=node_gt, gprs=self._kinds[node] == "sgsn")
        data = replace(_NO_DATA, **{k: getattr(data, k) for k in uses})
        if is_req:
            component: ComponentKind = "invoke"
            code = OPERATIONS[op]
        elif rc == 0:
            component, code = "result", OPERATIONS[op]
        elif rc > 0:
            component, code = "error", rc
        else:
            raise ValueError(f"MAP result code {rc} of txn {txn}: expected 0 (result) or a MAP error code")
        shape = MapShape(op, component, code, kind, portion, context_op, iid, peer[0], called_gt, called_len,
                         own[0], own[1], imsi_len, msisdn_len, data)
        return shape, called

    def _values(self, shape: MapShape, called: str, d: _Dialogue, from_initiator: bool, imsi: int, digits: str,
                txn: int, home_op: int) -> MessageValues:
        """The patched fields of one message."""
        plmn = self._plmns[home_op]
        country = self.op_country[home_op]
        msisdn = msisdn_for(imsi, plmn, country)
        called_digits = "" if not called else msisdn if called == "msisdn" else mgt_for(imsi, plmn, country)
        result = shape.component == "result"
        vector = quintuplet(imsi, txn) if result and shape.operation == "sendAuthenticationInfo" else _ZERO_VECTOR
        stamp = scts(d.last) if shape.component == "invoke" and shape.operation == "mt-forwardSM" else _NO_STAMP
        otid, dtid = (d.itid, d.rtid) if from_initiator else (d.rtid, d.itid)
        return MessageValues(otid, dtid, digits, msisdn, called_digits, vector, stamp)

    # -- links and frames -------------------------------------------------------------------
    def _open(self, src: int, dst: int, t: int) -> _Link:
        """IDB, SCTP handshake and the M3UA ASP start-up of a link first used at ``t`` by ``src``."""
        a, b = self.element(src), self.element(dst)
        assoc = SctpAssociation(a, b, port=sigtran.PORT_M3UA, ppid=sigtran.PPID_M3UA)
        iface = self.writer.add_interface(
            f"{a.name}<->{b.name}",
            f"MAP/TCAP/SCCP/M3UA/SCTP {a.host} ({a.ipv4_text}, PC {self._pc[a.name]}) <-> "
            f"{b.host} ({b.ipv4_text}, PC {self._pc[b.name]})")
        frames = [*assoc.handshake(), assoc.data_frame(a, sigtran.aspup()), assoc.data_frame(b, sigtran.aspup_ack()),
                  assoc.data_frame(a, sigtran.aspac()), assoc.data_frame(b, sigtran.aspac_ack())]
        n = len(frames)
        for j, frame in enumerate(frames):
            ts = max(self._written, t - (n - j) * SETUP_SPACING_NS)
            self.writer.packet(iface, ts, frame)
            self._written = ts
        link = _Link(assoc, iface)
        self._links[(src, dst)] = self._links[(dst, src)] = link
        return link

    def _frame(self, src: int, dst: int, payload_len: int, t: int) -> _Frame:
        link = self._links.get((src, dst))
        if link is None:
            link = self._open(src, dst, t)
        a = self.element(src)
        m3ua = sigtran.data(self._pc[a.name], self._pc[self.element(dst).name], b"\0" * payload_len)
        ft: DataFrameTemplate = link.assoc.template(a, len(m3ua))
        n = len(ft.data)
        pad = -n % 4
        head = struct.pack("<IIIIIII", EPB, 0, link.iface, 0, 0, n, n) + ft.data[:DATA_PAYLOAD_OFFSET] + \
            m3ua[:sigtran.DATA_HEADER_LEN]
        tail = m3ua[sigtran.DATA_HEADER_LEN + payload_len:] + ft.data[DATA_PAYLOAD_OFFSET + len(m3ua):] + b"\0" * pad
        f = _Frame(head, tail, _EPB_HEAD + n + pad + 4, link.iface, ft.ip_sum, ft.state, _EPB_HEAD + n)
        self._frames[(src << 40) | (dst << 16) | payload_len] = f
        return f

    # -- rows ---------------------------------------------------------------------------------
    def emit(self, c: dict[str, np.ndarray]) -> None:
        """Write time-ordered rows: ``time``, ``msg`` (index into :data:`MESSAGE_NAMES`), ``is_request``,
        ``txn_id``, ``e2e_id``, ``procedure_id``, ``imsi``, ``origin``, ``destination``, ``txn_origin``,
        ``txn_responder`` (element indices), ``hop``, ``rc`` (0 or a MAP error code), ``retrans``,
        ``home_op``, ``visited_op``."""
        n = int(c["time"].shape[0])
        if n == 0:
            return
        msgs = c["msg"].tolist()
        bad = [m for m in set(msgs) if not 0 <= m < len(MESSAGE_NAMES)]
        if bad:
            raise ValueError(f"msg {bad[0]} is not an index into the {len(MESSAGE_NAMES)} MAP operations")
        times = c["time"].tolist()
        if self.first_time is None:
            self.first_time = times[0]
        cols = zip(times, msgs, c["is_request"].tolist(), c["rc"].tolist(), c["txn_id"].tolist(),
                   c["e2e_id"].tolist(), c["retrans"].tolist(), c["procedure_id"].tolist(), c["imsi"].tolist(),
                   c["origin"].tolist(), c["destination"].tolist(), c["txn_origin"].tolist(),
                   c["txn_responder"].tolist(), c["home_op"].tolist(), c["visited_op"].tolist(), strict=True)
        if self.reference:
            self._write_reference(cols)
        else:
            self._write(cols)
        self.messages += n
        self.last_time = times[-1]

    def _write_reference(self, cols: Iterator[tuple[Any, ...]]) -> None:
        """The full-encode path (see the class docstring)."""
        writer = self.writer
        for t, msg, is_req, rc, txn, e2e, retrans, proc, imsi, src, dst, t_orig, t_resp, home, visited in cols:
            if t >= self._next_sweep:
                self._sweep(t)
            key = (txn << 7) | ((retrans & 0x3F) << 1) | is_req if is_req else (txn << 7)
            described = self._described.get(key)
            if described is None:
                described = self._described[key] = self._describe(msg, is_req, rc, txn, e2e, retrans, t, imsi,
                                                                    t_orig, t_resp, home, visited)
                self._payload_times.append((t, key))
            payload = encode_payload(*described)
            link = self._links.get((src, dst))
            if link is None:
                link = self._open(src, dst, t)
            a, b = self.element(src), self.element(dst)
            m3ua = sigtran.data(self._pc[a.name], self._pc[b.name], payload, sls=e2e & 0x0F)
            frame = link.assoc.data_frame(a, m3ua, stream=1 + e2e % (STREAMS - 1))
            writer.packet(link.iface, t, frame, comment_option(f"procedure_id={proc} txn_id={txn}"))
            self._written = t

    def _write(self, cols: Iterator[tuple[Any, ...]]) -> None:
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
        sls_at = _SLS_AT
        pads = (b"\0" * 4, b"\0" * 7, b"\0" * 6, b"\0" * 5)
        payloads = self._payloads
        ptimes = self._payload_times
        frames = self._frames
        prev = self._written
        next_sweep = self._next_sweep
        for t, msg, is_req, rc, txn, e2e, retrans, proc, imsi, src, dst, t_orig, t_resp, home, visited in cols:
            if t >= next_sweep:
                self._sweep(t)
                next_sweep = self._next_sweep
            key = (txn << 7) | ((retrans & 0x3F) << 1) | is_req if is_req else (txn << 7)
            payload = payloads.get(key)
            if payload is None:
                payload = self._new_message(msg, is_req, rc, txn, e2e, retrans, t, imsi, t_orig, t_resp, home,
                                            visited)
                payloads[key] = payload
                ptimes.append((t, key))
            f = frames.get((src << 40) | (dst << 16) | len(payload))
            if f is None:
                writer.write_blocks(out, len(out) // 2)
                out = []
                put = out.append
                self._written = max(self._written, prev)
                f = self._frame(src, dst, len(payload), t)
            prev = t
            head, tail, base_total, iface, ip_sum, st, crc_end = f
            buf = bytearray(head)
            buf += payload
            buf += tail
            text = b"procedure_id=%d txn_id=%d" % (proc, txn)
            ln = len(text)
            total = base_total + ln + (-ln % 4) + 8
            pack_into("<IIII", buf, 4, total, iface, t >> 32, t & m32)
            buf[sls_at] = e2e & 0x0F
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
        self._written = max(self._written, prev)
