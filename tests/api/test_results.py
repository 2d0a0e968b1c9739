"""Results through the real server: records at the planted anomaly, filters, interim, paging."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from google.protobuf import duration_pb2, timestamp_pb2

from anomalyd.engine.results import BucketResult
from anomalyd.v1 import job_pb2, results_service_pb2_grpc
from anomalyd.v1 import job_service_pb2 as pb
from anomalyd.v1 import results_service_pb2 as rpb
from tests.conftest import error_reason, job

SPAN_S = 300
START_S = 1_700_006_400  # a midnight, UTC
DAYS = 4
SPIKE_S = START_S + 3 * 86_400 + 13 * 3_600  # day 4, 13:00, host b


def rows(seed: int = 1, spike: bool = True) -> bytes:
    """Two hosts, one record a minute each, a daily cycle with noise; host b spikes once."""
    rng = np.random.default_rng(seed)
    minutes = np.arange(DAYS * 1440)
    times = START_S + 60 * minutes
    daily = 50 + 20 * np.sin(2 * np.pi * minutes / 1440)
    lines = []
    for host in ("a", "b"):
        values = daily + rng.normal(0, 2, len(minutes))
        if spike and host == "b":
            values[(times >= SPIKE_S) & (times < SPIKE_S + SPAN_S)] += 60
        lines += [b'{"time": %d, "host": "%s", "latency": %.3f}' % (t, host.encode(), v) for t, v in zip(times, values, strict=True)]
    order = np.argsort([int(line.split(b",")[0][9:]) for line in lines], kind="stable")
    return b"\n".join(lines[i] for i in order) + b"\n"


@pytest.fixture
def results(running):
    detector = job_pb2.Detector(function="mean", field_name="latency", by_field_name="host")
    running.stub.PutJob(pb.PutJobRequest(job=job("latency", detector, span_s=SPAN_S, influencers=["host"])), timeout=10)
    running.stub.OpenJob(pb.OpenJobRequest(job_id="latency"), timeout=10)
    data = rows()
    chunks = [data[i:i + 200_000] for i in range(0, len(data), 200_000)]
    running.stub.PostData(iter([pb.PostDataRequest(job_id="latency")] + [pb.PostDataRequest(data=c) for c in chunks]), timeout=120)
    return results_service_pb2_grpc.ResultsServiceStub(running.channel)


def test_planted_spike_is_the_top_record(results):
    records = results.GetRecords(rpb.GetRecordsRequest(job_id="latency", page=rpb.Page(size=5)), timeout=30)
    top = records.records[0]
    assert top.timestamp.seconds == SPIKE_S
    assert (top.by_field_name, top.by_field_value, top.function, top.field_name) == ("host", "b", "mean", "latency")
    # Renormalisation may lower record_score later; initial_record_score keeps the first score.
    assert 50 <= top.record_score <= top.initial_record_score
    assert top.actual[0] > top.typical[0] + 40
    assert [i.influencer_field_values for i in top.influencers if i.influencer_field_name == "host"] == [["b"]]
    assert all(r.record_score <= top.record_score for r in records.records)
    assert records.count >= len(records.records)


def test_bucket_filters_expand_sort_and_paging(results):
    every = results.GetBuckets(rpb.GetBucketsRequest(job_id="latency", page=rpb.Page(size=10_000)), timeout=30)
    times = [b.timestamp.seconds for b in every.buckets]
    assert times == sorted(times) and every.count == len(times)
    assert all(b.bucket_span.seconds == SPAN_S for b in every.buckets)
    assert all(any(i.influencer_field_name == "bucket_time" for i in b.bucket_influencers) for b in every.buckets)
    worst = results.GetBuckets(rpb.GetBucketsRequest(job_id="latency", sort="anomaly_score", desc=True, expand=True, page=rpb.Page(size=1)), timeout=30).buckets[0]
    assert worst.timestamp.seconds == SPIKE_S and worst.anomaly_score >= 50
    assert worst.records and worst.records[0].by_field_value == "b"
    high = results.GetBuckets(rpb.GetBucketsRequest(job_id="latency", anomaly_score=worst.anomaly_score, page=rpb.Page(size=100)), timeout=30)
    assert [b.timestamp.seconds for b in high.buckets] == [SPIKE_S]
    window = results.GetBuckets(rpb.GetBucketsRequest(job_id="latency", start=timestamp_pb2.Timestamp(seconds=SPIKE_S - 600),
                                                      end=timestamp_pb2.Timestamp(seconds=SPIKE_S + 600)), timeout=30)
    assert [b.timestamp.seconds for b in window.buckets] == [SPIKE_S - 600, SPIKE_S - 300, SPIKE_S, SPIKE_S + 300]
    single = results.GetBuckets(rpb.GetBucketsRequest(job_id="latency", timestamp=timestamp_pb2.Timestamp(seconds=SPIKE_S)), timeout=30)
    assert [b.timestamp.seconds for b in single.buckets] == [SPIKE_S]
    page = results.GetBuckets(rpb.GetBucketsRequest(job_id="latency", page=rpb.Page(**{"from": 10, "size": 5})), timeout=30)
    assert [b.timestamp.seconds for b in page.buckets] == times[10:15]


def test_queries_follow_elasticsearch_rules(results):
    spike = timestamp_pb2.Timestamp(seconds=SPIKE_S)
    # timestamp names one bucket: a range, a page or a score beside it is refused.
    for extra in ({"start": spike}, {"end": spike}, {"anomaly_score": 1.0}, {"page": rpb.Page(size=5)},
                  {"page": rpb.Page(**{"from": 1})}, {"page": rpb.Page(count_only=True)}):
        with pytest.raises(grpc.RpcError) as err:
            results.GetBuckets(rpb.GetBucketsRequest(job_id="latency", timestamp=spike, **extra), timeout=10)
        assert (err.value.code(), error_reason(err.value)) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST"), extra
    # A timestamp that starts no bucket is NOT_FOUND, as Elasticsearch's 404.
    for missing in (SPIKE_S + 1, START_S - SPAN_S):
        with pytest.raises(grpc.RpcError) as err:
            results.GetBuckets(rpb.GetBucketsRequest(job_id="latency", timestamp=timestamp_pb2.Timestamp(seconds=missing)), timeout=10)
        assert (err.value.code(), error_reason(err.value)) == (grpc.StatusCode.NOT_FOUND, "BUCKET_NOT_FOUND")
    # Page size 0: no hits, only the count.
    count_only = rpb.Page(count_only=True)
    buckets = results.GetBuckets(rpb.GetBucketsRequest(job_id="latency", page=count_only), timeout=10)
    assert not buckets.buckets and buckets.count == DAYS * 86_400 // SPAN_S - 1  # the last bucket is still open
    records = results.GetRecords(rpb.GetRecordsRequest(job_id="latency", page=count_only), timeout=10)
    assert not records.records and records.count > 0
    influencers = results.GetInfluencers(rpb.GetInfluencersRequest(job_id="latency", page=count_only), timeout=10)
    assert not influencers.influencers and influencers.count > 0
    # Sort by any field of the result.
    every = rpb.Page(size=10_000)
    by_value = results.GetRecords(rpb.GetRecordsRequest(job_id="latency", sort="by_field_value", desc=False, page=every), timeout=10).records
    values = [r.by_field_value for r in by_value]
    assert values == sorted(values) and set(values) == {"a", "b"}
    by_actual = results.GetRecords(rpb.GetRecordsRequest(job_id="latency", sort="actual", page=every), timeout=10).records
    assert [r.actual[0] for r in by_actual] == sorted((r.actual[0] for r in by_actual), reverse=True)
    by_impact = results.GetRecords(rpb.GetRecordsRequest(job_id="latency", sort="multi_bucket_impact", desc=False, page=every), timeout=10).records
    assert [r.multi_bucket_impact for r in by_impact] == sorted(r.multi_bucket_impact for r in by_impact)
    by_name = results.GetInfluencers(rpb.GetInfluencersRequest(job_id="latency", sort="influencer_field_value", page=every), timeout=10).influencers
    assert [i.influencer_field_value for i in by_name] == sorted((i.influencer_field_value for i in by_name), reverse=True)
    by_count = results.GetBuckets(rpb.GetBucketsRequest(job_id="latency", sort="event_count", desc=True, page=rpb.Page(size=3)), timeout=10).buckets
    assert len(by_count) == 3 and by_count[0].event_count >= by_count[-1].event_count


def test_influencers_point_at_the_host(results):
    top = results.GetInfluencers(rpb.GetInfluencersRequest(job_id="latency", page=rpb.Page(size=1)), timeout=30).influencers[0]
    assert (top.influencer_field_name, top.influencer_field_value, top.timestamp.seconds) == ("host", "b", SPIKE_S)
    assert top.influencer_score > 0


def test_bad_requests(results):
    for call in (
        lambda: results.GetRecords(rpb.GetRecordsRequest(job_id="latency", sort="color"), timeout=10),
        lambda: results.GetBuckets(rpb.GetBucketsRequest(job_id="latency", page=rpb.Page(**{"from": 9_999, "size": 100})), timeout=10),
    ):
        with pytest.raises(grpc.RpcError) as err:
            call()
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as err:
        results.GetBuckets(rpb.GetBucketsRequest(job_id="nope"), timeout=10)
    assert error_reason(err.value) == "JOB_NOT_FOUND"


def test_interim_results_are_replaced_when_the_bucket_is_final(running, results):
    stub = running.stub
    last = START_S + DAYS * 86_400
    partial = b'{"time": %d, "host": "b", "latency": 400}\n' % (last + 10)
    stub.PostData(iter([pb.PostDataRequest(job_id="latency", data=partial)]), timeout=30)
    stub.FlushJob(pb.FlushJobRequest(job_id="latency", calc_interim=True), timeout=30)
    interim = results.GetBuckets(rpb.GetBucketsRequest(job_id="latency", timestamp=timestamp_pb2.Timestamp(seconds=last)), timeout=30).buckets
    assert len(interim) == 1 and interim[0].is_interim
    with pytest.raises(grpc.RpcError) as err:  # the one bucket asked for is left out: Elasticsearch's 404
        results.GetBuckets(rpb.GetBucketsRequest(job_id="latency", timestamp=timestamp_pb2.Timestamp(seconds=last), exclude_interim=True), timeout=30)
    assert (err.value.code(), error_reason(err.value)) == (grpc.StatusCode.NOT_FOUND, "BUCKET_NOT_FOUND")
    stub.FlushJob(pb.FlushJobRequest(job_id="latency", advance_time=timestamp_pb2.Timestamp(seconds=last + SPAN_S)), timeout=30)
    final = results.GetBuckets(rpb.GetBucketsRequest(job_id="latency", timestamp=timestamp_pb2.Timestamp(seconds=last)), timeout=30).buckets
    assert len(final) == 1 and not final[0].is_interim
    records = results.GetRecords(rpb.GetRecordsRequest(job_id="latency", start=timestamp_pb2.Timestamp(seconds=last)), timeout=30).records
    assert records and not any(r.is_interim for r in records)


def test_overall_buckets(running, results):
    overall = results.GetOverallBuckets(rpb.GetOverallBucketsRequest(job_id="latency", bucket_span=duration_pb2.Duration(seconds=3600), overall_score=50), timeout=30)
    assert [o.timestamp.seconds for o in overall.overall_buckets] == [SPIKE_S // 3600 * 3600]
    assert overall.overall_buckets[0].jobs[0].job_id == "latency"
    with pytest.raises(grpc.RpcError) as err:
        results.GetOverallBuckets(rpb.GetOverallBucketsRequest(job_id="latency", bucket_span=duration_pb2.Duration(seconds=60)), timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_results_survive_close_and_reopen_and_go_with_delete(running, results):
    stub = running.stub
    before = results.GetRecords(rpb.GetRecordsRequest(job_id="latency"), timeout=30)
    stub.CloseJob(pb.CloseJobRequest(job_id="latency"), timeout=30)
    closed = results.GetRecords(rpb.GetRecordsRequest(job_id="latency"), timeout=30)
    # The close snapshot renormalises: current scores may move, initial ones never do.
    initial = sorted((r.timestamp.seconds, r.initial_record_score) for r in before.records)
    assert sorted((r.timestamp.seconds, r.initial_record_score) for r in closed.records) == initial
    stub.OpenJob(pb.OpenJobRequest(job_id="latency"), timeout=30)
    assert results.GetRecords(rpb.GetRecordsRequest(job_id="latency"), timeout=30) == closed
    stats = stub.GetJobStats(pb.GetJobStatsRequest(job_id="latency"), timeout=30).jobs[0].model_size_stats
    assert stats.model_bytes > 0 and stats.total_by_field_count == 2
    stub.DeleteJob(pb.DeleteJobRequest(job_id="latency", force=True), timeout=30)
    with pytest.raises(grpc.RpcError):
        results.GetRecords(rpb.GetRecordsRequest(job_id="latency"), timeout=30)


def test_results_retention_keeps_the_newest_days(running):
    detector = job_pb2.Detector(function="mean", field_name="latency", by_field_name="host")
    running.stub.PutJob(pb.PutJobRequest(job=job("short-memory", detector, span_s=SPAN_S, results_retention_days=1)), timeout=10)
    running.stub.OpenJob(pb.OpenJobRequest(job_id="short-memory"), timeout=10)
    running.stub.PostData(iter([pb.PostDataRequest(job_id="short-memory", data=rows())]), timeout=120)
    running.stub.CloseJob(pb.CloseJobRequest(job_id="short-memory"), timeout=60)
    results = results_service_pb2_grpc.ResultsServiceStub(running.channel)
    buckets = results.GetBuckets(rpb.GetBucketsRequest(job_id="short-memory", page=rpb.Page(size=10_000)), timeout=30).buckets
    newest = buckets[-1].timestamp.seconds  # counted from the newest bucket's start, as Elasticsearch does
    assert buckets[0].timestamp.seconds == newest - 86_400
    records = results.GetRecords(rpb.GetRecordsRequest(job_id="short-memory", sort="timestamp", desc=False), timeout=30).records
    assert records and records[0].timestamp.seconds >= newest - 86_400


def planted_bucket(start_s: int, score: float) -> BucketResult:
    return BucketResult(start_s * 1000, 60, score, score, 1, False, [], [], [])


def test_overall_buckets_wider_than_the_jobs_take_the_greatest_base_overall_score(running):
    scores = {"ob-a": (90, 0), "ob-b": (10, 80), "ob-c": (0, 70)}  # two one-minute buckets each
    for job_id, (first, second) in scores.items():
        running.stub.PutJob(pb.PutJobRequest(job=job(job_id, span_s=60)), timeout=10)
        running.server.jobs.repository.rewrite_results(job_id, [planted_bucket(START_S, first), planted_bucket(START_S + 60, second)])
    results = results_service_pb2_grpc.ResultsServiceStub(running.channel)
    base = results.GetOverallBuckets(rpb.GetOverallBucketsRequest(job_id="ob-*", top_n_jobs=2), timeout=10).overall_buckets
    assert [(o.timestamp.seconds - START_S, o.overall_score) for o in base] == [(0, 50.0), (60, 75.0)]  # means of the top 2
    wide = results.GetOverallBuckets(rpb.GetOverallBucketsRequest(
        job_id="ob-*", top_n_jobs=2, bucket_span=duration_pb2.Duration(seconds=120)), timeout=10).overall_buckets
    # Elasticsearch: the greatest base overall score (75), not the mean of the jobs' maxima (85).
    assert [(o.timestamp.seconds - START_S, o.overall_score, o.bucket_span.seconds) for o in wide] == [(0, 75.0, 120)]
    assert {j.job_id: j.max_anomaly_score for j in wide[0].jobs} == {"ob-a": 90, "ob-b": 80, "ob-c": 70}

    def overall(**fields) -> list[tuple[int, float, dict[str, float]]]:
        found = results.GetOverallBuckets(rpb.GetOverallBucketsRequest(job_id="ob-*", **fields), timeout=10).overall_buckets
        return [(o.timestamp.seconds - START_S, o.overall_score, {j.job_id: j.max_anomaly_score for j in o.jobs}) for o in found]

    two_minutes = duration_pb2.Duration(seconds=120)
    # overall_score drops base buckets before they are joined: the jobs' maxima are of [60, 120) alone.
    assert overall(top_n_jobs=2, bucket_span=two_minutes, overall_score=60) == [(0, 75.0, {"ob-a": 0, "ob-b": 80, "ob-c": 70})]
    # start and end are rounded inwards to the base span.
    at = timestamp_pb2.Timestamp
    assert overall(top_n_jobs=2, bucket_span=two_minutes, start=at(seconds=START_S + 1)) == [(0, 75.0, {"ob-a": 0, "ob-b": 80, "ob-c": 70})]
    assert overall(top_n_jobs=2, end=at(seconds=START_S + 119)) == [(0, 50.0, {"ob-a": 90, "ob-b": 10, "ob-c": 0})]
    # With top_n 1 the wider span is computed at once: the greatest job score in it.
    assert overall(top_n_jobs=1, bucket_span=two_minutes) == [(0, 90.0, {"ob-a": 90, "ob-b": 80, "ob-c": 70})]
    for top_n in (0, -1):
        with pytest.raises(grpc.RpcError) as err:
            results.GetOverallBuckets(rpb.GetOverallBucketsRequest(job_id="ob-*", top_n_jobs=top_n), timeout=10)
        assert (err.value.code(), error_reason(err.value)) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST")
