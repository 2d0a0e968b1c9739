"""Long empty stretches cost bounded work: stray records far from the data, far-future times, long idles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from anomalyd.engine.analyzer import JobAnalyzer, quiet_buckets
from anomalyd.engine.normaliser import Normaliser
from anomalyd.engine.records import AnalysisSpec, DetectorSpec
from tests.engine.synth import SPAN, T0, batch, record_scores, run_counts, run_values, spec

RNG = np.random.default_rng(5)
YEAR_2026 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a whole number of 5-minute buckets
YEAR_9999 = 253_402_296_900_000  # 9999-12-31T22:55:00Z, an hour before Timestamps end
QUIET = quiet_buckets(SPAN)


def both() -> AnalysisSpec:
    """A count and a mean detector: one sees 0 in an empty bucket, the other nothing."""
    return AnalysisSpec(bucket_span_ms=SPAN, detectors=(DetectorSpec("count"), DetectorSpec("mean", field_name="x")))


def day(job: JobAnalyzer, start: int, buckets: int = 288, *, dip: int | None = None) -> list:
    """Ten records a bucket from start (x ~ N(50, 1)); at bucket dip one record of x = 20."""
    out = []
    for b in range(buckets):
        t = start + b * SPAN
        n = 1 if b == dip else 10
        x = [20.0] if b == dip else (50 + RNG.normal(size=n)).tolist()
        job.add(batch((t + np.arange(n) * (SPAN // n)).tolist(), x))
        out += job.finalize_until(t + SPAN)
    return out


def all_scores_finite(results: list) -> bool:
    scores = [b.anomaly_score for b in results] + [r.record_score for b in results for r in b.records]
    return all(math.isfinite(s) and 0.0 <= s <= 100.0 for s in scores)


def test_quiet_buckets_is_a_day_within_48_and_1440() -> None:
    assert [quiet_buckets(s * 1000) for s in (10, 60, 300, 1800, 3600, 86_400)] == [1440, 1440, 288, 48, 48, 48]


@pytest.mark.timeout(30)
def test_a_stray_record_at_time_zero_before_data_in_2026() -> None:
    job = JobAnalyzer(both())
    job.add(batch([0], [50.0]))
    first = day(job, YEAR_2026)
    # The stray record's bucket and a day of empty buckets after it are closed; the 56 years
    # after are jumped over.
    assert [b.timestamp_ms for b in first[: QUIET + 2]] == [k * SPAN for k in range(QUIET + 1)] + [YEAR_2026]
    assert len(first) == 1 + QUIET + 288
    assert [b.event_count for b in first[: QUIET + 1]] == [1] + [0] * QUIET
    assert len(job._buffer.buckets()) == 0
    assert len(job.to_state()) < 200_000
    # The models go on: a second day scores its planted dip, and nothing is NaN.
    second = day(job, YEAR_2026 + 288 * SPAN, dip=200)
    assert all_scores_finite(first + second)
    assert record_scores(second)[200] >= 50.0
    assert record_scores(second)[200] == record_scores(second).max()


@pytest.mark.timeout(30)
def test_a_record_in_year_9999_after_normal_data() -> None:
    job = JobAnalyzer(both())
    normal = day(job, YEAR_2026)
    job.add(batch([YEAR_9999 + 1], [50.0]))
    far = job.finalize_until(YEAR_9999 + 1)
    assert [b.timestamp_ms for b in far] == [YEAR_2026 + (288 + k) * SPAN for k in range(QUIET)]
    assert len(job._buffer.buckets()) == 1  # the year-9999 record, in its open bucket
    assert job.last_finalized_end_ms == YEAR_9999
    # The models are usable after the jump, and their state stays small.
    job.add(batch([YEAR_9999 + SPAN + 1], [50.0]))
    after = job.finalize_until(YEAR_9999 + 2 * SPAN)
    assert [b.event_count for b in after] == [1, 1]
    assert all_scores_finite(normal + far + after)
    assert len(job.to_state()) < 200_000
    resumed = JobAnalyzer.from_state(both(), job.to_state())
    assert resumed.to_state() == job.to_state()


@pytest.mark.timeout(30)
def test_flush_and_interim_over_a_century_cost_bounded_work() -> None:
    job = JobAnalyzer(spec("count"))
    run_counts(job, RNG.poisson(10, (100, 1)))
    end = T0 + 100 * SPAN
    job.add(batch([end + 1]))
    century = end + 100 * 365 * 86_400_000
    interim = job.interim(end, century)
    assert [b.timestamp_ms for b in interim] == [end + k * SPAN for k in range(QUIET + 1)]
    assert all(b.is_interim for b in interim)
    final = job.finalize_until(century)
    assert [b.timestamp_ms for b in final] == [end + k * SPAN for k in range(QUIET + 1)]
    assert job.last_finalized_end_ms == century // SPAN * SPAN
    assert job.interim(century, 2 * century) == []


def test_empty_buckets_after_a_skip_are_closed_again() -> None:
    job = JobAnalyzer(spec("count"))
    job.add(batch([T0]))
    job.finalize_until(T0 + 10 * QUIET * SPAN)
    job.skip_to(T0 + 20 * QUIET * SPAN)
    after = job.finalize_until(T0 + (20 * QUIET + 3) * SPAN)
    assert [b.timestamp_ms for b in after] == [T0 + (20 * QUIET + k) * SPAN for k in range(3)]


@pytest.mark.parametrize("outage", [1, 24, QUIET - 1, QUIET])
@pytest.mark.parametrize("function", ["count", "mean"])
def test_outages_up_to_a_day_score_as_when_every_bucket_was_closed(outage: int, function: str) -> None:
    values = RNG.poisson(20, (300 + outage, 2)).astype(np.float64)
    values[150 : 150 + outage] = np.nan
    counts = np.nan_to_num(values).astype(np.int64)
    every = JobAnalyzer(spec(function, by="s"))
    every.quiet = 10**12  # every empty bucket closed, as before empty stretches were jumped
    jumping = JobAnalyzer(spec(function, by="s"))
    if function == "count":
        expected, got = run_counts(every, counts), run_counts(jumping, counts)
    else:
        expected, got = run_values(every, values), run_values(jumping, values)
    assert got == expected
    assert len(got) == 300 + outage
    if function == "count":
        assert record_scores(got)[150] >= 50.0  # the outage is news


def test_a_longer_outage_closes_a_day_of_it_then_jumps() -> None:
    counts = RNG.poisson(20, (300 + 3 * QUIET, 1))
    counts[150 : 150 + 3 * QUIET] = 0
    every = JobAnalyzer(spec("count", by="s"))
    every.quiet = 10**12
    expected = run_counts(every, counts)
    got = run_counts(JobAnalyzer(spec("count", by="s")), counts)
    assert got[: 150 + QUIET] == expected[: 150 + QUIET]
    assert [b.timestamp_ms for b in got[150 + QUIET :]] == [T0 + (150 + 3 * QUIET + k) * SPAN for k in range(150)]
    assert all_scores_finite(got)


def test_a_normaliser_row_idle_for_centuries_stays_finite() -> None:
    norm = Normaliser(1, decay_per_bucket=math.exp(-SPAN / (30 * 86_400_000)))
    rows = np.array([0])
    for b in range(200):
        norm.update(rows, rows, np.array([0.0 if b % 10 else 5.0]), bucket=b)
    later = 200 + 100 * 365 * 288  # a century of 5-minute buckets later
    norm.update(rows, rows, np.array([1.0]), bucket=later)
    assert np.isfinite(norm.hist).all() and norm.hist.sum() == pytest.approx(1.0)
    score = norm.normalise(rows, rows, np.array([40.0]), np.array([-30.0]), bucket=later + 1)
    assert np.isfinite(score).all() and score[0] > 0.0
