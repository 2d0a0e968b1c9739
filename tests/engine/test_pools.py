"""A seasonal component's coded bins: written, learned and read within their row's precision."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from anomalyd.engine.pools import add_to_bin, new_pool, read_rows, write_rows
from anomalyd.engine.seasonality import Seasonality
from tests.engine.synth import SPAN

_BINS = st.lists(st.floats(-1e12, 1e12), min_size=12, max_size=12)


@settings(max_examples=50, deadline=None)
@given(_BINS)
def test_a_written_row_reads_within_a_80000th_of_its_range(bins: list[float]) -> None:
    pool = new_pool(2, 12)
    write_rows(pool, np.array([1]), np.array([bins]))
    read = read_rows(pool, np.array([0, 1]))
    assert (read[0] == 0.0).all()  # the other row is untouched
    # (Offset and step are float32: a row of bins below float32's range reads as 0.)
    assert np.abs(read[1] - bins).max() <= 1.2e-5 * np.ptp(bins) + 1e-6 * np.abs(bins).max() + 1e-37


@settings(max_examples=50, deadline=None)
@given(_BINS, st.lists(st.tuples(st.integers(0, 11), st.floats(-1e13, 1e13)), max_size=30))
def test_learned_bins_read_within_a_30000th_of_the_row_s_range(bins: list[float], steps: list[tuple[int, float]]) -> None:
    pool = new_pool(1, 12)
    write_rows(pool, np.array([0]), np.array([bins]))
    want = np.array(bins)
    widest, largest = np.ptp(want), np.abs(want).max()
    tolerance = 1.2e-5 * widest + 1e-6 * largest + 1e-37
    for b, delta in steps:
        add_to_bin(pool, 0, b, delta)
        want[b] += delta
        # Each step rounds the bin to its row's step, at most 4 / 65,534 of the widest row yet.
        widest, largest = max(widest, np.ptp(want)), max(largest, np.abs(want).max())
        tolerance += 3.1e-5 * widest + 1e-6 * largest
    assert np.abs(read_rows(pool, np.array([0]))[0] - want).max() <= tolerance

def test_float32_bins_of_older_states_are_coded_on_reading() -> None:
    s = Seasonality(SPAN, 3)
    bins = np.random.default_rng(2).normal(0.0, 30.0, (3, s.bins[1])).astype(np.float32)
    s.pools[1], s.pool_used[1] = new_pool(3, s.bins[1]), np.ones(3, bool)
    arrays = s.arrays(3)
    for name in ("pool_offset1", "pool_step1"):
        del arrays[name]
    arrays["pool1"] = bins
    again = Seasonality(SPAN, 0)
    again.load(arrays)
    read = read_rows(again.pools[1], np.arange(3))
    assert (np.abs(read - bins) <= 1.2e-5 * np.ptp(bins, axis=1, keepdims=True)).all()
