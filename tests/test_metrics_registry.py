"""The metrics registry against the run's own Parquet files, recomputed here row by row."""

from __future__ import annotations

import itertools
import re
import subprocess
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metricskit import binary, parse_samples, quickstart_data
from roamsim import simulate
from roamsim.metrics.catalogue import BY_NAME, DURATION_BUCKETS_S, FAMILIES, FORBIDDEN_LABELS
from roamsim.metrics.exposition import encode_text
from roamsim.metrics.extract import Registrations
from roamsim.metrics.registry import RECORD_FILES, MetricsRegistry, record_batches, registry_for_run
from roamsim.metrics.snapshot import FamilySnapshot, SampleSnapshot
from roamsim.records.schema import REGISTRATION_TYPES
from runkit import kpis, read, scenario

NS = 1_000_000_000
REGISTERING = {*REGISTRATION_TYPES, "tracking_area_update", "gprs_location_update", "mobility_registration"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, MetricsRegistry]:
    out = tmp_path_factory.mktemp("metrics") / "run"
    reg = MetricsRegistry()
    summary = simulate(scenario(quickstart_data(errors=True)), out, observers=[reg])
    assert summary.status == "complete"
    return out, reg


def family(snap: list[FamilySnapshot], name: str) -> dict[tuple[str, ...], SampleSnapshot]:
    fam = next(f for f in snap if f.name == name)
    labels = BY_NAME[name].labels
    return {tuple(s.labels[k] for k in labels): s for s in fam.samples}


def values(snap: list[FamilySnapshot], name: str) -> dict[tuple[str, ...], float]:
    return {k: s.value for k, s in family(snap, name).items() if s.value is not None}


def test_procedures_and_registrations_equal_parquet(run: tuple[Path, MetricsRegistry]) -> None:
    out, reg = run
    snap = reg.snapshot()
    p = read(out, "procedures")
    rows = list(zip(p["type"], p["home_plmn"], p["visited_plmn"], p["rat"], p["outcome"], strict=True))
    assert values(snap, "roamsim_procedures_total") == {k: float(v) for k, v in Counter(rows).items()}
    regs = Counter(r[1:] for r in rows if r[0] in REGISTRATION_TYPES)
    assert values(snap, "roamsim_registrations_total") == {k: float(v) for k, v in regs.items()}
    # The KPIs' "attach" view (every RAT's initial registration) counts the same, in another module.
    attach = kpis(out)["overall"]["attach"]
    got = values(snap, "roamsim_registrations_total")
    assert sum(v for k, v in got.items() if k[3] == "success") == attach["successes"] > 0
    assert sum(v for k, v in got.items() if k[3] != "aborted") == attach["attempts"]


def _result(code: int, experimental: bool) -> str:
    return f"exp:{code}" if experimental else str(code)


def test_messages_timeouts_and_links_equal_parquet(run: tuple[Path, MetricsRegistry]) -> None:
    out, reg = run
    snap = reg.snapshot()
    t = read(out, "transactions")
    expected: Counter[tuple[str, ...]] = Counter()
    timeouts: Counter[tuple[str, ...]] = Counter()
    for i in range(t["txn_id"].size):
        lost = bool(t["timed_out"][i]) or ("result_code_null" in t and bool(t["result_code_null"][i]))
        res = "timeout" if lost else _result(int(t["result_code"][i]), bool(t["experimental"][i]))
        key = (t["protocol"][i], t["interface"][i], t["command"][i])
        expected[(*key, res, t["home_plmn"][i], t["visited_plmn"][i])] += 1
        if lost:
            timeouts[(*key, t["home_plmn"][i], t["visited_plmn"][i])] += 1
    m = read(out, "messages")
    for i in np.nonzero(~m["is_request"] & (m["hop"] == 0))[0].tolist():
        if m["result_code_null"][i]:
            res = _result(int(m["experimental_result_code"][i]), True)
        else:
            res = _result(int(m["result_code"][i]), False)
        expected[(m["protocol"][i], m["interface"][i], m["message"][i], res, m["home_plmn"][i],
                  m["visited_plmn"][i])] += 1
    got = values(snap, "roamsim_messages_total")
    assert got == {k: float(v) for k, v in expected.items()}
    # The scenario has lost requests and Experimental-Result-Codes: both label kinds are exercised.
    assert any(k[3] == "timeout" for k in got) and any(k[3].startswith("exp:") for k in got)
    assert values(snap, "roamsim_transaction_timeouts_total") == {k: float(v) for k, v in timeouts.items()}
    assert sum(timeouts.values()) == kpis(out)["overall"]["timeouts"]["transactions"] > 0
    # Each message at the origin is the hop-0 row of messages.parquet: the same totals by name.
    by_name: Counter[str] = Counter()
    for k, v in got.items():
        by_name[k[2]] += int(v)
    assert by_name == Counter(m["message"][m["hop"] == 0].tolist())
    links = Counter(zip(m["origin"], m["destination"], strict=True))
    assert values(snap, "roamsim_link_messages_total") == {k: float(v) for k, v in links.items()}


