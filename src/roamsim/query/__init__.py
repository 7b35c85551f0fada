"""SQL over a run directory: DuckDB queries on the run's Parquet files, read-only.

:func:`run_query` returns a ``pyarrow.Table``; :class:`RunQuery` streams the
result for large answers; :mod:`roamsim.query.render` prints results as a
table, CSV or JSON lines.
"""

from roamsim.query.engine import QueryError, RunQuery, run_query, view_files

__all__ = ["QueryError", "RunQuery", "run_query", "view_files"]
