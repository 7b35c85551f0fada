"""Packet traces of a run, judged by tshark (Wireshark's dissectors) and compared with messages.parquet.

tshark runs with strict settings (SCTP CRC32c and IPv4 header checksums
verified) and its exit code is always checked: a mistyped field or filter makes
it exit non-zero and print nothing, which must not pass as "no errors"
(shared/domain/packet-traces.md §5). tshark is installed by ``make test``.
"""

from __future__ import annotations

import copy
import io
import shutil
import struct
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

from roamsim import simulate
from roamsim.scenario import scenario_from_data
from roamsim.sinks.pcap import write_capture
from roamsim.sinks.pcap.addressing import Addressing
from roamsim.sinks.pcap.capture import Selection, iter_selected_rows, load_world, sample_keep
from roamsim.sinks.pcap.diameter_s6a import encode, s6a_message
from roamsim.sinks.pcap.emit_s6a import MESSAGE_NAMES, WATCHDOG_INTERVAL_NS, S6aSctpEmitter
from roamsim.sinks.pcap.pcapng import PcapngWriter
from roamsim.sinks.pcap.sctp import SctpAssociation
from roamsim.world.model import World, compile_world
from tsharkkit import S6A, assert_clean, fields

EXAMPLE = Path(__file__).resolve().parent.parent / "src" / "roamsim" / "examples" / "quickstart.yaml"
WATCHDOG = "diameter.cmd.code == 280"
NAMES = {(318, True): "AIR", (318, False): "AIA", (316, True): "ULR", (316, False): "ULA", (317, True): "CLR",
         (317, False): "CLA", (321, True): "PUR", (321, False): "PUA", (319, True): "IDR", (319, False): "IDA"}


# -- helpers --------------------------------------------------------------------------


def records(run_dir: Path) -> dict[str, np.ndarray]:
    """messages.parquet as NumPy columns in global time order (ties keep file order); nulls as 0."""
    t = pq.read_table(run_dir / "messages.parquet")
    out: dict[str, np.ndarray] = {}
    for name in t.column_names:
        col = t[name]
        if pa.types.is_dictionary(col.type):
            out[name] = np.asarray(col.cast(pa.string()).to_numpy(zero_copy_only=False), dtype=str)
        elif col.null_count:
            out[name] = np.asarray(pc.fill_null(col, 0).to_numpy(zero_copy_only=False))
        else:
            out[name] = np.asarray(col.to_numpy(zero_copy_only=False))
    order = np.argsort(out["time"], kind="stable")
    return {k: v[order] for k, v in out.items()}


def interconnect(rec: dict[str, np.ndarray], world: World) -> np.ndarray:
    plmn_op = {p: world.op_ids[i] for i, p in enumerate(world.op_plmn)}
    vdea = np.array([f"{plmn_op[p]}.dea" for p in rec["visited_plmn"]])
    o, d = rec["origin"], rec["destination"]
    return np.asarray(((o == vdea) & (d == "ipx")) | ((o == "ipx") & (d == vdea)), dtype=bool)


def read_pcapng(path: Path) -> tuple[list[tuple[int, int]], list[bytes], list[bytes]]:
    """(block type, EPB timestamp or 0) per block, the SHB options, and the EPB frames."""
    data = path.read_bytes()
    pos, blocks, frames, shb = 0, [], [], b""
    while pos < len(data):
        btype, total = struct.unpack_from("<II", data, pos)
        assert total % 4 == 0 and struct.unpack_from("<I", data, pos + total - 4)[0] == total
        ts = 0
        if btype == 6:
            _, hi, lo, cap, _ = struct.unpack_from("<IIIII", data, pos + 8)
            ts = (hi << 32) | lo
            frames.append(data[pos + 28:pos + 28 + cap])
        elif btype == 0x0A0D0D0A:
            shb = data[pos + 24:pos + total - 4]
        elif btype == 1:
            assert b"\x09\x00\x01\x00\x09" in data[pos + 16:pos + total - 4]  # if_tsresol = 9 (ns)
        blocks.append((btype, ts))
        pos += total
    return blocks, [shb], frames


