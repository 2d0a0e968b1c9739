"""Population analysis: a detector with ``over_field_name``, scoring each over entity against its peers.

As in ml-cpp's population models (CEventRatePopulationModel, CMetricPopulationModel), the model
belongs to the attribute, (partition, by value), and each over value is a person whose bucket
statistic is one sample of that attribute's population (population_model.py). A person costs
only its key: the buffer's series column holds (partition, by, over) pairs, each pair knows its
attribute, and persons are found per bucket from the pairs' keys.

A person's probability joins its attributes' probabilities in the bucket as ml-cpp's
CJointProbabilityOfLessLikelySamples does: P(chi-squared with 2n degrees of freedom >= -2 sum
ln p). Its record names the over value and lists as ``causes`` the attributes whose probability
is within 10 % of the least (or below 0.05), as CAnnotatedProbabilityBuilder keeps them.

A person is scored on its probability adjusted for the n persons of its partition in the
bucket, 1 - (1 - p)^n: the chance that the most extreme of n ordinary persons is as extreme. A
population of n entities shows a probability near 1/n every bucket; unadjusted, that routine
extreme would page. Scores come from one normaliser row per partition (Elasticsearch's leaf
normaliser is keyed by partition, person field and function, not by person), which learns the
bucket's largest raw score among the partition's persons, as the influencer normaliser does.
The record keeps the person's own probability, as Elasticsearch writes it; renormalisation
re-scores stored records from that probability, so it lowers a population record's score less
than the adjusted one would (it never raises one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anomalyd.bucket_time import DAY_MS
from anomalyd.engine.compiled import kernel
from anomalyd.engine.detector_scorer import LN_RECORD, Leaf
from anomalyd.engine.field_values import geo_results, result_values, row_values
from anomalyd.engine.functions import FUNCTIONS, ORDERED, STATISTICS, Grouped
from anomalyd.engine.memory import KEY_BYTES, MemoryAccount
from anomalyd.engine.normaliser import Normaliser, normalise1, update1
from anomalyd.engine.population_model import PopulationModel
from anomalyd.engine.population_points import PopulationPointModel
from anomalyd.engine.rare import MAX_CAUSES
from anomalyd.engine.records import DetectorSpec, RecordBatch
from anomalyd.engine.renormalise import DetectorScores
from anomalyd.engine.results import AnomalyCause
from anomalyd.engine.series_keys import SeriesKeys
from anomalyd.engine.state import Arrays, prefixed
from anomalyd.engine.stats import LN_P_MIN, FloatArray, raw_score1

_MODEL_DAYS = 7.0  # the populations' histograms age with a 7-day time constant
_PAIR_BYTES = 3 * 4 + 8 + 4 + 4  # key ids, packed key, its series number, its attribute
_CAUSE_RATIO = 1.1  # causes within 10 % of the least probability (CAnnotatedProbabilityBuilder)
_LN_SIGNIFICANT = math.log(0.05)  # ...or below maths::LARGEST_SIGNIFICANT_PROBABILITY
_SINGLE_BUCKET_IMPACT = -5.0  # no multi-bucket feature: the evidence is all in the bucket


@dataclass(slots=True, kw_only=True)
class PopulationLeaf(Leaf):
    """The scored pairs of a population detector in one bucket; ln_p, raw and score are their person's.

    A person reports once, on its least probable warm pair, with its attributes as causes. Its
    scores come from its probability adjusted for the persons it was the most extreme of
    (adjusted_ln_p1), and so does the bucket's score.

    Attributes:
        person: shape (k,), each pair's person, numbered within the bucket.
        pair_ln_p: shape (k,), each pair's own ln p among its attribute's population.
        adjusted_ln_p: shape (k,), its person's adjusted ln p.
    """

    person: NDArray[np.intp]
    pair_ln_p: FloatArray
    adjusted_ln_p: FloatArray

    def hits(self) -> tuple[NDArray[np.intp], float | None]:
        """One row per warm person below the record probability, its least probable warm pair, least probable first.

        Returns:
            The rows by ln p, ties in row order (as Leaf.hits gives them), and the smallest
            adjusted ln p of a warm person, None without one.
        """
        least = float(self.adjusted_ln_p[self.warm].min()) if self.warm.any() else None
        hot = np.flatnonzero(self.warm & (self.ln_p < LN_RECORD))
        if not len(hot):
            return hot, least
        order = hot[np.lexsort((self.pair_ln_p[hot], self.person[hot]))]
        first = np.concatenate(([True], self.person[order][1:] != self.person[order][:-1]))
        reported = np.sort(order[first])
        return reported[np.argsort(self.ln_p[reported], kind="stable")], least


class PopulationScorer:
    """One detector with an over field: its pairs, attribute models and record normaliser.

    It offers DetectorScorer's interface to the analyzer: series are pairs, and a leaf reports one
    row per anomalous person, with its causes.

    Args:
        index: the detector's position in the job.
        spec: the detector; over_field_name set.
        span_ms: the bucket span.
        warmup: buckets an attribute learns before its persons are scored.
        decay: the normaliser's decay per bucket.

    Example:
        >>> from anomalyd.engine.records import StringColumn
        >>> det = PopulationScorer(0, DetectorSpec("count", over_field_name="ip"), span_ms=60_000, warmup=12, decay=0.999)
        >>> batch = RecordBatch(np.zeros(3, np.int64), strings={"ip": StringColumn(np.array([0, 1, 0], np.int32), ("a", "b"))})
        >>> account = MemoryAccount(1 << 20)
        >>> account.open_batch(used=0)
        >>> series = det.series_of(batch, det.values_of(batch), np.zeros(3, np.int64), account)
        >>> rows = {"series": series[:, None], "value": np.full((3, 1), np.nan), "weight": np.ones(3)}
        >>> leaf = det.score(0, rows, None)
        >>> leaf.actual.tolist(), leaf.person.tolist()
        ([2.0, 1.0], [0, 1])
    """

    def __init__(self, index: int, spec: DetectorSpec, *, span_ms: int, warmup: int, decay: float) -> None:
        self.index = index
        self.spec = spec
        self.span = span_ms
        self.function = FUNCTIONS[spec.function]
        fields = tuple(f for f in (spec.partition_field_name, spec.by_field_name, spec.over_field_name) if f)
        self.keys = SeriesKeys(fields, use_null=spec.use_null)
        self._attribute_columns = tuple(range(len(fields) - 1))  # partition and by: all but the over field
        model_decay = math.exp(-span_ms / (_MODEL_DAYS * DAY_MS))
        self.models: list[PopulationModel | PopulationPointModel] = [
            PopulationPointModel(span_ms, kind=self.function.reads, warmup=warmup, decay=model_decay) if f.points
            else PopulationModel(side=f.side, warmup=warmup, decay=model_decay)
            for f in self.function.features
        ]
        self.normaliser = Normaliser(0, decay_per_bucket=decay)
        self.pair_attribute = np.zeros(0, np.int32)
        self._attributes: dict[tuple[str, ...], int] = {}
        # A new attribute costs its models, its key and, with a new partition, a normaliser row.
        self._attribute_bytes = sum(m.bytes_per_attribute() for m in self.models) + KEY_BYTES
        self._attribute_bytes += Normaliser.bytes_per_row() + Normaliser.bytes_per_group()
        self._ordered = any(f.statistic in ORDERED for f in self.function.features)

    @property
    def split_fields(self) -> tuple[str, ...]:
        """The fields that name a pair, in key order: partition, by, over."""
        return self.keys.fields

    @property
    def n_series(self) -> int:
        """The number of (partition, by, over) pairs."""
        return self.keys.n

    def model_bytes(self) -> int:
        """Bytes of state in use."""
        pairs = self.n_series * (_PAIR_BYTES + KEY_BYTES) + self.keys.key_bytes
        return pairs + len(self._attributes) * self._attribute_bytes

    def scores(self) -> DetectorScores:
        """The record normaliser and how a stored record finds its row: by its partition."""
        return DetectorScores.per_partition(self.normaliser, self.keys, self.spec.partition_field_name, self.spec.use_null)

    def values_of(self, batch: RecordBatch) -> FloatArray:
        """Shape (n,): what each record gives the function (see field_values), NaN for nothing."""
        return row_values(self.function.reads, batch, self.spec.field_name)

    def series_of(
        self, batch: RecordBatch, values: FloatArray, bucket: NDArray[np.int64], account: MemoryAccount
    ) -> NDArray[np.int32]:
        """Shape (n,): each record's pair, -1 where the detector skips the record.

        A function of a field skips records whose values_of() is NaN. New pairs take their bytes
        from the account, and a pair of a new attribute its model's bytes too; the buckets of
        records whose pair was refused are noted there.
        """
        usable = ~np.isnan(values) if self.function.uses_field else np.ones(len(batch), bool)
        new_pairs: list[int] = []  # each new pair's attribute

        def cost(key: tuple[str, ...]) -> int:
            known = self._attribute_key(key) in self._attributes
            return _PAIR_BYTES + KEY_BYTES + sum(map(len, key)) + (0 if known else self._attribute_bytes)

        def admitted(key: tuple[str, ...], _: int) -> None:
            new_pairs.append(self._attributes.setdefault(self._attribute_key(key), len(self._attributes)))

        series = account.resolve(self.keys, batch, usable, bucket, cost, admitted)
        if new_pairs:
            self.pair_attribute = np.concatenate([self.pair_attribute, np.array(new_pairs, np.int32)])
            self._grow()
        return series

    def _attribute_key(self, key: tuple[str, ...]) -> tuple[str, ...]:
        """The (partition, by) values of a pair's key."""
        return tuple(key[c] for c in self._attribute_columns)

    def _grow(self) -> None:
        for model in self.models:
            model.grow(len(self._attributes))
        partitions = len(self.keys.values[0]) if self.spec.partition_field_name else 1
        self.normaliser.grow(partitions, partitions)

    def score(self, b: int, rows: Arrays, completeness: float | None) -> PopulationLeaf:
        """Score every person with data in bucket b against its attributes' populations; learn unless interim.

        Args:
            b: bucket start, epoch ms.
            rows: the bucket's buffer rows.
            completeness: None for a final bucket; else interim (its share is not used: a
                population compares persons within the same partial bucket).
        """
        series = rows["series"][:, self.index]
        mine = series >= 0
        grouped = Grouped.of(
            series[mine].astype(np.intp), rows["value"][mine, self.index], rows["weight"][mine], by_value=self._ordered
        )
        pairs = grouped.series
        attribute = self.pair_attribute[pairs].astype(np.intp)
        warm = self.models[0].warm(attribute)
        values = [STATISTICS[f.statistic](grouped) for f in self.function.features]
        learn_at = b // self.span if completeness is None else None
        scored = [model.step(attribute, x, learn_at) for model, x in zip(self.models, values, strict=True)]
        best = np.argmin(np.stack([ln_p for ln_p, _ in scored]), axis=0) if len(pairs) else np.zeros(0, np.intp)
        actual: FloatArray = np.choose(best, values) if len(pairs) else np.zeros(0)
        typical: FloatArray = np.choose(best, [t for _, t in scored]) if len(pairs) else np.zeros(0)
        pair_ln_p: FloatArray = np.choose(best, [ln_p for ln_p, _ in scored]) if len(pairs) else np.zeros(0)
        person, row = self._persons(pairs)
        k = len(pairs)
        person_ln_p, ln_p, raw, score = np.empty(k), np.empty(k), np.empty(k), np.empty(k)
        _rate_persons(
            person, pair_ln_p, warm, row, self.normaliser.state(), self.normaliser.decay, b // self.span,
            completeness is None, (person_ln_p, ln_p, raw, score),
        )
        impact = np.where(person_ln_p < 0.0, _SINGLE_BUCKET_IMPACT, 0.0)
        causes = _Causes(self, pairs, person, warm, pair_ln_p, best, actual, typical)
        return PopulationLeaf(
            pairs, person_ln_p, raw, score, best, actual, typical, impact, warm, causes,
            person=person, pair_ln_p=pair_ln_p, adjusted_ln_p=ln_p,
        )

    def _persons(self, pairs: NDArray[np.intp]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """Each pair's person (its partition and over value), numbered within the bucket, and its normaliser row."""
        ids = self.keys.ids[pairs].astype(np.int64)
        over = ids[:, -1]
        row = ids[:, 0] if self.spec.partition_field_name else np.zeros(len(pairs), np.int64)
        _, person = np.unique((row << 32) | over, return_inverse=True)
        return person.reshape(-1).astype(np.intp), row.astype(np.intp)

    def score_run(self, starts: NDArray[np.int64], rows: Arrays) -> None:
        """No compiled run of buckets: the analyzer scores a population bucket by bucket."""
        return None

    def value(self, pair: int, field: str) -> str:
        """The value of a split field in a pair's key ("" when the detector has no such field)."""
        return self.keys.value(pair, self.keys.fields.index(field)) if field else ""

    def arrays(self) -> Arrays:
        """The state as named arrays: pair keys and attributes, the normaliser, each feature's model."""
        out: Arrays = {f"norm.{k}": v for k, v in self.normaliser.arrays(self.normaliser.rows).items()}
        out.update({f"keys.{k}": v for k, v in self.keys.arrays().items()})
        out["pair_attribute"] = self.pair_attribute
        for j, model in enumerate(self.models):
            out.update({f"f{j}.{k}": v for k, v in model.arrays(len(self._attributes)).items()})
        return out

    def load(self, arrays: Arrays, split_values: list[list[str]]) -> None:
        """Restore the state written by arrays() and keys.meta()."""
        self.keys.load(prefixed(arrays, "keys."), split_values)
        self.pair_attribute = arrays["pair_attribute"]
        attributes, first = np.unique(self.pair_attribute, return_index=True)
        self._attributes = {
            tuple(self.keys.value(int(p), c) for c in self._attribute_columns): int(a)
            for a, p in zip(attributes.tolist(), first.tolist(), strict=True)
        }
        self.normaliser.load(prefixed(arrays, "norm."))
        for j, model in enumerate(self.models):
            model.load(prefixed(arrays, f"f{j}."))


@dataclass(frozen=True, slots=True)
class _Causes:
    """The causes of a person's record in a bucket: its warm pairs within 10 % of the least probable (or below 0.05).

    Called with the leaf row the person reports on; the arrays are the leaf's.
    """

    scorer: PopulationScorer
    pairs: NDArray[np.intp]
    person: NDArray[np.intp]
    warm: NDArray[np.bool_]
    pair_ln_p: FloatArray
    feature: NDArray[np.intp]
    actual: FloatArray
    typical: FloatArray

    def __call__(self, i: int) -> list[AnomalyCause]:
        mine = np.flatnonzero((self.person == self.person[i]) & self.warm)
        mine = mine[np.argsort(self.pair_ln_p[mine], kind="stable")]
        cutoff = max(math.log(_CAUSE_RATIO) + float(self.pair_ln_p[mine[0]]), _LN_SIGNIFICANT)
        return [self._cause(int(j)) for j in mine[self.pair_ln_p[mine] <= cutoff][:MAX_CAUSES].tolist()]

    def _cause(self, j: int) -> AnomalyCause:
        scorer, pair = self.scorer, int(self.pairs[j])
        function = scorer.function
        return AnomalyCause.of_series(
            scorer.spec, lambda field: scorer.value(pair, field),
            probability=math.exp(float(self.pair_ln_p[j])),
            function=function.name,
            description=function.describe(int(self.feature[j])),
            actual=result_values(function.reads, float(self.actual[j])),
            typical=result_values(function.reads, float(self.typical[j])),
            geo_results=geo_results(function.reads, float(self.actual[j]), float(self.typical[j])),
        )


@kernel
def joint_ln_p1(n: int, minus_ln_p: float) -> float:
    """Ln of ml-cpp's joint probability of less likely samples of n probabilities whose -ln sum to minus_ln_p.

    P(chi-squared with 2n degrees of freedom >= 2 s) = e^-s sum_{k<n} s^k / k!, summed in log space.
    """
    if n <= 0 or minus_ln_p <= 0.0:
        return 0.0
    ln_s = math.log(minus_ln_p)
    largest = min(n - 1, int(minus_ln_p))  # the largest term's k: terms grow while k < s
    peak = largest * ln_s - math.lgamma(largest + 1.0)
    total = 0.0
    for k in range(n):
        total += math.exp(k * ln_s - math.lgamma(k + 1.0) - peak)
    return min(max(-minus_ln_p + peak + math.log(total), LN_P_MIN), 0.0)


@kernel
def adjusted_ln_p1(ln_p: float, n: int) -> float:
    """Ln of the probability that the least probable of n independent persons is at most e^ln_p: 1 - (1 - p)^n."""
    if n <= 1 or ln_p >= 0.0:
        return min(ln_p, 0.0)
    if ln_p < -23.0:  # p < 1e-10: 1 - (1 - p)^n = n p to double precision
        return max(ln_p + math.log(n), LN_P_MIN)
    return min(math.log(-math.expm1(n * math.log1p(-math.exp(ln_p)))), 0.0)


@kernel
def _rate_persons(
    person: NDArray[np.intp], pair_ln_p: FloatArray, warm: NDArray[np.bool_], row: NDArray[np.intp],
    norm: tuple[Any, ...], decay: float, bucket: int, final: bool,
    out: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
) -> None:
    """Each pair's person's joint ln p over its warm pairs, its adjusted ln p, raw and normalised score.

    A row's persons are scored by adjusted_ln_p1 over the row's persons in the bucket; if final,
    each row learns its largest raw score of the bucket.

    Args:
        person: shape (k,), each pair's person (0..persons-1).
        pair_ln_p: shape (k,), each pair's ln p.
        warm: shape (k,), pairs whose attribute is past warm-up (only they count).
        row: shape (k,), each pair's normaliser row (its partition).
        norm: the record Normaliser's state().
        decay: its decay per bucket.
        bucket: the bucket index.
        final: learn each row's largest raw score of the bucket.
        out: the person's ln p, adjusted ln p, raw and normalised score, each shape (k,), written.
    """
    person_ln_p, ln_p, raw, score = out
    hist, epoch, hmax, hmax_last = norm
    persons = person.max() + 1 if len(person) else 0
    minus = np.zeros(persons)
    count = np.zeros(persons, np.int64)
    person_row = np.zeros(persons, np.intp)
    for k in range(len(person)):
        person_row[person[k]] = row[k]
        if warm[k]:
            minus[person[k]] -= pair_ln_p[k]
            count[person[k]] += 1
    rows = len(epoch)
    crowd = np.zeros(rows, np.int64)  # warm persons per row
    for q in range(persons):
        if count[q] > 0:
            crowd[person_row[q]] += 1
    joint, adjusted, joint_raw, joint_score = np.zeros(persons), np.zeros(persons), np.zeros(persons), np.zeros(persons)
    top = np.full(rows, -1.0)
    for q in range(persons):
        if count[q] == 0:
            continue
        r = person_row[q]
        joint[q] = joint_ln_p1(count[q], minus[q])
        adjusted[q] = adjusted_ln_p1(joint[q], crowd[r])
        joint_raw[q] = raw_score1(adjusted[q])
        if joint_raw[q] > 0.0:
            joint_score[q] = normalise1(hist, epoch, hmax, hmax_last, decay, r, r, joint_raw[q], adjusted[q], bucket)
        top[r] = max(top[r], joint_raw[q])
    for k in range(len(person)):
        q = person[k]
        person_ln_p[k], ln_p[k], raw[k], score[k] = joint[q], adjusted[q], joint_raw[q], joint_score[q]
    if final:
        for r in range(rows):
            if top[r] >= 0.0:
                update1(hist, epoch, hmax, hmax_last, decay, r, r, top[r], bucket)
