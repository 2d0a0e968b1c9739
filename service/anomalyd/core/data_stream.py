"""One PostData stream into an open job, and the little it needs of the manager that opened it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from anomalyd.bucket_time import ceil_to, floor_to, now_ms
from anomalyd.core.batch_codec import encode_batch
from anomalyd.core.counts import DataCounts
from anomalyd.core.domain import JournalEntry
from anomalyd.core.errors import InvalidRequest, StorageUnavailable, StreamAborted
from anomalyd.core.ingest import ParsedRecords, Upload
from anomalyd.core.open_job import OpenJob
from anomalyd.engine.records import RecordBatch
from anomalyd.storage.store import StorageError


@dataclass(frozen=True, slots=True)
class UploadCounts:
    """The counts of one finished upload."""

    counts: DataCounts
    processed_field_count: int


class StreamOwner(Protocol):
    """What a DataStream needs of the manager that opened it; the job's lock is held in each call but end_stream."""

    def record(self, job: OpenJob, entry: JournalEntry) -> None:
        """Apply a journal entry to the job's model and journal it with its results and the job's status."""
        ...

    def write_held(self, job: OpenJob) -> None:
        """Write the journal entries held back for the job with the status after them."""
        ...

    def save_status(self, job: OpenJob) -> None:
        """Make the job's status durable."""
        ...

    def fail(self, job: OpenJob, reason: str) -> None:
        """Put the job in the failed state."""
        ...

    def end_stream(self, job: OpenJob) -> None:
        """Let the job take another stream."""
        ...


class DataStream:
    """One PostData stream into an open job.

    Args:
        owner: the manager that opened the stream.
        job: the job.
        max_document_bytes: the largest JSON document the stream may hold.
    """

    def __init__(self, owner: StreamOwner, job: OpenJob, *, max_document_bytes: int) -> None:
        self._owner = owner
        self._job = job
        self._upload: Upload = job.ingestor.begin_upload(max_document_bytes=max_document_bytes)

    @property
    def counts(self) -> DataCounts:
        """The counts of this upload so far."""
        return self._upload.counts

    def release(self) -> None:
        """End the stream, whether it finished or failed; the job takes another one."""
        self._owner.end_stream(self._job)

    def reset(self, start_ms: int, end_ms: int | None) -> None:
        """Reset the buckets in [floor(start), ceil(end)) so that their data can be resent."""
        # Elasticsearch's TimeRange: no end, or an end equal to the start, is one second on.
        end_ms = start_ms + 1000 if end_ms is None or end_ms == start_ms else end_ms
        job = self._job
        if end_ms < start_ms:
            raise InvalidRequest("reset_end must not be before reset_start", jobId=job.config.job_id)
        span = job.config.bucket_span_ms
        reset_range = (floor_to(start_ms, span), ceil_to(end_ms, span))
        with job.lock:
            self._check_not_forced()
            self._owner.record(job, JournalEntry(reset=reset_range))

    def post_json(self, chunk: bytes) -> None:
        """Take a chunk of JSON documents."""
        documents = self._upload.documents(chunk)
        self._accept(self._upload.reader.read_documents(documents), len(chunk))

    def post_columns(self, batch: RecordBatch, invalid_time: NDArray[np.bool_], input_bytes: int) -> None:
        """Take a columnar batch."""
        self._accept(self._upload.reader.from_columns(batch, invalid_time), input_bytes)

    def finish(self) -> UploadCounts:
        """End the upload: take what is left, count its buckets, make it durable."""
        self._accept(self._upload.reader.read_documents(self._upload.remaining_documents()), 0)
        job = self._job
        with job.lock:
            self._check_not_forced()
            job.ingestor.end_upload(self._upload.counts)
            job.status.ingest.totals.log_time = self._upload.counts.log_time = now_ms()
            self._owner.save_status(job)
        counts = self._upload.counts
        return UploadCounts(counts, job.ingestor.processed_field_count(counts))

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """Journal the chunks and batches posted within together: those that store no result are written with the next one that does, or at the end.

        One transaction then carries several messages, whose own cost is about that of a
        message's journal entry (~40 us of server CPU). The job's lock is held throughout, so
        that no snapshot, flush or status read comes between them; when one fails, those before
        it are written all the same, as they would be one at a time.
        """
        job = self._job
        with job.lock:
            job.holding_journal = True
            try:
                yield
            finally:
                job.holding_journal = False
                with self._failing_on_storage_errors("these messages were"):
                    self._owner.write_held(job)

    def _accept(self, parsed: ParsedRecords, input_bytes: int) -> None:
        job = self._job
        # Within together() this stream already holds the job's lock (one stream a job: no other sets holding_journal).
        with contextlib.nullcontext() if job.holding_journal else job.lock, self._failing_on_storage_errors("this message was"):
            self._check_not_forced()
            try:
                kept = job.ingestor.accept(parsed, self._upload.counts, input_bytes=input_bytes)
                # The model learns the batch from its journal entry, as a replay does.
                batch = encode_batch(kept) if len(kept) else None
                self._owner.record(job, JournalEntry(batch=batch, finalize_ms=job.finalize_point()))
            except StorageError:
                raise
            except Exception as err:
                # The job takes its stored status back: first store the messages before this one.
                self._owner.write_held(job)
                self._owner.fail(job, f"processing data failed: {err!r}")
                raise

    @contextlib.contextmanager
    def _failing_on_storage_errors(self, lost: str) -> Iterator[None]:
        """Fail the job when the store refuses a write within, raising StorageUnavailable."""
        job = self._job
        try:
            yield
        except StorageError as err:
            self._owner.fail(job, f"storing data failed: {err}")
            raise StorageUnavailable(
                f"job {job.config.job_id!r} could not store its data ({err}); nothing of {lost} "
                "kept, nor of the messages since the job's last write. Free disk space, then force close and reopen the job",
                jobId=job.config.job_id,
            ) from err

    def _check_not_forced(self) -> None:
        if self._job.forced:
            raise StreamAborted(
                f"job {self._job.config.job_id!r} was closed by force or failed while this stream was active",
                jobId=self._job.config.job_id,
            )
