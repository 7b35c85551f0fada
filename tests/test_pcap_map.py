"""MAP over TCAP/SCCP/M3UA/SCTP captures from message rows, judged by tshark and by our own decoders.

The rows are built here for complete procedures (TS 23.012 location update with authentication,
nested insertSubscriberData and cancelLocation; GPRS attach; purge; MT and MO short messages with
SRI-for-SM, reportSM-DeliveryStatus and alertServiceCentre; a steering reject at the home STP; a lost
request and its retransmission), the way the engine records them: one row per message per hop, four
hops (origin → STP → IPX → STP → responder) between operators, one inside an operator.

tshark runs with the strict settings of ``tsharkkit`` and its exit code is checked on every call.
"""

from __future__ import annotations

import io
import struct
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from roamsim.sinks.pcap import sigtran
from roamsim.sinks.pcap.addressing import Addressing
from roamsim.sinks.pcap.crc32c import crc32c
from roamsim.sinks.pcap.emit_map import MESSAGE_NAMES, MapEmitter
from roamsim.sinks.pcap.numbering import gt_of, mgt_for, msisdn_for
from roamsim.sinks.pcap.pcapng import PcapngWriter
from roamsim.sinks.pcap.sctp import ones_complement_sum
from roamsim.sinks.pcap.tcap_map import OPERATIONS, application_context, decode_tcap, quintuplet
from tsharkkit import fields, tshark

OPERATORS = [("uk-alpha", "234-15", "GB"), ("es-one", "214-01", "ES"), ("fr-bleu", "208-20", "FR")]
"""The home network of every roamer, the visited one, and the one visited before."""
KINDS = ("hlr", "stp", "smsc", "vlr1", "vlr2", "sgsn1", "smsf")
NAMES = ["ipx", *(f"{op}.{k}" for op, _, _ in OPERATORS for k in KINDS)]
IDX = {n: i for i, n in enumerate(NAMES)}
HOME, VISITED, PREVIOUS = 0, 1, 2
T0 = 1_814_573_053_601_097_896
HOP_NS = 2_000_000
SERVE_NS = 5_000_000
ADDR = Addressing([(op, plmn) for op, plmn, _ in OPERATORS])
COUNTRY = {op: c for op, _, c in OPERATORS}
DATA = "m3ua.message_class == 1"
ROAMERS = {"lu": 234150100000042, "steered": 234150100000043, "gprs": 234150100000044, "lost": 234150100000045,
           "purged": 234150100000046, "unknown": 234150100000099}
COLUMNS = ("time", "msg", "is_request", "txn_id", "e2e_id", "procedure_id", "imsi", "origin", "destination",
           "txn_origin", "txn_responder", "hop", "rc", "retrans", "home_op", "visited_op")


@dataclass
class Pending:
    """A request whose rows are written; its answer retraces ``path``."""

    txn: int
    e2e: int
    op: str
    path: list[str]
    arrival: int
    base: dict[str, int]
    retrans: int


