"""Every request/answer command the engine sends, across protocols, with its wire code and names.

The engine identifies a command by its index in :data:`CATALOGUE` (``Command.id``);
records carry the protocol's own code (``command_code``: Diameter command code,
MAP operation code, GTPv2-C request message type, or an SBI operation number)
and the message names below. Codecs and KPIs read names from here.

Sources: Diameter S6a TS 29.272 §7.2; MAP TS 29.002 §17.5 (operation codes);
GTPv2-C TS 29.274 §6.1 Table 6.1-1 (message types); 5G SBI TS 29.509 (Nausf),
TS 29.503 (Nudm), TS 29.502 (Nsmf).
"""

from __future__ import annotations

from dataclasses import dataclass

from roamsim.catalogue import diameter as dia

DIAMETER, MAP, SBI, GTPV2 = "diameter", "MAP", "SBI", "GTPv2"
PROTOCOLS = (DIAMETER, MAP, SBI, GTPV2)
INTERFACES = ("S6a", "D", "Gr", "C", "E", "N12", "N8", "N16", "S8", "S5", "Gd")
"""Reference points: S6a (MME–HSS), D (VLR–HLR), Gr (SGSN–HLR), C (SMS-GMSC–HLR), E (SMSC–MSC/SMSF),
N12 (AMF–AUSF), N8 (AMF–UDM), N16 (V-SMF–H-SMF), S8 / S5 (SGW–PGW across / inside a PLMN), Gd (SGSN–SMSC)."""


@dataclass(frozen=True)
class Command:
    """One request/answer pair of any protocol."""

    id: int
    key: str
    protocol: str
    interface: str
    code: int
    request: str
    answer: str
    clause: str
    success: int
    """The result code of a successful answer (Diameter 2001, MAP 0 = returnResult, HTTP status, GTP cause 16)."""


_SUCCESS = {DIAMETER: 2001, MAP: 0, GTPV2: 16}
_SBI_SUCCESS = {
    "ausf_auth": 201, "ausf_confirm": 200, "uecm_reg": 201, "sdm_get": 200, "sdm_sub": 201, "sdm_unsub": 204,
    "uecm_update": 204, "uecm_dereg_notify": 204, "pdu_create": 201, "pdu_release": 204,
}
"""HTTP status of success per SBI operation (TS 29.509, TS 29.503, TS 29.502 resource tables)."""

_SPECS: tuple[tuple[str, str, str, int, str, str, str], ...] = (
    # Diameter S6a
    *((c.key, DIAMETER, "S6a", c.code, c.request, c.answer, c.clause) for c in dia.COMMANDS.values()),
    # MAP (operation names of TS 29.002; one name for invoke and result)
    ("sai", MAP, "D", 56, "sendAuthenticationInfo", "sendAuthenticationInfo", "TS 29.002 §8.5.2"),
    ("ul", MAP, "D", 2, "updateLocation", "updateLocation", "TS 29.002 §8.1.2"),
    ("isd", MAP, "D", 7, "insertSubscriberData", "insertSubscriberData", "TS 29.002 §8.8.1"),
    ("cl", MAP, "D", 3, "cancelLocation", "cancelLocation", "TS 29.002 §8.1.3"),
    ("ugl", MAP, "Gr", 23, "updateGprsLocation", "updateGprsLocation", "TS 29.002 §8.1.7"),
    ("purge_ms", MAP, "D", 67, "purgeMS", "purgeMS", "TS 29.002 §8.1.6"),
    ("sri_sm", MAP, "C", 45, "sendRoutingInfoForSM", "sendRoutingInfoForSM", "TS 29.002 §12.1"),
    ("mt_fsm", MAP, "E", 44, "mt-forwardSM", "mt-forwardSM", "TS 29.002 §12.9"),
    ("mo_fsm", MAP, "E", 46, "mo-forwardSM", "mo-forwardSM", "TS 29.002 §12.2"),
    ("rsds", MAP, "C", 47, "reportSM-DeliveryStatus", "reportSM-DeliveryStatus", "TS 29.002 §12.3"),
    ("asc", MAP, "C", 64, "alertServiceCentre", "alertServiceCentre", "TS 29.002 §12.5"),
    # 5G SBI across the SEPPs (the code is an operation number of our own: SBI has no numeric codes)
    ("ausf_auth", SBI, "N12", 1, "Nausf_UEAuthentication_Authenticate", "Nausf_UEAuthentication_Authenticate",
     "TS 29.509 §5.2.2.2"),
    ("ausf_confirm", SBI, "N12", 2, "Nausf_UEAuthentication_Confirm", "Nausf_UEAuthentication_Confirm",
     "TS 29.509 §5.2.2.2.2"),
    ("uecm_reg", SBI, "N8", 3, "Nudm_UECM_Registration", "Nudm_UECM_Registration", "TS 29.503 §5.3.2.2"),
    ("sdm_get", SBI, "N8", 4, "Nudm_SDM_Get", "Nudm_SDM_Get", "TS 29.503 §5.2.2.2"),
    ("sdm_sub", SBI, "N8", 5, "Nudm_SDM_Subscribe", "Nudm_SDM_Subscribe", "TS 29.503 §5.2.2.3"),
    ("sdm_unsub", SBI, "N8", 6, "Nudm_SDM_Unsubscribe", "Nudm_SDM_Unsubscribe", "TS 29.503 §5.2.2.4"),
    ("uecm_update", SBI, "N8", 7, "Nudm_UECM_Update", "Nudm_UECM_Update", "TS 29.503 §5.3.2.4"),
    ("uecm_dereg_notify", SBI, "N8", 8, "Nudm_UECM_DeregistrationNotification",
     "Nudm_UECM_DeregistrationNotification", "TS 29.503 §5.3.2.3"),
    ("pdu_create", SBI, "N16", 9, "Nsmf_PDUSession_Create", "Nsmf_PDUSession_Create", "TS 29.502 §5.2.2.7"),
    ("pdu_release", SBI, "N16", 10, "Nsmf_PDUSession_Release", "Nsmf_PDUSession_Release", "TS 29.502 §5.2.2.9"),
    # GTPv2-C (request message type; the response is type + 1)
    ("create_session", GTPV2, "S8", 32, "CreateSessionRequest", "CreateSessionResponse", "TS 29.274 §7.2.1"),
    ("delete_session", GTPV2, "S8", 36, "DeleteSessionRequest", "DeleteSessionResponse", "TS 29.274 §7.2.9"),
)

