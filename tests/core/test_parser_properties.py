"""Fuzzing the readers of client input: time formats, columnar batches and job id expressions.

Whatever a client sends, each either answers or raises the anomalyd error meant for it; nothing
else escapes to become INTERNAL.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anomalyd.api import convert
from anomalyd.core.config import JobConfig
from anomalyd.core.errors import InvalidColumns, JobNotFound
from anomalyd.core.ingest import RecordReader
from anomalyd.core.jobs import JobManager
from anomalyd.core.repository import Repository
from anomalyd.core.timeparse import time_parser
from anomalyd.storage.lmdb_store import LmdbStore
from anomalyd.v1 import column_batch_pb2
from tests.conftest import job

PATTERN_LETTERS = "yuMdHhmsSXxZaEGQwWk'-:./ T%"
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)
DATES = st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}".format,
    st.integers(0, 10_000), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25), st.integers(0, 61),
    st.integers(0, 61), st.sampled_from(["Z", "+01:00", "-23:59", "+99:99", ""]),
)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(pattern=st.sampled_from(["epoch", "epoch_ms", "yyyy-MM-dd'T'HH:mm:ssXXX"]) | st.text(PATTERN_LETTERS, max_size=24),
       values=st.lists(JSON_VALUES | DATES, max_size=8))
def test_any_time_format_and_value_parse_or_fail_as_invalid_dates(pattern: str, values: list[object]) -> None:
    try:
        parse = time_parser(pattern)
    except ValueError:
        return  # refused at PutJob as INVALID_JOB_CONFIG
    millis, invalid = parse(values)
    assert len(millis) == len(invalid) == len(values)
    assert (np.abs(millis[~invalid]) <= 253_402_300_799_999).all()


NAMES = st.sampled_from(["value", "host", "", "time", "x" * 300])
COLUMNS = st.builds(
    column_batch_pb2.ColumnBatch,
    times=st.lists(st.integers(-(2**63), 2**63 - 1), max_size=6),
    numeric_columns=st.lists(
        st.builds(column_batch_pb2.NumericColumn, name=NAMES, values=st.lists(st.floats(), max_size=6)), max_size=3
    ),
    string_columns=st.lists(
        st.builds(
            column_batch_pb2.StringColumn,
            name=NAMES,
            dictionary=st.lists(st.text(max_size=5), max_size=4),
            codes=st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 5), max_size=6),
        ),
        max_size=3,
    ),
)
READER = RecordReader(JobConfig("c", detectors=(), influencers=("host",), time_format="epoch_ms"))


@PROPERTY
@given(columns=COLUMNS)
def test_any_column_batch_is_read_or_refused_as_invalid_columns(columns: column_batch_pb2.ColumnBatch) -> None:
    try:
        batch, invalid = convert.record_batch(columns)
    except InvalidColumns:
        return
    parsed = READER.from_columns(batch, invalid)
    assert len(parsed.batch) == len(parsed.invalid_time) == len(columns.times)
    valid = parsed.batch.times[~parsed.invalid_time]
    assert (np.abs(valid) <= 253_402_300_799_999).all()


@pytest.fixture(scope="module")
def manager(tmp_path_factory: pytest.TempPathFactory) -> JobManager:
    jobs = JobManager(Repository(LmdbStore(str(tmp_path_factory.mktemp("lmdb")))), max_document_bytes=1 << 20, max_open_jobs=4)
    for job_id in ("web-1", "web-2", "db"):
        jobs.put_job(convert.job_config(job(job_id, groups=["prod"])))
    return jobs


@PROPERTY
@given(expression=st.text("web-12db*,_al prod.\x00", max_size=20), allow_no_match=st.booleans())
def test_any_job_id_expression_matches_jobs_or_is_not_found(manager: JobManager, expression: str, allow_no_match: bool) -> None:
    try:
        found = manager.get_jobs(expression, allow_no_match)
    except JobNotFound:
        assert not allow_no_match or any(t.strip() and "*" not in t and t.strip() != "_all" for t in expression.split(","))
        return
    assert [c.job_id for c in found] == sorted({c.job_id for c in found})


def test_infinite_numbers_are_not_numbers() -> None:
    reader = RecordReader(JobConfig("c", detectors=(), summary_count_field_name="n"))
    records = [{"time": 1, "n": v} for v in ("1e999", "-inf", "inf", 1e308 * 10, "2.5", 3)]
    numbers = reader.read(records).batch.numbers["n"]
    assert np.isnan(numbers[:4]).all() and numbers[4:].tolist() == [2.5, 3.0]
    columns = convert.record_batch(
        column_batch_pb2.ColumnBatch(
            times=[1, 2, 3], numeric_columns=[column_batch_pb2.NumericColumn(name="n", values=[float("inf"), -float("inf"), 1.0])]
        )
    )
    assert np.isnan(reader.from_columns(*columns).batch.numbers["n"][:2]).all()