# -- the run ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quickstart at 1/10 scale over 6 h, with HSS overload, transient errors and a missing agreement.

    That gives every S6a message type, base and experimental error codes (3002, 3004, 4181, 5004, 5012),
    steering rejects answered by the home DEA, lost requests and retransmissions.
    """
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    data["operators"][0]["hss"].update({"transient_errors": "3%", "servers": 1, "queue_limit": 3})
    data["operators"][1]["hss"] = {"transient_errors": "3%"}
    data["agreements"][1]["visited"] = ["es-one"]
    data["window"]["duration"] = "6h"
    # S6a only: 4G devices, no data sessions or SMS (the other protocols' packets are other emitters' business).
    for op in data["operators"]:
        op["welcome_sms"] = False
    for c in data["cohorts"]:
        c["usage"] = {"sessions_per_day": 0, "sms_mt_per_day": 0, "sms_mo_per_day": 0}
        c["devices"] = {"4G": 1.0}
    out = tmp_path_factory.mktemp("pcap") / "run"
    summary = simulate(scenario_from_data(data), out, scale=0.1)
    assert summary.status == "complete"
    return out


@pytest.fixture(scope="module")
def rec(run_dir: Path) -> dict[str, np.ndarray]:
    return records(run_dir)


@pytest.fixture(scope="module")
def all_hops(run_dir: Path) -> Path:
    out = run_dir.parent / "all.pcapng"
    write_capture(run_dir, out, capture_point="all")
    return out


@pytest.fixture(scope="module")
def at_interconnect(run_dir: Path) -> Path:
    out = run_dir.parent / "interconnect.pcapng"
    write_capture(run_dir, out)
    return out


# -- tests ---------------------------------------------------------------------------


def test_the_run_has_what_the_tests_need(rec: dict[str, np.ndarray]) -> None:
    answers = ~rec["is_request"]
    codes = set(rec["result_code"][answers].tolist()) | set(rec["experimental_result_code"][answers].tolist())
    assert {2001, 3002, 3004, 4181, 5004, 5012} <= codes
    assert set(rec["message"].tolist()) == set(NAMES.values())
    assert (rec["origin"][answers & (rec["result_code"] == 5012)] == "uk-alpha.dea").any()


def test_tshark_finds_nothing_wrong(all_hops: Path, at_interconnect: Path) -> None:
    assert_clean(all_hops)
    assert_clean(at_interconnect)


def test_every_message_row_is_one_packet_in_time_order(run_dir: Path, rec: dict[str, np.ndarray],
                                                       all_hops: Path) -> None:
    rows = fields(all_hops, ["diameter.cmd.code", "diameter.flags.request", "frame.comment", "e212.imsi",
                             "diameter.User-Name", "diameter.Visited-PLMN-Id", "diameter.Result-Code",
                             "diameter.Experimental-Result-Code", "diameter.endtoendid", "frame.interface_name"],
                  display=S6A)
    assert len(rows) == rec["time"].shape[0]
    got = Counter(NAMES[(int(r[0]), r[1] == "1")] for r in rows)
    assert got == Counter(rec["message"].tolist())
    _, world = load_world(run_dir)
    plmn_tbcd = {p: _tbcd(p) for p in world.op_plmn}
    for i, r in enumerate(rows):
        code, req, comment, imsi, user, vplmn, rc, erc, e2e, iface = r
        assert NAMES[(int(code), req == "1")] == rec["message"][i]
        assert comment == f"procedure_id={rec['procedure_id'][i]} txn_id={rec['txn_id'][i]}"
        assert int(e2e, 16) == rec["e2e_id"][i] & 0xFFFFFFFF
        assert set(iface.split("<->")) == {rec["origin"][i], rec["destination"][i]}
        if req == "1":
            assert imsi == user == str(rec["imsi"][i])
            if rec["message"][i] in ("AIR", "ULR"):
                assert vplmn == plmn_tbcd[rec["visited_plmn"][i]]
            assert rc == erc == ""
        else:
            assert (int(rc or 0), int(erc or 0)) == (rec["result_code"][i], rec["experimental_result_code"][i])
    blocks, (shb,), _ = read_pcapng(all_hops)
    times = [ts for btype, ts in blocks if btype == 6]
    assert times == sorted(times)
    assert sorted(times[i] for i in range(len(times)))[-1] == int(rec["time"].max())
    assert b"roamsim run quickstart-seed42-scale0.1-" in shb


def _tbcd(plmn: str) -> str:
    mcc, mnc = plmn.split("-")
    d = [int(x) for x in mcc + mnc]
    mnc3 = d[5] if len(mnc) == 3 else 0xF
    return bytes(((d[1] << 4) | d[0], (mnc3 << 4) | d[2], (d[4] << 4) | d[3])).hex()


def test_requests_and_answers_pair_as_the_records_say(rec: dict[str, np.ndarray], all_hops: Path) -> None:
    rows = fields(all_hops, ["frame.number", "frame.comment", "frame.interface_id", "diameter.flags.request",
                             "diameter.answer_in"], display=S6A, two_pass=True)
    txn_of = {int(r[0]): r[1].split("txn_id=")[1] for r in rows}
    iface_of = {int(r[0]): r[2] for r in rows}
    paired = set()
    for num, _comment, iface, req, answer_in in rows:
        if req == "1" and answer_in:
            assert txn_of[int(answer_in)] == txn_of[int(num)]
            assert iface_of[int(answer_in)] == iface
            paired.add((int(txn_of[int(num)]), frozenset(iface_of[int(num)])))
    # records: a request hop is answered on its link when an answer row crosses the same link back
    links = {(t, frozenset((o, d))) for t, o, d, r in
             zip(rec["txn_id"], rec["origin"], rec["destination"], rec["is_request"], strict=True) if not r}
    answered = sum(1 for t, o, d, r in zip(rec["txn_id"], rec["origin"], rec["destination"], rec["is_request"],
                                            strict=True) if r and (t, frozenset((o, d))) in links)
    assert len(paired) == answered
    assert answered < int(rec["is_request"].sum())  # some requests were lost: they must stay unpaired


def test_interconnect_is_the_visited_dea_to_ipx_hops(run_dir: Path, rec: dict[str, np.ndarray],
                                                     at_interconnect: Path) -> None:
    _, world = load_world(run_dir)
    sel = interconnect(rec, world)
    rows = fields(at_interconnect, ["diameter.cmd.code", "diameter.flags.request", "frame.comment",
                                    "frame.interface_name"], display=S6A)
    got = Counter(NAMES[(int(r[0]), r[1] == "1")] for r in rows)
    assert got == Counter(rec["message"][sel].tolist())
    assert [r[2] for r in rows] == [f"procedure_id={p} txn_id={t}" for p, t in
                                    zip(rec["procedure_id"][sel], rec["txn_id"][sel], strict=True)]
    visited_deas = {f"{op}.dea" for op in ("es-one", "es-two", "pt-one")}
    assert {frozenset(r[3].split("<->")) for r in rows} == {frozenset((d, "ipx")) for d in visited_deas}


def test_one_imsi_yields_exactly_that_roamers_messages(run_dir: Path, rec: dict[str, np.ndarray]) -> None:
    imsis, counts = np.unique(rec["imsi"], return_counts=True)
    imsi = int(imsis[np.argmax(counts)])
    out = run_dir.parent / "one.pcapng"
    summary = write_capture(run_dir, out, imsi=imsi, capture_point="all")
    mine = rec["imsi"] == imsi
    assert summary.messages == int(mine.sum())
    assert_clean(out)
    rows = fields(out, ["frame.comment", "e212.imsi", "diameter.flags.request"], display=S6A)
    assert [r[0] for r in rows] == [f"procedure_id={p} txn_id={t}" for p, t in
                                    zip(rec["procedure_id"][mine], rec["txn_id"][mine], strict=True)]
    assert {r[1] for r in rows if r[2] == "1"} == {str(imsi)}
    # one roamer's messages leave the links looking idle: no watchdogs unless asked for
    assert summary.watchdogs == 0
    assert fields(out, ["frame.number"], display=WATCHDOG) == []
    forced = write_capture(run_dir, out, imsi=imsi, capture_point="all", watchdogs=True)
    assert forced.watchdogs > 0 and forced.packets == summary.packets + 2 * forced.watchdogs


def test_sampling_keeps_whole_roamers(run_dir: Path, rec: dict[str, np.ndarray]) -> None:
    out = run_dir.parent / "sample.pcapng"
    s1 = write_capture(run_dir, out, sample=0.25, capture_point="all")
    keep = sample_keep(rec["imsi"], 0.25, 42)
    assert 0.1 < np.unique(rec["imsi"][keep]).size / np.unique(rec["imsi"]).size < 0.4
    assert s1.messages == int(keep.sum())
    first = out.read_bytes()
    write_capture(run_dir, out, sample=0.25, capture_point="all")
    assert out.read_bytes() == first  # deterministic
    rows = fields(out, ["frame.comment"], display=S6A)
    assert [r[0] for r in rows] == [f"procedure_id={p} txn_id={t}" for p, t in
                                    zip(rec["procedure_id"][keep], rec["txn_id"][keep], strict=True)]


def test_filters_by_network_procedure_and_time(run_dir: Path, rec: dict[str, np.ndarray]) -> None:
    t0, t1 = int(np.quantile(rec["time"], 0.3)), int(np.quantile(rec["time"], 0.6))
    out = run_dir.parent / "filtered.pcapng"
    s = write_capture(run_dir, out, home="de-beta", visited="214-01", start=t0, end=t1, capture_point="all")
    sel = (rec["home_plmn"] == "262-02") & (rec["visited_plmn"] == "214-01") & (rec["time"] >= t0) & (
        rec["time"] < t1)
    assert s.messages == int(sel.sum()) > 0
    procs = pq.read_table(run_dir / "procedures.parquet", columns=["procedure_id", "type"]).to_pydict()
    purges = {p for p, t in zip(procs["procedure_id"], procs["type"], strict=True) if t == "purge"}
    s = write_capture(run_dir, out, procedure="purge", capture_point="all")
    assert s.messages == int(np.isin(rec["procedure_id"], list(purges)).sum()) > 0
    assert_clean(out)


def test_row_groups_that_overlap_in_time_come_out_sorted(run_dir: Path, rec: dict[str, np.ndarray],
                                                         tmp_path: Path) -> None:
    """messages.parquet is time-ordered only within a row group: rebuild it as overlapping batches."""
    copy_dir = tmp_path / "run"
    shutil.copytree(run_dir, copy_dir)
    table = pq.read_table(run_dir / "messages.parquet")
    txn = table["txn_id"].to_numpy()
    writer = pq.ParquetWriter(copy_dir / "messages.parquet", table.schema)
    rng = np.random.default_rng(1)
    for k, lo in enumerate(range(0, int(txn.max()) + 1, 97)):  # batches of transactions, each sorted by time
        part = table.filter(pc.and_(pc.greater_equal(table["txn_id"], lo), pc.less(table["txn_id"], lo + 97)))
        part = part.sort_by("time")
        if k % 5 == 4:  # and a few that are not (the reader must not trust order it has not checked)
            part = part.take(rng.permutation(part.num_rows))
        writer.write_table(part)
    writer.close()
    assert pq.ParquetFile(copy_dir / "messages.parquet").num_row_groups > 10
    _, world = load_world(copy_dir)
    chunks = list(iter_selected_rows(copy_dir, world, Selection(capture_point="all"), chunk_rows=1000,
                                     batch_rows=300))
    times = np.concatenate([c["time"] for c in chunks])
    assert np.all(np.diff(times) >= 0)
    assert times.shape[0] == rec["time"].shape[0]
    got = sorted(zip(*(np.concatenate([c[k] for c in chunks]).tolist() for k in ("txn_id", "hop", "is_request")),
                     strict=True))
    want = sorted(zip(rec["txn_id"].tolist(), rec["hop"].tolist(), rec["is_request"].tolist(), strict=True))
    assert got == want


def test_name_resolution_and_interfaces(all_hops: Path) -> None:
    rows = fields(all_hops, ["ip.src_host", "ip.dst_host", "frame.interface_description"], display=S6A,
                  extra=("-N", "n", "-o", "nameres.use_external_name_resolver:FALSE"))
    names = {r[0] for r in rows} | {r[1] for r in rows}
    assert "proxy.ipx.roamsim.example" in names
    assert "mme1.epc.mnc001.mcc214.3gppnetwork.org" in names
    assert all(n.endswith((".3gppnetwork.org", ".roamsim.example")) for n in names)
    setup = fields(all_hops, ["sctp.chunk_type"], display="sctp.chunk_type != 0")
    kinds = Counter(r[0] for r in setup)
    assert kinds["1"] == kinds["2"] == kinds["10"] == kinds["11"] == 16  # one association per link
    cer = fields(all_hops, ["diameter.flags.request"], display="diameter.cmd.code == 257")
    assert Counter(r[0] for r in cer) == {"1": 16, "0": 16}


def test_golden_shapes_decode_cleanly(tmp_path: Path) -> None:
    """Every golden message shape, framed in SCTP, passes tshark strictly with the expected fields."""
    from test_pcap_codecs import ADDR, shapes  # the golden shapes; tests/ is on sys.path under pytest

    out = tmp_path / "golden.pcapng"
    with open(out, "wb") as f:
        w = PcapngWriter(f, comment="golden shapes")
        assocs: dict[frozenset[str], tuple[SctpAssociation, int]] = {}
        t = 1_814_573_053_000_000_000
        for h in shapes().values():
            src, dst = h.link
            key = frozenset((src.name, dst.name))
            if key not in assocs:
                assoc = SctpAssociation(src, dst)
                assocs[key] = (assoc, w.add_interface(f"{src.name}<->{dst.name}"))
                for frame in assoc.handshake():
                    t += 1000
                    w.packet(assocs[key][1], t, frame)
            assoc, iface = assocs[key]
            t += 1000
            w.packet(iface, t, assoc.data_frame(src, encode(s6a_message(h)), stream=1))
        w.name_resolution([(ADDR.element("ipx").ipv4, ["proxy.ipx.roamsim.example"])])
        w.flush()
    assert_clean(out)
    rows = fields(out, ["diameter.cmd.code", "diameter.Result-Code", "diameter.Experimental-Result-Code",
                        "diameter.RAT-Type", "diameter.ULR-Flags", "diameter.Cancellation-Type",
                        "diameter.Service-Selection", "diameter.RAND"], display=S6A)
    assert len(rows) == len(shapes())
    assert any(r[3] == "1004" and r[4] == "34" for r in rows)  # RAT-Type EUTRAN, ULR-Flags 0x22
    assert any(r[5] == "0" for r in rows)  # Cancellation-Type MME_UPDATE_PROCEDURE
    assert any(r[6] == "internet" for r in rows)
    assert any(len(r[7]) == 32 for r in rows)
    assert {r[2] for r in rows} >= {"4181", "5004"}


def test_template_writer_bytes_equal_the_full_encoding(run_dir: Path, all_hops: Path) -> None:
    """Each packet's Diameter payload is exactly encode(s6a_message(hop)) of its record (the slow path)."""
    from roamsim.sinks.pcap.addressing import Addressing
    from roamsim.sinks.pcap.emit_s6a import S6aSctpEmitter
    from roamsim.sinks.pcap.sctp import DATA_PAYLOAD_OFFSET

    _, world = load_world(run_dir)
    emitter = S6aSctpEmitter(PcapngWriter(io.BytesIO()), world, Addressing.for_world(world))
    _, _, frames = read_pcapng(all_hops)
    s6a = [f for f in frames if len(f) > DATA_PAYLOAD_OFFSET + 12 and f[46] == 0
           and f[DATA_PAYLOAD_OFFSET + 8:DATA_PAYLOAD_OFFSET + 12] == (16777251).to_bytes(4, "big")]
    n = 0
    for c in iter_selected_rows(run_dir, world, Selection(capture_point="all")):
        for i in range(c["time"].shape[0]):
            h = emitter.hop(int(c["msg"][i]), int(c["txn_origin"][i]), int(c["txn_responder"][i]), int(c["hop"][i]),
                            int(c["rc"][i]), bool(c["exp"][i]), bool(c["retrans"][i] > 0), bool(c["initial"][i]),
                            int(c["imsi"][i]), int(c["txn_id"][i]), int(c["e2e_id"][i]))
            want = encode(s6a_message(h))
            assert s6a[n][DATA_PAYLOAD_OFFSET:DATA_PAYLOAD_OFFSET + len(want)] == want
            n += 1
    assert n == len(s6a)


