"""UpdateJob and ResetJob through the real server, as Elasticsearch's update and reset job APIs behave."""

from __future__ import annotations

import time

import grpc
import pytest
from google.protobuf import duration_pb2, field_mask_pb2, struct_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from anomalyd.engine.results import ModelSizeStats
from anomalyd.v1 import job_pb2, model_snapshot_service_pb2_grpc
from anomalyd.v1 import job_service_pb2 as pb
from anomalyd.v1 import model_snapshot_service_pb2 as spb
from tests.api.test_results import SPAN_S, rows
from tests.api.test_snapshots import results_of
from tests.conftest import error_reason, job, serving

DATA = rows(seed=5)
HALF = DATA[: len(DATA) // 2].rsplit(b"\n", 1)[0] + b"\n"


def create(stub, job_id: str, **fields) -> job_pb2.Job:
    detectors = (job_pb2.Detector(function="mean", field_name="latency", by_field_name="host"), job_pb2.Detector(function="count"))
    return stub.PutJob(pb.PutJobRequest(job=job(job_id, *detectors, span_s=SPAN_S, influencers=["host"], **fields)), timeout=10).job


def update(stub, message: job_pb2.Job, *paths: str) -> job_pb2.Job:
    return stub.UpdateJob(pb.UpdateJobRequest(job=message, update_mask=field_mask_pb2.FieldMask(paths=list(paths))), timeout=10).job


def refused(stub, message: job_pb2.Job, *paths: str, code=grpc.StatusCode.INVALID_ARGUMENT, reason="INVALID_JOB_CONFIG") -> list[str]:
    """The fields a refused update names, checking its code and reason."""
    with pytest.raises(grpc.RpcError) as err:
        update(stub, message, *paths)
    assert (err.value.code(), error_reason(err.value)) == (code, reason), err.value.details()
    bad = error_details_pb2.BadRequest()
    details = [d for d in rpc_status.from_call(err.value).details if d.Is(bad.DESCRIPTOR)]
    if not details:
        return []
    details[0].Unpack(bad)
    return [v.field for v in bad.field_violations]


def test_update_changes_what_elasticsearch_lets_it_change(stub):
    before = create(stub, "updated", groups=["old"])
    settings = struct_pb2.Struct()
    settings.update({"owner": "sre", "tier": 2})
    changes = job_pb2.Job(
        job_id="updated", description="checkout latency", groups=["web", "checkout"],
        background_persist_interval=duration_pb2.Duration(seconds=7200), results_retention_days=30,
        model_snapshot_retention_days=5, daily_model_snapshot_retention_after_days=2, renormalization_window_days=14,
        custom_settings=settings, allow_lazy_open=True,
        analysis_config=job_pb2.AnalysisConfig(detectors=[job_pb2.Detector(detector_index=1, detector_description="all events")]),
        analysis_limits=job_pb2.AnalysisLimits(model_memory_limit="2gb"),
    )
    after = update(stub, changes, "description", "groups", "background_persist_interval", "results_retention_days",
                   "model_snapshot_retention_days", "daily_model_snapshot_retention_after_days", "renormalization_window_days",
                   "custom_settings", "allow_lazy_open", "analysis_config.detectors", "analysis_limits.model_memory_limit")
    assert (after.description, list(after.groups), after.background_persist_interval.seconds) == ("checkout latency", ["web", "checkout"], 7200)
    assert (after.results_retention_days, after.model_snapshot_retention_days, after.daily_model_snapshot_retention_after_days,
            after.renormalization_window_days) == (30, 5, 2, 14)
    assert dict(after.custom_settings) == {"owner": "sre", "tier": 2} and after.allow_lazy_open
    assert after.analysis_limits.model_memory_limit == "2048mb"
    assert [d.detector_description for d in after.analysis_config.detectors] == [
        before.analysis_config.detectors[0].detector_description, "all events",
    ]
    # What was not named stays, and the stored job is the one returned.
    assert after.analysis_config.bucket_span == before.analysis_config.bucket_span and after.create_time == before.create_time
    assert stub.GetJobs(pb.GetJobsRequest(job_id="updated"), timeout=10).jobs[0] == after
    assert [j.job_id for j in stub.GetJobs(pb.GetJobsRequest(job_id="checkout"), timeout=10).jobs] == ["updated"]
    # A named retention field left unset takes its default; an empty description, the default one.
    reset = update(stub, job_pb2.Job(job_id="updated", analysis_config=job_pb2.AnalysisConfig(
        detectors=[job_pb2.Detector(detector_index=1)])), "results_retention_days", "analysis_config.detectors")
    assert not reset.HasField("results_retention_days") and reset.analysis_config.detectors[1].detector_description == "count"


def test_update_refuses_what_elasticsearch_refuses(running):
    stub = running.stub
    create(stub, "strict")
    create(stub, "neighbour")
    for path in ("analysis_config.bucket_span", "analysis_config", "data_description.time_field", "job_id", "create_time", "nonsense"):
        assert refused(stub, job_pb2.Job(job_id="strict"), path) == [path]
    assert refused(stub, job_pb2.Job(job_id="strict")) == ["update_mask"]
    renamed = job_pb2.Job(job_id="strict", analysis_config=job_pb2.AnalysisConfig(
        detectors=[job_pb2.Detector(detector_index=0, function="max", detector_description="x")]))
    assert refused(stub, renamed, "analysis_config.detectors") == ["analysis_config.detectors[0].function"]
    missing = job_pb2.Job(job_id="strict", analysis_config=job_pb2.AnalysisConfig(detectors=[job_pb2.Detector(detector_index=7)]))
    assert refused(stub, missing, "analysis_config.detectors") == ["analysis_config.detectors.detector_index"]
    assert refused(stub, job_pb2.Job(job_id="strict", background_persist_interval=duration_pb2.Duration(seconds=60)),
                   "background_persist_interval") == ["background_persist_interval"]
    refused(stub, job_pb2.Job(job_id="strict", groups=["neighbour"]), "groups",
            code=grpc.StatusCode.ALREADY_EXISTS, reason="JOB_AND_GROUP_NAMES_MUST_BE_UNIQUE")
    with pytest.raises(grpc.RpcError) as err:
        update(stub, job_pb2.Job(job_id="nobody", description="x"), "description")
    assert error_reason(err.value) == "JOB_NOT_FOUND"
    # model_memory_limit: only while closed, and never below the model's current size.
    larger = job_pb2.Job(job_id="strict", analysis_limits=job_pb2.AnalysisLimits(model_memory_limit="64mb"))
    stub.OpenJob(pb.OpenJobRequest(job_id="strict"), timeout=10)
    refused(stub, larger, "analysis_limits", code=grpc.StatusCode.FAILED_PRECONDITION, reason="JOB_OPEN")
    assert update(stub, job_pb2.Job(job_id="strict", description="open is fine"), "description").description == "open is fine"
    stub.CloseJob(pb.CloseJobRequest(job_id="strict"), timeout=30)
    repository = running.server.jobs.repository
    status = repository.status("strict")
    status.model_size = ModelSizeStats(100 << 20, 100 << 20, 0, 1 << 30, 0, 0, 0, 0, "ok")  # as a 100 MB model leaves it
    repository.save_status("strict", status)
    assert refused(stub, larger, "analysis_limits.model_memory_limit") == ["analysis_limits.model_memory_limit"]
    assert update(stub, limit_of("strict", "128mb"), "analysis_limits").analysis_limits.model_memory_limit == "128mb"


def limit_of(job_id: str, limit: str) -> job_pb2.Job:
    return job_pb2.Job(job_id=job_id, analysis_limits=job_pb2.AnalysisLimits(model_memory_limit=limit))


def run(stub, job_id: str, data: bytes) -> None:
    stub.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=30)
    stub.PostData(iter([pb.PostDataRequest(job_id=job_id, data=data)]), timeout=120)
    stub.CloseJob(pb.CloseJobRequest(job_id=job_id), timeout=120)


