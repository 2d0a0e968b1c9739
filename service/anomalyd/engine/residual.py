"""The residual of a series: its scale, the variance floor, the outlier weight and the family.

* Scale: a decayed second moment of residuals (a weight and a weighted sum of squares), with
  a decay of 1 - 1/(n+1) for the first 20 buckets, then the model's own.
* Floor: the quantisation dither q^2/12 of the data's resolution q (the least non-zero step
  between values) plus (1e-4 * mean |x|)^2, ml-cpp's minimum coefficient of variation; added,
  not taken as a max (MODELING.md section 2).
* Outlier weight: a value less probable than a normal 4 sigma residual, alone or by the
  multi-bucket test, weighs 0.1 in every estimate once the series has 4 values (MODELING.md 9:
  worth +9 NAB standard).
* Phase spread: each active seasonal component keeps, per bin, a decayed mean of the squared
  standardised residual (e^2 over the learned variance plus floor) at the bucket's outlier
  weight, so a derated outlier still counts and spikes that recur at a phase widen it, as
  ml-cpp's seasonal components scale the residual's variance by time of period. The variance
  at a bucket is multiplied by each component's bin over its mean bin, where that exceeds 1:
  a phase where spikes routinely happen expects them (an hourly job's run at :09, a daily
  backup), and a quiet phase is not narrowed below the series' own spread (narrowing the
  quiet nights of count series cost more false alarms than it found). Bins forget at the
  model's own time constant in time, and widens a phase only by what it exceeds the mean by
  beyond two standard errors of its estimate (see spread_learning). NAB standard 60.53 -> 64.17
  and a threshold that transfers better (bench/nab.py --cross-check). Each bin is a 16-bit float
  (SPREAD_CODE) and each component row keeps their float32 sum.
* Family: for event counts, the normal and the quasi-Poisson (counts / phi ~ Poisson(mean / phi),
  phi = max(1, variance / mean)) compete by decayed predictive log-likelihood; heavier-tailed
  families are not candidates (MODELING.md section 4).

Example:
    >>> res = Residual(1)
    >>> for n, x in enumerate([10.0, 11.0, 10.0, 12.0]):
    ...     learn_scale(res.scale_weight, res.scale_sum_sq, 0, startup_decay(n, 0.99), 1.0, x - 11.0)
    ...     learn_resolution(res.resolution, res.mean_abs, res.last_value, 0, x, 0.5)
    >>> [round(v, 3) for v in variances(res.scale_weight, res.scale_sum_sq, res.resolution, res.mean_abs, 0)]
    [0.8, 0.083]
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.compiled import inline_kernel, kernel
from anomalyd.engine.state import Rows
from anomalyd.engine.stats import LN_SQRT_2PI, FloatArray, poisson_log_pmf1

OUTLIER_LN_P = math.log(6.334e-5)  # two-sided tail of a normal 4 sigma residual
_OUTLIER_WEIGHT = 0.1
_OUTLIER_MIN_N = 4  # sigma means nothing before a few values
_STARTUP_BUCKETS = 20
_RELATIVE_FLOOR = np.float32(1e-4)  # ml-cpp's minimum coefficient of variation
_MIN_RATE = 0.05  # the least event rate a count model predicts, so that any event stays possible
NORMAL, QUASI_POISSON = 0, 1
_SPREAD_MARGIN_ERRORS = 2.0
# A spread is kept in 16 bits, where a float32 cost four and the daily component's spreads were a
# sixth of an old series' state: a float32's top bits without the sign (spreads are >= 0), its
# exponent cut to 2 ** -14 (a bin far quieter than its series, as good as 0 beside the component's
# mean) to 2 ** 50 (a residual of 33 million times its scale, the most a bin keeps), its mantissa
# to 10 bits (a spread within 0.05 % of its own); code 0 is 0. A code and its spread are a few
# integer operations apart (a logarithmic code's log2 and exp2 made a 1,000-series bucket 10 %
# slower).
SPREAD_CODE = np.uint16
_DROPPED_BITS = 13  # of float32's 23 mantissa bits
_LEAST_SPREAD = 2.0**-14
_LEAST_CODED = int(np.float32(_LEAST_SPREAD).view(np.uint32)) >> _DROPPED_BITS  # a float32's top bits at the least
_MOST_SPREAD_CODE = 65535

Spreads = tuple[NDArray[np.uint16], NDArray[np.float32]]
"""A component's spreads of its pool rows: codes shape (rows, bins) (spread_value), and each row's sum of their spreads, shape (rows,)."""


class Residual(Rows):
    """Residual scale and variance floor of S series.

    Attributes:
        scale_weight: shape (S,), the decayed weight of residuals learned.
        scale_sum_sq: shape (S,), their decayed weighted sum of squares.
        resolution: shape (S,), float32, the least non-zero step between values (inf before one).
        mean_abs: shape (S,), float32, an EWMA of |value|.
        last_value: shape (S,), the last value learned (NaN before one).
    """

    FIELDS: ClassVar = {
        "scale_weight": (np.float64, (), 0.0),
        "scale_sum_sq": (np.float64, (), 0.0),
        "resolution": (np.float32, (), np.inf),
        "mean_abs": (np.float32, (), 0.0),
        "last_value": (np.float64, (), np.nan),
    }
    scale_weight: FloatArray
    scale_sum_sq: FloatArray
    resolution: FloatArray
    mean_abs: FloatArray
    last_value: FloatArray


class Families(Rows):
    """The residual families' decayed predictive log-likelihoods of S count series.

    Attributes:
        log_likelihood: shape (S, 2), of NORMAL and QUASI_POISSON.
    """

    FIELDS: ClassVar = {"log_likelihood": (np.float64, (2,), 0.0)}
    log_likelihood: FloatArray


@inline_kernel
def variances(scale_weight: FloatArray, scale_sum_sq: FloatArray, resolution: FloatArray, mean_abs: FloatArray, i: int) -> tuple[float, float]:
    """Series i's learned residual variance and its variance floor."""
    q = float(resolution[i])
    relative = _RELATIVE_FLOOR * mean_abs[i]
    floor = (q * q / 12.0 if math.isfinite(q) else 0.0) + relative * relative
    w = scale_weight[i]
    return (scale_sum_sq[i] / w if w > 0.0 else 0.0), floor


