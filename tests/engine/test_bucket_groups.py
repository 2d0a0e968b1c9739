"""bucket_groups.group_run against functions.Grouped and STATISTICS: the same series and bit for bit the same values."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from anomalyd.engine.bucket_groups import STATISTIC_CODES, group_run
from anomalyd.engine.functions import ORDERED, STATISTICS, Grouped

_SPAN = 60_000
# Values of every scale, both zeros and repeats, so that the order of additions and ties show.
_VALUES = st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([0.0, -0.0, 1e-300, 3.0, 1e15]))


def _reference(starts: np.ndarray, bucket: np.ndarray, series: np.ndarray, value: np.ndarray, weight: np.ndarray,
               n_series: int, statistic: str, empty_is_zero: bool) -> tuple[list[int], list[int], np.ndarray]:
    """Each bucket grouped alone with Grouped.of and its statistic from STATISTICS."""
    idx: list[int] = []
    ptr = [0]
    x: list[float] = []
    for b in starts.tolist():
        rows = (bucket == b) & (series >= 0)
        grouped = Grouped.of(series[rows].astype(np.intp), value[rows], weight[rows], by_value=statistic in ORDERED)
        stat = STATISTICS[statistic](grouped) if len(grouped.series) else np.zeros(0)
        if empty_is_zero:
            full = np.zeros(n_series)
            full[grouped.series] = stat
            idx += range(n_series)
            x += full.tolist()
        else:
            idx += grouped.series.tolist()
            x += stat.tolist()
        ptr.append(len(idx))
    return idx, ptr, np.array(x)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(sorted(STATISTIC_CODES)),
    st.booleans(),
    st.sampled_from([6, 64]),  # a bucket's rows ordered by counting its series, or by sorting them (few rows)
    st.lists(st.tuples(st.integers(0, 3), st.integers(-1, 5), _VALUES, st.sampled_from([1.0, 0.5, 3.0])), max_size=300),
)
def test_group_run_gives_the_statistics_of_each_bucket_alone(
    statistic: str, empty_is_zero: bool, n_series: int, rows: list[tuple[int, int, float, float]]
) -> None:
    rows = sorted(rows, key=lambda r: r[0])  # stable: arrival order within a bucket is kept
    bucket = np.array([r[0] * _SPAN for r in rows], np.int64)
    series = np.array([[r[1]] for r in rows], np.int32).reshape(-1, 1)
    value = np.array([[r[2]] for r in rows]).reshape(-1, 1)
    weight = np.array([r[3] for r in rows])
    starts = np.unique(np.concatenate([bucket, [4 * _SPAN]]))  # and a bucket without rows
    idx, ptr, x = group_run(starts, bucket, series, value, weight, 0, n_series, STATISTIC_CODES[statistic], empty_is_zero)
    ref_idx, ref_ptr, ref_x = _reference(starts, bucket, series[:, 0], value[:, 0], weight, n_series, statistic, empty_is_zero)
    assert idx.tolist() == ref_idx
    assert ptr.tolist() == ref_ptr
    assert x.view(np.int64).tolist() == ref_x.view(np.int64).tolist()  # bit for bit, the sign of zeros too


def test_long_groups_add_in_numpys_pairwise_order() -> None:
    """Groups past numpy's 8- and 128-value blocks, where a plain running sum would differ in the last bits."""
    rng = np.random.default_rng(0)
    n = 1_000
    series = rng.integers(0, 2, n).astype(np.int32)[:, None]
    value = (rng.standard_normal(n) * 10.0 ** rng.uniform(-8, 8, n))[:, None]
    idx, _, x = group_run(np.zeros(1, np.int64), np.zeros(n, np.int64), series, value, np.ones(n), 0, 2,
                          STATISTIC_CODES["sum"], False)
    grouped = Grouped.of(series[:, 0].astype(np.intp), value[:, 0], np.ones(n), by_value=False)
    assert idx.tolist() == [0, 1]
    assert x.view(np.int64).tolist() == STATISTICS["sum"](grouped).view(np.int64).tolist()
