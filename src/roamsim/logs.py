"""Structured logs: one JSON object per line (or readable text) on stderr.

The library logs through the standard :mod:`logging` module under the
``roamsim`` logger and configures nothing at import; the ``roamsim`` command
calls :func:`configure_logging` once per invocation.

A JSON line holds ``ts`` (wall clock, ISO 8601 UTC), ``level``, ``logger``,
``msg``, ``run_id`` (null before a run is known) and the record's other fields,
e.g. ``procedure_id``, ``phase``, ``duration_s``, ``counts``. Fields come from
``extra=`` and from :func:`log_context`. ``imsi`` (personal data, GSMA FS.11
treats it as a subscriber identifier) is dropped unless asked for
(``include_imsi``, the CLI's ``--log-imsi``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from roamsim.api import Progress, RunEnd, RunStart

LOGGER = "roamsim"
LEVELS = ("debug", "info", "warning", "error", "critical")
DEFAULT_LEVEL = "warning"
THIRD_PARTY_LEVEL = logging.WARNING
"""Level for other libraries' loggers (urllib3, OpenTelemetry, botocore), whatever ``--log-level`` says."""

LogFormat = Literal["json", "text"]

_CONTEXT: ContextVar[Mapping[str, Any]] = ContextVar("roamsim_log_context", default=MappingProxyType({}))
_CONSOLE: ContextVar[Any] = ContextVar("roamsim_log_console", default=None)
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_HEAD = ("ts", "level", "logger", "msg", "run_id")


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` (e.g. ``run_id``) to every record logged inside the block, in this thread or task."""
    token = _CONTEXT.set(MappingProxyType({**_CONTEXT.get(), **fields}))
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def record_fields(record: logging.LogRecord, *, include_imsi: bool = False) -> dict[str, Any]:
    """The fields of one log line: the head fields first, then context and ``extra`` fields."""
    ts = dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds")
    out: dict[str, Any] = {
        "ts": ts.replace("+00:00", "Z"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
        "run_id": None,
    }
    extras = {**_CONTEXT.get(), **{k: v for k, v in vars(record).items() if k not in _RESERVED}}
    for key, value in extras.items():
        if key in _HEAD[:4] or (key == "imsi" and not include_imsi):
            continue
        out[key] = value
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        out["error"] = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return out


class JsonFormatter(logging.Formatter):
    """One JSON object per record (JSON Lines); values JSON cannot hold are written as text."""

    def __init__(self, *, include_imsi: bool = False) -> None:
        super().__init__()
        self.include_imsi = include_imsi

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record_fields(record, include_imsi=self.include_imsi), default=str,
                          ensure_ascii=False, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """``TS LEVEL logger: msg key=value ...`` for a person at a terminal."""

    def __init__(self, *, include_imsi: bool = False) -> None:
        super().__init__()
        self.include_imsi = include_imsi

    def format(self, record: logging.LogRecord) -> str:
        f = record_fields(record, include_imsi=self.include_imsi)
        rest = " ".join(f"{k}={json.dumps(v, default=str, separators=(',', ':'))}"
                        for k, v in f.items() if k not in _HEAD and v is not None)
        run = f" run_id={f['run_id']}" if f["run_id"] else ""
        return f"{f['ts']} {f['level'].upper():<7} {f['logger']}: {f['msg']}{run}{' ' + rest if rest else ''}"


@contextmanager
def log_to_console(console: Any) -> Iterator[None]:
    """While a Rich live display (the progress bar) runs on ``console``, print log lines through it.

    They appear above the bar, whole: never wrapped at the terminal width, never
    drawn over by the bar.
    """
    token = _CONSOLE.set(console)
    try:
        yield
    finally:
        _CONSOLE.reset(token)


class StderrHandler(logging.Handler):
    """Write each line to the *current* ``sys.stderr``, or through the live Rich console (:func:`log_to_console`)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            console = _CONSOLE.get()
            if console is not None:
                console.print(line, soft_wrap=True, markup=False, highlight=False, emoji=False)
                return
            stream = sys.stderr
            stream.write(line + "\n")
            stream.flush()
        except Exception:  # logging's own policy: report on stderr, never break the program
            self.handleError(record)


def default_format() -> LogFormat:
    """``text`` when stderr is a terminal, ``json`` otherwise (pipes, files, CI, containers)."""
    return "text" if sys.stderr.isatty() else "json"


def configure_logging(level: str = DEFAULT_LEVEL, fmt: LogFormat | None = None, *,
                      include_imsi: bool = False) -> logging.Handler:
    """Send log records to stderr, replacing a handler installed by an earlier call.

    ``level`` applies to roamsim's loggers; other libraries log at warning and above.
    """
    name = level.lower()
    if name not in LEVELS:
        raise ValueError(f"log level {level!r} is not one of {', '.join(LEVELS)}")
    chosen = fmt if fmt is not None else default_format()
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter(include_imsi=include_imsi) if chosen == "json"
                         else TextFormatter(include_imsi=include_imsi))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(THIRD_PARTY_LEVEL)
    logging.getLogger(LOGGER).setLevel(name.upper())
    return handler


class RunLogObserver:
    """Logs a run's lifecycle as a run observer (:class:`roamsim.api.RunObserver`).

    INFO ``run started`` (scenario, seed, scale, window), INFO ``progress`` every
    ``every_s`` wall-clock seconds, at the end one INFO ``phase done`` line per phase
    with its duration, then INFO ``run complete`` with the row counts, or WARNING
    ``run partial`` after an interruption or a failure. Every line carries ``run_id``.
    """

    def __init__(self, *, seed: int | None, scale: float, every_s: float = 10.0,
                 logger: logging.Logger | None = None) -> None:
        self.seed = seed
        self.scale = scale
        self.every_s = every_s
        self.run_id: str | None = None
        self._log = logger if logger is not None else logging.getLogger(f"{LOGGER}.run")
        self._next_progress_s = every_s

    def run_started(self, run: RunStart) -> None:
        self.run_id = run.run_id
        start = dt.datetime.fromtimestamp(run.window_start_ns / 1e9, tz=dt.UTC).isoformat().replace("+00:00", "Z")
        self._log.info("run started", extra={
            "run_id": run.run_id, "scenario": run.scenario, "seed": self.seed, "scale": self.scale,
            "roamsim_version": run.version, "run_dir": str(run.run_dir), "window_start": start,
            "window_s": run.window_ns / 1e9,
        })

    def record_batch(self, kind: str, batch: Any) -> None:
        """Nothing per batch: logging stays off the writer thread's path."""

    def progress(self, p: Progress) -> None:
        if p.wall_s < self._next_progress_s:
            return
        self._next_progress_s = p.wall_s + self.every_s
        self._log.info("progress", extra={
            "run_id": self.run_id, "sim_s": round(p.sim_time_ns / 1e9, 3), "window_s": p.window_ns / 1e9,
            "events": p.events, "events_per_s": round(p.events / p.wall_s) if p.wall_s > 0 else None,
        })

    def run_finished(self, end: RunEnd) -> None:
        for phase, seconds in end.phases.items():
            self._log.info("phase done", extra={"run_id": self.run_id, "phase": phase.removesuffix("_s"),
                                                "duration_s": seconds})
        fields = {"run_id": self.run_id, "status": end.status, "counts": dict(end.counts), "wall_s": end.wall_s}
        if end.status == "complete":
            self._log.info("run complete", extra=fields)
        else:
            self._log.warning("run partial: interrupted or failed; the run directory is marked partial",
                              extra=fields)


FAILED_OUTCOMES = ("rejected", "timeout")


def describe_cause(outcome: str, emm_cause: int | None, result_code: int | None, experimental: bool | None) -> str:
    """Why a procedure failed, in words: Diameter answer (TS 29.272 §7.4), then EMM cause (TS 24.301 §9.9.3.9)."""
    from roamsim.catalogue.diameter import EMM_CAUSE_NAMES, RESULT_NAMES

    parts = []
    if result_code is not None:
        parts.append(RESULT_NAMES.get((result_code, bool(experimental)), f"Result-Code {result_code}"))
    elif outcome == "timeout":
        parts.append("no answer")
    if emm_cause is not None:
        parts.append(f"EMM cause #{emm_cause} ({EMM_CAUSE_NAMES.get(emm_cause, 'unknown')})")
    return " -> ".join(parts) if parts else outcome


def log_failed_procedures(run_dir: str | Path, logger: logging.Logger | None = None) -> int:
    """Log one DEBUG line per rejected or timed-out procedure of a finished run, from ``procedures.parquet``.

    Each line carries ``procedure_id``, ``type``, ``outcome``, ``emm_cause`` (TS 24.301
    §9.9.3.9), ``result_code`` / ``experimental`` (the Diameter answer, TS 29.272 §7.4),
    ``cause`` (both, in words), ``home_plmn``, ``visited_plmn``, ``attempt`` and ``imsi`` (dropped by the formatter
    unless asked for). Nothing is read when DEBUG is off. Returns the lines logged.
    """
    log = logger if logger is not None else logging.getLogger(f"{LOGGER}.procedures")
    path = Path(run_dir) / "procedures.parquet"
    if not log.isEnabledFor(logging.DEBUG) or not path.is_file():
        return 0
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    columns = ["procedure_id", "type", "outcome", "emm_cause", "result_code", "experimental",
               "home_plmn", "visited_plmn", "attempt", "imsi"]
    pf = pq.ParquetFile(path)
    n = 0
    for batch in pf.iter_batches(columns=columns, batch_size=65_536):
        outcome = batch.column("outcome").cast("string")
        keep = pc.is_in(outcome, value_set=pa.array(FAILED_OUTCOMES, pa.string()))
        for row in batch.filter(keep).to_pylist():
            row["cause"] = describe_cause(row["outcome"], row["emm_cause"], row["result_code"], row["experimental"])
            log.debug("%s %s: %s", row["type"], row["outcome"], row["cause"], extra=row)
            n += 1
    return n
