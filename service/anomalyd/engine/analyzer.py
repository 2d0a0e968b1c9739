"""JobAnalyzer: buckets a job's records, scores closed buckets and learns from them.

The ingest layer drives one JobAnalyzer per open job::

    analyzer = JobAnalyzer(spec)
    analyzer.add(batch)                  # accepted records, roughly in time order
    results = analyzer.finalize_until(t) # every bucket ending at or before t
    state = analyzer.to_state()          # JobAnalyzer.from_state(spec, state) continues exactly

Records wait in a buffer until their bucket closes, so any open bucket can still take data.
Closing a bucket aggregates each detector's rows per series (a series is one combination of
partition and by values), scores the values against each series' model, turns probabilities
into raw and normalised scores, and only then learns the values.

Time costs nothing by itself: every bucket with data is closed, and so are the first
quiet_buckets() empty buckets after it (an outage or a quiet night scores as it always did), but
the rest of a longer empty stretch is jumped over in one step, as skip_time does: no results, no
learning, and the normalisers, which age by the buckets elapsed, forget their history in
proportion. A stray record in 1970 before data in 2026, or one in year 9999, costs at most
quiet_buckets() closes.

Scores come from three kinds of normaliser (see normaliser.py): one per series for records, one
for the job for the bucket score (fed with the smallest record probability in the bucket, so a
job with many series learns how small its routine minimum is), and one per influencer field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.functions import FUNCTIONS, STATISTICS, Function, Grouped
from anomalyd.engine.normaliser import Normaliser
from anomalyd.engine.records import AnalysisSpec, DetectorSpec, RecordBatch
from anomalyd.engine.renormalise import DetectorScores, ScoreNormalisers
from anomalyd.engine.results import (
    AnomalyRecord,
    BucketInfluencer,
    BucketResult,
    InfluencerResult,
    ModelSizeStats,
)
from anomalyd.engine.series_keys import SeriesKeys
from anomalyd.engine.series_model import Scored, SeriesModel
from anomalyd.engine.state import Arrays, pack, unpack
from anomalyd.engine.stats import FloatArray, raw_score

# 2: only series in use, written ring points and filled score bins; 3: families, two windows; 4: slope;
# 5: the series models' arrays named by part (version 4 reads as the same values, see SeriesModel.load)
_STATE_VERSION = 5
_READABLE_VERSIONS = (4, 5)
RECORD_PROBABILITY = 0.035  # Elasticsearch writes records below this probability
MAX_RECORDS = 500
_LN_RECORD = math.log(RECORD_PROBABILITY)
_NORMALISER_DAYS = 30.0  # score histories age with a 30-day time constant (MODELING.md 6)
_SOFT_LIMIT = 0.6
_KEY_BYTES = 120  # dictionary entry, tuple and string headers of one series key
_BUCKET_TIME = "bucket_time"
_RUN_DAMPING = 0.5
_RUN_NEWS = 2.0


def quiet_buckets(span_ms: int) -> int:
    """Empty buckets closed one by one after a bucket with data (or a skip): a day, within 48..1440.

    A day covers an outage of hours and a quiet night, whose zero counts a count model learns and
    scores; 48 buckets let the 24-bucket multi-bucket view and the 12-bucket re-base see an outage
    through at long spans, and 1,440 (a day of 1-minute buckets) bounds the work of one gap at
    short spans. Empty buckets beyond these are jumped over without results (finalize_until).
    """
    return max(48, min(1440, -(-86_400_000 // span_ms)))


def warmup_buckets(span_ms: int) -> int:
    """Buckets a series learns before it may score: 4 hours of data, within 12..48 buckets.

    12 buckets is the least that gives a usable residual scale; 48 five-minute buckets measured
    best on NAB (MODELING.md section 7) and longer spans need no more than 12 days of history.
    """
    return max(12, min(48, math.ceil(4 * 3_600_000 / span_ms)))


@dataclass(slots=True)
class _Detector:
    """One detector: its series, a model per feature and a record normaliser."""

    index: int
    spec: DetectorSpec
    function: Function
    models: list[SeriesModel]
    normaliser: Normaliser
    keys: SeriesKeys
    series_bytes: int
    run_peak: NDArray[np.float32]

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

    def model_bytes(self) -> int:
        """Bytes of state in use."""
        components = sum(m.seasonality.component_bytes() for m in self.models)
        return self.n_series * self.series_bytes + self.keys.key_bytes + components

    def grow(self, n: int, limit: int) -> None:
        """Make room for n series, doubling but never beyond limit series."""
        capacity = len(self.models[0].learned)
        if n > capacity:
            capacity = max(n, min(2 * capacity, limit))
            for model in self.models:
                model.grow(capacity)
            self.run_peak = np.concatenate([self.run_peak, np.zeros(capacity - len(self.run_peak), np.float32)])
        groups = len(self.keys.values[0]) if self.spec.partition_field_name else 1
        self.normaliser.grow(capacity, groups)


@dataclass(frozen=True, slots=True)
class _Leaf:
    """The scored series of one detector in one bucket."""

    series: NDArray[np.intp]
    ln_p: FloatArray
    raw: FloatArray
    score: FloatArray
    feature: NDArray[np.intp]
    actual: FloatArray
    typical: FloatArray
    multi_bucket_impact: FloatArray
    warm: NDArray[np.bool_]


class JobAnalyzer:
    """The anomaly-detection engine of one job.

    Args:
        spec: the job's analysis. Functions must be in functions.FUNCTIONS and over fields
            unset (population analysis is validated away upstream).

    Example:
        >>> from anomalyd.engine.records import DetectorSpec
        >>> spec = AnalysisSpec(bucket_span_ms=60_000, detectors=(DetectorSpec("count"),))
        >>> job = JobAnalyzer(spec)
        >>> job.add(RecordBatch(times=np.array([0, 1_000, 61_000])))
        >>> [(b.timestamp_ms, b.event_count) for b in job.finalize_until(120_000)]
        [(0, 2), (60000, 1)]
    """

    def __init__(self, spec: AnalysisSpec) -> None:
        self.spec = spec
        self.span = spec.bucket_span_ms
        self.warmup = warmup_buckets(self.span)
        self.quiet = quiet_buckets(self.span)
        decay = math.exp(-self.span / (_NORMALISER_DAYS * 86_400_000))
        self._detectors = [self._new_detector(i, d, decay) for i, d in enumerate(spec.detectors)]
        self._bucket_norm = Normaliser(1, decay_per_bucket=decay)
        self._influencer_norm = Normaliser(len(spec.influencers), decay_per_bucket=decay)
        self._influencer_values: list[dict[str, int]] = [{} for _ in spec.influencers]
        self._influencer_names: list[list[str]] = [[] for _ in spec.influencers]
        self._buffer: Arrays = self._empty_buffer()
        self._finalized_end: int | None = None
        self._first_bucket: int | None = None
        # Empty buckets from here on, for self.quiet buckets, are closed; later ones are jumped.
        # It moves to the end of each bucket closed with data, and to each skip's target.
        self._quiet_from: int | None = None
        self._event_rate = 0.0
        self._event_buckets = 0
        self._peak_bytes = 0
        self._refused_bytes = 0
        self._failed_buckets: set[int] = set()
        self._failure_count = 0
        self._budget = 0  # bytes new series and influencer values may still take, set per batch
        self._influencer_bytes = 0
        self._any_empty_is_zero = any(f.empty_is_zero for d in self._detectors for f in d.function.features)

    def _new_detector(self, index: int, spec: DetectorSpec, decay: float) -> _Detector:
        function = FUNCTIONS[spec.function]
        models = [
            SeriesModel(self.span, side=f.side, counts=f.statistic == "count", warmup=self.warmup, capacity=0)
            for f in function.features
        ]
        # One more series costs its models, its normaliser row, and its key.
        own = Normaliser.bytes_per_row() + Normaliser.bytes_per_group() + _KEY_BYTES + 4
        series_bytes = sum(m.bytes_per_series() for m in models) + own
        fields = tuple(f for f in (spec.partition_field_name, spec.by_field_name) if f)
        keys = SeriesKeys(fields, use_null=spec.use_null)
        norm = Normaliser(0, decay_per_bucket=decay)
        return _Detector(index, spec, function, models, norm, keys, series_bytes, np.zeros(0, np.float32))

    def _empty_buffer(self) -> Arrays:
        n_det, n_inf = len(self.spec.detectors), len(self.spec.influencers)
        return {
            "bucket": np.zeros(0, np.int64),
            "weight": np.zeros(0),
            "series": np.zeros((0, n_det), np.int32),
            "value": np.zeros((0, n_det)),
            "influence": np.zeros((0, n_inf), np.int32),
        }

    # ----------------------------------------------------------------------------------- input

    @property
    def last_finalized_end_ms(self) -> int | None:
        """The end of the last finalised (or skipped) bucket, epoch ms; None before any."""
        return self._finalized_end

    def add(self, batch: RecordBatch) -> None:
        """Buffer accepted records into their open buckets.

        Records in buckets already finalised are ignored (the caller drops them as out of
        order). With a summary count field, records whose count is missing or not positive are
        ignored: they stand for no events.

        Args:
            batch: the records, times in epoch ms.
        """
        bucket = batch.times // self.span * self.span
        keep = np.ones(len(batch), bool) if self._finalized_end is None else bucket >= self._finalized_end
        if self.spec.summary_count_field_name:
            weight = batch.numbers.get(self.spec.summary_count_field_name, np.full(len(batch), np.nan))
            keep &= weight > 0.0
        else:
            weight = np.ones(len(batch))
        if not keep.all():
            batch, bucket, weight = batch.take(keep), bucket[keep], weight[keep]
        if not len(batch):
            return
        self._budget = self.spec.model_memory_limit_bytes - self._model_bytes()
        if self._first_bucket is None:
            self._first_bucket = int(bucket.min())
        series = np.stack([self._series_of(d, batch, bucket) for d in self._detectors], axis=1)
        values = np.stack(
            [batch.numbers.get(d.spec.field_name, np.full(len(batch), np.nan)) for d in self._detectors], axis=1
        )
        influence = np.stack(
            [self._influencer_ids(k, name, batch) for k, name in enumerate(self.spec.influencers)], axis=1
        ) if self.spec.influencers else np.zeros((len(batch), 0), np.int32)
        columns = {"bucket": bucket, "weight": weight, "series": series, "value": values, "influence": influence}
        self._buffer = {k: np.concatenate([self._buffer[k], v]) for k, v in columns.items()}
        self._peak_bytes = max(self._peak_bytes, self._model_bytes())

    def _series_of(self, det: _Detector, batch: RecordBatch, bucket: NDArray[np.int64]) -> NDArray[np.int32]:
        """Shape (n,): each record's series in det, -1 where det skips the record."""
        usable = np.ones(len(batch), bool)
        if det.function.uses_field:
            usable &= ~np.isnan(batch.numbers.get(det.spec.field_name, np.full(len(batch), np.nan)))
        refused = False

        def admit(key: tuple[str, ...]) -> bool:
            nonlocal refused
            cost = det.series_bytes + sum(map(len, key))
            if cost > self._budget:
                self._refused_bytes += cost
                refused = True
                return False
            self._budget -= cost
            det.grow(det.n_series + 1, det.n_series + 1 + self._budget // cost)
            return True

        series = det.keys.resolve(batch, usable, admit)
        if refused:
            self._failed_buckets.update(np.unique(bucket[usable & (series < 0)]).tolist())
        return series

    def _influencer_ids(self, k: int, name: str, batch: RecordBatch) -> NDArray[np.int32]:
        column = batch.strings.get(name)
        if column is None:
            return np.full(len(batch), -1, np.int32)
        known, names = self._influencer_values[k], self._influencer_names[k]
        ids = np.empty(len(column.values) + 1, np.int32)
        ids[-1] = -1  # code -1 (missing) indexes this last entry
        for i, value in enumerate(column.values):
            if value not in known:
                cost = len(value) + _KEY_BYTES
                if cost > self._budget:  # over model_memory_limit: the value is not tracked
                    self._refused_bytes += cost
                    ids[i] = -1
                    continue
                self._budget -= cost
                known[value] = len(names)
                names.append(value)
                self._influencer_bytes += cost
            ids[i] = known[value]
        return ids[column.codes]

    # ----------------------------------------------------------------------------- time moves

    def finalize_until(self, end_ms: int) -> list[BucketResult]:
        """Close, score and learn the buckets ending at or before end_ms, in time order.

        Every bucket with data is closed, and so are the first quiet_buckets() empty buckets after
        a bucket with data (or after a skip's target): in them count and sum functions see 0, the
        others no value. Later empty buckets of the same stretch are jumped over as skip_to()
        jumps: no results and no learning; the normalisers age by the buckets elapsed. The work
        and the results are thus bounded by the data and not by the time between records.
        Nothing is produced before the first record.

        Args:
            end_ms: epoch ms.

        Returns:
            One result per closed bucket.
        """
        target = end_ms // self.span * self.span
        if self._finalized_end is not None and target <= self._finalized_end:
            return []
        results = []
        if self._first_bucket is not None:
            start = self._first_bucket if self._finalized_end is None else max(self._finalized_end, self._first_bucket)
            order = np.argsort(self._buffer["bucket"], kind="stable")
            buffer = {k: v[order] for k, v in self._buffer.items()}
            starts, self._quiet_from = self._to_close(start, target, buffer["bucket"])
            lo = np.searchsorted(buffer["bucket"], starts, side="left")
            hi = np.searchsorted(buffer["bucket"], starts, side="right")
            for b, i, j in zip(starts, lo.tolist(), hi.tolist(), strict=True):
                results.append(self._close(b, {k: v[i:j] for k, v in buffer.items()}))
            self._buffer = {k: v[np.searchsorted(buffer["bucket"], target) :] for k, v in buffer.items()}
        self._finalized_end = target
        return results

    def _to_close(self, start: int, end: int, buckets: NDArray[np.int64]) -> tuple[list[int], int]:
        """The buckets in [start, end) that are closed, and where the quiet allowance then starts.

        Args:
            start: the first bucket, epoch ms.
            end: the end, epoch ms.
            buckets: shape (n,), sorted bucket starts of the buffered rows.

        Returns:
            Bucket starts in time order: the buckets with data and the empty ones within
            quiet_buckets() of the last bucket with data (or skip) before them; and that
            allowance's start after the last of them.
        """
        span, allowance = self.span, self.quiet * self.span
        quiet_from = start if self._quiet_from is None else self._quiet_from
        inside = buckets[np.searchsorted(buckets, start) : np.searchsorted(buckets, end)]
        closing: list[int] = []
        at = start
        for b in [*np.unique(inside).tolist(), end]:
            closing.extend(range(at, min(b, quiet_from + allowance), span))
            if b < end:
                closing.append(b)
                at = quiet_from = b + span
        return closing, quiet_from

    def skip_to(self, t_ms: int) -> None:
        """Jump to ceil(t_ms, span) without results or learning; buffered data before it goes.

        The empty buckets after the target count as the start of a quiet stretch (see
        finalize_until).
        """
        target = -(-t_ms // self.span) * self.span
        if self._finalized_end is not None and target <= self._finalized_end:
            return
        self._finalized_end = target
        self._quiet_from = target if self._quiet_from is None else max(self._quiet_from, target)
        self._failed_buckets = {b for b in self._failed_buckets if b >= target}
        self._buffer = {k: v[self._buffer["bucket"] >= target] for k, v in self._buffer.items()}

    def reset_buckets(self, start_ms: int, end_ms: int) -> None:
        """Forget buffered records of buckets in [floor(start), ceil(end)) so they can be resent."""
        lo = start_ms // self.span * self.span
        hi = -(-end_ms // self.span) * self.span
        bucket = self._buffer["bucket"]
        keep = (bucket < lo) | (bucket >= hi)
        self._buffer = {k: v[keep] for k, v in self._buffer.items()}

    def interim(self, start_ms: int | None = None, end_ms: int | None = None) -> list[BucketResult]:
        """Provisional results for open buckets, without learning anything.

        Count-like values are corrected for the bucket's expected completeness c (its events so
        far over the recent mean events per bucket): value + (1 - c) * typical, as autodetect's
        interim bucket corrector does.

        Args:
            start_ms: first bucket (floored to the span); default the first open bucket.
            end_ms: end (ceiled to the span); default latency_buckets + 1 buckets after start.

        Returns:
            One result per open bucket in the range that is not before the first record and
            that finalize_until would close: empty buckets beyond quiet_buckets() of data get none.
        """
        if self._first_bucket is None:
            return []
        first_open = self._first_bucket if self._finalized_end is None else max(self._finalized_end, self._first_bucket)
        start = first_open if start_ms is None else max(start_ms // self.span * self.span, first_open)
        latency_buckets = -(-self.spec.latency_ms // self.span)
        end = start + (latency_buckets + 1) * self.span if end_ms is None else -(-end_ms // self.span) * self.span
        results = []
        order = np.argsort(self._buffer["bucket"], kind="stable")
        buffer = {k: v[order] for k, v in self._buffer.items()}
        # Buckets before start count for the quiet allowance as though finalised now.
        starts, _ = self._to_close(first_open, end, buffer["bucket"])
        for b in starts:
            if b < start:
                continue
            i, j = np.searchsorted(buffer["bucket"], [b, b + self.span])
            rows = {k: v[i:j] for k, v in buffer.items()}
            events = float(rows["weight"].sum())
            completeness = min(1.0, events / self._event_rate) if self._event_rate > 0.0 else 1.0
            results.append(self._close(b, rows, completeness=completeness))
        return results

    # ------------------------------------------------------------------------------- scoring

    def _close(self, b: int, rows: Arrays, completeness: float | None = None) -> BucketResult:
        """Score (and unless interim, learn) bucket b from its buffered rows.

        Args:
            b: bucket start, epoch ms.
            rows: the bucket's buffer rows.
            completeness: None for a final bucket; for interim results the expected share of
                the bucket's events that have arrived, in (0, 1].
        """
        interim = completeness is not None
        events = float(rows["weight"].sum())
        if not interim:
            n = self._event_buckets = self._event_buckets + 1
            self._event_rate += (events - self._event_rate) / min(n, 24)
            if b in self._failed_buckets:
                self._failed_buckets.discard(b)
                self._failure_count += 1
        bucket_index = b // self.span
        leaves = [self._score_detector(d, b, rows, completeness) for d in self._detectors] if (
            len(rows["bucket"]) or self._any_empty_is_zero
        ) else []
        records = self._records(b, leaves, rows, interim)
        influencers, field_influencers = self._influencers(b, leaves, rows, interim)

        warm = [leaf for leaf in leaves if leaf.warm.any()]
        bucket_influencers = []
        if warm:
            ln_p = min(float(leaf.ln_p[leaf.warm].min()) for leaf in warm)
            raw = raw_score(np.array([ln_p]))
            zero = np.zeros(1, np.intp)
            score = float(self._bucket_norm.normalise(zero, zero, raw, np.array([ln_p]), bucket=bucket_index)[0])
            if not interim:
                self._bucket_norm.update(zero, zero, raw, bucket=bucket_index)
            bucket_influencers.append(BucketInfluencer(_BUCKET_TIME, score, score, float(raw[0]), math.exp(ln_p)))
        else:
            bucket_influencers.append(BucketInfluencer(_BUCKET_TIME, 0.0, 0.0, 0.0, 1.0))
        bucket_influencers.extend(field_influencers)
        anomaly = max(bi.anomaly_score for bi in bucket_influencers)
        return BucketResult(
            timestamp_ms=b,
            bucket_span_s=self.span // 1000,
            anomaly_score=anomaly,
            initial_anomaly_score=anomaly,
            event_count=round(events),
            is_interim=interim,
            bucket_influencers=bucket_influencers,
            records=records,
            influencers=influencers,
        )

    def _score_detector(self, det: _Detector, b: int, rows: Arrays, completeness: float | None) -> _Leaf:
        """Score every series of det that has a value in bucket b; learn unless interim."""
        interim = completeness is not None
        n_series = det.n_series
        series = rows["series"][:, det.index]
        mine = series >= 0
        grouped = Grouped.of(series[mine].astype(np.intp), rows["value"][mine, det.index], rows["weight"][mine])
        per_feature: list[tuple[NDArray[np.intp], FloatArray, Scored]] = []
        for feature, model in zip(det.function.features, det.models, strict=True):
            if not interim:
                model.begin_bucket(b, n_series)
            idx, x = grouped.series, STATISTICS[feature.statistic](grouped)
            if feature.empty_is_zero:
                full = np.zeros(n_series)
                full[idx] = x
                idx, x = np.arange(n_series), full
            scored = model.score(idx, x, b)
            if completeness is not None and feature.count_like and completeness < 1.0:
                x = x + (1.0 - completeness) * scored.typical
                scored = model.score(idx, x, b)
            per_feature.append((idx, x, scored))
        # A series' record reports its least probable feature.
        idx = per_feature[0][0]
        best = np.zeros(len(idx), np.intp)
        ln_p = per_feature[0][2].ln_p.copy()
        for k, (_, _, scored) in enumerate(per_feature[1:], start=1):
            better = scored.ln_p < ln_p
            best[better], ln_p[better] = k, scored.ln_p[better]
        actual = _pick(best, [x for _, x, _ in per_feature])
        typical = _pick(best, [s.typical for _, _, s in per_feature])
        single = _pick(best, [s.ln_p_single for _, _, s in per_feature])
        multi = _pick(best, [s.ln_p_multi for _, _, s in per_feature])
        warm = det.models[0].learned[idx] >= self.warmup
        raw = raw_score(ln_p)
        group = det.groups(idx)
        score = det.normaliser.normalise(idx, group, raw, ln_p, bucket=b // self.span)
        # A run of anomalous buckets is one anomaly: after its first bucket, a bucket that does
        # not at least double the run's peak score so far adds little news, so it is reported
        # damped (NAB standard 55.9 -> 57.8 against damping only buckets below the peak).
        anomalous = warm & (ln_p < _LN_RECORD)
        peak = det.run_peak[idx]
        score = np.where(anomalous & (peak > 0.0) & (score < _RUN_NEWS * peak), _RUN_DAMPING * score, score)
        if not interim:
            for (fidx, x, scored), model in zip(per_feature, det.models, strict=True):
                model.learn(fidx, x, b, scored)
            det.normaliser.update(idx[warm], group[warm], raw[warm], bucket=b // self.span)
            det.run_peak[idx] = np.where(anomalous, np.maximum(peak, score), 0.0)
        return _Leaf(idx, ln_p, raw, score, best, actual, typical, _multi_bucket_impact(single, multi), warm)

    def _records(self, b: int, leaves: list[_Leaf], rows: Arrays, interim: bool) -> list[AnomalyRecord]:
        """The records of the bucket: series with probability below 0.035, at most 500."""
        hits = [(leaf, np.flatnonzero(leaf.warm & (leaf.ln_p < _LN_RECORD))) for leaf in leaves]
        candidates = sorted(
            ((float(leaf.ln_p[i]), d, int(i)) for d, (leaf, found) in enumerate(hits) for i in found.tolist())
        )[:MAX_RECORDS]
        records = []
        for ln_p, d, i in candidates:
            det, leaf = self._detectors[d], leaves[d]
            s = int(leaf.series[i])
            key = {name: det.keys.value(s, k) for k, name in enumerate(det.split_fields)}
            spec = det.spec
            score = float(leaf.score[i])
            records.append(
                AnomalyRecord(
                    timestamp_ms=b,
                    detector_index=d,
                    function=det.function.name,
                    function_description=det.function.describe(int(leaf.feature[i])),
                    field_name=spec.field_name,
                    by_field_name=spec.by_field_name,
                    by_field_value=key.get(spec.by_field_name, "") if spec.by_field_name else "",
                    partition_field_name=spec.partition_field_name,
                    partition_field_value=key.get(spec.partition_field_name, "") if spec.partition_field_name else "",
                    over_field_name="",
                    over_field_value="",
                    probability=math.exp(ln_p),
                    record_score=score,
                    initial_record_score=score,
                    actual=[float(leaf.actual[i])],
                    typical=[float(leaf.typical[i])],
                    multi_bucket_impact=float(leaf.multi_bucket_impact[i]),
                    influencers=self._record_influencers(d, s, rows),
                    is_interim=interim,
                )
            )
        return records

    def _record_influencers(self, d: int, s: int, rows: Arrays) -> list[tuple[str, list[str]]]:
        mine = rows["series"][:, d] == s
        out = []
        for k, name in enumerate(self.spec.influencers):
            ids = np.unique(rows["influence"][mine, k])
            values = [self._influencer_names[k][v] for v in ids.tolist() if v >= 0]
            if values:
                out.append((name, values))
        return out

    def _influencers(
        self, b: int, leaves: list[_Leaf], rows: Arrays, interim: bool
    ) -> tuple[list[InfluencerResult], list[BucketInfluencer]]:
        """Influencer results and per-field bucket influencers of the bucket.

        An influencer value is credited with the smallest record probability among the series
        whose rows in the bucket carry that value.
        """
        results: list[InfluencerResult] = []
        fields: list[BucketInfluencer] = []
        for k, name in enumerate(self.spec.influencers):
            best: dict[int, float] = {}
            for d, leaf in enumerate(leaves):
                warm = leaf.warm & (leaf.ln_p < _LN_RECORD)
                if not warm.any():
                    continue
                ln_p_of = np.zeros(self._detectors[d].n_series)
                ln_p_of[leaf.series[warm]] = leaf.ln_p[warm]
                series = rows["series"][:, d]
                values = rows["influence"][:, k]
                use = (series >= 0) & (values >= 0)
                pair_ln_p = ln_p_of[series[use]]
                hit = pair_ln_p < _LN_RECORD
                for v, lp in zip(values[use][hit].tolist(), pair_ln_p[hit].tolist(), strict=True):
                    best[v] = min(best.get(v, 0.0), lp)
            field_row = np.array([k], np.intp)
            if not best:
                # Quiet buckets count too: without them the field's first anomaly would meet
                # an empty history and score 0.
                if not interim:
                    self._influencer_norm.update(field_row, field_row, np.zeros(1), bucket=b // self.span)
                continue
            ids = np.array(list(best))
            ln_p = np.array(list(best.values()))
            raw = raw_score(ln_p)
            row = np.full(len(ids), k, np.intp)
            scores = self._influencer_norm.normalise(row, row, raw, ln_p, bucket=b // self.span)
            if not interim:
                self._influencer_norm.update(field_row, field_row, raw.max(keepdims=True), bucket=b // self.span)
            for v, lp, sc in zip(ids.tolist(), ln_p.tolist(), scores.tolist(), strict=True):
                value = self._influencer_names[k][v]
                results.append(InfluencerResult(b, name, value, sc, sc, math.exp(lp), interim))
            top = int(np.argmax(raw))
            fields.append(
                BucketInfluencer(name, float(scores.max()), float(scores.max()), float(raw[top]), math.exp(ln_p.min()))
            )
        return results, fields

    # --------------------------------------------------------------------------- accounting

    def _model_bytes(self) -> int:
        fixed = (Normaliser.bytes_per_row() + Normaliser.bytes_per_group()) * (1 + len(self.spec.influencers))
        return fixed + self._influencer_bytes + sum(d.model_bytes() for d in self._detectors)

    def model_size_stats(self) -> ModelSizeStats:
        """Model memory and entity counts now."""
        used = self._model_bytes()
        self._peak_bytes = max(self._peak_bytes, used)
        limit = self.spec.model_memory_limit_bytes
        by = sum(d.keys.distinct(len(d.split_fields) - 1) for d in self._detectors if d.spec.by_field_name)
        partitions = sum(d.keys.distinct(0) for d in self._detectors if d.spec.partition_field_name)
        if self._refused_bytes:
            status = "hard_limit"
        elif used > _SOFT_LIMIT * limit:
            status = "soft_limit"
        else:
            status = "ok"
        return ModelSizeStats(
            model_bytes=used,
            peak_model_bytes=self._peak_bytes,
            model_bytes_exceeded=self._refused_bytes,
            model_bytes_memory_limit=limit,
            total_by_field_count=by,
            total_over_field_count=0,
            total_partition_field_count=partitions,
            bucket_allocation_failures_count=self._failure_count,
            memory_status=status,
        )

    def score_normalisers(self) -> ScoreNormalisers:
        """A view of the normalisers, to re-score stored results with (see renormalise.py)."""
        newest = 0 if self._finalized_end is None else self._finalized_end // self.span - 1
        detectors = tuple(DetectorScores(d.normaliser, d.keys, d.groups) for d in self._detectors)
        return ScoreNormalisers(self._bucket_norm, self._influencer_norm, self.spec.influencers, detectors, newest)

    # -------------------------------------------------------------------------------- state

    def to_state(self) -> bytes:
        """Everything needed to continue exactly: models, normalisers, buffer, dictionaries."""
        arrays: Arrays = {f"buffer.{k}": v for k, v in self._buffer.items()}
        arrays.update({f"bucket_norm.{k}": v for k, v in self._bucket_norm.arrays(self._bucket_norm.rows).items()})
        influencer_norm = self._influencer_norm.arrays(self._influencer_norm.rows)
        arrays.update({f"influencer_norm.{k}": v for k, v in influencer_norm.items()})
        for d in self._detectors:
            # Only the series in use are written: capacity comes back by doubling as series come.
            n = d.n_series
            arrays.update({f"d{d.index}.norm.{k}": v for k, v in d.normaliser.arrays(n).items()})
            arrays.update({f"d{d.index}.keys.{k}": v for k, v in d.keys.arrays().items()})
            arrays[f"d{d.index}.run_peak"] = d.run_peak[:n]
            for j, model in enumerate(d.models):
                arrays.update({f"d{d.index}.f{j}.{k}": v for k, v in model.arrays(n).items()})
        meta: dict[str, Any] = {
            "version": _STATE_VERSION,
            "finalized_end": self._finalized_end,
            "first_bucket": self._first_bucket,
            "quiet_from": self._quiet_from,
            "event_rate": self._event_rate,
            "event_buckets": self._event_buckets,
            "peak_bytes": self._peak_bytes,
            "refused_bytes": self._refused_bytes,
            "failed_buckets": sorted(self._failed_buckets),
            "failure_count": self._failure_count,
            "influencer_names": self._influencer_names,
            "split_values": [d.keys.meta() for d in self._detectors],
        }
        return pack(arrays, meta)

    @classmethod
    def from_state(cls, spec: AnalysisSpec, data: bytes) -> JobAnalyzer:
        """An analyzer continuing from to_state() bytes written for the same spec.

        Raises:
            ValueError: the state was written by another state version.
        """
        arrays, meta = unpack(data)
        if meta.get("version") not in _READABLE_VERSIONS:
            raise ValueError(f"model state version {meta.get('version')} is not {_STATE_VERSION}")
        job = cls(spec)
        job._buffer = {k: arrays[f"buffer.{k}"] for k in job._buffer}
        job._bucket_norm.load(_prefixed(arrays, "bucket_norm."))
        job._influencer_norm.load(_prefixed(arrays, "influencer_norm."))
        for d, values in zip(job._detectors, meta["split_values"], strict=True):
            d.keys.load(_prefixed(arrays, f"d{d.index}.keys."), values)
            d.run_peak = arrays[f"d{d.index}.run_peak"]
            d.normaliser.load(_prefixed(arrays, f"d{d.index}.norm."))
            for j, model in enumerate(d.models):
                model.load(_prefixed(arrays, f"d{d.index}.f{j}."))
        job._finalized_end = meta["finalized_end"]
        job._first_bucket = meta["first_bucket"]
        # States written before empty stretches were jumped lack it: allow a quiet stretch anew.
        job._quiet_from = meta.get("quiet_from", job._finalized_end)
        job._event_rate = meta["event_rate"]
        job._event_buckets = meta["event_buckets"]
        job._peak_bytes = meta["peak_bytes"]
        job._refused_bytes = meta["refused_bytes"]
        job._failed_buckets = set(meta["failed_buckets"])
        job._failure_count = meta["failure_count"]
        job._influencer_names = [list(v) for v in meta["influencer_names"]]
        job._influencer_values = [{v: i for i, v in enumerate(names)} for names in job._influencer_names]
        job._influencer_bytes = sum(len(v) + _KEY_BYTES for names in job._influencer_names for v in names)
        return job


def _prefixed(arrays: Arrays, prefix: str) -> Arrays:
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


def _pick(choice: NDArray[np.intp], arrays: list[FloatArray]) -> FloatArray:
    """Shape (k,): arrays[choice[i]][i] for each i."""
    return np.choose(choice, arrays) if len(arrays) > 1 else arrays[0]


def _multi_bucket_impact(ln_single: FloatArray, ln_multi: FloatArray) -> FloatArray:
    """Elasticsearch's multi_bucket_impact: -5 (single-bucket evidence) to +5 (multi-bucket).

    5 * min/max of the two log probabilities / ln 1000 * (ls - lm), clamped; 0 when neither
    probability is below 1.
    """
    ls = np.minimum(ln_single, -1e-12)
    lm = np.minimum(ln_multi, -1e-12)
    ratio = np.minimum(ls, lm) / np.maximum(ls, lm)
    impact = np.clip(5.0 * ratio / math.log(1000.0) * (ls - lm), -5.0, 5.0)
    return np.where((ln_single < 0.0) | (ln_multi < 0.0), impact, 0.0)
