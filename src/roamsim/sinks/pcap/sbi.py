"""5G SA roaming signalling on the service-based interfaces: HTTP/2 requests and responses with JSON bodies.

Ten operations (:data:`MESSAGE_NAMES`, the ``msg`` index of the rows) on N12
(AMF → AUSF), N8 (AMF → UDM, and the UDM's notification back to the AMF) and
N16 (V-SMF → H-SMF), carried between PLMNs over N32-f:
consumer → its SEPP → IPX → the producer's SEPP → producer (TS 23.501
§4.2.4, TS 29.573). The HTTP shape of each is in :data:`OPERATIONS`; bodies
follow the OpenAPI data types of TS 29.509 (Nausf), TS 29.503 (Nudm),
TS 29.502 (Nsmf) and TS 29.573 (N32-c), with the members a roaming trace needs.

**Headers on each hop** (TS 29.500 §5.2.2, §5.2.3.2, §6.1): ``:scheme http``;
``:authority`` is the next SEPP when the request goes through one (the
producer's SEPP on the hops to and from the IPX, a forward proxy) and the
producer on the last hop; ``3gpp-sbi-target-apiroot`` (§5.2.3.2.4) carries
the producer's apiRoot on every hop that does not end at the producer;
``3gpp-sbi-originating-network-id`` (§5.2.3.2.15) is added by the consumer's
SEPP as ``MCC-MNC; src: SEPP-<its FQDN>`` and kept to the producer;
``user-agent`` is the consumer's NF type (§5.2.2.2); the notification carries
``3gpp-sbi-callback`` with its callback type (§5.2.3.2.3, Annex B). Responses carry
``:status``, ``location`` on 201 Created, and ``content-type`` /
``content-length`` with a body. Errors (4xx, 5xx) carry a ProblemDetails
body (``application/problem+json``, TS 29.571 §5.2.4.1) with the cause of
:func:`problem_cause` (TS 29.500 Table 5.2.7.2-1 and the service specs).

**Names** (TS 23.003 §28): NF FQDNs are ``<element>.5gc.mnc<MNC, 3 digits>.mcc<MCC>.3gppnetwork.org``
(the SEPP is ``sepp.5gc…``, §28.5.2); the SUPI is ``imsi-<IMSI>``; the SUCI
uses the null scheme, ``suci-0-<MCC>-<MNC>-0-0-0-<MSIN>`` (routing indicator
0, TS 29.571 §5.3.2); the serving network name is ``5G:mnc<MNC, 3 digits>.mcc<MCC>.3gppnetwork.org``
(TS 33.501 §6.1.1.4). NF instance ids are UUIDv5 of the FQDN.

**Identifiers that link messages**: the 5G AKA context of an authentication
(``{authCtxId}`` in the 201's Location and in the Confirm's path) is the
procedure id in 16 hex digits, so Authenticate and Confirm must share the
procedure; the SDM subscription id is ``<AMF>-<IMSI>`` (one per serving AMF);
the PDU session reference is ``<IMSI>-1`` (PDU session id 1); the callback
URIs name the AMF and the SUPI. Authentication material (RAND, AUTN, RES*,
K_SEAF, and the TEIDs of the N9 tunnel) is a BLAKE2b digest of the IMSI and
the procedure id, not derived from any key, and HXRES* is the low 128 bits of
SHA-256(RAND ‖ RES*) as TS 33.501 Annex A.5 defines it, so Authenticate and
Confirm agree.

**Steering of roaming**: the am-data of Nudm_SDM_Get carries a fixed
``sorInfo`` (TS 29.503 SorInfo; TS 23.122 Annex C): a steering container
listing the visited PLMN with NR, ``ackInd`` false and a fixed provisioning
time (:data:`SOR_PROVISIONING_TIME`). The DeregistrationData reason is
``UE_INITIAL_REGISTRATION`` (the old AMF is told the UE registered elsewhere):
the rows carry no reason; :func:`request` takes another (``SUBSCRIPTION_WITHDRAWN``).

**Templates** (:func:`template`): a message shape is encoded once with every
per-subscriber value replaced by a run of a marker character
(:data:`MARKERS`); the runs' offsets are recorded and patched per packet
(:meth:`SbiTemplate.fill`), which gives the bytes of a full
:func:`encode` because every patched value has a fixed width.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import uuid
from dataclasses import dataclass, fields
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from roamsim.sinks.pcap import http2
from roamsim.sinks.pcap.addressing import Element, PlmnId

PROTOCOL = "SBI"
PORT = 80
"""TCP port of every SBI server: ``http`` (TS 29.500 §6.1.3; RFC 9110 §4.2.1). With the preface in the capture,
Wireshark recognises HTTP/2 on port 80 by itself; a capture cut after the preface needs
``-d tcp.port==80,http2``."""

MESSAGE_NAMES: tuple[str, ...] = (
    "Nausf_UEAuthentication_Authenticate",
    "Nausf_UEAuthentication_Confirm",
    "Nudm_UECM_Registration",
    "Nudm_SDM_Get",
    "Nudm_SDM_Subscribe",
    "Nudm_SDM_Unsubscribe",
    "Nudm_UECM_Update",
    "Nudm_UECM_DeregistrationNotification",
    "Nsmf_PDUSession_Create",
    "Nsmf_PDUSession_Release",
)
"""Index → operation name (``msg`` column of the rows)."""

JSON = "application/json"
MERGE_PATCH_JSON = "application/merge-patch+json"
PROBLEM_JSON = "application/problem+json"
N32C_PATH = "/n32c-handshake/v1/exchange-capability"
"""N32-c security capability negotiation (TS 29.573 §5.2.2.2, §6.1.3.2.3.1)."""
SOR_PROVISIONING_TIME = "2025-01-01T00:00:00Z"
PDU_SESSION_ID = 1
DNN = "internet"
DEREG_REASONS = ("UE_INITIAL_REGISTRATION", "SUBSCRIPTION_WITHDRAWN")
"""DeregistrationReason values used (TS 29.503 §6.2.6.3.3)."""


@dataclass(frozen=True)
class Operation:
    """The HTTP shape of one service operation."""

    name: str
    interface: str
    """Reference point between the consumer and the producer (TS 23.501 §4.2.7)."""
    producer: str
    """Element kind the request is for."""
    method: str
    success: int
    """Status of the success response."""
    request_type: str | None
    """Content type of the request body; None: no body."""
    response_body: bool
    """Whether a 200/201 response carries a body."""
    spec: str


OPERATIONS: dict[str, Operation] = {o.name: o for o in (
    Operation("Nausf_UEAuthentication_Authenticate", "N12", "ausf", "POST", 201, JSON, True,
              "TS 29.509 §5.2.2.2.2, §6.1.3.2.3.1"),
    Operation("Nausf_UEAuthentication_Confirm", "N12", "ausf", "PUT", 200, JSON, True,
              "TS 29.509 §5.2.2.2.2, §6.1.3.3.3.1"),
    Operation("Nudm_UECM_Registration", "N8", "udm", "PUT", 201, JSON, True, "TS 29.503 §5.3.2.2.2, §6.2.3.2.3.1"),
    Operation("Nudm_SDM_Get", "N8", "udm", "GET", 200, None, True, "TS 29.503 §5.2.2.2.3, §6.1.3.5.3.1"),
    Operation("Nudm_SDM_Subscribe", "N8", "udm", "POST", 201, JSON, True, "TS 29.503 §5.2.2.3.2, §6.1.3.19.3.1"),
    Operation("Nudm_SDM_Unsubscribe", "N8", "udm", "DELETE", 204, None, False,
              "TS 29.503 §5.2.2.4.2, §6.1.3.20.3.1"),
    Operation("Nudm_UECM_Update", "N8", "udm", "PATCH", 204, MERGE_PATCH_JSON, False,
              "TS 29.503 §5.3.2.4.2, §6.2.3.2.3.2"),
    Operation("Nudm_UECM_DeregistrationNotification", "N8", "amf", "POST", 204, JSON, False,
              "TS 29.503 §5.3.2.3.2, §6.2.5.2"),
    Operation("Nsmf_PDUSession_Create", "N16", "smf", "POST", 201, JSON, True, "TS 29.502 §5.2.2.7, §6.1.3.2.3.1"),
    Operation("Nsmf_PDUSession_Release", "N16", "smf", "POST", 204, JSON, False,
              "TS 29.502 §5.2.2.9, §6.1.3.3.4.2"),
)}

_PROBLEM_CAUSES = {
    400: "MANDATORY_IE_INCORRECT", 403: "ROAMING_NOT_ALLOWED", 404: "USER_NOT_FOUND", 429: "NF_CONGESTION_RISK",
    500: "SYSTEM_FAILURE", 503: "NF_CONGESTION", 504: "TARGET_NF_NOT_REACHABLE",
}


def problem_cause(name: str, status: int) -> str:
    """The ProblemDetails ``cause`` of an error answer.

    TS 29.500 Table 5.2.7.2-1 (400, 429, 500, 503, 504), TS 29.503 (403
    ROAMING_NOT_ALLOWED, 404 USER_NOT_FOUND), TS 29.509 Table 6.1.7.3-1 (403
    SERVING_NETWORK_NOT_AUTHORIZED for Nausf); other statuses take
    UNSPECIFIED_MSG_FAILURE (4xx) or UNSPECIFIED_NF_FAILURE (5xx).
    """
    if status == 403 and name.startswith("Nausf"):
        return "SERVING_NETWORK_NOT_AUTHORIZED"
    found = _PROBLEM_CAUSES.get(status)
    if found is not None:
        return found
    return "UNSPECIFIED_MSG_FAILURE" if status < 500 else "UNSPECIFIED_NF_FAILURE"


def check_status(name: str, status: int) -> None:
    """Raise ValueError unless ``status`` can answer an SBI request (2xx, 4xx or 5xx; TS 29.500 §5.2.7)."""
    if not (200 <= status <= 299 or 400 <= status <= 599):
        raise ValueError(f"{name}: HTTP status {status} on an answer (expected 2xx, 4xx or 5xx)")


# -- names ----------------------------------------------------------------------


def network_domain(plmn: PlmnId) -> str:
    """``5gc.mnc<MNC>.mcc<MCC>.3gppnetwork.org`` with a 3-digit MNC (TS 23.003 §28.2)."""
    return f"5gc.mnc{plmn.mnc.zfill(3)}.mcc{plmn.mcc}.3gppnetwork.org"


def local_name(e: Element) -> str:
    """The element's name inside its operator (``amf2``, ``sepp``)."""
    return e.name.rpartition(".")[2]


