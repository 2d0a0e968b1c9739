import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Job(_message.Message):
    __slots__ = ("job_id", "description", "groups", "analysis_config", "data_description", "results_retention_days", "model_snapshot_retention_days", "background_persist_interval", "analysis_limits", "create_time", "job_version", "renormalization_window_days", "daily_model_snapshot_retention_after_days", "model_snapshot_id", "deleting")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_CONFIG_FIELD_NUMBER: _ClassVar[int]
    DATA_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RESULTS_RETENTION_DAYS_FIELD_NUMBER: _ClassVar[int]
    MODEL_SNAPSHOT_RETENTION_DAYS_FIELD_NUMBER: _ClassVar[int]
    BACKGROUND_PERSIST_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_LIMITS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    JOB_VERSION_FIELD_NUMBER: _ClassVar[int]
    RENORMALIZATION_WINDOW_DAYS_FIELD_NUMBER: _ClassVar[int]
    DAILY_MODEL_SNAPSHOT_RETENTION_AFTER_DAYS_FIELD_NUMBER: _ClassVar[int]
    MODEL_SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    DELETING_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    description: str
    groups: _containers.RepeatedScalarFieldContainer[str]
    analysis_config: AnalysisConfig
    data_description: DataDescription
    results_retention_days: int
    model_snapshot_retention_days: int
    background_persist_interval: _duration_pb2.Duration
    analysis_limits: AnalysisLimits
    create_time: _timestamp_pb2.Timestamp
    job_version: str
    renormalization_window_days: int
    daily_model_snapshot_retention_after_days: int
    model_snapshot_id: str
    deleting: bool
    def __init__(self, job_id: _Optional[str] = ..., description: _Optional[str] = ..., groups: _Optional[_Iterable[str]] = ..., analysis_config: _Optional[_Union[AnalysisConfig, _Mapping]] = ..., data_description: _Optional[_Union[DataDescription, _Mapping]] = ..., results_retention_days: _Optional[int] = ..., model_snapshot_retention_days: _Optional[int] = ..., background_persist_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., analysis_limits: _Optional[_Union[AnalysisLimits, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., job_version: _Optional[str] = ..., renormalization_window_days: _Optional[int] = ..., daily_model_snapshot_retention_after_days: _Optional[int] = ..., model_snapshot_id: _Optional[str] = ..., deleting: _Optional[bool] = ...) -> None: ...

class AnalysisConfig(_message.Message):
    __slots__ = ("bucket_span", "detectors", "influencers", "latency", "summary_count_field_name")
    BUCKET_SPAN_FIELD_NUMBER: _ClassVar[int]
    DETECTORS_FIELD_NUMBER: _ClassVar[int]
    INFLUENCERS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_COUNT_FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    bucket_span: _duration_pb2.Duration
    detectors: _containers.RepeatedCompositeFieldContainer[Detector]
    influencers: _containers.RepeatedScalarFieldContainer[str]
    latency: _duration_pb2.Duration
    summary_count_field_name: str
    def __init__(self, bucket_span: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., detectors: _Optional[_Iterable[_Union[Detector, _Mapping]]] = ..., influencers: _Optional[_Iterable[str]] = ..., latency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., summary_count_field_name: _Optional[str] = ...) -> None: ...

class Detector(_message.Message):
    __slots__ = ("function", "field_name", "by_field_name", "over_field_name", "partition_field_name", "detector_description", "detector_index", "use_null")
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    OVER_FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    DETECTOR_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DETECTOR_INDEX_FIELD_NUMBER: _ClassVar[int]
    USE_NULL_FIELD_NUMBER: _ClassVar[int]
    function: str
    field_name: str
    by_field_name: str
    over_field_name: str
    partition_field_name: str
    detector_description: str
    detector_index: int
    use_null: bool
    def __init__(self, function: _Optional[str] = ..., field_name: _Optional[str] = ..., by_field_name: _Optional[str] = ..., over_field_name: _Optional[str] = ..., partition_field_name: _Optional[str] = ..., detector_description: _Optional[str] = ..., detector_index: _Optional[int] = ..., use_null: _Optional[bool] = ...) -> None: ...

class DataDescription(_message.Message):
    __slots__ = ("time_field", "time_format")
    TIME_FIELD_FIELD_NUMBER: _ClassVar[int]
    TIME_FORMAT_FIELD_NUMBER: _ClassVar[int]
    time_field: str
    time_format: str
    def __init__(self, time_field: _Optional[str] = ..., time_format: _Optional[str] = ...) -> None: ...

class AnalysisLimits(_message.Message):
    __slots__ = ("model_memory_limit",)
    MODEL_MEMORY_LIMIT_FIELD_NUMBER: _ClassVar[int]
    model_memory_limit: str
    def __init__(self, model_memory_limit: _Optional[str] = ...) -> None: ...
