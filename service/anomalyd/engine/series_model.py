"""The per-series model of one bucket feature: level, seasonality, residual scale, multi-bucket.

State is a struct of arrays over all series of a detector, so a bucket is scored and learned
with a handful of vectorised numpy operations whatever the number of series. The design and its
constants are the measured defaults of MODELING.md sections 2-7:

* prediction = level + slope + active seasonal components (see seasonality.py), the level and
  slope by Brown's linear exponential smoothing, so a ramp is followed without lag;
* residual scale: a decayed second moment of residuals plus a variance floor made of the
  quantisation dither q^2/12 (q = the data's resolution) and (1e-3 * mean |x|)^2;
* values less probable than a normal 4 sigma residual, alone or by the multi-bucket test, get
  weight 0.1 in every estimate, so one spike cannot inflate sigma and a sustained anomaly does
  not drag the level along (NAB standard 53.5 -> 55.4 for the multi-bucket part);
* the single-bucket probability is the tail of the residual under the series' family, chosen by
  decayed predictive log-likelihood among the feature's candidates: the normal for every
  feature, and for event counts also the quasi-Poisson (counts / phi ~ Poisson(mean / phi) with
  phi = max(1, variance / mean)), whose tails are far thinner below a small mean (no events
  where 10 are typical: p = 9e-5 against the normal's 2e-3). Heavier-tailed families for metric
  values are not candidates: they fit real data better by likelihood but squash the large
  deviations that matter (MODELING.md section 4 measured NAB standard 56.1 normal vs 39.9
  Laplace vs 31.7 t3);
* the multi-bucket probability is the smaller normal tail of the means of the last 24 and of
  the last 6 clipped residuals, each against its own decayed scale: the long window catches
  sustained shifts too small for one bucket, the short one catches a stretch of an hour or two
  before the model has half learned it (a count falling from 10 to 0 for 2 hours: score 20 -> 48
  in the demo, NAB neutral);
* a re-base moves the level when the last 12 residuals all lie beyond 3 sigma on one side, and
  clears the multi-bucket ring; its seasonal counterpart moves a component's bin when the value
  at that phase missed by more than 3 sigma on the same side one cycle ago as now while the
  buckets around it fit (an hourly spike that stopped: news twice, not for a day).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.seasonality import DAY_MS, Seasonality, row_bytes
from anomalyd.engine.state import Arrays
from anomalyd.engine.stats import LN_SQRT_2PI, FloatArray, normal_tail_log_p, poisson_log_pmf, poisson_tail_log_p

MULTI_BUCKET = 24
_WINDOWS = (MULTI_BUCKET, 6)  # residual means tested by the multi-bucket view; the ring holds the longest
REBASE = 12
_OUTLIER_LN_P = math.log(6.334e-5)  # two-sided tail of a normal 4 sigma residual
_OUTLIER_WEIGHT = 0.1
_OUTLIER_MIN_N = 4  # sigma means nothing before a few values
_CLIP_Z = 3.0
_LEVEL_BUCKETS = 24
_STARTUP_BUCKETS = 20
_REBASE_Z = 3.0
_RELATIVE_FLOOR = 1e-4  # ml-cpp's minimum coefficient of variation
_MIN_RATE = 0.05  # the least event rate a count model predicts, so that any event stays possible
NORMAL, QUASI_POISSON = 0, 1


@dataclass(frozen=True, slots=True)
class Scored:
    """A bucket of values scored against the model, before learning them.

    Attributes:
        typical: shape (k,), the model's prediction.
        residual: shape (k,), value - typical.
        sigma: shape (k,), the residual scale.
        ln_p_single: shape (k,), ln p of the value alone (0 during warm-up).
        ln_p_multi: shape (k,), ln p of the mean of recent residuals (0 while unavailable).
        ln_p_tail: shape (k,), the two-sided ln p of the value alone, warm or not, which
            decides how much the models learn from it.
        recent_means: shape (k, windows), the mean clipped residual of each multi-bucket window
            ending with this bucket.
    """

    typical: FloatArray
    residual: FloatArray
    sigma: FloatArray
    ln_p_single: FloatArray
    ln_p_multi: FloatArray
    ln_p_tail: FloatArray
    recent_means: FloatArray

    @property
    def ln_p(self) -> FloatArray:
        """Shape (k,): the probability reported, the smaller of the two."""
        return np.minimum(self.ln_p_single, self.ln_p_multi)


class SeriesModel:
    """Models of one feature (a bucket statistic) for every series of a detector.

    Args:
        span_ms: the bucket span.
        side: 0 scores both tails, +1 only values above the model, -1 only below.
        counts: the feature is an event count, so the quasi-Poisson family is a candidate.
        warmup: buckets a series must have learned before it scores.
        capacity: initial number of series.

    Example:
        >>> model = SeriesModel(300_000, side=0, counts=False, warmup=12, capacity=1)
        >>> idx = np.array([0])
        >>> for b in range(100):
        ...     t = b * 300_000
        ...     model.begin_bucket(t, 1)
        ...     x = np.array([10.0 + (b % 3)])
        ...     model.learn(idx, x, t, model.score(idx, x, t))
        >>> model.begin_bucket(100 * 300_000, 1)
        >>> float(model.score(idx, np.array([30.0]), 100 * 300_000).ln_p[0]) < -20
        True
    """

    def __init__(self, span_ms: int, *, side: int, counts: bool, warmup: int, capacity: int) -> None:
        self.side = side
        self.counts = counts
        self.warmup = warmup
        # Residual statistics forget with a 7-day time constant, never faster than 96 buckets.
        self.decay = math.exp(-1.0 / max(7 * DAY_MS / span_ms, 96.0))
        self.seasonality = Seasonality(span_ms, capacity)
        self.n = np.zeros(capacity, dtype=np.int32)
        self.level = np.zeros(capacity)
        self.slope = np.zeros(capacity)  # the level's change per learned bucket
        self.w = np.zeros(capacity)
        self.m2 = np.zeros(capacity)
        self.q = np.full(capacity, np.inf, dtype=np.float32)
        self.absmean = np.zeros(capacity, dtype=np.float32)
        self.last_x = np.full(capacity, np.nan)
        self.mb_ring = np.zeros((capacity, MULTI_BUCKET), dtype=np.float32)
        self.mb_w = np.zeros(capacity)  # one weight serves every window: they learn together
        self.mb_m2 = np.zeros((capacity, len(_WINDOWS)))
        self.rb_ring = np.full((capacity, REBASE), np.nan, dtype=np.float32)
        # Decayed predictive log-likelihood of each candidate family, in the order NORMAL,
        # QUASI_POISSON; a single column when only the normal is a candidate.
        self.ll = np.zeros((capacity, 2 if counts else 1))

    _ROW_ARRAYS = ("n", "level", "slope", "w", "m2", "q", "absmean", "last_x", "mb_ring", "mb_w", "mb_m2", "rb_ring", "ll")

    def bytes_per_series(self) -> int:
        """Bytes every series costs, not counting seasonal components."""
        own = sum(row_bytes(getattr(self, name)) for name in self._ROW_ARRAYS)
        return own + self.seasonality.bytes_per_series()

    def grow(self, capacity: int) -> None:
        """Make room for capacity series; new series start empty."""
        extra = capacity - len(self.n)
        if extra <= 0:
            return
        for name in self._ROW_ARRAYS:
            old = getattr(self, name)
            fill = np.full((extra, *old.shape[1:]), _INITIAL[name], dtype=old.dtype)
            setattr(self, name, np.concatenate([old, fill]))
        self.seasonality.grow(capacity)

    def begin_bucket(self, t_ms: int, n_series: int) -> None:
        """Move to the bucket starting at t_ms: roll the rings and run due periodicity tests."""
        var, floor = self._variances(np.arange(n_series))
        outcome = self.seasonality.advance(t_ms, n_series, var + floor, 1.0 / _LEVEL_BUCKETS)
        np.add.at(self.level, outcome.series, outcome.level_shift)
        # Residuals from before a new component overstate the error now: keep them only as a
        # prior worth one level time constant of buckets, so new residuals take over quickly.
        new = outcome.series[outcome.added]
        keep = np.minimum(1.0, _LEVEL_BUCKETS / np.maximum(self.w[new], 1e-300))
        self.w[new] *= keep
        self.m2[new] *= keep

    def _variances(self, idx: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        """Shape (k,) each: the learned residual variance and the variance floor."""
        q = self.q[idx].astype(np.float64)
        floor = np.where(np.isfinite(q), q * q / 12.0, 0.0) + (_RELATIVE_FLOOR * self.absmean[idx]) ** 2
        w = self.w[idx]
        return np.where(w > 0.0, self.m2[idx] / np.where(w > 0.0, w, 1.0), 0.0), floor

    def score(self, idx: NDArray[np.intp], x: FloatArray, t_ms: int) -> Scored:
        """Score bucket values without learning them.

        Args:
            idx: shape (k,), distinct series indices.
            x: shape (k,), the bucket's values.
            t_ms: bucket start.

        Returns:
            The prediction, residual scale and probabilities of each value.
        """
        n = self.n[idx]
        fresh = n == 0
        typical = np.where(fresh, x, self.level[idx] + self.slope[idx] + self.seasonality.predict(idx, t_ms))
        e = x - typical
        var, floor = self._variances(idx)
        sigma = np.sqrt(var + floor)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(sigma > 0.0, e / sigma, np.where(e == 0.0, 0.0, np.inf * np.sign(e)))
        ln_tail = normal_tail_log_p(z, 0)
        if self.counts:
            poisson = self.family(idx) == QUASI_POISSON
            if poisson.any():
                mu, phi = self._quasi_poisson(typical[poisson], var[poisson] + floor[poisson])
                ln_tail[poisson] = poisson_tail_log_p(x[poisson] / phi, mu / phi)
        blind = (self.side * e < 0.0) | (e == 0.0) if self.side else np.zeros(len(idx), bool)
        ln_single = np.where((n >= self.warmup) & ~blind, ln_tail, 0.0)
        means = self._recent_means(idx, n, np.clip(e, -_CLIP_Z * sigma, _CLIP_Z * sigma))
        mb_w = self.mb_w[idx, None]
        mb_var = np.where(mb_w > 0.0, self.mb_m2[idx] / np.where(mb_w > 0.0, mb_w, 1.0), 0.0)
        # Autocorrelated residuals only widen the spread of their mean, so the spread of a mean
        # of independent residuals bounds the learned one from below while it has few samples.
        lengths = np.array(_WINDOWS, np.float64)
        mb_sd = np.sqrt(np.maximum(mb_var, var[:, None] / lengths) + floor[:, None] / lengths)
        with np.errstate(divide="ignore", invalid="ignore"):
            zm = np.where(mb_sd > 0.0, means / mb_sd, 0.0)
        ready = n >= self.warmup + MULTI_BUCKET
        ln_multi = np.where(ready, normal_tail_log_p(zm, self.side).min(axis=1), 0.0)
        return Scored(typical, e, sigma, ln_single, ln_multi, ln_tail, means)

    def _recent_means(self, idx: NDArray[np.intp], n: NDArray[np.int32], clipped: FloatArray) -> FloatArray:
        """Shape (k, len(_WINDOWS)): the mean clipped residual of each window ending with this bucket."""
        ring = self.mb_ring[idx]
        out = np.empty((len(idx), len(_WINDOWS)))
        for j, length in enumerate(_WINDOWS):
            if length == MULTI_BUCKET:  # the whole ring but its oldest value, without a gather
                before = ring.sum(axis=1, dtype=np.float64) - ring[np.arange(len(idx)), n % MULTI_BUCKET]
            else:
                cols = (n[:, None] - np.arange(1, length)) % MULTI_BUCKET
                before = np.take_along_axis(ring, cols, axis=1).sum(axis=1, dtype=np.float64)
            out[:, j] = (before + clipped) / length
        return out

    def family(self, idx: NDArray[np.intp]) -> NDArray[np.intp]:
        """Shape (k,): each series' residual family, the candidate that explained it best."""
        best: NDArray[np.intp] = np.argmax(self.ll[idx], axis=1)
        return best

    @staticmethod
    def _quasi_poisson(typical: FloatArray, variance: FloatArray) -> tuple[FloatArray, FloatArray]:
        """The mean and the dispersion phi >= 1 of the quasi-Poisson matching the model's moments."""
        mu = np.maximum(typical, _MIN_RATE)
        return mu, np.maximum(1.0, variance / mu)

    def _learn_families(self, idx: NDArray[np.intp], x: FloatArray, scored: Scored) -> None:
        """Add each candidate family's log density of the values to its decayed log-likelihood."""
        sigma = np.maximum(scored.sigma, 1e-300)
        z = np.clip(scored.residual / sigma, -1e6, 1e6)  # a zero scale makes any error all but impossible
        ln_normal = -0.5 * z * z - np.log(sigma) - LN_SQRT_2PI
        mu, phi = self._quasi_poisson(scored.typical, scored.sigma**2)
        k = np.maximum(x, 0.0) / phi
        ln_poisson = poisson_log_pmf(k, mu / phi) - np.log(phi)
        self.ll[idx] = self.decay * self.ll[idx] + np.stack([ln_normal, ln_poisson], axis=1)

    def learn(self, idx: NDArray[np.intp], x: FloatArray, t_ms: int, scored: Scored) -> None:
        """Update the models of series idx with their bucket values.

        Args:
            idx: shape (k,), distinct series indices.
            x: shape (k,), the bucket's values.
            t_ms: bucket start.
            scored: what score() returned for these values.
        """
        n = self.n[idx]
        trend = self.level[idx] + self.slope[idx]  # the prediction less its seasonal components
        e, sigma = scored.residual, scored.sigma
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(sigma > 0.0, e / sigma, 0.0)
        # An outlier, or a value in a sustained anomaly the multi-bucket test sees, teaches the
        # model little: a shift must persist until the re-base below accepts it.
        outlier = (scored.ln_p_tail < _OUTLIER_LN_P) | (scored.ln_p_multi < _OUTLIER_LN_P)
        weight = np.where(outlier & (n >= _OUTLIER_MIN_N), _OUTLIER_WEIGHT, 1.0)
        if self.counts:
            # Families compete on the predictions made once the model is warm; before, the
            # residual scale is too young to be judged on.
            warm = n >= self.warmup
            self._learn_families(idx[warm], x[warm], _take(scored, warm))
        decay = np.where(n < _STARTUP_BUCKETS, 1.0 - 1.0 / (n + 1.0), self.decay)
        self.w[idx] = decay * self.w[idx] + weight
        self.m2[idx] = decay * self.m2[idx] + weight * e * e
        clipped = np.where(n == 0, 0.0, np.clip(e, -_CLIP_Z * sigma, _CLIP_Z * sigma))
        rate = 1.0 / np.minimum(n + 1.0, _LEVEL_BUCKETS)
        self.level[idx] = np.where(n == 0, x, trend + rate * weight * clipped)
        # Brown's linear smoothing: with one discount factor d the level gains 1 - d^2 (2 / 48 ~ 1/24)
        # and the slope (1 - d)^2 of the error, so a ramp is followed without lag once the level
        # has settled.
        slope_gain = np.where(n >= _LEVEL_BUCKETS, (0.5 / _LEVEL_BUCKETS) ** 2, 0.0)
        self.slope[idx] += slope_gain * weight * clipped
        self.seasonality.learn(idx, t_ms, weight * clipped)
        # A miss that recurs at one phase while the buckets around it fit is a changed pattern.
        missed = np.flatnonzero((np.abs(e) > _REBASE_Z * sigma) & (n >= self.warmup))
        if len(missed):
            isolated = np.count_nonzero(np.abs(self.rb_ring[idx[missed]]) > _REBASE_Z, axis=1) < REBASE // 2
            m = missed[isolated]
            self.seasonality.follow_moved_phase(idx[m], t_ms, e[m], trend[m], _REBASE_Z * sigma[m])
        self.seasonality.record(idx, x)

        self.mb_ring[idx, n % MULTI_BUCKET] = clipped
        full = n >= MULTI_BUCKET - 1
        mb_decay = np.where(full, decay, 1.0)
        means = scored.recent_means
        self.mb_w[idx] = np.where(full, mb_decay * self.mb_w[idx] + weight, 0.0)
        self.mb_m2[idx] = np.where(full[:, None], mb_decay[:, None] * self.mb_m2[idx] + weight[:, None] * means * means, 0.0)

        rb = self.rb_ring[idx]
        rb[np.arange(len(idx)), n % REBASE] = z
        shifted = (np.all(rb > _REBASE_Z, axis=1) | np.all(rb < -_REBASE_Z, axis=1)) & (n >= self.warmup)
        if shifted.any():
            s = idx[shifted]
            shift = np.median(rb[shifted], axis=1) * sigma[shifted]
            self.level[s] += shift
            self.slope[s] = 0.0  # a step, not a trend
            # The new level explains the recent values: multi-bucket evidence starts afresh
            # rather than reading the buckets before the shift as a sustained anomaly.
            self.mb_ring[s] = 0.0
            rb[shifted] = np.nan
        self.rb_ring[idx] = rb

        step = np.abs(x - self.last_x[idx])
        self.q[idx] = np.where(step > 0.0, np.minimum(self.q[idx], step), self.q[idx])
        self.last_x[idx] = x
        self.absmean[idx] += (rate * (np.abs(x) - self.absmean[idx])).astype(np.float32)
        self.n[idx] = n + 1

    def arrays(self, rows: int) -> Arrays:
        """The state of the first rows series as named arrays (capacity beyond them is not kept)."""
        out = {name: getattr(self, name)[:rows] for name in self._ROW_ARRAYS}
        out.update({f"seasonality.{k}": v for k, v in self.seasonality.arrays(rows).items()})
        return out

    def load(self, arrays: Arrays) -> None:
        """Restore the state written by arrays()."""
        for name in self._ROW_ARRAYS:
            setattr(self, name, arrays[name])
        prefix = "seasonality."
        self.seasonality.load({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})


def _take(scored: Scored, rows: NDArray[np.bool_]) -> Scored:
    return Scored(*(getattr(scored, f)[rows] for f in Scored.__slots__))


_INITIAL = {
    "n": 0, "level": 0.0, "slope": 0.0, "w": 0.0, "m2": 0.0, "q": np.inf, "absmean": 0.0, "last_x": np.nan,
    "mb_ring": 0.0, "mb_w": 0.0, "mb_m2": 0.0, "rb_ring": np.nan, "ll": 0.0,
}
