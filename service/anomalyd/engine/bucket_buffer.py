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

from anomalyd.engine.compiled import kernel
from anomalyd.engine.state import Arrays

Rows = Arrays
"""A bucket's rows: bucket (n,) epoch ms, weight (n,) events, series (n, detectors) int32 (-1: the
detector skips the row), value (n, detectors) field values, influence (n, influencers) int32."""


class BucketBuffer:
    """Buffered rows of a job, in columns with room to grow.

    Appending writes into the columns' spare room and dropping a closed bucket's rows moves a
    start, so a live stream's bucket of a few rows allocates nothing; the rows in use move to the
    front, or the columns double, only when the room runs out.

    Args:
        detectors: the job's number of detectors.
        influencers: its number of influencer fields.
    """

    def __init__(self, *, detectors: int, influencers: int) -> None:
        self._store: Rows = {
            "bucket": np.zeros(0, np.int64),
            "weight": np.zeros(0),
            "series": np.zeros((0, detectors), np.int32),
            "value": np.zeros((0, detectors)),
            "influence": np.zeros((0, influencers), np.int32),
        }
        self._lo = self._hi = 0  # the rows in use are lo..hi-1 of the store
        self._sorted = True  # the rows in use are in bucket order

    @property
    def columns(self) -> Rows:
        """The rows (see Rows), views of the store valid until the next change."""
        lo, hi = self._lo, self._hi
        return {k: v[lo:hi] for k, v in self._store.items()}

    def append(
        self, bucket: NDArray[np.int64], weight: NDArray[np.float64], series: NDArray[np.int32],
        value: NDArray[np.float64], influence: NDArray[np.int32],
    ) -> None:
        """Add rows (see Rows for the columns)."""
        n = len(bucket)
        if not n:
            return
        if self._hi + n > len(self._store["bucket"]):
            self._make_room(n)
        lo, hi, store = self._lo, self._hi, self._store
        if self._sorted:
            follows = hi == lo or bucket[0] >= store["bucket"][hi - 1]
            self._sorted = bool(follows) and (n == 1 or not (bucket[1:] < bucket[:-1]).any())
        for name, column in (("bucket", bucket), ("weight", weight), ("series", series), ("value", value), ("influence", influence)):
            store[name][hi : hi + n] = column
        self._hi = hi + n

    def append_known(
        self, times: NDArray[np.int64], span_ms: int, after_ms: int, table: NDArray[np.int32], codes: NDArray[np.int32],
        value: NDArray[np.float64], uses_value: bool,
    ) -> bool:
        """append() of a job of one detector and no influencers, in one compiled pass, when every record fits it.

        Each record is one event in its bucket (the floor of its time); its series is table's
        entry at its code, -1 where it has no usable value (NaN while uses_value). Nothing is
        appended, and False returned, when a record falls before after_ms or has a usable value
        and no series in table: append() then takes the batch.

        Args:
            times: shape (n,), the records' times, epoch ms.
            span_ms: the bucket span.
            after_ms: the first bucket start a record may have.
            table: series by code, the last entry that of code -1.
            codes: shape (n,), each record's code.
            value: shape (n,), what each record gives the detector.
            uses_value: whether a record without a value (NaN) is skipped.
        """
        if self._store["series"].shape[1] != 1 or self._store["influence"].shape[1]:
            return False
        if self._hi + len(times) > len(self._store["bucket"]):
            self._make_room(len(times))
        store, hi = self._store, self._hi
        ordered = _append_known(
            times, span_ms, after_ms, table, codes, value, uses_value, store["bucket"], store["weight"], store["series"],
            store["value"], self._lo, hi, self._sorted,
        )
        if ordered < 0:
            return False
        self._sorted, self._hi = bool(ordered), hi + len(times)
        return True

    def _make_room(self, n: int) -> None:
        """Move the rows in use to the front of columns with room for n more (doubling if that is short)."""
        lo, hi = self._lo, self._hi
        capacity = len(self._store["bucket"])
        size = capacity if hi - lo + n <= capacity // 2 else max(2 * capacity, hi - lo + n, 16)
        store = {}
        for k, v in self._store.items():
            store[k] = np.empty((size, *v.shape[1:]), v.dtype)
            store[k][: hi - lo] = v[lo:hi]
        self._store, self._lo, self._hi = store, 0, hi - lo

    def sort(self) -> None:
        """Order the rows by bucket, keeping their order within a bucket."""
        if not self._sorted:
            columns = self.columns
            order = np.argsort(columns["bucket"], kind="stable")
            for column in columns.values():
                column[:] = column[order]
            self._sorted = True

    def buckets(self) -> NDArray[np.int64]:
        """Shape (n,): every row's bucket start (sorted after sort())."""
        return self._store["bucket"][self._lo : self._hi]

    def rows(self, start_ms: int, end_ms: int) -> Rows:
        """The rows of buckets in [start, end), after sort()."""
        lo, hi, bucket = self._lo, self._hi, self._store["bucket"]
        if hi > lo and bucket[lo] >= start_ms and bucket[hi - 1] < end_ms:  # all of them: a live stream's bucket
            i, j = lo, hi
        else:
            i, j = lo + np.searchsorted(bucket[lo:hi], (start_ms, end_ms))
        return {k: v[i:j] for k, v in self._store.items()}

    def drop_before(self, t_ms: int) -> None:
        """Drop the rows of buckets before t_ms, after sort()."""
        if self._hi == self._lo or self._store["bucket"][self._hi - 1] < t_ms:  # all of them
            self._lo = self._hi
        else:
            self._lo += int(np.searchsorted(self.buckets(), t_ms))
        if self._lo == self._hi:
            self._lo = self._hi = 0

    def keep(self, rows: NDArray[np.bool_]) -> None:
        """Keep only the rows selected by a mask."""
        self.load({k: v[rows] for k, v in self.columns.items()})

    def load(self, columns: Rows) -> None:
        """Restore the columns (self.columns as written)."""
        self._store = {k: np.array(columns[k], dtype=v.dtype, copy=True) for k, v in self._store.items()}
        self._lo, self._hi = 0, len(self._store["bucket"])
        bucket = self._store["bucket"]
        self._sorted = not (bucket[1:] < bucket[:-1]).any()


@kernel
def _append_known(
    times: NDArray[np.int64], span: int, after: int, table: NDArray[np.int32], codes: NDArray[np.int32],
    value: NDArray[np.float64], uses_value: bool, bucket: NDArray[np.int64], weight: NDArray[np.float64],
    series: NDArray[np.int32], values: NDArray[np.float64], lo: int, hi: int, ordered: bool,
) -> int:
    """Write BucketBuffer.append_known's rows into the store's rows hi.. (the store's columns after times..uses_value).

    Returns:
        -1 when a record does not fit (the rows written are not in use), else whether the rows in
        use stay in bucket order (1) or not (0), given whether they were before (ordered).
    """
    last = bucket[hi - 1] if hi > lo else np.iinfo(np.int64).min
    for r in range(len(times)):
        b = times[r] // span * span
        usable = value[r] == value[r] or not uses_value
        known = table[codes[r]]
        if b < after or (usable and known < 0):
            return -1
        ordered = ordered and b >= last
        last = b
        bucket[hi + r] = b
        weight[hi + r] = 1.0
        series[hi + r, 0] = known if usable else -1
        values[hi + r, 0] = value[r]
    return 1 if ordered else 0
