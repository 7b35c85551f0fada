"""`roamsim query` and :func:`roamsim.query.run_query`: DuckDB SQL over a run's Parquet files, read-only.

The oracle is pyarrow on the same files: counts by type, a join of messages to procedures.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from roamsim.cli.main import cli
from roamsim.query import QueryError, run_query, view_files

EXAMPLE = Path(__file__).resolve().parent.parent / "src" / "roamsim" / "examples" / "quickstart.yaml"

BY_TYPE = "SELECT type, count(*) AS n FROM procedures GROUP BY type ORDER BY type"
JOIN = """SELECT p.type, m.message, count(*) AS n, sum(m.hop) AS hops
          FROM messages m JOIN procedures p USING (procedure_id)
          GROUP BY p.type, m.message ORDER BY p.type, m.message"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("query") / "run"
    res = CliRunner().invoke(cli, ["run", str(EXAMPLE), "-o", str(out), "--scale", "0.05"])
    assert res.exit_code == 0, res.output
    return out


def _strings(table: pa.Table) -> pa.Table:
    return pa.Table.from_arrays([c.cast(pa.string()) if pa.types.is_dictionary(c.type) else c for c in table.columns],
                                names=table.column_names)


def _expected_by_type(run_dir: Path) -> list[dict[str, Any]]:
    procs = _strings(pq.read_table(run_dir / "procedures.parquet", columns=["type"]))
    counts = procs.group_by("type").aggregate([("type", "count")]).sort_by("type")
    return [{"type": r["type"], "n": r["type_count"]} for r in counts.to_pylist()]


def _expected_join(run_dir: Path) -> list[dict[str, Any]]:
    msgs = _strings(pq.read_table(run_dir / "messages.parquet", columns=["procedure_id", "message", "hop"]))
    procs = _strings(pq.read_table(run_dir / "procedures.parquet", columns=["procedure_id", "type"]))
    joined = msgs.join(procs, keys="procedure_id", join_type="inner")
    agg = joined.group_by(["type", "message"]).aggregate([("hop", "count"), ("hop", "sum")])
    agg = agg.sort_by([("type", "ascending"), ("message", "ascending")])
    return [{"type": r["type"], "message": r["message"], "n": r["hop_count"], "hops": r["hop_sum"]}
            for r in agg.to_pylist()]


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, ["query", *args])


def _snapshot(path: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(path.rglob("*"))}


# ------------------------------------------------------------------ library


def test_views_are_the_run_parquet_files(run_dir: Path) -> None:
    views = view_files(run_dir)
    assert {"transactions", "messages", "procedures"} <= set(views)
    assert set(views) == {p.stem for p in run_dir.glob("*.parquet")}


def test_counts_by_type_equal_pyarrow(run_dir: Path) -> None:
    table = run_query(run_dir, BY_TYPE)
    assert table.column_names == ["type", "n"]
    assert table.to_pylist() == _expected_by_type(run_dir)
    assert sum(r["n"] for r in table.to_pylist()) == pq.read_metadata(run_dir / "procedures.parquet").num_rows


def test_join_of_messages_to_procedures_equals_pyarrow(run_dir: Path) -> None:
    got = [{**r, "hops": int(r["hops"])} for r in run_query(run_dir, JOIN).to_pylist()]
    expected = _expected_join(run_dir)
    assert got == expected
    assert len(expected) > 4


