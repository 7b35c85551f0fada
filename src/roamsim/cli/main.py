"""The ``roamsim`` command: run, validate, schema, examples.

A thin layer over the library API (:func:`roamsim.load_scenario`,
:func:`roamsim.simulate`). Exit codes a CI can gate on:

* 0: success
* 1: the run failed (an error inside the simulation or while writing outputs)
* 2: bad input (an invalid scenario file, a bad option, an unusable output directory)
* 130: interrupted (Ctrl-C); the run directory is marked partial

Every option can also be set through an environment variable, shown in
``--help`` (``ROAMSIM_RUN_SEED``, ``ROAMSIM_RUN_SCALE``, ``ROAMSIM_DEBUG``, ...).
"""

from __future__ import annotations

import difflib
import json
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from click.core import ParameterSource

from roamsim.engine import ENGINES
from roamsim.version import __version__

if TYPE_CHECKING:
    from roamsim.api import Progress, RunSummary
    from roamsim.scenario import Scenario, ScenarioError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

ENV_PREFIX = "ROAMSIM"
DEBUG_ENV = "ROAMSIM_DEBUG"

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT_SETTINGS: dict[str, Any] = {
    "auto_envvar_prefix": ENV_PREFIX,
    "help_option_names": ["-h", "--help"],
    "show_default": True,
}


def _debug_option(f: F) -> F:
    return click.option(
        "--debug",
        is_flag=True,
        default=False,
        envvar=DEBUG_ENV,
        show_envvar=True,
        help="Show the full traceback when a run fails.",
    )(f)


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_OPTIONS = ("log_level", "log_format", "log_imsi")


def _log_options(f: F) -> F:
    """--log-level, --log-format, --log-imsi: on the group and on `run` (the one given last wins)."""
    f = click.option("--log-imsi", is_flag=True, default=False, envvar="ROAMSIM_LOG_IMSI", show_envvar=True,
                     help="Include IMSIs in log lines (personal data: off unless asked for).")(f)
    f = click.option("--log-format", type=click.Choice(["json", "text"]), default=None, envvar="ROAMSIM_LOG_FORMAT",
                     show_envvar=True, show_default="text on a terminal, json otherwise",
                     help="Log lines on stderr: JSON objects (one per line) or text.")(f)
    return click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False), default="warning",
                        envvar="ROAMSIM_LOG_LEVEL", show_envvar=True,
                        help="Lowest level logged (info: run lifecycle; debug: also each failed procedure).")(f)


def _configure_logs(ctx: click.Context, values: dict[str, Any]) -> None:
    """Configure stderr logging from the group's options, overridden by those given on the command line here."""
    from roamsim.logs import configure_logging

    root = ctx.find_root()
    inherited: dict[str, Any] = dict(root.obj.get("log", {})) if root.obj else {}
    chosen = {name: values[name] if not inherited or ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE
              else inherited[name] for name in LOG_OPTIONS}
    configure_logging(chosen["log_level"], chosen["log_format"], include_imsi=chosen["log_imsi"])
    if root.obj is not None:
        root.obj["log"] = chosen


