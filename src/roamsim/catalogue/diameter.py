"""Diameter S6a commands and result codes (TS 29.272 §7.2, §7.4; RFC 6733 §7.1).

Engine, record sinks, codecs and KPIs read command codes and names from here;
nothing else spells them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

S6A_APPLICATION_ID = 16777251
"""S6a/S6d Diameter application (TS 29.272 §7.1.8)."""
VENDOR_3GPP = 10415


@dataclass(frozen=True)
class Command:
    """One Diameter command of the catalogue."""

    key: str
    """Short lower-case key used in code (``ulr``)."""
    code: int
    request: str
    answer: str
    application_id: int
    clause: str


COMMANDS: dict[str, Command] = {
    c.key: c
    for c in (
        Command("ulr", 316, "ULR", "ULA", S6A_APPLICATION_ID, "TS 29.272 §7.2.3"),
        Command("clr", 317, "CLR", "CLA", S6A_APPLICATION_ID, "TS 29.272 §7.2.7"),
        Command("air", 318, "AIR", "AIA", S6A_APPLICATION_ID, "TS 29.272 §7.2.5"),
        Command("idr", 319, "IDR", "IDA", S6A_APPLICATION_ID, "TS 29.272 §7.2.9"),
        Command("dsr", 320, "DSR", "DSA", S6A_APPLICATION_ID, "TS 29.272 §7.2.11"),
        Command("pur", 321, "PUR", "PUA", S6A_APPLICATION_ID, "TS 29.272 §7.2.13"),
    )
}

SUCCESS = 2001
UNABLE_TO_DELIVER = 3002
REALM_NOT_SERVED = 3003
TOO_BUSY = 3004
UNABLE_TO_COMPLY = 5012
# Experimental-Result-Codes (vendor 10415), TS 29.272 §7.4.3
ERROR_USER_UNKNOWN = 5001
ERROR_ROAMING_NOT_ALLOWED = 5004
ERROR_UNKNOWN_EPS_SUBSCRIPTION = 5420
ERROR_RAT_NOT_ALLOWED = 5421
AUTHENTICATION_DATA_UNAVAILABLE = 4181

RESULT_NAMES: dict[tuple[int, bool], str] = {
    (2001, False): "DIAMETER_SUCCESS",
    (3002, False): "DIAMETER_UNABLE_TO_DELIVER",
    (3003, False): "DIAMETER_REALM_NOT_SERVED",
    (3004, False): "DIAMETER_TOO_BUSY",
    (3005, False): "DIAMETER_LOOP_DETECTED",
    (5003, False): "DIAMETER_AUTHORIZATION_REJECTED",
    (5012, False): "DIAMETER_UNABLE_TO_COMPLY",
    (5001, True): "DIAMETER_ERROR_USER_UNKNOWN",
    (5004, True): "DIAMETER_ERROR_ROAMING_NOT_ALLOWED",
    (5420, True): "DIAMETER_ERROR_UNKNOWN_EPS_SUBSCRIPTION",
    (5421, True): "DIAMETER_ERROR_RAT_NOT_ALLOWED",
    (5422, True): "DIAMETER_ERROR_EQUIPMENT_UNKNOWN",
    (5423, True): "DIAMETER_ERROR_UNKOWN_SERVING_NODE",
    (4181, True): "DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE",
}
"""(code, is Experimental-Result) → name. The same number means different things in the two spaces."""

EMM_CAUSE_NAMES: dict[int, str] = {
    8: "EPS and non-EPS services not allowed",
    11: "PLMN not allowed",
    13: "Roaming not allowed in this tracking area",
    15: "No suitable cells in tracking area",
    17: "Network failure",
    42: "Severe network failure",
}
"""EMM causes the simulator produces (TS 24.301 §9.9.3.9)."""

EXPERIMENTAL_TO_EMM = {5001: 8, 5004: 11, 5420: 15, 5421: 13, 4181: 17}
BASE_TO_EMM = {3002: 15, 3003: 15, 5003: 15, 5012: 17, 5004: 17, 5001: 17, 5005: 17, 5006: 17, 5009: 17}


def emm_cause_for(code: int, experimental: bool) -> int:
    """The EMM cause an MME sends for a failed S6a answer (TS 29.272 Annex A, Table A.1).

    Anything unlisted maps to #42 "severe network failure", as the table says.
    """
    table = EXPERIMENTAL_TO_EMM if experimental else BASE_TO_EMM
    return table.get(code, 42)


REJECT_NAMES = Literal[
    "unable-to-comply", "roaming-not-allowed", "unknown-eps-subscription", "rat-not-allowed",
    "authentication-data-unavailable", "unable-to-deliver", "too-busy",
]
"""Names a scenario may use for a steering reject."""

REJECT_CODES: dict[str, tuple[int, bool]] = {
    "unable-to-comply": (5012, False),
    "roaming-not-allowed": (5004, True),
    "unknown-eps-subscription": (5420, True),
    "rat-not-allowed": (5421, True),
    "authentication-data-unavailable": (4181, True),
    "unable-to-deliver": (3002, False),
    "too-busy": (3004, False),
}
"""Steering reject names → (Diameter code, is an Experimental-Result-Code). TS 29.272 §7.4."""