@dataclass
class MapRows:
    """Message rows as the engine records them (column meanings: :meth:`MapEmitter.emit`)."""

    rows: list[dict[str, int]] = field(default_factory=list)
    next_txn: int = 1000

    @staticmethod
    def path(origin: str, end: str) -> list[str]:
        o, e = origin.split(".", maxsplit=1)[0], end.split(".", maxsplit=1)[0]
        if o == e:
            return [origin, end]
        if end.endswith(".stp"):  # answered by the home STP (steering)
            return [origin, f"{o}.stp", "ipx", end]
        return [origin, f"{o}.stp", "ipx", f"{e}.stp", end]

    def request(self, t: int, op: str, origin: str, responder: str, *, imsi: int, proc: int,
                e2e: int | None = None, retrans: int = 0, visited: int = VISITED, hops: int | None = None,
                answered_by: str | None = None) -> Pending:
        self.next_txn += 1
        txn = self.next_txn
        p = self.path(origin, answered_by or responder)
        base = {"msg": MESSAGE_NAMES.index(op), "txn_id": txn, "e2e_id": txn if e2e is None else e2e,
                "procedure_id": proc, "imsi": imsi, "txn_origin": IDX[origin],
                "txn_responder": IDX[answered_by or responder], "home_op": HOME, "visited_op": visited}
        for h in range(len(p) - 1 if hops is None else hops):
            self.rows.append({**base, "time": t + h * HOP_NS, "is_request": 1, "origin": IDX[p[h]],
                              "destination": IDX[p[h + 1]], "hop": h, "rc": 0, "retrans": retrans})
        return Pending(txn, base["e2e_id"], op, p, t + (len(p) - 1) * HOP_NS, base, retrans)

    def answer(self, req: Pending, t: int, rc: int = 0) -> int:
        back = req.path[::-1]
        for h in range(len(back) - 1):
            self.rows.append({**req.base, "time": t + h * HOP_NS, "is_request": 0, "origin": IDX[back[h]],
                              "destination": IDX[back[h + 1]], "hop": h, "rc": rc, "retrans": req.retrans})
        return t + (len(back) - 1) * HOP_NS

    def transaction(self, t: int, op: str, origin: str, responder: str, *, rc: int = 0, **kw: Any) -> int:
        req = self.request(t, op, origin, responder, **kw)
        return self.answer(req, req.arrival + SERVE_NS, rc)

    def columns(self) -> dict[str, np.ndarray]:
        order = sorted(range(len(self.rows)), key=lambda i: self.rows[i]["time"])
        dtypes = {"is_request": bool, "hop": np.int8, "retrans": np.int8, "rc": np.int32, "home_op": np.int16,
                  "visited_op": np.int16, "origin": np.int32, "destination": np.int32, "txn_origin": np.int32,
                  "txn_responder": np.int32, "msg": np.int16}
        return {k: np.array([self.rows[i][k] for i in order], dtype=dtypes.get(k, np.int64)) for k in COLUMNS}


