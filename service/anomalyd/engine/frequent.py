"""exclude_frequent: a detector leaves out the split values that are too common to be interesting.

As ml-cpp's CPersonFrequencyGreaterThan and CAttributeFrequencyGreaterThan filters do, with their
default cutoff of 0.1:

* a person (the by value of a detector without an over field, the over value of a population
  detector, within its partition) is frequent when it occurred in more than 10 % of the buckets
  (both counts decayed, as ml-cpp's person bucket counts are); before any bucket every person is
  (ml-cpp's frequency of 0.5 before its first bucket);
* an attribute (a population detector's by value, within its partition) is frequent when more
  than 10 % of the partition's persons have used it.

``by`` excludes frequent by values (the persons of a detector without an over field, the
attributes of a population), ``over`` the persons of a population, ``all`` both. A frequent
value's rows are neither scored nor learned; its own frequency keeps being counted, so a value
that becomes rare again is analysed again.

Example:
    >>> spec = DetectorSpec("count", by_field_name="host", exclude_frequent="by")
    >>> keep = FrequentFilter(spec, ("host",), decay=1.0)
    >>> ids = np.array([[0], [1]], np.int32)  # series 0 is host a, series 1 host b
    >>> for b in range(30):  # host a in every bucket, host b in every tenth
    ...     rows = np.array([0, 1] if b % 10 == 0 else [0], np.int32)
    ...     dropped = keep.drop(b, rows, ids, final=True)
    >>> keep.drop(30, np.array([0, 1], np.int32), ids, final=False).tolist()
    [True, False]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.records import DetectorSpec
from anomalyd.engine.state import NEVER, Arrays
from anomalyd.engine.stats import FloatArray

CUTOFF = 0.1  # ml-cpp's s_ExcludePersonFrequency and s_ExcludeAttributeFrequency


class FrequentFilter:
    """The frequent persons and attributes of one detector, learned bucket by bucket.

    Args:
        spec: the detector; exclude_frequent is "by", "over" or "all".
        fields: the names of the detector's series key columns (its SeriesKeys.fields).
        decay: the bucket counts' decay per bucket.
    """

    def __init__(self, spec: DetectorSpec, fields: tuple[str, ...], decay: float) -> None:
        mode = spec.exclude_frequent
        over = spec.over_field_name
        self.decay = decay
        self._partition = fields.index(spec.partition_field_name) if spec.partition_field_name else -1
        person = over or spec.by_field_name
        self._persons_excluded = mode == "all" or mode == ("over" if over else "by")
        self._attributes_excluded = bool(over) and mode in ("by", "all")
        self._person = fields.index(person) if person else -1
        self._attribute = fields.index(spec.by_field_name) if over and spec.by_field_name else -1
        self.codes = np.zeros(0, np.int64)  # sorted packed (partition, person) codes
        self.ids = np.zeros(0, np.int64)  # their person numbers
        self.seen = np.zeros(0)  # shape (persons,): decayed buckets each person occurred in
        self.total = np.array([0.0, NEVER])  # decayed buckets, and the last bucket index learned
        self.used = np.zeros(0, bool)  # shape (series,): the series (person and attribute) ever occurred

    @staticmethod
    def wanted(spec: DetectorSpec) -> bool:
        """Whether the detector excludes anything."""
        return spec.exclude_frequent in ("by", "over", "all") and bool(spec.by_field_name or spec.over_field_name)

    def drop(self, bucket: int, series: NDArray[np.int32], key_ids: NDArray[np.int32], *, final: bool) -> NDArray[np.bool_]:
        """Which of a bucket's rows the detector leaves out; learns the bucket when final.

        Args:
            bucket: the bucket index (start / span).
            series: shape (n,), each row's series (-1: not the detector's).
            key_ids: the detector's SeriesKeys.ids, shape (S, fields).
            final: learn the bucket's persons and pairs.

        Returns:
            shape (n,): rows of frequent persons or attributes.
        """
        present = np.unique(series[series >= 0]).astype(np.intp)
        persons = self._persons_of(present, key_ids, number_new=final)
        frequent = np.zeros(len(key_ids), bool)
        if self._persons_excluded:
            frequent[present] |= self._person_frequency(persons, bucket) > CUTOFF
        if self._attributes_excluded:
            frequent[present] |= self._attribute_frequency(present, key_ids) > CUTOFF
        if final:
            self._learn(bucket, present, persons)
        return np.append(frequent, False)[series]  # series -1 reads the appended False

    def excluded_series(self, bucket: int, key_ids: NDArray[np.int32]) -> NDArray[np.bool_]:
        """Shape (S,): the series of frequent persons, for detectors that score every series in every bucket."""
        everyone = np.arange(len(key_ids))
        if not self._persons_excluded:
            return np.zeros(len(key_ids), bool)
        excluded: NDArray[np.bool_] = self._person_frequency(self._persons_of(everyone, key_ids, number_new=False), bucket) > CUTOFF
        return excluded

    def _packed(self, series: NDArray[np.intp], key_ids: NDArray[np.int32], column: int) -> NDArray[np.int64]:
        partition = key_ids[series, self._partition].astype(np.int64) if self._partition >= 0 else np.zeros(len(series), np.int64)
        packed: NDArray[np.int64] = partition << 32 | key_ids[series, column].astype(np.int64)
        return packed

    def _persons_of(self, series: NDArray[np.intp], key_ids: NDArray[np.int32], *, number_new: bool) -> NDArray[np.intp]:
        """Each series' person number; persons never seen are numbered if number_new, else -1 (interim: no state changes)."""
        codes = self._packed(series, key_ids, self._person)
        new = np.setdiff1d(codes, self.codes)
        if len(new) and not number_new:
            at = np.minimum(np.searchsorted(self.codes, codes), max(len(self.codes) - 1, 0))
            known = self.codes[at] == codes if len(self.codes) else np.zeros(len(codes), bool)
            return np.where(known, self.ids[at] if len(self.ids) else -1, -1).astype(np.intp)
        if len(new):
            self.codes = np.concatenate([self.codes, new])
            self.ids = np.concatenate([self.ids, np.arange(len(self.seen), len(self.seen) + len(new))])
            order = np.argsort(self.codes, kind="stable")
            self.codes, self.ids = self.codes[order], self.ids[order]
            self.seen = np.concatenate([self.seen, np.zeros(len(new))])
        found: NDArray[np.intp] = self.ids[np.searchsorted(self.codes, codes)].astype(np.intp)
        return found

    def _person_frequency(self, persons: NDArray[np.intp], bucket: int) -> FloatArray:
        """The share of buckets each person (-1: never seen) occurred in, up to the last bucket learned (0.5 before any)."""
        if self.total[0] <= 0.0:
            return np.full(len(persons), 0.5)
        share: FloatArray = np.append(self.seen, 0.0)[persons] / self.total[0]  # -1 reads the appended 0
        return share

    def _attribute_frequency(self, present: NDArray[np.intp], key_ids: NDArray[np.int32]) -> FloatArray:
        """The share of its partition's persons that ever used each present series' attribute."""
        used = np.flatnonzero(self.used[: len(key_ids)])
        if not len(used):
            return np.full(len(present), 0.5)
        attributes, attribute_of = np.unique(self._packed(used, key_ids, self._attribute), return_inverse=True)
        users = np.bincount(attribute_of.reshape(-1), minlength=len(attributes))
        persons = np.unique(self._packed(used, key_ids, self._person))
        population = np.bincount((persons >> 32).astype(np.intp))
        mine = self._packed(present, key_ids, self._attribute)
        at = np.minimum(np.searchsorted(attributes, mine), len(attributes) - 1)
        known = attributes[at] == mine
        partition = (mine >> 32).astype(np.intp)
        size = np.where(partition < len(population), population[np.minimum(partition, len(population) - 1)], 0)
        share: FloatArray = np.where(known & (size > 0), users[at] / np.maximum(size, 1), 0.0)
        return share

    def _learn(self, bucket: int, present: NDArray[np.intp], persons: NDArray[np.intp]) -> None:
        age = self.decay ** max(bucket - int(self.total[1]), 0)
        self.seen *= age
        self.seen[np.unique(persons)] += 1.0
        self.total[:] = (self.total[0] * age + 1.0, bucket)
        if len(present) and present.max() >= len(self.used):
            self.used = np.concatenate([self.used, np.zeros(int(present.max()) + 1 - len(self.used), bool)])
        self.used[present] = True

    def arrays(self) -> Arrays:
        """The state as named arrays."""
        return {"codes": self.codes, "ids": self.ids, "seen": self.seen, "total": self.total, "used": self.used}

    def load(self, arrays: Arrays) -> None:
        """Restore arrays(); a state written before exclude_frequent was analysed has none (empty)."""
        if "total" in arrays:
            self.codes, self.ids, self.seen = arrays["codes"], arrays["ids"], np.array(arrays["seen"], np.float64)
            self.total, self.used = np.array(arrays["total"], np.float64), np.array(arrays["used"], bool)
