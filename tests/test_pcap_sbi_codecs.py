"""SBI packet codecs without tshark: TCP framing, HTTP/2 frames, HPACK, the SBI messages and their templates.

Oracles: the ``hpack`` package (MIT, test-only) decodes every header block;
RFC 7541 Appendix C gives integer encodings; the RFC 1071 word sum of
``roamsim.sinks.pcap.sctp`` checks the TCP checksum. Golden bytes
(``test_pcap_sbi_golden.json``) pin a handful of message shapes; regenerate
them, after checking the change is intended, with
``ROAMSIM_REGEN_GOLDEN=1 pytest tests/test_pcap_sbi_codecs.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from pathlib import Path

import hpack
import pytest
from hpack.table import HeaderTable
from hypothesis import given, settings
from hypothesis import strategies as st

from roamsim.sinks.pcap import http2, sbi
from roamsim.sinks.pcap.addressing import Addressing
from roamsim.sinks.pcap.numbering import msisdn_for
from roamsim.sinks.pcap.sctp import ones_complement_sum
from roamsim.sinks.pcap.tcp import MSS, PAYLOAD_OFFSET, TcpConnection, checksum

GOLDEN = Path(__file__).with_name("test_pcap_sbi_golden.json")
ADDR = Addressing([("es-one", "214-01"), ("uk-alpha", "234-15"), ("us-big", "310-260")])
E = ADDR.element
IMSI = 234150100000042
PLMN_UK = ADDR.plmn_of("uk-alpha")


def hop(name: str, *, is_request: bool = True, status: int = 0, sender: str = "es-one.sepp",
        receiver: str = "ipx", home: str = "uk-alpha", visited: str = "es-one", consumer: str | None = None,
        producer: str | None = None) -> sbi.SbiHop:
    """A roaming hop of ``name`` (default: visited SEPP → IPX), with the SEPPs of both networks."""
    op = sbi.OPERATIONS[name]
    notification = op.producer == "amf"
    if consumer is None:
        consumer = f"{home}.udm" if notification else f"{visited}.{'smf' if op.producer == 'smf' else 'amf1'}"
    if producer is None:
        producer = f"{visited}.amf1" if notification else f"{home}.{op.producer}"
    c, p = E(consumer), E(producer)
    h = ADDR.plmn_of(home)
    return sbi.SbiHop(name=name, is_request=is_request, status=status, sender=E(sender), receiver=E(receiver),
                      consumer=c, producer=p, home=h, visited=ADDR.plmn_of(visited),
                      msisdn_prefix="447" + h.mnc[-1], consumer_sepp=E(f"{c.operator}.sepp"),
                      producer_sepp=E(f"{p.operator}.sepp"))


def every_shape() -> dict[str, sbi.SbiHop]:
    """Every operation's request and success answer, and an error answer, on a roaming hop."""
    out = {}
    for name, op in sbi.OPERATIONS.items():
        out[f"{name}_request"] = hop(name)
        out[f"{name}_{op.success}"] = hop(name, is_request=False, status=op.success, sender="ipx",
                                          receiver="es-one.sepp")
        out[f"{name}_500"] = hop(name, is_request=False, status=500, sender="ipx", receiver="es-one.sepp")
    return out


# -- TCP ------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=600), st.integers(0, 0xFFFF))
def test_checksum_is_the_rfc1071_word_sum(data: bytes, partial: int) -> None:
    padded = data + b"\0" * (len(data) & 1)
    expected = ~((ones_complement_sum(padded) + partial) % 0xFFFF or 0xFFFF) & 0xFFFF
    got = checksum(data, partial % 0xFFFF)
    assert got == expected
    # A receiver's check: the sum over the data with the checksum included is all ones (RFC 1071 §1).
    if len(padded) % 2 == 0 and partial == 0:
        assert ones_complement_sum(padded + struct.pack("!H", got)) in (0xFFFF, 0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.binary(min_size=1, max_size=MSS)), min_size=1, max_size=8))
def test_tcp_segment_template_equals_full_segment(segments: list[tuple[bool, bytes]]) -> None:
    client, server = E("es-one.sepp"), E("ipx")
    slow, fast = TcpConnection(client, server, server_port=80), TcpConnection(client, server, server_port=80)
    assert slow.handshake() == fast.handshake()
    for from_client, payload in segments:
        src = client if from_client else server
        tpl = fast.template(src, len(payload))
        buf = bytearray(tpl.data)
        buf[PAYLOAD_OFFSET:] = payload
        tpl.finish(buf)
        assert bytes(buf) == slow.segment(src, payload)
    assert (slow.out.next_seq, slow.back.next_seq) == (fast.out.next_seq, fast.back.next_seq)


