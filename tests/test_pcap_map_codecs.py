"""The MAP packet codecs without tshark: BER, TCAP, MAP parameters, SCCP, M3UA, payload templates.

pycrate (LGPL, a test-only oracle from the ``test`` extra, never imported by ``src/``) decodes what our
encoders write: TCAP and MAP with the 3GPP ASN.1 (``pycrate_asn1dir.TCAP_MAP``), SCCP, M3UA and the
SMS TPDUs with ``pycrate_mobile``; it must read every field back and re-encode the same bytes.

Golden payloads (``test_pcap_map_golden.json``) pin one message of every kind of the scenario of
``test_pcap_map.py``; regenerate them, after checking the change is intended, with
``ROAMSIM_REGEN_GOLDEN=1 pytest tests/test_pcap_map_codecs.py``.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrate_asn1dir import TCAP_MAP  # type: ignore[import-untyped]
from pycrate_mobile.M3UA import parse_M3UA  # type: ignore[import-untyped]
from pycrate_mobile.SCCP import parse_SCCP  # type: ignore[import-untyped]
from pycrate_mobile.TS23040_SMS import SMS_DELIVER, SMS_SUBMIT  # type: ignore[import-untyped]

from roamsim.sinks.pcap import ber, sigtran
from roamsim.sinks.pcap.emit_map import MESSAGE_NAMES, MapShape, MessageValues, encode_payload, template
from roamsim.sinks.pcap.tcap_map import (
    APPLICATION_CONTEXTS,
    DIALOGUE_AS_ID,
    OPERATIONS,
    Component,
    ComponentKind,
    DialoguePortion,
    Kind,
    MapData,
    Quintuplet,
    TcapMessage,
    address_string,
    application_context,
    argument,
    decode_tbcd,
    decode_tcap,
    encode_tcap,
    error_parameter,
    gsm7_pack,
    quintuplet,
    result,
    scts,
    sms_deliver,
    sms_submit,
    tbcd,
)
from test_pcap_map import NAMES, emit, frames_of, scenario

GOLDEN = Path(__file__).with_name("test_pcap_map_golden.json")
PYCRATE_TCAP = TCAP_MAP.TCAP_MAP_Messages.TCAP_MAP_Message

# -- BER --------------------------------------------------------------------------------------


def test_ber_known_encodings() -> None:
    assert ber.identifier(ber.CONTEXT, 24) == b"\x98"
    assert ber.identifier(ber.CONTEXT, 31) == b"\x9f\x1f"
    assert ber.identifier(ber.CONTEXT, 200, constructed=True) == b"\xbf\x81\x48"
    assert ber.identifier(ber.APPLICATION, 2, constructed=True) == b"\x62"
    assert (ber.length(0), ber.length(127), ber.length(128), ber.length(256)) == (
        b"\x00", b"\x7f", b"\x81\x80", b"\x82\x01\x00")
    assert ber.oid(application_context("updateLocation")).hex() == "060704000001000103"
    assert ber.oid(DIALOGUE_AS_ID).hex() == "060700118605010101"  # Q.773 dialogue-as-id
    assert [ber.integer_contents(v).hex() for v in (0, 127, 128, -1, -128, -129, 256)] == [
        "00", "7f", "0080", "ff", "80", "ff7f", "0100"]
    assert ber.bit_string_contents(0b1110, 4) == b"\x04\xe0"
    assert ber.boolean(True) == b"\x01\x01\xff"


@st.composite
def tlv_trees(draw: st.DrawFn, depth: int = 0) -> tuple[int, int, bool, Any]:
    cls = draw(st.sampled_from([ber.UNIVERSAL, ber.APPLICATION, ber.CONTEXT, ber.PRIVATE]))
    number = draw(st.integers(0, 30) | st.integers(31, 20000))
    if depth < 3 and draw(st.booleans()):
        return cls, number, True, draw(st.lists(tlv_trees(depth + 1), max_size=4))
    return cls, number, False, draw(st.binary(max_size=300))


def _encode_tree(t: tuple[int, int, bool, Any]) -> bytes:
    cls, number, constructed, body = t
    contents = b"".join(_encode_tree(c) for c in body) if constructed else body
    return ber.tlv(ber.identifier(cls, number, constructed), contents)


def _same_tree(decoded: ber.Tlv, t: tuple[int, int, bool, Any]) -> None:
    cls, number, constructed, body = t
    assert (decoded.cls, decoded.number, decoded.constructed) == (cls, number, constructed)
    if constructed:
        kids = decoded.children()
        assert len(kids) == len(body)
        for k, b in zip(kids, body, strict=True):
            _same_tree(k, b)
    else:
        assert decoded.contents == body


@settings(max_examples=100, deadline=None)
@given(trees=st.lists(tlv_trees(), min_size=1, max_size=3))
def test_ber_tlv_trees_round_trip(trees: list[tuple[int, int, bool, Any]]) -> None:
    data = b"".join(_encode_tree(t) for t in trees)
    decoded = ber.decode_all(data)
    assert len(decoded) == len(trees)
    for d, t in zip(decoded, trees, strict=True):
        _same_tree(d, t)


@settings(max_examples=200, deadline=None)
@given(value=st.integers(-(2**70), 2**70), arcs=st.lists(st.integers(0, 2**40), max_size=8),
       first=st.sampled_from([(0, 4), (1, 39), (2, 999)]))
def test_ber_integers_and_oids_round_trip(value: int, arcs: list[int], first: tuple[int, int]) -> None:
    c = ber.integer_contents(value)
    assert ber.decode_integer(c) == value
    assert len(c) == 1 or ber.decode_integer(c[1:]) != value  # the fewest octets
    assert ber.decode_oid(ber.oid_contents((*first, *arcs))) == (*first, *arcs)


def test_ber_rejects_malformed_input() -> None:
    assert ber.decode_all(b"") == []
    for bad in (b"\x30", b"\x30\x05\x01", b"\x30\x80\x00\x00", b"\x1f", b"\x9f\x81", b"\x04\x82\x01"):
        with pytest.raises(ber.BerError):
            ber.decode_all(bad)
    with pytest.raises(ber.BerError):
        ber.Tlv(0, False, 4, b"").children()
    with pytest.raises(ValueError, match="not an object identifier"):
        ber.oid_contents((0, 40))


# -- TCAP -------------------------------------------------------------------------------------

params = st.builds(lambda n, body: ber.tlv(ber.identifier(ber.CONTEXT, n, True), body), st.integers(0, 30),
                   st.binary(max_size=200)) | st.builds(ber.seq, st.binary(max_size=200))


@st.composite
def tcap_messages(draw: st.DrawFn) -> TcapMessage:
    kind: Kind = draw(st.sampled_from(["begin", "continue", "end"]))
    tid = st.integers(0, 2**32 - 1)
    comps = []
    for _ in range(draw(st.integers(1, 3))):
        ckind: ComponentKind = draw(st.sampled_from(["invoke", "result", "error"]))
        param = draw(params) if ckind == "result" else draw(st.none() | params)
        comps.append(Component(ckind, draw(st.integers(-128, 127)), draw(st.integers(0, 127)), param))
    dialogue = draw(st.none() | st.builds(DialoguePortion, st.booleans(),
                                          st.sampled_from(sorted(OPERATIONS)).map(application_context)))
    return TcapMessage(kind, draw(tid) if kind != "end" else None, draw(tid) if kind != "begin" else None,
                       dialogue, tuple(comps))


@settings(max_examples=150, deadline=None)
@given(m=tcap_messages())
def test_tcap_round_trip(m: TcapMessage) -> None:
    assert decode_tcap(encode_tcap(m)) == m


def test_tcap_bare_result_and_junk() -> None:
    m = TcapMessage("end", None, 7, None, (Component("result", 1, 0, None),))
    assert decode_tcap(encode_tcap(m)) == m
    with pytest.raises(ber.BerError):
        decode_tcap(encode_tcap(m) + b"\x00")
    with pytest.raises(ber.BerError):
        decode_tcap(b"\x67\x00")  # ABORT is not written


def test_every_operation_has_a_version_3_context_but_the_alert() -> None:
    assert set(APPLICATION_CONTEXTS) == set(OPERATIONS)
    assert {op for op, (_, v) in APPLICATION_CONTEXTS.items() if v != 3} == {"alertServiceCentre"}


# -- MAP parameters against pycrate's 3GPP ASN.1 ------------------------------------------------

ARG_TYPES = {
    "sendAuthenticationInfo": "SendAuthenticationInfoArg", "updateLocation": "UpdateLocationArg",
    "insertSubscriberData": "InsertSubscriberDataArg", "cancelLocation": "CancelLocationArg",
    "updateGprsLocation": "UpdateGprsLocationArg", "purgeMS": "PurgeMS-Arg",
    "sendRoutingInfoForSM": "RoutingInfoForSM-Arg", "mt-forwardSM": "MT-ForwardSM-Arg",
    "mo-forwardSM": "MO-ForwardSM-Arg", "reportSM-DeliveryStatus": "ReportSM-DeliveryStatusArg",
    "alertServiceCentre": "AlertServiceCentreArg",
}
RES_TYPES = {op: t.replace("Arg", "Res") for op, t in ARG_TYPES.items() if op != "alertServiceCentre"}


def _argument_fields(op: str, d: MapData) -> dict[str, Any]:
    """What pycrate must read from the argument of ``op`` (its own field names)."""
    imsi, msisdn, smsc = tbcd(d.imsi), address_string(d.msisdn), address_string(d.smsc)
    fields: dict[str, dict[str, Any]] = {
        "sendAuthenticationInfo": {"imsi": imsi, "numberOfRequestedVectors": 1,
                                   "requestingNodeType": "sgsn" if d.gprs else "vlr",
                                   "requestingPLMN-Id": d.visited_plmn},
        "updateLocation": {"imsi": imsi, "msc-Number": address_string(d.vlr), "vlr-Number": address_string(d.vlr)},
        "insertSubscriberData": {"imsi": imsi, "msisdn": msisdn, "category": b"\x0a",
                                 "subscriberStatus": "serviceGranted"},
        "cancelLocation": {"identity": ("imsi", imsi), "cancellationType": "updateProcedure"},
        "updateGprsLocation": {"imsi": imsi, "sgsn-Number": address_string(d.sgsn),
                               "sgsn-Address": b"\x04" + d.sgsn_ipv4},
        "purgeMS": {"imsi": imsi, "sgsn-Number" if d.gprs else "vlr-Number": address_string(
            d.sgsn if d.gprs else d.vlr)},
        "sendRoutingInfoForSM": {"msisdn": msisdn, "sm-RP-PRI": True, "serviceCentreAddress": smsc},
        "mt-forwardSM": {"sm-RP-DA": ("imsi", imsi), "sm-RP-OA": ("serviceCentreAddressOA", smsc),
                         "sm-RP-UI": sms_deliver(d.smsc, d.sm_timestamp)},
        "mo-forwardSM": {"sm-RP-DA": ("serviceCentreAddressDA", smsc), "sm-RP-OA": ("msisdn", msisdn),
                         "sm-RP-UI": sms_submit(d.smsc), "imsi": imsi},
        "reportSM-DeliveryStatus": {"msisdn": msisdn, "serviceCentreAddress": smsc,
                                    "sm-DeliveryOutcome": "absentSubscriber"},
        "alertServiceCentre": {"msisdn": msisdn, "serviceCentreAddress": smsc},
    }
    return fields[op]


def _result_fields(op: str, d: MapData) -> dict[str, Any]:
    v = d.vector
    assert v is not None
    node: dict[str, Any] = {"networkNode-Number": address_string(d.serving_node)}
    if d.gprs:
        node["gprsNodeIndicator"] = 0
    fields: dict[str, dict[str, Any]] = {
        "sendAuthenticationInfo": {"authenticationSetList": ("quintupletList", [
            {"rand": v.rand, "xres": v.xres, "ck": v.ck, "ik": v.ik, "autn": v.autn}])},
        "updateLocation": {"hlr-Number": address_string(d.hlr)},
        "updateGprsLocation": {"hlr-Number": address_string(d.hlr)},
        "sendRoutingInfoForSM": {"imsi": tbcd(d.imsi), "locationInfoWithLMSI": node},
        "reportSM-DeliveryStatus": {"storedMSISDN": address_string(d.msisdn)},
    }
    return fields.get(op, {})


digits = st.text("0123456789", min_size=5, max_size=15)


@st.composite
def map_data(draw: st.DrawFn) -> MapData:
    b = st.binary
    return MapData(
        imsi=draw(st.text("0123456789", min_size=14, max_size=15)), msisdn=draw(digits), vlr=draw(digits),
        sgsn=draw(digits), sgsn_ipv4=draw(b(min_size=4, max_size=4)), hlr=draw(digits), smsc=draw(digits),
        serving_node=draw(digits), visited_plmn=draw(b(min_size=3, max_size=3)), gprs=draw(st.booleans()),
        vector=Quintuplet(draw(b(min_size=16, max_size=16)), draw(b(min_size=4, max_size=16)),
                          draw(b(min_size=16, max_size=16)), draw(b(min_size=16, max_size=16)),
                          draw(b(min_size=16, max_size=16))),
        sm_timestamp=scts(draw(st.integers(0, 2**62))))


def _pycrate(data: bytes) -> Any:
    PYCRATE_TCAP.from_ber(data)
    assert PYCRATE_TCAP.to_ber() == data, "pycrate re-encodes different bytes"
    return PYCRATE_TCAP.get_val()


@settings(max_examples=250, deadline=None)
@given(op=st.sampled_from(sorted(OPERATIONS)), d=map_data(), iid=st.integers(1, 127),
       tids=st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)))
def test_map_invoke_and_result_read_back_by_pycrate(op: str, d: MapData, iid: int, tids: tuple[int, int]) -> None:
    code = OPERATIONS[op]
    begin = encode_tcap(TcapMessage("begin", tids[0], None, DialoguePortion(True, application_context(op)),
                                    (Component("invoke", iid, code, argument(op, d)),)))
    kind, body = _pycrate(begin)
    assert kind == "begin" and body["otid"] == struct.pack("!I", tids[0])
    assert body["dialoguePortion"]["encoding"][1][1][1]["application-context-name"] == application_context(op)
    (_, (ckind, comp)), = body["components"]
    assert (ckind, comp["invokeId"], comp["opcode"]) == ("invoke", ("present", iid), ("local", code))
    name, value = comp["argument"]
    assert name == ARG_TYPES[op]
    for key, want in _argument_fields(op, d).items():
        assert value[key] == want, key
    end = encode_tcap(TcapMessage("end", None, tids[1], DialoguePortion(False, application_context(op)),
                                  (Component("result", iid, code, result(op, d)),)))
    kind, body = _pycrate(end)
    assert kind == "end" and body["dtid"] == struct.pack("!I", tids[1])
    assert body["dialoguePortion"]["encoding"][1][1][0] == "dialogueResponse"
    (_, (ckind, comp)), = body["components"]
    assert ckind == "returnResult" and comp["invokeId"] == ("present", iid)
    if op == "alertServiceCentre":
        assert "result" not in comp
        return
    assert comp["result"]["opcode"] == ("local", code)
    name, value = comp["result"]["result"]
    assert name == RES_TYPES[op]
    assert value == _result_fields(op, d)


@pytest.mark.parametrize("code", [1, 6, 8, 27, 34, 35, 36])
def test_map_errors_read_back_by_pycrate(code: int) -> None:
    data = encode_tcap(TcapMessage("end", None, 5, None, (Component("error", 3, code, error_parameter(code)),)))
    _, body = _pycrate(data)
    (_, (ckind, comp)), = body["components"]
    assert (ckind, comp["invokeId"], comp["errcode"]) == ("returnError", ("present", 3), ("local", code))
    if code == 8:
        assert comp["parameter"] == ("RoamingNotAllowedParam", {"roamingNotAllowedCause": "plmnRoamingNotAllowed"})
    else:
        assert "parameter" not in comp


def test_isd_carries_cs_or_gprs_subscription() -> None:
    d = MapData(imsi="234150100000042", msisdn="447500000042")
    _, body = _pycrate(encode_tcap(TcapMessage("begin", 1, None, None, (
        Component("invoke", 1, 7, argument("insertSubscriberData", d)),))))
    arg = body["components"][0][1][1]["argument"][1]
    assert arg["teleserviceList"] == [b"\x11", b"\x21", b"\x22"] and "gprsSubscriptionData" not in arg
    _, body = _pycrate(encode_tcap(TcapMessage("begin", 1, None, None, (
        Component("invoke", 1, 7, argument("insertSubscriberData", replace(d, gprs=True))),))))
    arg = body["components"][0][1][1]["argument"][1]
    pdp = arg["gprsSubscriptionData"]["gprsDataList"][0]
    assert (pdp["pdp-ContextId"], pdp["pdp-Type"], pdp["apn"]) == (1, b"\xf1\x21", b"\x08internet")
    assert arg["networkAccessMode"] == "onlyPacket" and "teleserviceList" not in arg


# -- small values -----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(d=st.text("0123456789", min_size=1, max_size=20))
def test_tbcd_and_bcd_round_trip(d: str) -> None:
    assert decode_tbcd(tbcd(d)) == d
    assert sigtran.decode_address(sigtran.gt_address(6, d)).digits == d


def test_sms_tpdus_read_back_by_pycrate() -> None:
    stamp = scts(1_814_573_053_601_097_896)  # 2027-07-03 00:04:13 UTC
    assert stamp.hex() == "72703000403100"
    # gsm7_pack checked against the TS 23.038 packing example:
    assert gsm7_pack("hellohello").hex() == "e8329bfd4697d9ec37"  # pragma: allowlist secret
    deliver = sms_deliver("449482630500", stamp)
    m = SMS_DELIVER()
    m.from_bytes(deliver)
    assert m.to_bytes() == deliver
    assert (m["TP_MTI"].get_val(), m["TP_OA"]["Num"].decode(), m["TP_UD"]["UD"].decode()) == (
        0, "449482630500", "roamsim test message")
    submit = sms_submit("4494826305001")
    s = SMS_SUBMIT()
    s.from_bytes(submit)
    assert s.to_bytes() == submit
    assert (s["TP_MTI"].get_val(), s["TP_DA"]["Num"].decode(), s["TP_UD"]["UD"].decode()) == (
        1, "4494826305001", "roamsim test message")
    with pytest.raises(ValueError, match="GSM 7-bit"):
        gsm7_pack("@home")


def test_quintuplets_are_deterministic_and_well_formed() -> None:
    a, b = quintuplet(234150100000042, 7), quintuplet(234150100000042, 8)
    assert a == quintuplet(234150100000042, 7) and a != b
    assert [len(x) for x in (a.rand, a.xres, a.ck, a.ik, a.autn)] == [16, 8, 16, 16, 16]
    assert a.autn[6:8] == b"\x00\x00"


# -- SCCP and M3UA ---------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(called=st.text("0123456789", min_size=1, max_size=15), calling=st.text("0123456789", min_size=1, max_size=15),
       ssns=st.tuples(st.sampled_from([6, 7, 8, 149]), st.sampled_from([6, 7, 8, 149])),
       data=st.binary(min_size=1, max_size=255), pcs=st.tuples(st.integers(1, 0x3FFF), st.integers(1, 0x3FFF)),
       sls=st.integers(0, 15))
def test_sccp_and_m3ua_round_trip_and_pycrate_agrees(called: str, calling: str, ssns: tuple[int, int], data: bytes,
                                                     pcs: tuple[int, int], sls: int) -> None:
    msg = sigtran.udt(sigtran.gt_address(ssns[0], called), sigtran.gt_address(ssns[1], calling), data)
    u = sigtran.decode_udt(msg)
    assert (u.called.digits, u.called.ssn, u.calling.digits, u.calling.ssn, u.data) == (
        called, ssns[0], calling, ssns[1], data)
    assert (u.protocol_class, u.called.numbering_plan, u.called.nature_of_address, u.called.route_on_gt) == (
        0x80, 1, 4, True)
    p, err = parse_SCCP(msg)
    assert err == 0 and p.to_bytes() == msg
    assert p["CalledPartyAddr"]["Value"]["SSN"].get_val() == ssns[0]
    m3 = sigtran.data(pcs[0], pcs[1], msg, sls=sls)
    pd = sigtran.decode_m3ua(m3).protocol_data()
    assert (pd.opc, pd.dpc, pd.si, pd.ni, pd.sls, pd.payload) == (pcs[0], pcs[1], 3, 0, sls, msg)
    assert m3[sigtran.DATA_SLS_OFFSET] == sls and m3[sigtran.DATA_HEADER_LEN:][:len(msg)] == msg
    q, err = parse_M3UA(m3)
    assert err == 0 and q.to_bytes() == m3


def test_udt_too_long_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit a UDT"):
        sigtran.udt(sigtran.gt_address(6, "1"), sigtran.gt_address(7, "2"), b"\0" * 256)


@pytest.mark.parametrize(("make", "cls", "typ"), [(sigtran.aspup, 3, 1), (sigtran.aspup_ack, 3, 4),
                                                  (sigtran.aspac, 4, 1), (sigtran.aspac_ack, 4, 3)])
def test_asp_management_messages(make: Callable[[], bytes], cls: int, typ: int) -> None:
    data = make()
    m = sigtran.decode_m3ua(data)
    assert (m.msg_class, m.msg_type) == (cls, typ)
    if cls == 4:
        assert m.param(sigtran.TAG_TRAFFIC_MODE) == b"\0\0\0\x02"
        assert m.param(sigtran.TAG_ROUTING_CONTEXT) == b"\0\0\0\x01"
    q, err = parse_M3UA(data)
    assert err == 0 and q.to_bytes() == data
    assert (q["Header"]["Class"].get_val(), q["Header"]["Type"].get_val()) == (cls, typ)


def test_point_codes_are_unique_14_bit_and_stable() -> None:
    pcs = sigtran.point_codes(NAMES)
    assert len(set(pcs.values())) == len(NAMES)
    assert all(0 < pc < 1 << 14 for pc in pcs.values())
    assert sigtran.point_codes(reversed(NAMES)) == pcs
    many = sigtran.point_codes(f"op{i}.vlr1" for i in range(0x3FFF))
    assert sorted(many.values()) == list(range(1, 1 << 14))
    with pytest.raises(ValueError, match="14-bit"):
        sigtran.point_codes(f"op{i}.vlr1" for i in range(1 << 14))


# -- payload templates and golden bytes ---------------------------------------------------------------


@pytest.fixture(scope="module")
def shapes() -> list[MapShape]:
    _, em = emit(scenario().columns())
    return sorted(em._templates, key=repr)


@st.composite
def values_for(draw: st.DrawFn, shape: MapShape) -> MessageValues:
    b = st.binary
    return MessageValues(
        draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 2**32 - 1)),
        draw(st.text("0123456789", min_size=shape.imsi_len, max_size=shape.imsi_len)),
        draw(st.text("0123456789", min_size=shape.msisdn_len, max_size=shape.msisdn_len)),
        draw(st.text("0123456789", min_size=shape.called_len, max_size=shape.called_len)),
        Quintuplet(draw(b(min_size=16, max_size=16)), draw(b(min_size=8, max_size=8)),
                   draw(b(min_size=16, max_size=16)), draw(b(min_size=16, max_size=16)),
                   draw(b(min_size=16, max_size=16))),
        draw(b(min_size=7, max_size=7)))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_filled_template_equals_full_encoding(shapes: list[MapShape], data: st.DataObject) -> None:
    shape = data.draw(st.sampled_from(shapes))
    v = data.draw(values_for(shape))
    assert template(shape).fill(v) == encode_payload(shape, v)


def test_the_scenario_has_many_shapes(shapes: list[MapShape]) -> None:
    kinds = {(s.operation, s.kind, s.component, s.dialogue) for s in shapes}
    assert {s.operation for s in shapes} == set(OPERATIONS)
    assert ("insertSubscriberData", "continue", "invoke", "aare") in kinds
    assert ("insertSubscriberData", "continue", "result", "") in kinds
    assert ("updateLocation", "end", "result", "") in kinds
    assert ("updateLocation", "end", "error", "aare") in kinds
    slots = {name for s in shapes for name, _, _ in template(s).slots}
    assert slots == {"otid", "dtid", "imsi", "msisdn", "called", "rand", "xres", "ck", "ik", "autn", "sm_timestamp"}


def current_golden() -> dict[str, str]:
    c = scenario().columns()
    data, _ = emit(c)
    out: dict[str, str] = {}
    frames = [f for f in frames_of(data) if f[2][46] == 0 and f[2][64] == 1]  # DATA chunks with M3UA DATA
    for i, (_, _, frame, _) in enumerate(frames):
        payload = sigtran.decode_m3ua(frame[62:]).protocol_data().payload
        tc = decode_tcap(sigtran.decode_udt(payload).data)
        comp = tc.components[0]
        portion = "-" if tc.dialogue is None else "aarq" if tc.dialogue.request else "aare"
        key = f"{MESSAGE_NAMES[int(c['msg'][i])]}/{tc.kind}/{comp.kind}/{portion}"
        out.setdefault(key, payload.hex())
    out["m3ua_aspup"] = sigtran.aspup().hex()
    out["m3ua_aspac"] = sigtran.aspac().hex()
    out["m3ua_data_frame"] = frames[0][2].hex()
    return out


def test_golden_bytes() -> None:
    now = current_golden()
    if os.environ.get("ROAMSIM_REGEN_GOLDEN"):
        GOLDEN.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(golden) == sorted(now)
    for name in golden:
        assert now[name] == golden[name], name


def test_every_payload_of_the_scenario_reads_back_by_pycrate() -> None:
    c = scenario().columns()
    data, _ = emit(c)
    payloads = {sigtran.decode_m3ua(f[2][62:]).protocol_data().payload
                for f in frames_of(data) if f[2][46] == 0 and f[2][64] == 1}
    messages = set(zip(c["txn_id"].tolist(), c["is_request"].tolist(), strict=True))
    assert len(payloads) == len(messages) == 53  # every message its own bytes (ids, IMSI, vector, ...)
    for payload in sorted(payloads):
        sccp, err = parse_SCCP(payload)
        assert err == 0 and sccp.to_bytes() == payload
        kind, body = _pycrate(sigtran.decode_udt(payload).data)
        assert kind in ("begin", "continue", "end") and len(body["components"]) == 1
