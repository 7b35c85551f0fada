"""GTPv2-C and UDP codecs without a capture: round trips, an independent decoder, templates, golden bytes.

pycrate (LGPL, a test-only dependency) is the independent decoder: it knows
each message's IE table (TS 29.274 §7) and checks the mandatory IEs. Golden
bytes (``test_pcap_gtp_golden.json``) pin a handful of shapes; regenerate them,
after checking the change is intended, with
``ROAMSIM_REGEN_GOLDEN=1 pytest tests/test_pcap_gtp_codec.py``.
"""

from __future__ import annotations

import io
import json
import os
import struct
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrate_mobile import TS29274_GTPC as pycrate_gtpc  # type: ignore[import-untyped]

from roamsim.sinks.pcap import gtpv2 as g
from roamsim.sinks.pcap.addressing import Addressing, PlmnId
from roamsim.sinks.pcap.emit_gtp import GtpEmitter, tbcd_rows
from roamsim.sinks.pcap.pcapng import PcapngWriter
from roamsim.sinks.pcap.sctp import ethernet_ipv4, ones_complement_sum
from roamsim.sinks.pcap.udp import IPPROTO_UDP, UDP_PAYLOAD_OFFSET, UdpPath, udp_segment

GOLDEN = Path(__file__).with_name("test_pcap_gtp_golden.json")
OPERATORS = [("es-one", "214-01", "ES"), ("uk-alpha", "234-15", "GB"), ("us-big", "310-260", "US")]
ADDR = Addressing([(op, plmn) for op, plmn, _ in OPERATORS])
SGW, PGW, V_PGW = ADDR.element("es-one.sgw"), ADDR.element("uk-alpha.pgw"), ADDR.element("es-one.pgw")
US_PGW = ADDR.element("us-big.pgw")


def hop(name: str, request: bool, cause: int | None = None, *, imsi: int = 234150100000042, e2e: int = 70,
        seq: int = 77, pgw: str = "uk-alpha.pgw") -> g.GtpHop:
    p = ADDR.element(pgw)
    home = next(o for o in OPERATORS if str(imsi).startswith(o[1].replace("-", "")))
    return g.GtpHop(name, request, SGW, p, PlmnId.parse(home[1]), home[2], PlmnId.parse("214-01"), imsi, e2e,
                    seq, cause)


def shapes() -> dict[str, g.GtpHop]:
    """One hop of every message shape the emitter writes."""
    return {
        "CSR_S8": hop("CreateSession", True),
        "CSR_S5_14_digits": hop("CreateSession", True, imsi=23415012345678, pgw="es-one.pgw"),
        "CSR_S8_us_home": hop("CreateSession", True, imsi=310260123456789, pgw="us-big.pgw"),
        "CSResp_16": hop("CreateSession", False, 16),
        "CSResp_78_rejected": hop("CreateSession", False, 78),
        "MBR": hop("ModifyBearer", True),
        "MBResp_16": hop("ModifyBearer", False, 16),
        "MBResp_110": hop("ModifyBearer", False, 110),
        "DSR": hop("DeleteSession", True),
        "DSResp_16": hop("DeleteSession", False, 16),
        "DSResp_64_no_context": hop("DeleteSession", False, 64),
    }


def current_golden() -> dict[str, str]:
    out = {name: g.encode(g.gtp_message(h)).hex() for name, h in shapes().items()}
    out["echo_request"] = g.echo(True, 0x800000, SGW).hex()
    out["echo_response"] = g.echo(False, 0x800000, PGW).hex()
    path = UdpPath(SGW, PGW, port=g.PORT_GTPC)
    out["udp_frame_CSR_S8"] = path.frame(SGW, g.encode(g.gtp_message(shapes()["CSR_S8"]))).hex()
    return out


# -- golden bytes and the spec's fixed values ---------------------------------------------