def fqdn(e: Element) -> str:
    """The element's FQDN on the SBI (module docstring); the IPX keeps its own host name."""
    if e.plmn is None:
        return e.host
    return f"{local_name(e)}.{network_domain(e.plmn)}"


def serving_network_name(plmn: PlmnId) -> str:
    """``5G:mnc<MNC>.mcc<MCC>.3gppnetwork.org`` (TS 33.501 §6.1.1.4, TS 24.501 §9.12.1)."""
    return f"5G:mnc{plmn.mnc.zfill(3)}.mcc{plmn.mcc}.3gppnetwork.org"


def plmn_json(plmn: PlmnId) -> dict[str, str]:
    """PlmnId (TS 29.571 §5.4.4.3)."""
    return {"mcc": plmn.mcc, "mnc": plmn.mnc}


def nf_instance_id(e: Element) -> str:
    """An NF instance id (UUID, TS 29.571 NfInstanceId): UUIDv5 of the FQDN."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, fqdn(e)))


def amf_id(e: Element) -> str:
    """AMF Identifier (TS 23.003 §2.10.1): region 1, set 1, pointer n, as 6 hex digits."""
    n = int(local_name(e)[len(e.kind):] or 0)
    return f"{(1 << 16) | (1 << 6) | (n & 0x3F):06x}"


def api_root(e: Element) -> str:
    return f"http://{fqdn(e)}"


def json_bytes(obj: Any) -> bytes:
    """Compact JSON (no spaces), in the member order given."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode("ascii")


