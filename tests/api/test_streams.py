"""The one-stream-per-job rule under real concurrency, and streams that end abnormally."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import grpc
import pytest

from anomalyd.v1 import column_batch_pb2, job_pb2, job_service_pb2_grpc
from anomalyd.v1 import job_service_pb2 as pb
from tests.conftest import REPO, error_info, error_reason, job

CHUNK = b"".join(b'{"time": %d, "value": %d}\n' % (1_000_000 + i, i) for i in range(1000))


def open_job(stub, job_id):
    stub.PutJob(pb.PutJobRequest(job=job(job_id, job_pb2.Detector(function="mean", field_name="value"))), timeout=10)
    stub.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=10)


def processed(stub, job_id):
    return stub.GetJobStats(pb.GetJobStatsRequest(job_id=job_id), timeout=10).jobs[0].data_counts.processed_record_count


def shifted(chunk, i):
    """The chunk with times moved i chunks on, so that every chunk is in order."""
    return chunk.replace(b'{"time": 1', b'{"time": %d' % (1 + i))


def test_second_stream_is_refused_and_first_completes_exactly(running):
    open_job(running.stub, "busy")
    started, release = threading.Event(), threading.Event()

    def first_messages():
        yield pb.PostDataRequest(job_id="busy", data=CHUNK)
        started.set()
        release.wait(10)
        for i in range(1, 5):
            yield pb.PostDataRequest(data=shifted(CHUNK, i))

    first = running.stub.PostData.future(first_messages(), timeout=30)
    assert started.wait(10)
    while processed(running.stub, "busy") < 1000:
        time.sleep(0.01)
    # A second client process, with its own channel, is refused at once.
    script = (
        "import grpc, sys\n"
        "from anomalyd.v1 import job_service_pb2 as pb, job_service_pb2_grpc as g\n"
        f"stub = g.JobServiceStub(grpc.insecure_channel('{running.target}'))\n"
        "try:\n"
        "    stub.PostData(iter([pb.PostDataRequest(job_id='busy', data=b'{\"time\": 2000000}')]), timeout=10)\n"
        "except grpc.RpcError as e:\n"
        "    print(e.code().name, e.details())\n"
    )
    second = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            env={"PYTHONPATH": str(REPO / "service")})
    assert second.stdout.startswith("ABORTED"), second.stdout + second.stderr
    assert "another data stream is active" in second.stdout
    # And a second stream from a thread of this process, too.
    with pytest.raises(grpc.RpcError) as err:
        running.stub.PostData(iter([pb.PostDataRequest(job_id="busy", data=CHUNK)]), timeout=10)
    assert error_reason(err.value) == "DATA_STREAM_ACTIVE"
    release.set()
    counts = first.result().data_counts
    assert counts.processed_record_count == 5000 and counts.out_of_order_timestamp_count == 0
    assert processed(running.stub, "busy") == 5000


def test_streams_into_different_jobs_run_concurrently(running):
    jobs = [f"parallel-{i}" for i in range(4)]
    for job_id in jobs:
        open_job(running.stub, job_id)
    barrier = threading.Barrier(len(jobs))
    results = {}

    def upload(job_id):
        def messages():
            yield pb.PostDataRequest(job_id=job_id, data=CHUNK)
            barrier.wait(10)  # every stream is open at once here
            for i in range(1, 10):
                yield pb.PostDataRequest(data=shifted(CHUNK, i))

        results[job_id] = running.stub.PostData(messages(), timeout=30).data_counts.processed_record_count

    threads = [threading.Thread(target=upload, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == dict.fromkeys(jobs, 10_000)


def test_cancelled_stream_releases_the_job(running):
    open_job(running.stub, "cancelled")
    hold = threading.Event()

    def messages():
        yield pb.PostDataRequest(job_id="cancelled", data=CHUNK)
        hold.wait(10)

    call = running.stub.PostData.future(messages(), timeout=30)
    while processed(running.stub, "cancelled") < 1000:
        time.sleep(0.01)
    call.cancel()
    hold.set()
    deadline = time.monotonic() + 10
    while True:
        try:
            counts = running.stub.PostData(iter([pb.PostDataRequest(job_id="cancelled", data=shifted(CHUNK, 1))]), timeout=10)
            break
        except grpc.RpcError as err:
            assert error_reason(err) == "DATA_STREAM_ACTIVE" and time.monotonic() < deadline
            time.sleep(0.05)
    assert counts.data_counts.processed_record_count == 1000
    assert processed(running.stub, "cancelled") == 2000


def test_dropped_connection_releases_the_job(running):
    open_job(running.stub, "dropped")
    script = (
        "import grpc, os, time\n"
        "from anomalyd.v1 import job_service_pb2 as pb, job_service_pb2_grpc as g\n"
        f"stub = g.JobServiceStub(grpc.insecure_channel('{running.target}'))\n"
        "def messages():\n"
        f"    yield pb.PostDataRequest(job_id='dropped', data={CHUNK!r})\n"
        "    time.sleep(60)\n"
        "call = stub.PostData.future(messages())\n"
        "time.sleep(60)\n"
    )
    client = subprocess.Popen([sys.executable, "-c", script], env={"PYTHONPATH": str(REPO / "service")})
    try:
        deadline = time.monotonic() + 20
        while processed(running.stub, "dropped") < 1000:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        client.kill()
        client.wait()
    deadline = time.monotonic() + 20
    while True:
        try:
            running.stub.PostData(iter([pb.PostDataRequest(job_id="dropped", data=shifted(CHUNK, 1))]), timeout=10)
            break
        except grpc.RpcError as err:
            assert error_reason(err) == "DATA_STREAM_ACTIVE" and time.monotonic() < deadline
            time.sleep(0.1)
    assert processed(running.stub, "dropped") == 2000


def test_a_failing_message_fails_the_stream_while_its_client_waits(running):
    # The server reads on while the pool applies: a message that fails must end the stream
    # at once, not when the client sends its next message or gives up.
    open_job(running.stub, "fails")
    hold = threading.Event()

    def messages():
        yield pb.PostDataRequest(job_id="fails", data=CHUNK)
        yield pb.PostDataRequest(data=b"garbage\n" * 101)
        hold.wait(30)

    call = running.stub.PostData.future(messages(), timeout=60)
    try:
        failure = call.exception(timeout=20)
    finally:
        hold.set()
    assert error_reason(failure) == "TOO_MANY_PARSE_ERRORS"
    assert processed(running.stub, "fails") == 1000


def test_no_message_after_a_failing_one_is_applied(running):
    # Messages read while an earlier one was applied wait in a queue: the failure drops them.
    open_job(running.stub, "stops")
    good = [pb.PostDataRequest(data=shifted(CHUNK, i)) for i in range(1, 30)]
    # A batch whose column is shorter than its times; unlike parse errors, its failure is not
    # repeated by the messages after it.
    bad = pb.PostDataRequest(columns=column_batch_pb2.ColumnBatch(
        times=[2, 3], numeric_columns=[column_batch_pb2.NumericColumn(name="value", values=[1.0])]))
    messages = [pb.PostDataRequest(job_id="stops", data=CHUNK), *good[:3], bad, *good[3:]]
    with pytest.raises(grpc.RpcError) as err:
        running.stub.PostData(iter(messages), timeout=30)
    assert error_reason(err.value) == "INVALID_COLUMN_BATCH"
    assert error_info(err.value).metadata["processedRecordCount"] == "4000"
    assert processed(running.stub, "stops") == 4000


def test_health_and_reflection(running):
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    health = health_pb2_grpc.HealthStub(running.channel)
    for service in ("", "anomalyd.v1.JobService"):
        assert health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(running.channel)
    reply = next(reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10))
    names = {s.name for s in reply.list_services_response.service}
    assert {"anomalyd.v1.JobService", "grpc.health.v1.Health"} <= names
    assert job_service_pb2_grpc  # the generated module is what clients import
