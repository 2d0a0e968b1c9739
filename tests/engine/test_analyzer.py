"""JobAnalyzer semantics: buckets, splitting, interim, skipping, memory, results."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anomalyd.engine.analyzer import JobAnalyzer, warmup_buckets
from anomalyd.engine.anomaly_records import MAX_RECORDS
from anomalyd.engine.records import AnalysisSpec, DetectorSpec
from anomalyd.engine.series_keys import SeriesKeys
from tests.engine.synth import SPAN, T0, batch, record_scores, run_counts, run_values, spec

RNG = np.random.default_rng(7)


def test_buckets_in_order_including_empty_ones_and_none_before_data() -> None:
    job = JobAnalyzer(spec("count"))
    assert job.last_finalized_end_ms is None
    assert job.finalize_until(T0) == []
    job.add(batch([T0 + 2 * SPAN + 1, T0 + 2 * SPAN + 2, T0 + 4 * SPAN]))
    results = job.finalize_until(T0 + 5 * SPAN + 10)
    assert [r.timestamp_ms for r in results] == [T0 + k * SPAN for k in (2, 3, 4)]
    assert [r.event_count for r in results] == [2, 0, 1]
    assert job.last_finalized_end_ms == T0 + 5 * SPAN
    assert all(r.bucket_span_s == SPAN // 1000 and not r.is_interim for r in results)
    assert job.finalize_until(T0 + 5 * SPAN) == []


def test_empty_bucket_is_a_zero_count_but_no_mean() -> None:
    counts = RNG.poisson(20, (200, 1))
    counts[150] = 0
    results = run_counts(JobAnalyzer(spec("count")), counts)
    [record] = results[150].records
    assert record.actual == [0.0] and record.typical[0] == pytest.approx(20, rel=0.2)
    assert record.record_score > 50 and record.function == "count"

    values = RNG.normal(10, 1, (200, 1))
    values[150] = np.nan
    results = run_values(JobAnalyzer(spec("mean")), values)
    assert results[150].records == [] and results[150].event_count == 0


def test_partition_and_by_splitting_find_the_right_series() -> None:
    job = JobAnalyzer(spec("mean", by="s", partition="p", influencers=("s", "host")))
    spike = None
    for b in range(150):
        t = T0 + b * SPAN
        x = RNG.normal(10, 1, 4)
        if b == 120:
            x[3] += 30
        job.add(batch([t] * 4, x.tolist(), s=["a", "b", "a", "b"], p=["x", "x", "y", "y"], host=["h1", "h2", "h3", "h4"]))
        results = job.finalize_until(t + SPAN)
        if b == 120:
            spike = results[0]
    assert spike is not None
    top = max(spike.records, key=lambda r: r.record_score)
    assert (top.partition_field_name, top.partition_field_value) == ("p", "y")
    assert (top.by_field_name, top.by_field_value) == ("s", "b")
    assert top.actual[0] > 35 and top.influencers == [("s", ["b"]), ("host", ["h4"])]
    assert spike.anomaly_score == max(bi.anomaly_score for bi in spike.bucket_influencers) > 50
    names = {bi.influencer_field_name for bi in spike.bucket_influencers}
    assert names == {"bucket_time", "s", "host"}
    assert {(i.influencer_field_name, i.influencer_field_value) for i in spike.influencers} >= {("s", "b"), ("host", "h4")}
    stats = job.model_size_stats()
    assert (stats.total_by_field_count, stats.total_partition_field_count) == (2, 2)


@pytest.mark.parametrize("use_null", [False, True])
def test_missing_split_field_follows_use_null(use_null: bool) -> None:
    detector = DetectorSpec("count", by_field_name="s", use_null=use_null)
    job = JobAnalyzer(AnalysisSpec(bucket_span_ms=SPAN, detectors=(detector,)))
    job.add(batch([T0, T0 + 1, T0 + 2], s=["a", None, None]))
    job.finalize_until(T0 + SPAN)
    assert job.model_size_stats().total_by_field_count == (2 if use_null else 1)


def test_summary_count_weights_records() -> None:
    job = JobAnalyzer(spec("count", summary_count_field_name="n"))
    b = batch([T0, T0 + 1, T0 + 2])
    b.numbers["n"] = np.array([5.0, np.nan, 2.0])
    job.add(b)
    assert [r.event_count for r in job.finalize_until(T0 + SPAN)] == [7]


def test_interim_scales_counts_and_learns_nothing() -> None:
    job = JobAnalyzer(spec("count"))
    run_counts(job, np.full((100, 1), 20))
    t = T0 + 100 * SPAN
    job.add(batch([t + k for k in range(10)], s=["s0"] * 10))  # half of the usual 20 so far
    before = job.to_state()
    [interim] = job.interim()
    assert interim.is_interim and interim.timestamp_ms == t and interim.event_count == 10
    assert interim.records == [] and interim.anomaly_score == 0
    assert job.to_state() == before
    job.add(batch([t + 100 + k for k in range(3)], s=["s0"] * 3))
    [final] = job.finalize_until(t + SPAN)
    assert not final.is_interim and final.records and final.records[0].actual == [13.0]


def test_skip_drops_the_gap() -> None:
    job = JobAnalyzer(spec("count"))
    job.add(batch([T0, T0 + SPAN + 5]))
    job.skip_to(T0 + 3 * SPAN + 1)
    assert job.last_finalized_end_ms == T0 + 4 * SPAN
    job.add(batch([T0 + 4 * SPAN]))
    assert [(r.timestamp_ms, r.event_count) for r in job.finalize_until(T0 + 5 * SPAN)] == [(T0 + 4 * SPAN, 1)]


def test_reset_buckets_lets_data_be_resent() -> None:
    job = JobAnalyzer(spec("count"))
    job.add(batch([T0, T0 + SPAN, T0 + SPAN + 1, T0 + 2 * SPAN]))
    job.reset_buckets(T0 + SPAN, T0 + SPAN + 1)
    job.add(batch([T0 + SPAN + 7]))
    assert [r.event_count for r in job.finalize_until(T0 + 3 * SPAN)] == [1, 1, 1]


def test_memory_limit_refuses_new_series_without_crashing() -> None:
    probe = JobAnalyzer(spec("mean", by="s"))
    per_series = probe._detectors[0].series_bytes
    limit = 10 * per_series + 5_000
    job = JobAnalyzer(spec("mean", by="s", model_memory_limit_bytes=limit))
    assert job.model_size_stats().memory_status == "ok"
    results = run_values(job, RNG.normal(5, 1, (3, 50)))
    stats = job.model_size_stats()
    assert stats.memory_status == "hard_limit"
    assert 5 <= job._detectors[0].n_series <= 10
    assert stats.model_bytes <= limit and stats.model_bytes_exceeded > 0
    assert stats.bucket_allocation_failures_count == 3
    assert stats.peak_model_bytes >= stats.model_bytes
    assert len(results) == 3


def test_influencer_values_count_against_the_memory_limit() -> None:
    limit = 1 << 20
    job = JobAnalyzer(spec("count", influencers=("user",), model_memory_limit_bytes=limit))
    for b in range(8):  # 2,000 new 32-character values a bucket: about 2.4 MB if all were kept
        users = [f"{b:04d}-{i:027d}" for i in range(2_000)]
        job.add(batch([T0 + b * SPAN] * len(users), user=users))
        job.finalize_until(T0 + (b + 1) * SPAN)
    stats = job.model_size_stats()
    assert stats.model_bytes <= limit < stats.model_bytes + stats.model_bytes_exceeded
    assert stats.memory_status == "hard_limit"
    assert sum(map(len, job._influencers.names)) < 10_000


NEW_FUNCTIONS = [
    DetectorSpec("rare", by_field_name="v", over_field_name="u"),
    DetectorSpec("freq_rare", by_field_name="v", over_field_name="u", partition_field_name="p"),
    DetectorSpec("high_distinct_count", field_name="v", over_field_name="u", exclude_frequent="all"),
    DetectorSpec("count", by_field_name="u", exclude_frequent="by"),
    DetectorSpec("info_content", field_name="v", by_field_name="u"),
    DetectorSpec("lat_long", field_name="g", by_field_name="u"),
    DetectorSpec("time_of_day", over_field_name="u"),
]


@pytest.mark.parametrize("detector", NEW_FUNCTIONS, ids=lambda d: f"{d.function}-{d.exclude_frequent or 'all-kept'}")
def test_ever_new_split_values_beyond_the_memory_limit_leave_the_state_as_it_was(detector: DetectorSpec) -> None:
    job = JobAnalyzer(AnalysisSpec(bucket_span_ms=SPAN, detectors=(detector,), model_memory_limit_bytes=200_000))
    sizes = []
    for b in range(6):  # 3,000 new values of each field a bucket, and a few partitions
        names = [f"{b}-{i:08d}" for i in range(3_000)]
        places = [f"{i % 90},{i % 180}" for i in range(3_000)]
        job.add(batch([T0 + b * SPAN + 1] * 3_000, u=names, v=names[::-1], g=places, p=[n[-1] for n in names]))
        job.finalize_until(T0 + (b + 1) * SPAN)
        sizes.append(len(job.to_state()))
    stats = job.model_size_stats()
    assert (stats.memory_status, stats.bucket_allocation_failures_count) == ("hard_limit", 6)
    assert stats.model_bytes <= 210_000  # a partitioned rare's per-partition rows are not admitted: a few kB over
    # The refused values' keys are kept nowhere: 3,000 values of 12 characters were 36 kB a bucket.
    assert sizes[-1] - sizes[1] < 1_000, sizes


@settings(max_examples=60)
@given(st.lists(st.lists(st.tuples(st.sampled_from("pq"), st.sampled_from("abcdefghijk"), st.sampled_from("xyz") | st.none()),
                         max_size=12), max_size=6),
       st.randoms(use_true_random=False))
def test_series_keys_forget_refused_values_and_keep_each_series_its_own(batches, random) -> None:
    keys = SeriesKeys(("partition", "by", "over"), use_null=False)
    for rows in batches:  # the fields widen as values come: 1 bit, then 2, 3, 4
        records = batch([T0] * len(rows), partition=[p for p, _, _ in rows], by=[b for _, b, _ in rows], over=[o for *_, o in rows])
        series = keys.resolve(records, np.ones(len(rows), bool), lambda _key: random.random() < 0.5)
        for row, s in zip(rows, series.tolist(), strict=True):
            assert s < 0 or (row[2] is not None and tuple(keys.value(s, k) for k in range(3)) == row)
        # Every value kept belongs to a series, and a series known before resolves to itself again.
        used = [{keys.value(s, k) for s in range(keys.n)} for k in range(3)]
        assert [set(v) for v in keys.values] == used and [len(v) for v in keys.values] == [len(u) for u in used]
        assert keys.resolve(records, np.ones(len(rows), bool), lambda _key: False).tolist() == series.tolist()
        restored = SeriesKeys(keys.fields, use_null=False)
        restored.load(keys.arrays(), keys.meta())
        assert restored.resolve(records, np.ones(len(rows), bool), lambda _key: False).tolist() == series.tolist()


def test_series_keys_skip_the_values_a_packed_key_has_no_bits_for() -> None:
    keys = SeriesKeys(("partition", "by", "over"), use_null=False)
    keys._widths = [31, 31, 1]  # as after 2**31 values of each of the first two fields: over has 1 bit left
    records = batch([T0] * 3, partition=["p"] * 3, by=["b"] * 3, over=["x", "y", "z"])
    assert keys.resolve(records, np.ones(3, bool), lambda _key: True).tolist() == [0, 1, -1]
    assert (keys.value(1, 2), keys.values[2]) == ("y", ["x", "y"])


def test_at_most_500_records_most_probable_first_out() -> None:
    values = RNG.normal(10, 1, (80, 600))
    values[70] += 40
    results = run_values(JobAnalyzer(spec("mean", by="s")), values)
    records = results[70].records
    assert len(records) == MAX_RECORDS
    assert [r.probability for r in records] == sorted(r.probability for r in records)
    assert 0 < results[70].anomaly_score <= 100
    warmup = warmup_buckets(SPAN)
    assert np.all(record_scores(results[:warmup]) == 0)
    assert record_scores(results[warmup:70]).max() < 40  # routine noise of 600 series stays low


def test_a_run_of_anomalous_buckets_is_reported_once_in_full() -> None:
    values = RNG.normal(10, 1, (200, 1))
    values[150:152] += 25  # one anomaly two buckets long
    values[152] += 40  # which grows, but not to twice the news
    values[180] += 25  # the same deviation again, as a new anomaly
    scores = record_scores(run_values(JobAnalyzer(spec("mean")), values))
    assert scores[150] > 50
    assert 0 < scores[151] < 0.6 * scores[150]
    assert 0 < scores[152] < 0.6 * scores[150]
    assert scores[180] > scores[151]


def test_metric_reports_the_least_probable_of_min_mean_and_max() -> None:
    job = JobAnalyzer(spec("metric"))
    found = {}
    for b in range(160):
        t = T0 + b * SPAN
        x = RNG.normal(10, 1, 5)
        if b == 130:
            x[0] = 40.0  # only the maximum is extreme
        if b == 150:
            x[:] = [10, 10, 10, 10, -20]  # only the minimum is extreme
        job.add(batch([t + k for k in range(5)], x.tolist()))
        [result] = job.finalize_until(t + SPAN)
        found[b] = result.records
    [high] = found[130]
    assert (high.function, high.function_description, high.actual) == ("metric", "max", [40.0])
    [low] = found[150]
    assert (low.function_description, low.actual) == ("min", [-20.0])


@pytest.mark.parametrize("function", ["count", "mean", "max", "sum", "metric", "median"])
def test_closing_many_buckets_at_once_gives_what_closing_them_one_by_one_gives(
    function: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(3)
    buckets, series = 400, 3
    # Every series is known from the first bucket on: a count sees 0 for a known series without
    # records, so series must not appear in a later message of one run and not the other.
    times, values, names = [T0] * series, [10.0] * series, [f"s{k}" for k in range(series)]
    for b in range(buckets):
        if b % 97 == 50:
            continue  # an empty bucket
        n = rng.poisson(2 * series)
        times += (T0 + b * SPAN + rng.integers(0, SPAN, n)).tolist()
        values += (10.0 + rng.normal(0, 1, n) + 8.0 * (b == 300)).tolist()
        names += [f"s{k}" for k in rng.integers(0, series, n).tolist()]
    order = np.argsort(times, kind="stable")
    times, values, names = [times[i] for i in order], [values[i] for i in order], [names[i] for i in order]
    one_by_one = JobAnalyzer(spec(function, by="s"))
    expected = []
    for b in range(buckets):
        mine = [i for i, t in enumerate(times) if T0 + b * SPAN <= t < T0 + (b + 1) * SPAN]
        one_by_one.add(batch([times[i] for i in mine], [values[i] for i in mine], s=[names[i] for i in mine]))
        expected += one_by_one.finalize_until(T0 + (b + 1) * SPAN)
    # Runs of buckets close in parts of at most 16 series-buckets when empty buckets count as zeros.
    monkeypatch.setattr("anomalyd.engine.analyzer._RUN_ROWS", 16)
    at_once = JobAnalyzer(spec(function, by="s"))
    at_once.add(batch(times[: len(times) // 2], values[: len(times) // 2], s=names[: len(times) // 2]))
    at_once.add(batch(times[len(times) // 2 :], values[len(times) // 2 :], s=names[len(times) // 2 :]))
    assert at_once.finalize_until(T0 + buckets * SPAN) == expected
    assert any(r.records for r in expected)
    assert at_once.to_state() == one_by_one.to_state()


def test_records_of_equal_probability_come_detector_by_detector() -> None:
    twin = DetectorSpec("mean", field_name="x", by_field_name="s")
    values = RNG.normal(10, 1, (80, 600))
    values[70] += 40
    results = run_values(JobAnalyzer(AnalysisSpec(bucket_span_ms=SPAN, detectors=(twin, twin))), values)
    order = [(r.probability, r.detector_index) for r in results[70].records]
    assert len(order) == MAX_RECORDS
    assert order == sorted(order)
    assert {d for _, d in order} == {0, 1}  # the twins tie, so both report
