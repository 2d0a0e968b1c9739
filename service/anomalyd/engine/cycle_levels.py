"""The levels of a ring's cycles in the least-squares fit of its values by a level per cycle plus a profile.

periodicity.py's test removes each cycle's level before it measures the profile. A cycle's own
mean holds the part of the profile its points cover, which biases the profile where a ring's
end cycles are partial or have gaps; these kernels fit the levels and the profile jointly, exactly.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.compiled import inline_kernel
from anomalyd.engine.stats import FloatArray

JointFit = tuple[FloatArray, FloatArray, FloatArray, NDArray[np.int64], NDArray[np.int64]]
"""Scratch of joint_cycle_means(): per-phase sums of the values and of the known levels, the system, each cycle's
unknown and each unknown's cycle."""


@inline_kernel
def joint_cycle_means(
    y: FloatArray, phase: NDArray[np.int64], cycle: NDArray[np.int64], per_cycle: FloatArray, cycle_mean: FloatArray,
    n_phase: FloatArray, fit: JointFit,
) -> None:
    """Turn each cycle's mean in cycle_mean into its level in the least-squares fit of y by a level per cycle plus a profile.

    A cycle's own mean holds the part of the profile its points cover, so the two partial
    cycles at the ends of a ring (and cycles with gaps) would bias the profile on their phases;
    a two-way fit does not. It is solved exactly rather than iterated: with the profile summing
    to zero over the phases, a complete cycle's level is its mean, so only the incomplete
    cycles' levels are unknown (two on a ring without gaps; every cycle but the fullest where
    none is complete), from their normal equations with the profile eliminated, a system of
    that size. Backfitting (a level and a profile in turn) takes 10 to 80 passes over the
    points to reach rounding. The levels are shifted so that they hold the values' total (the
    profile's weighted mean is then zero), as cycle means do. n_phase and fit's per-phase sums
    of the values come filled (cycle_means()).
    """
    phase_sum, known, system, unknown, unknown_cycle = fit
    phases, length = len(phase_sum), len(y)
    fullest = 0
    for c in range(len(per_cycle)):
        fullest = c if per_cycle[c] > per_cycle[fullest] else fullest
    m = 0
    for c in range(len(per_cycle)):
        # A cycle whose level stays its mean (a complete one, else the fullest) has index -1.
        known_level = per_cycle[c] == phases or (per_cycle[fullest] < phases and c == fullest)
        unknown[c] = -1 if known_level or per_cycle[c] == 0.0 else m
        if unknown[c] >= 0:
            unknown_cycle[m] = c
            m += 1
    if m == 0:
        return
    _known_levels(y, phase, per_cycle, cycle_mean, fullest, known)
    system[:m, : m + 1] = 0.0
    for i in range(m):
        c = unknown_cycle[i]
        for p in range(max(c * phases - phase[0], 0), min((c + 1) * phases - phase[0], length)):
            if not math.isnan(y[p]):
                q = phase[p]
                system[i, m] += y[p] - (phase_sum[q] - known[q]) / n_phase[q]
                system[i, i] += 1.0
                for j in range(m):
                    other = p + (unknown_cycle[j] - c) * phases  # the point of phase q in unknown j's cycle
                    if 0 <= other < length and not math.isnan(y[other]):
                        system[i, j] -= 1.0 / n_phase[q]
    _solve(system[:m, : m + 1])
    total, held = 0.0, 0.0
    for c in range(len(per_cycle)):
        if unknown[c] >= 0:
            cycle_mean[c] = system[unknown[c], m]
        total += per_cycle[c] * cycle_mean[c]
        held += per_cycle[c]
    for p in range(length):
        if not math.isnan(y[p]):
            total -= y[p]
    cycle_mean[:] -= total / max(held, 1.0)


@inline_kernel
def _known_levels(
    y: FloatArray, phase: NDArray[np.int64], per_cycle: FloatArray, cycle_mean: FloatArray, fullest: int, known: FloatArray
) -> None:
    """Write the sum of the known cycles' levels over each phase's values, in cycle order, to known.

    Every complete cycle holds every phase, so where one is complete each phase sums the same
    levels in the same order: one sum over the cycles. Where none is, the fullest cycle's level
    is known on the phases it holds.
    """
    phases = len(known)
    levels = 0.0
    for c in range(len(per_cycle)):
        if per_cycle[c] == phases:
            levels += cycle_mean[c]
    known[:] = levels
    if per_cycle[fullest] < phases:
        for p in range(max(fullest * phases - phase[0], 0), min((fullest + 1) * phases - phase[0], len(y))):
            if not math.isnan(y[p]):
                known[phase[p]] += cycle_mean[fullest]


@inline_kernel
def _solve(augmented: FloatArray) -> None:
    """Solve the symmetric positive semi-definite system [A | b] in place by Cholesky, leaving x in its last column.

    A is the levels' normal matrix with the profile eliminated: singular only where some cycles
    share no phase with the rest, whose levels a relative ridge of 1e-12 then keeps finite
    rather than dividing by zero (their fitted values, level plus profile, are the same).
    """
    m = len(augmented)
    for k in range(m):
        augmented[k, k] = math.sqrt(max(augmented[k, k] * (1.0 + 1e-12) - _dot(augmented, k, k, k), 1e-300))
        for i in range(k + 1, m):
            augmented[i, k] = (augmented[i, k] - _dot(augmented, i, k, k)) / augmented[k, k]
    for i in range(m):  # forward: L z = b
        augmented[i, m] = (augmented[i, m] - _dot(augmented, i, m, i)) / augmented[i, i]
    for i in range(m - 1, -1, -1):  # back: L^T x = z
        total = augmented[i, m]
        for j in range(i + 1, m):
            total -= augmented[j, i] * augmented[j, m]
        augmented[i, m] = total / augmented[i, i]


@inline_kernel
def _dot(augmented: FloatArray, i: int, j: int, k: int) -> float:
    """Sum of augmented[i, t] * augmented[j, t] over t < k, the lower triangle's rows i and j (j = m: the right-hand side)."""
    total = 0.0
    for t in range(k):
        total += augmented[i, t] * (augmented[t, j] if j == len(augmented) else augmented[j, t])
    return total


@inline_kernel
def cycle_means(
    y: FloatArray, phase: NDArray[np.int64], cycle: NDArray[np.int64], per_cycle: FloatArray, cycle_mean: FloatArray,
    n_phase: FloatArray, phase_sum: FloatArray,
) -> int:
    """Write the values of each cycle (a run of points) and their mean, and each phase's values and their sum; return the values in all."""
    n, count, total, c = 0, 0.0, 0.0, 0
    n_phase[:] = 0.0
    phase_sum[:] = 0.0
    for p in range(len(y)):
        if cycle[p] != c:
            per_cycle[c], cycle_mean[c] = count, total / max(count, 1.0)
            c, count, total = cycle[p], 0.0, 0.0
        if not math.isnan(y[p]):
            count += 1.0
            total += y[p]
            n += 1
            n_phase[phase[p]] += 1.0
            phase_sum[phase[p]] += y[p]
    per_cycle[c], cycle_mean[c] = count, total / max(count, 1.0)
    return n