@click.group(
    context_settings=CONTEXT_SETTINGS,
    epilog="""\b
Examples:
  roamsim examples                               list the bundled scenarios
  roamsim examples quickstart --copy scenarios/  copy one to edit it
  roamsim validate scenarios/*.yaml              check files without running them
  roamsim run examples/quickstart.yaml -o runs/quickstart
  roamsim schema > roamsim.schema.json           JSON Schema for editors
""",
)
@click.version_option(__version__, "-V", "--version", prog_name="roamsim", message="%(prog)s %(version)s")
@_debug_option
@_log_options
@click.pass_context
def cli(ctx: click.Context, debug: bool, log_level: str, log_format: str | None, log_imsi: bool) -> None:
    """roamsim: a seeded, deterministic simulator of international mobile roaming signalling."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    _configure_logs(ctx, {"log_level": log_level, "log_format": log_format, "log_imsi": log_imsi})


def _debug_wanted(ctx: click.Context, debug: bool) -> bool:
    root = ctx.find_root()
    return debug or bool(root.obj and root.obj.get("debug"))


def _fail_bad_input(exc: ScenarioError) -> NoReturn:
    click.echo(exc.render(), err=True)
    raise SystemExit(EXIT_BAD_INPUT)


# ------------------------------------------------------------- s3 upload options


_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
               "g": 1000**3, "gb": 1000**3, "gib": 1024**3}


def _byte_size(minimum: int) -> Callable[[click.Context, click.Parameter, str | int], int]:
    """A click callback parsing a byte count: ``16777216``, ``16MiB``, ``64MB``, ``1GiB``."""

    def parse(ctx: click.Context, param: click.Parameter, value: str | int) -> int:
        import re

        m = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", str(value))
        unit = m.group(2).lower() if m else ""
        if m is None or unit not in _SIZE_UNITS:
            raise click.BadParameter(f"{value!r} is not a size (e.g. 16MiB, 64MB, 1048576)")
        size = int(m.group(1)) * _SIZE_UNITS[unit]
        if size < minimum:
            raise click.BadParameter(f"{value!r} is below the minimum of {minimum:,} bytes")
        return size

    return parse


def _s3_options(f: F) -> F:
    """--endpoint-url, --multipart-threshold, --part-size (credentials never come from options)."""
    f = click.option("--part-size", callback=_byte_size(5 * 1024 * 1024), default="16MiB", metavar="SIZE",
                     envvar="ROAMSIM_S3_PART_SIZE", show_envvar=True,
                     help="Part size of multipart uploads (at least 5MiB).")(f)
    f = click.option("--multipart-threshold", callback=_byte_size(1), default="64MiB", metavar="SIZE",
                     envvar="ROAMSIM_S3_MULTIPART_THRESHOLD", show_envvar=True,
                     help="Upload files of at least this size in parts.")(f)
    return click.option(
        "--endpoint-url", default=None, metavar="URL", envvar="ROAMSIM_S3_ENDPOINT_URL", show_envvar=True,
        show_default="AWS_ENDPOINT_URL or AWS S3",
        help="S3-compatible endpoint (http(s)://HOST[:PORT]). Credentials come only from the standard AWS "
             "sources: environment, shared config/credentials files, instance metadata.",
    )(f)


def _upload_config(endpoint_url: str | None, multipart_threshold: int, part_size: int) -> Any:
    """Check the S3 settings before any work (exit 2 with the reason, e.g. boto3 missing)."""
    from roamsim.upload import UploadConfig, UploadInputError, load_boto3

    try:
        load_boto3()
        return UploadConfig(multipart_threshold=multipart_threshold, part_size=part_size, endpoint_url=endpoint_url)
    except UploadInputError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_BAD_INPUT) from None


def _parse_upload_url(url: str) -> Any:
    from roamsim.upload import UploadInputError, parse_s3_url

    try:
        return parse_s3_url(url)
    except UploadInputError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_BAD_INPUT) from None


def _do_upload(run_dir: Path, url: Any, config: Any, *, allow_partial: bool, debug: bool) -> None:
    """Upload a run directory; exit 2 (bad input), 1 (failed) or 130 (interrupted) on error."""
    from roamsim.upload import UploadInputError, sigterm_as_interrupt, upload_run

    try:
        with sigterm_as_interrupt():
            report = upload_run(run_dir, url, config=config, allow_partial=allow_partial,
                                log=lambda line: click.echo(line, err=True))
    except UploadInputError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_BAD_INPUT) from None
    except KeyboardInterrupt:
        click.echo(f"interrupted: the upload to {url} is incomplete (its manifest.json was not written); "
                   f"rerun `roamsim upload {run_dir} {url}` to resume", err=True)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except Exception as exc:  # UploadError, or anything unexpected
        if debug:
            traceback.print_exc()
        click.echo(f"error: the upload failed: {exc}\n(rerun the same command to resume)", err=True)
        raise SystemExit(EXIT_FAILURE) from None
    total = len(report.uploaded) + len(report.skipped)
    click.echo(f"uploaded {run_dir} to {url}: {total} files ({len(report.uploaded)} written, "
               f"{report.bytes_uploaded:,} bytes; {len(report.skipped)} already there)")


# --------------------------------------------------------------------------- run


def _default_output(scenario: Scenario, seed: int | None) -> Path:
    return Path("runs") / f"{scenario.name}-{scenario.seed if seed is None else seed}"


class _ProgressDisplay:
    """A Rich progress bar on a terminal (simulated time over the window, events/s); silent otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None
        self._last = 0.0
        self._logs: Any = None

    def __enter__(self) -> _ProgressDisplay:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("[bold]simulating"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[sim]}"),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("simulating", total=None, sim="", rate="")
            from roamsim.logs import log_to_console

            self._logs = log_to_console(self._bar.console)  # log lines above the bar, whole
            self._logs.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._logs is not None:
            self._logs.__exit__(None, None, None)
            self._logs = None
        if self._bar is not None:
            self._bar.stop()

    def __call__(self, p: Progress) -> None:
        if self._bar is None:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and p.sim_time_ns < p.window_ns:
            return
        self._last = now
        from roamsim.scenario.units import format_duration

        sim_s = max(p.sim_time_ns, 0) // 1_000_000_000 * 1_000_000_000
        rate = p.events / p.wall_s if p.wall_s > 0 else 0.0
        self._bar.update(
            self._task,
            completed=p.sim_time_ns,
            total=max(p.window_ns, 1),
            sim=f"sim {format_duration(sim_s)} of {format_duration(p.window_ns)}",
            rate=f"{rate:,.0f} events/s",
        )


