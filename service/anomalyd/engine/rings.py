"""Rings of recent values of S series, each point a 16-bit code.

A ring point is the ring's offset plus its code times its step, per series and ring (a float32
point cost four bytes, and the rings were half of an old series' state). The step is a 65,534th
of one and a half times the ring's range, so a point decodes within 2e-5 of the ring's range of
its value (NAB and the tests' scores as with float32 points; 8-bit codes, within 0.6 %, moved
NAB standard by +0.2); the ring is re-fitted when a point falls outside it (with four times its
range of room, as a young ring's range grows with nearly every point), and when a point is
written at the series' own place in the ring (once a ring length) if the range has shrunk to
half, so a spike that left the ring no longer coarsens it. Each ring's count of points with a value
(in memory only, counted from the codes on load) lets a re-fit stop reading once it has found
them all, which in a young ring is a few points behind the one written.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.compiled import inline_kernel, kernel
from anomalyd.engine.state import NEVER
from anomalyd.engine.stats import FloatArray

RING_LENGTH = 336  # autodetect's window length for 1 min to 1 h spans
CODE = np.int16  # a ring point's type
MISSING = -32768  # the code of a ring point without a value
MOST_CODE = 32767
HEADROOM = 1.5  # a fitted ring spans its range times this, so a slightly wider point fits
# A ring that a point outgrew is re-fitted with more room: a young ring's range grows with nearly
# every point, and each re-fit decodes and codes the whole ring. Its next narrowing check (a ring
# length later at most) takes it back to HEADROOM.
GROWTH_HEADROOM = 4.0
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_RELATIVE_STEP = 2.0**-22  # the least step, relative to the values: float32's own precision

Ring = tuple[NDArray[np.int16], NDArray[np.float32], NDArray[np.float32]]
"""Ring points of S series: codes shape (S, rings, RING_LENGTH), offset and step shape (S, rings);
a point is offset + code * step, NaN where its code is MISSING."""


def empty_rings(capacity: int, n_rings: int) -> Ring:
    """Rings of capacity series without points."""
    return (
        np.full((capacity, n_rings, RING_LENGTH), MISSING, CODE),
        np.zeros((capacity, n_rings), np.float32),
        np.zeros((capacity, n_rings), np.float32),
    )


def count_points(codes: NDArray[np.int16]) -> NDArray[np.int16]:
    """Shape (S, rings): how many points of each series' rings have a value (at most RING_LENGTH, so int16)."""
    counts: NDArray[np.int16] = np.count_nonzero(codes != MISSING, axis=2).astype(np.int16)
    return counts


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
def decode_row(rings: Ring, i: int, ring: int, positions: NDArray[np.int64], out: FloatArray) -> None:
    """Write series i's points at positions of ring ring to out, as ring_value() (reading the offset and step once)."""
    codes, offset, step = rings
    off, st = float(offset[i, ring]), float(step[i, ring])
    for j in range(len(positions)):
        c = codes[i, ring, positions[j]]
        out[j] = np.nan if c == MISSING else off + float(c) * st


@kernel
def decode(rings: Ring, rows: NDArray[np.intp], ring: int, positions: NDArray[np.int64], out: FloatArray) -> None:
    """Write the points at positions of ring ring of series rows to out, shape (k, p)."""
    for k in range(len(rows)):
        decode_row(rings, rows[k], ring, positions, out[k])


@inline_kernel  # a re-fit of a young ring is a point or two: a call's reference counts cost more
def fit(values: FloatArray, headroom: float) -> tuple[float, float]:
    """The offset and step that code values (others than _codable() left out): the range's middle, and its half times headroom per code."""
    lo, hi = math.inf, -math.inf
    for x in values:
        if _codable(x):
            lo, hi = min(lo, x), max(hi, x)
    if lo > hi:
        return 0.0, 0.0
    half = 0.5 * hi - 0.5 * lo
    step = max(half * headroom / MOST_CODE, max(abs(lo), abs(hi)) * _RELATIVE_STEP)
    return float(np.float32(0.5 * lo + 0.5 * hi)), float(np.float32(step))


@inline_kernel
def steps(x: float, offset: float, step: float) -> float:
    """The steps from offset to x, unrounded and within +-2 ** 30 (beyond every code where a zero step cannot code x)."""
    d = x - offset
    q = d / step if step > 0.0 else (0.0 if d == 0.0 else math.copysign(math.inf, d))
    return min(max(q, -(2.0**30)), 2.0**30)