# -- watchdogs -------------------------------------------------------------------------


def _ns(epoch: str) -> int:
    sec, frac = epoch.split(".")
    return int(sec) * 1_000_000_000 + int(frac.ljust(9, "0")[:9])


def test_idle_links_carry_watchdogs(rec: dict[str, np.ndarray], at_interconnect: Path) -> None:
    """DWR from the link's initiator after 30 s without a packet, answered by a DWA; SCTP counters stay whole."""
    rows = fields(at_interconnect, ["frame.number", "frame.time_epoch", "frame.interface_id", "ip.src",
                                    "sctp.chunk_type", "diameter.cmd.code", "diameter.flags.request",
                                    "diameter.answer_in", "diameter.hopbyhopid", "sctp.data_tsn", "sctp.data_sid",
                                    "sctp.data_ssn"], two_pass=True)
    times = [_ns(r[1]) for r in rows]
    assert times == sorted(times)  # one time order for everything
    initiator = {r[2]: r[3] for r in rows if r[4] == "1"}  # the INIT's sender, per interface
    by_num = {r[0]: r for r in rows}
    dwr = [r for r in rows if r[5] == "280" and r[6] == "1"]
    dwa = [r for r in rows if r[5] == "280" and r[6] == "0"]
    assert len(dwr) == len(dwa) > 100
    answered = set()
    for r in dwr:
        a = by_num[r[7]]  # diameter.answer_in
        assert (a[5], a[6], a[2], a[8]) == ("280", "0", r[2], r[8])  # a DWA, same link, same hop-by-hop id
        assert r[3] == initiator[r[2]] != a[3]
        answered.add(a[0])
    assert answered == {r[0] for r in dwa}
    assert max(_ns(r[1]) for r in dwr + dwa) <= int(rec["time"].max())  # none after the last message
    # per link: a DWR exactly Tw after the link's previous packet, and no gap longer than Tw
    last: dict[str, int] = {}
    for r, t in zip(rows, times, strict=True):
        if r[2] in last:
            gap = t - last[r[2]]
            assert gap <= WATCHDOG_INTERVAL_NS
            assert (gap == WATCHDOG_INTERVAL_NS) == (r[5] == "280" and r[6] == "1"), r
        last[r[2]] = t
    assert len({r[2] for r in dwr}) == len(initiator) == 3  # every link goes idle at some point
    # TSN +1 per direction and SSN +1 per direction and stream, over S6a, CER/CEA and DWR/DWA alike
    tsn: dict[tuple[str, str], int] = {}
    ssn: dict[tuple[str, str, str], int] = {}
    for r in rows:
        if r[4] != "0":
            continue
        d, s = (r[2], r[3]), (r[2], r[3], r[10])
        assert int(r[9]) == tsn.get(d, int(r[9]) - 1) + 1
        assert int(r[11]) == ssn.get(s, -1) + 1
        tsn[d], ssn[s] = int(r[9]), int(r[11])


