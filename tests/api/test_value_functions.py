"""distinct_count, info_content, time_of_day, time_of_week and lat_long through the real server.

Each stream is generated here (seeded): a planted incident of the kind the function exists for
must be the top record, on its entity and bucket, with a high score, and the same stream
without it must leave that entity quiet in the hours around the incident. (Over whole days of
these noisy streams the engine finds each entity's routine one-in-a-thousand buckets, as it does
with a count detector on the same data, and scores them up to 60: quiet is judged where the
incident would be.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from anomalyd.v1 import column_batch_pb2, job_pb2, results_service_pb2_grpc
from anomalyd.v1 import job_service_pb2 as pb
from anomalyd.v1 import results_service_pb2 as rpb
from tests.conftest import Running, job

START_S = 1_700_006_400  # Wednesday 2023-11-15 00:00 UTC
DAY_S = 86_400
QUIET = 25.0
HIGH = 50.0


def analyse(running: Running, detector: job_pb2.Detector, documents: list[dict[str, Any]], *, span_s: int) -> list[Any]:
    """Run a job of one detector over documents (in time order); its records, highest score first."""
    job_id = f"{detector.function}-{len(documents)}".replace("_", "-")
    running.stub.PutJob(pb.PutJobRequest(job=job(job_id, detector, span_s=span_s)), timeout=10)
    running.stub.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=10)
    data = b"".join(json.dumps(d).encode() + b"\n" for d in documents)
    chunks = [data[i:i + 200_000] for i in range(0, len(data), 200_000)]
    running.stub.PostData(iter([pb.PostDataRequest(job_id=job_id)] + [pb.PostDataRequest(data=c) for c in chunks]), timeout=120)
    running.stub.CloseJob(pb.CloseJobRequest(job_id=job_id), timeout=60)
    results = results_service_pb2_grpc.ResultsServiceStub(running.channel)
    return list(results.GetRecords(rpb.GetRecordsRequest(job_id=job_id, page=rpb.Page(size=100)), timeout=30).records)


def in_time_order(documents: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(documents, key=lambda d: d["time"])


def assert_quiet(records: list[Any], entity: str, around_s: int) -> None:
    """No record of entity within 3 hours of around_s scores as much as QUIET."""
    near = [(r.timestamp.seconds, r.record_score) for r in records
            if r.by_field_value == entity and abs(r.timestamp.seconds - around_s) <= 3 * 3600]
    assert max((score for _, score in near), default=0.0) < QUIET, near[:3]


# ------------------------------------------------------------------------------ distinct_count

DAYS = 4
SCAN_S = START_S + 3 * DAY_S + 14 * 3600  # day 4, 14:00


def connections(scan: bool) -> list[dict[str, Any]]:
    """Four hosts connecting each minute to a few of their 40 usual ports; host h3 scans 200 ports once."""
    rng = np.random.default_rng(7)
    popularity = 1.0 / np.arange(1, 41)
    docs = []
    for h in range(4):
        usual = rng.choice(np.arange(1, 1024), 40, replace=False)
        for minute in range(DAYS * 1440):
            for port in rng.choice(usual, rng.integers(1, 4), p=popularity / popularity.sum()):
                docs.append({"time": START_S + 60 * minute + int(rng.integers(60)), "src": f"h{h}", "port": int(port)})
    if scan:
        docs += [{"time": SCAN_S + 2 * i, "src": "h3", "port": 2000 + i} for i in range(200)]
    return in_time_order(iter(docs))


@pytest.mark.parametrize("function", ["high_distinct_count", "dc"])
def test_distinct_count_finds_a_port_scan(running, function):
    detector = job_pb2.Detector(function=function, field_name="port", by_field_name="src")
    top = analyse(running, detector, connections(scan=True), span_s=600)[0]
    assert (top.timestamp.seconds, top.by_field_value, top.function_description) == (SCAN_S, "h3", "distinct_count")
    assert top.record_score >= HIGH and top.actual[0] >= 200 > 20 > top.typical[0]


def test_distinct_count_of_a_numeric_column_counts_its_numbers_as_json_does(running):
    documents = connections(scan=True)
    detector = job_pb2.Detector(function="high_dc", field_name="port", by_field_name="src")
    from_json = analyse(running, detector, documents, span_s=600)
    running.stub.PutJob(pb.PutJobRequest(job=job("columns", detector, span_s=600)), timeout=10)
    running.stub.OpenJob(pb.OpenJobRequest(job_id="columns"), timeout=10)
    sources = sorted({d["src"] for d in documents})
    batch = column_batch_pb2.ColumnBatch(
        times=[1000 * d["time"] for d in documents],
        numeric_columns=[column_batch_pb2.NumericColumn(name="port", values=[d["port"] for d in documents])],
        string_columns=[column_batch_pb2.StringColumn(name="src", dictionary=sources, codes=[1 + sources.index(d["src"]) for d in documents])],
    )
    running.stub.PostData(iter([pb.PostDataRequest(job_id="columns", columns=batch)]), timeout=60)
    running.stub.CloseJob(pb.CloseJobRequest(job_id="columns"), timeout=60)
    results = results_service_pb2_grpc.ResultsServiceStub(running.channel)
    from_columns = results.GetRecords(rpb.GetRecordsRequest(job_id="columns", page=rpb.Page(size=100)), timeout=30).records
    assert [(r.timestamp.seconds, r.by_field_value, r.actual[0], r.record_score) for r in from_columns] == [
        (r.timestamp.seconds, r.by_field_value, r.actual[0], r.record_score) for r in from_json
    ]


def test_distinct_count_stays_quiet_without_a_scan(running):
    detector = job_pb2.Detector(function="high_distinct_count", field_name="port", by_field_name="src")
    assert_quiet(analyse(running, detector, connections(scan=False), span_s=600), "h3", around_s=SCAN_S)


# ------------------------------------------------------------------------- time_of_day / week

LOGIN_DAYS = 22
NIGHT_LOGIN_S = START_S + (LOGIN_DAYS - 1) * DAY_S + 3 * 3600 + 600  # the last day, 03:10


def logins(night_login: bool, night_worker: bool = True) -> list[dict[str, Any]]:
    """Office-hours users active 8:00-18:00, a night-shift user 22:00-02:00; u1 logs in at 3 a.m. once.

    Three weeks: time_of_week reports after a week and then knows each day of the week, and
    each user's record normaliser has seen enough buckets to tell its routine scores from a rare one.
    """
    rng = np.random.default_rng(3)
    docs = []
    for day in range(LOGIN_DAYS):
        midnight = START_S + day * DAY_S
        for u in range(4):
            for t in rng.uniform(8 * 3600, 18 * 3600, 12):
                docs.append({"time": midnight + int(t), "user": f"u{u}"})
        for t in rng.uniform(-2 * 3600, 2 * 3600, 12 if night_worker else 0):  # around midnight: 23:59 is close to 00:01
            docs.append({"time": midnight + int(t), "user": "night"})
    if night_login:
        docs.append({"time": NIGHT_LOGIN_S, "user": "u1"})
    return in_time_order(iter(d for d in docs if d["time"] >= START_S))


@pytest.mark.parametrize("function", ["time_of_day", "time_of_week"])
def test_time_of_day_finds_a_night_login(running, function):
    detector = job_pb2.Detector(function=function, by_field_name="user")
    records = analyse(running, detector, logins(night_login=True), span_s=3600)
    top = records[0]
    assert (top.timestamp.seconds, top.by_field_value, top.function_description) == (NIGHT_LOGIN_S - 600, "u1", function)
    assert top.record_score >= HIGH
    period = DAY_S if function == "time_of_day" else 7 * DAY_S
    assert top.actual[0] == (NIGHT_LOGIN_S - START_S + 6 * DAY_S) % period  # the epoch's week starts on a Thursday
    assert all(r.by_field_value != "night" or r.record_score < QUIET for r in records)


@pytest.mark.parametrize("function", ["time_of_day", "time_of_week"])
def test_time_of_day_stays_quiet_without_a_night_login(running, function):
    detector = job_pb2.Detector(function=function, by_field_name="user")
    assert_quiet(analyse(running, detector, logins(night_login=False), span_s=3600), "u1", around_s=NIGHT_LOGIN_S)


# ------------------------------------------------------------------------------- info_content

TUNNEL_S = START_S + 3 * DAY_S + 11 * 3600  # day 4, 11:00
DOMAINS = [f"{host}.site{site}.com" for host in ("www", "mail", "api", "cdn") for site in range(50)]
POPULARITY = 1.0 / np.arange(1, len(DOMAINS) + 1)


def dns_queries(tunnel: bool) -> list[dict[str, Any]]:
    """Five clients querying a few of 200 names (by Zipf's law) each minute; c2 tunnels data in 120 random labels once."""
    rng = np.random.default_rng(11)
    docs = []
    for c in range(5):
        for minute in range(DAYS * 1440):
            for name in rng.choice(DOMAINS, rng.integers(1, 4), p=POPULARITY / POPULARITY.sum()):
                docs.append({"time": START_S + 60 * minute + int(rng.integers(60)), "client": f"c{c}", "query": str(name)})
    if tunnel:
        alphabet = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789"))
        for i in range(120):
            label = "".join(rng.choice(alphabet, 40))
            docs.append({"time": TUNNEL_S + 4 * i, "client": "c2", "query": f"{label}.t.example.com"})
    return in_time_order(iter(docs))


def test_info_content_finds_dns_tunnelling(running):
    detector = job_pb2.Detector(function="high_info_content", field_name="query", by_field_name="client")
    top = analyse(running, detector, dns_queries(tunnel=True), span_s=600)[0]
    assert (top.timestamp.seconds, top.by_field_value, top.function_description) == (TUNNEL_S, "c2", "info_content")
    assert top.record_score >= HIGH and top.actual[0] > 10 * top.typical[0]


def test_info_content_stays_quiet_without_tunnelling(running):
    detector = job_pb2.Detector(function="high_info_content", field_name="query", by_field_name="client")
    assert_quiet(analyse(running, detector, dns_queries(tunnel=False), span_s=600), "c2", around_s=TUNNEL_S)


# ----------------------------------------------------------------------------------- lat_long

GEO_DAYS = 21
FAR_LOGIN_S = START_S + (GEO_DAYS - 1) * DAY_S + 10 * 3600 + 900  # the last day, 10:15
CITIES = {"u0": [(48.857, 2.352)], "u1": [(48.857, 2.352), (45.764, 4.836)], "u2": [(40.713, -74.006)], "u3": [(35.676, 139.650)]}
SYDNEY = (-33.869, 151.209)
SYDNEY_TEXT = "-33.869,151.209"


def geo_logins(far_login: bool) -> list[dict[str, Any]]:
    """Users logging in from their cities (u1 from Paris and Lyon), as "lat,lon" text or geo_point objects.

    Some logins carry coordinates that are no place; u1 logs in from Sydney once.
    """
    rng = np.random.default_rng(5)
    docs: list[dict[str, Any]] = []
    for user, cities in CITIES.items():
        for t in rng.uniform(0, GEO_DAYS * DAY_S, 10 * GEO_DAYS):
            lat, lon = np.array(cities[rng.integers(len(cities))]) + rng.normal(0, 0.05, 2)
            location: Any = {"lat": lat, "lon": lon} if rng.random() < 0.3 else f"{lat:.5f},{lon:.5f}"
            docs.append({"time": START_S + int(t), "user": user, "location": location})
    docs += [{"time": START_S + DAY_S + i, "user": "u0", "location": bad} for i, bad in enumerate(["95,10", "abc", "1,2,3"])]
    if far_login:
        docs.append({"time": FAR_LOGIN_S, "user": "u1", "location": SYDNEY_TEXT})
    return in_time_order(iter(docs))


def test_lat_long_finds_a_login_from_another_continent(running):
    detector = job_pb2.Detector(function="lat_long", field_name="location", by_field_name="user")
    top = analyse(running, detector, geo_logins(far_login=True), span_s=3600)[0]
    assert (top.timestamp.seconds, top.by_field_value, top.function_description) == (FAR_LOGIN_S - 900, "u1", "lat_long")
    assert top.record_score >= HIGH
    assert list(top.actual) == list(SYDNEY) and top.geo_results.actual_point == SYDNEY_TEXT
    typical = [float(v) for v in top.geo_results.typical_point.split(",")]
    assert typical == list(top.typical) and abs(typical[0] - 47) < 2 and abs(typical[1] - 3.5) < 2  # Paris or Lyon


def test_lat_long_stays_quiet_without_it_and_skips_coordinates_that_are_no_place(running):
    detector = job_pb2.Detector(function="lat_long", field_name="location", by_field_name="user")
    documents = geo_logins(far_login=False)
    assert_quiet(analyse(running, detector, documents, span_s=3600), "u1", around_s=FAR_LOGIN_S)
    counts = running.stub.GetJobStats(pb.GetJobStatsRequest(job_id=f"lat-long-{len(documents)}"), timeout=10)
    assert counts.jobs[0].data_counts.processed_record_count == len(documents)


# ------------------------------------------------------------------------ population (over)


@pytest.mark.parametrize(
    ("function", "field", "stream", "at"),
    [
        ("time_of_day", "", lambda planted: logins(planted, night_worker=False), NIGHT_LOGIN_S),
        ("time_of_week", "", lambda planted: logins(planted, night_worker=False), NIGHT_LOGIN_S),
        ("lat_long", "location", geo_logins, FAR_LOGIN_S),
    ],
)
def test_over_a_population_a_time_or_place_none_of_it_uses_stands_out(running, function, field, stream, at):
    detector = job_pb2.Detector(function=function, field_name=field, over_field_name="user")
    top = analyse(running, detector, stream(True), span_s=3600)[0]
    assert (top.timestamp.seconds // 3600, top.over_field_value, top.function) == (at // 3600, "u1", function)
    assert top.record_score >= HIGH
    assert [c.over_field_value for c in top.causes] == ["u1"]
    assert (top.causes[0].geo_results.actual_point != "") == (function == "lat_long")
    quiet = analyse(running, detector, stream(False), span_s=3600)
    assert all(r.over_field_value != "u1" or abs(r.timestamp.seconds - at) > 3 * 3600 or r.record_score < QUIET for r in quiet)
