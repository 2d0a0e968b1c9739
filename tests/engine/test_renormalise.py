"""Renormalisation in the engine: the trigger, the write rule, re-scoring with a by field."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anomalyd.engine import renormalise as renormalise_module
from anomalyd.engine.analyzer import JobAnalyzer
from anomalyd.engine.renormalise import MIN_MOVE, due, renormalise, rescorable, settle
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


@settings(max_examples=300, deadline=None)
@given(initial=st.floats(0.0, 100.0), current=st.floats(0.0, 100.0))
def test_settle_keeps_every_initial_score_below_the_least_move(initial: float, current: float) -> None:
    """What makes rescorable() exact: no current score in [0, 100] moves an initial score below MIN_MOVE."""
    settled = float(settle(np.array([initial]), np.array([current]))[0])
    assert settled == initial or initial >= MIN_MOVE
    assert settle(np.array([MIN_MOVE]), np.array([0.0])).tolist() == [0.0]  # so the bound is no lower


def test_results_rescorable_refuses_are_those_renormalise_leaves_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """renormalise() changes the same results when it re-scores every final result, the refused ones too."""
    rng = np.random.default_rng(5)
    values = 100 + rng.normal(0, 2, (400, 3))
    values[[120, 200, 260], [0, 1, 2]] += [9, 12, 30]
    values[350, 0] += 80
    job = JobAnalyzer(spec("mean", by="s"))
    results = run_values(job, values)
    refused = [r for r in results if not rescorable(r)]
    assert any(r.anomaly_score > 0 for r in refused) and len(refused) < len(results)
    changed = renormalise(job.score_normalisers(), results)
    assert changed
    monkeypatch.setattr(renormalise_module, "rescorable", lambda result: not result.is_interim)
    assert renormalise(job.score_normalisers(), results) == changed
