"""The compiled engine (numba kernel) against the Python engine: the same scenario and seed give the same bytes.

The scenarios stay inside what the kernel covers (4G: S6a, data sessions, SMS) and push it through its rarer
paths: HSS transient errors and a tiny waiting room (lost requests, DIAMETER_TOO_BUSY answers
and their retransmission), lognormal service with a short answer timeout (timeouts, retransmissions, T3411
retries, EMM causes, PLMN exclusions, T3402 back-off), IPX jitter, and a weighted choice between two visited
networks; small pools make the kernel grow its arenas mid-run. The stay cases add power cycles, purges, network
changes, IDR, multi-country itineraries and departures, with procedures aborted in progress; the usage cases add
data sessions (home-routed and local breakout) ended by every stay event, MT SMS to roamers switched off (absent
subscriber, AlertServiceCentre, redelivery), MO SMS and welcome SMS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from roamsim import simulate
from roamsim.api import KPIS, Progress, RunSummary
from roamsim.cli.main import cli
from roamsim.engine.compiled import NotCovered, driver, unsupported
from roamsim.population.build import build_population
from roamsim.records.buffers import RecordBuffers
from roamsim.scenario import load_scenario, scenario_from_data
from roamsim.scenario.schema import Scenario
from roamsim.sinks.eventlog import FILES, ParquetSink
from roamsim.world.model import compile_world

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HOMES = [("GB", "234"), ("DE", "262"), ("FR", "208"), ("NL", "204"), ("IT", "222"), ("SE", "240")]


def s6a_scenario(roamers: int = 1200, **kw: Any) -> Scenario:
    return scenario_from_data(s6a_data(roamers, **kw), "<s6a core>")


def s6a_data(roamers: int = 1200, *, errors: float = 0.0, limit: int = 10_000, jitter: float = 0.0,
             service: dict[str, Any] | None = None, window: str = "6h", timeout: str = "3s",
             servers: int = 1, activity: dict[str, Any] | None = None,
             stay: Any = "30d", itineraries: bool = False, usage: dict[str, Any] | None = None,
             welcome: bool = False, breakout: bool = False) -> dict[str, Any]:
    """Homes in Europe, two visited networks in Spain (weighted choice) and one in the US; MME changes only,
    unless ``activity`` says otherwise. ``itineraries``: two networks in Portugal too (one without a roaming
    agreement for half the homes: #11), and trips through two or three countries. ``usage``: the cohorts' usage
    (none by default); ``welcome``: the Spanish networks send a welcome SMS; ``breakout``: half the homes' agreements
    route data locally (local breakout), the others home-routed."""
    ops: list[dict[str, Any]] = [
        {"id": "v-es", "plmn": "214-01", "country": "ES", "mmes": 4, "welcome_sms": False, "share": 0.6},
        {"id": "v-es2", "plmn": "214-03", "country": "ES", "mmes": 2, "welcome_sms": False, "share": 0.4},
        {"id": "v-us", "plmn": "310-260", "country": "US", "mmes": 3, "welcome_sms": False},
    ]
    if itineraries:
        ops += [{"id": "v-pt", "plmn": "268-01", "country": "PT", "mmes": 2, "welcome_sms": False, "share": 0.5},
                {"id": "v-pt2", "plmn": "268-03", "country": "PT", "mmes": 1, "welcome_sms": False, "share": 0.5}]
    if welcome:
        for o in ops[:2]:
            o["welcome_sms"] = True
    visited = [o["id"] for o in ops]
    cohorts, agreements = [], []
    for i, (country, mcc) in enumerate(HOMES):
        oid = f"h-{country.lower()}"
        ops.append({"id": oid, "plmn": f"{mcc}-01", "country": country,
                    "hss": {"servers": servers + i % 2, "service": service or {"exponential": {"mean": "3ms"}},
                            "queue_limit": limit, "transient_errors": errors}})
        agreements.append({"home": oid, "visited": [o for o in visited if o != "v-pt2" or i % 2],
                           "rats": ["4G"]})
        if breakout and i % 2:
            agreements[-1]["data"] = "local-breakout"
        cohorts.append({"name": f"r-{country.lower()}", "home": oid, "roamers": roamers // len(HOMES),
                        "destinations": {"ES": 0.7, "US": 0.3}, "arrivals": {"profile": "flat"}, "stay": stay,
                        "activity": activity or {"power_cycles_per_day": 0, "network_changes_per_day": 0,
                                                 "idr_per_day": 0, "purge_probability": 0, "mme_changes_per_day": 24},
                        "usage": usage if usage is not None else {"sessions_per_day": 0, "sms_mt_per_day": 0,
                                                                  "sms_mo_per_day": 0}})
        if itineraries:
            cohorts[-1]["itineraries"] = [{"countries": ["ES", "PT"], "weight": 0.4},
                                          {"countries": ["PT", "ES", "US"], "weight": 0.3}]
    data: dict[str, Any] = {
        "name": "s6a-core", "seed": 11, "window": {"start": "2027-07-03T00:00:00Z", "duration": window},
        "operators": ops, "ipx": {"jitter": jitter}, "agreements": agreements, "cohorts": cohorts,
        "diameter": {"answer_timeout": timeout}, "ue": {"nas_delay": "50ms"},
    }
    return data


CASES: dict[str, dict[str, Any]] = {
    "plain": {},
    "errors, busy, jitter": {"errors": 0.05, "limit": 2, "jitter": 0.3,
                             "service": {"exponential": {"mean": "30ms"}}, "window": "3h"},
    "lognormal, timeouts": {"errors": 0.02, "limit": 50, "jitter": 0.1, "timeout": "1s", "window": "2h",
                            "service": {"lognormal": {"median": "40ms", "p99": "4s"}}},
}


def _bytes(run: Path) -> dict[str, bytes]:
    return {n: (run / n).read_bytes() for n in [*(f"{f}.parquet" for f in FILES), KPIS]}


def _both_engines(s: Scenario, tmp_path: Path, engine: str = "compiled") -> tuple[RunSummary, RunSummary]:
    """Run ``s`` with the Python engine into ``tmp_path/python`` and with ``engine`` (compiled, or auto picking the
    compiled one) into ``tmp_path/<engine>``; the compiled engine ran, with the same counts and the same bytes."""
    py = simulate(s, tmp_path / "python", engine="python")
    nb = simulate(s, tmp_path / engine, engine=engine)  # type: ignore[arg-type]
    assert json.loads((tmp_path / engine / "manifest.json").read_text())["engine"] == "compiled"
    assert py.counts == nb.counts
    a, b = _bytes(tmp_path / "python"), _bytes(tmp_path / engine)
    assert [n for n in a if a[n] != b[n]] == []
    return py, nb


@pytest.mark.parametrize("case", list(CASES))
def test_same_bytes_as_the_python_engine(tmp_path: Path, case: str) -> None:
    s = s6a_scenario(**CASES[case])
    assert unsupported(s, compile_world(s), build_population(s, compile_world(s), seed=s.seed)) is None
    py, _ = _both_engines(s, tmp_path)
    assert json.loads((tmp_path / "python" / "manifest.json").read_text())["engine"] == "python"
    assert py.counts["transactions"] > 1000
    if case != "plain":  # the rare paths were really taken
        tx = pq.read_table(tmp_path / "compiled" / "transactions.parquet").to_pydict()
        assert sum(tx["timed_out"]) > 0 and sum(tx["retransmission"]) > 0
        assert len(set(tx["result_code"])) >= 3


BUSY_STAY: dict[str, Any] = {"power_cycles_per_day": 60, "off_duration": {"lognormal": {"median": "20m", "p99": "3h"}},
                             "purge_probability": 0.6, "purge_after": "10m", "mme_changes_per_day": 12,
                             "network_changes_per_day": 8, "idr_per_day": 8}
"""A roamer's stay squeezed into a few hours: power cycles (many long enough to be purged), MME and network
changes, subscription changes. With stays of minutes (some of seconds) and a slow HSS, power-offs, border
crossings and departures catch attaches in progress (abort)."""
STAY_CASES: dict[str, dict[str, Any]] = {
    "stay: power, purge, network change, IDR, departures": {
        "roamers": 3000, "activity": BUSY_STAY, "stay": {"lognormal": {"median": "5m", "p99": "12h"}},
        "errors": 0.08, "limit": 3, "jitter": 0.2, "service": {"exponential": {"mean": "300ms"}}, "servers": 2,
        "window": "4h"},
    "stay: itineraries, timeouts": {
        "roamers": 3000, "activity": BUSY_STAY, "stay": {"lognormal": {"median": "90m", "p99": "8h"}},
        "itineraries": True, "errors": 0.02, "limit": 50, "jitter": 0.1, "timeout": "2s", "window": "3h",
        "service": {"lognormal": {"median": "300ms", "p99": "6s"}}, "servers": 2},
}


@pytest.mark.parametrize("case", list(STAY_CASES))
def test_stay_events_give_the_same_bytes(tmp_path: Path, case: str) -> None:
    """Power cycles, purges, network changes, IDR, border crossings and departures, with errors and timeouts
    aborting procedures in progress: the kernel writes what the Python engine writes, and every path is taken."""
    s = s6a_scenario(**STAY_CASES[case])
    world = compile_world(s)
    assert unsupported(s, world, build_population(s, world, seed=s.seed)) is None
    _both_engines(s, tmp_path)
    pr = pq.read_table(tmp_path / "compiled" / "procedures.parquet").to_pydict()
    seen = Counter(zip(pr["type"], pr["trigger"], pr["outcome"], strict=True))
    types = Counter(pr["type"])
    triggers = Counter(pr["trigger"])
    outcomes = Counter(zip(pr["type"], pr["outcome"], strict=True))
    assert types["purge"] > 20 and types["insert_subscriber_data"] > 20, types
    assert triggers["power_on"] > 20 and triggers["network_change"] > 20 and triggers["return_home"] > 20, triggers
    assert seen["purge", "inactivity", "success"] > 0 and seen["cancel_location", "return_home", "success"] > 0
    assert outcomes["attach", "aborted"] > 0 and outcomes["attach", "timeout"] > 0, outcomes  # abort() taken
    assert outcomes["purge", "timeout"] + outcomes["purge", "rejected"] > 0, outcomes
    if "itineraries" in STAY_CASES[case]:
        assert triggers["border_crossing"] > 20, triggers
        assert Counter(pr["emm_cause"])[11] > 0  # no agreement in Portugal for some homes: EF_FPLMN
        assert len(set(pr["visited_plmn"])) == 5


def steered_data() -> dict[str, Any]:
    """tests/test_steering.py's scenario (one home steers its roamers in Spain to one partner of three, 5012, at most
    5 rejects), plus travellers through Spain, Portugal (DIAMETER_TOO_BUSY rejects, which the MME retries once) and
    the US (5012 for at most 15 s from the first reject: T3411 = 10 s gives 2 rejects), with their stay events."""
    home = "uk-alpha"
    ops: list[dict[str, Any]] = [{"id": home, "plmn": "234-15", "country": "GB", "hss": {"servers": 8}}]
    for country, mcc, names in (("ES", "214", ("one", "two", "three")), ("PT", "268", ("one", "two")),
                                ("US", "310", ("one", "two"))):
        ops += [{"id": f"{country.lower()}-{n}", "plmn": f"{mcc}-0{i + 1}", "country": country, "mmes": 2,
                 "welcome_sms": False} for i, n in enumerate(names)]
    quiet = {"power_cycles_per_day": 0, "mme_changes_per_day": 0, "network_changes_per_day": 0, "idr_per_day": 0,
             "purge_probability": 0}
    no_usage = {"sessions_per_day": 0, "sms_mt_per_day": 0, "sms_mo_per_day": 0}
    return {
        "name": "steering", "seed": 21, "window": {"start": "2027-07-03T00:00:00Z", "duration": "3h"},
        "operators": ops, "agreements": [{"home": home, "visited": [o["id"] for o in ops[1:]]}],
        "steering": [
            {"home": home, "country": "ES", "preferred": ["es-one"], "reject_with": "unable-to-comply",
             "max_rejects": 5},
            {"home": home, "country": "PT", "preferred": ["pt-one"], "reject_with": "too-busy"},
            {"home": home, "country": "US", "preferred": ["us-two"], "reject_with": "unable-to-comply",
             "max_rejects": 5, "window": "15s"}],
        "ue": {"max_attempts": 5, "t3411": "10s"},
        "cohorts": [
            {"name": "tourists", "home": home, "roamers": 1500, "destinations": {"ES": 1},
             "arrivals": {"profile": "flat"}, "stay": "30d", "activity": quiet, "usage": no_usage},
            {"name": "travellers", "home": home, "roamers": 1500, "destinations": {"ES": 1},
             "itineraries": [{"countries": ["ES", "PT", "US"], "weight": 2}],
             "arrivals": {"profile": "flat"}, "stay": {"lognormal": {"median": "90m", "p99": "8h"}},
             "activity": BUSY_STAY, "usage": no_usage}],
    }


def test_steering_gives_the_same_bytes(tmp_path: Path) -> None:
    """Reject-based steering at the home DEA: rejects counted per roamer and country, the cap, the window, the
    preferred partner ending it, TOO_BUSY rejects retried; steering_reject and steered as the Python engine writes."""
    s = scenario_from_data(steered_data(), "<steering>")
    world = compile_world(s)
    assert unsupported(s, world, build_population(s, world, seed=s.seed)) is None
    _both_engines(s, tmp_path)
    tx = pq.read_table(tmp_path / "compiled" / "transactions.parquet").to_pydict()
    rejects: dict[str, Counter[int]] = {"214": Counter(), "268": Counter(), "310": Counter()}
    for imsi, plmn, st in zip(tx["imsi"], tx["visited_plmn"], tx["steering_reject"], strict=True):
        if st:
            rejects[plmn[:3]][imsi] += 1
    assert len(rejects["214"]) > 100 and len(rejects["268"]) > 20 and len(rejects["310"]) > 20, rejects
    assert max(rejects["214"].values()) == 5  # the cap is reached, never passed
    assert max(rejects["268"].values()) == 2  # TOO_BUSY and its retransmission, then the preferred partner
    assert max(rejects["310"].values()) == 2  # the window (15 s) ends it before the cap (5)
    assert Counter(c for c, st in zip(tx["result_code"], tx["steering_reject"], strict=True) if st).keys() \
        == {5012, 3004}
    pr = pq.read_table(tmp_path / "compiled" / "procedures.parquet").to_pydict()
    steered = Counter(zip(pr["steered"], pr["outcome"], strict=True))
    assert steered[True, "rejected"] > 100, steered
    assert Counter(pr["trigger"])["border_crossing"] > 20


def test_growing_arenas_mid_run_changes_nothing(tmp_path: Path) -> None:
    """Pools, heap and HSS waiting rings start tiny and double many times; records leave in many batches."""
    from roamsim.engine.compiled.driver import CompiledEngine

    s = s6a_scenario(**CASES["errors, busy, jitter"])
    simulate(s, tmp_path / "python", engine="python")
    world = compile_world(s)
    population = build_population(s, world, seed=s.seed)
    out = tmp_path / "small"
    out.mkdir()
    t0 = int(s.window.start.timestamp() * 1e9)
    sink = ParquetSink(out, world, population.imsi, population.home, t0)
    records = RecordBuffers(sink, batch=3000)
    engine = CompiledEngine(s, world, population, records, seed=s.seed, heap_cap=8, pool_cap=4, ring_cap=2)
    engine.run()
    sink.close()
    assert engine.grows >= 5
    for name in ("transactions", "procedures"):
        a = pq.read_table(tmp_path / "python" / f"{name}.parquet")
        b = pq.read_table(out / f"{name}.parquet")
        assert a.equals(b), name
        assert b.num_rows > 3000  # several batches


@pytest.mark.parametrize("due_after_s", [0.0, 1e9])
def test_a_flush_reports_progress_when_a_report_is_due(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       due_after_s: float) -> None:
    """A run held back by the event log reaches ``PROGRESS_EVERY`` events slowly: its flushes report progress once
    ``PROGRESS_S`` has passed since the last report (here: always, or never; then only the final report)."""
    from roamsim.engine.compiled.driver import CompiledEngine

    monkeypatch.setattr(driver, "PROGRESS_EVERY", 1 << 60)
    monkeypatch.setattr(driver, "PROGRESS_S", due_after_s)
    s = s6a_scenario(**CASES["errors, busy, jitter"])
    world = compile_world(s)
    population = build_population(s, world, seed=s.seed)
    t0 = int(s.window.start.timestamp() * 1e9)
    sink = ParquetSink(tmp_path, world, population.imsi, population.home, t0, tables_on_writer=True)
    records = RecordBuffers(sink, batch=500)
    engine = CompiledEngine(s, world, population, records, seed=s.seed)
    reports: list[tuple[int, int]] = []
    engine.run(lambda sim_ns, events: reports.append((sim_ns, events)))
    sink.close()
    assert reports[-1] == (s.window.duration, engine.events)
    if due_after_s:
        assert len(reports) == 1
    else:
        batches = records.transactions // 500 + records.procedures // 500
        assert len(reports) - 1 >= batches // 2 >= 5  # a flush may hand over both kinds at one return
        assert all(a[0] <= b[0] and a[1] < b[1] for a, b in pairwise(reports[:-1]))


def test_what_it_does_not_cover_is_named_and_auto_falls_back(tmp_path: Path) -> None:
    quick = load_scenario(EXAMPLES / "quickstart.yaml")
    world = compile_world(quick)
    reason = unsupported(quick, world, build_population(quick, world, seed=1, scale=0.01))
    assert reason == "2G/3G/5G registrations"
    data = s6a_data()
    data["operators"][0]["rats"] = ["4G", "5G"]
    data["operators"][-1]["rats"] = ["4G", "5G"]
    data["agreements"][-1]["rats"] = ["4G", "5G"]
    data["cohorts"][-1]["devices"] = {"5G": 0.5, "4G": 0.5}
    five_g = scenario_from_data(data, "<5G>")
    w2 = compile_world(five_g)
    assert unsupported(five_g, w2, build_population(five_g, w2, seed=1)) == "2G/3G/5G registrations"
    with pytest.raises(NotCovered, match="2G/3G/5G"):
        simulate(five_g, tmp_path / "refused", engine="compiled")
    assert not (tmp_path / "refused").exists()  # refused before anything was written
    run = simulate(five_g, tmp_path / "auto")
    assert run.status == "complete"
    assert json.loads((tmp_path / "auto" / "manifest.json").read_text())["engine"] == "python"


def _many_networks(n: int) -> Scenario:
    """Roamers whose homes have an agreement with one of ``n`` networks in Spain: they collect EF_FPLMN entries
    (#11) for the others."""
    data = s6a_data(300, window="1h")
    data["operators"] = [o for o in data["operators"] if not o["id"].startswith("v-")]
    data["operators"] += [{"id": f"v-es{i}", "plmn": f"214-{i + 1:02d}", "country": "ES", "mmes": 1,
                           "welcome_sms": False} for i in range(n)]
    for ag in data["agreements"]:
        ag["visited"] = [f"v-es{n - 1}"]
    for c in data["cohorts"]:
        c["destinations"] = {"ES": 1}
    return scenario_from_data(data, "<many networks>")


def test_plmn_exclusion_slots_are_sized_for_every_network_a_roamer_can_meet(tmp_path: Path) -> None:
    """Each roamer gets 4 slots (one per exclusion kind) per network of its countries: with 8 Spanish networks
    the compiled run fills up to 7 forbidden-PLMN entries and writes the Python engine's bytes; with more than
    8 networks the kernel is not used (``unsupported``), never a run that stops halfway."""
    from roamsim.engine.compiled import MAX_EXCLUSIONS, exclusion_slots

    eight = _many_networks(8)
    world = compile_world(eight)
    population = build_population(eight, world, seed=eight.seed)
    assert exclusion_slots(world, population) == 32 == MAX_EXCLUSIONS
    assert unsupported(eight, world, population) is None
    simulate(eight, tmp_path / "python", engine="python")
    simulate(eight, tmp_path / "compiled", engine="compiled")
    a, b = _bytes(tmp_path / "python"), _bytes(tmp_path / "compiled")
    assert [n for n in a if a[n] != b[n]] == []
    procs = pq.read_table(tmp_path / "compiled" / "procedures.parquet", columns=["imsi", "emm_cause"]).to_pydict()
    per_roamer: dict[str, int] = {}
    for imsi, cause in zip(procs["imsi"], procs["emm_cause"], strict=True):
        per_roamer[imsi] = per_roamer.get(imsi, 0) + (cause == 11)
    assert max(per_roamer.values()) == 7  # every other network became a forbidden PLMN

    nine = _many_networks(9)
    w9 = compile_world(nine)
    reason = unsupported(nine, w9, build_population(nine, w9, seed=nine.seed))
    assert reason == "roamers visiting 9 networks (more than 8)"
    run = simulate(nine, tmp_path / "auto")
    assert run.status == "complete"
    assert json.loads((tmp_path / "auto" / "manifest.json").read_text())["engine"] == "python"


def test_the_cli_refuses_compiled_for_an_uncovered_scenario(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["run", str(EXAMPLES / "quickstart.yaml"), "-o", str(tmp_path / "r"),
                                    "--scale", "0.01", "--engine", "compiled"])
    assert res.exit_code == 2, res.output
    assert "compiled engine does not cover" in res.output
    assert "Traceback" not in res.output


def test_an_interrupted_compiled_run_is_partial_and_readable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = s6a_scenario(6000, window="1d")
    monkeypatch.setattr(driver, "PROGRESS_EVERY", 200_000)  # a report (and the interruption) before the end
    reports: list[Progress] = []

    def progress(p: Progress) -> None:
        reports.append(p)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simulate(s, tmp_path / "run", progress=progress, engine="compiled")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "partial" and manifest["engine"] == "compiled"
    assert reports[0].events == manifest["counts"]["events"] == 200_000
    for name in FILES:
        assert pq.read_table(tmp_path / "run" / f"{name}.parquet").num_rows == manifest["counts"][name]
    assert manifest["counts"]["transactions"] > 0


def test_ctrl_c_stops_the_kernel_between_events(tmp_path: Path) -> None:
    """A real SIGINT to `roamsim run` while the kernel runs: exit 130, a partial run directory, readable files."""
    scenario = tmp_path / "big.yaml"
    scenario.write_text(json.dumps(s6a_data(120_000, window="1d")))  # JSON is YAML
    script = textwrap.dedent(f"""
        import os, signal, sys
        from roamsim.cli.main import main
        from roamsim.engine.compiled.driver import CompiledEngine
        real = CompiledEngine._draw_ahead
        def draw_ahead(self):  # between two slices of the kernel's run: interrupt it once, a little after the start
            real(self)
            if not getattr(self, "_sent", False) and self.events > 100_000:
                self._sent = True
                os.kill(os.getpid(), signal.SIGINT)
        CompiledEngine._draw_ahead = draw_ahead
        sys.argv = ["roamsim", "run", {str(scenario)!r}, "-o", {str(tmp_path / "run")!r}, "--engine", "compiled"]
        main()
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"}, check=False)
    assert proc.returncode == 130, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "partial" and manifest["error"] == "KeyboardInterrupt"
    assert manifest["counts"]["events"] > 100_000
    for name in FILES:
        assert pq.read_table(tmp_path / "run" / f"{name}.parquet").num_rows == manifest["counts"][name]
    tx = pq.read_table(tmp_path / "run" / "transactions.parquet", columns=["txn_id"]).column(0).to_numpy()
    msg = pq.read_table(tmp_path / "run" / "messages.parquet", columns=["txn_id"]).column(0).to_numpy()
    assert np.unique(tx).size == tx.size and np.array_equal(np.unique(msg), np.unique(tx))  # none half-written


def test_a_stale_kernel_cache_is_recompiled(tmp_path: Path) -> None:
    """numba's cache is keyed on kernel.py only: code compiled with other constants is found and rebuilt.

    In a child process with its own cache directory, so the project's cache is left alone."""
    script = textwrap.dedent("""
        import numpy as np
        from roamsim.engine.compiled import kernel
        from roamsim.engine.compiled.driver import fresh_kernel
        fresh_kernel()
        assert kernel.frozen_digest() == kernel.DIGEST
        real = kernel.DIGEST
        kernel.DIGEST = np.int64(int(real) ^ 1)  # as if the catalogue had changed, and kernel.py had not
        assert kernel.frozen_digest() != kernel.DIGEST
        fresh_kernel()
        assert kernel.frozen_digest() == kernel.DIGEST
        kernel.DIGEST = real
        fresh_kernel()
        assert kernel.frozen_digest() == kernel.DIGEST
        print("rebuilt")
    """)
    cache = tmp_path / "numba-cache"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "NUMBA_CACHE_DIR": str(cache)})
    assert proc.returncode == 0 and proc.stdout.strip() == "rebuilt", proc.stderr[-2000:]
    assert list(cache.rglob("kernel.frozen_digest-*.nbi"))  # it used (and rebuilt) that cache


