"""Seasonal components detected from the data: hourly, daily and weekly, each with an F test.

Every series keeps a few rings of recent values at coarse resolutions (the role of autodetect's
expanding windows of 336 points). On a staggered schedule each candidate period is tested on
the ring values minus the series' other active components:

* each cycle's own mean is removed, which absorbs slow level drift and partial first cycles;
* values further than 5 robust standard deviations out are clipped, so a lone spike cannot pass
  for a period;
* the share of variance explained by the per-phase means, R^2 = SSB / (SSB + SSW), and
  F = (SSB / (m - 1)) / (SSW / (N - m - cycles)) with the F tail from Paulson's approximation.

A component is switched on when R^2 >= 0.15 and p_F <= 1e-6 (the measured settings of
MODELING.md section 3), initialised from the mean-centred profile, and switched off when a
later test finds R^2 < 0.075; a component that stays moves halfway to each re-test's profile.
Components live in pools and only series with a component pay for its bins. Beside each
component's bins, its residual's spread per bin (residual.phase_scale) widens the residual's
variance at phases where large residuals recur.

A ring point is a 16-bit code: the ring's offset plus the code times its step, per series and
ring (a float32 point cost four bytes, and the rings were half of an old series' state). The
step is a 65,534th of one and a half times the ring's range, so a point decodes within 2e-5 of
the ring's range of its value (NAB and the tests' scores as with float32 points; 8-bit codes, within 0.6 %,
moved NAB standard by +0.2); the ring is re-fitted when a point falls outside it (with four
times its range of room, as a young ring's range grows with nearly every point), and when a
point is written at the series' own place in the ring (once a ring length) if the range has
shrunk to half, so a spike that left the ring no longer coarsens it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine import residual
from anomalyd.engine.compiled import inline_kernel, kernel
from anomalyd.engine.state import NEVER, Arrays
from anomalyd.engine.stats import FloatArray, f_test_log_p1

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS
RING_LENGTH = 336  # autodetect's window length for 1 min to 1 h spans
# A ring at the bucket span, one at >= 30 minutes (daily tests at short spans) and one at
# >= 2 hours (weekly tests): with 336 points they hold >= 28 h, 7 days and 28 days.
_RING_FLOORS_MS = (0, 30 * 60_000, 2 * HOUR_MS)
_PERIODS_MS = (HOUR_MS, DAY_MS, WEEK_MS)
_PERIODS = np.array(_PERIODS_MS, np.int64)
_MAX_BINS = (60, 288, 168)
_MIN_PHASES = 4
_MIN_CYCLES = 3
_TESTS_PER_RING = 8  # each candidate is re-tested every 1/8 of its ring's length
_ACCEPT_R2 = 0.15
_ACCEPT_LN_P = math.log(1e-6)
_DROP_R2 = 0.075
_MIN_EXPLAINED = 0.05
_CLIP_ROBUST_SD = 5.0
# Each visit moves a bin by this share of the residual; slower for periods under a day, whose
# bins are visited more often (MODELING.md section 2).
_RATE = 0.05
_REFRESH = 0.5  # the share of a re-test's profile an active component takes (NAB standard +0.7)
CODE = np.int16  # a ring point's type
MISSING = -32768  # the code of a ring point without a value
_MOST_CODE = 32767
_HEADROOM = 1.5  # a fitted ring spans its range times this, so a slightly wider point fits
# A ring that a point outgrew is re-fitted with more room: a young ring's range grows with nearly
# every point, and each re-fit decodes and codes the whole ring. Its next narrowing check (a ring
# length later at most) takes it back to _HEADROOM.
_GROWTH_HEADROOM = 4.0
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_RELATIVE_STEP = 2.0**-22  # the least step, relative to the values: float32's own precision

Ring = tuple[NDArray[np.int16], NDArray[np.float32], NDArray[np.float32]]
"""Ring points of S series: codes shape (S, rings, RING_LENGTH), offset and step shape (S, rings);
a point is offset + code * step, NaN where its code is MISSING."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A period that can be tested at this bucket span.

    Attributes:
        component: index into the periods (0 hour, 1 day, 2 week).
        period_ms: the period.
        ring: the ring the test reads.
        phases: points per period in that ring.
        bins: bins of the component.
        every: the test interval, in buckets.
    """

    component: int
    period_ms: int
    ring: int
    phases: int
    bins: int
    every: int


@dataclass(frozen=True, slots=True)
class TestOutcome:
    """What a round of tests changed, for the caller's level and variance.

    Attributes:
        series: shape (k,), series whose components changed.
        level_shift: shape (k,), what the level must gain for predictions to stay continuous: a
            component switched on takes its recent values out of the level, one switched off
            hands them back, one refreshed hands back what its recent values lost.
        added: shape (k,), True where a component was switched on.
    """

    series: NDArray[np.intp]
    level_shift: FloatArray
    added: NDArray[np.bool_]


FollowPlan = tuple[int, int, int, int, NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]
"""Where follow_moved_phase looks one cycle back: the bucket-span ring, the bucket start t_ms, that
ring's current point, the span; the components to try and their periods, shape (k,); every
component's bins, shape (3,)."""


_UNCHANGED = TestOutcome(np.zeros(0, np.intp), np.zeros(0), np.zeros(0, bool))