@inline_kernel
def error_variance(scale_weight: FloatArray, scale_sum_sq: FloatArray, resolution: FloatArray, mean_abs: FloatArray, i: int) -> float:
    """Series i's prediction error variance: its learned residual variance plus the floor (see variances)."""
    var, floor = variances(scale_weight, scale_sum_sq, resolution, mean_abs, i)
    return var + floor


@inline_kernel
def startup_decay(n: int, decay: float) -> float:
    """The decay of residual statistics after n buckets: an average over the first 20."""
    return 1.0 - 1.0 / (n + 1.0) if n < _STARTUP_BUCKETS else decay


@inline_kernel
def outlier_weight(ln_p_tail: float, ln_p_multi: float, n: int) -> float:
    """The weight a value teaches with: 0.1 beyond a 4 sigma tail (once there are 4 values), else 1."""
    outlier = ln_p_tail < OUTLIER_LN_P or ln_p_multi < OUTLIER_LN_P
    return _OUTLIER_WEIGHT if outlier and n >= _OUTLIER_MIN_N else 1.0


@inline_kernel
def learn_scale(scale_weight: FloatArray, scale_sum_sq: FloatArray, i: int, decay: float, weight: float, e: float) -> None:
    """Add residual e at weight to series i's decayed second moment."""
    scale_weight[i] = decay * scale_weight[i] + weight
    scale_sum_sq[i] = decay * scale_sum_sq[i] + weight * e * e


@inline_kernel
def learn_resolution(resolution: FloatArray, mean_abs: FloatArray, last_value: FloatArray, i: int, x: float, rate: float) -> None:
    """Learn series i's value x into its resolution and mean |x| (an EWMA at rate)."""
    step = abs(x - last_value[i])
    if step > 0.0:
        resolution[i] = min(float(resolution[i]), step)
    last_value[i] = x
    mean_abs[i] += np.float32(rate * (abs(x) - mean_abs[i]))


@inline_kernel
def quasi_poisson(typical: float, variance: float) -> tuple[float, float]:
    """The mean and the dispersion phi >= 1 of the quasi-Poisson matching the model's moments."""
    mu = max(typical, _MIN_RATE)
    return mu, max(1.0, variance / mu)


@inline_kernel
def family(log_likelihood: FloatArray, i: int) -> int:
    """Series i's family, the candidate that explained it best (NORMAL on a tie)."""
    return QUASI_POISSON if log_likelihood[i, QUASI_POISSON] > log_likelihood[i, NORMAL] else NORMAL


@inline_kernel
def learn_families(log_likelihood: FloatArray, i: int, decay: float, x: float, typical: float, e: float, sigma: float) -> None:
    """Add each candidate family's log density of series i's value x to its decayed log-likelihood."""
    s = max(sigma, 1e-300)
    z = min(max(e / s, -1e6), 1e6)  # a zero scale makes any error all but impossible
    ln_normal = -0.5 * z * z - math.log(s) - LN_SQRT_2PI
    mu, phi = quasi_poisson(typical, sigma * sigma)
    ln_poisson = poisson_log_pmf1(max(x, 0.0) / phi, mu / phi) - math.log(phi)
    log_likelihood[i, NORMAL] = decay * log_likelihood[i, NORMAL] + ln_normal
    log_likelihood[i, QUASI_POISSON] = decay * log_likelihood[i, QUASI_POISSON] + ln_poisson


