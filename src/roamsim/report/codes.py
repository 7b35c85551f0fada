"""Names and success classes of result codes, per signalling protocol (the ``protocol`` column value).

Names come from the message catalogue (:mod:`roamsim.catalogue`):

- Diameter (RFC 6733 §7.1; TS 29.272 §7.4): the same number means different
  things as a Result-Code and as an Experimental-Result-Code; the 2xxx class is
  success (RFC 6733 §7.1.2).
- MAP (TS 29.002 §17.6.6 error codes): 0 stands for a returnResult, i.e. success.
- 5G SBI: the HTTP status (RFC 9110 §15; 2xx is success) with the ProblemDetails
  cause of TS 29.500 §5.2.7 / TS 29.503 §6.1.7 where the catalogue has one.
- GTPv2-C cause (TS 29.274 §8.4, Table 8.4-1): 16–63 are acceptance causes.
"""

from __future__ import annotations

from http import HTTPStatus

from roamsim.catalogue import commands as cat
from roamsim.catalogue.diameter import RESULT_NAMES as DIAMETER_RESULT_NAMES

TIMEOUT = "timeout (no answer)"
GTPV2_CAUSES = {16: "Request accepted"}


def result_name(protocol: str, code: int, experimental: bool = False) -> str:
    """A readable name for ``code`` as answered by ``protocol`` (``"UNKNOWN"`` when unnamed)."""
    p = protocol.lower()
    if p == cat.DIAMETER.lower():
        return DIAMETER_RESULT_NAMES.get((code, experimental), "UNKNOWN")
    if p == cat.MAP.lower():
        return "returnResult" if code == 0 else cat.MAP_ERRORS.get(code, "UNKNOWN")
    if p == cat.SBI.lower():
        if code in cat.SBI_CAUSES:
            return cat.SBI_CAUSES[code]
        return HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "UNKNOWN"
    if p == cat.GTPV2.lower():
        return GTPV2_CAUSES.get(code, "UNKNOWN")
    return "UNKNOWN"


def is_success(protocol: str, code: int) -> bool | None:
    """Whether ``code`` is a success answer of ``protocol`` (None when the protocol is unknown)."""
    p = protocol.lower()
    if p == cat.DIAMETER.lower():
        return 2000 <= code < 3000
    if p == cat.SBI.lower():
        return 200 <= code < 300
    if p == cat.MAP.lower():
        return code == 0
    if p == cat.GTPV2.lower():
        return 16 <= code <= 63
    return None
