import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Bucket(_message.Message):
    __slots__ = ("job_id", "timestamp", "bucket_span", "anomaly_score", "initial_anomaly_score", "event_count", "is_interim", "bucket_influencers", "processing_time_ms", "records")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    BUCKET_SPAN_FIELD_NUMBER: _ClassVar[int]
    ANOMALY_SCORE_FIELD_NUMBER: _ClassVar[int]
    INITIAL_ANOMALY_SCORE_FIELD_NUMBER: _ClassVar[int]
    EVENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    IS_INTERIM_FIELD_NUMBER: _ClassVar[int]
    BUCKET_INFLUENCERS_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    timestamp: _timestamp_pb2.Timestamp
    bucket_span: _duration_pb2.Duration
    anomaly_score: float
    initial_anomaly_score: float
    event_count: int
    is_interim: bool
    bucket_influencers: _containers.RepeatedCompositeFieldContainer[BucketInfluencer]
    processing_time_ms: int
    records: _containers.RepeatedCompositeFieldContainer[AnomalyRecord]
    def __init__(self, job_id: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., bucket_span: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., anomaly_score: _Optional[float] = ..., initial_anomaly_score: _Optional[float] = ..., event_count: _Optional[int] = ..., is_interim: _Optional[bool] = ..., bucket_influencers: _Optional[_Iterable[_Union[BucketInfluencer, _Mapping]]] = ..., processing_time_ms: _Optional[int] = ..., records: _Optional[_Iterable[_Union[AnomalyRecord, _Mapping]]] = ...) -> None: ...

class BucketInfluencer(_message.Message):
    __slots__ = ("influencer_field_name", "anomaly_score", "initial_anomaly_score", "raw_anomaly_score", "probability")
    INFLUENCER_FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    ANOMALY_SCORE_FIELD_NUMBER: _ClassVar[int]
    INITIAL_ANOMALY_SCORE_FIELD_NUMBER: _ClassVar[int]
    RAW_ANOMALY_SCORE_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    influencer_field_name: str
    anomaly_score: float
    initial_anomaly_score: float
    raw_anomaly_score: float
    probability: float
    def __init__(self, influencer_field_name: _Optional[str] = ..., anomaly_score: _Optional[float] = ..., initial_anomaly_score: _Optional[float] = ..., raw_anomaly_score: _Optional[float] = ..., probability: _Optional[float] = ...) -> None: ...

class AnomalyRecord(_message.Message):
    __slots__ = ("job_id", "timestamp", "bucket_span", "detector_index", "function", "function_description", "field_name", "by_field_name", "by_field_value", "partition_field_name", "partition_field_value", "over_field_name", "over_field_value", "probability", "record_score", "initial_record_score", "actual", "typical", "multi_bucket_impact", "influencers", "is_interim")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    BUCKET_SPAN_FIELD_NUMBER: _ClassVar[int]
    DETECTOR_INDEX_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_VALUE_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_VALUE_FIELD_NUMBER: _ClassVar[int]
    OVER_FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    OVER_FIELD_VALUE_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    RECORD_SCORE_FIELD_NUMBER: _ClassVar[int]
    INITIAL_RECORD_SCORE_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_FIELD_NUMBER: _ClassVar[int]
    TYPICAL_FIELD_NUMBER: _ClassVar[int]
    MULTI_BUCKET_IMPACT_FIELD_NUMBER: _ClassVar[int]
    INFLUENCERS_FIELD_NUMBER: _ClassVar[int]
    IS_INTERIM_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    timestamp: _timestamp_pb2.Timestamp
    bucket_span: _duration_pb2.Duration
    detector_index: int
    function: str
    function_description: str
    field_name: str
    by_field_name: str
    by_field_value: str
    partition_field_name: str
    partition_field_value: str
    over_field_name: str
    over_field_value: str
    probability: float
    record_score: float
    initial_record_score: float
    actual: _containers.RepeatedScalarFieldContainer[float]
    typical: _containers.RepeatedScalarFieldContainer[float]
    multi_bucket_impact: float
    influencers: _containers.RepeatedCompositeFieldContainer[Influence]
    is_interim: bool
    def __init__(self, job_id: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., bucket_span: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., detector_index: _Optional[int] = ..., function: _Optional[str] = ..., function_description: _Optional[str] = ..., field_name: _Optional[str] = ..., by_field_name: _Optional[str] = ..., by_field_value: _Optional[str] = ..., partition_field_name: _Optional[str] = ..., partition_field_value: _Optional[str] = ..., over_field_name: _Optional[str] = ..., over_field_value: _Optional[str] = ..., probability: _Optional[float] = ..., record_score: _Optional[float] = ..., initial_record_score: _Optional[float] = ..., actual: _Optional[_Iterable[float]] = ..., typical: _Optional[_Iterable[float]] = ..., multi_bucket_impact: _Optional[float] = ..., influencers: _Optional[_Iterable[_Union[Influence, _Mapping]]] = ..., is_interim: _Optional[bool] = ...) -> None: ...

class Influence(_message.Message):
    __slots__ = ("influencer_field_name", "influencer_field_values")
    INFLUENCER_FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    INFLUENCER_FIELD_VALUES_FIELD_NUMBER: _ClassVar[int]
    influencer_field_name: str
    influencer_field_values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, influencer_field_name: _Optional[str] = ..., influencer_field_values: _Optional[_Iterable[str]] = ...) -> None: ...

class Influencer(_message.Message):
    __slots__ = ("job_id", "timestamp", "bucket_span", "influencer_field_name", "influencer_field_value", "influencer_score", "initial_influencer_score", "probability", "is_interim")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    BUCKET_SPAN_FIELD_NUMBER: _ClassVar[int]
    INFLUENCER_FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    INFLUENCER_FIELD_VALUE_FIELD_NUMBER: _ClassVar[int]
    INFLUENCER_SCORE_FIELD_NUMBER: _ClassVar[int]
    INITIAL_INFLUENCER_SCORE_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    IS_INTERIM_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    timestamp: _timestamp_pb2.Timestamp
    bucket_span: _duration_pb2.Duration
    influencer_field_name: str
    influencer_field_value: str
    influencer_score: float
    initial_influencer_score: float
    probability: float
    is_interim: bool
    def __init__(self, job_id: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., bucket_span: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., influencer_field_name: _Optional[str] = ..., influencer_field_value: _Optional[str] = ..., influencer_score: _Optional[float] = ..., initial_influencer_score: _Optional[float] = ..., probability: _Optional[float] = ..., is_interim: _Optional[bool] = ...) -> None: ...

class OverallBucket(_message.Message):
    __slots__ = ("timestamp", "bucket_span", "overall_score", "jobs", "is_interim")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    BUCKET_SPAN_FIELD_NUMBER: _ClassVar[int]
    OVERALL_SCORE_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    IS_INTERIM_FIELD_NUMBER: _ClassVar[int]
    timestamp: _timestamp_pb2.Timestamp
    bucket_span: _duration_pb2.Duration
    overall_score: float
    jobs: _containers.RepeatedCompositeFieldContainer[OverallBucketJob]
    is_interim: bool
    def __init__(self, timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., bucket_span: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., overall_score: _Optional[float] = ..., jobs: _Optional[_Iterable[_Union[OverallBucketJob, _Mapping]]] = ..., is_interim: _Optional[bool] = ...) -> None: ...

class OverallBucketJob(_message.Message):
    __slots__ = ("job_id", "max_anomaly_score")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_ANOMALY_SCORE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    max_anomaly_score: float
    def __init__(self, job_id: _Optional[str] = ..., max_anomaly_score: _Optional[float] = ...) -> None: ...
