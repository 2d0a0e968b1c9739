"""Residual families: the count models choose between the normal and the quasi-Poisson, and tails are calibrated."""

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


ALPHAS = (0.1, 0.01, 0.001)


def _tail_rates(values: np.ndarray, *, counts: bool) -> list[float]:
    """The share of warm single-bucket probabilities below each of ALPHAS; values[bucket, series]."""
    buckets, series = values.shape
    model = SeriesModel(SPAN, side=0, counts=counts, warmup=48, capacity=series)
    idx = np.arange(series)
    warm = []
    for b in range(buckets):
        t = b * SPAN
        model.begin_bucket(t, series)
        scored = model.score(idx, values[b], t)
        if b >= 200:  # judged once the scale has settled
            warm.append(np.exp(scored.ln_p_single))
        model.learn(idx, values[b], t, scored)
    p_values = np.concatenate(warm)
    return [float(np.mean(p_values < alpha)) for alpha in ALPHAS]


def test_tail_probabilities_are_calibrated_on_stationary_data() -> None:
    rng = np.random.default_rng(5)
    # 400 series x 500 judged buckets: a rate of 0.001 is about 200 events, known to +-15 %.
    normal = _tail_rates(50 + 3 * rng.normal(size=(700, 400)), counts=False)
    assert all(0.8 * a <= r <= 1.2 * a for r, a in zip(normal, ALPHAS, strict=True))
    # Poisson counts under the quasi-Poisson: discrete tails are conservative, never liberal.
    poisson = _tail_rates(rng.poisson(20.0, size=(700, 400)).astype(float), counts=True)
    assert all(0.6 * a <= r <= 1.2 * a for r, a in zip(poisson, ALPHAS, strict=True))