def test_steering_rejects_equal_parquet_and_kpis(run: tuple[Path, MetricsRegistry]) -> None:
    out, reg = run
    t = read(out, "transactions")
    sel = t["steering_reject"]
    expected = Counter(zip(t["home_plmn"][sel], t["visited_plmn"][sel], strict=True))
    got = values(reg.snapshot(), "roamsim_steering_rejects_total")
    assert got == {k: float(v) for k, v in expected.items()}
    assert sum(got.values()) == kpis(out)["overall"]["attach"]["steering_rejects"] > 0


def test_duration_histogram_equals_parquet(run: tuple[Path, MetricsRegistry]) -> None:
    out, reg = run
    p = read(out, "procedures")
    ok = p["outcome"] == "success"
    hist = family(reg.snapshot(), "roamsim_procedure_duration_seconds")
    keys = set(zip(p["type"][ok], p["home_plmn"][ok], p["visited_plmn"][ok], p["rat"][ok], strict=True))
    assert set(hist) == keys
    bounds = [round(b * NS) for b in DURATION_BUCKETS_S]
    for key, sample in hist.items():
        sel = ok & (p["type"] == key[0]) & (p["home_plmn"] == key[1]) & (p["visited_plmn"] == key[2]) \
            & (p["rat"] == key[3])
        d = (p["end_time"] - p["start_time"])[sel]
        assert sample.count == d.size
        assert sample.sum == int(d.sum()) / NS
        assert sample.buckets is not None
        assert [le for le, _ in sample.buckets] == [*DURATION_BUCKETS_S, float("inf")]
        assert [c for _, c in sample.buckets] == [int((d <= b).sum()) for b in bounds] + [d.size]


def reference_registrations(rows: list[tuple[Any, ...]]) -> Counter[tuple[str, str]]:
    """The rule of roamsim.metrics.extract, applied row by row."""
    state: dict[int, tuple[str, str, str]] = {}
    for ptype, outcome, imsi, mme, home, visited in rows:
        if ptype in REGISTERING and outcome == "success":
            state[imsi] = (mme, home, visited)
        elif (ptype == "cancel_location" or (ptype == "purge" and outcome == "success")) \
                and imsi in state and state[imsi][0] == mme:
            del state[imsi]
    return Counter((h, v) for _, h, v in state.values())


def test_active_roamers_follow_the_registration_rule(run: tuple[Path, MetricsRegistry]) -> None:
    out, reg = run
    p = read(out, "procedures")
    rows = list(zip(p["type"], p["outcome"], p["imsi"].tolist(), p["mme"], p["home_plmn"], p["visited_plmn"],
                    strict=True))
    expected = reference_registrations(rows)
    got = values(reg.snapshot(), "roamsim_active_roamers")
    assert all(v >= 0 for v in got.values())
    assert {k: v for k, v in got.items() if v} == {k: float(v) for k, v in expected.items()}
    assert reg.registered_roamers() == sum(expected.values()) > 0
    assert sum(expected.values()) <= np.unique(p["imsi"]).size


def _batch(events: list[tuple[str, str, int, str, str]]) -> pa.RecordBatch:
    d = pa.dictionary(pa.int8(), pa.string())
    return pa.RecordBatch.from_pydict({
        "type": pa.array([e[0] for e in events]).cast(d), "outcome": pa.array([e[1] for e in events]).cast(d),
        "imsi": pa.array([e[2] for e in events], pa.int64()), "mme": pa.array([e[3] for e in events]).cast(d),
        "home_plmn": pa.array(["001-01"] * len(events)).cast(d),
        "visited_plmn": pa.array([e[4] for e in events]).cast(d),
        "end_time": pa.array(list(range(len(events))), pa.int64()),
    })


