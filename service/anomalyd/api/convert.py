"""Protobuf <-> domain: the only module where the two meet."""

from __future__ import annotations

import numpy as np
from google.protobuf import duration_pb2, json_format, struct_pb2, timestamp_pb2
from google.rpc import code_pb2

from anomalyd.bucket_time import now_ms
from anomalyd.core.config import (
    DEFAULT_BUCKET_SPAN_S,
    DEFAULT_DAILY_RETENTION_AFTER_DAYS,
    DEFAULT_MODEL_MEMORY_LIMIT_MB,
    DEFAULT_PERSIST_INTERVAL_S,
    DEFAULT_SNAPSHOT_RETENTION_DAYS,
    DetectorConfig,
    JobConfig,
    JobUpdate,
    parse_memory_limit,
)
from anomalyd.core.counts import DataCounts
from anomalyd.core.domain import JobState, JobStatus, SnapshotMeta, Task, TimingStats
from anomalyd.core.errors import InvalidColumns, InvalidJobConfig, InvalidRequest
from anomalyd.core.jobs import JobStats, NodeInfo
from anomalyd.core.results import OverallBucket
from anomalyd.core.timeparse import MAX_EPOCH_MS, MIN_EPOCH_MS
from anomalyd.engine.records import RecordBatch, StringColumn
from anomalyd.engine.results import (
    AnomalyCause,
    AnomalyRecord,
    BucketResult,
    GeoResults,
    InfluencerResult,
    ModelSizeStats,
)
from anomalyd.v1 import (
    column_batch_pb2,
    data_counts_pb2,
    job_pb2,
    job_service_pb2,
    job_stats_pb2,
    model_snapshot_pb2,
    result_pb2,
    task_pb2,
)

_INVALID_TIME = np.iinfo(np.int64).min
_INT64_MAX = np.iinfo(np.int64).max
_STATES = {
    JobState.CLOSED: job_stats_pb2.JOB_STATE_CLOSED,
    JobState.OPENING: job_stats_pb2.JOB_STATE_OPENING,
    JobState.OPENED: job_stats_pb2.JOB_STATE_OPENED,
    JobState.CLOSING: job_stats_pb2.JOB_STATE_CLOSING,
    JobState.FAILED: job_stats_pb2.JOB_STATE_FAILED,
}


def timestamp(ms: int | None) -> timestamp_pb2.Timestamp | None:
    """A Timestamp from epoch milliseconds (None stays None).

    Times beyond years 1 to 9999, which only data stored before they were refused can hold,
    are clamped to that range: one odd value must not fail a listing of every job.
    """
    if ms is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromMilliseconds(min(max(ms, MIN_EPOCH_MS), MAX_EPOCH_MS))
    return stamp


def millis(message: object, field: str) -> int | None:
    """A Timestamp field of message in epoch milliseconds, or None when unset.

    Raises:
        InvalidRequest: the timestamp is outside years 1 to 9999 or its nanos are out of range.
    """
    if not message.HasField(field):  # type: ignore[attr-defined]
        return None
    try:
        return int(getattr(message, field).ToMilliseconds())
    except ValueError as err:
        raise InvalidRequest(
            f"{field} is not a valid timestamp: {err}", field_violations=((field, str(err)),), field=field
        ) from None


def timeout_s(request: object) -> float | None:
    """The timeout field of request in seconds, or None when unset."""
    if not request.HasField("timeout"):  # type: ignore[attr-defined]
        return None
    value: duration_pb2.Duration = request.timeout  # type: ignore[attr-defined]
    return value.seconds + value.nanos / 1e9


def seconds(message: object, field: str, default: int | None) -> int | None:
    """A Duration field of message in whole seconds, or default when unset.

    Raises:
        InvalidJobConfig: the duration has a fractional second.
    """
    if not message.HasField(field):  # type: ignore[attr-defined]
        return default
    value: duration_pb2.Duration = getattr(message, field)
    if value.nanos:
        raise InvalidJobConfig(
            f"{field} must be a whole number of seconds", field_violations=((field, "fractional seconds"),), field=field
        )
    return int(value.seconds)


