"""A run of buckets' rows grouped per (bucket, series) with each group's statistic, in one compiled pass.

functions.Grouped and STATISTICS do the same in numpy, a dozen calls a bucket; a live stream
closes one bucket at a time, often of a few series, where those calls cost more than the
models' work. Sums add in numpy's pairwise order (that of np.add.reduceat), so every statistic
is bit for bit the one STATISTICS gives.

Example:
    >>> starts = np.array([0, 60_000])
    >>> bucket = np.array([0, 0, 0, 60_000])
    >>> series = np.array([[1], [0], [1], [1]], np.int32)
    >>> value = np.array([[2.0], [5.0], [4.0], [7.0]])
    >>> idx, ptr, x = group_run(starts, bucket, series, value, np.ones(4), 0, 2, STATISTIC_CODES["mean"], False)
    >>> idx.tolist(), ptr.tolist(), x.tolist()
    ([0, 1, 1], [0, 2, 3], [5.0, 3.0, 7.0])
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.compiled import inline_kernel, kernel
from anomalyd.engine.stats import FloatArray

#: The statistics group_run computes, by functions.STATISTICS name; the others group in numpy.
STATISTIC_CODES = {"count": 0, "sum": 1, "mean": 2, "min": 3, "max": 4, "varp": 5}
_COUNT, _SUM, _MEAN, _MIN, _MAX, _VARP = range(6)
_BLOCK = 128  # numpy's pairwise summation block (PW_BLOCKSIZE)


@kernel
def _pairwise(a: FloatArray, lo: int, n: int) -> float:
    """The sum of a[lo:lo + n] added as numpy's pairwise summation adds them (8 running sums a block)."""
    if n < 8:
        res = -0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    if n <= _BLOCK:
        r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
        r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
        i, whole = lo + 8, lo + n - n % 8
        while i < whole:
            r0, r1, r2, r3 = r0 + a[i], r1 + a[i + 1], r2 + a[i + 2], r3 + a[i + 3]
            r4, r5, r6, r7 = r4 + a[i + 4], r5 + a[i + 5], r6 + a[i + 6], r7 + a[i + 7]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        for j in range(i, lo + n):
            res += a[j]
        return float(res)
    half = n // 2
    half -= half % 8
    return _pairwise(a, lo, half) + _pairwise(a, lo + half, n - half)


@kernel
def _total(a: FloatArray, lo: int, hi: int) -> float:
    """np.add.reduceat's sum of a[lo:hi] (hi > lo): the first value plus the pairwise sum of the rest."""
    return float(a[lo] + _pairwise(a, lo + 1, hi - lo - 1))


@kernel
def _statistic(statistic: int, values: FloatArray, weights: FloatArray, lo: int, hi: int, scratch: FloatArray) -> float:
    """The statistic of one group's rows lo..hi-1 of values and weights (in row order); scratch is as long."""
    if statistic == _COUNT:
        return _total(weights, lo, hi)
    if statistic == _SUM:
        return _total(values, lo, hi)
    if _MIN <= statistic <= _MAX:
        # The first of equal smallest values, the last of equal largest, as a stable sort by value reads them.
        best = values[lo]
        for i in range(lo + 1, hi):
            if (values[i] < best) if statistic == _MIN else (values[i] >= best):
                best = values[i]
        return float(best)
    for i in range(lo, hi):
        scratch[i] = weights[i] * values[i]
    total_weight = _total(weights, lo, hi)
    mean = _total(scratch, lo, hi) / total_weight
    if statistic == _MEAN:
        return mean
    for i in range(lo, hi):
        deviation = values[i] - mean
        scratch[i] = weights[i] * deviation * deviation
    return _total(scratch, lo, hi) / total_weight


@inline_kernel
def _statistic_of_one(statistic: int, value: float, weight: float) -> float:
    """_statistic() of a group of one row, the same bits without its scratch and summation calls.

    A live stream's bucket holds one row of most series: at 100,000 series the calls cost more
    than the arithmetic. A sum of one value is that value (adding numpy's -0.0 start changes no bit).
    """
    if statistic == _COUNT:
        return weight
    if statistic == _SUM or _MIN <= statistic <= _MAX:
        return value
    mean = weight * value / weight
    if statistic == _MEAN:
        return mean
    deviation = value - mean
    return weight * deviation * deviation / weight


