"""A batch whose split values repeat the last batch's reads its series from there: the same results and state as resolving them."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from anomalyd.engine.analyzer import JobAnalyzer
from anomalyd.engine.records import AnalysisSpec, DetectorSpec, RecordBatch, StringColumn

_SPAN = 60_000
_NAMES = ("a", "b", "c", "d", "e", "f")

# A bucket's records: (code into _NAMES, -1 for no value; value, NaN for none).
_RECORDS = st.lists(st.tuples(st.integers(-1, len(_NAMES) - 1), st.sampled_from([1.0, 2.0, 5.0, np.nan])), max_size=6)


def _run(buckets: list[list[tuple[int, float]]], detector: DetectorSpec, limit: int, *, fresh_values: bool) -> tuple[list[str], bytes]:
    """Feed one batch a bucket; with fresh_values every batch's dictionary differs (an unused value of its own)."""
    job = JobAnalyzer(AnalysisSpec(bucket_span_ms=_SPAN, detectors=(detector,), model_memory_limit_bytes=limit))
    out = []
    for b, records in enumerate(buckets):
        names = (*_NAMES, f"unused-{b}") if fresh_values else _NAMES
        codes = np.array([code for code, _ in records], np.int32)
        column = StringColumn(codes, names)
        times = np.full(len(records), b * _SPAN, np.int64)
        job.add(RecordBatch(times, numbers={"x": np.array([x for _, x in records])}, strings={"s": column}))
        out += [repr(result) for result in job.finalize_until((b + 1) * _SPAN)]
    out.append(repr(job.model_size_stats()))
    return out, job.to_state()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(_RECORDS, min_size=1, max_size=40),
    st.sampled_from(["count", "mean", "high_sum"]),
    st.booleans(),
    st.sampled_from([1 << 30, 40_000]),  # plenty, or room for a few series only: the rest refused
)
def test_repeated_split_values_give_what_resolving_them_gives(
    buckets: list[list[tuple[int, float]]], function: str, use_null: bool, limit: int
) -> None:
    field = "" if function == "count" else "x"
    detector = DetectorSpec(function, field_name=field, by_field_name="s", use_null=use_null)
    assert _run(buckets, detector, limit, fresh_values=False) == _run(buckets, detector, limit, fresh_values=True)
