"""Model snapshots through the real server: taken, listed, updated, deleted, reverted, restored."""

from __future__ import annotations

import grpc
import pytest

from anomalyd.storage import keys
from anomalyd.v1 import job_pb2, model_snapshot_service_pb2_grpc, results_service_pb2_grpc
from anomalyd.v1 import job_service_pb2 as pb
from anomalyd.v1 import model_snapshot_service_pb2 as spb
from anomalyd.v1 import results_service_pb2 as rpb
from tests.api.test_results import SPAN_S, START_S, rows
from tests.conftest import error_reason, job

DATA = rows(seed=3)
LINES = DATA.splitlines(keepends=True)
THIRDS = [b"".join(LINES[i * len(LINES) // 3:(i + 1) * len(LINES) // 3]) for i in range(3)]


@pytest.fixture
def snapshots(running):
    return model_snapshot_service_pb2_grpc.ModelSnapshotServiceStub(running.channel)


def create(stub, job_id):
    detector = job_pb2.Detector(function="mean", field_name="latency", by_field_name="host")
    stub.PutJob(pb.PutJobRequest(job=job(job_id, detector, span_s=SPAN_S, influencers=["host"])), timeout=10)


def run(stub, job_id, *parts, close=True):
    stub.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=30)
    for part in parts:
        stub.PostData(iter([pb.PostDataRequest(job_id=job_id, data=part)]), timeout=120)
    if close:
        stub.CloseJob(pb.CloseJobRequest(job_id=job_id), timeout=120)


def listed(snapshots, job_id, **kw):
    return list(snapshots.GetModelSnapshots(spb.GetModelSnapshotsRequest(job_id=job_id, **kw), timeout=10).model_snapshots)


def results_of(running, job_id, *, renormalised=True):
    """A job's buckets, expanded, as bytes; without the scores renormalisation changes unless renormalised."""
    results = results_service_pb2_grpc.ResultsServiceStub(running.channel)
    buckets = results.GetBuckets(rpb.GetBucketsRequest(job_id=job_id, expand=True, page=rpb.Page(size=10_000)), timeout=60).buckets
    for b in buckets:
        b.job_id = ""
        for r in b.records:
            r.job_id = ""
            r.record_score = r.record_score if renormalised else 0.0
        b.anomaly_score = b.anomaly_score if renormalised else 0.0
        for i in b.bucket_influencers:
            i.anomaly_score = i.anomaly_score if renormalised else 0.0
    return [b.SerializeToString(deterministic=True) for b in buckets]


def test_close_takes_a_snapshot_only_when_something_changed(running, snapshots):
    create(running.stub, "snap")
    run(running.stub, "snap", THIRDS[0])
    [first] = listed(snapshots, "snap")
    assert first.active and first.description.startswith("State persisted due to job close at")
    assert first.snapshot_size_bytes > 0 and first.model_size_stats.model_bytes > 0
    assert first.latest_record_time_stamp.seconds > START_S
    run(running.stub, "snap")  # open and close with no data: nothing new to persist
    assert [s.snapshot_id for s in listed(snapshots, "snap")] == [first.snapshot_id]
    stats = running.stub.GetJobStats(pb.GetJobStatsRequest(job_id="snap"), timeout=10).jobs[0]
    assert stats.model_size_stats.model_bytes == first.model_size_stats.model_bytes


def test_create_update_delete(running, snapshots):
    create(running.stub, "manage")
    run(running.stub, "manage", THIRDS[0], close=False)
    made = snapshots.CreateModelSnapshot(spb.CreateModelSnapshotRequest(job_id="manage", description="before the release", retain=True), timeout=30).model_snapshot
    assert made.retain and made.active and made.description == "before the release"
    running.stub.PostData(iter([pb.PostDataRequest(job_id="manage", data=THIRDS[1])]), timeout=60)
    running.stub.CloseJob(pb.CloseJobRequest(job_id="manage"), timeout=60)
    newer, older = listed(snapshots, "manage")  # newest first, as Elasticsearch lists them
    assert older.snapshot_id == made.snapshot_id and not older.active and newer.active
    assert [s.snapshot_id for s in listed(snapshots, "manage", sort="timestamp", desc=True)] == [newer.snapshot_id, older.snapshot_id]
    updated = snapshots.UpdateModelSnapshot(spb.UpdateModelSnapshotRequest(job_id="manage", snapshot_id=older.snapshot_id, description="kept", retain=False), timeout=10).model_snapshot
    assert (updated.description, updated.retain) == ("kept", False)
    with pytest.raises(grpc.RpcError) as err:
        snapshots.DeleteModelSnapshot(spb.DeleteModelSnapshotRequest(job_id="manage", snapshot_id=newer.snapshot_id), timeout=10)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err.value) == "SNAPSHOT_ACTIVE"
    assert snapshots.DeleteModelSnapshot(spb.DeleteModelSnapshotRequest(job_id="manage", snapshot_id=older.snapshot_id), timeout=10).acknowledged
    assert [s.snapshot_id for s in listed(snapshots, "manage")] == [newer.snapshot_id]
    for call in (
        lambda: snapshots.DeleteModelSnapshot(spb.DeleteModelSnapshotRequest(job_id="manage", snapshot_id=older.snapshot_id), timeout=10),
        lambda: listed(snapshots, "manage", snapshot_id="123"),
        lambda: listed(snapshots, "nope"),
    ):
        with pytest.raises(grpc.RpcError) as err:
            call()
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_revert_equals_a_job_that_stopped_at_the_snapshot(running, snapshots):
    create(running.stub, "reverted")
    create(running.stub, "twin")
    run(running.stub, "reverted", THIRDS[0])
    [at_first_third] = listed(snapshots, "reverted")
    run(running.stub, "reverted", THIRDS[1])
    running.stub.OpenJob(pb.OpenJobRequest(job_id="reverted"), timeout=30)
    with pytest.raises(grpc.RpcError) as err:
        snapshots.RevertModelSnapshot(spb.RevertModelSnapshotRequest(job_id="reverted", snapshot_id=at_first_third.snapshot_id), timeout=30)
    assert error_reason(err.value) == "JOB_OPEN"
    running.stub.CloseJob(pb.CloseJobRequest(job_id="reverted"), timeout=60)
    reverted = snapshots.RevertModelSnapshot(spb.RevertModelSnapshotRequest(
        job_id="reverted", snapshot_id=at_first_third.snapshot_id, delete_intervening_results=True), timeout=60).model
    assert reverted.snapshot_id == at_first_third.snapshot_id and reverted.active
    # GetJobs reports the snapshot the job now restores, as Elasticsearch's job config does.
    [stored] = running.stub.GetJobs(pb.GetJobsRequest(job_id="reverted"), timeout=10).jobs
    assert (stored.model_snapshot_id, stored.deleting) == (at_first_third.snapshot_id, False)
    run(running.stub, "twin", THIRDS[0])
    # The second third's renormalisations re-scored the first third's results, and a revert keeps
    # them as they are (as Elasticsearch's does): all but those scores are the twin's.
    assert results_of(running, "reverted", renormalised=False) == results_of(running, "twin", renormalised=False)
    # Both continue with the same data: the reverted model is the twin's model.
    run(running.stub, "reverted", THIRDS[1], THIRDS[2])
    run(running.stub, "twin", THIRDS[1], THIRDS[2])
    assert results_of(running, "reverted") == results_of(running, "twin")
    counts = {j.job_id: j.data_counts for j in running.stub.GetJobStats(pb.GetJobStatsRequest(job_id="reverted,twin"), timeout=10).jobs}
    assert counts["reverted"].latest_record_timestamp == counts["twin"].latest_record_timestamp
    assert counts["reverted"].out_of_order_timestamp_count == 0


def test_snapshots_list_newest_first_by_ids_and_wildcards(running, snapshots):
    create(running.stub, "listing")
    for third in THIRDS:
        run(running.stub, "listing", third)
    ids = [s.snapshot_id for s in listed(snapshots, "listing")]
    assert len(ids) == 3 and ids == sorted(ids, key=int, reverse=True)
    assert [s.snapshot_id for s in listed(snapshots, "listing", desc_order=False)] == ids[::-1]
    assert [s.snapshot_id for s in listed(snapshots, "listing", snapshot_id=f"{ids[2]}, {ids[0]}")] == [ids[0], ids[2]]
    expression = f"{ids[2]},{ids[0][:-1]}*"
    expected = [i for i in ids if i == ids[2] or i.startswith(ids[0][:-1])]
    assert [s.snapshot_id for s in listed(snapshots, "listing", snapshot_id=expression)] == expected
    assert listed(snapshots, "listing", snapshot_id="nothing*") == []  # a wildcard may match nothing
    with pytest.raises(grpc.RpcError) as err:  # an id may not
        listed(snapshots, "listing", snapshot_id=f"{ids[0]},42")
    assert (err.value.code(), error_reason(err.value)) == (grpc.StatusCode.NOT_FOUND, "SNAPSHOT_NOT_FOUND")
    counted = snapshots.GetModelSnapshots(spb.GetModelSnapshotsRequest(job_id="listing", page=rpb.Page(count_only=True)), timeout=10)
    assert (list(counted.model_snapshots), counted.count) == ([], 3)


def test_revert_to_empty_learns_from_scratch(running, snapshots):
    create(running.stub, "forgets")
    create(running.stub, "fresh")
    run(running.stub, "forgets", THIRDS[0])
    run(running.stub, "forgets", THIRDS[1])
    reverted = snapshots.RevertModelSnapshot(spb.RevertModelSnapshotRequest(
        job_id="forgets", snapshot_id="empty", delete_intervening_results=True), timeout=60).model
    assert reverted.snapshot_id == "empty" and reverted.active
    assert running.stub.GetJobs(pb.GetJobsRequest(job_id="forgets"), timeout=10).jobs[0].model_snapshot_id == "empty"
    assert results_of(running, "forgets") == []
    assert not any(s.active for s in listed(snapshots, "forgets"))  # the real snapshots stay, inactive
    # The same data again is not out of order, and gives the results of a job that never saw any.
    run(running.stub, "forgets", THIRDS[0])
    run(running.stub, "fresh", THIRDS[0])
    assert results_of(running, "forgets") == results_of(running, "fresh")
    counts = running.stub.GetJobStats(pb.GetJobStatsRequest(job_id="forgets"), timeout=10).jobs[0].data_counts
    assert counts.out_of_order_timestamp_count == 0
    # Reopened from its new snapshot, it goes on as the fresh job does.
    run(running.stub, "forgets", THIRDS[1])
    run(running.stub, "fresh", THIRDS[1])
    assert results_of(running, "forgets") == results_of(running, "fresh")


def test_damaged_snapshot_falls_back_to_the_previous_one_with_the_same_results(running, snapshots):
    create(running.stub, "damaged")
    create(running.stub, "intact")
    for job_id in ("damaged", "intact"):
        run(running.stub, job_id, THIRDS[0])
        run(running.stub, job_id, THIRDS[1])
    active = next(s for s in listed(snapshots, "damaged") if s.active)
    store = running.server.store
    key = keys.snapshot_key("damaged", active.snapshot_id)
    state = store.view(lambda txn: txn.get(keys.SNAPSHOT_STATE, key))
    store.update(lambda txn: txn.put(keys.SNAPSHOT_STATE, key, state[: len(state) // 2]))
    running.stub.OpenJob(pb.OpenJobRequest(job_id="damaged"), timeout=60)
    stats = running.stub.GetJobStats(pb.GetJobStatsRequest(job_id="damaged"), timeout=10).jobs[0]
    assert active.snapshot_id in stats.restore_note and "checksum" in stats.restore_note
    running.stub.PostData(iter([pb.PostDataRequest(job_id="damaged", data=THIRDS[2])]), timeout=120)
    running.stub.CloseJob(pb.CloseJobRequest(job_id="damaged"), timeout=60)
    run(running.stub, "intact", THIRDS[2])
    assert results_of(running, "damaged") == results_of(running, "intact")


def test_background_persist_snapshots_open_jobs_when_due(running, snapshots):
    create(running.stub, "background")
    run(running.stub, "background", THIRDS[0], close=False)
    running.server.jobs.persist_due()  # not due yet: the job just opened
    assert listed(snapshots, "background") == []
    running.server.jobs.persist_due(now=running.server.jobs._open["background"].last_snapshot_ms + 3 * 3600 * 1000)
    [snapshot] = listed(snapshots, "background")
    assert snapshot.description == "State persisted due to background persist" and snapshot.active