_capture_point_option = click.option(
    "--capture-point", type=click.Choice(["interconnect", "all"]), default="interconnect", show_default=True,
    show_envvar=True, help="interconnect: what a probe at the visited DEA sees towards the IPX; all: every hop.")


def _seconds(ctx: click.Context, param: click.Parameter, value: str | float) -> float:
    """A click callback: seconds as a bare number (``30``) or a duration (``30s``, ``2m``)."""
    from roamsim.scenario.units import UnitError, parse_duration

    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parse_duration(str(value)) / 1e9
        except UnitError as exc:
            raise click.BadParameter(f"{value!r}: {exc}") from None
    if not seconds >= 0 or seconds == float("inf"):
        raise click.BadParameter(f"{value!r}: expected a non-negative number of seconds")
    return seconds


def _metrics_options(f: F) -> F:
    """--metrics-port, --metrics-host, --metrics-linger, --pushgateway."""
    f = click.option("--pushgateway", metavar="URL", default=None, show_envvar=True,
                     help="Push the final metrics of a complete run to this Prometheus Pushgateway "
                          "(PUT URL/metrics/job/roamsim/run_id/<run id>); exit 1 when it cannot be reached.")(f)
    f = click.option("--metrics-linger", metavar="SECONDS", default="0", callback=_seconds, show_envvar=True,
                     help="Keep serving /metrics this long after the run, so a scraper catches the final values.")(f)
    f = click.option("--metrics-host", metavar="HOST", default="127.0.0.1", show_envvar=True,
                     help="Address the /metrics endpoint binds to.")(f)
    return click.option("--metrics-port", metavar="PORT", type=click.IntRange(0, 65535), default=None,
                        show_envvar=True, show_default="no endpoint",
                        help="Serve Prometheus metrics on http://HOST:PORT/metrics while the run goes "
                             "(0: pick a free port and print it).")(f)


def _start_metrics(port: int | None, host: str, pushgateway: str | None) -> Any:
    """The run's live metrics (server listening, Pushgateway URL checked), or exit 2 saying why."""
    if port is None and pushgateway is None:
        return None
    from roamsim.metrics.live import LiveMetrics
    from roamsim.metrics.server import MetricsServerError

    try:
        live = LiveMetrics(port=port, host=host, pushgateway=pushgateway)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_BAD_INPUT) from None
    except MetricsServerError as exc:
        click.echo(f"error: --metrics-host {host} --metrics-port {port}: {exc}", err=True)
        raise SystemExit(EXIT_BAD_INPUT) from None
    if live.server is not None:
        click.echo(f"metrics: serving on {live.server.url}", err=True)
    return live


def _finish_metrics(live: Any, summary: RunSummary, linger_s: float) -> None:
    """Push (a complete run) and linger; exit 1 when the Pushgateway cannot take the metrics."""
    from roamsim.metrics.pushgateway import PushError

    try:
        if summary.status == "complete":
            target = live.push()
            if target is not None:
                click.echo(f"metrics: pushed to {target}", err=True)
    except PushError as exc:
        live.close()
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_FAILURE) from None
    live.linger(linger_s, lambda line: click.echo(line, err=True))


def _otlp_imsi_option(f: F) -> F:
    return click.option("--otlp-imsi", is_flag=True, default=False, envvar="ROAMSIM_OTLP_IMSI", show_envvar=True,
                        help="Put each procedure's IMSI on its span (personal data: off unless asked for).")(f)


def _otlp_options(f: F) -> F:
    """--otlp, --otlp-imsi."""
    f = _otlp_imsi_option(f)
    return click.option(
        "--otlp", is_flag=True, default=False, envvar="ROAMSIM_OTLP", show_envvar=True,
        help="After a complete run, export sampled procedures as traces and the metrics over OTLP/HTTP "
             "(the otel extra; set with OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_SAMPLER_ARG (default 0.01), "
             "OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, ...).")(f)


def _otlp_preflight() -> None:
    """Exit 2 before any work when the otel extra is missing or an OTEL_* variable is unusable."""
    import os

    from roamsim.otel.config import OtlpConfigError, OtlpUnavailable, require_sdk, settings_from_env

    try:
        require_sdk()
        settings_from_env(os.environ)
    except (OtlpUnavailable, OtlpConfigError) as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_BAD_INPUT) from None


def _otlp_registry() -> Any:
    """A metrics registry for the run to fill, so the OTLP export sends the values the run counted."""
    from roamsim.metrics.registry import MetricsRegistry

    return MetricsRegistry()


