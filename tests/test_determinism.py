"""Same scenario, seed and version → the same bytes; a cohort's roamers depend on its own stream only."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roamsim.engine.draws import engine_generators, jitter_block, service_block, uniform_block
from roamsim.scenario.distributions import parse_distribution
from roamsim.scenario.units import DURATION_HELP, parse_duration
from runkit import FILES, read, run

ACTIVE: dict[str, Any] = {
    "power_cycles_per_day": 2, "mme_changes_per_day": 2, "network_changes_per_day": 0.5, "idr_per_day": 1,
    "purge_probability": 0.5, "purge_after": "10m", "off_duration": {"uniform": {"low": "1m", "high": "1h"}},
}
BASE: dict[str, Any] = {
    "name": "determinism",
    "seed": 7,
    "window": {"start": "2027-07-03T00:00:00Z", "duration": "12h"},
    "operators": [
        {"id": "uk-alpha", "plmn": "234-15", "country": "GB", "hss": {"transient_errors": "1%"}},
        {"id": "de-beta", "plmn": "262-02", "country": "DE"},
        {"id": "fr-gamma", "plmn": "208-10", "country": "FR"},
        {"id": "es-one", "plmn": "214-01", "country": "ES"},
        {"id": "es-two", "plmn": "214-03", "country": "ES"},
        {"id": "pt-one", "plmn": "268-01", "country": "PT"},
    ],
    "agreements": [
        {"home": "uk-alpha", "visited": ["es-one", "es-two", "pt-one"]},
        {"home": "de-beta", "visited": ["es-one", "es-two", "pt-one"]},
        {"home": "fr-gamma", "visited": ["es-one", "pt-one"]},
    ],
    "steering": [{"home": "uk-alpha", "country": "ES", "preferred": ["es-one"]}],
    "cohorts": [
        {"name": "uk", "home": "uk-alpha", "roamers": 600, "destinations": {"ES": 0.7},
         "itineraries": [{"countries": ["ES", "PT"], "weight": 0.3}], "arrivals": {"profile": "diurnal"},
         "stay": {"uniform": {"low": "2h", "high": "2d"}}, "activity": ACTIVE},
        {"name": "de", "home": "de-beta", "roamers": 300, "destinations": {"ES": 0.5, "PT": 0.5},
         "stay": {"uniform": {"low": "2h", "high": "2d"}}, "activity": ACTIVE},
    ],
}
OUTPUTS = [f"{n}.parquet" for n in FILES] + ["kpis.json"]


def _bytes(run_dir: Path) -> dict[str, bytes]:
    return {name: (run_dir / name).read_bytes() for name in OUTPUTS}


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("det") / "first"
    run(BASE, out)
    return out


def test_same_scenario_and_seed_give_identical_files(first: Path, tmp_path: Path) -> None:
    run(BASE, tmp_path / "again")
    a, b = _bytes(first), _bytes(tmp_path / "again")
    for name in OUTPUTS:
        assert a[name] == b[name], name
    assert read(first, "transactions")["txn_id"].size > 5000


def test_the_scenario_seed_and_an_explicit_equal_seed_agree(first: Path, tmp_path: Path) -> None:
    run(BASE, tmp_path / "explicit", seed=BASE["seed"])
    assert _bytes(first) == _bytes(tmp_path / "explicit")
    manifest = json.loads((tmp_path / "explicit" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == BASE["seed"]


def test_another_seed_changes_every_file(first: Path, tmp_path: Path) -> None:
    run(BASE, tmp_path / "other", seed=BASE["seed"] + 1)
    a, b = _bytes(first), _bytes(tmp_path / "other")
    for name in OUTPUTS:
        assert a[name] != b[name], name
    # Not only the bytes: the roamers arrive at other times.
    assert not np.array_equal(np.sort(_first_start(first)[1]), np.sort(_first_start(tmp_path / "other")[1]))


def _first_start(run_dir: Path, home_plmn: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(IMSI, start of its first procedure), sorted by IMSI, optionally for one home PLMN."""
    p = read(run_dir, "procedures")
    sel = np.ones(p["imsi"].size, dtype=bool) if home_plmn is None else p["home_plmn"] == home_plmn
    imsi, start = p["imsi"][sel], p["start_time"][sel]
    order = np.lexsort((start, imsi))
    imsi, start = imsi[order], start[order]
    head = np.r_[True, imsi[1:] != imsi[:-1]]
    return imsi[head], start[head]


def _add_cohort(cohort: dict[str, Any], *, front: bool) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    if front:
        data["cohorts"].insert(0, cohort)
    else:
        data["cohorts"].append(cohort)
    return data


def _assert_cohort_untouched(before: Path, after: Path, home_plmn: str) -> None:
    imsi_a, start_a = _first_start(before, home_plmn)
    imsi_b, start_b = _first_start(after, home_plmn)
    assert imsi_a.size > 200
    np.testing.assert_array_equal(imsi_a, imsi_b)
    np.testing.assert_array_equal(start_a, start_b)


