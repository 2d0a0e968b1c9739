"""PostData on the asyncio server: streams bounded in number, size and idleness.

A stream costs no thread while it waits for its client. Each message is applied in the
streams pool, one at a time per stream, so a stream never waits for another one's thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from dataclasses import dataclass

from anomalyd import logs
from anomalyd.api import convert
from anomalyd.api.handlers import run_to_end
from anomalyd.core.data_stream import DataStream, UploadCounts
from anomalyd.core.errors import AnomalydError, ChunkTooLarge, InvalidRequest, StreamIdle, TooManyStreams, UploadTooLarge
from anomalyd.core.jobs import JobManager
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
        while message is not None:
            if message.job_id and message.job_id != job_id:
                raise InvalidRequest(
                    f"this stream sends data to job {job_id!r}; a message names {message.job_id!r}", jobId=job_id
                )
            # Serialising a column batch's size costs as much as converting it: once a message.
            columns_bytes = message.columns.ByteSize() if message.HasField("columns") else 0
            received += self._checked_size(message, job_id, received, columns_bytes)
            await run_to_end(self._pool, _post_message, stream, message, columns_bytes)
            message = await self._next(requests)
        return await run_to_end(self._pool, stream.finish)

    def _checked_size(self, message: pb.PostDataRequest, job_id: str, received: int, columns_bytes: int) -> int:
        size = len(message.data) + columns_bytes
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
        return size

    async def _next(self, requests: AsyncIterator[pb.PostDataRequest]) -> pb.PostDataRequest | None:
        timeout = self._limits.idle_timeout_s
        try:
            async with asyncio.timeout(timeout):  # unlike wait_for, no task per message
                return await anext(requests, None)
        except TimeoutError:
            raise StreamIdle(
                f"no PostData message came for {timeout:g}s (stream_idle_timeout); the stream was closed, "
                "keeping the messages before",
                limitSeconds=f"{timeout:g}",
            ) from None


def _post_message(stream: DataStream, message: pb.PostDataRequest, columns_bytes: int) -> None:
    if message.data:
        stream.post_json(message.data)
    if message.HasField("columns"):
        batch, invalid = convert.record_batch(message.columns)
        stream.post_columns(batch, invalid, columns_bytes)
