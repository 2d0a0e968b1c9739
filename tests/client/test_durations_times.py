"""Spans, instants, and response messages as plain Python values."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anomalyd.v1 import data_counts_pb2, job_pb2, job_stats_pb2
from anomalyd_client import format_duration, parse_duration, parse_time, to_dict

UTC = dt.UTC


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5m", dt.timedelta(minutes=5)),
        ("1h", dt.timedelta(hours=1)),
        ("30s", dt.timedelta(seconds=30)),
        ("1d", dt.timedelta(days=1)),
        ("250ms", dt.timedelta(milliseconds=250)),
        ("7micros", dt.timedelta(microseconds=7)),
        ("1.5h", dt.timedelta(minutes=90)),
        (" 90 ", dt.timedelta(seconds=90)),
        ("0", dt.timedelta(0)),
        (300, dt.timedelta(minutes=5)),
        (0.5, dt.timedelta(milliseconds=500)),
        (dt.timedelta(hours=2), dt.timedelta(hours=2)),
    ],
)
def test_parse_duration(value: str | float | dt.timedelta, expected: dt.timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize("value", ["", "5 minutes", "m", "-5m", "5M", "1e3s", -1, True, None])
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (dt.timedelta(0), "0s"),
        (dt.timedelta(minutes=5), "5m"),
        (dt.timedelta(seconds=90), "90s"),
        (dt.timedelta(days=2), "2d"),
        (dt.timedelta(hours=36), "36h"),
        (dt.timedelta(milliseconds=1500), "1500ms"),
        (dt.timedelta(microseconds=3), "3micros"),
    ],
)
def test_format_duration(span: dt.timedelta, text: str) -> None:
    assert format_duration(span) == text


@given(st.timedeltas(min_value=dt.timedelta(0)))
def test_format_then_parse_gives_the_span_back(span: dt.timedelta) -> None:
    assert parse_duration(format_duration(span)) == span


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_700_000_000_000, dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("1700000000000", dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("2024-02-05T10:00:00Z", dt.datetime(2024, 2, 5, 10, tzinfo=UTC)),
        ("2024-02-05T12:00:00+02:00", dt.datetime(2024, 2, 5, 10, tzinfo=UTC)),
        ("2024-02-05 10:00:00.250", dt.datetime(2024, 2, 5, 10, 0, 0, 250_000, tzinfo=UTC)),
        ("2024-02-05", dt.datetime(2024, 2, 5, tzinfo=UTC)),
        (dt.datetime(2024, 2, 5, 10), dt.datetime(2024, 2, 5, 10, tzinfo=UTC)),
        (
            dt.datetime(2024, 2, 5, 11, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            dt.datetime(2024, 2, 5, 10, tzinfo=UTC),
        ),
    ],
)
def test_parse_time(value: str | int | dt.datetime, expected: dt.datetime) -> None:
    parsed = parse_time(value)
    assert parsed == expected and parsed.tzinfo is UTC


def test_parse_time_now_is_the_current_time() -> None:
    before = dt.datetime.now(UTC)
    assert before <= parse_time(" NOW ") <= dt.datetime.now(UTC)


@pytest.mark.parametrize("value", ["", "yesterday", "2024-13-01", "12:00", None, True])
def test_parse_time_rejects(value: object) -> None:
    with pytest.raises(ValueError, match="not a time"):
        parse_time(value)  # type: ignore[arg-type]


def test_to_dict_maps_well_known_types_enums_and_presence() -> None:
    stats = job_stats_pb2.JobStats(
        job_id="j",
        state=job_stats_pb2.JOB_STATE_OPENED,
        data_counts=data_counts_pb2.DataCounts(processed_record_count=3),
        model_size_stats=job_stats_pb2.ModelSizeStats(
            memory_status=job_stats_pb2.MEMORY_STATUS_SOFT_LIMIT
        ),
        open_time=dt.datetime(2024, 2, 5, tzinfo=UTC),
    )
    document = to_dict(stats)
    assert document["state"] == "opened"
    assert document["model_size_stats"]["memory_status"] == "soft_limit"
    assert document["open_time"] == dt.datetime(2024, 2, 5, tzinfo=UTC)
    counts = document["data_counts"]
    assert counts["processed_record_count"] == 3 and counts["invalid_date_count"] == 0
    assert counts["earliest_record_timestamp"] is None
    assert set(document) == {f.name for f in job_stats_pb2.JobStats.DESCRIPTOR.fields}


def test_to_dict_maps_durations_repeated_fields_and_optional_scalars() -> None:
    job = to_dict(
        job_pb2.Job(
            job_id="j",
            groups=["a", "b"],
            analysis_config=job_pb2.AnalysisConfig(
                bucket_span=dt.timedelta(minutes=5), detectors=[job_pb2.Detector(function="count")]
            ),
            model_snapshot_retention_days=0,
        )
    )
    assert job["groups"] == ["a", "b"]
    assert job["analysis_config"]["bucket_span"] == dt.timedelta(minutes=5)
    assert job["analysis_config"]["latency"] is None
    assert job["analysis_config"]["detectors"][0]["function"] == "count"
    assert job["model_snapshot_retention_days"] == 0  # set, even though it is the default value
    assert job["results_retention_days"] is None
