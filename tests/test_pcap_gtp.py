"""GTPv2-C captures (S5/S8) from message rows, judged by tshark and compared with the rows.

The rows are built here for complete sessions (Create Session, Modify Bearer,
Delete Session; accepted, rejected, lost and retransmitted) of roamers on home-routed
S8 and local-breakout S5 paths. tshark runs with the strict settings of
``tsharkkit`` plus UDP checksum verification, and its exit code is always checked
(shared/domain/packet-traces.md §5).
"""

from __future__ import annotations

import io
import itertools
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from roamsim.sinks.pcap.addressing import Addressing
from roamsim.sinks.pcap.emit_gtp import ECHO_INTERVAL_NS, GtpEmitter
from roamsim.sinks.pcap.gtpv2 import (
    CAUSES,
    MESSAGE_NAMES,
    MESSAGE_TYPES,
    charging_id_for,
    encode,
    gtp_message,
    teid_for,
    ue_ipv4_for,
)
from roamsim.sinks.pcap.numbering import msisdn_for
from roamsim.sinks.pcap.pcapng import PcapngWriter
from roamsim.sinks.pcap.sctp import ethernet_ipv4
from roamsim.sinks.pcap.udp import IPPROTO_UDP, UDP_PAYLOAD_OFFSET, udp_segment
from tsharkkit import fields, tshark

UDP_STRICT = ("-o", "udp.check_checksum:TRUE")
GTP = "gtpv2 && gtpv2.message_type >= 32"
ECHO = "gtpv2.message_type <= 2"
OPERATORS = [("es-one", "214-01", "ES"), ("uk-alpha", "234-15", "GB"), ("us-big", "310-260", "US")]
ADDR = Addressing([(op, plmn) for op, plmn, _ in OPERATORS])
OP_IDS = [op for op, _, _ in OPERATORS]
OP_COUNTRY = [c for _, _, c in OPERATORS]
ELEMENTS = ["ipx", "es-one.sgw", "es-one.pgw", "uk-alpha.sgw", "uk-alpha.pgw", "us-big.sgw", "us-big.pgw",
            "es-one.mme1"]
T0 = 1_814_573_053_601_097_896
S = 1_000_000_000
MS = 1_000_000
RTT = 40 * MS
NAMES = {(t, req): name for name, pair in MESSAGE_TYPES.items() for t, req in zip(pair, (True, False), strict=True)}


@dataclass
class Rows:
    """Message rows in the emitter's column layout, one GTP transaction at a time."""

    cols: dict[str, list[int]] = field(default_factory=lambda: {k: [] for k in (
        "time", "msg", "is_request", "txn_id", "e2e_id", "procedure_id", "imsi", "origin", "destination",
        "txn_origin", "txn_responder", "hop", "rc", "retrans", "home_op", "visited_op")})

    def txn(self, t: int, name: str, sgw: str, pgw: str, imsi: int, e2e: int, txn: int, proc: int,
            cause: int | None, *, retrans: int = 0) -> None:
        """A request at ``t`` from ``sgw`` to ``pgw`` and, unless ``cause`` is None (lost), its response."""
        home = OP_IDS.index(next(op for op, plmn, _ in OPERATORS if str(imsi).startswith(plmn.replace("-", ""))))
        visited = OP_IDS.index(sgw.split(".", maxsplit=1)[0])
        s, p = ELEMENTS.index(sgw), ELEMENTS.index(pgw)
        for is_req, when, o, d, rc in ((True, t, s, p, 0), (False, t + RTT, p, s, cause)):
            if rc is None:
                continue
            row = {"time": when, "msg": MESSAGE_NAMES.index(name), "is_request": int(is_req), "txn_id": txn,
                   "e2e_id": e2e, "procedure_id": proc, "imsi": imsi, "origin": o, "destination": d,
                   "txn_origin": s, "txn_responder": p, "hop": 0, "rc": rc, "retrans": retrans, "home_op": home,
                   "visited_op": visited}
            for k, v in row.items():
                self.cols[k].append(v)

    def arrays(self) -> dict[str, np.ndarray]:
        dtypes = {"time": np.int64, "msg": np.int16, "is_request": bool, "txn_id": np.int64, "e2e_id": np.int64,
                  "procedure_id": np.int64, "imsi": np.int64, "origin": np.int32, "destination": np.int32,
                  "txn_origin": np.int32, "txn_responder": np.int32, "hop": np.int8, "rc": np.int32,
                  "retrans": np.int8, "home_op": np.int16, "visited_op": np.int16}
        out = {k: np.asarray(v, dtype=dtypes[k]) for k, v in self.cols.items()}
        order = np.argsort(out["time"], kind="stable")
        return {k: v[order] for k, v in out.items()}