def test_golden_bytes() -> None:
    now = current_golden()
    if os.environ.get("ROAMSIM_REGEN_GOLDEN"):
        GOLDEN.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(golden) == sorted(now)
    for name in golden:
        assert now[name] == golden[name], name


def test_header_is_version_2_without_piggybacking() -> None:
    csr = g.encode(g.gtp_message(shapes()["CSR_S8"]))
    assert csr[0] == 0x48  # version 2, P=0, T=1
    assert struct.unpack("!H", csr[2:4])[0] == len(csr) - 4
    assert csr[4:8] == b"\0\0\0\0" and csr[8:11] == (77).to_bytes(3, "big") and csr[11] == 0
    echo = g.echo(True, 5, SGW)
    assert echo[:2] == b"\x40\x01" and struct.unpack("!H", echo[2:4])[0] == len(echo) - 4
    assert g.decode(echo) == g.GtpMessage(1, 5, None, recovery=g.restart_counter(SGW))


def test_create_session_carries_what_ts_29274_lists() -> None:
    m = g.gtp_message(shapes()["CSR_S8"])
    assert m.imsi == "234150100000042" and m.msisdn == "447500000042" and m.mei == "3500000000004201"
    assert m.serving_network == bytes.fromhex("12f410") and m.uli is not None and m.uli.plmn == m.serving_network
    assert (m.rat_type, m.apn, m.pdn_type, m.paa, m.selection_mode) == (6, "internet", 1, bytes(4), 0)
    assert m.fteids == (g.FTeid(6, g.teid_for(70, 0), SGW.ipv4),)
    assert m.bearer is not None and m.bearer.ebi == 5 and m.bearer.qos == g.DEFAULT_QOS
    assert m.bearer.fteids == (g.FTeid(4, g.teid_for(70, 2), SGW.ipv4, instance=2),)
    r = g.gtp_message(shapes()["CSResp_16"])
    assert r.teid == g.teid_for(70, 0) and r.cause == 16
    assert r.fteids == (g.FTeid(7, g.teid_for(70, 1), PGW.ipv4), g.FTeid(7, g.teid_for(70, 1), PGW.ipv4, 1))
    assert r.bearer == g.BearerContext(5, 16, (g.FTeid(5, g.teid_for(70, 3), PGW.ipv4, 2),), None,
                                       g.charging_id_for(70))
    rejected = g.gtp_message(shapes()["CSResp_78_rejected"])
    assert rejected == g.GtpMessage(33, 77, g.teid_for(70, 0), cause=78)
    assert g.gtp_message(shapes()["DSResp_64_no_context"]).teid == 0
    dsr = g.gtp_message(shapes()["DSR"])
    assert (dsr.teid, dsr.ebi, dsr.indication is not None, dsr.uli is not None) == (g.teid_for(70, 1), 5, True, True)
    assert shapes()["CSR_S5_14_digits"].interface == "S5" and shapes()["CSR_S8"].interface == "S8"


def test_session_values_stay_in_their_ranges() -> None:
    e2e = np.array([0, 1, 2**30 - 2, 2**30 - 1, 2**40, 2**62], dtype=np.int64)
    for side in range(4):
        teids = g.teid_for(e2e, side)
        assert ((teids > 0) & (teids < 2**32) & (teids % 4 == side)).all()
        assert [g.teid_for(int(x), side) for x in e2e] == teids.tolist()
    assert len({g.teid_for(k, 0) for k in range(1000)}) == 1000
    imsi = np.array([10**13, 234150100000042, 999_999_999_999_999], dtype=np.int64)
    tac, eci = g.cell_for(imsi)
    assert ((tac >= 1) & (tac <= 0xFFFD) & (eci >= 0) & (eci < 2**28)).all()
    ip = g.ue_ipv4_for(imsi)
    assert ((ip > 0x64400000) & (ip < 0x64800000)).all()
    assert len(str(g.mei_for(999_999_999_999_999))) == 16


