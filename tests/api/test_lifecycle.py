"""Put, get, open, flush, close and delete through the real server, with every ES parameter."""

from __future__ import annotations

import time

import grpc
import pytest
from google.protobuf import duration_pb2, timestamp_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from anomalyd.v1 import job_pb2, job_stats_pb2
from anomalyd.v1 import job_service_pb2 as pb
from tests.conftest import error_reason, job

OPENED, CLOSED = job_stats_pb2.JOB_STATE_OPENED, job_stats_pb2.JOB_STATE_CLOSED
ROWS = b"".join(b'{"time": %d, "value": %d}\n' % (1_000_000 + 10 * i, i) for i in range(1000))


def put(stub, job_id, *detectors, **fields):
    return stub.PutJob(pb.PutJobRequest(job=job(job_id, *detectors, **fields)), timeout=10).job


def state(stub, job_id):
    return stub.GetJobStats(pb.GetJobStatsRequest(job_id=job_id), timeout=10).jobs[0].state


def fails(call, code, reason):
    with pytest.raises(grpc.RpcError) as err:
        call()
    assert err.value.code() == code, err.value.details()
    assert error_reason(err.value) == reason
    return err.value


def test_put_job_fills_defaults_and_rejects_duplicates(stub):
    stored = put(stub, "farequote", job_pb2.Detector(function="mean", field_name="responsetime", by_field_name="airline"))
    assert stored.analysis_config.detectors[0].detector_description == "mean(responsetime) by airline"
    assert stored.data_description.time_field == "time" and stored.data_description.time_format == "epoch"
    assert stored.analysis_limits.model_memory_limit == "1024mb"
    assert stored.model_snapshot_retention_days == 10
    assert stored.create_time.seconds > 0 and stored.job_version
    fails(lambda: put(stub, "farequote"), grpc.StatusCode.ALREADY_EXISTS, "JOB_ALREADY_EXISTS")


