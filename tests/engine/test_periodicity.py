"""The periodicity test's compiled pass against a plain numpy reading of the same F test."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from anomalyd.engine.periodicity import candidates, coverage, others, periodic_profile, times_cover
from anomalyd.engine.pools import new_pool, read_rows, write_rows
from anomalyd.engine.rings import RING_LENGTH, count_points, decode, empty_rings, encode_all
from anomalyd.engine.stats import f_test_log_p1

HOUR_MS, DAY_MS, SPAN = 3_600_000, 86_400_000, 300_000
RING_MS = [SPAN, 6 * SPAN]  # the hourly test reads 5-minute points, the daily one 30-minute points
SERIES = 12


def _determined(y: np.ndarray, points: np.ndarray, phases: int) -> np.ndarray:
    """Whether each row's levels and profile are one least-squares fit: false where a cycle shares no seen phase with the others.

    Such a cycle's level trades off against its phases' profile (a ring's last cycle holding one
    point of a phase seen nowhere else): every split fits equally well, numpy's minimum-norm one
    and the engine's alike, and the explained variance differs between them.
    """
    phase, cycle = points % phases, points // phases - points[0] // phases
    out = np.zeros(len(y), bool)
    for r, row in enumerate(y):
        ok = ~np.isnan(row)
        design = np.concatenate([np.eye(cycle[-1] + 1)[cycle[ok]], np.eye(phases)[phase[ok]]], axis=1)
        seen = int(np.any(design, axis=0).sum())
        out[r] = np.linalg.matrix_rank(design) == seen - 1
    return out


def _reference(y: np.ndarray, points: np.ndarray, phases: int) -> tuple[np.ndarray, ...]:
    """R^2, ln p, explained variance and profile of each row of y, written out in numpy."""
    phase, cycle = points % phases, points // phases - points[0] // phases
    r2, ln_p, explained, profile = (np.full(len(y), np.nan), np.zeros(len(y)), np.zeros(len(y)), np.zeros((len(y), phases)))
    for r, row in enumerate(y):
        ok = ~np.isnan(row)
        n = int(ok.sum())
        count = np.bincount(cycle[ok], minlength=cycle[-1] + 1)
        dev = np.where(ok, row - _levels(row, phase, cycle, phases)[cycle], 0.0)
        bound = 5.0 * 1.4826 * (np.median(np.abs(dev[ok])) if n else 0.0)
        if bound > 0.0:
            dev = np.clip(dev, -bound, bound)
        n_phase = np.bincount(phase[ok], minlength=phases)
        means = np.bincount(phase, dev, minlength=phases) / np.maximum(n_phase, 1)
        ssb = float(np.sum(n_phase * means**2))
        ssw = max(float(np.sum(dev**2)) - ssb, 0.0)
        cycles, d2 = int(np.sum(count > 0)), n - phases - int(np.sum(count > 0))
        if cycles >= 3 and n >= 3 * phases and d2 > 0:
            r2[r] = ssb / (ssb + ssw if ssb + ssw > 0 else 1.0)
            f = (ssb / (phases - 1)) / (ssw / d2)
            ln_p[r] = f_test_log_p1(min(f, 1e300), phases - 1.0, float(d2)) if ssb > 0 else 0.0
        explained[r] = ssb / max(n, 1)
        profile[r] = means - np.sum(means * n_phase) / max(n, 1)
    return r2, ln_p, explained, profile


def _levels(row: np.ndarray, phase: np.ndarray, cycle: np.ndarray, phases: int) -> np.ndarray:
    """Each cycle's level in the least-squares fit of the row by a level per cycle plus a profile, holding the row's total."""
    ok = ~np.isnan(row)
    design = np.concatenate([np.eye(cycle[-1] + 1)[cycle[ok]], np.eye(phases)[phase[ok]]], axis=1)
    level = np.linalg.lstsq(design, row[ok], rcond=None)[0][: cycle[-1] + 1]
    count = np.bincount(cycle[ok], minlength=cycle[-1] + 1)
    return level + (row[ok].sum() - np.sum(count * level)) / max(int(ok.sum()), 1)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    amplitude=st.sampled_from([0.0, 0.3, 3.0]),
    spikes=st.integers(0, 12),
    missing=st.sampled_from([0.0, 0.1, 0.6, 1.0]),
    start=st.integers(10**6, 10**7),
)
def test_the_compiled_test_reads_as_the_plain_f_test(seed: int, amplitude: float, spikes: int, missing: float, start: int) -> None:
    """Every series' R^2, ln p, explained variance and profile, less its other active components, as numpy computes them.

    Gaps leave some series too few points to be measured, where only R^2 is kept (NaN).

    Spikes make the 5-robust-SD clip bite (and the median be taken), noise alone lets it be skipped.
    """
    rng = np.random.default_rng(seed)
    tested = candidates(SPAN, RING_MS, (HOUR_MS, DAY_MS), (60, 288))
    values = 100.0 + rng.standard_normal((SERIES, len(RING_MS), RING_LENGTH))
    values += amplitude * np.sin(np.arange(RING_LENGTH) * 2 * np.pi / 12)
    hit = rng.integers(0, RING_LENGTH, (SERIES, spikes))
    np.put_along_axis(values[:, 0], hit, 100.0 + rng.choice([-1.0, 1.0], hit.shape) * rng.uniform(8, 80, hit.shape), axis=1)
    values[rng.random(values.shape) < missing] = np.nan
    rings = empty_rings(SERIES, len(RING_MS))
    encode_all(values, rings)
    bins_of = [rng.normal(0.0, 2.0, (SERIES, bins)) for bins in (60, 288, 1)]
    pools = tuple(new_pool(SERIES, bins.shape[1]) for bins in bins_of)
    for pool, bins in zip(pools, bins_of, strict=True):
        write_rows(pool, np.arange(SERIES), bins)
    slot = np.where(rng.random((SERIES, 3)) < 0.5, np.arange(SERIES)[:, None], -1).astype(np.int32)
    rows = np.arange(SERIES)
    for cand in tested:
        res = RING_MS[cand.ring]
        points = np.arange(start - RING_LENGTH, start)
        taken_out = others(tested, cand, res, start - RING_LENGTH)
        got = periodic_profile(rings, count_points(rings[0]), rows, points, cand, taken_out, slot, pools)
        y = np.empty((SERIES, RING_LENGTH))
        decode(rings, rows, cand.ring, points % RING_LENGTH, y)
        for other in tested:
            on = slot[:, other.component] >= 0
            if other is not cand and on.any():
                cover = coverage((points * res).astype(np.float64), res, other.period_ms, other.bins)
                bins = read_rows(pools[other.component], slot[on, other.component].astype(np.intp))
                y[on] -= times_cover(bins, cover, RING_LENGTH)
        expected = _reference(y, points, cand.phases)
        # A series that cannot switch the component on (none yet, too few points) is not measured.
        idle = (slot[:, cand.component] < 0) & (np.sum(~np.isnan(y), axis=1) < 3 * cand.phases)
        for measure in expected[1:]:
            measure[idle] = 0.0
        determined = _determined(y, points, cand.phases)
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_allclose(a[determined], b[determined], rtol=1e-9,
                                       atol=1e-9 * max(1.0, float(np.nanmax(np.abs(b), initial=0.0))))



@settings(max_examples=10, deadline=None)
@given(first=st.integers(10**6, 10**7), shift=st.floats(0.0, 2 * np.pi))
def test_a_clean_daily_wave_reads_unbiased_where_the_ring_s_end_cycles_are_partial(first: int, shift: float) -> None:
    """The profile of a pure daily wave is the wave on every phase, those of the ring's two partial cycles included.

    A partial cycle's own mean holds the part of the wave it covers; removing it leaves its phases
    off by a tenth of the amplitude, with a step where the cycles meet.
    """
    daily = next(c for c in candidates(SPAN, RING_MS, (HOUR_MS, DAY_MS), (60, 288)) if c.component == 1)
    points = np.arange(first - RING_LENGTH, first)
    wave = 20.0 * np.sin(2 * np.pi * (points % daily.phases) / daily.phases + shift)
    values = np.full((1, len(RING_MS), RING_LENGTH), 100.0)
    values[0, daily.ring, points % RING_LENGTH] += wave
    rings = empty_rings(1, len(RING_MS))
    encode_all(values, rings)
    none = np.full((1, 3), -1, np.int32)
    pools = tuple(new_pool(1, bins) for bins in (60, 288, 1))
    profile = periodic_profile(rings, count_points(rings[0]), np.arange(1), points, daily, others([daily], daily, RING_MS[daily.ring], points[0]), none, pools)[3]
    truth = 20.0 * np.sin(2 * np.pi * np.arange(daily.phases) / daily.phases + shift)
    np.testing.assert_allclose(profile[0], truth - truth.mean(), atol=0.05)
