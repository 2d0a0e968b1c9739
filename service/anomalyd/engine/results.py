"""What the engine reports per bucket, in the shape of Elasticsearch's result documents.

Times are epoch milliseconds; scores are 0-100. ``initial_*`` scores equal the current ones:
the engine scores once; renormalise.py re-scores stored results later (driven by core/persistence.py).

Results are immutable by convention (a change is a dataclasses.replace). Those made as buckets
close (BucketResult, BucketInfluencer, AnomalyRecord, InfluencerResult, and the detectors' Leaf)
are not frozen: a frozen dataclass sets each field through object.__setattr__: 1.2 us for ten
fields against 0.2, which made them 3 of a one-series bucket's 55 us (py-spy), and a record has 21.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from anomalyd.engine.records import DetectorSpec


@dataclass(slots=True)
class BucketInfluencer:
    """A bucket's score as seen by one influencer field, or by ``bucket_time`` for the bucket."""

    influencer_field_name: str
    anomaly_score: float
    initial_anomaly_score: float
    raw_anomaly_score: float
    probability: float


@dataclass(frozen=True, slots=True)
class GeoResults:
    """The locations of a lat_long result, each "latitude,longitude" in degrees."""

    actual_point: str
    typical_point: str


@dataclass(frozen=True, slots=True)
class AnomalyCause:
    """One by value behind a population record (Elasticsearch's ``causes``)."""

    probability: float
    function: str
    function_description: str
    field_name: str
    by_field_name: str
    by_field_value: str
    over_field_name: str
    over_field_value: str
    partition_field_name: str
    partition_field_value: str
    actual: list[float]
    typical: list[float]
    geo_results: GeoResults | None = None

    @classmethod
    def of_series(
        cls, spec: DetectorSpec, value: Callable[[str], str], *, probability: float, function: str, description: str,
        actual: list[float], typical: list[float], geo_results: GeoResults | None = None,
    ) -> AnomalyCause:
        """The cause that one series of spec's detector is, its split values read by value(field name)."""
        return cls(
            probability=probability, function=function, function_description=description, field_name=spec.field_name,
            by_field_name=spec.by_field_name, by_field_value=value(spec.by_field_name),
            over_field_name=spec.over_field_name, over_field_value=value(spec.over_field_name),
            partition_field_name=spec.partition_field_name, partition_field_value=value(spec.partition_field_name),
            actual=actual, typical=typical, geo_results=geo_results,
        )


@dataclass(slots=True)
class AnomalyRecord:
    """One anomalous series in one bucket (probability below the record threshold).

    Attributes:
        influencers: (influencer field, its values in the series' records of the bucket).
        actual: the bucket's value(s) of the reported feature.
        typical: the model's prediction(s) for it.
        multi_bucket_impact: -5 (single-bucket evidence) to +5 (multi-bucket evidence).
        causes: for population records, the by values that made the over value unusual.
        geo_results: for lat_long records, the locations seen and expected.
    """

    timestamp_ms: int
    detector_index: int
    function: str
    function_description: str
    field_name: str
    by_field_name: str
    by_field_value: str
    partition_field_name: str
    partition_field_value: str
    over_field_name: str
    over_field_value: str
    probability: float
    record_score: float
    initial_record_score: float
    actual: list[float]
    typical: list[float]
    multi_bucket_impact: float
    influencers: list[tuple[str, list[str]]]
    is_interim: bool
    causes: list[AnomalyCause] = field(default_factory=list)
    geo_results: GeoResults | None = None


@dataclass(slots=True)
class InfluencerResult:
    """An influencer value's score in one bucket."""

    timestamp_ms: int
    influencer_field_name: str
    influencer_field_value: str
    influencer_score: float
    initial_influencer_score: float
    probability: float
    is_interim: bool


@dataclass(slots=True)
class BucketResult:
    """One bucket: its score, its bucket influencers, its records and influencers.

    Attributes:
        timestamp_ms: bucket start.
        bucket_span_s: bucket length in seconds.
        anomaly_score: the largest bucket-influencer score.
        event_count: events in the bucket (records, or their summary counts).
    """

    timestamp_ms: int
    bucket_span_s: int
    anomaly_score: float
    initial_anomaly_score: float
    event_count: int
    is_interim: bool
    bucket_influencers: list[BucketInfluencer]
    records: list[AnomalyRecord]
    influencers: list[InfluencerResult]

    def without_parts(self) -> BucketResult:
        """The bucket without its records and influencers, which are stored apart from it.

        A constructor call, not dataclasses.replace, which reads the fields' metadata for each
        copy (2.7 against 0.5 us): every bucket stored with a record is copied so.
        """
        return BucketResult(
            self.timestamp_ms, self.bucket_span_s, self.anomaly_score, self.initial_anomaly_score, self.event_count,
            self.is_interim, self.bucket_influencers, [], [],
        )


@dataclass(frozen=True, slots=True)
class ModelSizeStats:
    """Model memory and entity counts, as Elasticsearch's model_size_stats.

    Attributes:
        model_bytes: bytes of model state in use.
        peak_model_bytes: the largest model_bytes so far.
        model_bytes_exceeded: bytes refused beyond the limit (0 if none).
        model_bytes_memory_limit: the limit.
        total_by_field_count: distinct by values, summed over detectors and partitions.
        total_over_field_count: distinct over values, summed over detectors and partitions.
        total_partition_field_count: distinct partition values, summed over detectors.
        bucket_allocation_failures_count: buckets in which a new series was refused.
        memory_status: "ok", "soft_limit" (over 60% used) or "hard_limit" (a series refused).
    """

    model_bytes: int
    peak_model_bytes: int
    model_bytes_exceeded: int
    model_bytes_memory_limit: int
    total_by_field_count: int
    total_over_field_count: int
    total_partition_field_count: int
    bucket_allocation_failures_count: int
    memory_status: str