# -- per-subscriber values ------------------------------------------------------


@dataclass(frozen=True)
class Variables:
    """Everything in a message that changes per subscriber or per procedure, as fixed-width text."""

    imsi: str
    msin: str
    """The IMSI without MCC and MNC."""
    sn: str
    """The MSISDN's subscriber number: the IMSI's last 8 digits (roamsim.sinks.pcap.numbering)."""
    ctx: str
    """5G AKA context id: the procedure id in 16 hex digits."""
    rand: str
    autn: str
    hxres: str
    res: str
    kseaf: str
    vteid: str
    """V-SMF (V-UPF) N9 tunnel TEID, 8 hex digits."""
    hteid: str
    """H-SMF (H-UPF) N9 tunnel TEID, 8 hex digits."""


MARKERS: dict[str, str] = {
    "imsi": "~", "msin": "^", "sn": "|", "ctx": "`", "rand": "!", "autn": "$", "hxres": "*", "res": "<",
    "kseaf": ">", "vteid": "#", "hteid": "@",
}
"""Marker character of each variable in a template (none of them occurs anywhere else in a message)."""
MATERIAL = ("rand", "autn", "hxres", "res", "kseaf", "vteid", "hteid")
"""Variables that come from :func:`aka_material`."""
HEX_WIDTH = {"ctx": 16, "rand": 32, "autn": 32, "hxres": 32, "res": 32, "kseaf": 64, "vteid": 8, "hteid": 8}
AMF_SEPARATION = b"\x80\x00"
"""Authentication Management Field with the separation bit set (TS 33.102 Annex H, TS 33.501 §6.1.3.2)."""


