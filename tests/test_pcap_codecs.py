"""Packet-trace codecs without a run: addressing, Diameter S6a, SCTP, CRC32c, pcapng.

Golden bytes (``test_pcap_golden.json``) pin every S6a message shape, CER/CEA and
the SCTP set-up. Regenerate them, after checking the change is intended, with
``ROAMSIM_REGEN_GOLDEN=1 pytest tests/test_pcap_codecs.py``; the tshark test in
``test_pcap.py`` decodes the same shapes strictly.
"""

from __future__ import annotations

import io
import json
import os
import struct
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roamsim.sinks.pcap import diameter as dia
from roamsim.sinks.pcap.addressing import IPX_HOST, IPX_IPV4, Addressing, Element, PlmnId, operator_codes
from roamsim.sinks.pcap.crc32c import crc32c, crc32c_python
from roamsim.sinks.pcap.diameter_s6a import (
    BY_NAME,
    AuthVector,
    S6aHop,
    S6aMessage,
    auth_vector,
    decode_s6a,
    encode,
    s6a_message,
    template,
)
from roamsim.sinks.pcap.pcapng import PcapngWriter
from roamsim.sinks.pcap.sctp import DATA_PAYLOAD_OFFSET, SctpAssociation, ones_complement_sum

GOLDEN = Path(__file__).with_name("test_pcap_golden.json")
OPERATORS = [("es-one", "214-01"), ("uk-alpha", "234-15"), ("us-big", "310-260")]
ADDR = Addressing(OPERATORS)


def mme_path(mme: str = "es-one.mme2", home: str = "uk-alpha") -> tuple[Element, ...]:
    op = mme.rsplit(".", 1)[0]
    return tuple(ADDR.element(n) for n in (mme, f"{op}.dea", "ipx", f"{home}.dea", f"{home}.hss"))


def hss_path(mme: str = "es-one.mme2", home: str = "uk-alpha") -> tuple[Element, ...]:
    op = mme.rsplit(".", 1)[0]
    return tuple(ADDR.element(n) for n in (f"{home}.hss", f"{home}.dea", "ipx", f"{op}.dea", mme))


def shapes() -> dict[str, S6aHop]:
    """One hop of every message shape the simulator produces."""
    m, h = mme_path(), hss_path()

    def hop(name: str, path: tuple[Element, ...], resp: int, n: int, rc: int | None = None, *,
            exp: bool = False, initial: bool = True, retrans: bool = False) -> S6aHop:
        return S6aHop(name, path, resp, n, imsi=234150100000042, txn_id=77, e2e_id=70,
                      visited_plmn=PlmnId.parse("214-01"), result_code=rc, experimental=exp,
                      retransmission=retrans, initial_attach=initial)

    out = {
        "AIR_hop1": hop("AIR", m, 4, 1),
        "AIA_2001_hop2": hop("AIA", m, 4, 2, 2001),
        "AIA_4181_exp": hop("AIA", m, 4, 1, 4181, exp=True),
        "AIA_3004": hop("AIA", m, 4, 0, 3004),
        "ULR_hop3_attach": hop("ULR", m, 4, 3),
        "ULR_hop0_tau_retransmitted": hop("ULR", m, 4, 0, initial=False, retrans=True),
        "ULA_2001": hop("ULA", m, 4, 3, 2001),
        "ULA_5012_steering": hop("ULA", m, 3, 0, 5012),
        "ULA_5004_exp": hop("ULA", m, 4, 1, 5004, exp=True),
        "ULA_3002": hop("ULA", m, 4, 1, 3002),
        "CLR_hop2": hop("CLR", h, 4, 2),
        "CLA_2001": hop("CLA", h, 4, 1, 2001),
        "IDR_hop3": hop("IDR", h, 4, 3),
        "IDA_2001": hop("IDA", h, 4, 0, 2001),
        "PUR_hop1": hop("PUR", m, 4, 1),
        "PUA_2001": hop("PUA", m, 4, 2, 2001),
    }
    return out


def other_frames() -> dict[str, bytes]:
    a, b = ADDR.element("es-one.dea"), ADDR.element("ipx")
    assoc = SctpAssociation(a, b)
    frames = dict(zip(("sctp_init", "sctp_init_ack", "sctp_cookie_echo", "sctp_cookie_ack"), assoc.handshake(),
                      strict=True))
    cer = dia.capabilities_exchange(request=True, host=a.host, realm=a.realm, ipv4=a.ipv4, hop_by_hop=1,
                                    end_to_end=2, relay=True)
    cea = dia.capabilities_exchange(request=False, host=b.host, realm=b.realm, ipv4=b.ipv4, hop_by_hop=1,
                                    end_to_end=2, relay=True)
    frames["cer_frame"] = assoc.data_frame(a, cer)
    frames["cea_frame"] = assoc.data_frame(b, cea)
    frames["dwr"] = dia.device_watchdog(request=True, host=a.host, realm=a.realm, hop_by_hop=3, end_to_end=4)
    frames["dwa"] = dia.device_watchdog(request=False, host=b.host, realm=b.realm, hop_by_hop=3, end_to_end=4)
    return frames