def test_tcp_handshake_and_sequence_numbers() -> None:
    conn = TcpConnection(E("es-one.amf1"), E("es-one.sepp"), server_port=80)
    syn, syn_ack, ack = conn.handshake()
    isn_c, isn_s = conn.out.isn, conn.back.isn

    def tcp(frame: bytes) -> tuple[int, int, int, int, int]:
        sport, dport, seq, acknum, _, flags = struct.unpack_from("!HHIIBB", frame, 34)
        return sport, dport, seq, acknum, flags

    assert tcp(syn) == (conn.client_port, 80, isn_c, 0, 0x02)
    assert tcp(syn_ack) == (80, conn.client_port, isn_s, (isn_c + 1) & 0xFFFFFFFF, 0x12)
    assert tcp(ack) == (conn.client_port, 80, (isn_c + 1) & 0xFFFFFFFF, (isn_s + 1) & 0xFFFFFFFF, 0x10)
    assert 32768 <= conn.client_port <= 60999
    data = conn.segment(conn.out.src, b"x" * 100)
    assert tcp(data)[2:] == ((isn_c + 1) & 0xFFFFFFFF, (isn_s + 1) & 0xFFFFFFFF, 0x18)
    back = conn.segment(conn.back.src, b"y" * 7)
    assert tcp(back)[2:4] == ((isn_s + 1) & 0xFFFFFFFF, (isn_c + 101) & 0xFFFFFFFF)
    # IPv4 header checksum and TCP checksum verify (RFC 791, RFC 9293 §3.1).
    for frame in (syn, syn_ack, ack, data, back):
        assert ones_complement_sum(frame[14:34]) == 0xFFFF
        seg = frame[34:]
        pseudo = frame[26:34] + struct.pack("!BBH", 0, 6, len(seg))
        assert ones_complement_sum(pseudo + seg + b"\0" * (len(seg) & 1)) == 0xFFFF
    with pytest.raises(ValueError, match="MSS"):
        conn.segment(conn.out.src, b"z" * (MSS + 1))


# -- HTTP/2 and HPACK -------------------------------------------------------------


def test_static_table_is_rfc7541_appendix_a() -> None:
    table: list[tuple[str, str]] = [(n.decode(), v.decode()) for n, v in HeaderTable.STATIC_TABLE]
    assert table == list(http2.STATIC_TABLE)


@pytest.mark.parametrize(("value", "prefix", "first", "expected"), [
    (10, 5, 0, b"\x0a"),  # RFC 7541 C.1.1
    (1337, 5, 0, b"\x1f\x9a\x0a"),  # C.1.2
    (42, 8, 0, b"\x2a"),  # C.1.3
    (15, 4, 0x10, b"\x1f\x00"),
    (62, 7, 0x80, b"\xbe"),
])
def test_hpack_integers(value: int, prefix: int, first: int, expected: bytes) -> None:
    assert http2.encode_integer(value, prefix, first) == expected


_names = st.from_regex(r"[a-z0-9][a-z0-9\-]{0,30}", fullmatch=True) | st.sampled_from(
    [n for n, _ in http2.STATIC_TABLE])
_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300)
_headers = st.lists(st.tuples(_names, _values) | st.sampled_from(http2.STATIC_TABLE), max_size=12)


@settings(max_examples=300, deadline=None)
@given(_headers)
def test_hpack_round_trip_and_oracle(headers: list[tuple[str, str]]) -> None:
    block = http2.encode_headers(headers)
    assert http2.decode_headers(block) == headers
    decoder = hpack.Decoder()
    decoded = decoder.decode(block, raw=False)
    assert [(str(n), str(v)) for n, v in decoded] == headers
    assert len(decoder.header_table.dynamic_entries) == 0, "a field went into the dynamic table"
    static = set(http2.STATIC_TABLE)
    for (name, value), field in zip(headers, decoded, strict=True):
        # Fields not in the static table are literals never indexed (RFC 7541 §6.2.3).
        assert field.indexable == ((name, value) in static)