def scenario() -> MapRows:
    """Every operation, with results and errors; two dialogues overlap in time."""
    r = MapRows()
    hlr, stp, smsc = "uk-alpha.hlr", "uk-alpha.stp", "uk-alpha.smsc"
    vlr, vlr2, sgsn = "es-one.vlr1", "es-one.vlr2", "es-one.sgsn1"
    lu, gprs = ROAMERS["lu"], ROAMERS["gprs"]
    # CS location update: SAI, UL with a nested ISD, CL to the VLR abroad that served the roamer before
    t = r.transaction(T0, "sendAuthenticationInfo", vlr, hlr, imsi=lu, proc=1)
    ul = r.request(t + 1_000_000, "updateLocation", vlr, hlr, imsi=lu, proc=1)
    t = r.transaction(ul.arrival + SERVE_NS, "cancelLocation", hlr, "fr-bleu.vlr1", imsi=lu, proc=1,
                      visited=PREVIOUS)
    isd = r.request(ul.arrival + 2 * SERVE_NS, "insertSubscriberData", hlr, vlr, imsi=lu, proc=1, e2e=ul.e2e)
    t = r.answer(isd, isd.arrival + SERVE_NS)
    t = r.answer(ul, t + SERVE_NS)
    # GPRS attach, interleaved with the location update above
    t2 = r.transaction(T0 + 3_000_000, "sendAuthenticationInfo", sgsn, hlr, imsi=gprs, proc=2)
    ugl = r.request(t2 + 1_000_000, "updateGprsLocation", sgsn, hlr, imsi=gprs, proc=2)
    isd2 = r.request(ugl.arrival + SERVE_NS, "insertSubscriberData", hlr, sgsn, imsi=gprs, proc=2, e2e=ugl.e2e)
    r.answer(ugl, r.answer(isd2, isd2.arrival + SERVE_NS) + SERVE_NS)
    # steering: the home STP rejects the UL (roamingNotAllowed); the next attempt meets systemFailure at the HLR
    t = r.transaction(t + 1_000_000_000, "updateLocation", vlr2, hlr, rc=8, imsi=ROAMERS["steered"], proc=3,
                      answered_by=stp)
    t = r.transaction(t + 1_000_000_000, "updateLocation", vlr2, hlr, rc=34, imsi=ROAMERS["steered"], proc=4)
    # a request lost after two hops, retransmitted in the same dialogue (same e2e_id)
    lost = r.request(t + 1_000_000_000, "updateLocation", vlr2, hlr, imsi=ROAMERS["lost"], proc=5, hops=2)
    again = r.request(lost.arrival + 10_000_000_000, "updateLocation", vlr2, hlr, imsi=ROAMERS["lost"], proc=5,
                      e2e=lost.e2e, retrans=1)
    isd3 = r.request(again.arrival + SERVE_NS, "insertSubscriberData", hlr, vlr2, imsi=ROAMERS["lost"], proc=5,
                     e2e=again.e2e)
    t = r.answer(again, r.answer(isd3, isd3.arrival + SERVE_NS) + SERVE_NS)
    # purges, a failed SAI, a standalone ISD
    t = r.transaction(t + 1_000_000_000, "purgeMS", vlr, hlr, rc=36, imsi=ROAMERS["purged"], proc=6)
    t = r.transaction(t + 1_000_000_000, "sendAuthenticationInfo", vlr, hlr, rc=35, imsi=ROAMERS["purged"], proc=7)
    t = r.transaction(t + 1_000_000_000, "purgeMS", sgsn, hlr, imsi=gprs, proc=8)
    t = r.transaction(t + 1_000_000_000, "insertSubscriberData", hlr, vlr, imsi=lu, proc=9)
    # MT short message: SRI-SM (inside the home network), MT-FSM meets an absent subscriber, RDS, later an
    # alertServiceCentre and a delivered retry; an MO short message; an SRI-SM for an unknown subscriber
    t = r.transaction(t + 1_000_000_000, "sendRoutingInfoForSM", smsc, hlr, imsi=lu, proc=10)
    t = r.transaction(t + SERVE_NS, "mt-forwardSM", smsc, vlr, rc=6, imsi=lu, proc=10)
    t = r.transaction(t + SERVE_NS, "reportSM-DeliveryStatus", smsc, hlr, imsi=lu, proc=10)
    t = r.transaction(t + 60_000_000_000, "alertServiceCentre", hlr, smsc, imsi=lu, proc=11)
    t = r.transaction(t + SERVE_NS, "sendRoutingInfoForSM", smsc, hlr, imsi=lu, proc=11)
    t = r.transaction(t + SERVE_NS, "mt-forwardSM", smsc, vlr, imsi=lu, proc=11)
    t = r.transaction(t + 1_000_000_000, "mo-forwardSM", vlr, smsc, imsi=lu, proc=12)
    t = r.transaction(t + 1_000_000_000, "sendRoutingInfoForSM", smsc, hlr, rc=1, imsi=ROAMERS["unknown"], proc=13)
    t = r.transaction(t + 1_000_000_000, "mt-forwardSM", smsc, sgsn, imsi=gprs, proc=14)
    # SMS over NAS for a 5G roamer: the SMSF relays MT and MO short messages over MAP
    t = r.transaction(t + 1_000_000_000, "mt-forwardSM", smsc, "es-one.smsf", imsi=ROAMERS["unknown"] - 1, proc=15)
    r.transaction(t + 1_000_000_000, "mo-forwardSM", "es-one.smsf", smsc, imsi=ROAMERS["unknown"] - 1, proc=16)
    return r


def emit(c: dict[str, np.ndarray], chunk: int | None = None, *, reference: bool = False) -> tuple[bytes, MapEmitter]:
    """The capture of the rows ``c`` (given to the emitter ``chunk`` rows at a time)."""
    buf = io.BytesIO()
    writer = PcapngWriter(buf, comment="roamsim MAP test", application="roamsim tests")
    em = MapEmitter(writer, ADDR, NAMES, [op for op, _, _ in OPERATORS], [c for _, _, c in OPERATORS],
                    reference=reference)
    n = c["time"].shape[0]
    step = chunk or n
    for s in range(0, n, step):
        em.emit({k: v[s:s + step] for k, v in c.items()})
    writer.flush()
    return buf.getvalue(), em


def frames_of(data: bytes) -> list[tuple[int, int, bytes, str]]:
    """(interface, timestamp, frame, comment) of every EPB."""
    pos, out = 0, []
    while pos < len(data):
        btype, total = struct.unpack_from("<II", data, pos)
        if btype == 6:
            iface, hi, lo, cap, _ = struct.unpack_from("<IIIII", data, pos + 8)
            end = pos + 28 + cap + (-cap % 4)
            comment = ""
            if end < pos + total - 4:
                code, ln = struct.unpack_from("<HH", data, end)
                assert code == 1
                comment = data[end + 4:end + 4 + ln].decode()
            out.append((iface, (hi << 32) | lo, data[pos + 28:pos + 28 + cap], comment))
        pos += total
    return out


