"""The periodicity test of seasonality.py: ring points tested for a period with an F test.

Each candidate period is tested on a series' ring points less its other active components:

* a level per cycle is removed, fitted jointly with the profile (see cycle_levels.py), which
  absorbs slow level drift without biasing the profile where the ring's end cycles are partial;
* values further than 5 robust standard deviations out are clipped, so a lone spike cannot pass
  for a period;
* the share of variance explained by the per-phase means, R^2 = SSB / (SSB + SSW), and
  F = (SSB / (m - 1)) / (SSW / (N - m - cycles)) with the F tail from Paulson's approximation.

A test of all the series due at a bucket is one compiled pass, series by series.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.compiled import inline_kernel, kernel
from anomalyd.engine.cycle_levels import JointFit, cycle_means, joint_cycle_means
from anomalyd.engine.pools import Pool, pool_value
from anomalyd.engine.rings import RING_LENGTH, Ring, decode_row
from anomalyd.engine.stats import FloatArray, f_test_log_p1

_MIN_PHASES = 4
_MIN_CYCLES = 3
_TESTS_PER_RING = 8  # each candidate is re-tested every 1/8 of its ring's length
_CLIP_ROBUST_SD = 5.0
_AHEAD = 2  # series whose memory is fetched ahead of the test (see _fetch)
_LINE = 64  # bytes of a cache line


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
    NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.intp], FloatArray,
    NDArray[np.int64],
]
"""The other components a test takes out of the ring points, and where their bins fall on them.

A point's overlaps with a component's bins depend only on where it starts in the period, so
they are listed once a distinct start: the components, shape (m,); the bounds of each one's
distinct starts, shape (m + 1,); each point's distinct start, shape (m, L); the bounds of each
distinct start's overlaps, shape (starts + 1,); the overlaps' bins and shares (coverage()); and
shape (m, L), each point's one bin where every point of the component lies within one (a ring
as fine as the component's bins, as in the hourly test), else -1.
"""


def periodic_profile(
    rings: Ring, counts: NDArray[np.int16], rows: NDArray[np.intp], points: NDArray[np.int64], cand: Candidate, others: Others,
    slot: NDArray[np.int32], pools: tuple[Pool, ...],
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Test ring points of series, less their other active components, for a period with the one-way ANOVA F test.

    Args:
        rings: the rings.
        counts: their points with a value (rings.count_points()).
        rows: shape (k,), the series tested.
        points: shape (RING_LENGTH,), the points of cand's ring read (absolute numbers, consecutive):
            the whole ring, in time order.
        cand: the period tested.
        others: the components taken out of the points where a series has them.
        slot: each series' pool row of each component, -1 where it has none.
        pools: each component's bins.

    Returns:
        R^2, shape (k,), NaN when there is too little data (fewer than 3 cycles or 3 points per
        phase); ln p of the F test, shape (k,); the variance the profile explains per point,
        shape (k,); the per-phase mean profile, shape (k, phases). A series without the
        component and with fewer than 3 points a phase gets R^2 NaN, and zeros.
    """
    k, phases = len(rows), cand.phases
    out = (np.empty(k), np.empty(k), np.empty(k), np.empty((k, phases)))
    _profile_rows(rings, counts, cand.ring, rows, *_layout(points, phases), cand.component, others, slot, pools, *out)
    return out