def duration(s: int) -> duration_pb2.Duration:
    """A Duration of whole seconds."""
    return duration_pb2.Duration(seconds=s)


def job_config(job: job_pb2.Job) -> JobConfig:
    """The domain config of a Job message (output-only fields ignored)."""
    analysis = job.analysis_config
    data = job.data_description
    try:
        memory_mb = parse_memory_limit(job.analysis_limits.model_memory_limit) if job.analysis_limits.model_memory_limit else DEFAULT_MODEL_MEMORY_LIMIT_MB
    except ValueError as err:
        raise InvalidJobConfig(str(err), field_violations=(("analysis_limits.model_memory_limit", str(err)),), field="analysis_limits.model_memory_limit") from None
    retention_days = (
        job.model_snapshot_retention_days if job.HasField("model_snapshot_retention_days") else DEFAULT_SNAPSHOT_RETENTION_DAYS
    )
    return JobConfig(
        job_id=job.job_id,
        description=job.description,
        groups=tuple(job.groups),
        bucket_span_s=seconds(analysis, "bucket_span", DEFAULT_BUCKET_SPAN_S) or 0,
        detectors=tuple(
            DetectorConfig(
                function=d.function,
                field_name=d.field_name,
                by_field_name=d.by_field_name,
                over_field_name=d.over_field_name,
                partition_field_name=d.partition_field_name,
                detector_description=d.detector_description,
                use_null=d.use_null,
                exclude_frequent=d.exclude_frequent,
            )
            for d in analysis.detectors
        ),
        influencers=tuple(analysis.influencers),
        latency_s=seconds(analysis, "latency", 0) or 0,
        summary_count_field_name=analysis.summary_count_field_name,
        time_field=data.time_field or "time",
        time_format=data.time_format or "epoch",
        results_retention_days=job.results_retention_days if job.HasField("results_retention_days") else None,
        model_snapshot_retention_days=retention_days,
        daily_model_snapshot_retention_after_days=(
            job.daily_model_snapshot_retention_after_days
            if job.HasField("daily_model_snapshot_retention_after_days")
            # Elasticsearch defaults it to 1 only when snapshots are kept longer than that.
            else min(DEFAULT_DAILY_RETENTION_AFTER_DAYS, retention_days)
        ),
        renormalization_window_days=job.renormalization_window_days if job.HasField("renormalization_window_days") else None,
        background_persist_interval_s=seconds(job, "background_persist_interval", DEFAULT_PERSIST_INTERVAL_S) or 0,
        model_memory_limit_mb=memory_mb,
        custom_settings=_settings_json(job),
        allow_lazy_open=job.allow_lazy_open,
    )


# UpdateJob's field paths and the JobConfig fields they change.
_UPDATE_PATHS = {
    "description": "description",
    "groups": "groups",
    "analysis_limits": "model_memory_limit_mb",
    "analysis_limits.model_memory_limit": "model_memory_limit_mb",
    "background_persist_interval": "background_persist_interval_s",
    "results_retention_days": "results_retention_days",
    "model_snapshot_retention_days": "model_snapshot_retention_days",
    "daily_model_snapshot_retention_after_days": "daily_model_snapshot_retention_after_days",
    "renormalization_window_days": "renormalization_window_days",
    "custom_settings": "custom_settings",
    "allow_lazy_open": "allow_lazy_open",
}
_DETECTORS_PATH = "analysis_config.detectors"


def _settings_json(job: job_pb2.Job) -> str:
    """custom_settings as JSON text ("" when unset).

    Raises:
        InvalidJobConfig: it holds a NaN or infinite number, which JSON cannot write.
    """
    if not job.HasField("custom_settings"):
        return ""
    try:
        return json_format.MessageToJson(job.custom_settings, indent=None)
    except ValueError as err:
        message = f"custom_settings must hold JSON values: {err}"
        raise InvalidJobConfig(message, field_violations=(("custom_settings", message),), field="custom_settings") from None


