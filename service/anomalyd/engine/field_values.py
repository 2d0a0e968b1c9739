"""What a detector function reads from each record, carried exactly in one float64 a row.

The bucket buffer holds one float64 per row and detector, so every function's per-record input
is encoded into it when the record is added, and decoded by the function's bucket statistic:

* ``number``: the field's number (mean, sum, ...).
* ``identity``: distinct_count: a 52-bit hash of the field's text, exact in a float64. Equal texts
  give equal values in any batch, process or replay (blake2b, not Python's salted hash), so the
  bucket's distinct values are its distinct row values, and the memory is the buffer's own row:
  no per-series dictionary of values grows with the data. Two of 100,000 distinct values in one
  bucket collide with probability about 1e-6.
* ``information``: info_content: a 40-bit hash of the text above 13 bits of its information, the
  length in bytes of its raw deflate (zlib's default level) beyond that of the empty text, capped
  at 8,191. ml-cpp zlib-compresses a bucket's distinct strings, sorted, in one stream; the
  bucket's information here is the sum over its distinct texts plus zlib's 8 bytes of an empty
  stream, which is exactly ml-cpp's length for a bucket of one text and leaves out only what
  distinct texts would share in one stream. Texts are never kept: the memory stays one float64
  a row.
* ``time_of_day``/``time_of_week``: the record's seconds since midnight UTC, or since the start
  of the week, which ml-cpp counts from the epoch (a Thursday, 00:00 UTC).
* ``location``: lat_long: a "lat,lon" text in degrees, quantised to 1e-5 degrees (about a metre)
  and packed as lat * 2**26 + lon (offset to be non-negative): 51 bits, exact in a float64.
  Text that is not two ASCII numbers, and latitudes beyond +-90 or longitudes beyond +-180, are no
  value: the record counts as processed but the detector skips it, as autodetect skips a metric
  it cannot parse.

A value of NaN means the record has no usable value: the detector skips the row.

Example:
    >>> from anomalyd.engine.records import StringColumn
    >>> batch = RecordBatch(np.array([3_600_000]), strings={"loc": StringColumn(np.array([0], np.int32), ("48.85,2.35",))})
    >>> result_values("location", float(row_values("location", batch, "loc")[0]))
    [48.85, 2.35]
    >>> row_values("time_of_day", batch, "").tolist()
    [3600.0]
"""

from __future__ import annotations

import hashlib
import zlib

import numpy as np
from numpy.typing import NDArray

from anomalyd.bucket_time import DAY_MS
from anomalyd.engine.records import RecordBatch
from anomalyd.engine.results import GeoResults
from anomalyd.engine.stats import FloatArray

TEXT_KINDS = frozenset({"identity", "information", "location"})
WEEK_S = 7 * DAY_MS // 1000
DAY_S = DAY_MS // 1000
INFORMATION_BITS = 13
INFORMATION_CAP = (1 << INFORMATION_BITS) - 1
_EMPTY_DEFLATE = 2  # raw deflate of no bytes: one empty final block
EMPTY_ZLIB = 8  # zlib of no bytes: a 2-byte header, an empty final block and a 4-byte checksum
_DEFLATE_SLICE = 1 << 14  # bytes fed to deflate between checks against the cap
_GEO_STEPS = 100_000  # quantisation steps a degree
_LON_SPAN = 1 << 26  # 360 degrees at 1e-5 need 26 bits, 180 at 1e-5 another 25