def gt(name: str) -> str:
    return gt_of(ADDR, name, COUNTRY)


@pytest.fixture(scope="module")
def rows() -> dict[str, np.ndarray]:
    return scenario().columns()


@pytest.fixture(scope="module")
def capture(rows: dict[str, np.ndarray], tmp_path_factory: pytest.TempPathFactory) -> Path:
    data, em = emit(rows)
    assert em.messages == rows["time"].shape[0]
    path = tmp_path_factory.mktemp("map") / "map.pcapng"
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def decoded(capture: Path) -> list[dict[str, str]]:
    """tshark's view of every M3UA DATA packet, in order, with the dialogue links (two passes)."""
    names = ["frame.number", "frame.comment", "m3ua.protocol_data_opc", "m3ua.protocol_data_dpc",
             "m3ua.protocol_data_sls", "sccp.called.digits", "sccp.calling.digits", "sccp.called.ssn",
             "sccp.calling.ssn", "tcap.begin_element", "tcap.continue_element", "tcap.end_element", "tcap.otid",
             "tcap.dtid", "tcap.application_context_name", "tcap.srt.session_id", "tcap.srt.begin", "tcap.srt.end",
             "gsm_map.old.Component", "gsm_old.localValue", "gsm_old.invokeID", "e212.imsi", "e164.msisdn",
             "gsm_map.ms.hlr_Number", "gsm_map.ms.msc_Number", "gsm_map.ms.vlr_Number",
             "gsm_map.sm.networkNode_Number", "gsm_map.er.roamingNotAllowedCause",
             "gsm_map.ms.rand", "gsm_sms.sms_text", "sctp.data_sid"]
    out = fields(capture, names, display=DATA, two_pass=True, extra=("-o", "tcap.persistentsrt:TRUE"))
    return [dict(zip(names, line, strict=True)) for line in out]


# -- tshark ---------------------------------------------------------------------------------


def test_tshark_finds_nothing_wrong(capture: Path) -> None:
    assert tshark(capture, "-Y", "_ws.malformed || _ws.expert.severity >= warning") == ""
    expert = tshark(capture, "-q", "-z", "expert")
    assert "Comments (" in expert  # the packet comments: the statistics did run
    for section in ("Errors (", "Warnings (", "Notes (", "Chats ("):
        assert section not in expert, expert[:2000]
    protos = tshark(capture, "-Y", DATA, "-T", "fields", "-e", "frame.protocols").splitlines()
    assert protos and all(p.startswith("eth:ethertype:ip:sctp:m3ua:sccp:tcap:gsm_map") for p in protos)


def test_packets_per_message_type_equal_rows(rows: dict[str, np.ndarray], decoded: list[dict[str, str]]) -> None:
    want: Counter[tuple[str, str]] = Counter()
    for msg, req, rc in zip(rows["msg"].tolist(), rows["is_request"].tolist(), rows["rc"].tolist(), strict=True):
        op = MESSAGE_NAMES[msg]
        if req:
            want[("1", str(OPERATIONS[op]))] += 1
        elif rc:
            want[("3", str(rc))] += 1
        else:  # alertServiceCentre returns no result parameter, hence no operation code
            want[("2", "" if op == "alertServiceCentre" else str(OPERATIONS[op]))] += 1
    got = Counter((p["gsm_map.old.Component"], p["gsm_old.localValue"]) for p in decoded)
    assert got == want
    assert len(decoded) == rows["time"].shape[0]
    assert {MESSAGE_NAMES[m] for m in rows["msg"].tolist()} == set(OPERATIONS)


