"""Records far apart in time through the real server: a stray time 0, year 9999, advance_time to 9999."""

from __future__ import annotations

import numpy as np
import pytest
from google.protobuf import timestamp_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from anomalyd.engine.analyzer import quiet_buckets
from anomalyd.v1 import column_batch_pb2, job_pb2, results_service_pb2_grpc
from anomalyd.v1 import job_service_pb2 as pb
from anomalyd.v1 import results_service_pb2 as rpb
from tests.conftest import job

SPAN_S = 300
DAY_S = 1_767_225_600  # 2026-01-01T00:00:00Z
LAST_S = DAY_S + 86_340  # the day's last record; its bucket starts at DAY_S + 86_100
YEAR_9999_S = 253_402_296_900  # 9999-12-31T22:55:00Z
MAX_S = 253_402_300_799  # the last second a Timestamp holds
QUIET = quiet_buckets(SPAN_S * 1000)


def a_day(seed: int = 3) -> bytes:
    """One record a minute over DAY_S's day."""
    values = 50 + np.random.default_rng(seed).normal(0, 2, 1440)
    return b"".join(b'{"time": %d, "value": %.3f}\n' % (DAY_S + 60 * m, v) for m, v in enumerate(values))


def open_job(running, job_id: str) -> None:
    detectors = [job_pb2.Detector(function="count"), job_pb2.Detector(function="mean", field_name="value")]
    running.stub.PutJob(pb.PutJobRequest(job=job(job_id, *detectors, span_s=SPAN_S)), timeout=10)
    running.stub.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=10)


def post(running, job_id: str, data: bytes):
    chunks = [data[i : i + 20_000] for i in range(0, len(data), 20_000)]
    messages = [pb.PostDataRequest(job_id=job_id, data=chunks[0])] + [pb.PostDataRequest(data=c) for c in chunks[1:]]
    return running.stub.PostData(iter(messages), timeout=20).data_counts


def totals(running, job_id: str):
    counts = running.stub.GetJobStats(pb.GetJobStatsRequest(job_id=job_id), timeout=10).jobs[0].data_counts
    for wall_clock in ("last_data_time", "log_time"):
        counts.ClearField(wall_clock)
    return counts


def stored_buckets(running, job_id: str, **filters) -> int:
    results = results_service_pb2_grpc.ResultsServiceStub(running.channel)
    return results.GetBuckets(rpb.GetBucketsRequest(job_id=job_id, page=rpb.Page(size=1), **filters), timeout=10).count


def assert_answers_and_replays(running, job_id: str) -> None:
    """Health and stats answer; the journal replays to the live state; close and reopen keep it all."""
    health = health_pb2_grpc.HealthStub(running.channel)
    assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.SERVING
    manager = running.server.jobs
    live = manager._open[job_id]
    replayed = manager.persistence.replay(job_id, live.config.analysis_spec(), None, live.status.journal_sequence)
    assert replayed.to_state() == live.analyzer.to_state()
    before = totals(running, job_id), stored_buckets(running, job_id)
    running.stub.CloseJob(pb.CloseJobRequest(job_id=job_id), timeout=20)
    running.stub.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=20)
    assert (totals(running, job_id), stored_buckets(running, job_id)) == before


def ms(seconds: int) -> int:
    return seconds * 1000


@pytest.mark.timeout(60)
def test_a_stray_time_zero_before_a_day_of_data(running):
    open_job(running, "stray")
    counts = post(running, "stray", b'{"time": 0, "value": 50}\n' + a_day())
    assert (counts.processed_record_count, counts.invalid_date_count, counts.out_of_order_timestamp_count) == (1441, 0, 0)
    assert (counts.input_field_count, counts.missing_field_count, counts.processed_field_count) == (1441, 0, 1441)
    assert counts.earliest_record_timestamp.seconds == 0 and counts.latest_record_timestamp.seconds == LAST_S
    # Every bucket from 1970 to the day's newest (still open) counts; all but 288 are empty.
    newest = LAST_S // SPAN_S * SPAN_S
    assert counts.bucket_count == newest // SPAN_S
    assert counts.empty_bucket_count == newest // SPAN_S - 288
    assert counts.latest_empty_bucket_timestamp.seconds == DAY_S - SPAN_S
    assert counts.sparse_bucket_count == 0
    assert counts.latest_bucket_timestamp.seconds == newest - SPAN_S
    assert totals(running, "stray").processed_record_count == 1441
    # The stray bucket and a day of empty buckets after it; the 56 years after are jumped over.
    assert stored_buckets(running, "stray") == 1 + QUIET + 287
    assert stored_buckets(running, "stray", start=timestamp_pb2.Timestamp(seconds=DAY_S)) == 287
    assert_answers_and_replays(running, "stray")


