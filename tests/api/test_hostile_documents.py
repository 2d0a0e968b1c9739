"""PostData through the real server with hostile documents: they cost only themselves, never the stream."""

from __future__ import annotations

import json

import grpc
import pytest
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from anomalyd.v1 import job_pb2, results_service_pb2_grpc
from anomalyd.v1 import job_service_pb2 as pb
from anomalyd.v1 import results_service_pb2 as rpb
from tests.conftest import error_reason, job

GOOD = [b'{"time": %d, "host": "a", "value": %d}' % (1000 + i, i) for i in range(5)]
DEEP = b'{"time": 1006, "nested":' + b'{"a":' * 1200 + b"1" + b"}" * 1200 + b"}"
HUGE = b'{"time": 1007, "host": "a", "value": 1' + b"0" * 400 + b"}"


def value_job(stub, job_id="hostile"):
    detector = job_pb2.Detector(function="mean", field_name="value", by_field_name="host")
    stub.PutJob(pb.PutJobRequest(job=job(job_id, detector, span_s=60)), timeout=10)
    stub.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=10)


def post(stub, job_id, *chunks):
    messages = [pb.PostDataRequest(job_id=job_id)] + [pb.PostDataRequest(data=c) for c in chunks]
    return stub.PostData(iter(messages), timeout=60).data_counts


def processed(stub, job_id="hostile"):
    return stub.GetJobStats(pb.GetJobStatsRequest(job_id=job_id), timeout=10).jobs[0].data_counts.processed_record_count


def error_metadata(err: grpc.RpcError) -> dict[str, str]:
    status = rpc_status.from_call(err)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    next(d for d in status.details if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)).Unpack(info)
    return dict(info.metadata)


@pytest.mark.parametrize("separator", [b"\n", b" "], ids=["lines", "one-line"])
def test_deep_nesting_and_a_huge_integer_are_two_malformed_documents(stub, separator):
    value_job(stub)
    data = separator.join([*GOOD[:2], DEEP, GOOD[2], HUGE, *GOOD[3:]]) + separator
    counts = post(stub, "hostile", data)
    assert counts.processed_record_count == 5
    assert counts.malformed_document_count == 2
    assert counts.input_bytes == len(data)


def test_a_complete_document_over_the_limit_is_refused_and_records_before_it_stay(running):
    value_job(running.stub)
    limit = running.server.settings.max_document_bytes
    over = b'{"time": 1010, "blob": "' + b"x" * limit + b'"}'
    with pytest.raises(grpc.RpcError) as err:
        post(running.stub, "hostile", GOOD[0] + b"\n", GOOD[1] + b"\n" + over + b"\n" + GOOD[2] + b"\n", GOOD[3] + b"\n")
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_reason(err.value) == "CHUNK_TOO_LARGE"
    assert error_metadata(err.value)["limitBytes"] == str(limit)
    assert processed(running.stub) == 2
    assert post(running.stub, "hostile", GOOD[4] + b"\n").processed_record_count == 1


@pytest.mark.timeout(60)  # a guard only: the old splitter re-read the document on every message, for minutes
def test_a_large_document_in_1_kib_messages_is_read(stub):
    value_job(stub)
    tags = b",".join([b'"t"'] * 230_000)  # dense with tokens
    document = b'{"time": 1000, "host": "a", "value": 1, "tags": [' + tags + b"]}\n"
    assert 0.8 * (1 << 20) < len(document) < 1 << 20
    counts = post(stub, "hostile", *(document[i : i + 1024] for i in range(0, len(document), 1024)))
    assert (counts.processed_record_count, counts.malformed_document_count, counts.input_field_count) == (1, 0, 3)


ODD = [1, -0.0, 1e308, "80", "", "é😀\u2028", "٤٨,2", "48.85, 2.35", "4.885e1,2.35e0", "0x30,2", "nan,nan", "91,0", "1,2,3",
       True, False, None, [1, 2], [None], {}, {"lat": 1}, {"lat": 48.8, "lon": 2.3}, {"lat": {"x": 1}, "lon": 2},
       {"lat": "48.8", "lon": 400}, "x" * 200_000]
NEW_FUNCTIONS = [
    job_pb2.Detector(function="high_distinct_count", field_name="v", over_field_name="u", exclude_frequent="all"),
    job_pb2.Detector(function="info_content", field_name="v", by_field_name="u"),
    job_pb2.Detector(function="time_of_day", by_field_name="u"),
    job_pb2.Detector(function="time_of_week", over_field_name="u"),
    job_pb2.Detector(function="lat_long", field_name="v", over_field_name="u", partition_field_name="p"),
    job_pb2.Detector(function="rare", by_field_name="v", over_field_name="u"),
    job_pb2.Detector(function="freq_rare", by_field_name="v", over_field_name="u"),
]


def odd_documents(start_s: int) -> bytes:
    """Each odd value in every analysed field, with odd split values beside it."""
    rows = [{"time": start_s + i, "v": v, "u": u, "p": v}
            for i, v in enumerate(ODD) for u in ("a", "", "é", None, 7, [1], {"x": 1})]
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def test_odd_values_for_every_new_function_are_analysed_from_year_1_to_year_9999(running):
    running.stub.PutJob(pb.PutJobRequest(job=job("odd", *NEW_FUNCTIONS, span_s=60)), timeout=10)
    running.stub.OpenJob(pb.OpenJobRequest(job_id="odd"), timeout=10)
    for start_s in (-62_135_596_800, 0, 60, 1_700_000_000, 253_402_300_000, 253_402_300_700):  # year 1 to 9999-12-31
        assert post(running.stub, "odd", odd_documents(start_s)).processed_record_count == 7 * len(ODD)
        running.stub.FlushJob(pb.FlushJobRequest(job_id="odd", calc_interim=True), timeout=30)
    running.stub.CloseJob(pb.CloseJobRequest(job_id="odd"), timeout=30)
    results = results_service_pb2_grpc.ResultsServiceStub(running.channel)
    for start_s in (-62_135_596_800, 0, 1_699_999_980, 253_402_300_680):  # each run's bucket, with its records' count
        bucket = results.GetBuckets(rpb.GetBucketsRequest(job_id="odd", timestamp=timestamp_pb2.Timestamp(seconds=start_s)), timeout=30)
        assert bucket.buckets[0].event_count > 0
    stats = running.stub.GetJobStats(pb.GetJobStatsRequest(job_id="odd"), timeout=10).jobs[0]
    assert stats.data_counts.latest_record_timestamp.seconds == 253_402_300_700 + len(ODD) - 1
    # The split values of every kind were taken: text, numbers' JSON text, bools, "" for null, JSON of arrays
    assert stats.model_size_stats.total_over_field_count >= 5 and stats.model_size_stats.memory_status == 1
