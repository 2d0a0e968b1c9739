"""The rare and freq_rare functions: by values that are rare in time, or rare in the population.

As in ml-cpp (CEventRateModel's and CEventRatePopulationModel's category priors), a value's
probability is that of drawing a value no more common than it from the values' frequencies:
P(v) = sum of the weights w_u <= w_v over the sum of all weights, within v's partition. Only
whether a value occurs in a bucket counts, not how often.

* ``rare by X``: the weight of a by value is the (decayed) number of buckets it occurred in,
  this one included, so a value never seen before weighs 1 beside the routine values' hundreds,
  and a value seen in most buckets can never score. The record is on the by value.
* ``rare by X over Y``: the weight of a by value is the number of over values that used it
  (each counting up to 1 as its own bucket count decays), so a by value only one over value
  uses is rare however often that one uses it. The record is on the over value, with the rare
  by values it used as causes; its probability is its least probable by value's.
* ``freq_rare by X over Y``: an over value's events on rare by values (ones at most 5 % of the
  over values use, or a single one) in a bucket are counted and tested against its events times
  the population's share of events on rare values (a one-sided Poisson tail), so an over value
  that keeps hitting rare values scores, and one rare hit where they are common does not. A
  value's share among nearly equal ones is no rarity here: the smallest of 30 equally used
  values has P = 1/30.

A series (the rows the buffer holds) is one (partition, over, by) combination; a detector's
state per series is one float (its decayed bucket count), and the key. Records are normalised
per partition: a rare value's series has no score history of its own.

Elasticsearch documents that rare needs about 20 buckets of learning before it reports.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.compiled import kernel
from anomalyd.engine.detector_scorer import Leaf
from anomalyd.engine.functions import Feature, Function
from anomalyd.engine.memory import KEY_BYTES, MemoryAccount
from anomalyd.engine.normaliser import Normaliser
from anomalyd.engine.records import DetectorSpec, RecordBatch
from anomalyd.engine.renormalise import DetectorScores
from anomalyd.engine.results import AnomalyCause
from anomalyd.engine.series_keys import SeriesKeys
from anomalyd.engine.state import NEVER, Arrays, prefixed
from anomalyd.engine.stats import LN_P_MIN, FloatArray, poisson_tail_log_p1, raw_score

RARE_FUNCTIONS = {
    name: Function(name, name, (Feature("count", 1, empty_is_zero=False, count_like=False),), uses_field=False)
    for name in ("rare", "freq_rare")
}
WARMUP_BUCKETS = 20  # Elasticsearch: "a learning period of at least 20 buckets is required"
RARE_USERS = 0.05  # freq_rare counts events on by values that at most 5 % of the over values (or one) use
MAX_CAUSES = 10  # Elasticsearch keeps the 10 most significant causes of a population record
_LN_2 = math.log(2.0)


class RareScorer:
    """One rare or freq_rare detector: its series, their bucket counts, and a record normaliser per partition.

    It offers what JobAnalyzer uses of a DetectorScorer; score_run is None (bucket by bucket).

    Args:
        index: the detector's position in the job.
        spec: the detector (function rare or freq_rare, by field set).
        span_ms: the bucket span.
        decay: the bucket counts' and the normaliser's decay per bucket.

    Example:
        >>> from anomalyd.engine.records import StringColumn
        >>> det = RareScorer(0, DetectorSpec("rare", by_field_name="process"), span_ms=60_000, decay=0.999)
        >>> account = MemoryAccount(1 << 20)
        >>> account.open_batch(used=0)
        >>> def bucket(names: tuple[str, ...], b: int) -> Leaf:
        ...     batch = RecordBatch(np.zeros(len(names), np.int64), strings={"process": StringColumn(np.arange(len(names), dtype=np.int32), names)})
        ...     series = det.series_of(batch, det.values_of(batch), np.zeros(len(names), np.int64), account)
        ...     return det.score(b, {"series": series[:, None], "weight": np.ones(len(names))}, None)
        >>> for b in range(30):
        ...     _ = bucket(("sshd", "cron"), b * 60_000)
        >>> leaf = bucket(("sshd", "cron", "nc"), 30 * 60_000)
        >>> [det.keys.value(int(s), 0) for s in leaf.series[leaf.hits()[0]]]
        ['nc']
    """

    def __init__(self, index: int, spec: DetectorSpec, *, span_ms: int, decay: float) -> None:
        self.index = index
        self.spec = spec
        self.span = span_ms
        self.decay = decay
        self.function = RARE_FUNCTIONS[spec.function]
        self.population = bool(spec.over_field_name)
        fields = (spec.partition_field_name, spec.over_field_name, spec.by_field_name)
        self.keys = SeriesKeys(tuple(f for f in fields if f), use_null=spec.use_null)
        self._partitioned = bool(spec.partition_field_name)
        self.normaliser = Normaliser(1, decay_per_bucket=decay)
        self.seen = np.zeros(0)  # shape (S,): decayed number of buckets each series occurred in
        self.clock = np.array([NEVER, 0], np.int64)  # the last bucket index learned, the buckets learned
        # Decayed sums: buckets learned; freq_rare's events on rare values, and all events.
        self.totals = np.zeros(3)
        self.series_bytes = 8 + KEY_BYTES + 4 * len(self.keys.fields)

    @property
    def split_fields(self) -> tuple[str, ...]:
        """The fields that name a series, in key order: partition, over, by (those set)."""
        return self.keys.fields

    @property
    def n_series(self) -> int:
        """The number of series."""
        return self.keys.n

    def model_bytes(self) -> int:
        """Bytes of state in use."""
        rows = self.normaliser.rows * (Normaliser.bytes_per_row() + Normaliser.bytes_per_group())
        return self.n_series * self.series_bytes + self.keys.key_bytes + rows

    def values_of(self, batch: RecordBatch) -> FloatArray:
        """Shape (n,): NaN, as rare functions read no field (a record's by value is its series)."""
        return np.full(len(batch), np.nan)

    def series_of(
        self, batch: RecordBatch, values: FloatArray, bucket: NDArray[np.int64], account: MemoryAccount
    ) -> NDArray[np.int32]:
        """Shape (n,): each record's series, -1 where the detector skips the record.

        New series take their bytes from the account; the buckets of records whose series was
        refused are noted there.
        """
        usable = np.ones(len(batch), bool)
        series = account.resolve(self.keys, batch, usable, bucket, lambda key: self.series_bytes + sum(map(len, key)))
        if self.n_series > len(self.seen):
            self.seen = np.concatenate([self.seen, np.zeros(max(self.n_series, 2 * len(self.seen)) - len(self.seen))])
        self.normaliser.grow(self._partitions(), self._partitions())
        return series

    def _partitions(self) -> int:
        return max(len(self.keys.values[0]), 1) if self._partitioned else 1

    def _partition(self, series: NDArray[np.intp]) -> NDArray[np.intp]:
        """Each series' partition: its normaliser row and the values it is compared with."""
        if self._partitioned:
            partitions: NDArray[np.intp] = self.keys.ids[series, 0].astype(np.intp)
            return partitions
        return np.zeros(len(series), np.intp)

    def score_run(self, starts: NDArray[np.int64], rows: Arrays) -> list[Leaf] | None:
        """None: rare detectors score bucket by bucket."""
        return None

    def score(self, b: int, rows: Arrays, completeness: float | None) -> Leaf:
        """Score the series that occur in bucket b; learn unless interim (completeness set).

        Args:
            b: bucket start, epoch ms.
            rows: the bucket's buffer rows.
            completeness: None for a final bucket; for interim results it is not used (a
                value occurs in a bucket or not).
        """
        bucket = b // self.span
        column = rows["series"][:, self.index]
        mine = column >= 0
        all_events = _weighted_count(column[mine], rows["weight"][mine], self.n_series)
        present = np.flatnonzero(all_events > 0.0)
        events = all_events[present]
        age = self.decay ** max(bucket - int(self.clock[0]), 0)
        seen = self.seen[: self.n_series] * age
        seen[present] += 1.0
        totals = self.totals * age
        warm = int(self.clock[1]) >= WARMUP_BUCKETS
        if not self.population:
            leaf, hits = self._rare_in_time(present, seen, totals[0]), (0.0, 0.0)
        else:
            leaf, hits = self._rare_in_population(present, events, seen, totals)
        if completeness is None:
            self.seen[: self.n_series] = seen
            self.totals = totals + np.array([1.0, *hits])
            self.clock[:] = (bucket, self.clock[1] + 1)
            if warm:
                groups = self._partition(leaf.series)
                self.normaliser.update(groups, groups, leaf.raw, bucket=bucket)
        return self._rated(leaf, bucket, warm)

    def _rare_in_time(self, present: NDArray[np.intp], seen: FloatArray, buckets: float) -> Leaf:
        """Score rare by X: each present value against the bucket counts of its partition's values.

        Actual is 1 (the value occurred), typical the share of earlier buckets it occurred in.
        """
        everyone = np.arange(self.n_series)
        ln_p = _ln(less_likely(seen, self._partition(everyone))[present])
        typical = (seen[present] - 1.0) / max(buckets, 1.0)
        return _leaf(present, ln_p, np.ones(len(present)), typical, None)

    def _rare_in_population(
        self, present: NDArray[np.intp], events: FloatArray, seen: FloatArray, totals: FloatArray
    ) -> tuple[Leaf, tuple[float, float]]:
        """Score rare or freq_rare over Y: each present over value, by its rare by values (its causes).

        Returns:
            The leaf (a series per over value: its least probable pair) and, for freq_rare,
            the bucket's events on rare values and all its events (zeros for rare).
        """
        if not len(present):  # an empty bucket closed for another detector, or every row left out
            return _leaf(present, np.zeros(0), np.zeros(0), np.zeros(0), None), (0.0, 0.0)
        ids = self.keys.ids[: self.n_series].astype(np.int64)
        partition = ids[:, 0] if self._partitioned else np.zeros(len(ids), np.int64)
        # A by value's weight: the (decayed) buckets of each over value that used it, summed.
        if self._partitioned:
            values, value_of = np.unique(partition << 32 | ids[:, -1], return_inverse=True)
            value_partition = (values >> 32).astype(np.intp)
        else:
            value_of = ids[:, -1].astype(np.intp)
            value_partition = np.zeros(len(self.keys.values[-1]), np.intp)
        users = _weighted_count(value_of, seen, len(value_partition))
        share = users / np.bincount(value_partition, weights=users)[value_partition]
        pair_ln_p = _ln(less_likely(users, value_partition)[value_of[present]])
        pair_share = share[value_of[present]]
        # Over values: the present series grouped by (partition, over), least probable pair first.
        entity = partition[present] << 32 | ids[present, -2]
        order = np.lexsort((pair_ln_p, entity))
        first = np.flatnonzero(np.concatenate(([True], entity[order][1:] != entity[order][:-1])))
        if self.spec.function == "rare":
            cause = pair_ln_p < 0.0
            ln_p, actual, typical = pair_ln_p[order[first]], np.ones(len(first)), pair_share[order[first]]
            hits = (0.0, 0.0)
        else:
            cause = self._used_by_few(seen, value_of, value_partition, ids[:, -2])[value_of[present]]
            counted = np.add.reduceat(np.where(cause, events, 0.0)[order], first) if len(order) else np.zeros(0)
            made = np.add.reduceat(events[order], first) if len(order) else np.zeros(0)
            # The population's share of events on rare values, expected of each over value's events.
            share_rare = totals[1] / totals[2] if totals[2] > 0.0 else 0.0
            ln_p = np.empty(len(counted))
            _ln_p_above(counted, share_rare * made, ln_p)
            actual, typical = counted, share_rare * made
            hits = (float(counted.sum()), float(made.sum()))
        causes = _Causes(self, present[order], events[order], pair_ln_p[order], pair_share[order], cause[order], first)
        return _leaf(present[order[first]], ln_p, actual, typical, causes), hits

    def _used_by_few(
        self, seen: FloatArray, value_of: NDArray[np.intp], value_partition: NDArray[np.intp], over: NDArray[np.int64]
    ) -> NDArray[np.bool_]:
        """Per by value, whether at most RARE_USERS of its partition's over values (and at least one) use it.

        Args:
            seen: shape (S,), each series' decayed bucket count.
            value_of: shape (S,), each series' by value (within its partition).
            value_partition: shape (V,), each by value's partition.
            over: shape (S,), each series' over value id.
        """
        users = _weighted_count(value_of, np.minimum(seen, 1.0), len(value_partition))
        partition = value_partition[value_of]
        over_values = np.unique(partition.astype(np.int64) << 32 | over) >> 32
        population = np.bincount(over_values, minlength=int(value_partition.max(initial=0)) + 1)[value_partition]
        few: NDArray[np.bool_] = users <= np.maximum(1.0, RARE_USERS * population)
        return few

    def _rated(self, leaf: Leaf, bucket: int, warm: bool) -> Leaf:
        """The leaf with normalised scores (the partition's row), reporting once the detector is warm."""
        groups = self._partition(leaf.series)
        score = self.normaliser.normalise(groups, groups, leaf.raw, leaf.ln_p, bucket=bucket)
        return Leaf(
            leaf.series, leaf.ln_p, leaf.raw, score, leaf.feature, leaf.actual, leaf.typical,
            leaf.multi_bucket_impact, np.full(len(leaf.series), warm), leaf.causes,
        )

    def scores(self) -> DetectorScores:
        """The record normaliser for renormalisation: a row per partition value (one without)."""
        return DetectorScores.per_partition(self.normaliser, self.keys, self.spec.partition_field_name, self.spec.use_null)

    def arrays(self) -> Arrays:
        """The state as named arrays."""
        out: Arrays = {f"norm.{k}": v for k, v in self.normaliser.arrays(self.normaliser.rows).items()}
        out.update({f"keys.{k}": v for k, v in self.keys.arrays().items()})
        out["seen"] = self.seen[: self.n_series]
        out["clock"] = self.clock
        out["totals"] = self.totals
        return out

    def load(self, arrays: Arrays, split_values: list[list[str]]) -> None:
        """Restore the state written by arrays() and keys.meta()."""
        self.keys.load(prefixed(arrays, "keys."), split_values)
        self.normaliser.load(prefixed(arrays, "norm."))
        self.seen = np.array(arrays["seen"], np.float64)
        self.clock = np.array(arrays["clock"], np.int64)
        self.totals = np.array(arrays["totals"], np.float64)


def less_likely(weight: FloatArray, group: NDArray[np.intp]) -> FloatArray:
    """Each value's probability of drawing, from its group's values by weight, one no heavier than it.

    Args:
        weight: shape (n,), each value's weight (>= 0).
        group: shape (n,), each value's group.

    Returns:
        shape (n,): the sum of the weights in the value's group that are at most its own, over
        the group's total (1 where that total is 0).

    Example:
        >>> less_likely(np.array([1.0, 10.0, 10.0, 3.0]), np.array([0, 0, 0, 1])).round(3).tolist()
        [0.048, 1.0, 1.0, 1.0]
    """
    n = len(weight)
    if not n:
        return np.ones(0)
    order = np.lexsort((weight, group))
    w, g = weight[order], group[order]
    cumulative = np.cumsum(w)
    new_group = np.concatenate(([True], g[1:] != g[:-1]))
    new_tie = new_group | np.concatenate(([True], w[1:] != w[:-1]))
    # A value takes the cumulative weight at the end of its ties, less the weight before its group.
    last_of_tie = np.append(np.flatnonzero(new_tie)[1:], n) - 1
    upto = cumulative[last_of_tie][np.cumsum(new_tie) - 1]
    group_start = np.flatnonzero(new_group)
    group_end = np.append(group_start[1:], n) - 1
    before = np.where(group_start > 0, cumulative[np.maximum(group_start - 1, 0)], 0.0)
    which = np.cumsum(new_group) - 1
    total = (cumulative[group_end] - before)[which]
    p = np.ones(n)
    p[order] = np.where(total > 0.0, (upto - before[which]) / np.where(total > 0.0, total, 1.0), 1.0)
    return np.minimum(p, 1.0)


def _ln(p: FloatArray) -> FloatArray:
    """Ln p, at least LN_P_MIN."""
    return np.log(np.maximum(p, math.exp(LN_P_MIN)))


def _weighted_count(ids: NDArray[np.integer], weights: FloatArray, n: int) -> FloatArray:
    """Shape (n,): the weights summed per id."""
    return np.bincount(ids, weights=weights, minlength=n).astype(np.float64)


@kernel
def _ln_p_above(count: FloatArray, expected: FloatArray, out: FloatArray) -> None:
    """Ln of the one-sided probability of a Poisson count of at least count[k] (0 when not above expected[k])."""
    for k in range(len(count)):
        above = count[k] > expected[k]
        out[k] = min(poisson_tail_log_p1(count[k], max(expected[k], 1e-6)) - _LN_2, 0.0) if above else 0.0


def _leaf(
    series: NDArray[np.intp], ln_p: FloatArray, actual: FloatArray, typical: FloatArray,
    causes: Callable[[int], list[AnomalyCause]] | None,
) -> Leaf:
    """An unrated leaf: raw scores from ln p; scores and warmth come from RareScorer._rated."""
    k = len(series)
    impact = np.where(ln_p < 0.0, -5.0, 0.0)  # single-bucket evidence only
    return Leaf(series, ln_p, raw_score(ln_p), np.zeros(k), np.zeros(k, np.intp), actual, typical, impact,
                np.zeros(k, bool), causes)


class _Causes:
    """A population leaf's causes, built only for the leaf rows that become records.

    Args:
        scorer: the detector.
        pairs: shape (k,), the bucket's series (over and by value pairs), grouped by over value.
        events: shape (k,), their events in the bucket.
        ln_p: shape (k,), their by values' ln p in the population, ascending within a group.
        share: shape (k,), their by values' share of the population's weight.
        cause: shape (k,), whether the pair is a cause of its over value's record.
        first: shape (g,), where each leaf row's (over value's) group starts.
    """

    def __init__(
        self, scorer: RareScorer, pairs: NDArray[np.intp], events: FloatArray, ln_p: FloatArray, share: FloatArray,
        cause: NDArray[np.bool_], first: NDArray[np.intp],
    ) -> None:
        self._scorer, self._pairs, self._events, self._ln_p, self._share = scorer, pairs, events, ln_p, share
        self._cause, self._first = cause, first

    def __call__(self, row: int) -> list[AnomalyCause]:
        """The causes of leaf row `row`, at most MAX_CAUSES, the least probable first."""
        scorer, spec = self._scorer, self._scorer.spec
        lo = int(self._first[row])
        hi = int(self._first[row + 1]) if row + 1 < len(self._first) else len(self._pairs)
        out = []
        for at in (lo + np.flatnonzero(self._cause[lo:hi])[:MAX_CAUSES]).tolist():
            s = int(self._pairs[at])
            key = {name: scorer.keys.value(s, k) for k, name in enumerate(scorer.keys.fields)}
            out.append(AnomalyCause.of_series(
                spec, lambda field: key.get(field, ""),  # noqa: B023 (called here, in this iteration)
                probability=math.exp(float(self._ln_p[at])),
                function=spec.function,
                description=spec.function,
                actual=[float(self._events[at])],
                typical=[float(self._share[at])],
            ))
        return out
