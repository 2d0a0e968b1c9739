"""A fixed seeded multi-series stream gives the records and scores the engine wrote before.

The golden file tests/engine/golden/stream.json is written by the engine at a reviewed commit:

    .venv/bin/python -m pytest tests/engine/test_golden.py --write-golden

and the diff is read like code. The stream covers the paths a rewrite of the models or the
analyzer can break: count, high_count by, mean by, low_mean and sum over a partition, metric,
influencers, a few empty buckets, a gap of days (jumped over), interim results, a resume from
to_state() halfway, planted spikes, a drop to zero and a level shift, and hourly seasonality.

Comparison: strings, counts, timestamps and which records exist must be equal; numbers equal
to a relative 1e-6 (and ln p to 1e-6 of its size). A compiled model computes the same formulas
in another order (sums in a loop rather than numpy's pairwise sums, fused multiply-adds), so a
float64 value can move in its last bits; state kept as float32 (rings, seasonal bins, score
histograms) rounds such a value to 6e-8 of itself either way, so differences one float32 step
wide carry into later buckets. 1e-6 allows a few such steps and is far below any change a
modelling decision makes (a score changes by 1e-3 and more when anything real moves).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from anomalyd.engine.analyzer import JobAnalyzer
from anomalyd.engine.records import AnalysisSpec, DetectorSpec, RecordBatch, StringColumn
from anomalyd.engine.results import BucketResult
from anomalyd.engine.state import pack, unpack

GOLDEN = Path(__file__).parent / "golden" / "stream.json"
STATE_V4 = GOLDEN.parent / "state-v4.msgpack"
SPAN = 300_000
T0 = 1_700_000_000_000 // (7 * 86_400_000) * (7 * 86_400_000)
BUCKETS = 480
HOSTS = ("web-1", "web-2", "db-1", "db-2")
DCS = ("east", "west")
USERS = ("ann", "bob", "cy")
SPEC = AnalysisSpec(
    bucket_span_ms=SPAN,
    latency_ms=0,
    detectors=(
        DetectorSpec("count"),
        DetectorSpec("high_count", by_field_name="host"),
        DetectorSpec("mean", field_name="x", by_field_name="host"),
        DetectorSpec("sum", field_name="y", partition_field_name="dc"),
        DetectorSpec("low_mean", field_name="x", partition_field_name="dc"),
        DetectorSpec("metric", field_name="y", by_field_name="host", partition_field_name="dc"),
    ),
    influencers=("host", "dc", "user"),
)


def _bucket(rng: np.random.Generator, b: int) -> RecordBatch:
    """The records of bucket b: each host 2..6 records (dc by host), with patterns and anomalies."""
    t = T0 + b * SPAN
    minute = (b * 5) % 60
    times, xs, ys, hosts, dcs, users = [], [], [], [], [], []
    for h, host in enumerate(HOSTS):
        if host == "db-2" and 150 <= b < 180:  # the host stops for 2.5 hours
            continue
        n = int(rng.integers(2, 7)) + (12 if host == "web-1" and b in (300, 301) else 0)
        base = 50.0 + 20.0 * h + (15.0 if h == 1 and minute < 15 else 0.0)  # web-2 has an hourly bump
        base += 40.0 if host == "db-1" and b >= 350 else 0.0  # a level shift
        for _ in range(n):
            times.append(t + int(rng.integers(0, SPAN)))
            x = base + rng.normal(0.0, 3.0)
            if host == "web-2" and b == 222:
                x += 60.0
            xs.append(round(x, 3))
            y = float(rng.gamma(3.0, 2.0)) if not (host == "db-1" and b == 430) else 250.0
            ys.append(round(y, 2) if rng.random() > 0.05 else math.nan)
            hosts.append(h)
            dcs.append(h // 2)
            users.append(int(rng.integers(0, len(USERS))) if rng.random() > 0.1 else -1)
    order = np.argsort(times, kind="stable")
    return RecordBatch(
        times=np.array(times, np.int64)[order],
        numbers={"x": np.array(xs)[order], "y": np.array(ys)[order]},
        strings={
            "host": StringColumn(np.array(hosts, np.int32)[order], HOSTS),
            "dc": StringColumn(np.array(dcs, np.int32)[order], DCS),
            "user": StringColumn(np.array(users, np.int32)[order], USERS),
        },
    )


def run_stream(resume: bytes | None = None) -> tuple[list[dict[str, Any]], bytes]:
    """Results of the stream as plain values, final and interim in the order produced.

    Args:
        resume: job state to continue from halfway instead of the state the job writes there.

    Returns:
        The results, and the state written halfway.
    """
    rng = np.random.default_rng(20261130)
    job = JobAnalyzer(SPEC)
    out: list[BucketResult] = []
    skipped = range(380, 390)  # empty buckets, closed one by one
    for b in range(BUCKETS):
        start = T0 + b * SPAN
        if b == 400:  # three days without data: the quiet day is closed, the rest jumped over
            out += job.finalize_until(T0 + (b + 3 * 288) * SPAN)
        shift = 3 * 288 if b >= 400 else 0
        if b in skipped:
            continue
        batch = _bucket(rng, b)
        batch = dataclasses.replace(batch, times=batch.times + shift * SPAN)
        job.add(batch)
        if b % 97 == 5:  # interim results of the open bucket, learning nothing
            out += job.interim()
        out += job.finalize_until(start + shift * SPAN + SPAN)
        if b == BUCKETS // 2:
            state = job.to_state()
            job = JobAnalyzer.from_state(SPEC, resume or state)
    return [_plain(r) for r in out], state


def _plain(result: BucketResult) -> Any:
    """The result as JSON values, numbers to 12 digits, without what the spec fixes or repeats."""

    def plain(value: Any, nested: bool) -> Any:
        if isinstance(value, dict):
            implied = _IMPLIED | ({"timestamp_ms", "is_interim"} if nested else set())
            return {k: plain(v, True) for k, v in value.items() if k not in implied and not k.startswith("initial_")}
        if isinstance(value, list | tuple):
            return [plain(v, nested) for v in value]
        return float(f"{value:.12g}") if isinstance(value, float) else value

    return plain(dataclasses.asdict(result), False)


# The spec fixes these; the stream's functions write no causes (population) or geo_results (lat_long).
_IMPLIED = {
    "bucket_span_s", "function", "field_name", "by_field_name", "partition_field_name", "over_field_name",
    "over_field_value", "causes", "geo_results",
}


def _compare(got: Any, want: Any, where: str, rel_tol: float = 1e-6) -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), where
        for k in want:
            _compare(got[k], want[k], f"{where}.{k}", rel_tol)
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: {len(got)} items, want {len(want)}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _compare(g, w, f"{where}[{i}]", rel_tol)
    elif isinstance(want, float):
        if where.endswith(".probability") and want > 0.0:
            assert got > 0.0 and math.isclose(math.log(got), math.log(want), rel_tol=rel_tol, abs_tol=1e-9), where
        else:
            assert math.isclose(got, want, rel_tol=rel_tol, abs_tol=1e-9), f"{where}: {got} != {want}"
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


def test_stream_matches_golden(request: pytest.FixtureRequest) -> None:
    results, _ = run_stream()
    if request.config.getoption("--write-golden"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text("[\n" + ",\n".join(json.dumps(r, separators=(",", ":")) for r in results) + "\n]\n")
        pytest.skip(f"wrote {GOLDEN}")
    want = json.loads(GOLDEN.read_text())
    assert sum(len(r["records"]) for r in want) > 20  # the stream does produce anomalies
    _compare(results, want, "results")


def _with_rings_of(state: bytes, old: bytes) -> bytes:
    """Today's state of old (read and written again), with the seasonality rings of state.

    What the first half of the stream taught (bins, trend, scales, score histories) is then what
    the old engine learnt, which a modelling change since (such as the periodicity fit's) moves
    and which is no part of reading an old state; only the coding of the rings' points differs.
    """
    arrays, meta = unpack(JobAnalyzer.from_state(SPEC, old).to_state())
    rings = {name: value for name, value in unpack(state)[0].items() if ".seasonality.ring" in name}
    return pack({**arrays, **rings}, meta)


def test_a_version_4_state_continues_as_it_did() -> None:
    # Written halfway through the stream by the engine of version 4 (before the models had parts).
    # Its float32 ring points are coded on reading, each ring fitted to its points as they are,
    # where the uninterrupted engine coded them as they came (within a step, 2e-5 of the ring's
    # range, of each other): later tests and components differ by that much, scores by up to 2e-4.
    # So it continues as it would with the rings the uninterrupted engine coded.
    results, _ = run_stream(resume=STATE_V4.read_bytes())
    _, halfway = run_stream()
    coded, _ = run_stream(resume=_with_rings_of(halfway, STATE_V4.read_bytes()))
    _compare(results, coded, "results", rel_tol=1e-3)


# A series model's arrays as version 4 named them (before the model had parts), by today's name:
# series_model._V4_NAMES written out again, not imported, so that a wrong entry there fails here.
_V4_SERIES_NAMES = {
    "n": "learned", "level": "trend.level", "slope": "trend.slope", "rb_ring": "trend.recent_z",
    "w": "residual.scale_weight", "m2": "residual.scale_sum_sq", "q": "residual.resolution",
    "absmean": "residual.mean_abs", "last_x": "residual.last_value", "ll": "families.log_likelihood",
    "mb_ring": "multi_bucket.clipped_residuals", "mb_w": "multi_bucket.weight", "mb_m2": "multi_bucket.sum_sq_means",
}


def test_a_version_4_state_keeps_what_it_learnt() -> None:
    # The continuation above is compared with this same state read again: here each of its arrays
    # (its float32 rings aside) is read into today's, under today's name, with every value kept,
    # its float32 seasonal bins within 1.2e-5 of their row's range (coded on reading).
    old, _ = unpack(STATE_V4.read_bytes())
    today, _ = unpack(JobAnalyzer.from_state(SPEC, STATE_V4.read_bytes()).to_state())
    kept = bins = 0
    for name, value in old.items():
        model, _, field = name.rpartition(".")
        if ".ring" in name or (field == "ll" and f"{model}.families.log_likelihood" not in today):
            continue  # rings are coded on reading; only count models keep a log likelihood
        if field.startswith("pool") and not field.startswith("pool_used"):
            k = field.removeprefix("pool")
            step, offset = today[f"{model}.pool_step{k}"].astype(np.float64), today[f"{model}.pool_offset{k}"]
            read = today[name] * step[:, None] + offset[:, None]
            assert (np.abs(read - value) <= 1.2e-5 * np.ptp(value, axis=1, keepdims=True)).all(), name
            bins += value.size
            continue
        renamed = f"{model}.{_V4_SERIES_NAMES[field]}" if field in _V4_SERIES_NAMES else name
        np.testing.assert_array_equal(np.asarray(today[renamed]).astype(np.asarray(value).dtype), value, err_msg=name)
        kept += 1
    assert kept > 200 and bins > 0