UK_ROAMER, UK_SHORT, UK_LOST = 234150100000042, 23415012345678, 234150100000077
US_ROAMER, US_IN_UK = 310260123456789, 310260000000555


def sessions() -> dict[str, np.ndarray]:
    """Complete sessions on three S8 paths and one S5 path (module docstring)."""
    r = Rows()
    hr, lbo = ("es-one.sgw", "uk-alpha.pgw"), ("es-one.sgw", "es-one.pgw")
    # 1: UK roamer in ES, home routed: create, modify (accepted, then refused during a TAU), long idle, delete
    r.txn(T0, "CreateSession", *hr, UK_ROAMER, 1001, 11, 1, 16)
    r.txn(T0 + 30 * S, "ModifyBearer", *hr, UK_ROAMER, 1001, 12, 2, 16)
    r.txn(T0 + 31 * S, "ModifyBearer", *hr, UK_ROAMER, 1001, 13, 3, 110)
    r.txn(T0 + 300 * S, "DeleteSession", *hr, UK_ROAMER, 1001, 14, 4, 16)
    # 2: US roamer in ES: unknown APN
    r.txn(T0 + 1 * S, "CreateSession", "es-one.sgw", "us-big.pgw", US_ROAMER, 1002, 21, 5, 78)
    # 3: UK roamer with a 14-digit IMSI, local breakout on S5
    r.txn(T0 + 2 * S, "CreateSession", *lbo, UK_SHORT, 1003, 31, 6, 16)
    r.txn(T0 + 20 * S, "DeleteSession", *lbo, UK_SHORT, 1003, 32, 7, 16)
    # 4: the first Create Session Request is lost; the retransmission (T3 = 2.5 s) is answered
    r.txn(T0 + 3 * S, "CreateSession", *hr, UK_LOST, 1004, 41, 8, None)
    r.txn(T0 + 5_500 * MS, "CreateSession", *hr, UK_LOST, 1004, 42, 8, 16, retrans=1)
    r.txn(T0 + 40 * S, "DeleteSession", *hr, UK_LOST, 1004, 43, 9, 64)
    # 5: US roamer in the UK: no resources at the home PGW
    r.txn(T0 + 5 * S, "CreateSession", "uk-alpha.sgw", "us-big.pgw", US_IN_UK, 1005, 51, 10, 73)
    return r.arrays()


def write(path: Path, chunks: list[dict[str, np.ndarray]], *, watchdogs: bool = True) -> GtpEmitter:
    with open(path, "wb") as f:
        w = PcapngWriter(f, comment="gtp test", application="roamsim tests")
        em = GtpEmitter(w, ADDR, ELEMENTS, OP_IDS, OP_COUNTRY, watchdogs=watchdogs)
        for c in chunks:
            em.emit(c)
        w.flush()
    return em


def epb_frames(path: Path) -> list[bytes]:
    """The frames of a pcapng file's Enhanced Packet Blocks, in file order."""
    data = path.read_bytes()
    pos, frames = 0, []
    while pos < len(data):
        btype, total = struct.unpack_from("<II", data, pos)
        if btype == 6:
            cap = struct.unpack_from("<I", data, pos + 20)[0]
            frames.append(data[pos + 28:pos + 28 + cap])
        pos += total
    return frames


def ns(text: str) -> int:
    sec, _, frac = text.partition(".")
    return int(sec) * S + int(frac.ljust(9, "0"))


@pytest.fixture(scope="module")
def rows() -> dict[str, np.ndarray]:
    return sessions()


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory, rows: dict[str, np.ndarray]) -> Path:
    out = tmp_path_factory.mktemp("gtp") / "gtp.pcapng"
    em = write(out, [rows])
    assert em.messages == rows["time"].shape[0]
    assert (em.first_time, em.last_time) == (int(rows["time"][0]), int(rows["time"][-1]))
    return out