CATALOGUE: tuple[Command, ...] = tuple(
    Command(i, *spec, success=_SBI_SUCCESS[spec[0]] if spec[1] == SBI else _SUCCESS[spec[1]])
    for i, spec in enumerate(_SPECS))
BY_KEY: dict[str, Command] = {c.key: c for c in CATALOGUE}
MESSAGE_NAMES: tuple[str, ...] = tuple(dict.fromkeys(n for c in CATALOGUE for n in (c.request, c.answer)))
"""Every message name, each once (dictionary of the ``message`` column)."""
REQUEST_INDEX: tuple[int, ...] = tuple(MESSAGE_NAMES.index(c.request) for c in CATALOGUE)
ANSWER_INDEX: tuple[int, ...] = tuple(MESSAGE_NAMES.index(c.answer) for c in CATALOGUE)
PROTOCOL_INDEX: tuple[int, ...] = tuple(PROTOCOLS.index(c.protocol) for c in CATALOGUE)
INTERFACE_INDEX: tuple[int, ...] = tuple(INTERFACES.index(c.interface) for c in CATALOGUE)
COMMAND_NAMES: tuple[str, ...] = tuple(c.request for c in CATALOGUE)
"""Dictionary of the transactions' ``command`` column (the request name)."""


def cmd(key: str) -> int:
    """The engine's id of a command, by key (``"ulr"``, ``"ul"``, ``"uecm_reg"``, ...)."""
    return BY_KEY[key].id


# Results the engine produces per protocol.
BUSY = {DIAMETER: (3004, False), MAP: (34, False), SBI: (503, False), GTPV2: (73, False)}
"""Answer of an overloaded server: DIAMETER_TOO_BUSY (RFC 6733 §7.1.3), MAP systemFailure (TS 29.002 §17.6.6),
HTTP 503 (TS 29.500 §5.2.7.2), GTP cause 73 No resources available (TS 29.274 Table 8.4-1)."""
ROAMING_NOT_ALLOWED = {DIAMETER: (5004, True), MAP: (8, False), SBI: (403, False), GTPV2: (92, False)}
"""Refusal for lack of a roaming agreement (TS 29.272 §7.4.3; MAP roamingNotAllowed; TS 29.503 ROAMING_NOT_ALLOWED;
GTP cause 92 "Denied in RAT" is not it, so GTP is never refused for this: sessions need a registration first)."""
MAP_ERRORS = {
    1: "unknownSubscriber", 6: "absentSubscriberSM", 8: "roamingNotAllowed", 27: "absentSubscriber",
    34: "systemFailure", 35: "dataMissing", 36: "unexpectedDataValue",
}
"""MAP error codes the simulator produces (TS 29.002 §17.6.6)."""
SBI_CAUSES = {403: "ROAMING_NOT_ALLOWED", 404: "USER_NOT_FOUND", 500: "SYSTEM_FAILURE", 503: "NF_CONGESTION",
              504: "TARGET_NF_NOT_REACHABLE"}
"""ProblemDetails cause per HTTP status (TS 29.503 §6.1.7, TS 29.500 §5.2.7)."""

MAP_STEERING_ERROR = {
    "unable-to-comply": 34, "roaming-not-allowed": 8, "unknown-eps-subscription": 36, "rat-not-allowed": 36,
    "authentication-data-unavailable": 34, "unable-to-deliver": 34, "too-busy": 34,
}
"""Steering reject names → MAP error of the UpdateLocation reject (GSMA IR.73: systemFailure and unexpectedDataValue
drive the attempt counter, roamingNotAllowed bars the network)."""
SBI_STEERING_STATUS = {
    "unable-to-comply": 500, "roaming-not-allowed": 403, "unknown-eps-subscription": 500, "rat-not-allowed": 500,
    "authentication-data-unavailable": 500, "unable-to-deliver": 504, "too-busy": 503,
}
"""Steering reject names → HTTP status of a rejected Nudm_UECM_Registration (when 5G control-plane SoR is off)."""


def mm_cause_for_map(error: int) -> int:
    """Location updating reject cause for a MAP error (TS 29.010 §4.1 mapping; TS 24.008 §10.5.3.6):
    roamingNotAllowed → #11, unknownSubscriber → #2, anything else (systemFailure, dataMissing,
    unexpectedDataValue, no answer) → #17 network failure."""
    return {8: 11, 1: 2}.get(error, 17)


def gmm5_cause_for_status(status: int) -> int:
    """5GMM cause an AMF sends when the home network refuses a registration (TS 24.501 §9.11.3.2):
    403 ROAMING_NOT_ALLOWED → #11, 404 USER_NOT_FOUND → #3 illegal UE, congestion → #22, else #111."""
    return {403: 11, 404: 3, 503: 22}.get(status, 111)
