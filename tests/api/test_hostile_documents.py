"""PostData through the real server with hostile documents: they cost only themselves, never the stream."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from anomalyd.v1 import job_pb2
from anomalyd.v1 import job_service_pb2 as pb
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