@kernel
def _by_series(first: int, end: int, series: NDArray[np.int32], column: int, counts: NDArray[np.intp], order: NDArray[np.intp]) -> int:
    """Rows first..end-1 with a series in column, ordered by it stably, written to order; how many.

    A bucket that holds a fair share of the series is ordered by counting them (its cost grows with
    the series, a merge sort's with rows times their logarithm: 100,000 series a bucket took 7 ms);
    counts, shape (series + 1,), is scratch space.
    """
    m = 0
    for r in range(first, end):
        if series[r, column] >= 0:
            m += 1
    if m < len(counts) // 4:
        rows, keys = np.empty(m, np.intp), np.empty(m, np.int32)
        m = 0
        for r in range(first, end):
            if series[r, column] >= 0:
                rows[m], keys[m] = r, series[r, column]
                m += 1
        order[:m] = rows[np.argsort(keys, kind="mergesort")]
        return m
    counts[:] = 0
    for r in range(first, end):
        if series[r, column] >= 0:
            counts[series[r, column] + 1] += 1
    for s in range(1, len(counts)):
        counts[s] += counts[s - 1]
    for r in range(first, end):
        s = series[r, column]
        if s >= 0:
            order[counts[s]] = r
            counts[s] += 1
    return m


@kernel
def group_run(
    starts: NDArray[np.int64], bucket: NDArray[np.int64], series: NDArray[np.int32], value: FloatArray,
    weight: FloatArray, column: int, n_series: int, statistic: int, empty_is_zero: bool,
) -> tuple[NDArray[np.intp], NDArray[np.intp], FloatArray]:
    """Each bucket's series and their statistic, as score_run reads them.

    Args:
        starts: shape (B,), the buckets, ascending, epoch ms.
        bucket: shape (n,), each row's bucket, sorted; every one is in starts.
        series: shape (n, detectors), each row's series per detector (-1: skipped).
        value: shape (n, detectors), each row's value per detector.
        weight: shape (n,), the events each row stands for.
        column: the detector's column of series and value.
        n_series: the detector's number of series.
        statistic: a STATISTIC_CODES value.
        empty_is_zero: every series has a value in every bucket, 0 without rows.

    Returns:
        idx: shape (K,), each bucket's series in ascending order (all of them if empty_is_zero).
        ptr: shape (B + 1,), bucket j's series are idx[ptr[j]:ptr[j + 1]].
        x: shape (K,), their statistic.
    """
    n_rows = len(bucket)
    order = np.empty(n_rows, np.intp)
    ordered_values, ordered_weights, scratch = np.empty(n_rows), np.empty(n_rows), np.empty(n_rows)
    size = len(starts) * n_series if empty_is_zero else n_rows
    idx, x, ptr = np.empty(size, np.intp), np.empty(size), np.empty(len(starts) + 1, np.intp)
    counts = np.zeros(n_series + 1, np.intp)
    row, k = 0, 0
    for j in range(len(starts)):
        ptr[j] = k
        first = row
        while row < n_rows and bucket[row] <= starts[j]:
            row += 1
        m = _by_series(first, row, series, column, counts, order)
        if empty_is_zero:
            for s in range(n_series):
                idx[k + s], x[k + s] = s, 0.0
        lo = 0
        while lo < m:
            s = series[order[lo], column]
            hi = lo + 1
            while hi < m and series[order[hi], column] == s:
                hi += 1
            at = k + s if empty_is_zero else k
            if hi == lo + 1:
                idx[at], x[at] = s, _statistic_of_one(statistic, value[order[lo], column], weight[order[lo]])
            else:
                for g in range(lo, hi):
                    ordered_values[g], ordered_weights[g] = value[order[g], column], weight[order[g]]
                idx[at], x[at] = s, _statistic(statistic, ordered_values, ordered_weights, lo, hi, scratch)
            k += 0 if empty_is_zero else 1
            lo = hi
        k += n_series if empty_is_zero else 0
    ptr[len(starts)] = k
    return idx[:k], ptr, x[:k]
