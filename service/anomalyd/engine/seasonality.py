"""Seasonal components detected from the data: hourly, daily and weekly, each with an F test.

Every series keeps a few rings of recent values at coarse resolutions (rings.py, the role of
autodetect's expanding windows of 336 points). On a staggered schedule each candidate period is
tested on the ring values minus the series' other active components (periodicity.py).

A component is switched on when R^2 >= 0.15 and p_F <= 1e-6 (the measured settings of
MODELING.md section 3), initialised from the mean-centred profile, and switched off when a
later test finds R^2 < 0.075; a component that stays moves halfway to each re-test's profile.
Components live in pools and only series with a component pay for its bins. Beside each
component's bins, its residual's spread per bin (residual.phase_scale) widens the residual's
variance at phases where large residuals recur.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine import residual
from anomalyd.engine.compiled import inline_kernel, kernel, prefetch
from anomalyd.engine.periodicity import Candidate, candidates, coverage, lone_profile, others, periodic_profile, times_cover
from anomalyd.engine.pools import Pool, add_to_bin, grown, head, new_pool, pool_value, read_rows, write_rows
from anomalyd.engine.rings import (
    CODE,
    MISSING,
    RING_LENGTH,
    Ring,
    count_points,
    decode,
    empty_rings,
    encode_all,
    ring_value,
    roll_rings,
)
from anomalyd.engine.state import NEVER, Arrays
from anomalyd.engine.stats import FloatArray

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS
# A ring at the bucket span, one at >= 30 minutes (daily tests at short spans) and one at
# >= 2 hours (weekly tests): with 336 points they hold >= 28 h, 7 days and 28 days.
_RING_FLOORS_MS = (0, 30 * 60_000, 2 * HOUR_MS)
_PERIODS_MS = (HOUR_MS, DAY_MS, WEEK_MS)
_PERIODS = np.array(_PERIODS_MS, np.int64)
_MAX_BINS = (60, 288, 168)
_ACCEPT_R2 = 0.15
_ACCEPT_LN_P = math.log(1e-6)
_DROP_R2 = 0.075
_MIN_EXPLAINED = 0.05
# Each visit moves a bin by this share of the residual; slower for periods under a day, whose
# bins are visited more often (MODELING.md section 2).
_RATE = 0.05
_REFRESH = 0.5  # the share of a re-test's profile an active component takes (NAB standard +0.7)


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
        self.candidates = candidates(span_ms, resolutions, _PERIODS_MS, _MAX_BINS)
        # Keep only the rings some test reads, renumbered.
        used = sorted({c.ring for c in self.candidates})
        self.ring_ms = [resolutions[r] for r in used]
        self.candidates = [
            Candidate(c.component, c.period_ms, used.index(c.ring), c.phases, c.bins, c.every)
            for c in self.candidates
        ]
        n_rings = len(self.ring_ms)
        self.rings: Ring = empty_rings(capacity, n_rings)
        self.ring_counts = count_points(self.rings[0])
        self.acc_sum = np.zeros((capacity, n_rings))
        self.acc_n = np.zeros((capacity, n_rings), dtype=np.float32)
        self.point = np.full(n_rings, NEVER, dtype=np.int64)
        self.slot = np.full((capacity, len(_PERIODS_MS)), -1, dtype=np.int32)
        self.bins = [next((c.bins for c in self.candidates if c.component == k), 1) for k in range(3)]
        self._bins = np.array(self.bins, np.int64)
        self.pools = [new_pool(0, b) for b in self.bins]
        # Each visit moves a bin by this share of the residual (MODELING.md section 2).
        self.rates = np.array([_RATE * min(1.0, p / DAY_MS) for p in _PERIODS_MS])
        self.pool_used = [np.zeros(0, dtype=bool) for _ in self.bins]
        self.spreads = [residual.new_spreads(0, b) for b in self.bins]
        self._ring_ms = np.array(self.ring_ms, np.int64)
        self._every = [c.every for c in self.candidates]
        # The candidates as run_bucket reads them: component, ring, phases and test interval.
        self._tests = tuple(np.array([getattr(c, f) for c in self.candidates], np.int64) for f in ("component", "ring", "phases", "every"))
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
            # A row of a pool (16-bit codes, a float32 offset and step), of its spreads (16-bit
            # codes) and their float32 sum.
            self._component_bytes = sum(
                int(np.count_nonzero(u)) * (b * 2 + 8 + b * 2 + 4) for u, b in zip(self.pool_used, self.bins, strict=True)
            )
        return self._component_bytes

    def grow(self, capacity: int) -> None:
        """Make room for capacity series; new series have empty rings and no components."""
        extra = capacity - len(self.slot)
        if extra > 0:
            more = empty_rings(extra, len(self.ring_ms))
            self.rings = tuple(np.concatenate([a, b]) for a, b in zip(self.rings, more, strict=True))  # type: ignore[assignment]
            self.ring_counts = np.concatenate([self.ring_counts, count_points(more[0])])
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
        """What run_bucket reads: ring resolutions, points, the candidates, span and follow plan parts."""
        return (
            self._ring_ms, self.point, self._tests, self.span, self._span_ring,
            self._follow_components, self._follow_periods, self._bins, self.ring_counts,
        )

    def roll(self, t_ms: int, n_series: int) -> None:
        """Move the rings to the bucket starting at t_ms: close their points that ended before it."""
        roll_rings(self.rings, self.ring_counts, self.acc_sum, self.acc_n, self.point, self._ring_ms, t_ms, n_series)

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
        bins = read_rows(self.pools[cand.component], np.asarray(rows, np.intp))
        recent: FloatArray = bins[:, phases] @ (weights / weights.sum())
        return recent

    def _test(
        self, cand: Candidate, due: NDArray[np.intp], t_ms: int, error_var: FloatArray, level_rate: float
    ) -> TestOutcome:
        current = int(self.point[cand.ring])
        if not len(due) or current == NEVER:
            return _UNCHANGED
        points = np.arange(current - RING_LENGTH, current)
        # Only components some due series has are taken out of the points (a young job has none).
        held = [c for c in self.candidates if c is cand or (self.slot[due, c.component] >= 0).any()]
        r2, ln_p, explained, profile = periodic_profile(
            self.rings, self.ring_counts, due, points, cand, others(held, cand, self.ring_ms[cand.ring], current - RING_LENGTH),
            self.slot, tuple(self.pools),
        )
        slot = self.slot[due, cand.component]
        on = slot >= 0
        accept = ~on & _accepted(r2, ln_p, explained, error_var[due])
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
        kept = slot[stay].astype(np.intp)
        before = self._recent(cand, kept, t_ms, level_rate)
        pool = self.pools[cand.component]
        refreshed = (1.0 - _REFRESH) * read_rows(pool, kept) + _REFRESH * times_cover(profile[stay], to_bins, cand.bins)
        write_rows(pool, kept, refreshed)
        refresh_shift = before - self._recent(cand, kept, t_ms, level_rate)
        used, spreads = self.pool_used[cand.component], self.spreads[cand.component]
        used[slot[drop]] = False
        self.slot[due[drop], cand.component] = -1
        n_new = int(accept.sum())
        free = np.flatnonzero(~used)
        if len(free) < n_new:
            grow = max(n_new - len(free), len(used))
            pool = grown(pool, grow)
            more = residual.new_spreads(grow, cand.bins)
            spreads = (np.concatenate([spreads[0], more[0]]), np.concatenate([spreads[1], more[1]]))
            used = np.concatenate([used, np.zeros(grow, bool)])
            free = np.flatnonzero(~used)
        new = free[:n_new]
        write_rows(pool, new, times_cover(profile[accept], to_bins, cand.bins))
        # A new component starts from the series' own spread.
        spreads[0][new], spreads[1][new] = residual.new_spreads(1, cand.bins)
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
        decode(self.rings, np.asarray(rows, np.intp), ring, np.asarray(at, np.int64), values)
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
            out[f"pool{k}"], out[f"pool_offset{k}"], out[f"pool_step{k}"] = head(self.pools[k], end)
            out[f"pool_used{k}"] = used[:end]
            out[f"spread{k}"], out[f"spread_sum{k}"] = self.spreads[k][0][:end], self.spreads[k][1][:end]
        return out

    def load(self, arrays: Arrays) -> None:
        """Restore the state written by arrays(), or by older job state versions.

        Versions up to 9 kept float32 ring points (coded here); versions up to 11 had no spreads,
        version 12 kept them as float32 with their sum last (coded here).
        """
        self.acc_sum, self.acc_n = arrays["acc_sum"], arrays["acc_n"]
        self.point, self.slot = arrays["point"], arrays["slot"]
        shape = (len(self.slot), len(self.ring_ms), RING_LENGTH)
        if "ring_offset" not in arrays:
            values = np.full(shape, np.nan)
            for r in range(len(self.ring_ms)):
                values[:, r, arrays[f"ring_points{r}"]] = arrays[f"ring{r}"]
            self.rings = empty_rings(len(self.slot), len(self.ring_ms))
            encode_all(values, self.rings)
        else:
            codes = np.full(shape, MISSING, CODE)
            for r in range(len(self.ring_ms)):
                codes[:, r, arrays[f"ring_points{r}"]] = arrays[f"ring{r}"]
            self.rings = (codes, arrays["ring_offset"], arrays["ring_step"])
        self.ring_counts = count_points(self.rings[0])
        self.pools = [self._load_pool(arrays, k) for k in range(len(self.pools))]
        self.pool_used = [arrays[f"pool_used{k}"] for k in range(len(self.pools))]
        self.spreads = [self._load_spreads(arrays, k) for k in range(len(self.pools))]
        self._component_bytes = None

    @staticmethod
    def _load_pool(arrays: Arrays, k: int) -> Pool:
        """Component k's pool as arrays() wrote it, or as job state versions before 14 kept it (float32 bins, coded here)."""
        if f"pool_offset{k}" in arrays:
            return arrays[f"pool{k}"], arrays[f"pool_offset{k}"], arrays[f"pool_step{k}"]
        bins = arrays[f"pool{k}"]
        pool = new_pool(*bins.shape)
        write_rows(pool, np.arange(len(bins)), bins.astype(np.float64))
        return pool

    def _load_spreads(self, arrays: Arrays, k: int) -> residual.Spreads:
        """Component k's spreads as arrays() wrote them, or as older job state versions kept them."""
        if f"spread_sum{k}" in arrays:
            return arrays[f"spread{k}"], arrays[f"spread_sum{k}"]
        rows, bins = self.pools[k][0].shape
        spreads = residual.new_spreads(rows, bins)
        # Job states before version 12 had no spreads: each component starts from the series' own.
        if f"spread{k}" in arrays:
            residual.code_spreads(arrays[f"spread{k}"], spreads)
        return spreads


