"""Synthetic data for engine tests: feed bucket values through a JobAnalyzer."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.analyzer import JobAnalyzer
from anomalyd.engine.records import AnalysisSpec, DetectorSpec, RecordBatch, StringColumn
from anomalyd.engine.results import BucketResult

SPAN = 300_000  # 5 minutes
T0 = 1_700_000_000_000 // SPAN * SPAN


def spec(function: str = "mean", *, by: str = "", partition: str = "", span: int = SPAN, **kw: object) -> AnalysisSpec:
    """A one-detector analysis on field "x"."""
    field = "" if function.endswith(("count", "nzc")) else "x"
    detector = DetectorSpec(function, field_name=field, by_field_name=by, partition_field_name=partition)
    return AnalysisSpec(bucket_span_ms=span, detectors=(detector,), **kw)  # type: ignore[arg-type]


def batch(times: list[int], x: list[float] | None = None, **strings: list[str | None]) -> RecordBatch:
    """Records with times (ms), optional field x and string fields (None = missing)."""
    numbers = {} if x is None else {"x": np.asarray(x, dtype=np.float64)}
    columns = {}
    for name, values in strings.items():
        distinct = tuple(sorted({v for v in values if v is not None}))
        codes = np.array([-1 if v is None else distinct.index(v) for v in values], np.int32)
        columns[name] = StringColumn(codes, distinct)
    return RecordBatch(times=np.asarray(times, np.int64), numbers=numbers, strings=columns)


def run_values(
    job: JobAnalyzer, values: NDArray[np.float64], *, span: int = SPAN, start: int = 0
) -> list[BucketResult]:
    """Feed values[bucket, series] (NaN = no record) as one record per series per bucket.

    Series k is by value f"s{k}"; each bucket is finalised once the next one starts.
    """
    out = []
    for b, row in enumerate(values):
        t = T0 + (start + b) * span
        have = np.flatnonzero(~np.isnan(row))
        job.add(batch([t + span // 2] * len(have), row[have].tolist(), s=[f"s{k}" for k in have.tolist()]))
        out += job.finalize_until(t + span)
    return out


def run_counts(job: JobAnalyzer, counts: NDArray[np.int64], *, span: int = SPAN) -> list[BucketResult]:
    """Feed counts[bucket, series] records per series per bucket, spread over the bucket."""
    out = []
    for b, row in enumerate(counts):
        t = T0 + b * span
        series = np.repeat(np.arange(len(row)), row)
        times = t + (np.arange(len(series)) * span) // max(len(series), 1)
        job.add(batch(times.tolist(), s=[f"s{k}" for k in series.tolist()]))
        out += job.finalize_until(t + span)
    return out


def record_scores(results: list[BucketResult], series: str | None = None) -> NDArray[np.float64]:
    """Shape (n_buckets,): the largest record score per bucket (of one by value if given)."""
    return np.array(
        [
            max((r.record_score for r in b.records if series is None or r.by_field_value == series), default=0.0)
            for b in results
        ]
    )
