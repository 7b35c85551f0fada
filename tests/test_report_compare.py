"""`roamsim compare`: the same scenario without (A) and with (B) steering, side by side.

Every compared row carries the kpis.json path it compares; the values of A and B
and both deltas are checked against the two runs' kpis.json.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from roamsim.cli.main import cli
from roamsim.report import ReportInputError, write_comparison
from runkit import kpis, run
from test_report import PLMN, SCENARIO, Element, Page, kpi_at, without_steering


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("compare")
    run(without_steering(), base / "free")
    run(SCENARIO, base / "steered")
    return base / "free", base / "steered"


@pytest.fixture(scope="module")
def comparison(runs: tuple[Path, Path]) -> tuple[Page, Path]:
    out = runs[0].parent / "compare.html"
    write_comparison(*runs, out)
    return Page(out.read_text(encoding="utf-8")), out


def _value(cell: Element) -> float | None:
    """The exact value in a run's cell (``data-sort``: the number its figure shows)."""
    raw = cell.attrs.get("data-sort", "")
    return None if raw == "" else float(raw)


def _rows(page: Page) -> list[tuple[Element, dict[str, Element]]]:
    out = []
    for tr in page.find("tr"):
        if "data-kpi" not in tr.attrs and "data-metric" not in tr.attrs:
            continue
        cells = {c.attrs.get("data-run") or c.attrs.get("data-delta") or "": c for c in page.find("td")
                 if c.inside(tr)}
        out.append((tr, cells))
    return out


def _lookup(k: dict[str, Any], path: list[str]) -> float | None:
    try:
        v = kpi_at(k, path)
    except AssertionError:
        return None
    return None if v is None else float(v)


def test_deltas_equal_the_two_kpis_files(runs: tuple[Path, Path], comparison: tuple[Page, Path]) -> None:
    ka, kb = kpis(runs[0]), kpis(runs[1])
    rows = [(tr, cells) for tr, cells in _rows(comparison[0]) if "data-kpi" in tr.attrs]
    assert len(rows) > 50
    checked = 0
    for tr, cells in rows:
        path = json.loads(tr.attrs["data-kpi"])
        a, b = _lookup(ka, path), _lookup(kb, path)
        assert _value(cells["a"]) == a and _value(cells["b"]) == b, path
        d_abs, d_rel = cells["abs"].attrs["data-value"], cells["rel"].attrs["data-value"]
        if a is None or b is None:
            assert d_abs == "" and cells["abs"].text == "n/a", path
            continue
        assert float(d_abs) == pytest.approx(b - a, rel=1e-12, abs=1e-12), path
        if a == 0:
            assert d_rel == "", path
        else:
            assert float(d_rel) == pytest.approx((b - a) / abs(a), rel=1e-12, abs=1e-12), path
        checked += 1
    assert checked > 40


def _row(page: Page, path: list[str]) -> dict[str, Element]:
    found = [cells for tr, cells in _rows(page) if tr.attrs.get("data-kpi") == json.dumps(path)]
    assert len(found) == 1, path
    return found[0]


def test_steering_shows_up_as_the_expected_deltas(runs: tuple[Path, Path], comparison: tuple[Page, Path]) -> None:
    page = comparison[0]
    ka, kb = kpis(runs[0]), kpis(runs[1])
    # Steering rejects ULRs: first-attempt success falls, by exactly the difference of the two runs.
    first = _row(page, ["overall", "attach", "first_attempt_success_ratio"])
    delta = float(first["abs"].attrs["data-value"])
    assert delta < -0.1
    assert delta == pytest.approx(kb["overall"]["attach"]["first_attempt_success_ratio"]
                                  - ka["overall"]["attach"]["first_attempt_success_ratio"], abs=1e-12)
    assert first["abs"].text == f"{100 * delta:+.2f} pp"
    assert "down" in first["abs"].attrs["class"]  # worse
    # The policy exists only in B: A shows n/a.
    share = _row(page, ["steering", f"{PLMN['uk-alpha']} in ES", "share_on_preferred"])
    assert share["a"].text == "n/a" and _value(share["b"]) == kb["steering"]["234-15 in ES"]["share_on_preferred"]
    # Per partner: the non-preferred Spanish partner of UK roamers gets the rejects.
    rejects = _row(page, ["per_partner", f"{PLMN['uk-alpha']}->{PLMN['es-two']}", "attach", "steering_rejects"])
    assert _value(rejects["a"]) == 0 and _value(rejects["b"]) == float(rejects["abs"].attrs["data-value"]) > 0
    rel = _row(page, ["overall", "attach", "success_ratio"])
    assert math.isclose(float(rel["rel"].attrs["data-value"]),
                        kb["overall"]["attach"]["success_ratio"] / ka["overall"]["attach"]["success_ratio"] - 1,
                        rel_tol=1e-9)


def test_time_series_are_overlaid(comparison: tuple[Page, Path]) -> None:
    page = comparison[0]
    boxes = page.having("data-chart")
    assert {"registrations", "tps-links"} <= {b.attrs["data-chart"] for b in boxes}
    for box in boxes:
        paths = [e for e in page.find("path") if e.inside(box) and "line" in e.attrs.get("class", "")]
        solid = [p for p in paths if "stroke-dasharray" not in p.attrs]
        dashed = [p for p in paths if "stroke-dasharray" in p.attrs]
        assert solid and dashed, box.attrs["data-chart"]
        assert all(p.attrs["d"].startswith("M") for p in paths)
    # Only B has steering rejects: its series is dashed, and A has none.
    reg = next(b for b in boxes if b.attrs["data-chart"] == "registrations")
    titles = [e.text for e in page.find("title") if e.inside(reg)]
    assert "attach rejected by steering (B)" in titles and "attach rejected by steering (A)" not in titles


def test_compare_command(runs: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "c.html"
    res = CliRunner().invoke(cli, ["compare", str(runs[0]), str(runs[1]), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == f"wrote {out}"
    text = out.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text


@pytest.mark.parametrize("which", [0, 1])
def test_compare_rejects_a_directory_that_is_not_a_run(which: int, runs: tuple[Path, Path], tmp_path: Path) -> None:
    not_run = tmp_path / "empty"
    not_run.mkdir()
    args = [str(runs[0]), str(runs[1])]
    args[which] = str(not_run)
    res = CliRunner().invoke(cli, ["compare", *args, "-o", str(tmp_path / "c.html")])
    assert res.exit_code == 2
    assert res.stderr == f"error: {not_run}: not a run directory (no manifest.json)\n"
    assert not (tmp_path / "c.html").exists()
    with pytest.raises(ReportInputError):
        write_comparison(args[0], args[1], tmp_path / "c.html")
