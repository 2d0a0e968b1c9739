"""The engine's input: accepted records in columns, and the analysis they feed."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class StringColumn:
    """A string field: codes into a per-batch dictionary.

    Attributes:
        codes: shape (n,), int32; -1 means the record lacks the field, k means values[k].
        values: the batch's distinct strings.
    """

    codes: NDArray[np.int32]
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RecordBatch:
    """Records in columns, all columns the same length.

    Attributes:
        times: shape (n,), int64 epoch milliseconds.
        numbers: field name -> shape (n,) float64; NaN where the record lacks the field or its
            value is not a number.
        strings: field name -> StringColumn.
    """

    times: NDArray[np.int64]
    numbers: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    strings: dict[str, StringColumn] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.times)

    def take(self, index: NDArray[np.intp] | NDArray[np.bool_]) -> RecordBatch:
        """The records selected by a boolean mask or an index array, in that order."""
        return RecordBatch(
            times=self.times[index],
            numbers={name: values[index] for name, values in self.numbers.items()},
            strings={
                name: StringColumn(column.codes[index], column.values)
                for name, column in self.strings.items()
            },
        )


@dataclass(frozen=True, slots=True)
class DetectorSpec:
    """One detector as the engine sees it; empty strings mean "not set"."""

    function: str
    field_name: str = ""
    by_field_name: str = ""
    over_field_name: str = ""
    partition_field_name: str = ""
    use_null: bool = False
    exclude_frequent: str = ""  # "", "all", "none", "by" or "over"
    description: str = ""


@dataclass(frozen=True, slots=True)
class AnalysisSpec:
    """The analysis of one job.

    Attributes:
        bucket_span_ms: bucket length in milliseconds.
        latency_ms: how long buckets wait for late data, in milliseconds.
        detectors: the detectors, indexed by position.
        influencers: influencer field names.
        summary_count_field_name: the field holding pre-aggregated event counts, or "".
        model_memory_limit_bytes: the cap on model state.
    """

    bucket_span_ms: int
    detectors: tuple[DetectorSpec, ...]
    latency_ms: int = 0
    influencers: tuple[str, ...] = ()
    summary_count_field_name: str = ""
    model_memory_limit_bytes: int = 1024 * 1024 * 1024
