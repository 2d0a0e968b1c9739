"""Data from before 1970 is analysed as the same data from after it: bucket numbers below 0 are real buckets."""

from __future__ import annotations

import json

import numpy as np

from anomalyd.v1 import job_pb2, results_service_pb2_grpc
from anomalyd.v1 import job_service_pb2 as pb
from anomalyd.v1 import results_service_pb2 as rpb
from tests.conftest import job
from tests.e2e import every_function

WEEK_S = 7 * 86_400
# Whole 28 days also keep every seasonality ring's position (336 points of at most 2 hours), which
# decides when a ring re-fits the coding of its points.
RINGS_S = 4 * WEEK_S


def across_1970(start_s: int, length_s: int, period_s: int) -> int:
    """Whole periods to move a stream back by (keeping every time of day and of week) so it runs into 1970 from before it."""
    shift = (start_s + length_s // 2) // period_s * period_s
    assert start_s - shift < 0 < start_s + length_s - shift
    return shift


def scored(running, job_id: str, analysis: job_pb2.Job, docs: list[dict[str, object]], shift_s: int) -> list[tuple[object, ...]]:
    """Every record of the job over docs moved back shift_s, in a form to compare (times moved forward again)."""
    analysis.job_id = job_id
    running.stub.PutJob(pb.PutJobRequest(job=analysis), timeout=10)
    running.stub.OpenJob(pb.OpenJobRequest(job_id=job_id), timeout=10)
    data = "".join(json.dumps({**d, "time": d["time"] - shift_s}) + "\n" for d in docs).encode()  # type: ignore[operator]
    running.stub.PostData(iter([pb.PostDataRequest(job_id=job_id, data=data)]), timeout=120)
    running.stub.CloseJob(pb.CloseJobRequest(job_id=job_id), timeout=60)
    results = results_service_pb2_grpc.ResultsServiceStub(running.channel)
    found = results.GetRecords(rpb.GetRecordsRequest(job_id=job_id, sort="timestamp", page=rpb.Page(size=10_000)), timeout=30)
    return sorted((r.timestamp.seconds + shift_s, r.detector_index, r.by_field_value, r.over_field_value,
                   r.partition_field_value, r.record_score, r.probability) for r in found.records)


def test_every_function_scores_a_stream_across_1970_as_it_does_in_2023(running):
    analysis = job("", *every_function.DETECTORS, span_s=every_function.SPAN_S, influencers=every_function.INFLUENCERS)
    docs = every_function.documents()
    in_2023 = scored(running, "in-2023", analysis, docs, 0)
    # Records of population values (1) and points (12, 14), rare (6) and freq_rare (8)
    assert {d for _, d, *_ in in_2023} >= {1, 6, 8, 12, 14}
    shift = across_1970(every_function.START_S, every_function.BUCKETS * every_function.SPAN_S, WEEK_S)
    assert scored(running, "across-1970", analysis, docs, shift) == in_2023


def test_a_daily_pattern_is_learned_across_1970_as_in_2023(running):
    """Ten days of an hourly wave with a spike at its trough on day 9: the seasonal model is what finds it."""
    days = 10
    start_s = 703 * RINGS_S - days // 2 * 86_400  # 2023-11-18, 5 days before a whole number of RINGS_S
    rng = np.random.default_rng(3)
    hours = np.arange(days * 24)
    values = 100.0 + 30.0 * np.sin(2 * np.pi * hours / 24) + rng.normal(0, 2.0, len(hours))
    spike = 8 * 24 + 18  # day 9, 18:00, the trough (70): the day's peak level, 130
    values[spike] = 130.0
    docs = [{"time": start_s + int(h) * 3_600 + 60, "x": float(v)} for h, v in zip(hours, values, strict=True)]
    analysis = job("", job_pb2.Detector(function="mean", field_name="x"), span_s=3_600)
    in_2023 = scored(running, "wave-2023", analysis, docs, 0)
    top = max(in_2023, key=lambda r: r[5])
    assert top[0] == start_s + spike * 3_600 and top[5] >= 50
    assert scored(running, "wave-across-1970", analysis, docs, across_1970(start_s, days * 86_400, RINGS_S)) == in_2023