def test_reset_forgets_results_model_and_counts_and_keeps_the_config(running):
    stub = running.stub
    kept = create(stub, "again", description="kept")
    create(stub, "twin")
    run(stub, "again", DATA)
    stub.OpenJob(pb.OpenJobRequest(job_id="again"), timeout=30)
    with pytest.raises(grpc.RpcError) as err:
        stub.ResetJob(pb.ResetJobRequest(job_id="again"), timeout=30)
    assert (err.value.code(), error_reason(err.value)) == (grpc.StatusCode.FAILED_PRECONDITION, "JOB_OPEN")
    stub.CloseJob(pb.CloseJobRequest(job_id="again"), timeout=60)
    assert stub.ResetJob(pb.ResetJobRequest(job_id="again"), timeout=60).acknowledged
    assert stub.GetJobs(pb.GetJobsRequest(job_id="again"), timeout=10).jobs[0] == kept  # the configuration, as it was
    stats = stub.GetJobStats(pb.GetJobStatsRequest(job_id="again"), timeout=10).jobs[0]
    assert stats.data_counts.processed_record_count == 0 and not stats.data_counts.HasField("latest_record_timestamp")
    assert stats.timing_stats.bucket_count == 0 and stats.model_size_stats.model_bytes == 0
    assert results_of(running, "again") == []
    snapshots = model_snapshot_service_pb2_grpc.ModelSnapshotServiceStub(running.channel)
    assert snapshots.GetModelSnapshots(spb.GetModelSnapshotsRequest(job_id="again"), timeout=10).count == 0
    # The same data again is not out of order and gives what a new job gives.
    run(stub, "again", HALF)
    run(stub, "twin", HALF)
    assert results_of(running, "again") == results_of(running, "twin")
    counts = stub.GetJobStats(pb.GetJobStatsRequest(job_id="again"), timeout=10).jobs[0].data_counts
    assert counts.out_of_order_timestamp_count == 0