def aka_material(imsi: int, procedure_id: int) -> dict[str, bytes]:
    """Stand-in 5G AKA material and TEIDs of one procedure, as lowercase hex text (module docstring)."""
    d = hashlib.blake2b(struct.pack("<qq", imsi, procedure_id), digest_size=64, person=b"roamsim-5g-aka").digest()
    rand, res = d[0:16], d[16:32]
    kseaf = hashlib.blake2b(d, digest_size=32, person=b"roamsim-kseaf").digest()
    return {
        "rand": rand.hex().encode(), "autn": (d[32:38] + AMF_SEPARATION + d[38:46]).hex().encode(),
        "hxres": hashlib.sha256(rand + res).digest()[16:].hex().encode(), "res": res.hex().encode(),
        "kseaf": kseaf.hex().encode(), "vteid": d[46:50].hex().encode(), "hteid": d[50:54].hex().encode(),
    }


def plmn_digits(plmn: PlmnId) -> int:
    """Number of IMSI digits before the MSIN."""
    return len(plmn.mcc) + len(plmn.mnc)


def variables(imsi: int, procedure_id: int, home: PlmnId) -> Variables:
    """The real values of one message (the full-encode path)."""
    digits = str(imsi)
    k = plmn_digits(home)
    if len(digits) <= k:
        raise ValueError(f"IMSI {imsi} has no MSIN after the home PLMN {home}")
    m = aka_material(imsi, procedure_id)
    return Variables(imsi=digits, msin=digits[k:], sn=f"{imsi % 100_000_000:08d}",
                     ctx=f"{procedure_id & 0xFFFFFFFFFFFFFFFF:016x}", **{name: m[name].decode() for name in MATERIAL})


def placeholders(imsi_digits: int, home: PlmnId) -> Variables:
    """Marker runs of each variable's width, for :func:`template`."""
    k = plmn_digits(home)
    if imsi_digits <= k:
        raise ValueError(f"a {imsi_digits}-digit IMSI has no MSIN after the home PLMN {home}")
    widths = {"imsi": imsi_digits, "msin": imsi_digits - k, "sn": 8, **HEX_WIDTH}
    return Variables(**{name: MARKERS[name] * widths[name] for name in MARKERS})


# -- one message on one hop -------------------------------------------------------


@dataclass(frozen=True)
class SbiHop:
    """One SBI message on one hop: everything but the per-subscriber values (its *shape*)."""

    name: str
    is_request: bool
    status: int
    """HTTP status of a response; 0 for a request."""
    sender: Element
    receiver: Element
    consumer: Element
    """The NF that sent the request (the transaction's origin)."""
    producer: Element
    """The NF the request is for (its target), whichever element answers."""
    home: PlmnId
    visited: PlmnId
    msisdn_prefix: str
    """Country code and NDC of the home operator's MSISDNs (roamsim.sinks.pcap.numbering.msisdn_for)."""
    consumer_sepp: Element | None = None
    """The consumer's SEPP, when the request crosses N32 (None inside one PLMN)."""
    producer_sepp: Element | None = None
    dereg_reason: str = DEREG_REASONS[0]

    @property
    def operation(self) -> Operation:
        return OPERATIONS[self.name]

    @property
    def client(self) -> Element:
        """The element that sent the request on this hop (the TCP and HTTP/2 client)."""
        return self.sender if self.is_request else self.receiver

    @property
    def server(self) -> Element:
        return self.receiver if self.is_request else self.sender


