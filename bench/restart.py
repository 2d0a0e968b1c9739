"""Restart cost: time from process start to a job opened and its first result served.

    python bench/restart.py [--series 1000,100000] [--jobs 100]

For one job of each size (mean(x) by s, 5-minute buckets, a history of buckets and results)
and for a server holding --jobs small jobs, it measures, on a real server process over its
LMDB directory:
  - reopen after SIGTERM: the job was open, so the next start restores it before serving;
  - open of a closed job: OpenJob on a fresh server process;
and prints the stored model snapshot and LMDB sizes.
"""

from __future__ import annotations

import argparse
import signal
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np

from anomalyd.v1 import column_batch_pb2, job_pb2, job_service_pb2_grpc, model_snapshot_service_pb2_grpc, results_service_pb2_grpc
from anomalyd.v1 import job_service_pb2 as pb
from anomalyd.v1 import model_snapshot_service_pb2 as spb
from anomalyd.v1 import results_service_pb2 as rpb
from anomalyd_client.local import LocalServer

SPAN_S = 300
T0_MS = 1_700_006_400_000


class Stubs:
    def __init__(self, target: str) -> None:
        channel = grpc.insecure_channel(target, options=[("grpc.max_send_message_length", 256 << 20)])
        self.jobs = job_service_pb2_grpc.JobServiceStub(channel)
        self.results = results_service_pb2_grpc.ResultsServiceStub(channel)
        self.snapshots = model_snapshot_service_pb2_grpc.ModelSnapshotServiceStub(channel)


def build(stubs: Stubs, job_id: str, series: int, buckets: int, seed: int) -> None:
    """A job with `series` series and `buckets` buckets of history, left open."""
    detector = job_pb2.Detector(function="mean", field_name="x", by_field_name="s")
    stubs.jobs.PutJob(pb.PutJobRequest(job=job_pb2.Job(job_id=job_id, analysis_config=job_pb2.AnalysisConfig(
        bucket_span={"seconds": SPAN_S}, detectors=[detector]), data_description=job_pb2.DataDescription(time_format="epoch_ms"))), timeout=60)
    stubs.jobs.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=600)
    rng = np.random.default_rng(seed)
    names = [f"s{k}" for k in range(series)]
    codes = np.arange(1, series + 1, dtype=np.uint32)

    def messages():
        for b in range(buckets):
            x = 100 + 10 * np.sin(2 * np.pi * b / 288) + rng.standard_normal(series)
            yield pb.PostDataRequest(job_id=job_id if b == 0 else "", columns=column_batch_pb2.ColumnBatch(
                times=np.full(series, T0_MS + b * SPAN_S * 1000 + 1000, np.int64),
                numeric_columns=[column_batch_pb2.NumericColumn(name="x", values=x)],
                string_columns=[column_batch_pb2.StringColumn(name="s", dictionary=names, codes=codes)]))

    stubs.jobs.PostData(messages(), timeout=3600)


def first_result_s(stubs: Stubs, job_id: str) -> float:
    began = time.perf_counter()
    stubs.results.GetBuckets(rpb.GetBucketsRequest(job_id=job_id, page=rpb.Page(size=1)), timeout=600)
    return time.perf_counter() - began


def directory_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def measure(label: str, server: LocalServer, job_ids: list[str]) -> None:
    server.stop(signal.SIGTERM)  # persists each open job and marks it to reopen
    began = time.perf_counter()
    stubs = Stubs(server.start())  # serving only once every job is restored
    serving = time.perf_counter() - began
    states = {s.job_id: s.state for s in stubs.jobs.GetJobStats(pb.GetJobStatsRequest(), timeout=600).jobs}
    assert all(states[j] == 3 for j in job_ids), states  # JOB_STATE_OPENED
    first = first_result_s(stubs, job_ids[0])
    stubs.jobs.CloseJob(pb.CloseJobRequest(job_id="_all"), timeout=3600)
    server.stop(signal.SIGTERM)
    stubs = Stubs(server.start())
    began = time.perf_counter()
    for job_id in job_ids:
        stubs.jobs.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=600)
    opened = time.perf_counter() - began
    snapshot = stubs.snapshots.GetModelSnapshots(spb.GetModelSnapshotsRequest(job_id=job_ids[0], sort="timestamp", desc=True), timeout=60).model_snapshots[0]
    buckets = stubs.results.GetBuckets(rpb.GetBucketsRequest(job_id=job_ids[0], page=rpb.Page(size=1)), timeout=600).count
    records = stubs.results.GetRecords(rpb.GetRecordsRequest(job_id=job_ids[0], page=rpb.Page(size=1)), timeout=600).count
    print(f"{label:<26} {serving:>9.3f} {first * 1000:>8.1f} {opened:>9.3f} {snapshot.snapshot_size_bytes / 1e6:>9.1f} "
          f"{directory_mb(server.data_dir):>8.1f} {buckets:>8,} {records:>8,}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", default="1000,100000")
    parser.add_argument("--buckets", type=int, default=0,
                        help="history per job (default: 2M records' worth, 12 to 2,016 buckets)")
    parser.add_argument("--jobs", type=int, default=100)
    args = parser.parse_args()
    print(f"{'scenario':<26} {'serving s':>9} {'1st ms':>8} {'open s':>9} {'snap MB':>9} {'LMDB MB':>8} {'buckets':>8} {'records':>8}")
    print("(serving: process start to serving with the job reopened after SIGTERM; 1st: first GetBuckets;")
    print(" open: OpenJob of the closed job(s) on a fresh process)")
    with tempfile.TemporaryDirectory() as tmp:
        for n, series in enumerate(int(s) for s in args.series.split(",")):
            buckets = args.buckets or min(2016, max(12, 2_000_000 // series))
            with LocalServer(Path(tmp) / f"single-{n}") as server:
                build(Stubs(server.target), "big", series, buckets, seed=n)
                measure(f"1 job x {series:,} series", server, ["big"])
        if args.jobs:
            with LocalServer(Path(tmp) / "many") as server:
                stubs = Stubs(server.target)
                job_ids = [f"job-{i:03d}" for i in range(args.jobs)]
                for i, job_id in enumerate(job_ids):
                    build(stubs, job_id, 10, 288, seed=100 + i)
                measure(f"{args.jobs} jobs x 10 series", server, job_ids)


if __name__ == "__main__":
    main()
