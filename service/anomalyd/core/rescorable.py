"""Which stored results of an open job renormalisation may change, so that it reads only those."""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from anomalyd.engine.renormalise import rescorable
from anomalyd.engine.results import BucketResult


class RescorableTimes:
    """The bucket starts (ms) of a job's stored results that renormalise.rescorable() accepts, from a time on.

    Renormalisation only re-scores final results that started with a score of 1.5 or above
    (renormalise.rescorable: 1 in 10 buckets of bench/ingest.py's sparse upload); reading those
    alone spares decoding every bucket of a 30-day window.
    The times may include buckets whose result has since been replaced by one that is not
    rescorable, or deleted: readers check what they read.

    Example:
        >>> times = RescorableTimes()
        >>> times.since(0) is None  # nothing known until reset() after a scan
        True
        >>> times.reset(0, [5, 9])
        >>> times.since(6)
        [9]
        >>> times.since(0) is None  # the times before 6 were dropped
        True
    """

    def __init__(self) -> None:
        self._times: list[int] = []  # sorted, without duplicates
        self._from_ms: int | None = None  # every rescorable stored result from here on is in _times

    def reset(self, from_ms: int, times: Iterable[int]) -> None:
        """Know the times of the rescorable stored results from from_ms on (ms), read from the store."""
        self._times = sorted(set(times))
        self._from_ms = from_ms
        self.drop_before(from_ms)

    def since(self, start_ms: int) -> list[int] | None:
        """The times from start_ms on (ms), oldest first; None when they are not known that far back.

        The times before start_ms are dropped: a renormalisation window only moves forwards.
        """
        if self._from_ms is None or start_ms < self._from_ms:
            return None
        self.drop_before(start_ms)
        return list(self._times)

    def add(self, results: Iterable[BucketResult]) -> None:
        """Note results just stored."""
        for result in results:
            if rescorable(result):
                at = bisect.bisect_left(self._times, result.timestamp_ms)
                if at == len(self._times) or self._times[at] != result.timestamp_ms:
                    self._times.insert(at, result.timestamp_ms)

    def drop_before(self, start_ms: int) -> None:
        """Forget the times before start_ms (ms), which no renormalisation window reaches any more."""
        del self._times[: bisect.bisect_left(self._times, start_ms)]
        if self._from_ms is not None:
            self._from_ms = max(self._from_ms, start_ms)
