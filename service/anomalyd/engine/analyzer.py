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

The analyzer composes its parts: the bucket buffer (bucket_buffer.py), a detector scorer per
detector (detector_scorer.py), the influencer scorer (influencer_scorer.py), the memory
account (memory.py) and the records of a bucket (anomaly_records.py); it keeps time, closes
buckets and writes their results.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anomalyd.bucket_time import DAY_MS, ceil_to, floor_to
from anomalyd.engine.anomaly_records import bucket_records
from anomalyd.engine.bucket_buffer import BucketBuffer, Rows
from anomalyd.engine.compiled import kernel
from anomalyd.engine.detector_scorer import DetectorScorer, Leaf
from anomalyd.engine.frequent import FrequentFilter
from anomalyd.engine.influencer_scorer import InfluencerScorer
from anomalyd.engine.memory import MemoryAccount
from anomalyd.engine.normaliser import Normaliser, normalise1, update1
from anomalyd.engine.population import PopulationScorer
from anomalyd.engine.rare import RARE_FUNCTIONS, RareScorer
from anomalyd.engine.records import AnalysisSpec, RecordBatch
from anomalyd.engine.renormalise import ScoreNormalisers
from anomalyd.engine.results import BucketInfluencer, BucketResult, ModelSizeStats
from anomalyd.engine.state import pack, prefixed, unpack
from anomalyd.engine.stats import raw_score1

# 2: only series in use, written ring points and filled score bins; 3: families, two windows; 4: slope;
# 5: the series models' arrays named by part (version 4 reads as the same values, see SeriesModel.load);
# 6: the drift feature (versions 4 and 5 read with it empty); 7: rare detectors' state (no earlier
# state holds a rare detector, so versions 4 to 6 read as they did); 8: population models' usual
# bucket medians (version 7 populations read with none yet); 9: exclude_frequent's counts (earlier
# versions read with none, as a detector that has seen no bucket yet); 10: seasonality rings as
# 16-bit codes with an offset and step per ring (earlier float32 points are coded on reading); 11: the
# drift profiles' weights in uint16 tenths of a bucket (earlier float32 weights read to the nearest);
# 12: the seasonal components' residual spreads per bin (earlier components read with uniform spreads);
# 13: the spreads as 16-bit floats (residual.SPREAD_CODE) and a float32 sum a row (version 12's coded on reading);
# 14: the components' bins as 16-bit codes with an offset and step a row (earlier float32 bins coded on reading)
_STATE_VERSION = 14
_READABLE_VERSIONS = (4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)
_RUN_ROWS = 1 << 18  # (bucket, series) rows a detector's run of buckets holds at most
_NORMALISER_DAYS = 30.0  # score histories age with a 30-day time constant (MODELING.md 6)
_BUCKET_TIME = "bucket_time"
_BEFORE_TIME = -(1 << 63)  # before every bucket: nothing is final yet


