"""Packet traces of every protocol from a real mixed-generation run (issue 4).

The run of tests/test_generations.py (scaled down) is written as one capture per
protocol, at both capture points; tshark must decode each cleanly, and the messages
in it must be exactly the records of that protocol.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from roamsim.sinks.pcap.capture import CAPTURE_FILES, protocols_in, write_capture
from runkit import Columns, read, run
from test_generations import SCENARIO
from tsharkkit import S6A, assert_clean, fields

EXPECT = {"diameter": S6A, "MAP": "gsm_map", "SBI": "http2.headers.method", "GTPv2": "gtpv2.message_type == 32"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pcap-generations") / "run"
    run(SCENARIO, out, scale=0.1)
    return out


@pytest.fixture(scope="module")
def messages(run_dir: Path) -> Columns:
    return read(run_dir, "messages")


def test_the_run_has_every_protocol(run_dir: Path) -> None:
    assert protocols_in(run_dir) == ["diameter", "MAP", "SBI", "GTPv2"]


@pytest.mark.parametrize("protocol", ["diameter", "MAP", "SBI", "GTPv2"])
def test_every_protocol_decodes_cleanly_with_one_packet_per_message(
        protocol: str, run_dir: Path, messages: Columns, tmp_path: Path) -> None:
    out = tmp_path / CAPTURE_FILES[protocol]
    summary = write_capture(run_dir, out, protocol=protocol, capture_point="all")
    assert_clean(out, EXPECT[protocol])
    mine = messages["protocol"] == protocol
    # One packet per message row of this protocol; other protocols' rows are not in this capture.
    assert summary.messages == int(mine.sum()) > 0
    comments = fields(out, ["frame.comment"])
    with_comment = [c[0] for c in comments if c and c[0].startswith("procedure_id=")]
    assert len(with_comment) == int(mine.sum())
    # The packets carry exactly the records' procedures.
    procs = Counter(int(c.split()[0].split("=")[1]) for c in with_comment)
    expected = Counter(messages["procedure_id"][mine].tolist())
    assert procs == expected


def test_gtp_packets_match_the_records_message_by_message(run_dir: Path, messages: Columns, tmp_path: Path) -> None:
    out = tmp_path / "gtp.pcapng"
    write_capture(run_dir, out, protocol="GTPv2", capture_point="all")
    rows = fields(out, ["gtpv2.message_type", "gtpv2.cause", "e212.imsi"], display="gtpv2.message_type >= 32")
    got = Counter(int(r[0]) for r in rows)
    m = messages["protocol"] == "GTPv2"
    names = Counter(messages["message"][m].tolist())
    assert got[32] == names["CreateSessionRequest"] and got[33] == names["CreateSessionResponse"]
    assert got[36] == names["DeleteSessionRequest"] and got[37] == names["DeleteSessionResponse"]
    imsis = {r[2] for r in rows if r[2]}
    assert imsis == {str(i) for i in np.unique(messages["imsi"][m & messages["is_request"]
                                                              & (messages["message"] == "CreateSessionRequest")])}


def test_map_operations_match_the_records(run_dir: Path, messages: Columns, tmp_path: Path) -> None:
    out = tmp_path / "map.pcapng"
    write_capture(run_dir, out, protocol="MAP", capture_point="all")
    rows = fields(out, ["gsm_old.opCode", "gsm_old.localValue", "gsm_map.old.Component"],
                  display="gsm_map.old.Component == 1")
    m = (messages["protocol"] == "MAP") & messages["is_request"]
    want = Counter(messages["command_code"][m].tolist())
    got = Counter(int(r[1].split(",")[0]) for r in rows)
    assert got == want


def test_interconnect_captures_hold_only_the_border_hops(run_dir: Path, messages: Columns, tmp_path: Path) -> None:
    for protocol, border in (("diameter", ".dea"), ("MAP", ".stp"), ("SBI", ".sepp")):
        out = tmp_path / f"ic-{CAPTURE_FILES[protocol]}"
        summary = write_capture(run_dir, out, protocol=protocol)
        assert_clean(out, EXPECT[protocol])
        m = messages["protocol"] == protocol
        visited_border = np.char.add(np.array([_OP[v] for v in messages["visited_plmn"][m]]), border)
        o, d = messages["origin"][m], messages["destination"][m]
        at_border = ((o == visited_border) & (d == "ipx")) | ((o == "ipx") & (d == visited_border))
        assert summary.messages == int(at_border.sum()) > 0
    # GTP: every hop between two operators (S8); S5 stays inside the visited network.
    out = tmp_path / "ic-gtp.pcapng"
    summary = write_capture(run_dir, out, protocol="GTPv2")
    m = messages["protocol"] == "GTPv2"
    s8 = messages["interface"][m] == "S8"
    assert summary.messages == int(s8.sum()) > 0
    assert (m & (messages["interface"] == "S5")).any()


_OP = {op["plmn"]: op["id"] for op in SCENARIO["operators"]}
