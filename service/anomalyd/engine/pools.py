"""A seasonal component's pool of bins, each a 16-bit code on its row's offset and step.

A bin is its row's offset plus its code times its step, as a ring point is (rings.py): a float32
bin cost four bytes, and the daily component's 288 bins were a sixth of an old series' state.
A row is fitted to its bins with room to spare (a step of a 65,534th of one and a half times
their range, so a bin decodes within 1.2e-5 of the row's range of its value); a bin that learns
its way outside the row re-fits the row with four times its range of room (within 3e-5), and
each re-test of the component, which writes every bin of the row, fits it afresh.

Example:
    >>> pool = new_pool(1, 4)
    >>> write_rows(pool, np.array([0]), np.array([[-1.0, 0.0, 1.0, 2.0]]))
    >>> add_to_bin(pool, 0, 1, 0.25)
    >>> read_rows(pool, np.array([0]))[0].round(4).tolist()
    [-1.0, 0.25, 1.0, 2.0]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.compiled import inline_kernel, kernel
from anomalyd.engine.rings import GROWTH_HEADROOM, HEADROOM, MOST_CODE, fit, steps
from anomalyd.engine.stats import FloatArray

Pool = tuple[NDArray[np.int16], NDArray[np.float32], NDArray[np.float32]]
"""A component's bins of its rows: codes shape (rows, bins), offset and step shape (rows,)."""


def new_pool(rows: int, bins: int) -> Pool:
    """A pool of rows rows of bins bins, each 0."""
    return np.zeros((rows, bins), np.int16), np.zeros(rows, np.float32), np.zeros(rows, np.float32)


def grown(pool: Pool, rows: int) -> Pool:
    """Pool with rows more rows, each bin 0."""
    more = new_pool(rows, pool[0].shape[1])
    return np.concatenate([pool[0], more[0]]), np.concatenate([pool[1], more[1]]), np.concatenate([pool[2], more[2]])


def head(pool: Pool, rows: int) -> Pool:
    """The first rows rows of pool."""
    return pool[0][:rows], pool[1][:rows], pool[2][:rows]


@inline_kernel
def pool_value(pool: Pool, s: int, b: int) -> float:
    """Bin b of row s."""
    codes, offset, step = pool
    return float(offset[s]) + float(codes[s, b]) * float(step[s])


@kernel
def read_rows(pool: Pool, rows: NDArray[np.intp]) -> FloatArray:
    """Shape (k, bins): the bins of rows."""
    out = np.empty((len(rows), pool[0].shape[1]))
    for k in range(len(rows)):
        for b in range(out.shape[1]):
            out[k, b] = pool_value(pool, rows[k], b)
    return out


@inline_kernel
def _write_row(pool: Pool, s: int, values: FloatArray, headroom: float) -> None:
    """Fit row s to values, shape (bins,), with headroom and code them."""
    codes, offset, step = pool
    off, st = fit(values, headroom)
    offset[s], step[s] = off, st
    for b in range(len(values)):
        codes[s, b] = min(max(round(steps(values[b], off, st)), -MOST_CODE), MOST_CODE)


@kernel
def write_rows(pool: Pool, rows: NDArray[np.intp], values: FloatArray) -> None:
    """Write values, shape (k, bins), to rows, each row fitted to its own."""
    for k in range(len(rows)):
        _write_row(pool, rows[k], values[k], HEADROOM)


@inline_kernel
def add_to_bin(pool: Pool, s: int, b: int, delta: float) -> None:
    """Add delta to bin b of row s, re-fitting the row when the bin leaves it."""
    codes, offset, step = pool
    x = pool_value(pool, s, b) + delta
    q = steps(x, float(offset[s]), float(step[s]))
    if abs(q) <= MOST_CODE:
        codes[s, b] = round(q)
    else:
        _refit(pool, s, b, x)


@kernel
def _refit(pool: Pool, s: int, b: int, x: float) -> None:
    """Write x to bin b of row s, re-fitting the row with room to grow (a call apart: the per-series loops inline add_to_bin)."""
    values = np.empty(pool[0].shape[1])
    for c in range(len(values)):
        values[c] = pool_value(pool, s, c)
    values[b] = x
    _write_row(pool, s, values, GROWTH_HEADROOM)
