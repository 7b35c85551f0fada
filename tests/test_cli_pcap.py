"""The packet-trace commands as a user runs them: `roamsim run --pcap` and `roamsim pcap`."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from roamsim.cli.main import cli
from tsharkkit import assert_clean, fields

EXAMPLE = Path(__file__).resolve().parent.parent / "src" / "roamsim" / "examples" / "quickstart.yaml"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli-pcap") / "run"
    res = CliRunner().invoke(cli, ["run", str(EXAMPLE), "-o", str(out), "--scale", "0.05", "--pcap"])
    assert res.exit_code == 0, res.output
    return out


def test_run_with_pcap_writes_a_clean_capture_listed_in_the_manifest(run_dir: Path) -> None:
    capture = run_dir / "traces" / "s6a.pcapng"
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "complete"
    assert "traces/s6a.pcapng" in manifest["files"]
    assert manifest["counts"]["trace_packets"] > 0
    assert_clean(capture)


def test_pcap_for_one_imsi_holds_exactly_that_roamers_messages(run_dir: Path, tmp_path: Path) -> None:
    msgs = pq.read_table(run_dir / "messages.parquet", columns=["imsi", "protocol"])
    by_imsi: dict[int, set[str]] = {}
    for i, proto in zip(msgs["imsi"].to_pylist(), msgs["protocol"].cast("string").to_pylist(), strict=True):
        by_imsi.setdefault(i, set()).add(proto)
    imsi = next(i for i, kinds in by_imsi.items() if "diameter" in kinds and len(kinds) > 1)  # a 4G roamer with SMS
    out = tmp_path / "one.pcapng"
    res = CliRunner().invoke(cli, ["pcap", str(run_dir), "--imsi", str(imsi), "--capture-point", "all",
                                   "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert_clean(out)
    rows = fields(out, ["diameter.User-Name", "diameter.Session-Id"], display="diameter.cmd.code != 257")
    assert rows, "no S6a message in the capture"
    # The S6a capture holds the roamer's Diameter messages, not its SMS or data-session signalling.
    mine = pq.read_table(run_dir / "messages.parquet", columns=["protocol"], filters=[("imsi", "=", imsi)])
    kinds = set(mine["protocol"].cast("string").to_pylist())
    assert "diameter" in kinds and len(kinds) > 1
    expected = sum(1 for k in mine["protocol"].cast("string").to_pylist() if k == "diameter")
    assert len(rows) == expected
    # Requests carry the IMSI as User-Name; answers are tied to them by Session-Id.
    names = {r[0] for r in rows if r[0]}
    assert names == {str(imsi)}


def test_pcap_rejects_a_directory_that_is_not_a_run(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["pcap", str(tmp_path)])
    assert res.exit_code == 2
    assert "not a run directory" in res.output


def test_pcap_names_an_unknown_operator(run_dir: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["pcap", str(run_dir), "--home", "nope", "-o", str(tmp_path / "x.pcapng")])
    assert res.exit_code == 2
    assert "nope" in res.output and "234-15" in res.output
