"""Reference data: countries → IPX regions, and one-way latency between regions.

The latency table is the physics-based estimate of the domain notes
(great-circle distance ÷ 204 km/ms × 1.5–2, roaming-facts §2.1): each value is
the midpoint of the suggested one-way range. Users override pairs in the
scenario's ``ipx.overrides``.
"""

from __future__ import annotations

REGIONS: dict[str, str] = {
    "EU-W": "Western Europe",
    "EU-E": "Eastern Europe",
    "NA-E": "North America East",
    "NA-W": "North America West",
    "LATAM": "Latin America",
    "ME": "Middle East",
    "AF-N": "North Africa",
    "AF-S": "Sub-Saharan Africa",
    "IN": "South Asia",
    "SEA": "South-East Asia",
    "EA": "East Asia",
    "OC": "Oceania",
}

COUNTRY_REGION: dict[str, str] = {
    # Western Europe
    **{c: "EU-W" for c in (
        "GB", "IE", "FR", "DE", "ES", "PT", "IT", "NL", "BE", "LU", "CH", "AT",
        "DK", "NO", "SE", "FI", "IS", "MT", "MC", "AD", "LI", "SM", "VA", "GI", "CY", "GR",
    )},
    # Eastern Europe
    **{c: "EU-E" for c in (
        "PL", "CZ", "SK", "HU", "SI", "HR", "RO", "BG", "RS", "BA", "ME", "MK", "AL",
        "EE", "LV", "LT", "UA", "MD", "BY", "RU", "TR", "GE", "AM", "AZ", "XK",
    )},
    "US": "NA-E", "CA": "NA-E", "MX": "NA-W",
    **{c: "LATAM" for c in ("BR", "AR", "CL", "CO", "PE", "UY", "PY", "BO", "EC", "VE",
                            "CR", "PA", "GT", "DO", "CU", "JM", "PR")},
    **{c: "ME" for c in ("AE", "SA", "QA", "KW", "BH", "OM", "IL", "JO", "LB", "IQ", "IR")},
    **{c: "AF-N" for c in ("MA", "DZ", "TN", "EG", "LY")},
    **{c: "AF-S" for c in ("ZA", "NG", "KE", "GH", "SN", "CI", "TZ", "UG", "ET", "AO", "MZ", "NA", "BW")},
    **{c: "IN" for c in ("IN", "PK", "BD", "LK", "NP", "MV")},
    **{c: "SEA" for c in ("SG", "MY", "TH", "ID", "PH", "VN", "KH", "LA", "MM")},
    **{c: "EA" for c in ("JP", "KR", "CN", "HK", "TW", "MO", "MN")},
    **{c: "OC" for c in ("AU", "NZ", "FJ")},
}
"""ISO 3166-1 alpha-2 country code → IPX region (a hand-written UN M49-like grouping)."""

_ONE_WAY_MS: dict[tuple[str, str], float] = {
    ("EU-W", "EU-W"): 10, ("EU-W", "EU-E"): 20, ("EU-E", "EU-E"): 15,
    ("EU-W", "NA-E"): 44, ("EU-E", "NA-E"): 55, ("EU-W", "NA-W"): 75, ("EU-E", "NA-W"): 85,
    ("NA-E", "NA-E"): 15, ("NA-E", "NA-W"): 35, ("NA-W", "NA-W"): 15,
    ("EU-W", "ME"): 50, ("EU-E", "ME"): 45, ("EU-W", "AF-N"): 25, ("EU-E", "AF-N"): 35,
    ("EU-W", "IN"): 65, ("EU-E", "IN"): 65, ("EU-W", "AF-S"): 88, ("EU-E", "AF-S"): 95,
    ("EU-W", "SEA"): 95, ("EU-E", "SEA"): 100, ("EU-W", "EA"): 125, ("EU-E", "EA"): 120,
    ("EU-W", "LATAM"): 100, ("EU-E", "LATAM"): 115, ("EU-W", "OC"): 145, ("EU-E", "OC"): 150,
    ("NA-E", "LATAM"): 62, ("NA-W", "LATAM"): 70, ("NA-E", "EA"): 85, ("NA-W", "EA"): 65,
    ("NA-E", "ME"): 90, ("NA-W", "ME"): 115, ("NA-E", "IN"): 110, ("NA-W", "IN"): 110,
    ("NA-E", "SEA"): 110, ("NA-W", "SEA"): 85, ("NA-E", "OC"): 110, ("NA-W", "OC"): 75,
    ("NA-E", "AF-N"): 60, ("NA-W", "AF-N"): 90, ("NA-E", "AF-S"): 120, ("NA-W", "AF-S"): 150,
    ("LATAM", "LATAM"): 40, ("LATAM", "ME"): 140, ("LATAM", "IN"): 160, ("LATAM", "SEA"): 160,
    ("LATAM", "EA"): 130, ("LATAM", "OC"): 130, ("LATAM", "AF-N"): 110, ("LATAM", "AF-S"): 110,
    ("ME", "ME"): 20, ("ME", "AF-N"): 35, ("ME", "AF-S"): 70, ("ME", "IN"): 30, ("ME", "SEA"): 55,
    ("ME", "EA"): 85, ("ME", "OC"): 110,
    ("AF-N", "AF-N"): 20, ("AF-N", "AF-S"): 80, ("AF-N", "IN"): 75, ("AF-N", "SEA"): 105,
    ("AF-N", "EA"): 135, ("AF-N", "OC"): 155,
    ("AF-S", "AF-S"): 30, ("AF-S", "IN"): 80, ("AF-S", "SEA"): 100, ("AF-S", "EA"): 130, ("AF-S", "OC"): 120,
    ("IN", "IN"): 20, ("IN", "SEA"): 35, ("IN", "EA"): 60, ("IN", "OC"): 85,
    ("SEA", "SEA"): 20, ("SEA", "EA"): 35, ("SEA", "OC"): 55,
    ("EA", "EA"): 32, ("EA", "OC"): 60, ("OC", "OC"): 15,
}


def region_latency_ms(a: str, b: str) -> float:
    """One-way IPX latency in milliseconds between two regions (symmetric)."""
    if (a, b) in _ONE_WAY_MS:
        return _ONE_WAY_MS[(a, b)]
    return _ONE_WAY_MS[(b, a)]


def country_latency_ns(a: str, b: str) -> int:
    """One-way IPX latency in nanoseconds between two countries, from the region table."""
    return int(region_latency_ms(COUNTRY_REGION[a], COUNTRY_REGION[b]) * 1_000_000)


def msin_digits(plmn: str) -> int:
    """MSIN length for a PLMN written "MCC-MNC": an IMSI has 15 digits (TS 23.003 §2.2)."""
    mcc, mnc = plmn.split("-")
    return 15 - len(mcc) - len(mnc)


def cohort_block_size(plmn: str) -> int:
    """IMSIs one cohort may use: the MSIN after its two block digits (see population/build.py)."""
    return int(10 ** (msin_digits(plmn) - 2))
