"""Print a query's answer: a table (Rich on a terminal, plain aligned text otherwise), CSV or JSON lines.

* ``csv``: RFC 4180 by Arrow's CSV writer: a header row, strings (and the header)
  quoted, nulls empty, times ISO 8601, nested values as compact JSON.
* ``json``: one JSON object per row (JSON Lines); timestamps and dates as ISO 8601,
  integral decimals (DuckDB's ``sum`` of integers) as integers, other decimals and
  non-finite floats as JSON numbers or null, bytes as hex.
* ``table``: columns separated by two spaces under a header and a dashed rule;
  numbers right-aligned, nulls shown as ``NULL``. On a terminal a Rich table.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import math
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any, Literal, TextIO

import pyarrow as pa
import pyarrow.compute as pc

Format = Literal["table", "csv", "json"]
NULL_TEXT = "NULL"


def limit_rows(batches: Iterable[pa.RecordBatch], limit: int | None) -> tuple[Iterator[pa.RecordBatch], list[bool]]:
    """Cut a batch stream after ``limit`` rows; the returned flag list holds True once rows were left out."""
    cut: list[bool] = []

    def gen() -> Iterator[pa.RecordBatch]:
        left = limit
        for batch in batches:
            if left is None:
                yield batch
                continue
            if batch.num_rows > left:
                if left:
                    yield batch.slice(0, left)
                cut.append(True)
                return
            left -= batch.num_rows
            yield batch

    return gen(), cut


def json_value(value: Any) -> Any:
    """A Python value from Arrow as a JSON-encodable value."""
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.hex()
    return value


def text_value(value: Any, null: str) -> str:
    """A value as table or CSV text."""
    if value is None:
        return null
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list | tuple):
        return json.dumps(json_value(value), separators=(",", ":"))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _rows(batches: Iterable[pa.RecordBatch]) -> Iterator[list[Any]]:
    for batch in batches:
        columns = [col.to_pylist() for col in batch.columns]
        yield from (list(row) for row in zip(*columns, strict=True))


def _is_temporal(t: pa.DataType) -> bool:
    return bool(pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_time(t))


def _iso(col: pa.Array) -> pa.Array:
    """Timestamps, dates and times as ISO 8601 text (vectorised; nulls stay null)."""
    text = pc.cast(col, pa.string())
    return pc.utf8_replace_slice(text, 10, 11, "T") if pa.types.is_timestamp(col.type) else text


def _native_text(t: pa.DataType) -> bool:
    """Types Arrow writes as CSV and casts to text as they should read."""
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
                or pa.types.is_boolean(t) or pa.types.is_string(t) or pa.types.is_large_string(t))


def text_column(col: pa.Array, null: str) -> list[str]:
    """A column as table text: vectorised by Arrow for scalars, value by value for nested data."""
    if _is_temporal(col.type):
        texts: list[str] = pc.fill_null(_iso(col), null).to_pylist()
        return texts
    if _native_text(col.type):
        texts = pc.fill_null(pc.cast(col, pa.string()), null).to_pylist()
        return texts
    return [text_value(v, null) for v in col.to_pylist()]


def _text_rows(batches: Iterable[pa.RecordBatch], null: str) -> Iterator[tuple[str, ...]]:
    for batch in batches:
        yield from zip(*(text_column(col, null) for col in batch.columns), strict=True)


def _csv_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Columns Arrow's CSV writer cannot take (nested, binary, durations) as text; times as ISO 8601."""
    cols = []
    for col in batch.columns:
        if _is_temporal(col.type):
            cols.append(_iso(col))
        elif _native_text(col.type):
            cols.append(col)
        else:
            cols.append(pa.array([None if v is None else text_value(v, "") for v in col.to_pylist()], pa.string()))
    return pa.RecordBatch.from_arrays(cols, names=batch.schema.names)


class _TextSink:
    """A binary file-like object that Arrow writes into, passing the text on to ``out``."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.closed = False
        self._decoder = codecs.getincrementaldecoder("utf-8")()  # a character may straddle two writes

    def write(self, data: bytes) -> int:
        self.out.write(self._decoder.decode(bytes(data)))
        return len(data)

    def flush(self) -> None:
        self.out.flush()

    def close(self) -> None:
        self.closed = True


def write_csv(schema: pa.Schema, batches: Iterable[pa.RecordBatch], out: TextIO) -> int:
    """Write CSV (Arrow's writer: a header row, strings quoted, nulls empty); returns the number of rows."""
    import pyarrow.csv as pacsv

    writer: pacsv.CSVWriter | None = None
    sink = _TextSink(out)
    n = 0
    for batch in batches:
        converted = _csv_batch(batch)
        if writer is None:
            writer = pacsv.CSVWriter(sink, converted.schema)
        writer.write_batch(converted)
        n += batch.num_rows
    if writer is None:  # no batch at all: the header alone
        out.write(",".join('"' + name.replace('"', '""') + '"' for name in schema.names) + "\n")
    else:
        writer.close()
    return n


def json_column(col: pa.Array) -> list[Any]:
    """A column as JSON-encodable values, vectorised by Arrow where it can be."""
    t = col.type
    if pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
        plain: list[Any] = col.to_pylist()
        return plain
    if pa.types.is_floating(t):  # NaN and infinities have no JSON form: null
        finite: list[Any] = pc.if_else(pc.is_finite(col), col, pa.scalar(None, t)).to_pylist()
        return finite
    if _is_temporal(t):
        iso: list[Any] = _iso(col).to_pylist()
        return iso
    return [json_value(v) for v in col.to_pylist()]


def write_json_lines(schema: pa.Schema, batches: Iterable[pa.RecordBatch], out: TextIO) -> int:
    """Write one JSON object per row; returns the number of rows."""
    names = schema.names
    dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
    n = 0
    for batch in batches:
        columns = [json_column(col) for col in batch.columns]
        out.write("".join(dumps(dict(zip(names, row, strict=True))) + "\n" for row in zip(*columns, strict=True)))
        n += batch.num_rows
    return n


def _is_numeric(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


def write_plain_table(schema: pa.Schema, batches: Iterable[pa.RecordBatch], out: TextIO) -> int:
    """Write an aligned text table (header, dashed rule, rows); returns the number of rows.

    The whole answer is held to size the columns: use ``--limit`` or CSV for large answers.
    """
    cells = [list(row) for row in _text_rows(batches, NULL_TEXT)]
    names = schema.names
    widths = [max([len(name), *(len(r[i]) for r in cells)]) for i, name in enumerate(names)]
    right = [_is_numeric(f.type) for f in schema]

    def line(values: list[str]) -> str:
        parts = [v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)]
        return "  ".join(parts).rstrip()

    if names:
        out.write(line(list(names)) + "\n")
        out.write("  ".join("-" * w for w in widths) + "\n")
        for r in cells:
            out.write(line(r) + "\n")
    return len(cells)


def print_rich_table(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> int:
    """Print a Rich table on the terminal (stdout); returns the number of rows."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=False, header_style="bold")
    for f in schema:
        table.add_column(f.name, justify="right" if _is_numeric(f.type) else "left", overflow="fold")
    n = 0
    for row in _rows(batches):
        table.add_row(*(Text(NULL_TEXT, style="dim") if v is None else Text(text_value(v, NULL_TEXT)) for v in row))
        n += 1
    if schema.names:
        Console().print(table)
    return n
