"""The per-series model of one bucket feature: level, seasonality, residual scale, multi-bucket.

The model is made of parts, as ml-cpp's CTimeSeriesModel composes a trend, a residual model and
a multi-bucket feature: trend.py (level, slope, re-base), seasonality.py (periodicity tests and
components), residual.py (scale, floor, outlier weight, families) and multi_bucket.py. Each
keeps a struct of arrays over all series of a detector, with named fields, and compiled
per-series functions; a bucket is scored and learned by one compiled loop over its series
(_score and _learn below), so it costs microseconds for one series as for many. The design and
its constants are the measured defaults of MODELING.md sections 2-7:

* prediction = level + slope + active seasonal components (see seasonality.py), the level and
  slope by Brown's linear exponential smoothing, so a ramp is followed without lag;
* residual scale: a decayed second moment of residuals plus a variance floor made of the
  quantisation dither q^2/12 (q = the data's resolution) and (1e-3 * mean |x|)^2, the
  second moment widened at phases of the seasonal components where large residuals recur
  (residual.phase_scale);
* values less probable than a normal 4 sigma residual, alone or by the multi-bucket test, get
  weight 0.1 in every estimate, so one spike cannot inflate sigma and a sustained anomaly does
  not drag the level along (NAB standard 53.5 -> 55.4 for the multi-bucket part);
* the single-bucket probability is the tail of the residual under the series' family, chosen by
  decayed predictive log-likelihood among the feature's candidates: the normal for every
  feature, read as the Student-t with as many degrees of freedom as buckets learned (the
  predictive of a variance estimated from them, as ml-cpp's normal of unknown mean and
  precision: a model just warm cannot call a value 1e-300 on the spread of 50 residuals), and
  for event counts also the quasi-Poisson (counts / phi ~ Poisson(mean / phi) with
  phi = max(1, variance / mean)), whose tails are far thinner below a small mean (no events
  where 10 are typical: p = 9e-5 against the normal's 2e-3). Heavier-tailed families for metric
  values are not candidates: they fit real data better by likelihood but squash the large
  deviations that matter (MODELING.md section 4 measured NAB standard 56.1 normal vs 39.9
  Laplace vs 31.7 t3, a t whose degrees of freedom never grow);
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
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine import drift, multi_bucket, residual, seasonality, trend
from anomalyd.engine.compiled import kernel
from anomalyd.engine.drift import Drift
from anomalyd.engine.multi_bucket import WINDOWS, MultiBucket
from anomalyd.engine.residual import NORMAL, QUASI_POISSON, Families, Residual
from anomalyd.engine.seasonality import DAY_MS, FollowPlan, Seasonality
from anomalyd.engine.state import Arrays, prefixed
from anomalyd.engine.stats import FloatArray, poisson_tail_log_p1, student_t_tail_log_p1
from anomalyd.engine.trend import LEVEL_BUCKETS, REBASE_Z, Trend

__all__ = ["NORMAL", "QUASI_POISSON", "Scored", "SeriesModel"]

_CLIP_Z = 3.0
_AHEAD = 4  # series ahead whose scattered rows are prefetched (see compiled.prefetch)
# State arrays as version 4 of the job state named them, before the model had parts.
_V4_NAMES = {
    "n": "learned", "level": "trend.level", "slope": "trend.slope", "rb_ring": "trend.recent_z",
    "w": "residual.scale_weight", "m2": "residual.scale_sum_sq", "q": "residual.resolution",
    "absmean": "residual.mean_abs", "last_x": "residual.last_value", "ll": "families.log_likelihood",
    "mb_ring": "multi_bucket.clipped_residuals", "mb_w": "multi_bucket.weight", "mb_m2": "multi_bucket.sum_sq_means",
}


def statistics_decay(span_ms: int) -> float:
    """The decay a bucket of a series' statistics: a 7-day time constant, never faster than 96 buckets."""
    return math.exp(-1.0 / max(7 * DAY_MS / span_ms, 96.0))