def _do_otlp_export(run_dir: Path, *, include_imsi: bool, debug: bool, registry: Any = None,
                    report: Callable[[str], None] = lambda line: click.echo(line, err=True)) -> None:
    """Export a run over OTLP and say what was sent; exit 2 (bad input) or 1 (the collector failed)."""
    from roamsim.otel import OtlpConfigError, OtlpExportError, OtlpUnavailable, export_run
    from roamsim.otel.export import signal_endpoint

    try:
        sent = export_run(run_dir, include_imsi=include_imsi, registry=registry)
    except (OtlpUnavailable, OtlpConfigError) as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_BAD_INPUT) from None
    except Exception as exc:  # OtlpExportError, or a failure inside the exporter
        if debug:
            traceback.print_exc()
        what = str(exc) if isinstance(exc, OtlpExportError) else f"{type(exc).__name__}: {exc}"
        click.echo(f"error: the OTLP export failed: {what}", err=True)
        raise SystemExit(EXIT_FAILURE) from None
    if sent.disabled:
        report("otlp: OTEL_SDK_DISABLED is true; nothing exported")
    else:
        report(f"otlp: {sent.procedures:,} procedure traces ({sent.spans:,} spans, sampling ratio "
               f"{sent.ratio:g}) to {signal_endpoint('traces')}, {sent.metrics} metric families to "
               f"{signal_endpoint('metrics')}")


def _summary_line(summary: RunSummary) -> str:
    counts = ", ".join(f"{v:,} {k}" for k, v in summary.counts.items())
    details = "; ".join(x for x in (counts, f"{summary.wall_s:.1f} s") if x)
    return f"run {summary.status}: {summary.run_dir} ({details})"


@cli.command(
    epilog="""\b
Examples:
  roamsim run examples/quickstart.yaml
  roamsim run examples/quickstart.yaml -o runs/qs --seed 7 --scale 0.1
  roamsim run examples/quickstart.yaml --pcap --pcap-sample 0.1
  roamsim run examples/quickstart.yaml --metrics-port 9464 --metrics-linger 30
""",
)
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    show_default="runs/<scenario name>-<seed>",
    show_envvar=True,
    help="Run directory to write.",
)
@click.option(
    "-s",
    "--seed",
    type=click.IntRange(0, 2**63 - 1),
    default=None,
    show_default="the scenario's seed",
    show_envvar=True,
    help="Override the scenario's seed.",
)
@click.option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_envvar=True,
    help="Multiply every cohort's roamer count.",
)
@click.option("--pcap", is_flag=True, default=False, show_envvar=True,
              help="Also write the packet traces (Wireshark-decodable) into the run directory: traces/s6a.pcapng, "
                   "map.pcapng, sbi.pcapng and gtp.pcapng, one per protocol the run has.")
@click.option("--pcap-sample", type=click.FloatRange(min=0, min_open=True, max=1), default=None,
              show_envvar=True, help="Keep this fraction of roamers in the capture (whole roamers). Implies --pcap.")
@_capture_point_option
@click.option("--upload", "upload_url", metavar="s3://BUCKET/PREFIX", default=None, show_envvar=True,
              help="Upload the run directory there once the run is complete (see `roamsim upload`).")
@click.option("--engine", type=click.Choice(ENGINES), default="auto", show_default=True,
              show_envvar=True,
              help="compiled: the numba kernel (4G: stays, steering, data sessions, SMS; no 2G/3G/5G); "
                   "python: the Python engine; auto: the kernel whenever it covers the scenario. Same output bytes.")
