"""The population model of one feature: per attribute, the distribution of its entities' bucket values.

Population analysis (``over_field_name``) scores each over entity's bucket statistic against the
values all entities of the same attribute (partition and by value) take, as ml-cpp's
CEventRatePopulationModel and CMetricPopulationModel do, not against the entity's own history.
An entity then costs no model state: only attributes do.

An attribute keeps a decayed histogram of its entities' values on the scale y = asinh(x / c)
(c is fixed from the attribute's first bucket, an eighth of its mean absolute value): linear
near zero, logarithmic beyond c, so that counts, byte sums and latencies alike spread over its
bins. Values are centred on their bucket's population first (PopulationModel.step), so the
histogram holds how far entities stand from their peers of the same bucket, whatever the
population's level then. A value's tail probability is the largest of the histogram's mass
beyond it, a normal tail on y (log-normal in x, as ml-cpp's log-normal prior) with the
population's mean and spread of y, and beyond the outermost value seen an exponential tail in y
with the mean excess of the outer 2 % of values: a value far beyond anything seen gets a
probability that falls with its distance rather than one flat floor, and a population whose tail
is heavier than normal stays quiet.

Example:
    >>> model = PopulationModel(side=1, warmup=2, decay=0.999)
    >>> model.grow(1)
    >>> attr = np.zeros(200, np.intp)
    >>> for b in range(3):
    ...     _ = model.step(attr, np.random.default_rng(b).poisson(5.0, 200).astype(float), b)
    >>> x = np.random.default_rng(9).poisson(5.0, 200).astype(float)
    >>> x[0] = 40.0  # one entity far above its peers
    >>> ln_p, typical = model.step(attr, x, None)
    >>> round(float(ln_p[0]), 1), bool(ln_p[1:].min() > -5.0), round(float(typical[0]), 1)
    (-9.8, True, 5.0)
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.compiled import kernel
from anomalyd.engine.state import NEVER, Arrays
from anomalyd.engine.stats import LN_P_MIN, FloatArray, normal_tail_log_p1

N_BINS = 513
_Y_MAX = 32.0  # y covers e^31 times an attribute's scale either way; values beyond share the end bins
_WIDTH = 2.0 * _Y_MAX / (N_BINS - 1)
_MIN_SPREAD = 0.25  # the least spread of y: a population of one value still judges others gently
_TAIL_SHARE = 0.02  # the outermost share of the mass whose mean excess scales the tail beyond it...
_TAIL_MIN_MASS = 10.0  # ...or at least this many values
_MIN_EXCESS = 0.125
_CENTRE_PRIOR = 3.0  # a bucket of n values moves the centre n / (n + 3) of the way to its own median
_TAIL_PRIOR = 30.0
_SCALE_DIVISOR = 8.0
_FLOAT_MAX = float(np.finfo(np.float64).max)
_LN2 = math.log(2.0)
_PARAMS = 8  # per attribute and bucket: total mass, mean, spread and median of y, upper and lower tail


class PopulationModel:
    """Per attribute, the decayed distribution of its entities' values of one feature.

    Args:
        side: 0 two-sided, +1 alerts only above the population, -1 only below.
        warmup: buckets an attribute learns before its entities are scored.
        decay: the factor the histograms are multiplied by per elapsed bucket.
    """

    def __init__(self, *, side: int, warmup: int, decay: float) -> None:
        self.side = side
        self.warmup = warmup
        self.decay = decay
        self.hist = np.zeros((0, N_BINS))  # of values centred on their bucket's population (see step)
        self.scale = np.zeros(0)  # c of each attribute; 0 until its first bucket
        self.last = np.zeros(0, np.int64)  # bucket index the histogram was last aged to (NEVER at first)
        self.learned = np.zeros(0, np.int32)  # buckets learned
        self.level = np.zeros(0)  # decayed mean of the buckets' population medians of y...
        self.level_weight = np.zeros(0)  # ...and its weight (0: none yet)

    @staticmethod
    def bytes_per_attribute() -> int:
        """Bytes of state per attribute."""
        return N_BINS * 8 + 8 + 8 + 4 + 8 + 8

    def grow(self, n: int) -> None:
        """Make room for n attributes; new ones are empty."""
        extra = n - len(self.scale)
        if extra > 0:
            self.hist = np.concatenate([self.hist, np.zeros((extra, N_BINS))])
            self.scale = np.concatenate([self.scale, np.zeros(extra)])
            self.last = np.concatenate([self.last, np.full(extra, NEVER, np.int64)])
            self.learned = np.concatenate([self.learned, np.zeros(extra, np.int32)])
            self.level = np.concatenate([self.level, np.zeros(extra)])
            self.level_weight = np.concatenate([self.level_weight, np.zeros(extra)])

    def warm(self, attr: NDArray[np.intp]) -> NDArray[np.bool_]:
        """Shape (k,): whether each attribute has learned its warm-up buckets."""
        warm: NDArray[np.bool_] = self.learned[attr] >= self.warmup
        return warm

    def step(self, attr: NDArray[np.intp], x: FloatArray, bucket: int | None) -> tuple[FloatArray, FloatArray]:
        """The ln tail probability of each value among its attribute's population, and the typical value; learn them.

        A value is compared centred on its bucket's population: y less the bucket's median y of
        the attribute (shrunk towards the attribute's usual median when the bucket holds few
        values), so a whole population that moves with the time of day or a trend still judges
        each entity against its peers of the same bucket, as ml-cpp's population models judge
        it against an attribute model with its own trend.

        Args:
            attr: shape (k,), each value's attribute; one value per entity and attribute.
            x: shape (k,), the values.
            bucket: the bucket index (start / span) to learn the values at; None scores only.

        Returns:
            ln p (0 for an attribute without history) and the typical value (the population's
            median in this bucket), each shape (k,).
        """
        if bucket is not None:
            self._take_scales(attr, x)
        present, local = np.unique(attr, return_inverse=True)
        local = local.reshape(-1).astype(np.intp)
        with np.errstate(over="ignore"):  # a value near the float limit over a small scale
            ratio = x / np.where(self.scale[attr] > 0.0, self.scale[attr], 1.0)
        # Clipped to finite ratios, so that an overflow gives the largest y (about 710), not inf - inf.
        y = np.arcsinh(np.clip(ratio, -_FLOAT_MAX, _FLOAT_MAX))
        median, count = _medians(local, y, len(present))
        usual, weight = self.level[present], self.level_weight[present]
        shrink = np.where(weight > 0.0, count / (count + _CENTRE_PRIOR), 1.0)
        centre = usual + shrink * (median - usual)
        centred = y - centre[local]
        above = np.empty((len(present), N_BINS))
        params = np.empty((len(present), _PARAMS))
        _tails(self.hist, present, above, params)
        ln_p, typical = np.empty(len(x)), np.empty(len(x))
        _score(self.hist, self.scale, present, local, centred, centre, above, params, self.side, ln_p, typical)
        if bucket is not None:
            self._learn_level(present, median, count, bucket)
            _learn(self.hist, self.last, self.learned, attr, centred, bucket, self.decay)
        return ln_p, typical

    def _take_scales(self, attr: NDArray[np.intp], x: FloatArray) -> None:
        """Attributes new to data take c: an eighth of their first bucket's mean absolute value (1 if 0 or overflowing)."""
        fresh = self.scale[attr] == 0.0
        if not fresh.any():
            return
        finite = np.isfinite(x)
        n = np.bincount(attr[fresh & finite], minlength=len(self.scale))
        total = np.bincount(attr[fresh & finite], np.abs(x[fresh & finite]), minlength=len(self.scale))
        new = np.unique(attr[fresh])
        mean = total[new] / np.maximum(n[new], 1)
        self.scale[new] = np.where((mean > 0.0) & np.isfinite(mean), mean / _SCALE_DIVISOR, 1.0)

    def _learn_level(self, present: NDArray[np.intp], median: FloatArray, count: FloatArray, bucket: int) -> None:
        """Age the attributes' usual medians to bucket and add this bucket's (those with a finite value)."""
        seen = count > 0.0
        a = present[seen]
        age = self.decay ** (bucket - self.last[a]).astype(np.float64)
        weight = self.level_weight[a] * age
        self.level[a] = (self.level[a] * weight + median[seen]) / (weight + 1.0)
        self.level_weight[a] = weight + 1.0

    def arrays(self, n: int) -> Arrays:
        """The state of the first n attributes as named arrays."""
        return {
            "hist": self.hist[:n], "scale": self.scale[:n], "last": self.last[:n], "learned": self.learned[:n],
            "level": self.level[:n], "level_weight": self.level_weight[:n],
        }

    def load(self, arrays: Arrays) -> None:
        """Restore the state written by arrays(); a state without levels reads as having none yet."""
        self.hist, self.scale = arrays["hist"], arrays["scale"]
        self.last, self.learned = arrays["last"], arrays["learned"]
        n = len(self.scale)
        self.level, self.level_weight = arrays.get("level", np.zeros(n)), arrays.get("level_weight", np.zeros(n))


