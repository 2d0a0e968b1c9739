"""Population analysis (over_field_name) through the real server: an entity far from its peers, and quiet streams."""

from __future__ import annotations

import json

import grpc
import numpy as np
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from anomalyd.v1 import job_pb2, results_service_pb2_grpc
from anomalyd.v1 import job_service_pb2 as pb
from anomalyd.v1 import results_service_pb2 as rpb
from tests.conftest import error_reason, job

SPAN_S = 900
START_S = 1_700_006_400  # a midnight, UTC
BUCKETS = 3 * 96  # three days of 15-minute buckets
PLANTED = BUCKETS - 30
HOSTS = [f"10.0.0.{i}" for i in range(40)]
QUIET = 25.0


def transfers(seed: int, *, planted: bool) -> bytes:
    """Each host sends a few transfers a bucket, log-normal bytes; 10.0.0.7 sends 100 times its usual once."""
    rng = np.random.default_rng(seed)
    lines = []
    for b in range(BUCKETS):
        for h, host in enumerate(HOSTS):
            n = rng.poisson(3.0) + 1
            sent = rng.lognormal(9.0, 0.5, n) * (100.0 if planted and b == PLANTED and h == 7 else 1.0)
            times = START_S + b * SPAN_S + np.sort(rng.integers(0, SPAN_S, n))
            lines += [json.dumps({"time": int(t), "ip": host, "bytes": round(float(v), 1)}) for t, v in zip(times, sent, strict=True)]
    return _sorted(lines)


def requests(seed: int, *, planted: bool) -> bytes:
    """Clients make requests, mostly status 200, some 404; client c5 makes 60 404s in one bucket."""
    rng = np.random.default_rng(seed)
    lines = []
    for b in range(BUCKETS):
        for c in range(40):
            ok, missing = rng.poisson(4.0), rng.poisson(0.5)
            if planted and b == PLANTED and c == 5:
                missing += 60
            statuses = ["200"] * ok + ["404"] * missing
            times = START_S + b * SPAN_S + np.sort(rng.integers(0, SPAN_S, len(statuses)))
            lines += [json.dumps({"time": int(t), "client": f"c{c}", "status": s}) for t, s in zip(times, statuses, strict=True)]
    return _sorted(lines)


def connections(seed: int, *, planted: bool) -> bytes:
    """Each source talks to a few of 20 common ports a bucket; 10.0.0.9 scans 300 ports once."""
    rng = np.random.default_rng(seed)
    lines = []
    for b in range(BUCKETS):
        for h, host in enumerate(HOSTS):
            ports = rng.choice([22, 53, 80, 443, *range(8000, 8016)], rng.poisson(4.0) + 1).tolist()
            if planted and b == PLANTED and h == 9:
                ports += list(range(1, 301))
            times = START_S + b * SPAN_S + np.sort(rng.integers(0, SPAN_S, len(ports)))
            lines += [json.dumps({"time": int(t), "src_ip": host, "port": p}) for t, p in zip(times, ports, strict=True)]
    return _sorted(lines)


def queries(seed: int, *, planted: bool) -> bytes:
    """Each client resolves a few common names a bucket; c3 sends long random names (DNS tunnelling) once."""
    rng = np.random.default_rng(seed)
    names = ["example.com", "mail.example.com", "cdn.example.net", "api.example.org", "login.example.com"]
    lines = []
    for b in range(BUCKETS):
        for c in range(40):
            asked = [names[i] for i in rng.integers(0, len(names), rng.poisson(3.0) + 1)]
            if planted and b == PLANTED and c == 3:
                asked += ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz0123456789"), 60)) + ".t.example.biz" for _ in range(20)]
            times = START_S + b * SPAN_S + np.sort(rng.integers(0, SPAN_S, len(asked)))
            lines += [json.dumps({"time": int(t), "client": f"c{c}", "query": q}) for t, q in zip(times, asked, strict=True)]
    return _sorted(lines)


USERS = [f"u{i}" for i in range(40)]
CITIES = {"Paris": (48.86, 2.35), "Berlin": (52.52, 13.40), "Madrid": (40.42, -3.70), "Rome": (41.90, 12.50),
          "London": (51.51, -0.13), "Amsterdam": (52.37, 4.90), "Vienna": (48.21, 16.37), "Warsaw": (52.23, 21.01)}
SYDNEY = (-33.87, 151.21)
LATE = 2 * 96 + 3 * 4  # day 3, 03:00


