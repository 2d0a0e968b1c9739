"""The drift feature: a slow slide away from what the hour of the week usually looks like.

A level that slides away from its seasonal pattern over hours leaves every bucket ordinary and
is followed by the trend (a 24-bucket level) long before the 24- and 6-bucket multi-bucket
means see it. This feature of the multi-bucket family compares the series with a slow profile
of its own instead:

* prediction: an hour-of-week profile (each hour's bin an average over about 3 weeks), falling
  back to the hour-of-day profile (about 3 days) until the series has seen 2 weeks, and to a
  level (an average over the last 720 buckets) until it has seen 2 days; the statistic's
  history restarts when the predictor changes, so it never mixes the residuals of two;
* statistic: the mean of the residuals over the last 72 buckets (each clipped at 3 spreads, so
  one spike cannot make a drift) divided by the residual's spread, a decayed root mean square
  over 720 buckets;
* calibration: the tail of the statistic's size in the series' own decayed history (a
  log-binned histogram forgetting as the residual scale does, over 7 days), read from the
  histogram down to its top 5 %, beyond it a normal tail through that quantile, so a drift far
  outside the history gets a probability far below 1 / history;
* reporting: a drift whose tail probability is at most 2e-3 is reported once, and again only
  when its evidence has doubled (ln p twice that of the last report, as a run of anomalous
  buckets is news again when its score doubles); the feature re-arms when the statistic is back
  above a tail probability of 0.05 (the level at which a raw score is 0). Reported, its ln p is
  joined with the bucket's as Elasticsearch joins single- and multi-bucket evidence (the
  chi-squared test of their normal deviates) and becomes the multi-bucket ln p, so records show
  it in multi_bucket_impact;
* learning: until a drift is reported, values whose statistic lies in its tail (p < 0.05) teach
  the profile at weight 0.1, so the drift is not learned as the new normal before it is
  reported; after the report they teach it at full weight. The spread and the histogram learn
  values whose statistic is a drift (p <= 2e-3) at weight 0.1 always: a drift inflating the
  spread would hide its own growth (machine temperature sliding from 82 to 60 doubled its spread
  in 12 hours), and one long drift would make the next one ordinary. The rest of the tail is
  learned in full: the histogram is the statistic's distribution, 5 % of which lies beyond its
  5 % point, and a tail learned at 0.1 pulled that point in until a clean weekly series read
  p < 0.05 in 14-26 % of its buckets and p <= 2e-3 in 2-6 %, reporting 16-43 chance drifts in
  four weeks (0-2 learned in full).

The feature scores once a profile has predicted 72 + 360 buckets (a window, and half the spread's
baseline) and reports once its history holds 360 buckets.

Example:
    >>> from anomalyd.engine.residual import Residual
    >>> d, res = Drift(1), Residual(1)
    >>> residual_ = (res.scale_weight, res.scale_sum_sq, res.resolution, res.mean_abs)
    >>> rng = np.random.default_rng(0)
    >>> out, reports = np.zeros((1, 4)), []
    >>> for b in range(3000):  # 10 days of a daily wave, then a slide of 3 below it over 6 hours
    ...     slide = 3.0 * min(max((b - 2800) / 72, 0.0), 1.0)
    ...     x = np.array([10.0 + 5.0 * math.sin(2 * math.pi * b / 288) + rng.standard_normal() - slide])
    ...     score(np.array([0]), x, b * 300_000, 300_000, d.state(), residual_, 0, out)
    ...     learn(np.array([0]), x, b * 300_000, 300_000, d.state(), 0.999, out)
    ...     if out[0, 2] < 0.0:
    ...         reports.append((b, round(float(out[0, 2]))))
    >>> reports  # the slide, then each doubling of its evidence
    [(2843, -7), (2849, -14), (2857, -30), (2870, -62), (2891, -123)]
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from anomalyd.engine import residual
from anomalyd.engine.compiled import inline_kernel, kernel, prefetch, reassociating_kernel
from anomalyd.engine.state import Arrays, Rows
from anomalyd.engine.stats import LN_P_MIN, FloatArray, log_erfc1, normal_tail_log_p1

WINDOW = 72  # buckets in the drift's mean (6 hours of 5-minute buckets)
BASELINE = 720  # buckets: the spread's memory and the history the feature needs first
_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS
_WEEK_HOURS = 168
_DAY_HOURS = 24
_PROFILE_CYCLES = 3.0  # a profile bin averages about 3 cycles of visits
_FALLBACK_CYCLES = 2.0  # a profile is used once the series has seen 2 of its cycles
_CLIP = 3.0
_TAIL_WEIGHT = 0.1
LN_FIRE = math.log(2e-3)
LN_NORMAL = math.log(0.05)
_ANCHOR = 0.05  # the histogram's share where the normal tail takes over
_Z_ANCHOR = 1.959963984540054  # the two-sided normal deviate of a 5 % tail
_N_BINS = 64  # a multiple of 4 (see tail_ln_p)
_LO, _HI = 1e-3, 1e2  # |statistic| range of the histogram's log bins, in spreads
_LN_LO = math.log(_LO)
_BIN_WIDTH = (math.log(_HI) - _LN_LO) / (_N_BINS - 1)
_REBASE_GAIN = 1e4
_NEWS = 2.0


# Columns of Drift.scalars, the per-series values read and written every bucket.
LEVEL, WINDOW_SUM, SEEN, PROFILED, SPREAD_WEIGHT, SPREAD_SUM_SQ, HISTORY_GAIN, REPORTED = range(8)
_SCALARS: dict[str, tuple[int, type[np.generic], float]] = {
    "level": (LEVEL, np.float64, 0.0),
    "window_sum": (WINDOW_SUM, np.float64, 0.0),
    "seen": (SEEN, np.int32, 0.0),
    "profiled": (PROFILED, np.int32, 0.0),
    "spread_weight": (SPREAD_WEIGHT, np.float64, 0.0),
    "spread_sum_sq": (SPREAD_SUM_SQ, np.float64, 0.0),
    "history_gain": (HISTORY_GAIN, np.float64, 1.0),
    "reported": (REPORTED, np.float64, 0.0),
}
# Columns of the last axis of Drift.week_profile and Drift.day_profile.
VALUE, WEIGHT = 0, 1
# Hours of each profile, whose in-memory array is hour-major (see Drift).
_PROFILES = {"week_profile": _WEEK_HOURS, "day_profile": _DAY_HOURS}
# A bucket teaches a profile bin 1 or 0.1, so a bin's weight is a whole number of tenths, stored
# as a uint16 (spans under 1.7 s cap it at 6,553.5 buckets rather than 3 hours).
_TENTHS = 10
_MOST_TENTHS = 65_535


class Drift(Rows):
    """Slow seasonal profiles, the residual window, spread and statistic history of S series.

    In memory a bucket touches few cache lines: the profiles are hour-major, so that a bucket,
    whose hour is the same in every series, reads and writes one contiguous slab of each (a
    series' row of 168 hours put every series' bin on a cache line of its own); each profile
    keeps its value beside its weight; a series' window, history and scalars are rows. The
    stored state (arrays(), load()) keeps one named array per field, as STORED lists them.

    Attributes:
        week_profile: shape (168, S, 2), float32, the hour-of-week profile ([..., VALUE]) and
            the weight each hour of the week has learned ([..., WEIGHT]: a bucket weighs 1, or
            0.1 in a drift not yet reported), capped at 3 cycles: always a whole number of
            tenths (the float32 nearest it), stored as the number of tenths.
        day_profile: shape (24, S, 2), float32, the same for each hour of the day.
        window: shape (S, 72), float32, the last 72 clipped residuals, a ring indexed by seen.
        history: shape (S, 64), float32, the statistic's decayed history in log bins, scaled by
            history_gain (true weights are history / history_gain).
        scalars: shape (S, 8), float64, columns LEVEL (the mean of recent values, the last
            fallback), WINDOW_SUM (the window's sum), SEEN (buckets the feature has learned),
            PROFILED (buckets predicted by the current profile, see regime()), SPREAD_WEIGHT and
            SPREAD_SUM_SQ (the decayed weight of residuals in the spread and their decayed
            weighted sum of squares), HISTORY_GAIN (the scale of history) and REPORTED (the ln p
            of the last drift reported, until the statistic is back to normal; 0 when none).

    The stored fields are also attributes, as views: week, week_weight, day, day_weight and
    each scalar by its lower-case name (the stored week_tenths and day_tenths are the weights
    times 10).
    """

    FIELDS: ClassVar = {
        "window": (np.float32, (WINDOW,), 0.0),
        "history": (np.float32, (_N_BINS,), 0.0),
        "scalars": (np.float64, (len(_SCALARS),), 0.0),
    }
    # The stored layout: name -> (dtype, row shape), as version 11 of the job state wrote it
    # (versions 6 to 10 stored the float32 weights, week_weight and day_weight, read to the nearest tenth).
    STORED: ClassVar[dict[str, tuple[type[np.generic], tuple[int, ...]]]] = {
        "week": (np.float32, (_WEEK_HOURS,)),
        "week_tenths": (np.uint16, (_WEEK_HOURS,)),
        "day": (np.float32, (_DAY_HOURS,)),
        "day_tenths": (np.uint16, (_DAY_HOURS,)),
        "level": (np.float64, ()),
        "window": (np.float32, (WINDOW,)),
        "window_sum": (np.float64, ()),
        "seen": (np.int32, ()),
        "profiled": (np.int32, ()),
        "spread_weight": (np.float64, ()),
        "spread_sum_sq": (np.float64, ()),
        "history": (np.float32, (_N_BINS,)),
        "history_gain": (np.float64, ()),
        "reported": (np.float64, ()),
    }
    week_profile: FloatArray
    day_profile: FloatArray
    window: FloatArray
    history: FloatArray
    scalars: FloatArray

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self._empty_profiles(capacity)
        self._initial(0)

    def _empty_profiles(self, capacity: int) -> None:
        for name, hours in _PROFILES.items():
            setattr(self, name, np.zeros((hours, capacity, 2), np.float32))

    def _initial(self, first: int) -> None:
        for column, _, initial in _SCALARS.values():
            self.scalars[first:, column] = initial

    def bytes_per_series(self) -> int:
        """Bytes every series costs."""
        return super().bytes_per_series() + sum(hours * 2 * 4 for hours in _PROFILES.values())

    def grow(self, capacity: int) -> None:
        """Make room for capacity series; new series start empty."""
        old = len(self.scalars)
        super().grow(capacity)
        if capacity > old:
            for name, hours in _PROFILES.items():
                more = np.zeros((hours, capacity - old, 2), np.float32)
                setattr(self, name, np.concatenate([getattr(self, name), more], axis=1))
            self._initial(old)

    def __getattr__(self, name: str) -> Any:
        """The stored fields as views of the in-memory rows (week, day_weight, seen...); week_tenths and day_tenths computed."""
        if name.endswith("_tenths"):
            return np.rint(getattr(self, name.replace("_tenths", "_weight")) * np.float32(_TENTHS))
        if name in ("week", "week_weight", "day", "day_weight"):
            profile = self.__dict__["week_profile" if name.startswith("week") else "day_profile"]
            return profile[:, :, WEIGHT if name.endswith("_weight") else VALUE].T
        if name in _SCALARS:
            return self.__dict__["scalars"][:, _SCALARS[name][0]]
        raise AttributeError(name)

    def arrays(self, rows: int) -> Arrays:
        """The state of the first rows series as named arrays, in the stored layout (STORED)."""
        return {
            name: np.ascontiguousarray(getattr(self, name)[:rows], dtype=dtype) for name, (dtype, _) in self.STORED.items()
        }

    def load(self, arrays: Arrays) -> None:
        """Restore the state written by arrays(), or by versions 6 to 10 of the job state (float32 weights)."""
        Rows.__init__(self, len(arrays["seen"]))
        self._empty_profiles(len(arrays["seen"]))
        for name in self.STORED:
            if name.endswith("_tenths"):
                weight = name.replace("_tenths", "_weight")
                tenths = arrays[name] if name in arrays else np.rint(arrays[weight] * np.float32(_TENTHS))
                getattr(self, weight)[:] = tenths / np.float32(_TENTHS)
            else:
                getattr(self, name)[:] = arrays[name]

    def state(self) -> tuple[Any, ...]:
        """The arrays in the order the kernels take them."""
        return self.week_profile, self.day_profile, self.window, self.history, self.scalars


@inline_kernel
def _cycle_visits(span_ms: int) -> float:
    """Buckets an hour's bin learns per cycle (at least 1)."""
    return max(1.0, _HOUR_MS / span_ms)


@inline_kernel
def regime(seen: int, span_ms: int) -> int:
    """The profile a series predicts with after seen buckets: 2 weekly, 1 daily, 0 the level.

    A profile takes over once the series has seen 2 of its cycles (in buckets with data), for
    all its bins at once: the statistic's history then restarts, read against one predictor.
    """
    per_day = max(1.0, _DAY_MS / span_ms)
    if seen >= _FALLBACK_CYCLES * 7.0 * per_day:
        return 2
    return 1 if seen >= _FALLBACK_CYCLES * per_day else 0


@inline_kernel
def predict(state: tuple[Any, ...], i: int, t_ms: int, span_ms: int) -> tuple[float, int]:
    """Series i's slow seasonal prediction at t_ms and its regime (see regime()).

    The hour-of-week bin in the weekly regime, the hour-of-day bin in the daily one, else (or
    where a bin has never been visited) the level.
    """
    week, day, scalars = state[0], state[1], state[4]
    now = regime(int(scalars[i, SEEN]), span_ms)
    hour = t_ms // _HOUR_MS
    h = hour % _WEEK_HOURS
    if now == 2 and week[h, i, WEIGHT] > 0.0:
        return float(week[h, i, VALUE]), now
    h = hour % _DAY_HOURS
    if now >= 1 and day[h, i, WEIGHT] > 0.0:
        return float(day[h, i, VALUE]), now
    return float(scalars[i, LEVEL]), now


@inline_kernel
def _spread(scalars: FloatArray, i: int, floor: float) -> float:
    weight, sum_sq = scalars[i, SPREAD_WEIGHT], scalars[i, SPREAD_SUM_SQ]
    return math.sqrt((sum_sq / weight if weight > 0.0 else 0.0) + floor)


@inline_kernel
def _bin_of_log(ln_size: float) -> int:
    """The bin of a size above _LO, from its logarithm."""
    return min(int((ln_size - _LN_LO) / _BIN_WIDTH) + 1, _N_BINS - 1)


@inline_kernel
def _log_bin(size: float) -> tuple[float, int]:
    """The logarithm of a size above _LO (else 0, unread) and its bin."""
    ln_size = math.log(size) if size > _LO else 0.0
    return ln_size, (0 if size <= _LO else _bin_of_log(ln_size))


# The log of each bin's lower edge (index 0 unused), as math.log(_edge(b)) gives it: a constant
# table, so reading a share within a bin costs one logarithm instead of three and two exponentials.
_LN_EDGES = np.array([0.0] + [math.log(math.exp(_LN_LO + (b - 1) * _BIN_WIDTH)) for b in range(1, _N_BINS)])


@kernel
def _edge(b: int) -> float:
    """The lower edge of bin b (bin 0 holds everything up to _LO)."""
    return 0.0 if b == 0 else math.exp(_LN_LO + (b - 1) * _BIN_WIDTH)


@inline_kernel
def tail_ln_p(history: FloatArray, gain: float, i: int, size: float) -> tuple[float, float]:
    """Ln of the tail probability of |statistic| = size in series i's history, and that history's weight.

    The share of history at or above size (within a bin, in proportion to the log distance to
    its upper edge), down to the top 5 %; beyond that quantile q, the normal tail of
    1.96 * size / q, which is continuous with it.
    """
    ln_size, at = _log_bin(size)
    return _tail_ln_p_at(history, gain, i, size, ln_size, at)


@inline_kernel
def _tail_ln_p_at(history: FloatArray, gain: float, i: int, size: float, ln_size: float, at: int) -> tuple[float, float]:
    """tail_ln_p() of a size whose _log_bin() is ln_size and at."""
    row = history[i]
    # Four running sums of each, so that a row costs a quarter of the dependent additions (a
    # float32 bin is exact in float64, and the sums' order moves them by about 1e-16).
    t0 = t1 = t2 = t3 = a0 = a1 = a2 = a3 = 0.0
    for b in range(0, _N_BINS, 4):
        r0, r1, r2, r3 = float(row[b]), float(row[b + 1]), float(row[b + 2]), float(row[b + 3])
        t0 += r0
        t1 += r1
        t2 += r2
        t3 += r3
        a0 += r0 if b > at else 0.0
        a1 += r1 if b + 1 > at else 0.0
        a2 += r2 if b + 2 > at else 0.0
        a3 += r3 if b + 3 > at else 0.0
    total, above = (t0 + t1) + (t2 + t3), (a0 + a1) + (a2 + a3)
    if total <= 0.0:
        return 0.0, 0.0
    # Bin 0 and the top bin (no upper edge) count whole.
    inside = 1.0
    if 0 < at < _N_BINS - 1:
        ln_hi = _LN_EDGES[at + 1]
        inside = (ln_hi - ln_size) / (ln_hi - _LN_EDGES[at])
    share = (above + row[at] * min(max(inside, 0.0), 1.0)) / total
    if share >= _ANCHOR:
        return math.log(share), total / gain
    # The quantile q at the anchor share, found from the top; then the normal tail through it.
    want = _ANCHOR * total
    cumulative = 0.0
    q = size
    for b in range(_N_BINS - 1, -1, -1):
        if cumulative + row[b] >= want:
            lo_b, hi_b = _edge(b), _edge(b + 1) if b + 1 < _N_BINS else _edge(b) * math.exp(_BIN_WIDTH)
            part = (want - cumulative) / row[b]
            q = math.exp(math.log(hi_b) - part * (math.log(hi_b) - math.log(max(lo_b, _LO * math.exp(-_BIN_WIDTH)))))
            break
        cumulative += row[b]
    return normal_tail_log_p1(_Z_ANCHOR * size / max(q, 1e-300), 0), total / gain


# The relative error allowed for in _outside_tail: sums of up to 64 non-negative terms in any
# order, each within 63 units in the last place (2^-53) of the true sum, are far closer than this.
_SUM_MARGIN = 1e-9


@reassociating_kernel
def _outside_tail(history: FloatArray, i: int, at: int) -> bool:
    """Whether series i's history certainly holds at least its _ANCHOR share above bin at, which puts a statistic in bin at outside the tail.

    _tail_ln_p_at() then returns log(share) with share >= _ANCHOR, a ln p of at least
    LN_NORMAL. The history's total and its part above bin at are summed here in any order, on
    vector registers (some 10 ns, where _tail_ln_p_at's in-order sums take 55), so the test
    allows for their rounding with a margin and leaves a history near the anchor to them.
    """
    row = history[i]
    total = above = 0.0
    for b in range(_N_BINS):
        r = float(row[b])
        total += r
        above += r if b > at else 0.0
    return total > 0.0 and above >= _ANCHOR * (1.0 + _SUM_MARGIN) * total


@kernel
def deviate_sq(ln_p: float) -> float:
    """The squared normal deviate z^2 whose two-sided tail is e^ln_p (Newton's method on ln erfc)."""
    if ln_p >= 0.0:
        return 0.0
    z = math.sqrt(-2.0 * ln_p)  # above the root: the tail of z is below exp(-z^2 / 2)
    for _ in range(50):
        f = log_erfc1(z / math.sqrt(2.0)) - ln_p
        slope = -math.sqrt(2.0 / math.pi) * math.exp(-0.5 * z * z - log_erfc1(z / math.sqrt(2.0)))
        step = f / slope
        z = max(z - step, 0.5 * z)
        if abs(step) < 1e-10 * max(z, 1.0):
            break
    return z * z


@kernel
def join(ln_p_a: float, ln_p_b: float) -> float:
    """Ln p of two pieces of evidence together, as Elasticsearch joins single- and multi-bucket ones.

    ml-cpp's CJointProbabilityOfLessLikelySamples: each probability is read as a normal deviate
    and the sum of their squares is tested against the chi-squared distribution with 2 degrees
    of freedom, whose tail is exp(-s / 2).
    """
    return max(-0.5 * (deviate_sq(ln_p_a) + deviate_sq(ln_p_b)), LN_P_MIN)


@inline_kernel
def score_one(
    state: tuple[Any, ...], i: int, value: float, t_ms: int, span_ms: int, floor: float, side: int, out: FloatArray,
) -> tuple[float, int, int]:
    """Score series i's bucket value at t_ms without learning it.

    Args:
        state: Drift.state().
        i: the series.
        value: its bucket value.
        t_ms: bucket start.
        span_ms: the bucket span.
        floor: the series' residual variance floor, added to the spread.
        side: 0 both directions, +1 only above the profile, -1 only below.
        out: shape (4,), written: the clipped residual, the statistic (window mean / spread,
            signed; NaN until the feature has started), ln p reported (0 unless a drift is
            reported in this bucket) and the statistic's tail ln p (0 until started, and where the
            statistic lies certainly outside its history's 5 % tail: then the feature reads no
            more of it than that it is at least LN_NORMAL, the learning's test).

    Returns:
        What learn_one() reads again: the prediction, its regime (see predict()) and the
        statistic's history bin (0 until started), as recall() works them out.
    """
    window, history, scalars = state[2], state[3], state[4]
    n = int(scalars[i, SEEN])
    spread = _spread(scalars, i, floor)
    prediction, now = predict(state, i, t_ms, span_ms)
    e = value - prediction
    # Residuals against the level do not enter the window: they measure the pattern, not drift.
    usable = now >= 1 and scalars[i, SPREAD_WEIGHT] > 0.0
    out[0] = min(max(e, -_CLIP * spread), _CLIP * spread) if usable else 0.0
    out[1] = np.nan
    out[2] = 0.0
    out[3] = 0.0
    if scalars[i, PROFILED] + 1 < WINDOW + BASELINE // 2 or not usable or spread <= 0.0:
        return prediction, now, 0
    mean = (scalars[i, WINDOW_SUM] - window[i, n % WINDOW] + out[0]) / WINDOW
    stat = mean / spread
    out[1] = stat
    ln_size, at = _log_bin(abs(stat))
    # Outside the tail, the feature asks no more of ln p than that it is at least LN_NORMAL.
    if _outside_tail(history, i, at):
        return prediction, now, at
    ln_p, weight = _tail_ln_p_at(history, scalars[i, HISTORY_GAIN], i, abs(stat), ln_size, at)
    out[3] = ln_p
    blind = side != 0 and side * stat <= 0.0
    # A drift reported once is reported again only when its evidence has doubled (its p
    # squared), as a run of anomalous buckets is news again only when its score doubles.
    news = ln_p <= LN_FIRE and ln_p < _NEWS * scalars[i, REPORTED]
    if not blind and news and weight >= BASELINE / 2:
        out[2] = ln_p
    return prediction, now, at


@inline_kernel
def recall(state: tuple[Any, ...], i: int, t_ms: int, span_ms: int, scored: FloatArray) -> tuple[float, int, int]:
    """What score_one() returned for series i at t_ms, which wrote scored, worked out again (for a learn_one() apart from it)."""
    prediction, now = predict(state, i, t_ms, span_ms)
    stat = scored[1]
    return prediction, now, (0 if math.isnan(stat) else _log_bin(abs(stat))[1])


@inline_kernel
def _learn_bin(profile: FloatArray, i: int, h: int, tenths: int, most: int, value: float) -> None:
    """Teach bin h of series i's profile value at a weight of tenths tenths, its weight capped at most tenths."""
    weight = min(round(_TENTHS * profile[h, i, WEIGHT]) + tenths, most)
    profile[h, i, WEIGHT] = np.float32(weight / _TENTHS)
    profile[h, i, VALUE] += np.float32(tenths / weight * (value - profile[h, i, VALUE]))


@inline_kernel
def prefetch_window(state: tuple[Any, ...], i: int) -> None:
    """Prefetch the cache line of series i's window that score_one() reads and learn_one() writes (see compiled.prefetch)."""
    window, scalars = state[2], state[4]
    prefetch(window, i, int(scalars[i, SEEN]) % WINDOW)


@inline_kernel
def learn_one(
    state: tuple[Any, ...], i: int, value: float, t_ms: int, span_ms: int, history_decay: float, scored: FloatArray,
    scoring: tuple[float, int, int],
) -> None:
    """Learn series i's bucket value at t_ms, scored by score_one() into scored, shape (4,).

    Args:
        state: Drift.state().
        i: the series.
        value: its bucket value.
        t_ms: bucket start.
        span_ms: the bucket span.
        history_decay: the statistic history's decay per bucket.
        scored: what score_one() wrote.
        scoring: what score_one() returned (or recall()), so that nothing is worked out twice.
    """
    week, day, window, history, scalars = state
    prediction, now, at = scoring
    hour = t_ms // _HOUR_MS
    most = min(round(_TENTHS * _PROFILE_CYCLES * _cycle_visits(span_ms)), _MOST_TENTHS)
    spread_decay = 1.0 - 1.0 / BASELINE
    clipped, stat = scored[0], scored[1]
    n = int(scalars[i, SEEN])
    weight = 1.0
    spread_weight_now = 1.0
    if not math.isnan(stat):
        ln_p = scored[3]
        if scored[2] < 0.0:
            scalars[i, REPORTED] = scored[2]
        elif ln_p >= LN_NORMAL:
            scalars[i, REPORTED] = 0.0
        if ln_p < LN_NORMAL and scalars[i, REPORTED] == 0.0:
            weight = _TAIL_WEIGHT  # a drift not yet reported is not the new normal
        # The history learns a drift, reported or not, at the tail weight: one long drift
        # would otherwise make the next one ordinary (the rest of the tail in full, see above).
        history_weight = _TAIL_WEIGHT if ln_p <= LN_FIRE else 1.0
        spread_weight_now = history_weight  # see the module's notes on learning
        # The history decays by history_decay a bucket: weights grow by its inverse instead.
        g = scalars[i, HISTORY_GAIN] / history_decay
        if g > _REBASE_GAIN:
            for b in range(_N_BINS):
                history[i, b] = np.float32(history[i, b] / g)
            g = 1.0
        scalars[i, HISTORY_GAIN] = g
        history[i, at] += np.float32(history_weight * g)
    if now >= 1:
        # Residuals clipped at 3 spreads (a spike would hold the spread up for days), but
        # not before the spread has a first value.
        e = clipped if scalars[i, SPREAD_WEIGHT] > 0.0 else value - prediction
        scalars[i, SPREAD_WEIGHT] = spread_decay * scalars[i, SPREAD_WEIGHT] + spread_weight_now
        scalars[i, SPREAD_SUM_SQ] = spread_decay * scalars[i, SPREAD_SUM_SQ] + spread_weight_now * e * e
    scalars[i, PROFILED] = min(scalars[i, PROFILED] + 1.0, float(1 << 30)) if now >= 1 else 0.0
    # Each bin is a weighted mean of its visits, then an average over the last 3 cycles.
    tenths = round(_TENTHS * weight)
    _learn_bin(week, i, hour % _WEEK_HOURS, tenths, most, value)
    _learn_bin(day, i, hour % _DAY_HOURS, tenths, most, value)
    scalars[i, LEVEL] += weight / min(n + 1.0, BASELINE) * (value - scalars[i, LEVEL])
    slot = n % WINDOW
    kept = np.float32(clipped)
    scalars[i, WINDOW_SUM] += float(kept) - float(window[i, slot])
    window[i, slot] = kept
    scalars[i, SEEN] = n + 1.0
    if regime(n + 1, span_ms) != now:
        # A new predictor: the spread, the window and the statistic's history start afresh.
        scalars[i, SPREAD_WEIGHT], scalars[i, SPREAD_SUM_SQ], scalars[i, WINDOW_SUM] = 0.0, 0.0, 0.0
        scalars[i, HISTORY_GAIN], scalars[i, REPORTED], scalars[i, PROFILED] = 1.0, 0.0, 0.0
        window[i, :] = 0.0
        history[i, :] = 0.0


@kernel
def score(
    idx: Any, x: FloatArray, t_ms: int, span_ms: int, state: tuple[Any, ...], residual_: tuple[Any, ...], side: int,
    out: FloatArray,
) -> None:
    """score_one() of series idx, shape (k,), with values x, into out, shape (k, 4).

    residual_ is the Residual's scale_weight, scale_sum_sq, resolution and mean_abs, whose
    variance floor is added to the spread.
    """
    scale_weight, scale_sum_sq, resolution, mean_abs = residual_
    for k in range(len(idx)):
        _, floor = residual.variances(scale_weight, scale_sum_sq, resolution, mean_abs, idx[k])
        score_one(state, idx[k], x[k], t_ms, span_ms, floor, side, out[k])


@kernel
def learn(
    idx: Any, x: FloatArray, t_ms: int, span_ms: int, state: tuple[Any, ...], history_decay: float, scored: FloatArray,
) -> None:
    """learn_one() of series idx, shape (k,), with values x, scored by score() into scored, shape (k, 4)."""
    for k in range(len(idx)):
        scoring = recall(state, idx[k], t_ms, span_ms, scored[k])
        learn_one(state, idx[k], x[k], t_ms, span_ms, history_decay, scored[k], scoring)