def test_every_packet_says_what_its_row_says(rows: dict[str, np.ndarray], decoded: list[dict[str, str]]) -> None:
    pcs = sigtran.point_codes(NAMES)
    for i, p in enumerate(decoded):
        row = {k: int(rows[k][i]) for k in COLUMNS}
        op = MESSAGE_NAMES[row["msg"]]
        assert p["frame.comment"] == f"procedure_id={row['procedure_id']} txn_id={row['txn_id']}"
        assert int(p["m3ua.protocol_data_opc"]) == pcs[NAMES[row["origin"]]]
        assert int(p["m3ua.protocol_data_dpc"]) == pcs[NAMES[row["destination"]]]
        assert int(p["m3ua.protocol_data_sls"]) == row["e2e_id"] % 16
        assert int(p["sctp.data_sid"], 16) == 1 + row["e2e_id"] % 9
        if row["is_request"] and op not in ("sendRoutingInfoForSM", "reportSM-DeliveryStatus",
                                            "alertServiceCentre"):
            assert p["e212.imsi"] == str(row["imsi"])
        if p["gsm_map.old.Component"] == "3":
            assert p["gsm_old.localValue"] == str(row["rc"])
        nested = op == "insertSubscriberData" and row["e2e_id"] != row["txn_id"]  # inside an (GPRS) UL dialogue
        assert p["gsm_old.invokeID"] == ("2" if nested else "1")
        if row["rc"] == 8:
            assert p["gsm_map.er.roamingNotAllowedCause"] == "0"  # plmnRoamingNotAllowed
        if op == "sendAuthenticationInfo" and not row["is_request"] and not row["rc"]:
            assert p["gsm_map.ms.rand"] == quintuplet(row["imsi"], row["txn_id"]).rand.hex()
        if op == "updateLocation" and row["is_request"]:
            number = "91" + _swap(gt(NAMES[row["txn_origin"]]))
            assert (p["gsm_map.ms.msc_Number"], p["gsm_map.ms.vlr_Number"]) == (number, number)


def test_addresses_follow_global_title_routing(rows: dict[str, np.ndarray], decoded: list[dict[str, str]]) -> None:
    hlr, vlr, sgsn, smsc = gt("uk-alpha.hlr"), gt("es-one.vlr1"), gt("es-one.sgsn1"), gt("uk-alpha.smsc")
    lu = ROAMERS["lu"]
    mgt = mgt_for(lu, "234-15", "GB")
    msisdn = msisdn_for(lu, "234-15", "GB")
    seen = defaultdict(set)
    for i, p in enumerate(decoded):
        op = MESSAGE_NAMES[int(rows["msg"][i])]
        kind = "begin" if p["tcap.begin_element"] else "continue" if p["tcap.continue_element"] else "end"
        seen[(op, kind, bool(rows["is_request"][i]), int(rows["imsi"][i]))].add(
            (p["sccp.called.digits"], p["sccp.called.ssn"], p["sccp.calling.digits"], p["sccp.calling.ssn"]))
    # a VLR's BEGIN to the HLR is called on the IMSI's E.214 MGT; the END comes back from the HLR's own title
    assert seen[("updateLocation", "begin", True, lu)] == {(mgt, "6", vlr, "7")}
    assert seen[("updateLocation", "end", False, lu)] == {(vlr, "7", hlr, "6")}
    assert seen[("insertSubscriberData", "continue", True, lu)] == {(vlr, "7", hlr, "6")}
    assert seen[("insertSubscriberData", "continue", False, lu)] == {(hlr, "6", vlr, "7")}
    assert seen[("sendAuthenticationInfo", "begin", True, ROAMERS["gprs"])] == {
        (mgt_for(ROAMERS["gprs"], "234-15", "GB"), "6", sgsn, "149")}
    # the steering reject comes from the home STP but speaks for the HLR
    assert seen[("updateLocation", "end", False, ROAMERS["steered"])] == {(gt("es-one.vlr2"), "7", hlr, "6")}
    # short messages: SRI-SM on the MSISDN, MT-FSM between the SMSC's and the MSC's subsystem 8
    assert seen[("sendRoutingInfoForSM", "begin", True, lu)] == {(msisdn, "6", smsc, "8")}
    assert seen[("mt-forwardSM", "begin", True, lu)] == {(vlr, "8", smsc, "8")}
    assert seen[("mo-forwardSM", "begin", True, lu)] == {(smsc, "8", vlr, "8")}
    assert seen[("mo-forwardSM", "begin", True, ROAMERS["unknown"] - 1)] == {(smsc, "8", gt("es-one.smsf"), "8")}
    assert seen[("cancelLocation", "begin", True, lu)] == {(gt("fr-bleu.vlr1"), "7", hlr, "6")}