@dataclass(frozen=True)
class HttpMessage:
    """An HTTP/2 request or response: its header list and body."""

    headers: tuple[http2.Header, ...]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for n, v in self.headers:
            if n == name:
                return v
        return None


def _supi(v: Variables) -> str:
    return f"imsi-{v.imsi}"


def _guami(amf: Element) -> dict[str, Any]:
    if amf.plmn is None:
        raise ValueError(f"{amf.name} has no PLMN")
    return {"plmnId": plmn_json(amf.plmn), "amfId": amf_id(amf)}


def _amf_of(h: SbiHop) -> Element:
    return h.producer if h.name == "Nudm_UECM_DeregistrationNotification" else h.consumer


def _callback(amf: Element, v: Variables, what: str) -> str:
    return f"{api_root(amf)}/namf-callback/v1/{_supi(v)}/{what}"


def _subscription_id(h: SbiHop, v: Variables) -> str:
    return f"{local_name(h.consumer)}-{v.imsi}"


def _pdu_session_ref(v: Variables) -> str:
    return f"{v.imsi}-{PDU_SESSION_ID}"


def _path(h: SbiHop, v: Variables) -> str:
    """The request's :path (TS 29.501 §4.4.1 resource URIs, apiRoot excluded)."""
    name = h.name
    supi = _supi(v)
    if name == "Nausf_UEAuthentication_Authenticate":
        return "/nausf-auth/v1/ue-authentications"
    if name == "Nausf_UEAuthentication_Confirm":
        return f"/nausf-auth/v1/ue-authentications/{v.ctx}/5g-aka-confirmation"
    if name in ("Nudm_UECM_Registration", "Nudm_UECM_Update"):
        return f"/nudm-uecm/v1/{supi}/registrations/amf-3gpp-access"
    if name == "Nudm_SDM_Get":
        plmn = quote(json_bytes(plmn_json(h.visited)).decode(), safe="")
        return f"/nudm-sdm/v2/{supi}/am-data?plmn-id={plmn}"
    if name == "Nudm_SDM_Subscribe":
        return f"/nudm-sdm/v2/{supi}/sdm-subscriptions"
    if name == "Nudm_SDM_Unsubscribe":
        return f"/nudm-sdm/v2/{supi}/sdm-subscriptions/{_subscription_id(h, v)}"
    if name == "Nudm_UECM_DeregistrationNotification":
        return f"/namf-callback/v1/{supi}/dereg-notify"
    if name == "Nsmf_PDUSession_Create":
        return "/nsmf-pdusession/v1/pdu-sessions"
    if name == "Nsmf_PDUSession_Release":
        return f"/nsmf-pdusession/v1/pdu-sessions/{_pdu_session_ref(v)}/release"
    raise ValueError(f"unknown SBI operation {name!r}")


def _amf_registration(h: SbiHop, v: Variables) -> dict[str, Any]:
    amf = h.consumer
    return {"amfInstanceId": nf_instance_id(amf), "deregCallbackUri": _callback(amf, v, "dereg-notify"),
            "guami": _guami(amf), "ratType": "NR"}


def _sdm_subscription(h: SbiHop, v: Variables) -> dict[str, Any]:
    return {"nfInstanceId": nf_instance_id(h.consumer), "implicitUnsubscribe": True,
            "callbackReference": _callback(h.consumer, v, "sdm-notify"),
            "monitoredResourceUris": [f"{api_root(h.producer)}/nudm-sdm/v2/{_supi(v)}/am-data"],
            "plmnId": plmn_json(h.visited)}


