"""SBI packet traces (HTTP/2 + JSON over TCP, N32 via the IPX) judged by tshark and compared with the rows.

The rows are built here for complete procedures of a few roamers (5G
registration with authentication, AMF change with the deregistration
notification, PDU session create and release, purge) with success and error
answers (403 steering, 404, 429, 500, 503, a 504 from the visited SEPP), a
request that is never answered and its retransmission, and a subscriber at
home (no SEPP). tshark runs with IPv4 and TCP checksums verified and its exit
code checked (tests/tsharkkit.py); every test asserts decoded fields, not
only the absence of errors.
"""

from __future__ import annotations

import io
import itertools
import re
import struct
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from roamsim.sinks.pcap.addressing import Addressing
from roamsim.sinks.pcap.emit_sbi import MESSAGE_NAMES, SbiEmitter
from roamsim.sinks.pcap.numbering import msisdn_for
from roamsim.sinks.pcap.pcapng import PcapngWriter
from tsharkkit import tshark

OPERATORS = [("es-one", "214-01", "ES"), ("uk-alpha", "234-15", "GB"), ("us-big", "310-260", "US")]
OP_IDS = [o for o, _, _ in OPERATORS]
ADDR = Addressing([(o, p) for o, p, _ in OPERATORS])
ELEMENTS = ["es-one.amf1", "es-one.amf2", "es-one.sepp", "es-one.smf", "es-one.ausf", "ipx", "uk-alpha.sepp",
            "uk-alpha.ausf", "uk-alpha.udm", "uk-alpha.smf", "us-big.sepp", "us-big.ausf", "us-big.udm", "us-big.smf"]
INDEX = {n: i for i, n in enumerate(ELEMENTS)}
T0 = 1_814_573_053_601_097_896
HOP_NS = 3_000_000
CHECKS = ("-o", "tcp.check_checksum:TRUE")
DECODE_AS = ("-d", "tcp.port==80,http2")
COLUMNS = ("time", "msg", "is_request", "txn_id", "e2e_id", "procedure_id", "imsi", "origin", "destination",
           "txn_origin", "txn_responder", "hop", "rc", "retrans", "home_op", "visited_op")

A, B, C, D, E_, H = 234150100000042, 310260000000007, 234150100000099, 23415010000001, 234150100000777, 214010000000005
"""Roamers (A, C, E_ of uk-alpha; B of us-big, 15 digits and a 3-digit MNC; D of uk-alpha with 14 digits) and
a subscriber of es-one at home (H)."""

# What a request looks like on the wire, written independently of roamsim.sinks.pcap.sbi.
REQUEST_PATTERNS = {
    "Nausf_UEAuthentication_Authenticate": ("POST", r"/nausf-auth/v1/ue-authentications"),
    "Nausf_UEAuthentication_Confirm": ("PUT", r"/nausf-auth/v1/ue-authentications/[0-9a-f]{16}/5g-aka-confirmation"),
    "Nudm_UECM_Registration": ("PUT", r"/nudm-uecm/v1/imsi-(\d+)/registrations/amf-3gpp-access"),
    "Nudm_SDM_Get": ("GET", r"/nudm-sdm/v2/imsi-(\d+)/am-data\?plmn-id="
                            r"%7B%22mcc%22%3A%22\d{3}%22%2C%22mnc%22%3A%22\d+%22%7D"),
    "Nudm_SDM_Subscribe": ("POST", r"/nudm-sdm/v2/imsi-(\d+)/sdm-subscriptions"),
    "Nudm_SDM_Unsubscribe": ("DELETE", r"/nudm-sdm/v2/imsi-(\d+)/sdm-subscriptions/amf\d+-\d+"),
    "Nudm_UECM_Update": ("PATCH", r"/nudm-uecm/v1/imsi-(\d+)/registrations/amf-3gpp-access"),
    "Nudm_UECM_DeregistrationNotification": ("POST", r"/namf-callback/v1/imsi-(\d+)/dereg-notify"),
    "Nsmf_PDUSession_Create": ("POST", r"/nsmf-pdusession/v1/pdu-sessions"),
    "Nsmf_PDUSession_Release": ("POST", r"/nsmf-pdusession/v1/pdu-sessions/(\d+)-1/release"),
}
N32C = ("POST", "/n32c-handshake/v1/exchange-capability")


