"""Memory accounting of a job: the model_memory_limit budget, refusals and model_size_stats.

Each batch opens a budget of the limit less the bytes in use; new series and new influencer
values take from it, and whatever does not fit is refused and counted (Elasticsearch's
hard_limit). A bucket in which a series was refused counts once, when it closes, as a bucket
allocation failure.

Example:
    >>> account = MemoryAccount(1_000)
    >>> account.open_batch(used=900)
    >>> account.admit(60), account.admit(60)
    (True, False)
    >>> account.stats(used=960, by_fields=1, over_fields=0, partitions=0).memory_status
    'hard_limit'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.records import RecordBatch
from anomalyd.engine.results import ModelSizeStats
from anomalyd.engine.series_keys import SeriesKeys

KEY_BYTES = 120  # dictionary entry, tuple and string headers of one series key or influencer value
_SOFT_LIMIT = 0.6


class MemoryAccount:
    """The budget and the counts of one job's model memory.

    Args:
        limit: model_memory_limit in bytes.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.budget = 0  # bytes new series and influencer values may still take, set per batch
        self.peak = 0
        self.refused = 0
        self.failed_buckets: set[int] = set()
        self.failures = 0

    def open_batch(self, used: int) -> None:
        """Start a batch with `used` bytes of model state in use."""
        self.budget = self.limit - used

    def admit(self, cost: int) -> bool:
        """Take cost bytes from the budget if they fit; otherwise count them as refused."""
        if cost > self.budget:
            self.refused += cost
            return False
        self.budget -= cost
        return True

    def resolve(
        self, keys: SeriesKeys, batch: RecordBatch, usable: NDArray[np.bool_], bucket: NDArray[np.int64],
        cost: Callable[[tuple[str, ...]], int], admitted: Callable[[tuple[str, ...], int], None] | None = None,
    ) -> NDArray[np.int32]:
        """Each usable record's series in keys (-1 for the others), paying for new keys from the budget.

        Args:
            keys: the detector's series keys.
            batch: the records.
            usable: shape (n,), the records the detector reads.
            bucket: shape (n,), each record's bucket start.
            cost: the bytes a new key costs; a key that does not fit is refused.
            admitted: called with each new key taken and its cost (to grow the detector's state).

        The buckets of usable records whose key was refused are noted as failed.
        """
        refused = False

        def admit(key: tuple[str, ...]) -> bool:
            nonlocal refused
            bytes_ = cost(key)
            if not self.admit(bytes_):
                refused = True
                return False
            if admitted is not None:
                admitted(key, bytes_)
            return True

        series = keys.resolve(batch, usable, admit)
        if refused:
            self.failed_buckets.update(np.unique(bucket[usable & (series < 0)]).tolist())
        return series

    def note(self, used: int) -> None:
        """Record `used` bytes in use, for the peak."""
        self.peak = max(self.peak, used)

    def bucket_closed(self, bucket_ms: int) -> None:
        """Count a closed bucket as an allocation failure if a series was refused in it."""
        if bucket_ms in self.failed_buckets:
            self.failed_buckets.discard(bucket_ms)
            self.failures += 1

    def skip_to(self, target_ms: int) -> None:
        """Forget refusals in buckets before target_ms, which will never close."""
        self.failed_buckets = {b for b in self.failed_buckets if b >= target_ms}

    def stats(self, *, used: int, by_fields: int, over_fields: int, partitions: int) -> ModelSizeStats:
        """Model memory and entity counts now, with `used` bytes in use.

        A read: the peak it reports counts `used`, but the state keeps only what data did, so
        that a job restored from its journal has the state of the job that ran.
        """
        if self.refused:
            status = "hard_limit"
        elif used > _SOFT_LIMIT * self.limit:
            status = "soft_limit"
        else:
            status = "ok"
        return ModelSizeStats(
            model_bytes=used,
            peak_model_bytes=max(self.peak, used),
            model_bytes_exceeded=self.refused,
            model_bytes_memory_limit=self.limit,
            total_by_field_count=by_fields,
            total_over_field_count=over_fields,
            total_partition_field_count=partitions,
            bucket_allocation_failures_count=self.failures,
            memory_status=status,
        )

    def meta(self) -> dict[str, Any]:
        """The state as plain values."""
        return {
            "peak_bytes": self.peak, "refused_bytes": self.refused,
            "failed_buckets": sorted(self.failed_buckets), "failure_count": self.failures,
        }

    def load(self, meta: dict[str, Any]) -> None:
        """Restore the state written by meta()."""
        self.peak, self.refused = meta["peak_bytes"], meta["refused_bytes"]
        self.failed_buckets, self.failures = set(meta["failed_buckets"]), meta["failure_count"]
