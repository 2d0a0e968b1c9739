"""The detector scorer: one detector's series, their models and record normaliser, and its scores.

A bucket's rows are grouped per series, each feature's statistic (count, mean, ...) is scored by
its SeriesModel, a series reports its least probable feature, and the probabilities become raw
and normalised record scores; a final bucket is then learned. A run of anomalous buckets counts
as one anomaly: after its first bucket, a bucket that does not at least double the run's peak
score adds little news and is reported damped (NAB standard 55.9 -> 57.8 against damping only
buckets below the peak).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine import seasonality, series_model
from anomalyd.engine.bucket_groups import STATISTIC_CODES, group_run
from anomalyd.engine.compiled import Bound, bind, inline_kernel, kernel, prefetch
from anomalyd.engine.field_values import row_values
from anomalyd.engine.functions import COUNTING, FUNCTIONS, ORDERED, STATISTICS, Grouped
from anomalyd.engine.memory import KEY_BYTES, MemoryAccount
from anomalyd.engine.multi_bucket import WINDOWS
from anomalyd.engine.normaliser import N_BINS, Normaliser, normalise1, update1
from anomalyd.engine.point_model import PointModel
from anomalyd.engine.records import DetectorSpec, RecordBatch
from anomalyd.engine.renormalise import DetectorScores
from anomalyd.engine.results import AnomalyCause
from anomalyd.engine.series_keys import SeriesKeys
from anomalyd.engine.series_model import Scored, SeriesModel
from anomalyd.engine.state import Arrays, prefixed
from anomalyd.engine.stats import FloatArray, raw_score1

RECORD_PROBABILITY = 0.035  # Elasticsearch writes records below this probability
LN_RECORD = math.log(RECORD_PROBABILITY)
_LN_1000 = math.log(1000.0)
_RUN_DAMPING = 0.5
_RUN_NEWS = 2.0
_AHEAD = 4  # scored series ahead whose normaliser histograms are prefetched (see _rate_rows)
_LINE_BINS = 16  # float32 histogram bins a 64-byte cache line holds


@dataclass(slots=True)
class Leaf:
    """The scored series of one detector in one bucket (not frozen: see results.py; treat it as immutable).

    Attributes:
        series: shape (k,), the series scored.
        ln_p: shape (k,), each one's ln p, of its least probable feature.
        raw: shape (k,), raw scores.
        score: shape (k,), normalised record scores.
        feature: shape (k,), the feature reported.
        actual: shape (k,), its value.
        typical: shape (k,), its prediction.
        multi_bucket_impact: shape (k,), -5 (single-bucket evidence) to +5 (multi-bucket).
        warm: shape (k,), series past warm-up, the only ones that report.
        causes: for population records, leaf row -> the by values behind it (None: no causes).
    """

    series: NDArray[np.intp]
    ln_p: FloatArray
    raw: FloatArray
    score: FloatArray
    feature: NDArray[np.intp]
    actual: FloatArray
    typical: FloatArray
    multi_bucket_impact: FloatArray
    warm: NDArray[np.bool_]
    causes: Callable[[int], list[AnomalyCause]] | None = None

    def hits(self) -> tuple[NDArray[np.intp], float | None]:
        """The warm series below the record probability, least probable first, and the least ln p of a warm series.

        Returns:
            Indices into the leaf by ln p, ties in index order; and the smallest ln p of a warm
            series (NaN if one is NaN), None without one.
        """
        if len(self.ln_p) == 1:  # one series (a backfill of one metric): no array arithmetic
            warm, ln_p = bool(self.warm[0]), float(self.ln_p[0])
            return _FIRST if warm and ln_p < LN_RECORD else _NONE, ln_p if warm else None
        rows, least, any_warm = _hits(self.ln_p, self.warm)
        return rows, least if any_warm else None


_FIRST, _NONE = np.zeros(1, np.intp), np.zeros(0, np.intp)
_ONE_SERIES = np.zeros(1, np.int32)  # the series table of a detector without split fields


class DetectorScorer:
    """One detector: its series, a model per feature, a record normaliser and run peaks.

    Args:
        index: the detector's position in the job.
        spec: the detector.
        span_ms: the bucket span.
        warmup: buckets a series learns before it reports.
        decay: the normaliser's decay per bucket.

    Example:
        >>> from anomalyd.engine.records import StringColumn
        >>> det = DetectorScorer(0, DetectorSpec("count", by_field_name="host"), span_ms=60_000, warmup=12, decay=0.999)
        >>> batch = RecordBatch(np.zeros(3, np.int64), strings={"host": StringColumn(np.array([0, 1, 0], np.int32), ("a", "b"))})
        >>> account = MemoryAccount(1 << 20)
        >>> account.open_batch(used=0)
        >>> series = det.series_of(batch, det.values_of(batch), np.zeros(3, np.int64), account)
        >>> rows = {"series": series[:, None], "value": np.full((3, 1), np.nan), "weight": np.ones(3)}
        >>> det.score(0, rows, None).actual.tolist()
        [2.0, 1.0]
    """

    def __init__(self, index: int, spec: DetectorSpec, *, span_ms: int, warmup: int, decay: float) -> None:
        self.index = index
        self.spec = spec
        self.span = span_ms
        self.warmup = warmup
        self.function = FUNCTIONS[spec.function]
        self.models: list[SeriesModel | PointModel] = [
            PointModel(span_ms, kind=self.function.reads, warmup=warmup, capacity=0) if f.points
            else SeriesModel(span_ms, side=f.side, counts=f.statistic in COUNTING, warmup=warmup, capacity=0)
            for f in self.function.features
        ]
        self._series_models = [m for m in self.models if isinstance(m, SeriesModel)]
        # One more series costs its models, its normaliser row, and its key.
        own = Normaliser.bytes_per_row() + Normaliser.bytes_per_group() + KEY_BYTES + 4
        self.series_bytes = sum(m.bytes_per_series() for m in self.models) + own
        self.keys = SeriesKeys(tuple(f for f in (spec.partition_field_name, spec.by_field_name) if f), use_null=spec.use_null)
        self.normaliser = Normaliser(0, decay_per_bucket=decay)
        self.run_peak = np.zeros(0, np.float32)
        self._ordered = any(f.statistic in ORDERED for f in self.function.features)
        # The features of a function agree on it: every known series has a value in every bucket.
        self._empty_is_zero = self.function.features[0].empty_is_zero
        # Set by the analyzer before score() when exclude_frequent leaves series out: shape (S,).
        self.excluded: NDArray[np.bool_] | None = None
        # A one-field detector's last batch of split values and each one's series (-1: none),
        # the last entry that of records without the field (see series_of).
        self._last_values: tuple[str, ...] | None = None
        self._last_series = np.zeros(0, np.int32)
        # score_run's state arrays, bound when the detector had _bound_series series (a new series
        # replaces arrays) and since then no periodicity test ran outside score_run; None: bind anew.
        self._bound: Bound | None = None
        self._bound_series = 0

    @property
    def split_fields(self) -> tuple[str, ...]:
        """The fields that name a series, in key order: partition, then by."""
        return self.keys.fields

    @property
    def n_series(self) -> int:
        """The number of series."""
        return self.keys.n

    def groups(self, series: NDArray[np.intp]) -> NDArray[np.intp]:
        """Each series' max-ratio group: its partition (Elasticsearch's maximum is per partition)."""
        if self.spec.partition_field_name:
            partitions: NDArray[np.intp] = self.keys.ids[series, 0].astype(np.intp)
            return partitions
        return np.zeros(len(series), np.intp)

    def scores(self) -> DetectorScores:
        """The record normaliser for renormalisation: a row per series."""
        return DetectorScores(self.normaliser, self.keys, self.groups)

    def model_bytes(self) -> int:
        """Bytes of state in use."""
        components = sum(m.seasonality.component_bytes() for m in self._series_models)
        return self.n_series * self.series_bytes + self.keys.key_bytes + components

    def _grow(self, n: int, limit: int) -> None:
        """Make room for n series, doubling but never beyond limit series."""
        self._bound = None  # it would keep the arrays the growth replaces alive until the next bucket
        capacity = len(self.models[0].learned)
        if n > capacity:
            capacity = max(n, min(2 * capacity, limit))
            for model in self.models:
                model.grow(capacity)
            self.run_peak = np.concatenate([self.run_peak, np.zeros(capacity - len(self.run_peak), np.float32)])
        groups = len(self.keys.values[0]) if self.spec.partition_field_name else 1
        self.normaliser.grow(capacity, groups)

    def values_of(self, batch: RecordBatch) -> FloatArray:
        """Shape (n,): what each record gives the function (see field_values), NaN for nothing."""
        return row_values(self.function.reads, batch, self.spec.field_name)

    def series_of(
        self, batch: RecordBatch, values: FloatArray, bucket: NDArray[np.int64], account: MemoryAccount
    ) -> NDArray[np.int32]:
        """Shape (n,): each record's series, -1 where the detector skips the record.

        A function of a field skips records whose values_of() is NaN. New series take their
        bytes from the account; the buckets of records whose series was refused are noted there.
        """
        table = self.known_table(batch)
        if table is not None:
            all_known, known = _known_series(*table, values, self.function.uses_field)
            if all_known:  # every usable record's series is known: nothing to resolve
                return known
        column = batch.strings.get(self.keys.fields[0]) if len(self.keys.fields) == 1 else None
        usable = values == values if self.function.uses_field else np.ones(len(batch), bool)  # not NaN

        def grow(key: tuple[str, ...], cost: int) -> None:
            self._grow(self.n_series + 1, self.n_series + 1 + account.budget // cost)

        series = account.resolve(self.keys, batch, usable, bucket, lambda key: self.series_bytes + sum(map(len, key)), grow)
        if column is not None:
            # Streams repeat their split values batch after batch (one series' history, a fixed
            # set of hosts): the next batch with the same values reads their series from here.
            self._last_values = column.values
            self._last_series = np.full(len(column.values) + 1, -1, np.int32)
            self._last_series[column.codes[series >= 0]] = series[series >= 0]
        return series

    def known_table(self, batch: RecordBatch) -> tuple[NDArray[np.int32], NDArray[np.int32]] | None:
        """A table of series and each record's code into it, when the batch's series can be read from one.

        A record's series is then the table's entry at its code, -1 where not known. A detector
        without split fields has one series (code 0), once it exists; one of one split field has
        the last batch's series of each split value (see series_of), when the batch holds the
        last batch's values; any other, None.
        """
        if not self.keys.fields and self.n_series:
            return _ONE_SERIES, np.zeros(len(batch), np.int32)
        if len(self.keys.fields) != 1:
            return None
        column = batch.strings.get(self.keys.fields[0])
        if column is None or column.values != self._last_values:
            return None
        return self._last_series, column.codes

    def score(self, b: int, rows: Arrays, completeness: float | None) -> Leaf:
        """Score every series that has a value in bucket b; learn unless interim.

        Args:
            b: bucket start, epoch ms.
            rows: the bucket's buffer rows.
            completeness: None for a final bucket; for interim results the expected share of
                the bucket's events that have arrived, in (0, 1].
        """
        final = completeness is None
        self._bound = None  # a final bucket's periodicity tests may replace component arrays
        n_series = self.n_series
        series = rows["series"][:, self.index]
        mine = series >= 0
        grouped = Grouped.of(
            series[mine].astype(np.intp), rows["value"][mine, self.index], rows["weight"][mine], by_value=self._ordered
        )
        idx = np.arange(n_series) if self._empty_is_zero else grouped.series
        if self._empty_is_zero and self.excluded is not None:
            idx = idx[~self.excluded[:n_series]]
        first_model = self.models[0]
        warm = first_model.warm(idx, b) if isinstance(first_model, PointModel) else first_model.learned[idx] >= self.warmup
        per_feature: list[tuple[FloatArray, Scored]] = []
        for feature, model in zip(self.function.features, self.models, strict=True):
            x = STATISTICS[feature.statistic](grouped)
            if feature.empty_is_zero:
                full = np.zeros(n_series)
                full[grouped.series] = x
                x = full if len(idx) == n_series else full[idx]
            if completeness is None:
                model.begin_bucket(b, n_series)
                scored = model.step(idx, x, b)
            else:
                scored = model.score(idx, x, b)
                if feature.count_like and completeness < 1.0:
                    x = x + (1.0 - completeness) * scored.typical
                    scored = model.score(idx, x, b)
            per_feature.append((x, scored))
        if len(per_feature) == 1:
            best = np.zeros(len(idx), np.intp)
            actual, first = per_feature[0]
            typical, ln_single, ln_multi = first.typical, first.ln_p_single, first.ln_p_multi
        else:
            # A series' record reports its least probable feature.
            best = np.argmin(np.stack([scored.ln_p for _, scored in per_feature]), axis=0)

            def pick(arrays: list[FloatArray]) -> FloatArray:
                chosen: FloatArray = np.choose(best, arrays)
                return chosen

            actual = pick([x for x, _ in per_feature])
            typical = pick([scored.typical for _, scored in per_feature])
            ln_single = pick([scored.ln_p_single for _, scored in per_feature])
            ln_multi = pick([scored.ln_p_multi for _, scored in per_feature])
        k = len(idx)
        ln_p, raw, score, impact = np.empty(k), np.empty(k), np.empty(k), np.empty(k)
        _rate(
            idx, ln_single, ln_multi, warm, self.keys.ids, bool(self.spec.partition_field_name),
            self.normaliser.state(), self.normaliser.decay, b // self.span, self.run_peak, final, (ln_p, raw, score, impact),
        )
        return Leaf(idx, ln_p, raw, score, best, actual, typical, impact, warm)

    def score_run(self, starts: NDArray[np.int64], rows: Arrays) -> list[Leaf] | None:
        """Score and learn final buckets in time order, in one compiled loop: score(b, rows of b, None) for each.

        The loop leaves only for due periodicity tests. Functions of several features, medians
        (whose weighted cumulative sums would run across buckets) and points (times of day,
        locations) return None: the caller scores them bucket by bucket.

        Args:
            starts: shape (B,), the buckets to close, ascending, epoch ms.
            rows: the rows of those buckets (and of no other), sorted by bucket.

        Returns:
            Each bucket's Leaf, or None.
        """
        feature, model = self.function.features[0], self.models[0]
        if len(self.models) != 1 or feature.statistic == "median" or not isinstance(model, SeriesModel):
            return None
        n_series, n_buckets = self.n_series, len(starts)
        code = STATISTIC_CODES.get(feature.statistic)
        settings = model.settings()
        bound = self._bound if self._bound is not None and self._bound_series == n_series else self._bind(model)
        if code is None:
            idx, ptr, x = self._group_in_numpy(starts, rows, feature.statistic)
            j, block, warm = _close_grouped(starts, idx, ptr, x, n_series, settings, bound)
        else:
            j, idx, ptr, block, warm = _group_and_close(
                starts, rows["bucket"], rows["series"], rows["value"], rows["weight"], self.index, n_series, code,
                self._empty_is_zero, settings, bound,
            )
        x, typical, ln_p, raw, score, impact = block
        while j < n_buckets:  # the compiled loop left for periodicity tests that may change components: run them, go on
            model.test_periods(int(starts[j]), n_series)
            bound = self._bind(model)  # the tests may have replaced component arrays
            scratch = model.blank_scored(len(idx)).fields()
            j = _run(
                starts, ptr, idx, x, j, True, n_series, settings, bound, (typical, *scratch[1:]),
                (ln_p, raw, score, impact), warm,
            )
        best = _FIRST if len(idx) == 1 else np.zeros(len(idx), np.intp)  # one feature: it is always the one reported
        if n_buckets == 1:
            return [Leaf(idx, ln_p, raw, score, best, x, typical, impact, warm)]
        return [
            Leaf(idx[lo:hi], ln_p[lo:hi], raw[lo:hi], score[lo:hi], best[lo:hi], x[lo:hi], typical[lo:hi],
                 impact[lo:hi], warm[lo:hi])
            for lo, hi in zip(ptr[:-1].tolist(), ptr[1:].tolist(), strict=True)
        ]

    def _bind(self, model: SeriesModel) -> Bound:
        """Bind the state arrays score_run's kernels read, as they are now (see compiled.Bound)."""
        norm = self.normaliser
        rating = (self.keys.ids, bool(self.spec.partition_field_name), norm.state(), norm.decay, self.span, self.run_peak)
        self._bound = bind(model.state(), model.run_state(), rating)
        self._bound_series = self.n_series
        return self._bound

    def _group_in_numpy(
        self, starts: NDArray[np.int64], rows: Arrays, statistic: str
    ) -> tuple[NDArray[np.intp], NDArray[np.intp], FloatArray]:
        """group_run() of a statistic it lacks (distinct_count, info_content), with Grouped and STATISTICS."""
        n_series, n_buckets = self.n_series, len(starts)
        series = rows["series"][:, self.index]
        mine = series >= 0
        # One group per (bucket, series): the rows of a bucket are contiguous, so each group
        # holds the rows, in the order, that grouping the bucket alone gives.
        own = series[mine].astype(np.intp)
        group = own if n_buckets == 1 else np.searchsorted(starts, rows["bucket"][mine]) * n_series + own
        grouped = Grouped.of(group, rows["value"][mine, self.index], rows["weight"][mine], by_value=self._ordered)
        x = STATISTICS[statistic](grouped)
        if self._empty_is_zero:
            full = np.zeros(n_buckets * n_series)
            full[grouped.series] = x
            return np.tile(np.arange(n_series), n_buckets), np.arange(n_buckets + 1) * n_series, full
        if n_buckets == 1:
            return grouped.series, np.array([0, len(grouped.series)]), x
        ptr = np.searchsorted(grouped.series // max(n_series, 1), np.arange(n_buckets + 1))
        return grouped.series % max(n_series, 1), ptr, x

    def arrays(self) -> Arrays:
        """The state of the series in use as named arrays (capacity comes back by doubling)."""
        n = self.n_series
        out: Arrays = {f"norm.{k}": v for k, v in self.normaliser.arrays(n).items()}
        out.update({f"keys.{k}": v for k, v in self.keys.arrays().items()})
        out["run_peak"] = self.run_peak[:n]
        for j, model in enumerate(self.models):
            out.update({f"f{j}.{k}": v for k, v in model.arrays(n).items()})
        return out

    def load(self, arrays: Arrays, split_values: list[list[str]]) -> None:
        """Restore the state written by arrays() and keys.meta()."""
        self.keys.load(prefixed(arrays, "keys."), split_values)
        self._last_values = None
        self._bound = None
        self.run_peak = arrays["run_peak"]
        self.normaliser.load(prefixed(arrays, "norm."))
        for j, model in enumerate(self.models):
            model.load(prefixed(arrays, f"f{j}."))


def multi_bucket_impact(ln_single: FloatArray, ln_multi: FloatArray) -> FloatArray:
    """Elasticsearch's multi_bucket_impact of each value (see impact1).

    Args:
        ln_single: shape (k,), ln p of each value alone.
        ln_multi: shape (k,), ln p of the multi-bucket feature.

    Returns:
        shape (k,).
    """
    out = np.empty(len(ln_single))
    for k in range(len(out)):
        out[k] = impact1(float(ln_single[k]), float(ln_multi[k]))
    return out


@kernel
def impact1(ln_single: float, ln_multi: float) -> float:
    """Elasticsearch's multi_bucket_impact: -5 (single-bucket evidence) to +5 (multi-bucket).

    5 * min/max of the two log probabilities / ln 1000 * (ls - lm), clamped; 0 when neither
    probability is below 1.
    """
    if not (ln_single < 0.0 or ln_multi < 0.0):
        return 0.0
    ls, lm = min(ln_single, -1e-12), min(ln_multi, -1e-12)
    ratio = min(ls, lm) / max(ls, lm)
    return min(max(5.0 * ratio / _LN_1000 * (ls - lm), -5.0), 5.0)


@kernel
def _rate(
    idx: NDArray[np.intp], ln_single: FloatArray, ln_multi: FloatArray, warm: NDArray[np.bool_],
    key_ids: NDArray[np.int32], by_partition: bool, norm: tuple[Any, ...], decay: float, bucket: int,
    run_peak: NDArray[np.float32], final: bool, out: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
) -> None:
    """Probabilities, raw and normalised scores of a detector's scored series; learns them if final.

    Args:
        idx: shape (k,), the series.
        ln_single: shape (k,), ln p of each reported value alone.
        ln_multi: shape (k,), ln p of its multi-bucket feature.
        warm: shape (k,), series past warm-up (only they teach the normaliser).
        key_ids: the series keys' value ids, shape (S, fields); the partition's is the first.
        by_partition: whether a series' max-ratio group is its partition (else all are group 0).
        norm: the record Normaliser's state().
        decay: its decay per bucket.
        bucket: the bucket index.
        run_peak: shape (S,), each series' run peak score (0 outside a run).
        final: learn: update the normaliser and the run peaks.
        out: ln p, raw score, normalised score and multi-bucket impact, each shape (k,), written.
    """
    _rate_rows(0, len(idx), idx, ln_single, ln_multi, warm, key_ids, by_partition, norm, decay, bucket, run_peak, final, out)


@kernel
def _rate_rows(
    lo: int, hi: int, idx: NDArray[np.intp], ln_single: FloatArray, ln_multi: FloatArray, warm: NDArray[np.bool_],
    key_ids: NDArray[np.int32], by_partition: bool, norm: tuple[Any, ...], decay: float, bucket: int,
    run_peak: NDArray[np.float32], final: bool, out: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
) -> None:
    """_rate() of rows lo..hi-1 of its arrays, the series of one bucket.

    Only series with a raw score read their normaliser row (normalise1 of a raw score of 0 is 0):
    some 5 % of an old job's series a bucket, each histogram 804 bytes anywhere in the
    normaliser, which waits for memory line by line; listed first, their rows are prefetched a
    few series ahead and load in parallel.
    """
    ln_p, raw, score, impact = out
    hist, epoch, hmax, hmax_last = norm
    with_raw = np.empty(hi - lo, np.intp)
    n = 0
    for k in range(lo, hi):
        ln_p[k] = min(ln_single[k], ln_multi[k])
        raw[k] = raw_score1(ln_p[k])
        impact[k] = impact1(ln_single[k], ln_multi[k])
        score[k] = 0.0
        if raw[k] > 0.0:
            with_raw[n] = k
            n += 1
    for m in range(n):
        if m + _AHEAD < n:
            _prefetch_histogram(hist, idx[with_raw[m + _AHEAD]])
        k = with_raw[m]
        i = idx[k]
        group = key_ids[i, 0] if by_partition else 0
        score[k] = normalise1(hist, epoch, hmax, hmax_last, decay, i, group, raw[k], ln_p[k], bucket)
        peak = run_peak[i]  # (a score of 0, without a raw score, stays 0 damped)
        if warm[k] and ln_p[k] < LN_RECORD and peak > 0.0 and score[k] < _RUN_NEWS * peak:
            score[k] *= _RUN_DAMPING
    if not final:
        return
    for k in range(lo, hi):
        i = idx[k]
        if warm[k]:
            update1(hist, epoch, hmax, hmax_last, decay, i, key_ids[i, 0] if by_partition else 0, raw[k], bucket)
        run_peak[i] = max(run_peak[i], score[k]) if warm[k] and ln_p[k] < LN_RECORD else 0.0


@inline_kernel
def _prefetch_histogram(hist: NDArray[np.float32], i: int) -> None:
    """Prefetch the cache lines of normaliser row i's histogram (see compiled.prefetch)."""
    for b in range(0, N_BINS, _LINE_BINS):
        prefetch(hist, i, b)


@kernel
def _run(
    starts: NDArray[np.int64], ptr: NDArray[np.intp], idx: NDArray[np.intp], x: FloatArray, begin: int, rolled: bool,
    n_series: int, settings: tuple[int, bool, int, float], bound: Bound, scored: tuple[FloatArray, ...],
    rated: tuple[FloatArray, FloatArray, FloatArray, FloatArray], warm: NDArray[np.bool_],
) -> int:
    """Close buckets begin.. of a one-feature detector: roll, score, learn and rate each, in time order.

    Args:
        starts: shape (B,), the buckets' starts, epoch ms.
        ptr: shape (B + 1,), bucket j's series are rows ptr[j]..ptr[j+1]-1 of idx and x.
        idx: shape (K,), the series.
        x: shape (K,), their values.
        begin: the first bucket to close.
        rolled: the rings were rolled to bucket begin and its tests run already.
        n_series: the number of series in use.
        settings: side, counts, warmup and decay of the model.
        bound: the detector's Bound (see DetectorScorer._bind): the SeriesModel's state() and
            run_state(), and the rating's key ids, by_partition, the normaliser's state() and
            decay, the span (ms) and run peaks.
        scored: the Scored arrays of all rows, shape (K,) (means (K, 2)), written.
        rated: ln p, raw score, normalised score and impact of all rows, written.
        warm: shape (K,), written: each series was past warm-up before this bucket.

    Returns:
        B when every bucket is closed; else the bucket whose due periodicity tests may change a
        component (see seasonality.run_bucket), rolled to: the caller runs them and calls again
        from there with rolled True.
    """
    model, run = bound.model, bound.run
    learned, rings, acc_sum, acc_n = model[0], model[15], model[16], model[17]
    slot, pools, errors = model[13], model[14], (model[4], model[5], model[6], model[7])
    key_ids, by_partition, norm, decay, span, run_peak = bound.rating
    warmup = settings[2]
    phases = np.empty(3, np.int64)
    ln_single, ln_multi = scored[3], scored[4]
    for j in range(begin, len(starts)):
        t = starts[j]
        due, plan = seasonality.run_bucket(
            rings, acc_sum, acc_n, run, t, n_series, not (rolled and j == begin), phases, slot, pools, errors
        )
        if due:
            return j
        lo, hi = ptr[j], ptr[j + 1]
        for k in range(lo, hi):
            warm[k] = learned[idx[k]] >= warmup
        series_model.run_series(lo, hi, idx, x, model, settings, t, phases, plan, scored, True, True)
        _rate_rows(lo, hi, idx, ln_single, ln_multi, warm, key_ids, by_partition, norm, decay, t // span, run_peak, True, rated)
    return len(starts)


@kernel
def _hits(ln_p: FloatArray, warm: NDArray[np.bool_]) -> tuple[NDArray[np.intp], float, bool]:
    """Leaf.hits() in one compiled pass: the rows by ln p, the least warm ln p (np.min's, NaN first) and whether any is warm."""
    n, least, any_warm = 0, np.inf, False
    for k in range(len(ln_p)):
        if warm[k]:
            if not any_warm or (least == least and not ln_p[k] >= least):
                least = ln_p[k]
            any_warm = True
            n += ln_p[k] < LN_RECORD
    rows = np.empty(n, np.intp)
    n = 0
    for k in range(len(ln_p)):
        if warm[k] and ln_p[k] < LN_RECORD:
            rows[n] = k
            n += 1
    return rows[np.argsort(ln_p[rows], kind="mergesort")], least, any_warm


@kernel
def _known_series(
    last_series: NDArray[np.int32], codes: NDArray[np.int32], values: FloatArray, uses_field: bool
) -> tuple[bool, NDArray[np.int32]]:
    """Each record's series read from the last batch's table (see series_of), if every usable record's is there.

    Args:
        last_series: the series of each of the last batch's split values, the last entry that of
            records without the field (code -1 reads it).
        codes: shape (n,), the records' codes of the same values.
        values: shape (n,), what each record gives the function, NaN for nothing.
        uses_field: the function reads values (a NaN record is then not usable).

    Returns:
        Whether every usable record's series is known, and each record's series (-1 where not
        usable), complete only when they are.
    """
    series = np.empty(len(codes), np.int32)
    for r in range(len(codes)):
        usable = values[r] == values[r] or not uses_field
        known = last_series[codes[r]]
        if usable and known < 0:
            return False, series
        series[r] = known if usable else -1
    return True, series


@kernel
def _group_and_close(
    starts: NDArray[np.int64], bucket: NDArray[np.int64], series: NDArray[np.int32], value: FloatArray,
    weight: FloatArray, column: int, n_series: int, statistic: int, empty_is_zero: bool,
    settings: tuple[int, bool, int, float], bound: Bound,
) -> tuple[int, NDArray[np.intp], NDArray[np.intp], FloatArray, NDArray[np.bool_]]:
    """group_run() of the buckets' rows, then _close_grouped(): a live stream's bucket in one compiled call.

    Returns:
        _close_grouped's bucket reached, group_run's idx and ptr, and _close_grouped's block and warm.
    """
    idx, ptr, x = group_run(starts, bucket, series, value, weight, column, n_series, statistic, empty_is_zero)
    j, block, warm = _close_grouped(starts, idx, ptr, x, n_series, settings, bound)
    return j, idx, ptr, block, warm


@kernel
def _close_grouped(
    starts: NDArray[np.int64], idx: NDArray[np.intp], ptr: NDArray[np.intp], x: FloatArray, n_series: int,
    settings: tuple[int, bool, int, float], bound: Bound,
) -> tuple[int, FloatArray, NDArray[np.bool_]]:
    """_run() from the first bucket into arrays allocated here: a compiled call returns few arrays, each costing its boxing.

    Returns:
        The bucket reached (see _run); block, shape (6, K): the values, their predictions, ln p, raw
        scores, normalised scores and multi-bucket impacts; and warm, shape (K,).
    """
    k = len(idx)
    block = np.empty((6, k))
    block[0] = x
    warm = np.empty(k, np.bool_)
    scored = (block[1], np.empty(k), np.empty(k), np.empty(k), np.empty(k), np.empty(k), np.empty((k, len(WINDOWS))), np.empty((k, 4)))
    j = _run(starts, ptr, idx, block[0], 0, False, n_series, settings, bound, scored, (block[2], block[3], block[4], block[5]), warm)
    return j, block, warm