def logins(seed: int, *, planted: bool) -> bytes:
    """Users log in now and then between 8:00 and 18:00, from their European city or on a trip to another.

    Planted: u7 logs in at 03:10 on day 3 and, at PLANTED (day 3, 16:30), from Sydney.
    """
    rng = np.random.default_rng(seed)
    homes = list(CITIES.values())
    lines = []
    for b in range(BUCKETS):
        if not 8 <= (b % 96) // 4 < 18:
            continue
        for u, user in enumerate(USERS):
            if rng.random() < 0.4:
                lat, lon = homes[u % len(homes)] if rng.random() < 0.9 else homes[rng.integers(len(homes))]
                t = START_S + b * SPAN_S + int(rng.integers(SPAN_S))
                lines.append(json.dumps({"time": t, "user": user, "location": f"{lat + rng.normal(0, 0.05):.5f},{lon + rng.normal(0, 0.05):.5f}"}))
    if planted:
        lines.append(json.dumps({"time": START_S + LATE * SPAN_S + 600, "user": "u7", "location": "48.86,2.35"}))
        lines.append(json.dumps({"time": START_S + PLANTED * SPAN_S + 100, "user": "u7", "location": f"{SYDNEY[0]},{SYDNEY[1]}"}))
    return _sorted(lines)


def _sorted(lines: list[str]) -> bytes:
    times = [json.loads(line)["time"] for line in lines]
    return "\n".join(lines[i] for i in np.argsort(times, kind="stable")).encode() + b"\n"


def analyse(running, job_id: str, detector: job_pb2.Detector, data: bytes, influencer: str) -> list[rpb.AnomalyRecord]:
    """Put, open and feed a job; its records, best first."""
    stub = running.stub
    stub.PutJob(pb.PutJobRequest(job=job(job_id, detector, span_s=SPAN_S, influencers=[influencer])), timeout=10)
    stub.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=10)
    chunks = [data[i:i + 500_000] for i in range(0, len(data), 500_000)]
    stub.PostData(iter([pb.PostDataRequest(job_id=job_id)] + [pb.PostDataRequest(data=c) for c in chunks]), timeout=120)
    stub.FlushJob(pb.FlushJobRequest(job_id=job_id), timeout=60)
    results = results_service_pb2_grpc.ResultsServiceStub(running.channel)
    page = rpb.Page(size=1000)
    return list(results.GetRecords(rpb.GetRecordsRequest(job_id=job_id, page=page), timeout=30).records)


HIGH_SUM = job_pb2.Detector(function="high_sum", field_name="bytes", over_field_name="ip")
HIGH_COUNT = job_pb2.Detector(function="high_count", by_field_name="status", over_field_name="client")


def test_a_host_sending_far_more_than_its_peers_is_the_top_record(running):
    records = analyse(running, "exfil", HIGH_SUM, transfers(1, planted=True), "ip")
    top = records[0]
    assert top.timestamp.seconds == START_S + PLANTED * SPAN_S
    assert (top.function, top.field_name, top.over_field_name, top.over_field_value) == ("high_sum", "bytes", "ip", "10.0.0.7")
    assert 50 <= top.record_score <= top.initial_record_score
    assert [i.influencer_field_values for i in top.influencers if i.influencer_field_name == "ip"] == [["10.0.0.7"]]
    [cause] = top.causes
    assert (cause.over_field_name, cause.over_field_value, cause.function, cause.field_name) == ("ip", "10.0.0.7", "high_sum", "bytes")
    assert cause.actual[0] > 30 * cause.typical[0]
    assert cause.probability == pytest.approx(top.probability)
    stats = running.stub.GetJobStats(pb.GetJobStatsRequest(job_id="exfil"), timeout=30).jobs[0].model_size_stats
    assert (stats.total_over_field_count, stats.total_by_field_count) == (len(HOSTS), 0)


def test_the_same_transfers_without_the_incident_stay_quiet(running):
    records = analyse(running, "calm", HIGH_SUM, transfers(1, planted=False), "ip")
    assert max((r.record_score for r in records), default=0.0) < QUIET


def test_a_client_with_a_burst_of_404s_is_found_by_its_status(running):
    records = analyse(running, "scan", HIGH_COUNT, requests(2, planted=True), "client")
    top = records[0]
    assert top.timestamp.seconds == START_S + PLANTED * SPAN_S
    assert (top.over_field_name, top.over_field_value, top.by_field_name) == ("client", "c5", "status")
    assert top.record_score >= 50
    assert top.causes[0].by_field_value == "404"
    assert top.causes[0].actual[0] >= 60
    assert all(c.by_field_value != "200" for c in top.causes)  # its 200s were ordinary
    stats = running.stub.GetJobStats(pb.GetJobStatsRequest(job_id="scan"), timeout=30).jobs[0].model_size_stats
    assert (stats.total_over_field_count, stats.total_by_field_count) == (40, 2)


def test_the_same_requests_without_the_burst_stay_quiet(running):
    records = analyse(running, "browsing", HIGH_COUNT, requests(2, planted=False), "client")
    assert max((r.record_score for r in records), default=0.0) < QUIET