@kernel
def _accepted(r2: FloatArray, ln_p: FloatArray, explained: FloatArray, error_var: FloatArray) -> NDArray[np.bool_]:
    """Shape (k,): whether each tested series' profile switches its component on, if it has none (see _accepts)."""
    out = np.empty(len(r2), np.bool_)
    for r in range(len(r2)):
        out[r] = _accepts(r2[r], ln_p[r], explained[r], error_var[r])
    return out


@inline_kernel
def _accepts(r2: float, ln_p: float, explained: float, error_var: float) -> bool:
    """Whether a tested profile switches its component on: significant, and (the amplitude test) cutting the error variance.

    Without the amplitude test a noise-free series would find "significant" periods in its rounding.
    """
    return r2 >= _ACCEPT_R2 and ln_p <= _ACCEPT_LN_P and explained >= _MIN_EXPLAINED * error_var


@kernel
def run_bucket(
    rings: Ring, acc_sum: FloatArray, acc_n: NDArray[np.float32], run: tuple[Any, ...],
    t_ms: int, n_series: int, roll: bool, phases: NDArray[np.int64], slot: NDArray[np.int32],
    pools: tuple[Pool, ...], errors: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
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
        slot: the Seasonality's slot.
        pools: its pools.
        errors: the residual's scale_weight, scale_sum_sq, resolution and mean_abs (residual.error_variance).

    Returns:
        Whether the periodicity tests due may change a component (see _tests_change: the caller
        leaves the loop to run them, then comes back with roll False), and the bucket's follow plan.
    """
    ring_ms, point, tests, span, span_ring, components, periods, bins, counts = run
    if roll:
        roll_rings(rings, counts, acc_sum, acc_n, point, ring_ms, t_ms, n_series)
    for k in range(len(_PERIODS_MS)):
        phases[k] = t_ms % _PERIODS[k] * bins[k] // _PERIODS[k]
    plan = (span_ring, t_ms, point[span_ring], span, components, periods, bins)
    return roll and _tests_change(rings, counts, point, tests, slot, pools, errors, t_ms // span, n_series), plan


@kernel
def _tests_change(
    rings: Ring, counts: NDArray[np.int16], point: NDArray[np.int64], tests: tuple[NDArray[np.int64], ...],
    slot: NDArray[np.int32], pools: tuple[Pool, ...],
    errors: tuple[FloatArray, FloatArray, FloatArray, FloatArray], bucket: int, n_series: int,
) -> bool:
    """Whether the periodicity tests due at bucket (Seasonality.advance's) may change a series' components.

    A candidate's test changes nothing when none of its due series holds a component (there is
    nothing to drop, refresh or take out of the points) and none is accepted: a young job's,
    whose rings are short, and that of a job without seasonality, whose tests would otherwise
    leave the compiled loop every few buckets. Such a test is worked out here, as _test() would
    work it out; any other makes the caller leave the loop, and advance() runs every test anew.
    """
    components, ring_of, phases_of, every = tests
    for c in range(len(every)):
        first = (-bucket) % every[c]
        if first >= n_series:
            continue
        rows = np.arange(first, n_series, every[c])
        for i in rows:
            for k in range(slot.shape[1]):
                if slot[i, k] >= 0:
                    return True
        current = point[ring_of[c]]
        if current == NEVER:
            continue
        r2, ln_p, explained = lone_profile(rings, counts, rows, current, components[c], ring_of[c], phases_of[c], slot, pools)
        for r in range(len(rows)):
            error_var = residual.error_variance(errors[0], errors[1], errors[2], errors[3], rows[r])
            if _accepts(r2[r], ln_p[r], explained[r], error_var):
                return True
    return False


@inline_kernel
def predict(slot: NDArray[np.int32], pools: tuple[Pool, ...], i: int, phases: NDArray[np.int64]) -> float:
    """The sum of series i's active components at the bins phases, shape (3,).

    Inlined, as learn() is: a call would pass each of the pools' arrays (codes, offset and step of
    each component) with a reference count increment and decrement, for every series.
    """
    out = 0.0
    for c in range(len(phases)):
        s = slot[i, c]
        if s >= 0:
            out += pool_value(pools[c], s, phases[c])
    return out


@inline_kernel
def prefetch_bins(
    slot: NDArray[np.int32], pools: tuple[Pool, ...], spreads: tuple[residual.Spreads, ...], i: int,
    phases: NDArray[np.int64],
) -> None:
    """Prefetch the cache lines series i's active components use at the bins phases: the bin and its spread.

    A series' component rows lie wherever its components were switched on, so no hardware
    prefetcher foresees them (see compiled.prefetch); the spreads' sums, four bytes a row, stay
    in cache.
    """
    for c in range(len(phases)):
        s = slot[i, c]
        if s >= 0:
            prefetch(pools[c][0], s, phases[c])
            prefetch(spreads[c][0], s, phases[c])


@inline_kernel
def learn(
    slot: NDArray[np.int32], pools: tuple[Pool, ...], i: int, phases: NDArray[np.int64], rates: FloatArray, delta: float
) -> None:
    """Move series i's active bins at phases towards its residual delta, shared among them."""
    share = 0
    for c in range(len(phases)):
        share += slot[i, c] >= 0
    share = max(share, 1)
    for c in range(len(phases)):
        s = slot[i, c]
        if s >= 0:
            add_to_bin(pools[c], s, phases[c], rates[c] * delta / share)


@kernel
def follow_moved_phase(
    slot: NDArray[np.int32], pools: tuple[Pool, ...], rings: Ring, i: int, phases: NDArray[np.int64],
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
            add_to_bin(pools[c], s, phases[c], shift)
            return


@kernel
def record(acc_sum: FloatArray, acc_n: FloatArray, i: int, x: float) -> None:
    """Add series i's bucket value to the rings' current points."""
    for r in range(acc_sum.shape[1]):
        acc_sum[i, r] += x
        acc_n[i, r] += 1.0