@pytest.mark.parametrize(
    ("job_id", "detector", "extra", "field"),
    [
        ("Bad-Id", job_pb2.Detector(function="count"), {}, "job_id"),
        ("_all", job_pb2.Detector(function="count"), {}, "job_id"),
        ("x" * 65, job_pb2.Detector(function="count"), {}, "job_id"),
        ("ok", job_pb2.Detector(function="avrage", field_name="x"), {}, "analysis_config.detectors[0].function"),
        ("ok", job_pb2.Detector(function="mean"), {}, "analysis_config.detectors[0].field_name"),
        ("ok", job_pb2.Detector(function="count", field_name="x"), {}, "analysis_config.detectors[0].field_name"),
        ("ok", job_pb2.Detector(function="mean", field_name="x", by_field_name="h", partition_field_name="h"), {}, "analysis_config.detectors[0]"),
        ("ok", job_pb2.Detector(function="count", by_field_name="count"), {}, "analysis_config.detectors[0].by_field_name"),
        ("ok", job_pb2.Detector(function="count"), {"span_s": 0}, "analysis_config.bucket_span"),
        ("ok", job_pb2.Detector(function="count"), {"groups": ["Bad Group"]}, "groups[0]"),
        ("ok", job_pb2.Detector(function="count"), {"data_description": job_pb2.DataDescription(time_format="HH:mm")}, "data_description.time_format"),
        ("ok", job_pb2.Detector(function="count"), {"analysis_limits": job_pb2.AnalysisLimits(model_memory_limit="lots")}, "analysis_limits.model_memory_limit"),
        ("ok", job_pb2.Detector(function="count"), {"background_persist_interval": duration_pb2.Duration(seconds=60)}, "background_persist_interval"),
        ("ok", job_pb2.Detector(function="mean", field_name="time"), {}, "data_description.time_field"),
    ],
)
def test_invalid_configs_name_the_field(stub, job_id, detector, extra, field):
    err = fails(lambda: put(stub, job_id, detector, **extra), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_JOB_CONFIG")
    status = rpc_status.from_call(err)
    bad = error_details_pb2.BadRequest()
    next(d for d in status.details if d.Is(bad.DESCRIPTOR)).Unpack(bad)
    assert field in [v.field for v in bad.field_violations]
    assert stub.GetJobs(pb.GetJobsRequest(), timeout=10).count == 0


def test_memory_limit_forms(stub):
    limits = {"a": "2gb", "b": "512", "c": "1536MB"}
    for job_id, text in limits.items():
        put(stub, job_id, analysis_limits=job_pb2.AnalysisLimits(model_memory_limit=text))
    jobs = stub.GetJobs(pb.GetJobsRequest(job_id="a,b,c"), timeout=10).jobs
    assert [j.analysis_limits.model_memory_limit for j in jobs] == ["2048mb", "512mb", "1536mb"]


def test_job_expressions(stub):
    put(stub, "web-1", groups=["web"])
    put(stub, "web-2", groups=["web"])
    put(stub, "db-1", groups=["db"])

    def ids(expr, **kw):
        return [j.job_id for j in stub.GetJobs(pb.GetJobsRequest(job_id=expr, **kw), timeout=10).jobs]

    assert ids("") == ids("_all") == ids("*") == ["db-1", "web-1", "web-2"]
    assert ids("web") == ["web-1", "web-2"]
    assert ids("web-*") == ["web-1", "web-2"]
    assert ids("db-1,web-2") == ["db-1", "web-2"]
    assert ids("d*") == ["db-1"]
    assert ids("cache-*") == []
    fails(lambda: ids("cache-*", allow_no_match=False), grpc.StatusCode.NOT_FOUND, "JOB_NOT_FOUND")
    fails(lambda: ids("web-*,cache-*", allow_no_match=False), grpc.StatusCode.NOT_FOUND, "JOB_NOT_FOUND")
    fails(lambda: ids("nope"), grpc.StatusCode.NOT_FOUND, "JOB_NOT_FOUND")


def test_open_post_flush_close_cycle(stub):
    put(stub, "cycle", job_pb2.Detector(function="mean", field_name="value"))
    assert state(stub, "cycle") == CLOSED
    response = stub.OpenJob(pb.OpenJobRequest(job_id="cycle", timeout=duration_pb2.Duration(seconds=30)), timeout=10)
    assert response.opened and response.node
    stats = stub.GetJobStats(pb.GetJobStatsRequest(job_id="cycle"), timeout=10).jobs[0]
    assert stats.state == OPENED and stats.open_time.seconds > 0 and stats.node
    fails(lambda: stub.OpenJob(pb.OpenJobRequest(job_id="cycle"), timeout=10), grpc.StatusCode.FAILED_PRECONDITION, "JOB_ALREADY_OPEN")
    stub.PostData(iter([pb.PostDataRequest(job_id="cycle", data=ROWS)]), timeout=10)
    flushed = stub.FlushJob(pb.FlushJobRequest(job_id="cycle"), timeout=10)
    # Records reach 1,009,990 s; with span 300 s and no latency the last final bucket ends at 1,009,800 s.
    assert flushed.flushed and flushed.last_finalized_bucket_end.seconds == 1_009_800
    advanced = stub.FlushJob(pb.FlushJobRequest(job_id="cycle", advance_time=timestamp_pb2.Timestamp(seconds=1_010_100)), timeout=10)
    assert advanced.last_finalized_bucket_end.seconds == 1_010_100
    late = b'{"time": 1010050, "value": 1}\n'
    counts = stub.PostData(iter([pb.PostDataRequest(job_id="cycle", data=late)]), timeout=10).data_counts
    assert counts.out_of_order_timestamp_count == 1  # its bucket was finalised by advance_time
    skipped = stub.FlushJob(pb.FlushJobRequest(job_id="cycle", skip_time=timestamp_pb2.Timestamp(seconds=1_020_001)), timeout=10)
    assert skipped.last_finalized_bucket_end.seconds == 1_020_300
    closed = stub.CloseJob(pb.CloseJobRequest(job_id="cycle"), timeout=10)
    assert closed.closed and list(closed.job_ids) == ["cycle"]
    assert state(stub, "cycle") == CLOSED
    assert stub.CloseJob(pb.CloseJobRequest(job_id="cycle"), timeout=10).closed  # closing a closed job is a no-op
    fails(lambda: stub.FlushJob(pb.FlushJobRequest(job_id="cycle"), timeout=10), grpc.StatusCode.FAILED_PRECONDITION, "JOB_NOT_OPEN")
    stub.OpenJob(pb.OpenJobRequest(job_id="cycle"), timeout=10)
    totals = stub.GetJobStats(pb.GetJobStatsRequest(job_id="cycle"), timeout=10).jobs[0].data_counts
    assert totals.processed_record_count == 1000 and totals.out_of_order_timestamp_count == 1


@pytest.mark.parametrize(
    "request_fields",
    [
        {"start": timestamp_pb2.Timestamp(seconds=5)},
        {"calc_interim": True, "start": timestamp_pb2.Timestamp(seconds=5), "end": timestamp_pb2.Timestamp(seconds=4)},
        {"advance_time": timestamp_pb2.Timestamp(seconds=5), "skip_time": timestamp_pb2.Timestamp(seconds=5)},
    ],
    ids=["start-without-interim", "end-before-start", "advance-not-after-skip"],
)
def test_flush_parameter_rules(stub, request_fields):
    put(stub, "flush")
    stub.OpenJob(pb.OpenJobRequest(job_id="flush"), timeout=10)
    fails(lambda: stub.FlushJob(pb.FlushJobRequest(job_id="flush", **request_fields), timeout=10), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST")
    assert stub.FlushJob(pb.FlushJobRequest(job_id="flush", calc_interim=True), timeout=10).flushed


def test_close_by_group_wildcard_and_all(stub):
    for job_id, group in (("web-1", "web"), ("web-2", "web"), ("db-1", "db")):
        put(stub, job_id, groups=[group])
        stub.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=10)
    assert list(stub.CloseJob(pb.CloseJobRequest(job_id="web"), timeout=10).job_ids) == ["web-1", "web-2"]
    assert state(stub, "db-1") == OPENED
    assert stub.CloseJob(pb.CloseJobRequest(job_id="nothing-*"), timeout=10).closed
    fails(lambda: stub.CloseJob(pb.CloseJobRequest(job_id="nothing-*", allow_no_match=False), timeout=10), grpc.StatusCode.NOT_FOUND, "JOB_NOT_FOUND")
    fails(lambda: stub.CloseJob(pb.CloseJobRequest(job_id="db-*,nothing-*", allow_no_match=False), timeout=10), grpc.StatusCode.NOT_FOUND, "JOB_NOT_FOUND")
    assert state(stub, "db-1") == OPENED  # a refused close closes nothing
    assert list(stub.CloseJob(pb.CloseJobRequest(job_id="_all"), timeout=10).job_ids) == ["db-1", "web-1", "web-2"]
    assert all(j.state == CLOSED for j in stub.GetJobStats(pb.GetJobStatsRequest(job_id="*"), timeout=10).jobs)


def test_force_close_aborts_the_active_stream_and_keeps_counts(stub):
    put(stub, "forced", job_pb2.Detector(function="mean", field_name="value"))
    stub.OpenJob(pb.OpenJobRequest(job_id="forced"), timeout=10)
    proceed = __import__("threading").Event()

    def messages():
        yield pb.PostDataRequest(job_id="forced", data=ROWS)
        proceed.wait(10)
        yield pb.PostDataRequest(data=ROWS)

    call = stub.PostData.future(messages(), timeout=20)
    _wait_for(lambda: stub.GetJobStats(pb.GetJobStatsRequest(job_id="forced"), timeout=10).jobs[0].data_counts.processed_record_count == 1000)
    stub.CloseJob(pb.CloseJobRequest(job_id="forced", force=True), timeout=10)
    proceed.set()
    with pytest.raises(grpc.RpcError) as err:
        call.result()
    assert err.value.code() == grpc.StatusCode.ABORTED
    assert error_reason(err.value) == "JOB_FORCE_CLOSED"
    stats = stub.GetJobStats(pb.GetJobStatsRequest(job_id="forced"), timeout=10).jobs[0]
    assert stats.state == CLOSED and stats.data_counts.processed_record_count == 1000


def test_graceful_close_waits_for_the_active_stream(stub):
    put(stub, "graceful", job_pb2.Detector(function="mean", field_name="value"))
    stub.OpenJob(pb.OpenJobRequest(job_id="graceful"), timeout=10)
    proceed = __import__("threading").Event()

    def messages():
        yield pb.PostDataRequest(job_id="graceful", data=ROWS[:len(ROWS) // 2])
        proceed.wait(10)
        yield pb.PostDataRequest(data=ROWS[len(ROWS) // 2:])

    call = stub.PostData.future(messages(), timeout=20)
    _wait_for(lambda: stub.GetJobStats(pb.GetJobStatsRequest(job_id="graceful"), timeout=10).jobs[0].data_counts.processed_record_count > 0)
    timeout = duration_pb2.Duration(nanos=300_000_000)
    fails(lambda: stub.CloseJob(pb.CloseJobRequest(job_id="graceful", timeout=timeout), timeout=10), grpc.StatusCode.DEADLINE_EXCEEDED, "TIMEOUT")
    assert state(stub, "graceful") == job_stats_pb2.JOB_STATE_CLOSING
    fails(lambda: stub.PostData(iter([pb.PostDataRequest(job_id="graceful", data=ROWS)]), timeout=10), grpc.StatusCode.FAILED_PRECONDITION, "JOB_NOT_OPEN")
    proceed.set()
    assert call.result().data_counts.processed_record_count == 1000
    _wait_for(lambda: state(stub, "graceful") == CLOSED)


def test_close_of_failed_job_needs_force_and_open_needs_close(running):
    put(running.stub, "broken")
    running.stub.OpenJob(pb.OpenJobRequest(job_id="broken"), timeout=10)
    running.server.jobs.fail(running.server.jobs._open["broken"], "simulated crash of the analysis")
    stats = running.stub.GetJobStats(pb.GetJobStatsRequest(job_id="broken"), timeout=10).jobs[0]
    assert stats.state == job_stats_pb2.JOB_STATE_FAILED and "simulated" in stats.failure_reason
    fails(lambda: running.stub.CloseJob(pb.CloseJobRequest(job_id="_all"), timeout=10), grpc.StatusCode.FAILED_PRECONDITION, "JOB_FAILED")
    fails(lambda: running.stub.OpenJob(pb.OpenJobRequest(job_id="broken"), timeout=10), grpc.StatusCode.FAILED_PRECONDITION, "JOB_FAILED")
    running.stub.CloseJob(pb.CloseJobRequest(job_id="broken", force=True), timeout=10)
    running.stub.OpenJob(pb.OpenJobRequest(job_id="broken"), timeout=10)
    assert state(running.stub, "broken") == OPENED


def test_delete_rules_and_async_task(stub):
    put(stub, "keep")
    put(stub, "doomed")
    put(stub, "doomed-async")
    for job_id in ("keep", "doomed", "doomed-async"):
        stub.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=10)
        stub.PostData(iter([pb.PostDataRequest(job_id=job_id, data=ROWS)]), timeout=10)
    fails(lambda: stub.DeleteJob(pb.DeleteJobRequest(job_id="doomed"), timeout=10), grpc.StatusCode.FAILED_PRECONDITION, "JOB_OPEN")
    assert state(stub, "doomed") == OPENED
    assert stub.DeleteJob(pb.DeleteJobRequest(job_id="doomed", force=True, delete_user_annotations=True), timeout=10).acknowledged
    stub.CloseJob(pb.CloseJobRequest(job_id="doomed-async"), timeout=10)
    response = stub.DeleteJob(pb.DeleteJobRequest(job_id="doomed-async", wait_for_completion=False), timeout=10)
    assert not response.acknowledged and response.task_id.count(":") == 1
    _wait_for(lambda: stub.GetTask(pb.GetTaskRequest(task_id=response.task_id), timeout=10).task.done)
    task = stub.GetTask(pb.GetTaskRequest(task_id=response.task_id), timeout=10).task
    assert task.job_id == "doomed-async" and task.action == "delete_job" and not task.HasField("error")
    assert [j.job_id for j in stub.GetJobs(pb.GetJobsRequest(), timeout=10).jobs] == ["keep"]
    keep = stub.GetJobStats(pb.GetJobStatsRequest(job_id="keep"), timeout=10).jobs[0]
    assert keep.state == OPENED and keep.data_counts.processed_record_count == 1000
    fails(lambda: stub.DeleteJob(pb.DeleteJobRequest(job_id="doomed"), timeout=10), grpc.StatusCode.NOT_FOUND, "JOB_NOT_FOUND")
    fails(lambda: stub.GetTask(pb.GetTaskRequest(task_id="x:1"), timeout=10), grpc.StatusCode.NOT_FOUND, "TASK_NOT_FOUND")
    stub.PutJob(pb.PutJobRequest(job=job("doomed")), timeout=10)  # the id is free again, with nothing left over
    assert stub.GetJobStats(pb.GetJobStatsRequest(job_id="doomed"), timeout=10).jobs[0].data_counts.processed_record_count == 0


def test_task_ids_keep_the_node_and_cannot_be_guessed_from_another(stub):
    task_ids = []
    for job_id in ("gone-1", "gone-2"):
        put(stub, job_id)
        task_ids.append(stub.DeleteJob(pb.DeleteJobRequest(job_id=job_id, wait_for_completion=False), timeout=10).task_id)
    (node_1, suffix_1), (node_2, suffix_2) = (task_id.split(":") for task_id in task_ids)
    put(stub, "opened")
    assert node_1 == node_2 == stub.OpenJob(pb.OpenJobRequest(job_id="opened"), timeout=10).node
    # 128 random bits: not a counter, so one task id says nothing about the next.
    assert len(suffix_1) == len(suffix_2) == 32 and suffix_1 != suffix_2
    assert int(suffix_2, 16) - int(suffix_1, 16) not in (0, 1)


def test_delete_removes_every_key_of_the_job_and_none_of_another(running):
    put(running.stub, "job")
    put(running.stub, "job1")
    for job_id in ("job", "job1"):
        running.stub.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=10)
        running.stub.PostData(iter([pb.PostDataRequest(job_id=job_id, data=ROWS)]), timeout=10)
    before = _keys(running.server.store)
    running.stub.DeleteJob(pb.DeleteJobRequest(job_id="job", force=True), timeout=10)
    after = _keys(running.server.store)
    removed = before - after
    assert removed and all(key.startswith(b"job") and not key.startswith(b"job1") for _, key in removed)
    assert {k for k in before if k[1].startswith(b"job1")} <= after


def _keys(store):
    from anomalyd.storage import keys

    return store.view(lambda txn: {(t, k) for t in keys.ALL_TABLES if t not in (keys.META, keys.TASKS) for k, _ in txn.scan(t)})


def _wait_for(predicate, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)
