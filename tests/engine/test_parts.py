"""The parts of a series model, each on its own: trend, residual, multi-bucket, seasonal bins."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from anomalyd.engine import multi_bucket, residual, seasonality, trend
from anomalyd.engine.multi_bucket import WINDOWS, MultiBucket
from anomalyd.engine.pools import new_pool
from anomalyd.engine.residual import NORMAL, QUASI_POISSON, Families, Residual
from anomalyd.engine.rings import count_points
from anomalyd.engine.seasonality import Seasonality
from anomalyd.engine.stats import normal_tail_log_p1
from anomalyd.engine.trend import REBASE, Trend


def test_rows_grow_and_round_trip() -> None:
    part = Trend(2)
    part.level[:] = [1.0, 2.0]
    part.grow(5)
    assert part.level.tolist() == [1.0, 2.0, 0.0, 0.0, 0.0] and np.isnan(part.recent_z[4]).all()
    again = Trend(0)
    again.load(part.arrays(2))
    assert again.level.tolist() == [1.0, 2.0] and again.recent_z.shape == (2, REBASE)
    assert part.bytes_per_series() == 8 + 8 + 4 * REBASE


def test_a_sustained_shift_rebases_the_level_once_warm() -> None:
    t = Trend(1)
    t.slope[0] = 0.5
    for n in range(REBASE - 1):
        assert not trend.rebase(t.level, t.slope, t.recent_z, 0, n, 5.0, 2.0, True)
    assert trend.misses(t.recent_z, 0) == REBASE - 1
    assert not trend.rebase(t.level, t.slope, t.recent_z, 0, REBASE - 1, 5.0, 2.0, False)  # young: no
    assert trend.rebase(t.level, t.slope, t.recent_z, 0, REBASE, 4.0, 2.0, True)
    assert t.level[0] == 10.0 and t.slope[0] == 0.0  # median z 5 times sigma 2; a step, not a trend
    assert np.isnan(t.recent_z[0]).all()


def test_outliers_teach_a_tenth_once_there_are_a_few_values() -> None:
    assert residual.outlier_weight(math.log(1e-5), 0.0, 10) == 0.1
    assert residual.outlier_weight(0.0, math.log(1e-5), 10) == 0.1
    assert residual.outlier_weight(math.log(1e-5), 0.0, 2) == 1.0
    assert residual.outlier_weight(math.log(1e-3), math.log(1e-3), 10) == 1.0


def test_the_floor_is_the_resolutions_dither() -> None:
    r = Residual(1)
    for x in (3.0, 5.0, 4.0, 6.0):
        residual.learn_resolution(r.resolution, r.mean_abs, r.last_value, 0, x, 1.0)
    assert r.resolution[0] == 1.0 and r.last_value[0] == 6.0
    var, floor = residual.variances(r.scale_weight, r.scale_sum_sq, r.resolution, r.mean_abs, 0)
    assert var == 0.0 and math.isclose(floor, 1 / 12 + (1e-4 * 6.0) ** 2, rel_tol=1e-6)


def test_counts_like_poisson_pick_the_quasi_poisson() -> None:
    f = Families(1)
    rng = np.random.default_rng(1)
    for x in rng.poisson(3.0, 300).tolist():
        residual.learn_families(f.log_likelihood, 0, 0.99, float(x), 3.0, x - 3.0, math.sqrt(3.0))
    assert residual.family(f.log_likelihood, 0) == QUASI_POISSON
    f.log_likelihood[0] = [1.0, 1.0]
    assert residual.family(f.log_likelihood, 0) == NORMAL  # a tie keeps the normal


def test_multi_bucket_means_and_their_scale() -> None:
    mb = MultiBucket(1)
    means = np.zeros(len(WINDOWS))
    for n in range(40):
        clipped = 0.05 + 0.1 * (-1.0) ** n
        multi_bucket.recent_means(mb.clipped_residuals, 0, n, clipped, means)
        multi_bucket.learn(mb.clipped_residuals, mb.weight, mb.sum_sq_means, 0, n, clipped, 1.0, 0.99, means)
        if n < multi_bucket.LENGTH - 1:
            assert mb.weight[0] == 0.0  # nothing is learned before the ring is full
    assert np.allclose(means, [0.05, 0.05])  # the swings cancel in both windows
    # A mean of 1 where means have been 0.05 is far in the tail, on the side watched.
    assert multi_bucket.ln_p(mb.weight, mb.sum_sq_means, 0, np.array([1.0, 1.0]), 0.01, 0.0, 0) < math.log(1e-20)
    assert multi_bucket.ln_p(mb.weight, mb.sum_sq_means, 0, np.array([1.0, 1.0]), 0.01, 0.0, -1) == 0.0


def _both_tails(weight: float, sum_sq: list[float], means: list[float], var: float, floor: float, side: int) -> float:
    """The multi-bucket ln p as the smaller of every window's tail, each computed."""
    tails = []
    for j, length in enumerate(WINDOWS):
        learned = sum_sq[j] / weight if weight > 0.0 else 0.0
        sd = math.sqrt(max(learned, var / length) + floor / length)
        tails.append(normal_tail_log_p1(means[j] / sd if sd > 0.0 else 0.0, side))
    return min(tails)


deviates = st.floats(-40.0, 40.0) | st.sampled_from([0.0, 1e-300, 1e-13, 1.0, 3.0])


