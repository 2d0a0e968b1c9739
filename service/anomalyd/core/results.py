"""Reading results back with Elasticsearch's filters: time range, scores, interim, sort, pages."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from anomalyd.core.errors import InvalidRequest
from anomalyd.core.jobs import JobManager
from anomalyd.engine.results import AnomalyRecord, BucketResult, InfluencerResult

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 100
MAX_RESULT_WINDOW = 10_000  # Elasticsearch's index.max_result_window

BUCKET_SORTS: dict[str, Callable[[BucketResult], Any]] = {
    "timestamp": lambda b: b.timestamp_ms,
    "anomaly_score": lambda b: b.anomaly_score,
    "initial_anomaly_score": lambda b: b.initial_anomaly_score,
    "event_count": lambda b: b.event_count,
}
RECORD_SORTS: dict[str, Callable[[AnomalyRecord], Any]] = {
    "record_score": lambda r: r.record_score,
    "initial_record_score": lambda r: r.initial_record_score,
    "probability": lambda r: r.probability,
    "timestamp": lambda r: r.timestamp_ms,
}
INFLUENCER_SORTS: dict[str, Callable[[InfluencerResult], Any]] = {
    "influencer_score": lambda i: i.influencer_score,
    "initial_influencer_score": lambda i: i.initial_influencer_score,
    "probability": lambda i: i.probability,
    "timestamp": lambda i: i.timestamp_ms,
}


@dataclass(frozen=True, slots=True)
class Query:
    """The filters every results request shares; times in epoch ms, None for open ends."""

    job_id: str
    start_ms: int | None = None
    end_ms: int | None = None
    exclude_interim: bool = False
    min_score: float = 0.0
    sort: str = ""
    desc: bool = False
    page_from: int = 0
    page_size: int = DEFAULT_PAGE_SIZE


@dataclass(frozen=True, slots=True)
class OverallBucket:
    """A window's overall score across jobs."""

    timestamp_ms: int
    bucket_span_s: int
    overall_score: float
    jobs: list[tuple[str, float]]
    is_interim: bool


class ResultReader:
    """Answers results requests from the repository of a JobManager."""

    def __init__(self, jobs: JobManager) -> None:
        self._jobs = jobs
        self._repository = jobs.repository

    def bucket_span_s(self, job_id: str) -> int:
        """A job's bucket span in seconds."""
        return self._repository.job(job_id).bucket_span_s

    def buckets(self, query: Query, *, expand: bool = False) -> tuple[list[BucketResult], int]:
        """A page of buckets and the number matching."""
        self._repository.job(query.job_id)
        found = [b for b in self._repository.buckets(query.job_id, query.start_ms, query.end_ms)
                 if b.anomaly_score >= query.min_score and not (query.exclude_interim and b.is_interim)]
        page, count = page_of(found, query, BUCKET_SORTS, "timestamp")
        if expand:
            page = [replace(b, records=self._repository.records(query.job_id, b.timestamp_ms, b.timestamp_ms + 1)) for b in page]
        return page, count

    def records(self, query: Query) -> tuple[list[AnomalyRecord], int]:
        """A page of records and the number matching."""
        self._repository.job(query.job_id)
        found = [r for r in self._repository.records(query.job_id, query.start_ms, query.end_ms)
                 if r.record_score >= query.min_score and not (query.exclude_interim and r.is_interim)]
        return page_of(found, query, RECORD_SORTS, "record_score")

    def influencers(self, query: Query) -> tuple[list[InfluencerResult], int]:
        """A page of influencers and the number matching."""
        self._repository.job(query.job_id)
        found = [i for i in self._repository.influencers(query.job_id, query.start_ms, query.end_ms)
                 if i.influencer_score >= query.min_score and not (query.exclude_interim and i.is_interim)]
        return page_of(found, query, INFLUENCER_SORTS, "influencer_score")

    def overall_buckets(
        self,
        expression: str,
        *,
        top_n: int = 1,
        bucket_span_s: int | None = None,
        min_score: float = 0.0,
        exclude_interim: bool = False,
        start_ms: int | None = None,
        end_ms: int | None = None,
        allow_no_match: bool = True,
    ) -> list[OverallBucket]:
        """Windows scored by the mean of the top_n jobs' highest bucket scores in each."""
        jobs = self._jobs.get_jobs(expression, allow_no_match)
        if not jobs:
            return []
        if top_n < 1:
            raise InvalidRequest("top_n must be at least 1")
        longest = max(j.bucket_span_s for j in jobs)
        span = longest if bucket_span_s is None else bucket_span_s
        if span < longest:
            raise InvalidRequest(f"bucket_span {span}s is shorter than the longest job bucket span {longest}s")
        span_ms = span * 1000
        maxima: dict[int, dict[str, float]] = defaultdict(dict)
        interim: set[int] = set()
        for job in jobs:
            for bucket in self._repository.buckets(job.job_id, start_ms, end_ms):
                if exclude_interim and bucket.is_interim:
                    continue
                window = bucket.timestamp_ms // span_ms * span_ms
                best = maxima[window].get(job.job_id, -math.inf)
                maxima[window][job.job_id] = max(best, bucket.anomaly_score)
                if bucket.is_interim:
                    interim.add(window)
        overall = []
        for window in sorted(maxima):
            scores = maxima[window]
            top = sorted(scores.values(), reverse=True)[:top_n]
            score = sum(top) / len(top)
            if score >= min_score:
                overall.append(OverallBucket(window, span, score, sorted(scores.items()), window in interim))
        return overall


def page_of(found: list[T], query: Query, sorts: dict[str, Callable[[T], Any]], default: str) -> tuple[list[T], int]:
    """The query's page of found, sorted by its sort key (default when unset), and len(found).

    Raises:
        InvalidRequest: the sort key is unknown or the page lies outside the result window.
    """
    key = sorts.get(query.sort or default)
    if key is None:
        raise InvalidRequest(f"cannot sort by {query.sort!r}; sort by one of {', '.join(sorts)}", sort=query.sort)
    if query.page_from < 0 or query.page_size < 0 or query.page_from + query.page_size > MAX_RESULT_WINDOW:
        raise InvalidRequest(
            f"page from {query.page_from} size {query.page_size} is outside 0..{MAX_RESULT_WINDOW}",
            pageFrom=str(query.page_from), pageSize=str(query.page_size),
        )
    ordered: Sequence[T] = sorted(found, key=key, reverse=query.desc)
    return list(ordered[query.page_from : query.page_from + query.page_size]), len(found)
