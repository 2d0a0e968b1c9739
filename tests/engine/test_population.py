"""Population analysis in the engine: joint probabilities, the population model, state and partitions."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from anomalyd.engine.analyzer import JobAnalyzer
from anomalyd.engine.population import adjusted_ln_p1, joint_ln_p1
from anomalyd.engine.population_model import PopulationModel
from anomalyd.engine.records import AnalysisSpec, DetectorSpec, RecordBatch, StringColumn
from anomalyd.engine.results import BucketResult
from anomalyd.engine.state import pack, unpack
from anomalyd.engine.stats import LN_P_MIN

SPAN = 900_000
T0 = 1_700_006_400_000


def test_joint_probability_is_fishers_for_few_and_stays_finite_for_many() -> None:
    assert joint_ln_p1(1, 7.0) == -7.0
    s = -math.log(0.01) - math.log(0.2)
    assert math.isclose(joint_ln_p1(2, s), -s + math.log(1.0 + s))
    assert joint_ln_p1(3, 0.0) == 0.0
    lots = [joint_ln_p1(1000, s) for s in (10.0, 1_000.0, 5_000.0, 1e6)]
    assert all(LN_P_MIN <= v <= 0.0 for v in lots) and lots == sorted(lots, reverse=True)


@given(st.floats(LN_P_MIN, 0.0), st.integers(1, 10**6))
def test_adjusted_probability_is_one_minus_the_chance_that_none_is_as_extreme(ln_p: float, n: int) -> None:
    got = adjusted_ln_p1(ln_p, n)
    p = math.exp(ln_p)
    want = math.log(-math.expm1(n * math.log1p(-p))) if 1e-10 < p < 1.0 else ln_p + math.log(n)
    assert LN_P_MIN <= got <= 0.0
    assert math.isclose(got, min(max(want, LN_P_MIN), 0.0), rel_tol=1e-6, abs_tol=1e-9)
    assert got >= ln_p


@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.floats(1e-6, 1e9),
    st.lists(st.floats(-1e12, 1e12, allow_nan=False), min_size=1, max_size=20),
    st.sampled_from([-1, 0, 1]),
)
def test_population_probabilities_are_finite_and_fall_further_out(seed: int, scale: float, probes: list[float], side: int) -> None:
    model = PopulationModel(side=side, warmup=1, decay=0.99)
    model.grow(2)
    rng = np.random.default_rng(seed)
    for b in range(5):
        values = scale * rng.lognormal(0.0, 1.0, 50)
        model.step(np.repeat(np.arange(2), 25), values, b)
    x = np.array(sorted(probes))
    ln_p, typical = model.step(np.zeros(len(x), np.intp), x, None)
    assert np.all((ln_p >= LN_P_MIN) & (ln_p <= 0.0)) and np.all(np.isfinite(typical))
    if side == 1:  # higher values are no more probable above the population
        assert np.all(np.diff(ln_p) <= 1e-12)
    if side == -1:
        assert np.all(np.diff(ln_p) >= -1e-12)


def _bytes_by_host(seed: int, buckets: int, planted: tuple[int, str, str] | None) -> list[RecordBatch]:
    """Two datacentres of 30 hosts; each host sends log-normal bytes; planted: (bucket, datacentre, host) x 100."""
    rng = np.random.default_rng(seed)
    hosts = tuple(f"h{i}" for i in range(30))
    batches = []
    for b in range(buckets):
        n = 2 * len(hosts) * 3
        host = np.tile(np.repeat(np.arange(len(hosts), dtype=np.int32), 3), 2)
        dc = np.repeat(np.arange(2, dtype=np.int32), n // 2)
        sent = rng.lognormal(9.0, 0.5, n)
        if planted and b == planted[0]:
            sent[(dc == ("east", "west").index(planted[1])) & (host == hosts.index(planted[2]))] *= 100.0
        times = T0 + b * SPAN + rng.integers(0, SPAN, n)
        strings = {"host": StringColumn(host, hosts), "dc": StringColumn(dc, ("east", "west"))}
        batches.append(RecordBatch(times=times.astype(np.int64), numbers={"bytes": sent}, strings=strings))
    return batches


SPEC = AnalysisSpec(
    bucket_span_ms=SPAN,
    detectors=(DetectorSpec("high_sum", field_name="bytes", over_field_name="host", partition_field_name="dc"),),
    influencers=("host",),
)


def _feed(job: JobAnalyzer, batches: list[RecordBatch], first: int = 0) -> list[BucketResult]:
    out = []
    for b, batch in enumerate(batches[first:], start=first):
        job.add(batch)
        out += job.finalize_until(T0 + (b + 1) * SPAN)
    return out


def test_values_near_the_float_limit_over_a_tiny_scale_score_finitely_without_overflow() -> None:
    model = PopulationModel(side=1, warmup=2, decay=0.999)
    model.grow(1)
    attr = np.zeros(3, np.intp)
    for bucket in range(5):
        model.step(attr, np.array([1e-300, 2e-300, 3e-300]), bucket)
    with np.errstate(all="raise"):
        ln_p, _ = model.step(attr, np.array([1e-300, 1.7e308, -1.7e308]), 6)
    assert ln_p[1] < math.log(1e-6) and np.isfinite(ln_p).all() and np.isfinite(model.hist).all()


def test_the_planted_host_is_found_in_its_own_partition() -> None:
    results = _feed(JobAnalyzer(SPEC), _bytes_by_host(5, 150, (140, "west", "h3")))
    top = max((r for b in results for r in b.records), key=lambda r: r.record_score)
    assert (top.timestamp_ms, top.partition_field_value, top.over_field_value) == (T0 + 140 * SPAN, "west", "h3")
    assert top.record_score >= 50
    assert [c.partition_field_value for c in top.causes] == ["west"]
    # h3 in the east sent what it always sends.
    assert all(r.record_score < 25 for b in results for r in b.records if r.partition_field_value == "east")


def test_a_population_resumed_from_state_continues_exactly() -> None:
    batches = _bytes_by_host(6, 120, (110, "east", "h9"))
    whole = JobAnalyzer(SPEC)
    want = _feed(whole, batches)
    half = JobAnalyzer(SPEC)
    got = _feed(half, batches[:60])
    resumed = JobAnalyzer.from_state(SPEC, half.to_state())
    got += _feed(resumed, batches, first=60)
    assert got == want
    assert resumed.to_state() == whole.to_state()
    stats = resumed.model_size_stats()
    assert (stats.total_over_field_count, stats.total_partition_field_count) == (30, 2)  # as total_by_field_count: distinct values


def test_pairs_beyond_the_memory_limit_are_refused_and_counted() -> None:
    spec = AnalysisSpec(
        bucket_span_ms=SPAN, detectors=(DetectorSpec("count", over_field_name="host"),), model_memory_limit_bytes=60_000
    )
    job = JobAnalyzer(spec)
    names = tuple(f"host-{i}" for i in range(2_000))
    job.add(RecordBatch(times=np.full(2_000, T0, np.int64), strings={"host": StringColumn(np.arange(2_000, dtype=np.int32), names)}))
    job.finalize_until(T0 + SPAN)
    stats = job.model_size_stats()
    assert stats.memory_status == "hard_limit" and stats.bucket_allocation_failures_count == 1
    assert 0 < stats.total_over_field_count < 2_000 and stats.model_bytes <= 60_000


def _daily_transfers(seed: int, planted: bool) -> list[RecordBatch]:
    """60 hosts, four transfers each a bucket, whose bytes all swing 19-fold between midnight and noon; h7 sends 10 times its peers once at night."""
    rng = np.random.default_rng(seed)
    hosts = tuple(f"h{i}" for i in range(60))
    batches = []
    for b in range(4 * 96):
        level = 1.0 + 0.9 * math.sin(2 * math.pi * (b % 96) / 96 - math.pi / 2)
        host = np.repeat(np.arange(len(hosts), dtype=np.int32), 4)
        sent = level * rng.lognormal(8.0, 0.5, len(host))
        if planted and b == NIGHT:
            sent[host == 7] *= 10.0
        times = T0 + b * SPAN + rng.integers(0, SPAN, len(host))
        batches.append(RecordBatch(times=times.astype(np.int64), numbers={"bytes": sent}, strings={"host": StringColumn(host, hosts)}))
    return batches


NIGHT = 3 * 96  # midnight of the fourth day (T0 is a midnight)
DAILY = AnalysisSpec(bucket_span_ms=SPAN, detectors=(DetectorSpec("high_sum", field_name="bytes", over_field_name="host"),))


def test_a_host_far_above_its_peers_at_night_is_found_though_the_whole_population_sends_more_by_day() -> None:
    batches = _daily_transfers(7, planted=True)
    records = [r for b in _feed(JobAnalyzer(DAILY), batches) for r in b.records]
    top = max(records, key=lambda r: r.record_score)
    assert (top.timestamp_ms, top.over_field_value) == (T0 + NIGHT * SPAN, "h7") and top.record_score >= 50
    noon = batches[3 * 96 + 48]  # its bytes are below what the median host sends at noon
    assert top.actual[0] < np.median(np.bincount(noon.strings["host"].codes, noon.numbers["bytes"]))
    quiet = [r.record_score for b in _feed(JobAnalyzer(DAILY), _daily_transfers(7, planted=False)) for r in b.records]
    assert max(quiet, default=0.0) < 25


def test_a_version_7_population_without_usual_medians_continues() -> None:
    batches = _daily_transfers(8, planted=False)
    job = JobAnalyzer(DAILY)
    _feed(job, batches[:100])
    arrays, meta = unpack(job.to_state())
    older = {k: v for k, v in arrays.items() if ".level" not in k}
    restored = JobAnalyzer.from_state(DAILY, pack(older, {**meta, "version": 7}))
    results = _feed(restored, batches, first=100)
    assert len(results) == len(batches) - 100
    assert all(0.0 <= r.record_score <= 100.0 for b in results for r in b.records)


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(["count", "high_sum", "low_mean", "metric", "median", "varp", "max"]),
    st.lists(
        st.tuples(
            st.integers(0, 30),  # bucket
            st.sampled_from([None, "a", "b", "c", ""]),  # over value
            st.sampled_from([None, "x", "y"]),  # by value
            st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -1e300, 1e300, 5e-324])),
        ),
        max_size=120,
    ),
    st.booleans(),
)
def test_any_population_stream_scores_in_range_and_resumes_from_state_exactly(
    function: str, records: list[tuple[int, str | None, str | None, float]], use_null: bool
) -> None:
    detector = DetectorSpec(function, field_name="" if function == "count" else "v", by_field_name="s",
                            over_field_name="o", use_null=use_null)
    spec = AnalysisSpec(bucket_span_ms=SPAN, detectors=(detector,), influencers=("o",))
    ordered = sorted(records, key=lambda r: r[0])
    _assert_in_range_and_resumes_exactly(spec, [_batch([r for r in ordered if r[0] == b], b) for b in range(31)])


def _assert_in_range_and_resumes_exactly(spec: AnalysisSpec, batches: list[RecordBatch]) -> list[BucketResult]:
    """Scores stay in 0-100, and a job resumed from its state halfway ends as the whole one; its results."""
    whole, half = JobAnalyzer(spec), JobAnalyzer(spec)
    want = _feed(whole, batches)
    got = _feed(half, batches[:15])
    resumed = JobAnalyzer.from_state(spec, half.to_state())
    got += _feed(resumed, batches, first=15)
    assert got == want and resumed.to_state() == whole.to_state()
    scores = [r.record_score for b in want for r in b.records] + [b.anomaly_score for b in want]
    assert all(0.0 <= s <= 100.0 for s in scores)
    return want


def _batch(records: list[tuple[int, str | None, str | None, float]], b: int) -> RecordBatch:
    def column(values: list[str | None]) -> StringColumn:
        names = tuple(sorted({v for v in values if v is not None}))
        return StringColumn(np.array([-1 if v is None else names.index(v) for v in values], np.int32), names)

    times = np.array([T0 + b * SPAN + i for i in range(len(records))], np.int64)
    values = np.array([r[3] for r in records], np.float64)
    return RecordBatch(times=times, numbers={"v": values}, strings={"o": column([r[1] for r in records]), "s": column([r[2] for r in records])})


_PLACES = ["48.85,2.35", "52.52,13.4", "-33.87,151.21", "90,180", "-90,-180", "0,0", "not a place", "1_0,2", ""]


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(["time_of_day", "time_of_week", "lat_long"]),
    st.lists(
        st.tuples(
            st.integers(0, 30),  # bucket
            st.sampled_from([None, "a", "b", "c", ""]),  # over value
            st.sampled_from([None, "x", "y"]),  # by value
            st.integers(0, SPAN - 1),  # ms into the bucket
            st.one_of(
                st.sampled_from([None, *_PLACES]),
                st.builds("{:.5f},{:.5f}".format, st.floats(-90, 90), st.floats(-180, 180)),
            ),
        ),
        max_size=120,
    ),
    st.booleans(),
)
def test_any_stream_of_times_or_places_over_a_population_scores_in_range_and_resumes_exactly(
    function: str, records: list[tuple[int, str | None, str | None, int, str | None]], use_null: bool
) -> None:
    detector = DetectorSpec(function, field_name="loc" if function == "lat_long" else "", by_field_name="s",
                            over_field_name="o", use_null=use_null)
    spec = AnalysisSpec(bucket_span_ms=SPAN, detectors=(detector,), influencers=("o",))
    batches = [_point_batch(sorted((r for r in records if r[0] == b), key=lambda r: r[3]), b) for b in range(31)]
    want = _assert_in_range_and_resumes_exactly(spec, batches)
    assert all(math.isfinite(v) for b in want for r in b.records for c in r.causes for v in (*c.actual, *c.typical))


def _point_batch(records: list[tuple[int, str | None, str | None, int, str | None]], b: int) -> RecordBatch:
    def column(values: list[str | None]) -> StringColumn:
        names = tuple(sorted({v for v in values if v is not None}))
        return StringColumn(np.array([-1 if v is None else names.index(v) for v in values], np.int32), names)

    times = np.array([T0 + b * SPAN + r[3] for r in records], np.int64)
    strings = {"o": column([r[1] for r in records]), "s": column([r[2] for r in records]), "loc": column([r[4] for r in records])}
    return RecordBatch(times=times, strings=strings)