# -- round trip: encode → decode -----------------------------------------------------------

digits = st.from_regex(r"[0-9]{1,15}", fullmatch=True)
u32 = st.integers(0, 2**32 - 1)
ipv4 = st.binary(min_size=4, max_size=4)
fteids = st.builds(g.FTeid, st.integers(0, 63), u32, ipv4, st.integers(0, 15))
apns = st.from_regex(r"[a-z0-9]{1,20}(\.[a-z0-9-]{1,20}){0,3}", fullmatch=True)


@st.composite
def messages(draw: st.DrawFn) -> g.GtpMessage:
    mtype = draw(st.sampled_from([1, 2, 32, 33, 34, 35, 36, 37]))
    qos = st.builds(g.BearerQos, st.booleans(), st.integers(0, 15), st.booleans(), st.integers(0, 255),
                    *[st.integers(0, 2**40 - 1)] * 4)
    bearer = st.builds(g.BearerContext, st.integers(0, 15), st.none() | st.integers(1, 255),
                       st.lists(fteids, max_size=3).map(tuple), st.none() | qos, st.none() | u32)
    uli = st.builds(g.UserLocation, st.binary(min_size=3, max_size=3), st.integers(0, 0xFFFF),
                    st.integers(0, 2**28 - 1))
    octet = st.integers(0, 255)
    return g.GtpMessage(
        message_type=mtype, seq=draw(st.integers(0, 2**24 - 1)),
        teid=None if mtype in (1, 2) else draw(u32),
        cause=draw(st.none() | st.integers(1, 255)), imsi=draw(st.none() | digits),
        msisdn=draw(st.none() | digits), mei=draw(st.none() | digits), uli=draw(st.none() | uli),
        serving_network=draw(st.none() | st.binary(min_size=3, max_size=3)), rat_type=draw(st.none() | octet),
        indication=draw(st.none() | st.binary(min_size=1, max_size=8)),
        fteids=tuple(draw(st.lists(fteids, max_size=3))), apn=draw(st.none() | apns),
        selection_mode=draw(st.none() | st.integers(0, 3)), pdn_type=draw(st.none() | st.just(1)),
        paa=draw(st.none() | ipv4), apn_restriction=draw(st.none() | octet),
        ambr=draw(st.none() | st.tuples(u32, u32)), ebi=draw(st.none() | st.integers(0, 15)),
        bearer=draw(st.none() | bearer), recovery=draw(st.none() | octet),
        ue_time_zone=draw(st.none() | st.tuples(octet, st.integers(0, 3))),
        charging_characteristics=draw(st.none() | st.integers(0, 0xFFFF)),
    )


@settings(max_examples=200, deadline=None)
@given(m=messages())
def test_round_trip(m: g.GtpMessage) -> None:
    data = g.encode(m)
    assert g.decode(data) == m
    assert len(data) == struct.unpack("!H", data[2:4])[0] + 4


def test_decoder_rejects_what_it_cannot_read() -> None:
    data = g.encode(g.gtp_message(shapes()["CSR_S8"]))
    with pytest.raises(g.DecodeError, match="does not match"):
        g.decode(data[:-1])
    with pytest.raises(g.DecodeError, match="not GTPv2"):
        g.decode(b"\x28" + data[1:])
    with pytest.raises(g.DecodeError, match="P=1"):
        g.decode(b"\x58" + data[1:])
    bad = bytearray(data)
    bad[13] = 0xFF  # the IMSI IE's length
    with pytest.raises(g.DecodeError, match="runs past"):
        g.decode(bytes(bad))
    with pytest.raises(ValueError, match="cause 0"):
        g.encode(g.GtpMessage(33, 1, cause=0))
    with pytest.raises(ValueError, match="24 bits"):
        g.encode(g.GtpMessage(33, 2**24, cause=16))