PACKET_FIELDS = [
    "frame.number", "frame.interface_id", "frame.time_epoch", "frame.comment", "ip.src", "ip.dst", "udp.srcport",
    "udp.dstport", "gtpv2.message_type", "gtpv2.teid", "gtpv2.seq", "gtpv2.cause", "e212.imsi", "e164.msisdn",
    "e212.mcc", "e212.mnc", "gtpv2.rat_type", "gtpv2.apn", "gtpv2.f_teid_interface_type", "gtpv2.f_teid_gre_key",
    "gtpv2.f_teid_ipv4", "gtpv2.charging_id", "gtpv2.pdn_addr_and_prefix.ipv4", "gtpv2.ebi", "gtpv2.ie_type",
    "gtpv2.mei", "gtpv2.response_in", "udp.checksum.status", "ip.checksum.status",
]


@pytest.fixture(scope="module")
def packets(capture: Path) -> list[dict[str, str]]:
    out = fields(capture, PACKET_FIELDS, two_pass=True, extra=UDP_STRICT)
    return [dict(zip(PACKET_FIELDS, r, strict=True)) for r in out]


def messages(packets: list[dict[str, str]]) -> list[dict[str, str]]:
    return [p for p in packets if int(p["gtpv2.message_type"]) >= 32]


# -- tests ---------------------------------------------------------------------------


def test_tshark_finds_nothing_wrong(capture: Path, packets: list[dict[str, str]]) -> None:
    assert tshark(capture, *UDP_STRICT, "-Y", "_ws.malformed || _ws.expert.severity >= warning") == ""
    expert = tshark(capture, *UDP_STRICT, "-q", "-z", "expert")
    assert "Errors (" not in expert and "Warns (" not in expert and "Notes (" not in expert, expert
    assert "Comments (" in expert  # the per-packet comments, so the report did run
    assert all(p["udp.checksum.status"] == "1" and p["ip.checksum.status"] == "1" for p in packets)
    assert all(p["udp.srcport"] == p["udp.dstport"] == "2123" for p in packets)


def test_one_packet_per_row_in_order_with_the_rows_values(rows: dict[str, np.ndarray],
                                                          packets: list[dict[str, str]]) -> None:
    got = messages(packets)
    assert len(got) == rows["time"].shape[0]
    want_types = Counter(MESSAGE_TYPES[MESSAGE_NAMES[m]][0 if q else 1]
                         for m, q in zip(rows["msg"].tolist(), rows["is_request"].tolist(), strict=True))
    assert Counter(int(p["gtpv2.message_type"]) for p in got) == want_types
    for i, p in enumerate(got):
        name = MESSAGE_NAMES[int(rows["msg"][i])]
        req = bool(rows["is_request"][i])
        assert NAMES[(int(p["gtpv2.message_type"]), req)] == name
        assert p["frame.comment"] == f"procedure_id={rows['procedure_id'][i]} txn_id={rows['txn_id'][i]}"
        assert ns(p["frame.time_epoch"]) == rows["time"][i]
        sender = ADDR.element(ELEMENTS[int(rows["origin"][i])])
        receiver = ADDR.element(ELEMENTS[int(rows["destination"][i])])
        assert (p["ip.src"], p["ip.dst"]) == (sender.ipv4_text, receiver.ipv4_text)
        if req:
            assert p["gtpv2.cause"] == ""
        else:
            assert p["gtpv2.cause"].split(",")[0] == str(rows["rc"][i])
        imsi = int(rows["imsi"][i])
        home = OPERATORS[int(rows["home_op"][i])]
        visited_plmn = OPERATORS[int(rows["visited_op"][i])][1]
        if name == "CreateSession" and req:
            assert p["e212.imsi"] == str(imsi)
            assert p["e164.msisdn"] == msisdn_for(imsi, home[1], home[2])
            assert p["gtpv2.rat_type"] == "6"
            assert p["gtpv2.apn"] == "internet"
            assert p["gtpv2.pdn_addr_and_prefix.ipv4"] == "0.0.0.0"
            assert p["gtpv2.mei"] == f"35000000{imsi % 10**6:06d}01"
        if (name == "CreateSession" and req) or (name == "ModifyBearer" and req):
            # the Serving Network (the last E.212 PLMN decoded) is the visited network
            mcc, mnc = visited_plmn.split("-")
            assert p["e212.mcc"].split(",")[-1] == mcc
            assert p["e212.mnc"].split(",")[-1] == str(int(mnc))
        if name == "DeleteSession" and req:
            assert p["gtpv2.ebi"] == "5"


