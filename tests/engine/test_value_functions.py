"""distinct_count, info_content, time_of_day/week and lat_long in the engine: encodings, statistics, state."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anomalyd.engine import field_values
from anomalyd.engine.analyzer import JobAnalyzer
from anomalyd.engine.functions import STATISTICS, Grouped
from anomalyd.engine.point_model import PointModel
from anomalyd.engine.records import AnalysisSpec, DetectorSpec
from tests.engine.synth import SPAN, T0, batch


def encoded(kind: str, texts: list[str | None]) -> np.ndarray:
    return field_values.row_values(kind, batch([T0] * len(texts), f=texts), "f")


def test_identity_is_the_same_for_the_same_text_in_any_batch_and_exact_in_a_float() -> None:
    first, again = encoded("identity", ["80", "443", None]), encoded("identity", ["x", "443", "80"])
    assert first[0] == again[2] and first[1] == again[1] and first[0] != first[1]
    assert np.isnan(first[2])
    assert all(v < 2**52 and v == int(v) for v in first[:2])


def test_distinct_count_counts_each_value_once_per_series() -> None:
    values = encoded("identity", ["a", "b", "a", "a", "c"])
    grouped = Grouped.of(np.array([0, 0, 0, 1, 1]), values, np.ones(5))
    assert STATISTICS["distinct_count"](grouped).tolist() == [2.0, 2.0]


def test_info_content_sums_the_information_of_distinct_texts() -> None:
    texts = ["www", "www", "x9f2kq7z0v3m8b1n", "mail"]
    values = encoded("information", texts)
    grouped = Grouped.of(np.zeros(4, np.intp), values, np.ones(4))
    each = field_values.information_of(values)
    assert STATISTICS["info_content"](grouped)[0] == each[0] + each[2] + each[3] + 8
    assert each[2] > each[3] > 0  # a random label carries more than a word


@pytest.mark.parametrize("text", ["www.example.com", "x9f2kq7z0v3m8b1n.t.example.com", "a" * 500, "é"])
def test_info_content_of_one_text_is_its_zlib_length(text: str) -> None:
    grouped = Grouped.of(np.zeros(1, np.intp), encoded("information", [text]), np.ones(1))
    assert STATISTICS["info_content"](grouped)[0] == len(zlib.compress(text.encode()))


@settings(max_examples=50)
@given(st.text(min_size=1, max_size=40), st.integers(1, 2_000), st.binary(max_size=60_000))
def test_info_content_of_a_long_text_is_its_zlib_length_up_to_the_cap(piece: str, repeats: int, noise: bytes) -> None:
    assert_capped_zlib_length(piece * repeats + noise.hex())  # from compressible to random


@pytest.mark.parametrize("text", [np.random.default_rng(4).bytes(2 << 20).hex(), "a" * (4 << 20)], ids=["random", "repeated"])
def test_info_content_of_a_4_mb_text_is_its_zlib_length_up_to_the_cap(text: str) -> None:
    assert_capped_zlib_length(text)  # the random one stops deflating at the cap


def assert_capped_zlib_length(text: str) -> None:
    information = field_values.information_of(encoded("information", [text]))[0]
    assert information == min(len(zlib.compress(text.encode("utf-8", "surrogatepass"))) - 8, field_values.INFORMATION_CAP)


@pytest.mark.parametrize(
    ("text", "point"),
    [("48.8566,2.3522", [48.8566, 2.3522]), (" -33.87 , 151.21 ", [-33.87, 151.21]), ("90,180", [90.0, -180.0])],
)
def test_locations_round_trip_to_1e_5_degrees(text: str, point: list[float]) -> None:
    assert field_values.result_values("location", float(encoded("location", [text])[0])) == point


@pytest.mark.parametrize(
    "text", ["91,0", "0,181", "abc", "1,2,3", "nan,1", "inf,0", "1_0,2", "", "1", "\u0664\u0668,2", "\uff14\uff18,2", "48,\xa02"]
)
def test_bad_coordinates_are_no_value(text: str) -> None:
    assert np.isnan(encoded("location", [text])[0])


def test_mean_time_of_day_goes_round_midnight() -> None:
    # 23:50 and 00:10 average to midnight, not noon.
    values = np.array([23 * 3600 + 3000.0, 600.0])
    assert STATISTICS["time_of_day"](Grouped.of(np.zeros(2, np.intp), values, np.ones(2))).tolist() == [0.0]


def test_a_night_worker_at_a_minute_past_midnight_is_usual() -> None:
    model = PointModel(3_600_000, kind="time_of_day", warmup=4, capacity=1)
    rng = np.random.default_rng(0)
    idx = np.array([0])
    for day in range(30):
        model.step(idx, np.array([(rng.uniform(-2, 2) * 3600) % 86_400]), day * 86_400_000)
    ln_p = {s: float(model.score(idx, np.array([s]), 0).ln_p_single[0]) for s in (60.0, 86_340.0, 12 * 3600.0)}
    assert ln_p[60.0] > -3.0 and ln_p[86_340.0] > -3.0 and ln_p[12 * 3600.0] < -20.0


def _stream(function: str, n_buckets: int) -> list:
    rng = np.random.default_rng(5)
    out = []
    for b in range(n_buckets):
        k = int(rng.integers(1, 6))
        t = (T0 + b * SPAN + rng.integers(0, SPAN, k)).tolist()
        users = [f"u{u}" for u in rng.integers(0, 3, k)]
        if function == "lat_long":
            texts = [f"{lat:.4f},{lon:.4f}" for lat, lon in zip(rng.normal(48, 1, k), rng.normal(2, 1, k), strict=True)]
        else:
            texts = [f"q{q}" for q in rng.integers(0, 20, k)]
        out.append(batch(t, f=texts, user=users))
    return out


@settings(max_examples=10, deadline=None)
@given(
    st.integers(1, 99),
    st.sampled_from(["dc", "high_info_content", "time_of_day", "time_of_week", "lat_long"]),
    st.sampled_from(["by_field_name", "over_field_name"]),
)
def test_state_round_trip_continues_identically(cut: int, function: str, split: str) -> None:
    field = "" if function.startswith("time_of") else "f"
    spec = AnalysisSpec(bucket_span_ms=SPAN, detectors=(DetectorSpec(function, field_name=field, **{split: "user"}),))
    batches = _stream(function, 100)

    def run(job: JobAnalyzer, part: list, start: int) -> list:
        out = []
        for b, records in enumerate(part, start):
            job.add(records)
            out += job.finalize_until(T0 + (b + 1) * SPAN)
        return out

    straight = run(JobAnalyzer(spec), batches, 0)
    first = JobAnalyzer(spec)
    head = run(first, batches[:cut], 0)
    resumed = JobAnalyzer.from_state(spec, first.to_state())
    assert head + run(resumed, batches[cut:], cut) == straight
    assert resumed.to_state() == JobAnalyzer.from_state(spec, resumed.to_state()).to_state()


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(["time_of_day", "time_of_week", "location"]),
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=60),
    st.floats(0.0, 1.0),
)
def test_point_probabilities_are_probabilities_and_a_point_seen_often_is_usual(kind: str, history: list[float], new: float) -> None:
    period = field_values.DAY_S if kind == "time_of_day" else field_values.WEEK_S

    def value(u: float) -> float:  # u of the way through the day or week, or along the globe's latitudes and longitudes
        if kind == "location":
            return float(field_values.location_code(np.array([180 * u - 90]), np.array([360 * u - 180]))[0])
        return float(round(u * period) % period)

    model = PointModel(3_600_000, kind=kind, warmup=1, capacity=1)
    idx = np.array([0])
    for b, u in enumerate(history + [new] * 30):
        ln_p = model.step(idx, np.array([value(u)]), b * 3_600_000).ln_p_single
        assert np.isfinite(ln_p).all() and (ln_p <= 0.0).all()
    assert float(model.score(idx, np.array([value(new)]), 0).ln_p_single[0]) > -3.0


@given(st.lists(st.text(), min_size=1, max_size=20), st.sampled_from(["identity", "information", "location"]))
def test_any_text_encodes_to_an_exact_value_or_none(texts: list[str], kind: str) -> None:
    values = encoded(kind, texts)
    present = values[~np.isnan(values)]
    assert (present >= 0).all() and (present < 2**53).all() and (present == np.floor(present)).all()