def test_the_bundled_s6a_load_example_runs_compiled_by_default(tmp_path: Path) -> None:
    """`roamsim run examples/s6a-hss-load.yaml` takes the compiled engine (auto); same bytes as the Python engine."""
    example = EXAMPLES / "s6a-hss-load.yaml"
    for engine in ("auto", "python"):
        res = CliRunner().invoke(cli, ["run", str(example), "-o", str(tmp_path / engine), "--scale", "0.01",
                                       "--engine", engine])
        assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "auto" / "manifest.json").read_text())["engine"] == "compiled"
    a, b = _bytes(tmp_path / "auto"), _bytes(tmp_path / "python")
    assert [n for n in a if a[n] != b[n]] == []
    procs = pq.read_table(tmp_path / "auto" / "procedures.parquet", columns=["type"]).column(0).to_pylist()
    assert {"attach", "tracking_area_update", "cancel_location"} <= set(procs)


USAGE_CASES: dict[str, dict[str, Any]] = {
    "sessions: home-routed and local breakout, ended by stay events": {
        "roamers": 3000, "activity": BUSY_STAY, "stay": {"lognormal": {"median": "90m", "p99": "8h"}},
        "itineraries": True, "breakout": True, "window": "3h", "jitter": 0.1,
        "usage": {"sessions_per_day": 40, "session_duration": {"lognormal": {"median": "20m", "p99": "4h"}},
                  "uplink_share": 0.37, "sms_mt_per_day": 0, "sms_mo_per_day": 0}},
    "SMS: MT and MO with power cycles, welcome SMS": {
        "roamers": 3000, "activity": BUSY_STAY, "stay": {"lognormal": {"median": "90m", "p99": "8h"}},
        "welcome": True, "window": "3h", "jitter": 0.1,
        "usage": {"sessions_per_day": 0, "sms_mt_per_day": 40, "sms_mo_per_day": 20}},
    "everything: errors, busy, timeouts": {
        "roamers": 3000, "activity": BUSY_STAY, "stay": {"lognormal": {"median": "90m", "p99": "8h"}},
        "itineraries": True, "breakout": True, "welcome": True, "errors": 0.05, "limit": 3, "jitter": 0.2,
        "timeout": "2s", "window": "3h", "service": {"lognormal": {"median": "300ms", "p99": "6s"}}, "servers": 2,
        "usage": {"sessions_per_day": 30, "sms_mt_per_day": 20, "sms_mo_per_day": 10}},
}


