"""The rare functions' model: its probability, and its state continuing exactly through to_state/from_state."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anomalyd.engine.analyzer import JobAnalyzer
from anomalyd.engine.rare import less_likely
from anomalyd.engine.records import AnalysisSpec, DetectorSpec, RecordBatch, StringColumn
from tests.api.rare_streams import SPAN_S, port_stream, uri_stream


def batch(docs: list[dict[str, object]], fields: tuple[str, ...]) -> RecordBatch:
    strings = {}
    for name in fields:
        values = sorted({str(d[name]) for d in docs})
        index = {v: i for i, v in enumerate(values)}
        strings[name] = StringColumn(np.array([index[str(d[name])] for d in docs], np.int32), tuple(values))
    return RecordBatch(np.array([int(d["time"]) * 1000 for d in docs], np.int64), strings=strings)  # type: ignore[call-overload]


# Bucket counts: 0 or at least a fraction of a bucket (a group's total is exact to about 1e-16 of
# the weights summed before it, the groups sharing one cumulative sum).
WEIGHTS = st.just(0.0) | st.floats(1e-6, 100)


@given(st.lists(st.tuples(WEIGHTS, st.integers(0, 3)), min_size=1, max_size=40))
def test_less_likely_sums_the_weights_no_heavier(values):
    weight = np.array([w for w, _ in values])
    group = np.array([g for _, g in values])
    p = less_likely(weight, group)
    for i in range(len(values)):
        mine = group == group[i]
        total = weight[mine].sum()
        expected = weight[mine & (weight <= weight[i])].sum() / total if total > 0 else 1.0
        assert p[i] == pytest.approx(expected, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize(("detector", "stream", "fields"), [
    (DetectorSpec("rare", by_field_name="port", over_field_name="host", partition_field_name="site"), port_stream, ("port", "host", "site")),
    (DetectorSpec("freq_rare", by_field_name="uri", over_field_name="client"), uri_stream, ("uri", "client")),
])
def test_state_continues_exactly(detector, stream, fields):
    docs = stream(planted=True)
    for d in docs:
        d["site"] = "north" if str(d.get("host", "")).endswith(("1", "3", "5")) else "south"
    spec = AnalysisSpec(bucket_span_ms=SPAN_S * 1000, detectors=(detector,))
    cut = next(i for i, d in enumerate(docs) if int(d["time"]) >= int(docs[0]["time"]) + 2 * 86_400)  # type: ignore[call-overload]
    first, rest = batch(docs[:cut], fields), batch(docs[cut:], fields)
    end = (int(docs[-1]["time"]) + SPAN_S) * 1000  # type: ignore[call-overload]
    live = JobAnalyzer(spec)
    live.add(first)
    live.finalize_until(int(first.times[-1]) + 1)
    restored = JobAnalyzer.from_state(spec, live.to_state())
    results = [job.add(rest) or job.finalize_until(end) for job in (live, restored)]
    assert live.to_state() == restored.to_state()
    assert results[0] == results[1]
    assert any(r.records and r.records[0].causes for r in results[0])


@pytest.mark.parametrize("exclude_frequent", ["", "all"])
def test_empty_buckets_closed_for_a_count_detector_score_nothing(exclude_frequent):
    # count closes the empty buckets of a gap; the population rare detector and a detector whose
    # field never comes see buckets without rows of theirs.
    spec = AnalysisSpec(bucket_span_ms=SPAN_S * 1000, detectors=(
        DetectorSpec("count"),
        DetectorSpec("rare", by_field_name="port", over_field_name="host", exclude_frequent=exclude_frequent),
        DetectorSpec("sum", field_name="bytes", by_field_name="port", exclude_frequent=exclude_frequent),
    ))
    docs = [d for d in port_stream(planted=False) if int(d["time"]) < 1_700_006_400 + 30 * SPAN_S]  # type: ignore[call-overload]
    job = JobAnalyzer(spec)
    job.add(batch(docs[: len(docs) // 2], ("port", "host")))
    job.add(batch(docs[len(docs) // 2:], ("port", "host")))
    closed = job.finalize_until((int(docs[-1]["time"]) + 20 * SPAN_S) * 1000)  # type: ignore[call-overload]
    assert len(closed) == 49 and not any(r.detector_index for b in closed[30:] for r in b.records)
    assert JobAnalyzer.from_state(spec, job.to_state()).to_state() == job.to_state()