def _medians(group: NDArray[np.intp], y: FloatArray, groups: int) -> tuple[FloatArray, FloatArray]:
    """Per group, the median of its finite y (0 without one) and how many it has."""
    finite = np.isfinite(y)
    member = group[finite]
    count = np.bincount(member, minlength=groups)
    ordered = y[finite][np.argsort(member, kind="stable")]  # each group's values together
    median = np.zeros(groups)
    _slice_medians(ordered, count, median)
    return median, count.astype(np.float64)


@kernel
def _slice_medians(ordered: FloatArray, count: NDArray[np.int64], out: FloatArray) -> None:
    """out[g] = the median of group g's values, which are ordered[sum(count[:g]):][:count[g]] (0 if none)."""
    start = 0
    for g in range(len(count)):
        if count[g] > 0:
            out[g] = np.median(ordered[start:start + count[g]])
        start += count[g]


@kernel
def _bin(y: float) -> int:
    """The histogram bin of y (the end bins take everything beyond them)."""
    return min(max(int((y + _Y_MAX) / _WIDTH + 0.5), 0), N_BINS - 1)


@kernel
def _centre(i: int) -> float:
    return -_Y_MAX + i * _WIDTH


@kernel
def _learn(
    hist: FloatArray, last: NDArray[np.int64], learned: NDArray[np.int32], attr: NDArray[np.intp], y: FloatArray,
    bucket: int, decay: float,
) -> None:
    """Age each attribute's histogram to bucket (once per bucket) and add the centred values to it."""
    for k in range(len(attr)):
        a = attr[k]
        if last[a] != bucket:
            hist[a, :] *= decay ** float(bucket - last[a])
            last[a] = bucket
            learned[a] += 1
        if math.isfinite(y[k]):
            hist[a, _bin(y[k])] += 1.0


