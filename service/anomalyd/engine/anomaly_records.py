"""A bucket's anomaly records: its detectors' least probable hits, at most 500, as AnomalyRecord results.

Each detector's Leaf gives its hits (warm series below the record probability, least probable
first); the records are the MAX_RECORDS least probable of them across the detectors, each with
its series' split values and the influencer values of its rows in the bucket. A bucket of
100,000 series writes 500.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.bucket_buffer import Rows
from anomalyd.engine.detector_scorer import DetectorScorer, Leaf
from anomalyd.engine.field_values import geo_results, result_values
from anomalyd.engine.influencer_scorer import InfluencerScorer
from anomalyd.engine.population import PopulationScorer
from anomalyd.engine.rare import RareScorer
from anomalyd.engine.results import AnomalyRecord

MAX_RECORDS = 500

Detector = DetectorScorer | RareScorer | PopulationScorer


def bucket_records(
    b: int, detectors: list[Detector], influencers: InfluencerScorer, leaves: list[Leaf], hits: list[NDArray[np.intp]],
    rows: Rows, interim: bool,
) -> list[AnomalyRecord]:
    """The records of bucket b: series with probability below 0.035 (each leaf's hits()), at most 500, least probable first.

    Args:
        b: bucket start, epoch ms.
        detectors: the job's detectors.
        influencers: the job's influencer scorer.
        leaves: each detector's scores of the bucket.
        hits: each leaf's hits() rows.
        rows: the bucket's buffer rows.
        interim: whether the bucket is still open.
    """
    chosen = _least_probable(leaves, hits)
    if not chosen:  # most buckets of a stream
        return []
    placed: dict[int, AnomalyRecord] = {}
    for d in sorted({d for d, _ in chosen}):
        places = [j for j, (e, _) in enumerate(chosen) if e == d]
        at = np.array([chosen[j][1] for j in places], np.intp)
        placed.update(zip(places, _detector_records(b, detectors[d], influencers, leaves[d], at, rows, interim), strict=True))
    return [placed[j] for j in range(len(chosen))]


def _detector_records(
    b: int, det: Detector, influencers: InfluencerScorer, leaf: Leaf, at: NDArray[np.intp], rows: Rows, interim: bool
) -> list[AnomalyRecord]:
    """The records of rows `at` of detector det's leaf in bucket b, with their series' influencer values.

    A record reads its fields with item(), a Python number, rather than a numpy scalar each, and
    only the split values of the fields the detector names.
    """
    spec, function, keys = det.spec, det.function, det.keys
    series = leaf.series[at]
    values_of = influencers.of_records(rows, det.index, series, det.n_series) if influencers.fields else [[] for _ in at]
    field_of = {name: k for k, name in enumerate(det.split_fields)}
    # A population record names its by values in its causes.
    by = field_of.get(spec.by_field_name) if spec.by_field_name and leaf.causes is None else None
    partition = field_of.get(spec.partition_field_name) if spec.partition_field_name else None
    over = field_of.get(spec.over_field_name) if spec.over_field_name else None

    def split_value(s: int, field: int | None) -> str:
        return "" if field is None else keys.value(s, field)

    descriptions = [function.describe(f) for f in range(len(function.features))]
    reads = function.reads
    records = []
    for i, s, values in zip(at.tolist(), series.tolist(), values_of, strict=True):
        score, actual, typical = leaf.score.item(i), leaf.actual.item(i), leaf.typical.item(i)
        records.append(AnomalyRecord(
            timestamp_ms=b,
            detector_index=det.index,
            function=function.name,
            function_description=descriptions[leaf.feature.item(i)],
            field_name=spec.field_name,
            by_field_name=spec.by_field_name,
            by_field_value=split_value(s, by),
            partition_field_name=spec.partition_field_name,
            partition_field_value=split_value(s, partition),
            over_field_name=spec.over_field_name,
            over_field_value=split_value(s, over),
            probability=math.exp(leaf.ln_p.item(i)),
            record_score=score,
            initial_record_score=score,
            actual=result_values(reads, actual),
            typical=result_values(reads, typical),
            multi_bucket_impact=leaf.multi_bucket_impact.item(i),
            influencers=values,
            is_interim=interim,
            causes=leaf.causes(i) if leaf.causes is not None else [],
            geo_results=geo_results(reads, actual, typical),
        ))
    return records


def _least_probable(leaves: list[Leaf], hits: list[NDArray[np.intp]]) -> list[tuple[int, int]]:
    """The detector and leaf row of the MAX_RECORDS least probable hits, ordered by (ln p, detector, row).

    Each detector's hits come by ln p, ties by row (Leaf.hits): a stable sort of them detector by
    detector on ln p breaks ties so.
    """
    found = [d for d, hot in enumerate(hits) if len(hot)]
    if len(found) < 2:  # most jobs have one detector: its hits are in order
        return [(d, i) for d in found for i in hits[d][:MAX_RECORDS].tolist()]
    detector = np.concatenate([np.full(len(hits[d]), d, np.intp) for d in found])
    row = np.concatenate([hits[d] for d in found])
    order = np.argsort(np.concatenate([leaves[d].ln_p[hits[d]] for d in found]), kind="stable")[:MAX_RECORDS]
    return list(zip(detector[order].tolist(), row[order].tolist(), strict=True))
