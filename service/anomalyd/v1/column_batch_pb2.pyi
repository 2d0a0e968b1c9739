from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ColumnBatch(_message.Message):
    __slots__ = ("times", "numeric_columns", "string_columns")
    TIMES_FIELD_NUMBER: _ClassVar[int]
    NUMERIC_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    STRING_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    times: _containers.RepeatedScalarFieldContainer[int]
    numeric_columns: _containers.RepeatedCompositeFieldContainer[NumericColumn]
    string_columns: _containers.RepeatedCompositeFieldContainer[StringColumn]
    def __init__(self, times: _Optional[_Iterable[int]] = ..., numeric_columns: _Optional[_Iterable[_Union[NumericColumn, _Mapping]]] = ..., string_columns: _Optional[_Iterable[_Union[StringColumn, _Mapping]]] = ...) -> None: ...

class NumericColumn(_message.Message):
    __slots__ = ("name", "values")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    name: str
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, name: _Optional[str] = ..., values: _Optional[_Iterable[float]] = ...) -> None: ...

class StringColumn(_message.Message):
    __slots__ = ("name", "dictionary", "codes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DICTIONARY_FIELD_NUMBER: _ClassVar[int]
    CODES_FIELD_NUMBER: _ClassVar[int]
    name: str
    dictionary: _containers.RepeatedScalarFieldContainer[str]
    codes: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., dictionary: _Optional[_Iterable[str]] = ..., codes: _Optional[_Iterable[int]] = ...) -> None: ...
