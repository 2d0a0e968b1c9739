"""The trend of a series: level and slope by Brown's linear exponential smoothing, and the re-base.

The level follows clipped residuals at a rate of 1/24 per bucket (1/(n+1) before that), and
the slope takes (1/48)^2 of them once the level has settled, so a ramp is followed without lag
(one discount factor d: the level gains 1 - d^2, about 1/24, and the slope (1 - d)^2). A step
the smoothing would take hours to follow is accepted at once by the re-base: when the last 12
standardised residuals all lie beyond 3 on one side, their median moves the level (MODELING.md
section 2, NAB standard +3.6).

Example:
    >>> trend = Trend(1)
    >>> for n in range(200):  # a ramp: the slope closes most of the level's lag
    ...     base = predict(trend.level, trend.slope, 0)
    ...     learn(trend.level, trend.slope, 0, n, 10.0 + n, base, 1.0, 10.0 + n - base)
    >>> round(predict(trend.level, trend.slope, 0) - 209.0, 1), round(float(trend.slope[0]), 2)
    (-2.6, 0.9)
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from anomalyd.engine.compiled import inline_kernel
from anomalyd.engine.state import Rows
from anomalyd.engine.stats import FloatArray

LEVEL_BUCKETS = 24
REBASE = 12
REBASE_Z = 3.0
_SLOPE_GAIN = (0.5 / LEVEL_BUCKETS) ** 2


class Trend(Rows):
    """Level, slope and re-base state of S series.

    Attributes:
        level: shape (S,), the prediction less seasonal components.
        slope: shape (S,), the level's change per learned bucket.
        recent_z: shape (S, 12), float32, the last 12 standardised residuals in a ring indexed
            by buckets learned; NaN where none (and after a re-base).
    """

    FIELDS: ClassVar = {
        "level": (np.float64, (), 0.0),
        "slope": (np.float64, (), 0.0),
        "recent_z": (np.float32, (REBASE,), np.nan),
    }
    level: FloatArray
    slope: FloatArray
    recent_z: FloatArray


@inline_kernel
def predict(level: FloatArray, slope: FloatArray, i: int) -> float:
    """The trend of series i at the next bucket."""
    return float(level[i] + slope[i])


@inline_kernel
def learn(level: FloatArray, slope: FloatArray, i: int, n: int, x: float, trend: float, weight: float, clipped: float) -> None:
    """Learn series i's bucket value x.

    Args:
        level: the Trend's level.
        slope: the Trend's slope.
        i: the series.
        n: buckets the series has learned before this one.
        x: the bucket value; the first one sets the level.
        trend: predict() before this bucket.
        weight: the value's weight (outliers teach less).
        clipped: the residual clipped to 3 sigma.
    """
    rate = 1.0 / min(n + 1.0, LEVEL_BUCKETS)
    level[i] = x if n == 0 else trend + rate * weight * clipped
    gain = _SLOPE_GAIN if n >= LEVEL_BUCKETS else 0.0
    slope[i] += gain * weight * clipped


@inline_kernel
def misses(recent_z: FloatArray, i: int) -> int:
    """How many of series i's last 12 residuals were beyond 3 sigma."""
    count = 0
    for z in recent_z[i]:
        count += abs(z) > REBASE_Z
    return count


@inline_kernel
def rebase(level: FloatArray, slope: FloatArray, recent_z: FloatArray, i: int, n: int, z: float, sigma: float, warm: bool) -> bool:
    """Record series i's standardised residual z; re-base the level if the last 12 agree.

    Args:
        level: the Trend's level.
        slope: the Trend's slope.
        recent_z: the Trend's recent_z.
        i: the series.
        n: buckets the series has learned before this one.
        z: this bucket's residual / sigma.
        sigma: this bucket's residual scale.
        warm: whether the series is past warm-up (a young series does not re-base).

    Returns:
        Whether the level moved: the caller clears evidence read against the old level.
    """
    recent_z[i, n % REBASE] = z
    newest = recent_z[i, n % REBASE]  # as kept, in float32
    if not warm or not (newest > REBASE_Z or newest < -REBASE_Z):
        return False  # the newest residual alone rules out a run of 12 on one side (most buckets)
    row = recent_z[i]
    above, below = True, True
    for v in row:
        above &= v > REBASE_Z
        below &= v < -REBASE_Z
    if not (above or below):
        return False
    level[i] += np.median(row) * sigma
    slope[i] = 0.0  # a step, not a trend
    recent_z[i, :] = np.nan
    return True
