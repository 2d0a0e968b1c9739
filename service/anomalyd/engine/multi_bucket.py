"""The multi-bucket feature: the means of a series' recent clipped residuals, with their own scale.

The means of the last 24 and of the last 6 residuals (each clipped at 3 sigma, so one spike
cannot hold the mean up for a day) are tested against their own decayed second moments: the
long window catches sustained shifts too small for one bucket, the short one a stretch of an
hour or two before the model has half learned it (MODELING.md section 5; a count falling from
10 to 0 for 2 hours scores 48 where it scored 20). Autocorrelated residuals only widen the
spread of their mean, so the spread of a mean of independent residuals bounds the learned one
from below while it has few samples.

Example:
    >>> mb = MultiBucket(1)
    >>> means = np.zeros(len(WINDOWS))
    >>> for n in range(30):
    ...     recent_means(mb.clipped_residuals, 0, n, 1.0, means)
    ...     learn(mb.clipped_residuals, mb.weight, mb.sum_sq_means, 0, n, 1.0, 1.0, 0.99, means)
    >>> means.tolist()
    [1.0, 1.0]
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from anomalyd.engine.compiled import inline_kernel
from anomalyd.engine.state import Rows
from anomalyd.engine.stats import FloatArray, normal_tail_log_p1

LENGTH = 24
WINDOWS = (LENGTH, 6)  # the residual means tested; the ring holds the longest
# Deviates this close (relative, or absolute squared) may tie in ln p's rounding: both tails are
# computed. Farther apart the tail's slope (at least 0.79 a unit deviate) outweighs its rounding
# (some 1e-14) and the slope of its fit's error (some 1e-6).
_TIE = 1e-6


class MultiBucket(Rows):
    """Recent clipped residuals of S series and the scale of their means.

    Attributes:
        clipped_residuals: shape (S, 24), float32, a ring indexed by buckets learned.
        weight: shape (S,), the decayed weight of the means learned (one for every window:
            they learn together).
        sum_sq_means: shape (S, 2), the decayed weighted sum of squared means of each window.
    """

    FIELDS: ClassVar = {
        "clipped_residuals": (np.float32, (LENGTH,), 0.0),
        "weight": (np.float64, (), 0.0),
        "sum_sq_means": (np.float64, (len(WINDOWS),), 0.0),
    }
    clipped_residuals: FloatArray
    weight: FloatArray
    sum_sq_means: FloatArray


@inline_kernel
def recent_means(clipped_residuals: FloatArray, i: int, n: int, clipped: float, out: FloatArray) -> None:
    """Write the mean clipped residual of each window ending with this bucket's to out, shape (2,).

    Args:
        clipped_residuals: the MultiBucket's ring.
        i: the series.
        n: buckets the series has learned before this one (>= 0).
        clipped: this bucket's residual clipped to 3 sigma.
        out: shape (len(WINDOWS),), written; every window is 2 to LENGTH buckets long.
    """
    ring = clipped_residuals[i]
    # One pass, newest residual first, stepping the slot back rather than taking a remainder a
    # read: each window's mean is taken when the running sum reaches its length, so its sum is
    # added in the same order as a pass of its own would add it (5 ms a bucket at 100,000 series).
    slot = n % LENGTH
    before = 0.0
    for lag in range(1, LENGTH):
        slot = slot - 1 if slot > 0 else LENGTH - 1
        before += ring[slot]
        for j, length in enumerate(WINDOWS):
            if lag == length - 1:
                out[j] = (before + clipped) / length


@inline_kernel
def ln_p(weight: FloatArray, sum_sq_means: FloatArray, i: int, means: FloatArray, var: float, floor: float, side: int) -> float:
    """Ln p of series i's recent means: the smaller tail of the two windows (long and short).

    Args:
        weight: the MultiBucket's weight.
        sum_sq_means: the MultiBucket's sum_sq_means.
        i: the series.
        means: shape (len(WINDOWS),), from recent_means().
        var: the single-bucket residual variance.
        floor: the single-bucket variance floor.
        side: 0 both tails, +1 above only, -1 below only.
    """
    long = _deviate(weight, sum_sq_means, i, 0, means[0], var, floor, side)
    short = _deviate(weight, sum_sq_means, i, 1, means[1], var, floor, side)
    # The tail falls with the deviate: where one deviate is clearly the larger, the other's tail
    # (a logarithm and a polynomial, at every series in every bucket) cannot be the smaller.
    if long < short * (1.0 - _TIE) - _TIE**2:
        return normal_tail_log_p1(short, 0)
    if short < long * (1.0 - _TIE) - _TIE**2:
        return normal_tail_log_p1(long, 0)
    return min(normal_tail_log_p1(long, 0), normal_tail_log_p1(short, 0))


@inline_kernel
def _deviate(
    weight: FloatArray, sum_sq_means: FloatArray, i: int, j: int, mean: float, var: float, floor: float, side: int,
) -> float:
    """The normal deviate of window j's mean as normal_tail_log_p1 reads it: |z|, or z on the watched side (0 on the other)."""
    w, length = weight[i], WINDOWS[j]
    learned = sum_sq_means[i, j] / w if w > 0.0 else 0.0
    sd = math.sqrt(max(learned, var / length) + floor / length)
    z = mean / sd if sd > 0.0 else 0.0
    return abs(z) if side == 0 else max(side * z, 0.0)


@inline_kernel
def learn(
    clipped_residuals: FloatArray, weight: FloatArray, sum_sq_means: FloatArray,
    i: int, n: int, clipped: float, value_weight: float, decay: float, means: FloatArray,
) -> None:
    """Roll series i's clipped residual into the ring and learn its means once the ring is full.

    Args:
        clipped_residuals: the MultiBucket's ring.
        weight: the MultiBucket's weight.
        sum_sq_means: the MultiBucket's sum_sq_means.
        i: the series.
        n: buckets the series has learned before this one.
        clipped: this bucket's residual clipped to 3 sigma (0 for a series' first value).
        value_weight: the value's outlier weight.
        decay: the residual statistics' decay this bucket.
        means: shape (len(WINDOWS),), from recent_means().
    """
    clipped_residuals[i, n % LENGTH] = clipped
    if n < LENGTH - 1:
        weight[i] = 0.0
        sum_sq_means[i, :] = 0.0
        return
    weight[i] = decay * weight[i] + value_weight
    for j in range(len(WINDOWS)):
        sum_sq_means[i, j] = decay * sum_sq_means[i, j] + value_weight * means[j] * means[j]
