"""What an operator watches: Prometheus metrics after real calls, and JSON log lines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from anomalyd.v1 import job_pb2, job_service_pb2_grpc
from anomalyd.v1 import job_service_pb2 as pb
from tests.conftest import REPO, Running, job, serving

ROWS = b"".join(b'{"time": %d, "value": %d}\n' % (1_700_000_000 + 60 * i, i % 7) for i in range(3_000))


def metrics_port(running: Running) -> int:
    assert running.server.metrics_port is not None, "started without --metrics-listen"
    return running.server.metrics_port


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the /metrics page, keyed by name and sorted labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as page:
        text = page.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_move_with_calls_and_uploads(tmp_path):
    with serving(tmp_path / "data", metrics_listen="127.0.0.1:0") as server:
        before = scrape(metrics_port(server))
        assert before[("anomalyd_open_jobs", ())] == 0
        server.stub.PutJob(pb.PutJobRequest(job=job("watched", job_pb2.Detector(function="mean", field_name="value"))), timeout=10)
        server.stub.OpenJob(pb.OpenJobRequest(job_id="watched"), timeout=10)
        server.stub.PostData(iter([pb.PostDataRequest(job_id="watched", data=ROWS)]), timeout=30)
        with pytest.raises(grpc.RpcError):
            server.stub.OpenJob(pb.OpenJobRequest(job_id="missing"), timeout=10)
        # A failed call's status reaches its client before the server has counted it.
        refused = ("anomalyd_rpcs_total", (("code", "NOT_FOUND"), ("method", "OpenJob")))
        deadline = time.monotonic() + 10
        while refused not in (after := scrape(metrics_port(server))) and time.monotonic() < deadline:
            time.sleep(0.01)

    watched = (("job_id", "watched"),)
    assert after[("anomalyd_rpcs_total", (("code", "OK"), ("method", "PostData")))] == 1
    assert after[("anomalyd_rpcs_total", (("code", "NOT_FOUND"), ("method", "OpenJob")))] == 1
    assert after[("anomalyd_rpc_seconds_count", (("method", "OpenJob"),))] == 2
    assert after[("anomalyd_open_jobs", ())] == 1
    assert after[("anomalyd_data_streams", ())] == 0
    assert after[("anomalyd_job_processed_records_total", watched)] == 3_000
    assert after[("anomalyd_job_input_bytes_total", watched)] == len(ROWS)
    assert after[("anomalyd_job_buckets_total", watched)] == 600  # 3,000 minutes in 601 five-minute buckets, the newest still open
    assert after[("anomalyd_job_model_bytes", watched)] > 0
    assert after[("anomalyd_job_memory_status", (("job_id", "watched"), ("status", "ok")))] == 1
    assert after[("anomalyd_job_journal_entries", watched)] >= 1
    assert after[("anomalyd_job_restore_seconds", watched)] >= 0
    assert after[("process_resident_memory_bytes", ())] > 0


def test_json_logs_carry_the_method_and_job(tmp_path):
    port_file = tmp_path / "port"
    command = [sys.executable, "-m", "anomalyd.server", "--data-dir", str(tmp_path / "data"), "--listen", "127.0.0.1:0",
               "--port-file", str(port_file), "--log-format", "json"]
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO / "service")})
    try:
        while not port_file.exists():
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
        stub = job_service_pb2_grpc.JobServiceStub(grpc.insecure_channel(f"127.0.0.1:{port_file.read_text()}"))
        stub.PutJob(pb.PutJobRequest(job=job("logged")), timeout=10)
        stub.OpenJob(pb.OpenJobRequest(job_id="logged"), timeout=10)
    finally:
        server.send_signal(signal.SIGTERM)
        _, errors = server.communicate(timeout=60)
    lines = [json.loads(line) for line in errors.splitlines()]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    opened = [line for line in lines if line["message"].startswith("job logged opened")]
    assert [(line.get("method"), line.get("job_id")) for line in opened] == [("OpenJob", "logged")]


def test_a_named_node_is_the_node_of_its_jobs(tmp_path):
    with serving(tmp_path / "data", node_name="anomalyd-1") as server:
        server.stub.PutJob(pb.PutJobRequest(job=job("homed")), timeout=10)
        assert server.stub.OpenJob(pb.OpenJobRequest(job_id="homed"), timeout=10).node == "anomalyd-1"
        assert server.stub.GetJobStats(pb.GetJobStatsRequest(job_id="homed"), timeout=10).jobs[0].node == "anomalyd-1"
