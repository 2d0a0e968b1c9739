"""Compile every engine kernel, or load it from the cache, before the first bucket needs it.

anomalyd.warmup runs this beside the domain's own warm-up, at install and when a server starts.
"""

from __future__ import annotations

import time

import numpy as np

from anomalyd.engine.analyzer import JobAnalyzer
from anomalyd.engine.periodicity import coverage
from anomalyd.engine.records import AnalysisSpec, DetectorSpec, RecordBatch, StringColumn

_SPAN = 300_000


def warm_up() -> float:
    """Run a small job through every kernel (count, mean, metric, population and point models, interim results, a state round trip).

    Returns:
        The seconds it took.
    """
    began = time.perf_counter()
    spec = AnalysisSpec(
        bucket_span_ms=_SPAN,
        detectors=(
            DetectorSpec("count", by_field_name="s"),
            DetectorSpec("mean", field_name="x", by_field_name="s"),
            # Several features close bucket by bucket: SeriesModel.step and the detector's rating.
            DetectorSpec("metric", field_name="x", by_field_name="s"),
            DetectorSpec("sum", field_name="x", over_field_name="s"),  # population models and person scores
            DetectorSpec("time_of_day", by_field_name="s"),  # point models, by and over
            DetectorSpec("lat_long", field_name="p", over_field_name="s"),
            DetectorSpec("distinct_count", field_name="p", by_field_name="s"),  # statistics grouped in numpy
            DetectorSpec("rare", by_field_name="s"),
            DetectorSpec("freq_rare", by_field_name="s", over_field_name="p"),
        ),
        influencers=("s",),  # the influencer scorer rates its own values
    )
    job = JobAnalyzer(spec)
    places = StringColumn(np.array([0, 1, 1], np.int32), ("48.85,2.35", "45.76,4.84"))
    for b in range(60):
        if b == 30:
            job = JobAnalyzer.from_state(spec, job.to_state())
        # Late on, a new name and a spike: records, influencers and rare values are scored too.
        names = StringColumn(np.array([0, 1, 1], np.int32), ("a", "b") if b < 50 else ("a", "c"))
        if b % 2:  # as the domain's readers often hand codes: a read-only view of a message's bytes
            names.codes.setflags(write=False)
        x = np.array([1.0, 2.0, 3.0 + b % 2 if b != 55 else 1_000.0])
        times = np.full(3, b * _SPAN, np.int64)
        job.add(RecordBatch(times=times, numbers={"x": x}, strings={"s": names, "p": places}))
        job.finalize_until((b + 1) * _SPAN)
        if b == 40:
            job.interim((b + 1) * _SPAN)  # score without learning
    _warm_plain_jobs()
    _warm_coverage()
    return time.perf_counter() - began


def _warm_plain_jobs() -> None:
    """Jobs of one detector without influencers, whose batches of known series take JobAnalyzer's compiled add.

    Every other batch is read-only, as the domain hands the batches it decodes from its journal;
    in the last, a record lacks the split value, so the general add reads the series of its
    read-only columns.
    """
    for detector in (DetectorSpec("mean", field_name="x"), DetectorSpec("mean", field_name="x", by_field_name="s")):
        job = JobAnalyzer(AnalysisSpec(bucket_span_ms=_SPAN, detectors=(detector,)))
        for b in range(4):
            times = np.full(2, b * _SPAN, np.int64)
            codes = np.array([0, -1 if b == 3 else 0], np.int32)
            batch = RecordBatch(times=times, numbers={"x": np.ones(2)}, strings={"s": StringColumn(codes, ("a",))})
            for column in (times, batch.numbers["x"], codes) if b % 2 else ():
                column.setflags(write=False)
            job.add(batch)
            job.finalize_until((b + 1) * _SPAN)


def _warm_coverage() -> None:
    """periodicity.coverage() as a job's first seasonal components call it, which the short jobs above never switch on.

    A test that switches a component on spreads its profile over the ring's points of a float
    width (the component's bin); others() finds where a component held falls on the points of a
    ring of an int resolution.
    """
    for width in (300_000.0, 300_000):
        coverage(np.zeros(2), width, 3_600_000, 12)