def test_tbcd_and_apn_labels() -> None:
    assert g.tbcd("12345") == bytes.fromhex("2143f5")
    assert g.untbcd(bytes.fromhex("2143f5")) == "12345" and g.untbcd(bytes.fromhex("2143")) == "1234"
    assert g.apn_labels("internet.mnc015.mcc234.gprs") == b"\x08internet\x06mnc015\x06mcc234\x04gprs"
    with pytest.raises(ValueError, match="label"):
        g.apn_labels("a..b")


# -- pycrate, an independent decoder ------------------------------------------------------


def _pycrate_ies(data: bytes) -> tuple[Any, list[tuple[int, int, bytes]]]:
    msg, err = pycrate_gtpc.parse_GTPC(data)
    if err == pycrate_gtpc.ERR_GTPC_MAND_IE_MISS:
        # only a rejection may leave out a mandatory IE (TS 29.274 §7.7: the Cause is what counts)
        fresh = pycrate_gtpc.GTPCDispatcher[data[1]]()
        with pytest.raises(pycrate_gtpc.GTPCDecErr, match="missing mandatory IE"):
            fresh.from_bytes(data)
    else:
        assert err == 0
    assert msg is not None and msg.to_bytes() == data
    return msg, [(e[0][0].get_val(), e[0][3].get_val(), e[1].to_bytes()) for e in msg[1]]


@settings(max_examples=60, deadline=None)
@given(shape=st.sampled_from(sorted(shapes())), e2e=st.integers(0, 2**62), seq=st.integers(0, 2**24 - 1),
       tail=st.integers(0, 10**8 - 1))
def test_pycrate_reads_what_we_write(shape: str, e2e: int, seq: int, tail: int) -> None:
    base = shapes()[shape]
    h = replace(base, e2e_id=e2e, seq=seq, imsi=base.imsi // 10**8 * 10**8 + tail)
    data = g.encode(g.gtp_message(h))
    msg, pieces = _pycrate_ies(data)
    _, teid, our_seq, ies = g.parse(data)
    assert pieces == [(e.type, e.instance, e.data) for e in ies]
    hdr = msg[0].get_val()
    assert (hdr[0], hdr[1], hdr[2], hdr[5], hdr[7], hdr[8]) == (2, 0, 1, h.message_type, teid, our_seq)
    if not h.accepted and h.cause is not None:
        assert [p[0] for p in pieces] == [g.IE_CAUSE]
        assert CAUSE_REJECTIONS.issuperset({h.cause})
    named = {e._name: e for e in msg[1]}
    if "IMSI" in named:
        assert named["IMSI"][1].decode() == str(h.imsi)
        assert named["MSISDN"][1].decode() == h.msisdn
        assert named["MEI"][1].decode() == str(g.mei_for(h.imsi))
        uli = named["ULI"][1].get_val()
        assert (uli[1][1], uli[2][2]) == g.cell_for(h.imsi)
        assert named["SenderFTEIDforControlPlane"][1].get_val()[2:4] == [6, g.teid_for(e2e, 0)]
    if h.accepted and h.name == "CreateSession":
        assert named["PGWS5S8S2aS2bFTEIDforPMIPbasedinterfaceorforGTPbasedControlPlaneinterface"][1].get_val()[
            2:4] == [7, g.teid_for(e2e, 1)]


CAUSE_REJECTIONS = {k for k in g.CAUSES if k >= 64}


# -- templates and vectorised records = the full encoding -------------------------------------


@settings(max_examples=200, deadline=None)
@given(shape=st.sampled_from(sorted(shapes())), e2e=st.integers(0, 2**62), seq=st.integers(0, 2**24 - 1),
       tail=st.integers(0, 10**8 - 1))
def test_filled_template_equals_full_encoding(shape: str, e2e: int, seq: int, tail: int) -> None:
    base = shapes()[shape]
    h = replace(base, e2e_id=e2e, seq=seq, imsi=base.imsi // 10**8 * 10**8 + tail)
    tpl = g.template(base)
    buf = bytearray(b"xyz" + tpl.data)
    tpl.fill(buf, 3, g.session_record(h))
    assert bytes(buf[3:]) == g.encode(g.gtp_message(h))


ELEMENTS = ["es-one.sgw", "uk-alpha.pgw", "us-big.pgw", "es-one.pgw"]


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from([(1, "2341501"), (1, "234151"), (2, "310260")]),
                               st.integers(0, 10**8 - 1), st.integers(0, 2**62), st.integers(0, 2**24 - 1)),
                     min_size=1, max_size=30))
