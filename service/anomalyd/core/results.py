"""Reading results back with Elasticsearch's filters: time range, scores, interim, sort, pages."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from anomalyd.bucket_time import ceil_to, floor_to
from anomalyd.core.errors import BucketNotFound, InvalidRequest
from anomalyd.core.jobs import JobManager
from anomalyd.engine.results import AnomalyRecord, BucketResult, InfluencerResult

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 100
MAX_RESULT_WINDOW = 10_000  # Elasticsearch's index.max_result_window

# Every field of a result document that Elasticsearch can sort by, by its name there. A field
# with several values (actual, typical) sorts by its least ascending and its greatest descending.
BUCKET_SORTS: dict[str, Callable[[BucketResult], Any]] = {
    "timestamp": lambda b: b.timestamp_ms,
    "anomaly_score": lambda b: b.anomaly_score,
    "initial_anomaly_score": lambda b: b.initial_anomaly_score,
    "event_count": lambda b: b.event_count,
    "is_interim": lambda b: b.is_interim,
    "bucket_span": lambda b: b.bucket_span_s,
    "job_id": lambda b: "",
    "result_type": lambda b: "bucket",
}
RECORD_SORTS: dict[str, Callable[[AnomalyRecord], Any]] = {
    "record_score": lambda r: r.record_score,
    "initial_record_score": lambda r: r.initial_record_score,
    "probability": lambda r: r.probability,
    "timestamp": lambda r: r.timestamp_ms,
    "multi_bucket_impact": lambda r: r.multi_bucket_impact,
    "detector_index": lambda r: r.detector_index,
    "is_interim": lambda r: r.is_interim,
    "function": lambda r: r.function,
    "function_description": lambda r: r.function_description,
    "field_name": lambda r: r.field_name or None,
    "by_field_name": lambda r: r.by_field_name or None,
    "by_field_value": lambda r: r.by_field_value or None,
    "over_field_name": lambda r: r.over_field_name or None,
    "over_field_value": lambda r: r.over_field_value or None,
    "partition_field_name": lambda r: r.partition_field_name or None,
    "partition_field_value": lambda r: r.partition_field_value or None,
    "actual": lambda r: r.actual,
    "typical": lambda r: r.typical,
    "bucket_span": lambda r: 0,
    "job_id": lambda r: "",
    "result_type": lambda r: "record",
}
INFLUENCER_SORTS: dict[str, Callable[[InfluencerResult], Any]] = {
    "influencer_score": lambda i: i.influencer_score,
    "initial_influencer_score": lambda i: i.initial_influencer_score,
    "probability": lambda i: i.probability,
    "timestamp": lambda i: i.timestamp_ms,
    "influencer_field_name": lambda i: i.influencer_field_name,
    "influencer_field_value": lambda i: i.influencer_field_value,
    "is_interim": lambda i: i.is_interim,
    "bucket_span": lambda i: 0,
    "job_id": lambda i: "",
    "result_type": lambda i: "influencer",
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

    def buckets(self, query: Query, *, expand: bool = False, timestamp_ms: int | None = None) -> tuple[list[BucketResult], int]:
        """A page of buckets and the number matching.

        Args:
            query: the filters.
            expand: include each bucket's records.
            timestamp_ms: only the bucket that starts then; the query must then have no time
                range, score or page, as Elasticsearch requires.

        Raises:
            InvalidRequest: a timestamp with a time range, score or page, or a bad sort or page.
            BucketNotFound: no bucket starts at timestamp_ms (interim ones left out if asked).
        """
        self._repository.job(query.job_id)
        if timestamp_ms is not None:
            query = replace(query, start_ms=timestamp_ms, end_ms=timestamp_ms + 1)
        found = [b for b in self._repository.buckets(query.job_id, query.start_ms, query.end_ms)
                 if b.anomaly_score >= query.min_score and not (query.exclude_interim and b.is_interim)]
        if timestamp_ms is not None and not found:
            raise BucketNotFound(f"no bucket of job {query.job_id!r} starts at {timestamp_ms} ms", jobId=query.job_id, timestamp=str(timestamp_ms))
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
        """Overall buckets as Elasticsearch computes them (OverallBucketsProvider, -Aggregator).

        For each bucket of the longest job span, the overall score is the mean of the top_n
        highest of the jobs' greatest bucket scores in it; those below min_score are left out.
        A wider bucket_span then takes, in each of its buckets, the greatest of the overall
        scores left, and each job's greatest score in them. As in Elasticsearch, top_n 1 or a
        single job computes at the wider span at once, and start and end are rounded inwards
        to the span computed at.

        Raises:
            InvalidRequest: top_n below 1, or a bucket_span shorter than the longest job span.
        """
        if top_n < 1:
            raise InvalidRequest(f"top_n must be at least 1, not {top_n}", topN=str(top_n))
        jobs = self._jobs.get_jobs(expression, allow_no_match)
        if not jobs:
            return []
        longest = max(j.bucket_span_s for j in jobs)
        span = longest if bucket_span_s is None else bucket_span_s
        if span < longest:
            raise InvalidRequest(f"bucket_span {span}s is shorter than the longest job bucket span {longest}s")
        base_s = span if top_n == 1 or len(jobs) == 1 else longest
        base_ms = base_s * 1000
        start = None if start_ms is None else ceil_to(start_ms, base_ms)
        end = None if end_ms is None else floor_to(end_ms, base_ms)
        maxima: dict[int, dict[str, float]] = defaultdict(dict)
        interim: set[int] = set()
        for job in jobs:
            for bucket in self._repository.buckets(job.job_id, start, end):
                if exclude_interim and bucket.is_interim:
                    continue
                window = floor_to(bucket.timestamp_ms, base_ms)
                best = maxima[window].get(job.job_id, -math.inf)
                maxima[window][job.job_id] = max(best, bucket.anomaly_score)
                if bucket.is_interim:
                    interim.add(window)
        base = []
        for window in sorted(maxima):
            scores = maxima[window]
            top = sorted(scores.values(), reverse=True)[:top_n]
            if (score := sum(top) / len(top)) >= min_score:
                base.append(OverallBucket(window, base_s, score, sorted(scores.items()), window in interim))
        return base if span == base_s else _wider(base, span)


def _wider(base: list[OverallBucket], span_s: int) -> list[OverallBucket]:
    """Base overall buckets (oldest first) joined into buckets of span_s: each the greatest."""
    joined: list[OverallBucket] = []
    for bucket in base:
        window = floor_to(bucket.timestamp_ms, span_s * 1000)
        if joined and joined[-1].timestamp_ms == window:
            last = joined[-1]
            jobs = dict(last.jobs)
            for job_id, score in bucket.jobs:
                jobs[job_id] = max(jobs.get(job_id, -math.inf), score)
            joined[-1] = OverallBucket(window, span_s, max(last.overall_score, bucket.overall_score),
                                       sorted(jobs.items()), last.is_interim or bucket.is_interim)
        else:
            joined.append(OverallBucket(window, span_s, bucket.overall_score, bucket.jobs, bucket.is_interim))
    return joined


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
    if query.page_size == 0:
        return [], len(found)

    def sort_key(item: T) -> tuple[bool, Any]:
        value = key(item)
        if isinstance(value, list):
            value = (max if query.desc else min)(value) if value else None
        # A document without the field sorts last either way, as Elasticsearch's "missing": "_last".
        return (value is not None) == query.desc, value if value is not None else 0

    ordered: Sequence[T] = sorted(found, key=sort_key, reverse=query.desc)
    return list(ordered[query.page_from : query.page_from + query.page_size]), len(found)
