"""Tail probabilities in log space, the F test and Elasticsearch's raw-score map.

Everything works on log probabilities: anomalies live far in the tails, where probabilities
underflow long before their logarithms lose precision.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

#: The smallest probability the engine reports; ln of it bounds every log probability.
LN_P_MIN = math.log(1e-300)
_LN2 = math.log(2.0)
_SQRT2 = math.sqrt(2.0)
LN_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
# Knots of ml-cpp's CTools::anomalyScore: probability 0.05 maps to 0, 1e-4 to 1, 1e-50 to 50.
_LN_P_ZERO = math.log(0.05)
_LN_P_ONE = math.log(1e-4)
_LN_P_FIFTY = math.log(1e-50)


def log_erfc(x: FloatArray) -> FloatArray:
    """Ln erfc(x), accurate to a relative 1.2e-7 in erfc for every real x.

    Uses the Chebyshev fit of Numerical Recipes' erfcc, which is already a product of exp(-x^2)
    and a polynomial, so taking its logarithm term by term never underflows.

    Args:
        x: any shape.

    Returns:
        ln erfc(x), same shape.
    """
    z = np.minimum(np.abs(x), 1e100)  # keeps z * z finite; ln erfc is then far below LN_P_MIN
    t = 1.0 / (1.0 + 0.5 * z)
    poly = t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))
    poly = t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + poly)))
    ln_pos = np.log(t) - z * z - 1.26551223 + t * (1.00002368 + poly)
    # erfc(-z) = 2 - erfc(z); only reached for x < 0 where erfc(z) <= 1, so no cancellation.
    ln_erfc: FloatArray = np.where(x >= 0.0, ln_pos, np.log(2.0 - np.exp(np.minimum(ln_pos, 0.0))))
    return ln_erfc


def normal_tail_log_p(z: FloatArray, side: int) -> FloatArray:
    """Ln of the tail probability of a standard normal deviate.

    Args:
        z: standardised residuals, any shape.
        side: 0 for two-sided P(|Z| >= |z|); +1 for values above the model only, -1 below only.
            A one-sided test gives probability 1 on its blind side and the two-sided value on
            the side it watches, so that ``high_mean`` and ``mean`` score a spike alike.

    Returns:
        ln p, same shape, in [LN_P_MIN, 0].
    """
    dev = np.abs(z) if side == 0 else np.maximum(side * z, 0.0)
    return np.clip(log_erfc(dev / _SQRT2), LN_P_MIN, 0.0)


def f_test_log_p(f: FloatArray, d1: FloatArray | float, d2: FloatArray) -> FloatArray:
    """Ln P(F(d1, d2) >= f) by Paulson's normal approximation to the cube root of F.

    Args:
        f: F statistics, any shape, >= 0.
        d1: numerator degrees of freedom, broadcastable to f, > 0.
        d2: denominator degrees of freedom, broadcastable to f, > 0.

    Returns:
        ln of the upper tail probability, same shape as f.
    """
    a = 2.0 / (9.0 * d1)
    b = 2.0 / (9.0 * d2)
    c = np.cbrt(f)
    z = ((1.0 - b) * c - (1.0 - a)) / np.sqrt(b * c * c + a)
    return np.clip(log_erfc(z / _SQRT2) - _LN2, LN_P_MIN, 0.0)


def raw_score(ln_p: FloatArray) -> FloatArray:
    """Elasticsearch's raw anomaly score of a probability (ml-cpp CTools::anomalyScore).

    0 for p >= 0.05; linear in 1/p up to 1 at p = 1e-4; linear in -ln p up to 50 at 1e-50; then
    linear in -ln p up to 100 at the smallest reported probability.

    Args:
        ln_p: log probabilities, any shape.

    Returns:
        Raw scores in [0, 100], same shape.
    """
    lp = np.clip(ln_p, LN_P_MIN, 0.0)
    inv = np.exp(-np.maximum(lp, _LN_P_ONE))
    low = (inv - math.exp(-_LN_P_ZERO)) / (math.exp(-_LN_P_ONE) - math.exp(-_LN_P_ZERO))
    mid = 1.0 + 49.0 * (_LN_P_ONE - lp) / (_LN_P_ONE - _LN_P_FIFTY)
    high = 50.0 + 50.0 * (_LN_P_FIFTY - lp) / (_LN_P_FIFTY - LN_P_MIN)
    score = np.where(lp >= _LN_P_ONE, low, np.where(lp >= _LN_P_FIFTY, mid, high))
    return np.where(lp >= _LN_P_ZERO, 0.0, np.clip(score, 0.0, 100.0))


def ln_gamma(z: FloatArray) -> FloatArray:
    """Ln Gamma(z) for z > 0, to about 1e-10: Stirling's series after shifting z up to >= 7.

    Args:
        z: any shape, > 0.

    Returns:
        ln Gamma(z), same shape.
    """
    z = np.asarray(z, dtype=np.float64)
    shift = np.zeros_like(z)
    small = z < 7.0
    if small.any():
        # Gamma(z) = Gamma(z + 7) / (z (z + 1) ... (z + 6))
        zs = z[small]
        shift[small] = np.log(zs * (zs + 1) * (zs + 2) * (zs + 3) * (zs + 4) * (zs + 5) * (zs + 6))
        z = np.where(small, z + 7.0, z)
    inv = 1.0 / z
    inv2 = inv * inv
    series = inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 / 1680.0)))
    return (z - 0.5) * np.log(z) - z + LN_SQRT_2PI + series - shift


def poisson_log_pmf(k: FloatArray, mu: FloatArray) -> FloatArray:
    """Ln P(K = k) for K ~ Poisson(mu), continued to real k >= 0 through the gamma function."""
    return k * np.log(mu) - mu - ln_gamma(k + 1.0)


def poisson_tail_log_p(k: FloatArray, mu: FloatArray) -> FloatArray:
    """Ln of the two-sided probability of a Poisson(mu) count at least as far from mu as k.

    Far tails are summed exactly over the 128 mass terms from k outwards (whole counts: the
    floor of k below mu, its ceiling above) when that covers them: below mu if k < 128, above
    it if mu < 60 (the terms then shrink fast). Elsewhere the tail comes from P(K <= k) =
    P(G_{k+1} > mu) and P(K >= k) = P(G_k <= mu) for gamma variables G_a of shape a, with the
    Wilson-Hilferty normal approximation of (G_a / a)^(1/3). For k <= 400 and mu <= 300 the
    result is within a factor 1.25 of the exact tail down to 1e-12, and within 6% in ln p below.

    Args:
        k: counts (real values are allowed, as for quasi-Poisson scaled counts), >= 0.
        mu: Poisson means, > 0, broadcastable to k.

    Returns:
        ln p, same shape, in [LN_P_MIN, 0].
    """
    k, mu = np.broadcast_arrays(np.asarray(k, np.float64), np.asarray(mu, np.float64))
    above = k > mu
    a = np.where(above, np.maximum(k, 1e-12), k + 1.0)
    z = 3.0 * np.sqrt(a) * (np.cbrt(mu / a) - 1.0 + 1.0 / (9.0 * a))
    # k above mu: P(G_k <= mu), the lower normal tail of z; k below: P(G_{k+1} > mu), the upper.
    ln_tail = log_erfc(np.where(above, -z, z) / _SQRT2) - _LN2
    summable = np.where(above, mu < _EXACT_MU, k < _TERMS)
    exact = np.flatnonzero(summable & (ln_tail < _LN_P_ZERO))
    if len(exact):
        ln_tail = ln_tail.copy()
        ln_tail[exact] = _summed_poisson_tail(k[exact], mu[exact], above[exact])
    return np.clip(ln_tail + _LN2, LN_P_MIN, 0.0)


_EXACT_MU = 60.0
_TERMS = 128


def _summed_poisson_tail(k: FloatArray, mu: FloatArray, above: NDArray[np.bool_]) -> FloatArray:
    """Ln P(K >= ceil k) where above, else ln P(K <= floor k): the mass terms from k outwards."""
    start = np.where(above, np.ceil(k), np.floor(k))
    steps = np.arange(_TERMS, dtype=np.float64)
    # Successive terms away from start: pmf(j + 1) / pmf(j) = mu / (j + 1) upwards, and
    # pmf(j - 1) / pmf(j) = j / mu downwards; counts below 0 contribute nothing.
    j = np.where(above[:, None], start[:, None] + steps, start[:, None] - steps)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(above[:, None], np.log(mu[:, None] / (j + 1.0)), np.log(j / mu[:, None]))
    ln_terms = poisson_log_pmf(start, mu)[:, None] + np.concatenate(
        [np.zeros((len(k), 1)), np.cumsum(ratio[:, :-1], axis=1)], axis=1
    )
    ln_terms = np.where(j >= 0.0, ln_terms, -np.inf)
    top = ln_terms.max(axis=1)
    ln_tail: FloatArray = top + np.log(np.exp(ln_terms - top[:, None]).sum(axis=1))
    return ln_tail
