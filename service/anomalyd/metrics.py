"""Prometheus metrics of one server: its RPCs as they happen, its open jobs as they are when scraped.

Job figures are read from the jobs at scrape time (their persisted counts are the counters), so
the domain keeps no metric state of its own. Every series is in the server's own registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from operator import attrgetter
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from anomalyd.core.jobs import JobManager, OpenJobView

F = TypeVar("F", CounterMetricFamily, GaugeMetricFamily)
_MEMORY_STATUSES = ("ok", "soft_limit", "hard_limit")
# Per-job counters: the DataCounts field each one reads.
_JOB_COUNTERS = (
    ("processed_records", "processed_record_count", "records analysed"),
    ("input_bytes", "input_bytes", "bytes of data received"),
    ("invalid_dates", "invalid_date_count", "records without a readable time"),
    ("out_of_order_records", "out_of_order_timestamp_count", "records older than the job accepts"),
    ("buckets", "bucket_count", "buckets processed"),
)
# Per-job gauges: the OpenJobView field each one reads.
_JOB_GAUGES = (
    ("snapshot_bytes", "snapshot_bytes", "the size of its active model snapshot"),
    ("journal_entries", "journal_entries", "journal entries a restart would replay after that snapshot"),
    ("restore_seconds", "restore_s", "how long its last open took to restore the model"),
)


class Metrics:
    """The registry of one server, with the RPC metrics and a collector of its open jobs."""

    def __init__(self, jobs: JobManager) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, CPU seconds, open files
        self.rpcs = Counter(
            "anomalyd_rpcs", "Calls of anomalyd's RPCs, by method and status code.", ["method", "code"], registry=self.registry
        )
        self.rpc_seconds = Histogram(
            "anomalyd_rpc_seconds",
            "Time from a call's arrival to its status, by method (PostData: the whole stream).",
            ["method"],
            buckets=(0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100),
            registry=self.registry,
        )
        self.registry.register(_JobCollector(jobs))


class _JobCollector(Collector):
    """The open jobs' figures, read when the metrics are scraped."""

    def __init__(self, jobs: JobManager) -> None:
        self._jobs = jobs

    def collect(self) -> Iterator[Metric]:
        """The families of every metric of the open jobs."""
        views = self._jobs.open_views()
        yield GaugeMetricFamily("anomalyd_open_jobs", "Jobs open on this server.", value=len(views))
        yield GaugeMetricFamily("anomalyd_data_streams", "PostData streams active.", value=sum(v.streaming for v in views))
        for name, field, text in _JOB_COUNTERS:
            counter = CounterMetricFamily(f"anomalyd_job_{name}", f"Per open job: {text}, over its life.", labels=["job_id"])
            yield _per_job(counter, views, attrgetter(f"stats.status.ingest.totals.{field}"))
        for name, field, text in _JOB_GAUGES:
            gauge = GaugeMetricFamily(f"anomalyd_job_{name}", f"Per open job: {text}.", labels=["job_id"])
            yield _per_job(gauge, views, attrgetter(field))
        model = GaugeMetricFamily("anomalyd_job_model_bytes", "Per open job: bytes of model state.", labels=["job_id"])
        yield _per_job(model, views, lambda v: 0 if v.stats.model_size is None else v.stats.model_size.model_bytes)
        status = GaugeMetricFamily(
            "anomalyd_job_memory_status", "Per open job: 1 for its memory status (ok, soft_limit, hard_limit).",
            labels=["job_id", "status"],
        )
        for view in views:
            current = "ok" if view.stats.model_size is None else view.stats.model_size.memory_status
            for name in _MEMORY_STATUSES:
                status.add_metric([view.stats.config.job_id, name], float(name == current))
        yield status


def _per_job(family: F, views: list[OpenJobView], value: Callable[[OpenJobView], float]) -> F:
    for view in views:
        family.add_metric([view.stats.config.job_id], value(view))
    return family
