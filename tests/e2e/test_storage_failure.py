"""A disk that refuses writes fails the upload with a precise status and loses nothing stored."""

from __future__ import annotations

import os
import resource
import signal

import grpc
import pytest

from anomalyd.v1 import job_pb2, job_stats_pb2
from anomalyd.v1 import job_service_pb2 as pb
from tests.conftest import error_reason, job

LINES = [b'{"time": %d, "value": %d, "pad": "%s"}\n' % (1_000_000 + i, i, b"x" * 200) for i in range(30_000)]
FIRST, REST = b"".join(LINES[:3_000]), b"".join(LINES[3_000:])


@pytest.fixture
def full_disk(running):
    """Lets the LMDB file grow no further, as a full disk would, until the test ends."""
    data_file = os.path.join(running.server.settings.data_dir, "lmdb", "data.mdb")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead

    def fill() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(data_file), hard))

    try:
        yield fill
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def test_full_disk_fails_the_upload_and_the_job_recovers(running, full_disk):
    stub = running.stub
    stub.PutJob(pb.PutJobRequest(job=job("disk", job_pb2.Detector(function="mean", field_name="value"))), timeout=10)
    stub.OpenJob(pb.OpenJobRequest(job_id="disk"), timeout=10)
    stub.PostData(iter([pb.PostDataRequest(job_id="disk", data=FIRST)]), timeout=60)
    before = stub.GetJobStats(pb.GetJobStatsRequest(job_id="disk"), timeout=10).jobs[0].data_counts
    full_disk()
    with pytest.raises(grpc.RpcError) as err:
        stub.PostData(iter([pb.PostDataRequest(job_id="disk", data=REST)]), timeout=60)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_reason(err.value) == "STORAGE_UNAVAILABLE"
    stats = stub.GetJobStats(pb.GetJobStatsRequest(job_id="disk"), timeout=10).jobs[0]
    assert stats.state == job_stats_pb2.JOB_STATE_FAILED and "storing data failed" in stats.failure_reason
    # What reaches clients names no path of the server's file system; the log does.
    data_dir = running.server.settings.data_dir
    assert data_dir not in err.value.details() and data_dir not in stats.failure_reason
    assert "the store refused a write" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        stub.PostData(iter([pb.PostDataRequest(job_id="disk", data=REST)]), timeout=60)
    assert error_reason(err.value) == "JOB_NOT_OPEN"
    # Space comes back: force close, reopen, and the job is as it was before the failed upload.
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    stub.CloseJob(pb.CloseJobRequest(job_id="disk", force=True), timeout=10)
    stub.OpenJob(pb.OpenJobRequest(job_id="disk"), timeout=30)
    after = stub.GetJobStats(pb.GetJobStatsRequest(job_id="disk"), timeout=10).jobs[0].data_counts
    assert after.processed_record_count == before.processed_record_count
    counts = stub.PostData(iter([pb.PostDataRequest(job_id="disk", data=REST)]), timeout=60).data_counts
    assert counts.processed_record_count == len(LINES) - 3_000
