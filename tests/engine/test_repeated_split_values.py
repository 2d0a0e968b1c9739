"""A batch whose split values repeat the last batch's reads its series (and influencer value ids) from there: the same results and state as resolving them."""

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


def _run(
    buckets: list[list[tuple[int, float]]], detector: DetectorSpec, limit: int, *, fresh_values: bool, rotated: bool = False,
    influencers: tuple[str, ...] = (), span: int = _SPAN,
) -> tuple[list[str], bytes]:
    """Feed one batch a bucket; with fresh_values every batch's dictionary differs (an unused value of its own), rotated: the same values in another order."""
    spec = AnalysisSpec(bucket_span_ms=span, detectors=(detector,), influencers=influencers, model_memory_limit_bytes=limit)
    job = JobAnalyzer(spec)
    out = []
    for b, records in enumerate(buckets):
        turn = b % len(_NAMES) if rotated else 0
        names = (*_NAMES, f"unused-{b}") if fresh_values else (*_NAMES[turn:], *_NAMES[:turn])
        codes = np.array([code if code < 0 else (code - turn) % len(_NAMES) for code, _ in records], np.int32)
        column = StringColumn(codes, names)
        times = np.full(len(records), b * span, np.int64)
        job.add(RecordBatch(times, numbers={"x": np.array([x for _, x in records])}, strings={"s": column}))
        out += [repr(result) for result in job.finalize_until((b + 1) * span)]
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


@settings(max_examples=30, deadline=None)
@given(st.lists(_RECORDS, max_size=20))
def test_repeated_influencer_values_give_what_resolving_them_gives(buckets: list[list[tuple[int, float]]]) -> None:
    """The split field an influencer too: its value ids read from the last batch's table, or looked up in a new order each batch.

    Every value comes in each of the first 13 hourly buckets (both jobs number them in the same
    order, and the series warm up in 12), and a last bucket, in rotated order, spikes them all:
    its records and influencers name the values.
    """
    detector = DetectorSpec("mean", field_name="x", by_field_name="s")
    learned = [[(code, 1.0 + (b + code) % 2) for code in range(len(_NAMES))] for b in range(13)]
    spike = [(code, 1_000.0) for code in range(len(_NAMES))]
    buckets = [*learned, *buckets]
    buckets += [[], spike] if len(buckets) % len(_NAMES) == 0 else [spike]
    repeated = _run(buckets, detector, 1 << 30, fresh_values=False, influencers=("s",), span=3_600_000)
    assert "InfluencerResult(" in repeated[0][-2]  # the spike's bucket
    assert repeated == _run(buckets, detector, 1 << 30, fresh_values=False, rotated=True, influencers=("s",), span=3_600_000)