@kernel
def _tails(hist: FloatArray, present: NDArray[np.intp], above: FloatArray, params: FloatArray) -> None:
    """Per attribute in present: the mass above each bin, and the moments and tails of y (see _PARAMS)."""
    for j in range(len(present)):
        row = hist[present[j]]
        acc, first, second = 0.0, 0.0, 0.0
        for i in range(N_BINS - 1, -1, -1):
            above[j, i] = acc
            acc += row[i]
            first += row[i] * _centre(i)
            second += row[i] * _centre(i) * _centre(i)
        total = acc
        mean = first / total if total > 0.0 else 0.0
        spread = math.sqrt(max(second / total - mean * mean, 0.0)) if total > 0.0 else 0.0
        median, acc = 0.0, 0.0
        for i in range(N_BINS):
            acc += row[i]
            if acc >= 0.5 * total:
                median = _centre(i)
                break
        params[j, 0], params[j, 1], params[j, 2], params[j, 3] = total, mean, max(spread, _MIN_SPREAD), median
        target = min(max(_TAIL_SHARE * total, _TAIL_MIN_MASS), 0.5 * total)
        for side in range(2):
            _tail(row, target, 1 - 2 * side, params[j, 4 + 2 * side : 6 + 2 * side])


@kernel
def _tail(row: FloatArray, target: float, sign: int, out: FloatArray) -> None:
    """The outermost value seen on one side (sign +1 upper, -1 lower) and the tail's scale beyond it.

    The scale is the mean distance in y of the outer `target` mass from where it starts.
    """
    mass, excess, edge, start = 0.0, 0.0, -1, 0
    for step in range(N_BINS):
        i = N_BINS - 1 - step if sign > 0 else step
        if row[i] <= 0.0:
            continue
        edge = i if edge < 0 else edge
        mass += row[i]
        excess += row[i] * abs(_centre(i) - _centre(edge))
        start = i
        if mass >= target:
            break
    # excess is measured from the edge; the mean distance from the start is the rest of the span.
    span = abs(_centre(edge) - _centre(start))
    out[0] = _centre(max(edge, 0)) + sign * 0.5 * _WIDTH
    out[1] = max(span - excess / mass if mass > 0.0 else 0.0, _MIN_EXCESS)


