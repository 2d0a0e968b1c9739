"""Residual families: the count models choose between the normal and the quasi-Poisson."""

from __future__ import annotations

import numpy as np

from anomalyd.engine.analyzer import JobAnalyzer
from anomalyd.engine.series_model import NORMAL, QUASI_POISSON, SeriesModel
from tests.engine.synth import SPAN, record_scores, run_counts, spec

RNG = np.random.default_rng(11)


def _learned_family(values: np.ndarray, *, counts: bool = True) -> int:
    model = SeriesModel(SPAN, side=0, counts=counts, warmup=48, capacity=1)
    idx = np.array([0])
    for b, v in enumerate(values.tolist()):
        t = b * SPAN
        model.begin_bucket(t, 1)
        x = np.array([float(v)])
        model.learn(idx, x, t, model.score(idx, x, t))
    return int(model.family(idx)[0])


def test_likelihood_picks_the_family_that_explains_the_counts() -> None:
    assert _learned_family(RNG.poisson(6.0, 600)) == QUASI_POISSON
    # Overdispersed counts (a gamma-Poisson mixture) are still counts.
    assert _learned_family(RNG.poisson(RNG.gamma(4.0, 5.0, 600))) == QUASI_POISSON
    # Clockwork counts far tighter than Poisson: the normal explains them better.
    assert _learned_family(1000 + RNG.integers(-1, 2, 600)) == NORMAL
    # Metric values have the normal only.
    assert _learned_family(RNG.poisson(6.0, 600), counts=False) == NORMAL


def test_a_near_silent_stretch_of_a_low_count_series_scores_high() -> None:
    counts = RNG.poisson(10.0, (500, 2))
    counts[400:424, 1] = RNG.poisson(0.5, 24)  # two hours at 5% of the usual rate
    results = run_counts(JobAnalyzer(spec("count", by="s")), counts)
    quiet = record_scores(results, "s1")
    assert quiet[400:424].max() >= 70.0
    assert record_scores(results, "s0")[400:424].max() < 25.0
    # The drop stands out from the routine wobbles of the hours before it.
    assert quiet[300:400].max() < 0.5 * quiet[400:424].max()