def test_map_parameters_decode(rows: dict[str, np.ndarray], decoded: list[dict[str, str]]) -> None:
    by_op: dict[tuple[str, bool], list[dict[str, str]]] = defaultdict(list)
    for i, p in enumerate(decoded):
        if not rows["rc"][i]:
            by_op[(MESSAGE_NAMES[int(rows["msg"][i])], bool(rows["is_request"][i]))].append(p)
    hlr, vlr = gt("uk-alpha.hlr"), gt("es-one.vlr1")
    assert {p["gsm_map.ms.hlr_Number"] for p in by_op[("updateLocation", False)]} == {"91" + _swap(hlr)}
    assert all(len(p["gsm_map.ms.rand"]) == 32 for p in by_op[("sendAuthenticationInfo", False)])
    sri = by_op[("sendRoutingInfoForSM", False)]
    assert {p["gsm_map.sm.networkNode_Number"] for p in sri} == {"91" + _swap(vlr)}
    assert {p["e212.imsi"] for p in sri} == {str(ROAMERS["lu"])}
    msisdn = msisdn_for(ROAMERS["lu"], "234-15", "GB")
    assert {p["e164.msisdn"] for p in by_op[("insertSubscriberData", True)] if p["e212.imsi"] == str(ROAMERS["lu"])} \
        == {msisdn}
    assert {p["gsm_sms.sms_text"] for p in by_op[("mt-forwardSM", True)] + by_op[("mo-forwardSM", True)]} == {
        "roamsim test message"}


def _swap(digits: str) -> str:
    """TBCD hex of ``digits`` as tshark prints a bytes field."""
    d = digits + "f" if len(digits) % 2 else digits
    return "".join(d[i + 1] + d[i] for i in range(0, len(d), 2))


def test_dialogues_pair_begin_continue_end(rows: dict[str, np.ndarray], decoded: list[dict[str, str]]) -> None:
    """Per link, every message of a dialogue has the same tcap.srt.session_id, and each END points back at
    its link's BEGIN ("Begin of session in frame", ``tcap.srt.end`` in tshark 4.0) and that BEGIN at it;
    the AARQ and AARE carry the opening operation's application context. A retransmitted BEGIN (after a
    lost one) opens a new transaction: its own otid and session."""
    sessions: dict[tuple[int, frozenset[int], int], set[str]] = defaultdict(set)
    begins: dict[tuple[int, frozenset[int]], list[str]] = defaultdict(list)
    contexts: dict[int, list[tuple[str, str]]] = defaultdict(list)
    ends: dict[str, str] = {}
    for i, p in enumerate(decoded):
        e2e, retrans = int(rows["e2e_id"][i]), int(rows["retrans"][i])
        link = frozenset((int(rows["origin"][i]), int(rows["destination"][i])))
        tid = f"{(e2e + retrans * 0x9E3779B9) & 0xFFFFFFFF:08x}"
        if p["tcap.begin_element"]:
            begins[(e2e, link)].append(p["frame.number"])
            assert p["tcap.otid"] == tid
        sessions[(e2e, link, len(begins[(e2e, link)]))].add(p["tcap.srt.session_id"])
        if p["tcap.end_element"]:
            assert p["tcap.dtid"] == tid
            assert p["tcap.srt.end"] == begins[(e2e, link)][-1]
            ends[begins[(e2e, link)][-1]] = p["frame.number"]
        if int(rows["hop"][i]) == 0:
            kind = "b" if p["tcap.begin_element"] else "c" if p["tcap.continue_element"] else "e"
            contexts[e2e].append((kind, p["tcap.application_context_name"]))
    assert not [k for k, v in sessions.items() if "" in v]
    begin_says = {p["frame.number"]: p["tcap.srt.begin"] for p in decoded if p["tcap.begin_element"]}
    assert {b: begin_says[b] for b in ends} == ends
    assert len(ends) == sum(1 for p in decoded if p["tcap.end_element"])
    unanswered = [b for b in begin_says if b not in ends]
    assert len(unanswered) == 2 and all(begin_says[b] == "" for b in unanswered)  # the lost BEGIN's two hops
    ids = [next(iter(v)) for v in sessions.values() if len(v) == 1]
    assert len(ids) == len(sessions), "a dialogue changed session on one link"
    assert len(set(ids)) == len(ids), "two dialogues share a session"
    # UL with the nested ISD: AARQ in the BEGIN, AARE in the HLR's first CONTINUE, nothing after
    ul = application_context("updateLocation")
    ul_e2e = next(int(e) for e, m, q in zip(rows["e2e_id"], rows["msg"], rows["imsi"], strict=True)
                  if MESSAGE_NAMES[m] == "updateLocation" and q == ROAMERS["lu"])
    ctx = ".".join(map(str, ul))
    assert contexts[ul_e2e] == [("b", ctx), ("c", ctx), ("c", ""), ("e", "")]


