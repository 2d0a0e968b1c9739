"""Load on one real server: many jobs and streams beside slow, cancelling, abandoned and idle clients.

    python bench/load.py [--seconds 20] [--writers 12] [--max-streams 32]

Runs the server as a subprocess twice over the same writers (steady and slow uploads): first
alone (the baseline), then beside hostile clients: idle streams that keep the server at its
stream limit, uploads cancelled mid-stream, and client processes killed mid-upload. Prints the load held, records/s,
health-check latency and the server's peak RSS, then checks every job: each record it
accepted is counted exactly once, and every acknowledged record is among them.

Every client resumes as a careful one would: it asks the job for its latest record time and
sends from the record after it, so a record of a cancelled or killed upload may be sent twice
but must be counted once.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "service"), str(REPO / "clients" / "python")]

from anomalyd.v1 import job_pb2, job_service_pb2_grpc  # noqa: E402
from anomalyd.v1 import job_service_pb2 as pb  # noqa: E402
from anomalyd_client.local import LocalServer  # noqa: E402

T0_MS = 1_700_000_000_000
STEP_MS = 300  # 1,000 records a 5-minute bucket
RECORDS_PER_MESSAGE = 1_000
MESSAGES_PER_UPLOAD = 5
IDLE_TIMEOUT_S = 3.0
RETRYABLE = {"TOO_MANY_STREAMS", "DATA_STREAM_ACTIVE"}


def message(job_id: str, first: int) -> pb.PostDataRequest:
    """RECORDS_PER_MESSAGE records from record index first on."""
    lines = b"".join(
        b'{"time": %d, "value": %d}\n' % (T0_MS + STEP_MS * i, i % 97) for i in range(first, first + RECORDS_PER_MESSAGE)
    )
    return pb.PostDataRequest(job_id=job_id, data=lines)


def upload_messages(
    job_id: str, first: int, pause_s: float, cancel_after: int | None, sent: threading.Event, cancelled: threading.Event
) -> Iterator[pb.PostDataRequest]:
    """An upload's messages from record first on; with cancel_after, held open after that many."""
    for k in range(MESSAGES_PER_UPLOAD):
        if k == cancel_after:
            sent.set()
            cancelled.wait(60)
            return
        yield message(job_id if k == 0 else "", first + k * RECORDS_PER_MESSAGE)
        time.sleep(pause_s)


def silence(release: threading.Event) -> Iterator[pb.PostDataRequest]:
    """A stream that sends nothing until release is set."""
    release.wait(IDLE_TIMEOUT_S * 4)
    yield from ()


def resume_point(stub: job_service_pb2_grpc.JobServiceStub, job_id: str) -> int:
    """The index of the record after the job's latest one."""
    counts = stub.GetJobStats(pb.GetJobStatsRequest(job_id=job_id), timeout=30).jobs[0].data_counts
    if not counts.HasField("latest_record_timestamp"):
        return 0
    return (counts.latest_record_timestamp.ToMilliseconds() - T0_MS) // STEP_MS + 1


def reason(err: grpc.RpcError) -> str:
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    status = rpc_status.from_call(err)
    for detail in status.details if status else []:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return err.code().name


