"""The bucket buffer: accepted records in columns, waiting for their buckets to close.

Records wait here, already resolved to each detector's series and each influencer field's
value ids, so any open bucket can still take data; a bucket's rows are read when it closes (or
for interim results) and dropped once it is final.

Example:
    >>> buffer = BucketBuffer(detectors=1, influencers=0)
    >>> buffer.append(np.array([600, 0]), np.ones(2), np.zeros((2, 1), np.int32), np.ones((2, 1)), np.zeros((2, 0), np.int32))
    >>> buffer.sort()
    >>> buffer.rows(0, 300)["bucket"].tolist(), buffer.buckets().tolist()
    ([0], [0, 600])
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.state import Arrays

Rows = Arrays
"""A bucket's rows: bucket (n,) epoch ms, weight (n,) events, series (n, detectors) int32 (-1: the
detector skips the row), value (n, detectors) field values, influence (n, influencers) int32."""


class BucketBuffer:
    """Buffered rows of a job.

    Args:
        detectors: the job's number of detectors.
        influencers: its number of influencer fields.
    """

    def __init__(self, *, detectors: int, influencers: int) -> None:
        self.columns: Rows = {
            "bucket": np.zeros(0, np.int64),
            "weight": np.zeros(0),
            "series": np.zeros((0, detectors), np.int32),
            "value": np.zeros((0, detectors)),
            "influence": np.zeros((0, influencers), np.int32),
        }

    def append(
        self, bucket: NDArray[np.int64], weight: NDArray[np.float64], series: NDArray[np.int32],
        value: NDArray[np.float64], influence: NDArray[np.int32],
    ) -> None:
        """Add rows (see Rows for the columns)."""
        new = {"bucket": bucket, "weight": weight, "series": series, "value": value, "influence": influence}
        self.columns = {k: np.concatenate([self.columns[k], v]) for k, v in new.items()}

    def sort(self) -> None:
        """Order the rows by bucket, keeping their order within a bucket."""
        bucket = self.columns["bucket"]
        if len(bucket) and (bucket[1:] < bucket[:-1]).any():
            order = np.argsort(bucket, kind="stable")
            self.columns = {k: v[order] for k, v in self.columns.items()}

    def buckets(self) -> NDArray[np.int64]:
        """Shape (n,): every row's bucket start (sorted after sort())."""
        return self.columns["bucket"]

    def rows(self, start_ms: int, end_ms: int) -> Rows:
        """The rows of buckets in [start, end), after sort()."""
        i, j = np.searchsorted(self.columns["bucket"], [start_ms, end_ms])
        return {k: v[i:j] for k, v in self.columns.items()}

    def drop_before(self, t_ms: int) -> None:
        """Drop the rows of buckets before t_ms, after sort()."""
        i = int(np.searchsorted(self.columns["bucket"], t_ms))
        if i:
            self.columns = {k: v[i:] for k, v in self.columns.items()}

    def keep(self, rows: NDArray[np.bool_]) -> None:
        """Keep only the rows selected by a mask."""
        self.columns = {k: v[rows] for k, v in self.columns.items()}

    def load(self, columns: Rows) -> None:
        """Restore the columns (self.columns as written)."""
        self.columns = {k: columns[k] for k in self.columns}