@dataclass(frozen=True, slots=True)
class Scored:
    """A bucket of values scored against the model, before learning them.

    Attributes:
        typical: shape (k,), the model's prediction.
        residual: shape (k,), value - typical.
        sigma: shape (k,), the residual scale.
        ln_p_single: shape (k,), ln p of the value alone (0 during warm-up).
        ln_p_multi: shape (k,), ln p of the mean of recent residuals (0 while unavailable), joined
            with a drift reported in this bucket (see drift.py).
        ln_p_tail: shape (k,), the two-sided ln p of the value alone, warm or not, which
            decides how much the models learn from it.
        recent_means: shape (k, windows), the mean clipped residual of each multi-bucket window
            ending with this bucket.
        drift: shape (k, 4), the drift feature's clipped residual, statistic, reported ln p and
            the statistic's tail ln p (see drift.score_one).
    """

    typical: FloatArray
    residual: FloatArray
    sigma: FloatArray
    ln_p_single: FloatArray
    ln_p_multi: FloatArray
    ln_p_tail: FloatArray
    recent_means: FloatArray
    drift: FloatArray

    def fields(self) -> tuple[FloatArray, ...]:
        """The arrays in the order the kernels unpack them."""
        return (
            self.typical, self.residual, self.sigma, self.ln_p_single, self.ln_p_multi, self.ln_p_tail, self.recent_means,
            self.drift,
        )

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
        self.decay = statistics_decay(span_ms)
        self.learned = np.zeros(capacity, dtype=np.int32)  # buckets each series has learned
        self.trend = Trend(capacity)
        self.residual = Residual(capacity)
        self.families = Families(capacity if counts else 0)
        self.multi_bucket = MultiBucket(capacity)
        self.drift = Drift(capacity)
        self.span = span_ms
        self.seasonality = Seasonality(span_ms, capacity)
        self.spread_rates, self.spread_margins = residual.spread_learning(self.decay, self.seasonality.bins)
        self._plan: tuple[int, NDArray[np.int64], FollowPlan] | None = None

    def _parts(self) -> dict[str, Trend | Residual | Families | MultiBucket | Drift]:
        parts: dict[str, Trend | Residual | Families | MultiBucket | Drift] = {
            "trend": self.trend, "residual": self.residual, "multi_bucket": self.multi_bucket, "drift": self.drift,
        }
        if self.counts:
            parts["families"] = self.families
        return parts

    def bytes_per_series(self) -> int:
        """Bytes every series costs, not counting seasonal components."""
        own = self.learned.itemsize + sum(part.bytes_per_series() for part in self._parts().values())
        return own + self.seasonality.bytes_per_series()

    def grow(self, capacity: int) -> None:
        """Make room for capacity series; new series start empty."""
        extra = capacity - len(self.learned)
        if extra <= 0:
            return
        self.learned = np.concatenate([self.learned, np.zeros(extra, np.int32)])
        for part in self._parts().values():
            part.grow(capacity)
        self.seasonality.grow(capacity)

    def begin_bucket(self, t_ms: int, n_series: int) -> None:
        """Move to the bucket starting at t_ms: roll the rings and run due periodicity tests."""
        self._plan = None
        self.seasonality.roll(t_ms, n_series)
        if self.seasonality.due(t_ms, n_series):
            self.test_periods(t_ms, n_series)

    def test_periods(self, t_ms: int, n_series: int) -> None:
        """Run the periodicity tests due at bucket t_ms, after the rings rolled to it."""
        self._plan = None
        res = self.residual
        error_var = np.empty(n_series)
        _error_variances(res.scale_weight, res.scale_sum_sq, res.resolution, res.mean_abs, error_var)
        outcome = self.seasonality.advance(t_ms, n_series, error_var, 1.0 / LEVEL_BUCKETS)
        if not len(outcome.series):
            return
        np.add.at(self.trend.level, outcome.series, outcome.level_shift)
        # Residuals from before a new component overstate the error now: keep them only as a
        # prior worth one level time constant of buckets, so new residuals take over quickly.
        new = outcome.series[outcome.added]
        keep = np.minimum(1.0, LEVEL_BUCKETS / np.maximum(res.scale_weight[new], 1e-300))
        res.scale_weight[new] *= keep
        res.scale_sum_sq[new] *= keep

    def _bucket_plan(self, t_ms: int) -> tuple[NDArray[np.int64], FollowPlan]:
        """The components' bins at t_ms and where follow_moved_phase looks, computed once a bucket."""
        if self._plan is None or self._plan[0] != t_ms:
            self._plan = (t_ms, self.seasonality.phases(t_ms), self.seasonality.follow_plan(t_ms))
        return self._plan[1], self._plan[2]

    def state(self) -> tuple[Any, ...]:
        """Every state array the kernels read or write, in the order score_one and learn_one unpack."""
        s, t, r, m = self.seasonality, self.trend, self.residual, self.multi_bucket
        return (
            self.learned, t.level, t.slope, t.recent_z,
            r.scale_weight, r.scale_sum_sq, r.resolution, r.mean_abs, r.last_value, self.families.log_likelihood,
            m.clipped_residuals, m.weight, m.sum_sq_means, s.slot, tuple(s.pools), s.rings, s.acc_sum, s.acc_n, s.rates,
            self.drift.state(), self.span, tuple(s.spreads), self.spread_rates, self.spread_margins,
        )

    def run_state(self) -> tuple[Any, ...]:
        """What a compiled loop over buckets needs besides state(): see Seasonality.run_state."""
        return self.seasonality.run_state()

    def settings(self) -> tuple[int, bool, int, float]:
        """Side, counts, warmup and decay, as the kernels read them."""
        return self.side, self.counts, self.warmup, self.decay

    @staticmethod
    def blank_scored(k: int) -> Scored:
        """Scored arrays for k values, to be written."""
        return Scored(
            np.empty(k), np.empty(k), np.empty(k), np.empty(k), np.empty(k), np.empty(k), np.empty((k, len(WINDOWS))),
            np.empty((k, 4)),
        )

    def score(self, idx: NDArray[np.intp], x: FloatArray, t_ms: int) -> Scored:
        """Score bucket values without learning them.

        Args:
            idx: shape (k,), distinct series indices.
            x: shape (k,), the bucket's values.
            t_ms: bucket start.

        Returns:
            The prediction, residual scale and probabilities of each value.
        """
        return self._run(idx, x, t_ms, self.blank_scored(len(idx)), score=True, learn=False)

    def family(self, idx: NDArray[np.intp]) -> NDArray[np.intp]:
        """Shape (k,): each series' residual family, the candidate that explained it best."""
        if not self.counts:
            return np.full(len(idx), NORMAL, np.intp)
        best: NDArray[np.intp] = np.argmax(self.families.log_likelihood[idx], axis=1)
        return best

    def learn(self, idx: NDArray[np.intp], x: FloatArray, t_ms: int, scored: Scored) -> None:
        """Update the models of series idx with their bucket values.

        Args:
            idx: shape (k,), distinct series indices.
            x: shape (k,), the bucket's values.
            t_ms: bucket start.
            scored: what score() returned for these values.
        """
        self._run(idx, x, t_ms, scored, score=False, learn=True)

    def step(self, idx: NDArray[np.intp], x: FloatArray, t_ms: int) -> Scored:
        """Score bucket values and learn them, in one compiled loop: learn(score()) in one call.

        Each series is scored and then learned before the next: series share no state, so the
        result is the same as scoring all and then learning all.

        Args:
            idx: shape (k,), distinct series indices.
            x: shape (k,), the bucket's values.
            t_ms: bucket start.

        Returns:
            What score() would have returned before learning.
        """
        return self._run(idx, x, t_ms, self.blank_scored(len(idx)), score=True, learn=True)

    def _run(self, idx: NDArray[np.intp], x: FloatArray, t_ms: int, out: Scored, *, score: bool, learn: bool) -> Scored:
        phases, plan = self._bucket_plan(t_ms)
        run_series(
            0, len(idx), np.asarray(idx, np.intp), np.asarray(x, np.float64), self.state(), self.settings(), t_ms, phases,
            plan, out.fields(), score, learn,
        )
        return out

    def arrays(self, rows: int) -> Arrays:
        """The state of the first rows series as named arrays (capacity beyond them is not kept)."""
        out: Arrays = {"learned": self.learned[:rows]}
        for name, part in self._parts().items():
            out.update({f"{name}.{k}": v for k, v in part.arrays(rows).items()})
        out.update({f"seasonality.{k}": v for k, v in self.seasonality.arrays(rows).items()})
        return out

    def load(self, arrays: Arrays) -> None:
        """Restore the state written by arrays(), or by versions 4 and 5 of the job state.

        Version 4 named the same values differently; versions 4 and 5 had no drift feature, which
        then starts empty (it reports once it has seen drift.WINDOW + drift.BASELINE buckets).
        """
        arrays = {_V4_NAMES.get(k, k): v for k, v in arrays.items()}
        self.learned = arrays["learned"]
        if not any(k.startswith("drift.") for k in arrays):
            arrays.update({f"drift.{k}": v for k, v in Drift(len(self.learned)).arrays(len(self.learned)).items()})
        for name, part in self._parts().items():
            part.load(prefixed(arrays, name + "."))
        self.seasonality.load(prefixed(arrays, "seasonality."))


