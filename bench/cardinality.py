"""Memory of a job fed ever new split values against a small model_memory_limit, without gRPC.

Each case feeds --buckets buckets of --values records, every record a by and over value never
seen before, into one detector under a --limit-mb model_memory_limit, and prints its
memory_status, bucket allocation failures, model bytes, and the serialised state and the
process's peak RSS after the first and after the last bucket (each case in its own process).
The baseline line is ``count`` without split fields over the very same records: what the
records themselves cost, which the other cases should stay near however many buckets come.

    PYTHONPATH=service python bench/cardinality.py [--values 100000] [--buckets 8] [--limit-mb 1]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys

import numpy as np

from anomalyd.engine.analyzer import JobAnalyzer
from anomalyd.engine.records import AnalysisSpec, DetectorSpec, RecordBatch, StringColumn

SPAN_MS = 60_000
CASES = {
    "count (baseline)": DetectorSpec("count"),
    "rare by v over u": DetectorSpec("rare", by_field_name="v", over_field_name="u"),
    "freq_rare by v over u": DetectorSpec("freq_rare", by_field_name="v", over_field_name="u"),
    "high_dc(v) over u excl. all": DetectorSpec("high_distinct_count", field_name="v", over_field_name="u", exclude_frequent="all"),
    "count by u excl. by": DetectorSpec("count", by_field_name="u", exclude_frequent="by"),
    "high_sum(x) over u": DetectorSpec("high_sum", field_name="x", over_field_name="u"),
    "info_content(v) by u": DetectorSpec("info_content", field_name="v", by_field_name="u"),
    "time_of_day over u": DetectorSpec("time_of_day", over_field_name="u"),
}


def run_case(name: str, values: int, buckets: int, limit_mb: int) -> str:
    """Feed the case and describe its memory (run in a child process for a clean peak RSS)."""
    job = JobAnalyzer(AnalysisSpec(bucket_span_ms=SPAN_MS, detectors=(CASES[name],), model_memory_limit_bytes=limit_mb << 20))
    states, peaks = [], []
    for b in range(buckets):
        names = StringColumn(np.arange(values, dtype=np.int32), tuple(f"{b}-{i}" for i in range(values)))
        times = b * SPAN_MS + np.arange(values, dtype=np.int64) * SPAN_MS // values
        job.add(RecordBatch(times, numbers={"x": np.ones(values)}, strings={"u": names, "v": names}))
        job.finalize_until((b + 1) * SPAN_MS)
        if b in (0, buckets - 1):
            states.append(len(job.to_state()))
            peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    stats = job.model_size_stats()
    return (f"{name:30s} {stats.memory_status:10s} failures {stats.bucket_allocation_failures_count:3d}  "
            f"model {stats.model_bytes / 1e6:6.2f} MB  state {states[0] / 1e6:6.2f} -> {states[-1] / 1e6:6.2f} MB  "
            f"peak RSS {peaks[0]:5.0f} -> {peaks[-1]:5.0f} MB")


def main() -> None:
    """Run every case in its own process and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--values", type=int, default=100_000, help="new values a bucket")
    parser.add_argument("--buckets", type=int, default=8)
    parser.add_argument("--limit-mb", type=int, default=1)
    parser.add_argument("--case", help=argparse.SUPPRESS)  # the child process's case
    args = parser.parse_args()
    if args.case:
        print(run_case(args.case, args.values, args.buckets, args.limit_mb), flush=True)
        return
    print(f"{args.values:,} new by/over values a bucket, {args.buckets} buckets, model_memory_limit {args.limit_mb} MB")
    for name in CASES:
        subprocess.run([sys.executable, __file__, "--case", name, "--values", str(args.values),
                        "--buckets", str(args.buckets), "--limit-mb", str(args.limit_mb)], check=True)


if __name__ == "__main__":
    main()
