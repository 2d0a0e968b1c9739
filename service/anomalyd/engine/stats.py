"""Tail probabilities in log space, the F test and Elasticsearch's raw-score map.

Everything works on log probabilities: anomalies live far in the tails, where probabilities
underflow long before their logarithms lose precision.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.compiled import kernel

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


@kernel
def log_erfc1(x: float) -> float:
    """Ln erfc(x) of one number, accurate to a relative 1.2e-7 in erfc for every real x.

    Uses the Chebyshev fit of Numerical Recipes' erfcc, which is already a product of exp(-x^2)
    and a polynomial, so taking its logarithm term by term never underflows.
    """
    z = min(abs(x), 1e100)  # keeps z * z finite; ln erfc is then far below LN_P_MIN
    t = 1.0 / (1.0 + 0.5 * z)
    poly = t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))
    poly = t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + poly)))
    ln_pos = math.log(t) - z * z - 1.26551223 + t * (1.00002368 + poly)
    # erfc(-z) = 2 - erfc(z); only reached for x < 0 where erfc(z) <= 1, so no cancellation.
    return ln_pos if x >= 0.0 else math.log(2.0 - math.exp(min(ln_pos, 0.0)))


@kernel
def normal_tail_log_p1(z: float, side: int) -> float:
    """Ln of the tail probability of a standard normal deviate.

    Args:
        z: a standardised residual.
        side: 0 for two-sided P(|Z| >= |z|); +1 for values above the model only, -1 below only.
            A one-sided test gives probability 1 on its blind side and the two-sided value on
            the side it watches, so that ``high_mean`` and ``mean`` score a spike alike.

    Returns:
        ln p, in [LN_P_MIN, 0].
    """
    dev = abs(z) if side == 0 else max(side * z, 0.0)
    return min(max(log_erfc1(dev / _SQRT2), LN_P_MIN), 0.0)


@kernel
def student_t_tail_log_p1(t: float, dof: float, side: int) -> float:
    """Ln of the tail probability of a Student-t deviate with dof degrees of freedom.

    The predictive of a value whose variance is estimated from dof residuals (ml-cpp's normal
    with unknown mean and precision, CNormalMeanPrecConjugate): wider than the normal while the
    estimate is young, the normal as dof grows. Read through Wallace's normalising transform
    z = (8 dof + 1) / (8 dof + 3) sqrt(dof ln(1 + t^2 / dof)), whose ln p is within a relative
    2 % of the exact one from dof 12 (7 % at dof 3), out to the far tail.

    Args:
        t: a standardised residual.
        dof: degrees of freedom, > 0 (infinite: the normal).
        side: as normal_tail_log_p1.

    Returns:
        ln p, in [LN_P_MIN, 0].
    """
    if not math.isfinite(dof) or math.isinf(t):
        return normal_tail_log_p1(t, side)
    z = (8.0 * dof + 1.0) / (8.0 * dof + 3.0) * math.sqrt(dof * math.log1p(t * t / dof))
    return normal_tail_log_p1(math.copysign(z, t), side)


@kernel
def f_test_log_p1(f: float, d1: float, d2: float) -> float:
    """Ln P(F(d1, d2) >= f) by Paulson's normal approximation to the cube root of F.

    Args:
        f: an F statistic, >= 0.
        d1: numerator degrees of freedom, > 0.
        d2: denominator degrees of freedom, > 0.

    Returns:
        ln of the upper tail probability, in [LN_P_MIN, 0].
    """
    a = 2.0 / (9.0 * d1)
    b = 2.0 / (9.0 * d2)
    c = np.cbrt(f)
    z = ((1.0 - b) * c - (1.0 - a)) / math.sqrt(b * c * c + a)
    return min(max(log_erfc1(z / _SQRT2) - _LN2, LN_P_MIN), 0.0)


@kernel
def raw_score1(ln_p: float) -> float:
    """Elasticsearch's raw anomaly score of a probability (ml-cpp CTools::anomalyScore).

    0 for p >= 0.05; linear in 1/p up to 1 at p = 1e-4; linear in -ln p up to 50 at 1e-50; then
    linear in -ln p up to 100 at the smallest reported probability.

    Args:
        ln_p: a log probability.

    Returns:
        The raw score, in [0, 100].
    """
    lp = min(max(ln_p, LN_P_MIN), 0.0)
    if lp >= _LN_P_ZERO:
        return 0.0
    if lp >= _LN_P_ONE:
        score = (math.exp(-lp) - math.exp(-_LN_P_ZERO)) / (math.exp(-_LN_P_ONE) - math.exp(-_LN_P_ZERO))
    elif lp >= _LN_P_FIFTY:
        score = 1.0 + 49.0 * (_LN_P_ONE - lp) / (_LN_P_ONE - _LN_P_FIFTY)
    else:
        score = 50.0 + 50.0 * (_LN_P_FIFTY - lp) / (_LN_P_FIFTY - LN_P_MIN)
    return min(max(score, 0.0), 100.0)


@kernel
def _raw_scores(ln_p: FloatArray, out: FloatArray) -> None:
    for i in range(len(ln_p)):
        out[i] = raw_score1(ln_p[i])


def raw_score(ln_p: FloatArray) -> FloatArray:
    """Shape (k,): raw_score1 of each of the log probabilities ln_p, shape (k,)."""
    out = np.empty(len(ln_p))
    _raw_scores(np.asarray(ln_p, np.float64), out)
    return out


@kernel
def ln_gamma1(z: float) -> float:
    """Ln Gamma(z) of one z > 0, to about 1e-10: Stirling's series after shifting z up to >= 7."""
    shift = 0.0
    if z < 7.0:
        # Gamma(z) = Gamma(z + 7) / (z (z + 1) ... (z + 6))
        shift = math.log(z * (z + 1) * (z + 2) * (z + 3) * (z + 4) * (z + 5) * (z + 6))
        z += 7.0
    inv = 1.0 / z
    inv2 = inv * inv
    series = inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 / 1680.0)))
    return (z - 0.5) * math.log(z) - z + LN_SQRT_2PI + series - shift


