"""ModelSnapshotService over gRPC."""

from __future__ import annotations

from concurrent.futures import Executor

import grpc

from anomalyd.api import convert
from anomalyd.api.handlers import unary
from anomalyd.core.domain import SnapshotMeta
from anomalyd.core.jobs import JobManager
from anomalyd.core.results import DEFAULT_PAGE_SIZE, Query
from anomalyd.core.snapshots import Snapshots
from anomalyd.v1 import model_snapshot_pb2, model_snapshot_service_pb2_grpc
from anomalyd.v1 import model_snapshot_service_pb2 as pb


class SnapshotServicer(model_snapshot_service_pb2_grpc.ModelSnapshotServiceServicer):
    """Serves ModelSnapshotService from a JobManager."""

    def __init__(self, jobs: JobManager, *, pool: Executor) -> None:
        self._jobs = jobs
        self.pool = pool
        self._snapshots = Snapshots(jobs)

    def _message(self, job_id: str, meta: SnapshotMeta) -> model_snapshot_pb2.ModelSnapshot:
        limit = self._jobs.repository.job(job_id).model_memory_limit_mb << 20
        return convert.model_snapshot(job_id, meta, self._snapshots.active_id(job_id), limit)

    @unary
    def CreateModelSnapshot(self, request: pb.CreateModelSnapshotRequest, context: grpc.ServicerContext) -> pb.CreateModelSnapshotResponse:
        meta = self._jobs.create_snapshot(request.job_id, description=request.description, retain=request.retain)
        return pb.CreateModelSnapshotResponse(model_snapshot=self._message(request.job_id, meta))

    @unary
    def GetModelSnapshots(self, request: pb.GetModelSnapshotsRequest, context: grpc.ServicerContext) -> pb.GetModelSnapshotsResponse:
        query = Query(
            job_id=request.job_id,
            start_ms=convert.millis(request, "start"),
            end_ms=convert.millis(request, "end"),
            sort=request.sort,
            # Elasticsearch lists snapshots newest first unless asked otherwise.
            desc=request.desc or (request.desc_order if request.HasField("desc_order") else True),
            page_from=getattr(request.page, "from"),  # "from" is a Python keyword
            page_size=0 if request.page.count_only else request.page.size or DEFAULT_PAGE_SIZE,
        )
        found, count = self._snapshots.list(query, request.snapshot_id)
        return pb.GetModelSnapshotsResponse(model_snapshots=[self._message(request.job_id, m) for m in found], count=count)

    @unary
    def UpdateModelSnapshot(self, request: pb.UpdateModelSnapshotRequest, context: grpc.ServicerContext) -> pb.UpdateModelSnapshotResponse:
        meta = self._snapshots.update(
            request.job_id,
            request.snapshot_id,
            description=request.description if request.HasField("description") else None,
            retain=request.retain if request.HasField("retain") else None,
        )
        return pb.UpdateModelSnapshotResponse(model_snapshot=self._message(request.job_id, meta))

    @unary
    def DeleteModelSnapshot(self, request: pb.DeleteModelSnapshotRequest, context: grpc.ServicerContext) -> pb.DeleteModelSnapshotResponse:
        self._snapshots.delete(request.job_id, request.snapshot_id)
        return pb.DeleteModelSnapshotResponse(acknowledged=True)

    @unary
    def RevertModelSnapshot(self, request: pb.RevertModelSnapshotRequest, context: grpc.ServicerContext) -> pb.RevertModelSnapshotResponse:
        meta = self._snapshots.revert(request.job_id, request.snapshot_id, delete_intervening_results=request.delete_intervening_results)
        return pb.RevertModelSnapshotResponse(model=self._message(request.job_id, meta))