def job_update(request: job_service_pb2.UpdateJobRequest) -> JobUpdate:
    """The domain update of an UpdateJobRequest.

    Raises:
        InvalidJobConfig: the mask is empty or names a field that cannot be updated, or a
            detector entry sets more than its index and description.
    """
    job = request.job
    paths = list(dict.fromkeys(request.update_mask.paths))
    violations = [(path, f"{path} cannot be updated; the fields that can are {', '.join([*_UPDATE_PATHS, _DETECTORS_PATH])}")
                  for path in paths if path not in _UPDATE_PATHS and path != _DETECTORS_PATH]
    if not paths:
        violations.append(("update_mask", "update_mask names no field to update"))
    descriptions: dict[int, str] = {}
    if _DETECTORS_PATH in paths:
        for i, d in enumerate(job.analysis_config.detectors):
            extra = [f.name for f, _ in d.ListFields() if f.name not in ("detector_index", "detector_description")]
            if extra:
                violations.append((f"{_DETECTORS_PATH}[{i}].{extra[0]}", f"only a detector's detector_description can be updated, not {', '.join(extra)}"))
            descriptions[d.detector_index] = d.detector_description
    if violations:
        raise InvalidJobConfig(f"job {job.job_id!r} cannot be updated: {violations[0][1]}", field_violations=tuple(violations), jobId=job.job_id)
    given = job_config(job)  # the Job message read as PutJob reads it, defaults for what is unset
    changes = {_UPDATE_PATHS[p]: getattr(given, _UPDATE_PATHS[p]) for p in paths if p in _UPDATE_PATHS}
    return JobUpdate(changes, descriptions)


def job_message(config: JobConfig, status: JobStatus | None = None) -> job_pb2.Job:
    """The Job message of a stored config, with the output-only fields of its status when given."""
    return job_pb2.Job(
        model_snapshot_id="" if status is None else status.model_snapshot_id,
        deleting=status is not None and status.deleting,
        job_id=config.job_id,
        description=config.description,
        groups=config.groups,
        analysis_config=job_pb2.AnalysisConfig(
            bucket_span=duration(config.bucket_span_s),
            detectors=[
                job_pb2.Detector(
                    function=d.function,
                    field_name=d.field_name,
                    by_field_name=d.by_field_name,
                    over_field_name=d.over_field_name,
                    partition_field_name=d.partition_field_name,
                    detector_description=d.detector_description,
                    detector_index=i,
                    use_null=d.use_null,
                    exclude_frequent=d.exclude_frequent,
                )
                for i, d in enumerate(config.detectors)
            ],
            influencers=config.influencers,
            latency=duration(config.latency_s),
            summary_count_field_name=config.summary_count_field_name,
        ),
        data_description=job_pb2.DataDescription(time_field=config.time_field, time_format=config.time_format),
        results_retention_days=config.results_retention_days,
        model_snapshot_retention_days=config.model_snapshot_retention_days,
        background_persist_interval=duration(config.background_persist_interval_s),
        analysis_limits=job_pb2.AnalysisLimits(model_memory_limit=f"{config.model_memory_limit_mb}mb"),
        create_time=timestamp(config.create_time_ms),
        job_version=config.job_version,
        renormalization_window_days=config.renormalization_window_days,
        daily_model_snapshot_retention_after_days=config.daily_model_snapshot_retention_after_days,
        custom_settings=json_format.Parse(config.custom_settings, struct_pb2.Struct()) if config.custom_settings else None,
        allow_lazy_open=config.allow_lazy_open,
    )


