"""The normaliser: the top of a quiet history is no anomaly, a genuine one still scores high."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from anomalyd.engine.normaliser import Normaliser
from anomalyd.engine.stats import raw_score

DECAY = math.exp(-1 / (30 * 288))  # 5-minute buckets, the 30-day time constant


def _quiet_row(buckets: int) -> Normaliser:
    """One row that learnt buckets raw scores of 0 (p >= 0.05 in every bucket)."""
    norm = Normaliser(1, decay_per_bucket=DECAY)
    rows = np.array([0])
    for b in range(buckets):
        norm.update(rows, rows, np.array([0.0]), bucket=b)
    return norm


def _score(norm: Normaliser, p: float, bucket: int) -> float:
    rows = np.array([0])
    ln_p = np.array([math.log(p)])
    return float(norm.normalise(rows, rows, raw_score(ln_p), ln_p, bucket=bucket)[0])


@settings(max_examples=10, deadline=None)
@given(buckets=st.integers(1_000, 6_000))
def test_a_quiet_history_s_next_chance_record_scores_low_and_a_genuine_one_high(buckets: int) -> None:
    norm = _quiet_row(buckets)
    # p = 10 / n: ten such buckets are expected among the row's n. The probability cap alone
    # scores it 30-51, and the row's own maximum (none) would not hold it down.
    assert _score(norm, 10.0 / buckets, buckets) < 25.0
    assert _score(norm, 1e-7, buckets) > 90.0


def test_a_record_scores_no_less_for_a_smaller_probability() -> None:
    norm = _quiet_row(3_000)
    scores = [_score(norm, p, 3_000) for p in np.geomspace(0.04, 1e-12, 60)]
    assert all(later >= earlier for earlier, later in itertools.pairwise(scores))
