import datetime

from anomalyd.v1 import result_pb2 as _result_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Page(_message.Message):
    __slots__ = ("size",)
    FROM_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    size: int
    def __init__(self, size: _Optional[int] = ..., **kwargs) -> None: ...

class GetBucketsRequest(_message.Message):
    __slots__ = ("job_id", "timestamp", "start", "end", "exclude_interim", "anomaly_score", "expand", "sort", "desc", "page")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_INTERIM_FIELD_NUMBER: _ClassVar[int]
    ANOMALY_SCORE_FIELD_NUMBER: _ClassVar[int]
    EXPAND_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    DESC_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    timestamp: _timestamp_pb2.Timestamp
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    exclude_interim: bool
    anomaly_score: float
    expand: bool
    sort: str
    desc: bool
    page: Page
    def __init__(self, job_id: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., exclude_interim: _Optional[bool] = ..., anomaly_score: _Optional[float] = ..., expand: _Optional[bool] = ..., sort: _Optional[str] = ..., desc: _Optional[bool] = ..., page: _Optional[_Union[Page, _Mapping]] = ...) -> None: ...

class GetBucketsResponse(_message.Message):
    __slots__ = ("buckets", "count")
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    buckets: _containers.RepeatedCompositeFieldContainer[_result_pb2.Bucket]
    count: int
    def __init__(self, buckets: _Optional[_Iterable[_Union[_result_pb2.Bucket, _Mapping]]] = ..., count: _Optional[int] = ...) -> None: ...

class GetRecordsRequest(_message.Message):
    __slots__ = ("job_id", "start", "end", "exclude_interim", "record_score", "sort", "desc", "page")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_INTERIM_FIELD_NUMBER: _ClassVar[int]
    RECORD_SCORE_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    DESC_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    exclude_interim: bool
    record_score: float
    sort: str
    desc: bool
    page: Page
    def __init__(self, job_id: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., exclude_interim: _Optional[bool] = ..., record_score: _Optional[float] = ..., sort: _Optional[str] = ..., desc: _Optional[bool] = ..., page: _Optional[_Union[Page, _Mapping]] = ...) -> None: ...

class GetRecordsResponse(_message.Message):
    __slots__ = ("records", "count")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[_result_pb2.AnomalyRecord]
    count: int
    def __init__(self, records: _Optional[_Iterable[_Union[_result_pb2.AnomalyRecord, _Mapping]]] = ..., count: _Optional[int] = ...) -> None: ...

class GetInfluencersRequest(_message.Message):
    __slots__ = ("job_id", "start", "end", "exclude_interim", "influencer_score", "sort", "desc", "page")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_INTERIM_FIELD_NUMBER: _ClassVar[int]
    INFLUENCER_SCORE_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    DESC_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    exclude_interim: bool
    influencer_score: float
    sort: str
    desc: bool
    page: Page
    def __init__(self, job_id: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., exclude_interim: _Optional[bool] = ..., influencer_score: _Optional[float] = ..., sort: _Optional[str] = ..., desc: _Optional[bool] = ..., page: _Optional[_Union[Page, _Mapping]] = ...) -> None: ...

class GetInfluencersResponse(_message.Message):
    __slots__ = ("influencers", "count")
    INFLUENCERS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    influencers: _containers.RepeatedCompositeFieldContainer[_result_pb2.Influencer]
    count: int
    def __init__(self, influencers: _Optional[_Iterable[_Union[_result_pb2.Influencer, _Mapping]]] = ..., count: _Optional[int] = ...) -> None: ...

class GetOverallBucketsRequest(_message.Message):
    __slots__ = ("job_id", "top_n", "bucket_span", "overall_score", "exclude_interim", "start", "end", "allow_no_match")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TOP_N_FIELD_NUMBER: _ClassVar[int]
    BUCKET_SPAN_FIELD_NUMBER: _ClassVar[int]
    OVERALL_SCORE_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_INTERIM_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    ALLOW_NO_MATCH_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    top_n: int
    bucket_span: _duration_pb2.Duration
    overall_score: float
    exclude_interim: bool
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    allow_no_match: bool
    def __init__(self, job_id: _Optional[str] = ..., top_n: _Optional[int] = ..., bucket_span: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., overall_score: _Optional[float] = ..., exclude_interim: _Optional[bool] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., allow_no_match: _Optional[bool] = ...) -> None: ...

class GetOverallBucketsResponse(_message.Message):
    __slots__ = ("overall_buckets", "count")
    OVERALL_BUCKETS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    overall_buckets: _containers.RepeatedCompositeFieldContainer[_result_pb2.OverallBucket]
    count: int
    def __init__(self, overall_buckets: _Optional[_Iterable[_Union[_result_pb2.OverallBucket, _Mapping]]] = ..., count: _Optional[int] = ...) -> None: ...