@kernel
def poisson_log_pmf1(k: float, mu: float) -> float:
    """Ln P(K = k) for K ~ Poisson(mu), continued to real k >= 0 through the gamma function."""
    return k * math.log(mu) - mu - ln_gamma1(k + 1.0)


_EXACT_MU = 60.0
_TERMS = 128


@kernel
def poisson_tail_log_p1(k: float, mu: float) -> float:
    """Ln of the two-sided probability of a Poisson(mu) count at least as far from mu as k.

    Far tails are summed exactly over the 128 mass terms from k outwards (whole counts: the
    floor of k below mu, its ceiling above) when that covers them: below mu if k < 128, above
    it if mu < 60 (the terms then shrink fast). Elsewhere the tail comes from P(K <= k) =
    P(G_{k+1} > mu) and P(K >= k) = P(G_k <= mu) for gamma variables G_a of shape a, with the
    Wilson-Hilferty normal approximation of (G_a / a)^(1/3). For k <= 400 and mu <= 300 the
    result is within a factor 1.25 of the exact tail down to 1e-12, and within 6% in ln p below.

    Args:
        k: a count (a real value is allowed, as for quasi-Poisson scaled counts), >= 0.
        mu: the Poisson mean, > 0.

    Returns:
        ln p, in [LN_P_MIN, 0].
    """
    above = k > mu
    a = max(k, 1e-12) if above else k + 1.0
    z = 3.0 * math.sqrt(a) * (np.cbrt(mu / a) - 1.0 + 1.0 / (9.0 * a))
    # k above mu: P(G_k <= mu), the lower normal tail of z; k below: P(G_{k+1} > mu), the upper.
    ln_tail = log_erfc1((-z if above else z) / _SQRT2) - _LN2
    summable = mu < _EXACT_MU if above else k < _TERMS
    if summable and ln_tail < _LN_P_ZERO:
        ln_tail = _summed_poisson_tail(k, mu, above)
    return min(max(ln_tail + _LN2, LN_P_MIN), 0.0)


@kernel
def _summed_poisson_tail(k: float, mu: float, above: bool) -> float:
    """Ln P(K >= ceil k) if above, else ln P(K <= floor k): the mass terms from k outwards."""
    start = float(math.ceil(k) if above else math.floor(k))
    # Successive terms away from start: pmf(j + 1) / pmf(j) = mu / (j + 1) upwards, and
    # pmf(j - 1) / pmf(j) = j / mu downwards; counts below 0 contribute nothing.
    ln_terms = np.empty(_TERMS)
    ln_terms[0] = poisson_log_pmf1(start, mu)
    count = 1
    j = start
    while count < _TERMS and (above or j > 0.0):
        ln_terms[count] = ln_terms[count - 1] + (math.log(mu / (j + 1.0)) if above else math.log(j / mu))
        j = j + 1.0 if above else j - 1.0
        count += 1
    top = ln_terms[:count].max()
    return float(top + math.log(np.exp(ln_terms[:count] - top).sum()))
