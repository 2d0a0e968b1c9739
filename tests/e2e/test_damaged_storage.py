"""A real server process over damaged data: one damaged job fails alone, a damaged file stops clearly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import grpc
import pytest

from anomalyd.server import EXIT_STORAGE
from anomalyd.storage import keys
from anomalyd.storage.lmdb_store import LmdbStore
from anomalyd.v1 import job_pb2, job_service_pb2_grpc, job_stats_pb2
from anomalyd.v1 import job_service_pb2 as pb
from tests.conftest import REPO, error_reason, job

ROWS = b"".join(b'{"time": %d, "value": %d}\n' % (1_000_000 + 60 * i, i % 7) for i in range(2_000))


def connect(target: str) -> job_service_pb2_grpc.JobServiceStub:
    return job_service_pb2_grpc.JobServiceStub(grpc.insecure_channel(target))


def stats(stub) -> dict[str, object]:
    return {s.job_id: s for s in stub.GetJobStats(pb.GetJobStatsRequest(job_id="_all"), timeout=10).jobs}


def open_with_data(stub, job_id: str) -> None:
    stub.PutJob(pb.PutJobRequest(job=job(job_id, job_pb2.Detector(function="mean", field_name="value"))), timeout=10)
    stub.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=10)
    stub.PostData(iter([pb.PostDataRequest(job_id=job_id, data=ROWS)]), timeout=30)


def test_a_job_whose_status_no_longer_decodes_fails_alone(server_process):
    stub = connect(server_process.start())
    for job_id in ("good", "damaged"):
        open_with_data(stub, job_id)
    assert server_process.stop(signal.SIGTERM) == 0  # both are marked to reopen at the next start
    store = LmdbStore(str(server_process.data_dir / "lmdb"))
    store.update(lambda txn: txn.put(keys.STATUS, keys.job_key("damaged"), b"\xc1 not msgpack"), durable=True)
    store.close()

    stub = connect(server_process.start())
    jobs = stats(stub)
    assert jobs["good"].state == job_stats_pb2.JOB_STATE_OPENED
    assert jobs["good"].data_counts.processed_record_count == len(ROWS.splitlines())
    assert jobs["damaged"].state == job_stats_pb2.JOB_STATE_FAILED
    assert "cannot be read" in jobs["damaged"].failure_reason
    with pytest.raises(grpc.RpcError) as err:
        stub.OpenJob(pb.OpenJobRequest(job_id="damaged"), timeout=10)
    assert error_reason(err.value) == "JOB_FAILED"
    stub.DeleteJob(pb.DeleteJobRequest(job_id="damaged", force=True), timeout=30)
    assert list(stats(stub)) == ["good"]


def test_a_truncated_data_file_stops_the_server_with_a_clear_message(tmp_path, server_process):
    stub = connect(server_process.start())
    open_with_data(stub, "any")
    assert server_process.stop(signal.SIGTERM) == 0
    data_file = server_process.data_dir / "lmdb" / "data.mdb"
    os.truncate(data_file, data_file.stat().st_size // 2)

    command = [sys.executable, "-m", "anomalyd.server", "--data-dir", str(server_process.data_dir), "--listen", "127.0.0.1:0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO / "service")})
    assert result.returncode == EXIT_STORAGE, result.stderr
    assert "truncated" in result.stderr and "restore the data directory" in result.stderr
