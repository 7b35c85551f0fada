"""Broken scenario files: each must fail validation with exit code 2, naming the path and what was expected.

Every case is the base scenario below (the bundled quickstart) with exactly one thing broken.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from roamsim.cli.main import cli
from roamsim.scenario import ScenarioError, load_scenario

BASE = """\
# based on examples/quickstart.yaml
name: quickstart
seed: 42
window: {start: 2027-07-03T00:00:00Z, duration: 1d}

operators:
  - {id: uk-alpha, name: UK Alpha, plmn: "234-15", country: GB,
     hss: {servers: 4, service: {lognormal: {median: 5ms, p99: 150ms}}, queue_limit: 1000}}
  - {id: de-beta, name: DE Beta, plmn: "262-02", country: DE}
  - {id: es-one, name: ES One, plmn: "214-01", country: ES, mmes: 4, share: 1.0}
  - {id: es-two, name: ES Two, plmn: "214-03", country: ES, mmes: 3, share: 1.0}
  - {id: pt-one, name: PT One, plmn: "268-01", country: PT, mmes: 2}

ipx:
  hop_delay: 1ms
  jitter: 10%

agreements:
  - {home: uk-alpha, visited: [es-one, es-two, pt-one], rats: [4G], data: home-routed}
  - {home: de-beta, visited: [es-one, es-two], rats: [4G], data: local-breakout}

steering:
  - home: uk-alpha
    country: ES
    preferred: [es-one]
    reject_with: unable-to-comply
    max_rejects: 5

cohorts:
  - name: uk-tourists
    home: uk-alpha
    roamers: 3000
    destinations: {ES: 0.8, PT: 0.2}
    stay: {lognormal: {median: 5d, p99: 14d}}
  - name: de-business
    home: de-beta
    roamers: 1000
    destinations: {ES: 1.0}
    arrivals: {profile: diurnal}
    stay: {uniform: {low: 1d, high: 3d}}
