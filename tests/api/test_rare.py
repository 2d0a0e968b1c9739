"""rare and freq_rare through the real server: each planted incident is the top record, its quiet twin pages nobody."""

from __future__ import annotations

import json

import grpc
import pytest

from anomalyd.v1 import job_pb2, results_service_pb2_grpc
from anomalyd.v1 import job_service_pb2 as pb
from anomalyd.v1 import results_service_pb2 as rpb
from tests.api.rare_streams import INCIDENT_S, SPAN_S, port_stream, process_stream, uri_stream
from tests.conftest import error_reason, job

QUIET = 25.0  # no record a person would page on


def records(running, job_id: str, detector: job_pb2.Detector, docs: list[dict[str, object]]) -> list:
    """The job's records, highest score first, after posting docs and closing the job."""
    running.stub.PutJob(pb.PutJobRequest(job=job(job_id, detector, span_s=SPAN_S)), timeout=10)
    running.stub.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=10)
    data = "".join(json.dumps(d) + "\n" for d in docs).encode()
    chunks = [data[i:i + 500_000] for i in range(0, len(data), 500_000)]
    running.stub.PostData(iter([pb.PostDataRequest(job_id=job_id)] + [pb.PostDataRequest(data=c) for c in chunks]), timeout=120)
    running.stub.CloseJob(pb.CloseJobRequest(job_id=job_id), timeout=60)
    results = results_service_pb2_grpc.ResultsServiceStub(running.channel)
    found = results.GetRecords(rpb.GetRecordsRequest(job_id=job_id, sort="record_score", desc=True, page=rpb.Page(size=50)), timeout=30)
    return list(found.records)


@pytest.mark.parametrize("partition", ["host", ""])
def test_a_process_never_seen_on_a_host_is_rare(running, partition):
    detector = job_pb2.Detector(function="rare", by_field_name="process", partition_field_name=partition)
    top = records(running, "processes", detector, process_stream(planted=True))[0]
    assert (top.timestamp.seconds, top.function, top.by_field_value) == (INCIDENT_S, "rare", "mimikatz")
    assert top.partition_field_value == ("web-2" if partition else "")
    assert top.record_score >= 50 and top.actual == [1.0]
    quiet = records(running, "processes-quiet", detector, process_stream(planted=False))
    assert max((r.record_score for r in quiet), default=0.0) < QUIET


def test_a_port_no_other_host_uses_is_rare_in_the_population(running):
    detector = job_pb2.Detector(function="rare", by_field_name="port", over_field_name="host")
    top = records(running, "ports", detector, port_stream(planted=True))[0]
    assert (top.timestamp.seconds, top.over_field_name, top.over_field_value) == (INCIDENT_S, "host", "host-7")
    assert top.record_score >= 50 and top.by_field_value == ""
    cause = top.causes[0]
    assert (cause.by_field_name, cause.by_field_value, cause.over_field_value, cause.function) == ("port", "31337", "host-7", "rare")
    assert cause.probability == pytest.approx(top.probability)
    quiet = records(running, "ports-quiet", detector, port_stream(planted=False))
    assert max((r.record_score for r in quiet), default=0.0) < QUIET


def test_a_client_that_keeps_hitting_rare_uris_is_freq_rare(running):
    detector = job_pb2.Detector(function="freq_rare", by_field_name="uri", over_field_name="client")
    found = records(running, "uris", detector, uri_stream(planted=True))
    top = found[0]
    assert (top.timestamp.seconds, top.over_field_value, top.function) == (INCIDENT_S, "client-13", "freq_rare")
    assert top.record_score >= 50 and top.actual[0] >= 30 > top.typical[0]
    assert len(top.causes) == 10 and all(c.by_field_value.startswith("/admin/") for c in top.causes)
    # The hour of scraping: its four buckets are the top four records.
    assert {r.timestamp.seconds for r in found[:4]} == {INCIDENT_S + k * SPAN_S for k in range(4)}
    quiet = records(running, "uris-quiet", detector, uri_stream(planted=False))
    assert max((r.record_score for r in quiet), default=0.0) < QUIET


@pytest.mark.parametrize(("fields", "violation"), [
    ({"function": "rare"}, "by_field_name"),
    ({"function": "rare", "by_field_name": "process", "field_name": "bytes"}, "field_name"),
    ({"function": "freq_rare", "by_field_name": "uri"}, "over_field_name"),
    ({"function": "freq_rare", "over_field_name": "client"}, "by_field_name"),
])
def test_validation_follows_elasticsearch(running, fields, violation):
    with pytest.raises(grpc.RpcError) as err:
        running.stub.PutJob(pb.PutJobRequest(job=job("bad", job_pb2.Detector(**fields))), timeout=10)
    assert (err.value.code(), error_reason(err.value)) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_JOB_CONFIG")
    assert violation in err.value.details()
