"""The scenario file schema (pydantic v2 models).

Every field has a default from the domain notes (``shared/domain/roaming-facts.md``
§7) so a small file already means something; unknown keys are errors.
Durations are held as integer nanoseconds, sizes as integer bytes, fractions
as floats in [0, 1].
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
)

from roamsim.catalogue.diameter import REJECT_NAMES
from roamsim.scenario.distributions import Distribution, parse_distribution
from roamsim.scenario.reference import COUNTRY_REGION
from roamsim.scenario.units import (
    DURATION_HELP,
    PERCENT_HELP,
    SIZE_HELP,
    format_duration,
    parse_duration,
    parse_fraction,
    parse_size,
)


def _duration(v: Any) -> int:
    if isinstance(v, int) and not isinstance(v, bool) and v != 0:
        # Already resolved (model_copy / re-validation of a resolved scenario) is
        # never an int here: resolved scenarios are dumped as strings.
        raise ValueError(f"a bare number is ambiguous: expected {DURATION_HELP}")
    return parse_duration(v)


Duration = Annotated[
    int,
    BeforeValidator(_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^(\d+(\.\d+)?(ns|us|ms|s|m|h|d|w))+$",
                    "description": DURATION_HELP}),
]
"""A duration in nanoseconds, written with a unit."""

Fraction = Annotated[
    float,
    BeforeValidator(parse_fraction),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": r"^\d+(\.\d+)?%$"},
                              {"type": "number", "minimum": 0, "maximum": 1}],
                    "description": PERCENT_HELP}),
]

_DIST_SCHEMA: dict[str, Any] = {
    "description": "a distribution of durations",
    "anyOf": [
        {"type": "string"},
        {"type": "object", "properties": {"fixed": {"type": "string"}}, "required": ["fixed"],
         "additionalProperties": False},
        {"type": "object", "properties": {"exponential": {
            "type": "object", "properties": {"mean": {"type": "string"}}, "required": ["mean"],
            "additionalProperties": False}}, "required": ["exponential"], "additionalProperties": False},
        {"type": "object", "properties": {"lognormal": {
            "type": "object", "properties": {"median": {"type": "string"}, "p99": {"type": "string"}},
            "required": ["median", "p99"], "additionalProperties": False}},
         "required": ["lognormal"], "additionalProperties": False},
        {"type": "object", "properties": {"uniform": {
            "type": "object", "properties": {"low": {"type": "string"}, "high": {"type": "string"}},
            "required": ["low", "high"], "additionalProperties": False}},
         "required": ["uniform"], "additionalProperties": False},
    ],
}

DurationDist = Annotated[
    Distribution,
    BeforeValidator(lambda v: parse_distribution(v, parse_duration, DURATION_HELP)),
    PlainSerializer(lambda d: d.to_yaml(format_duration), return_type=Any),
    WithJsonSchema(_DIST_SCHEMA),
]
"""A distribution of durations (nanoseconds)."""

def _format_size(n: int) -> str:
    return f"{n}B"


SizeDist = Annotated[
    Distribution,
    BeforeValidator(lambda v: parse_distribution(v, parse_size, SIZE_HELP)),
    PlainSerializer(lambda d: d.to_yaml(_format_size), return_type=Any),
    WithJsonSchema({**_DIST_SCHEMA, "description": "a distribution of data sizes"}),
]
"""A distribution of data sizes (bytes)."""

OperatorId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 country code")]


class Rat(StrEnum):
    """Radio access technology generation."""

    G2 = "2G"
    G3 = "3G"
    G4 = "4G"
    G5 = "5G"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Hss(_Model):
    """The home subscriber server: a multi-server FIFO queue with a finite waiting room."""

    servers: int = Field(4, ge=1, le=10_000, description="parallel workers (M/G/c servers)")
    service: DurationDist = Field(
        default_factory=lambda: Distribution("lognormal", 5e6, 150e6),
        description="service time per request (domain notes: median 5 ms, p99 100-300 ms)",
    )
    queue_limit: int = Field(
        1000, ge=0, description="requests that may wait; beyond it the HSS answers 3004 DIAMETER_TOO_BUSY"
    )
    transient_errors: Fraction = Field(
        0.0, description="share of requests answered with a transient error (4181, 3002) or lost "
        "(domain notes §7 suggest 0.5%)"
    )


class Operator(_Model):
    """A mobile network operator: its home elements and its visited-network elements."""

    id: OperatorId
    name: str | None = None
    plmn: str = Field(pattern=r"^\d{3}-\d{2,3}$", description='"MCC-MNC", the MNC kept as written (2 or 3 digits)')
    country: CountryCode
    rats: list[Rat] = Field(default_factory=lambda: [Rat.G4], min_length=1)
    hss: Hss = Field(default_factory=Hss)
    mmes: int = Field(2, ge=1, le=60, description="MMEs in the visited network (moves between them exist)")
    vlrs: int = Field(2, ge=1, le=60, description="MSC/VLRs in the visited network (2G/3G, and SMS over SGs)")
    sgsns: int = Field(1, ge=1, le=60, description="SGSNs in the visited network (2G/3G packet domain)")
    amfs: int = Field(2, ge=1, le=60, description="AMFs in the visited network (5G SA)")
    welcome_sms: bool = Field(True, description="send a welcome SMS to inbound roamers when they register")
    share: float = Field(
        1.0, gt=0, description="relative radio coverage weight when a UE picks among 'other' PLMNs"
    )
    sim_preferred: list[OperatorId] = Field(
        default_factory=list,
        description="operator-controlled PLMN selector on this operator's SIMs (EF_OPLMNwAcT, TS 23.122 "
        "§4.4.3.1.1), in priority order",
    )

    @field_validator("plmn", mode="before")
    @classmethod
    def _plmn_format(cls, v: Any) -> Any:
        if not (isinstance(v, str) and re.fullmatch(r"\d{3}-\d{2,3}", v)):
            raise ValueError('expected "MCC-MNC": a 3-digit MCC, a dash and a 2- or 3-digit MNC, '
                             'e.g. "234-15" or "310-260"')
        return v

    @field_validator("country")
    @classmethod
    def _known_country(cls, v: str) -> str:
        if v not in COUNTRY_REGION:
            raise ValueError(f"unknown country {v!r}: expected an ISO 3166-1 alpha-2 code from the "
                             "built-in region table (roamsim.scenario.reference.COUNTRY_REGION)")
        return v

    @property
    def mcc(self) -> str:
        return self.plmn.split("-")[0]

    @property
    def mnc(self) -> str:
        return self.plmn.split("-")[1]


class LatencyOverride(_Model):
    """One-way latency between two countries or two operators (operator pairs win)."""

    between: tuple[str, str] = Field(description="two country codes, or two operator ids")
    one_way: Duration


class Ipx(_Model):
    """The IP exchange between operators: latency model and Diameter agent hops."""

    hop_delay: Duration = Field(1_000_000, description="processing per Diameter agent hop (DEA, IPX proxy)")
    intra_plmn: Duration = Field(1_000_000, description="one-way delay inside an operator (MME-DEA, DEA-HSS)")
    jitter: Fraction = Field(0.1, description="log-normal sigma of the inter-country one-way latency")
    overrides: list[LatencyOverride] = Field(default_factory=list)


class DataRouting(StrEnum):
    HOME_ROUTED = "home-routed"
    LOCAL_BREAKOUT = "local-breakout"


class Agreement(_Model):
    """A roaming agreement: which home operator may roam on which visited operators."""

    home: OperatorId
    visited: list[OperatorId] = Field(min_length=1)
    rats: list[Rat] = Field(default_factory=lambda: [Rat.G4], min_length=1)
    data: DataRouting = DataRouting.HOME_ROUTED

    @field_validator("visited", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class Steering(_Model):
    """Network-based steering of roaming (GSMA IR.73): reject ULR from non-preferred partners."""

    home: OperatorId
    country: CountryCode
    preferred: list[OperatorId] = Field(min_length=1)
    method: Literal["reject"] = "reject"
    reject_with: REJECT_NAMES = Field(
        "unable-to-comply", description="Diameter error; unable-to-comply (5012) maps to EMM #17"
    )
    max_rejects: int = Field(
        5, ge=0, le=100, description="rejects per roamer after which the registration is accepted"
    )
    window: Duration | None = Field(
        None, description="alternatively accept once this long has passed since the first reject"
    )
    sor_5g: bool = Field(
        True, description="5G control-plane steering (TS 23.122 Annex C): the UDM sends the preferred partners in "
        "the SoR container and a 5G UE on another partner reselects a preferred one; no rejects on 5G"
    )


class Surge(_Model):
    at: datetime
    for_: Duration = Field(alias="for")
    factor: float = Field(gt=0)


class Arrivals(_Model):
    """Arrival profile over the simulation window."""

    profile: Literal["flat", "diurnal", "airport-banks"] = "airport-banks"
    surge: Surge | list[Surge] = Field(
        default_factory=list, description="an arrival surge (or a list): rate × factor from `at` for `for`"
    )

    @property
    def surges(self) -> list[Surge]:
        """The surges as a list, whichever form the file used."""
        return [self.surge] if isinstance(self.surge, Surge) else list(self.surge)


class Activity(_Model):
    """What a roamer does during its stay (rates per day; domain notes §2.3)."""

    power_cycles_per_day: float = Field(1.0, ge=0, le=100)
    off_duration: DurationDist = Field(
        default_factory=lambda: Distribution("lognormal", 30 * 60e9, 10 * 3600e9),
        description="how long the device stays off at a power cycle",
    )
    mme_changes_per_day: float = Field(1.0, ge=0, le=100)
    network_changes_per_day: float = Field(
        0.05, ge=0, le=100, description="moves to another network of the same country"
    )
    idr_per_day: float = Field(0.1, ge=0, le=100, description="HSS-initiated Insert-Subscriber-Data")
    purge_probability: Fraction = Field(0.3, description="probability the MME purges (PUR) a UE that went off")
    purge_after: Duration = Field(600 * 1_000_000_000, description="MME implicit detach delay before PUR")


class Usage(_Model):
    """What a roamer uses (domain notes §2.4): data sessions and SMS, per day of stay."""

    sessions_per_day: float = Field(2.0, ge=0, le=100, description="data sessions (PDN / PDU sessions) per day")
    session_duration: DurationDist = Field(
        default_factory=lambda: Distribution("lognormal", 30 * 60e9, 8 * 3600e9),
        description="how long a data session lasts",
    )
    data_per_day: SizeDist = Field(
        default_factory=lambda: Distribution("lognormal", 300e6, 3e9),
        description="data volume per day of stay, shared among that day's sessions",
    )
    uplink_share: Fraction = Field(0.15, description="share of the volume that is uplink")
    sms_mt_per_day: float = Field(0.5, ge=0, le=100, description="SMS delivered to the roamer per day")
    sms_mo_per_day: float = Field(0.3, ge=0, le=100, description="SMS the roamer sends per day")


class Itinerary(_Model):
    countries: list[CountryCode] = Field(min_length=1)
    weight: float = Field(gt=0)


class Cohort(_Model):
    """A group of roamers of one home operator with the same behaviour."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    home: OperatorId
    roamers: int = Field(ge=1, le=100_000_000)
    destinations: dict[CountryCode, float] = Field(default_factory=dict, description="country → weight")
    itineraries: list[Itinerary] = Field(default_factory=list, description="multi-country trips (legs split the stay)")
    arrivals: Arrivals = Field(default_factory=Arrivals)
    stay: DurationDist = Field(default_factory=lambda: Distribution("lognormal", 7 * 86400e9, 21 * 86400e9))
    activity: Activity = Field(default_factory=Activity)
    devices: dict[Rat, float] = Field(
        default_factory=lambda: {Rat.G4: 1.0},
        description="device mix: best RAT → weight (a device also supports every older RAT)",
    )
    usage: Usage = Field(default_factory=Usage)

    @field_validator("devices")
    @classmethod
    def _device_weights(cls, v: dict[Rat, float]) -> dict[Rat, float]:
        if not v or any(w < 0 for w in v.values()) or sum(v.values()) <= 0:
            raise ValueError("expected RAT → non-negative weight with a positive total, e.g. {5G: 0.3, 4G: 0.7}")
        return v

    @field_validator("destinations")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        for k, w in v.items():
            if w < 0:
                raise ValueError(f"weight of {k} is {w}: expected a non-negative number")
        return v


