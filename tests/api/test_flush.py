"""FlushJob through the real server, as Elasticsearch flushes: advance_time with latency, interim ranges."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import timestamp_pb2

from anomalyd.v1 import job_pb2, results_service_pb2_grpc
from anomalyd.v1 import job_service_pb2 as pb
from anomalyd.v1 import results_service_pb2 as rpb
from tests.conftest import error_reason, job

SPAN_S = 60
T0 = 1_700_006_400


def at(seconds: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=T0 + seconds)


def post(stub, job_id: str, *seconds: int) -> pb.PostDataResponse:
    data = b"".join(b'{"time": %d, "value": 1}\n' % (T0 + s) for s in seconds)
    return stub.PostData(iter([pb.PostDataRequest(job_id=job_id, data=data)]), timeout=30)


def test_advance_time_finalises_only_buckets_whose_end_plus_latency_it_reaches(running):
    stub = running.stub
    stub.PutJob(pb.PutJobRequest(job=job("late", job_pb2.Detector(function="count"), span_s=SPAN_S, latency_s=120)), timeout=10)
    stub.OpenJob(pb.OpenJobRequest(job_id="late"), timeout=10)
    post(stub, "late", *range(0, 600, 10))
    flushed = stub.FlushJob(pb.FlushJobRequest(job_id="late", advance_time=at(700)), timeout=30)
    # autodetect finalises [s, s+60) while s + 60 + 120 <= 700: the last one is [480, 540).
    assert flushed.last_finalized_bucket_end.seconds == T0 + 540
    results = results_service_pb2_grpc.ResultsServiceStub(running.channel)
    buckets = results.GetBuckets(rpb.GetBucketsRequest(job_id="late", exclude_interim=True), timeout=10).buckets
    assert buckets[-1].timestamp.seconds == T0 + 480
    # A late record for the bucket that latency still holds open is analysed, not out of order.
    counts = post(stub, "late", 545, 539).data_counts
    assert (counts.processed_record_count, counts.out_of_order_timestamp_count) == (1, 1)
    # Without latency, the same advance_time finalises every bucket ending at or before it.
    stub.PutJob(pb.PutJobRequest(job=job("prompt", job_pb2.Detector(function="count"), span_s=SPAN_S)), timeout=10)
    stub.OpenJob(pb.OpenJobRequest(job_id="prompt"), timeout=10)
    post(stub, "prompt", *range(0, 600, 10))
    assert stub.FlushJob(pb.FlushJobRequest(job_id="prompt", advance_time=at(700)), timeout=30).last_finalized_bucket_end.seconds == T0 + 660


def test_calc_interim_with_end_but_no_start_is_refused(stub):
    stub.PutJob(pb.PutJobRequest(job=job("interim", span_s=SPAN_S)), timeout=10)
    stub.OpenJob(pb.OpenJobRequest(job_id="interim"), timeout=10)
    with pytest.raises(grpc.RpcError) as err:
        stub.FlushJob(pb.FlushJobRequest(job_id="interim", calc_interim=True, end=at(600)), timeout=10)
    assert (err.value.code(), error_reason(err.value)) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST")
    assert "start" in err.value.details()


@pytest.mark.parametrize("end", [None, 600], ids=["no-end", "end-equal-to-start"])
def test_calc_interim_with_start_alone_covers_the_bucket_of_start(running, end):
    stub = running.stub
    stub.PutJob(pb.PutJobRequest(job=job("one", span_s=SPAN_S, latency_s=300)), timeout=10)
    stub.OpenJob(pb.OpenJobRequest(job_id="one"), timeout=10)
    post(stub, "one", *range(0, 900, 5))
    # Latency holds buckets from 540 open; a start alone means start + 1 s, so only its bucket.
    # Elasticsearch's TimeRange: an end equal to the start is one second on, as no end is.
    stub.FlushJob(pb.FlushJobRequest(job_id="one", calc_interim=True, start=at(600), end=None if end is None else at(end)), timeout=30)
    results = results_service_pb2_grpc.ResultsServiceStub(running.channel)
    buckets = results.GetBuckets(rpb.GetBucketsRequest(job_id="one", start=at(540)), timeout=10).buckets
    assert [(b.timestamp.seconds - T0, b.is_interim) for b in buckets] == [(600, True)]
