"""A real server process over a real LMDB directory: restarts keep jobs, states and counts."""

from __future__ import annotations

import os
import signal

import grpc

from anomalyd.v1 import job_pb2, job_service_pb2_grpc, job_stats_pb2
from anomalyd.v1 import job_service_pb2 as pb
from tests.conftest import job

ROWS = b"".join(b'{"time": %d, "host": "h%d", "value": %d}\n' % (1_000_000 + 7 * i, i % 5, i) for i in range(20_000))


def connect(target):
    return job_service_pb2_grpc.JobServiceStub(grpc.insecure_channel(target))


def stats(stub):
    return {s.job_id: s for s in stub.GetJobStats(pb.GetJobStatsRequest(), timeout=10).jobs}


def setup_jobs(stub):
    detector = job_pb2.Detector(function="mean", field_name="value", by_field_name="host")
    for job_id in ("streaming", "idle"):
        stub.PutJob(pb.PutJobRequest(job=job(job_id, detector, span_s=60, groups=["restart"])), timeout=10)
    stub.OpenJob(pb.OpenJobRequest(job_id="streaming"), timeout=10)
    half = len(ROWS) // 2
    cut = ROWS.rfind(b"\n", 0, half) + 1
    stub.PostData(iter([pb.PostDataRequest(job_id="streaming", data=ROWS[:cut])]), timeout=30)
    return ROWS[cut:]


def comparable(s):
    counts = s.data_counts
    counts.ClearField("last_data_time")
    counts.ClearField("log_time")
    return s.state, counts.SerializeToString(deterministic=True)


def test_sigterm_closes_gracefully_and_the_next_start_reopens(server_process):
    stub = connect(server_process.start())
    rest = setup_jobs(stub)
    before = stats(stub)
    jobs_before = stub.GetJobs(pb.GetJobsRequest(), timeout=10)
    assert server_process.stop(signal.SIGTERM) == 0
    stub = connect(server_process.start())
    after = stats(stub)
    jobs_after = stub.GetJobs(pb.GetJobsRequest(), timeout=10)
    # The graceful close persisted the streaming job's model: its model_snapshot_id names that snapshot.
    assert {j.job_id: bool(j.model_snapshot_id) for j in jobs_after.jobs} == {"idle": False, "streaming": True}
    for jobs in (jobs_before, jobs_after):
        for j in jobs.jobs:
            j.ClearField("model_snapshot_id")
    assert jobs_after == jobs_before
    assert after["idle"].state == job_stats_pb2.JOB_STATE_CLOSED
    assert after["streaming"].state == job_stats_pb2.JOB_STATE_OPENED
    assert {k: comparable(v)[1] for k, v in after.items()} == {k: comparable(v)[1] for k, v in before.items()}
    counts = stub.PostData(iter([pb.PostDataRequest(job_id="streaming", data=rest)]), timeout=30).data_counts
    assert counts.out_of_order_timestamp_count == 0
    assert stats(stub)["streaming"].data_counts.processed_record_count == 20_000


def test_sigterm_taken_by_any_thread_closes_jobs_gracefully(server_process):
    """A SIGTERM the kernel hands to a gRPC or pool thread stops the server as the main thread's does.

    The kernel may give a process's signal to any thread not blocking it; the server must not
    serve on until SIGKILL.
    """
    stub = connect(server_process.start())
    setup_jobs(stub)
    pid = server_process.pid
    os.kill(max(int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid), signal.SIGTERM)
    stub = connect(server_process.start())  # waits for the first server's exit, failing if it never comes
    assert {j.job_id: bool(j.model_snapshot_id) for j in stub.GetJobs(pb.GetJobsRequest(), timeout=10).jobs} == {
        "idle": False, "streaming": True,
    }


def test_kill_9_loses_nothing_acknowledged(server_process):
    stub = connect(server_process.start())
    rest = setup_jobs(stub)
    before = {k: comparable(v) for k, v in stats(stub).items()}
    server_process.stop(signal.SIGKILL)
    stub = connect(server_process.start())
    after = {k: comparable(v) for k, v in stats(stub).items()}
    assert after == before  # the open job is reopened with exactly its acknowledged counts
    stub.PostData(iter([pb.PostDataRequest(job_id="streaming", data=rest)]), timeout=30)
    assert stats(stub)["streaming"].data_counts.processed_record_count == 20_000