def test_template_packets_equal_the_full_encoding(rows: dict[str, np.ndarray], capture: Path) -> None:
    frames = [f for f in epb_frames(capture) if f[UDP_PAYLOAD_OFFSET + 1] >= 32]
    assert len(frames) == rows["time"].shape[0]
    em = GtpEmitter(PcapngWriter(io.BytesIO()), ADDR, ELEMENTS, OP_IDS, OP_COUNTRY)
    for i, frame in enumerate(frames):
        txn = int(rows["txn_id"][i])
        h = em.hop(int(rows["msg"][i]), bool(rows["is_request"][i]), int(rows["rc"][i]), int(rows["origin"][i]),
                   int(rows["destination"][i]), int(rows["home_op"][i]), int(rows["visited_op"][i]),
                   int(rows["imsi"][i]), int(rows["e2e_id"][i]), 41 if txn == 42 else txn)
        payload = encode(gtp_message(h))
        src, dst = (h.sgw, h.pgw) if h.is_request else (h.pgw, h.sgw)
        ident = struct.unpack_from("!H", frame, 18)[0]
        assert frame == ethernet_ipv4(src, dst, 8 + len(payload), ident, IPPROTO_UDP) + udp_segment(
            src, dst, 2123, 2123, payload), (i, h)


def test_tunnel_ids_tie_the_session_together(rows: dict[str, np.ndarray], packets: list[dict[str, str]]) -> None:
    got = messages(packets)
    by_txn: dict[tuple[int, bool], dict[str, str]] = {}
    for i, p in enumerate(got):
        by_txn[(int(rows["txn_id"][i]), bool(rows["is_request"][i]))] = p

    def fteids(p: dict[str, str]) -> list[tuple[int, int, str]]:
        types, keys, ips = (p[k].split(",") for k in ("gtpv2.f_teid_interface_type", "gtpv2.f_teid_gre_key",
                                                        "gtpv2.f_teid_ipv4"))
        return [(int(t), int(k, 16), ip) for t, k, ip in zip(types, keys, ips, strict=True)] if p[
            "gtpv2.f_teid_interface_type"] else []

    sgw, pgw = ADDR.element("es-one.sgw"), ADDR.element("uk-alpha.pgw")
    csr, csa = by_txn[(11, True)], by_txn[(11, False)]
    assert int(csr["gtpv2.teid"], 16) == 0  # no context at the PGW yet
    (c_type, sgw_c, sgw_ip), (u_type, sgw_u, _) = fteids(csr)
    assert (c_type, u_type, sgw_ip) == (6, 4, sgw.ipv4_text)
    assert int(csa["gtpv2.teid"], 16) == sgw_c  # the response goes to the SGW's S5/S8-C TEID
    (t0, pgw_c, pgw_ip), (t1, pgw_c1, _), (t2, pgw_u, _) = fteids(csa)
    assert (t0, t1, t2, pgw_ip) == (7, 7, 5, pgw.ipv4_text)
    assert pgw_c == pgw_c1 and len({sgw_c, sgw_u, pgw_c, pgw_u}) == 4
    assert (sgw_c, pgw_c, sgw_u, pgw_u) == tuple(teid_for(1001, s) for s in range(4))
    assert csa["gtpv2.charging_id"] == str(charging_id_for(1001))
    assert csa["gtpv2.pdn_addr_and_prefix.ipv4"] == ".".join(str(b) for b in ue_ipv4_for(UK_ROAMER).to_bytes(4, "big"))
    assert "93" in csa["gtpv2.ie_type"].split(",")  # Bearer Context created
    for txn in (12, 13, 14):  # later requests go to the PGW's TEID, their responses to the SGW's
        assert int(by_txn[(txn, True)]["gtpv2.teid"], 16) == pgw_c
        assert int(by_txn[(txn, False)]["gtpv2.teid"], 16) == sgw_c
    rejected = by_txn[(21, False)]
    assert rejected["gtpv2.cause"] == "78"
    assert rejected["gtpv2.f_teid_interface_type"] == rejected["gtpv2.charging_id"] == ""
    assert "93" not in rejected["gtpv2.ie_type"].split(",")
    assert int(rejected["gtpv2.teid"], 16) == teid_for(1002, 0)
    assert int(by_txn[(43, False)]["gtpv2.teid"], 16) == 0  # Context Not Found: TEID 0 (TS 29.274 §5.5.2)
    assert by_txn[(43, False)]["gtpv2.cause"] == "64"
    assert by_txn[(51, False)]["gtpv2.cause"] == "73"


