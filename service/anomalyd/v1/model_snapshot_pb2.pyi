import datetime

from anomalyd.v1 import job_stats_pb2 as _job_stats_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ModelSnapshot(_message.Message):
    __slots__ = ("job_id", "snapshot_id", "timestamp", "description", "latest_record_time_stamp", "latest_result_time_stamp", "model_size_stats", "retain", "min_version", "snapshot_size_bytes", "active")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LATEST_RECORD_TIME_STAMP_FIELD_NUMBER: _ClassVar[int]
    LATEST_RESULT_TIME_STAMP_FIELD_NUMBER: _ClassVar[int]
    MODEL_SIZE_STATS_FIELD_NUMBER: _ClassVar[int]
    RETAIN_FIELD_NUMBER: _ClassVar[int]
    MIN_VERSION_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    snapshot_id: str
    timestamp: _timestamp_pb2.Timestamp
    description: str
    latest_record_time_stamp: _timestamp_pb2.Timestamp
    latest_result_time_stamp: _timestamp_pb2.Timestamp
    model_size_stats: _job_stats_pb2.ModelSizeStats
    retain: bool
    min_version: str
    snapshot_size_bytes: int
    active: bool
    def __init__(self, job_id: _Optional[str] = ..., snapshot_id: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., description: _Optional[str] = ..., latest_record_time_stamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., latest_result_time_stamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., model_size_stats: _Optional[_Union[_job_stats_pb2.ModelSizeStats, _Mapping]] = ..., retain: _Optional[bool] = ..., min_version: _Optional[str] = ..., snapshot_size_bytes: _Optional[int] = ..., active: _Optional[bool] = ...) -> None: ...