@pytest.mark.parametrize("case", list(USAGE_CASES))
def test_usage_gives_the_same_bytes(tmp_path: Path, case: str) -> None:
    """Data sessions (GTPv2-C Create/Delete Session over S8, or local breakout over S5 in the visited network) and
    SMS (SRI-for-SM queued at the HLR, MT-ForwardSM over SGs, absent subscriber → ReportSM-DeliveryStatus, alert at
    the next location update and redelivery; MO-ForwardSM; welcome SMS) in a busy stay: the same four Parquet files
    and kpis.json as the Python engine, and the paths were taken."""
    kw = USAGE_CASES[case]
    s = s6a_scenario(**kw)
    world = compile_world(s)
    assert unsupported(s, world, build_population(s, world, seed=s.seed)) is None
    _, nb = _both_engines(s, tmp_path)
    pr = pq.read_table(tmp_path / "compiled" / "procedures.parquet").to_pydict()
    seen = Counter(zip(pr["type"], pr["trigger"], pr["outcome"], strict=True))
    types = Counter(pr["type"])
    tx = pq.read_table(tmp_path / "compiled" / "transactions.parquet").to_pydict()
    if kw["usage"]["sessions_per_day"]:
        se = pq.read_table(tmp_path / "compiled" / "sessions.parquet").to_pydict()
        assert nb.counts["sessions"] > 500
        assert Counter(se["routing"]).keys() == {"home-routed", "local-breakout"}
        assert sum(se["bytes_uplink"]) > 0 and sum(se["bytes_downlink"]) > sum(se["bytes_uplink"])
        deleted = Counter(trig for (typ, trig, _), n in seen.items() if typ == "session_delete" for _ in range(n))
        for trig in ("data", "border_crossing", "power_off", "network_change", "return_home"):
            assert deleted[trig] > 0, deleted
        assert {"S8", "S5"} <= set(tx["interface"])
        assert types["session_create"] > 500
    if kw["usage"]["sms_mt_per_day"]:
        assert types["sms_mt"] > 500 and types["sms_mo"] > 200 and types["alert_service_centre"] > 50, types
        assert seen["sms_mt", "alert", "success"] > 0  # redelivered after AlertServiceCentre
        absent = Counter(zip(pr["type"], pr["outcome"], pr["result_code"], strict=True))
        assert absent["sms_mt", "rejected", 6] > 50, absent  # absentSubscriberSM: MT-ForwardSM or SRI-for-SM
        assert seen["sms_mt", "welcome", "success"] > 100
        assert {"sendRoutingInfoForSM", "mt-forwardSM", "mo-forwardSM", "reportSM-DeliveryStatus",
                "alertServiceCentre"} <= set(tx["command"])
    if kw.get("errors"):
        assert sum(tx["timed_out"]) > 0 and sum(tx["retransmission"]) > 0
        assert Counter(zip(pr["type"], pr["outcome"], strict=True))["sms_mt", "timeout"] \
            + Counter(pr["result_code"])[34] > 0  # SRI-for-SM lost or refused (systemFailure) at the HLR