def test_hpack_rejects_dynamic_references() -> None:
    with pytest.raises(http2.DecodeError, match="static table"):
        http2.decode_headers(b"\xbe")  # index 62: the first dynamic entry
    with pytest.raises(http2.DecodeError, match="dynamic table"):
        http2.decode_headers(b"\x41\x03abc")  # literal with incremental indexing
    with pytest.raises(ValueError, match="lowercase"):
        http2.encode_headers([("Content-Type", "x")])


def test_frames() -> None:
    f = http2.frame(http2.DATA, http2.FLAG_END_STREAM, 7, b"abc")
    assert f == b"\x00\x00\x03\x00\x01\x00\x00\x00\x07abc"
    assert http2.settings(ack=True) == b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"
    assert http2.settings([(http2.SETTINGS_ENABLE_PUSH, 0)]) == b"\x00\x00\x06\x04\x00\x00\x00\x00\x00" \
        b"\x00\x02\x00\x00\x00\x00"
    assert http2.window_update(0, 2**31 - 1) == b"\x00\x00\x04\x08\x00\x00\x00\x00\x00\x7f\xff\xff\xff"
    parsed = http2.parse_frames(f + http2.settings(ack=True))
    assert [(p.type, p.flags, p.stream_id, p.payload, p.offset) for p in parsed] == [
        (0, 1, 7, b"abc", 0), (4, 1, 0, b"", 12)]
    with pytest.raises(http2.DecodeError):
        http2.parse_frames(f[:-1])
    with pytest.raises(ValueError):
        http2.window_update(0, 0)
    with pytest.raises(ValueError):
        http2.frame(http2.DATA, 0, 2**31, b"")


# -- SBI messages ---------------------------------------------------------------------


_shapes = st.sampled_from(sorted(every_shape().items()))
_imsis = st.integers(10**14, 10**15 - 1) | st.integers(10**9, 10**10 - 1)
_procs = st.integers(0, 2**63 - 1)


@settings(max_examples=300, deadline=None)
@given(_shapes, _imsis, _procs, st.integers(1, 2**31 - 1))
def test_template_fill_equals_full_encode(shape: tuple[str, sbi.SbiHop], imsi: int, proc: int, stream: int) -> None:
    _, h = shape
    v = sbi.variables(imsi, proc, h.home)
    tpl = sbi.template(h, len(str(imsi)))
    buf = bytearray(tpl.data)
    tpl.fill(buf, 0, v, stream)
    assert bytes(buf) == sbi.encode(h, v, stream)
    # No placeholder run is left (a lone marker byte can be binary framing, e.g. an HPACK length of 126).
    text = buf.decode("latin-1")
    assert not any(marker * 4 in text for marker in sbi.MARKERS.values())


@settings(max_examples=300, deadline=None)
@given(_shapes, _imsis, _procs, st.integers(1, 2**31 - 1))
def test_decode_round_trip(shape: tuple[str, sbi.SbiHop], imsi: int, proc: int, stream: int) -> None:
    _, h = shape
    v = sbi.variables(imsi, proc, h.home)
    m = sbi.http_message(h, v)
    d = sbi.decode(sbi.encode(h, v, stream))
    assert (d.stream_id, d.headers, d.body, d.end_stream) == (stream, m.headers, m.body, True)
    oracle = hpack.Decoder().decode(http2.parse_frames(sbi.encode(h, v, stream))[0].payload, raw=False)
    assert [(str(n), str(v)) for n, v in oracle] == list(m.headers)
    if m.body:
        obj = d.json
        assert isinstance(obj, dict)
        assert m.header("content-length") == str(len(m.body))
        assert m.header("content-type") in (sbi.JSON, sbi.MERGE_PATCH_JSON, sbi.PROBLEM_JSON)
    if h.is_request:
        assert m.header(":method") == h.operation.method
        assert m.header(":scheme") == "http"
    else:
        assert m.header(":status") == str(h.status)


def test_every_message_fits_one_segment() -> None:
    """With a 15-digit IMSI, the longest ids and 3-digit MNCs, every message fits one TCP segment."""
    for key, h in every_shape().items():
        for home, visited, imsi in (("uk-alpha", "es-one", IMSI), ("us-big", "uk-alpha", 310260123456789)):
            variant = hop(h.name, is_request=h.is_request, status=h.status, home=home, visited=visited,
                          sender=f"{visited}.sepp" if h.is_request else "ipx",
                          receiver="ipx" if h.is_request else f"{visited}.sepp")
            data = sbi.encode(variant, sbi.variables(imsi, 2**63 - 1, variant.home), 2**31 - 1)
            assert len(data) <= MSS, key


