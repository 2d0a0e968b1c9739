"""Records with Elasticsearch's population causes and geo results, as stored and as sent."""

from __future__ import annotations

import msgspec

from anomalyd.api import convert
from anomalyd.engine.results import AnomalyCause, AnomalyRecord, GeoResults


def _record(**extra: object) -> AnomalyRecord:
    fields: dict[str, object] = {
        "timestamp_ms": 600_000, "detector_index": 0, "function": "high_sum", "function_description": "sum",
        "field_name": "bytes", "by_field_name": "", "by_field_value": "", "partition_field_name": "",
        "partition_field_value": "", "over_field_name": "ip", "over_field_value": "10.0.0.9", "probability": 1e-9,
        "record_score": 91.0, "initial_record_score": 91.0, "actual": [9e6], "typical": [1e4],
        "multi_bucket_impact": -5.0, "influencers": [], "is_interim": False,
    }
    return AnomalyRecord(**fields | extra)  # type: ignore[arg-type]


def test_causes_and_geo_results_survive_storage_and_reach_the_wire():
    geo = GeoResults(actual_point="-33.86,151.2", typical_point="51.5,-0.12")
    cause = AnomalyCause(
        probability=1e-9, function="high_sum", function_description="sum", field_name="bytes",
        by_field_name="status", by_field_value="500", over_field_name="ip", over_field_value="10.0.0.9",
        partition_field_name="", partition_field_value="", actual=[9e6], typical=[1e4], geo_results=geo,
    )
    stored = msgspec.msgpack.decode(msgspec.msgpack.encode(_record(causes=[cause], geo_results=geo)), type=AnomalyRecord)
    message = convert.record("web", 300, stored)
    (sent,) = message.causes
    assert (sent.by_field_value, sent.over_field_value, list(sent.actual), sent.probability) == ("500", "10.0.0.9", [9e6], 1e-9)
    assert (sent.geo_results.actual_point, message.geo_results.typical_point) == ("-33.86,151.2", "51.5,-0.12")


def test_records_stored_before_causes_existed_read_without_them():
    fields = msgspec.to_builtins(_record())
    old = msgspec.msgpack.encode({k: v for k, v in fields.items() if k not in ("causes", "geo_results")})
    message = convert.record("web", 300, msgspec.msgpack.decode(old, type=AnomalyRecord))
    assert (list(message.causes), message.HasField("geo_results")) == ([], False)
