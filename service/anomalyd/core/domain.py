"""The stored domain types of a job: its status, journal entries, snapshots and tasks."""

from __future__ import annotations

import enum

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
        reopen_on_start: the server stopped while the job was open; the next start reopens it.
        model_size: the model's size when the job last closed.
        model_snapshot_id: the snapshot the job restores on open, "" for none, EMPTY_SNAPSHOT_ID
            after a revert to the empty model.
        restore_note: why the last open restored from an older snapshot than the active one.
        journal_start: the first journal entry a restore from the empty model replays (a
            revert to the empty model drops the journal before it).
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
    reopen_on_start: bool = False
    journal_start: int = 0


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
