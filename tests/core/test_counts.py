"""Bucket diagnostics agree with a record-by-record transcription of Elasticsearch's algorithm."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from anomalyd.core.config import DetectorConfig, JobConfig
from anomalyd.core.counts import BucketDiagnostics, DataCounts
from anomalyd.core.ingest import Ingestor, IngestState, ParsedRecords
from anomalyd.engine.records import RecordBatch


class ReferenceDiagnostics:
    """Elasticsearch's BucketDiagnostics + DataStreamDiagnostics, one record and one step at a time."""

    def __init__(self, span: int, size: int) -> None:
        self.span, self.buckets = span, [0] * size
        self.latest = self.earliest = -1
        self.latest_i = self.earliest_i = 0
        self.moving = 0
        self.flushed = -1
        self.counts = DataCounts()

    def add(self, t: int) -> None:
        start = t // self.span * self.span
        if self.latest < 0:
            self.latest = self.earliest = start
        while start > self.latest:
            i = (self.latest_i + 1) % len(self.buckets)
            if i == self.earliest_i:
                self._flush(i)
                self.moving -= self.buckets[i]
                self.earliest += self.span
                self.earliest_i = (self.earliest_i + 1) % len(self.buckets)
            self.buckets[i] = 0
            self.latest += self.span
            self.latest_i = i
        if start < self.earliest:
            return
        self.buckets[(self.latest_i + (start - self.latest) // self.span) % len(self.buckets)] += 1
        self.moving += 1

    def end(self) -> None:
        if self.latest < 0:
            return
        i = self.earliest_i
        while i != self.latest_i:
            self._flush(i)
            i = (i + 1) % len(self.buckets)

    def _flush(self, i: int) -> None:
        start = self.earliest + ((i - self.earliest_i) % len(self.buckets)) * self.span
        if start <= self.flushed:
            return
        self.flushed = start
        self.counts.bucket_count += 1
        n = self.buckets[i]
        size = (self.latest_i - self.earliest_i) % len(self.buckets) + 1
        if n == 0:
            self.counts.empty_bucket_count += 1
            self.counts.latest_empty_bucket_timestamp = start
        elif math.log(self.moving / size) - math.log(n) > 2:
            self.counts.sparse_bucket_count += 1
            self.counts.latest_sparse_bucket_timestamp = start


steps = st.one_of(st.integers(0, 3), st.integers(0, 40), st.integers(-2, 0), st.just(500))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(steps, st.integers(1, 30)), min_size=1, max_size=40), st.lists(st.integers(0, 40), max_size=3))
def test_vectorised_diagnostics_match_the_reference(runs, upload_ends):
    span, latency = 10, 0
    reference = ReferenceDiagnostics(span, 10)
    ours = BucketDiagnostics.for_job(span, latency)
    totals = DataCounts()
    t = 1000
    for step, (bucket_step, records) in enumerate(runs):
        t = max(t + bucket_step * span, 0)
        for _ in range(records):
            reference.add(t)
        ours.add(t // span * span, records, totals)
        if step in upload_ends:
            reference.end()
            ours.end_upload(totals)
    reference.end()
    ours.end_upload(totals)
    assert totals == reference.counts


def test_sparse_bucket_is_found():
    totals = DataCounts()
    diagnostics = BucketDiagnostics.for_job(60_000, 0)
    for i, n in enumerate([100] * 10 + [1] + [100] * 10):
        diagnostics.add(i * 60_000, n, totals)
    assert totals.sparse_bucket_count == 1
    assert totals.latest_sparse_bucket_timestamp == 10 * 60_000


def test_long_gap_counts_every_empty_bucket():
    totals = DataCounts()
    diagnostics = BucketDiagnostics.for_job(60_000, 0)
    diagnostics.add(0, 5, totals)
    diagnostics.add(1_000_000 * 60_000, 5, totals)
    assert totals.bucket_count == 1_000_000 - 9  # the ring still holds the newest ten
    diagnostics.end_upload(totals)
    assert totals.bucket_count == 1_000_000
    assert totals.empty_bucket_count == 999_999
    assert totals.latest_empty_bucket_timestamp == 999_999 * 60_000


SPAN_MS = 60_000
message_times = st.lists(st.tuples(st.integers(0, 20 * SPAN_MS), st.booleans()), max_size=8)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(message_times, st.booleans()), max_size=6), st.integers(0, 3))
def test_records_are_accepted_as_the_rule_says_record_by_record(messages, latency_buckets):
    # Out of order: older than the latest record's bucket start less the latency, or in a
    # finalised bucket. Messages in order take a shortcut; this reference takes none.
    config = JobConfig("o", detectors=(DetectorConfig("count"),), bucket_span_s=SPAN_MS // 1000, latency_s=latency_buckets * 60)
    ingestor = Ingestor(config, IngestState.new(config))
    latest = finalized = None
    for records, in_order in messages:
        records = sorted(records) if in_order else records
        kept = []
        for t, valid in records:
            threshold = max(-math.inf if latest is None else t_floor(latest) - config.latency_ms, -math.inf if finalized is None else finalized)
            if valid and t >= threshold:
                kept.append(t)
            if valid:
                latest = t if latest is None else max(latest, t)
        if kept:
            end = t_floor(latest - config.latency_ms)
            finalized = end if finalized is None else max(finalized, end)
        times = np.array([t if valid else 0 for t, valid in records], np.int64)
        invalid = np.array([not valid for _, valid in records], bool)
        parsed = ParsedRecords(RecordBatch(times), invalid, 0, 0)
        assert ingestor.accept(parsed, DataCounts(), input_bytes=0).times.tolist() == kept


def t_floor(t: int) -> int:
    return t // SPAN_MS * SPAN_MS


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-5 * SPAN_MS, 30 * SPAN_MS), min_size=1, max_size=40), st.booleans())
def test_a_message_is_cut_into_runs_of_one_bucket(times, in_order):
    config = JobConfig("r", detectors=(DetectorConfig("count"),), bucket_span_s=SPAN_MS // 1000)
    times = sorted(times) if in_order else times
    runs = [(start, len(list(group))) for start, group in itertools.groupby(times, t_floor)]
    assert Ingestor(config, IngestState.new(config))._runs(np.array(times, np.int64)) == runs