@kernel
def lone_profile(
    rings: Ring, counts: NDArray[np.int16], rows: NDArray[np.intp], current: int, component: int, ring: int, phases: int,
    slot: NDArray[np.int32], pools: tuple[Pool, ...],
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """periodic_profile()'s R^2, ln p and explained variance, in compiled code, of series that hold no component.

    Such a series has nothing to take out of its points (others() of the candidate alone is
    empty); the test reads ring ring's RING_LENGTH points before point current, as a test at a
    bucket reads them, for the period of the given component and phases.
    """
    k, length = len(rows), RING_LENGTH
    none = (
        np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros((0, length), np.int64), np.zeros(1, np.int64),
        np.zeros(0, np.intp), np.zeros(0), np.zeros((0, length), np.int64),
    )
    r2, ln_p, explained = np.empty(k), np.empty(k), np.empty(k)
    positions, phase, cycle = _layout(np.arange(current - length, current), phases)
    _profile_rows(rings, counts, ring, rows, positions, phase, cycle, component, none, slot, pools, r2, ln_p, explained, np.empty((k, phases)))
    return r2, ln_p, explained


@kernel
def _layout(points: NDArray[np.int64], phases: int) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Each ring point's position in the ring, phase in the period and cycle counted from the first point's."""
    cycle = points // phases
    return points % RING_LENGTH, points % phases, cycle - cycle[0]


def others(tested: list[Candidate], cand: Candidate, res: int, first: int) -> Others:
    """The components of the tested candidates other than cand, and where their bins fall on cand's ring points.

    Args:
        tested: every candidate of the series.
        cand: the candidate whose test takes the others out.
        res: the resolution of cand's ring.
        first: the first of the RING_LENGTH consecutive ring points the test reads (an absolute number).

    Returns:
        The others' overlaps, each listed once a distinct start in its period. Shared between
        calls: read them, never write them.
    """
    rest = tuple(c for c in tested if c is not cand)
    # Where the first point falls in each other period decides the rest; it repeats every week.
    return _overlaps_of(rest, res, tuple(first * res % c.period_ms for c in rest))


@functools.lru_cache(maxsize=256)
def _overlaps_of(rest: tuple[Candidate, ...], res: int, offsets: tuple[int, ...]) -> Others:
    """others() of the points starting at each offset into each of rest's periods (about 0.1 ms to work out)."""
    firsts, start_of, bounds, parts, shares = [0], [], [np.zeros(1, np.int64)], [], []
    point_bin = np.full((len(rest), RING_LENGTH), -1, np.int64)
    steps = np.arange(RING_LENGTH, dtype=np.int64) * res
    for o, (c, offset) in enumerate(zip(rest, offsets, strict=True)):
        starts, start_of_point = np.unique(np.mod((offset + steps).astype(np.float64), c.period_ms), return_inverse=True)
        interval, part, share = coverage(starts, res, c.period_ms, c.bins)
        overlaps = np.bincount(interval, minlength=len(starts))
        if np.all(overlaps == 1) and np.all(share == 1.0):
            point_bin[o] = part[start_of_point]  # one overlap a start, in start order
        start_of.append(firsts[-1] + start_of_point)
        bounds.append(bounds[-1][-1] + np.cumsum(overlaps))
        firsts.append(firsts[-1] + len(starts))
        parts.append(part)
        shares.append(share)
    return (
        np.array([c.component for c in rest], np.int64), np.array(firsts, np.int64),
        np.array(start_of, np.int64).reshape(len(rest), RING_LENGTH), np.concatenate(bounds),
        np.concatenate([*parts, np.zeros(0, np.intp)]), np.concatenate([*shares, np.zeros(0)]), point_bin,
    )


@kernel
def _profile_rows(
    rings: Ring, counts: NDArray[np.int16], ring: int, rows: NDArray[np.intp], positions: NDArray[np.int64],
    phase: NDArray[np.int64], cycle: NDArray[np.int64], component: int, others: Others, slot: NDArray[np.int32],
    pools: tuple[Pool, ...], r2: FloatArray, ln_p: FloatArray, explained: FloatArray, profile: FloatArray,
) -> None:
    """periodic_profile() series by series, writing its four results."""
    components, start_of, point_bin = others[0], others[2], others[6]
    length, n_cycles = len(positions), cycle[-1] + 1
    y, taken, sink = np.empty(length), np.empty(others[1][-1]), np.zeros(1)
    phases = profile.shape[1]
    scratch = (np.empty(n_cycles), np.empty(n_cycles), np.empty(length), np.empty(length), np.empty(phases))
    fit = (
        np.empty(phases), np.empty(phases), np.empty((n_cycles, n_cycles + 1)), np.empty(n_cycles, np.int64),
        np.empty(n_cycles, np.int64),
    )
    for r in range(len(rows)):
        i = rows[r]
        if r + _AHEAD < len(rows):
            sink[0] += _fetch(rings, ring, rows[r + _AHEAD], components, slot, pools)
        if slot[i, component] < 0 and counts[i, ring] < _MIN_CYCLES * profile.shape[1]:
            # Too few points to switch the component on: what the test would measure is unused.
            r2[r], ln_p[r], explained[r] = np.nan, 0.0, 0.0
            profile[r] = 0.0
            continue
        decode_row(rings, i, ring, positions, y)
        for o in range(len(components)):
            s = slot[i, components[o]]
            if s < 0:
                continue
            if point_bin[o, 0] >= 0:
                # Each point lies within one bin: its share of the component is that bin's value,
                # added to 0.0 as _take_other() sums it, read without listing the distinct starts.
                pool = pools[components[o]]
                for p in range(length):
                    y[p] -= 0.0 + pool_value(pool, s, point_bin[o, p])
            else:
                _take_other(others, o, pools[components[o]], s, taken)
                for p in range(length):
                    y[p] -= taken[start_of[o, p]]
        r2[r], ln_p[r], explained[r] = _anova(y, phase, cycle, scratch, fit, profile[r])


@inline_kernel
def _fetch(
    rings: Ring, ring: int, i: int, components: NDArray[np.int64], slot: NDArray[np.int32], pools: tuple[Pool, ...]
) -> float:
    """Read a value of each cache line of series i's ring and other components, so they load while earlier series are tested.

    A test reads some 2 KB of a series' ring and bins, far apart from the last series' in memory:
    left to the test's loops, each line waits for the one before it (cold rows cost 1.6 us more
    a series than warm ones); loaded a few series ahead, they arrive in parallel. Returns their
    sum, which the caller keeps so that the reads are not left out.
    """
    codes = rings[0]
    total = 0.0
    for p in range(0, RING_LENGTH, _LINE // 2):
        total += codes[i, ring, p]
    for o in range(len(components)):
        s = slot[i, components[o]]
        if s >= 0:
            codes = pools[components[o]][0]
            for b in range(0, codes.shape[1], _LINE // 2):
                total += codes[s, b]
    return total


@inline_kernel
def _take_other(others: Others, o: int, pool: Pool, s: int, taken: FloatArray) -> None:
    """Write the value of other component o (pool row s) over each of its distinct starts to taken."""
    firsts, bounds, part, share = others[1], others[3], others[4], others[5]
    for u in range(firsts[o], firsts[o + 1]):
        value = 0.0
        for j in range(bounds[u], bounds[u + 1]):
            value += pool_value(pool, s, part[j]) * share[j]
        taken[u] = value


@inline_kernel
def _anova(
    y: FloatArray, phase: NDArray[np.int64], cycle: NDArray[np.int64],
    scratch: tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray], fit: JointFit, profile: FloatArray,
) -> tuple[float, float, float]:
    """R^2, ln p and the explained variance of one row of values y of periodic_profile(), writing its profile.

    Every sum runs in point order from 0.0, as the one loop a sum a plain reading would write.
    """
    per_cycle, cycle_mean, dev, spread, n_phase = scratch
    n = cycle_means(y, phase, cycle, per_cycle, cycle_mean, n_phase, fit[0])
    joint_cycle_means(y, phase, cycle, per_cycle, cycle_mean, n_phase, fit)
    # Each cycle's level is removed, which absorbs slow level drift; values beyond 5 robust
    # standard deviations are clipped, so a lone spike is no period (the levels are not re-fitted).
    profile[:] = 0.0
    total_sq, top, m = 0.0, 0.0, 0
    for p in range(len(y)):
        dev[p] = 0.0
        if not math.isnan(y[p]):
            dev[p] = y[p] - cycle_mean[cycle[p]]
            spread[m] = abs(dev[p])
            top = max(top, spread[m])
            m += 1
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


def candidates(span_ms: int, ring_ms: list[int], periods_ms: tuple[int, ...], max_bins: tuple[int, ...]) -> list[Candidate]:
    """The periods testable at span_ms, each in the finest ring that holds 3 cycles of it, with at most max_bins bins."""
    found = []
    for component, (period, most_bins) in enumerate(zip(periods_ms, max_bins, strict=True)):
        for ring, res in enumerate(ring_ms):
            phases = period // res
            if period % res == 0 and phases >= _MIN_PHASES and RING_LENGTH * res >= _MIN_CYCLES * period:
                every = max(1, RING_LENGTH * res // (_TESTS_PER_RING * span_ms))
                bins = min(-(-period // span_ms), most_bins)
                found.append(Candidate(component, period, ring, phases, bins, every))
                break
    return found