def current_golden() -> dict[str, str]:
    out = {name: encode(s6a_message(h)).hex() for name, h in shapes().items()}
    out |= {name: data.hex() for name, data in other_frames().items()}
    return out


# -- addressing -------------------------------------------------------------------


def test_realm_and_hosts_follow_ts_23003() -> None:
    mme = ADDR.element("es-one.mme2")
    assert mme.host == "mme2.epc.mnc001.mcc214.3gppnetwork.org"
    assert mme.realm == "epc.mnc001.mcc214.3gppnetwork.org"
    assert ADDR.element("uk-alpha.hss").host == "hss.epc.mnc015.mcc234.3gppnetwork.org"
    assert ADDR.element("us-big.dea").host == "dea.epc.mnc260.mcc310.3gppnetwork.org"
    assert ADDR.element("ipx").host == IPX_HOST
    assert ADDR.element("ipx").ipv4 == IPX_IPV4


KINDS = ("hss", "dea", "hlr", "stp", "smsc", "ausf", "udm", "sepp", "smf", "sgw", "pgw", "smsf",
         *(f"{k}{n}" for k in ("mme", "vlr", "sgsn", "amf") for n in (1, 2, 60)))


def test_addresses_are_unique_stable_and_follow_the_scheme() -> None:
    names = ["ipx"] + [f"{op}.{k}" for op, _ in OPERATORS for k in KINDS]
    elements = [ADDR.element(n) for n in names]
    assert len({e.ipv4 for e in elements}) == len(elements)
    assert len({e.host for e in elements}) == len(elements)
    for e in elements:
        assert e.mac == b"\x02\x00" + e.ipv4
        assert e.ipv4[0] == 10
    # the order of operators does not change anybody's address
    again = Addressing(list(reversed(OPERATORS)))
    assert all(again.element(n) == ADDR.element(n) for n in names)
    assert ADDR.element("es-one.mme2").ipv4[3] == 12
    assert ADDR.element("es-one.dea").ipv4[3] == 1
    assert ADDR.element("es-one.hss").ipv4[3] == 2
    assert ADDR.element("es-one.vlr1").ipv4[3] == 71
    assert ADDR.element("es-one.amf60").ipv4[3] == 250
    with pytest.raises(ValueError, match="no address rule"):
        ADDR.element("es-one.mme61")


def test_operator_code_collisions_are_resolved_in_sorted_order() -> None:
    codes = operator_codes(f"{mcc:03d}-{mnc:02d}" for mcc in range(200, 260) for mnc in range(100))
    assert len(set(codes.values())) == len(codes) == 6000
    assert not {0, 0xFFFF} & set(codes.values())


def test_unknown_elements_are_errors() -> None:
    with pytest.raises(ValueError, match="unknown element"):
        ADDR.element("xx.hss")
    with pytest.raises(ValueError, match="no address rule"):
        ADDR.element("es-one.sgw1")


@pytest.mark.parametrize(("plmn", "tbcd"), [("262-01", "62f210"), ("214-01", "12f410"), ("310-260", "130062"),
                                            ("234-15", "32f451")])
def test_plmn_identity_is_swapped_bcd(plmn: str, tbcd: str) -> None:
    assert PlmnId.parse(plmn).tbcd().hex() == tbcd


# -- golden bytes ------------------------------------------------------------------


def test_golden_bytes() -> None:
    now = current_golden()
    if os.environ.get("ROAMSIM_REGEN_GOLDEN"):
        GOLDEN.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(golden) == sorted(now)
    for name in golden:
        assert now[name] == golden[name], name


