"""E.164 numbering of subscribers and elements (sinks/pcap/numbering.py)."""

from __future__ import annotations

import pytest

from roamsim.scenario.reference import COUNTRY_REGION
from roamsim.sinks.pcap.addressing import Addressing
from roamsim.sinks.pcap.numbering import COUNTRY_CALLING_CODE, IPX_GT, gt_of, mgt_for, msisdn_for

OPS = [("uk-alpha", "234-15"), ("es-one", "214-01"), ("us-big", "310-260")]
COUNTRY = {"uk-alpha": "GB", "es-one": "ES", "us-big": "US"}
ADDR = Addressing(OPS)


def test_every_country_of_the_latency_table_has_a_calling_code() -> None:
    assert set(COUNTRY_REGION) <= set(COUNTRY_CALLING_CODE)


def test_msisdn_and_mgt_follow_e164_and_e214() -> None:
    imsi = 234150012345678
    assert msisdn_for(imsi, "234-15", "GB") == "44" + "75" + "12345678"
    assert mgt_for(imsi, "234-15", "GB") == "44" + "15" + "0012345678"
    assert mgt_for(310260123456789, "310-260", "US") == "1" + "260" + "123456789"
    for number in (msisdn_for(imsi, "234-15", "GB"), mgt_for(310260123456789, "310-260", "US")):
        assert number.isdigit() and len(number) <= 15


def test_global_titles_are_unique_and_stable() -> None:
    names = [f"{op}.{k}" for op, _ in OPS for k in ("hlr", "stp", "smsc", "vlr1", "vlr2", "sgsn1", "vlr60")]
    gts = [gt_of(ADDR, n, COUNTRY) for n in names]
    assert len(set(gts)) == len(gts)
    assert all(g.isdigit() and len(g) <= 15 for g in gts)
    assert gt_of(ADDR, "ipx", COUNTRY) == IPX_GT
    assert gt_of(Addressing(list(reversed(OPS))), "es-one.vlr2", COUNTRY) == gt_of(ADDR, "es-one.vlr2", COUNTRY)
    assert gt_of(ADDR, "es-one.hlr", COUNTRY).startswith("34")
    with pytest.raises(ValueError, match="calling code"):
        msisdn_for(1, "999-99", "ZZ")
