"""Job configurations through the real server, accepted and refused as Elasticsearch validates them."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from anomalyd.v1 import job_pb2, model_snapshot_service_pb2_grpc, results_service_pb2_grpc
from anomalyd.v1 import job_service_pb2 as pb
from anomalyd.v1 import model_snapshot_service_pb2 as spb
from anomalyd.v1 import results_service_pb2 as rpb
from tests.conftest import error_info, error_reason, job


def put(stub, message: job_pb2.Job) -> job_pb2.Job:
    return stub.PutJob(pb.PutJobRequest(job=message), timeout=10).job


def refused_fields(stub, message: job_pb2.Job) -> list[str]:
    """The fields a refused PutJob names, checking its code and reason."""
    with pytest.raises(grpc.RpcError) as err:
        put(stub, message)
    assert (err.value.code(), error_reason(err.value)) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_JOB_CONFIG")
    bad = error_details_pb2.BadRequest()
    next(d for d in rpc_status.from_call(err.value).details if d.Is(bad.DESCRIPTOR)).Unpack(bad)
    return [v.field for v in bad.field_violations]


def test_retention_days_of_zero_are_accepted_and_keep_the_newest_bucket_and_snapshot(running):
    stub = running.stub
    stored = put(stub, job("forgetful", job_pb2.Detector(function="count"), span_s=60,
                           results_retention_days=0, model_snapshot_retention_days=0))
    assert (stored.results_retention_days, stored.model_snapshot_retention_days) == (0, 0)
    assert stored.daily_model_snapshot_retention_after_days == 0  # Elasticsearch's default stays within the retention
    stub.OpenJob(pb.OpenJobRequest(job_id="forgetful"), timeout=10)
    snapshots = model_snapshot_service_pb2_grpc.ModelSnapshotServiceStub(running.channel)
    for first in (0, 30):
        data = b"".join(b'{"time": %d}\n' % (60 * i) for i in range(first, first + 30))
        stub.PostData(iter([pb.PostDataRequest(job_id="forgetful", data=data)]), timeout=30)
        if not first:
            snapshots.CreateModelSnapshot(spb.CreateModelSnapshotRequest(job_id="forgetful"), timeout=30)
    stub.CloseJob(pb.CloseJobRequest(job_id="forgetful"), timeout=30)  # a snapshot, then retention
    results = results_service_pb2_grpc.ResultsServiceStub(running.channel)
    buckets = results.GetBuckets(rpb.GetBucketsRequest(job_id="forgetful"), timeout=10).buckets
    assert [b.timestamp.seconds for b in buckets] == [58 * 60]  # the newest finalised bucket
    assert snapshots.GetModelSnapshots(spb.GetModelSnapshotsRequest(job_id="forgetful"), timeout=10).count == 1


def test_fractional_memory_limits_count_bytes_and_are_cut_to_whole_mb(stub):
    limits = {"half": "0.5gb", "one-and-a-half": "1.5gb", "spaced": "1.5 GB", "small": "2.9mb"}
    for job_id, text in limits.items():
        put(stub, job(job_id, analysis_limits=job_pb2.AnalysisLimits(model_memory_limit=text)))
    stored = {j.job_id: j.analysis_limits.model_memory_limit for j in stub.GetJobs(pb.GetJobsRequest(), timeout=10).jobs}
    assert stored == {"half": "512mb", "one-and-a-half": "1536mb", "spaced": "1536mb", "small": "2mb"}
    for text in ("0.5mb", "1.5.gb", "1e99gb", "2048gb"):  # under 1 MB, malformed, over the cap
        assert refused_fields(stub, job("x", analysis_limits=job_pb2.AnalysisLimits(model_memory_limit=text))) == [
            "analysis_limits.model_memory_limit"
        ]


def test_fields_named_dot_or_with_empty_segments_are_refused(stub):
    assert refused_fields(stub, job("dot", job_pb2.Detector(function="mean", field_name="."))) == [
        "analysis_config.detectors[0].field_name"
    ]
    assert refused_fields(stub, job("dots", job_pb2.Detector(function="count", partition_field_name="a..b"))) == [
        "analysis_config.detectors[0].partition_field_name"
    ]
    assert refused_fields(stub, job("lead", job_pb2.Detector(function="count"), influencers=[".host"])) == [
        "analysis_config.influencers[0]"
    ]
    put(stub, job("nested", job_pb2.Detector(function="mean", field_name="a.b.c")))


def test_duplicate_detectors_are_refused(stub):
    mean = job_pb2.Detector(function="mean", field_name="responsetime", by_field_name="airline")
    assert refused_fields(stub, job("twice", job_pb2.Detector(function="count"), mean, mean)) == ["analysis_config.detectors[2]"]
    # Equal detectors with their own descriptions are not duplicates, in Elasticsearch either.
    described = job_pb2.Detector(function="mean", field_name="responsetime", by_field_name="airline", detector_description="again")
    put(stub, job("described", mean, described))


def test_job_ids_and_group_names_share_one_namespace(stub):
    put(stub, job("web-1", groups=["web"]))
    put(stub, job("web-2", groups=["web"]))  # a group holds many jobs
    for clash in (job("web"), job("db-1", groups=["web-1"]), job("self", groups=["self"])):
        with pytest.raises(grpc.RpcError) as err:
            put(stub, clash)
        assert (err.value.code(), error_reason(err.value)) == (grpc.StatusCode.ALREADY_EXISTS, "JOB_AND_GROUP_NAMES_MUST_BE_UNIQUE")
        assert error_info(err.value).metadata["jobId"] == clash.job_id
    assert [j.job_id for j in stub.GetJobs(pb.GetJobsRequest(), timeout=10).jobs] == ["web-1", "web-2"]


def test_default_detector_descriptions_quote_names_and_say_usenull(stub):
    stored = put(stub, job(
        "described",
        job_pb2.Detector(function="mean", field_name="response time", by_field_name="airline", use_null=True),
        job_pb2.Detector(function="high_sum", field_name="bytes", by_field_name="user-agent", partition_field_name="host.name"),
        job_pb2.Detector(function="nzc", partition_field_name="region"),
    ))
    assert [d.detector_description for d in stored.analysis_config.detectors] == [
        'mean("response time") by airline usenull=true',
        'high_sum(bytes) by "user-agent" partitionfield="host.name"',
        "non_zero_count partitionfield=region",
    ]


@pytest.mark.parametrize(
    ("function", "field", "refused"),
    [
        ("dc", "", "field_name"), ("high_distinct_count", "", "field_name"), ("low_info_content", "", "field_name"),
        ("lat_long", "", "field_name"), ("time_of_day", "t", "field_name"), ("time_of_week", "t", "field_name"),
        ("high_time_of_day", "", "function"), ("low_lat_long", "f", "function"),
    ],
)
def test_value_functions_take_and_refuse_fields_as_elasticsearch_does(stub, function, field, refused):
    detector = job_pb2.Detector(function=function, field_name=field, by_field_name="user", partition_field_name="site")
    assert refused_fields(stub, job("refused", detector)) == [f"analysis_config.detectors[0].{refused}"]
    accepted = job_pb2.Detector(function=function.removeprefix("high_").removeprefix("low_"),
                                field_name="" if "time_of" in function else "f", by_field_name="user", partition_field_name="site")
    assert put(stub, job("accepted", accepted)).analysis_config.detectors[0].function == accepted.function