def data_counts(job_id: str, counts: DataCounts, processed_field_count: int) -> data_counts_pb2.DataCounts:
    """The DataCounts message of domain counts."""
    return data_counts_pb2.DataCounts(
        job_id=job_id,
        processed_record_count=counts.processed_record_count,
        processed_field_count=processed_field_count,
        input_bytes=counts.input_bytes,
        input_field_count=counts.input_field_count,
        invalid_date_count=counts.invalid_date_count,
        missing_field_count=counts.missing_field_count,
        out_of_order_timestamp_count=counts.out_of_order_timestamp_count,
        empty_bucket_count=counts.empty_bucket_count,
        sparse_bucket_count=counts.sparse_bucket_count,
        bucket_count=counts.bucket_count,
        earliest_record_timestamp=timestamp(counts.earliest_record_timestamp),
        latest_record_timestamp=timestamp(counts.latest_record_timestamp),
        last_data_time=timestamp(counts.last_data_time),
        latest_empty_bucket_timestamp=timestamp(counts.latest_empty_bucket_timestamp),
        latest_sparse_bucket_timestamp=timestamp(counts.latest_sparse_bucket_timestamp),
        latest_bucket_timestamp=timestamp(counts.latest_bucket_timestamp),
        input_record_count=counts.input_record_count,
        log_time=timestamp(counts.log_time),
        malformed_document_count=counts.malformed_document_count,
    )


