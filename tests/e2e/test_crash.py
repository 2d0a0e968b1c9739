"""SIGKILL at random moments loses nothing acknowledged: the crashed run ends exactly as an uninterrupted one."""

from __future__ import annotations

import random
import signal
import threading
import time

import grpc
import numpy as np
import pytest
from google.protobuf import timestamp_pb2

from anomalyd.v1 import job_pb2, job_service_pb2_grpc, job_stats_pb2, model_snapshot_service_pb2_grpc, results_service_pb2_grpc
from anomalyd.v1 import job_service_pb2 as pb
from anomalyd.v1 import model_snapshot_service_pb2 as spb
from anomalyd.v1 import results_service_pb2 as rpb
from anomalyd_client.local import LocalServer
from tests.conftest import job

RECORDS_PER_MESSAGE = 300
START_S = 1_700_006_400


def dataset() -> list[bytes]:
    """Three hosts, one record a minute each over three days, a daily cycle and two incidents."""
    rng = np.random.default_rng(11)
    minutes = np.arange(3 * 1440)
    lines = []
    for minute in minutes:
        for h, host in enumerate("abc"):
            value = 100 + 30 * np.sin(2 * np.pi * minute / 1440 + h) + rng.normal(0, 3)
            if host == "b" and 2 * 1440 + 600 <= minute < 2 * 1440 + 615:
                value += 80
            lines.append(b'{"time": %d, "host": "%s", "latency": %.4f}\n' % (START_S + 60 * minute, host.encode(), value))
    return [b"".join(lines[i:i + RECORDS_PER_MESSAGE]) for i in range(0, len(lines), RECORDS_PER_MESSAGE)]


MESSAGES = dataset()
TOTAL = sum(m.count(b"\n") for m in MESSAGES)


MEAN_BY_HOST = (job_pb2.Detector(function="mean", field_name="latency", by_field_name="host"),)


class Harness:
    """One job on a server process that the test may kill and restart.

    Args:
        process: the server.
        job_id: the job.
        messages: what the job is sent, whole lines of NDJSON each, RECORDS_PER_MESSAGE lines
            but the last.
        detectors: the job's detectors.
        influencers: its influencers.
        span_s: its bucket span.
    """

    def __init__(
        self, process: LocalServer, job_id: str = "crash", messages: list[bytes] = MESSAGES,
        detectors: tuple[job_pb2.Detector, ...] = MEAN_BY_HOST, influencers: tuple[str, ...] = ("host",), span_s: int = 300,
    ) -> None:
        self.process, self.job_id = process, job_id
        self.messages, self.detectors, self.influencers, self.span_s = messages, detectors, influencers, span_s
        self.total = sum(m.count(b"\n") for m in messages)
        self.connect(process.start())

    def connect(self, target: str) -> None:
        channel = grpc.insecure_channel(target)
        self.jobs = job_service_pb2_grpc.JobServiceStub(channel)
        self.results = results_service_pb2_grpc.ResultsServiceStub(channel)
        self.snapshots = model_snapshot_service_pb2_grpc.ModelSnapshotServiceStub(channel)

    def create(self, job_id: str | None = None) -> None:
        config = job(job_id or self.job_id, *self.detectors, span_s=self.span_s, influencers=list(self.influencers))
        self.jobs.PutJob(pb.PutJobRequest(job=config), timeout=30)
        self.jobs.OpenJob(pb.OpenJobRequest(job_id=job_id or self.job_id), timeout=60)

    def kill_and_restart(self) -> None:
        self.process.stop(signal.SIGKILL)
        self.connect(self.process.start())

    def stats(self, job_id: str | None = None):
        return self.jobs.GetJobStats(pb.GetJobStatsRequest(job_id=job_id or self.job_id), timeout=30).jobs[0]

    def stream(self, first: int, kill_after: int | None = None) -> None:
        """Send messages from index first on; SIGKILL the server once kill_after has been sent."""

        def messages():
            for i in range(first, len(self.messages)):
                yield pb.PostDataRequest(job_id=self.job_id if i == first else "", data=self.messages[i])
                if i == kill_after:
                    self.process.kill()
                    time.sleep(5)  # the stream dies with the server

        self.jobs.PostData(messages(), timeout=120)

    def resume_point(self) -> int:
        processed = self.stats().data_counts.processed_record_count
        if processed == self.total:
            return len(self.messages)
        assert processed % RECORDS_PER_MESSAGE == 0  # only whole messages commit
        return processed // RECORDS_PER_MESSAGE

    def outcome(self, job_id: str | None = None):
        job_id = job_id or self.job_id
        counts = self.stats(job_id).data_counts
        for wall_clock in ("last_data_time", "log_time"):
            counts.ClearField(wall_clock)
        buckets = self.results.GetBuckets(rpb.GetBucketsRequest(job_id=job_id, expand=True, page=rpb.Page(size=10_000)), timeout=60)
        influencers = self.results.GetInfluencers(rpb.GetInfluencersRequest(job_id=job_id, sort="timestamp", desc=False, page=rpb.Page(size=10_000)), timeout=60)
        return counts, list(buckets.buckets), list(influencers.influencers)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    process = LocalServer(tmp_path_factory.mktemp("reference") / "data")
    try:
        harness = Harness(process)
        harness.create()
        harness.stream(0)
        harness.jobs.CloseJob(pb.CloseJobRequest(job_id="crash"), timeout=120)
        return harness.outcome()
    finally:
        process.stop(signal.SIGKILL)


