"""Data counts, and the bucket diagnostics that find empty and sparse buckets.

Both follow Elasticsearch ML's DataCountsReporter and BucketDiagnostics so that the figures a
user compares with Elasticsearch agree.
"""

from __future__ import annotations

import math

import msgspec

# ln(window mean) - ln(count) above which a bucket is sparse (DataStreamDiagnostics).
_SPARSITY_THRESHOLD = 2.0
_MIN_RING_BUCKETS = 10


class DataCounts(msgspec.Struct):
    """Counts of received data; times are epoch milliseconds, None when unset."""

    processed_record_count: int = 0
    input_bytes: int = 0
    input_field_count: int = 0
    invalid_date_count: int = 0
    missing_field_count: int = 0
    out_of_order_timestamp_count: int = 0
    empty_bucket_count: int = 0
    sparse_bucket_count: int = 0
    bucket_count: int = 0
    malformed_document_count: int = 0
    earliest_record_timestamp: int | None = None
    latest_record_timestamp: int | None = None
    last_data_time: int | None = None
    latest_empty_bucket_timestamp: int | None = None
    latest_sparse_bucket_timestamp: int | None = None
    latest_bucket_timestamp: int | None = None
    log_time: int | None = None

    @property
    def input_record_count(self) -> int:
        """Records read with a time: processed, invalid-dated or out of order."""
        return (
            self.processed_record_count
            + self.invalid_date_count
            + self.out_of_order_timestamp_count
        )

    def processed_field_count(self, analysis_field_count: int) -> int:
        """Analysis fields of processed records, less missing ones, never below 0."""
        return max(0, self.processed_record_count * analysis_field_count - self.missing_field_count)

    def record_times(self, earliest_ms: int | None, latest_ms: int) -> None:
        """Take the first and last time of newly processed records.

        Args:
            earliest_ms: the first record's time, or None if the job's earliest is already set
                (an upload's counts show it only in the upload that set it, as Elasticsearch's
                incremental counts do).
            latest_ms: the largest record time.
        """
        if self.earliest_record_timestamp is None and earliest_ms is not None:
            self.earliest_record_timestamp = earliest_ms
        if self.latest_record_timestamp is None or latest_ms > self.latest_record_timestamp:
            self.latest_record_timestamp = latest_ms

    def count_bucket(self, start_ms: int, *, empty: bool, sparse: bool) -> None:
        """Count a bucket leaving the diagnostics window, empty or sparse as it is."""
        self.bucket_count += 1
        if empty:
            self.empty_bucket_count += 1
            self.latest_empty_bucket_timestamp = start_ms
        elif sparse:
            self.sparse_bucket_count += 1
            self.latest_sparse_bucket_timestamp = start_ms


class BucketDiagnostics(msgspec.Struct):
    """A ring of the latest buckets' record counts (Elasticsearch's BucketDiagnostics).

    A bucket is counted when it leaves the ring or an upload ends, except the newest, which
    may still receive records. Persisted with the job so that counts continue exactly after a
    crash.
    """

    span_ms: int
    counts: list[int]
    latest_start: int = -1
    latest_index: int = 0
    earliest_start: int = -1
    earliest_index: int = 0
    moving_total: int = 0
    latest_counted_start: int = -1

    @classmethod
    def for_job(cls, span_ms: int, latency_ms: int) -> BucketDiagnostics:
        """A ring sized for the job's latency: max(ceil(latency / span), 10) buckets."""
        size = max(-(-latency_ms // span_ms), _MIN_RING_BUCKETS)
        return cls(span_ms=span_ms, counts=[0] * size)

    def add(self, bucket_start: int, records: int, *sinks: DataCounts) -> None:
        """Add records to the bucket starting at bucket_start, counting buckets that leave."""
        if self.latest_start < 0:
            self.latest_start = self.earliest_start = bucket_start
        if bucket_start == self.latest_start + self.span_ms:
            self._step(sinks)  # the next bucket: by far the most frequent case
        elif bucket_start != self.latest_start:
            self._advance(bucket_start, sinks)
            if bucket_start < self.earliest_start:
                return  # older than the ring (a reset range): nothing left to count it in
        offset = (bucket_start - self.latest_start) // self.span_ms
        self.counts[(self.latest_index + offset) % len(self.counts)] += records
        self.moving_total += records

    def end_upload(self, *sinks: DataCounts) -> None:
        """Count every bucket in the ring but the newest."""
        if self.latest_start < 0:
            return
        index = self.earliest_index
        while index != self.latest_index:
            self._count(index, sinks)
            index = (index + 1) % len(self.counts)

    def _advance(self, bucket_start: int, sinks: tuple[DataCounts, ...]) -> None:
        steps = (bucket_start - self.latest_start) // self.span_ms
        size = len(self.counts)
        # After a full turn of the ring every bucket leaving it is empty: count those at once.
        skipped = max(0, steps - 2 * size)
        if skipped:
            for _ in range(size):
                self._step(sinks)
            self._count_empty_run(skipped, sinks)
            self.latest_start += skipped * self.span_ms
            self.earliest_start += skipped * self.span_ms
            steps -= size + skipped
        for _ in range(steps):
            self._step(sinks)

    def _step(self, sinks: tuple[DataCounts, ...]) -> None:
        size = len(self.counts)
        index = (self.latest_index + 1) % size
        if index == self.earliest_index:
            self._count(index, sinks)
            self.moving_total -= self.counts[index]
            self.earliest_start += self.span_ms
            self.earliest_index = (self.earliest_index + 1) % size
        self.counts[index] = 0
        self.latest_start += self.span_ms
        self.latest_index = index

    def _count_empty_run(self, buckets: int, sinks: tuple[DataCounts, ...]) -> None:
        # The ring is all zeros here; the run's buckets start where the ring's earliest does.
        last_start = self.earliest_start + (buckets - 1) * self.span_ms
        if last_start <= self.latest_counted_start:
            return
        for sink in sinks:
            sink.bucket_count += buckets
            sink.empty_bucket_count += buckets
            sink.latest_empty_bucket_timestamp = last_start
        self.latest_counted_start = last_start

    def _count(self, index: int, sinks: tuple[DataCounts, ...]) -> None:
        size = len(self.counts)
        start = self.earliest_start + (index - self.earliest_index) % size * self.span_ms
        if start <= self.latest_counted_start:
            return
        events = self.counts[index]
        window_mean = self.moving_total / ((self.latest_index - self.earliest_index) % size + 1)
        sparse = events > 0 and math.log(window_mean) - math.log(events) > _SPARSITY_THRESHOLD
        for sink in sinks:
            sink.count_bucket(start, empty=events == 0, sparse=sparse)
        self.latest_counted_start = start
