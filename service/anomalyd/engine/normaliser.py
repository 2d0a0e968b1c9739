"""Turns raw anomaly scores into 0-100 scores, one normaliser row per series or per aggregate.

A row keeps a decayed histogram of the raw scores it has seen (the role of ml-cpp's q-digest in
CAnomalyScore::CNormalizer) and a decayed maximum. A new raw score is placed in that
distribution and the smallest of four caps wins:

* percentile: its percentile mapped through Elasticsearch's knots, so routine scores stay low; a
  score's place within its histogram bin is read on the bin's log scale, so the percentile (and
  the score, whose knots climb from 50 to 90 between the 99th and 99.9th) is continuous in the
  raw score rather than a step per bin;
* max ratio: 100 * min(1.5 r, 0.5 + 0.5 r), r = raw / the recent maximum of the row's group
  (Elasticsearch takes it over the partition), so only scores near the largest seen in a while
  among comparable series reach the top band; the maximum is taken to be at least the raw score
  of the least probability a row's n buckets show by chance (its median, p = ln 2 / n), so the
  top of a quiet history (whose own maximum can be far smaller when its probabilities are
  conservative) is not scored as if it were the largest anomaly seen;
* probability: a cap linear in ln p from 5 at p = 0.05 to 100 at p = 1e-4, so a series that
  routinely produces tiny raw scores cannot push a barely significant one to 90;
* noise: when most buckets carry some raw score (a noisy series), scores are capped near the
  median (read within its bin, so the cap moves smoothly with the history) unless they are many
  decibels above it.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.compiled import inline_kernel, kernel
from anomalyd.engine.state import NEVER, Arrays
from anomalyd.engine.stats import FloatArray, raw_score1

N_BINS = 201
# Bin 0 holds exact zeros, bin 1 everything up to 1e-4, bins 2..199 are log spaced up to 100 and
# bin 200 holds 100.
_EDGES = np.logspace(-4.0, 2.0, N_BINS - 1)
_KNOT_PCT = np.array([0.0, 70.0, 85.0, 90.0, 95.0, 97.0, 99.0, 99.9, 100.0])
_KNOT_SCORE = np.array([0.0, 1.0, 1.2, 1.5, 3.0, 20.0, 50.0, 90.0, 100.0])
_LN_P_CAP0 = math.log(0.05)
_LN_P_CAP100 = math.log(1e-4)
_REBASE_LN_WEIGHT = math.log(1e3)  # a row's history is re-based when a new score would weigh more
_MEDIAN_SCORE = float(np.interp(50.0, _KNOT_PCT, _KNOT_SCORE))


def _ints(a: NDArray[np.intp]) -> NDArray[np.intp]:
    return np.asarray(a, np.intp)


@kernel
def _bin(raw: float) -> int:
    """The histogram bin of a raw score."""
    return 0 if raw <= 0.0 else max(int(np.searchsorted(_EDGES, raw, side="right")), 1)


class Normaliser:
    """Per-row decayed score distributions, with maxima per group of rows.

    Args:
        rows: initial number of rows (and of groups).
        decay_per_bucket: the factor a row's history is multiplied by per elapsed bucket.

    Example:
        >>> norm = Normaliser(1, decay_per_bucket=0.999)
        >>> rows = np.array([0])
        >>> for b in range(200):
        ...     norm.update(rows, rows, np.array([0.0]), bucket=b)
        >>> float(norm.normalise(rows, rows, np.array([40.0]), np.array([-30.0]), bucket=200)[0]) > 75
        True
    """

    def __init__(self, rows: int, *, decay_per_bucket: float) -> None:
        self.decay = decay_per_bucket
        # A row's true counts are hist * decay ** (bucket - epoch): ageing then costs nothing,
        # and a new score adds decay ** (epoch - bucket) to one bin.
        self.hist = np.zeros((rows, N_BINS), dtype=np.float32)
        self.epoch = np.full(rows, NEVER, dtype=np.int64)  # NEVER: the row has no history yet
        self.hmax = np.zeros(rows, dtype=np.float32)
        self.hmax_last = np.zeros(rows, dtype=np.int64)

    @property
    def rows(self) -> int:
        """The number of rows."""
        return len(self.epoch)

    @staticmethod
    def bytes_per_row() -> int:
        """Bytes of state per row."""
        return N_BINS * 4 + 8

    @staticmethod
    def bytes_per_group() -> int:
        """Bytes of state per group."""
        return 4 + 8

    def grow(self, rows: int, groups: int) -> None:
        """Make room for at least rows rows and groups groups; new ones are empty."""
        extra = rows - self.rows
        if extra > 0:
            self.hist = np.concatenate([self.hist, np.zeros((extra, N_BINS), np.float32)])
            self.epoch = np.concatenate([self.epoch, np.full(extra, NEVER, np.int64)])
        extra = groups - len(self.hmax)
        if extra > 0:
            self.hmax = np.concatenate([self.hmax, np.zeros(extra, np.float32)])
            self.hmax_last = np.concatenate([self.hmax_last, np.zeros(extra, np.int64)])

    def state(self) -> tuple[NDArray[np.float32], NDArray[np.int64], NDArray[np.float32], NDArray[np.int64]]:
        """The arrays normalise1 and update1 read: hist, epoch, hmax, hmax_last."""
        return self.hist, self.epoch, self.hmax, self.hmax_last

    def normalise(
        self, rows: NDArray[np.intp], groups: NDArray[np.intp], raw: FloatArray, ln_p: FloatArray, *, bucket: int
    ) -> FloatArray:
        """Normalised scores of raw scores, without learning them.

        Args:
            rows: shape (k,), the rows the scores belong to.
            groups: shape (k,), each row's group.
            raw: shape (k,), raw scores in [0, 100].
            ln_p: shape (k,), the log probabilities the raw scores came from.
            bucket: the bucket index (bucket start / span) of the scores.

        Returns:
            shape (k,), scores in [0, 100]; 0 wherever raw is 0 or the row has no history.
        """
        out = np.zeros(len(rows))
        _normalise(self.hist, self.epoch, self.hmax, self.hmax_last, self.decay, _ints(rows), _ints(groups),
                   np.asarray(raw, np.float64), np.asarray(ln_p, np.float64), bucket, out)
        return out

    def update(self, rows: NDArray[np.intp], groups: NDArray[np.intp], raw: FloatArray, *, bucket: int) -> None:
        """Learn raw scores (one per row, rows distinct), ageing rows and groups to bucket first.

        Args:
            rows: shape (k,).
            groups: shape (k,), each row's group.
            raw: shape (k,), raw scores in [0, 100].
            bucket: the bucket index (bucket start / span) the scores belong to.
        """
        _update(self.hist, self.epoch, self.hmax, self.hmax_last, self.decay, _ints(rows), _ints(groups),
                np.asarray(raw, np.float64), bucket)

    def arrays(self, rows: int) -> Arrays:
        """The state of the first rows rows and of every group as named arrays."""
        hist = self.hist[:rows]
        filled = hist != 0.0
        # Most bins of most rows are empty: a bit per bin, shape (rows, 26), says which are not,
        # and only those are written, in row-major order.
        return {
            "hist_filled": np.packbits(filled, axis=1), "hist": hist[filled], "epoch": self.epoch[:rows],
            "hmax": self.hmax, "hmax_last": self.hmax_last,
        }

    def load(self, arrays: Arrays) -> None:
        """Restore the state written by arrays()."""
        filled = np.unpackbits(arrays["hist_filled"], axis=1, count=N_BINS).astype(bool)
        self.hist = np.zeros(filled.shape, np.float32)
        self.hist[filled] = arrays["hist"]
        self.epoch = arrays["epoch"]
        self.hmax, self.hmax_last = arrays["hmax"], arrays["hmax_last"]


@kernel
def _normalise(
    hist: NDArray[np.float32], epoch: NDArray[np.int64], hmax: NDArray[np.float32], hmax_last: NDArray[np.int64],
    decay: float, rows: NDArray[np.intp], groups: NDArray[np.intp], raw: FloatArray, ln_p: FloatArray, bucket: int,
    out: FloatArray,
) -> None:
    """Normaliser.normalise() of every score, written to out."""
    for k in range(len(rows)):
        out[k] = normalise1(hist, epoch, hmax, hmax_last, decay, rows[k], groups[k], raw[k], ln_p[k], bucket)


@inline_kernel
def normalise1(
    hist: NDArray[np.float32], epoch: NDArray[np.int64], hmax: NDArray[np.float32], hmax_last: NDArray[np.int64],
    decay: float, r: int, g: int, x: float, ln_p: float, bucket: int,
) -> float:
    """The normalised score of raw score x of row r in group g (see Normaliser.normalise).

    Args:
        hist: the Normaliser's hist.
        epoch: its epoch.
        hmax: its hmax.
        hmax_last: its hmax_last.
        decay: its decay per bucket.
        r: the row.
        g: the row's group.
        x: the raw score.
        ln_p: the log probability x came from.
        bucket: the bucket index of the score.
    """
    if x <= 0.0:
        return 0.0
    # A row's counts are hist[r] * age, computed where read (the same products every time)
    # rather than copied into an array: this runs for every series in every bucket.
    age = decay ** float(bucket - epoch[r])
    total = 0.0
    for b in range(N_BINS):
        total += hist[r, b] * age
    if total <= 0.0:
        return 0.0
    at = _bin(x)
    below = 0.0
    for b in range(at):
        below += hist[r, b] * age
    # The percentile the score would have once added, as autodetect normalises after updating
    # its quantiles: a score above all history gets (total + 1/2) / (total + 1).
    pct = 100.0 * (below + _within(x, at) * (hist[r, at] * age) + 0.5) / (total + 1.0)
    cap = np.interp(pct, _KNOT_PCT, _KNOT_SCORE)
    # The peak is at least what total quiet buckets reach by chance: the median of their least p
    # is ln 2 / total. A quiet history's own top is no anomaly to measure others by.
    chance_peak = raw_score1(math.log(math.log(2.0) / total))
    peak = max(hmax[g] * decay ** max(bucket - hmax_last[g], 0), chance_peak)
    ratio = x / max(peak, x)
    cap = min(cap, 100.0 * min(1.5 * ratio, 0.5 + 0.5 * ratio))
    prob = 5.0 + 95.0 * (ln_p - _LN_P_CAP0) / (_LN_P_CAP100 - _LN_P_CAP0)
    cap = min(cap, min(max(prob, 0.0), 100.0))
    if hist[r, 0] * age < 0.5 * total:  # noisy: most buckets carry some raw score
        median = _median(hist[r], age, total)
        db = 10.0 * math.log10(max(x / median, 1.0))
        cap = min(cap, _MEDIAN_SCORE * (1.0 + db))
    return float(cap)


@kernel
def _within(raw: float, at: int) -> float:
    """How far raw lies into its bin, in [0, 1] on the log scale (1/2 in the open-ended end bins)."""
    if at < 2 or at > N_BINS - 2:
        return 0.5
    lo, hi = math.log(_EDGES[at - 1]), math.log(_EDGES[at])
    return min(max((math.log(raw) - lo) / (hi - lo), 0.0), 1.0)


@kernel
def _median(row: NDArray[np.float32], age: float, total: float) -> float:
    """The median of a histogram row (counts row * age, summing to total), read within the bin that reaches it on the bin's log scale."""
    cumulative = 0.0
    for b in range(N_BINS):
        cumulative += row[b] * age
        if cumulative >= 0.5 * total:
            if b < 2 or b > N_BINS - 2:
                return 1e-4 if b == 0 else (_EDGES[b] if b < N_BINS - 1 else 100.0)
            part = 1.0 - (cumulative - 0.5 * total) / (row[b] * age)
            lo, hi = math.log(_EDGES[b - 1]), math.log(_EDGES[b])
            return math.exp(lo + part * (hi - lo))
    return 1e-4


