"""Renormalisation in the engine: the trigger, the write rule, re-scoring with a by field."""

from __future__ import annotations

import numpy as np

from anomalyd.engine.analyzer import JobAnalyzer
from anomalyd.engine.renormalise import due, renormalise, settle
from tests.engine.synth import run_values, spec


def test_due_when_a_maximum_grows_by_over_ten_percent_or_a_group_appears() -> None:
    before = [np.array([10.0, 20.0]), np.array([5.0])]
    assert not due(before, [np.array([10.5, 21.0]), np.array([5.0])])
    assert due(before, [np.array([11.5, 20.0]), np.array([5.0])])
    assert due(before, [np.array([10.0, 20.0]), np.array([5.0, 0.5])])
    assert not due(before, [np.array([10.0, 20.0, 0.0]), np.array([5.0])])


def test_settle_only_lowers_and_ignores_immaterial_moves() -> None:
    initial = np.array([80.0, 80.0, 80.0, 76.0, 0.0])
    current = np.array([79.0, 60.0, 95.0, 74.9, 10.0])
    assert settle(initial, current).tolist() == [80.0, 60.0, 80.0, 74.9, 0.0]


def test_larger_anomaly_lowers_an_earlier_one_of_its_partition_only() -> None:
    rng = np.random.default_rng(3)
    values = 100 + rng.normal(0, 2, (400, 2))
    values[200, 0] += 12  # moderate, series s0
    values[200, 1] += 12  # moderate, series s1
    values[350, 0] += 80  # much larger, series s0
    job = JobAnalyzer(spec("mean", partition="s"))  # the max-ratio group is the partition
    results = run_values(job, values)
    changed = {r.timestamp_ms: r for r in renormalise(job.score_normalisers(), results)}
    early = changed[results[200].timestamp_ms]
    scores = {r.partition_field_value: (r.record_score, r.initial_record_score) for r in early.records}
    assert scores["s0"][0] < scores["s0"][1] - 25  # s0 saw a much larger anomaly since
    # Another partition: s0's anomaly does not lower s1; only s1's own later scores move it, a little
    # (a percentile read within its bin moves with every score added near it).
    assert scores["s1"][0] > scores["s1"][1] - 2
    assert early.anomaly_score == max(bi.anomaly_score for bi in early.bucket_influencers)
    # Re-scoring renormalised results changes nothing more: the outcome is not path-dependent.
    again = renormalise(job.score_normalisers(), [changed.get(r.timestamp_ms, r) for r in results])
    assert again == []
