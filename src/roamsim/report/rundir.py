"""A finished run directory as the report reads it: manifest, kpis.json and the Parquet files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
KPIS = "kpis.json"
PARQUET = ("procedures", "transactions", "messages")
NS = 1_000_000_000


class ReportInputError(ValueError):
    """A directory is not a finished run directory (or a report cannot be written where asked)."""


@dataclass(frozen=True)
class Operator:
    """An operator of the scenario, as the manifest's resolved scenario states it."""

    id: str
    name: str
    plmn: str
    country: str


@dataclass(frozen=True)
class RunInput:
    """What a report needs from a run directory before it reads the Parquet files."""

    path: Path
    manifest: dict[str, Any]
    kpis: dict[str, Any]
    operators: tuple[Operator, ...]
    t0_ns: int
    """Window start, ns since the Unix epoch (as the Parquet times)."""
    window_ns: int

    def parquet(self, stem: str) -> Path:
        return self.path / f"{stem}.parquet"

    def operator_of_element(self, element: str) -> Operator | None:
        """The operator owning an element named ``<operator id>.<kind><n>`` (None for the IPX)."""
        op_id = element.rpartition(".")[0]
        return next((o for o in self.operators if o.id == op_id), None)

    def by_plmn(self, plmn: str) -> Operator | None:
        return next((o for o in self.operators if o.plmn == plmn), None)

    def label(self) -> str:
        m = self.manifest
        return str(m.get("scenario_name") or self.path.name)


def _json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ReportInputError(f"{path}: {what} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ReportInputError(f"{path}: {what} is not a JSON object")
    return data


def load_run(path: str | Path) -> RunInput:
    """Check ``path`` is a finished run directory and read its manifest and KPIs.

    Raises :class:`ReportInputError` naming what is missing (a partial run has no kpis.json).
    """
    run_dir = Path(path)
    if not run_dir.is_dir():
        raise ReportInputError(f"{run_dir}: not a run directory (no such directory)")
    if not (run_dir / MANIFEST).is_file():
        raise ReportInputError(f"{run_dir}: not a run directory (no {MANIFEST})")
    manifest = _json(run_dir / MANIFEST, MANIFEST)
    if not (run_dir / KPIS).is_file():
        status = manifest.get("status", "unknown")
        raise ReportInputError(f"{run_dir}: no {KPIS} (run status {status!r}); only a finished run has a report")
    missing = [f"{s}.parquet" for s in PARQUET if not (run_dir / f"{s}.parquet").is_file()]
    if missing:
        raise ReportInputError(f"{run_dir}: not a run directory (missing {', '.join(missing)})")
    kpis = _json(run_dir / KPIS, KPIS)
    window = manifest.get("window")
    try:
        start = datetime.fromisoformat(str(window["start"]))  # type: ignore[index]
        window_ns = int(window["duration_ns"])  # type: ignore[index]
    except (TypeError, KeyError, ValueError):
        raise ReportInputError(f"{run_dir}/{MANIFEST}: no valid window (start, duration_ns)") from None
    ops = (manifest.get("scenario") or {}).get("operators") or []
    operators = tuple(Operator(str(o["id"]), str(o.get("name") or o["id"]), str(o["plmn"]), str(o["country"]))
                      for o in ops if isinstance(o, dict) and {"id", "plmn", "country"} <= o.keys())
    return RunInput(run_dir, manifest, kpis, operators, int(start.timestamp()) * NS + start.microsecond * 1000,
                    max(window_ns, 1))
