"""The drift feature: a level sliding away from its weekly profile over hours is found; a clean one is not."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anomalyd.engine import drift
from anomalyd.engine.analyzer import JobAnalyzer
from anomalyd.engine.residual import Residual
from anomalyd.engine.results import BucketResult
from tests.engine.synth import SPAN, T0, run_values, spec

DAY = 288  # 5-minute buckets
WEEK = 7 * DAY
HISTORY = 3 * WEEK + DAY + 100  # three weeks and a day of history: the slide starts on a weekday morning
SLIDE = 72  # six hours
AFTER = DAY


def _weekly(buckets: int, seed: int) -> np.ndarray:
    """A daily wave, a weekly one, and noise of spread 1."""
    rng = np.random.default_rng(seed)
    b = np.arange(buckets)
    return 100.0 + 20.0 * np.sin(2 * np.pi * b / DAY) + 10.0 * np.sin(2 * np.pi * b / WEEK) + rng.standard_normal(buckets)


def _slide(buckets: int) -> np.ndarray:
    """0 until HISTORY, then down by 3 spreads over six hours, then held."""
    return -3.0 * np.clip((np.arange(buckets) - HISTORY) / SLIDE, 0.0, 1.0)


def _run(values: np.ndarray) -> list[BucketResult]:
    job = JobAnalyzer(spec("mean"))
    return run_values(job, values[:, None])


@pytest.mark.parametrize("seed", [1, 2])
def test_a_slow_slide_below_the_weekly_profile_scores_high_and_a_clean_series_stays_quiet(seed: int) -> None:
    assert T0 % SPAN == 0
    n = HISTORY + SLIDE + AFTER
    clean = _weekly(n, seed)
    slid = _run(clean + _slide(n))[HISTORY:]
    quiet = _run(clean)[HISTORY:]
    found = [r for b in slid for r in b.records if r.multi_bucket_impact > 0.0]
    assert max(r.record_score for r in found) >= 75.0
    # Found during the slide or within a window after it: a drift, not a late level shift.
    assert min(r.timestamp_ms for r in found if r.record_score >= 75.0) < T0 + (HISTORY + 2 * SLIDE) * SPAN
    assert max((r.record_score for b in quiet for r in b.records), default=0.0) < 25.0


def _feed(d: drift.Drift, res: Residual, values: np.ndarray, start: int = 0) -> list[tuple[int, float]]:
    """Score and learn values (one series) with the drift feature alone; the buckets it reported."""
    residual_ = (res.scale_weight, res.scale_sum_sq, res.resolution, res.mean_abs)
    out, reports = np.zeros((1, 4)), []
    for b, value in enumerate(values, start=start):
        x = np.array([value])
        drift.score(np.array([0]), x, b * SPAN, SPAN, d.state(), residual_, 0, out)
        drift.learn(np.array([0]), x, b * SPAN, SPAN, d.state(), 0.999, out)
        if out[0, 2] < 0.0:
            reports.append((b, float(out[0, 2])))
    return reports


def test_a_drift_reports_once_per_doubling_of_its_evidence_and_rearms_after_it_ends() -> None:
    d, res = drift.Drift(1), Residual(1)
    rng = np.random.default_rng(3)
    wave = 5.0 * np.sin(2 * np.pi * np.arange(13 * DAY) / DAY)
    values = 10.0 + wave + rng.standard_normal(13 * DAY)
    first, second = 8 * DAY, 11 * DAY  # both in the daily profile's regime (days 2 to 14)
    values[first:first + DAY] -= 3.0  # a day 3 spreads below, twice
    values[second:second + DAY] -= 3.0
    reports = _feed(d, res, values)
    during = [[ln_p for b, ln_p in reports if start <= b < start + DAY] for start in (first, second)]
    assert min(during[0]) < np.log(1e-10)
    for found in during:
        # Each report at least doubles the evidence of the one before.
        assert all(later < 2.0 * earlier for earlier, later in itertools.pairwise(found))
        assert len(found) <= 8
    # Re-armed once the first day was over: the second is reported too (its history now holds
    # the first at a tenth of the weight, so it is less surprising).
    assert during[1]


def test_a_drift_is_not_learned_as_normal_before_it_is_reported() -> None:
    d, res = drift.Drift(1), Residual(1)
    residual_ = (res.scale_weight, res.scale_sum_sq, res.resolution, res.mean_abs)
    rng = np.random.default_rng(4)
    _feed(d, res, 10.0 + rng.standard_normal(12 * DAY))
    # A slide 3 spreads down over six hours. Until it is reported, a bucket whose statistic is in
    # its tail teaches the profile at a tenth of the weight: the bins move a tenth as far.
    out = np.zeros((1, 4))
    moved = full = 0.0
    in_tail = 0
    for b in range(12 * DAY, 12 * DAY + SLIDE):
        x = np.array([10.0 - 3.0 * (b - 12 * DAY) / SLIDE + rng.standard_normal()])
        drift.score(np.array([0]), x, b * SPAN, SPAN, d.state(), residual_, 0, out)
        if out[0, 2] < 0.0:
            break
        ln_p, _ = drift.tail_ln_p(d.history, d.history_gain[0], 0, abs(out[0, 1]))
        h = (b * SPAN // 3_600_000) % 24
        before = float(d.day[0, h])
        drift.learn(np.array([0]), x, b * SPAN, SPAN, d.state(), 0.999, out)
        if ln_p < drift.LN_NORMAL:
            in_tail += 1
            moved += abs(float(d.day[0, h]) - before)
            full += abs(float(x[0]) - before) / float(d.day_weight[0, h])
    assert in_tail >= 3
    assert moved < 0.15 * full


@settings(max_examples=300, deadline=None)
@given(
    bins=st.lists(st.one_of(st.just(0.0), st.floats(1e-3, 1e4)), min_size=64, max_size=64),
    at=st.integers(0, 63),
    within=st.floats(0.0, 1.0),
    above_share=st.one_of(st.floats(0.0, 1.0), st.floats(0.0499, 0.0501)),
    own_share=st.floats(0.0, 0.5),
)
def test_a_statistic_read_as_outside_the_tail_has_a_tail_ln_p_of_at_least_the_normal_one(
    bins: list[float], at: int, within: float, above_share: float, own_share: float
) -> None:
    # A history whose bins above bin at hold about above_share of it and bin at own_share, and a
    # statistic within bin at: the vectorised test may skip the exact tail only where that tail
    # reads ln p >= LN_NORMAL, and must where the bins above hold the anchor share with room.
    row = np.array(bins, np.float32)
    row[at] = 1.0
    for part, share in ((slice(at + 1, None), above_share), (slice(at, at + 1), own_share), (slice(None, at), 1.0)):
        weight = float(row[part].sum(dtype=np.float64))
        row[part] *= np.float32(share / weight if weight > 0.0 else 0.0)
    size = math.exp(math.log(1e-3) + (at - 1 + within) * (math.log(1e5) / 63)) if at else 1e-3 * within
    history = row[None]
    b = drift._log_bin(size)[1]
    outside = drift._outside_tail(history, 0, b)
    if outside:
        assert drift.tail_ln_p(history, 1.0, 0, size)[0] >= drift.LN_NORMAL
    total = float(row.sum(dtype=np.float64))
    if total > 0.0 and float(row[b + 1 :].sum(dtype=np.float64)) >= 0.05 * (1.0 + 1e-6) * total:
        assert outside


def test_drift_state_survives_to_state_and_older_states_start_it_empty() -> None:
    n = 4 * DAY
    values = _weekly(n, 5)[:, None]
    job = JobAnalyzer(spec("mean"))
    run_values(job, values)
    state = job.to_state()
    again = JobAnalyzer.from_state(spec("mean"), state)
    model = again._detectors[0].models[0]
    original = job._detectors[0].models[0]
    for name, array in original.drift.arrays(1).items():
        np.testing.assert_array_equal(getattr(model.drift, name)[:1], array, err_msg=name)
    assert int(model.drift.seen[0]) == n
    # A state written before the drift feature (version 5) has no drift arrays: it starts empty.
    arrays = {k: v for k, v in original.arrays(1).items() if not k.startswith("drift.")}
    model.load(arrays)
    assert int(model.drift.seen[0]) == 0 and len(model.drift.week) == 1


def test_float32_profile_weights_of_older_states_read_as_tenths() -> None:
    d, res = drift.Drift(1), Residual(1)
    values = _weekly(5 * DAY, 6)
    values[4 * DAY:] -= 3.0  # a drift, so that some buckets teach a tenth
    _feed(d, res, values)
    arrays = d.arrays(1)
    assert (arrays["week_tenths"] % 10 != 0).any()  # the day's bins are full (3 days of visits) by then
    older = dict(arrays)
    for profile in ("week", "day"):  # versions 6 to 10 summed the weights as float32
        tenths = older.pop(f"{profile}_tenths").astype(np.float64)
        older[f"{profile}_weight"] = (np.floor(tenths / 10) + np.mod(tenths, 10) * np.float32(0.1)).astype(np.float32)
    for state in (arrays, older):
        again = drift.Drift(0)
        again.load(state)
        np.testing.assert_array_equal(again.week_profile, d.week_profile)
        np.testing.assert_array_equal(again.day_profile, d.day_profile)