@kernel
def _error_variances(
    scale_weight: FloatArray, scale_sum_sq: FloatArray, resolution: FloatArray, mean_abs: FloatArray, out: FloatArray
) -> None:
    """Shape (S,): every series' prediction error variance, learned plus floor."""
    for i in range(len(out)):
        out[i] = residual.error_variance(scale_weight, scale_sum_sq, resolution, mean_abs, i)


@kernel
def run_series(
    lo: int, hi: int, idx: NDArray[np.intp], x: FloatArray, state: tuple[Any, ...], settings: tuple[int, bool, int, float],
    t_ms: int, phases: NDArray[np.int64], plan: FollowPlan, out: tuple[FloatArray, ...], score: bool, learn: bool,
) -> None:
    """Score (if score) and then learn (if learn) the values of rows lo..hi-1 of idx and x, series by series.

    The state is unpacked once here, not per series: each unpacked array costs a reference
    count increment and decrement, which for a model's 20 arrays outweighs a series' work.

    Args:
        lo: the first row.
        hi: the row after the last.
        idx: shape (k,), distinct series.
        x: shape (k,), their values.
        state: SeriesModel.state().
        settings: SeriesModel.settings().
        t_ms: the bucket's start.
        phases: shape (3,), the components' bins at the bucket.
        plan: the bucket's follow plan (Seasonality.follow_plan).
        out: the Scored arrays (Scored.fields()), written by scoring and read by learning.
        score: write rows lo..hi-1 of out.
        learn: learn the values from rows lo..hi-1 of out.
    """
    learned, level, slope, recent_z = state[0], state[1], state[2], state[3]
    scale_weight, scale_sum_sq, resolution, mean_abs, last_value = state[4], state[5], state[6], state[7], state[8]
    log_likelihood, clipped_residuals, mb_weight, sum_sq_means = state[9], state[10], state[11], state[12]
    slot, pools, rings, acc_sum, acc_n, rates = state[13], state[14], state[15], state[16], state[17], state[18]
    side, counts, warmup, decay_ = settings
    drift_state, span, spreads, spread_rates, spread_margins = state[19], state[20], state[21], state[22], state[23]
    typical, resid, sigma, ln_single, ln_multi, ln_tail, means, drifts = out
    for k in range(lo, hi):
        if k + _AHEAD < hi:
            # A series' component bins and window slot lie at no address the hardware foresees:
            # those of a series a few ahead load while this one is worked on.
            seasonality.prefetch_bins(slot, pools, spreads, idx[k + _AHEAD], phases)
            drift.prefetch_window(drift_state, idx[k + _AHEAD])
        i, value = idx[k], x[k]
        n = learned[i]
        if score:
            if n == 0:
                typical[k] = value
            else:
                typical[k] = trend.predict(level, slope, i) + seasonality.predict(slot, pools, i, phases)
            e = value - typical[k]
            var, floor = residual.variances(scale_weight, scale_sum_sq, resolution, mean_abs, i)
            sd = math.sqrt(var * residual.phase_scale(slot, spreads, i, phases, spread_margins) + floor)
            z = e / sd if sd > 0.0 else (0.0 if e == 0.0 else math.copysign(math.inf, e))
            # The variance was estimated from the n residuals learned: a Student-t with n degrees
            # of freedom, wide while the model is young, the normal as it grows old.
            tail = student_t_tail_log_p1(z, max(n, 1.0), 0)
            if counts and residual.family(log_likelihood, i) == QUASI_POISSON:
                mu, phi = residual.quasi_poisson(typical[k], var + floor)
                tail = poisson_tail_log_p1(value / phi, mu / phi)
            blind = side != 0 and (side * e < 0.0 or e == 0.0)
            resid[k], sigma[k], ln_tail[k] = e, sd, tail
            ln_single[k] = tail if n >= warmup and not blind else 0.0
            multi_bucket.recent_means(clipped_residuals, i, n, min(max(e, -_CLIP_Z * sd), _CLIP_Z * sd), means[k])
            ready = n >= warmup + multi_bucket.LENGTH
            ln_multi[k] = multi_bucket.ln_p(mb_weight, sum_sq_means, i, means[k], var, floor, side) if ready else 0.0
            drift_scoring = drift.score_one(drift_state, i, value, t_ms, span, floor, side, drifts[k])
            if drifts[k, 2] < 0.0:
                # A drift reported joins the bucket's own evidence as the multi-bucket evidence
                # (drift.join), where that is smaller: it never hides what the bucket showed.
                own = min(ln_single[k], ln_multi[k])
                ln_multi[k] = min(ln_multi[k], drift.join(own, drifts[k, 2]))
        if not learn:
            continue
        if not score:
            drift_scoring = drift.recall(drift_state, i, t_ms, span, drifts[k])
        e, sd = resid[k], sigma[k]
        base = trend.predict(level, slope, i)  # the prediction less its seasonal components
        z = e / sd if sd > 0.0 else 0.0
        # An outlier, or a value in a sustained anomaly the multi-bucket test sees, teaches the
        # model little: a shift must persist until the re-base accepts it.
        weight = residual.outlier_weight(ln_tail[k], ln_multi[k], n)
        warm = n >= warmup
        if counts and warm:
            # Families compete on the predictions made once the model is warm; before, the
            # residual scale is too young to be judged on.
            residual.learn_families(log_likelihood, i, decay_, value, typical[k], e, sd)
        decay = residual.startup_decay(n, decay_)
        var, floor = residual.variances(scale_weight, scale_sum_sq, resolution, mean_abs, i)
        z2 = e * e / (var + floor) if var + floor > 0.0 else 1.0
        residual.learn_phase_spread(slot, spreads, i, phases, spread_rates, weight, z2)
        residual.learn_scale(scale_weight, scale_sum_sq, i, decay, weight, e)
        clipped = 0.0 if n == 0 else min(max(e, -_CLIP_Z * sd), _CLIP_Z * sd)
        trend.learn(level, slope, i, n, value, base, weight, clipped)
        seasonality.learn(slot, pools, i, phases, rates, weight * clipped)
        # A miss that recurs at one phase while the buckets around it fit is a changed pattern.
        if abs(e) > REBASE_Z * sd and warm and trend.misses(recent_z, i) < trend.REBASE // 2:
            seasonality.follow_moved_phase(slot, pools, rings, i, phases, plan, e, base, REBASE_Z * sd)
        seasonality.record(acc_sum, acc_n, i, value)
        multi_bucket.learn(clipped_residuals, mb_weight, sum_sq_means, i, n, clipped, weight, decay, means[k])
        if trend.rebase(level, slope, recent_z, i, n, z, sd, warm):
            # The new level explains the recent values: multi-bucket evidence starts afresh
            # rather than reading the buckets before the shift as a sustained anomaly.
            clipped_residuals[i, :] = 0.0
        residual.learn_resolution(resolution, mean_abs, last_value, i, value, 1.0 / min(n + 1.0, LEVEL_BUCKETS))
        drift.learn_one(drift_state, i, value, t_ms, span, decay_, drifts[k], drift_scoring)
        learned[i] = n + 1