def row_values(kind: str, batch: RecordBatch, field: str) -> FloatArray:
    """Shape (n,): each record's encoded input for a function reading `kind` (NaN: none).

    Args:
        kind: one of number, identity, information, time_of_day, time_of_week, location.
        batch: the records.
        field: the detector's field_name ("" for functions without one).
    """
    n = len(batch)
    if kind == "time_of_day":
        return np.asarray((batch.times % DAY_MS) // 1000, np.float64)
    if kind == "time_of_week":
        return np.asarray((batch.times % (7 * DAY_MS)) // 1000, np.float64)
    if kind in TEXT_KINDS:
        column = batch.strings.get(field)
        if column is None:
            return np.full(n, np.nan)
        encode = {"identity": _identity, "information": _information, "location": _location}[kind]
        table = np.fromiter(map(encode, column.values), np.float64, len(column.values))
        return np.append(table, np.nan)[column.codes]  # code -1 reads the NaN
    return batch.numbers[field] if field in batch.numbers else np.full(n, np.nan)


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")


def _identity(text: str) -> float:
    return float(_digest(text) >> 12)


def _information(text: str) -> float:
    return float(((_digest(text) >> 24) << INFORMATION_BITS) | _deflated_size(text.encode("utf-8", "surrogatepass")))


def _deflated_size(data: bytes) -> int:
    """The raw deflate size of data beyond the empty text's, capped at INFORMATION_CAP.

    Deflate's output only grows as input is fed, so compression stops once it passes the cap:
    a 4 MB random text costs its first slices rather than 0.3 s.
    """
    deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    size = 0
    for start in range(0, len(data), _DEFLATE_SLICE):
        size += len(deflate.compress(data[start : start + _DEFLATE_SLICE]))
        if size - _EMPTY_DEFLATE >= INFORMATION_CAP:
            return INFORMATION_CAP
    size += len(deflate.flush())
    return min(max(size - _EMPTY_DEFLATE, 0), INFORMATION_CAP)


def information_of(values: FloatArray) -> FloatArray:
    """The information (bytes) of information-encoded values."""
    return np.asarray(np.mod(values, 1 << INFORMATION_BITS), np.float64)


def _location(text: str) -> float:
    parts = text.split(",")
    # Python's float reads 1_0 as 10 and any script's digits and spaces (٤٨, ４８, a no-break
    # space); autodetect's strtod reads ASCII only.
    if len(parts) != 2 or "_" in text or not text.isascii():
        return np.nan
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        return np.nan
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):  # also refuses NaN
        return np.nan
    return float(location_code(np.array([lat]), np.array([lon]))[0])


def location_code(lat: FloatArray, lon: FloatArray) -> FloatArray:
    """Shape (n,): locations in degrees packed as location values."""
    lat_steps = np.rint((lat + 90.0) * _GEO_STEPS)
    lon_steps = np.rint((lon + 180.0) * _GEO_STEPS) % (360 * _GEO_STEPS)  # +180 is -180
    return np.asarray(lat_steps * _LON_SPAN + lon_steps, np.float64)


def location_degrees(code: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Latitudes and longitudes, degrees, of location values (shape (n,) each)."""
    lat_steps, lon_steps = np.divmod(np.asarray(code, np.float64), _LON_SPAN)
    return lat_steps / _GEO_STEPS - 90.0, lon_steps / _GEO_STEPS - 180.0


def unit_vectors(kind: str, values: FloatArray) -> NDArray[np.float64]:
    """Shape (n, 3): values as points on the unit circle (in x, y) or the unit sphere.

    Times go round their day or week, so 23:59 lies beside 00:01; locations go on the globe.
    """
    out = np.zeros((len(values), 3))
    if kind == "location":
        lat, lon = (np.radians(a) for a in location_degrees(values))
        out[:, 0], out[:, 1], out[:, 2] = np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)
    else:
        angle = 2.0 * np.pi * values / (DAY_S if kind == "time_of_day" else WEEK_S)
        out[:, 0], out[:, 1] = np.cos(angle), np.sin(angle)
    return out


def from_vectors(kind: str, vectors: NDArray[np.float64]) -> FloatArray:
    """Shape (n,): the values of points (n, 3) in the directions of `vectors` (any length > 0)."""
    if kind == "location":
        lat = np.degrees(np.arctan2(vectors[:, 2], np.hypot(vectors[:, 0], vectors[:, 1])))
        lon = np.degrees(np.arctan2(vectors[:, 1], vectors[:, 0]))
        return location_code(lat, lon)
    period = DAY_S if kind == "time_of_day" else WEEK_S
    seconds = np.rint(np.mod(np.arctan2(vectors[:, 1], vectors[:, 0]) / (2.0 * np.pi), 1.0) * period)
    return np.asarray(np.mod(seconds, period), np.float64)


def result_values(kind: str, value: float) -> list[float]:
    """A record's actual or typical as Elasticsearch writes it: [lat, lon] for locations."""
    if kind == "location":
        lat, lon = location_degrees(np.array([value]))
        return [round(float(lat[0]), 5), round(float(lon[0]), 5)]
    return [value]


def point_text(value: float) -> str:
    """A location value as geo_results writes a point: "lat,lon" in degrees."""
    lat, lon = result_values("location", value)
    return f"{lat!r},{lon!r}"  # as Java prints a double: 48.85, 2.0


def geo_results(kind: str, actual: float, typical: float) -> GeoResults | None:
    """A lat_long record's or cause's points, None for other functions."""
    return GeoResults(point_text(actual), point_text(typical)) if kind == "location" else None