def quiet_buckets(span_ms: int) -> int:
    """Empty buckets closed one by one after a bucket with data (or a skip): a day, within 48..1440.

    A day covers an outage of hours and a quiet night, whose zero counts a count model learns and
    scores; 48 buckets let the 24-bucket multi-bucket view and the 12-bucket re-base see an outage
    through at long spans, and 1,440 (a day of 1-minute buckets) bounds the work of one gap at
    short spans. Empty buckets beyond these are jumped over without results (finalize_until).
    """
    return max(48, min(1440, -(-DAY_MS // span_ms)))


def warmup_buckets(span_ms: int) -> int:
    """Buckets a series learns before it may score: 4 hours of data, within 12..48 buckets.

    12 buckets is the least that gives a usable residual scale; 48 five-minute buckets measured
    best on NAB (MODELING.md section 7) and longer spans need no more than 12 days of history.
    """
    return max(12, min(48, math.ceil(4 * 3_600_000 / span_ms)))


class JobAnalyzer:
    """The anomaly-detection engine of one job.

    Args:
        spec: the job's analysis. Functions must be in functions.FUNCTIONS or rare.RARE_FUNCTIONS;
            a detector with an over field is a population (population.py, or rare.py for rare).

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
        decay = math.exp(-self.span / (_NORMALISER_DAYS * DAY_MS))
        self._detectors: list[DetectorScorer | RareScorer | PopulationScorer] = [
            RareScorer(i, d, span_ms=self.span, decay=decay) if d.function in RARE_FUNCTIONS
            else PopulationScorer(i, d, span_ms=self.span, warmup=self.warmup, decay=decay) if d.over_field_name
            else DetectorScorer(i, d, span_ms=self.span, warmup=self.warmup, decay=decay)
            for i, d in enumerate(spec.detectors)
        ]
        self._frequent = [
            FrequentFilter(d.spec, d.keys.fields, decay) if FrequentFilter.wanted(d.spec) else None for d in self._detectors
        ]
        self._bucket_norm = Normaliser(1, decay_per_bucket=decay)
        self._influencers = InfluencerScorer(spec.influencers, span_ms=self.span, decay=decay)
        self._buffer = BucketBuffer(detectors=len(spec.detectors), influencers=len(spec.influencers))
        # The one detector whose batches may take _add_known's compiled pass, None when the job has no such.
        only = self._detectors[0] if len(self._detectors) == 1 else None
        plain = not spec.influencers and not spec.summary_count_field_name
        self._plain = only if plain and isinstance(only, DetectorScorer) else None
        self._memory = MemoryAccount(spec.model_memory_limit_bytes)
        self._finalized_end: int | None = None
        self._first_bucket: int | None = None
        # Empty buckets from here on, for self.quiet buckets, are closed; later ones are jumped.
        # It moves to the end of each bucket closed with data, and to each skip's target.
        self._quiet_from: int | None = None
        self._event_rate = 0.0
        self._event_buckets = 0
        self._any_empty_is_zero = any(f.empty_is_zero for d in self._detectors for f in d.function.features)
        self._zero_detectors = [d for d in self._detectors if d.function.features[0].empty_is_zero]
        # The normalisers of the bucket and the influencer fields, whose size never changes.
        self._fixed_bytes = (Normaliser.bytes_per_row() + Normaliser.bytes_per_group()) * (1 + len(spec.influencers))
        # Wall-clock ms each bucket closed by the last finalize_until took (not state: timing).
        self.last_processing_ms: list[float] = []

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
        if self._add_known(batch):
            return
        bucket = floor_to(batch.times, self.span)
        end = self._finalized_end
        keep = bucket >= end if end is not None and len(bucket) and np.minimum.reduce(bucket) < end else None
        if self.spec.summary_count_field_name:
            weight = batch.numbers.get(self.spec.summary_count_field_name, np.full(len(batch), np.nan))
            keep = weight > 0.0 if keep is None else keep & (weight > 0.0)
        else:
            weight = np.ones(len(batch))
        if keep is not None and not keep.all():
            batch, bucket, weight = batch.take(keep), bucket[keep], weight[keep]
        if not len(batch):
            return
        used = self._model_bytes()
        self._memory.open_batch(used)
        if self._first_bucket is None:
            self._first_bucket = int(bucket.min())
        per_detector = [d.values_of(batch) for d in self._detectors]
        series = _columns([d.series_of(batch, v, bucket, self._memory) for d, v in zip(self._detectors, per_detector, strict=True)])
        values = _columns(per_detector)
        self._buffer.append(bucket, weight, series, values, self._influencers.ids(batch, self._memory))
        # Everything the batch adds to the model (series, influencer values) takes from the
        # budget: an untouched budget means the bytes in use are those counted at the start.
        self._memory.note(used if self._memory.budget == self._memory.limit - used else self._model_bytes())

    def _add_known(self, batch: RecordBatch) -> bool:
        """add() in one compiled pass (see BucketBuffer.append_known), if the batch allows it; else False.

        A live stream's usual batch: a job of one plain detector without influencers or summary
        counts, whose records all fall in open buckets and in the series of the last batch's
        split values. Nothing is resolved or paid for, so only the peak bytes are noted.
        """
        d = self._plain
        if d is None or self._first_bucket is None or not len(batch):
            return False
        table = d.known_table(batch)
        if table is None:
            return False
        after = _BEFORE_TIME if self._finalized_end is None else self._finalized_end
        if not self._buffer.append_known(batch.times, self.span, after, *table, d.values_of(batch), d.function.uses_field):
            return False
        self._memory.note(self._model_bytes())
        return True

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
        target = floor_to(end_ms, self.span)
        if self._finalized_end is not None and target <= self._finalized_end:
            return []
        results: list[BucketResult] = []
        if self._first_bucket is not None:
            start = self._first_bucket if self._finalized_end is None else max(self._finalized_end, self._first_bucket)
            self._buffer.sort()
            starts, self._quiet_from = self._to_close(start, target, self._buffer.buckets())
            # Count and sum detectors give every series a value in every bucket: a run of them
            # holds buckets x series rows, so long stretches of many series close in parts.
            widest = max((d.n_series for d in self._zero_detectors), default=0)
            step = max(1, _RUN_ROWS // widest) if widest else max(len(starts), 1)
            self.last_processing_ms = []
            for first in range(0, len(starts), step):
                closed, took = self._close_final(starts[first:first + step])
                results += closed
                self.last_processing_ms += took
            self._buffer.drop_before(target)
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
        if end == start + span and len(buckets) and buckets[0] == start and buckets[-1] == start:
            return [start], end  # a live stream's next bucket, and nothing else, has data
        quiet_from = start if self._quiet_from is None else self._quiet_from
        lo, hi = np.searchsorted(buckets, (start, end)).tolist()
        inside = buckets[lo:hi]
        closing: list[int] = []
        at = start
        if hi - lo < 2 or inside[0] == inside[-1]:  # one bucket with data, as a live stream closes
            distinct = inside[:1].tolist()
        else:  # sorted: no np.unique
            distinct = inside[:1].tolist() + inside[1:][inside[1:] != inside[:-1]].tolist()
        for b in [*distinct, end]:
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
        target = ceil_to(t_ms, self.span)
        if self._finalized_end is not None and target <= self._finalized_end:
            return
        self._finalized_end = target
        self._quiet_from = target if self._quiet_from is None else max(self._quiet_from, target)
        self._memory.skip_to(target)
        self._buffer.keep(self._buffer.buckets() >= target)

    def reset_buckets(self, start_ms: int, end_ms: int) -> None:
        """Forget buffered records of buckets in [floor(start), ceil(end)) so they can be resent."""
        lo = floor_to(start_ms, self.span)
        hi = ceil_to(end_ms, self.span)
        bucket = self._buffer.buckets()
        self._buffer.keep((bucket < lo) | (bucket >= hi))

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
        start = first_open if start_ms is None else max(floor_to(start_ms, self.span), first_open)
        latency_buckets = -(-self.spec.latency_ms // self.span)
        end = start + (latency_buckets + 1) * self.span if end_ms is None else ceil_to(end_ms, self.span)
        results = []
        self._buffer.sort()
        # Buckets before start count for the quiet allowance as though finalised now.
        starts, _ = self._to_close(first_open, end, self._buffer.buckets())
        for b in starts:
            if b < start:
                continue
            rows = self._buffer.rows(b, b + self.span)
            events = self._events(rows["weight"])
            completeness = min(1.0, events / self._event_rate) if self._event_rate > 0.0 else 1.0
            results.append(self._close(b, rows, completeness=completeness))
        return results

    # ------------------------------------------------------------------------------- scoring

    def _close_final(self, starts: list[int]) -> tuple[list[BucketResult], list[float]]:
        """Close the final buckets starting at starts (ascending): each detector scores them all in one run.

        A detector scores a bucket when it has rows or when some detector counts an empty bucket
        as zeros; its run is score_run's compiled loop, or bucket by bucket when it has none.

        Returns:
            The results, and the wall-clock ms each bucket took: its own close plus an equal
            share of the detectors' runs.
        """
        if not starts:
            return [], []
        began = time.perf_counter()
        span = self.span
        columns = self._buffer.rows(starts[0], starts[-1] + span)
        if len(starts) == 1:  # a live stream's usual close: the rows read are the bucket's
            result = self._close(starts[0], columns, leaves=self._score_one(starts[0], columns))
            return [result], [(time.perf_counter() - began) * 1000.0]
        at = np.asarray(starts, np.int64)
        bounds = zip(np.searchsorted(columns["bucket"], at).tolist(), np.searchsorted(columns["bucket"], at + span).tolist(), strict=True)
        per_bucket = [{k: v[lo:hi] for k, v in columns.items()} for lo, hi in bounds]
        scored = [j for j, rows in enumerate(per_bucket) if len(rows["bucket"]) or self._any_empty_is_zero]
        closing = np.array([starts[j] for j in scored], np.int64)
        runs = self._runs(closing, columns)
        position = dict(zip(scored, range(len(scored)), strict=True))
        share = (time.perf_counter() - began) * 1000.0 / len(starts)
        results, times = [], []
        for j, (b, rows) in enumerate(zip(starts, per_bucket, strict=True)):
            began = time.perf_counter()
            p = position.get(j)
            leaves = [] if p is None else self._leaves(b, rows, runs, p)
            results.append(self._close(b, rows, leaves=leaves))
            times.append(share + (time.perf_counter() - began) * 1000.0)
        return results, times

    def _score_one(self, b: int, rows: Rows) -> list[Leaf]:
        """The detectors' scores of final bucket b, alone, as _close_final's runs give them (none when nothing scores it)."""
        if not len(rows["bucket"]) and not self._any_empty_is_zero:
            return []
        return self._leaves(b, rows, self._runs(np.array([b], np.int64), rows), 0)

    def _runs(self, closing: NDArray[np.int64], rows: Rows) -> list[list[Leaf] | None]:
        """Each detector's score_run() of the final buckets closing, None where it scores bucket by bucket."""
        return [None if keep else d.score_run(closing, rows) for d, keep in zip(self._detectors, self._frequent, strict=True)]

    def _leaves(self, b: int, rows: Rows, runs: list[list[Leaf] | None], p: int) -> list[Leaf]:
        """The detectors' scores of final bucket b, the p-th of runs' buckets, from its rows where a run is None."""
        return [self._score(d, b, rows, None) if run is None else run[p] for d, run in zip(self._detectors, runs, strict=True)]

    def _close(self, b: int, rows: Rows, completeness: float | None = None, leaves: list[Leaf] | None = None) -> BucketResult:
        """Score (and unless interim, learn) bucket b from its buffered rows.

        Args:
            b: bucket start, epoch ms.
            rows: the bucket's buffer rows.
            completeness: None for a final bucket; for interim results the expected share of
                the bucket's events that have arrived, in (0, 1].
            leaves: the detectors' scores of the bucket when they scored it already (an empty
                list when none does).
        """
        interim = completeness is not None
        events = self._events(rows["weight"])
        if not interim:
            n = self._event_buckets = self._event_buckets + 1
            self._event_rate += (events - self._event_rate) / min(n, 24)
            self._memory.bucket_closed(b)
        bucket_index = b // self.span
        if leaves is None:
            leaves = [self._score(d, b, rows, completeness) for d in self._detectors] if (
                len(rows["bucket"]) or self._any_empty_is_zero
            ) else []
        found = [leaf.hits() for leaf in leaves]
        hits = [rows for rows, _ in found]
        records = bucket_records(b, self._detectors, self._influencers, leaves, hits, rows, interim)
        influencers, field_influencers = self._influencers.score(
            b, leaves, hits, [d.n_series for d in self._detectors], rows, interim
        ) if self._influencers.fields else ([], [])

        least = [ln_p for _, ln_p in found if ln_p is not None]
        bucket_influencers = []
        if least:
            ln_p = min(least)
            norm = self._bucket_norm
            raw, score = _bucket_score(norm.state(), norm.decay, ln_p, bucket_index, not interim)
            bucket_influencers.append(BucketInfluencer(_BUCKET_TIME, score, score, raw, math.exp(ln_p)))
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

    def _events(self, weight: NDArray[np.float64]) -> float:
        """The events a bucket's rows stand for: their weights' sum, which is their number without summary counts (each weighs 1)."""
        if not self.spec.summary_count_field_name:
            return float(len(weight))
        return float(weight[0]) if len(weight) == 1 else float(weight.sum())

    def _score(self, d: DetectorScorer | RareScorer | PopulationScorer, b: int, rows: Rows, completeness: float | None) -> Leaf:
        """Detector d's scores of bucket b, without the rows of values its exclude_frequent leaves out."""
        keep = self._frequent[d.index]
        if keep is None:
            return d.score(b, rows, completeness)
        bucket = b // self.span
        if isinstance(d, DetectorScorer):
            d.excluded = keep.excluded_series(bucket, d.keys.ids)
        column = rows["series"][:, d.index]
        dropped = keep.drop(bucket, column, d.keys.ids, final=completeness is None)
        if dropped.any():
            series = rows["series"].copy()
            series[dropped, d.index] = -1
            rows = {**rows, "series": series}
        return d.score(b, rows, completeness)

    # --------------------------------------------------------------------------- accounting

    def _model_bytes(self) -> int:
        return self._fixed_bytes + self._influencers.bytes + sum(d.model_bytes() for d in self._detectors)

    def model_size_stats(self) -> ModelSizeStats:
        """Model memory and entity counts now."""

        def distinct(field: str) -> int:
            named = ((d, getattr(d.spec, field)) for d in self._detectors)
            return sum(d.keys.distinct(d.split_fields.index(name)) for d, name in named if name)

        return self._memory.stats(
            used=self._model_bytes(), by_fields=distinct("by_field_name"), over_fields=distinct("over_field_name"),
            partitions=distinct("partition_field_name"),
        )

    def score_normalisers(self) -> ScoreNormalisers:
        """A view of the normalisers, to re-score stored results with (see renormalise.py)."""
        newest = 0 if self._finalized_end is None else self._finalized_end // self.span - 1
        detectors = tuple(d.scores() for d in self._detectors)
        return ScoreNormalisers(self._bucket_norm, self._influencers.normaliser, self.spec.influencers, detectors, newest)

    # -------------------------------------------------------------------------------- state

    def to_state(self) -> bytes:
        """Everything needed to continue exactly: models, normalisers, buffer, dictionaries."""
        arrays = {f"buffer.{k}": v for k, v in self._buffer.columns.items()}
        arrays.update({f"bucket_norm.{k}": v for k, v in self._bucket_norm.arrays(self._bucket_norm.rows).items()})
        influencer_norm = self._influencers.normaliser
        arrays.update({f"influencer_norm.{k}": v for k, v in influencer_norm.arrays(influencer_norm.rows).items()})
        for d in self._detectors:
            arrays.update({f"d{d.index}.{k}": v for k, v in d.arrays().items()})
        for i, keep in enumerate(self._frequent):
            arrays.update({f"frequent{i}.{k}": v for k, v in keep.arrays().items()} if keep else {})
        meta: dict[str, Any] = {
            "version": _STATE_VERSION,
            "finalized_end": self._finalized_end,
            "first_bucket": self._first_bucket,
            "quiet_from": self._quiet_from,
            "event_rate": self._event_rate,
            "event_buckets": self._event_buckets,
            **self._memory.meta(),
            "influencer_names": self._influencers.names,
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

        job._buffer.load(prefixed(arrays, "buffer."))
        job._bucket_norm.load(prefixed(arrays, "bucket_norm."))
        job._influencers.load(prefixed(arrays, "influencer_norm."), meta["influencer_names"])
        for d, values in zip(job._detectors, meta["split_values"], strict=True):
            d.load(prefixed(arrays, f"d{d.index}."), values)
        for i, keep in enumerate(job._frequent):
            if keep:
                keep.load(prefixed(arrays, f"frequent{i}."))
        job._finalized_end = meta["finalized_end"]
        job._first_bucket = meta["first_bucket"]
        # States written before empty stretches were jumped lack it: allow a quiet stretch anew.
        job._quiet_from = meta.get("quiet_from", job._finalized_end)
        job._event_rate = meta["event_rate"]
        job._event_buckets = meta["event_buckets"]
        job._memory.load(meta)
        return job


@kernel
def _bucket_score(norm: tuple[Any, ...], decay: float, ln_p: float, bucket: int, learn: bool) -> tuple[float, float]:
    """The raw and normalised bucket score of the bucket's least record ln p; learns the raw score if asked.

    One compiled call rather than three: calling a kernel from Python costs microseconds.

    Args:
        norm: the bucket Normaliser's state() (one row, one group).
        decay: its decay per bucket.
        ln_p: the smallest ln p of a warm series in the bucket.
        bucket: the bucket index.
        learn: update the normaliser (a final bucket).
    """
    hist, epoch, hmax, hmax_last = norm
    raw = raw_score1(ln_p)
    score = normalise1(hist, epoch, hmax, hmax_last, decay, 0, 0, raw, ln_p, bucket)
    if learn:
        update1(hist, epoch, hmax, hmax_last, decay, 0, 0, raw, bucket)
    return raw, score


def _columns(columns: list[NDArray[Any]]) -> NDArray[Any]:
    """Shape (n, len(columns)): the columns side by side (one column without np.stack's overhead)."""
    return columns[0][:, None] if len(columns) == 1 else np.stack(columns, axis=1)