def test_request_contents() -> None:
    v = sbi.variables(IMSI, 0xABCDEF, PLMN_UK)
    auth = sbi.request(hop("Nausf_UEAuthentication_Authenticate"), v)
    body = json.loads(auth.body)
    assert body == {"supiOrSuci": "suci-0-234-15-0-0-0-0100000042",
                    "servingNetworkName": "5G:mnc001.mcc214.3gppnetwork.org"}
    # TS 29.571 §5.3.2 Suci pattern (null scheme branch)
    assert re.fullmatch(r"suci-0-[0-9]{3}-[0-9]{2,3}-[0-9]{1,4}-0-0-[0-9]+", body["supiOrSuci"])
    assert dict(auth.headers) == {
        ":method": "POST", ":scheme": "http", ":authority": "sepp.5gc.mnc015.mcc234.3gppnetwork.org",
        ":path": "/nausf-auth/v1/ue-authentications", "content-type": "application/json",
        "content-length": str(len(auth.body)), "user-agent": "AMF",
        "3gpp-sbi-target-apiroot": "http://ausf.5gc.mnc015.mcc234.3gppnetwork.org",
        "3gpp-sbi-originating-network-id": "214-01; src: SEPP-sepp.5gc.mnc001.mcc214.3gppnetwork.org",
    }
    first = sbi.request(hop("Nudm_UECM_Registration", sender="es-one.amf1", receiver="es-one.sepp"), v)
    assert first.header(":authority") == "sepp.5gc.mnc001.mcc214.3gppnetwork.org"
    assert first.header("3gpp-sbi-originating-network-id") is None  # added by the consumer's SEPP
    assert first.header(":path") == "/nudm-uecm/v1/imsi-234150100000042/registrations/amf-3gpp-access"
    reg = json.loads(first.body)
    assert reg["guami"] == {"plmnId": {"mcc": "214", "mnc": "01"}, "amfId": "010041"}
    assert reg["ratType"] == "NR"
    assert reg["deregCallbackUri"] == ("http://amf1.5gc.mnc001.mcc214.3gppnetwork.org/namf-callback/v1/"
                                       "imsi-234150100000042/dereg-notify")
    last = sbi.request(hop("Nudm_UECM_Registration", sender="uk-alpha.sepp", receiver="uk-alpha.udm"), v)
    assert last.header(":authority") == "udm.5gc.mnc015.mcc234.3gppnetwork.org"
    assert last.header("3gpp-sbi-target-apiroot") is None
    get = sbi.request(hop("Nudm_SDM_Get"), v)
    assert get.body == b""
    assert get.header(":path") == ("/nudm-sdm/v2/imsi-234150100000042/am-data?plmn-id="
                                   "%7B%22mcc%22%3A%22214%22%2C%22mnc%22%3A%2201%22%7D")
    patch = sbi.request(hop("Nudm_UECM_Update"), v)
    assert patch.header("content-type") == "application/merge-patch+json"
    assert json.loads(patch.body)["purgeFlag"] is True
    note = sbi.request(hop("Nudm_UECM_DeregistrationNotification", sender="uk-alpha.sepp"), v)
    assert note.header(":path") == "/namf-callback/v1/imsi-234150100000042/dereg-notify"
    assert note.header("3gpp-sbi-callback") == "Nudm_UECM_DeregistrationNotification"
    assert note.header("3gpp-sbi-target-apiroot") == "http://amf1.5gc.mnc001.mcc214.3gppnetwork.org"
    assert note.header("user-agent") == "UDM"
    assert note.header(":authority") == "sepp.5gc.mnc001.mcc214.3gppnetwork.org"
    assert json.loads(note.body)["deregReason"] == "UE_INITIAL_REGISTRATION"
    create = json.loads(sbi.request(hop("Nsmf_PDUSession_Create"), v).body)
    assert create["supi"] == "imsi-234150100000042"
    assert create["servingNetwork"] == {"mcc": "214", "mnc": "01"}
    assert create["vcnTunnelInfo"] == {"ipv4Addr": E("es-one.smf").ipv4_text, "gtpTeid": v.vteid}
    release = sbi.request(hop("Nsmf_PDUSession_Release"), v)
    assert release.header(":path") == "/nsmf-pdusession/v1/pdu-sessions/234150100000042-1/release"
    unsub = sbi.request(hop("Nudm_SDM_Unsubscribe"), v)
    assert unsub.header(":path") == "/nudm-sdm/v2/imsi-234150100000042/sdm-subscriptions/amf1-234150100000042"