def test_golden_shapes_say_what_the_hop_says() -> None:
    s = shapes()
    ula = decode_s6a(encode(s6a_message(s["ULA_5012_steering"])))
    assert ula.origin_host == "dea.epc.mnc015.mcc234.3gppnetwork.org"
    assert ula.result_code == 5012
    assert ula.experimental_result_code is None
    ulr = decode_s6a(encode(s6a_message(s["ULR_hop3_attach"])))
    assert ulr.route_record == ("mme2.epc.mnc001.mcc214.3gppnetwork.org", "dea.epc.mnc001.mcc214.3gppnetwork.org",
                                IPX_HOST)
    assert ulr.destination_host == "hss.epc.mnc015.mcc234.3gppnetwork.org"
    assert ulr.user_name == "234150100000042"
    assert ulr.visited_plmn_id == bytes.fromhex("12f410")
    assert ulr.initial_attach
    assert ulr.session_id == "mme2.epc.mnc001.mcc214.3gppnetwork.org;0000000000;0000000070"
    assert ulr.hop_by_hop == (77 << 3) | 3
    assert ulr.end_to_end == 70
    tau = decode_s6a(encode(s6a_message(s["ULR_hop0_tau_retransmitted"])))
    assert tau.retransmitted and not tau.initial_attach and tau.route_record == ()
    clr = decode_s6a(encode(s6a_message(s["CLR_hop2"])))
    assert clr.destination_host == "mme2.epc.mnc001.mcc214.3gppnetwork.org"
    assert clr.origin_host == "hss.epc.mnc015.mcc234.3gppnetwork.org"
    assert clr.route_record == ("hss.epc.mnc015.mcc234.3gppnetwork.org", "dea.epc.mnc015.mcc234.3gppnetwork.org")
    # the answer on a hop carries the hop-by-hop id of the request on that hop
    req = s6a_message(replace(s["AIR_hop1"], hop=2))
    ans = s6a_message(replace(s["AIA_2001_hop2"], hop=1))
    assert req.hop_by_hop == ans.hop_by_hop
    aia = decode_s6a(encode(s6a_message(s["AIA_2001_hop2"])))
    assert aia.auth_vector == auth_vector(234150100000042, 77)
    assert aia.auth_vector is not None and aia.auth_vector.autn[6:8] == b"\x80\x00"
    e_bit = dia.decode(encode(s6a_message(s["AIA_3004"])))
    assert e_bit.flags & dia.CMD_ERROR
    assert not dia.decode(encode(s6a_message(s["ULA_5004_exp"]))).flags & dia.CMD_ERROR


# -- templates = full encoding ---------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(shape=st.sampled_from(sorted(shapes())), imsi=st.integers(10**14, 10**15 - 1),
       txn=st.integers(0, 2**40), e2e=st.integers(0, 2**45))
def test_filled_template_equals_full_encoding(shape: str, imsi: int, txn: int, e2e: int) -> None:
    h = shapes()[shape]
    tpl = template(replace(h, imsi=10**14, txn_id=0, e2e_id=0))
    buf = bytearray(b"xx" + tpl.data)
    tpl.fill(buf, 2, imsi, txn, e2e)
    assert bytes(buf[2:]) == encode(s6a_message(replace(h, imsi=imsi, txn_id=txn, e2e_id=e2e)))


# -- Hypothesis round trip: encode → decode_s6a -------------------------------------------

hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,20}){1,5}", fullmatch=True)
digits = st.from_regex(r"[0-9]{5,15}", fullmatch=True)
octets = st.binary(min_size=1, max_size=40)


@st.composite
def s6a_messages(draw: st.DrawFn) -> S6aMessage:
    name = draw(st.sampled_from(sorted(BY_NAME)))
    _, request = BY_NAME[name]
    key = name[:2]
    m = S6aMessage(
        name=name, hop_by_hop=draw(st.integers(0, 2**32 - 1)), end_to_end=draw(st.integers(0, 2**32 - 1)),
        session_id=draw(hosts) + ";" + draw(digits), origin_host=draw(hosts), origin_realm=draw(hosts),
    )
    if request:
        return replace(
            m, destination_host=draw(st.none() | hosts), destination_realm=draw(hosts), user_name=draw(digits),
            visited_plmn_id=draw(st.binary(min_size=3, max_size=3)) if key in ("UL", "AI") else None,
            route_record=tuple(draw(st.lists(hosts, max_size=4))), retransmitted=draw(st.booleans()),
            initial_attach=draw(st.booleans()) if key == "UL" else True,
            cancellation_type=draw(st.integers(0, 4)) if key == "CL" else 0,
        )
    experimental = draw(st.booleans())
    code = draw(st.sampled_from([2001, 3002, 3004, 4181, 5001, 5004, 5012, 5420]))
    vector = None
    if not experimental and code == 2001 and key == "AI":
        vector = AuthVector(draw(st.binary(min_size=16, max_size=16)), draw(st.binary(min_size=4, max_size=16)),
                            draw(st.binary(min_size=16, max_size=16)), draw(st.binary(min_size=32, max_size=32)))
    return replace(m, result_code=None if experimental else code,
                   experimental_result_code=code if experimental else None, auth_vector=vector)


