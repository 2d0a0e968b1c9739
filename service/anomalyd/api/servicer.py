"""JobService over gRPC: requests in, domain calls, responses out. No domain logic here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import Executor
from typing import Any

import grpc

from anomalyd.api import convert
from anomalyd.api.errors import Context
from anomalyd.api.handlers import answering, unary
from anomalyd.api.streams import DataStreams
from anomalyd.core.jobs import JobManager
from anomalyd.core.updates import JobUpdates
from anomalyd.v1 import job_service_pb2 as pb
from anomalyd.v1 import job_service_pb2_grpc


def allow_no_match(request: Any) -> bool:
    """A request's allow_no_match, true when unset as in Elasticsearch."""
    return request.allow_no_match if request.HasField("allow_no_match") else True


class JobServicer(job_service_pb2_grpc.JobServiceServicer):
    """Serves JobService from a JobManager.

    Args:
        manager: the jobs.
        pool: where requests other than PostData run.
        streams: runs PostData.
    """

    def __init__(self, manager: JobManager, *, pool: Executor, streams: DataStreams) -> None:
        self._jobs = manager
        self.pool = pool
        self._streams = streams
        self._updates = JobUpdates(manager)

    @unary
    def PutJob(self, request: pb.PutJobRequest, context: grpc.ServicerContext) -> pb.PutJobResponse:
        config = self._jobs.put_job(convert.job_config(request.job))
        return pb.PutJobResponse(job=convert.job_message(config))

    @unary
    def GetJobs(self, request: pb.GetJobsRequest, context: grpc.ServicerContext) -> pb.GetJobsResponse:
        jobs = self._jobs.get_jobs_and_status(request.job_id, allow_no_match(request))
        return pb.GetJobsResponse(jobs=[convert.job_message(c, s) for c, s in jobs], count=len(jobs))

    @unary
    def GetJobStats(self, request: pb.GetJobStatsRequest, context: grpc.ServicerContext) -> pb.GetJobStatsResponse:
        stats = self._jobs.get_stats(request.job_id, allow_no_match(request))
        return pb.GetJobStatsResponse(jobs=[convert.job_stats(s) for s in stats], count=len(stats))

    @unary
    def OpenJob(self, request: pb.OpenJobRequest, context: grpc.ServicerContext) -> pb.OpenJobResponse:
        self._jobs.open_job(request.job_id, convert.timeout_s(request))
        return pb.OpenJobResponse(opened=True, node=self._jobs.node)

    async def PostData(
        self, request_iterator: AsyncIterator[pb.PostDataRequest], context: Context
    ) -> pb.PostDataResponse:
        return await answering(context, self._streams.post(request_iterator))

    @unary
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

    @unary
    def CloseJob(self, request: pb.CloseJobRequest, context: grpc.ServicerContext) -> pb.CloseJobResponse:
        ids = self._jobs.close(
            request.job_id, allow_no_match=allow_no_match(request), force=request.force, timeout_s=convert.timeout_s(request)
        )
        return pb.CloseJobResponse(closed=True, job_ids=ids)

    @unary
    def DeleteJob(self, request: pb.DeleteJobRequest, context: grpc.ServicerContext) -> pb.DeleteJobResponse:
        wait = request.wait_for_completion if request.HasField("wait_for_completion") else True
        task_id = self._jobs.delete(request.job_id, force=request.force, wait_for_completion=wait)
        return pb.DeleteJobResponse(acknowledged=task_id is None, task_id=task_id or "")

    @unary
    def UpdateJob(self, request: pb.UpdateJobRequest, context: grpc.ServicerContext) -> pb.UpdateJobResponse:
        config = self._updates.update(request.job.job_id, convert.job_update(request))
        return pb.UpdateJobResponse(job=convert.job_message(config, self._jobs.status(config.job_id)))

    @unary
    def ResetJob(self, request: pb.ResetJobRequest, context: grpc.ServicerContext) -> pb.ResetJobResponse:
        wait = request.wait_for_completion if request.HasField("wait_for_completion") else True
        task_id = self._updates.reset(request.job_id, wait_for_completion=wait)
        return pb.ResetJobResponse(acknowledged=task_id is None, task_id=task_id or "")

    @unary
    def GetTask(self, request: pb.GetTaskRequest, context: grpc.ServicerContext) -> pb.GetTaskResponse:
        return pb.GetTaskResponse(task=convert.task(self._jobs.get_task(request.task_id)))