def test_a_scenario_with_default_usage_on_4g_runs_compiled(tmp_path: Path) -> None:
    """4G-only operators with the default usage (2 sessions, 0.5 MT and 0.3 MO SMS a day) and welcome SMS: `auto`
    takes the compiled engine, with the Python engine's bytes."""
    data = s6a_data(3000, window="12h", usage={}, welcome=True, breakout=True)
    s = scenario_from_data(data, "<default usage>")
    assert s.cohorts[0].usage.sessions_per_day == 2 and s.operators[0].welcome_sms
    _, nb = _both_engines(s, tmp_path, engine="auto")
    assert nb.counts["sessions"] > 100
    types = Counter(pq.read_table(tmp_path / "auto" / "procedures.parquet", columns=["type"]).column(0).to_pylist())
    assert types["session_create"] > 100 and types["sms_mt"] > 100 and types["sms_mo"] > 50, types


def test_growing_arenas_with_usage_changes_nothing(tmp_path: Path) -> None:
    """Usage with tiny pools (open sessions hold their set-up procedures) and small batches: the three record buffers,
    sessions included, leave in many batches with the Python engine's rows."""
    from roamsim.engine.compiled.driver import CompiledEngine

    s = s6a_scenario(**USAGE_CASES["everything: errors, busy, timeouts"])
    world = compile_world(s)
    population = build_population(s, world, seed=s.seed)
    py_out, out = tmp_path / "python", tmp_path / "small"
    for d in (py_out, out):
        d.mkdir()
    t0 = int(s.window.start.timestamp() * 1e9)
    for d, compiled in ((py_out, False), (out, True)):
        sink = ParquetSink(d, world, population.imsi, population.home, t0)
        records = RecordBuffers(sink, batch=700)
        if compiled:
            engine = CompiledEngine(s, world, population, records, seed=s.seed, heap_cap=8, pool_cap=4, ring_cap=2)
            engine.run()
            assert engine.grows >= 5 and engine.max_open > 1
        else:
            from roamsim.engine.core import Engine

            Engine(s, world, population, records, seed=s.seed).run()
        sink.close()
    for name in ("transactions", "procedures", "sessions"):
        a = pq.read_table(py_out / f"{name}.parquet")
        b = pq.read_table(out / f"{name}.parquet")
        assert a.equals(b), name
        assert b.num_rows > 1400  # several batches