@_s3_options
@_metrics_options
@_otlp_options
@_debug_option
@_log_options
@click.pass_context
def run(
    ctx: click.Context, *, scenario: Path, output: Path | None, seed: int | None, scale: float,
    pcap: bool, pcap_sample: float | None, capture_point: str, upload_url: str | None, engine: str,
    endpoint_url: str | None,
    multipart_threshold: int, part_size: int, debug: bool, log_level: str, log_format: str | None, log_imsi: bool,
    metrics_port: int | None, metrics_host: str, metrics_linger: float, pushgateway: str | None,
    otlp: bool, otlp_imsi: bool,
) -> None:
    """Simulate SCENARIO (a YAML file) and write a run directory.

    The run directory holds manifest.json, the Parquet event logs, kpis.json and report.html.
    A progress bar is shown on a terminal; otherwise only a final summary line.
    """
    from roamsim.api import RunDirError, TraceOptions, simulate
    from roamsim.engine.compiled import NotCovered
    from roamsim.logs import RunLogObserver, log_context, log_failed_procedures
    from roamsim.scenario import ScenarioError, load_scenario

    debug = _debug_wanted(ctx, debug)
    _configure_logs(ctx, {"log_level": log_level, "log_format": log_format, "log_imsi": log_imsi})
    # A bad --upload URL or a missing boto3 is bad input: say so before simulating.
    upload_target = _parse_upload_url(upload_url) if upload_url is not None else None
    upload_config = (_upload_config(endpoint_url, multipart_threshold, part_size)
                     if upload_target is not None else None)
    if otlp:
        _otlp_preflight()
    try:
        loaded = load_scenario(scenario)
    except ScenarioError as exc:
        _fail_bad_input(exc)
    out_dir = output if output is not None else _default_output(loaded, seed)
    live = _start_metrics(metrics_port, metrics_host, pushgateway)

    from rich.console import Console

    console = Console(stderr=True)
    run_log = RunLogObserver(seed=loaded.seed if seed is None else seed, scale=scale)
    registry = live.registry if live is not None else _otlp_registry() if otlp else None
    try:
        with _ProgressDisplay(console.is_terminal and not console.is_dumb_terminal) as show:
            traces = TraceOptions(pcap_sample, capture_point) if pcap or pcap_sample is not None else None
            summary = simulate(loaded, out_dir, seed=seed, scale=scale, scenario_path=scenario, progress=show,
                               traces=traces, observers=[run_log, *([registry] if registry else [])],
                               engine=engine)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        click.echo(f"interrupted: the run directory {out_dir} is marked partial", err=True)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except ScenarioError as exc:
        _fail_bad_input(exc)
    except (RunDirError, NotCovered) as exc:  # the -o directory cannot be used, or --engine compiled does not
        click.echo(f"error: {exc}", err=True)  # cover the scenario: bad input, nothing was simulated
        raise SystemExit(EXIT_BAD_INPUT) from None
    except Exception as exc:
        import logging

        logging.getLogger("roamsim.run").error("run failed", extra={
            "run_id": run_log.run_id, "error": f"{type(exc).__name__}: {exc}", "run_dir": str(out_dir)})
        if debug:
            traceback.print_exc()
        else:
            click.echo(
                f"error: the run failed: {type(exc).__name__}: {exc}\n"
                f"(the run directory {out_dir} may be incomplete; "
                f"use --debug or {DEBUG_ENV}=1 for a traceback)",
                err=True,
            )
        raise SystemExit(EXIT_FAILURE) from None
    with log_context(run_id=run_log.run_id):
        log_failed_procedures(summary.run_dir)  # DEBUG only; read from procedures.parquet after the run
    click.echo(_summary_line(summary))
    kpis_file = summary.run_dir / "kpis.json"
    if summary.status == "complete" and kpis_file.exists():
        import json

        from roamsim.sinks.kpis import headline

        for line in headline(json.loads(kpis_file.read_text(encoding="utf-8"))):
            click.echo(f"  {line}")
    if live is not None:
        _finish_metrics(live, summary, metrics_linger)
    if summary.status != "complete":
        if upload_target is not None:
            click.echo(f"not uploading the {summary.status} run to {upload_target}", err=True)
        if otlp:
            click.echo(f"not exporting the {summary.status} run over OTLP", err=True)
        raise SystemExit(EXIT_FAILURE)
    if otlp:
        with log_context(run_id=run_log.run_id):
            _do_otlp_export(summary.run_dir, include_imsi=otlp_imsi, debug=debug,
                            registry=registry)
    if upload_target is not None:
        _do_upload(summary.run_dir, upload_target, upload_config, allow_partial=False, debug=debug)


# ---------------------------------------------------------------------- validate


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check scenario FILES without running them (exit 2 if any is invalid)."""
    from roamsim.scenario import ScenarioError, load_scenario

    invalid = 0
    for path in files:
        try:
            s = load_scenario(path)
        except ScenarioError as exc:
            click.echo(exc.render(), err=True)
            invalid += 1
            continue
        roamers = sum(c.roamers for c in s.cohorts)
        click.echo(
            f"{path}: ok ({_plural(len(s.operators), 'operator')}, {_plural(len(s.cohorts), 'cohort')}, "
            f"{_plural(roamers, 'roamer')})"
        )
    if invalid:
        raise SystemExit(EXIT_BAD_INPUT)


# ------------------------------------------------------------------------ schema


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file, with the field names users write."""
    from roamsim.scenario import Scenario

    schema = Scenario.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