@settings(max_examples=300, deadline=None)
@given(deviates, deviates, st.floats(0.0, 1e-6), st.sampled_from([0, 1, -1]), st.floats(0.5, 2.0), st.floats(0.0, 1.0))
def test_multi_bucket_ln_p_is_the_smaller_tail_of_its_windows(
    mean_long: float, mean_short: float, nudge: float, side: int, scale: float, floor: float
) -> None:
    # Means whose deviates tie or nearly tie (nudge) as well as far apart: skipping the tail of
    # the clearly smaller deviate gives the smaller of both tails, to the last bit.
    mb = MultiBucket(1)
    mb.weight[0], mb.sum_sq_means[0] = 10.0, (10.0 * scale, 10.0 * scale)
    for means in ([mean_long, mean_short], [mean_long, mean_long * (1.0 + nudge)]):
        got = multi_bucket.ln_p(mb.weight, mb.sum_sq_means, 0, np.array(means), 0.5, floor, side)
        assert got == _both_tails(10.0, [10.0 * scale] * 2, means, 0.5, floor, side)


def test_seasonal_bins_predict_learn_and_record() -> None:
    s = Seasonality(300_000, 1)
    s.slot[0] = [0, -1, -1]
    s.pools[0] = new_pool(1, s.bins[0])
    phases = s.phases(10 * 60_000)  # the hourly bin of minute 10
    seasonality.learn(s.slot, tuple(s.pools), 0, phases, s.rates, 2.0)
    # The row, all 0 before, is fitted to the learned bin: it reads within 3e-5 of the row's range.
    assert math.isclose(seasonality.predict(s.slot, tuple(s.pools), 0, phases), 0.05 / 24 * 2.0, rel_tol=3e-5)
    assert abs(seasonality.predict(s.slot, tuple(s.pools), 0, s.phases(20 * 60_000))) <= 3e-5 * 0.05 / 24 * 2.0
    seasonality.record(s.acc_sum, s.acc_n, 0, 7.0)
    assert s.acc_sum[0].tolist() == [7.0] * len(s.ring_ms) and s.acc_n[0].tolist() == [1.0] * len(s.ring_ms)


_RING_VALUES = st.lists(
    st.one_of(st.floats(-1e30, 1e30), st.just(math.nan), st.sampled_from([0.0, 1e300, -1e308])), min_size=1, max_size=400
)


@settings(max_examples=60, deadline=None)
@given(values=_RING_VALUES, offset=st.floats(-1e6, 1e6))
def test_ring_points_decode_within_a_few_steps_of_their_means(values: list[float], offset: float) -> None:
    s = Seasonality(300_000, 2)
    for b, v in enumerate(values):
        s.roll(b * 300_000, 2)
        for i in range(2):
            if not math.isnan(v):
                seasonality.record(s.acc_sum, s.acc_n, i, v + i * offset)
    s.roll(len(values) * 300_000, 2)
    kept = values[-seasonality.RING_LENGTH:]
    first = len(values) - len(kept)
    for i in range(2):
        got = s.ring_values(np.array([i]), 0)[0]
        step = float(s.rings[2][i, 0])
        for b, v in enumerate(kept, start=first):
            want = v + i * offset
            p = got[b % seasonality.RING_LENGTH]
            if math.isnan(v) or abs(want) > 3.4e38:
                assert math.isnan(p)  # no value, or one beyond float32 that the tests cannot use
            else:
                # Each re-fit as the range grew rounded the point again, by half of a step at least
                # 1.25 times smaller than the next: 2.5 steps in all, one more for a last narrowing.
                assert abs(p - want) <= 3.5 * step + 1e-37, (b, p, want, step)  # 1e-37: float32's least normal


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(st.tuples(st.integers(1, 400), st.one_of(st.floats(-1e30, 1e30), st.just(math.nan))), min_size=1, max_size=120)
)
def test_ring_point_counts_follow_the_codes_through_gaps_and_reloads(steps: list[tuple[int, float]]) -> None:
    s = Seasonality(300_000, 2)
    b = 0
    for gap, v in steps:
        b += gap  # buckets jumped over leave their ring points without a value
        s.roll(b * 300_000, 2)
        if not math.isnan(v):
            seasonality.record(s.acc_sum, s.acc_n, 1, v)
        assert np.array_equal(s.ring_counts, count_points(s.rings[0]))
    s.load(s.arrays(2))
    assert np.array_equal(s.ring_counts, count_points(s.rings[0]))


@settings(max_examples=30, deadline=None)
@given(values=_RING_VALUES)
def test_float32_ring_points_of_older_states_are_coded_within_half_a_step(values: list[float]) -> None:
    s = Seasonality(300_000, 1)
    arrays = s.arrays(1)
    del arrays["ring_offset"], arrays["ring_step"]
    points = np.full(seasonality.RING_LENGTH, np.nan, np.float32)
    with np.errstate(over="ignore"):  # as float32, as versions up to 9 kept them: 1e300 was inf
        kept = np.array(values[: seasonality.RING_LENGTH], np.float32)
    points[: len(kept)] = kept
    for r in range(len(s.ring_ms)):
        arrays[f"ring_points{r}"] = np.arange(seasonality.RING_LENGTH, dtype=np.int16)
        arrays[f"ring{r}"] = points[None, :]
    s.load(arrays)
    got = s.ring_values(np.array([0]), 0)[0]
    usable = np.isfinite(points)
    assert np.array_equal(np.isnan(got), ~usable)
    half_step = 0.5 * float(s.rings[2][0, 0])
    assert np.all(np.abs(got[usable] - points[usable]) <= half_step * (1 + 1e-9) + 1e-37)
