"""JobAnalyzer's compiled add of a batch of known series (BucketBuffer.append_known) against the general add."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from anomalyd.engine.analyzer import JobAnalyzer
from anomalyd.engine.records import AnalysisSpec, DetectorSpec, RecordBatch, StringColumn

_SPAN = 300_000
_NAMES = ("a", "b", "c")


def _batch(b: int, rng: np.random.Generator) -> RecordBatch:
    """A few records of bucket b, of the same three split values, with the cases the compiled add hands back.

    Some lack the split value or x; now and then one falls in a closed bucket (late), one in
    the next bucket comes first (unsorted rows), a batch brings a new value (a new series), or
    is larger than the buffer's room.
    """
    n = 60 if b % 37 == 0 else int(rng.integers(3, 7))
    times = b * _SPAN + rng.integers(0, _SPAN, n)
    if b % 11 == 0:
        times[0] = (b - 3) * _SPAN
    if b % 13 == 0:
        times[0] = (b + 1) * _SPAN
    names = (*_NAMES, f"new-{b}") if b % 29 == 0 else _NAMES
    codes = (np.arange(n) % len(names)).astype(np.int32)  # every value: the series table knows them all
    if b % 17 == 0:
        codes[-1] = -1
    x = np.where(rng.random(n) < 0.02, np.nan, 100.0 + 10.0 * np.sin(b / 20) + rng.normal(0, 3, n))
    return RecordBatch(times=times.astype(np.int64), numbers={"x": x}, strings={"s": StringColumn(codes, names)})


@pytest.mark.parametrize(
    "detector",
    [
        DetectorSpec("mean", field_name="x", by_field_name="s"),
        DetectorSpec("count", by_field_name="s"),
        DetectorSpec("mean", field_name="x"),
        DetectorSpec("count"),
    ],
    ids=["mean by", "count by", "mean", "count"],
)
def test_the_compiled_add_buffers_what_the_general_add_does(detector: DetectorSpec) -> None:
    spec = AnalysisSpec(bucket_span_ms=_SPAN, detectors=(detector,), model_memory_limit_bytes=1 << 30)
    compiled, general = JobAnalyzer(spec), JobAnalyzer(spec)
    general._plain = None  # the general add only
    appended: list[int] = []  # batches the compiled job's general add took
    append = compiled._buffer.append

    def counted(*columns: Any) -> None:
        appended.append(len(columns[0]))
        append(*columns)

    compiled._buffer.append = counted  # type: ignore[method-assign]
    rng = np.random.default_rng(4)
    buckets = 200
    for b in range(buckets):
        batch = _batch(b, rng)
        compiled.add(batch)
        general.add(batch)
        if b % 3 == 2:  # buckets close now and then: later batches meet closed buckets and rows of several
            assert compiled.finalize_until(b * _SPAN) == general.finalize_until(b * _SPAN)
            assert compiled.to_state() == general.to_state()
    assert compiled.model_size_stats() == general.model_size_stats()
    assert compiled.to_state() == general.to_state()
    # The compiled add took most batches; the general one the first, late, new and large ones.
    assert len(appended) < buckets // 4