def classify(method: str, path: str) -> str:
    for name, (m, pattern) in REQUEST_PATTERNS.items():
        if method == m and re.fullmatch(pattern, path):
            return name
    if (method, path) == N32C:
        return "N32-c"
    raise AssertionError(f"unknown request {method} {path}")


# -- the rows ---------------------------------------------------------------------------


class Rows:
    """Message rows of whole transactions, as the engine writes them (one row per message per hop)."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, ...]] = []
        self.txn = 0

    def transaction(self, t: int, name: str, path: list[str], imsi: int, proc: int, status: int | None,
                    *, responder: int | None = None, retrans: int = 0, e2e: int | None = None) -> int:
        """Request hops along ``path``, answered by ``path[responder]`` (default: the last) with ``status``
        (None: never answered). Returns the time after the transaction."""
        self.txn += 1
        r = len(path) - 1 if responder is None else responder
        home = next(i for i, o in enumerate(OP_IDS) if str(imsi).startswith(
            ADDR.plmn_of(o).mcc + ADDR.plmn_of(o).mnc))
        visited = OP_IDS.index((path[-1] if name.endswith("Notification") else path[0]).split(".")[0])
        ends = (INDEX[path[0]], INDEX[path[r]])
        msg = MESSAGE_NAMES.index(name)
        e2e = self.txn if e2e is None else e2e
        for i in range(r):
            self.rows.append((t, msg, 1, self.txn, e2e, proc, imsi, INDEX[path[i]], INDEX[path[i + 1]], *ends, i, 0,
                              retrans, home, visited))
            t += HOP_NS
        if status is None:
            return t + 10 * HOP_NS
        for j in range(r):
            self.rows.append((t, msg, 0, self.txn, e2e, proc, imsi, INDEX[path[r - j]], INDEX[path[r - j - 1]],
                              *ends, j, status, retrans, home, visited))
            t += HOP_NS
        return t

    def columns(self) -> dict[str, np.ndarray]:
        rows = sorted(self.rows, key=lambda r: r[0])  # stable: ties keep their order
        dtypes = {"is_request": bool, "origin": np.int32, "destination": np.int32, "txn_origin": np.int32,
                  "txn_responder": np.int32, "hop": np.int8, "rc": np.int32, "retrans": np.int8,
                  "home_op": np.int16, "visited_op": np.int16}
        return {k: np.array([r[i] for r in rows], dtype=dtypes.get(k, np.int64)) for i, k in enumerate(COLUMNS)}


def via(a: str, b: str) -> list[str]:
    """The N32 path from NF ``a`` to NF ``b`` of another network."""
    return [a, f"{a.partition('.')[0]}.sepp", "ipx", f"{b.partition('.')[0]}.sepp", b]


def registration(r: Rows, t: int, amf: str, home: str, imsi: int, proc: int, *, reg_status: int = 201) -> int:
    t = r.transaction(t, "Nausf_UEAuthentication_Authenticate", via(amf, f"{home}.ausf"), imsi, proc, 201)
    t = r.transaction(t, "Nausf_UEAuthentication_Confirm", via(amf, f"{home}.ausf"), imsi, proc, 200)
    t = r.transaction(t, "Nudm_UECM_Registration", via(amf, f"{home}.udm"), imsi, proc, reg_status)
    if reg_status >= 400:
        return t
    t = r.transaction(t, "Nudm_SDM_Get", via(amf, f"{home}.udm"), imsi, proc, 200)
    return r.transaction(t, "Nudm_SDM_Subscribe", via(amf, f"{home}.udm"), imsi, proc, 201)


def build_rows() -> dict[str, np.ndarray]:
    r = Rows()
    # A: registers on amf1, PDU session up and down, moves to amf2 (amf1 told and unsubscribed), purged.
    t = registration(r, T0, "es-one.amf1", "uk-alpha", A, 1)
    t = r.transaction(t, "Nsmf_PDUSession_Create", via("es-one.smf", "uk-alpha.smf"), A, 2, 201)
    t = r.transaction(t, "Nsmf_PDUSession_Release", via("es-one.smf", "uk-alpha.smf"), A, 3, 204)
    t = registration(r, t, "es-one.amf2", "uk-alpha", A, 4)
    t = r.transaction(t, "Nudm_UECM_DeregistrationNotification", via("uk-alpha.udm", "es-one.amf1"), A, 4, 204)
    t = r.transaction(t, "Nudm_SDM_Unsubscribe", via("es-one.amf1", "uk-alpha.udm"), A, 4, 204)
    r.transaction(t, "Nudm_UECM_Update", via("es-one.amf2", "uk-alpha.udm"), A, 5, 204)
    # B (us-big, 3-digit MNC): steered away with 403, then accepted; its PDU session is refused with 429.
    t = registration(r, T0 + 1_000_000, "es-one.amf2", "us-big", B, 10, reg_status=403)
    t = registration(r, t, "es-one.amf2", "us-big", B, 11)
    r.transaction(t, "Nsmf_PDUSession_Create", via("es-one.smf", "us-big.smf"), B, 12, 429)
    # C: unknown subscriber (404); D (14 digits): am-data fails (500), PDU session refused (503).
    r.transaction(T0 + 2_000_000, "Nausf_UEAuthentication_Authenticate", via("es-one.amf1", "uk-alpha.ausf"),
                  C, 20, 404)
    t = r.transaction(T0 + 500_000, "Nudm_SDM_Get", via("es-one.amf1", "uk-alpha.udm"), D, 30, 500)
    r.transaction(t, "Nsmf_PDUSession_Create", via("es-one.smf", "uk-alpha.smf"), D, 31, 503)
    # E: the visited SEPP answers 504; then a request that is never answered and its retransmission.
    t = r.transaction(T0 + 1_500_000, "Nudm_UECM_Registration", via("es-one.amf1", "uk-alpha.udm"), E_, 40, 504,
                      responder=1)
    t = r.transaction(t, "Nudm_UECM_Registration", via("es-one.amf1", "uk-alpha.udm"), E_, 41, None, e2e=900)
    r.transaction(t, "Nudm_UECM_Registration", via("es-one.amf1", "uk-alpha.udm"), E_, 41, 201, retrans=1, e2e=900)
    # H: at home, no SEPP.
    r.transaction(T0 + 2_500_000, "Nausf_UEAuthentication_Authenticate", ["es-one.amf1", "es-one.ausf"], H, 50, 201)
    return r.columns()


def emit(rows: dict[str, np.ndarray], *, templates: bool = True, chunks: int = 1,
         window_replenish: int | None = None) -> tuple[bytes, SbiEmitter]:
    buf = io.BytesIO()
    writer = PcapngWriter(buf, comment="roamsim SBI test", application="roamsim tests")
    emitter = SbiEmitter(writer, ADDR, ELEMENTS, OP_IDS, [c for _, _, c in OPERATORS], templates=templates)
    if window_replenish is not None:
        emitter.window_replenish = window_replenish
    n = rows["time"].shape[0]
    bounds = np.linspace(0, n, chunks + 1).astype(int)
    for a, b in itertools.pairwise(bounds.tolist()):
        emitter.emit({k: v[a:b] for k, v in rows.items()})
    writer.flush()
    return buf.getvalue(), emitter


def cut(data: bytes, first_packet: int) -> bytes:
    """The capture without its first ``first_packet`` packets (interfaces kept): a capture started late."""
    out, pos, k = [], 0, 0
    while pos < len(data):
        btype, total = struct.unpack_from("<II", data, pos)
        if btype != 6 or k >= first_packet:
            out.append(data[pos:pos + total])
        k += btype == 6
        pos += total
    return b"".join(out)


def sbi_fields(path: Path, names: list[str], *extra: str, display: str | None = None) -> list[list[str]]:
    """tshark -T fields with ``|`` between the occurrences of a field (JSON values hold commas)."""
    args = [*CHECKS, *extra, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=|"]
    for n in names:
        args += ["-e", n]
    if display:
        args += ["-Y", display]
    return [line.split("\t") for line in tshark(path, *args).splitlines()]


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rows() -> dict[str, np.ndarray]:
    return build_rows()


@pytest.fixture(scope="module")
def written(rows: dict[str, np.ndarray]) -> tuple[bytes, SbiEmitter]:
    return emit(rows)


@pytest.fixture(scope="module")
def capture(written: tuple[bytes, SbiEmitter], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sbi") / "sbi.pcapng"
    path.write_bytes(written[0])
    return path


@pytest.fixture(scope="module")
def packets(capture: Path) -> list[dict[str, Any]]:
    """Every packet's decoded fields."""
    names = ["frame.number", "frame.time_epoch", "frame.comment", "frame.interface_name",
             "frame.interface_description", "ip.src", "ip.dst", "tcp.stream", "tcp.flags", "tcp.srcport",
             "tcp.dstport", "http2.magic", "http2.type", "http2.streamid", "http2.headers.method",
             "http2.headers.path", "http2.headers.status", "http2.headers.authority", "http2.headers.location",
             "http2.headers.content_type", "http2.header.name", "http2.header.value",
             "http2.window_update.window_size_increment", "json.member_with_value", "json.path_with_value"]
    out = []
    for values in sbi_fields(capture, names):
        out.append({n.removeprefix("http2.headers."): v
                    for n, v in zip(names, values, strict=True)})
    return out


