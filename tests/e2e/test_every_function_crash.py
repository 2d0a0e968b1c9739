"""A job that uses every kind of function loses nothing to SIGKILLs and reverts exactly."""

from __future__ import annotations

import signal

from anomalyd.v1 import job_service_pb2 as pb
from anomalyd.v1 import model_snapshot_service_pb2 as spb
from anomalyd_client.local import LocalServer
from tests.e2e import every_function
from tests.e2e.test_crash import Harness, finish, kill_and_finish

MESSAGES = every_function.messages()


def harness(process: LocalServer) -> Harness:
    h = Harness(process, "every", MESSAGES, every_function.DETECTORS, every_function.INFLUENCERS, every_function.SPAN_S)
    h.create()
    return h


def test_kills_leave_every_function_as_an_uninterrupted_run_does(server_process, tmp_path):
    reference = LocalServer(tmp_path / "reference")
    try:
        uninterrupted = harness(reference)
        finish(uninterrupted)
        want = uninterrupted.outcome()
    finally:
        reference.stop(signal.SIGKILL)
    crashed = harness(server_process)
    kill_and_finish(crashed, seed=7)
    assert crashed.outcome() == want
    records = [r for b in want[1] for r in b.records]
    found = {every_function.DETECTORS[r.detector_index].function for r in records if r.record_score >= 50}
    assert {"rare", "freq_rare", "high_sum", "high_distinct_count", "high_info_content"} <= found, found
    assert any(r.causes for r in records) and any(r.HasField("geo_results") for r in records)
    assert any(c.HasField("geo_results") for r in records for c in r.causes)  # lat_long over user


def test_a_revert_gives_every_function_the_model_it_had_at_the_snapshot(server_process):
    h = harness(server_process)
    half = len(MESSAGES) // 2
    h.jobs.PostData(iter([pb.PostDataRequest(job_id="every", data=b"".join(MESSAGES[:half]))]), timeout=120)
    # Taken while the job stays open: the first run goes on with its live model, not the snapshot's.
    snapshot = h.snapshots.CreateModelSnapshot(spb.CreateModelSnapshotRequest(job_id="every"), timeout=60).model_snapshot
    h.jobs.PostData(iter([pb.PostDataRequest(job_id="every", data=b"".join(MESSAGES[half:]))]), timeout=120)
    h.jobs.CloseJob(pb.CloseJobRequest(job_id="every"), timeout=120)
    first_run = h.outcome()
    h.snapshots.RevertModelSnapshot(spb.RevertModelSnapshotRequest(
        job_id="every", snapshot_id=snapshot.snapshot_id, delete_intervening_results=True), timeout=60)
    h.jobs.OpenJob(pb.OpenJobRequest(job_id="every"), timeout=60)
    h.jobs.PostData(iter([pb.PostDataRequest(job_id="every", data=b"".join(MESSAGES[half:]))]), timeout=120)
    h.jobs.CloseJob(pb.CloseJobRequest(job_id="every"), timeout=120)
    assert h.outcome()[1:] == first_run[1:]  # the same results again (counts add up both uploads)