class UeTimers(_Model):
    """UE EPS mobility management timers and counters (TS 24.301 §5.5.1.2.6, §10.2)."""

    t3411: Duration = Field(10 * 1_000_000_000, description="delay before retrying an attach")
    t3402: Duration = Field(720 * 1_000_000_000, description="back-off after the attempt counter is exhausted")
    max_attempts: int = Field(5, ge=1, le=20, description="attach attempt counter limit")
    nas_delay: Duration = Field(
        50_000_000, description="radio and NAS time between S6a steps (authentication, security mode)"
    )
    t3211: Duration = Field(15 * 1_000_000_000, description="2G/3G delay before retrying a location update "
                            "(TS 24.008 §4.4.4.9)")
    lu_max_attempts: int = Field(4, ge=1, le=20, description="2G/3G location update attempt counter limit "
                                 "(TS 24.008 §4.4.4.9)")
    t3511: Duration = Field(10 * 1_000_000_000, description="5G delay before retrying a registration "
                            "(TS 24.501 §10.2)")
    t3502: Duration = Field(720 * 1_000_000_000, description="5G back-off after the attempt counter is exhausted "
                            "(TS 24.501 §10.2)")


class DiameterTimers(_Model):
    answer_timeout: Duration = Field(3 * 1_000_000_000, description="per-request answer timeout at the client")
    retransmissions: int = Field(1, ge=0, le=5)