def finish(harness: Harness) -> None:
    """Resume from the server's counts until everything is sent, then close."""
    while (first := harness.resume_point()) < len(harness.messages):
        harness.stream(first)
    harness.jobs.CloseJob(pb.CloseJobRequest(job_id=harness.job_id), timeout=120)


def kill_and_finish(harness: Harness, seed: int) -> None:
    """Kill the server mid-stream at 4 random messages and once between streams, resuming each time; then close."""
    kill_points = sorted(random.Random(seed).sample(range(1, len(harness.messages) - 1), 4))
    for kill_after in kill_points:
        first = harness.resume_point()
        if kill_after < first:
            continue
        with pytest.raises(grpc.RpcError):
            harness.stream(first, kill_after=kill_after)  # some messages committed, some lost in flight
        harness.connect(harness.process.start())
        assert harness.stats().state == job_stats_pb2.JOB_STATE_OPENED  # reopened on its own
    harness.stream(harness.resume_point(), kill_after=None)
    harness.kill_and_restart()  # between streams: everything acknowledged
    finish(harness)


def test_kills_mid_stream_and_between_streams(server_process, uninterrupted):
    harness = Harness(server_process)
    harness.create()
    kill_and_finish(harness, seed=20261123)
    assert harness.outcome() == uninterrupted


def test_kill_during_close(server_process, uninterrupted):
    harness = Harness(server_process)
    harness.create()
    harness.stream(0)
    closing = threading.Thread(target=lambda: _ignore_unavailable(
        lambda: harness.jobs.CloseJob(pb.CloseJobRequest(job_id="crash"), timeout=60)))
    closing.start()
    time.sleep(random.Random(5).uniform(0, 0.05))
    harness.kill_and_restart()
    closing.join(60)
    state = harness.stats().state
    assert state in (job_stats_pb2.JOB_STATE_OPENED, job_stats_pb2.JOB_STATE_CLOSED)
    if state == job_stats_pb2.JOB_STATE_OPENED:
        harness.jobs.CloseJob(pb.CloseJobRequest(job_id="crash"), timeout=60)
    assert harness.outcome() == uninterrupted


def test_kill_during_snapshot_writes(server_process, uninterrupted):
    harness = Harness(server_process)
    harness.create()
    half = len(MESSAGES) // 2
    harness.jobs.PostData(iter([pb.PostDataRequest(job_id="crash", data=b"".join(MESSAGES[:half]))]), timeout=120)
    snapshotting = threading.Thread(target=lambda: _ignore_unavailable(lambda: [
        harness.snapshots.CreateModelSnapshot(spb.CreateModelSnapshotRequest(job_id="crash"), timeout=30) for _ in range(50)]))
    snapshotting.start()
    time.sleep(0.2)
    harness.kill_and_restart()
    snapshotting.join(60)
    assert harness.stats().state == job_stats_pb2.JOB_STATE_OPENED
    finish(harness)
    assert harness.outcome() == uninterrupted


def test_kill_during_delete_resumes_it(server_process):
    harness = Harness(server_process)
    harness.create("keep")
    harness.create("doomed")
    for job_id in ("keep", "doomed"):
        harness.jobs.PostData(iter([pb.PostDataRequest(job_id=job_id, data=b"".join(MESSAGES))]), timeout=120)
    before = harness.outcome("keep")
    task = harness.jobs.DeleteJob(pb.DeleteJobRequest(job_id="doomed", force=True, wait_for_completion=False), timeout=30).task_id
    harness.kill_and_restart()
    deadline = time.monotonic() + 120  # a guard against a delete that never resumes, not a timing
    while [j.job_id for j in harness.jobs.GetJobs(pb.GetJobsRequest(), timeout=30).jobs] != ["keep"]:
        assert time.monotonic() < deadline, "the delete did not resume"
        time.sleep(0.1)
    while not harness.jobs.GetTask(pb.GetTaskRequest(task_id=task), timeout=30).task.done:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert harness.outcome("keep") == before


@pytest.mark.timeout(120)
def test_records_far_apart_in_time_replay_exactly_after_a_kill(server_process):
    harness = Harness(server_process)
    harness.create()
    stray = b'{"time": 0, "host": "a", "latency": 100}\n'
    harness.jobs.PostData(iter([pb.PostDataRequest(job_id="crash", data=stray + b"".join(MESSAGES))]), timeout=60)
    far = b'{"time": 253402296900, "host": "b", "latency": 100}\n'  # 9999-12-31T22:55:00Z
    harness.jobs.PostData(iter([pb.PostDataRequest(job_id="crash", data=far)]), timeout=60)
    end = timestamp_pb2.Timestamp(seconds=253402300799)
    harness.jobs.FlushJob(pb.FlushJobRequest(job_id="crash", calc_interim=True, advance_time=end), timeout=60)
    before = harness.outcome()
    harness.kill_and_restart()  # never closed: the job reopens from its journal alone
    assert harness.stats().state == job_stats_pb2.JOB_STATE_OPENED
    assert harness.outcome() == before
    assert before[0].processed_record_count == TOTAL + 2


def _ignore_unavailable(call) -> None:
    try:
        call()
    except grpc.RpcError as err:
        assert err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED), err


