import datetime

from anomalyd.v1 import model_snapshot_pb2 as _model_snapshot_pb2
from anomalyd.v1 import results_service_pb2 as _results_service_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateModelSnapshotRequest(_message.Message):
    __slots__ = ("job_id", "description", "retain")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RETAIN_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    description: str
    retain: bool
    def __init__(self, job_id: _Optional[str] = ..., description: _Optional[str] = ..., retain: _Optional[bool] = ...) -> None: ...

class CreateModelSnapshotResponse(_message.Message):
    __slots__ = ("model_snapshot",)
    MODEL_SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    model_snapshot: _model_snapshot_pb2.ModelSnapshot
    def __init__(self, model_snapshot: _Optional[_Union[_model_snapshot_pb2.ModelSnapshot, _Mapping]] = ...) -> None: ...

class GetModelSnapshotsRequest(_message.Message):
    __slots__ = ("job_id", "snapshot_id", "start", "end", "sort", "desc", "page")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    DESC_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    snapshot_id: str
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    sort: str
    desc: bool
    page: _results_service_pb2.Page
    def __init__(self, job_id: _Optional[str] = ..., snapshot_id: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sort: _Optional[str] = ..., desc: _Optional[bool] = ..., page: _Optional[_Union[_results_service_pb2.Page, _Mapping]] = ...) -> None: ...

class GetModelSnapshotsResponse(_message.Message):
    __slots__ = ("model_snapshots", "count")
    MODEL_SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    model_snapshots: _containers.RepeatedCompositeFieldContainer[_model_snapshot_pb2.ModelSnapshot]
    count: int
    def __init__(self, model_snapshots: _Optional[_Iterable[_Union[_model_snapshot_pb2.ModelSnapshot, _Mapping]]] = ..., count: _Optional[int] = ...) -> None: ...

class UpdateModelSnapshotRequest(_message.Message):
    __slots__ = ("job_id", "snapshot_id", "description", "retain")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RETAIN_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    snapshot_id: str
    description: str
    retain: bool
    def __init__(self, job_id: _Optional[str] = ..., snapshot_id: _Optional[str] = ..., description: _Optional[str] = ..., retain: _Optional[bool] = ...) -> None: ...

class UpdateModelSnapshotResponse(_message.Message):
    __slots__ = ("model_snapshot",)
    MODEL_SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    model_snapshot: _model_snapshot_pb2.ModelSnapshot
    def __init__(self, model_snapshot: _Optional[_Union[_model_snapshot_pb2.ModelSnapshot, _Mapping]] = ...) -> None: ...

class DeleteModelSnapshotRequest(_message.Message):
    __slots__ = ("job_id", "snapshot_id")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    snapshot_id: str
    def __init__(self, job_id: _Optional[str] = ..., snapshot_id: _Optional[str] = ...) -> None: ...

class DeleteModelSnapshotResponse(_message.Message):
    __slots__ = ("acknowledged",)
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    acknowledged: bool
    def __init__(self, acknowledged: _Optional[bool] = ...) -> None: ...

class RevertModelSnapshotRequest(_message.Message):
    __slots__ = ("job_id", "snapshot_id", "delete_intervening_results")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    DELETE_INTERVENING_RESULTS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    snapshot_id: str
    delete_intervening_results: bool
    def __init__(self, job_id: _Optional[str] = ..., snapshot_id: _Optional[str] = ..., delete_intervening_results: _Optional[bool] = ...) -> None: ...

class RevertModelSnapshotResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: _model_snapshot_pb2.ModelSnapshot
    def __init__(self, model: _Optional[_Union[_model_snapshot_pb2.ModelSnapshot, _Mapping]] = ...) -> None: ...
