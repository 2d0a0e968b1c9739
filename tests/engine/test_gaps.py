"""Long empty stretches cost bounded work: stray records far from the data, far-future times, long idles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from anomalyd.engine.normaliser import Normaliser
from tests.engine.synth import SPAN


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
