"""PostData on the asyncio server: streams bounded in number, size and idleness.

A stream costs no thread while it waits for its client. Its messages are applied in the
streams pool, one at a time and in order, while the event loop reads the next ones; a stream
never waits for another one's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass

from anomalyd import logs
from anomalyd.api import convert
from anomalyd.api.handlers import run_to_end
from anomalyd.core.data_stream import DataStream, UploadCounts
from anomalyd.core.errors import AnomalydError, ChunkTooLarge, InvalidRequest, StreamIdle, TooManyStreams, UploadTooLarge
from anomalyd.core.jobs import JobManager
from anomalyd.v1 import column_batch_pb2
from anomalyd.v1 import job_service_pb2 as pb


@dataclass(frozen=True)
class StreamLimits:
    """What one PostData stream, and all of them together, may take.

    Attributes:
        max_streams: streams open at once, over all jobs.
        max_message_bytes: data and columns payload of one message.
        max_upload_bytes: data and columns payload of one stream.
        idle_timeout_s: the longest wait for a stream's next message.
    """

    max_streams: int
    max_message_bytes: int
    max_upload_bytes: int
    idle_timeout_s: float


class DataStreams:
    """Runs PostData streams into a JobManager's jobs.

    Args:
        jobs: the jobs.
        pool: where messages are applied; give it max_streams threads.
        limits: the limits.
    """

    def __init__(self, jobs: JobManager, pool: Executor, limits: StreamLimits) -> None:
        self._jobs = jobs
        self._pool = pool
        self._limits = limits
        self._active = 0  # only touched on the event loop

    async def post(self, requests: AsyncIterator[pb.PostDataRequest]) -> pb.PostDataResponse:
        """Apply a stream's messages; its counts once it ends.

        Raises:
            TooManyStreams: max_streams streams are active already; refused before reading.
        """
        logs.rpc_method.set("PostData")
        limit = self._limits.max_streams
        if self._active >= limit:
            raise TooManyStreams(
                f"{limit} data streams are active, the server's limit (max_streams); retry when one has ended",
                limit=str(limit),
            )
        self._active += 1
        try:
            return await self._post(requests)
        finally:
            self._active -= 1

    async def _post(self, requests: AsyncIterator[pb.PostDataRequest]) -> pb.PostDataResponse:
        first = await self._next(requests)
        if first is None or not first.job_id:
            raise InvalidRequest("the first PostData message must name job_id")
        job_id = first.job_id
        logs.job_id.set(job_id)
        stream = await run_to_end(self._pool, self._jobs.stream, job_id)
        try:
            upload = await self._apply(stream, first, requests)
        except AnomalydError as err:
            # Messages before the failure were kept: say how many records, so the client knows
            # where to resume.
            err.metadata.setdefault("processedRecordCount", str(stream.counts.processed_record_count))
            raise
        finally:
            await run_to_end(self._pool, stream.release)
        return pb.PostDataResponse(data_counts=convert.data_counts(job_id, upload.counts, upload.processed_field_count))

    async def _apply(
        self, stream: DataStream, first: pb.PostDataRequest, requests: AsyncIterator[pb.PostDataRequest]
    ) -> UploadCounts:
        job_id = first.job_id
        if first.HasField("reset_end") and not first.HasField("reset_start"):
            raise InvalidRequest("reset_end needs reset_start", jobId=job_id, field="reset_end")
        if first.HasField("reset_start"):
            await run_to_end(self._pool, stream.reset, convert.millis(first, "reset_start") or 0, convert.millis(first, "reset_end"))
        received = 0
        message: pb.PostDataRequest | None = first
        applier = _Applier(self._pool, stream)
        try:
            while message is not None:
                if message.job_id and message.job_id != job_id:
                    raise InvalidRequest(
                        f"this stream sends data to job {job_id!r}; a message names {message.job_id!r}", jobId=job_id
                    )
                payload = _Payload.of(message)
                self._check_size(payload, job_id, received)
                received += payload.size
                await applier.put(payload)
                message = await self._next(requests, applier)
        finally:
            # The messages read before a failure are kept, as they would be one at a time.
            await applier.wait()
        return await run_to_end(self._pool, stream.finish)

    def _check_size(self, payload: _Payload, job_id: str, received: int) -> None:
        size = payload.size
        limits = self._limits
        if size > limits.max_message_bytes:
            raise ChunkTooLarge(
                f"a PostData message carries {size} bytes, over the limit of {limits.max_message_bytes} "
                "(max_message_bytes); send smaller chunks",
                jobId=job_id,
                sizeBytes=str(size),
                limitBytes=str(limits.max_message_bytes),
            )
        if received + size > limits.max_upload_bytes:
            raise UploadTooLarge(
                f"this stream would carry over {limits.max_upload_bytes} bytes (max_upload_bytes); the messages "
                "before this one were kept: send the rest in a new stream",
                jobId=job_id,
                limitBytes=str(limits.max_upload_bytes),
            )

    async def _next(
        self, requests: AsyncIterator[pb.PostDataRequest], applier: _Applier | None = None
    ) -> pb.PostDataRequest | None:
        timeout = self._limits.idle_timeout_s
        try:
            async with asyncio.timeout(timeout):  # unlike wait_for, no task per message
                with applier.reading() if applier else contextlib.nullcontext():
                    return await anext(requests, None)
        except TimeoutError:
            raise StreamIdle(
                f"no PostData message came for {timeout:g}s (stream_idle_timeout); the stream was closed, "
                "keeping the messages before",
                limitSeconds=f"{timeout:g}",
            ) from None


# How far the pool may be behind the event loop's reading, in a stream's messages and bytes.
_MAX_QUEUED_MESSAGES = 8
_MAX_QUEUED_BYTES = 4 << 20


class _Applier:
    """Applies one stream's messages in the pool, in order, while the event loop reads the next ones.

    Handing each message to the pool and waiting for it cost the server about as much CPU as
    receiving it (two thread switches, ~170 us a message): here one pool call applies every
    message queued while it works, and the loop waits for it only when the queue is full and at
    the end; the messages a pool call applies share journal transactions (DataStream.together).
    A failed message fails the stream at once, also while the loop waits for a message, and no
    message after it is applied.

    Args:
        pool: where messages are applied.
        stream: the stream they go to.
    """

    def __init__(self, pool: Executor, stream: DataStream) -> None:
        self._pool = pool
        self._stream = stream
        self._lock = threading.Lock()  # guards what the loop and the pool share: the four below
        self._queue: deque[_Payload] = deque()
        self._queued_bytes = 0
        self._draining = False  # a pool call is taking the queue
        self._failure: BaseException | None = None
        self._run: asyncio.Future[None] | None = None  # the latest pool call
        self._reader: asyncio.Task[object] | None = None  # the stream's task while it waits for a message
        self._interrupted = False  # the reader was cancelled for a failure

    async def put(self, payload: _Payload) -> None:
        """Queue a message, starting a pool call if none runs; wait for the pool while the queue is full.

        Raises:
            Exception: what an earlier message failed with.
        """
        self._raise_failure()
        with self._lock:
            self._queue.append(payload)
            self._queued_bytes += payload.size
            full = len(self._queue) >= _MAX_QUEUED_MESSAGES or self._queued_bytes >= _MAX_QUEUED_BYTES
            start, self._draining = not self._draining, True
        if start:
            run = asyncio.get_running_loop().run_in_executor(self._pool, contextvars.copy_context().run, self._drain)
            run.add_done_callback(self._interrupt_reader)
            self._run = run
        if full:
            await self.wait()

    async def wait(self) -> None:
        """Wait until every queued message is applied, also when cancelled meanwhile.

        Raises:
            Exception: what a message failed with.
        """
        if self._run is not None:
            try:
                await asyncio.shield(self._run)
            except asyncio.CancelledError:
                # A stream's step must not outlive the stream (see run_to_end).
                await asyncio.wait([self._run])
                raise
            except Exception:
                pass  # kept in _failure, raised below
        self._raise_failure()

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Around waiting for the next message: a failing message ends the wait with its error."""
        self._reader = asyncio.current_task()
        try:
            yield
        except asyncio.CancelledError:
            if not self._interrupted:
                raise
            self._interrupted = False
            if self._reader is not None:
                self._reader.uncancel()
            self._raise_failure()
            raise
        finally:
            self._reader = None

    def _drain(self) -> None:
        """Apply queued messages until none is left (in the pool), journaling up to _MAX_QUEUED_MESSAGES together."""
        try:
            more = True
            while more:
                with self._stream.together():
                    more = self._apply_queued()
        except BaseException as err:
            with self._lock:
                self._failure, self._draining = err, False
                self._queue.clear()
            raise

    def _apply_queued(self) -> bool:
        """Apply up to _MAX_QUEUED_MESSAGES queued messages; False when the queue ran out."""
        for _ in range(_MAX_QUEUED_MESSAGES):
            with self._lock:
                if not self._queue or self._failure is not None:
                    self._draining = False
                    return False
                payload = self._queue.popleft()
                self._queued_bytes -= payload.size
            payload.post(self._stream)
        return True

    def _interrupt_reader(self, run: asyncio.Future[None]) -> None:
        if self._reader is not None and not run.cancelled() and run.exception() is not None:
            self._interrupted = True
            self._reader.cancel()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure


@dataclass(frozen=True, slots=True)
class _Payload:
    """What a message carries, each part read out of it once: reading data copies its bytes (~4 us for 58 KB).

    Attributes:
        data: JSON documents.
        columns: a column batch, or None.
        columns_bytes: the column batch's size.
    """

    data: bytes
    columns: column_batch_pb2.ColumnBatch | None
    columns_bytes: int

    @classmethod
    def of(cls, message: pb.PostDataRequest) -> _Payload:
        """A message's payload."""
        columns = message.columns if message.HasField("columns") else None
        # Serialising a column batch's size costs as much as converting it: once a message.
        return cls(message.data, columns, 0 if columns is None else columns.ByteSize())

    @property
    def size(self) -> int:
        """Bytes of data and columns, as the limits count them."""
        return len(self.data) + self.columns_bytes

    def post(self, stream: DataStream) -> None:
        """Post the payload into a stream (in the pool)."""
        if self.data:
            stream.post_json(self.data)
        if self.columns is not None:
            batch, invalid = convert.record_batch(self.columns)
            stream.post_columns(batch, invalid, self.columns_bytes)