def messages_of(packets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in packets if p["frame.comment"]]


# -- tests ------------------------------------------------------------------------------


def test_the_rows_cover_what_the_tests_need(rows: dict[str, np.ndarray]) -> None:
    assert set(rows["msg"].tolist()) == set(range(len(MESSAGE_NAMES)))
    answers = ~rows["is_request"]
    assert {200, 201, 204, 403, 404, 429, 500, 503, 504} == set(rows["rc"][answers].tolist())
    assert (rows["retrans"] > 0).any()


def test_tshark_finds_nothing_wrong(capture: Path) -> None:
    assert tshark(capture, *CHECKS, "-Y", "_ws.malformed || _ws.expert.severity >= warning") == ""
    assert tshark(capture, *CHECKS, "-Y", "tcp.analysis.flags || tcp.checksum.status != 1 || "
                  "ip.checksum.status != 1") == ""
    expert = tshark(capture, *CHECKS, "-q", "-z", "expert")
    assert "Errors (" not in expert and "Warns (" not in expert, expert
    assert "Connection establish request (SYN)" in expert  # the expert table was really produced
    good = tshark(capture, *CHECKS, "-Y", "tcp.checksum.status == 1 && ip.checksum.status == 1 && http2",
                  "-T", "fields", "-e", "frame.number")
    assert len(good.split()) > 100


