"""The command catalogue and the reject-cause mappings of every generation."""

from __future__ import annotations

import pytest

from roamsim.catalogue import commands as cat
from roamsim.catalogue.diameter import REJECT_CODES


def test_every_command_has_unique_names_codes_and_a_known_interface() -> None:
    assert len({c.key for c in cat.CATALOGUE}) == len(cat.CATALOGUE)
    assert [c.id for c in cat.CATALOGUE] == list(range(len(cat.CATALOGUE)))
    for protocol in cat.PROTOCOLS:
        codes = [c.code for c in cat.CATALOGUE if c.protocol == protocol]
        assert len(set(codes)) == len(codes), protocol
    assert all(c.interface in cat.INTERFACES for c in cat.CATALOGUE)
    # Wire codes from the specifications (TS 29.272 §7.2, TS 29.002 §17.5, TS 29.274 Table 6.1-1).
    assert cat.BY_KEY["ulr"].code == 316 and cat.BY_KEY["ul"].code == 2 and cat.BY_KEY["sai"].code == 56
    assert cat.BY_KEY["ugl"].code == 23 and cat.BY_KEY["purge_ms"].code == 67 and cat.BY_KEY["mt_fsm"].code == 44
    assert cat.BY_KEY["create_session"].code == 32 and cat.BY_KEY["delete_session"].code == 36
    assert {c.success for c in cat.CATALOGUE if c.protocol == cat.SBI} <= {200, 201, 204}


@pytest.mark.parametrize(("error", "cause"), [
    (8, 11),   # roamingNotAllowed → PLMN not allowed
    (1, 2),    # unknownSubscriber → IMSI unknown in HLR
    (34, 17), (35, 17), (36, 17),  # systemFailure, dataMissing, unexpectedDataValue → network failure
    (27, 17),
])
def test_map_errors_map_to_location_update_reject_causes(error: int, cause: int) -> None:
    assert cat.mm_cause_for_map(error) == cause


@pytest.mark.parametrize(("status", "cause"), [(403, 11), (404, 3), (503, 22), (500, 111), (504, 111)])
def test_http_status_maps_to_5gmm_causes(status: int, cause: int) -> None:
    assert cat.gmm5_cause_for_status(status) == cause


def test_every_steering_reject_has_a_map_error_and_an_http_status() -> None:
    assert set(cat.MAP_STEERING_ERROR) == set(REJECT_CODES) == set(cat.SBI_STEERING_STATUS)
    assert set(cat.MAP_STEERING_ERROR.values()) <= set(cat.MAP_ERRORS)
    assert set(cat.SBI_STEERING_STATUS.values()) <= set(cat.SBI_CAUSES)
    # Steering must not bar the network for good unless asked to: only roaming-not-allowed gives #11.
    barring = [k for k, e in cat.MAP_STEERING_ERROR.items() if cat.mm_cause_for_map(e) == 11]
    assert barring == ["roaming-not-allowed"]
    barring = [k for k, s in cat.SBI_STEERING_STATUS.items() if cat.gmm5_cause_for_status(s) == 11]
    assert barring == ["roaming-not-allowed"]