def test_requests_and_responses_pair_by_sequence_number(rows: dict[str, np.ndarray],
                                                        packets: list[dict[str, str]]) -> None:
    got = messages(packets)
    frame = {(int(rows["txn_id"][i]), bool(rows["is_request"][i])): int(p["frame.number"])
             for i, p in enumerate(got)}
    seq = {int(p["frame.number"]): int(p["gtpv2.seq"], 16) for p in got}
    answered = {t for t, q in frame if not q}
    for (txn, req), num in frame.items():
        if req and txn in answered:
            assert seq[num] == seq[frame[(txn, False)]]
            if txn != 42:  # the retransmission, below
                assert seq[num] == txn
    # the retransmission (txn 42) keeps the sequence number of the lost original (txn 41)
    assert seq[frame[(42, True)]] == seq[frame[(41, True)]] == 41
    response_in = {int(p["frame.number"]): p["gtpv2.response_in"] for p in got}
    paired = {num for num, r in response_in.items() if r}
    for txn in answered - {42}:
        assert response_in[frame[(txn, True)]] == str(frame[(txn, False)])
    # tshark pairs the response with one of the two copies of the retransmitted request
    assert (frame[(41, True)] in paired) != (frame[(42, True)] in paired)
    assert len(paired) == len(answered)


def test_paths_are_interfaces_opened_with_an_echo(rows: dict[str, np.ndarray], capture: Path) -> None:
    names = ["frame.interface_id", "frame.interface_name", "frame.interface_description", "gtpv2.message_type",
             "gtpv2.seq", "frame.time_epoch", "ip.src", "gtpv2.rec"]
    got = [dict(zip(names, r, strict=True)) for r in fields(capture, names, extra=UDP_STRICT)]
    ifaces: dict[str, list[dict[str, str]]] = {}
    for p in got:
        ifaces.setdefault(p["frame.interface_id"], []).append(p)
    described = {p[0]["frame.interface_name"]: p[0]["frame.interface_description"] for p in ifaces.values()}
    assert set(described) == {"es-one.sgw<->uk-alpha.pgw", "es-one.sgw<->us-big.pgw", "es-one.sgw<->es-one.pgw",
                              "uk-alpha.sgw<->us-big.pgw"}
    assert described["es-one.sgw<->es-one.pgw"].startswith("S5 GTPv2-C/UDP sgw.epc.mnc001.mcc214")
    assert described["es-one.sgw<->uk-alpha.pgw"].startswith("S8 GTPv2-C/UDP sgw.epc.mnc001.mcc214")
    end = int(rows["time"][-1])
    times = [ns(p["frame.time_epoch"]) for p in got]
    assert times == sorted(times) and times[-1] == end
    for pkts in ifaces.values():
        first, second, third = pkts[:3]
        sgw = ADDR.element(pkts[0]["frame.interface_name"].split("<->")[0])
        assert (first["gtpv2.message_type"], second["gtpv2.message_type"]) == ("1", "2")
        assert first["gtpv2.seq"] == second["gtpv2.seq"] and first["ip.src"] == sgw.ipv4_text
        assert first["gtpv2.rec"] != "" and second["gtpv2.rec"] != ""
        assert ns(first["frame.time_epoch"]) < ns(second["frame.time_epoch"]) < ns(third["frame.time_epoch"])
        assert int(third["gtpv2.message_type"]) >= 32
        # on an idle path an Echo Request comes exactly 60 s after its last packet; no gap is longer
        t = [ns(p["frame.time_epoch"]) for p in pkts]
        for k in range(1, len(pkts)):
            assert t[k] - t[k - 1] <= ECHO_INTERVAL_NS
            if pkts[k]["gtpv2.message_type"] == "1":
                assert t[k] - t[k - 1] == ECHO_INTERVAL_NS
                assert pkts[k + 1]["gtpv2.message_type"] == "2" and pkts[k + 1]["gtpv2.seq"] == pkts[k]["gtpv2.seq"]
        assert end - t[-1] <= ECHO_INTERVAL_NS
    idle = Counter(p["frame.interface_name"] for p in got if p["gtpv2.message_type"] == "1")
    # the home-routed path is idle from T0 + 40 s to T0 + 300 s: four echoes, plus the one that opened it
    assert idle["es-one.sgw<->uk-alpha.pgw"] == 5