def test_vectorised_records_equal_the_scalar_ones(rows: list[tuple[tuple[int, str], int, int, int]]) -> None:
    em = GtpEmitter(PcapngWriter(io.BytesIO()), ADDR, ELEMENTS, [o for o, _, _ in OPERATORS],
                    [c for _, _, c in OPERATORS])
    imsis = [int(prefix + f"{tail:08d}") for (_, prefix), tail, _, _ in rows]
    c: dict[str, np.ndarray] = {
        "imsi": np.array(imsis, dtype=np.int64), "e2e_id": np.array([r[2] for r in rows], dtype=np.int64),
        "home_op": np.array([r[0][0] for r in rows], dtype=np.int16)}
    seq = np.array([r[3] for r in rows], dtype=np.int64)
    got = em.records(c, seq)
    want = b"".join(g.session_record(em.hop(0, True, 0, 0, 1, r[0][0], 0, imsi, r[2], r[3]))
                    for r, imsi in zip(rows, imsis, strict=True))
    assert got == want


@settings(max_examples=200, deadline=None)
@given(value=st.integers(0, 10**16 - 1), extra=st.integers(0, 3))
def test_vectorised_tbcd(value: int, extra: int) -> None:
    n = max(len(str(value)), 1) + extra
    n = min(n, 16)
    text = f"{value:0{n}d}"[-n:]
    got = tbcd_rows(np.array([int(text)], dtype=np.int64), np.array([n])).tobytes()
    assert got == g.tbcd(text).ljust(8, b"\xff")


# -- UDP ---------------------------------------------------------------------------------


def _udp_valid(frame: bytes) -> bool:
    ip = frame[14:34]
    seg = frame[34:]
    pseudo = ip[12:20] + struct.pack("!BBH", 0, IPPROTO_UDP, len(seg))
    return ones_complement_sum(pseudo + seg + b"\0" * (len(seg) & 1)) == 0xFFFF


@settings(max_examples=200, deadline=None)
@given(payloads=st.lists(st.tuples(st.booleans(), st.binary(max_size=200)), min_size=1, max_size=6))
def test_udp_frames_have_valid_checksums_and_counters(payloads: list[tuple[bool, bytes]]) -> None:
    path = UdpPath(SGW, PGW, port=2123)
    idents = {True: 0, False: 0}
    for forward, payload in payloads:
        src, dst = (SGW, PGW) if forward else (PGW, SGW)
        frame = path.frame(src, payload)
        assert frame == ethernet_ipv4(src, dst, 8 + len(payload), idents[forward], IPPROTO_UDP) + udp_segment(
            src, dst, 2123, 2123, payload)
        idents[forward] += 1
        assert ones_complement_sum(frame[14:34]) == 0xFFFF and _udp_valid(frame)
        assert frame[UDP_PAYLOAD_OFFSET:] == payload


def test_a_zero_udp_checksum_is_sent_as_all_ones() -> None:
    path = UdpPath(SGW, PGW, port=2123)
    probe = path.frame(SGW, b"\0\0")
    # choose the payload word that makes the ones'-complement sum 0xFFFF, i.e. a computed checksum of 0
    payload = probe[40:42]
    frame = UdpPath(SGW, PGW, port=2123).frame(SGW, payload)
    assert frame[40:42] == b"\xff\xff"
    assert _udp_valid(frame)
