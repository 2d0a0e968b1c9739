import datetime

from anomalyd.v1 import column_batch_pb2 as _column_batch_pb2
from anomalyd.v1 import data_counts_pb2 as _data_counts_pb2
from anomalyd.v1 import job_pb2 as _job_pb2
from anomalyd.v1 import job_stats_pb2 as _job_stats_pb2
from anomalyd.v1 import task_pb2 as _task_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PutJobRequest(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _job_pb2.Job
    def __init__(self, job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ...) -> None: ...

class PutJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _job_pb2.Job
    def __init__(self, job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ...) -> None: ...

class GetJobsRequest(_message.Message):
    __slots__ = ("job_id", "allow_no_match")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOW_NO_MATCH_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    allow_no_match: bool
    def __init__(self, job_id: _Optional[str] = ..., allow_no_match: _Optional[bool] = ...) -> None: ...

class GetJobsResponse(_message.Message):
    __slots__ = ("jobs", "count")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[_job_pb2.Job]
    count: int
    def __init__(self, jobs: _Optional[_Iterable[_Union[_job_pb2.Job, _Mapping]]] = ..., count: _Optional[int] = ...) -> None: ...

class GetJobStatsRequest(_message.Message):
    __slots__ = ("job_id", "allow_no_match")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOW_NO_MATCH_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    allow_no_match: bool
    def __init__(self, job_id: _Optional[str] = ..., allow_no_match: _Optional[bool] = ...) -> None: ...

class GetJobStatsResponse(_message.Message):
    __slots__ = ("jobs", "count")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[_job_stats_pb2.JobStats]
    count: int
    def __init__(self, jobs: _Optional[_Iterable[_Union[_job_stats_pb2.JobStats, _Mapping]]] = ..., count: _Optional[int] = ...) -> None: ...

class OpenJobRequest(_message.Message):
    __slots__ = ("job_id", "timeout")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    timeout: _duration_pb2.Duration
    def __init__(self, job_id: _Optional[str] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class OpenJobResponse(_message.Message):
    __slots__ = ("opened", "node")
    OPENED_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    opened: bool
    node: str
    def __init__(self, opened: _Optional[bool] = ..., node: _Optional[str] = ...) -> None: ...

class PostDataRequest(_message.Message):
    __slots__ = ("job_id", "reset_start", "reset_end", "data", "columns")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    RESET_START_FIELD_NUMBER: _ClassVar[int]
    RESET_END_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    reset_start: _timestamp_pb2.Timestamp
    reset_end: _timestamp_pb2.Timestamp
    data: bytes
    columns: _column_batch_pb2.ColumnBatch
    def __init__(self, job_id: _Optional[str] = ..., reset_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reset_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., data: _Optional[bytes] = ..., columns: _Optional[_Union[_column_batch_pb2.ColumnBatch, _Mapping]] = ...) -> None: ...

class PostDataResponse(_message.Message):
    __slots__ = ("data_counts",)
    DATA_COUNTS_FIELD_NUMBER: _ClassVar[int]
    data_counts: _data_counts_pb2.DataCounts
    def __init__(self, data_counts: _Optional[_Union[_data_counts_pb2.DataCounts, _Mapping]] = ...) -> None: ...

class FlushJobRequest(_message.Message):
    __slots__ = ("job_id", "calc_interim", "start", "end", "advance_time", "skip_time")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CALC_INTERIM_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    ADVANCE_TIME_FIELD_NUMBER: _ClassVar[int]
    SKIP_TIME_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    calc_interim: bool
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    advance_time: _timestamp_pb2.Timestamp
    skip_time: _timestamp_pb2.Timestamp
    def __init__(self, job_id: _Optional[str] = ..., calc_interim: _Optional[bool] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., advance_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., skip_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FlushJobResponse(_message.Message):
    __slots__ = ("flushed", "last_finalized_bucket_end")
    FLUSHED_FIELD_NUMBER: _ClassVar[int]
    LAST_FINALIZED_BUCKET_END_FIELD_NUMBER: _ClassVar[int]
    flushed: bool
    last_finalized_bucket_end: _timestamp_pb2.Timestamp
    def __init__(self, flushed: _Optional[bool] = ..., last_finalized_bucket_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CloseJobRequest(_message.Message):
    __slots__ = ("job_id", "allow_no_match", "force", "timeout")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOW_NO_MATCH_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    allow_no_match: bool
    force: bool
    timeout: _duration_pb2.Duration
    def __init__(self, job_id: _Optional[str] = ..., allow_no_match: _Optional[bool] = ..., force: _Optional[bool] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class CloseJobResponse(_message.Message):
    __slots__ = ("closed", "job_ids")
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    closed: bool
    job_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, closed: _Optional[bool] = ..., job_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteJobRequest(_message.Message):
    __slots__ = ("job_id", "force", "wait_for_completion", "delete_user_annotations")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    WAIT_FOR_COMPLETION_FIELD_NUMBER: _ClassVar[int]
    DELETE_USER_ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    force: bool
    wait_for_completion: bool
    delete_user_annotations: bool
    def __init__(self, job_id: _Optional[str] = ..., force: _Optional[bool] = ..., wait_for_completion: _Optional[bool] = ..., delete_user_annotations: _Optional[bool] = ...) -> None: ...

class DeleteJobResponse(_message.Message):
    __slots__ = ("acknowledged", "task_id")
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    acknowledged: bool
    task_id: str
    def __init__(self, acknowledged: _Optional[bool] = ..., task_id: _Optional[str] = ...) -> None: ...

class GetTaskRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class GetTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _task_pb2.Task
    def __init__(self, task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ...) -> None: ...