@cli.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editors and linters)."""
    click.echo(json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False))


# ---------------------------------------------------------------------- examples


def bundled_examples() -> dict[str, Traversable]:
    """The example scenarios shipped in the package: name (file stem) → file."""
    folder = resources.files("roamsim") / "examples"
    return {
        entry.name.removesuffix(".yaml"): entry
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".yaml") and entry.is_file()
    }


def _first_comment(text: str) -> str:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            return stripped.lstrip("#").strip()
        if stripped:
            break
    return ""


@cli.command()
@click.argument("name", required=False)
@click.option(
    "--copy",
    "copy_to",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the example(s) into this directory instead of printing.",
)
@click.option("--force", is_flag=True, default=False, help="With --copy, overwrite existing files.")
def examples(name: str | None, copy_to: Path | None, force: bool) -> None:
    """List the bundled example scenarios, print one (NAME), or copy them (--copy DIR)."""
    found = bundled_examples()
    if name is not None:
        key = name.removesuffix(".yaml")
        if key not in found:
            close = difflib.get_close_matches(key, list(found), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise click.BadParameter(
                f"{name!r} is not a bundled example{hint}; expected one of: {', '.join(found)}",
                param_hint="NAME",
            )
        chosen = {key: found[key]}
    else:
        chosen = found

    if copy_to is not None:
        targets = {copy_to / f"{k}.yaml": f for k, f in chosen.items()}
        existing = [str(t) for t in targets if t.exists()]
        if existing and not force:
            click.echo(f"error: {', '.join(existing)} already exist(s); use --force to overwrite", err=True)
            raise SystemExit(EXIT_BAD_INPUT)
        copy_to.mkdir(parents=True, exist_ok=True)
        for target, src in targets.items():
            target.write_bytes(src.read_bytes())
            click.echo(f"wrote {target}")
        return

    if name is not None:
        click.echo(chosen[name.removesuffix(".yaml")].read_text(encoding="utf-8"), nl=False)
        return

    width = max((len(k) for k in chosen), default=0)
    for key, f in chosen.items():
        click.echo(f"{key:<{width}}  {_first_comment(f.read_text(encoding='utf-8'))}".rstrip())


# -------------------------------------------------------------------------- main


@cli.command(
    epilog="""\b
Examples:
  roamsim pcap runs/qs --imsi 234150100000007 -o one-roamer.pcapng
  roamsim pcap runs/qs --home 234-15 --visited es-two --procedure attach
  roamsim pcap runs/qs --from 2027-07-03T12:00:00Z --to 2027-07-03T13:00:00Z --capture-point all
""",
)
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              show_default="RUN_DIR/traces/extract.pcapng", help="Capture file to write.")
@click.option("--imsi", multiple=True, help="Keep this IMSI (repeatable).")
@click.option("--home", multiple=True, help="Keep roamers of this home PLMN (MCC-MNC) or operator id (repeatable).")
@click.option("--visited", multiple=True, help="Keep messages of this visited PLMN or operator id (repeatable).")
@click.option("--procedure", multiple=True,
              help="Keep these procedure types (attach, purge, ...) or procedure ids (repeatable).")
@click.option("--from", "start", default=None, help="Start of the time window (ISO 8601 with a zone, or ns).")
@click.option("--to", "end", default=None, help="End of the time window, exclusive.")
@click.option("--sample", type=click.FloatRange(min=0, min_open=True, max=1), default=None,
              help="Keep this fraction of roamers (whole roamers).")
@click.option("--protocol", type=click.Choice(["s6a", "map", "sbi", "gtp"]), default="s6a", show_default=True,
              help="Which signalling: S6a (Diameter/SCTP), MAP (TCAP/SCCP/M3UA/SCTP), 5G SBI (HTTP/2 on TCP "
                   "port 80; a capture cut mid-connection needs tshark -d tcp.port==80,http2) or GTPv2-C (UDP 2123).")
@_capture_point_option
@_debug_option
@click.pass_context
def pcap(
    ctx: click.Context, *, run_dir: Path, output: Path | None, imsi: tuple[str, ...], home: tuple[str, ...],
    visited: tuple[str, ...], procedure: tuple[str, ...], start: str | None, end: str | None,
    sample: float | None, protocol: str, capture_point: str, debug: bool,
) -> None:
    """Extract a pcapng capture from a finished run, without simulating again."""
    from roamsim.sinks.pcap import write_capture

    if not (run_dir / "manifest.json").exists() or not (run_dir / "messages.parquet").exists():
        click.echo(f"error: {run_dir} is not a run directory (no manifest.json or messages.parquet)", err=True)
        raise SystemExit(EXIT_BAD_INPUT)
    out = output if output is not None else run_dir / "traces" / "extract.pcapng"
    out.parent.mkdir(parents=True, exist_ok=True)
    procs: list[int | str] = [int(p) if p.isdigit() else p for p in procedure]
    try:
        summary = write_capture(
            run_dir, out, imsi=list(imsi) or None, home=list(home) or None, visited=list(visited) or None,
            procedure=procs or None, start=int(start) if start and start.isdigit() else start,
            end=int(end) if end and end.isdigit() else end, sample=sample,
            capture_point=capture_point,  # type: ignore[arg-type]
            protocol={"s6a": "diameter", "map": "MAP", "sbi": "SBI", "gtp": "GTPv2"}[protocol],
        )
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_BAD_INPUT) from None
    except Exception as exc:
        if _debug_wanted(ctx, debug):
            traceback.print_exc()
        else:
            click.echo(f"error: the capture failed: {type(exc).__name__}: {exc}", err=True)
        raise SystemExit(EXIT_FAILURE) from None
    click.echo(f"wrote {summary.path}: {summary.messages:,} messages in {summary.packets:,} packets "
               f"on {summary.links:,} links")
    if summary.messages == 0:
        click.echo("warning: no message matched the selection; the capture is empty", err=True)


# ------------------------------------------------------------------------- query


@cli.command(
    epilog="""\b
