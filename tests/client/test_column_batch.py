"""Building ColumnBatch messages from dicts of numpy arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anomalyd_client import column_batch

MISSING_TIME = np.iinfo(np.int64).min


def test_builds_times_numeric_and_dictionary_encoded_string_columns() -> None:
    batch = column_batch(
        {
            "time": np.array([1_000, 2_000, 3_000], dtype=np.int64),
            "responsetime": np.array([1.5, np.nan, 3.0]),
            "count": np.array([1, 2, 3], dtype=np.int32),
            "airline": np.array(["JBU", None, "AAL"], dtype=object),
            "host": np.array(["b", "a", "b"]),
        }
    )
    assert list(batch.times) == [1_000, 2_000, 3_000]
    numeric = {c.name: list(c.values) for c in batch.numeric_columns}
    assert numeric["count"] == [1.0, 2.0, 3.0]
    assert numeric["responsetime"][0] == 1.5 and np.isnan(numeric["responsetime"][1])
    strings = {c.name: (list(c.dictionary), list(c.codes)) for c in batch.string_columns}
    assert strings == {"airline": (["JBU", "AAL"], [1, 0, 2]), "host": (["a", "b"], [2, 1, 2])}


@pytest.mark.parametrize(
    "times",
    [
        np.array(["2024-02-05T00:00:01", "NaT"], dtype="datetime64[s]"),
        np.array([1_707_091_201_000.0, np.nan]),
        np.array([1_707_091_201_000, MISSING_TIME]),
    ],
)
def test_times_are_epoch_ms_with_min_int64_for_missing(times: np.ndarray) -> None:
    assert list(column_batch({"time": times}).times) == [1_707_091_201_000, MISSING_TIME]


def test_time_field_names_the_time_column() -> None:
    batch = column_batch({"@timestamp": [5], "time": [7.0]}, time_field="@timestamp")
    assert list(batch.times) == [5] and batch.numeric_columns[0].name == "time"


@pytest.mark.parametrize(
    ("columns", "error"),
    [
        ({"value": [1.0]}, KeyError),
        ({"time": [1, 2], "value": [1.0]}, ValueError),
        ({"time": ["yesterday"]}, TypeError),
        ({"time": [1], "flag": [True]}, TypeError),
    ],
)
def test_rejects_inconsistent_columns(columns: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        column_batch(columns)


@given(st.lists(st.one_of(st.none(), st.text(max_size=5)), max_size=50))
def test_string_codes_decode_to_the_values(values: list[str | None]) -> None:
    batch = column_batch(
        {"time": np.zeros(len(values), np.int64), "s": np.array(values, dtype=object)}
    )
    column = batch.string_columns[0]
    assert [column.dictionary[c - 1] if c else None for c in column.codes] == values
    assert len(set(column.dictionary)) == len(column.dictionary)
