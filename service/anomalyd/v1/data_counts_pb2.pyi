import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DataCounts(_message.Message):
    __slots__ = ("job_id", "processed_record_count", "processed_field_count", "input_bytes", "input_field_count", "invalid_date_count", "missing_field_count", "out_of_order_timestamp_count", "empty_bucket_count", "sparse_bucket_count", "bucket_count", "earliest_record_timestamp", "latest_record_timestamp", "last_data_time", "latest_empty_bucket_timestamp", "latest_sparse_bucket_timestamp", "latest_bucket_timestamp", "input_record_count", "log_time", "malformed_document_count")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_FIELD_COUNT_FIELD_NUMBER: _ClassVar[int]
    INPUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_COUNT_FIELD_NUMBER: _ClassVar[int]
    INVALID_DATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_COUNT_FIELD_NUMBER: _ClassVar[int]
    OUT_OF_ORDER_TIMESTAMP_COUNT_FIELD_NUMBER: _ClassVar[int]
    EMPTY_BUCKET_COUNT_FIELD_NUMBER: _ClassVar[int]
    SPARSE_BUCKET_COUNT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_COUNT_FIELD_NUMBER: _ClassVar[int]
    EARLIEST_RECORD_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    LATEST_RECORD_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    LAST_DATA_TIME_FIELD_NUMBER: _ClassVar[int]
    LATEST_EMPTY_BUCKET_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    LATEST_SPARSE_BUCKET_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    LATEST_BUCKET_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    INPUT_RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    LOG_TIME_FIELD_NUMBER: _ClassVar[int]
    MALFORMED_DOCUMENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    processed_record_count: int
    processed_field_count: int
    input_bytes: int
    input_field_count: int
    invalid_date_count: int
    missing_field_count: int
    out_of_order_timestamp_count: int
    empty_bucket_count: int
    sparse_bucket_count: int
    bucket_count: int
    earliest_record_timestamp: _timestamp_pb2.Timestamp
    latest_record_timestamp: _timestamp_pb2.Timestamp
    last_data_time: _timestamp_pb2.Timestamp
    latest_empty_bucket_timestamp: _timestamp_pb2.Timestamp
    latest_sparse_bucket_timestamp: _timestamp_pb2.Timestamp
    latest_bucket_timestamp: _timestamp_pb2.Timestamp
    input_record_count: int
    log_time: _timestamp_pb2.Timestamp
    malformed_document_count: int
    def __init__(self, job_id: _Optional[str] = ..., processed_record_count: _Optional[int] = ..., processed_field_count: _Optional[int] = ..., input_bytes: _Optional[int] = ..., input_field_count: _Optional[int] = ..., invalid_date_count: _Optional[int] = ..., missing_field_count: _Optional[int] = ..., out_of_order_timestamp_count: _Optional[int] = ..., empty_bucket_count: _Optional[int] = ..., sparse_bucket_count: _Optional[int] = ..., bucket_count: _Optional[int] = ..., earliest_record_timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., latest_record_timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_data_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., latest_empty_bucket_timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., latest_sparse_bucket_timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., latest_bucket_timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., input_record_count: _Optional[int] = ..., log_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., malformed_document_count: _Optional[int] = ...) -> None: ...