def spread_learning(decay: float, bins: list[int]) -> tuple[FloatArray, FloatArray]:
    """Each component's rate per visit of a bin of its spread, and the margin its spreads must pass.

    A bin is visited once a cycle of the component's bins: forgetting at the model's decay in
    time, it learns at rate r = 1 - decay^bins per visit. Its estimate of a normal residual's
    mean z^2 (1, of variance 2) then has a standard error of sqrt(2 r / (2 - r)); a bin widens
    the variance only by what it exceeds the mean by beyond two of those, so that the noise of
    a clean series' estimates does not widen random phases (a daily bin's spread of 5-minute
    buckets has a standard error of 0.38).

    Args:
        decay: the model's decay a bucket.
        bins: each component's bins.

    Returns:
        Rates and margins, each shape (len(bins),).
    """
    rates = 1.0 - decay ** np.asarray(bins, np.float64)
    margins: FloatArray = _SPREAD_MARGIN_ERRORS * np.sqrt(2.0 * rates / (2.0 - rates))
    return rates, margins


def new_spreads(rows: int, bins: int) -> Spreads:
    """Phase spreads of rows components of bins bins: each bin 1 (the series' own spread), their sum bins."""
    return np.full((rows, bins), spread_code(1.0), SPREAD_CODE), np.full(rows, bins, np.float32)


@inline_kernel
def spread_value(code: int) -> float:
    """The spread a code stands for (see SPREAD_CODE): 0, or 2 ** -14 to 2 ** 50 with a 10-bit mantissa."""
    if code == 0:
        return 0.0
    return float(np.uint32((code - 1 + _LEAST_CODED) << _DROPPED_BITS).view(np.float32))


@inline_kernel
def spread_code(spread: float) -> int:
    """The code of the nearest spread to spread: 0 below the least (and for NaN), the most above it."""
    if not spread >= _LEAST_SPREAD:
        return 0
    bits = int(np.float32(spread).view(np.uint32))
    return min(((bits + (1 << (_DROPPED_BITS - 1))) >> _DROPPED_BITS) - _LEAST_CODED + 1, _MOST_SPREAD_CODE)


@kernel
def code_spreads(spreads: NDArray[np.float32], out: Spreads) -> None:
    """Code spreads, shape (rows, bins + 1) as job states before version 13 kept them (their sum last), into out.

    The sums are those of the coded bins, as learn_phase_spread keeps them.
    """
    codes, sums = out
    for s in range(spreads.shape[0]):
        total = 0.0
        for b in range(codes.shape[1]):
            codes[s, b] = spread_code(float(spreads[s, b]))
            total += spread_value(codes[s, b])
        sums[s] = total


@inline_kernel
def phase_scale(
    slot: NDArray[np.int32], spreads: tuple[Spreads, ...], i: int, phases: NDArray[np.int64], margins: FloatArray
) -> float:
    """How many times series i's residual variance its residuals reach at the bins phases, shape (3,).

    The product, over its active components, of the bin's spread over the component's mean
    spread less the component's margin (see spread_learning), each at least 1.
    """
    out = 1.0
    for c in range(len(phases)):
        s = slot[i, c]
        if s >= 0:
            codes, sums = spreads[c]
            mean = sums[s] / codes.shape[1]
            if mean > 0.0:
                out *= max(1.0, spread_value(codes[s, phases[c]]) / mean - margins[c])
    return out


@inline_kernel
def learn_phase_spread(
    slot: NDArray[np.int32], spreads: tuple[Spreads, ...], i: int, phases: NDArray[np.int64], rates: FloatArray,
    weight: float, z2: float,
) -> None:
    """Move series i's active components' spreads at the bins phases towards z2, at weight.

    Args:
        slot: the Seasonality's slot.
        spreads: the Seasonality's spreads (see new_spreads).
        i: the series.
        phases: shape (3,), each component's bin at the bucket.
        rates: shape (3,), each component's rate per visit of a bin.
        weight: the bucket's outlier weight.
        z2: the squared residual over the learned variance plus floor.
    """
    for c in range(len(phases)):
        s = slot[i, c]
        if s >= 0:
            codes, sums = spreads[c]
            before = spread_value(codes[s, phases[c]])
            codes[s, phases[c]] = spread_code(before + rates[c] * weight * (z2 - before))
            sums[s] += np.float32(spread_value(codes[s, phases[c]]) - before)