@dataclass
class Tally:
    """What the clients of one phase saw."""

    acknowledged: Counter[str] = field(default_factory=Counter)
    uploads: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    cancelled: int = 0
    killed: int = 0
    idle_streams_closed: int = 0
    health_ms: list[float] = field(default_factory=list)
    health_failures: int = 0
    peak_rss_mb: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Phase:
    """One run of the writers, with or without the hostile clients."""

    def __init__(self, server: LocalServer, jobs: list[str], tally: Tally, stop: threading.Event) -> None:
        self.channel = grpc.insecure_channel(server.target)
        self.stub = job_service_pb2_grpc.JobServiceStub(self.channel)
        self.server = server
        self.jobs = jobs
        self.tally = tally
        self.stop = stop

    def upload(self, job_id: str, *, pause_s: float = 0.0, cancel_after: int | None = None) -> None:
        """One upload from the job's resume point; retried while the server says so."""
        while not self.stop.is_set():
            sent, cancelled = threading.Event(), threading.Event()
            messages = upload_messages(job_id, resume_point(self.stub, job_id), pause_s, cancel_after, sent, cancelled)
            call = self.stub.PostData.future(messages, timeout=120)
            if cancel_after is not None:
                call.add_done_callback(lambda _, sent=sent: sent.set())  # refused before its messages went
                sent.wait(30)
                if not call.done():
                    time.sleep(0.05)
                    call.cancel()
                    cancelled.set()
                    with self.tally.lock:
                        self.tally.cancelled += 1
                    return
                cancelled.set()  # refused: let its messages end
            try:
                counts = call.result().data_counts
            except grpc.RpcError as err:
                why = reason(err)
                with self.tally.lock:
                    self.tally.refusals[why] += 1
                if why not in RETRYABLE:
                    raise
                time.sleep(0.05)
                continue
            with self.tally.lock:
                self.tally.acknowledged[job_id] += counts.processed_record_count
                self.tally.uploads += 1
            return

    def writer(self, job_id: str, kind: str) -> None:
        while not self.stop.is_set():
            if kind == "steady":
                self.upload(job_id)
            elif kind == "slow":
                self.upload(job_id, pause_s=0.3)
            else:  # cancelling
                self.upload(job_id, cancel_after=2)

    def idle_holder(self) -> None:
        """A stream that sends nothing; reopened as soon as the server closes it."""
        while not self.stop.is_set():
            release = threading.Event()
            try:
                self.stub.PostData(silence(release), timeout=IDLE_TIMEOUT_S * 4)
            except grpc.RpcError as err:
                with self.tally.lock:
                    if reason(err) == "STREAM_IDLE_TIMEOUT":
                        self.tally.idle_streams_closed += 1
                    else:
                        self.tally.refusals[reason(err)] += 1
                if reason(err) == "TOO_MANY_STREAMS":
                    time.sleep(0.1)
            finally:
                release.set()

    def abandoner(self, job_id: str) -> None:
        """Client processes that start an upload and are killed in the middle of it."""
        script = (
            "import sys, time\n"
            f"sys.path[:0] = [{str(REPO / 'service')!r}, {str(REPO / 'bench')!r}]\n"
            "import grpc, load\n"
            "stub = load.job_service_pb2_grpc.JobServiceStub(grpc.insecure_channel(sys.argv[1]))\n"
            "first = load.resume_point(stub, sys.argv[2])\n"
            "def messages():\n"
            "    for k in range(load.MESSAGES_PER_UPLOAD):\n"
            "        yield load.message(sys.argv[2] if k == 0 else '', first + k * load.RECORDS_PER_MESSAGE)\n"
            "        time.sleep(0.2)\n"
            "    time.sleep(60)\n"
            "stub.PostData(messages())\n"
        )
        while not self.stop.is_set():
            # A child refused for the stream limit fails quietly: it is killed either way.
            child = subprocess.Popen([sys.executable, "-c", script, self.server.target, job_id], stderr=subprocess.DEVNULL)
            self.stop.wait(2.0)  # about 1 s to start, then a message every 0.2 s
            child.kill()
            child.wait()
            with self.tally.lock:
                self.tally.killed += 1

    def prober(self) -> None:
        health = health_pb2_grpc.HealthStub(self.channel)
        while not self.stop.wait(0.05):
            start = time.perf_counter()
            try:
                health.Check(health_pb2.HealthCheckRequest(), timeout=5)
                self.tally.health_ms.append((time.perf_counter() - start) * 1000)
            except grpc.RpcError:
                self.tally.health_failures += 1

    def rss_sampler(self) -> None:
        status = Path(f"/proc/{self.server.pid}/status")
        while not self.stop.wait(0.2):
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.tally.peak_rss_mb = max(self.tally.peak_rss_mb, int(line.split()[1]) / 1024)


def run_phase(name: str, args: argparse.Namespace, hostile: bool) -> tuple[Tally, list[str], float]:
    with tempfile.TemporaryDirectory(prefix=f"anomalyd-load-{name}-") as data_dir:
        return run_server_phase(Path(data_dir), args, hostile)


