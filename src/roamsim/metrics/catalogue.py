"""The metric catalogue: every family roamsim exposes, its kind, unit, labels and help.

Names follow the Prometheus conventions (https://prometheus.io/docs/practices/naming/):
one ``roamsim_`` prefix, base units (``_seconds``), ``_total`` on counters.
Labels come only from the scenario's operators and elements and from the
protocol catalogue, so cardinality is bounded by the scenario; no label ever
holds an IMSI or an MSISDN.

KPI sources: GSMA IR.42 (registration success ratio and delay), TS 32.426
(EPS attach attempts/successes/failures by cause), domain notes §6.1.
"""

from __future__ import annotations

from dataclasses import dataclass

from roamsim.metrics.snapshot import Kind

PREFIX = "roamsim_"

DURATION_BUCKETS_S: tuple[float, ...] = (
    0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0,
)
"""Upper bounds of the procedure-duration histogram (``+Inf`` is implied): an intra-EU
S6a round trip is ≈ 25–60 ms, a full roaming attach 0.3–1.5 s, an attach with
retries or reselection tens of seconds (domain notes §2.2, §1.5: T3411 10 s)."""


@dataclass(frozen=True)
class Family:
    """One metric family of the catalogue."""

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    unit: str = ""


FORBIDDEN_LABELS = frozenset({"imsi", "msisdn", "imei", "supi", "gpsi"})
"""Subscriber identities: never a label (unbounded cardinality and personal data)."""

_PAIR = ("home_plmn", "visited_plmn")
_MSG = ("protocol", "interface", "message")

FAMILIES: tuple[Family, ...] = (
    Family("roamsim_run_info", "gauge", "Run identity; always 1.", ("run_id", "scenario", "version")),
    Family("roamsim_simulated_time_seconds", "gauge",
           "Simulated clock: Unix time of the engine's latest processed event.", unit="seconds"),
    Family("roamsim_engine_events_total", "counter", "Engine events processed."),
    Family("roamsim_engine_events_per_second", "gauge",
           "Engine events per wall-clock second (since the previous progress report; the whole engine phase "
           "once the run has ended)."),
    Family("roamsim_procedures_total", "counter",
           "Procedure attempts that ended, by type and outcome (result = success, rejected, timeout, aborted).",
           ("procedure", *_PAIR, "rat", "result")),
    Family("roamsim_registrations_total", "counter",
           "Registration attempts (EPS attach, 5GS registration, location update) that ended, by outcome.",
           (*_PAIR, "rat", "result")),
    Family("roamsim_procedure_duration_seconds", "histogram",
           "Duration of successful procedure attempts, from the first request to the final answer.",
           ("procedure", *_PAIR, "rat"), unit="seconds"),
    Family("roamsim_messages_total", "counter",
           "Signalling messages at the transaction's origin: each request and each answer. result is the "
           "answer's Result-Code (exp:N for an Experimental-Result-Code); a request whose answer did not "
           "come in time has result=timeout.",
           (*_MSG, "result", *_PAIR)),
    Family("roamsim_link_messages_total", "counter",
           "Signalling messages carried on each hop of the path (both requests and answers), by sender and "
           "receiver element.", ("origin", "destination")),
    Family("roamsim_transaction_timeouts_total", "counter",
           "Requests whose answer did not reach the origin within the answer timeout.", (*_MSG, *_PAIR)),
    Family("roamsim_steering_rejects_total", "counter",
           "Registration requests rejected by the home network's steering of roaming (GSMA IR.73).", _PAIR),
    Family("roamsim_active_roamers", "gauge",
           "Roamers registered at their home HSS with an MME of the visited network.", _PAIR),
)

BY_NAME: dict[str, Family] = {f.name: f for f in FAMILIES}


def series_names(family: Family) -> tuple[str, ...]:
    """The sample names a family exposes (a histogram's ``_bucket``, ``_count``, ``_sum``)."""
    if family.kind == "histogram":
        return (f"{family.name}_bucket", f"{family.name}_count", f"{family.name}_sum")
    return (family.name,)


def all_series_names() -> frozenset[str]:
    """Every sample name of the catalogue (what a PromQL expression may reference)."""
    return frozenset(n for f in FAMILIES for n in series_names(f))
