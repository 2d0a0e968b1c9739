"""What goes into a PostData stream: data sources cut into chunks, and columnar batches."""

from __future__ import annotations

import dataclasses
import itertools
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import IO, Any, cast

import msgspec
import numpy as np
from numpy.typing import ArrayLike

from anomalyd.v1 import column_batch_pb2

DataSource = (
    str
    | os.PathLike[str]
    | bytes
    | IO[bytes]
    | IO[str]
    | Iterable[bytes]
    | Iterable[Mapping[str, Any]]
)
"""Documents to post: a path to a file of JSON documents (NDJSON, say), raw bytes, a file
object, an iterable of byte chunks, or an iterable of records (dicts) to encode as NDJSON."""

DEFAULT_CHUNK_BYTES = 1 << 20
# ColumnBatch.times marks a record without a valid time with the minimum int64, which is
# also what datetime64's NaT is underneath.
_MISSING_TIME = np.iinfo(np.int64).min


@dataclasses.dataclass(frozen=True)
class Progress:
    """How far an upload has got.

    Attributes:
        bytes_sent: data bytes handed to the stream so far.
        total_bytes: the size of the source when known (a path or bytes), else None.
        records_sent: newline-terminated documents sent; exact for NDJSON and records.
        elapsed: seconds since the upload started.
    """

    bytes_sent: int
    total_bytes: int | None
    records_sent: int
    elapsed: float


def data_chunks(source: DataSource, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Iterator[bytes]:
    """Cuts a source into chunks of at most chunk_bytes (records: see ndjson_chunks).

    The server reassembles documents split across messages, so raw bytes are cut anywhere.
    A str source is a path, never data.
    """
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as file:
            yield from _read(file, chunk_bytes)
    elif isinstance(source, bytes):
        yield from _split(source, chunk_bytes)
    elif hasattr(source, "read"):
        yield from _read(cast("IO[Any]", source), chunk_bytes)
    else:
        items: Iterator[Any] = iter(cast("Iterable[Any]", source))
        first = next(items, None)
        if first is None:
            return
        items = itertools.chain([first], items)
        if isinstance(first, Mapping):
            yield from ndjson_chunks(items, chunk_bytes)
        else:
            for item in items:
                yield from _split(item, chunk_bytes)


def ndjson_chunks(
    records: Iterable[Mapping[str, Any]], chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> Iterator[bytes]:
    """Encodes records as NDJSON in chunks of whole lines.

    Every chunk holds at most chunk_bytes, except a chunk of one record longer than that.
    """
    encoder = msgspec.json.Encoder()
    buffer = bytearray()
    for record in records:
        end = len(buffer)
        encoder.encode_into(record, buffer, -1)
        buffer += b"\n"
        if len(buffer) > chunk_bytes and end:
            yield bytes(buffer[:end])
            del buffer[:end]
    if buffer:
        yield bytes(buffer)


def source_size(source: DataSource) -> int | None:
    """The byte size of a path or bytes source; None for streams and iterables."""
    if isinstance(source, str | os.PathLike):
        return os.path.getsize(source)
    return len(source) if isinstance(source, bytes) else None


def track(
    chunks: Iterable[bytes], total_bytes: int | None, report: Callable[[Progress], None]
) -> Iterator[bytes]:
    """Passes chunks through, reporting Progress after each."""
    start = time.monotonic()
    sent = records = 0
    for chunk in chunks:
        yield chunk
        sent += len(chunk)
        records += chunk.count(b"\n")
        report(Progress(sent, total_bytes, records, time.monotonic() - start))


def column_batch(
    columns: Mapping[str, ArrayLike], *, time_field: str = "time"
) -> column_batch_pb2.ColumnBatch:
    """Builds a ColumnBatch from equal-length columns.

    Args:
        columns: name -> array, one entry per record. The time column holds epoch
            milliseconds (integers, or floats with NaN for missing) or datetime64 (NaT for
            missing). Numeric columns become float64 with NaN for missing. String or object
            columns are dictionary-encoded; None and NaN entries are missing.
        time_field: which column holds the times.

    Returns:
        The batch, with numeric then string columns in the order given.

    Raises:
        KeyError: there is no time column.
        ValueError: the columns differ in length.
        TypeError: a column has a type with no ColumnBatch form.
    """
    times = _times(np.asarray(columns[time_field]))
    batch = column_batch_pb2.ColumnBatch(times=times)
    for name, values in columns.items():
        array = np.asarray(values)
        if name == time_field:
            continue
        if array.shape != times.shape:
            raise ValueError(f"column {name!r} has shape {array.shape}, times {times.shape}")
        if array.dtype.kind in "iuf":
            batch.numeric_columns.add(name=name, values=array.astype(np.float64))
        elif array.dtype.kind in "UO":
            dictionary, codes = _dictionary_encode(array)
            batch.string_columns.add(name=name, dictionary=dictionary, codes=codes)
        else:
            raise TypeError(f"column {name!r} has dtype {array.dtype}; use numbers or strings")
    return batch


def _times(array: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.int64]]:
    if array.dtype.kind == "M":
        return array.astype("datetime64[ms]").view(np.int64)
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    if array.dtype.kind == "f":
        return np.where(np.isfinite(array), array, _MISSING_TIME).astype(np.int64)
    raise TypeError(f"times have dtype {array.dtype}; use epoch ms integers or datetime64")


def _dictionary_encode(
    array: np.ndarray[Any, Any],
) -> tuple[list[str], np.ndarray[Any, np.dtype[np.uint32]]]:
    """The distinct strings and each record's code (0 = missing, k = dictionary[k - 1])."""
    if array.dtype.kind == "U":
        dictionary, inverse = np.unique(array, return_inverse=True)
        return dictionary.tolist(), (inverse.reshape(array.shape) + 1).astype(np.uint32)
    # Objects are encoded through a dict: numpy's fixed-width strings would drop trailing NULs.
    index: dict[str, int] = {}
    codes = np.fromiter(
        (index.setdefault(v, len(index) + 1) if isinstance(v, str) else 0 for v in array.flat), np.uint32, array.size
    )
    return list(index), codes.reshape(array.shape)


def _read(file: IO[Any], chunk_bytes: int) -> Iterator[bytes]:
    while chunk := file.read(chunk_bytes):
        yield chunk.encode() if isinstance(chunk, str) else chunk


def _split(data: bytes, chunk_bytes: int) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), chunk_bytes):
        yield bytes(view[start : start + chunk_bytes])