Examples:
  roamsim query runs/qs "SELECT type, outcome, count(*) AS n FROM procedures GROUP BY ALL ORDER BY n DESC"
  roamsim query runs/qs "SELECT * FROM messages WHERE procedure_id = 42 ORDER BY time" --format csv
  roamsim query runs/qs "SELECT p.type, m.message, count(*) AS n FROM messages m JOIN procedures p
    USING (procedure_id) GROUP BY ALL" --format json --limit 20
""",
)
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("sql")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              envvar="ROAMSIM_QUERY_FORMAT", show_envvar=True,
              help="table: Rich on a terminal, aligned text otherwise; csv: with a header; json: JSON Lines.")
@click.option("-n", "--limit", type=click.IntRange(min=0), default=None, show_default="all rows",
              help="Print at most N rows (stderr says when rows were left out).")
def query(*, run_dir: Path, sql: str, fmt: str, limit: int | None) -> None:
    """Run DuckDB SQL over the Parquet files of RUN_DIR, read-only.

    Each RUN_DIR/NAME.parquet is a view NAME: transactions, messages, procedures
    (and any other Parquet file of the run). Nothing is written into RUN_DIR.
    """
    import os

    from roamsim.query import QueryError, RunQuery, render

    try:
        with RunQuery(run_dir) as q:
            schema, batches = q.batches(sql)
            rows, cut = render.limit_rows(batches, limit)
            out = sys.stdout
            if fmt == "csv":
                render.write_csv(schema, rows, out)
            elif fmt == "json":
                render.write_json_lines(schema, rows, out)
            elif out.isatty():
                render.print_rich_table(schema, rows)
            else:
                render.write_plain_table(schema, rows, out)
            out.flush()
    except QueryError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_BAD_INPUT) from None
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except BrokenPipeError:
        # The reader went away (`roamsim query ... | head`): stop quietly; point stdout at
        # /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    if cut:
        click.echo(f"(the first {limit:,} rows; more were left out by --limit)", err=True)


# ------------------------------------------------------------------------ export


@cli.group()
def export() -> None:
    """Export a finished run in other formats."""


def _step(ctx: click.Context, param: click.Parameter, value: str) -> int:
    """A click callback: the time-series step in ns (a duration such as ``60s``, ``5m``, or bare seconds)."""
    seconds = _seconds(ctx, param, value)
    ns = round(seconds * 1e9)
    if ns < 1_000_000_000 or ns % 1_000_000:
        raise click.BadParameter(f"{value!r}: the step must be at least 1s and a whole number of milliseconds")
    return ns


@export.command(
    "openmetrics",
    epilog="""\b
Examples:
  roamsim export openmetrics runs/qs -o qs.om --step 5m
  promtool tsdb create-blocks-from openmetrics qs.om /var/lib/prometheus/metrics2
""",
)
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              show_default="standard output", help="File to write (atomically).")
@click.option("--step", default="60s", callback=_step, metavar="DURATION",
              help="Time between points of the series (at least 1s).")
def export_openmetrics(*, run_dir: Path, output: Path | None, step: int) -> None:
    """The KPI time series of RUN_DIR at simulated timestamps, as OpenMetrics text.

    Counters are cumulative at each step, gauges (active roamers) their value at it,
    histograms cumulative; the points span the simulated window, so backfilled
    blocks (promtool tsdb create-blocks-from openmetrics) show the run at its own dates.
    """
    from roamsim.metrics.timeseries import export_openmetrics as export_series
    from roamsim.metrics.timeseries import write_openmetrics

    if not (run_dir / "manifest.json").is_file() or not (run_dir / "procedures.parquet").is_file():
        click.echo(f"error: {run_dir} is not a run directory (no manifest.json or procedures.parquet)", err=True)
        raise SystemExit(EXIT_BAD_INPUT)
    if output is not None:
        summary = write_openmetrics(run_dir, output, step)
        click.echo(f"wrote {output}: {summary.series:,} series x {summary.points:,} points", err=True)
    else:
        try:
            export_series(run_dir, sys.stdout, step)
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader went away (`... | head`): stop quietly, as `roamsim query` does.
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


# -------------------------------------------------------------------------- otlp


@cli.command(
    epilog="""\b
Examples:
  OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 roamsim otlp runs/qs
  OTEL_TRACES_SAMPLER_ARG=1 OTEL_SERVICE_NAME=roamsim-lab roamsim otlp runs/qs