def _request_body(h: SbiHop, v: Variables) -> dict[str, Any] | None:
    name = h.name
    if name == "Nausf_UEAuthentication_Authenticate":  # AuthenticationInfo (TS 29.509 §6.1.6.2.2)
        return {"supiOrSuci": f"suci-0-{h.home.mcc}-{h.home.mnc}-0-0-0-{v.msin}",
                "servingNetworkName": serving_network_name(h.visited)}
    if name == "Nausf_UEAuthentication_Confirm":  # ConfirmationData (§6.1.6.2.4)
        return {"resStar": v.res}
    if name == "Nudm_UECM_Registration":  # Amf3GppAccessRegistration (TS 29.503 §6.2.6.2.2)
        return _amf_registration(h, v)
    if name == "Nudm_SDM_Subscribe":  # SdmSubscription (§6.1.6.2.3)
        return _sdm_subscription(h, v)
    if name == "Nudm_UECM_Update":  # Amf3GppAccessRegistrationModification (§6.2.6.2.7), merge patch
        return {"guami": _guami(h.consumer), "purgeFlag": True}
    if name == "Nudm_UECM_DeregistrationNotification":  # DeregistrationData (§6.2.6.2.5)
        return {"deregReason": h.dereg_reason, "accessType": "3GPP_ACCESS"}
    if name == "Nsmf_PDUSession_Create":  # PduSessionCreateData (TS 29.502 §6.1.6.2.9)
        return {"supi": _supi(v), "pduSessionId": PDU_SESSION_ID, "dnn": DNN, "sNssai": {"sst": 1},
                "vsmfId": nf_instance_id(h.consumer), "servingNetwork": plmn_json(h.visited),
                "requestType": "INITIAL_REQUEST", "anType": "3GPP_ACCESS", "ratType": "NR",
                "vcnTunnelInfo": {"ipv4Addr": h.consumer.ipv4_text, "gtpTeid": v.vteid}}
    if name == "Nsmf_PDUSession_Release":  # ReleaseData (§6.1.6.2.13)
        return {"ueLocation": {"nrLocation": {"tai": {"plmnId": plmn_json(h.visited), "tac": "000001"},
                                              "ncgi": {"plmnId": plmn_json(h.visited), "nrCellId": "000000010"}}}}
    return None


def _response_body(h: SbiHop, v: Variables) -> dict[str, Any] | None:
    name = h.name
    if name == "Nausf_UEAuthentication_Authenticate":  # UEAuthenticationCtx (TS 29.509 §6.1.6.2.3)
        ctx = f"{api_root(h.producer)}/nausf-auth/v1/ue-authentications/{v.ctx}"
        return {"authType": "5G_AKA", "5gAuthData": {"rand": v.rand, "hxresStar": v.hxres, "autn": v.autn},
                "_links": {"5g-aka": {"href": f"{ctx}/5g-aka-confirmation"}},
                "servingNetworkName": serving_network_name(h.visited)}
    if name == "Nausf_UEAuthentication_Confirm":  # ConfirmationDataResponse (§6.1.6.2.5)
        return {"authResult": "AUTHENTICATION_SUCCESS", "supi": _supi(v), "kseaf": v.kseaf}
    if name == "Nudm_UECM_Registration":
        return _amf_registration(h, v)
    if name == "Nudm_SDM_Get":  # AccessAndMobilitySubscriptionData (TS 29.503 §6.1.6.2.4) with SorInfo
        return {"gpsis": [f"msisdn-{h.msisdn_prefix}{v.sn}"],
                "subscribedUeAmbr": {"uplink": "1 Gbps", "downlink": "2 Gbps"},
                "nssai": {"defaultSingleNssais": [{"sst": 1}]},
                "sorInfo": {"steeringContainer": [{"plmnId": plmn_json(h.visited), "accessTechList": ["NR"]}],
                            "ackInd": False, "provisioningTime": SOR_PROVISIONING_TIME}}
    if name == "Nudm_SDM_Subscribe":
        return {**_sdm_subscription(h, v), "subscriptionId": _subscription_id(h, v)}
    if name == "Nsmf_PDUSession_Create":  # PduSessionCreatedData (TS 29.502 §6.1.6.2.10)
        return {"pduSessionType": "IPV4", "sscMode": "1",
                "hcnTunnelInfo": {"ipv4Addr": h.producer.ipv4_text, "gtpTeid": v.hteid},
                "sessionAmbr": {"uplink": "100 Mbps", "downlink": "200 Mbps"},
                "qosFlowsSetupList": [{"qfi": 1}]}
    return None