def test_reset_without_waiting_returns_a_task(stub):
    create(stub, "later")
    run(stub, "later", HALF)
    response = stub.ResetJob(pb.ResetJobRequest(job_id="later", wait_for_completion=False), timeout=10)
    assert not response.acknowledged and response.task_id
    deadline = time.monotonic() + 60
    while not (task := stub.GetTask(pb.GetTaskRequest(task_id=response.task_id), timeout=10).task).done:
        assert time.monotonic() < deadline, "the reset did not finish"
        time.sleep(0.02)
    assert (task.action, task.job_id, task.HasField("error")) == ("reset_job", "later", False)
    assert stub.GetJobStats(pb.GetJobStatsRequest(job_id="later"), timeout=10).jobs[0].data_counts.processed_record_count == 0
    with pytest.raises(grpc.RpcError) as err:
        stub.ResetJob(pb.ResetJobRequest(job_id="nobody"), timeout=10)
    assert error_reason(err.value) == "JOB_NOT_FOUND"


def test_a_reset_cut_short_by_a_restart_finishes_when_the_server_starts(tmp_path):
    with serving(tmp_path / "data") as running:
        create(running.stub, "cut")
        run(running.stub, "cut", HALF)
        # As a reset that a crash stopped: marked resetting, its data not yet deleted.
        repository = running.server.jobs.repository
        status = repository.status("cut")
        status.resetting = True
        repository.save_status("cut", status)
        task = repository.new_task("reset_job", "cut", 0)
        for call, request in ((running.stub.OpenJob, pb.OpenJobRequest(job_id="cut")),
                              (running.stub.DeleteJob, pb.DeleteJobRequest(job_id="cut")),
                              (running.stub.UpdateJob, pb.UpdateJobRequest(job=job_pb2.Job(job_id="cut", description="x"),
                                                                    update_mask=field_mask_pb2.FieldMask(paths=["description"])))):
            with pytest.raises(grpc.RpcError) as err:
                call(request, timeout=10)
            assert (err.value.code(), error_reason(err.value)) == (grpc.StatusCode.FAILED_PRECONDITION, "JOB_RESETTING")
    with serving(tmp_path / "data") as running:
        # The reset's own task resumes and reports its end, without an error.
        deadline = time.monotonic() + 60
        while not (resumed := running.stub.GetTask(pb.GetTaskRequest(task_id=task.task_id), timeout=10).task).done:
            assert time.monotonic() < deadline, "the reset did not resume"
            time.sleep(0.02)
        assert not resumed.HasField("error") and not running.server.jobs.status("cut").resetting
        assert results_of(running, "cut") == []
        running.stub.OpenJob(pb.OpenJobRequest(job_id="cut"), timeout=30)  # no longer blocked


@pytest.mark.parametrize("number", [float("inf"), float("-inf"), float("nan")])
def test_custom_settings_json_cannot_write_are_refused_not_internal(stub, number):
    settings = struct_pb2.Struct()
    settings.update({"threshold": number})
    with pytest.raises(grpc.RpcError) as err:
        stub.PutJob(pb.PutJobRequest(job=job("odd", custom_settings=settings)), timeout=10)
    assert (err.value.code(), error_reason(err.value)) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_JOB_CONFIG")
    create(stub, "odd")
    with pytest.raises(grpc.RpcError) as err:
        update(stub, job_pb2.Job(job_id="odd", custom_settings=settings), "custom_settings")
    assert error_reason(err.value) == "INVALID_JOB_CONFIG"
