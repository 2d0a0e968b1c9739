"""JobService over gRPC: requests in, domain calls, responses out. No domain logic here."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from anomalyd.api import convert
from anomalyd.api.errors import abort, abort_internal
from anomalyd.core.errors import AnomalydError, ChunkTooLarge, InvalidRequest
from anomalyd.core.jobs import JobManager
from anomalyd.v1 import job_service_pb2 as pb
from anomalyd.v1 import job_service_pb2_grpc

F = TypeVar("F", bound=Callable[..., Any])


def statuses(method: F) -> F:
    """Turn the domain errors a method raises into statuses, and anything else into INTERNAL."""

    @functools.wraps(method)
    def wrapper(self: JobServicer, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except AnomalydError as err:
            abort(context, err)
        except grpc.RpcError:
            raise  # the client cancelled or the connection dropped: nobody to answer
        except Exception as err:
            abort_internal(context, err)

    return wrapper  # type: ignore[return-value]


def _timeout_s(request: Any) -> float | None:
    return request.timeout.ToTimedelta().total_seconds() if request.HasField("timeout") else None


def allow_no_match(request: Any) -> bool:
    return request.allow_no_match if request.HasField("allow_no_match") else True


class JobServicer(job_service_pb2_grpc.JobServiceServicer):
    """Serves JobService from a JobManager.

    Args:
        manager: the jobs.
        max_message_bytes: the largest data or columns payload one PostData message may carry.
    """

    def __init__(self, manager: JobManager, *, max_message_bytes: int) -> None:
        self._jobs = manager
        self._max_message_bytes = max_message_bytes

    @statuses
    def PutJob(self, request: pb.PutJobRequest, context: grpc.ServicerContext) -> pb.PutJobResponse:
        config = self._jobs.put_job(convert.job_config(request.job))
        return pb.PutJobResponse(job=convert.job_message(config))

    @statuses
    def GetJobs(self, request: pb.GetJobsRequest, context: grpc.ServicerContext) -> pb.GetJobsResponse:
        jobs = self._jobs.get_jobs(request.job_id, allow_no_match(request))
        return pb.GetJobsResponse(jobs=[convert.job_message(c) for c in jobs], count=len(jobs))

    @statuses
    def GetJobStats(self, request: pb.GetJobStatsRequest, context: grpc.ServicerContext) -> pb.GetJobStatsResponse:
        stats = self._jobs.get_stats(request.job_id, allow_no_match(request))
        return pb.GetJobStatsResponse(jobs=[convert.job_stats(s) for s in stats], count=len(stats))

    @statuses
    def OpenJob(self, request: pb.OpenJobRequest, context: grpc.ServicerContext) -> pb.OpenJobResponse:
        self._jobs.open_job(request.job_id, _timeout_s(request))
        return pb.OpenJobResponse(opened=True, node=self._jobs.node)

    @statuses
    def PostData(self, request_iterator: Iterator[pb.PostDataRequest], context: grpc.ServicerContext) -> pb.PostDataResponse:
        first = next(request_iterator, None)
        if first is None or not first.job_id:
            raise InvalidRequest("the first PostData message must name job_id")
        job_id = first.job_id
        with self._jobs.stream(job_id) as stream:
            if first.HasField("reset_start"):
                stream.reset(convert.millis(first, "reset_start") or 0, convert.millis(first, "reset_end"))
            message: pb.PostDataRequest | None = first
            while message is not None:
                if message.job_id and message.job_id != job_id:
                    raise InvalidRequest(
                        f"this stream sends data to job {job_id!r}; a message names {message.job_id!r}",
                        jobId=job_id,
                    )
                self._post(stream, message, job_id)
                message = next(request_iterator, None)
            upload = stream.finish()
        return pb.PostDataResponse(data_counts=convert.data_counts(job_id, upload.counts, upload.processed_field_count))

    def _post(self, stream: Any, message: pb.PostDataRequest, job_id: str) -> None:
        size = len(message.data) + (message.columns.ByteSize() if message.HasField("columns") else 0)
        if size > self._max_message_bytes:
            raise ChunkTooLarge(
                f"a PostData message carries {size} bytes, over the limit of {self._max_message_bytes}; "
                "send smaller chunks",
                jobId=job_id,
                sizeBytes=str(size),
                limitBytes=str(self._max_message_bytes),
            )
        if message.data:
            stream.post_json(message.data)
        if message.HasField("columns"):
            batch, invalid = convert.record_batch(message.columns)
            stream.post_columns(batch, invalid, message.columns.ByteSize())

    @statuses
    def FlushJob(self, request: pb.FlushJobRequest, context: grpc.ServicerContext) -> pb.FlushJobResponse:
        end = self._jobs.flush(
            request.job_id,
            calc_interim=request.calc_interim,
            start_ms=convert.millis(request, "start"),
            end_ms=convert.millis(request, "end"),
            advance_time_ms=convert.millis(request, "advance_time"),
            skip_time_ms=convert.millis(request, "skip_time"),
        )
        return pb.FlushJobResponse(flushed=True, last_finalized_bucket_end=convert.timestamp(end))

    @statuses
    def CloseJob(self, request: pb.CloseJobRequest, context: grpc.ServicerContext) -> pb.CloseJobResponse:
        ids = self._jobs.close(
            request.job_id, allow_no_match=allow_no_match(request), force=request.force, timeout_s=_timeout_s(request)
        )
        return pb.CloseJobResponse(closed=True, job_ids=ids)

    @statuses
    def DeleteJob(self, request: pb.DeleteJobRequest, context: grpc.ServicerContext) -> pb.DeleteJobResponse:
        wait = request.wait_for_completion if request.HasField("wait_for_completion") else True
        task_id = self._jobs.delete(request.job_id, force=request.force, wait_for_completion=wait)
        return pb.DeleteJobResponse(acknowledged=task_id is None, task_id=task_id or "")

    @statuses
    def GetTask(self, request: pb.GetTaskRequest, context: grpc.ServicerContext) -> pb.GetTaskResponse:
        return pb.GetTaskResponse(task=convert.task(self._jobs.get_task(request.task_id)))
