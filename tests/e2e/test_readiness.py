"""Readiness and liveness of a real server process while it restores its jobs after a crash."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from anomalyd.v1 import job_pb2, job_service_pb2_grpc
from anomalyd.v1 import job_service_pb2 as pb
from tests.conftest import REPO, error_reason, job

SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
# Enough journal that its replay outlasts the first health checks by far: once the engine got
# faster, 60 messages were sometimes replayed before the first answer; 240 gave 44 answers of
# NOT_SERVING (about 1 s of replay).
MESSAGES = 400


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(data_dir, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "anomalyd.server", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}"]
    return subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(REPO / "service")}, stderr=subprocess.DEVNULL)


def check(health: health_pb2_grpc.HealthStub, service: str) -> int | None:
    try:
        return int(health.Check(health_pb2.HealthCheckRequest(service=service), timeout=1).status)
    except grpc.RpcError:
        return None  # not listening yet


@pytest.mark.timeout(180)
def test_not_ready_while_restoring_jobs_and_always_alive(tmp_path):
    port = free_port()
    server = start(tmp_path, port)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    health, stub = health_pb2_grpc.HealthStub(channel), job_service_pb2_grpc.JobServiceStub(channel)
    try:
        while check(health, "") != SERVING:
            time.sleep(0.05)
        # A long journal and no snapshot: the restart replays every message.
        detector = job_pb2.Detector(function="mean", field_name="value", by_field_name="host")
        stub.PutJob(pb.PutJobRequest(job=job("replayed", detector, span_s=60)), timeout=10)
        stub.OpenJob(pb.OpenJobRequest(job_id="replayed"), timeout=10)
        messages = [
            pb.PostDataRequest(job_id="replayed" if m == 0 else "", data=b"".join(
                b'{"time": %d, "host": "h%d", "value": %d}\n' % (60 * (50 * m + i // 20), i % 20, i % 7) for i in range(1000)
            ))
            for m in range(MESSAGES)
        ]
        stub.PostData(iter(messages), timeout=120)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()

    server = start(tmp_path, port)
    seen: list[tuple[int | None, int | None]] = []
    refused = None
    try:
        while not seen or seen[-1][0] != SERVING:
            seen.append((check(health, ""), check(health, "liveness")))
            if seen[-1][0] == NOT_SERVING and refused is None:
                with pytest.raises(grpc.RpcError) as err:
                    stub.GetJobs(pb.GetJobsRequest(), timeout=5)
                refused = (err.value.code(), error_reason(err.value))
            time.sleep(0.01)
        answered = [s for s in seen if s[0] is not None]
        assert answered[0][0] == NOT_SERVING, f"ready before the journal was replayed: {answered[:3]}"
        assert all(alive == SERVING for _, alive in answered), "liveness failed while jobs were restored"
        assert refused == (grpc.StatusCode.UNAVAILABLE, "SERVER_DRAINING")
        stats = stub.GetJobStats(pb.GetJobStatsRequest(job_id="replayed"), timeout=10).jobs[0]
        assert stats.data_counts.processed_record_count == MESSAGES * 1000
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0
        channel.close()
