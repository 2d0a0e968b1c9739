"""What a long time gap costs, beside one ordinary bucket: engine time, results and their bytes.

A 5-minute job with ``count by s`` and ``mean(x) by s`` over --series series learns a day of
data; then one record per series arrives 1 year or 100 years later (each from the same model
state). For the ordinary bucket and for each gap it prints the time to finalise, the bucket
results produced, their records, and the bytes they take as the repository stores them
(msgpack). Then the same through the real server: a stray ``"time": 0`` before a day of data and
a record in year 9999 after it, PostData's wall time and the buckets stored.

    PYTHONPATH=service:clients/python python bench/gaps.py [--series 1,1000]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time

import grpc
import msgspec
import numpy as np

from anomalyd.engine.analyzer import JobAnalyzer, quiet_buckets
from anomalyd.engine.records import AnalysisSpec, DetectorSpec, RecordBatch, StringColumn
from anomalyd.engine.results import BucketResult
from anomalyd.server import Server, Settings
from anomalyd.v1 import job_pb2, job_service_pb2_grpc, results_service_pb2_grpc
from anomalyd.v1 import job_service_pb2 as pb
from anomalyd.v1 import results_service_pb2 as rpb

SPAN = 300_000
DAY_BUCKETS = 288
T0 = 1_767_225_600_000  # 2026-01-01
YEAR = 365 * 86_400_000
_ENCODER = msgspec.msgpack.Encoder()


def stored_bytes(results: list[BucketResult]) -> int:
    """Bytes of results as the repository writes them: the bucket, then each record and influencer."""
    total = 0
    for r in results:
        total += len(_ENCODER.encode(dataclasses.replace(r, records=[], influencers=[])))
        total += sum(len(_ENCODER.encode(item)) for item in (*r.records, *r.influencers))
    return total


def engine(series: int) -> None:
    """Print the cost of one ordinary bucket and of a 1- and a 100-year gap for `series` series."""
    spec = AnalysisSpec(
        bucket_span_ms=SPAN,
        detectors=(DetectorSpec("count", by_field_name="s"), DetectorSpec("mean", field_name="x", by_field_name="s")),
        model_memory_limit_bytes=1 << 40,
    )
    names = StringColumn(np.arange(series, dtype=np.int32), tuple(f"series-{k}" for k in range(series)))
    rng = np.random.default_rng(0)

    def records(t: int) -> RecordBatch:
        x = 100.0 + 10.0 * rng.standard_normal(series)
        return RecordBatch(times=np.full(series, t, np.int64), numbers={"x": x}, strings={"s": names})

    job = JobAnalyzer(spec)
    for b in range(DAY_BUCKETS):
        job.add(records(T0 + b * SPAN + SPAN // 2))
        job.finalize_until(T0 + (b + 1) * SPAN)
    state = job.to_state()
    last = T0 + DAY_BUCKETS * SPAN

    rows = [("one ordinary bucket", 0), ("a 1-year gap", YEAR), ("a 100-year gap", 100 * YEAR)]
    print(f"{series} series, 5-minute buckets; a gap closes its bucket of data and {quiet_buckets(SPAN)} empty ones at most")
    print(f"{'':>22} {'seconds':>9} {'buckets':>8} {'records':>8} {'stored bytes':>13}")
    for name, gap in rows:
        job = JobAnalyzer.from_state(spec, state)
        start = last + gap
        job.add(records(start + SPAN // 2))
        began = time.perf_counter()
        results = job.finalize_until(start + SPAN)
        elapsed = time.perf_counter() - began
        n_records = sum(len(r.records) for r in results)
        print(f"{name:>22} {elapsed:>9.3f} {len(results):>8} {n_records:>8} {stored_bytes(results):>13,}")


def server() -> None:
    """Print PostData's time and the buckets stored for a stray time 0 and a year-9999 record."""
    day = b"".join(b'{"time": %d, "value": %d}\n' % (T0 // 1000 + 60 * m, 50 + m % 7) for m in range(1440))
    cases = [
        ('a stray "time": 0, then a day', b'{"time": 0, "value": 50}\n' + day),
        ("a day, then year 9999", day + b'{"time": 253402296900, "value": 50}\n'),
    ]
    print("Through the server (count and mean(value), 5-minute buckets), one PostData each:")
    with tempfile.TemporaryDirectory() as tmp:
        running = Server(Settings(data_dir=tmp, listen="127.0.0.1:0", grace_s=1))
        running.start()
        channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
        jobs = job_service_pb2_grpc.JobServiceStub(channel)
        results = results_service_pb2_grpc.ResultsServiceStub(channel)
        try:
            for k, (name, data) in enumerate(cases):
                job_id = f"gap-{k}"
                detectors = [job_pb2.Detector(function="count"), job_pb2.Detector(function="mean", field_name="value")]
                config = job_pb2.AnalysisConfig(bucket_span={"seconds": SPAN // 1000}, detectors=detectors)
                jobs.PutJob(pb.PutJobRequest(job=job_pb2.Job(job_id=job_id, analysis_config=config)), timeout=30)
                jobs.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=30)
                began = time.perf_counter()
                jobs.PostData(iter([pb.PostDataRequest(job_id=job_id, data=data)]), timeout=600)
                elapsed = time.perf_counter() - began
                stored = results.GetBuckets(rpb.GetBucketsRequest(job_id=job_id, page=rpb.Page(size=1)), timeout=60).count
                print(f"  {name:<32} {elapsed:>7.2f} s  {stored:>6} buckets stored")
        finally:
            channel.close()
            running.stop()


def main() -> None:
    """Print the engine table for each series count, then the server figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", default="1,1000", help="comma-separated series counts")
    args = parser.parse_args()
    for series in map(int, args.series.split(",")):
        engine(series)
        print()
    server()


if __name__ == "__main__":
    main()
