"""GetJobStats through the real server: timing_stats, open_time and node as Elasticsearch reports them."""

from __future__ import annotations

import pytest
from google.protobuf import timestamp_pb2

from anomalyd.v1 import job_pb2, results_service_pb2_grpc
from anomalyd.v1 import job_service_pb2 as pb
from anomalyd.v1 import results_service_pb2 as rpb
from tests.conftest import job

T0 = 1_700_006_400


def stats_of(stub, job_id: str):
    return stub.GetJobStats(pb.GetJobStatsRequest(job_id=job_id), timeout=10).jobs[0]


def test_timing_stats_open_time_and_node(running):
    stub = running.stub
    stub.PutJob(pb.PutJobRequest(job=job("timed", job_pb2.Detector(function="count"), span_s=60)), timeout=10)
    closed = stats_of(stub, "timed")
    assert closed.timing_stats.bucket_count == 0 and not closed.timing_stats.HasField("average_bucket_processing_time_ms")
    assert not closed.HasField("open_duration") and not closed.HasField("node_info")

    stub.OpenJob(pb.OpenJobRequest(job_id="timed"), timeout=10)
    data = b"".join(b'{"time": %d}\n' % (T0 + 7 * i) for i in range(1000))  # about 117 one-minute buckets
    stub.PostData(iter([pb.PostDataRequest(job_id="timed", data=data)]), timeout=60)
    stub.FlushJob(pb.FlushJobRequest(job_id="timed", calc_interim=True, advance_time=timestamp_pb2.Timestamp(seconds=T0 + 7200)), timeout=30)
    stats = stats_of(stub, "timed")
    results = results_service_pb2_grpc.ResultsServiceStub(running.channel)
    finalised = results.GetBuckets(rpb.GetBucketsRequest(job_id="timed", exclude_interim=True, page=rpb.Page(count_only=True)), timeout=10).count
    timing = stats.timing_stats
    assert timing.bucket_count == finalised > 100  # every finalised bucket, interim ones not
    assert 0 <= timing.minimum_bucket_processing_time_ms <= timing.average_bucket_processing_time_ms <= timing.maximum_bucket_processing_time_ms
    assert timing.total_bucket_processing_time_ms == pytest.approx(timing.average_bucket_processing_time_ms * timing.bucket_count)
    assert timing.minimum_bucket_processing_time_ms <= timing.exponential_average_bucket_processing_time_ms <= timing.maximum_bucket_processing_time_ms
    assert timing.HasField("exponential_average_bucket_processing_time_per_hour_ms")
    # Elasticsearch's open_time is how long the job has been open, in seconds.
    assert stats.HasField("open_duration") and stats.open_duration.seconds >= 0 and stats.open_duration.nanos == 0
    # Its node is an object: a persistent id, a name, an id of this start, an address.
    node = stats.node_info
    assert node.id and node.name == stats.node and node.ephemeral_id
    assert node.transport_address == f"127.0.0.1:{running.server.port}"
    assert node.attributes["ml.max_open_jobs"] == str(running.server.settings.max_open_jobs)

    stub.CloseJob(pb.CloseJobRequest(job_id="timed"), timeout=30)
    after = stats_of(stub, "timed")
    assert after.timing_stats.bucket_count == timing.bucket_count  # kept with the job
    assert not after.HasField("open_duration") and not after.HasField("node_info")
