"""Fuzzing every RPC of the real server: no request, however odd, reaches its client as INTERNAL.

Requests are generated from the contract's descriptors, so an RPC or field added later is
fuzzed too. Strings favour what the server reads (job id expressions, time formats, function
and field names); numbers favour the edges of their types; timestamps and durations go beyond
their valid ranges. Every failure must be a rich status with an ErrorInfo: a client deadline or
a bare status would show a request that cost too much or escaped the error mapping.

CI runs 400 examples a test; ANOMALYD_FUZZ_EXAMPLES=3000 explores further (about a minute).
"""

from __future__ import annotations

import json
import os

import grpc
import pytest
from google.protobuf import descriptor as d
from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anomalyd.core.config import FUNCTIONS as FUNCTION_RULES
from anomalyd.v1 import (
    column_batch_pb2,
    job_pb2,
    job_service_pb2,
    model_snapshot_service_pb2,
    model_snapshot_service_pb2_grpc,
    results_service_pb2,
    results_service_pb2_grpc,
)
from anomalyd.v1 import job_service_pb2 as pb
from anomalyd.v1 import job_service_pb2_grpc as job_grpc
from tests.conftest import error_reason, job

SERVICES = (
    (job_service_pb2, "JobService", job_grpc.JobServiceStub),
    (results_service_pb2, "ResultsService", results_service_pb2_grpc.ResultsServiceStub),
    (model_snapshot_service_pb2, "ModelSnapshotService", model_snapshot_service_pb2_grpc.ModelSnapshotServiceStub),
)
JOB_IDS = st.sampled_from(["fuzz", "fuzz-closed", "fuzz*", "_all", "*", "", "fuzz,fuzz-closed", "no-such", "x" * 300, "\x00"])
EXPRESSIONS = st.text(alphabet="fuz*,_ -.x\x00", max_size=12)
TIME_FORMATS = st.sampled_from(["epoch", "epoch_ms", "yyyy-MM-dd'T'HH:mm:ssXXX", "", "MMM", "'%'yyyyMMddHH"]) | st.text(
    alphabet="yuMdHhmsSXxZaE'-:. T%", max_size=16
)
FUNCTIONS = st.sampled_from(["count", "mean", "high_sum", "rare", "metric", "lat_long", "dc", "nope", ""])
FIELDS = st.sampled_from(["value", "host", "", "time", "a.b", "a", 'x"y', "count", "é" * 3])
STRINGS = st.sampled_from(["", "1", "-1", "5m", "2gb", "999999999999tb", "1e400", "x" * 300, "\x00", "*"]) | st.text(max_size=10)
BY_NAME = {
    "job_id": JOB_IDS | EXPRESSIONS,
    "task_id": st.sampled_from(["", "x", "0:1", "x" * 2000]) | st.text(max_size=10),
    "snapshot_id": st.sampled_from(["", "1", "_all", "*", "x" * 600]),
    "time_format": TIME_FORMATS,
    "function": FUNCTIONS,
    "field_name": FIELDS,
    "by_field_name": FIELDS,
    "over_field_name": FIELDS,
    "partition_field_name": FIELDS,
    "summary_count_field_name": FIELDS,
    "time_field": FIELDS,
    "influencers": FIELDS,
    "sort": st.sampled_from(["", "timestamp", "record_score", "anomaly_score", "nope", "description"]),
    "paths": st.sampled_from(["description", "groups", "analysis_limits", "analysis_config.detectors", "custom_settings",
                              "results_retention_days", "background_persist_interval", "job_id", "analysis_config", "", "x.y"]),
}
INT_RANGES = {
    d.FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    d.FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    d.FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    d.FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    d.FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    d.FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
}
VALID_SECONDS = (-62_135_596_800, 253_402_300_799)  # Timestamp: years 1 to 9999


def integers(low: int, high: int) -> st.SearchStrategy[int]:
    edges = [v for v in (0, 1, -1, 2, 1000, 86_400, 2**31 - 1, -(2**31), 2**53, 2**62, low, high) if low <= v <= high]
    return st.sampled_from(edges) | st.integers(low, high)


def time_like(name: str) -> st.SearchStrategy[Message]:
    """Timestamps and durations: typical, extreme, and outside their valid ranges."""
    seconds = st.sampled_from([0, 1_700_000_000, *VALID_SECONDS, VALID_SECONDS[1] + 1, 2**62, -(2**62), 300, -300])
    nanos = st.sampled_from([0, 1, 999_999_999, -1, 1_000_000_000, 500_000_000])
    cls = timestamp_pb2.Timestamp if name == "Timestamp" else duration_pb2.Duration
    return st.builds(lambda s, n: cls(seconds=s, nanos=n), seconds, nanos)