@kernel
def _tail_ln_p(z: float, beyond: float, own: float, total: float, past_edge: float, excess: float) -> float:
    """Ln P(Y at least as far out as y) on one side.

    Args:
        z: spreads y lies beyond the mean on that side.
        beyond: the mass strictly further out than y's bin.
        own: that bin's mass.
        total: the whole mass.
        past_edge: how far y lies beyond the outermost value seen (<= 0 inside).
        excess: the tail's scale.

    Returns:
        The larger of the normal tail at z and the observed share beyond y, counting
        _TAIL_PRIOR values beyond any value (a tail known from a few values is not trusted
        further); past the outermost value seen that share decays exponentially with the tail's
        scale, so a population whose tail is heavier than normal stays quiet.
    """
    empirical = (beyond + 0.5 * own + _TAIL_PRIOR) / (total + _TAIL_PRIOR)
    ln_p = math.log(empirical) - max(past_edge, 0.0) / excess
    return min(max(ln_p, normal_tail_log_p1(z, 1), LN_P_MIN), 0.0)


@kernel
def _score(
    hist: FloatArray, scale: FloatArray, present: NDArray[np.intp], local: NDArray[np.intp], centred: FloatArray,
    centre: FloatArray, above: FloatArray, params: FloatArray, side: int, ln_p: FloatArray, typical: FloatArray,
) -> None:
    """PopulationModel.step's scores of every value (centred y), written to ln_p and typical."""
    for k in range(len(centred)):
        j = local[k]
        a = present[j]
        total = params[j, 0]
        c = scale[a] if scale[a] > 0.0 else 1.0
        typical[k] = c * math.sinh(centre[j] + (params[j, 3] if total > 0.0 else 0.0))
        y = centred[k]
        if total <= 0.0 or not math.isfinite(y):
            ln_p[k] = 0.0
            continue
        i = _bin(y)
        own = hist[a, i]
        below = total - above[j, i] - own
        z = (y - params[j, 1]) / params[j, 2]
        upper = _tail_ln_p(z, above[j, i], own, total, y - params[j, 4], params[j, 5]) if side >= 0 else 0.0
        lower = _tail_ln_p(-z, below, own, total, params[j, 6] - y, params[j, 7]) if side <= 0 else 0.0
        ln_p[k] = min(_LN2 + min(upper, lower), 0.0) if side == 0 else upper + lower