def job_stats(stats: JobStats) -> job_stats_pb2.JobStats:
    """The JobStats message of a job's stats."""
    status = stats.status
    return job_stats_pb2.JobStats(
        job_id=stats.config.job_id,
        state=_STATES[status.state],
        data_counts=data_counts(stats.config.job_id, status.ingest.totals, stats.processed_field_count),
        model_size_stats=model_size_stats(stats.model_size, stats.config.model_memory_limit_mb << 20, status.ingest.totals.latest_record_timestamp),
        open_time=timestamp(status.open_time_ms),
        failure_reason=status.failure_reason,
        node=stats.node,
        deleting=status.deleting,
        assignment_explanation="" if stats.node else "the job is not open",
        restore_note=status.restore_note,
        timing_stats=timing_stats(status.timing),
        open_duration=None if status.open_time_ms is None else duration(max(0, now_ms() - status.open_time_ms) // 1000),
        node_info=None if stats.node_info is None else node(stats.node_info),
    )


def timing_stats(timing: TimingStats) -> job_stats_pb2.TimingStats:
    """The TimingStats message; the figures of a distribution only once a bucket was timed."""
    message = job_stats_pb2.TimingStats(bucket_count=timing.bucket_count, total_bucket_processing_time_ms=timing.total_ms)
    if timing.bucket_count:
        message.minimum_bucket_processing_time_ms = timing.minimum_ms or 0.0
        message.maximum_bucket_processing_time_ms = timing.maximum_ms or 0.0
        message.average_bucket_processing_time_ms = timing.average_ms or 0.0
        message.exponential_average_bucket_processing_time_ms = timing.exponential_average_ms or 0.0
        message.exponential_average_bucket_processing_time_per_hour_ms = timing.hourly_ms
    return message


def node(info: NodeInfo) -> job_stats_pb2.Node:
    """The Node message of the server running a job."""
    return job_stats_pb2.Node(
        id=info.id, name=info.name, ephemeral_id=info.ephemeral_id,
        transport_address=info.transport_address, attributes=info.attributes,
    )


_MEMORY_STATUS = {
    "ok": job_stats_pb2.MEMORY_STATUS_OK,
    "soft_limit": job_stats_pb2.MEMORY_STATUS_SOFT_LIMIT,
    "hard_limit": job_stats_pb2.MEMORY_STATUS_HARD_LIMIT,
}


def model_size_stats(size: ModelSizeStats | None, limit_bytes: int, data_time_ms: int | None) -> job_stats_pb2.ModelSizeStats:
    """The ModelSizeStats message; a job that never ran has an empty model.

    The limit is capped at int64's maximum: a job stored before limits were bounded may hold more.
    """
    if size is None:
        return job_stats_pb2.ModelSizeStats(model_bytes_memory_limit=min(limit_bytes, _INT64_MAX), memory_status=job_stats_pb2.MEMORY_STATUS_OK)
    return job_stats_pb2.ModelSizeStats(
        model_bytes=size.model_bytes,
        peak_model_bytes=size.peak_model_bytes,
        model_bytes_exceeded=size.model_bytes_exceeded,
        model_bytes_memory_limit=min(size.model_bytes_memory_limit, _INT64_MAX),
        total_by_field_count=size.total_by_field_count,
        total_over_field_count=size.total_over_field_count,
        total_partition_field_count=size.total_partition_field_count,
        bucket_allocation_failures_count=size.bucket_allocation_failures_count,
        memory_status=_MEMORY_STATUS[size.memory_status],
        log_time=timestamp(now_ms()),
        timestamp=timestamp(data_time_ms),
    )


def task(t: Task) -> task_pb2.Task:
    """The Task message of a task."""
    return task_pb2.Task(
        task_id=t.task_id,
        action=t.action,
        job_id=t.job_id,
        done=t.done,
        error=task_pb2.TaskError(code=_code(t.error_code), message=t.error_message, reason=t.error_reason) if t.error_code else None,
        start_time=timestamp(t.start_time_ms),
        end_time=timestamp(t.end_time_ms),
    )


def _code(name: str) -> int:
    return int(getattr(code_pb2, name))


def record_batch(columns: column_batch_pb2.ColumnBatch) -> tuple[RecordBatch, np.ndarray]:
    """A columnar batch as domain columns, with its invalid-time mask.

    Raises:
        InvalidColumns: a column's length differs from the times', a code is outside its
            dictionary, or a name repeats.
    """
    times = np.array(columns.times, dtype=np.int64)
    n = len(times)
    names: set[str] = set()
    numbers: dict[str, np.ndarray] = {}
    strings: dict[str, StringColumn] = {}
    for numeric in columns.numeric_columns:
        values = np.array(numeric.values, dtype=np.float64)
        _check_column(numeric.name, len(values), n, names)
        numbers[numeric.name] = values
    for string in columns.string_columns:
        codes = np.array(string.codes, dtype=np.int64)
        _check_column(string.name, len(codes), n, names)
        if n and codes.max(initial=0) > len(string.dictionary):
            raise InvalidColumns(
                f"string column {string.name!r} has code {int(codes.max())} but only {len(string.dictionary)} dictionary entries",
                column=string.name,
            )
        strings[string.name] = StringColumn((codes - 1).astype(np.int32), tuple(string.dictionary))
    invalid = times == _INVALID_TIME
    return RecordBatch(np.where(invalid, 0, times), numbers, strings), invalid


def _check_column(name: str, length: int, expected: int, names: set[str]) -> None:
    if not name:
        raise InvalidColumns("every column needs a name", column=name)
    if name in names:
        raise InvalidColumns(f"column {name!r} appears twice in one batch", column=name)
    if length != expected:
        raise InvalidColumns(
            f"column {name!r} has {length} values but the batch has {expected} times",
            column=name,
            length=str(length),
            expected=str(expected),
        )
    names.add(name)


def bucket(job_id: str, b: BucketResult) -> result_pb2.Bucket:
    """The Bucket message of a bucket result."""
    return result_pb2.Bucket(
        job_id=job_id,
        timestamp=timestamp(b.timestamp_ms),
        bucket_span=duration(b.bucket_span_s),
        anomaly_score=b.anomaly_score,
        initial_anomaly_score=b.initial_anomaly_score,
        event_count=b.event_count,
        is_interim=b.is_interim,
        bucket_influencers=[
            result_pb2.BucketInfluencer(
                influencer_field_name=i.influencer_field_name,
                anomaly_score=i.anomaly_score,
                initial_anomaly_score=i.initial_anomaly_score,
                raw_anomaly_score=i.raw_anomaly_score,
                probability=i.probability,
            )
            for i in b.bucket_influencers
        ],
        records=[record(job_id, b.bucket_span_s, r) for r in b.records],
    )


def record(job_id: str, bucket_span_s: int, r: AnomalyRecord) -> result_pb2.AnomalyRecord:
    """The AnomalyRecord message of a record."""
    return result_pb2.AnomalyRecord(
        job_id=job_id,
        timestamp=timestamp(r.timestamp_ms),
        bucket_span=duration(bucket_span_s),
        detector_index=r.detector_index,
        function=r.function,
        function_description=r.function_description,
        field_name=r.field_name,
        by_field_name=r.by_field_name,
        by_field_value=r.by_field_value,
        partition_field_name=r.partition_field_name,
        partition_field_value=r.partition_field_value,
        over_field_name=r.over_field_name,
        over_field_value=r.over_field_value,
        probability=r.probability,
        record_score=r.record_score,
        initial_record_score=r.initial_record_score,
        actual=r.actual,
        typical=r.typical,
        multi_bucket_impact=r.multi_bucket_impact,
        influencers=[result_pb2.Influence(influencer_field_name=f, influencer_field_values=v) for f, v in r.influencers],
        is_interim=r.is_interim,
        causes=[_cause(c) for c in r.causes],
        geo_results=_geo(r.geo_results),
    )


def _cause(c: AnomalyCause) -> result_pb2.AnomalyCause:
    return result_pb2.AnomalyCause(
        probability=c.probability,
        function=c.function,
        function_description=c.function_description,
        field_name=c.field_name,
        by_field_name=c.by_field_name,
        by_field_value=c.by_field_value,
        over_field_name=c.over_field_name,
        over_field_value=c.over_field_value,
        partition_field_name=c.partition_field_name,
        partition_field_value=c.partition_field_value,
        actual=c.actual,
        typical=c.typical,
        geo_results=_geo(c.geo_results),
    )


def _geo(g: GeoResults | None) -> result_pb2.GeoResults | None:
    return None if g is None else result_pb2.GeoResults(actual_point=g.actual_point, typical_point=g.typical_point)


def influencer(job_id: str, bucket_span_s: int, i: InfluencerResult) -> result_pb2.Influencer:
    """The Influencer message of an influencer result."""
    return result_pb2.Influencer(
        job_id=job_id,
        timestamp=timestamp(i.timestamp_ms),
        bucket_span=duration(bucket_span_s),
        influencer_field_name=i.influencer_field_name,
        influencer_field_value=i.influencer_field_value,
        influencer_score=i.influencer_score,
        initial_influencer_score=i.initial_influencer_score,
        probability=i.probability,
        is_interim=i.is_interim,
    )


def overall_bucket(o: OverallBucket) -> result_pb2.OverallBucket:
    """The OverallBucket message."""
    return result_pb2.OverallBucket(
        timestamp=timestamp(o.timestamp_ms),
        bucket_span=duration(o.bucket_span_s),
        overall_score=o.overall_score,
        jobs=[result_pb2.OverallBucketJob(job_id=j, max_anomaly_score=s) for j, s in o.jobs],
        is_interim=o.is_interim,
    )


def model_snapshot(job_id: str, meta: SnapshotMeta, active_id: str, limit_bytes: int) -> model_snapshot_pb2.ModelSnapshot:
    """The ModelSnapshot message of a snapshot."""
    return model_snapshot_pb2.ModelSnapshot(
        job_id=job_id,
        snapshot_id=meta.snapshot_id,
        timestamp=timestamp(meta.timestamp_ms),
        description=meta.description,
        latest_record_time_stamp=timestamp(meta.latest_record_time_ms),
        latest_result_time_stamp=timestamp(meta.latest_result_time_ms),
        model_size_stats=model_size_stats(meta.model_size, limit_bytes, meta.latest_record_time_ms),
        retain=meta.retain,
        min_version=meta.min_version,
        snapshot_size_bytes=meta.size_bytes,
        active=meta.snapshot_id == active_id,
    )