def test_watchdogs_only_for_unfiltered_captures(run_dir: Path, rec: dict[str, np.ndarray]) -> None:
    out = run_dir.parent / "wd.pcapng"
    t0, t1 = int(np.quantile(rec["time"], 0.2)), int(np.quantile(rec["time"], 0.7))
    window = write_capture(run_dir, out, start=t0, end=t1)  # a time window is still the links' whole traffic
    assert window.watchdogs > 0
    off = write_capture(run_dir, out, start=t0, end=t1, watchdogs=False)
    assert off.watchdogs == 0 and off.messages == window.messages
    assert off.packets == window.packets - 2 * window.watchdogs == off.messages + 6 * off.links
    sampled = write_capture(run_dir, out, sample=0.5)
    assert sampled.watchdogs == 0
    assert fields(out, ["frame.number"], display=WATCHDOG) == []


def test_watchdogs_interleave_in_time_order(tmp_path: Path) -> None:
    """Exchanges due on two links just before a packet, with less than the DWA delay to spare."""
    world = compile_world(scenario_from_data(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))))
    t0, tw = 1_814_573_053_000_000_000, WATCHDOG_INTERVAL_NS
    # ULRs of one transaction: hop 0 (MME → DEA) at t0, hop 1 (DEA → IPX) at t0 + 1 µs, hop 1 again 0.5 ms
    # after that link's DWR is due, then hop 0 after 100 s
    times = np.array([t0, t0 + 1000, t0 + 1000 + tw + 500_000, t0 + 100 * 10**9 + 7], dtype=np.int64)
    hops = np.array([0, 1, 1, 0], dtype=np.int64)
    n = times.shape[0]
    ids = np.arange(1, n + 1, dtype=np.int64)
    rows: dict[str, np.ndarray] = {
        "time": times, "msg": np.full(n, MESSAGE_NAMES.index("ULR"), dtype=np.int16),
        "is_request": np.ones(n, dtype=bool), "txn_id": ids, "e2e_id": ids, "procedure_id": ids,
        "imsi": 234150100000000 + ids, "hop": hops, "rc": np.zeros(n, dtype=np.int64),
        "exp": np.zeros(n, dtype=bool),
        "txn_origin": np.full(n, world.element_names.index("es-one.mme1"), dtype=np.int16),
        "txn_responder": np.full(n, world.element_names.index("uk-alpha.hss"), dtype=np.int16),
        "retrans": np.zeros(n, dtype=np.int8), "initial": np.ones(n, dtype=bool),
    }
    out = tmp_path / "wd.pcapng"
    with open(out, "wb") as f:
        w = PcapngWriter(f)
        emitter = S6aSctpEmitter(w, world, Addressing.for_world(world))
        emitter.emit({k: v[:2] for k, v in rows.items()})  # two chunks: the heap carries over
        emitter.emit({k: v[2:] for k, v in rows.items()})
        w.flush()
    # link 0: due t0 + k·Tw, k = 1..3; link 1: due t0 + 1 µs + Tw, then after its ULR 0.5 ms later, + Tw, + 2 Tw
    assert emitter.watchdog_exchanges == 6
    blocks, _, _ = read_pcapng(out)
    stamps = [ts for btype, ts in blocks if btype == 6]
    assert stamps == sorted(stamps) and stamps[-1] == times[-1]
    assert_clean(out)
    got = fields(out, ["frame.time_epoch", "frame.interface_id", "diameter.flags.request", "diameter.answer_in"],
                 display=WATCHDOG, two_pass=True)
    assert [(_ns(r[0]), r[1], r[2]) for r in got[:4]] == [
        (t0 + tw, "0", "1"), (t0 + 1000 + tw, "1", "1"),  # both DWRs first: their DWAs are squeezed
        (times[2] - 1, "0", "0"), (times[2] - 1, "1", "0"),  # in just before the packet at times[2]
    ]
    assert sum(1 for r in got if r[3]) == 6
