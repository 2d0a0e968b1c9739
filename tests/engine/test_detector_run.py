"""A detector's compiled run of buckets (score_run) against the same buckets scored one by one (score)."""

from __future__ import annotations

import numpy as np

from anomalyd.engine.detector_scorer import DetectorScorer, Leaf
from anomalyd.engine.memory import MemoryAccount
from anomalyd.engine.records import DetectorSpec, RecordBatch, StringColumn

_SPAN = 900_000  # 15 minutes: a daily component is found within the stream
_BUCKETS = 96 * 6


def _bucket_rows(det: DetectorScorer, account: MemoryAccount, b: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Bucket b's rows for det: one record per series so far (a new one every 100 buckets), a daily wave."""
    series = 1 + b // 100
    t = b * _SPAN
    x = 50.0 + 20.0 * np.sin(2 * np.pi * (b % 96) / 96) * np.arange(1, series + 1) + rng.normal(0, 1, series)
    names = StringColumn(np.arange(series, dtype=np.int32), tuple(f"host-{k}" for k in range(series)))
    batch = RecordBatch(np.full(series, t, np.int64), numbers={"x": x}, strings={"host": names})
    account.open_batch(used=0)
    ids = det.series_of(batch, det.values_of(batch), np.full(series, t, np.int64), account)
    return {"bucket": batch.times, "series": ids[:, None], "value": x[:, None], "weight": np.ones(series)}


def _fields(leaf: Leaf) -> list[np.ndarray]:
    return [leaf.series, leaf.ln_p, leaf.raw, leaf.score, leaf.actual, leaf.typical, leaf.multi_bucket_impact, leaf.warm]


def test_the_compiled_run_follows_growing_series_and_new_components_as_scoring_one_by_one() -> None:
    spec = DetectorSpec("mean", field_name="x", by_field_name="host")
    run, one = (DetectorScorer(0, spec, span_ms=_SPAN, warmup=12, decay=0.999) for _ in range(2))
    accounts, rngs = (MemoryAccount(1 << 30), MemoryAccount(1 << 30)), (np.random.default_rng(3), np.random.default_rng(3))
    for b in range(_BUCKETS):
        rows_run = _bucket_rows(run, accounts[0], b, rngs[0])
        rows_one = _bucket_rows(one, accounts[1], b, rngs[1])
        (leaf_run,) = run.score_run(np.array([b * _SPAN], np.int64), rows_run) or []
        leaf_one = one.score(b * _SPAN, rows_one, None)
        for got, want in zip(_fields(leaf_run), _fields(leaf_one), strict=True):
            np.testing.assert_array_equal(got, want)
    # The stream grew the detector and gave its series components, which replace state arrays.
    assert run.n_series == 6 and run.models[0].seasonality.component_bytes() > 0
    for name, array in one.arrays().items():
        np.testing.assert_array_equal(run.arrays()[name], array, err_msg=name)