def _location(h: SbiHop, v: Variables) -> str | None:
    name = h.name
    root = api_root(h.producer)
    if name == "Nausf_UEAuthentication_Authenticate":
        return f"{root}/nausf-auth/v1/ue-authentications/{v.ctx}"
    if name == "Nudm_UECM_Registration":
        return f"{root}{_path(h, v)}"
    if name == "Nudm_SDM_Subscribe":
        return f"{root}/nudm-sdm/v2/{_supi(v)}/sdm-subscriptions/{_subscription_id(h, v)}"
    if name == "Nsmf_PDUSession_Create":
        return f"{root}/nsmf-pdusession/v1/pdu-sessions/{_pdu_session_ref(v)}"
    return None


def _authority(h: SbiHop) -> str:
    if h.receiver.kind == "ipx" and h.producer_sepp is not None:
        return fqdn(h.producer_sepp)
    return fqdn(h.receiver)


def request(h: SbiHop, v: Variables) -> HttpMessage:
    """The request of ``h`` (a request hop) with values ``v``."""
    op = h.operation
    body_obj = _request_body(h, v)
    body = b"" if body_obj is None else json_bytes(body_obj)
    headers: list[http2.Header] = [(":method", op.method), (":scheme", "http"), (":authority", _authority(h)),
                                   (":path", _path(h, v))]
    if body:
        if op.request_type is None:
            raise AssertionError(f"{h.name} has a body but no content type")
        headers += [("content-type", op.request_type), ("content-length", str(len(body)))]
    headers.append(("user-agent", h.consumer.kind.upper()))
    if h.name == "Nudm_UECM_DeregistrationNotification":
        headers.append(("3gpp-sbi-callback", h.name))
    if h.receiver.name != h.producer.name:
        headers.append(("3gpp-sbi-target-apiroot", api_root(h.producer)))
    sepp = h.consumer_sepp
    if sepp is not None and h.sender.name != h.consumer.name:
        if sepp.plmn is None:
            raise ValueError(f"{sepp.name} has no PLMN")
        headers.append(("3gpp-sbi-originating-network-id", f"{sepp.plmn.mcc}-{sepp.plmn.mnc}; src: SEPP-{fqdn(sepp)}"))
    return HttpMessage(tuple(headers), body)


def response(h: SbiHop, v: Variables) -> HttpMessage:
    """The response of ``h`` (an answer hop, ``h.status`` set) with values ``v``."""
    check_status(h.name, h.status)
    headers: list[http2.Header] = [(":status", str(h.status))]
    if h.status >= 400:
        try:
            title: str | None = HTTPStatus(h.status).phrase
        except ValueError:
            title = None
        problem: dict[str, Any] = {"title": title} if title else {}
        problem |= {"status": h.status, "cause": problem_cause(h.name, h.status)}
        body, ctype = json_bytes(problem), PROBLEM_JSON
    else:
        obj = _response_body(h, v) if h.status != 204 and h.operation.response_body else None
        body, ctype = (b"", JSON) if obj is None else (json_bytes(obj), JSON)
        if h.status == 201:
            loc = _location(h, v)
            if loc is not None:
                headers.append(("location", loc))
    if body:
        headers += [("content-type", ctype), ("content-length", str(len(body)))]
    return HttpMessage(tuple(headers), body)


def http_message(h: SbiHop, v: Variables) -> HttpMessage:
    return request(h, v) if h.is_request else response(h, v)


def n32c_exchange(initiator: Element, responder: Element) -> tuple[HttpMessage, HttpMessage]:
    """The N32-c capability exchange of a SEPP pair (TS 29.573 §6.1.3.2.3.1): SecNegotiateReqData → 200
    SecNegotiateRspData selecting TLS."""
    req_body = json_bytes({"sender": fqdn(initiator), "supportedSecCapabilityList": ["TLS"]})
    rsp_body = json_bytes({"sender": fqdn(responder), "selectedSecCapability": "TLS"})
    req = HttpMessage(((":method", "POST"), (":scheme", "http"), (":authority", fqdn(responder)),
                       (":path", N32C_PATH), ("content-type", JSON), ("content-length", str(len(req_body))),
                       ("user-agent", "SEPP")), req_body)
    rsp = HttpMessage(((":status", "200"), ("content-type", JSON), ("content-length", str(len(rsp_body)))),
                      rsp_body)
    return req, rsp


# -- frames ---------------------------------------------------------------------


