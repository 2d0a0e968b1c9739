"""Throughput and state size of the anomaly-detection engine (JobAnalyzer), without gRPC.

For 1, 1,000 and 100,000 series of one ``mean(x) by s`` detector, feeds one record per series
per 5-minute bucket, finalising each bucket as the next begins, and prints records per second
(after the series exist and a warm-up), model bytes and serialised state bytes per series, and
the time to write and load the state.

    PYTHONPATH=service python bench/engine.py [--series 1,1000,100000] [--records 200000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from anomalyd.engine.analyzer import JobAnalyzer
from anomalyd.engine.records import AnalysisSpec, DetectorSpec, RecordBatch, StringColumn

SPAN = 300_000
T0 = 1_700_000_000_000 // SPAN * SPAN


def bench(series: int, records: int, warm_buckets: int) -> dict[str, float]:
    """Feed warm_buckets untimed buckets, then about `records` timed records."""
    spec = AnalysisSpec(
        bucket_span_ms=SPAN,
        detectors=(DetectorSpec("mean", field_name="x", by_field_name="s"),),
        model_memory_limit_bytes=1 << 40,
    )
    job = JobAnalyzer(spec)
    rng = np.random.default_rng(0)
    names = StringColumn(np.arange(series, dtype=np.int32), tuple(f"series-{k}" for k in range(series)))
    timed_buckets = max(1, records // series)

    def bucket(b: int) -> None:
        times = np.full(series, T0 + b * SPAN + SPAN // 2, np.int64)
        x = 100.0 + 10.0 * rng.standard_normal(series)
        job.add(RecordBatch(times=times, numbers={"x": x}, strings={"s": names}))
        job.finalize_until(T0 + (b + 1) * SPAN)

    for b in range(warm_buckets):
        bucket(b)
    start = time.perf_counter()
    for b in range(warm_buckets, warm_buckets + timed_buckets):
        bucket(b)
    elapsed = time.perf_counter() - start
    start = time.perf_counter()
    state = job.to_state()
    saved = time.perf_counter() - start
    start = time.perf_counter()
    JobAnalyzer.from_state(spec, state)
    loaded = time.perf_counter() - start
    return {
        "records_per_s": timed_buckets * series / elapsed,
        "ms_per_bucket": 1000 * elapsed / timed_buckets,
        "model_bytes_per_series": job.model_size_stats().model_bytes / series,
        "state_bytes_per_series": len(state) / series,
        "to_state_s": saved,
        "from_state_s": loaded,
    }


def main() -> None:
    """Run the benchmark and print one line per series count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", default="1,1000,100000", help="comma-separated series counts")
    parser.add_argument("--records", type=int, default=400_000, help="timed records per run (at least one bucket)")
    parser.add_argument("--warm-buckets", type=int, default=3, help="untimed buckets first")
    args = parser.parse_args()
    print(f"{'series':>8} {'records/s':>11} {'ms/bucket':>10} {'model B/series':>15} {'state B/series':>15} "
          f"{'to_state s':>10} {'from_state s':>12}")
    for series in map(int, args.series.split(",")):
        r = bench(series, max(args.records, series) if series > 1 else 3000, args.warm_buckets)
        print(f"{series:>8} {r['records_per_s']:>11.0f} {r['ms_per_bucket']:>10.2f} {r['model_bytes_per_series']:>15.0f} "
              f"{r['state_bytes_per_series']:>15.0f} {r['to_state_s']:>10.2f} {r['from_state_s']:>12.2f}")


if __name__ == "__main__":
    main()