_EVENT = st.tuples(st.sampled_from(["attach", "tracking_area_update", "cancel_location", "purge",
                                    "insert_subscriber_data"]),
                   st.sampled_from(["success", "success", "rejected"]), st.integers(0, 2),
                   st.sampled_from(["a.mme1", "b.mme1"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(_EVENT, max_size=40), st.lists(st.integers(1, 40), max_size=5))
def test_registrations_do_not_depend_on_batch_boundaries(events: list[tuple[str, str, int, str]],
                                                         cuts: list[int]) -> None:
    full = [(t, o, i, m, m.split(".")[0]) for t, o, i, m in events]
    expected = reference_registrations([(t, o, i, m, "001-01", v) for t, o, i, m, v in full])
    reg = Registrations()
    gauge: Counter[tuple[str, str]] = Counter()
    bounds = sorted({0, len(full), *(c for c in cuts if c < len(full))})
    for a, b in itertools.pairwise(bounds):
        obs = reg.apply(_batch(full[a:b]))
        if obs is not None:
            codes, names = obs.parts[0]
            assert obs.values is not None
            for c, v in zip(codes.tolist(), obs.values.tolist(), strict=True):
                gauge[names[c]] += v
    assert {k: v for k, v in gauge.items() if v} == dict(expected)
    assert reg.active() == sum(expected.values())


def test_no_label_is_a_subscriber_identity(run: tuple[Path, MetricsRegistry]) -> None:
    out, reg = run
    imsis = {str(i) for i in read(out, "procedures")["imsi"].tolist()}
    names: set[str] = set()
    label_values: set[str] = set()
    for f in reg.snapshot():
        for s in f.samples:
            names.update(s.labels)
            label_values.update(s.labels.values())
    assert names and not names & FORBIDDEN_LABELS
    assert not any(set(f.labels) & FORBIDDEN_LABELS for f in FAMILIES)
    assert label_values and not label_values & imsis
    assert not [v for v in label_values if re.fullmatch(r"\d{10,}", v)]


def test_live_registry_equals_registry_for_run(run: tuple[Path, MetricsRegistry]) -> None:
    out, reg = run
    live, rebuilt = reg.snapshot(), registry_for_run(out).snapshot()
    assert [f.name for f in live] == [f.name for f in FAMILIES]
    assert live == rebuilt
    info = values(live, "roamsim_run_info")
    assert len(info) == 1 and next(iter(info))[1] == "quickstart"


def test_batches_from_several_threads(run: tuple[Path, MetricsRegistry]) -> None:
    out, reg = run
    batches = [(k, b) for k in RECORD_FILES if k != "procedures" for b in record_batches(out, k)]
    small = [(k, b.slice(i, 500)) for k, b in batches for i in range(0, b.num_rows, 500)]
    fresh = MetricsRegistry()
    def feed(part: list[tuple[str, pa.RecordBatch]]) -> None:
        for k, b in part:
            fresh.record_batch(k, b)

    threads = [threading.Thread(target=feed, args=(small[j::4],)) for j in range(4)]
    for th in threads:
        th.start()
    snaps = [fresh.snapshot() for _ in range(5)]  # reading while writing must not fail
    for th in threads:
        th.join()
    assert len(snaps) == 5
    for name in ("roamsim_messages_total", "roamsim_link_messages_total", "roamsim_transaction_timeouts_total"):
        assert values(fresh.snapshot(), name) == values(reg.snapshot(), name)


def test_metrics_prom_is_the_final_textfile(run: tuple[Path, MetricsRegistry]) -> None:
    out, reg = run
    text = (out / "metrics.prom").read_text(encoding="utf-8")
    assert text == encode_text(reg.snapshot(), timestamps=False)
    assert not list(out.glob(".*.tmp"))
    parsed = parse_samples(text)
    assert parsed and all(ts is None for *_, ts in parsed)  # textfile collector: no timestamps
    ulr = sum(v for n, lab, v, _ in parsed if n == "roamsim_messages_total" and lab["message"] == "ULR")
    assert ulr == int((read(out, "transactions")["command"] == "ULR").sum())
    res = subprocess.run([binary("promtool"), "check", "metrics"], input=text, capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0 and res.stdout == "" and res.stderr == "", res.stdout + res.stderr


def test_label_values_are_escaped() -> None:
    odd = 'a "quoted" \\ back\nslash'
    fam = FamilySnapshot("roamsim_link_messages_total", "counter", 'help with \\ and "quotes"\nand a newline', "",
                         [SampleSnapshot({"origin": odd, "destination": "x"}, 3.0)])
    text = encode_text([fam])
    assert parse_samples(text) == [("roamsim_link_messages_total", {"origin": odd, "destination": "x"}, 3.0, None)]
    res = subprocess.run([binary("promtool"), "check", "metrics"], input=text, capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0, res.stdout + res.stderr
