import datetime

from anomalyd.v1 import data_counts_pb2 as _data_counts_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_CLOSED: _ClassVar[JobState]
    JOB_STATE_OPENING: _ClassVar[JobState]
    JOB_STATE_OPENED: _ClassVar[JobState]
    JOB_STATE_CLOSING: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]

class MemoryStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEMORY_STATUS_UNSPECIFIED: _ClassVar[MemoryStatus]
    MEMORY_STATUS_OK: _ClassVar[MemoryStatus]
    MEMORY_STATUS_SOFT_LIMIT: _ClassVar[MemoryStatus]
    MEMORY_STATUS_HARD_LIMIT: _ClassVar[MemoryStatus]
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_CLOSED: JobState
JOB_STATE_OPENING: JobState
JOB_STATE_OPENED: JobState
JOB_STATE_CLOSING: JobState
JOB_STATE_FAILED: JobState
MEMORY_STATUS_UNSPECIFIED: MemoryStatus
MEMORY_STATUS_OK: MemoryStatus
MEMORY_STATUS_SOFT_LIMIT: MemoryStatus
MEMORY_STATUS_HARD_LIMIT: MemoryStatus

class ModelSizeStats(_message.Message):
    __slots__ = ("model_bytes", "peak_model_bytes", "model_bytes_exceeded", "model_bytes_memory_limit", "total_by_field_count", "total_over_field_count", "total_partition_field_count", "bucket_allocation_failures_count", "memory_status", "log_time", "timestamp")
    MODEL_BYTES_FIELD_NUMBER: _ClassVar[int]
    PEAK_MODEL_BYTES_FIELD_NUMBER: _ClassVar[int]
    MODEL_BYTES_EXCEEDED_FIELD_NUMBER: _ClassVar[int]
    MODEL_BYTES_MEMORY_LIMIT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BY_FIELD_COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_OVER_FIELD_COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PARTITION_FIELD_COUNT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_ALLOCATION_FAILURES_COUNT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_STATUS_FIELD_NUMBER: _ClassVar[int]
    LOG_TIME_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    model_bytes: int
    peak_model_bytes: int
    model_bytes_exceeded: int
    model_bytes_memory_limit: int
    total_by_field_count: int
    total_over_field_count: int
    total_partition_field_count: int
    bucket_allocation_failures_count: int
    memory_status: MemoryStatus
    log_time: _timestamp_pb2.Timestamp
    timestamp: _timestamp_pb2.Timestamp
    def __init__(self, model_bytes: _Optional[int] = ..., peak_model_bytes: _Optional[int] = ..., model_bytes_exceeded: _Optional[int] = ..., model_bytes_memory_limit: _Optional[int] = ..., total_by_field_count: _Optional[int] = ..., total_over_field_count: _Optional[int] = ..., total_partition_field_count: _Optional[int] = ..., bucket_allocation_failures_count: _Optional[int] = ..., memory_status: _Optional[_Union[MemoryStatus, str]] = ..., log_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class JobStats(_message.Message):
    __slots__ = ("job_id", "state", "data_counts", "model_size_stats", "open_time", "failure_reason", "node", "deleting", "assignment_explanation", "restore_note")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DATA_COUNTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_SIZE_STATS_FIELD_NUMBER: _ClassVar[int]
    OPEN_TIME_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    DELETING_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    RESTORE_NOTE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    state: JobState
    data_counts: _data_counts_pb2.DataCounts
    model_size_stats: ModelSizeStats
    open_time: _timestamp_pb2.Timestamp
    failure_reason: str
    node: str
    deleting: bool
    assignment_explanation: str
    restore_note: str
    def __init__(self, job_id: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., data_counts: _Optional[_Union[_data_counts_pb2.DataCounts, _Mapping]] = ..., model_size_stats: _Optional[_Union[ModelSizeStats, _Mapping]] = ..., open_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failure_reason: _Optional[str] = ..., node: _Optional[str] = ..., deleting: _Optional[bool] = ..., assignment_explanation: _Optional[str] = ..., restore_note: _Optional[str] = ...) -> None: ...
