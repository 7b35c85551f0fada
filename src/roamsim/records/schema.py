"""Arrow schemas of the run directory's Parquet files, and the enumerations they use.

Times are int64 nanoseconds since the Unix epoch (UTC). Enumerations are
written as dictionary-encoded strings; the engine holds them as small ints
whose names are the tuples below (the index is the code).
"""

from __future__ import annotations

import pyarrow as pa

PROCEDURE_TYPES = (
    "attach", "tracking_area_update", "cancel_location", "insert_subscriber_data", "purge",
    "location_update", "gprs_location_update", "registration", "mobility_registration",
    "session_create", "session_delete", "sms_mt", "sms_mo", "alert_service_centre",
)
"""attach / tracking_area_update: 4G (TS 23.401 §5.3.2, §5.3.3); location_update / gprs_location_update: 2G/3G
(TS 23.012, TS 23.060 §6.9); registration / mobility_registration: 5G SA (TS 23.502 §4.2.2.2); the rest any RAT."""
REGISTRATION_TYPES = ("attach", "location_update", "registration")
"""Initial registration procedures, one per RAT family (the KPIs' "attach" view covers them all)."""
TRIGGERS = (
    "arrival", "retry", "reselection", "power_on", "network_change", "border_crossing", "backoff_expiry",
    "mme_change", "location_update", "return_home", "subscription_change", "inactivity",
    "steering_of_roaming", "data", "sms", "welcome", "alert", "power_off",
)
OUTCOMES = ("success", "rejected", "timeout", "aborted")
RATS = ("2G", "3G", "4G", "5G")

_dict = pa.dictionary(pa.int8(), pa.string())
_dict16 = pa.dictionary(pa.int16(), pa.string())

TRANSACTIONS = pa.schema([
    ("txn_id", pa.int64()),
    ("e2e_id", pa.int64()),
    ("procedure_id", pa.int64()),
    ("imsi", pa.int64()),
    ("home_plmn", _dict16),
    ("visited_plmn", _dict16),
    ("protocol", _dict),
    ("interface", _dict),
    ("command", _dict),
    ("command_code", pa.int32()),
    ("origin", _dict16),
    ("responder", _dict16),
    ("request_time", pa.int64()),
    ("answer_time", pa.int64()),
    ("result_code", pa.int32()),
    ("experimental", pa.bool_()),
    ("timed_out", pa.bool_()),
    ("retransmission", pa.int8()),
    ("steering_reject", pa.bool_()),
    ("queue_wait_ns", pa.int64()),
    ("service_ns", pa.int64()),
])
"""One row per request/answer pair (a Diameter transaction), at its origin."""

MESSAGES = pa.schema([
    ("time", pa.int64()),
    ("protocol", _dict),
    ("interface", _dict),
    ("message", _dict),
    ("command_code", pa.int32()),
    ("is_request", pa.bool_()),
    ("txn_id", pa.int64()),
    ("e2e_id", pa.int64()),
    ("procedure_id", pa.int64()),
    ("imsi", pa.int64()),
    ("home_plmn", _dict16),
    ("visited_plmn", _dict16),
    ("origin", _dict16),
    ("destination", _dict16),
    ("hop", pa.int8()),
    ("result_code", pa.int32()),
    ("experimental_result_code", pa.int32()),
])
"""One row per signalling message on each hop."""

PROCEDURES = pa.schema([
    ("procedure_id", pa.int64()),
    ("type", _dict),
    ("trigger", _dict),
    ("imsi", pa.int64()),
    ("home_plmn", _dict16),
    ("visited_plmn", _dict16),
    ("rat", _dict),
    ("mme", _dict16),
    ("start_time", pa.int64()),
    ("end_time", pa.int64()),
    ("outcome", _dict),
    ("emm_cause", pa.int16()),
    ("result_code", pa.int32()),
    ("experimental", pa.bool_()),
    ("attempt", pa.int16()),
    ("steered", pa.bool_()),
])
"""One row per procedure attempt. ``mme`` is the serving node (MME, MSC/VLR, SGSN or AMF); ``emm_cause`` the NAS
reject cause (EMM for 4G, MM for 2G/3G, 5GMM for 5G)."""

SESSIONS = pa.schema([
    ("session_id", pa.int64()),
    ("procedure_id", pa.int64()),
    ("imsi", pa.int64()),
    ("home_plmn", _dict16),
    ("visited_plmn", _dict16),
    ("rat", _dict),
    ("routing", _dict),
    ("apn", _dict),
    ("start_time", pa.int64()),
    ("end_time", pa.int64()),
    ("outcome", _dict),
    ("result_code", pa.int32()),
    ("bytes_uplink", pa.int64()),
    ("bytes_downlink", pa.int64()),
])
"""One row per data session (PDN connection or PDU session): set-up result, duration and volume."""
ROUTINGS = ("home-routed", "local-breakout")