def row_bytes(array: NDArray[np.generic]) -> int:
    """Bytes of one row (first-axis entry) of an array, whatever its length."""
    return array.itemsize * math.prod(array.shape[1:])


Cover = tuple[NDArray[np.intp], NDArray[np.intp], FloatArray]
"""The overlaps of intervals with the bins of a period: (interval, bin, share of the interval)."""


def coverage(starts_ms: FloatArray, width_ms: float, period_ms: float, bins: int) -> Cover:
    """The share of each interval [start, start + width) that falls in each bin of a period.

    Args:
        starts_ms: shape (k,), interval starts (any epoch ms; taken modulo the period).
        width_ms: interval length.
        period_ms: the period, split into equal bins.
        bins: number of bins.

    Returns:
        Every overlap: its interval, its bin and the share of the interval in the bin; the
        shares of an interval sum to 1.
    """
    k = len(starts_ms)
    if width_ms >= period_ms:
        return np.repeat(np.arange(k), bins), np.tile(np.arange(bins), k), np.full(k * bins, 1.0 / bins)
    most = k * (int(width_ms // (period_ms / bins)) + 2)
    interval, part, share = np.empty(most, np.intp), np.empty(most, np.intp), np.empty(most)
    n = _overlaps(np.mod(starts_ms, period_ms), width_ms, period_ms, bins, interval, part, share)
    return interval[:n], part[:n], share[:n]


@kernel
def _overlaps(
    starts: FloatArray, width: float, period: float, bins: int,
    interval: NDArray[np.intp], part: NDArray[np.intp], share: FloatArray,
) -> int:
    step = period / bins
    n = 0
    for i in range(len(starts)):
        s = starts[i]
        b = int(s // step)
        while b * step < s + width:  # bins past the end of the period are its first ones again
            lo, hi = max(s, b * step), min(s + width, (b + 1) * step)
            if hi > lo:
                interval[n], part[n], share[n] = i, b % bins, (hi - lo) / width
                n += 1
            b += 1
    return n


def times_cover(rows: FloatArray, cover: Cover, intervals: int) -> FloatArray:
    """The value of each interval given values per bin: rows weighted by the bins' shares.

    Args:
        rows: shape (k, bins), values per bin.
        cover: coverage() of the intervals.
        intervals: the number of intervals.

    Returns:
        shape (k, intervals).
    """
    out = np.zeros((len(rows), intervals))
    _add_covered(np.ascontiguousarray(rows, np.float64), *cover, out)
    return out


@kernel
def _add_covered(rows: FloatArray, point: NDArray[np.intp], part: NDArray[np.intp], share: FloatArray, out: FloatArray) -> None:
    # A small product is a loop: a BLAS call costs milliseconds when its threads wait for cores.
    for r in range(len(rows)):
        for j in range(len(point)):
            out[r, point[j]] += rows[r, part[j]] * share[j]


Others = tuple[
    NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.intp], FloatArray
]
"""The other components a test takes out of the ring points, and where their bins fall on them.

A point's overlaps with a component's bins depend only on where it starts in the period, so
they are listed once a distinct start: the components, shape (m,); the bounds of each one's
distinct starts, shape (m + 1,); each point's distinct start, shape (m, L); the bounds of each
distinct start's overlaps, shape (starts + 1,); and the overlaps' bins and shares (coverage()).
"""


def periodic_profile(
    rings: Ring, ring: int, rows: NDArray[np.intp], points: NDArray[np.int64], phases: int,
    others: Others, slot: NDArray[np.int32], pools: tuple[NDArray[np.float32], ...],
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Test ring points of series, less their other active components, for a period with the one-way ANOVA F test.

    Args:
        rings: the rings.
        ring: the ring the test reads.
        rows: shape (k,), the series tested.
        points: shape (L,), the ring's points read (absolute numbers), in time order.
        phases: points per period.
        others: the components taken out of the points where a series has them.
        slot: each series' pool row of each component, -1 where it has none.
        pools: each component's bins.

    Returns:
        R^2, shape (k,), NaN when there is too little data (fewer than 3 cycles or 3 points per
        phase); ln p of the F test, shape (k,); the variance the profile explains per point,
        shape (k,); the per-phase mean profile, shape (k, phases).
    """
    k = len(rows)
    out = (np.empty(k), np.empty(k), np.empty(k), np.empty((k, phases)))
    cycle = points // phases
    _profile_rows(rings, ring, rows, points % RING_LENGTH, points % phases, cycle - cycle[0], others, slot, pools, *out)
    return out


@kernel
def _profile_rows(
    rings: Ring, ring: int, rows: NDArray[np.intp], positions: NDArray[np.int64], phase: NDArray[np.int64],
    cycle: NDArray[np.int64], others: Others, slot: NDArray[np.int32], pools: tuple[NDArray[np.float32], ...],
    r2: FloatArray, ln_p: FloatArray, explained: FloatArray, profile: FloatArray,
) -> None:
    """periodic_profile() series by series, writing its four results."""
    components, start_of = others[0], others[2]
    length, n_cycles = len(positions), cycle[-1] + 1
    y, taken = np.empty(length), np.empty(others[1][-1])
    scratch = (np.empty(n_cycles), np.empty(n_cycles), np.empty(length), np.empty(length), np.empty(profile.shape[1]))
    for r in range(len(rows)):
        i = rows[r]
        _decode_row(rings, i, ring, positions, y)
        _take_others(others, slot, pools, i, taken)
        for o in range(len(components)):
            if slot[i, components[o]] >= 0:
                for p in range(length):
                    y[p] -= taken[start_of[o, p]]
        r2[r], ln_p[r], explained[r] = _anova(y, phase, cycle, scratch, profile[r])


@inline_kernel
def _take_others(others: Others, slot: NDArray[np.int32], pools: tuple[NDArray[np.float32], ...], i: int, taken: FloatArray) -> None:
    """Write the sum of series i's other active components over each of their distinct starts to taken."""
    components, firsts, _, bounds, part, share = others
    for o in range(len(components)):
        s = slot[i, components[o]]
        if s >= 0:
            pool = pools[components[o]]
            for u in range(firsts[o], firsts[o + 1]):
                value = 0.0
                for j in range(bounds[u], bounds[u + 1]):
                    value += float(pool[s, part[j]]) * share[j]
                taken[u] = value


@inline_kernel
def _anova(
    y: FloatArray, phase: NDArray[np.int64], cycle: NDArray[np.int64],
    scratch: tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray], profile: FloatArray,
) -> tuple[float, float, float]:
    """R^2, ln p and the explained variance of one row of values y of periodic_profile(), writing its profile.

    Every sum runs in point order from 0.0, as the one loop a sum a plain reading would write.
    """
    per_cycle, cycle_mean, dev, spread, n_phase = scratch
    n = _cycle_means(y, cycle, per_cycle, cycle_mean)
    # Each cycle's own mean is removed, which absorbs slow level drift and partial cycles;
    # values beyond 5 robust standard deviations are clipped, so a lone spike is no period.
    n_phase[:] = 0.0
    profile[:] = 0.0
    total_sq, top, m = 0.0, 0.0, 0
    for p in range(len(y)):
        dev[p] = 0.0
        if not math.isnan(y[p]):
            dev[p] = y[p] - cycle_mean[cycle[p]]
            spread[m] = abs(dev[p])
            top = max(top, spread[m])
            m += 1
            n_phase[phase[p]] += 1.0
            profile[phase[p]] += dev[p]
            total_sq += dev[p] * dev[p]
    bound = _clip_bound(spread, n, top)
    if 0.0 < bound < math.inf:
        profile[:] = 0.0
        total_sq = 0.0
        for p in range(len(y)):
            dev[p] = min(max(dev[p], -bound), bound)
            profile[phase[p]] += dev[p]
            total_sq += dev[p] * dev[p]
    cycles = 0
    for c in range(len(per_cycle)):
        cycles += per_cycle[c] > 0.0
    return _f_test(profile, n_phase, total_sq, n, cycles)


@inline_kernel
def _f_test(profile: FloatArray, n_phase: FloatArray, total_sq: float, n: int, cycles: int) -> tuple[float, float, float]:
    """R^2, ln p and the explained variance of a row's per-phase sums and sum of squares; profile becomes the centred means."""
    phases = len(profile)
    ssb = 0.0
    weighted = 0.0
    for q in range(phases):
        profile[q] /= max(n_phase[q], 1.0)
        ssb += n_phase[q] * profile[q] * profile[q]
        weighted += profile[q] * n_phase[q]
    profile[:] -= weighted / max(n, 1.0)
    ssw = max(total_sq - ssb, 0.0)
    d2 = n - phases - cycles
    enough = cycles >= _MIN_CYCLES and n >= _MIN_CYCLES * phases and d2 > 0
    total = ssb + ssw
    r2 = ssb / (total if total > 0.0 else 1.0) if enough else np.nan
    f = (ssb / (phases - 1)) / (ssw / max(d2, 1.0))
    ln_p = f_test_log_p1(min(f, 1e300), phases - 1.0, max(d2, 1.0)) if enough and ssb > 0.0 else 0.0
    return r2, ln_p, ssb / max(n, 1.0)


@inline_kernel
def _cycle_means(y: FloatArray, cycle: NDArray[np.int64], per_cycle: FloatArray, cycle_mean: FloatArray) -> int:
    """Write the values of each cycle (a run of points) and their mean; return the values in all."""
    n, count, total, c = 0, 0.0, 0.0, 0
    for p in range(len(y)):
        if cycle[p] != c:
            per_cycle[c], cycle_mean[c] = count, total / max(count, 1.0)
            c, count, total = cycle[p], 0.0, 0.0
        if not math.isnan(y[p]):
            count += 1.0
            total += y[p]
            n += 1
    per_cycle[c], cycle_mean[c] = count, total / max(count, 1.0)
    return n


@inline_kernel
def _clip_bound(spread: FloatArray, n: int, top: float) -> float:
    """The clip bound of n absolute deviations, the largest top: 5 robust standard deviations, inf where it clips none.

    The median is a selection over the row; when fewer than half the deviations lie below the
    largest one's 5 robust standard deviations (with room for rounding), the median cannot be
    small enough for the bound to clip any, which is the usual case and needs no selection.
    """
    if top > 1e-290:
        least = top / (_CLIP_ROBUST_SD * 1.4826) * (1.0 + 1e-9)
        below = 0
        for p in range(n):
            below += spread[p] < least
        if below <= (n - 1) // 2:
            return math.inf
    return _CLIP_ROBUST_SD * 1.4826 * (np.median(spread[:n]) if n else 0.0)


def _candidates(span_ms: int, ring_ms: list[int]) -> list[Candidate]:
    """The periods testable at span_ms, each in the finest ring that holds 3 cycles of it."""
    found = []
    for component, (period, max_bins) in enumerate(zip(_PERIODS_MS, _MAX_BINS, strict=True)):
        for ring, res in enumerate(ring_ms):
            phases = period // res
            if period % res == 0 and phases >= _MIN_PHASES and RING_LENGTH * res >= _MIN_CYCLES * period:
                every = max(1, RING_LENGTH * res // (_TESTS_PER_RING * span_ms))
                bins = min(-(-period // span_ms), max_bins)
                found.append(Candidate(component, period, ring, phases, bins, every))
                break
    return found


class Seasonality:
    """Rings of recent values and the detected seasonal components of S series.

    Args:
        span_ms: the bucket span.
        capacity: initial number of series.

    Example:
        >>> s = Seasonality(3_600_000, 1)
        >>> [c.period_ms // 3_600_000 for c in s.candidates]
        [24, 168]
        >>> s.phases(30 * 3_600_000).tolist()
        [0, 6, 30]
    """

    def __init__(self, span_ms: int, capacity: int) -> None:
        self.span = span_ms
        resolutions = sorted({max(span_ms, floor) for floor in _RING_FLOORS_MS})
        self.candidates = _candidates(span_ms, resolutions)
        # Keep only the rings some test reads, renumbered.
        used = sorted({c.ring for c in self.candidates})
        self.ring_ms = [resolutions[r] for r in used]
        self.candidates = [
            Candidate(c.component, c.period_ms, used.index(c.ring), c.phases, c.bins, c.every)
            for c in self.candidates
        ]
        n_rings = len(self.ring_ms)
        self.rings: Ring = _empty_rings(capacity, n_rings)
        self.acc_sum = np.zeros((capacity, n_rings))
        self.acc_n = np.zeros((capacity, n_rings), dtype=np.float32)
        self.point = np.full(n_rings, NEVER, dtype=np.int64)
        self.slot = np.full((capacity, len(_PERIODS_MS)), -1, dtype=np.int32)
        self.bins = [next((c.bins for c in self.candidates if c.component == k), 1) for k in range(3)]
        self._bins = np.array(self.bins, np.int64)
        self.pools = [np.zeros((0, b), dtype=np.float32) for b in self.bins]
        # Each visit moves a bin by this share of the residual (MODELING.md section 2).
        self.rates = np.array([_RATE * min(1.0, p / DAY_MS) for p in _PERIODS_MS])
        self.pool_used = [np.zeros(0, dtype=bool) for _ in self.bins]
        self.spreads = [residual.new_spreads(0, b) for b in self.bins]
        self._ring_ms = np.array(self.ring_ms, np.int64)
        self._every = [c.every for c in self.candidates]
        self._every_array = np.array(self._every, np.int64)
        self._span_ring = self.ring_ms.index(span_ms) if span_ms in self.ring_ms else 0
        follow = [
            c for c in self.candidates
            if span_ms in self.ring_ms and c.bins == c.period_ms // span_ms and not c.period_ms % span_ms
        ]
        self._follow_components = np.array([c.component for c in follow], np.int64)
        self._follow_periods = np.array([c.period_ms for c in follow], np.int64)
        self._component_bytes: int | None = None

    def bytes_per_series(self) -> int:
        """Bytes every series costs, whatever its components."""
        return sum(row_bytes(a) for a in (*self.rings, self.acc_sum, self.acc_n, self.slot))

    def component_bytes(self) -> int:
        """Bytes of the components in use."""
        if self._component_bytes is None:
            # A row of a pool and of its spreads (one more cell: their sum), float32 each.
            self._component_bytes = sum(
                int(np.count_nonzero(u)) * (2 * b + 1) * 4 for u, b in zip(self.pool_used, self.bins, strict=True)
            )
        return self._component_bytes

    def grow(self, capacity: int) -> None:
        """Make room for capacity series; new series have empty rings and no components."""
        extra = capacity - len(self.slot)
        if extra > 0:
            more = _empty_rings(extra, len(self.ring_ms))
            self.rings = tuple(np.concatenate([a, b]) for a, b in zip(self.rings, more, strict=True))  # type: ignore[assignment]
            self.acc_sum = np.concatenate([self.acc_sum, np.zeros((extra, self.acc_sum.shape[1]))])
            self.acc_n = np.concatenate([self.acc_n, np.zeros((extra, self.acc_n.shape[1]), np.float32)])
            self.slot = np.concatenate([self.slot, np.full((extra, self.slot.shape[1]), -1, np.int32)])

    def phases(self, t_ms: int) -> NDArray[np.int64]:
        """Shape (3,): each component's bin at bucket start t_ms."""
        phases: NDArray[np.int64] = (t_ms % _PERIODS) * self._bins // _PERIODS
        return phases

    def follow_plan(self, t_ms: int) -> FollowPlan:
        """What follow_moved_phase reads one cycle before bucket t_ms (after roll() to it).

        The components tried are those whose bins are buckets, when a ring is at the bucket
        span; follow_moved_phase skips those whose last cycle the ring no longer holds.
        """
        ring = self._span_ring
        return ring, t_ms, int(self.point[ring]), self.span, self._follow_components, self._follow_periods, self._bins

    def run_state(self) -> tuple[Any, ...]:
        """What run_bucket reads: ring resolutions, points, test intervals, span and follow plan parts."""
        return (
            self._ring_ms, self.point, self._every_array, self.span, self._span_ring,
            self._follow_components, self._follow_periods, self._bins,
        )

    def roll(self, t_ms: int, n_series: int) -> None:
        """Move the rings to the bucket starting at t_ms: close their points that ended before it."""
        _roll(self.rings, self.acc_sum, self.acc_n, self.point, self._ring_ms, t_ms, n_series)

    def due(self, t_ms: int, n_series: int) -> bool:
        """Whether a periodicity test of some series is due at the bucket starting at t_ms."""
        bucket = t_ms // self.span
        return any((-bucket) % every < n_series for every in self._every)

    def advance(self, t_ms: int, n_series: int, error_var: FloatArray, level_rate: float) -> TestOutcome:
        """Run the tests that are due at the bucket starting at t_ms, after roll() to it.

        Args:
            t_ms: the start of the bucket about to be processed.
            n_series: the number of series in use.
            error_var: shape (n_series,), each series' current prediction error variance.
            level_rate: the level's EWMA rate per bucket, to hand components' recent values
                between level and component when they come and go.

        Returns:
            The series whose components changed and how.
        """
        bucket = t_ms // self.span
        # Series are tested in turn, those whose index is due this bucket.
        outcomes = [
            self._test(c, np.arange((-bucket) % c.every, n_series, c.every), t_ms, error_var, level_rate)
            for c in self.candidates if (-bucket) % c.every < n_series
        ]
        outcomes = [o for o in outcomes if len(o.series)]
        if len(outcomes) < 2:
            return outcomes[0] if outcomes else _UNCHANGED
        return TestOutcome(
            np.concatenate([o.series for o in outcomes] + [np.zeros(0, np.intp)]),
            np.concatenate([o.level_shift for o in outcomes] + [np.zeros(0)]),
            np.concatenate([o.added for o in outcomes] + [np.zeros(0, bool)]),
        )

    def _recent(self, cand: Candidate, rows: NDArray[np.intp], t_ms: int, level_rate: float) -> FloatArray:
        """Shape (k,): pool rows' EWMA over the buckets before t_ms, as the level has seen them."""
        if not len(rows):
            return np.zeros(0)
        lags = np.arange(1, int(3 / level_rate) + 1)
        weights = level_rate * (1.0 - level_rate) ** (lags - 1)
        phases = ((t_ms - lags * self.span) % cand.period_ms) * cand.bins // cand.period_ms
        recent: FloatArray = self.pools[cand.component][rows][:, phases].astype(np.float64) @ (weights / weights.sum())
        return recent

    def _others(self, cand: Candidate, points: NDArray[np.int64]) -> Others:
        """The components other than cand's, and where their bins fall on cand's ring points."""
        res = self.ring_ms[cand.ring]
        others = [c for c in self.candidates if c is not cand]
        firsts, start_of, bounds, parts, shares = [0], [], [np.zeros(1, np.int64)], [], []
        for c in others:
            starts, start_of_point = np.unique(np.mod((points * res).astype(np.float64), c.period_ms), return_inverse=True)
            interval, part, share = coverage(starts, res, c.period_ms, c.bins)
            start_of.append(firsts[-1] + start_of_point)
            bounds.append(bounds[-1][-1] + np.cumsum(np.bincount(interval, minlength=len(starts))))
            firsts.append(firsts[-1] + len(starts))
            parts.append(part)
            shares.append(share)
        return (
            np.array([c.component for c in others], np.int64), np.array(firsts, np.int64),
            np.array(start_of, np.int64).reshape(len(others), len(points)), np.concatenate(bounds),
            np.concatenate([*parts, np.zeros(0, np.intp)]), np.concatenate([*shares, np.zeros(0)]),
        )

    def _test(
        self, cand: Candidate, due: NDArray[np.intp], t_ms: int, error_var: FloatArray, level_rate: float
    ) -> TestOutcome:
        current = int(self.point[cand.ring])
        if not len(due) or current == NEVER:
            return _UNCHANGED
        points = np.arange(current - RING_LENGTH, current)
        r2, ln_p, explained, profile = periodic_profile(
            self.rings, cand.ring, due, points, cand.phases, self._others(cand, points), self.slot, tuple(self.pools)
        )
        slot = self.slot[due, cand.component]
        on = slot >= 0
        # Amplitude test: a component must also cut the prediction error variance noticeably;
        # without it a noise-free series would find "significant" periods in its rounding.
        accept = ~on & (r2 >= _ACCEPT_R2) & (ln_p <= _ACCEPT_LN_P) & (explained >= _MIN_EXPLAINED * error_var[due])
        if not on.any() and not accept.any():
            return _UNCHANGED
        drop = on & (r2 < _DROP_R2)
        shift = self._recent(cand, slot[drop], t_ms, level_rate)
        step = cand.period_ms / cand.bins
        starts = np.arange(cand.bins, dtype=np.float64) * step
        to_bins = coverage(starts, step, cand.period_ms, cand.phases)
        # A component that stays moves halfway to the profile just measured: bin learning alone
        # is too slow to follow a pattern that changed (an hourly spike that moved, a new shape).
        stay = on & ~drop
        kept = slot[stay]
        before = self._recent(cand, kept, t_ms, level_rate)
        pool = self.pools[cand.component]
        pool[kept] = (1.0 - _REFRESH) * pool[kept] + _REFRESH * times_cover(profile[stay], to_bins, cand.bins)
        refresh_shift = before - self._recent(cand, kept, t_ms, level_rate)
        used, spreads = self.pool_used[cand.component], self.spreads[cand.component]
        used[slot[drop]] = False
        self.slot[due[drop], cand.component] = -1
        n_new = int(accept.sum())
        free = np.flatnonzero(~used)
        if len(free) < n_new:
            grow = max(n_new - len(free), len(used))
            pool = np.concatenate([pool, np.zeros((grow, cand.bins), np.float32)])
            spreads = np.concatenate([spreads, residual.new_spreads(grow, cand.bins)])
            used = np.concatenate([used, np.zeros(grow, bool)])
            free = np.flatnonzero(~used)
        new = free[:n_new]
        pool[new] = times_cover(profile[accept], to_bins, cand.bins)
        spreads[new] = residual.new_spreads(1, cand.bins)  # a new component starts from the series' own spread
        used[new] = True
        self.slot[due[accept], cand.component] = new
        self.pools[cand.component], self.pool_used[cand.component] = pool, used
        self.spreads[cand.component] = spreads
        self._component_bytes = None
        return TestOutcome(
            np.concatenate([due[drop], due[accept], due[stay]]),
            np.concatenate([shift, -self._recent(cand, new, t_ms, level_rate), refresh_shift]),
            np.concatenate([np.zeros(len(shift), bool), np.ones(n_new, bool), np.zeros(len(kept), bool)]),
        )

    def ring_values(self, rows: NDArray[np.intp], ring: int, positions: NDArray[np.int64] | None = None) -> FloatArray:
        """Shape (k, p): the points of ring ring of series rows at positions (default all, in ring order), NaN where missing."""
        at = np.arange(RING_LENGTH) if positions is None else positions
        values = np.empty((len(rows), len(at)))
        _decode(self.rings, np.asarray(rows, np.intp), ring, np.asarray(at, np.int64), values)
        return values

    def arrays(self, rows: int) -> Arrays:
        """The state of the first rows series as named arrays (capacity beyond them is not kept)."""
        codes, offset, step = self.rings
        out: Arrays = {
            "acc_sum": self.acc_sum[:rows], "acc_n": self.acc_n[:rows], "point": self.point, "slot": self.slot[:rows],
            "ring_offset": offset[:rows], "ring_step": step[:rows],
        }
        for r in range(len(self.ring_ms)):
            # Ring positions without a value in any series (most of a young job's rings) are
            # left out: ring{r} holds shape (rows, k) codes at the k positions in ring_points{r}.
            written = np.flatnonzero((codes[:rows, r] != MISSING).any(axis=0))
            out[f"ring_points{r}"] = written.astype(np.int16)
            out[f"ring{r}"] = codes[:rows, r, written]
        for k, used in enumerate(self.pool_used):
            # Free rows after the last used one are left out; new components take the lowest
            # free rows, so growing the pool again hands out the same rows.
            end = int(np.flatnonzero(used)[-1]) + 1 if used.any() else 0
            out[f"pool{k}"] = self.pools[k][:end]
            out[f"pool_used{k}"] = used[:end]
            out[f"spread{k}"] = self.spreads[k][:end]
        return out

    def load(self, arrays: Arrays) -> None:
        """Restore the state written by arrays(), or by older job state versions.

        Versions up to 9 kept float32 ring points (coded here); versions up to 11 had no spreads.
        """
        self.acc_sum, self.acc_n = arrays["acc_sum"], arrays["acc_n"]
        self.point, self.slot = arrays["point"], arrays["slot"]
        shape = (len(self.slot), len(self.ring_ms), RING_LENGTH)
        if "ring_offset" not in arrays:
            values = np.full(shape, np.nan)
            for r in range(len(self.ring_ms)):
                values[:, r, arrays[f"ring_points{r}"]] = arrays[f"ring{r}"]
            self.rings = _empty_rings(len(self.slot), len(self.ring_ms))
            _encode_all(values, self.rings)
        else:
            codes = np.full(shape, MISSING, CODE)
            for r in range(len(self.ring_ms)):
                codes[:, r, arrays[f"ring_points{r}"]] = arrays[f"ring{r}"]
            self.rings = (codes, arrays["ring_offset"], arrays["ring_step"])
        self.pools = [arrays[f"pool{k}"] for k in range(len(self.pools))]
        self.pool_used = [arrays[f"pool_used{k}"] for k in range(len(self.pools))]
        # Job states before version 12 had no spreads: each component starts from the series' own.
        self.spreads = [
            arrays[f"spread{k}"] if f"spread{k}" in arrays else residual.new_spreads(len(pool), pool.shape[1])
            for k, pool in enumerate(self.pools)
        ]
        self._component_bytes = None


def _empty_rings(capacity: int, n_rings: int) -> Ring:
    return (
        np.full((capacity, n_rings, RING_LENGTH), MISSING, CODE),
        np.zeros((capacity, n_rings), np.float32),
        np.zeros((capacity, n_rings), np.float32),
    )


@inline_kernel
def ring_value(rings: Ring, i: int, ring: int, p: int) -> float:
    """Series i's point p of ring ring, NaN where missing."""
    codes, offset, step = rings
    c = codes[i, ring, p]
    return np.nan if c == MISSING else float(offset[i, ring]) + float(c) * float(step[i, ring])


@inline_kernel
def _codable(x: float) -> bool:
    """Whether a ring keeps x: NaN is no value, and a mean beyond float32 (from +-1e308 values) none the tests can use."""
    return abs(x) <= _FLOAT32_MAX


@inline_kernel
def _decode_row(rings: Ring, i: int, ring: int, positions: NDArray[np.int64], out: FloatArray) -> None:
    """Write series i's points at positions of ring ring to out, as ring_value() (reading the offset and step once)."""
    codes, offset, step = rings
    off, st = float(offset[i, ring]), float(step[i, ring])
    for j in range(len(positions)):
        c = codes[i, ring, positions[j]]
        out[j] = np.nan if c == MISSING else off + float(c) * st


@kernel
def _decode(rings: Ring, rows: NDArray[np.intp], ring: int, positions: NDArray[np.int64], out: FloatArray) -> None:
    """Write the points at positions of ring ring of series rows to out, shape (k, p)."""
    for k in range(len(rows)):
        _decode_row(rings, rows[k], ring, positions, out[k])


@kernel
def _fit(values: FloatArray, headroom: float) -> tuple[float, float]:
    """The offset and step that code values (others than _codable() left out): the range's middle, and its half times headroom per code."""
    lo, hi = math.inf, -math.inf
    for x in values:
        if _codable(x):
            lo, hi = min(lo, x), max(hi, x)
    if lo > hi:
        return 0.0, 0.0
    half = 0.5 * hi - 0.5 * lo
    step = max(half * headroom / _MOST_CODE, max(abs(lo), abs(hi)) * _RELATIVE_STEP)
    return float(np.float32(0.5 * lo + 0.5 * hi)), float(np.float32(step))


@inline_kernel
def _code(x: float, offset: float, step: float) -> float:
    """The steps from offset to x, unrounded and within +-2 ** 30 (beyond every code where a zero step cannot code x)."""
    d = x - offset
    q = d / step if step > 0.0 else (0.0 if d == 0.0 else math.copysign(math.inf, d))
    return min(max(q, -(2.0**30)), 2.0**30)


@kernel
def _encode(values: FloatArray, rings: Ring, i: int, ring: int, headroom: float) -> None:
    """Fit series i's ring ring to values, shape (RING_LENGTH,), with headroom, and code them."""
    codes, offset, step = rings
    off, st = _fit(values, headroom)
    offset[i, ring], step[i, ring] = off, st
    for p in range(RING_LENGTH):
        x = values[p]
        if not _codable(x):
            codes[i, ring, p] = MISSING
        else:
            codes[i, ring, p] = min(max(round(_code(x, off, st)), -_MOST_CODE), _MOST_CODE)


@kernel
def _encode_all(values: FloatArray, rings: Ring) -> None:
    """Code values, shape (S, rings, RING_LENGTH), into rings, each series' ring fitted to its own."""
    for i in range(values.shape[0]):
        for ring in range(values.shape[1]):
            _encode(values[i, ring], rings, i, ring, _HEADROOM)


@inline_kernel
def _put(rings: Ring, i: int, ring: int, p: int, x: float, buffer: FloatArray) -> None:
    """Write x to series i's point p of ring ring, re-fitting the ring when x is outside it or it can narrow.

    buffer, shape (RING_LENGTH,), is scratch space.
    """
    codes, offset, step = rings
    if not _codable(x):
        codes[i, ring, p] = MISSING
        return
    st = float(step[i, ring])
    q = _code(x, float(offset[i, ring]), st)
    fits = abs(q) <= _MOST_CODE
    if fits and p != i % RING_LENGTH:
        codes[i, ring, p] = round(q)
        return
    for k in range(RING_LENGTH):
        buffer[k] = ring_value(rings, i, ring, k)
    buffer[p] = x
    # Once a ring length, at the series' own place, the ring narrows if its range halved.
    if fits and _fit(buffer, _HEADROOM)[1] >= 0.5 * st:
        codes[i, ring, p] = round(q)
        return
    _encode(buffer, rings, i, ring, _HEADROOM if fits else _GROWTH_HEADROOM)


@kernel
def _roll(
    rings: Ring, acc_sum: FloatArray, acc_n: NDArray[np.float32], point: NDArray[np.int64], ring_ms: NDArray[np.int64],
    t_ms: int, n_series: int,
) -> None:
    """Seasonality.roll(): each ring's point that ended takes its mean (missing without values), skipped ones missing."""
    codes = rings[0]
    buffer = np.empty(RING_LENGTH)
    for ring in range(len(ring_ms)):
        now = t_ms // ring_ms[ring]
        last = point[ring]
        if last != NEVER and now > last:
            gap = min(now - last - 1, RING_LENGTH)
            for i in range(n_series):
                n = acc_n[i, ring]
                _put(rings, i, ring, last % RING_LENGTH, acc_sum[i, ring] / n if n > 0 else np.nan, buffer)
                for j in range(gap):
                    codes[i, ring, (last + 1 + j) % RING_LENGTH] = MISSING
                acc_sum[i, ring] = 0.0
                acc_n[i, ring] = 0.0
        point[ring] = max(now, last)


@kernel
def run_bucket(
    rings: Ring, acc_sum: FloatArray, acc_n: NDArray[np.float32], run: tuple[Any, ...],
    t_ms: int, n_series: int, roll: bool, phases: NDArray[np.int64],
) -> tuple[bool, FollowPlan]:
    """In a compiled loop over buckets: roll the rings to t_ms (if roll) and write the bins at t_ms to phases.

    Args:
        rings: the Seasonality's rings.
        acc_sum: its acc_sum.
        acc_n: its acc_n.
        run: its run_state().
        t_ms: the bucket start.
        n_series: the number of series in use.
        roll: whether to roll the rings (not when they were rolled before the tests ran).
        phases: shape (3,), written.

    Returns:
        Whether a periodicity test is due (the caller leaves the loop to run it, then comes back
        with roll False), and the bucket's follow plan.
    """
    ring_ms, point, every, span, span_ring, components, periods, bins = run
    if roll:
        _roll(rings, acc_sum, acc_n, point, ring_ms, t_ms, n_series)
    due = False
    bucket = t_ms // span
    for e in every:
        due |= (-bucket) % e < n_series
    for k in range(len(_PERIODS_MS)):
        phases[k] = t_ms % _PERIODS[k] * bins[k] // _PERIODS[k]
    return roll and due, (span_ring, t_ms, point[span_ring], span, components, periods, bins)


@kernel
def predict(slot: NDArray[np.int32], pools: tuple[NDArray[np.float32], ...], i: int, phases: NDArray[np.int64]) -> float:
    """The sum of series i's active components at the bins phases, shape (3,)."""
    out = 0.0
    for c in range(len(phases)):
        s = slot[i, c]
        if s >= 0:
            out += pools[c][s, phases[c]]
    return out


@kernel
def learn(
    slot: NDArray[np.int32], pools: tuple[NDArray[np.float32], ...], i: int, phases: NDArray[np.int64], rates: FloatArray, delta: float
) -> None:
    """Move series i's active bins at phases towards its residual delta, shared among them."""
    share = 0
    for c in range(len(phases)):
        share += slot[i, c] >= 0
    share = max(share, 1)
    for c in range(len(phases)):
        s = slot[i, c]
        if s >= 0:
            pools[c][s, phases[c]] += np.float32(rates[c] * delta / share)


@kernel
def follow_moved_phase(
    slot: NDArray[np.int32], pools: tuple[NDArray[np.float32], ...], rings: Ring, i: int, phases: NDArray[np.int64],
    plan: FollowPlan, residual: float, base: float, miss: float,
) -> None:
    """Move a component's bin of series i where its value one cycle ago missed the same way as now.

    A pattern that changed at one phase (an hourly spike that stopped, a daily dip that moved)
    misses by far at that phase every cycle; bin learning at outlier weight would take many
    cycles to follow, so after two misses on the same side the bin takes the smaller miss at
    once, as the level re-base does for a shift. The components of the plan are tried shortest
    period first; a series moves one bin at most.

    Args:
        slot: the Seasonality's slot.
        pools: the Seasonality's pools.
        rings: the Seasonality's rings.
        i: the series, whose bucket missed its prediction.
        phases: shape (3,), each component's bin at this bucket.
        plan: Seasonality.follow_plan() of this bucket.
        residual: the bucket's value minus its prediction, beyond miss.
        base: the prediction less the components (the trend).
        miss: the least |residual| that counts as a miss.
    """
    ring, t_ms, point, span, components, periods, bins = plan
    for v in range(len(components)):
        c, period = components[v], periods[v]
        then = (t_ms - period) // span
        if not 1 <= point - then <= RING_LENGTH:
            continue
        past_phases = np.empty(len(_PERIODS_MS), np.int64)
        for k in range(len(_PERIODS_MS)):
            past_phases[k] = (t_ms - period) % _PERIODS[k] * bins[k] // _PERIODS[k]
        s = slot[i, c]
        past = ring_value(rings, i, ring, then % RING_LENGTH) - base - predict(slot, pools, i, past_phases)
        if s >= 0 and abs(past) > miss and past * residual > 0.0:
            shift = np.sign(residual) * min(abs(residual), abs(past))
            pools[c][s, phases[c]] += np.float32(shift)
            return


@kernel
def record(acc_sum: FloatArray, acc_n: FloatArray, i: int, x: float) -> None:
    """Add series i's bucket value to the rings' current points."""
    for r in range(acc_sum.shape[1]):
        acc_sum[i, r] += x
        acc_n[i, r] += 1.0