def field_values(field: d.FieldDescriptor, depth: int) -> st.SearchStrategy[object]:
    kind = field.type
    if field.name in BY_NAME:
        return BY_NAME[field.name]
    if kind == d.FieldDescriptor.TYPE_STRING:
        return STRINGS
    if kind == d.FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if kind == d.FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind in (d.FieldDescriptor.TYPE_DOUBLE, d.FieldDescriptor.TYPE_FLOAT):
        return st.sampled_from([0.0, -1.0, 1e308, float("nan"), float("inf"), -float("inf"), 50.0]) | st.floats()
    if kind == d.FieldDescriptor.TYPE_ENUM:
        return st.sampled_from([v.number for v in field.enum_type.values] + [99])
    if kind in INT_RANGES:
        return integers(*INT_RANGES[kind])
    if field.message_type.full_name in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
        return time_like(field.message_type.name)
    if field.message_type.full_name == "google.protobuf.Struct":
        scalars = st.none() | st.booleans() | st.floats() | STRINGS
        return st.dictionaries(STRINGS, scalars | st.lists(scalars, max_size=3), max_size=4).map(_struct)
    return messages(field.message_type, depth + 1)


def messages(descriptor: d.Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
    """Messages of a type with any subset of their fields set, nested three deep at most."""
    from google.protobuf import message_factory

    cls = message_factory.GetMessageClass(descriptor)
    if depth > 3:
        return st.just(cls())
    fields = {}
    for field in descriptor.fields:
        values = field_values(field, depth)
        if field.is_repeated:
            values = st.lists(values, max_size=3)
        fields[field.name] = st.none() | values
    return st.fixed_dictionaries(fields).map(lambda chosen: _build(cls, chosen))


def _struct(values: dict[str, object]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


def _build(cls: type[Message], chosen: dict[str, object]) -> Message:
    message = cls()
    for name, value in chosen.items():
        if value is None:
            continue
        field = cls.DESCRIPTOR.fields_by_name[name]
        target = getattr(message, name)
        if field.is_repeated:
            for item in value:  # type: ignore[attr-defined]
                target.add().CopyFrom(item) if field.type == d.FieldDescriptor.TYPE_MESSAGE else target.append(item)
        elif field.type == d.FieldDescriptor.TYPE_MESSAGE:
            target.CopyFrom(value)
        else:
            setattr(message, name, value)
    return message


def unary_calls(channel: grpc.Channel) -> list[tuple[str, object, d.Descriptor]]:
    calls = []
    for module, service, stub_class in SERVICES:
        stub = stub_class(channel)
        for method in module.DESCRIPTOR.services_by_name[service].methods:
            if not method.client_streaming:
                calls.append((method.name, getattr(stub, method.name), method.input_type))
    return calls


def assert_precise(err: grpc.RpcError) -> None:
    """A failure the client can act on: not INTERNAL/UNKNOWN, and carrying an ErrorInfo."""
    assert err.code() not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), err
    status = rpc_status.from_call(err)
    assert status is not None and status.details, f"no rich status: {err.code()} {err.details()}"


def prepare(stub: job_grpc.JobServiceStub) -> None:
    for job_id in ("fuzz", "fuzz-closed"):
        stub.PutJob(pb.PutJobRequest(job=job(job_id, job_pb2.Detector(function="mean", field_name="value"), influencers=["host"])), timeout=10)
    stub.OpenJob(pb.OpenJobRequest(job_id="fuzz"), timeout=10)
    data = b"".join(b'{"time": %d, "value": %d, "host": "h%d"}\n' % (1_700_000_000 + 60 * i, i % 7, i % 3) for i in range(3000))
    stub.PostData(iter([pb.PostDataRequest(job_id="fuzz", data=data)]), timeout=30)


FUZZ = settings(
    max_examples=int(os.environ.get("ANOMALYD_FUZZ_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


def test_no_unary_request_reaches_its_client_as_internal(running):
    prepare(running.stub)
    calls = unary_calls(running.channel)

    @FUZZ
    @given(st.data())
    def one_request(data: st.DataObject) -> None:
        name, call, request_type = data.draw(st.sampled_from(calls), label="rpc")
        request = data.draw(messages(request_type), label=name)
        try:
            call(request, timeout=30)
        except grpc.RpcError as err:
            assert_precise(err)

    one_request()


COLUMNS = messages(pb.PostDataRequest.DESCRIPTOR.fields_by_name["columns"].message_type)
CHUNKS = st.sampled_from([b'{"time": 1700000000, "value": 1}\n', b'{"time": 1e400}\n', b"[[[[", b"\xff\xfe", b"{}"]) | st.binary(max_size=40)


@pytest.mark.timeout(120)
def test_no_upload_reaches_its_client_as_internal(running):
    prepare(running.stub)

    @FUZZ
    @given(
        job_id=JOB_IDS,
        first=messages(pb.PostDataRequest.DESCRIPTOR),
        later=st.lists(st.builds(lambda data, columns: pb.PostDataRequest(data=data, columns=columns), CHUNKS, COLUMNS), max_size=3),
    )
    def one_upload(job_id: str, first: pb.PostDataRequest, later: list[pb.PostDataRequest]) -> None:
        first.job_id = job_id
        try:
            running.stub.PostData(iter([first, *later]), timeout=30)
        except grpc.RpcError as err:
            assert_precise(err)

    one_upload()


ODD_VALUES = [1, -2.5, "80", "48.85,2.35", " -33.9 , 151.2 ", "٤٨,2", "x" * 5000, "é😀", True, None, [1, "a"], {"lat": 1},
              {"lat": 91, "lon": 0}, {"lat": {"deep": 1}, "lon": "e"}, "nan,inf", "1e400", ""]
SPLITS = {"field_name": "v", "by_field_name": "b", "over_field_name": "o", "partition_field_name": "p"}


def odd_documents(start_s: int) -> bytes:
    """Three buckets of documents whose every field takes each odd value in turn."""
    rows = []
    for i in range(3 * len(ODD_VALUES)):
        odd = ODD_VALUES[i % len(ODD_VALUES)]
        rows.append({"time": start_s + 100 * i, "v": odd, "b": ODD_VALUES[(i + 3) % len(ODD_VALUES)], "o": odd, "p": f"p{i % 2}"})
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def violation_fields(err: grpc.RpcError) -> list[str]:
    """The fields of a refusal's BadRequest."""
    bad = error_details_pb2.BadRequest()
    next(d for d in rpc_status.from_call(err).details if d.Is(bad.DESCRIPTOR)).Unpack(bad)
    return [v.field for v in bad.field_violations]


def expected_violations(detector: job_pb2.Detector) -> set[str]:
    """The fields core/config.FUNCTIONS says PutJob must name for this detector."""
    rule = FUNCTION_RULES[detector.function]
    path = "analysis_config.detectors[0]."
    wrong = {
        "field_name": rule.field != bool(detector.field_name),
        "by_field_name": rule.by_required and not detector.by_field_name,
        "over_field_name": (rule.over_required and not detector.over_field_name) or (rule.over_forbidden and bool(detector.over_field_name)),
    }
    return {path + name for name, bad in wrong.items() if bad}


@pytest.mark.timeout(120)
def test_every_function_and_split_is_analysed_or_refused_naming_its_field(running):
    columns = column_batch_pb2.ColumnBatch(
        times=[1_700_000_000_000 + 300_000 * i for i in range(4)],
        numeric_columns=[column_batch_pb2.NumericColumn(name="v", values=[1.0, float("nan"), float("inf"), -1e308])],
        string_columns=[column_batch_pb2.StringColumn(name=f, dictionary=["48.8,2.3", "", "é"], codes=[1, 0, 2, 3]) for f in "bop"],
    )

    @settings(max_examples=int(os.environ.get("ANOMALYD_FUZZ_EXAMPLES", "60")), deadline=None, derandomize=True)
    @given(st.sampled_from(sorted(FUNCTION_RULES)), st.sets(st.sampled_from(sorted(SPLITS))), st.sampled_from(["", "all", "by", "over"]))
    def one_job(function: str, fields: set[str], exclude_frequent: str) -> None:
        detector = job_pb2.Detector(function=function, exclude_frequent=exclude_frequent, **{f: SPLITS[f] for f in fields})
        job_id = f"f{abs(hash((function, tuple(sorted(fields)), exclude_frequent))) % 10**12}"
        wanted = expected_violations(detector)
        try:
            running.stub.PutJob(pb.PutJobRequest(job=job(job_id, detector, span_s=300)), timeout=10)
        except grpc.RpcError as err:
            assert (err.code(), error_reason(err)) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_JOB_CONFIG")
            assert set(violation_fields(err)) == wanted, err.details()
            return
        assert not wanted, f"{detector} was accepted"
        running.stub.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=10)
        posted = running.stub.PostData(iter([pb.PostDataRequest(job_id=job_id, data=odd_documents(1_699_000_000)),
                                             pb.PostDataRequest(columns=columns)]), timeout=30)
        assert posted.data_counts.processed_record_count == 3 * len(ODD_VALUES) + 4
        running.stub.FlushJob(pb.FlushJobRequest(job_id=job_id, calc_interim=True), timeout=30)
        running.stub.CloseJob(pb.CloseJobRequest(job_id=job_id), timeout=30)
        running.stub.DeleteJob(pb.DeleteJobRequest(job_id=job_id), timeout=30)

    one_job()
