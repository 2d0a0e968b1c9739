"""The stored domain types of a job: its status, journal entries, snapshots and tasks."""

from __future__ import annotations

import enum
import math

import msgspec

from anomalyd import VERSION
from anomalyd.core.ingest import IngestState
from anomalyd.engine.results import ModelSizeStats


class JobState(enum.StrEnum):
    """A job's lifecycle state; the values are Elasticsearch's names, stored and sent as they are."""

    CLOSED = "closed"
    OPENING = "opening"
    OPENED = "opened"
    CLOSING = "closing"
    FAILED = "failed"


# The snapshot id that names the empty model (Elasticsearch's ModelSnapshot.EMPTY_SNAPSHOT_ID).
EMPTY_SNAPSHOT_ID = "empty"


# Elasticsearch's TimingStats: the weight of the newest bucket in the exponential average.
_TIMING_ALPHA = 0.01
_HOUR_MS = 3_600_000


class TimingStats(msgspec.Struct):
    """Bucket processing times, as Elasticsearch's TimingStats keeps them (ms).

    Attributes:
        bucket_count: finalised buckets timed.
        minimum_ms, maximum_ms, average_ms: of their processing times; None before any.
        exponential_average_ms: each bucket weighs 0.01 (Elasticsearch's alpha).
        hour_sum_ms: processing time summed in the data hour of latest_end_ms.
        previous_hourly_ms: the hourly exponential average before that hour (None at first).
        latest_end_ms: the end of the latest bucket timed (data time).
    """

    bucket_count: int = 0
    minimum_ms: float | None = None
    maximum_ms: float | None = None
    average_ms: float | None = None
    exponential_average_ms: float | None = None
    hour_sum_ms: float = 0.0
    previous_hourly_ms: float | None = None
    latest_end_ms: int | None = None

    @property
    def total_ms(self) -> float:
        """Total processing time: bucket_count times the average."""
        return 0.0 if self.average_ms is None else self.bucket_count * self.average_ms

    def add(self, processing_ms: float, bucket_end_ms: int) -> None:
        """Count one finalised bucket that took processing_ms and ends at bucket_end_ms."""
        if self.average_ms is None or self.minimum_ms is None or self.maximum_ms is None or self.exponential_average_ms is None:
            self.minimum_ms = self.maximum_ms = self.average_ms = self.exponential_average_ms = processing_ms
        else:
            self.minimum_ms = min(self.minimum_ms, processing_ms)
            self.maximum_ms = max(self.maximum_ms, processing_ms)
            self.average_ms = (self.average_ms * self.bucket_count + processing_ms) / (self.bucket_count + 1)
            self.exponential_average_ms = (1 - _TIMING_ALPHA) * self.exponential_average_ms + _TIMING_ALPHA * processing_ms
        self.bucket_count += 1
        # ExponentialAverageCalculationContext: sum within a data hour, decay across hours.
        self.hour_sum_ms += processing_ms
        if self.latest_end_ms is not None and bucket_end_ms >= self.latest_end_ms // _HOUR_MS * _HOUR_MS + _HOUR_MS:
            self.previous_hourly_ms = self.hourly_ms
            self.hour_sum_ms = 0.0
        self.latest_end_ms = bucket_end_ms

    @property
    def hourly_ms(self) -> float:
        """The exponential average of processing time per data hour."""
        if self.previous_hourly_ms is None or self.latest_end_ms is None:
            return self.hour_sum_ms
        into_hour = self.latest_end_ms % _HOUR_MS
        alpha = math.exp(-into_hour / _HOUR_MS)
        return alpha * self.previous_hourly_ms + (1 - alpha) * self.hour_sum_ms


class JobStatus(msgspec.Struct):
    """The persisted lifecycle and data state of a job.

    Attributes:
        state: closed, opening, opened, closing or failed.
        ingest: counts and bucketing state.
        journal_sequence: the sequence number of the next journal entry.
        interim_ms: bucket starts that have interim results, replaced by the next results.
        open_time_ms: when the job was last opened (epoch ms), None when closed.
        failure_reason: why the job failed.
        deleting: a delete has started; it resumes after a restart.
        resetting: a reset has started; it resumes after a restart.
        reopen_on_start: the server stopped while the job was open; the next start reopens it.
        model_size: the model's size when the job last closed.
        model_snapshot_id: the snapshot the job restores on open, "" for none, EMPTY_SNAPSHOT_ID
            after a revert to the empty model.
        restore_note: why the last open restored from an older snapshot than the active one.
        journal_start: the first journal entry a restore from the empty model replays (a
            revert to the empty model drops the journal before it).
        timing: processing times of the finalised buckets (not replayed: measured live).
    """

    state: JobState
    ingest: IngestState
    model_size: ModelSizeStats | None = None
    model_snapshot_id: str = ""
    restore_note: str = ""
    journal_sequence: int = 0
    interim_ms: list[int] = msgspec.field(default_factory=list)
    open_time_ms: int | None = None
    failure_reason: str = ""
    deleting: bool = False
    resetting: bool = False
    reopen_on_start: bool = False
    journal_start: int = 0
    timing: TimingStats = msgspec.field(default_factory=TimingStats)


class Task(msgspec.Struct):
    """A task started by a request that did not wait (epoch ms times)."""

    task_id: str
    action: str
    job_id: str
    start_time_ms: int
    done: bool = False
    end_time_ms: int | None = None
    error_code: str = ""
    error_reason: str = ""
    error_message: str = ""


class JournalEntry(msgspec.Struct, omit_defaults=True):
    """One model update, replayed on open after the last persisted model state.

    Applied in field order: reset buckets, add the batch, skip, finalise buckets.
    """

    reset: tuple[int, int] | None = None
    batch: bytes | None = None
    skip_ms: int | None = None
    finalize_ms: int | None = None


class SnapshotMeta(msgspec.Struct):
    """A model snapshot's description; its state is stored apart so that listing stays cheap.

    Attributes:
        snapshot_id: epoch seconds of its creation, made unique per job.
        timestamp_ms: wall-clock creation time.
        journal_sequence: the journal entries it includes end before this sequence number.
        ingest: the bucketing state when it was taken (restored by a revert).
        latest_record_time_ms: the latest record time the model had seen.
        latest_result_time_ms: the start of the latest finalised bucket.
        size_bytes: bytes of stored state.
        checksum: CRC-32 of the stored state, checked before a restore.
    """

    snapshot_id: str
    timestamp_ms: int
    description: str
    journal_sequence: int
    ingest: IngestState
    latest_record_time_ms: int | None
    latest_result_time_ms: int | None
    model_size: ModelSizeStats | None
    size_bytes: int
    checksum: int
    retain: bool = False
    min_version: str = VERSION


_STATUS_CODEC = (msgspec.msgpack.Encoder(), msgspec.msgpack.Decoder(JobStatus))


def copy_status(status: JobStatus) -> JobStatus:
    """A deep copy of a status."""
    encoder, decoder = _STATUS_CODEC
    return decoder.decode(encoder.encode(status))