def test_one_packet_per_row_in_time_order(rows: dict[str, np.ndarray], packets: list[dict[str, Any]],
                                          written: tuple[bytes, SbiEmitter]) -> None:
    msgs = messages_of(packets)
    n = rows["time"].shape[0]
    assert len(msgs) == n == written[1].messages
    expected_comments = [f"procedure_id={p} txn_id={t}" for p, t in zip(rows["procedure_id"].tolist(),
                                                                         rows["txn_id"].tolist(), strict=True)]
    assert [p["frame.comment"] for p in msgs] == expected_comments
    times = [int(p["frame.time_epoch"].replace(".", "")) for p in packets]
    assert times == sorted(times)
    assert [int(p["frame.time_epoch"].replace(".", "")) for p in msgs] == rows["time"].tolist()
    for p, is_req, rc, o, d in zip(msgs, rows["is_request"].tolist(), rows["rc"].tolist(), rows["origin"].tolist(),
                                   rows["destination"].tolist(), strict=True):
        assert (p["ip.src"], p["ip.dst"]) == (ADDR.element(ELEMENTS[o]).ipv4_text,
                                              ADDR.element(ELEMENTS[d]).ipv4_text)
        if is_req:
            assert p["method"] and not p["status"]
        else:
            assert p["status"] == str(rc) and not p["method"]


def test_requests_and_responses_pair_on_streams(rows: dict[str, np.ndarray],
                                                packets: list[dict[str, Any]]) -> None:
    """Each request opens a new odd stream of its connection; its response comes back on that stream; per
    message type, packets and rows agree."""
    msgs = messages_of(packets)
    open_streams: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    last_stream: dict[str, int] = defaultdict(int)
    per_type: Counter[str] = Counter()
    for p, msg, is_req, imsi in zip(msgs, rows["msg"].tolist(), rows["is_request"].tolist(), rows["imsi"].tolist(),
                                    strict=True):
        sid = p["http2.streamid"].split("|")
        assert len(set(sid)) == 1
        key = (p["tcp.stream"], sid[0])
        name = MESSAGE_NAMES[msg]
        if is_req:
            assert classify(p["method"], p["path"]) == name
            m = re.fullmatch(REQUEST_PATTERNS[name][1], p["path"])
            assert m is not None
            if m.groups():
                assert str(imsi) in m.group(1)
            stream = int(sid[0])
            assert stream % 2 == 1 and stream > last_stream[p["tcp.stream"]]
            last_stream[p["tcp.stream"]] = stream
            assert key not in open_streams
            open_streams[key] = (name, p)
        else:
            req_name, req = open_streams.pop(key)  # the response's stream carries its request
            assert req_name == name
            assert (req["ip.src"], req["ip.dst"]) == (p["ip.dst"], p["ip.src"])
        per_type[name] += 1
    expected = Counter(MESSAGE_NAMES[m] for m in rows["msg"].tolist())
    assert per_type == expected
    # Only the request that was never answered (its 4 hops... up to where it got) stays open.
    unanswered = {v[0] for v in open_streams.values()}
    assert unanswered == {"Nudm_UECM_Registration"}
    assert len(open_streams) == 4


