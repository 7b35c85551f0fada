"""Self-contained HTML reports of run directories: ``report.html`` and side-by-side comparisons.

:func:`write_report` reads a finished run directory (manifest.json, kpis.json and
the Parquet files, each read once) and writes one HTML file
with inline CSS and SVG that opens with no network access. :func:`write_comparison`
does the same for two runs, with the deltas of their KPIs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from roamsim.report.rundir import ReportInputError, load_run

if TYPE_CHECKING:
    from roamsim.report.columns import RunColumns

REPORT_FILE = "report.html"

__all__ = ["REPORT_FILE", "ReportInputError", "write_comparison", "write_report"]


def _write(out: Path, text: str) -> Path:
    """Write atomically (temporary file, then rename)."""
    if out.is_dir():
        raise ReportInputError(f"{out}: is a directory; give a file name for the report")
    if not out.parent.is_dir():
        raise ReportInputError(f"{out.parent}: no such directory for the report")
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    return out


def write_report(run_dir: str | Path, out: str | Path | None = None, columns: RunColumns | None = None) -> Path:
    """Write the report of ``run_dir`` to ``out`` (default ``run_dir/report.html``); return its path.

    ``columns`` shares one read of the Parquet files with :func:`roamsim.sinks.kpis.compute_kpis`.
    Raises :class:`ReportInputError` when ``run_dir`` is not a finished run directory.
    """
    from roamsim.report.page import render
    from roamsim.report.scan import scan

    run = load_run(run_dir)
    if columns is not None and columns.path.resolve() != run.path.resolve():
        raise ValueError(f"columns read {columns.path}, not {run.path}")
    data = scan(run, columns=columns, sample=True)
    return _write(Path(out) if out is not None else run.path / REPORT_FILE, render(data, data.sample))


def write_comparison(run_a: str | Path, run_b: str | Path, out: str | Path) -> Path:
    """Write a side-by-side report of two runs (B against A) to ``out``; return its path."""
    from roamsim.report.compare import render_comparison

    a, b = load_run(run_a), load_run(run_b)
    return _write(Path(out), render_comparison(a, b))