def run_server_phase(data_dir: Path, args: argparse.Namespace, hostile: bool) -> tuple[Tally, list[str], float]:
    server_args = ["--max-streams", str(args.max_streams), "--stream-idle-timeout", str(IDLE_TIMEOUT_S)]
    kinds = list(itertools.islice(itertools.cycle(["steady", "steady", "slow"]), args.writers))
    jobs = [f"{kind}-{i}" for i, kind in enumerate(kinds)]
    cancelling = [f"cancelling-{i}" for i in range(args.writers // 4)] if hostile else []
    abandoned = ["abandoned"] if hostile else []
    tally, stop = Tally(), threading.Event()
    with LocalServer(data_dir, args=server_args) as server:
        phase = Phase(server, jobs, tally, stop)
        for job_id in jobs + cancelling + abandoned:
            detector = job_pb2.Detector(function="mean", field_name="value")
            analysis = job_pb2.AnalysisConfig(detectors=[detector])
            analysis.bucket_span.seconds = 300
            data = job_pb2.DataDescription(time_field="time", time_format="epoch_ms")
            config = job_pb2.Job(job_id=job_id, analysis_config=analysis, data_description=data)
            phase.stub.PutJob(pb.PutJobRequest(job=config), timeout=30)
            phase.stub.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=60)
        threads = [threading.Thread(target=phase.writer, args=(j, k)) for j, k in zip(jobs, kinds, strict=True)]
        threads += [threading.Thread(target=phase.prober), threading.Thread(target=phase.rss_sampler)]
        if hostile:
            threads += [threading.Thread(target=phase.writer, args=(j, "cancelling")) for j in cancelling]
            idle = args.max_streams - len(jobs) - len(cancelling)
            threads += [threading.Thread(target=phase.idle_holder) for _ in range(idle)]
            threads += [threading.Thread(target=phase.abandoner, args=(j,)) for j in abandoned]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        stop.wait(args.seconds)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        check_exactly_once(phase.stub, jobs + cancelling + abandoned, tally)
    return tally, jobs, elapsed


def check_exactly_once(stub: job_service_pb2_grpc.JobServiceStub, jobs: list[str], tally: Tally) -> None:
    """Every job counted each record up to its latest exactly once, and all acknowledged ones."""
    time.sleep(IDLE_TIMEOUT_S)  # killed clients' streams end once the server sees the broken connection
    for job_id in jobs:
        counts = stub.GetJobStats(pb.GetJobStatsRequest(job_id=job_id), timeout=30).jobs[0].data_counts
        latest = resume_point(stub, job_id)
        assert counts.processed_record_count == latest, f"{job_id}: {counts.processed_record_count} counted, {latest} accepted"
        assert counts.processed_record_count >= tally.acknowledged[job_id], f"{job_id}: an acknowledged record is missing"


def report(name: str, tally: Tally, jobs: list[str], elapsed: float) -> float:
    records = sum(tally.acknowledged[j] for j in jobs)
    rate = records / elapsed
    latencies = sorted(tally.health_ms) or [float("nan")]
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    refusals = ", ".join(f"{k} {v}" for k, v in sorted(tally.refusals.items())) or "none"
    print(
        f"{name:<9} {len(jobs):>7} {tally.uploads:>7} {rate:>11,.0f} {tally.cancelled:>9} {tally.killed:>7} "
        f"{tally.idle_streams_closed:>6} {statistics.median(latencies):>7.1f} {p99:>7.1f} {latencies[-1]:>7.1f} "
        f"{tally.health_failures:>5} {tally.peak_rss_mb:>8.0f}   {refusals}"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--writers", type=int, default=12)
    parser.add_argument("--max-streams", type=int, default=32)
    args = parser.parse_args()
    print(f"{args.writers} writers ({MESSAGES_PER_UPLOAD} x {RECORDS_PER_MESSAGE:,} records an upload), "
          f"--max-streams {args.max_streams}, --stream-idle-timeout {IDLE_TIMEOUT_S:g}s, {args.seconds:g}s a phase")
    print(f"{'phase':<9} {'writers':>7} {'uploads':>7} {'acked rec/s':>11} {'cancelled':>9} {'killed':>7} "
          f"{'idle':>6} {'hp50 ms':>7} {'hp99 ms':>7} {'hmax ms':>7} {'hfail':>5} {'RSS MB':>8}   refusals")
    rates = [report(name, *run_phase(name, args, hostile)) for name, hostile in (("baseline", False), ("hostile", True))]
    print(f"hostile / baseline acknowledged records/s: {rates[1] / rates[0]:.2f}")
    print("every job counted each accepted record exactly once, acknowledged ones included")


if __name__ == "__main__":
    main()
