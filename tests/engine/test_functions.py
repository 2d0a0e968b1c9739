"""Bucket statistics and the function table."""

from __future__ import annotations

import numpy as np
import pytest

from anomalyd.core.config import FUNCTIONS as CONFIG_FUNCTIONS
from anomalyd.engine.functions import FUNCTIONS, STATISTICS, Grouped
from anomalyd.engine.rare import RARE_FUNCTIONS


def _stats(series: list[int], values: list[float], weights: list[float]) -> dict[str, dict[int, float]]:
    g = Grouped.of(np.array(series), np.array(values), np.array(weights))
    return {name: dict(zip(g.series.tolist(), f(g).tolist(), strict=True)) for name, f in STATISTICS.items()}


def test_the_median_of_a_pair_near_the_float_limit_is_finite() -> None:
    g = Grouped.of(np.zeros(2, np.intp), np.array([1.7e308, 1.7e308]), np.ones(2))
    assert STATISTICS["median"](g).tolist() == [1.7e308]


@pytest.mark.filterwarnings("error")
def test_statistics_beyond_the_float_range_are_not_finite_without_a_warning() -> None:
    g = Grouped.of(np.zeros(3, np.intp), np.array([1.7e308, 1.7e308, -1e300]), np.ones(3))
    assert not any(np.isfinite(STATISTICS[name](g)[0]) for name in ("sum", "mean", "varp"))


def test_statistics_by_hand() -> None:
    s = _stats([3, 1, 3, 1, 3, 2], [5.0, 1.0, 3.0, 2.0, 4.0, 7.0], [1.0] * 6)
    assert s["count"] == {1: 2, 2: 1, 3: 3}
    assert s["sum"] == {1: 3, 2: 7, 3: 12}
    assert s["mean"] == {1: 1.5, 2: 7, 3: 4}
    assert s["median"] == {1: 1.5, 2: 7, 3: 4}
    assert s["min"] == {1: 1, 2: 7, 3: 3}
    assert s["max"] == {1: 2, 2: 7, 3: 5}
    assert s["varp"][1] == pytest.approx(0.25) and s["varp"][3] == pytest.approx(2 / 3) and s["varp"][2] == 0


def test_statistics_with_summary_counts() -> None:
    # Record (value 1, 3 events) and (value 5, 1 event): a pre-aggregated mean of 1 over 3 events.
    s = _stats([0, 0], [1.0, 5.0], [3.0, 1.0])
    assert s["count"][0] == 4
    assert s["mean"][0] == pytest.approx(2.0)
    assert s["median"][0] == 1.0
    assert s["sum"][0] == 6.0  # each value is already its group's sum
    assert s["varp"][0] == pytest.approx((3 * 1 + 9) / 4)


def test_sides_and_features() -> None:
    assert [f.side for f in FUNCTIONS["min"].features] == [-1]
    assert [f.side for f in FUNCTIONS["max"].features] == [1]
    assert [(f.statistic, f.side) for f in FUNCTIONS["metric"].features] == [("min", -1), ("mean", 0), ("max", 1)]
    assert FUNCTIONS["high_count"].features[0].side == 1 and FUNCTIONS["low_avg"].features[0].side == -1
    assert FUNCTIONS["count"].features[0].empty_is_zero and not FUNCTIONS["nzc"].features[0].empty_is_zero
    assert FUNCTIONS["sum"].features[0].empty_is_zero and not FUNCTIONS["non_null_sum"].features[0].empty_is_zero
    assert FUNCTIONS["avg"].description == "mean"


def test_every_config_function_is_analysed() -> None:
    analysed = FUNCTIONS | RARE_FUNCTIONS
    assert set(CONFIG_FUNCTIONS) == set(analysed)
    assert all(analysed[name].uses_field == rule.field for name, rule in CONFIG_FUNCTIONS.items())


def test_statistics_of_a_bucket_without_rows() -> None:
    # A quiet bucket is closed for every detector when one counts zeros: max and median saw an
    # empty bucket as an IndexError.
    assert all(len(values) == 0 for values in _stats([], [], []).values())
