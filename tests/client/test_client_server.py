"""The Client against a real anomalyd subprocess: the job lifecycle, uploads and errors."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import grpc
import numpy as np
import pytest

from anomalyd_client import AnomalydError, Client, Detector, Progress
from anomalyd_client.local import LocalServer
from tests.client.conftest import T0

UTC = dt.UTC


def fails(reason: str, code: grpc.StatusCode) -> pytest.RaisesExc[AnomalydError]:
    """Expects an AnomalydError with this reason and code."""
    return pytest.raises(AnomalydError, check=lambda e: (e.reason, e.code) == (reason, code))


def test_health_says_serving(client: Client) -> None:
    assert client.health() == "SERVING"
    assert client.health("anomalyd.v1.JobService") == "SERVING"


def test_lifecycle_from_put_to_delete(client: Client, job_id: str, ndjson_file: Path) -> None:
    job = client.put_job(
        job_id,
        detectors=["mean(value) by host", {"function": "count"}, Detector("max", "value")],
        bucket_span="5m",
        influencers=["host"],
        groups=["client-tests"],
        latency=dt.timedelta(seconds=30),
        model_memory_limit=64,
        results_retention_days=3,
    )
    analysis = job["analysis_config"]
    assert [d["detector_description"] for d in analysis["detectors"]] == [
        "mean(value) by host",
        "count",
        "max(value)",
    ]
    assert analysis["bucket_span"] == dt.timedelta(minutes=5)
    assert analysis["latency"] == dt.timedelta(seconds=30)
    assert job["analysis_limits"]["model_memory_limit"] == "64mb"
    assert job["results_retention_days"] == 3
    assert [j["job_id"] for j in client.get_jobs("client-tests")] == [job_id]

    assert client.open_job(job_id, timeout="1m")["opened"]
    assert client.get_job_stats(job_id)[0]["state"] == "opened"
    counts = client.post_data(job_id, ndjson_file)
    assert counts["processed_record_count"] == 10 and counts["missing_field_count"] == 10  # no host
    assert counts["earliest_record_timestamp"] == dt.datetime.fromtimestamp(T0, UTC)
    flushed = client.flush_job(job_id, advance_time=(T0 + 630) * 1000)  # the bucket's end plus the latency
    assert flushed["flushed"] and flushed["last_finalized_bucket_end"] == dt.datetime.fromtimestamp(
        T0 + 600, UTC
    )
    assert client.close_job(job_id, timeout="1m") == {"closed": True, "job_ids": [job_id]}
    stats = client.get_job_stats(job_id)[0]
    assert stats["state"] == "closed" and stats["data_counts"]["processed_record_count"] == 10

    assert client.delete_job(job_id) == {"acknowledged": True, "task_id": ""}
    assert client.get_jobs(f"{job_id}*") == []


def test_records_bytes_and_chunk_iterables_all_post(client: Client, job_id: str) -> None:
    def lines(start: int) -> list[bytes]:
        return [b'{"time": %d, "value": %d}\n' % (start + i, i) for i in range(300)]

    client.put_job(job_id, detectors=["count"])
    client.open_job(job_id)
    sources = (
        [{"time": T0 + i, "value": i} for i in range(300)],
        b"".join(lines(T0 + 300)),
        iter(lines(T0 + 600)),
    )
    for source in sources:
        counts = client.post_data(job_id, source, chunk_bytes=100)
        assert counts["processed_record_count"] == 300 and counts["input_field_count"] == 300


def test_post_columns_counts_like_json(client: Client, job_id: str) -> None:
    client.put_job(job_id, detectors=["mean(value) by host"], time_format="epoch_ms")
    client.open_job(job_id)
    times = (T0 + np.arange(100)) * 1000
    counts = client.post_columns(
        job_id,
        [
            {"time": times[:50], "value": np.arange(50.0), "host": np.array(["a", "b"] * 25)},
            {
                "time": times[50:],
                "value": np.full(50, np.nan),
                "host": np.array([None] * 50, dtype=object),
            },
        ],
    )
    assert counts["processed_record_count"] == 100
    assert counts["missing_field_count"] == 100  # value and host in each of the last 50


def test_progress_reports_every_message(client: Client, job_id: str) -> None:
    client.put_job(job_id, detectors=["count"])
    client.open_job(job_id)
    reports: list[Progress] = []
    data = b"".join(b'{"time": %d}\n' % (T0 + i) for i in range(1000))
    client.post_data(job_id, data, chunk_bytes=1024, progress=reports.append)
    assert len(reports) == -(-len(data) // 1024)
    assert reports[-1].bytes_sent == reports[-1].total_bytes == len(data)
    assert reports[-1].records_sent == 1000


def test_reset_times_reach_the_server(client: Client, job_id: str, ndjson_file: Path) -> None:
    client.put_job(job_id, detectors=["count"])
    client.open_job(job_id)
    client.post_data(job_id, ndjson_file)
    again = client.post_data(job_id, ndjson_file, reset_start=T0 * 1000, reset_end="now")
    # The reset does not exempt records from the out-of-order rule, as in Elasticsearch: only
    # those of the latest bucket, [T0 + 300, T0 + 600), are taken again.
    assert again["out_of_order_timestamp_count"] == 5 and again["processed_record_count"] == 5
    with pytest.raises(AnomalydError) as err:
        client.post_data(job_id, ndjson_file, reset_start="now", reset_end=T0 * 1000)
    assert err.value.reason == "INVALID_REQUEST"


def test_delete_without_waiting_returns_a_task(client: Client, job_id: str) -> None:
    client.put_job(job_id, detectors=["count"])
    task_id = client.delete_job(job_id, wait_for_completion=False)["task_id"]
    task = client.get_task(task_id)
    assert (
        task["task_id"] == task_id and task["action"] == "delete_job" and task["job_id"] == job_id
    )


def test_errors_carry_code_reason_and_metadata(
    client: Client, job_id: str, ndjson_file: Path
) -> None:
    with fails("JOB_NOT_FOUND", grpc.StatusCode.NOT_FOUND) as missing:
        client.open_job(job_id)
    assert job_id in missing.value.metadata.values()
    with fails("JOB_NOT_FOUND", grpc.StatusCode.NOT_FOUND):
        client.get_jobs(f"{job_id}*", allow_no_match=False)
    with fails("INVALID_JOB_CONFIG", grpc.StatusCode.INVALID_ARGUMENT) as invalid:
        client.put_job(job_id, detectors=["mean by host"])
    assert [field for field, _ in invalid.value.field_violations] == [
        "analysis_config.detectors[0].field_name"
    ]

    client.put_job(job_id, detectors=["count"])
    with fails("JOB_ALREADY_EXISTS", grpc.StatusCode.ALREADY_EXISTS):
        client.put_job(job_id, detectors=["count"])
    with fails("JOB_NOT_OPEN", grpc.StatusCode.FAILED_PRECONDITION):
        client.post_data(job_id, ndjson_file)
    with fails("JOB_NOT_OPEN", grpc.StatusCode.FAILED_PRECONDITION):
        client.flush_job(job_id)
    client.open_job(job_id)
    with fails("INVALID_REQUEST", grpc.StatusCode.INVALID_ARGUMENT):
        client.flush_job(job_id, start="now")  # start needs calc_interim
    with fails("JOB_OPEN", grpc.StatusCode.FAILED_PRECONDITION):
        client.delete_job(job_id)
    assert client.delete_job(job_id, force=True)["acknowledged"]


def test_a_second_stream_into_a_busy_job_is_refused(client: Client, job_id: str) -> None:
    client.put_job(job_id, detectors=["count"])
    client.open_job(job_id)
    release = threading.Event()
    outcomes: list[dict[str, object] | AnomalydError] = []

    def post() -> None:
        def slow_source() -> Iterator[bytes]:
            yield b'{"time": %d}\n' % T0
            release.wait(30)

        try:
            outcomes.append(client.post_data(job_id, slow_source()))
        except AnomalydError as error:
            outcomes.append(error)
            release.set()

    # Two slow streams, so whichever reaches the server second is the one refused.
    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    refused = [(o.code, o.reason) for o in outcomes if isinstance(o, AnomalydError)]
    assert refused == [(grpc.StatusCode.ABORTED, "DATA_STREAM_ACTIVE")]
    assert [o["processed_record_count"] for o in outcomes if isinstance(o, dict)] == [1]


def test_a_failing_source_raises_its_own_error(client: Client, job_id: str) -> None:
    client.put_job(job_id, detectors=["count"])
    client.open_job(job_id)

    def records(good: int) -> Iterator[Mapping[str, object]]:
        yield from ({"time": T0 + i} for i in range(good))
        yield {"time": T0 + good, "bad": object()}

    # With one record per message, the first fails before the call and the third during it,
    # ending the stream after the first record.
    for good in (0, 2):
        with pytest.raises(TypeError):
            client.post_data(job_id, records(good), chunk_bytes=1)
    with pytest.raises(FileNotFoundError):
        client.post_data(job_id, "/nonexistent/data.ndjson")
    assert client.get_job_stats(job_id)[0]["data_counts"]["processed_record_count"] == 1


def test_an_unreachable_server_is_unavailable_without_a_reason(tmp_path: Path) -> None:
    with LocalServer(tmp_path) as server:
        target = server.target
    with Client(target, timeout=5) as client, fails("", grpc.StatusCode.UNAVAILABLE):
        client.get_jobs()


def test_update_and_reset(client: Client, job_id: str, ndjson_file: Path) -> None:
    client.put_job(job_id, detectors=["count", "mean(value)"], groups=["old"])
    updated = client.update_job(
        job_id, description="now described", groups=["new"], custom_settings={"team": "sre"},
        detector_descriptions={1: "the mean"}, results_retention_days=7,
    )
    assert (updated["description"], updated["groups"], updated["results_retention_days"]) == ("now described", ["new"], 7)
    assert updated["custom_settings"] == {"team": "sre"}
    assert [d["detector_description"] for d in updated["analysis_config"]["detectors"]] == ["count", "the mean"]
    client.open_job(job_id)
    client.post_data(job_id, ndjson_file)
    with pytest.raises(AnomalydError) as err:
        client.reset_job(job_id)
    assert err.value.reason == "JOB_OPEN"
    client.close_job(job_id)
    assert client.reset_job(job_id) == {"acknowledged": True, "task_id": ""}
    assert client.get_job_stats(job_id)[0]["data_counts"]["processed_record_count"] == 0
    assert client.get_jobs(job_id)[0]["description"] == "now described"
