"""PostData throughput: the real server and job beside the parser alone and a do-nothing servicer.

    python bench/ingest.py [--records 1000000] [--baseline ../other-checkout]

Two data shapes of ``mean(responsetime) by airline`` with airline as influencer, 5-minute
buckets: dense (20 airlines, 20 records a second: 6,000 records a bucket) and sparse, shaped
like Elasticsearch's farequote sample (19 airlines, about 100 records a bucket, so a million
records close 10,000 buckets). Both servers run as subprocesses on loopback; the client builds
every message before the clock starts, so the figures are the servers' (and the transport's),
not the client's encoding. "parse rec/s" is the same messages decoded in this process alone:
msgspec for NDJSON lines, protobuf for column batches. "CPU rec/s" divides by the CPU time the
real server spent on the upload (from /proc, Linux): on a busy machine wall time varies by
15-30 % between identical runs, its CPU time much less. --baseline runs a second real server
from another checkout's service/ and sends it each scenario just before this one's, so that a
change is measured against its parent in the same minutes ("base CPU rec/s"). --repeat uploads
each scenario that many times to each server, alternating, and prints medians beside the ratio
of the two servers' CPU rates (single uploads of a scenario spread by 30 % on a busy machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent import futures
from pathlib import Path

import grpc
import msgspec
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "service")]

from anomalyd.v1 import column_batch_pb2, job_pb2, job_service_pb2_grpc  # noqa: E402
from anomalyd.v1 import job_service_pb2 as pb  # noqa: E402

AIRLINES = [f"A{i:02d}" for i in range(20)]
SHAPES = {"dense": (20, 50), "sparse": (19, 3_000)}  # airlines, ms between records


def serve_nothing(port_file: str) -> None:
    """A JobService whose PostData reads every message and does nothing with it."""

    class Nothing(job_service_pb2_grpc.JobServiceServicer):
        def PostData(self, request_iterator, context):  # noqa: N802 (the contract names it)
            for _ in request_iterator:
                pass
            return pb.PostDataResponse()

    server = grpc.server(futures.ThreadPoolExecutor(4), options=[("grpc.max_receive_message_length", 64 << 20)])
    job_service_pb2_grpc.add_JobServiceServicer_to_server(Nothing(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    Path(port_file).write_text(str(port))
    server.wait_for_termination()


def start(args: list[str], port_file: Path, repo: Path = REPO) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "PYTHONPATH": str(repo / "service")}
    process = subprocess.Popen([sys.executable, *args], env=env)
    deadline = time.monotonic() + 30
    while not (port_file.exists() and port_file.read_text()):  # written after it is created
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{args} did not start")
        time.sleep(0.05)
    return process, f"127.0.0.1:{port_file.read_text()}"


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dataset(n: int, airlines: int, step_ms: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    times = 1_500_000_000_000 + np.arange(n, dtype=np.int64) * step_ms
    airline = rng.integers(0, airlines, n).astype(np.uint32)
    responsetime = rng.gamma(4.0, 30.0, n).round(3)
    return times, airline, responsetime


def ndjson_messages(times, airline, responsetime, records: int) -> list[bytes]:
    """NDJSON of `records` records a message."""
    lines = [
        b'{"time":%d,"airline":"%s","responsetime":%r}\n' % (t // 1000, AIRLINES[a].encode(), float(r))
        for t, a, r in zip(times.tolist(), airline.tolist(), responsetime.tolist(), strict=True)
    ]
    return [b"".join(lines[i : i + records]) for i in range(0, len(lines), records)]


def parse_rate(payloads: list) -> float:
    """Records a second of the parser alone over the same messages."""
    began = time.perf_counter()
    if isinstance(payloads[0], bytes):
        decoder = msgspec.json.Decoder()
        n = sum(len(decoder.decode_lines(p)) for p in payloads)
    else:
        wire = [p.SerializeToString() for p in payloads]
        began = time.perf_counter()
        n = sum(len(column_batch_pb2.ColumnBatch.FromString(w).times) for w in wire)
    return n / (time.perf_counter() - began)


def column_messages(times, airline, responsetime, batch: int) -> list[column_batch_pb2.ColumnBatch]:
    return [
        column_batch_pb2.ColumnBatch(
            times=times[i : i + batch],
            numeric_columns=[column_batch_pb2.NumericColumn(name="responsetime", values=responsetime[i : i + batch])],
            string_columns=[column_batch_pb2.StringColumn(name="airline", dictionary=AIRLINES, codes=airline[i : i + batch] + 1)],
        )
        for i in range(0, len(times), batch)
    ]


def upload(stub, process: subprocess.Popen[bytes], job_id: str, payloads: list, records: int) -> tuple[float, float]:
    """Open a job of mean(responsetime) by airline on a real server, stream payloads; wall and CPU seconds."""
    detector = job_pb2.Detector(function="mean", field_name="responsetime", by_field_name="airline")
    stub.PutJob(pb.PutJobRequest(job=job_pb2.Job(job_id=job_id, analysis_config=job_pb2.AnalysisConfig(
        bucket_span={"seconds": 300}, detectors=[detector], influencers=["airline"]))), timeout=30)
    stub.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=60)
    cpu_before = cpu_seconds(process.pid)
    wall_s = stream(stub, job_id, payloads)
    cpu_s = cpu_seconds(process.pid) - cpu_before
    processed = stub.GetJobStats(pb.GetJobStatsRequest(job_id=job_id), timeout=30).jobs[0].data_counts.processed_record_count
    assert processed == records, f"{job_id}: processed {processed} of {records}"
    stub.CloseJob(pb.CloseJobRequest(job_id=job_id), timeout=120)  # repeated uploads would reach max_open_jobs
    return wall_s, cpu_s


def stream(stub, job_id: str, payloads: list) -> float:
    def messages():
        for i, payload in enumerate(payloads):
            kind = "data" if isinstance(payload, bytes) else "columns"
            yield pb.PostDataRequest(job_id=job_id if i == 0 else "", **{kind: payload})

    began = time.perf_counter()
    stub.PostData(messages(), timeout=600)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=Path, help="another checkout, whose server gets each scenario first")
    parser.add_argument("--repeat", type=int, default=1, help="uploads of each scenario to each server; the figures are medians")
    parser.add_argument("--only", default="", help="only the scenarios whose name holds this text")
    parser.add_argument("--null-server", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.null_server:
        serve_nothing(args.null_server)
        return

    scenarios = {}
    for shape, (airlines, step_ms) in SHAPES.items():
        times, airline, responsetime = dataset(args.records, airlines, step_ms)
        scenarios[f"{shape} ndjson 1,000/msg"] = ndjson_messages(times, airline, responsetime, 1_000)
        if shape == "dense":
            scenarios[f"{shape} columns 1,000/msg"] = column_messages(times, airline, responsetime, 1_000)
        scenarios[f"{shape} columns 10,000/msg"] = column_messages(times, airline, responsetime, 10_000)
    scenarios = {name: payloads for name, payloads in scenarios.items() if args.only in name}
    with tempfile.TemporaryDirectory() as tmp:
        servers = {"real": REPO, **({"base": args.baseline.resolve()} if args.baseline else {})}
        started = {
            name: start(["-m", "anomalyd.server", "--data-dir", f"{tmp}/{name}", "--listen", "127.0.0.1:0", "--port-file",
                         f"{tmp}/{name}.port", "--log-level", "WARNING"], Path(f"{tmp}/{name}.port"), repo)
            for name, repo in servers.items()
        }
        null, null_target = start([__file__, "--null-server", f"{tmp}/null.port"], Path(f"{tmp}/null.port"))
        options = [("grpc.max_send_message_length", 64 << 20)]
        try:
            stubs = {name: job_service_pb2_grpc.JobServiceStub(grpc.insecure_channel(target, options=options))
                     for name, (_, target) in started.items()}
            null_stub = job_service_pb2_grpc.JobServiceStub(grpc.insecure_channel(null_target, options=options))
            # A baseline from before the warm-up scored influencers compiles a kernel on its first upload: not in the figures.
            first = next(iter(scenarios.values()))[:20]
            for stub, (process, _) in zip(stubs.values(), started.values(), strict=True):
                upload(stub, process, "warm-up", first, 20_000)
            print(f"{args.records:,} records a scenario, mean(responsetime) by airline, 5m buckets")
            print(f"{'scenario':<26} {'messages':>8} {'MB':>7} {'real rec/s':>12} {'CPU rec/s':>12} {'real MB/s':>10} "
                  f"{'parse rec/s':>12} {'null rec/s':>12} {'real/null':>9}"
                  + (f" {'base CPU rec/s':>15} {'CPU real/base':>13}" if args.baseline else ""))
            for i, (name, payloads) in enumerate(scenarios.items()):
                megabytes = sum(len(p) if isinstance(p, bytes) else p.ByteSize() for p in payloads) / 1e6
                null_s = stream(null_stub, f"bench-{i}", payloads)
                runs: dict[str, list[tuple[float, float]]] = {server: [] for server in started}
                for k in range(args.repeat):
                    for server in reversed(started):  # the baseline first, as with one upload
                        runs[server].append(upload(stubs[server], started[server][0], f"bench-{i}-{k}", payloads, args.records))
                real_s, cpu_s = (statistics.median(figures) for figures in zip(*runs["real"], strict=True))
                base = ""
                if args.baseline:
                    base_cpu_s = statistics.median(c for _, c in runs["base"])
                    base = f" {args.records / base_cpu_s:>15,.0f} {base_cpu_s / cpu_s:>13.2f}"
                print(f"{name:<26} {len(payloads):>8,} {megabytes:>7.1f} {args.records / real_s:>12,.0f} "
                      f"{args.records / cpu_s:>12,.0f} {megabytes / real_s:>10.1f} {parse_rate(payloads):>12,.0f} {args.records / null_s:>12,.0f} "
                      f"{null_s / real_s:>9.2f}{base}", flush=True)
        finally:
            for process in (*(p for p, _ in started.values()), null):
                process.terminate()
                process.wait(60)

if __name__ == "__main__":
    main()