@inline_kernel
def _encode(values: FloatArray, positions: NDArray[np.int64], rings: Ring, i: int, ring: int, headroom: float) -> int:
    """Fit series i's ring ring to values with headroom and code them at their positions (MISSING where not _codable()).

    Returns:
        How many of them have a value.
    """
    codes, offset, step = rings
    off, st = fit(values, headroom)
    offset[i, ring], step[i, ring] = off, st
    coded = 0
    for k in range(len(values)):
        x = values[k]
        if not _codable(x):
            codes[i, ring, positions[k]] = MISSING
        else:
            codes[i, ring, positions[k]] = min(max(round(steps(x, off, st)), -MOST_CODE), MOST_CODE)
            coded += 1
    return coded


@kernel
def encode_all(values: FloatArray, rings: Ring) -> None:
    """Code values, shape (S, rings, RING_LENGTH), into rings, each series' ring fitted to its own."""
    every = np.arange(RING_LENGTH)
    for i in range(values.shape[0]):
        for ring in range(values.shape[1]):
            _encode(values[i, ring], every, rings, i, ring, HEADROOM)


@inline_kernel
def _put_refitting(
    rings: Ring, counts: NDArray[np.int16], i: int, ring: int, p: int, x: float, buffer: FloatArray,
    positions: NDArray[np.int64],
) -> None:
    """Write x to series i's point p of ring ring where roll_rings() does not simply code it: x has no value, is outside the ring, or p is the series' own place (the narrowing check).

    counts, shape (S, rings), is kept to the points with a value (see count_points()); buffer
    and positions, shape (RING_LENGTH,), are scratch space. A re-fit reads and codes only the
    points with a value: it reads back from p until it has found them, the few of a young ring.
    """
    codes, offset, step = rings
    had = codes[i, ring, p] != MISSING
    if not _codable(x):
        codes[i, ring, p] = MISSING
        counts[i, ring] -= had
        return
    st = float(step[i, ring])
    q = steps(x, float(offset[i, ring]), st)
    fits = abs(q) <= MOST_CODE
    m, others = 0, counts[i, ring] - had
    k = p
    for _ in range(RING_LENGTH - 1):
        if m == others:
            break
        k = k - 1 if k > 0 else RING_LENGTH - 1
        if codes[i, ring, k] != MISSING:
            positions[m], buffer[m] = k, ring_value(rings, i, ring, k)
            m += 1
    positions[m], buffer[m] = p, x
    # Once a ring length, at the series' own place, the ring narrows if its range halved.
    if fits and fit(buffer[: m + 1], HEADROOM)[1] >= 0.5 * st:
        codes[i, ring, p] = round(q)
        counts[i, ring] += not had
        return
    counts[i, ring] = _encode(buffer[: m + 1], positions[: m + 1], rings, i, ring, HEADROOM if fits else GROWTH_HEADROOM)


@kernel
def roll_rings(
    rings: Ring, counts: NDArray[np.int16], acc_sum: FloatArray, acc_n: NDArray[np.float32], point: NDArray[np.int64],
    ring_ms: NDArray[np.int64], t_ms: int, n_series: int,
) -> None:
    """Move the rings to the bucket starting at t_ms: each ring's point that ended takes its mean (missing without values), skipped ones missing.

    counts, shape (S, rings), the points with a value (count_points()), is kept up to date.
    """
    # The arrays are bound here, once: each bound in the series loop (as an inlined kernel's
    # arguments are) costs an atomic reference count increment and decrement a series, which
    # were most of a roll's time where nearly every point simply fits.
    codes, offset, step = rings
    buffer, positions = np.empty(RING_LENGTH), np.empty(RING_LENGTH, np.int64)
    for ring in range(len(ring_ms)):
        now = t_ms // ring_ms[ring]
        last = point[ring]
        if last != NEVER and now > last:
            gap = min(now - last - 1, RING_LENGTH)
            p = last % RING_LENGTH
            for i in range(n_series):
                n = acc_n[i, ring]
                x = acc_sum[i, ring] / n if n > 0 else np.nan
                q = steps(x, float(offset[i, ring]), float(step[i, ring]))
                if _codable(x) and abs(q) <= MOST_CODE and p != i % RING_LENGTH:
                    counts[i, ring] += codes[i, ring, p] == MISSING
                    codes[i, ring, p] = round(q)
                else:
                    _put_refitting(rings, counts, i, ring, p, x, buffer, positions)
                for j in range(gap):
                    skipped = (last + 1 + j) % RING_LENGTH
                    counts[i, ring] -= codes[i, ring, skipped] != MISSING
                    codes[i, ring, skipped] = MISSING
                acc_sum[i, ring] = 0.0
                acc_n[i, ring] = 0.0
        point[ring] = max(now, last)
