"""Epoch times: each integer is read alone, whichever way its message is converted."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anomalyd.core.timeparse import MAX_EPOCH_MS, MIN_EPOCH_MS, epoch_millis

# Integers at and around each unit's valid bounds, and far beyond them.
_EDGES = [b + d for b in (MIN_EPOCH_MS, MAX_EPOCH_MS, MIN_EPOCH_MS // 1000, MAX_EPOCH_MS // 1000) for d in (-1, 0, 1)]
_UNITS = st.one_of(st.sampled_from(_EDGES), st.integers(-(2**63), 2**63 - 1), st.integers(-(10**13), 10**13))


@given(st.lists(_UNITS, max_size=20), st.sampled_from([1, 1000]))
def test_epoch_integers_read_as_each_alone(units, ms_per_unit):
    millis, invalid = epoch_millis(np.array(units, np.int64), ms_per_unit)
    expected = [u * ms_per_unit if MIN_EPOCH_MS <= u * ms_per_unit <= MAX_EPOCH_MS else None for u in units]
    assert invalid.tolist() == [e is None for e in expected]
    assert millis.tolist() == [0 if e is None else e for e in expected]


@pytest.mark.parametrize("ms_per_unit", [1, 1000])
@pytest.mark.parametrize("edge", _EDGES)
def test_an_integer_at_a_bound_is_read_alone_and_beside_a_valid_time(edge, ms_per_unit):
    for units in ([edge], [edge, 1_700_000_000]):
        millis, invalid = epoch_millis(np.array(units, np.int64), ms_per_unit)
        valid = MIN_EPOCH_MS <= edge * ms_per_unit <= MAX_EPOCH_MS
        assert invalid[0] == (not valid)
        assert millis[0] == (edge * ms_per_unit if valid else 0)


def test_floats_beyond_the_scaled_range_are_invalid_dates_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow warning reached CI's output from a hypothesis draw
        millis, invalid = epoch_millis(np.array([1e308, -1e308, np.nan, 1.7e9]), 1000)
    assert invalid.tolist() == [True, True, True, False]
    assert millis.tolist() == [0, 0, 0, 1_700_000_000_000]
