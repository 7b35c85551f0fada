"""Reference model: roamsim against a plain SimPy implementation, on identical inputs.

The model (``shared/design/PERFORMANCE.md``): roamers of 20 home operators
arrive uniformly over 24 h in one or two visited countries; each attaches
(AIR round trip, NAS delay, ULR round trip) through its home HSS, a
single-server FIFO queue with exponential service (mean 2 ms), and then makes
periodic follow-ups (an MME change: tracking area update = one ULR round trip;
the HSS's CLR to the old MME does not queue). IPX jitter is 0, so the one-way
delay between an MME and an HSS is a constant per (visited, home) pair.

Both simulators get the same inputs: SimPy takes the arrival and follow-up
times from roamsim's own population (``build_population`` with the same
scenario, world and seed) and each HSS's service times, in the order that HSS
received its requests, from roamsim's ``transactions.parquet``. The script
checks that the p50 and p95 of attach and TAU durations agree within 1 %
(exit status 1 if not), and prints the ratio of SimPy's wall time to
roamsim's. It runs ``--repeat`` rounds (default 5), each a compiled roamsim
run (numba kernel, what ``roamsim run`` uses for this scenario) followed by a
SimPy run, and judges the 30x target on the median of the rounds' ratios:
these shared machines move a single timing by up to 2x. The Python engine
runs once; every run's output files must be byte-identical. The kernel is
compiled (or loaded from numba's cache) by an untimed warm-up run first;
that time is printed apart. Absolute times are never compared across runs:
only the ratios within one run mean anything on a shared machine.

    python benchmarks/reference_model.py            # 100k roamers, 5 rounds
    python benchmarks/reference_model.py --quick    # 10k roamers
    python benchmarks/reference_model.py --roamers 300000 --repeat 3 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import simpy

import roamsim
from roamsim.population.build import EV_ARRIVE, EV_MME_CHANGE, Population, build_population
from roamsim.scenario import Scenario, scenario_from_data
from roamsim.sinks.eventlog import FILES
from roamsim.world.model import HOPS, World, compile_world

SEED = 20270703
TARGET = 30.0
"""Required speed ratio (SimPy wall time / roamsim wall time)."""
TOLERANCE = 0.01
"""Allowed relative difference of the latency percentiles."""

# Home operators: (country, MCC); visited operators: (country, PLMN). Real MCCs, made-up MNCs.
HOMES = (
    ("GB", "234"), ("FR", "208"), ("DE", "262"), ("IT", "222"), ("NL", "204"), ("PL", "260"), ("SE", "240"),
    ("TR", "286"), ("BR", "724"), ("AR", "722"), ("MX", "334"), ("CA", "302"), ("JP", "440"), ("KR", "450"),
    ("AU", "505"), ("IN", "404"), ("SG", "525"), ("AE", "424"), ("EG", "602"), ("ZA", "655"),
)
VISITED = (("ES", "214-01"), ("US", "310-260"))

Proc = Generator[Any, Any, None]


def build_scenario(roamers: int, followups_per_day: float, nas_delay: str) -> Scenario:
    """The reference model as a roamsim scenario (one cohort and one HSS per home operator)."""
    operators: list[dict[str, Any]] = [
        {"id": f"v-{c.lower()}", "plmn": plmn, "country": c, "mmes": 4, "welcome_sms": False} for c, plmn in VISITED
    ]
    visited_ids = [op["id"] for op in operators]
    cohorts: list[dict[str, Any]] = []
    agreements: list[dict[str, Any]] = []
    per_home = [roamers // len(HOMES) + (1 if i < roamers % len(HOMES) else 0) for i in range(len(HOMES))]
    for (country, mcc), n in zip(HOMES, per_home, strict=True):
        op_id = f"h-{country.lower()}"
        operators.append({
            "id": op_id, "plmn": f"{mcc}-01", "country": country,
            "hss": {"servers": 1, "service": {"exponential": {"mean": "2ms"}}, "queue_limit": 10_000_000,
                    "transient_errors": 0},
        })
        agreements.append({"home": op_id, "visited": visited_ids, "rats": ["4G"]})
        cohorts.append({
            "name": f"roamers-{country.lower()}", "home": op_id, "roamers": max(n, 1),
            "destinations": {"ES": 0.6, "US": 0.4},
            "arrivals": {"profile": "flat"},
            "stay": "30d",  # longer than the window: nobody leaves
            "activity": {"power_cycles_per_day": 0, "network_changes_per_day": 0, "idr_per_day": 0,
                         "purge_probability": 0, "mme_changes_per_day": followups_per_day},
            "usage": {"sessions_per_day": 0, "sms_mt_per_day": 0, "sms_mo_per_day": 0},  # S6a only
        })
    return scenario_from_data({
        "name": "reference-model",
        "seed": SEED,
        "window": {"start": "2027-07-03T00:00:00Z", "duration": "1d"},
        "operators": operators,
        "ipx": {"jitter": 0},
        "agreements": agreements,
        "cohorts": cohorts,
        "ue": {"nas_delay": nas_delay},
    }, "<reference model>")


# -- roamsim ----------------------------------------------------------------------------------------

@dataclass
class RoamsimRun:
    wall_s: float
    engine_s: float
    population_s: float
    manifest: dict[str, Any]
    profile: str = ""
    kernel_s: float = 0.0
    """The compiled engine's time in its event loop (the Python engine's: its whole engine phase)."""


def run_roamsim(scenario: Scenario, out: Path, profile: bool, engine: str = "compiled") -> RoamsimRun:
    gc.collect()
    prof = cProfile.Profile() if profile else None
    t = time.perf_counter()
    if prof is not None:
        prof.enable()
    roamsim.simulate(scenario, out, seed=SEED, engine=engine)  # type: ignore[arg-type]
    if prof is not None:
        prof.disable()
    wall = time.perf_counter() - t
    manifest: dict[str, Any] = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    if manifest["status"] != "complete":
        raise SystemExit(f"roamsim run is {manifest['status']}: {manifest.get('error')}")
    text = ""
    if prof is not None:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(30)
        text = buf.getvalue()
    phases = manifest["phases"]
    return RoamsimRun(wall, float(phases["engine_s"]), float(phases["population_s"]), manifest, text,
                      float(phases.get("kernel_s", phases["engine_s"])))


def _element_index(col: pa.ChunkedArray, element: dict[str, int]) -> np.ndarray:
    """World element index of each value of a dictionary-encoded element-name column."""
    parts = []
    for chunk in col.chunks:
        lut = np.asarray([element[name] for name in chunk.dictionary.to_pylist()], dtype=np.int64)
        parts.append(lut[chunk.indices.to_numpy(zero_copy_only=False)])
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _strings(col: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(col.cast(pa.string()).to_pylist(), dtype=object)


@dataclass
class Durations:
    """Successful procedure durations (ns), keyed by roamer and start time (ns since the window start)."""

    attach: np.ndarray
    tau: np.ndarray
    attach_key: np.ndarray
    tau_key: np.ndarray


def roamsim_durations(run_dir: Path, population: Population, t0: int) -> tuple[Durations, dict[str, int]]:
    t = pq.read_table(run_dir / "procedures.parquet",
                      columns=["type", "outcome", "imsi", "start_time", "end_time"])
    kind = _strings(t.column("type"))
    outcome = _strings(t.column("outcome"))
    imsi = t.column("imsi").to_numpy()
    start = t.column("start_time").to_numpy() - t0
    dur = t.column("end_time").to_numpy() - t.column("start_time").to_numpy()
    by_imsi = np.argsort(population.imsi)
    pos = np.minimum(np.searchsorted(population.imsi, imsi, sorter=by_imsi), by_imsi.size - 1)
    roamer = by_imsi[pos]
    if not np.array_equal(population.imsi[roamer], imsi):
        raise SystemExit("procedures.parquet: IMSIs that are not in the population")
    tally: dict[str, int] = {}
    for k, o in zip(kind.tolist(), outcome.tolist(), strict=True):
        tally[f"{k}/{o}"] = tally.get(f"{k}/{o}", 0) + 1
    ok = outcome == "success"
    a = ok & (kind == "attach")
    u = ok & (kind == "tracking_area_update")
    return Durations(dur[a], dur[u], _key(roamer[a], start[a]), _key(roamer[u], start[u])), tally


def _key(roamer: np.ndarray, start: np.ndarray) -> np.ndarray:
    """(n, 2) int64 array of (roamer, start time) identifying each procedure."""
    return np.stack([roamer.astype(np.int64), start.astype(np.int64)], axis=1).reshape(-1, 2)


# -- SimPy ------------------------------------------------------------------------------------------

@dataclass
class SimpyInputs:
    arrive: list[int]
    """Arrival time per roamer, in arrival order (ns since the window start)."""
    roamer: list[int]
    hss: list[int]
    """Home operator per roamer (index into ``services``)."""
    delay: list[int]
    """One-way MME↔HSS delay per roamer (ns), fixed hops plus the inter-country latency."""
    followups: list[list[int]]
    services: dict[int, deque[int]]
    """Service times per home operator, in the order its HSS received the requests."""
    nas_delay: int
    hss_ties: int
    """HSS arrivals at the same nanosecond as the previous one at that HSS (their order could differ)."""


def simpy_inputs(scenario: Scenario, world: World, population: Population, run_dir: Path, t0: int) -> SimpyInputs:
    # One-way delay per (visited, home) pair: the fixed hops (cum_fixed_ns[HOPS]) plus the path's
    # inter-country latency (jitter 0). Every MME of a visited operator has the same delay.
    fixed = world.cum_fixed_ns[HOPS]
    pair_delay: dict[tuple[int, int], int] = {}
    for v, mmes in enumerate(world.op_mmes):
        for h, hss in enumerate(world.op_hss):
            pair_delay[(v, h)] = fixed + world.path_latency_ns[world.path(mmes[0], hss)]
    visited_in = {c: ops for c, ops in world.country_ops.items()}

    kind = population.ev_kind
    sel = kind == EV_ARRIVE
    arr_r = population.ev_roamer[sel]
    arr_t = population.ev_time[sel]
    arr_c = population.ev_param[sel]
    order = np.lexsort((arr_r, arr_t))
    arr_r, arr_t, arr_c = arr_r[order], arr_t[order], arr_c[order]
    home = population.home
    delay = []
    for r, c in zip(arr_r.tolist(), arr_c.tolist(), strict=True):
        ops = visited_in[world.countries[c]]
        if len(ops) != 1:
            raise SystemExit(f"{world.countries[c]}: the reference model needs one visited operator per country")
        delay.append(pair_delay[(ops[0], int(home[r]))])

    sel = kind == EV_MME_CHANGE
    fu_r = population.ev_roamer[sel]
    fu_t = population.ev_time[sel]
    order = np.lexsort((fu_t, fu_r))
    fu_r, fu_t = fu_r[order], fu_t[order]
    bounds = np.searchsorted(fu_r, np.arange(population.size + 1))
    fu_list = fu_t.tolist()
    per_roamer = [fu_list[bounds[i]:bounds[i + 1]] for i in range(population.size)]
    followups = [per_roamer[r] for r in arr_r.tolist()]

    # Service times in the order each HSS received its requests: arrival at the HSS is
    # request_time + fixed hops + inter-country latency; ties keep the send order (txn_id),
    # as roamsim's event heap does.
    t = pq.read_table(run_dir / "transactions.parquet",
                      columns=["txn_id", "origin", "responder", "request_time", "service_ns"])
    element = {name: i for i, name in enumerate(world.element_names)}
    origin = _element_index(t.column("origin"), element)
    responder = _element_index(t.column("responder"), element)
    kinds = np.asarray(world.element_kind, dtype=object)
    at_hss = kinds[responder] == "hss"
    v_op = np.asarray(world.element_op, dtype=np.int64)[origin[at_hss]]
    h_op = np.asarray(world.element_op, dtype=np.int64)[responder[at_hss]]
    lat = np.asarray([pair_delay[(v, h)] for v, h in zip(v_op.tolist(), h_op.tolist(), strict=True)],
                     dtype=np.int64)
    t_hss = t.column("request_time").to_numpy()[at_hss] - t0 + lat
    txn = t.column("txn_id").to_numpy()[at_hss]
    service = t.column("service_ns").to_numpy()[at_hss]
    order = np.lexsort((txn, t_hss, h_op))
    h_sorted, t_sorted = h_op[order], t_hss[order]
    ties = int(np.count_nonzero((np.diff(h_sorted) == 0) & (np.diff(t_sorted) == 0)))
    services = {h: deque(service[order][h_sorted == h].tolist()) for h in range(len(world.op_ids))}
    return SimpyInputs(arr_t.tolist(), arr_r.tolist(), home[arr_r].tolist(), delay, followups, services,
                       scenario.ue.nas_delay, ties)


def run_simpy(inp: SimpyInputs, n_ops: int) -> tuple[float, Durations, int]:
    """The reference model in SimPy: a source process starts one process per roamer at its arrival."""
    attach_d: list[int] = []
    attach_k: list[tuple[int, int]] = []
    tau_d: list[int] = []
    tau_k: list[tuple[int, int]] = []
    services = inp.services
    nas = inp.nas_delay

    def roamer(env: simpy.Environment, r: int, hss: Any, svc: deque[int], d: int, followups: list[int]) -> Proc:
        start = int(env.now)
        # attach: AIR round trip, NAS, ULR round trip
        yield env.timeout(d)
        with hss.request() as req:
            s = svc.popleft()
            yield req
            yield env.timeout(s)
        yield env.timeout(d + nas)
        yield env.timeout(d)
        with hss.request() as req:
            s = svc.popleft()
            yield req
            yield env.timeout(s)
        yield env.timeout(d)
        attach_d.append(int(env.now) - start)
        attach_k.append((r, start))
        # follow-ups: a TAU (ULR round trip); one that falls while a procedure is in flight is skipped
        for f in followups:
            if f < env.now:
                continue
            yield env.timeout(f - env.now)
            yield env.timeout(d)
            with hss.request() as req:
                s = svc.popleft()
                yield req
                yield env.timeout(s)
            yield env.timeout(d)
            tau_d.append(int(env.now) - f)
            tau_k.append((r, f))

    def source(env: simpy.Environment, resources: list[Any]) -> Proc:
        for t, r, h, d, fu in zip(inp.arrive, inp.roamer, inp.hss, inp.delay, inp.followups, strict=True):
            if t > env.now:
                yield env.timeout(t - env.now)
            env.process(roamer(env, r, resources[h], services[h], d, fu))

    gc.collect()
    was = gc.isenabled()
    gc.disable()  # as roamsim's engine does (PERFORMANCE.md: worth 10-16 % to SimPy)
    try:
        t0 = time.perf_counter()
        env = simpy.Environment()
        resources = [simpy.Resource(env, capacity=1) for _ in range(n_ops)]
        env.process(source(env, resources))
        env.run()
        wall = time.perf_counter() - t0
    finally:
        if was:
            gc.enable()
    left = sum(len(q) for q in services.values())
    durations = Durations(
        np.asarray(attach_d, dtype=np.int64), np.asarray(tau_d, dtype=np.int64),
        np.asarray(attach_k, dtype=np.int64).reshape(-1, 2), np.asarray(tau_k, dtype=np.int64).reshape(-1, 2),
    )
    return wall, durations, left


# -- comparison -------------------------------------------------------------------------------------

def compare(name: str, a: np.ndarray, b: np.ndarray, ka: np.ndarray, kb: np.ndarray) -> bool:
    """Print p50/p95 of both; True if they agree within TOLERANCE. Also reports per-procedure agreement."""
    if a.size == 0 or b.size == 0:
        print(f"  {name}: no procedures (roamsim {a.size}, SimPy {b.size})")
        return False
    ok = True
    for q in (50, 95):
        pa_, pb = float(np.percentile(a, q)), float(np.percentile(b, q))
        rel = abs(pa_ - pb) / pb
        ok &= rel <= TOLERANCE
        print(f"  {name:6s} p{q}: roamsim {pa_ / 1e6:10.4f} ms   SimPy {pb / 1e6:10.4f} ms   "
              f"rel. diff {rel:.2e}  {'ok' if rel <= TOLERANCE else 'MISMATCH'}")
    ia, ib = np.lexsort((ka[:, 1], ka[:, 0])), np.lexsort((kb[:, 1], kb[:, 0]))
    same_set = a.size == b.size and bool(np.array_equal(ka[ia], kb[ib]))
    if same_set:
        diff = np.abs(a[ia] - b[ib])
        print(f"  {name:6s} {a.size} procedures, same (roamer, start) in both; per-procedure |diff| "
              f"max {int(diff.max())} ns, {int(np.count_nonzero(diff))} differ")
    else:
        print(f"  {name:6s} procedure sets differ: roamsim {a.size}, SimPy {b.size}")
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--roamers", type=int, default=100_000, help="roamers in total (default 100000)")
    ap.add_argument("--quick", action="store_true", help="10000 roamers")
    ap.add_argument("--repeat", type=int, default=5,
                    help="paired rounds (a compiled roamsim run, then a SimPy run); the verdict is on the median "
                         "of the rounds' ratios (default 5)")
    ap.add_argument("--followups-per-day", type=float, default=4.0,
                    help="MME changes (TAU) per roamer-day; mean stay in the window is 12 h (default 4)")
    ap.add_argument("--nas-delay", default="50ms", help="scenario ue.nas_delay (default 50ms)")
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of roamsim.simulate "
                    "(one more, untimed run)")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    n = 10_000 if args.quick else args.roamers
    scenario = build_scenario(n, args.followups_per_day, args.nas_delay)
    world = compile_world(scenario)
    t0 = int(scenario.window.start.timestamp() * 1e9)

    runs: list[RoamsimRun] = []
    simpy_walls: list[float] = []
    with tempfile.TemporaryDirectory(prefix="roamsim-bench-") as tmp:
        t = time.perf_counter()
        run_roamsim(build_scenario(100, args.followups_per_day, args.nas_delay), Path(tmp) / "warm-up", False)
        warm_up = time.perf_counter() - t
        run_dir = Path(tmp) / "run"
        py = run_roamsim(scenario, Path(tmp) / "python", profile=False, engine="python")
        reference = {f: (Path(tmp) / "python" / f"{f}.parquet").read_bytes() for f in FILES}
        population = build_population(scenario, world, seed=SEED)
        differ: set[str] = set()
        for i in range(args.repeat):
            # Rounds pair a roamsim run with a SimPy run right after it, so a slow spell of the shared machine
            # tends to hit both sides of one ratio.
            if run_dir.exists():
                shutil.rmtree(run_dir)
            runs.append(run_roamsim(scenario, run_dir, profile=False))
            differ |= {f for f in FILES if (run_dir / f"{f}.parquet").read_bytes() != reference[f]}
            inputs = simpy_inputs(scenario, world, population, run_dir, t0)
            n_services = sum(len(q) for q in inputs.services.values())
            sp_wall, theirs, left = run_simpy(inputs, len(world.op_ids))
            simpy_walls.append(sp_wall)
            print(f"round {i + 1}/{args.repeat}: SimPy {sp_wall:.3f} s, roamsim engine phase {runs[-1].engine_s:.3f} s "
                  f"→ {sp_wall / runs[-1].engine_s:.1f}x", flush=True)
        ours, tally = roamsim_durations(run_dir, population, t0)
        profiled = run_roamsim(scenario, Path(tmp) / "profiled", profile=True) if args.profile else None

    roamers = population.size
    attaches, taus = int(theirs.attach.size), int(theirs.tau.size)
    events = roamers + 7 * attaches + 4 * taus
    print(f"\nreference model: {roamers} roamers, 20 home HSS (1 server, exp. service mean 2 ms), "
          f"visited {', '.join(c for c, _ in VISITED)}, seed {SEED}")
    print(f"roamsim procedures: {', '.join(f'{k} {v}' for k, v in sorted(tally.items()))}")
    print(f"HSS requests: roamsim {n_services}, SimPy used {n_services - left} "
          f"({left} service times left over); same-ns HSS arrival ties: {inputs.hss_ties}")
    print("\nlatency (procedure end - start), roamsim vs SimPy (last round):")
    ok = compare("attach", ours.attach, theirs.attach, ours.attach_key, theirs.attach_key)
    ok &= compare("TAU", ours.tau, theirs.tau, ours.tau_key, theirs.tau_key)
    ok &= left == 0
    print(f"the {args.repeat} compiled runs and the Python engine's run, Parquet files: "
          f"{'byte-identical' if not differ else 'DIFFER: ' + ', '.join(sorted(differ))}")
    ok &= not differ

    rs = runs[-1]
    counts = rs.manifest["counts"]
    print(f"\nmodel events = 1 per roamer + 7 per attach + 4 per TAU = {events:,} "
          f"(roamsim's own engine event count: {counts['events']:,})")
    sp_med = statistics.median(simpy_walls)
    rows = [
        ("SimPy 4 (process per roamer, Resource per HSS; env.run only)", simpy_walls),
        ("compiled: roamsim simulate(), total (population, engine, Parquet, KPIs)", [r.wall_s for r in runs]),
        ("compiled: engine phase (kernel + record batches to the event log)", [r.engine_s for r in runs]),
        ("compiled: kernel (the event loop itself, phases.kernel_s)", [r.kernel_s for r in runs]),
        ("python:   roamsim simulate(), total (one run)", [py.wall_s]),
        ("python:   engine phase (phases.engine_s, one run)", [py.engine_s]),
    ]
    print(f"\nmedians over {args.repeat} rounds{'':43s} {'wall s':>8s} {'model events/s':>15s} {'SimPy ÷ it':>11s}")
    for label, walls in rows:
        s = statistics.median(walls)
        print(f"{label:74s} {s:8.3f} {events / s:15,.0f} {sp_med / s:10.1f}x")
    print(f"(kernel compile or cache load, in an untimed 100-roamer warm-up run: {warm_up:.1f} s)")
    print("\nspeed ratio SimPy wall / roamsim, per round (each round: one roamsim run, then one SimPy run):")
    verdict = True
    for label, attr in (("compiled simulate() wall", "wall_s"), ("compiled engine phase", "engine_s"),
                        ("compiled kernel", "kernel_s")):
        ratios = [w / getattr(r, attr) for w, r in zip(simpy_walls, runs, strict=True)]
        med = statistics.median(ratios)
        judged = ""
        if attr == "engine_s":
            verdict = med >= TARGET
            judged = f"   target {TARGET:.0f}x (median): {'met' if verdict else 'NOT met'}"
        print(f"  {label + ':':26s} {'  '.join(f'{x:5.1f}x' for x in ratios)}   median {med:5.1f}x, "
              f"min {min(ratios):5.1f}x{judged}")
    print(f"the target is judged on the engine phase: {'met' if verdict else 'NOT met'}")
    print(f"(roamsim phases, last round: {rs.manifest['phases']}; it also wrote {counts['transactions']:,} "
          f"transactions, {counts['messages']:,} messages and {counts['procedures']:,} procedures, SimPy records "
          "nothing but durations)")
    if profiled is not None:
        print("\ncProfile of one more roamsim.simulate() run, by own time (profiling inflates every call):")
        print(profiled.profile)
    if not ok:
        print("\nFAIL: roamsim and SimPy latencies disagree (or the inputs did not line up)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
