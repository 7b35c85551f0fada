"""The roamsim command line: version, schema, examples, validate (run is tested with the engine)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import roamsim
from roamsim.cli.main import bundled_examples, cli

EXAMPLES_DIR = Path(roamsim.__file__).parent / "examples"
EXAMPLE_FILES = sorted(EXAMPLES_DIR.glob("*.yaml"))


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def test_version() -> None:
    for flag in ("--version", "-V"):
        result = _invoke(flag)
        assert result.exit_code == 0
        assert result.stdout == f"roamsim {roamsim.__version__}\n"


def test_help_lists_the_commands() -> None:
    result = _invoke("--help")
    assert result.exit_code == 0
    for command in ("run", "validate", "schema", "examples"):
        assert f"  {command} " in result.stdout


def test_run_help_shows_env_vars() -> None:
    result = _invoke("run", "--help")
    assert result.exit_code == 0
    for envvar in ("ROAMSIM_RUN_OUTPUT", "ROAMSIM_RUN_SEED", "ROAMSIM_RUN_SCALE", "ROAMSIM_DEBUG"):
        assert envvar in result.stdout


def test_unknown_command_is_a_usage_error() -> None:
    result = _invoke("valdate", "x.yaml")
    assert result.exit_code == 2
    assert "validate" in result.stderr  # click's "did you mean"


# -------------------------------------------------------------------- schema


def _schema() -> dict[str, Any]:
    result = _invoke("schema")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_schema_is_json_with_the_top_level_fields() -> None:
    schema = _schema()
    assert schema["type"] == "object"
    assert {"cohorts", "operators", "window", "steering"} <= set(schema["properties"])
    assert set(schema["required"]) >= {"window", "operators", "cohorts"}
    assert schema["additionalProperties"] is False


def test_schema_uses_the_names_users_write() -> None:
    surge = _schema()["$defs"]["Surge"]
    assert "for" in surge["properties"]
    assert "for_" not in surge["properties"]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_schema_refs_resolve() -> None:
    schema = _schema()
    refs = _refs(schema)
    assert refs
    for ref in refs:
        assert ref.startswith("#/$defs/")
        assert ref.removeprefix("#/$defs/") in schema["$defs"]


def _as_json(value: Any) -> Any:
    """YAML data as JSON would carry it (YAML timestamps become ISO strings)."""
    return json.loads(json.dumps(value, default=lambda v: v.isoformat()))


def test_schema_is_valid_and_accepts_the_examples() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = _schema()
    validator_cls = jsonschema.validators.validator_for(schema)
    validator_cls.check_schema(schema)
    validator = validator_cls(schema)
    for path in EXAMPLE_FILES:
        data = _as_json(yaml.safe_load(path.read_text(encoding="utf-8")))
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
        assert not errors, f"{path.name}: {errors}"


# ------------------------------------------------------------------ examples


def test_examples_are_bundled() -> None:
    assert EXAMPLE_FILES, "no bundled examples"
    assert "quickstart" in bundled_examples()
    assert sorted(bundled_examples()) == [p.stem for p in EXAMPLE_FILES]


def test_examples_lists_names_with_their_first_comment() -> None:
    result = _invoke("examples")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == len(EXAMPLE_FILES)
    quickstart = next(line for line in lines if line.startswith("quickstart "))
    first_comment = (EXAMPLES_DIR / "quickstart.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert quickstart.split(maxsplit=1)[1] == first_comment.lstrip("# ")


def test_examples_name_prints_the_file() -> None:
    for name in ("quickstart", "quickstart.yaml"):
        result = _invoke("examples", name)
        assert result.exit_code == 0
        assert result.stdout == (EXAMPLES_DIR / "quickstart.yaml").read_text(encoding="utf-8")


def test_examples_unknown_name_suggests() -> None:
    result = _invoke("examples", "quikstart")
    assert result.exit_code == 2
    assert "did you mean 'quickstart'" in result.stderr


def test_examples_copy_writes_all_files(tmp_path: Path) -> None:
    target = tmp_path / "scenarios"
    result = _invoke("examples", "--copy", str(target))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in target.iterdir()) == [p.name for p in EXAMPLE_FILES]
    for p in EXAMPLE_FILES:
        assert (target / p.name).read_bytes() == p.read_bytes()
        assert f"wrote {target / p.name}" in result.stdout


def test_examples_copy_one_and_refuse_to_overwrite(tmp_path: Path) -> None:
    assert _invoke("examples", "quickstart", "--copy", str(tmp_path)).exit_code == 0
    assert [p.name for p in tmp_path.iterdir()] == ["quickstart.yaml"]
    (tmp_path / "quickstart.yaml").write_text("# edited\n", encoding="utf-8")
    again = _invoke("examples", "quickstart", "--copy", str(tmp_path))
    assert again.exit_code == 2
    assert "--force" in again.stderr
    assert (tmp_path / "quickstart.yaml").read_text(encoding="utf-8") == "# edited\n"
    forced = _invoke("examples", "quickstart", "--copy", str(tmp_path), "--force")
    assert forced.exit_code == 0
    assert (tmp_path / "quickstart.yaml").read_bytes() == (EXAMPLES_DIR / "quickstart.yaml").read_bytes()


# ------------------------------------------------------------------ validate


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.name for p in EXAMPLE_FILES])
def test_every_bundled_example_validates(path: Path) -> None:
    result = _invoke("validate", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{path}: ok (")
    assert " operators, " in result.stdout or " operator, " in result.stdout
    assert result.stderr == ""


def test_validate_needs_a_file() -> None:
    result = _invoke("validate")
    assert result.exit_code == 2
    assert "Missing argument" in result.stderr


# ----------------------------------------------------------- run (exit codes)
# The engine is replaced by a fake here: these tests pin the CLI's contract
# (arguments passed on, exit codes, messages), not the simulation.


class _FakeSimulate:
    def __init__(self, outcome: BaseException | None = None, status: str = "complete") -> None:
        self.outcome = outcome
        self.status = status
        self.calls: list[dict[str, Any]] = []

    def __call__(self, scenario: Any, out_dir: Any, **kwargs: Any) -> Any:
        from roamsim.api import RunSummary

        self.calls.append({"scenario": scenario, "out_dir": Path(out_dir), **kwargs})
        if self.outcome is not None:
            raise self.outcome
        return RunSummary(Path(out_dir), self.status, {"messages": 1234}, 0.5)


@pytest.fixture
def quickstart() -> str:
    return str(EXAMPLES_DIR / "quickstart.yaml")


def _fake(monkeypatch: pytest.MonkeyPatch, fake: _FakeSimulate) -> _FakeSimulate:
    import roamsim.api

    monkeypatch.setattr(roamsim.api, "simulate", fake)
    return fake


def test_run_passes_arguments_and_prints_a_summary(monkeypatch: pytest.MonkeyPatch, quickstart: str) -> None:
    fake = _fake(monkeypatch, _FakeSimulate())
    result = _invoke("run", quickstart, "-o", "out/x", "-s", "7", "--scale", "0.5")
    assert result.exit_code == 0, result.output
    (call,) = fake.calls
    assert call["out_dir"] == Path("out/x")
    assert call["seed"] == 7
    assert call["scale"] == 0.5
    assert call["scenario_path"] == Path(quickstart)
    assert call["scenario"].name == "quickstart"
    assert result.stdout == "run complete: out/x (1,234 messages; 0.5 s)\n"
    assert result.stderr == ""  # not a terminal: no progress bar


def test_run_default_output_and_env_vars(monkeypatch: pytest.MonkeyPatch, quickstart: str) -> None:
    fake = _fake(monkeypatch, _FakeSimulate())
    assert _invoke("run", quickstart).exit_code == 0
    assert fake.calls[-1]["out_dir"] == Path("runs/quickstart-42")
    assert fake.calls[-1]["seed"] is None
    monkeypatch.setenv("ROAMSIM_RUN_SEED", "9")
    monkeypatch.setenv("ROAMSIM_RUN_SCALE", "2")
    assert _invoke("run", quickstart).exit_code == 0
    assert fake.calls[-1]["out_dir"] == Path("runs/quickstart-9")
    last = fake.calls[-1]
    assert (last["seed"], last["scale"]) == (9, 2.0)


@pytest.mark.parametrize("bad", [["--scale", "0"], ["--seed", "-1"]])
def test_run_bad_options_exit_2(quickstart: str, bad: list[str]) -> None:
    assert _invoke("run", quickstart, *bad).exit_code == 2


def test_run_failure_exits_1_without_traceback(monkeypatch: pytest.MonkeyPatch, quickstart: str) -> None:
    _fake(monkeypatch, _FakeSimulate(RuntimeError("boom")))
    monkeypatch.delenv("ROAMSIM_DEBUG", raising=False)
    result = _invoke("run", quickstart, "-o", "out/x")
    assert result.exit_code == 1
    assert "the run failed: RuntimeError: boom" in result.stderr
    assert "ROAMSIM_DEBUG=1" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("how", ["flag", "group-flag", "env"])
def test_run_failure_with_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch, quickstart: str, how: str) -> None:
    _fake(monkeypatch, _FakeSimulate(RuntimeError("boom")))
    args = {"flag": ["run", quickstart, "--debug"], "group-flag": ["--debug", "run", quickstart],
            "env": ["run", quickstart]}[how]
    if how == "env":
        monkeypatch.setenv("ROAMSIM_DEBUG", "1")
    result = _invoke(*args)
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert "RuntimeError: boom" in result.stderr


def test_run_partial_status_exits_1(monkeypatch: pytest.MonkeyPatch, quickstart: str) -> None:
    _fake(monkeypatch, _FakeSimulate(status="partial"))
    result = _invoke("run", quickstart, "-o", "out/x")
    assert result.exit_code == 1
    assert result.stdout.startswith("run partial: out/x")


def test_run_interrupted_exits_130(monkeypatch: pytest.MonkeyPatch, quickstart: str) -> None:
    _fake(monkeypatch, _FakeSimulate(KeyboardInterrupt()))
    result = _invoke("run", quickstart, "-o", "out/x")
    assert result.exit_code == 130
    assert "out/x is marked partial" in result.stderr
    assert "Traceback" not in result.output


def test_run_unusable_output_dir_exits_2(monkeypatch: pytest.MonkeyPatch, quickstart: str) -> None:
    from roamsim.api import RunDirError

    _fake(monkeypatch, _FakeSimulate(RunDirError("out/x: exists, is not empty")))
    result = _invoke("run", quickstart, "-o", "out/x")
    assert result.exit_code == 2
    assert "error: out/x: exists, is not empty" in result.stderr
