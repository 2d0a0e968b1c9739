"""Reading record times: epoch seconds, epoch milliseconds or a Java DateTimeFormatter pattern.

Every parser turns a column of raw JSON values into epoch milliseconds, with a mask of the
values that are missing or cannot be read (Elasticsearch's invalid dates).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

TimeColumnParser = Callable[[Sequence[Any]], tuple[NDArray[np.int64], NDArray[np.bool_]]]

# Java pattern letters and the strptime directive each maps to. Longest first.
_JAVA_TO_STRPTIME = [
    ("yyyy", "%Y"), ("uuuu", "%Y"), ("yy", "%y"), ("MMMM", "%B"), ("MMM", "%b"), ("MM", "%m"),
    ("dd", "%d"), ("HH", "%H"), ("hh", "%I"), ("mm", "%M"), ("ss", "%S"), ("SSSSSS", "%f"),
    ("SSS", "%f"), ("EEEE", "%A"), ("EEE", "%a"), ("XXX", "%z"), ("XX", "%z"), ("X", "%z"),
    ("xxx", "%z"), ("xx", "%z"), ("Z", "%z"), ("a", "%p"),
]
_JAVA_TOKEN = re.compile(
    "|".join(re.escape(java) for java, _ in _JAVA_TO_STRPTIME) + r"|'[^']*'|[A-Za-z]|[^A-Za-z']+"
)
# The directives a pattern needs to pin down an instant (a 12-hour clock needs %p as well).
_REQUIRED = ("%Y", "%m", "%d", "%H")
_MS_PER_S = 1000
# The instants a protobuf Timestamp (and so a result or a data count) can carry: 0001-01-01 to
# 9999-12-31T23:59:59.999Z. A record outside them is an invalid date, as Elasticsearch counts a
# date Java cannot hold.
MIN_EPOCH_MS = -62135596800000
MAX_EPOCH_MS = 253402300799999
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_MS = dt.timedelta(milliseconds=1)


def time_parser(time_format: str) -> TimeColumnParser:
    """The parser for a job's data_description.time_format.

    Raises:
        ValueError: the format is not epoch, epoch_ms or a pattern that yields an instant;
            the message says why.
    """
    if time_format in ("", "epoch"):
        return lambda values: _parse_epoch(values, _MS_PER_S)
    if time_format == "epoch_ms":
        return lambda values: _parse_epoch(values, 1)
    directives = java_pattern_to_strptime(time_format)
    return lambda values: _parse_pattern(values, directives)


def java_pattern_to_strptime(pattern: str) -> str:
    """The strptime format equivalent to a Java DateTimeFormatter pattern.

    Raises:
        ValueError: the pattern uses a letter anomalyd does not read, or cannot yield an
            instant (it lacks a year, month, day or hour).
    """
    parts = []
    for token in _JAVA_TOKEN.findall(pattern):
        mapped = dict(_JAVA_TO_STRPTIME).get(token)
        if mapped is not None:
            parts.append(mapped)
        elif token.startswith("'"):
            parts.append(token[1:-1].replace("%", "%%") or "'")
        elif token.isalpha():
            raise ValueError(f"pattern letter {token!r} is not supported in {pattern!r}")
        else:
            parts.append(token.replace("%", "%%"))
    directives = "".join(parts)
    twelve_hour = "%I" in directives and "%p" in directives
    missing = [d for d in _REQUIRED if d not in directives and not (d == "%H" and twelve_hour)]
    if missing and not ("%y" in directives and missing == ["%Y"]):
        raise ValueError(
            f"time_format {pattern!r} cannot yield an instant: it needs a year, month, day and "
            "hour (for example yyyy-MM-dd'T'HH:mm:ssXXX), or use epoch or epoch_ms"
        )
    return directives


def _parse_epoch(values: Sequence[Any], ms_per_unit: int) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    kinds = set(map(type, values))
    if kinds <= {int, float}:
        numbers = np.asarray(values, dtype=np.float64)
    else:
        numbers = np.fromiter((_epoch_number(v) for v in values), np.float64, len(values))
    millis = np.trunc(numbers * ms_per_unit)
    invalid = ~np.isfinite(millis) | (millis < MIN_EPOCH_MS) | (millis > MAX_EPOCH_MS)
    return np.where(invalid, 0, millis).astype(np.int64), invalid


def _epoch_number(value: Any) -> float:
    if type(value) in (int, float):
        return float(value)
    if type(value) is str:
        try:
            return float(value)
        except ValueError:
            return np.nan
    return np.nan


def _parse_pattern(values: Sequence[Any], directives: str) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    millis = np.zeros(len(values), dtype=np.int64)
    invalid = np.zeros(len(values), dtype=np.bool_)
    for i, value in enumerate(values):
        try:
            stamp = dt.datetime.strptime(value, directives)
        except (TypeError, ValueError):
            invalid[i] = True
            continue
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=dt.UTC)
        millis[i] = (stamp - _EPOCH) // _ONE_MS
    return millis, invalid