def test_adding_a_cohort_leaves_the_other_cohorts_arrivals_unchanged(first: Path, tmp_path: Path) -> None:
    extra = {"name": "fr", "home": "fr-gamma", "roamers": 400, "destinations": {"ES": 1},
             "arrivals": {"profile": "airport-banks"}, "activity": ACTIVE}
    run(_add_cohort(extra, front=True), tmp_path / "more")
    for home in ("234-15", "262-02"):
        _assert_cohort_untouched(first, tmp_path / "more", home)
    assert _first_start(tmp_path / "more", "208-10")[0].size > 300


def test_adding_a_cohort_of_the_same_home_at_the_end_leaves_the_first_unchanged(first: Path, tmp_path: Path) -> None:
    extra = {"name": "uk-business", "home": "uk-alpha", "roamers": 200, "destinations": {"PT": 1}}
    run(_add_cohort(extra, front=False), tmp_path / "more")
    _assert_cohort_untouched(first, tmp_path / "more", "262-02")
    imsi_a, start_a = _first_start(first, "234-15")
    imsi_b, start_b = _first_start(tmp_path / "more", "234-15")
    common = np.isin(imsi_b, imsi_a)
    assert common.sum() == imsi_a.size
    np.testing.assert_array_equal(start_b[common], start_a)


def test_inserting_a_cohort_of_the_same_home_in_front_keeps_the_imsis(first: Path, tmp_path: Path) -> None:
    extra = {"name": "uk-business", "home": "uk-alpha", "roamers": 200, "destinations": {"PT": 1}}
    run(_add_cohort(extra, front=True), tmp_path / "more")
    imsi_a, start_a = _first_start(first, "234-15")
    imsi_b, start_b = _first_start(tmp_path / "more", "234-15")
    common = np.isin(imsi_b, imsi_a)
    assert common.sum() == imsi_a.size
    np.testing.assert_array_equal(start_b[common], start_a)


@pytest.mark.parametrize("scale", [0.5, 2.5])
def test_scale_multiplies_the_roamers_of_every_cohort(scale: float, tmp_path: Path) -> None:
    data = copy.deepcopy(BASE)
    data["window"]["duration"] = "2h"
    for c in data["cohorts"]:
        c["activity"] = {"power_cycles_per_day": 0, "mme_changes_per_day": 0}
    summary = run(data, tmp_path / "scaled", scale=scale)
    expected = {c["home"]: round(c["roamers"] * scale) for c in data["cohorts"]}
    assert summary.counts["roamers"] == sum(expected.values())
    manifest = json.loads((tmp_path / "scaled" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["scale"] == scale
    assert manifest["counts"]["roamers"] == sum(expected.values())
    p = read(tmp_path / "scaled", "procedures")
    arrivals = (p["type"] == "attach") & (p["trigger"] == "arrival")
    plmn = {"uk-alpha": "234-15", "de-beta": "262-02"}
    for home, n in expected.items():
        # Everyone arrives within the window, so every roamer attaches once on arrival.
        assert np.unique(p["imsi"][arrivals & (p["home_plmn"] == plmn[home])]).size == n


def test_output_does_not_depend_on_how_exogenous_events_are_chunked(
    first: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine reads roamer events in chunks; a chunk boundary must not reorder time.

    A run whose chunks hold 97 events must give the same bytes as the default
    (a regression test: a boundary once let the heap run ahead of the next chunk).
    """
    from roamsim.engine.core import Engine

    monkeypatch.setattr(Engine, "exogenous_chunk", 97)
    run(BASE, tmp_path / "chunked")
    assert _bytes(tmp_path / "chunked") == _bytes(first)


DISTRIBUTIONS = ({"exponential": {"mean": "2ms"}}, {"lognormal": {"median": "5ms", "p99": "150ms"}},
                 {"uniform": {"low": "1ms", "high": "9ms"}})
TOTAL = 20_000


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=6), which=st.integers(0, 4))
def test_a_draw_stream_gives_the_same_values_however_its_blocks_are_cut(cuts: list[int], which: int) -> None:
    """The compiled engine draws blocks ahead of use and the Python engine 8192 at a time (roamsim.engine.draws): a
    stream's values must not depend on where its blocks start, and drawing from one stream must leave the others."""
    makers = [uniform_block, jitter_block(0.3),
              *(service_block(parse_distribution(d, parse_duration, DURATION_HELP)) for d in DISTRIBUTIONS)]
    make = makers[which]
    seq = np.random.SeedSequence(20270703, spawn_key=(1, 2))
    whole = make(engine_generators(seq)[2], TOTAL)
    gens = engine_generators(seq)
    parts = []
    for n in [*cuts, TOTAL - sum(cuts)]:
        gens[0].random(n % 97)  # another stream of the cohort draws meanwhile
        parts.append(make(gens[2], n))
    np.testing.assert_array_equal(np.concatenate(parts), whole)