def test_another_parquet_file_becomes_a_view(run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    pq.write_table(pa.table({"roamer": [1, 2, 3], "bytes": [10, 20, 30]}), copy / "extra_usage.parquet")
    assert run_query(copy, "SELECT sum(bytes) AS b, count(*) AS n FROM extra_usage").to_pylist() == [{"b": 60, "n": 3}]


def test_statement_without_result_gives_no_rows(run_dir: Path) -> None:
    assert run_query(run_dir, "SET VARIABLE x = 1").num_rows == 0
    assert run_query(run_dir, "SET VARIABLE x = 7; SELECT getvariable('x') AS x").to_pylist() == [{"x": 7}]
    run_query(run_dir, "CREATE TABLE t AS SELECT 1 AS x")
    with pytest.raises(QueryError, match="Catalog Error"):
        run_query(run_dir, "SELECT * FROM t")  # each query has its own in-memory database


# ---------------------------------------------------------------------- CLI


def test_csv_parses_back_to_the_query_result(run_dir: Path) -> None:
    res = _invoke(str(run_dir), BY_TYPE, "--format", "csv")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [{"type": r["type"], "n": int(r["n"])} for r in rows] == _expected_by_type(run_dir)


def test_csv_writes_nulls_as_empty_fields(run_dir: Path) -> None:
    sql = "SELECT procedure_id, emm_cause FROM procedures ORDER BY procedure_id"
    res = _invoke(str(run_dir), sql, "-f", "csv")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    table = pq.read_table(run_dir / "procedures.parquet", columns=["procedure_id", "emm_cause"]).sort_by("procedure_id")
    expected = ["" if v is None else str(v) for v in table["emm_cause"].to_pylist()]
    assert [r["emm_cause"] for r in rows] == expected
    assert "" in expected and any(expected)


def test_json_lines_parse_back_to_the_query_result(run_dir: Path) -> None:
    res = _invoke(str(run_dir), JOIN, "--format", "json")
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert rows == _expected_join(run_dir)  # sum() is a HUGEINT in DuckDB: written as a JSON integer


def test_json_lines_keep_every_column_type(run_dir: Path) -> None:
    sql = "SELECT * FROM procedures ORDER BY procedure_id LIMIT 50"
    res = _invoke(str(run_dir), sql, "-f", "json")
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    table = _strings(pq.read_table(run_dir / "procedures.parquet")).sort_by("procedure_id").slice(0, 50)
    assert rows == table.to_pylist()


def _parse_plain_table(text: str) -> list[dict[str, str]]:
    """Columns from the dashed rule under the header (values may contain spaces)."""
    lines = text.splitlines()
    spans, pos = [], 0
    for dashes in lines[1].split("  "):
        spans.append((pos, pos + len(dashes)))
        pos += len(dashes) + 2
    names = [lines[0][a:b].strip() for a, b in spans]
    return [{n: line[a:b].strip() for n, (a, b) in zip(names, spans, strict=True)} for line in lines[2:]]


def test_plain_table_parses_back_when_not_a_terminal(run_dir: Path) -> None:
    res = _invoke(str(run_dir), JOIN)
    assert res.exit_code == 0, res.output
    rows = _parse_plain_table(res.stdout)
    assert [{"type": r["type"], "message": r["message"], "n": int(r["n"]), "hops": int(r["hops"])} for r in rows] == \
        _expected_join(run_dir)
    # numbers are right-aligned: every "n" cell ends at the column's right edge
    width = len(res.stdout.splitlines()[1].split("  ")[2])
    assert all(len(r["n"]) <= width for r in rows)


def test_rich_table_on_a_terminal(run_dir: Path) -> None:
    """stdout on a pseudo-terminal: a Rich table (box drawing) with the same values."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}
    with subprocess.Popen([sys.executable, "-m", "roamsim", "query", str(run_dir), BY_TYPE],
                          stdout=follower, stderr=subprocess.PIPE, env=env) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        os.close(leader)
        assert proc.stderr is not None
        assert proc.stderr.read() == b""
        assert proc.wait(timeout=60) == 0
    screen = b"".join(chunks).decode()
    assert "┃" in screen and "━" in screen  # Rich's heavy-head box
    for row in _expected_by_type(run_dir):
        line = next(ln for ln in screen.splitlines() if f" {row['type']} " in ln)
        assert f" {row['n']} " in line


def test_limit_cuts_rows_and_says_so(run_dir: Path) -> None:
    res = _invoke(str(run_dir), "SELECT procedure_id FROM procedures ORDER BY procedure_id", "-f", "csv", "-n", "5")
    assert res.exit_code == 0, res.output
    assert len(res.stdout.splitlines()) == 1 + 5
    assert "first 5 rows" in res.stderr
    res = _invoke(str(run_dir), BY_TYPE, "-f", "json", "--limit", "1000")
    assert res.exit_code == 0
    assert res.stderr == ""  # nothing left out
    assert len(res.stdout.splitlines()) == len(_expected_by_type(run_dir))


def test_limit_zero_prints_only_the_header(run_dir: Path) -> None:
    res = _invoke(str(run_dir), BY_TYPE, "-f", "csv", "--limit", "0")
    assert res.exit_code == 0
    assert res.stdout == '"type","n"\n'


@pytest.mark.parametrize(("sql", "expected"), [
    ("SELEC * FROM procedures", "Parser Error"),
    ("SELECT * FROM procedure", "the views of this run are: "),
    ("SELECT nope FROM procedures", "Binder Error"),
    ("SELECT CAST(message AS INTEGER) FROM messages", "Conversion Error"),
    ("   ", "the query is empty"),
])
def test_sql_errors_exit_2_without_traceback(run_dir: Path, sql: str, expected: str) -> None:
    res = _invoke(str(run_dir), sql)
    assert res.exit_code == 2
    assert expected in res.stderr
    assert res.stderr.startswith("error: ")
    assert "Traceback" not in res.output
    assert res.stdout == ""


def test_not_a_run_directory_exits_2(tmp_path: Path) -> None:
    res = _invoke(str(tmp_path), "SELECT 1")
    assert res.exit_code == 2
    assert "is not a run directory (no manifest.json)" in res.stderr
    res = _invoke(str(tmp_path / "missing"), "SELECT 1")
    assert res.exit_code == 2
    assert "not a directory" in res.stderr
    (tmp_path / "manifest.json").write_text("{}")
    res = _invoke(str(tmp_path), "SELECT 1")
    assert res.exit_code == 2
    assert "no *.parquet file" in res.stderr


@pytest.mark.parametrize("sql", [
    "COPY procedures TO '{d}/leak.csv'",
    "COPY (SELECT 1) TO '{d}/leak.parquet' (FORMAT parquet)",
    "ATTACH '{d}/leak.duckdb' AS leak",
    "SELECT * FROM read_csv('{d}/manifest.json')",
    "INSTALL httpfs",
    "SET enable_external_access = true",
])
def test_queries_cannot_touch_the_file_system(run_dir: Path, sql: str) -> None:
    before = _snapshot(run_dir)
    res = _invoke(str(run_dir), sql.format(d=run_dir))
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert _snapshot(run_dir) == before


def test_reading_queries_leave_the_run_directory_unchanged(run_dir: Path) -> None:
    before = _snapshot(run_dir)
    for sql in (BY_TYPE, JOIN, "CREATE TABLE t AS SELECT * FROM messages", "SELECT count(*) FROM transactions"):
        assert _invoke(str(run_dir), sql, "-f", "csv").exit_code == 0
    assert _snapshot(run_dir) == before


def test_query_help_lists_formats() -> None:
    res = CliRunner().invoke(cli, ["query", "--help"])
    assert res.exit_code == 0
    assert "table|csv|json" in res.stdout
    assert "ROAMSIM_QUERY_FORMAT" in res.stdout


SPECIAL = ("SELECT 'nan'::DOUBLE AS x, 2.5::DOUBLE AS y, 1.5::DECIMAL(4, 2) AS d, sum(1) AS s, "
           "TIMESTAMP '2027-07-03 12:00:00' AS ts, DATE '2027-07-03' AS dt, [1, 2] AS l, {'a': 1} AS st, "
           "'ab'::BLOB AS b, NULL::INTEGER AS n")


def test_json_and_csv_encode_every_kind_of_value(run_dir: Path) -> None:
    res = _invoke(str(run_dir), SPECIAL, "-f", "json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"x": None, "y": 2.5, "d": 1.5, "s": 1, "ts": "2027-07-03T12:00:00.000000",
                                      "dt": "2027-07-03", "l": [1, 2], "st": {"a": 1}, "b": "6162", "n": None}
    res = _invoke(str(run_dir), SPECIAL, "-f", "csv")
    assert res.exit_code == 0, res.output
    (row,) = list(csv.DictReader(io.StringIO(res.stdout)))
    assert row == {"x": "nan", "y": "2.5", "d": "1.50", "s": "1", "ts": "2027-07-03T12:00:00.000000",
                   "dt": "2027-07-03", "l": "[1,2]", "st": '{"a":1}', "b": "6162", "n": ""}
