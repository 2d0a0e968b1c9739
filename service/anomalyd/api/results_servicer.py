"""ResultsService over gRPC."""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any

import grpc

from anomalyd.api import convert
from anomalyd.api.handlers import unary
from anomalyd.api.servicer import allow_no_match
from anomalyd.core.errors import InvalidRequest
from anomalyd.core.results import DEFAULT_PAGE_SIZE, Query, ResultReader
from anomalyd.v1 import results_service_pb2 as pb
from anomalyd.v1 import results_service_pb2_grpc


def _query(request: Any, min_score: float, *, desc_default: bool) -> Query:
    return Query(
        job_id=request.job_id,
        start_ms=convert.millis(request, "start"),
        end_ms=convert.millis(request, "end"),
        exclude_interim=request.exclude_interim,
        min_score=min_score,
        sort=request.sort,
        desc=request.desc if request.HasField("desc") else desc_default,
        page_from=getattr(request.page, "from"),  # "from" is a Python keyword
        page_size=0 if request.page.count_only else request.page.size or DEFAULT_PAGE_SIZE,
    )


class ResultsServicer(results_service_pb2_grpc.ResultsServiceServicer):
    """Serves ResultsService from a ResultReader."""

    def __init__(self, reader: ResultReader, *, pool: Executor) -> None:
        self._results = reader
        self.pool = pool

    @unary
    def GetBuckets(self, request: pb.GetBucketsRequest, context: grpc.ServicerContext) -> pb.GetBucketsResponse:
        query = _query(request, request.anomaly_score, desc_default=False)
        at = None
        if request.HasField("timestamp"):
            # Elasticsearch: timestamp is incompatible with from, size, start, end and anomaly_score.
            page = request.page
            given = [name for name in ("start", "end") if request.HasField(name)]
            given += ["page"] if getattr(page, "from") or page.size or page.count_only else []
            given += ["anomaly_score"] if request.anomaly_score else []
            if given:
                raise InvalidRequest(
                    f"timestamp is incompatible with {', '.join(given)}: it asks for one bucket",
                    jobId=request.job_id, fields=",".join(given),
                )
            at = convert.millis(request, "timestamp")
        buckets, count = self._results.buckets(query, expand=request.expand, timestamp_ms=at)
        return pb.GetBucketsResponse(buckets=[convert.bucket(request.job_id, b) for b in buckets], count=count)

    @unary
    def GetRecords(self, request: pb.GetRecordsRequest, context: grpc.ServicerContext) -> pb.GetRecordsResponse:
        records, count = self._results.records(_query(request, request.record_score, desc_default=True))
        span = self._span(request.job_id)
        return pb.GetRecordsResponse(records=[convert.record(request.job_id, span, r) for r in records], count=count)

    @unary
    def GetInfluencers(self, request: pb.GetInfluencersRequest, context: grpc.ServicerContext) -> pb.GetInfluencersResponse:
        influencers, count = self._results.influencers(_query(request, request.influencer_score, desc_default=True))
        span = self._span(request.job_id)
        return pb.GetInfluencersResponse(influencers=[convert.influencer(request.job_id, span, i) for i in influencers], count=count)

    @unary
    def GetOverallBuckets(self, request: pb.GetOverallBucketsRequest, context: grpc.ServicerContext) -> pb.GetOverallBucketsResponse:
        overall = self._results.overall_buckets(
            request.job_id,
            top_n=request.top_n_jobs if request.HasField("top_n_jobs") else request.top_n or 1,
            bucket_span_s=convert.seconds(request, "bucket_span", None),
            min_score=request.overall_score,
            exclude_interim=request.exclude_interim,
            start_ms=convert.millis(request, "start"),
            end_ms=convert.millis(request, "end"),
            allow_no_match=allow_no_match(request),
        )
        return pb.GetOverallBucketsResponse(overall_buckets=[convert.overall_bucket(o) for o in overall], count=len(overall))

    def _span(self, job_id: str) -> int:
        return self._results.bucket_span_s(job_id)