@pytest.mark.timeout(60)
def test_a_record_in_year_9999_after_a_day_of_data(running):
    open_job(running, "future")
    post(running, "future", a_day())
    counts = post(running, "future", b'{"time": %d, "value": 50}\n' % YEAR_9999_S)
    newest = LAST_S // SPAN_S * SPAN_S
    assert (counts.processed_record_count, counts.invalid_date_count) == (1, 0)
    assert counts.latest_record_timestamp.seconds == YEAR_9999_S
    assert counts.bucket_count == (YEAR_9999_S - newest) // SPAN_S  # the day's newest bucket, then empty ones
    assert counts.empty_bucket_count == counts.bucket_count - 1
    assert counts.latest_bucket_timestamp.seconds == YEAR_9999_S - SPAN_S
    # As in Elasticsearch, later records before it are out of order.
    late = post(running, "future", b'{"time": %d, "value": 50}\n' % (LAST_S + 60))
    assert (late.processed_record_count, late.out_of_order_timestamp_count) == (0, 1)
    stats = totals(running, "future")
    assert (stats.processed_record_count, stats.out_of_order_timestamp_count) == (1441, 1)
    assert stored_buckets(running, "future") == 288 + QUIET
    assert_answers_and_replays(running, "future")


@pytest.mark.timeout(60)
def test_flush_with_interim_and_advance_time_to_year_9999(running):
    open_job(running, "advance")
    post(running, "advance", a_day())
    newest = LAST_S // SPAN_S * SPAN_S
    interim = pb.FlushJobRequest(
        job_id="advance", calc_interim=True,
        start=timestamp_pb2.Timestamp(seconds=newest), end=timestamp_pb2.Timestamp(seconds=MAX_S),
    )
    assert running.stub.FlushJob(interim, timeout=20).flushed
    assert stored_buckets(running, "advance") == 287 + 1 + QUIET
    assert stored_buckets(running, "advance", exclude_interim=True) == 287
    advanced = running.stub.FlushJob(pb.FlushJobRequest(job_id="advance", advance_time=timestamp_pb2.Timestamp(seconds=MAX_S)), timeout=20)
    end = MAX_S // SPAN_S * SPAN_S
    assert advanced.last_finalized_bucket_end.seconds == end
    assert stored_buckets(running, "advance") == stored_buckets(running, "advance", exclude_interim=True) == 288 + QUIET
    stats = totals(running, "advance")
    assert stats.processed_record_count == 1440 and stats.latest_bucket_timestamp.seconds == end - SPAN_S
    assert_answers_and_replays(running, "advance")


def test_times_a_timestamp_cannot_hold_are_invalid_dates(running):
    open_job(running, "horizon")
    counts = post(running, "horizon", b'{"time": -100000000000, "value": 1}\n{"time": %d, "value": 1}\n' % (MAX_S + 1))
    assert (counts.processed_record_count, counts.invalid_date_count) == (0, 2)
    batch = column_batch_pb2.ColumnBatch(
        times=[2**62, -(2**62), ms(MAX_S) + 1_000, ms(DAY_S), ms(MAX_S)],
        numeric_columns=[column_batch_pb2.NumericColumn(name="value", values=[1.0] * 5)],
    )
    counts = running.stub.PostData(iter([pb.PostDataRequest(job_id="horizon", columns=batch)]), timeout=20).data_counts
    assert (counts.processed_record_count, counts.invalid_date_count) == (2, 3)
    assert counts.latest_record_timestamp.ToMilliseconds() == ms(MAX_S)
    assert stored_buckets(running, "horizon") == 1 + QUIET