def test_responses_link_to_later_requests() -> None:
    """The 201's Location and links name the resources later requests use; HXRES* is TS 33.501 A.5's."""
    v = sbi.variables(IMSI, 77, PLMN_UK)
    created = sbi.response(hop("Nausf_UEAuthentication_Authenticate", is_request=False, status=201), v)
    ctx = json.loads(created.body)
    confirm = sbi.request(hop("Nausf_UEAuthentication_Confirm"), v)
    loc = created.header("location")
    assert loc is not None
    assert loc == "http://ausf.5gc.mnc015.mcc234.3gppnetwork.org/nausf-auth/v1/ue-authentications/000000000000004d"
    assert ctx["_links"]["5g-aka"]["href"] == loc + "/5g-aka-confirmation"
    assert loc.endswith(str(confirm.header(":path")).removesuffix("/5g-aka-confirmation"))
    rand = bytes.fromhex(ctx["5gAuthData"]["rand"])
    res = bytes.fromhex(json.loads(confirm.body)["resStar"])
    assert bytes.fromhex(ctx["5gAuthData"]["hxresStar"]) == hashlib.sha256(rand + res).digest()[16:]
    assert bytes.fromhex(ctx["5gAuthData"]["autn"])[6:8] == b"\x80\x00"  # AMF separation bit
    ok = json.loads(sbi.response(hop("Nausf_UEAuthentication_Confirm", is_request=False, status=200), v).body)
    assert ok["authResult"] == "AUTHENTICATION_SUCCESS"
    assert ok["supi"] == "imsi-234150100000042"
    sub = sbi.response(hop("Nudm_SDM_Subscribe", is_request=False, status=201), v)
    unsub = sbi.request(hop("Nudm_SDM_Unsubscribe"), v)
    assert str(sub.header("location")).endswith(str(unsub.header(":path")))
    pdu = sbi.response(hop("Nsmf_PDUSession_Create", is_request=False, status=201), v)
    rel = sbi.request(hop("Nsmf_PDUSession_Release"), v)
    assert str(pdu.header("location")) + "/release" == "http://smf.5gc.mnc015.mcc234.3gppnetwork.org" + str(
        rel.header(":path"))
    am = json.loads(sbi.response(hop("Nudm_SDM_Get", is_request=False, status=200), v).body)
    assert am["gpsis"] == [f"msisdn-{msisdn_for(IMSI, '234-15', 'GB')}"]
    assert am["sorInfo"]["ackInd"] is False
    assert am["sorInfo"]["steeringContainer"] == [{"plmnId": {"mcc": "214", "mnc": "01"}, "accessTechList": ["NR"]}]
    reg_200 = sbi.response(hop("Nudm_UECM_Registration", is_request=False, status=200), v)
    assert reg_200.header("location") is None and reg_200.body
    assert sbi.response(hop("Nudm_UECM_Update", is_request=False, status=204), v) == sbi.HttpMessage(
        ((":status", "204"),))


@pytest.mark.parametrize(("name", "status", "cause"), [
    ("Nudm_UECM_Registration", 403, "ROAMING_NOT_ALLOWED"),
    ("Nausf_UEAuthentication_Authenticate", 403, "SERVING_NETWORK_NOT_AUTHORIZED"),
    ("Nudm_SDM_Get", 404, "USER_NOT_FOUND"),
    ("Nsmf_PDUSession_Create", 429, "NF_CONGESTION_RISK"),
    ("Nudm_SDM_Get", 500, "SYSTEM_FAILURE"),
    ("Nudm_SDM_Get", 503, "NF_CONGESTION"),
    ("Nudm_UECM_Registration", 504, "TARGET_NF_NOT_REACHABLE"),
    ("Nudm_UECM_Registration", 409, "UNSPECIFIED_MSG_FAILURE"),
    ("Nudm_UECM_Registration", 502, "UNSPECIFIED_NF_FAILURE"),
])
def test_problem_details(name: str, status: int, cause: str) -> None:
    m = sbi.response(hop(name, is_request=False, status=status), sbi.variables(IMSI, 1, PLMN_UK))
    assert m.header("content-type") == "application/problem+json"
    body = json.loads(m.body)
    assert body["status"] == status
    assert body["cause"] == cause
    assert m.header("location") is None