def test_without_idle_echoes_only_the_opening_echo_remains(tmp_path: Path, rows: dict[str, np.ndarray]) -> None:
    out = tmp_path / "quiet.pcapng"
    em = write(out, [rows], watchdogs=False)
    assert em.watchdog_exchanges == 0
    echoes = fields(out, ["frame.interface_name"], display="gtpv2.message_type == 1", extra=UDP_STRICT)
    assert sorted(r[0] for r in echoes) == sorted([
        "es-one.sgw<->uk-alpha.pgw", "es-one.sgw<->us-big.pgw", "es-one.sgw<->es-one.pgw",
        "uk-alpha.sgw<->us-big.pgw"])
    assert len(fields(out, ["frame.number"], display=GTP, extra=UDP_STRICT)) == rows["time"].shape[0]


def test_same_rows_give_the_same_bytes_in_any_chunking(tmp_path: Path, rows: dict[str, np.ndarray],
                                                       capture: Path) -> None:
    again = tmp_path / "again.pcapng"
    em = write(again, [rows])
    assert again.read_bytes() == capture.read_bytes()
    split = tmp_path / "split.pcapng"
    cut = [0, 3, 4, 11, rows["time"].shape[0]]
    em2 = write(split, [{k: v[a:b] for k, v in rows.items()} for a, b in itertools.pairwise(cut)])
    assert split.read_bytes() == capture.read_bytes()
    assert em.watchdog_exchanges == em2.watchdog_exchanges > 0


def test_causes_are_named_from_the_spec_table(packets: list[dict[str, str]]) -> None:
    assert {16, 64, 73, 78, 92} <= set(CAUSES)
    assert CAUSES[16] == "Request accepted" and CAUSES[78] == "Missing or unknown APN"
    shown = {int(p["gtpv2.cause"].split(",")[0]) for p in packets if p["gtpv2.cause"]}
    assert shown == {16, 64, 73, 78, 110}


@pytest.mark.parametrize(("column", "value", "message"), [
    ("rc", 0, "GTP cause 0"), ("rc", 300, "GTP cause 300"), ("msg", 7, "msg 7"),
])
def test_bad_rows_are_clear_errors(rows: dict[str, np.ndarray], column: str, value: int, message: str) -> None:
    bad = {k: v.copy() for k, v in rows.items()}
    bad[column][1] = value  # row 1 is a response
    em = GtpEmitter(PcapngWriter(io.BytesIO()), ADDR, ELEMENTS, OP_IDS, OP_COUNTRY)
    with pytest.raises(ValueError, match=message):
        em.emit(bad)


def test_a_request_must_come_from_an_sgw(rows: dict[str, np.ndarray]) -> None:
    bad = {k: v.copy() for k, v in rows.items()}
    bad["origin"][0], bad["destination"][0] = bad["destination"][0], bad["origin"][0]
    em = GtpEmitter(PcapngWriter(io.BytesIO()), ADDR, ELEMENTS, OP_IDS, OP_COUNTRY)
    with pytest.raises(ValueError, match=r"from uk-alpha\.pgw to es-one\.sgw: requests go from an SGW to a PGW"):
        em.emit(bad)


def test_set_up_is_never_before_the_packet_written_last(tmp_path: Path, rows: dict[str, np.ndarray]) -> None:
    out = tmp_path / "late.pcapng"
    first = int(rows["time"][0])
    with open(out, "wb") as f:
        w = PcapngWriter(f)
        em = GtpEmitter(w, ADDR, ELEMENTS, OP_IDS, OP_COUNTRY)
        em.written_until = first - 10_000  # e.g. another protocol's packet, 10 µs before this first row
        em.emit(rows)
        w.flush()
    got = fields(out, ["frame.time_epoch", "gtpv2.message_type"], extra=UDP_STRICT)
    assert [r[1] for r in got[:3]] == ["1", "2", "32"]
    assert [ns(r[0]) for r in got[:3]] == [first - 10_000, first - 10_000, first]
