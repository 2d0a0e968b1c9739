"""exclude_frequent through the real server: frequent values are left out of the analysis, rare ones stay in it."""

from __future__ import annotations

from anomalyd.v1 import job_pb2
from tests.api.rare_streams import INCIDENT_S, login_stream
from tests.api.test_rare import records


def test_a_frequent_by_value_is_left_out_and_a_rare_one_is_not(running):
    docs = login_stream()
    analysed = records(running, "logins", job_pb2.Detector(function="high_count", by_field_name="user"), docs)
    assert (analysed[0].timestamp.seconds, analysed[0].by_field_value) == (INCIDENT_S, "svc")
    detector = job_pb2.Detector(function="high_count", by_field_name="user", exclude_frequent="by")
    excluded = records(running, "logins-excluding", detector, docs)
    # svc, bob and carol log in every bucket: more than 10 % of them, so they are never analysed.
    assert {r.by_field_value for r in excluded} == {"alice"}
    assert (excluded[0].timestamp.seconds, excluded[0].by_field_value) == (INCIDENT_S, "alice")
    assert excluded[0].record_score > 25  # the sparse count model's score of 40 logins where 0.003 are typical
