"""E.164 numbers of subscribers and network elements: MSISDNs, global titles, E.214 MGTs.

Every number follows from a name and the operator's PLMN and country by a fixed
rule, so the same subscriber or element has the same number in every run::

    MSISDN  CC + NDC + SN    NDC = 7 + last MNC digit, SN = the MSIN's last 8 digits
                              (ITU-T E.164; at most 15 digits)
    GT      CC + 9 + <operator code, 5 digits> + <kind, 2 digits> + <n, 2 digits>
                              (an E.164 number per element for SCCP global-title routing)
    MGT     CC + NC + MSIN   (ITU-T E.214, TS 23.003 §2.4: the HLR's called address, derived
                              from the IMSI; NC = the MNC as written)

``CC`` is the country's calling code (ITU-T E.164 assigned codes, Annex to
ITU-T Operational Bulletin 1297). with the operator code of :mod:`roamsim.sinks.pcap.addressing` and the kind
numbered by ``_KIND_DIGIT`` (so ``vlr3`` and ``vlr4`` differ in the last digit).
"""

from __future__ import annotations

from roamsim.sinks.pcap.addressing import Addressing, Element

COUNTRY_CALLING_CODE: dict[str, str] = {
    "GB": "44", "IE": "353", "FR": "33", "DE": "49", "ES": "34", "PT": "351", "IT": "39", "NL": "31",
    "BE": "32", "LU": "352", "CH": "41", "AT": "43", "DK": "45", "NO": "47", "SE": "46", "FI": "358",
    "IS": "354", "MT": "356", "MC": "377", "AD": "376", "LI": "423", "SM": "378", "VA": "379", "GI": "350",
    "CY": "357", "GR": "30",
    "PL": "48", "CZ": "420", "SK": "421", "HU": "36", "SI": "386", "HR": "385", "RO": "40", "BG": "359",
    "RS": "381", "BA": "387", "ME": "382", "MK": "389", "AL": "355", "EE": "372", "LV": "371", "LT": "370",
    "UA": "380", "MD": "373", "BY": "375", "RU": "7", "TR": "90", "GE": "995", "AM": "374", "AZ": "994",
    "XK": "383",
    "US": "1", "CA": "1", "MX": "52",
    "BR": "55", "AR": "54", "CL": "56", "CO": "57", "PE": "51", "UY": "598", "PY": "595", "BO": "591",
    "EC": "593", "VE": "58", "CR": "506", "PA": "507", "GT": "502", "DO": "1", "CU": "53", "JM": "1",
    "PR": "1",
    "AE": "971", "SA": "966", "QA": "974", "KW": "965", "BH": "973", "OM": "968", "IL": "972", "JO": "962",
    "LB": "961", "IQ": "964", "IR": "98",
    "MA": "212", "DZ": "213", "TN": "216", "EG": "20", "LY": "218",
    "ZA": "27", "NG": "234", "KE": "254", "GH": "233", "SN": "221", "CI": "225", "TZ": "255", "UG": "256",
    "ET": "251", "AO": "244", "MZ": "258", "NA": "264", "BW": "267",
    "IN": "91", "PK": "92", "BD": "880", "LK": "94", "NP": "977", "MV": "960",
    "SG": "65", "MY": "60", "TH": "66", "ID": "62", "PH": "63", "VN": "84", "KH": "855", "LA": "856",
    "MM": "95",
    "JP": "81", "KR": "82", "CN": "86", "HK": "852", "TW": "886", "MO": "853", "MN": "976",
    "AU": "61", "NZ": "64", "FJ": "679",
}
"""ISO 3166-1 alpha-2 → E.164 country calling code, for every country of the latency table."""

_KIND_DIGIT = {
    "dea": 1, "hss": 2, "hlr": 3, "stp": 4, "smsc": 5, "ausf": 6, "udm": 7, "sepp": 8, "smf": 9,
    "mme": 10, "vlr": 11, "sgsn": 12, "amf": 13, "sgw": 14, "pgw": 15, "smsf": 16,
}
IPX_GT = "8820000001"
"""The IPX's own global title (E.164 CC 882, international networks, ITU-T E.164 §6.2.2)."""


def calling_code(country: str) -> str:
    """The E.164 country calling code of an ISO 3166 alpha-2 country."""
    try:
        return COUNTRY_CALLING_CODE[country]
    except KeyError:
        raise ValueError(f"no E.164 calling code for country {country!r}") from None


def msisdn_for(imsi: int, plmn: str, country: str) -> str:
    """The subscriber's MSISDN (digits, international format) from the IMSI and the home PLMN and country."""
    mnc = plmn.split("-")[1]
    sn = f"{imsi % 100_000_000:08d}"
    return f"{calling_code(country)}7{mnc[-1]}{sn}"


def mgt_for(imsi: int, plmn: str, country: str) -> str:
    """The E.214 mobile global title of an IMSI: CC + NC + MSIN (TS 23.003 §2.4)."""
    mcc, mnc = plmn.split("-")
    digits = f"{imsi:015d}" if imsi >= 10**14 else str(imsi)
    msin = digits[len(mcc) + len(mnc):]
    return f"{calling_code(country)}{mnc}{msin}"


def element_gt(element: Element, country: str) -> str:
    """The E.164 global title of a network element (the module docstring's rule); the IPX has :data:`IPX_GT`."""
    if element.kind == "ipx" or element.plmn is None:
        return IPX_GT
    ident = element.name.rpartition(".")[2]
    n = int(ident[len(element.kind):] or 0)
    code = int.from_bytes(element.ipv4[1:3], "big")
    return f"{calling_code(country)}9{code:05d}{_KIND_DIGIT[element.kind]:02d}{n:02d}"


def gt_of(addressing: Addressing, name: str, op_country: dict[str, str]) -> str:
    """Global title of the element called ``name``; ``op_country`` maps operator id → country."""
    element = addressing.element(name)
    if element.kind == "ipx":
        return IPX_GT
    op = name.rpartition(".")[0]
    return element_gt(element, op_country[op])