@kernel
def _update(
    hist: NDArray[np.float32], epoch: NDArray[np.int64], hmax: NDArray[np.float32], hmax_last: NDArray[np.int64],
    decay: float, rows: NDArray[np.intp], groups: NDArray[np.intp], raw: FloatArray, bucket: int,
) -> None:
    """Normaliser.update() of every score."""
    for k in range(len(rows)):
        update1(hist, epoch, hmax, hmax_last, decay, rows[k], groups[k], raw[k], bucket)


@inline_kernel
def update1(
    hist: NDArray[np.float32], epoch: NDArray[np.int64], hmax: NDArray[np.float32], hmax_last: NDArray[np.int64],
    decay: float, r: int, g: int, x: float, bucket: int,
) -> None:
    """Learn raw score x of row r in group g (see Normaliser.update); the arrays as for normalise1."""
    age = float(bucket - epoch[r])
    # Re-base rows whose weights would grow large, long before float32 loses small counts, and
    # before adding: after a long gap decay ** -age overflows, while the history it would
    # divide merely decays to nothing (a row without history is re-based from NEVER here).
    if age * -math.log(decay) > _REBASE_LN_WEIGHT:
        hist[r, :] *= np.float32(decay**age)
        epoch[r] = bucket
        age = 0.0
    hist[r, _bin(x)] += np.float32(decay**-age)
    hmax[g] *= np.float32(decay ** max(bucket - hmax_last[g], 0))  # by 1 if aged already
    hmax_last[g] = bucket
    hmax[g] = max(hmax[g], np.float32(x))
