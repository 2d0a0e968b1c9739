"""PostData through the real server: exact data counts, bad input, columnar batches."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from google.protobuf import timestamp_pb2

from anomalyd.v1 import column_batch_pb2, job_pb2, job_stats_pb2, results_service_pb2_grpc
from anomalyd.v1 import job_service_pb2 as pb
from anomalyd.v1 import results_service_pb2 as rpb
from tests.conftest import error_reason, job

# A hand-checked upload: span 60 s, analysis fields host and value. Each line's fate:
LINES = [
    b'{"time": 1000, "host": "a", "value": 1}',  # processed; bucket 960
    b'{"time": 1010, "host": "b"}',  # processed, value missing
    b'{"time": "garbage", "host": "a", "value": 2}',  # invalid date
    b'{"host": "a", "value": 3}',  # invalid date (no time): a missing field, and 2 - 1 input fields
    b'{"time": 1100, "value": 4}',  # processed, host missing; bucket 1080
    b'{"time": 1030, "host": "a", "value": 5}',  # out of order: before 1080 - latency 0
    b'{"time": 1085, "host": "a", "value": 6, "extra": {"x": 1, "y": [1, 2]}}',  # 4 leaf fields
    b'{"time": 1500, "host": "c", "value": 7}',  # processed; bucket 1500
    b"not json",  # malformed
    b"[1, 2]",  # not an object
    b'{"time": 1501.9, "host": "c", "value": 8}',  # epoch seconds with a fraction
]
DATA = b"\n".join(LINES) + b"\n"


def counts_job(stub, job_id="counts", **fields):
    detector = job_pb2.Detector(function="mean", field_name="value", by_field_name="host")
    stub.PutJob(pb.PutJobRequest(job=job(job_id, detector, span_s=60, **fields)), timeout=10)
    stub.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=10)


def post(stub, job_id, *chunks, **first):
    messages = [pb.PostDataRequest(job_id=job_id, **first)] + [pb.PostDataRequest(data=c) for c in chunks]
    return stub.PostData(iter(messages), timeout=30).data_counts


def test_counts_match_hand_computed_expectation(stub):
    counts_job(stub)
    counts = post(stub, "counts", DATA)
    assert counts.processed_record_count == 6
    assert counts.invalid_date_count == 2
    assert counts.out_of_order_timestamp_count == 1
    assert counts.input_record_count == 9
    assert counts.missing_field_count == 3  # the time field counts, as in Elasticsearch
    assert counts.input_field_count == 17
    assert counts.processed_field_count == 6 * 2 - 3
    assert counts.malformed_document_count == 2
    assert counts.input_bytes == len(DATA)
    assert counts.earliest_record_timestamp.ToMilliseconds() == 1_000_000
    assert counts.latest_record_timestamp.ToMilliseconds() == 1_501_900
    # Buckets 960..1440 leave the diagnostics window at the upload's end; 1500 is the newest.
    assert counts.bucket_count == 9
    assert counts.empty_bucket_count == 7
    assert counts.latest_empty_bucket_timestamp.ToMilliseconds() == 1_440_000
    assert counts.sparse_bucket_count == 0
    assert counts.latest_bucket_timestamp.ToMilliseconds() == 1_440_000
    assert counts.last_data_time.seconds > 0


@pytest.mark.parametrize("cut", [1, 7, 40, 123, len(DATA) // 2, len(DATA) - 3])
def test_chunk_boundaries_do_not_change_counts(stub, cut):
    counts_job(stub)
    whole = post(stub, "counts", DATA[:cut], DATA[cut:])
    assert (whole.processed_record_count, whole.invalid_date_count, whole.malformed_document_count,
            whole.input_field_count, whole.missing_field_count) == (6, 2, 2, 17, 3)


def test_upload_counts_are_per_upload_and_stats_are_totals(stub):
    counts_job(stub)
    post(stub, "counts", DATA)
    second = post(stub, "counts", b'{"time": 1600, "host": "a", "value": 1}\n{"time": 10, "host": "a", "value": 1}\n')
    assert (second.processed_record_count, second.out_of_order_timestamp_count) == (1, 1)
    # Elasticsearch's upload counts carry earliest_record_timestamp only in the upload that set it.
    assert not second.HasField("earliest_record_timestamp")
    assert second.latest_record_timestamp.ToMilliseconds() == 1_600_000
    totals = stub.GetJobStats(pb.GetJobStatsRequest(job_id="counts"), timeout=10).jobs[0].data_counts
    assert (totals.processed_record_count, totals.out_of_order_timestamp_count) == (7, 2)
    assert totals.earliest_record_timestamp.ToMilliseconds() == 1_000_000
    assert totals.input_record_count == 11


def test_arrays_of_objects_are_present_fields_and_a_missing_time_is_a_missing_field(stub):
    counts_job(stub)
    lines = b'{"time": 1000, "host": [{"name": "a"}], "value": 1}\n{"host": "a"}\n{}\n'
    counts = post(stub, "counts", lines)
    assert (counts.processed_record_count, counts.invalid_date_count) == (1, 2)
    # host is present though it holds only objects; the record without time or value misses 2
    # fields, and the empty one misses all 3 (time, host, value).
    assert counts.missing_field_count == 0 + 2 + 3
    # Each record's field count less one for its time, with or without one, never below 0.
    assert counts.input_field_count == 2 + 0 + 0


def test_latency_accepts_late_records_within_the_window(stub):
    counts_job(stub, latency_s=120)
    lines = b'{"time": 1000, "host": "a", "value": 1}\n{"time": 1300, "host": "a", "value": 1}\n' \
            b'{"time": 1130, "host": "a", "value": 1}\n{"time": 1050, "host": "a", "value": 1}\n'
    counts = post(stub, "counts", lines)
    # floor(1300, 60) - 120 = 1140: 1130 and 1050 are too late.
    assert (counts.processed_record_count, counts.out_of_order_timestamp_count) == (2, 2)
    lines = b'{"time": 1145, "host": "a", "value": 1}\n'
    assert post(stub, "counts", lines).processed_record_count == 1


def test_reset_range_takes_its_buckets_anew_under_the_out_of_order_rule(running):
    stub = running.stub
    stub.PutJob(pb.PutJobRequest(job=job("reset", job_pb2.Detector(function="count"), span_s=60)), timeout=10)
    stub.OpenJob(pb.OpenJobRequest(job_id="reset"), timeout=10)
    post(stub, "reset", b'{"time": 1000}\n{"time": 5000}\n{"time": 5001}\n')
    # reset_end equal to reset_start is one second on: bucket [4980, 5040) is reset. As in
    # Elasticsearch, 1001 is still out of order: older than floor(5001, 60).
    at = timestamp_pb2.Timestamp(seconds=4980)
    counts = post(stub, "reset", b'{"time": 5002}\n{"time": 1001}\n', reset_start=at, reset_end=at)
    assert (counts.processed_record_count, counts.out_of_order_timestamp_count) == (1, 1)
    stub.FlushJob(pb.FlushJobRequest(job_id="reset", advance_time=timestamp_pb2.Timestamp(seconds=5040)), timeout=30)
    results = results_service_pb2_grpc.ResultsServiceStub(running.channel)
    [bucket] = results.GetBuckets(rpb.GetBucketsRequest(job_id="reset", timestamp=at), timeout=10).buckets
    assert bucket.event_count == 1  # the two records before the reset are forgotten
    with pytest.raises(grpc.RpcError) as err:
        post(stub, "reset", b'{"time": 5003}\n', reset_end=at)
    assert (err.value.code(), error_reason(err.value)) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST")


def test_time_format_pattern_and_nested_time_field(stub):
    detector = job_pb2.Detector(function="count")
    stub.PutJob(pb.PutJobRequest(job=job("pattern", detector, data_description=job_pb2.DataDescription(
        time_field="event.ts", time_format="yyyy-MM-dd'T'HH:mm:ssXXX"))), timeout=10)
    stub.OpenJob(pb.OpenJobRequest(job_id="pattern"), timeout=10)
    data = b'{"event": {"ts": "2024-01-01T00:00:00+01:00"}}\n{"event": {"ts": "2024-01-01 00:00"}}\n'
    counts = post(stub, "pattern", data)
    assert (counts.processed_record_count, counts.invalid_date_count) == (1, 1)
    assert counts.earliest_record_timestamp.ToMilliseconds() == 1704063600000


def test_whitespace_separated_and_adjacent_documents(stub):
    counts_job(stub)
    data = b'{"time": 1000, "host": "a", "value": 1}{"time": 1001, "host": "a", "value": 2}  \t' \
           b'{"time": 1002,\n "host": "a",\n "value": 3}'
    counts = post(stub, "counts", data[:30], data[30:70], data[70:])
    assert counts.processed_record_count == 3
    assert counts.malformed_document_count == 0


def test_too_many_malformed_documents_fail_the_upload_but_keep_earlier_records(stub):
    counts_job(stub)
    good = b'{"time": 1000, "host": "a", "value": 1}\n'
    with pytest.raises(grpc.RpcError) as err:
        post(stub, "counts", good, b"garbage\n" * 101)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(err.value) == "TOO_MANY_PARSE_ERRORS"
    stats = stub.GetJobStats(pb.GetJobStatsRequest(job_id="counts"), timeout=10).jobs[0]
    assert stats.state == job_stats_pb2.JOB_STATE_OPENED
    assert stats.data_counts.processed_record_count == 1
    assert post(stub, "counts", b'{"time": 1001, "host": "a", "value": 1}\n').processed_record_count == 1


def test_message_over_the_size_limit_is_refused_and_the_job_stays_usable(running):
    counts_job(running.stub)
    limit = running.server.settings.max_message_bytes
    with pytest.raises(grpc.RpcError) as err:
        post(running.stub, "counts", b" " * (limit + 1))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_reason(err.value) == "CHUNK_TOO_LARGE"
    assert post(running.stub, "counts", DATA).processed_record_count == 6


def test_document_over_the_size_limit_is_refused(running):
    counts_job(running.stub)
    huge = b'{"time": 1000, "blob": "' + b"x" * running.server.settings.max_document_bytes
    with pytest.raises(grpc.RpcError) as err:
        post(running.stub, "counts", huge)
    assert error_reason(err.value) == "CHUNK_TOO_LARGE"


def test_columnar_batches_count_like_json(stub):
    counts_job(stub)
    times = np.array([1000, 1010, np.iinfo(np.int64).min, 1100, 1030, 1085, 1500, 1501.9]) * 1000
    times[2] = np.iinfo(np.int64).min
    batch = column_batch_pb2.ColumnBatch(
        times=times.astype(np.int64).tolist(),
        numeric_columns=[column_batch_pb2.NumericColumn(name="value", values=[1, np.nan, 2, 4, 5, 6, 7, 8])],
        string_columns=[column_batch_pb2.StringColumn(name="host", dictionary=["a", "b", "c"], codes=[1, 2, 1, 0, 1, 1, 3, 3])],
    )
    counts = stub.PostData(iter([pb.PostDataRequest(job_id="counts", columns=batch)]), timeout=10).data_counts
    assert (counts.processed_record_count, counts.invalid_date_count, counts.out_of_order_timestamp_count) == (6, 1, 1)
    assert counts.missing_field_count == 2
    assert counts.input_field_count == 14
    assert counts.input_bytes == batch.ByteSize()
    assert counts.latest_record_timestamp.ToMilliseconds() == 1_501_900


@pytest.mark.parametrize(
    "batch",
    [
        column_batch_pb2.ColumnBatch(times=[1, 2], numeric_columns=[column_batch_pb2.NumericColumn(name="value", values=[1.0])]),
        column_batch_pb2.ColumnBatch(times=[1], string_columns=[column_batch_pb2.StringColumn(name="host", dictionary=["a"], codes=[2])]),
        column_batch_pb2.ColumnBatch(times=[1], numeric_columns=[column_batch_pb2.NumericColumn(name="v", values=[1]), column_batch_pb2.NumericColumn(name="v", values=[1])]),
    ],
    ids=["length", "code", "duplicate"],
)
def test_inconsistent_columnar_batches_are_refused(stub, batch):
    counts_job(stub)
    with pytest.raises(grpc.RpcError) as err:
        stub.PostData(iter([pb.PostDataRequest(job_id="counts", columns=batch)]), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(err.value) == "INVALID_COLUMN_BATCH"


def test_first_message_must_name_the_job_and_later_ones_the_same(stub):
    counts_job(stub)
    with pytest.raises(grpc.RpcError) as err:
        stub.PostData(iter([pb.PostDataRequest(data=DATA)]), timeout=10)
    assert error_reason(err.value) == "INVALID_REQUEST"
    with pytest.raises(grpc.RpcError) as err:
        stub.PostData(iter([pb.PostDataRequest(job_id="counts"), pb.PostDataRequest(job_id="other", data=DATA)]), timeout=10)
    assert error_reason(err.value) == "INVALID_REQUEST"


def test_post_to_unknown_or_closed_job(stub):
    with pytest.raises(grpc.RpcError) as err:
        post(stub, "nope", DATA)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    stub.PutJob(pb.PutJobRequest(job=job("closed-job")), timeout=10)
    with pytest.raises(grpc.RpcError) as err:
        post(stub, "closed-job", DATA)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(err.value) == "JOB_NOT_OPEN"


def test_records_are_the_same_whatever_order_each_message_names_the_split_values_in(running):
    """Messages naming hosts in a new order each time (their dictionaries are reordered) score as one message does."""
    results = results_service_pb2_grpc.ResultsServiceStub(running.channel)
    rng = np.random.default_rng(3)
    hosts = ["a", "b", "c", "d"]
    messages = []
    for bucket in range(120):
        order = hosts[bucket % 4 :] + hosts[: bucket % 4] if bucket % 7 else hosts[1:]  # every 7th lacks "a"
        lines = [
            b'{"time": %d, "host": "%s", "value": %r}' % (bucket * 60 + i, host.encode(), 100.0 if (bucket, host) == (100, "c") else rng.normal(10, 1))
            for i, host in enumerate(order * 3)
        ]
        messages.append(b"\n".join(lines) + b"\n")
    detector = job_pb2.Detector(function="mean", field_name="value", by_field_name="host")
    found = {}
    for job_id, chunks in (("rotating", messages), ("whole", [b"".join(messages)])):
        running.stub.PutJob(pb.PutJobRequest(job=job(job_id, detector, span_s=60, influencers=["host"])), timeout=10)
        running.stub.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=10)
        post(running.stub, job_id, *chunks)
        running.stub.FlushJob(pb.FlushJobRequest(job_id=job_id, advance_time=timestamp_pb2.Timestamp(seconds=121 * 60)), timeout=30)
        records = results.GetRecords(rpb.GetRecordsRequest(job_id=job_id, page=rpb.Page(size=1000)), timeout=10).records
        # Scores move with renormalisation, which each message's end may run: the models' probabilities may not.
        found[job_id] = sorted((r.timestamp.seconds, r.by_field_value, r.probability, *r.actual) for r in records)
    assert found["rotating"] == found["whole"]
    assert min(found["rotating"], key=lambda r: r[2])[:2] == (100 * 60, "c")
