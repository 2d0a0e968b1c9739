"""Renormalisation: re-scoring stored results with the normalisers' current state.

A result's score depends on what its normaliser had seen when the bucket closed: a moderate
anomaly in a young job can score 90 because it is the largest raw score so far. Elasticsearch
(``ScoresUpdater.java``, ``Normalizer.java``) therefore re-scores the non-interim results of the
renormalisation window from their stored probabilities when a normaliser's maximum grows by
over 10 %, keeping ``initial_*`` scores as they were. This module is that re-scoring; when to
run it and where results live is the caller's business (core/persistence.py).

Deviations from Elasticsearch, kept deliberately simple:

* A score is only ever lowered: the new score is min(initial score, current normalised
  score). Initial record scores already carry the analyzer's run damping, which cannot be told
  apart afterwards, and the trigger (a growing maximum) is the case where scores go down.
* The stored score is a function of the initial score and the current normalised score only
  (see settle()), never of earlier renormalisations. So two runs whose normalisers end in the
  same state (a crashed and restored run, an uninterrupted one) end with the same scores.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.normaliser import Normaliser
from anomalyd.engine.results import BucketResult
from anomalyd.engine.series_keys import SeriesKeys
from anomalyd.engine.stats import FloatArray, raw_score

GROWTH = 1.1  # a maximum growing by over 10 % makes renormalisation due (Elasticsearch's trigger)
BAND = 25.0  # a score moved into another band of 25 is rewritten...
MIN_MOVE = 1.5  # ...and so is one moved by at least 1.5; smaller moves keep the initial score
_BUCKET_TIME = "bucket_time"
_LN_P_FLOOR = -1e9  # ln of a stored probability of exactly 0 (no underflow to -inf)
T = TypeVar("T", bound=Any)


@dataclass(frozen=True, slots=True)
class DetectorScores:
    """The record normaliser of one detector and how a record finds its row and group.

    Attributes:
        normaliser: one row per series.
        keys: the detector's series numbering; fields are (partition, by) names, when set.
        groups: shape (k,) series -> shape (k,) max-ratio groups.
    """

    normaliser: Normaliser
    keys: SeriesKeys
    groups: Callable[[NDArray[np.intp]], NDArray[np.intp]]

    @classmethod
    def per_partition(cls, normaliser: Normaliser, keys: SeriesKeys, partition_field: str, use_null: bool) -> DetectorScores:
        """The scores of a detector whose normaliser has a row per partition value (one without).

        Rare and population detectors normalise so; keys is theirs, with the partition first.
        """
        fields = (partition_field,) if partition_field else ()
        rows = SeriesKeys(fields, use_null=use_null)
        names = list(keys.values[0]) if fields else []
        ids = np.arange(len(names), dtype=np.int32)[:, None] if fields else np.zeros((1, 0), np.int32)
        rows.load({"ids": ids}, [names] if fields else [])
        return cls(normaliser, rows, lambda r: r)


@dataclass(frozen=True, slots=True)
class ScoreNormalisers:
    """A view of an analyzer's normalisers (JobAnalyzer.score_normalisers()).

    Attributes:
        bucket: the job-level normaliser of the ``bucket_time`` bucket influencer (one row).
        influencers: one row per influencer field, in the order of influencer_fields.
        influencer_fields: the job's influencer field names.
        detectors: per detector, in detector_index order.
        bucket_index: the newest finalised bucket (start / span): scores are aged to it.
    """

    bucket: Normaliser
    influencers: Normaliser
    influencer_fields: tuple[str, ...]
    detectors: tuple[DetectorScores, ...]
    bucket_index: int

    def maxima(self) -> list[FloatArray]:
        """Per normaliser, shape (n_groups,): its groups' maximum raw scores (copies).

        Compare the maxima before and after finalising buckets with due().
        """
        parts = [self.bucket.hmax, self.influencers.hmax, *(d.normaliser.hmax for d in self.detectors)]
        return [np.array(p, np.float64) for p in parts]


def due(before: list[FloatArray], after: list[FloatArray]) -> bool:
    """Whether a normaliser's maximum grew by over 10 % (a new group's first score counts).

    Args:
        before: ScoreNormalisers.maxima() before finalising buckets.
        after: the same after; groups only ever get appended, so each array is at least as long.
    """
    # One comparison over every normaliser's groups, a new group against 0: numpy's fixed cost a
    # call (~1 us) is all of it for a few groups, and this runs for every message (27 against 10 us
    # for three one-group normalisers with an array of each apiece).
    new = np.concatenate(after)
    old = np.zeros(len(new))
    at = 0
    for was, now in zip(before, after, strict=True):
        known = min(len(was), len(now))
        old[at : at + known] = was[:known]
        at += len(now)
    return bool(np.count_nonzero(new > GROWTH * old))


def settle(initial: FloatArray, current: FloatArray) -> FloatArray:
    """The scores to store: min(initial, current) when that moves a score materially, else initial.

    Material means another band of 25 or a move of at least 1.5 (Elasticsearch writes a result
    only then). Comparing with the initial score, not the stored one, keeps the outcome
    independent of earlier renormalisations.

    Args:
        initial: shape (k,), initial scores.
        current: shape (k,), the scores the normalisers give now.

    Returns:
        shape (k,).

    Example:
        >>> settle(np.array([90.0, 90.0, 30.0]), np.array([89.0, 40.0, 80.0])).tolist()
        [90.0, 40.0, 30.0]
    """
    low = np.minimum(initial, current)
    band = np.minimum(initial // BAND, 3) != np.minimum(low // BAND, 3)
    return np.where(band | (initial - low >= MIN_MOVE), low, initial)


def renormalise(norms: ScoreNormalisers, results: list[BucketResult]) -> list[BucketResult]:
    """The results whose scores change when re-scored with the normalisers' current state.

    Record and influencer scores are re-scored in their own rows; the bucket's ``bucket_time``
    influencer in the job row; a field's bucket influencer takes its largest influencer score
    and the bucket's anomaly_score its largest bucket-influencer score (parents take the largest
    child). Interim results are left alone.

    Args:
        norms: the analyzer's normalisers.
        results: complete stored results (records and influencers included).

    Returns:
        Changed copies of the results that change, in their order.
    """
    final = [r for r in results if rescorable(r)]
    if not final:
        return []
    record_scores = _record_scores(norms, final)
    influencer_scores = _influencer_scores(norms, final)
    time_scores = _bucket_time_scores(norms, final)
    changed = []
    for result, records, influencers, time_score in zip(final, record_scores, influencer_scores, time_scores, strict=True):
        new_records = _with_scores(result.records, "record_score", records)
        new_influencers = _with_scores(result.influencers, "influencer_score", influencers)
        field_scores: dict[str, float] = {}
        for inf in new_influencers:
            name = inf.influencer_field_name
            field_scores[name] = max(field_scores.get(name, 0.0), inf.influencer_score)
        field_scores[_BUCKET_TIME] = time_score
        bucket_influencers = [
            bi if field_scores.get(bi.influencer_field_name, bi.anomaly_score) == bi.anomaly_score
            else dataclasses.replace(bi, anomaly_score=field_scores[bi.influencer_field_name])
            for bi in result.bucket_influencers
        ]
        anomaly = max((bi.anomaly_score for bi in bucket_influencers), default=result.anomaly_score)
        if (new_records, new_influencers, bucket_influencers, anomaly) != (
            result.records, result.influencers, result.bucket_influencers, result.anomaly_score
        ):
            changed.append(dataclasses.replace(
                result, anomaly_score=anomaly, bucket_influencers=bucket_influencers,
                records=new_records, influencers=new_influencers,
            ))
    return changed


def rescorable(result: BucketResult) -> bool:
    """Whether renormalise() may change the result: it is final and a score of it started at MIN_MOVE or above.

    A result whose initial scores are all below MIN_MOVE keeps them: settle() only lowers a
    score, and to no less than 0, so none of them moves by MIN_MOVE or leaves the first band;
    its bucket influencers and anomaly score, the largest of those scores, stay as they were.
    Most results of a quiet job are such (9 in 10 buckets of bench/ingest.py's sparse upload).
    """
    if result.is_interim:
        return False
    # Loops, not any() of generators, which take 2.5 times as long: this runs for every stored result
    # (influencers are rare).
    for bi in result.bucket_influencers:
        if bi.initial_anomaly_score >= MIN_MOVE:
            return True
    for record in result.records:
        if record.initial_record_score >= MIN_MOVE:
            return True
    return any(influencer.initial_influencer_score >= MIN_MOVE for influencer in result.influencers)


def _with_scores(items: list[T], name: str, scores: FloatArray) -> list[T]:
    """Items with attribute name set to scores, replacing only the items that change."""
    return [
        item if getattr(item, name) == score else dataclasses.replace(item, **{name: score})
        for item, score in zip(items, scores.tolist(), strict=True)
    ]


def _ln_p(probability: FloatArray) -> FloatArray:
    return np.log(np.maximum(probability, np.exp(_LN_P_FLOOR)))


def _rescore(norm: Normaliser, rows: NDArray[np.intp], groups: NDArray[np.intp], probability: FloatArray,
             initial: FloatArray, bucket_index: int) -> FloatArray:
    """settle()d scores of stored probabilities in the given rows, aged to bucket_index."""
    ln_p = _ln_p(probability)
    current = norm.normalise(rows, groups, raw_score(ln_p), ln_p, bucket=bucket_index)
    return settle(initial, current)


def _bucket_time_scores(norms: ScoreNormalisers, results: list[BucketResult]) -> list[float]:
    """Per result, the new score of its ``bucket_time`` bucket influencer (its stored one if none)."""
    found = [next((bi for bi in r.bucket_influencers if bi.influencer_field_name == _BUCKET_TIME), None) for r in results]
    here = [bi for bi in found if bi is not None]
    rows = np.zeros(len(here), np.intp)
    probability = np.array([bi.probability for bi in here])
    initial = np.array([bi.initial_anomaly_score for bi in here])
    scores = iter(_rescore(norms.bucket, rows, rows, probability, initial, norms.bucket_index).tolist() if here else [])
    return [0.0 if bi is None else next(scores) for bi in found]


def _record_scores(norms: ScoreNormalisers, results: list[BucketResult]) -> list[FloatArray]:
    """Per result, shape (n_records,): its records' new scores (unchanged where the series is unknown)."""
    out = [np.array([r.initial_record_score for r in res.records]) for res in results]
    for d, det in enumerate(norms.detectors):
        series_of = {
            tuple(det.keys.value(s, k) for k in range(len(det.keys.fields))): s for s in range(det.keys.n)
        }
        where, series, probability, initial = [], [], [], []
        for i, res in enumerate(results):
            for j, rec in enumerate(res.records):
                if rec.detector_index != d:
                    continue
                values = {rec.partition_field_name: rec.partition_field_value, rec.by_field_name: rec.by_field_value}
                s = series_of.get(tuple(values[f] for f in det.keys.fields))
                if s is not None:
                    where.append((i, j))
                    series.append(s)
                    probability.append(rec.probability)
                    initial.append(rec.initial_record_score)
        if not where:
            continue
        rows = np.array(series, np.intp)
        scores = _rescore(det.normaliser, rows, det.groups(rows), np.array(probability), np.array(initial),
                          norms.bucket_index)
        for (i, j), score in zip(where, scores.tolist(), strict=True):
            out[i][j] = score
    return out


def _influencer_scores(norms: ScoreNormalisers, results: list[BucketResult]) -> list[FloatArray]:
    """Per result, shape (n_influencers,): its influencers' new scores."""
    field_row = {name: k for k, name in enumerate(norms.influencer_fields)}
    influencers = [inf for res in results for inf in res.influencers]
    rows = np.array([field_row[inf.influencer_field_name] for inf in influencers], np.intp)
    probability = np.array([inf.probability for inf in influencers], np.float64)
    initial = np.array([inf.initial_influencer_score for inf in influencers], np.float64)
    scores = _rescore(norms.influencers, rows, rows, probability, initial, norms.bucket_index) if influencers else initial
    # The influencers were flattened in result order: split them back per result.
    return np.split(scores, np.cumsum([len(res.influencers) for res in results])[:-1])
