"""Helpers shared by the engine tests: build small scenarios, run them, read the Parquet files as NumPy columns.

Nothing here knows what a run should produce; the tests derive their expectations from
the scenario and from the rules of the domain notes (``shared/domain/roaming-facts.md``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from roamsim import simulate
from roamsim.api import RunSummary
from roamsim.scenario import Scenario, scenario_from_data

NS = 1_000_000_000
MS = 1_000_000
FILES = ("transactions", "messages", "procedures", "sessions")

Columns = dict[str, np.ndarray]


def scenario(data: dict[str, Any]) -> Scenario:
    """Validate a scenario given as plain data (a deep copy, so the caller may reuse ``data``)."""
    return scenario_from_data(copy.deepcopy(data))


def run(data: dict[str, Any], out: Path, *, seed: int | None = None, scale: float = 1.0) -> RunSummary:
    """Simulate ``data`` into ``out`` and check the run completed."""
    summary = simulate(scenario(data), out, seed=seed, scale=scale)
    assert summary.status == "complete"
    return summary


def _column(col: pa.ChunkedArray) -> np.ndarray:
    if pa.types.is_dictionary(col.type):
        # Decode to strings whatever dictionary the writer used.
        return np.asarray(col.cast(pa.string()).to_numpy(zero_copy_only=False), dtype=str)
    if col.null_count:
        return np.asarray(pc.fill_null(col, -1).to_numpy(zero_copy_only=False))
    return np.asarray(col.to_numpy(zero_copy_only=False))


def read(run_dir: Path, name: str) -> Columns:
    """One Parquet file of a run as NumPy columns: enumerations as strings, nulls as -1.

    ``<column>_null`` holds the null mask of every nullable column that has nulls.
    """
    table = pq.read_table(run_dir / f"{name}.parquet")
    out: Columns = {}
    for field in table.schema:
        col = table[field.name]
        out[field.name] = _column(col)
        if col.null_count and not pa.types.is_dictionary(col.type):
            out[f"{field.name}_null"] = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    return out


def answers_at_origin(tx: Columns, msg: Columns, txn_index: Callable[[np.ndarray], np.ndarray]
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per transaction the number of answer rows that reach its origin, and whether it was answered at all;
    with the answer rows' transaction rows and the mask of those that end at the origin."""
    ans = ~msg["is_request"]
    idx = txn_index(msg["txn_id"][ans])
    final = msg["destination"][ans] == tx["origin"][idx]
    per_txn = np.bincount(idx[final], minlength=tx["txn_id"].size)
    answered = ~tx["answer_time_null"] if "answer_time_null" in tx else np.ones(tx["txn_id"].size, dtype=bool)
    return per_txn, answered, idx, final


def kpis(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "kpis.json").read_text(encoding="utf-8"))
    return data


QUIET_ACTIVITY: dict[str, Any] = {
    "power_cycles_per_day": 0, "mme_changes_per_day": 0, "network_changes_per_day": 0, "idr_per_day": 0,
    "purge_probability": 0,
}
"""A roamer that only arrives and attaches once."""