def encode_message(m: HttpMessage, stream_id: int) -> bytes:
    """HEADERS (END_HEADERS, and END_STREAM without a body) and a DATA frame with END_STREAM for the body."""
    block = http2.encode_headers(m.headers)
    if not m.body:
        return http2.frame(http2.HEADERS, http2.FLAG_END_HEADERS | http2.FLAG_END_STREAM, stream_id, block)
    return (http2.frame(http2.HEADERS, http2.FLAG_END_HEADERS, stream_id, block)
            + http2.frame(http2.DATA, http2.FLAG_END_STREAM, stream_id, m.body))


def encode(h: SbiHop, v: Variables, stream_id: int) -> bytes:
    """The HTTP/2 frames of one message (the full-encode path)."""
    return encode_message(http_message(h, v), stream_id)


@dataclass(frozen=True)
class DecodedMessage:
    stream_id: int
    headers: tuple[http2.Header, ...]
    body: bytes
    end_stream: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def decode(data: bytes) -> DecodedMessage:
    """Read back one message written by :func:`encode_message` (HEADERS, then DATA when there is a body)."""
    frames = http2.parse_frames(data)
    if not frames or frames[0].type != http2.HEADERS:
        raise http2.DecodeError("a message starts with a HEADERS frame")
    (first, headers), = list(http2.iter_header_frames(frames[:1]))
    body = b"".join(f.payload for f in frames[1:] if f.type == http2.DATA)
    if any(f.stream_id != first.stream_id for f in frames):
        raise http2.DecodeError("frames of one message on different streams")
    if len(frames) > 2 or (len(frames) == 2 and frames[1].type != http2.DATA):
        raise http2.DecodeError("expected HEADERS and at most one DATA frame")
    return DecodedMessage(first.stream_id, tuple(headers), body,
                          bool(frames[-1].flags & http2.FLAG_END_STREAM))


# -- templates ------------------------------------------------------------------


@dataclass(frozen=True)
class SbiTemplate:
    """The frames of one message shape with marker text in place of the variables."""

    data: bytes
    stream_at: tuple[int, ...]
    """Offsets of the stream-id fields (HEADERS, and DATA when there is a body)."""
    fields: tuple[tuple[str, int, int], ...]
    """(variable name, offset, width) of every marker run, in offset order."""
    data_len: int
    """DATA payload octets (counted by HTTP/2 flow control)."""

    def fill(self, buf: bytearray, base: int, v: Variables, stream_id: int) -> None:
        """Patch the stream id and the values ``v`` into ``buf``, where the frames start at ``base``."""
        for at in self.stream_at:
            struct.pack_into("!I", buf, base + at, stream_id)
        for name, off, width in self.fields:
            value = getattr(v, name).encode("ascii")
            if len(value) != width:
                raise ValueError(f"{name} {value!r} does not fit its {width}-character template field")
            buf[base + off:base + off + width] = value


def template(h: SbiHop, imsi_digits: int) -> SbiTemplate:
    """Encode the shape ``h`` once for IMSIs of ``imsi_digits`` digits (module docstring)."""
    marked = placeholders(imsi_digits, h.home)
    data = encode(h, marked, 0)
    frames = http2.parse_frames(data)
    spans: list[tuple[int, int]] = []  # the text of the message: header values and the body
    for f in frames:
        start = f.offset + http2.FRAME_HEADER_LEN
        if f.type == http2.HEADERS:
            spans += [(start + a, start + b) for _, _, a, b in http2.header_fields(f.payload)]
        else:
            spans.append((start, start + len(f.payload)))
    text = data.decode("latin-1")
    found: list[tuple[str, int, int]] = []
    widths = {f.name: len(getattr(marked, f.name)) for f in fields(Variables)}
    for name, mark in MARKERS.items():
        pattern = re.compile(re.escape(mark) + "+")
        for a, b in spans:
            for m in pattern.finditer(text, a, b):
                if m.end() - m.start() != widths[name]:
                    raise AssertionError(f"{h.name}: a run of {m.end() - m.start()} {mark!r} is not one {name}")
                found.append((name, m.start(), widths[name]))
    found.sort(key=lambda f: f[1])
    return SbiTemplate(data=data, stream_at=tuple(f.offset + 5 for f in frames), fields=tuple(found),
                       data_len=sum(len(f.payload) for f in frames if f.type == http2.DATA))
