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

__all__ = ["MAX_EPOCH_MS", "MIN_EPOCH_MS", "TimeColumnParser", "epoch_millis", "epoch_unit_ms", "time_parser"]

TimeColumnParser = Callable[[Sequence[Any]], tuple[NDArray[np.int64], NDArray[np.bool_]]]

_MS_PER_S = 1000


def time_parser(time_format: str) -> TimeColumnParser:
    """The parser for a job's data_description.time_format.

    A parser never raises: a value it cannot read is an invalid date.

    Raises:
        ValueError: the format is not epoch, epoch_ms or a pattern that yields an instant;
            the message says why.
    """
    unit_ms = epoch_unit_ms(time_format)
    if unit_ms is not None:
        return lambda values: _parse_epoch(values, unit_ms)
    return compile_pattern(time_format).parse


def epoch_unit_ms(time_format: str) -> int | None:
    """Milliseconds in a unit of an epoch time_format (epoch, epoch_ms), or None for a pattern."""
    return _MS_PER_S if time_format in ("", "epoch") else 1 if time_format == "epoch_ms" else None


def epoch_millis(units: NDArray[np.int64] | NDArray[np.float64], ms_per_unit: int) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Epoch times in units (NaN where a float is no time) as milliseconds, with the invalid ones' mask.

    Integers are read in int64 arithmetic, floats truncated after scaling: valid times are far
    below 2**53, where both agree exactly.
    """
    if units.dtype == np.int64:
        if len(units) and -(-MIN_EPOCH_MS // ms_per_unit) <= units.min() and units.max() <= MAX_EPOCH_MS // ms_per_unit:
            return units.astype(np.int64, copy=False) * ms_per_unit, np.zeros(len(units), np.bool_)  # the usual message: all valid
        # Clipped to just outside the valid range first, so that the product cannot overflow.
        millis = np.clip(units, MIN_EPOCH_MS - 1, MAX_EPOCH_MS + 1) * ms_per_unit
        invalid = (millis < MIN_EPOCH_MS) | (millis > MAX_EPOCH_MS)
        return np.where(invalid, 0, millis), invalid
    with np.errstate(over="ignore"):  # a float near its limit scales to inf, an invalid date like NaN
        scaled = np.trunc(units * ms_per_unit)
    invalid = ~np.isfinite(scaled) | (scaled < MIN_EPOCH_MS) | (scaled > MAX_EPOCH_MS)
    return np.where(invalid, 0, scaled).astype(np.int64), invalid


def _parse_epoch(values: Sequence[Any], ms_per_unit: int) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    kinds = set(map(type, values))
    if kinds == {int}:
        # Converting Python ints to int64 takes a third of the time of converting them to
        # float64 (the usual epoch times of NDJSON); an int beyond int64 takes the float path.
        try:
            return epoch_millis(np.fromiter(values, np.int64, len(values)), ms_per_unit)
        except OverflowError:
            pass
    if kinds <= {int, float}:
        return epoch_millis(np.asarray(values, dtype=np.float64), ms_per_unit)
    return epoch_millis(np.fromiter((_epoch_number(v) for v in values), np.float64, len(values)), ms_per_unit)


def _epoch_number(value: Any) -> float:
    if type(value) in (int, float):
        return float(value)
    if type(value) is str:
        try:
            return float(value)
        except ValueError:
            return np.nan
    return np.nan