def test_links_open_with_sctp_and_asp_start_up(capture: Path, rows: dict[str, np.ndarray]) -> None:
    out = fields(capture, ["frame.interface_id", "sctp.chunk_type", "m3ua.message_class", "m3ua.message_type",
                           "sctp.port", "sctp.data_payload_proto_id"])
    per_iface: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for iface, chunk, cls, typ, _, ppid in out:
        per_iface[iface].append((chunk, cls, typ))
        assert ppid in ("", "3")
    links = {frozenset((int(o), int(d))) for o, d in zip(rows["origin"], rows["destination"], strict=True)}
    assert len(per_iface) == len(links)
    for seq in per_iface.values():
        assert seq[:8] == [("1", "", ""), ("2", "", ""), ("10", "", ""), ("11", "", ""), ("0", "3", "1"),
                           ("0", "3", "4"), ("0", "4", "1"), ("0", "4", "3")]
        assert all(c == ("0", "1", "1") for c in seq[8:])
    ports = {p for line in out for p in line[4].split(",") if p}
    assert ports == {"2905"}


# -- our own decoders -----------------------------------------------------------------------


def test_frames_are_consistent_and_hops_carry_the_same_message(rows: dict[str, np.ndarray], capture: Path) -> None:
    frames = frames_of(capture.read_bytes())
    data = [f for f in frames if f[2][34 + 12] == 0 and struct.unpack_from("!I", f[2], 34 + 12 + 12)[0] == 3
            and f[2][34 + 12 + 16 + 2] == 1]  # DATA chunk with PPID 3 carrying an M3UA transfer message
    assert len(data) == rows["time"].shape[0]
    assert [t for _, t, _, _ in frames] == sorted(t for _, t, _, _ in frames)
    assert [t for _, t, _, _ in data] == rows["time"].tolist()
    payloads: dict[tuple[int, bool, int], bytes] = {}
    for i, (_, _, frame, _) in enumerate(data):
        assert ones_complement_sum(frame[14:34]) == 0xFFFF
        sctp = bytearray(frame[34:])
        crc = struct.unpack_from("<I", sctp, 8)[0]
        sctp[8:12] = b"\0\0\0\0"
        assert crc == crc32c(bytes(sctp))
        chunk_len = struct.unpack_from("!H", frame, 34 + 12 + 2)[0]
        m3 = sigtran.decode_m3ua(frame[34 + 12 + 16:34 + 12 + chunk_len])
        pd = m3.protocol_data()
        udt = sigtran.decode_udt(pd.payload)
        tc = decode_tcap(udt.data)
        assert len(tc.components) == 1
        key = (int(rows["txn_id"][i]), bool(rows["is_request"][i]), int(rows["retrans"][i]))
        assert payloads.setdefault(key, pd.payload) == pd.payload, "hops of one message differ above M3UA"
        assert tc.components[0].kind == ("invoke" if rows["is_request"][i] else "error" if rows["rc"][i]
                                         else "result")


def test_same_rows_same_bytes_whatever_the_chunking(rows: dict[str, np.ndarray]) -> None:
    a, _ = emit(rows)
    b, _ = emit(rows, chunk=7)
    c, _ = emit(rows, chunk=1)
    assert a == b == c


def test_templates_write_the_bytes_of_the_full_encoding(rows: dict[str, np.ndarray]) -> None:
    fast, em = emit(rows)
    slow, ref = emit(rows, chunk=5, reference=True)
    assert fast == slow
    assert (em.messages, em.first_time, em.last_time) == (ref.messages, ref.first_time, ref.last_time)


def test_bad_rows_are_refused(rows: dict[str, np.ndarray]) -> None:
    bad = {k: v.copy() for k, v in rows.items()}
    bad["msg"][0] = len(MESSAGE_NAMES)
    with pytest.raises(ValueError, match="not an index"):
        emit(bad)
    bad = {k: v.copy() for k, v in rows.items()}
    answer = int(np.nonzero(~bad["is_request"])[0][0])
    bad["rc"][answer] = -1
    with pytest.raises(ValueError, match="MAP result code -1"):
        emit(bad)