class AnswerTimeouts(_Model):
    """Answer timeouts of the other protocols (the client gives up, then retransmits once like Diameter)."""

    map: Duration = Field(15 * 1_000_000_000, description="MAP operation timer (TS 29.002 §17.1.2: medium, 15-30 s)")
    sbi: Duration = Field(10 * 1_000_000_000, description="SBI client wait (no 3GPP value; open5gs uses 10 s)")
    gtp: Duration = Field(3 * 1_000_000_000, description="GTPv2-C T3 × N3 budget (TS 29.274 §7.6; 3 s)")


class Window(_Model):
    start: datetime
    duration: Duration

    @field_validator("start")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)

    @field_validator("duration")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v <= 0:
            raise ValueError("the window duration must be positive")
        return v


class Scenario(_Model):
    """A roamsim scenario: operators, interconnect, agreements, steering and roamer cohorts."""

    name: str = "scenario"
    seed: int = Field(1, ge=0, lt=2**63)
    window: Window
    operators: list[Operator] = Field(min_length=1)
    ipx: Ipx = Field(default_factory=Ipx)
    agreements: list[Agreement] = Field(default_factory=list)
    steering: list[Steering] = Field(default_factory=list)
    cohorts: list[Cohort] = Field(min_length=1)
    ue: UeTimers = Field(default_factory=UeTimers)
    diameter: DiameterTimers = Field(default_factory=DiameterTimers)
    timeouts: AnswerTimeouts = Field(default_factory=AnswerTimeouts)
