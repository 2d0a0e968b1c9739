"""The residual's spread per seasonal phase: recurring spikes widen their phase, and only theirs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from anomalyd.engine import residual
from anomalyd.engine.pools import new_pool
from anomalyd.engine.seasonality import Seasonality
from anomalyd.engine.series_model import SeriesModel
from tests.engine.synth import SPAN, T0

HOUR = 12  # 5-minute buckets
DAY = 24 * HOUR
SPIKY_PHASE, QUIET_PHASE = 9, 3


def _hourly_with_a_wild_phase(buckets: int, seed: int) -> np.ndarray:
    """An hourly wave with noise of spread 1, whose bucket at phase 9 jumps by -25 to +40 every hour.

    cpu_utilization_asg_misconfiguration's job run at :09 is of this kind.
    """
    rng = np.random.default_rng(seed)
    b = np.arange(buckets)
    values = 50.0 + 10.0 * np.sin(2 * np.pi * b / HOUR) + rng.standard_normal(buckets)
    values[b % HOUR == SPIKY_PHASE] += rng.choice([-25.0, 0.0, 25.0, 40.0], size=int(np.sum(b % HOUR == SPIKY_PHASE)))
    return values


def _trained(values: np.ndarray) -> SeriesModel:
    model = SeriesModel(SPAN, side=0, counts=False, warmup=48, capacity=1)
    for b, value in enumerate(values):
        t = T0 + b * SPAN
        model.begin_bucket(t, 1)
        model.step(np.array([0]), np.array([value]), t)
    return model


def _ln_p_of_a_jump(model: SeriesModel, bucket: int, jump: float) -> float:
    """The ln p of a value jump above the model's prediction at bucket (scored, not learned)."""
    t = T0 + bucket * SPAN
    model.begin_bucket(t, 1)
    typical = model.score(np.array([0]), np.array([0.0]), t).typical[0]
    return float(model.score(np.array([0]), np.array([typical + jump]), t).ln_p_single[0])


def test_a_spike_that_recurs_at_one_phase_is_expected_there_and_nowhere_else() -> None:
    buckets = 4 * 24 * HOUR  # four days
    model = _trained(_hourly_with_a_wild_phase(buckets, seed=3))
    assert model.seasonality.slot[0, 0] >= 0  # the hourly component was found
    s = model.seasonality
    scales = [
        residual.phase_scale(s.slot, tuple(s.spreads), 0, s.phases(T0 + k * SPAN), model.spread_margins)
        for k in range(HOUR)
    ]
    assert scales[SPIKY_PHASE] > 4.0 and scales[:SPIKY_PHASE] + scales[SPIKY_PHASE + 1:] == [1.0] * (HOUR - 1)
    spiky = buckets + (SPIKY_PHASE - buckets) % HOUR
    quiet = spiky + HOUR + QUIET_PHASE - SPIKY_PHASE
    # A jump of 30 is routine at phase 9 (p > 0.01) and remarkable four buckets later. (The
    # series' own spread learns phase 9's expected jumps at full weight, so it is wider than
    # the noise's 1: about 5.)
    routine, remarkable = _ln_p_of_a_jump(model, spiky, 30.0), _ln_p_of_a_jump(model, quiet, 30.0)
    assert routine > -5.0 and remarkable < -10.0


def test_a_clean_seasonal_series_widens_few_phases_beyond_chance() -> None:
    # A daily bin's spread of 5-minute buckets is an estimate with a standard error of 0.38: without
    # the margin of two of them, 39 % of a clean series' phases are widened (by 13 % on average).
    rng = np.random.default_rng(5)
    b = np.arange(10 * DAY)
    model = _trained(50.0 + 10.0 * np.sin(2 * np.pi * b / DAY) + rng.standard_normal(len(b)))
    s = model.seasonality
    assert s.slot[0, 1] >= 0  # the daily component was found
    scales = np.array([
        residual.phase_scale(s.slot, tuple(s.spreads), 0, s.phases(T0 + k * SPAN), model.spread_margins)
        for k in range(DAY)
    ])
    assert np.mean(scales > 1.0) < 0.1 and scales.mean() < 1.03


def _values(codes: np.ndarray) -> np.ndarray:
    """The spreads codes stand for."""
    return np.array([residual.spread_value(int(c)) for c in codes.reshape(-1)]).reshape(codes.shape)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 11), st.floats(0.0, 1e40), st.sampled_from([0.1, 1.0])), max_size=200))
def test_a_components_spread_total_is_the_sum_of_its_bins(visits: list[tuple[int, float, float]]) -> None:
    slot = np.array([[0, -1, -1]], np.int32)
    spreads = (residual.new_spreads(1, HOUR), residual.new_spreads(0, 288), residual.new_spreads(0, 168))
    rates, _ = residual.spread_learning(0.995, [HOUR, 288, 168])
    for phase, z2, weight in visits:
        residual.learn_phase_spread(slot, spreads, 0, np.array([phase, 0, 0]), rates, weight, z2)
    codes, sums = spreads[0]
    assert np.isfinite(sums[0])
    assert np.isclose(sums[0], _values(codes[0]).sum(), rtol=1e-4)


@given(st.floats(2.0**-14, 2.0**49.998))
def test_a_spread_codes_within_a_2048th_of_itself(spread: float) -> None:
    assert abs(residual.spread_value(residual.spread_code(spread)) / spread - 1.0) <= 2.0**-11 + 1e-9


def test_spreads_beyond_the_codes_code_as_zero_or_the_most() -> None:
    assert [residual.spread_code(x) for x in (0.0, 2.0**-15, 2.0**-14, 2.0**51, np.inf, np.nan)] == [0, 0, 1, 65535, 65535, 0]
    assert residual.spread_value(0) == 0.0 and residual.spread_value(residual.spread_code(1.0)) == 1.0
    assert residual.spread_value(65535) == 2.0**50 * (1.0 - 2.0**-10)


def _with_a_component(rows: int) -> Seasonality:
    s = Seasonality(SPAN, rows)
    s.pools[0] = new_pool(rows, s.bins[0])
    s.pool_used[0] = np.ones(rows, bool)
    s.spreads[0] = residual.new_spreads(rows, s.bins[0])
    return s


def test_components_of_older_states_read_with_uniform_spreads() -> None:
    s = _with_a_component(2)
    arrays = {k: v for k, v in s.arrays(2).items() if not k.startswith("spread")}
    again = Seasonality(SPAN, 0)
    again.load(arrays)
    codes, sums = again.spreads[0]
    assert codes.shape == (2, s.bins[0])
    assert (_values(codes) == 1.0).all() and (sums == s.bins[0]).all()
    phases = again.phases(T0)
    assert residual.phase_scale(np.array([[0, -1, -1]], np.int32), tuple(again.spreads), 0, phases, np.zeros(3)) == 1.0


def test_version_12_float32_spreads_read_coded() -> None:
    s = _with_a_component(3)
    bins = s.bins[0]
    floats = np.random.default_rng(1).lognormal(0.0, 2.0, (3, bins + 1)).astype(np.float32)
    floats[0, :bins] = 0.0
    floats[:, bins] = floats[:, :bins].sum(axis=1)
    arrays = {k: v for k, v in s.arrays(3).items() if not k.startswith("spread")} | {"spread0": floats}
    again = Seasonality(SPAN, 0)
    again.load(arrays)
    codes, sums = again.spreads[0]
    assert np.allclose(_values(codes), floats[:, :bins], rtol=2.0**-11, atol=0.0)
    assert np.allclose(sums, _values(codes).sum(axis=1), rtol=1e-6)