"""


@dataclass(frozen=True)
class Case:
    id: str
    old: str
    """Text in BASE to replace (must occur exactly once)."""
    new: str
    path: str
    """The field path the error must name ('' for file-level problems such as YAML syntax)."""
    fragments: tuple[str, ...]
    """Text the error must contain (what was wrong and what was expected)."""

    def text(self) -> str:
        assert BASE.count(self.old) == 1, f"{self.id}: {self.old!r} must occur once in BASE"
        return BASE.replace(self.old, self.new)


CASES = [
    Case("unknown-rat-in-agreement", "rats: [4G], data: home-routed", "rats: [4G, 6G], data: home-routed",
         "agreements[0].rats[1]", ("'6G'", "'2G', '3G', '4G' or '5G'")),
    Case("device-weights-negative", "    stay: {lognormal: {median: 5d, p99: 14d}}",
         "    stay: {lognormal: {median: 5d, p99: 14d}}\n    devices: {5G: -1}", "cohorts[0].devices",
         ("{'5G': -1}", "non-negative weight with a positive total")),
    Case("usage-bad-size", "    stay: {uniform: {low: 1d, high: 3d}}",
         "    stay: {uniform: {low: 1d, high: 3d}}\n    usage: {data_per_day: 3 apples}",
         "cohorts[1].usage.data_per_day", ("'3 apples'", "a data size with a unit")),
    Case("timeout-bare-number", "seed: 42\n", "seed: 42\ntimeouts: {map: 15}\n", "timeouts.map",
         ("bare number is ambiguous", "a duration with a unit")),
    Case("unknown-top-level-key", "seed: 42\n", "seed: 42\nseeds: 7\n", "seeds",
         ("unknown key 'seeds'", "expected one of: name, seed, window")),
    Case("unknown-nested-key", "    stay: {lognormal: {median: 5d, p99: 14d}}",
         "    stai: {lognormal: {median: 5d, p99: 14d}}", "cohorts[0].stai",
         ("unknown key 'stai'", "stay")),
    Case("unknown-key-inside-distribution", "median: 5d, p99: 14d", "median: 5d, p90: 14d", "cohorts[0].stay",
         ("lognormal takes exactly the keys median, p99",)),
    Case("unknown-operator-in-cohort", "    home: de-beta\n", "    home: de-beeta\n", "cohorts[1].home",
         ("'de-beeta' is not a known operator", "did you mean 'de-beta'",
          "expected one of: de-beta, es-one, es-two, pt-one, uk-alpha")),
    Case("bad-plmn-format", '"234-15"', '"23415"', "operators[0].plmn",
         ("'23415'", '"MCC-MNC"', '"234-15"')),
    Case("plmn-as-number", '"234-15"', "23415", "operators[0].plmn", ("23415", '"MCC-MNC"')),
    Case("duration-bad-unit", "duration: 1d}", "duration: 5 parsecs}", "window.duration",
         ("'5 parsecs'", "expected a duration with a unit")),
    Case("duration-bare-number", "duration: 1d}", "duration: 86400}", "window.duration",
         ("bare number is ambiguous", "a duration with a unit")),
    Case("lognormal-p99-below-median", "median: 5d, p99: 14d", "median: 14d, p99: 5d", "cohorts[0].stay",
         ("0 < median < p99",)),
    Case("destination-without-operator", "{ES: 0.8, PT: 0.2}", "{ES: 0.8, FR: 0.2}", "cohorts[0].destinations.FR",
         ("'FR' has no operator in this scenario", "expected one of: DE, ES, GB, PT")),
    Case("destination-is-home-country", "{ES: 0.8, PT: 0.2}", "{ES: 0.8, GB: 0.2}", "cohorts[0].destinations.GB",
         ("home country of 'uk-alpha'", "expected a destination abroad")),
    Case("duplicate-operator-id", "{id: es-two,", "{id: es-one,", "operators[3].id",
         ("'es-one' is already used by operators[2]",)),
    Case("duplicate-yaml-key", "    roamers: 3000\n", "    roamers: 3000\n    roamers: 4000\n", "",
         ("duplicate key 'roamers'", "line 33, column 5")),
    Case("yaml-syntax-error", "{ES: 0.8, PT: 0.2}", "{ES: 0.8, PT: 0.2", "",
         ("not valid YAML at line 34", "while parsing a flow mapping started at line 33, column 19")),
    Case("steering-preferred-in-wrong-country", "preferred: [es-one]", "preferred: [pt-one]",
         "steering[0].preferred[0]", ("'pt-one' is in PT", "expected an operator in ES")),
    Case("steering-unknown-country", "    country: ES\n", "    country: FR\n", "steering[0].country",
         ("'FR' has no operator in this scenario",)),
    Case("negative-roamers", "roamers: 3000", "roamers: -5", "cohorts[0].roamers",
         ("-5", "greater than or equal to 1")),
    Case("unknown-reject-with", "reject_with: unable-to-comply", "reject_with: unable-to-complain",
         "steering[0].reject_with", ("'unable-to-complain'", "'unable-to-comply'", "'roaming-not-allowed'")),
    Case("window-missing", "window: {start: 2027-07-03T00:00:00Z, duration: 1d}\n", "", "window",
         ("required field is missing",)),
    Case("unknown-country-code", "country: DE}", "country: XX}", "operators[1].country",
         ("unknown country 'XX'", "ISO 3166-1 alpha-2")),
    Case("percentage-out-of-range", "jitter: 10%", "jitter: 150%", "ipx.jitter",
         ("'150%'", "a fraction between 0 and 1")),
    Case("unknown-rat", "rats: [4G], data: local", "rats: [6G], data: local", "agreements[1].rats[0]",
         ("'6G'", "'4G'", "'5G'")),
    Case("unknown-distribution-family", "stay: {uniform:", "stay: {gamma:", "cohorts[1].stay",
         ("unknown distribution 'gamma'", "lognormal")),
    Case("unknown-visited-operator", "visited: [es-one, es-two], rats", "visited: [es-one, es-three], rats",
         "agreements[1].visited[1]", ("'es-three' is not a known operator", "expected one of:")),
    Case("zero-window", "duration: 1d}", "duration: 0s}", "window.duration", ("must be positive",)),
]


def _write(tmp_path: Path, case: Case) -> Path:
    path = tmp_path / f"{case.id}.yaml"
    path.write_text(case.text(), encoding="utf-8")
    return path


def _check_output(text: str, path: Path, case: Case) -> None:
    assert "Traceback" not in text
    assert f"{path}: invalid scenario" in text
    if case.path:
        assert f"  {case.path}: " in text, text
    for fragment in case.fragments:
        assert fragment in text, f"{fragment!r} not in:\n{text}"


def test_base_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "base.yaml"
    path.write_text(BASE, encoding="utf-8")
    s = load_scenario(path)
    assert [c.roamers for c in s.cohorts] == [3000, 1000]


def test_enough_cases() -> None:
    assert len(CASES) >= 15
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_library_error_names_path_and_expectation(tmp_path: Path, case: Case) -> None:
    path = _write(tmp_path, case)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    problems = info.value.problems
    assert problems
    assert case.path in [p.path for p in problems], problems
    _check_output(info.value.render(), path, case)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_validate_command_exits_2(tmp_path: Path, case: Case) -> None:
    path = _write(tmp_path, case)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    _check_output(result.stderr, path, case)


def test_validate_reports_every_file_and_fails_if_any_is_bad(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(BASE, encoding="utf-8")
    bad = _write(tmp_path, CASES[0])
    result = CliRunner().invoke(cli, ["validate", str(bad), str(good)])
    assert result.exit_code == 2
    assert f"{good}: ok (5 operators, 2 cohorts, 4,000 roamers)" in result.stdout
    assert f"{bad}: invalid scenario" in result.stderr


def test_missing_file_is_bad_input(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = CliRunner().invoke(cli, ["validate", str(missing)])
    assert result.exit_code == 2
    assert "cannot read the file" in result.stderr
    assert "Traceback" not in result.output


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    assert "expected a mapping at the top level" in result.stderr


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.id in ("unknown-operator-in-cohort", "yaml-syntax-error")], ids=lambda c: c.id
)
def test_validate_in_a_real_process(tmp_path: Path, case: Case) -> None:
    path = _write(tmp_path, case)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROAMSIM_")}
    proc = subprocess.run(
        [sys.executable, "-m", "roamsim", "validate", str(path)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    _check_output(proc.stderr, path, case)


def test_run_with_a_broken_scenario_exits_2_before_simulating(tmp_path: Path) -> None:
    path = _write(tmp_path, CASES[0])
    result = CliRunner().invoke(cli, ["run", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    _check_output(result.stderr, path, CASES[0])
    assert not (tmp_path / "out").exists()