def test_decoded_fields(packets: list[dict[str, Any]]) -> None:
    msgs = messages_of(packets)
    members = Counter(m for p in msgs for m in p["json.member_with_value"].split("|") if m)
    paths = Counter(m for p in msgs for m in p["json.path_with_value"].split("|") if m)
    assert members[f"supiOrSuci:suci-0-234-15-0-0-0-{str(A)[5:]}"] == 2 * 4  # A authenticates twice, 4 hops
    assert members["supiOrSuci:suci-0-310-260-0-0-0-000000007"] == 2 * 4
    assert members["servingNetworkName:5G:mnc001.mcc214.3gppnetwork.org"] > 0
    assert members[f"supi:imsi-{A}"] == 4 * 2 + 4  # Confirm 200 (twice) and the PDU session Create
    assert members[f"supi:imsi-{B}"] == 4 * 2 + 4
    assert members["ratType:NR"] > 0
    assert paths["/guami/plmnId/mcc:214"] > 0 and paths["/guami/plmnId/mnc:01"] > 0
    assert paths["/servingNetwork/mnc:01"] > 0
    assert members["authResult:AUTHENTICATION_SUCCESS"] > 0
    assert members["purgeFlag:true"] == 4
    assert members["deregReason:UE_INITIAL_REGISTRATION"] == 4
    assert paths["/sorInfo/ackInd:false"] == paths["/sorInfo/steeringContainer/[]/plmnId/mcc:214"] > 0
    assert paths[f"/gpsis/[]:msisdn-{msisdn_for(A, '234-15', 'GB')}"] == 2 * 4  # A's am-data, twice
    assert paths[f"/gpsis/[]:msisdn-{msisdn_for(B, '310-260', 'US')}"] == 4
    causes = {(p["status"], m) for p in msgs for m in p["json.member_with_value"].split("|")
              if m.startswith("cause:")}
    assert causes == {("403", "cause:ROAMING_NOT_ALLOWED"), ("404", "cause:USER_NOT_FOUND"),
                      ("429", "cause:NF_CONGESTION_RISK"), ("500", "cause:SYSTEM_FAILURE"),
                      ("503", "cause:NF_CONGESTION"), ("504", "cause:TARGET_NF_NOT_REACHABLE")}
    problems = [p for p in msgs if p["status"] and int(p["status"]) >= 400]
    assert problems and all(p["content_type"] == "application/problem+json" for p in problems)
    created = [p for p in msgs if p["status"] == "201"]
    assert created and all(p["location"].startswith("http://") for p in created)