@settings(max_examples=150, deadline=None)
@given(m=s6a_messages())
def test_s6a_round_trip(m: S6aMessage) -> None:
    data = encode(m)
    assert len(data) % 4 == 0
    assert decode_s6a(data) == m


@st.composite
def avp_trees(draw: st.DrawFn, depth: int = 0) -> bytes:
    if depth < 2 and draw(st.booleans()):
        members = draw(st.lists(avp_trees(depth + 1), max_size=3))
        return dia.grouped(dia.Code.SUBSCRIPTION_DATA, members, vendor=10415)
    code = draw(st.sampled_from([1, 263, 264, 1407, 1447]))
    return dia.avp(code, draw(octets), mandatory=draw(st.booleans()), vendor=draw(st.none() | st.just(10415)))


@settings(max_examples=200, deadline=None)
@given(avps=st.lists(avp_trees(), max_size=6))
def test_diameter_decoder_reads_back_any_avp_tree(avps: list[bytes]) -> None:
    data = dia.message(316, dia.CMD_REQUEST, 16777251, 5, 6, avps)
    msg = dia.decode(data)
    assert (msg.command, msg.hop_by_hop, msg.end_to_end, msg.is_request) == (316, 5, 6, True)
    assert len(msg.avps) == len(avps)
    for a, raw in zip(msg.avps, avps, strict=True):
        head = 12 if a.vendor is not None else 8
        length = struct.unpack("!I", raw[4:8])[0] & 0xFFFFFF
        assert a.data == raw[head:length]


def test_decoder_rejects_bad_lengths() -> None:
    data = bytearray(encode(s6a_message(shapes()["ULR_hop3_attach"])))
    with pytest.raises(dia.DecodeError):
        dia.decode(bytes(data[:-4]))
    data[20 + 7] = 0xFF  # Session-Id length beyond the message
    with pytest.raises(dia.DecodeError):
        dia.decode(bytes(data))


# -- SCTP, IPv4, CRC32c -------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=300))
def test_crc32c_fallback_matches_native(data: bytes) -> None:
    assert crc32c_python(data) == crc32c(data)


def test_crc32c_check_value() -> None:
    assert crc32c(b"123456789") == crc32c_python(b"123456789") == 0xE3069283  # RFC 9260 / iSCSI check value


def test_data_frames_have_valid_checksums_and_advancing_counters() -> None:
    a, b = ADDR.element("es-one.dea"), ADDR.element("ipx")
    assoc = SctpAssociation(a, b)
    assoc.handshake()
    payload = encode(s6a_message(shapes()["ULR_hop3_attach"]))
    frames = [assoc.data_frame(a, payload, stream=3) for _ in range(3)] + [assoc.data_frame(b, payload, stream=3)]
    tsns = []
    for f in frames:
        ip = f[14:34]
        assert ones_complement_sum(ip) == 0xFFFF
        sctp = bytearray(f[34:])
        crc = struct.unpack("<I", sctp[8:12])[0]
        sctp[8:12] = b"\0\0\0\0"
        assert crc == crc32c(bytes(sctp))
        tsn, stream, ssn, ppid = struct.unpack("!IHHI", f[50:62])
        tsns.append((tsn, ssn))
        assert (stream, ppid) == (3, 46)
        assert f[DATA_PAYLOAD_OFFSET:DATA_PAYLOAD_OFFSET + len(payload)] == payload
    (t0, s0), (t1, s1), (t2, s2), (_, sb) = tsns
    assert (t1 - t0, t2 - t1, s0, s1, s2, sb) == (1, 1, 0, 1, 2, 0)


def test_pcapng_blocks_are_well_formed() -> None:
    f = io.BytesIO()
    w = PcapngWriter(f, comment="run x", application="roamsim")
    w.name_resolution([(b"\x0a\x00\x00\x01", ["proxy.ipx.roamsim.example"])])
    iface = w.add_interface("a<->b", "desc")
    w.packet(iface, 1_814_573_053_601_097_896, b"\x01\x02\x03", b"")
    w.flush()
    data = f.getvalue()
    pos, types = 0, []
    while pos < len(data):
        btype, total = struct.unpack_from("<II", data, pos)
        assert total % 4 == 0
        assert struct.unpack_from("<I", data, pos + total - 4)[0] == total
        types.append(btype)
        if btype == 6:
            hi, lo = struct.unpack_from("<II", data, pos + 12)
            assert (hi << 32) | lo == 1_814_573_053_601_097_896
        pos += total
    assert types == [0x0A0D0D0A, 4, 1, 6]
