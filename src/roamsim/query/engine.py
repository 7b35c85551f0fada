"""DuckDB over a run directory's Parquet files, one view per file, read-only.

Each ``NAME.parquet`` at the top of the run directory (``transactions``,
``messages``, ``procedures`` and any file a later version adds) becomes a view
``NAME``. The files are scanned by ``pyarrow.dataset`` (projection and filter
pushdown, nothing loaded up front) and registered with an in-memory DuckDB
whose file-system access is then switched off and locked
(``enable_external_access = false``, ``lock_configuration = true``): a query
can create in-memory tables but cannot read, write, ``COPY``, ``ATTACH`` or
``INSTALL`` anything, so the run directory is never written. Spills go to a
private temporary directory removed on close.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

MANIFEST = "manifest.json"
BATCH_ROWS = 65_536


class QueryError(ValueError):
    """Bad input to a query: not a run directory, or SQL that DuckDB refused or could not run."""


def view_files(run_dir: str | Path) -> dict[str, Path]:
    """The views a query sees in ``run_dir``: file stem → Parquet file, sorted by name."""
    path = Path(run_dir)
    if not path.is_dir():
        raise QueryError(f"{path} is not a run directory (not a directory)")
    if not (path / MANIFEST).is_file():
        raise QueryError(f"{path} is not a run directory (no {MANIFEST})")
    files = {p.stem: p for p in sorted(path.glob("*.parquet")) if p.is_file()}
    if not files:
        raise QueryError(f"{path} is not a run directory (no *.parquet file)")
    return files


class RunQuery:
    """An open, read-only SQL session over one run directory; use it as a context manager."""

    def __init__(self, run_dir: str | Path) -> None:
        self.views = view_files(run_dir)
        self._tmp = tempfile.TemporaryDirectory(prefix="roamsim-query-")
        try:
            self._con = duckdb.connect(":memory:", config={"temp_directory": self._tmp.name})
            for name, file in self.views.items():
                self._con.register(name, ds.dataset(file, format="parquet"))
            self._con.execute("SET enable_progress_bar = false")  # never draw on the user's terminal
            self._con.execute("SET enable_external_access = false")
            self._con.execute("SET lock_configuration = true")
        except BaseException:
            self._tmp.cleanup()
            raise

    def __enter__(self) -> RunQuery:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the DuckDB connection and remove the spill directory."""
        self._con.close()
        self._tmp.cleanup()

    def _error(self, exc: duckdb.Error) -> QueryError:
        text = str(exc).strip()
        if isinstance(exc, duckdb.CatalogException):
            text += f"\n(the views of this run are: {', '.join(self.views)})"
        return QueryError(f"the query failed: {text}")

    def batches(self, sql: str, batch_rows: int = BATCH_ROWS) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        """Run ``sql`` (the result of its last statement) and stream the answer as record batches.

        A statement without a result (``SET``, ``CREATE TABLE``) gives an empty schema.
        Errors, including those raised while the batches are read, are :class:`QueryError`.
        """
        if not sql.strip():
            raise QueryError("the query is empty")
        try:
            rel = self._con.sql(sql)
            if rel is None:
                return pa.schema([]), iter(())
            reader = rel.to_arrow_reader(batch_rows)
        except duckdb.Error as exc:
            raise self._error(exc) from None
        return reader.schema, self._read(reader)

    def _read(self, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except duckdb.Error as exc:
                raise self._error(exc) from None
            yield batch


def run_query(run_dir: str | Path, sql: str) -> pa.Table:
    """Run DuckDB ``sql`` over the Parquet files of ``run_dir`` (views named after the files) and return the answer.

    Example: ``run_query("runs/qs", "SELECT type, count(*) AS n FROM procedures GROUP BY type")``.
    """
    with RunQuery(run_dir) as q:
        schema, batches = q.batches(sql)
        return pa.Table.from_batches(list(batches), schema=schema)
