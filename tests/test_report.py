"""The HTML report of a run (report.html): its figures equal kpis.json and the Parquet files, it is self-contained.

The page is parsed with the standard library's HTML parser; every figure the report
takes from kpis.json carries ``data-kpi`` (its JSON path) and ``data-value``, and
derived figures carry ``data-metric``. The oracles here recompute what the page
shows from the Parquet files with plain NumPy/Python, independently of
``roamsim.report``.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter, defaultdict
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from roamsim import simulate
from roamsim.cli.main import cli
from roamsim.report import REPORT_FILE, ReportInputError, bins, codes, write_report
from roamsim.sinks.kpis import result_label
from runkit import NS, Columns, kpis, read, run, scenario

PLMN = {"uk-alpha": "234-15", "de-beta": "262-02", "es-one": "214-01", "es-two": "214-03", "pt-one": "268-01"}
SCENARIO: dict[str, Any] = {
    "name": "report",
    "seed": 5,
    "window": {"start": "2027-07-03T00:00:00Z", "duration": "6h"},
    "operators": [
        {"id": "uk-alpha", "plmn": PLMN["uk-alpha"], "country": "GB",
         "hss": {"servers": 4, "transient_errors": "2%"}},
        {"id": "de-beta", "plmn": PLMN["de-beta"], "country": "DE", "hss": {"servers": 4}},
        {"id": "es-one", "plmn": PLMN["es-one"], "country": "ES", "mmes": 2},
        {"id": "es-two", "plmn": PLMN["es-two"], "country": "ES", "mmes": 2},
        {"id": "pt-one", "plmn": PLMN["pt-one"], "country": "PT", "mmes": 1},
    ],
    "agreements": [{"home": "uk-alpha", "visited": ["es-one", "es-two", "pt-one"]},
                   {"home": "de-beta", "visited": ["es-one", "es-two"]}],
    "steering": [{"home": "uk-alpha", "country": "ES", "preferred": ["es-one"], "max_rejects": 5},
                 {"home": "de-beta", "country": "ES", "preferred": ["es-two"], "max_rejects": 2}],
    "cohorts": [
        {"name": "uk", "home": "uk-alpha", "roamers": 500, "destinations": {"ES": 0.8, "PT": 0.2},
         "arrivals": {"profile": "flat"}, "stay": "3d"},
        {"name": "de", "home": "de-beta", "roamers": 200, "destinations": {"ES": 1}, "arrivals": {"profile": "flat"},
         "stay": "3d"},
    ],
}
"""Two steering policies: UK roamers are rejected up to 5 times (the UE's attempt counter: they move to the
preferred partner), German ones only twice (the policy gives up and the non-preferred partner keeps them);
2 % transient HSS errors for an error mix."""


def without_steering() -> dict[str, Any]:
    data = copy.deepcopy(SCENARIO)
    del data["steering"]
    return data


class Element:
    def __init__(self, tag: str, attrs: dict[str, str], ancestors: list[Element]) -> None:
        self.tag, self.attrs, self.text, self.ancestors = tag, attrs, "", ancestors

    def inside(self, container: Element) -> bool:
        return any(a is container for a in self.ancestors)


class Page(HTMLParser):
    """Every element with its attributes and text (text collected into all open elements)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        e = Element(tag, {k: v or "" for k, v in attrs}, list(self._open))
        self.elements.append(e)
        if tag not in ("meta", "br", "img", "input", "link", "hr", "col"):
            self._open.append(e)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {k: v or "" for k, v in attrs}, list(self._open)))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                break

    def handle_data(self, data: str) -> None:
        for e in self._open:
            e.text += data

    def find(self, tag: str | None = None, **attrs: str) -> list[Element]:
        return [e for e in self.elements if (tag is None or e.tag == tag)
                and all(e.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def having(self, attr: str) -> list[Element]:
        return [e for e in self.elements if attr in e.attrs]


def kpi_at(k: dict[str, Any], path: list[str]) -> Any:
    cur: Any = k
    for p in path:
        assert isinstance(cur, dict) and p in cur, f"{path} is not in kpis.json"
        cur = cur[p]
    return cur


def shown_matches(text: str, value: float, unit: str) -> bool:
    """The figure as displayed agrees with its exact value."""
    t = text.replace(",", "").replace("−", "-").strip()
    if unit == "ratio":
        return t == f"{100 * value:.2f}%"
    if unit == "ms":
        m = re.fullmatch(r"(-?[\d.]+) (ms|s)", t)
        assert m, t
        shown = float(m.group(1)) * (1000 if m.group(2) == "s" else 1)
        return abs(shown - value) <= (5 if m.group(2) == "s" else 0.05) + 1e-9
    if unit == "tps":
        return abs(float(t) - value) <= 5e-5
    return abs(float(t) - value) <= (0.5 if float(value).is_integer() else 5e-4 * max(1.0, abs(value)))


@pytest.fixture(scope="module")
def steered_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "steered"
    run(SCENARIO, out)
    return out


@pytest.fixture(scope="module")
def page(steered_run: Path) -> Page:
    return Page((steered_run / REPORT_FILE).read_text(encoding="utf-8"))


def test_every_run_writes_its_report(steered_run: Path) -> None:
    manifest = json.loads((steered_run / "manifest.json").read_text(encoding="utf-8"))
    assert REPORT_FILE in manifest["files"]
    assert manifest["phases"]["report_s"] >= 0
    assert (steered_run / REPORT_FILE).stat().st_size > 10_000
    assert not list(steered_run.glob("*.tmp"))


def test_figures_equal_kpis_json(steered_run: Path, page: Page) -> None:
    k = kpis(steered_run)
    figures = page.having("data-kpi")
    assert len(figures) > 100
    paths = set()
    for e in figures:
        path = json.loads(e.attrs["data-kpi"])
        paths.add(tuple(path))
        expected = kpi_at(k, path)
        if expected is None:
            assert e.attrs["data-value"] == "" and e.text == "n/a", path
            continue
        assert float(e.attrs["data-value"]) == pytest.approx(expected, abs=0, rel=1e-12), path
        assert shown_matches(e.text, float(expected), e.attrs["data-unit"]), (path, e.text, expected)
    # The headline KPIs the brief names are all there.
    for path in [("overall", "attach", "first_attempt_success_ratio"),
                 ("overall", "registration", "eventual_success_ratio"),
                 *[("overall", "latency", "attach", f"p{q}_ms") for q in (50, 95, 99)],
                 ("overall", "timeouts", "transactions"),
                 ("steering", "234-15 in ES", "share_on_preferred"),
                 ("per_partner", "234-15->214-03", "attach", "attempts"),
                 ("per_partner", "262-02->214-01", "attach", "steering_rejects")]:
        assert path in paths, path
    # Every partner pair and every link of kpis.json is in the page.
    assert {p[1] for p in paths if p[0] == "per_partner"} == set(k["per_partner"])
    assert {p[2] for p in paths if p[:2] == ("tps", "per_link")} == set(k["tps"]["per_link"])


def test_the_page_references_nothing_outside_itself(steered_run: Path, page: Page) -> None:
    text = (steered_run / REPORT_FILE).read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text and "//" not in re.sub(r"<script>.*?</script>", "",
                                                                                  text, flags=re.S)
    assert "@import" not in text and "url(" not in text
    for e in page.elements:
        for attr in ("src", "href", "xlink:href", "action", "srcset", "poster", "data"):
            value = e.attrs.get(attr)
            assert value is None or value.startswith("#"), (e.tag, attr, value)
    assert not page.find("link") and not page.find("iframe") and not page.find("img")
    scripts = page.find("script")
    assert len(scripts) == 1 and "src" not in scripts[0].attrs
    csp = page.find("meta", http_equiv="Content-Security-Policy")
    assert len(csp) == 1 and "default-src 'none'" in csp[0].attrs["content"]


def _partner_outcomes(p: Columns) -> dict[str, Counter[str]]:
    reg = np.isin(p["type"], ["attach", "location_update", "registration"])
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for h, v, o in zip(p["home_plmn"][reg], p["visited_plmn"][reg], p["outcome"][reg], strict=True):
        out[f"{h}->{v}"][str(o)] += 1
    return out


def test_per_partner_rejects_and_timeouts_equal_the_procedures(steered_run: Path, page: Page) -> None:
    k = kpis(steered_run)
    outcomes = _partner_outcomes(read(steered_run, "procedures"))
    rejected = page.find("span", data_metric="attach_rejected")
    timeouts = page.find("span", data_metric="attach_timeout")
    pairs = sorted(k["per_partner"])
    assert len(rejected) == len(timeouts) == len(pairs)
    for pair, rej, tout in zip(pairs, rejected, timeouts, strict=True):
        assert int(rej.attrs["data-value"]) == outcomes[pair]["rejected"]
        assert int(tout.attrs["data-value"]) == outcomes[pair]["timeout"]
        attach = k["per_partner"][pair]["attach"]
        assert attach["successes"] + outcomes[pair]["rejected"] + outcomes[pair]["timeout"] == attach["attempts"]
    assert sum(outcomes[p]["rejected"] for p in pairs) > 0


def test_time_series_totals_equal_the_records(steered_run: Path, page: Page) -> None:
    k = kpis(steered_run)
    p = read(steered_run, "procedures")
    charts = {e.attrs["data-chart"] for e in page.having("data-chart")}
    assert {"registrations", "tps-links", "duration-attach"} <= charts
    assert any(c.startswith("rtt-diameter-S6a") for c in charts)
    totals = {e.attrs["data-metric"]: float(e.attrs["data-value"]) for e in page.having("data-metric")
              if e.attrs["data-metric"].startswith("registrations|")}
    attach = p["type"] == "attach"
    assert totals["registrations|attach successful"] == int((attach & (p["outcome"] == "success")).sum())
    assert totals["registrations|attach successful"] == k["overall"]["attach"]["successes"]
    assert totals["registrations|attach rejected by steering"] == int((attach & p["steered"]).sum())
    assert totals["registrations|attach rejected by steering"] == k["overall"]["attach"]["steering_rejects"]
    rejected = attach & (p["outcome"] == "rejected") & ~p["steered"]
    assert totals["registrations|attach rejected"] == int(rejected.sum()) > 0  # transient HSS errors
    # A series with nothing to count is left out (no timeout in this run).
    assert totals.get("registrations|attach timed out", 0) == int((attach & (p["outcome"] == "timeout")).sum())


def test_error_mix_equals_kpis_json(steered_run: Path, page: Page) -> None:
    k = kpis(steered_run)
    rows = [e for e in page.find("tr") if "data-code" in e.attrs]
    counts = [e for e in page.find("span", data_metric="answers")]
    assert len(rows) == len(counts) > 2
    mix: Counter[str] = Counter()
    timeouts = 0
    for row, count in zip(rows, counts, strict=True):
        n = int(count.attrs["data-value"])
        if row.attrs["data-code"] == "":
            timeouts += n
        else:
            code, exp = int(row.attrs["data-code"]), row.attrs["data-experimental"] == "true"
            mix[result_label(row.attrs["data-protocol"], code, exp)] += n
            assert str(code) in row.text
    assert dict(mix) == k["overall"]["error_mix"]
    assert timeouts == k["overall"]["timeouts"]["transactions"] > 0
    assert "DIAMETER_UNABLE_TO_COMPLY" in page.find("section", id="errors")[0].text


def _funnel_oracle(p: Columns, home: str, country_plmns: set[str], preferred: set[str]) -> tuple[int, int, int]:
    """Steered roamers, and of them: first success after the first reject on a preferred / other partner."""
    reg = (p["type"] == "attach") & (p["home_plmn"] == home) & np.isin(p["visited_plmn"], list(country_plmns))
    first_reject: dict[int, int] = {}
    for i in np.nonzero(reg & p["steered"])[0].tolist():
        imsi = int(p["imsi"][i])
        first_reject[imsi] = min(first_reject.get(imsi, 2**62), int(p["start_time"][i]))
    first_ok: dict[int, tuple[int, str]] = {}
    for i in np.nonzero(reg & (p["outcome"] == "success"))[0].tolist():
        imsi = int(p["imsi"][i])
        if imsi in first_reject and int(p["start_time"][i]) >= first_reject[imsi]:
            cand = (int(p["end_time"][i]), str(p["visited_plmn"][i]))
            first_ok[imsi] = min(first_ok.get(imsi, cand), cand)
    landed = sum(1 for _, v in first_ok.values() if v in preferred)
    return len(first_reject), landed, len(first_ok) - landed


@pytest.mark.parametrize(("home", "preferred", "outcome"), [("uk-alpha", "es-one", "landed_on_preferred"),
                                                           ("de-beta", "es-two", "accepted_after_cap")])
def test_steering_funnel_equals_the_procedures(home: str, preferred: str, outcome: str, steered_run: Path,
                                               page: Page) -> None:
    policy = f"{PLMN[home]} in ES"
    k = kpis(steered_run)["steering"][policy]
    steered, landed, accepted = _funnel_oracle(read(steered_run, "procedures"), PLMN[home],
                                               {PLMN["es-one"], PLMN["es-two"]}, {PLMN[preferred]})
    funnel = page.find("div", data_policy=policy)
    assert len(funnel) == 1
    figs = {e.attrs.get("data-metric") or json.loads(e.attrs["data-kpi"])[-1]: float(e.attrs["data-value"])
            for e in page.elements if e.tag == "span" and e.attrs.get("data-value") and e.inside(funnel[0])}
    assert figs["steered_roamers"] == steered == k["steered_roamers"] > 0
    assert figs["landed_on_preferred"] == landed
    assert figs["accepted_after_cap"] == accepted
    assert figs[outcome] > 0  # the policy's cap decides where steered roamers end up
    assert figs["not_registered"] == steered - landed - accepted
    assert figs["steering_rejects"] == k["steering_rejects"]


def test_ladder_shows_a_steered_retry_with_every_message(steered_run: Path, page: Page) -> None:
    section = page.find("section", id="ladder")[0]
    imsi = int(section.attrs["data-imsi"])
    p = read(steered_run, "procedures")
    mine = p["imsi"] == imsi
    assert (mine & p["steered"] & (p["trigger"] == "retry")).any()
    # The lowest procedure id of a steered retry, as documented.
    candidates = p["procedure_id"][p["steered"] & (p["trigger"] == "retry")]
    first = int(candidates.min())
    assert int(p["imsi"][p["procedure_id"] == first][0]) == imsi
    ids = [int(e.text) for e in page.find("td") if e.inside(section) and e.text.strip().isdigit()]
    assert first in ids
    m = read(steered_run, "messages")
    n_messages = int(np.isin(m["procedure_id"], ids).sum())
    arrows = [e for e in page.find("g", **{"class": "row"}) if e.inside(section)]
    assert len(arrows) == min(n_messages, 160) > 10
    roles = [e.text for e in page.find("text", **{"class": "role"})]
    s6a = [r for r in roles if r in ("MME", "V-DEA", "IPX", "H-DEA", "HSS")]
    assert s6a[-3:] == ["IPX", "H-DEA", "HSS"] and "MME" in s6a and "V-DEA" in s6a
    assert s6a.index("MME") < s6a.index("V-DEA") < s6a.index("IPX")
    # Steering rejects appear with their code and name.
    assert "5012 DIAMETER_UNABLE_TO_COMPLY" in section.text


def test_report_command(steered_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "again.html"
    res = CliRunner().invoke(cli, ["report", str(steered_run), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == f"wrote {out}"
    # Same inputs, same page.
    assert out.read_bytes() == (steered_run / REPORT_FILE).read_bytes()


@pytest.mark.parametrize("case", ["missing", "not-a-run", "partial"])
def test_report_command_rejects_what_is_not_a_finished_run(case: str, steered_run: Path, tmp_path: Path) -> None:
    target = tmp_path / "x"
    if case != "missing":
        target.mkdir()
    if case == "partial":
        for f in steered_run.iterdir():
            if f.suffix == ".parquet" or f.name == "manifest.json":
                (target / f.name).write_bytes(f.read_bytes())
    res = CliRunner().invoke(cli, ["report", str(target)])
    assert res.exit_code == 2
    assert res.stderr.startswith(f"error: {target}")
    assert {"missing": "no such directory", "not-a-run": "no manifest.json", "partial": "no kpis.json"}[case] \
        in res.stderr
    assert "Traceback" not in res.stderr
    with pytest.raises(ReportInputError):
        write_report(target)


def test_a_reused_run_directory_loses_its_old_report(tmp_path: Path) -> None:
    out = tmp_path / "run"
    small = copy.deepcopy(SCENARIO)
    small["cohorts"] = [dict(small["cohorts"][1], roamers=20)]
    run(small, out)
    assert (out / REPORT_FILE).exists()

    def stop(_: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simulate(scenario(small), out, progress=stop)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "partial"
    assert not (out / REPORT_FILE).exists() and not (out / "kpis.json").exists()


def test_report_of_an_empty_run(tmp_path: Path) -> None:
    """No roamer arrives in the window: the report still renders (no ladder, no data)."""
    data = copy.deepcopy(SCENARIO)
    data["window"]["start"] = "2027-07-03T00:00:00Z"
    data["window"]["duration"] = "1s"
    for c in data["cohorts"]:
        c["roamers"] = 1
    out = tmp_path / "tiny"
    run(data, out)
    text = (out / REPORT_FILE).read_text(encoding="utf-8")
    assert "<svg" in text and text.rstrip().endswith("</html>")


def test_percentiles_per_interval_are_within_the_histogram_resolution() -> None:
    rng = np.random.default_rng(3)
    nbins = 4
    d_ns = (rng.lognormal(np.log(30e6), 0.8, 20_000)).astype(np.int64)
    b = rng.integers(0, nbins, d_ns.size)
    hist: dict[Any, np.ndarray] = {}
    bins.add_hist(hist, np.zeros(d_ns.size, dtype=np.int64), b, d_ns, nbins)
    got = bins.percentiles(hist[0], (50.0, 95.0, 99.0))
    for i in range(nbins):
        exact = np.percentile(d_ns[b == i], [50, 95, 99], method="inverted_cdf") / 1e6
        # One bin is 10^(1/100) wide: the bin centre is within ±1.2 % of any value in it.
        assert np.allclose(got[i], exact, rtol=0.012), (got[i], exact)
    empty = bins.percentiles(np.zeros((2, bins.HIST_BINS), dtype=np.int64), (50.0,))
    assert np.isnan(empty).all()


@pytest.mark.parametrize(("window_s", "step_s"), [(1, 1), (3600, 10), (6 * 3600, 60), (86400, 300),
                                                  (7 * 86400, 1800), (365 * 86400, 86400)])
def test_intervals_are_round_and_at_most_400(window_s: int, step_s: int) -> None:
    assert bins.choose_step(window_s * NS) == step_s * NS
    assert -(-window_s // step_s) <= bins.MAX_BINS


@pytest.mark.parametrize(("protocol", "code", "experimental", "name", "success"), [
    ("diameter", 2001, False, "DIAMETER_SUCCESS", True),
    ("diameter", 5004, True, "DIAMETER_ERROR_ROAMING_NOT_ALLOWED", False),
    ("diameter", 5004, False, "UNKNOWN", False),  # 5004 as a base Result-Code is not named in the catalogue
    ("MAP", 0, False, "returnResult", True),
    ("MAP", 8, False, "roamingNotAllowed", False),
    ("SBI", 201, False, "Created", True),
    ("SBI", 403, False, "ROAMING_NOT_ALLOWED", False),
    ("GTPv2", 16, False, "Request accepted", True),
    ("GTPv2", 73, False, "UNKNOWN", False),
    ("ISUP", 16, False, "UNKNOWN", None),
])
def test_result_names_come_from_the_catalogue(protocol: str, code: int, experimental: bool, name: str,
                                              success: bool | None) -> None:
    assert codes.result_name(protocol, code, experimental) == name
    assert codes.is_success(protocol, code) is success