@pytest.mark.parametrize("status", [0, 100, 302, 600, 2001])
def test_bad_status_is_refused(status: int) -> None:
    with pytest.raises(ValueError, match=f"HTTP status {status}"):
        sbi.response(hop("Nudm_SDM_Get", is_request=False, status=status), sbi.variables(IMSI, 1, PLMN_UK))


def test_n32c_exchange() -> None:
    req, rsp = sbi.n32c_exchange(E("es-one.sepp"), E("us-big.sepp"))
    assert req.header(":path") == "/n32c-handshake/v1/exchange-capability"
    assert req.header(":authority") == "sepp.5gc.mnc260.mcc310.3gppnetwork.org"
    assert json.loads(req.body) == {"sender": "sepp.5gc.mnc001.mcc214.3gppnetwork.org",
                                    "supportedSecCapabilityList": ["TLS"]}
    assert json.loads(rsp.body) == {"sender": "sepp.5gc.mnc260.mcc310.3gppnetwork.org",
                                    "selectedSecCapability": "TLS"}
    assert rsp.header(":status") == "200"


def test_names() -> None:
    assert sbi.fqdn(E("es-one.amf12")) == "amf12.5gc.mnc001.mcc214.3gppnetwork.org"
    assert sbi.fqdn(E("ipx")) == "proxy.ipx.roamsim.example"
    assert sbi.serving_network_name(ADDR.plmn_of("us-big")) == "5G:mnc260.mcc310.3gppnetwork.org"
    assert sbi.amf_id(E("es-one.amf3")) == "010043"
    uid = sbi.nf_instance_id(E("es-one.amf1"))
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", uid)
    assert uid != sbi.nf_instance_id(E("es-one.amf2"))
    with pytest.raises(ValueError, match="MSIN"):
        sbi.variables(23415, 1, PLMN_UK)


# -- golden bytes -----------------------------------------------------------------------


def golden_shapes() -> dict[str, bytes]:
    v = sbi.variables(IMSI, 0x1234, PLMN_UK)
    shapes = {
        "authenticate_request_hop1": sbi.encode(hop("Nausf_UEAuthentication_Authenticate"), v, 3),
        "authenticate_201_hop2": sbi.encode(hop("Nausf_UEAuthentication_Authenticate", is_request=False,
                                                status=201), v, 5),
        "registration_request_hop0": sbi.encode(hop("Nudm_UECM_Registration", sender="es-one.amf1",
                                                    receiver="es-one.sepp"), v, 1),
        "registration_403": sbi.encode(hop("Nudm_UECM_Registration", is_request=False, status=403), v, 7),
        "sdm_get_200": sbi.encode(hop("Nudm_SDM_Get", is_request=False, status=200), v, 9),
        "update_request": sbi.encode(hop("Nudm_UECM_Update"), v, 11),
        "unsubscribe_204": sbi.encode(hop("Nudm_SDM_Unsubscribe", is_request=False, status=204), v, 13),
        "pdu_create_request": sbi.encode(hop("Nsmf_PDUSession_Create"), v, 15),
        "n32c_request": sbi.encode_message(sbi.n32c_exchange(E("es-one.sepp"), E("uk-alpha.sepp"))[0], 1),
    }
    conn = TcpConnection(E("es-one.sepp"), E("ipx"), server_port=sbi.PORT)
    frames = conn.handshake()
    shapes |= {"tcp_syn": frames[0], "tcp_syn_ack": frames[1], "tcp_ack": frames[2],
               "tcp_data": conn.segment(E("es-one.sepp"), shapes["registration_request_hop0"])}
    return shapes


def test_golden_bytes() -> None:
    made = {k: v.hex() for k, v in golden_shapes().items()}
    if os.environ.get("ROAMSIM_REGEN_GOLDEN"):
        GOLDEN.write_text(json.dumps(made, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(golden) == sorted(made)
    for key, hexed in made.items():
        assert hexed == golden[key], f"{key} changed"