def test_headers_on_each_hop(packets: list[dict[str, Any]]) -> None:
    """:authority is the next SEPP (or the producer on the last hop), and the SBI routing headers (TS 29.500
    §5.2.3.2.4, §5.2.3.2.15) are where they belong."""
    vsepp, hsepp = "sepp.5gc.mnc001.mcc214.3gppnetwork.org", "sepp.5gc.mnc015.mcc234.3gppnetwork.org"
    seen = set()
    for p in messages_of(packets):
        if p["method"] != "PUT" or not p["path"].startswith("/nudm-uecm/v1/imsi-23415"):
            continue  # uk-alpha's registrations only
        hdr = dict(zip(p["http2.header.name"].split("|"), p["http2.header.value"].split("|"), strict=True))
        hop = (p["ip.src"], p["ip.dst"])
        amf, vs = ADDR.element("es-one.amf1").ipv4_text, ADDR.element("es-one.sepp").ipv4_text
        hs, udm = ADDR.element("uk-alpha.sepp").ipv4_text, ADDR.element("uk-alpha.udm").ipv4_text
        target = "http://udm.5gc.mnc015.mcc234.3gppnetwork.org"
        origin = f"214-01; src: SEPP-{vsepp}"
        if hop == (amf, vs):
            assert (hdr[":authority"], hdr["3gpp-sbi-target-apiroot"]) == (vsepp, target)
            assert "3gpp-sbi-originating-network-id" not in hdr
        elif hop in ((vs, "10.0.0.1"), ("10.0.0.1", hs)):
            assert (hdr[":authority"], hdr["3gpp-sbi-target-apiroot"]) == (hsepp, target)
            assert hdr["3gpp-sbi-originating-network-id"] == origin
        elif hop == (hs, udm):
            assert hdr[":authority"] == "udm.5gc.mnc015.mcc234.3gppnetwork.org"
            assert "3gpp-sbi-target-apiroot" not in hdr
            assert hdr["3gpp-sbi-originating-network-id"] == origin
        else:
            continue
        assert hdr["user-agent"] == "AMF"
        seen.add(hop)
    assert len(seen) == 4
    home = [p for p in messages_of(packets) if p["ip.dst"] == ADDR.element("es-one.ausf").ipv4_text]
    assert home and all("3gpp-sbi-target-apiroot" not in p["http2.header.name"] for p in home)
    assert all(p["authority"] == "ausf.5gc.mnc001.mcc214.3gppnetwork.org" for p in home)


def test_connections_open_once_with_preface_and_settings(rows: dict[str, np.ndarray], packets: list[dict[str, Any]],
                                                         written: tuple[bytes, SbiEmitter]) -> None:
    expected = set()
    for o, d, req in zip(rows["origin"].tolist(), rows["destination"].tolist(), rows["is_request"].tolist(),
                         strict=True):
        expected.add((ELEMENTS[o], ELEMENTS[d]) if req else (ELEMENTS[d], ELEMENTS[o]))
    by_stream: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in packets:
        by_stream[p["tcp.stream"]].append(p)
    assert len(by_stream) == len(expected)
    names = set()
    for stream in by_stream.values():
        assert [p["tcp.flags"] for p in stream[:3]] == ["0x0002", "0x0012", "0x0010"]
        assert stream[3]["http2.magic"] and stream[3]["http2.type"] == "4|8"  # preface, SETTINGS, WINDOW_UPDATE
        assert stream[4]["http2.type"] == "4|8|4" and stream[5]["http2.type"] == "4"
        assert stream[0]["tcp.dstport"] == "80" and 32768 <= int(stream[0]["tcp.srcport"]) <= 60999
        assert len({p["frame.interface_name"] for p in stream}) == 1
        names.add(stream[0]["frame.interface_name"])
        assert sum(1 for p in stream if p["http2.magic"]) == 1
    assert names == {f"{c}->{s}" for c, s in expected}
    n32 = [p for p in packets if "->ipx" in p["frame.interface_name"] or "ipx->" in p["frame.interface_name"]]
    assert n32 and all(p["frame.interface_description"].startswith("N32-f HTTP/2 (h2c) over TCP") for p in n32)
    setup = 6 * len(expected) + 2 * written[1].n32c_exchanges
    assert len(packets) == rows["time"].shape[0] + setup


def test_n32c_once_per_sepp_pair_and_connection(packets: list[dict[str, Any]],
                                               written: tuple[bytes, SbiEmitter]) -> None:
    exchanges: dict[str, list[str]] = defaultdict(list)
    for p in packets:
        if (p["method"], p["path"]) == N32C:
            members = p["json.member_with_value"].split("|")
            exchanges[p["frame.interface_name"]].append(members[0])
            assert "supportedSecCapabilityList:TLS" in members or any("TLS" in m for m in members)
            assert not p["frame.comment"]
    # es-one's SEPP talks to uk-alpha's and us-big's: two pairs on each of its N32 connections.
    vsepp = "sender:sepp.5gc.mnc001.mcc214.3gppnetwork.org"
    assert sorted(exchanges["es-one.sepp->ipx"]) == [vsepp, vsepp]
    assert exchanges["ipx->uk-alpha.sepp"] == [vsepp]
    assert exchanges["ipx->us-big.sepp"] == [vsepp]
    hsepp = "sender:sepp.5gc.mnc015.mcc234.3gppnetwork.org"  # the notification goes the other way
    assert exchanges["uk-alpha.sepp->ipx"] == [hsepp] and exchanges["ipx->es-one.sepp"] == [hsepp]
    assert sum(len(v) for v in exchanges.values()) == written[1].n32c_exchanges == 6
    answers = [p for p in packets if "selectedSecCapability:TLS" in p["json.member_with_value"]]
    assert len(answers) == 6 and all(p["status"] == "200" for p in answers)


