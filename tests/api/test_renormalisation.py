"""Renormalisation through the real server: a larger anomaly later lowers earlier scores."""

from __future__ import annotations

import numpy as np
import pytest

from anomalyd.v1 import job_pb2, results_service_pb2_grpc
from anomalyd.v1 import job_service_pb2 as pb
from anomalyd.v1 import results_service_pb2 as rpb
from tests.conftest import job

SPAN_S = 300
START_S = 1_700_006_400  # a midnight, UTC
DAYS = 4
OUTSIDE_S = START_S + 86_400 + 12 * 3_600  # day 2, 12:00: a moderate anomaly, outside the 1-day window
INSIDE_S = START_S + 3 * 86_400 + 3 * 3_600  # day 4, 03:00: a moderate anomaly inside it
LARGE_S = START_S + 3 * 86_400 + 20 * 3_600  # day 4, 20:00: a much larger one
SHIFTS = {OUTSIDE_S: 8.0, INSIDE_S: 8.0, LARGE_S: 60.0}


def rows() -> bytes:
    """One record a minute, flat with noise, and the three anomalies (one bucket each)."""
    rng = np.random.default_rng(5)
    times = START_S + 60 * np.arange(DAYS * 1440)
    values = 100 + rng.normal(0, 2, len(times))
    for start, shift in SHIFTS.items():
        values[(times >= start) & (times < start + SPAN_S)] += shift
    return b"".join(b'{"time": %d, "latency": %.3f}\n' % (t, v) for t, v in zip(times, values, strict=True))


@pytest.fixture
def results(running):
    detector = job_pb2.Detector(function="mean", field_name="latency")
    config = job("renorm", detector, span_s=SPAN_S, renormalization_window_days=1)
    running.stub.PutJob(pb.PutJobRequest(job=config), timeout=10)
    running.stub.OpenJob(pb.OpenJobRequest(job_id="renorm"), timeout=10)
    data = rows()
    chunks = [data[i:i + 100_000] for i in range(0, len(data), 100_000)]
    running.stub.PostData(iter([pb.PostDataRequest(job_id="renorm")] + [pb.PostDataRequest(data=c) for c in chunks]), timeout=120)
    return results_service_pb2_grpc.ResultsServiceStub(running.channel)


def bucket_at(results, seconds: int):
    request = rpb.GetBucketsRequest(job_id="renorm", expand=True, timestamp={"seconds": seconds})
    (bucket,) = results.GetBuckets(request, timeout=30).buckets
    (record,) = bucket.records
    return bucket, record


def test_larger_anomaly_lowers_earlier_scores_inside_the_window(results):
    _, large = bucket_at(results, LARGE_S)
    inside_bucket, inside = bucket_at(results, INSIDE_S)
    outside_bucket, outside = bucket_at(results, OUTSIDE_S)

    # The moderate anomaly scored high when it was the largest seen, and is lowered now.
    assert inside.initial_record_score >= 75
    assert inside.record_score < inside.initial_record_score - 25
    assert inside_bucket.initial_anomaly_score >= 75
    assert inside_bucket.anomaly_score < inside_bucket.initial_anomaly_score
    # Parents take the largest child.
    assert inside_bucket.anomaly_score == max(bi.anomaly_score for bi in inside_bucket.bucket_influencers)
    assert large.record_score > inside.record_score

    # The renormalisation the large anomaly triggers looks 1 day back, not to day 2 (which
    # renormalisations within a day of it may have nudged, but not to the inside one's level).
    assert outside.initial_record_score >= 75
    assert outside.record_score >= 75
    assert outside_bucket.anomaly_score >= 75
