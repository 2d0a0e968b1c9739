"""Reading record times: epoch seconds, epoch milliseconds or a Java DateTimeFormatter pattern.

Every parser turns a column of raw JSON values into epoch milliseconds, with a mask of the
values that are missing or cannot be read (Elasticsearch's invalid dates). Patterns are read
by anomalyd.core.javatime as Elasticsearch ML reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anomalyd.core.javatime import MAX_EPOCH_MS, MIN_EPOCH_MS, compile_pattern

__all__ = ["MAX_EPOCH_MS", "MIN_EPOCH_MS", "TimeColumnParser", "time_parser"]

TimeColumnParser = Callable[[Sequence[Any]], tuple[NDArray[np.int64], NDArray[np.bool_]]]

_MS_PER_S = 1000


def time_parser(time_format: str) -> TimeColumnParser:
    """The parser for a job's data_description.time_format.

    A parser never raises: a value it cannot read is an invalid date.

    Raises:
        ValueError: the format is not epoch, epoch_ms or a pattern that yields an instant;
            the message says why.
    """
    if time_format in ("", "epoch"):
        return lambda values: _parse_epoch(values, _MS_PER_S)
    if time_format == "epoch_ms":
        return lambda values: _parse_epoch(values, 1)
    return compile_pattern(time_format).parse


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
