"""Limits through the real server: streams, uploads and open jobs bounded, the rest still served.

Each limit refuses with RESOURCE_EXHAUSTED and a reason naming it, keeps what was accepted
before, and leaves health, stats and results answering.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from anomalyd.v1 import column_batch_pb2, job_pb2, job_stats_pb2, results_service_pb2, results_service_pb2_grpc
from anomalyd.v1 import job_service_pb2 as pb
from tests.conftest import Running, error_info, error_reason, job, serving

CHUNK = b"".join(b'{"time": %d, "value": %d}\n' % (1_000_000 + i, i) for i in range(1000))


def open_job(stub, job_id: str) -> None:
    stub.PutJob(pb.PutJobRequest(job=job(job_id, job_pb2.Detector(function="mean", field_name="value"))), timeout=10)
    stub.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=10)


def processed(stub, job_id: str) -> int:
    return stub.GetJobStats(pb.GetJobStatsRequest(job_id=job_id), timeout=10).jobs[0].data_counts.processed_record_count


def held(release: threading.Event, *messages: pb.PostDataRequest) -> Iterator[pb.PostDataRequest]:
    """A stream that sends messages, then nothing until release is set."""
    yield from messages
    release.wait(30)


def wait_until(condition, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.01)


def still_served(server: Running, job_id: str) -> None:
    """Health, stats and results each answer within a short deadline."""
    health = health_pb2_grpc.HealthStub(server.channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert server.stub.GetJobStats(pb.GetJobStatsRequest(job_id="_all"), timeout=5).count >= 1
    results = results_service_pb2_grpc.ResultsServiceStub(server.channel)
    results.GetBuckets(results_service_pb2.GetBucketsRequest(job_id=job_id), timeout=5)


def test_silent_streams_beyond_the_old_worker_count_leave_the_server_answering(tmp_path):
    with serving(tmp_path / "data") as server:
        open_job(server.stub, "quiet")
        release = threading.Event()
        silent = [server.stub.PostData.future(held(release), timeout=60) for _ in range(40)]
        try:
            still_served(server, "quiet")
            # A real upload goes through beside them.
            counts = server.stub.PostData(iter([pb.PostDataRequest(job_id="quiet", data=CHUNK)]), timeout=10)
            assert counts.data_counts.processed_record_count == 1000
        finally:
            release.set()
        for call in silent:  # a stream that ends without a message names no job
            with pytest.raises(grpc.RpcError) as err:
                call.result()
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_stream_over_max_streams_is_refused_at_once_and_the_others_complete(tmp_path):
    with serving(tmp_path / "data", max_streams=2) as server:
        for job_id in ("a", "b", "c"):
            open_job(server.stub, job_id)
        release = threading.Event()
        streams = [
            server.stub.PostData.future(held(release, pb.PostDataRequest(job_id=j, data=CHUNK)), timeout=60)
            for j in ("a", "b")
        ]
        try:
            wait_until(lambda: processed(server.stub, "a") == processed(server.stub, "b") == 1000)
            with pytest.raises(grpc.RpcError) as err:
                server.stub.PostData(iter([pb.PostDataRequest(job_id="c", data=CHUNK)]), timeout=5)
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            info = error_info(err.value)
            assert (info.reason, info.metadata["limit"]) == ("TOO_MANY_STREAMS", "2")
            still_served(server, "c")
        finally:
            release.set()
        assert [s.result().data_counts.processed_record_count for s in streams] == [1000, 1000]
        # With a stream free again, the refused upload goes through.
        counts = server.stub.PostData(iter([pb.PostDataRequest(job_id="c", data=CHUNK)]), timeout=10)
        assert counts.data_counts.processed_record_count == 1000


def test_an_idle_stream_times_out_keeping_what_it_sent(tmp_path):
    with serving(tmp_path / "data", stream_idle_timeout_s=0.5) as server:
        open_job(server.stub, "idle")
        release = threading.Event()
        try:
            with pytest.raises(grpc.RpcError) as err:
                server.stub.PostData(held(release, pb.PostDataRequest(job_id="idle", data=CHUNK)), timeout=30)
        finally:
            release.set()
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        info = error_info(err.value)
        assert info.reason == "STREAM_IDLE_TIMEOUT"
        assert info.metadata["processedRecordCount"] == "1000"
        assert processed(server.stub, "idle") == 1000
        # The job takes a new stream, continuing where the first one stopped.
        later = CHUNK.replace(b'{"time": 1', b'{"time": 2')
        counts = server.stub.PostData(iter([pb.PostDataRequest(job_id="idle", data=later)]), timeout=10)
        assert counts.data_counts.processed_record_count == 1000
        assert processed(server.stub, "idle") == 2000


def test_an_upload_over_max_upload_bytes_fails_keeping_the_messages_before(tmp_path):
    with serving(tmp_path / "data", max_upload_bytes=len(CHUNK) * 5 // 2) as server:
        open_job(server.stub, "big")
        shifted = [CHUNK.replace(b'{"time": 1', b'{"time": %d' % (1 + i)) for i in range(4)]
        messages = [pb.PostDataRequest(job_id="big", data=shifted[0])] + [pb.PostDataRequest(data=c) for c in shifted[1:]]
        with pytest.raises(grpc.RpcError) as err:
            server.stub.PostData(iter(messages), timeout=10)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        info = error_info(err.value)
        assert info.reason == "UPLOAD_TOO_LARGE"
        assert info.metadata["limitBytes"] == str(len(CHUNK) * 5 // 2)
        assert info.metadata["processedRecordCount"] == "2000"
        assert processed(server.stub, "big") == 2000


def test_opening_more_than_max_open_jobs_is_refused(tmp_path):
    with serving(tmp_path / "data", max_open_jobs=2) as server:
        open_job(server.stub, "one")
        open_job(server.stub, "two")
        server.stub.PutJob(pb.PutJobRequest(job=job("three")), timeout=10)
        with pytest.raises(grpc.RpcError) as err:
            server.stub.OpenJob(pb.OpenJobRequest(job_id="three"), timeout=10)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert error_info(err.value).metadata["limit"] == "2"
        assert server.stub.GetJobStats(pb.GetJobStatsRequest(job_id="three"), timeout=10).jobs[0].state == 1  # closed
        server.stub.CloseJob(pb.CloseJobRequest(job_id="one"), timeout=10)
        server.stub.OpenJob(pb.OpenJobRequest(job_id="three"), timeout=10)


@pytest.mark.parametrize(
    "call",
    [
        lambda stub, job_id: stub.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=10),
        lambda stub, job_id: stub.DeleteJob(pb.DeleteJobRequest(job_id=job_id), timeout=10),
        lambda stub, job_id: stub.FlushJob(pb.FlushJobRequest(job_id=job_id), timeout=10),
        lambda stub, job_id: stub.PostData(iter([pb.PostDataRequest(job_id=job_id, data=CHUNK)]), timeout=10),
    ],
    ids=["open", "delete", "flush", "post"],
)
def test_empty_and_huge_job_ids_get_a_precise_status(running, call):
    with pytest.raises(grpc.RpcError) as err:
        call(running.stub, "")
    assert (err.value.code(), error_reason(err.value)) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST")
    huge = "x" * 10_000
    with pytest.raises(grpc.RpcError) as err:
        call(running.stub, huge)
    assert (err.value.code(), error_reason(err.value)) == (grpc.StatusCode.NOT_FOUND, "JOB_NOT_FOUND")
    assert len(err.value.details()) < 1000 and len(error_info(err.value).metadata["jobId"]) <= 200


def test_an_empty_task_id_is_not_found(stub):
    with pytest.raises(grpc.RpcError) as err:
        stub.GetTask(pb.GetTaskRequest(task_id=""), timeout=10)
    assert error_reason(err.value) == "TASK_NOT_FOUND"


@pytest.mark.parametrize(
    "detector",
    [job_pb2.Detector(function="rare", by_field_name="v", over_field_name="u"),
     job_pb2.Detector(function="high_distinct_count", field_name="v", over_field_name="u", exclude_frequent="all"),
     job_pb2.Detector(function="info_content", field_name="v", by_field_name="u")],
    ids=["rare-over", "dc-over-excluding-frequent", "info-content-by"],
)
def test_ever_new_values_against_a_small_memory_limit_end_in_hard_limit(running, detector):
    limit = job_pb2.AnalysisLimits(model_memory_limit="1mb")
    running.stub.PutJob(pb.PutJobRequest(job=job("card", detector, span_s=60, analysis_limits=limit)), timeout=10)
    running.stub.OpenJob(pb.OpenJobRequest(job_id="card"), timeout=10)
    n = 20_000
    for b in range(5):  # 20,000 new values of each field a bucket, as columns
        names = [f"{b}-{i}" for i in range(n)]
        batch = column_batch_pb2.ColumnBatch(
            times=[60_000 * b + i * 60_000 // n for i in range(n)],
            string_columns=[column_batch_pb2.StringColumn(name=f, dictionary=names, codes=list(range(1, n + 1))) for f in "uv"],
        )
        running.stub.PostData(iter([pb.PostDataRequest(job_id="card", columns=batch)]), timeout=60)
    stats = running.stub.GetJobStats(pb.GetJobStatsRequest(job_id="card"), timeout=10).jobs[0].model_size_stats
    assert stats.memory_status == job_stats_pb2.MEMORY_STATUS_HARD_LIMIT
    assert stats.bucket_allocation_failures_count == 4  # the fifth bucket is still open
    assert stats.model_bytes <= 1 << 20 and stats.model_bytes_exceeded > 0
    running.stub.CloseJob(pb.CloseJobRequest(job_id="card"), timeout=30)
