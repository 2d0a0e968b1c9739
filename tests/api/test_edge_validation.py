"""Values that once cost unbounded memory or poisoned every listing are refused or counted at the edge."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import duration_pb2, timestamp_pb2

from anomalyd.v1 import column_batch_pb2, job_pb2
from anomalyd.v1 import job_service_pb2 as pb
from tests.conftest import error_reason, job

YEAR_S = 365 * 86_400


def put(stub, message: job_pb2.Job) -> None:
    stub.PutJob(pb.PutJobRequest(job=message), timeout=10)


def refused(stub, message: job_pb2.Job) -> str:
    """The field the PutJob of message is refused for."""
    with pytest.raises(grpc.RpcError) as err:
        put(stub, message)
    assert (err.value.code(), error_reason(err.value)) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_JOB_CONFIG")
    return err.value.details()


def listing_works(stub) -> int:
    return stub.GetJobStats(pb.GetJobStatsRequest(job_id="_all"), timeout=10).count


def test_unbounded_configurations_are_refused(stub):
    put(stub, job("fine"))
    latency = job("slow", span_s=1)
    latency.analysis_config.latency.seconds = 10 * YEAR_S
    assert "latency" in refused(stub, latency)
    assert "influencers" in refused(stub, job("wide", influencers=[f"f{i}" for i in range(100_000)]))
    span = job("long")
    span.analysis_config.bucket_span.seconds = 2**62
    assert "bucket_span" in refused(stub, span)
    memory = job("greedy", analysis_limits=job_pb2.AnalysisLimits(model_memory_limit="999999999999tb"))
    assert "model_memory_limit" in refused(stub, memory)
    assert "renormalization_window_days" in refused(stub, job("forever", renormalization_window_days=2**62))
    assert listing_works(stub) == 1


def test_columnar_times_beyond_year_9999_are_invalid_dates_and_listings_stay_readable(stub):
    put(stub, job("columns", job_pb2.Detector(function="mean", field_name="value")))
    stub.OpenJob(pb.OpenJobRequest(job_id="columns"), timeout=10)
    far = 253_402_300_800_000  # 10000-01-01
    batch = column_batch_pb2.ColumnBatch(
        times=[1_700_000_000_000, far, -far, 2**62],
        numeric_columns=[column_batch_pb2.NumericColumn(name="value", values=[1, 2, 3, 4])],
    )
    counts = stub.PostData(iter([pb.PostDataRequest(job_id="columns", columns=batch)]), timeout=10).data_counts
    assert (counts.processed_record_count, counts.invalid_date_count) == (1, 3)
    assert counts.latest_record_timestamp.ToMilliseconds() == 1_700_000_000_000
    assert listing_works(stub) == 1


@pytest.mark.parametrize(
    "request_",
    [
        pb.FlushJobRequest(job_id="flush", advance_time=timestamp_pb2.Timestamp(seconds=2**62)),
        pb.FlushJobRequest(job_id="flush", skip_time=timestamp_pb2.Timestamp(seconds=1, nanos=-1)),
        pb.FlushJobRequest(job_id="flush", calc_interim=True, start=timestamp_pb2.Timestamp(seconds=-(2**62))),
    ],
    ids=["advance-past-9999", "negative-nanos", "start-before-year-1"],
)
def test_timestamps_outside_their_range_are_invalid_requests(stub, request_):
    put(stub, job("flush"))
    stub.OpenJob(pb.OpenJobRequest(job_id="flush"), timeout=10)
    with pytest.raises(grpc.RpcError) as err:
        stub.FlushJob(request_, timeout=10)
    assert (err.value.code(), error_reason(err.value)) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST")


def test_timeouts_beyond_a_day_are_refused_before_the_job_changes(stub):
    put(stub, job("patient"))
    with pytest.raises(grpc.RpcError) as err:
        stub.OpenJob(pb.OpenJobRequest(job_id="patient", timeout=duration_pb2.Duration(seconds=2**62)), timeout=10)
    assert error_reason(err.value) == "INVALID_REQUEST"
    assert stub.GetJobStats(pb.GetJobStatsRequest(job_id="patient"), timeout=10).jobs[0].state == 1  # still closed
    stub.OpenJob(pb.OpenJobRequest(job_id="patient"), timeout=10)
