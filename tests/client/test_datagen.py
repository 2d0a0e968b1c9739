"""The demo's data set: deterministic, realistic in shape, with the incidents it reports."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import numpy as np
import pytest

from anomalyd_client.datagen import AIRLINES, START, Incident, generate

Week = tuple[list[dict[str, Any]], list[Incident]]


@pytest.fixture(scope="module")
def week() -> Week:
    return generate(7)


def _series(
    records: list[dict[str, Any]], airline: str, start: dt.datetime, end: dt.datetime
) -> np.ndarray:
    lo, hi = start.timestamp(), end.timestamp()
    return np.array(
        [r["responsetime"] for r in records if r["airline"] == airline and lo <= r["time"] < hi]
    )


def test_same_seed_same_data_other_seed_other_data() -> None:
    assert generate(3, hours=24) == generate(3, hours=24)
    assert generate(3, hours=24)[0] != generate(4, hours=24)[0]


def test_a_week_is_over_100k_time_ordered_records_from_every_airline(week: Week) -> None:
    records, _ = week
    times = np.array([r["time"] for r in records])
    assert len(records) > 100_000
    assert np.all(np.diff(times) >= 0)
    assert START.timestamp() <= times[0] and times[-1] < START.timestamp() + 7 * 86400
    assert {r["airline"] for r in records} == set(AIRLINES)
    assert set(records[0]) == {"time", "airline", "responsetime"}


def test_generating_a_week_is_fast() -> None:
    started = time.perf_counter()
    generate(1)
    assert time.perf_counter() - started < 2


def test_nights_are_quieter_than_afternoons(week: Week) -> None:
    hours = np.array([r["time"] for r in week[0]]) // 3600 % 24
    assert np.sum(hours == 15) > 2.5 * np.sum(hours == 3)


def test_incidents_are_where_the_generator_says(week: Week) -> None:
    records, incidents = week
    assert [x.kind for x in incidents] == ["drop", "spike", "surge", "level shift"]
    assert all(x.start < x.end for x in incidents)
    day = dt.timedelta(days=1)
    for incident in incidents:
        during = _series(records, incident.airline, incident.start, incident.end)
        before = _series(records, incident.airline, incident.start - day, incident.end - day)
        ratio = len(during) / len(before) if incident.field == "count" else np.median(during) / np.median(before)
        assert ratio == pytest.approx(incident.factor, rel=0.5), incident


def test_short_spans_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 24"):
        generate(0, hours=12)


def test_describe_reads_well() -> None:
    incident = Incident(
        "spike", "JBU", "responsetime", START, START + dt.timedelta(minutes=30), 3.5
    )
    assert incident.describe() == "JBU responsetime x3.5 (spike) for 30m"
