"""One read of a run's Parquet files for kpis.json and report.html, and the exact arithmetic it relies on.

:class:`roamsim.report.columns.RunColumns` is shared by ``compute_kpis`` and
``write_report`` in every run; these tests check that sharing changes no byte,
that the report really takes what the KPIs read (the files are not read twice),
that row groups with different dictionaries decode to the right names, and that
the faster percentile and busiest-second code give NumPy's exact results.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from roamsim import load_scenario, simulate
from roamsim.report import REPORT_FILE, write_report
from roamsim.report.columns import RunColumns, Vocabulary, index_in
from roamsim.scenario import Scenario, scenario_from_data
from roamsim.sinks.kpis import _busiest_seconds, compute_kpis, percentiles_of_sorted
from roamsim.world.model import World, compile_world

EXAMPLES = Path(__file__).resolve().parent.parent / "src" / "roamsim" / "examples"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("columns") / "quickstart"
    assert simulate(load_scenario(EXAMPLES / "quickstart.yaml"), out, scale=0.5).status == "complete"
    return out


def _world(run_dir: Path) -> tuple[Scenario, World]:
    s = scenario_from_data(json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))["scenario"])
    return s, compile_world(s)


def _json(k: dict[str, Any]) -> str:
    return json.dumps(k, indent=2, sort_keys=True) + "\n"


def test_shared_columns_change_no_byte(run_dir: Path, tmp_path: Path) -> None:
    """The run wrote kpis.json and report.html from one shared read; each alone writes the same bytes."""
    s, world = _world(run_dir)
    assert _json(compute_kpis(run_dir, s, world)) == (run_dir / "kpis.json").read_text(encoding="utf-8")
    alone = write_report(run_dir, tmp_path / "alone.html")
    assert alone.read_bytes() == (run_dir / REPORT_FILE).read_bytes()


def test_the_report_takes_what_the_kpis_read(run_dir: Path, tmp_path: Path) -> None:
    """After compute_kpis, write_report with the same columns needs neither procedures.parquet nor
    transactions.parquet: overwritten with garbage, the report is still the run's own."""
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    s, world = _world(copy)
    columns = RunColumns(copy)
    compute_kpis(copy, s, world, columns)
    for stem in ("procedures", "transactions"):
        (copy / f"{stem}.parquet").write_bytes(b"not a parquet file")
    shared = write_report(copy, tmp_path / "shared.html", columns=columns)
    assert shared.read_bytes() == (run_dir / REPORT_FILE).read_bytes()
    with pytest.raises(pa.ArrowInvalid):
        write_report(copy, tmp_path / "fresh.html")  # a fresh read does see the garbage


def test_columns_of_another_directory_are_refused(run_dir: Path, tmp_path: Path) -> None:
    s, world = _world(run_dir)
    with pytest.raises(ValueError, match="columns read"):
        compute_kpis(run_dir, s, world, RunColumns(tmp_path))
    with pytest.raises(ValueError, match="columns read"):
        write_report(run_dir, tmp_path / "r.html", columns=RunColumns(tmp_path))


def _dictionary(idx: list[int | None], names: list[str]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(idx, pa.int16()), pa.array(names))


def test_row_groups_with_different_dictionaries_decode_to_their_names(tmp_path: Path) -> None:
    """Two row groups whose dictionaries list the elements in different orders (and a null origin)."""
    groups = [
        pa.table({"time": pa.array([5, 6, 7, 8], pa.int64()), "is_request": [True, False, True, True],
                  "origin": _dictionary([0, 1, 2, 1], ["a.mme", "a.dea", "ipx"]),
                  "destination": _dictionary([1, 0, 1, 2], ["a.mme", "a.dea", "ipx"]),
                  "interface": _dictionary([0, 0, 1, 0], ["S6a", "D"])}),
        pa.table({"time": pa.array([9, 10, 11], pa.int64()), "is_request": [True, True, False],
                  "origin": _dictionary([2, None, 0], ["ipx", "b.hss", "a.dea"]),
                  "destination": _dictionary([1, 2, 1], ["ipx", "b.hss", "a.dea"]),
                  "interface": _dictionary([1, 0, 1], ["D", "S6a"])}),
    ]
    with pq.ParquetWriter(tmp_path / "messages.parquet", groups[0].schema) as writer:
        for g in groups:
            writer.write_table(g)
    pf = pq.ParquetFile(tmp_path / "messages.parquet")
    dictionaries = [pf.read_row_group(i)["origin"].chunks[0].dictionary.to_pylist() for i in range(2)]
    assert dictionaries[0] != dictionaries[1]

    req = RunColumns(tmp_path).requests()
    plain = pa.concat_tables(groups)
    keep = np.asarray(plain["is_request"].to_numpy(zero_copy_only=False), dtype=bool)

    def names(column: str) -> list[str | None]:
        values = plain[column].cast(pa.string()).to_pylist()
        return [v for v, k in zip(values, keep, strict=True) if k]

    assert req.rows == 7
    assert req.time.tolist() == [5, 7, 8, 9, 10]
    assert [req.elements[d] for d in req.destination.tolist()] == names("destination")
    assert [req.interfaces[i] for i in req.interface.tolist()] == names("interface")
    ends = [frozenset(req.elements[e] for e in req.links[link]) for link in req.link.tolist()]
    assert ends == [frozenset(("(none)" if o is None else o, d))
                    for o, d in zip(names("origin"), names("destination"), strict=True)]
    assert all(a < b for a, b in req.links)  # (lower, upper) element codes

    vocabulary = Vocabulary()
    origin = vocabulary.encode(plain["origin"])
    assert [vocabulary.names[c] for c in origin.tolist()] == [
        "(none)" if v is None else v for v in plain["origin"].cast(pa.string()).to_pylist()]
    assert index_in(plain["origin"], ["ipx", "a.dea"]).tolist() == [-1, 1, 0, 1, 1, -1, 0]


@pytest.mark.parametrize("magnitude", [1, 3, 9, 11])
def test_percentiles_of_sorted_equal_numpy_bit_for_bit(magnitude: int) -> None:
    rng = np.random.default_rng(magnitude)
    for n in [*range(1, 120), 1000, 4099, 65_537]:
        x = np.sort(rng.integers(0, 10**magnitude, n))
        assert percentiles_of_sorted(x) == np.percentile(x, (50, 95, 99)).tolist(), n


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_busiest_seconds_equal_a_dense_count(dtype: type) -> None:
    rng = np.random.default_rng(7)
    n_ids, nsec = 9, 50
    ids = rng.choice([0, 2, 3, 7, 8], 5000)  # ids 1, 4, 5 and 6 never occur
    keys: np.ndarray = (ids * nsec + rng.integers(0, nsec, ids.size)).astype(dtype)
    present, total, peak = _busiest_seconds(keys, n_ids, nsec)
    dense = np.bincount(keys, minlength=n_ids * nsec).reshape(n_ids, nsec)
    assert present.tolist() == [0, 2, 3, 7, 8]
    assert total.tolist() == dense.sum(axis=1)[present].tolist()
    assert peak.tolist() == dense.max(axis=1)[present].tolist()
    assert [a.size for a in _busiest_seconds(np.zeros(0, dtype=dtype), n_ids, nsec)] == [0, 0, 0]
