"""Reading results through the Client: buckets, records, influencers, overall buckets."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest

from anomalyd_client import AnomalydError, Client
from anomalyd_client.datagen import START, generate
from anomalyd_client.local import LocalServer

JOB = "results"
HOURS = 24


@pytest.fixture(scope="module")
def analysed(server: LocalServer) -> LocalServer:
    """The module's server with a closed job that has analysed a day of the demo's data."""
    with Client(server.target, timeout=60) as client:
        client.put_job(
            JOB, detectors=["mean(responsetime) by airline"], influencers=["airline"], groups=["g"]
        )
        client.open_job(JOB)
        client.post_data(JOB, generate(5, hours=HOURS)[0])
        client.close_job(JOB)
    return server


@pytest.fixture
def results(analysed: LocalServer, client: Client) -> Client:
    """A client of the server holding the analysed job."""
    return client


def test_buckets_cover_the_data_a_page_at_a_time(results: Client) -> None:
    first = results.get_buckets(JOB, size=10)
    assert first["count"] >= HOURS * 12 - 2  # the partial last bucket is not final
    times = [b["timestamp"] for b in first["buckets"]]
    assert times == sorted(times) and times[0] == START and len(times) == 10
    second = results.get_buckets(JOB, from_=10, size=10)
    assert second["buckets"][0]["timestamp"] == START + dt.timedelta(minutes=50)
    only = results.get_buckets(JOB, timestamp=START + dt.timedelta(hours=1))["buckets"]
    assert [b["timestamp"] for b in only] == [START + dt.timedelta(hours=1)]


def test_buckets_filter_by_time_and_sort_by_score(results: Client) -> None:
    start, end = START + dt.timedelta(hours=2), START + dt.timedelta(hours=3)
    window = results.get_buckets(JOB, start=start, end=end)
    assert window["count"] == 12 and all(start <= b["timestamp"] < end for b in window["buckets"])
    scores = [
        b["anomaly_score"]
        for b in results.get_buckets(JOB, sort="anomaly_score", desc=True)["buckets"]
    ]
    assert scores == sorted(scores, reverse=True)


def test_records_come_highest_score_first_and_name_their_series(results: Client) -> None:
    page = results.get_records(JOB, size=20)
    scores = [r["record_score"] for r in page["records"]]
    assert scores == sorted(scores, reverse=True) and page["count"] >= len(scores)
    for record in page["records"]:
        assert record["function"] == "mean" and record["field_name"] == "responsetime"
        assert record["by_field_name"] == "airline" and record["by_field_value"]
        assert len(record["actual"]) == len(record["typical"]) == 1
    threshold = scores[0] if scores else 0.0
    assert all(
        r["record_score"] >= threshold
        for r in results.get_records(JOB, record_score=threshold)["records"]
    )


def test_influencers_and_overall_buckets(results: Client) -> None:
    influencers = results.get_influencers(JOB, size=5)["influencers"]
    assert all(i["influencer_field_name"] == "airline" for i in influencers)
    overall = results.get_overall_buckets("g", bucket_span="1h")["overall_buckets"]
    assert overall and all(o["bucket_span"] == dt.timedelta(hours=1) for o in overall)
    assert {j["job_id"] for o in overall for j in o["jobs"]} == {JOB}


def test_result_errors_carry_reasons(results: Client) -> None:
    with pytest.raises(AnomalydError) as missing:
        results.get_records("no-such-job")
    assert (missing.value.code, missing.value.reason) == (
        grpc.StatusCode.NOT_FOUND,
        "JOB_NOT_FOUND",
    )
    with pytest.raises(AnomalydError) as bad_sort:
        results.get_buckets(JOB, sort="bogus")
    assert bad_sort.value.code == grpc.StatusCode.INVALID_ARGUMENT
