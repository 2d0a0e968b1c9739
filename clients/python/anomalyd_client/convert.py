"""Python values to and from the contract's types: spans, instants and protobuf messages."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from google.protobuf import duration_pb2, json_format, timestamp_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

Duration = str | int | float | dt.timedelta
"""A span: a timedelta, seconds, or text such as "5m", "1h", "30s", "250ms" or "90" (seconds)."""

Instant = str | int | float | dt.datetime
"""An instant: a datetime, epoch milliseconds, ISO 8601 text, epoch-ms text or "now"."""

# Elasticsearch time units; "m" is minutes, as in bucket_span "5m".
_UNITS = {
    "d": dt.timedelta(days=1),
    "h": dt.timedelta(hours=1),
    "m": dt.timedelta(minutes=1),
    "s": dt.timedelta(seconds=1),
    "ms": dt.timedelta(milliseconds=1),
    "micros": dt.timedelta(microseconds=1),
}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(d|h|ms|m|s|micros)?\s*")
_EPOCH_MS = re.compile(r"\s*-?\d+\s*")


def parse_duration(value: Duration) -> dt.timedelta:
    """Reads a span.

    Args:
        value: a timedelta, a number of seconds, or a number with an Elasticsearch unit
            (d, h, m, s, ms, micros); a bare number is seconds.

    Returns:
        The span.

    Raises:
        ValueError: the value is negative or not a span.
    """
    if isinstance(value, dt.timedelta):
        span = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        span = dt.timedelta(seconds=value)
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value)):
        # Whole numbers stay ints: a float cannot hold every microsecond count exactly.
        number = float(match[1]) if "." in match[1] else int(match[1])
        span = number * _UNITS[match[2] or "s"]
    else:
        raise ValueError(f"not a duration: {value!r} (use e.g. 5m, 1h, 30s or seconds)")
    if span < dt.timedelta(0):
        raise ValueError(f"duration must not be negative: {value!r}")
    return span


def format_duration(span: dt.timedelta) -> str:
    """Writes a span in the largest Elasticsearch unit that divides it ("5m", "90s", "1d")."""
    if not span:
        return "0s"
    # Every timedelta is a whole number of microseconds, so some unit always divides it.
    unit, size = next((u, size) for u, size in _UNITS.items() if not span % size)
    return f"{span // size}{unit}"


def parse_time(value: Instant) -> dt.datetime:
    """Reads an instant the way Elasticsearch reads flush and reset times.

    Args:
        value: a datetime (naive means UTC), epoch milliseconds as a number or digits, an
            ISO 8601 string (naive means UTC), or "now".

    Returns:
        A timezone-aware UTC datetime.

    Raises:
        ValueError: the value is not an instant.
    """
    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        stamp = dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    elif isinstance(value, str) and value.strip().lower() == "now":
        stamp = dt.datetime.now(dt.UTC)
    elif isinstance(value, str) and _EPOCH_MS.fullmatch(value):
        stamp = dt.datetime.fromtimestamp(int(value) / 1000, dt.UTC)
    elif isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"not a time: {value!r} (use ISO 8601, epoch milliseconds or now)"
            ) from None
    else:
        raise ValueError(f"not a time: {value!r}")
    if stamp.tzinfo is None:
        return stamp.replace(tzinfo=dt.UTC)
    return stamp.astimezone(dt.UTC)


def timestamp_message(value: Instant | None) -> timestamp_pb2.Timestamp | None:
    """A Timestamp field of parse_time(value); None (the field unset) passes through."""
    if value is None:
        return None
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(parse_time(value))
    return message


def duration_message(value: Duration | None) -> duration_pb2.Duration | None:
    """A Duration field of parse_duration(value); None (the field unset) passes through."""
    if value is None:
        return None
    message = duration_pb2.Duration()
    message.FromTimedelta(parse_duration(value))
    return message


def to_dict(message: Message) -> dict[str, Any]:
    """Turns a response message into plain Python values, keyed by the proto field names.

    Timestamps become UTC datetimes, Durations timedeltas, and enum values their short lower
    names as Elasticsearch writes them (JOB_STATE_OPENED -> "opened"); maps and Structs become dicts. Unset Timestamps,
    Durations, messages and `optional` scalars are None; other scalars keep proto defaults, so
    every field of the message is present.
    """
    return {field.name: _field_value(message, field) for field in message.DESCRIPTOR.fields}


def _field_value(message: Message, field: Any) -> Any:
    value = getattr(message, field.name)
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value_field = field.message_type.fields_by_name["value"]
        return {key: _single_value(value_field, item) for key, item in value.items()}
    if field.is_repeated:
        return [_single_value(field, item) for item in value]
    if field.has_presence and not message.HasField(field.name):
        return None
    return _single_value(field, value)


def _single_value(field: FieldDescriptor, value: Any) -> Any:
    if field.enum_type is not None:
        prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", field.enum_type.name).upper() + "_"
        return field.enum_type.values_by_number[value].name.removeprefix(prefix).lower()
    if field.message_type is None:
        return value
    match field.message_type.full_name:
        case "google.protobuf.Timestamp":
            return value.ToDatetime(tzinfo=dt.UTC)
        case "google.protobuf.Duration":
            return value.ToTimedelta()
        case "google.protobuf.Struct":
            return json_format.MessageToDict(value)
        case _:
            return to_dict(value)