def test_same_rows_same_bytes(rows: dict[str, np.ndarray], written: tuple[bytes, SbiEmitter]) -> None:
    data = written[0]
    assert emit(rows)[0] == data
    assert emit(rows, chunks=5)[0] == data
    assert emit(rows, templates=False)[0] == data  # the full-encode path writes the same bytes


def test_a_capture_cut_mid_connection_still_decodes(rows: dict[str, np.ndarray], packets: list[dict[str, Any]],
                                                    written: tuple[bytes, SbiEmitter], tmp_path: Path) -> None:
    """Without the connection start tshark needs ``-d tcp.port==80,http2``; with it, every header decodes
    (never-indexed literals: no dynamic-table state is missing)."""
    first = len(packets) // 2
    path = tmp_path / "cut.pcapng"
    path.write_bytes(cut(written[0], first))
    plain = sbi_fields(path, ["tcp.stream", "tcp.flags", "http2.type", "frame.comment"])
    opened = {stream for stream, flags, _, _ in plain if flags == "0x0002"}
    started_before = [(types, comment) for stream, _, types, comment in plain if stream not in opened]
    assert sum(1 for _, comment in started_before if comment) > 20
    assert all(types == "" for types, _ in started_before)  # no preface seen: not recognised as HTTP/2
    assert tshark(path, *CHECKS, *DECODE_AS, "-Y", "_ws.malformed || _ws.expert.severity >= warning") == ""
    got = sbi_fields(path, ["frame.comment", "http2.headers.method", "http2.headers.path", "http2.headers.status",
                            "http2.header.name", "json.member_with_value"], *DECODE_AS, display="frame.comment")
    kept = packets[first:]
    want = [p for p in kept if p["frame.comment"]]
    assert len(got) == len(want) > 20
    for g, p in zip(got, want, strict=True):
        assert g[:4] == [p["frame.comment"], p["method"], p["path"], p["status"]]
        assert "unknown" not in g[4] and g[4]
        assert g[5] == p["json.member_with_value"]


def test_window_updates_return_the_data_received(rows: dict[str, np.ndarray], tmp_path: Path) -> None:
    data, emitter = emit(rows, window_replenish=1000)
    assert emitter.window_updates > 10
    assert emit(rows, window_replenish=1000, templates=False)[0] == data
    path = tmp_path / "wu.pcapng"
    path.write_bytes(data)
    assert tshark(path, *CHECKS, "-Y", "_ws.malformed || _ws.expert.severity >= warning || tcp.analysis.flags") == ""
    got = sbi_fields(path, ["tcp.stream", "ip.src", "http2.type", "http2.window_update.window_size_increment",
                            "http2.length"], display="http2")
    received: dict[tuple[str, str], int] = defaultdict(int)
    returned: dict[tuple[str, str], int] = defaultdict(int)
    updates = 0
    for stream, src, types, incs, lengths in got:
        tl = types.split("|")
        if tl[0] == "8" and tl == ["8"]:  # a WINDOW_UPDATE on its own: after set-up
            returned[(stream, src)] += int(incs)
            updates += 1
        for ft, ln in zip(tl, lengths.split("|"), strict=True):
            if ft == "0":
                received[(stream, src)] += int(ln)
    assert updates == emitter.window_updates
    # What a receiver returns never exceeds what its peer sent it, and falls short by less than the threshold.
    for (stream, src), n in returned.items():
        sent = sum(v for (s, who), v in received.items() if s == stream and who != src)
        assert sent - 1000 < n <= sent


@pytest.mark.parametrize(("column", "value", "message"), [
    ("msg", 10, "msg 10 is not an SBI message index"),
    ("rc", 0, "rc 0 of a"),
    ("rc", 302, "rc 302 of a"),
    ("destination", 99, "destination index 99"),
    ("home_op", 7, "home_op index 7"),
])
def test_bad_rows_are_refused(rows: dict[str, np.ndarray], column: str, value: int, message: str) -> None:
    bad = {k: v.copy() for k, v in rows.items()}
    answer = int(np.flatnonzero(~bad["is_request"])[0])
    bad[column][answer] = value
    with pytest.raises(ValueError, match=re.escape(message)):
        emit(bad)