@pytest.mark.parametrize(
    ("detector", "stream", "entity", "field"),
    [
        (job_pb2.Detector(function="high_distinct_count", field_name="port", over_field_name="src_ip"), connections, "10.0.0.9", "src_ip"),
        (job_pb2.Detector(function="high_info_content", field_name="query", over_field_name="client"), queries, "c3", "client"),
    ],
    ids=["port-scan", "dns-tunnel"],
)
def test_value_functions_over_a_population_find_the_planted_entity_and_stay_quiet_without_it(running, detector, stream, entity, field):
    records = analyse(running, "planted", detector, stream(4, planted=True), field)
    top = records[0]
    assert (top.timestamp.seconds, top.over_field_value, top.function) == (START_S + PLANTED * SPAN_S, entity, detector.function)
    assert top.record_score >= 50
    assert top.causes[0].actual[0] > 3 * top.causes[0].typical[0]
    quiet = analyse(running, "quiet", detector, stream(4, planted=False), field)
    assert max((r.record_score for r in quiet), default=0.0) < QUIET


def test_population_results_and_model_survive_close_and_reopen(running):
    records = analyse(running, "reopened", HIGH_SUM, transfers(3, planted=True), "ip")
    stub = running.stub
    stub.CloseJob(pb.CloseJobRequest(job_id="reopened"), timeout=60)
    stub.OpenJob(pb.OpenJobRequest(job_id="reopened"), timeout=60)
    results = results_service_pb2_grpc.ResultsServiceStub(running.channel)
    again = results.GetRecords(rpb.GetRecordsRequest(job_id="reopened", page=rpb.Page(size=1000)), timeout=30).records
    key = sorted((r.timestamp.seconds, r.over_field_value, r.initial_record_score) for r in records)
    assert sorted((r.timestamp.seconds, r.over_field_value, r.initial_record_score) for r in again) == key
    assert again[0].over_field_value == "10.0.0.7"


@pytest.mark.parametrize(
    "detector",
    [
        job_pb2.Detector(function="non_zero_count", over_field_name="ip"),  # Elasticsearch forbids it
        job_pb2.Detector(function="high_non_null_sum", field_name="bytes", over_field_name="ip"),  # so too, since 9.3
    ],
    ids=lambda d: d.function,
)
def test_over_fields_elasticsearch_forbids_are_refused_at_put_job(stub, detector):
    with pytest.raises(grpc.RpcError) as err:
        stub.PutJob(pb.PutJobRequest(job=job("refused", detector)), timeout=10)
    assert (err.value.code(), error_reason(err.value)) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_JOB_CONFIG")
    bad = error_details_pb2.BadRequest()
    next(d for d in rpc_status.from_call(err.value).details if d.Is(bad.DESCRIPTOR)).Unpack(bad)
    assert [v.field for v in bad.field_violations] == ["analysis_config.detectors[0].over_field_name"]


TIME_OF_DAY = job_pb2.Detector(function="time_of_day", over_field_name="user")
LAT_LONG = job_pb2.Detector(function="lat_long", field_name="location", over_field_name="user")


def test_a_user_logging_in_at_night_when_the_population_logs_in_by_day_is_found(running):
    records = analyse(running, "night", TIME_OF_DAY, logins(5, planted=True), "user")
    top = records[0]
    assert (top.timestamp.seconds, top.function, top.over_field_name, top.over_field_value) == (
        START_S + LATE * SPAN_S, "time_of_day", "user", "u7")
    assert top.record_score >= 50
    [cause] = top.causes
    assert (cause.over_field_value, cause.actual[0]) == ("u7", 3 * 3600 + 600)
    assert 8 * 3600 <= cause.typical[0] <= 18 * 3600
    quiet = analyse(running, "day", TIME_OF_DAY, logins(5, planted=False), "user")
    assert max((r.record_score for r in quiet), default=0.0) < QUIET


def test_a_user_logging_in_from_another_continent_when_the_population_is_in_europe_is_found(running):
    records = analyse(running, "abroad", LAT_LONG, logins(6, planted=True), "user")
    top = records[0]
    assert (top.timestamp.seconds, top.function, top.over_field_value) == (START_S + PLANTED * SPAN_S, "lat_long", "u7")
    assert top.record_score >= 50
    [cause] = top.causes
    assert list(cause.actual) == list(top.actual) == list(SYDNEY)
    assert cause.geo_results.actual_point == top.geo_results.actual_point == f"{SYDNEY[0]},{SYDNEY[1]}"
    lat, lon = (float(v) for v in cause.geo_results.typical_point.split(","))
    assert 35 < lat < 60 and -10 < lon < 30  # in Europe
    quiet = analyse(running, "home", LAT_LONG, logins(6, planted=False), "user")
    assert max((r.record_score for r in quiet), default=0.0) < QUIET