""",
)
@click.argument("run_dir", type=click.Path(path_type=Path))
@_otlp_imsi_option
@_debug_option
@click.pass_context
def otlp(ctx: click.Context, *, run_dir: Path, otlp_imsi: bool, debug: bool) -> None:
    """Export the complete run RUN_DIR over OTLP/HTTP: sampled procedures as traces, and the metrics.

    Configured by the standard OTEL_* variables (see `roamsim run --help`, --otlp). Needs the
    otel extra (pip install 'roamsim[otel]').
    """
    from roamsim.logs import log_context

    _otlp_preflight()
    try:
        run_id = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8")).get("run_id")
    except (OSError, ValueError, AttributeError):
        run_id = None  # export_run says what is wrong with the directory
    with log_context(run_id=run_id):
        _do_otlp_export(run_dir, include_imsi=otlp_imsi, debug=_debug_wanted(ctx, debug), report=click.echo)


# ------------------------------------------------------------------ report, compare


def _report_call(ctx: click.Context, debug: bool, what: str, call: Callable[[], Path]) -> None:
    """Run a report writer: exit 2 when an input is not a run directory, 1 when writing fails."""
    from roamsim.report import ReportInputError

    try:
        out = call()
    except ReportInputError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_BAD_INPUT) from None
    except Exception as exc:
        if _debug_wanted(ctx, debug):
            traceback.print_exc()
        click.echo(f"error: the {what} failed: {type(exc).__name__}: {exc}", err=True)
        raise SystemExit(EXIT_FAILURE) from None
    click.echo(f"wrote {out}")


@cli.command(
    epilog="""\b
Examples:
  roamsim report runs/qs                       rewrite runs/qs/report.html
  roamsim report runs/qs -o /tmp/qs.html
""",
)
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              show_default="RUN_DIR/report.html", help="HTML file to write.")
@_debug_option
@click.pass_context
def report(ctx: click.Context, *, run_dir: Path, output: Path | None, debug: bool) -> None:
    """Write the HTML report of the finished run RUN_DIR (one self-contained file, no network needed).

    Every run already writes RUN_DIR/report.html; this rewrites it, or writes it elsewhere.
    """
    from roamsim.report import write_report

    _report_call(ctx, debug, "report", lambda: write_report(run_dir, output))


@cli.command(
    epilog="""\b
Examples:
  roamsim compare runs/no-steering runs/steering -o steering.html
""",
)
@click.argument("run_a", type=click.Path(path_type=Path))
@click.argument("run_b", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              show_default="compare-<RUN_A name>-vs-<RUN_B name>.html", help="HTML file to write.")
@_debug_option
@click.pass_context
def compare(ctx: click.Context, *, run_a: Path, run_b: Path, output: Path | None, debug: bool) -> None:
    """Compare two finished runs side by side: KPI deltas of RUN_B against RUN_A, overlaid time series."""
    from roamsim.report import write_comparison

    out = output if output is not None else Path(
        f"compare-{run_a.resolve().name}-vs-{run_b.resolve().name}.html")
    _report_call(ctx, debug, "comparison", lambda: write_comparison(run_a, run_b, out))


# ------------------------------------------------------------------------ upload


@cli.command(
    epilog="""\b
Examples:
  roamsim upload runs/qs s3://my-roamsim-logs/runs/qs
  roamsim upload runs/qs s3://lab/runs/qs --endpoint-url http://127.0.0.1:9000
  AWS_PROFILE=lab roamsim upload runs/qs s3://my-roamsim-logs/runs/qs
""",
)
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("url", metavar="s3://BUCKET/PREFIX")
@click.option("--allow-partial", is_flag=True, default=False, show_envvar=True,
              help="Also upload a run whose manifest status is not complete.")
@_s3_options
@_debug_option
@click.pass_context
def upload(
    ctx: click.Context, *, run_dir: Path, url: str, allow_partial: bool, endpoint_url: str | None,
    multipart_threshold: int, part_size: int, debug: bool,
) -> None:
    """Upload the finished run RUN_DIR to S3 (or an S3-compatible store).

    Large files go in parts; every object is checked against its SHA-256; manifest.json
    is written last, so readers never see half a run. Rerun after an interruption:
    the objects already uploaded (same SHA-256) are skipped. Needs the s3 extra
    (pip install 'roamsim[s3]'); credentials come from the standard AWS sources.
    """
    target = _parse_upload_url(url)
    config = _upload_config(endpoint_url, multipart_threshold, part_size)
    _do_upload(run_dir, target, config, allow_partial=allow_partial, debug=_debug_wanted(ctx, debug))


def main(argv: Sequence[str] | None = None) -> None:
    """The console-script entry point (click's standalone handling, but Ctrl-C exits 130)."""
    try:
        rv = cli.main(args=list(argv) if argv is not None else None, prog_name="roamsim", standalone_mode=False)
    except click.exceptions.Abort:  # KeyboardInterrupt or EOF outside a run
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(rv if isinstance(rv, int) else EXIT_OK)
