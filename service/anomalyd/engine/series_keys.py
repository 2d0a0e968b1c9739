"""The series of a detector: each distinct combination of its split-field values, numbered 0..n-1.

Split values get dense ids per field; a series key packs its fields' ids into one int64, each
field as wide as its values need (a few partitions beside millions of over values), and a
sorted array of known keys resolves a whole batch with one searchsorted, so only values and
series never seen before cost Python work. A field's new values that the 63 bits cannot hold
any more are skipped. Population analysis adds the over field as one more split field.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.records import RecordBatch
from anomalyd.engine.state import Arrays


class SeriesKeys:
    """Series numbering of one detector.

    Args:
        fields: the split fields in key order (partition, by).
        use_null: whether a record lacking a split field belongs to the series whose value is
            the empty string (otherwise the detector skips it).

    Example:
        >>> from anomalyd.engine.records import StringColumn
        >>> keys = SeriesKeys(("host",), use_null=False)
        >>> batch = RecordBatch(np.zeros(3, np.int64), strings={"host": StringColumn(np.array([1, 0, -1], np.int32), ("a", "b"))})
        >>> keys.resolve(batch, np.ones(3, bool), lambda key: True).tolist()
        [1, 0, -1]
        >>> keys.value(1, 0)
        'b'
    """

    def __init__(self, fields: tuple[str, ...], *, use_null: bool) -> None:
        self.fields = fields
        self.use_null = use_null
        self.values: list[list[str]] = [[] for _ in fields]
        self._index: list[dict[str, int]] = [{} for _ in fields]
        self.ids = np.zeros((0, len(fields)), np.int32)
        self.n = 0
        self.key_bytes = 0
        self._widths = [1] * len(fields)  # bits of each field's id in a packed key, grown as values come
        self._codes = np.zeros(0, np.int64)  # sorted packed keys of the known series
        self._series = np.zeros(0, np.int32)  # their series numbers

    def value(self, series: int, field: int) -> str:
        """The value of split field number `field` in a series' key."""
        return self.values[field][int(self.ids[series, field])]

    def distinct(self, field: int) -> int:
        """How many distinct values of a split field the series use."""
        return len(np.unique(self.ids[: self.n, field]))

    def _field_ids(self, k: int, batch: RecordBatch) -> NDArray[np.int64]:
        """Shape (n,): each record's id for split field k; -1 when it is skipped."""
        column = batch.strings.get(self.fields[k])
        names = column.values if column is not None else ()
        index, values = self._index[k], self.values[k]
        table = np.fromiter(  # dict.get over the names from C, no list of ids in between
            itertools.chain(map(index.get, names, itertools.repeat(-1)), (index.get("", -1) if self.use_null else -1,)),
            np.int64, len(names) + 1,
        )
        unseen = np.flatnonzero(table < 0)
        room = self._room(k)
        for i in unseen[unseen < len(names)].tolist() + ([len(names)] if self.use_null and table[-1] < 0 else []):
            name = names[i] if i < len(names) else ""
            if name not in index and len(values) >= room:
                continue  # skipped: its record has no series
            if name not in index:  # a batch may hold "" both as a value and as the missing value
                index[name] = len(values)
                values.append(name)
            table[i] = index[name]
        codes = column.codes if column is not None else np.full(len(batch), -1, np.int32)
        return table[codes]  # code -1 reads the last entry: the missing value

    def resolve(
        self, batch: RecordBatch, usable: NDArray[np.bool_], admit: Callable[[tuple[str, ...]], bool]
    ) -> NDArray[np.int32]:
        """Each record's series, creating series for new keys that admit() accepts.

        Args:
            batch: the records.
            usable: shape (n,), records the detector may use at all.
            admit: called once per new key (its values); False refuses the series.

        Returns:
            shape (n,), series numbers; -1 for records skipped or whose series was refused.
        """
        known_values, known_series = [len(v) for v in self.values], self.n
        series = self._series_of(batch, usable, admit)
        self._forget_unused_values(known_values, known_series)
        return series

    def _series_of(
        self, batch: RecordBatch, usable: NDArray[np.bool_], admit: Callable[[tuple[str, ...]], bool]
    ) -> NDArray[np.int32]:
        """resolve(), leaving the values it numbered whatever their keys' fate."""
        field_ids = [self._field_ids(k, batch) for k in range(len(self.fields))]
        self._fit_widths()
        code = np.zeros(len(batch), np.int64)
        for ids, width in zip(field_ids, self._widths, strict=True):
            usable = usable & (ids >= 0)
            code = (code << width) | np.maximum(ids, 0)
        series = np.full(len(batch), -1, np.int32)
        if not usable.any():
            return series
        if len(self._codes):
            # Most batches hold only known series: one searchsorted, no sort of the batch.
            at = np.minimum(np.searchsorted(self._codes, code), len(self._codes) - 1)
            hit = usable & (self._codes[at] == code)
            if (hit == usable).all():
                series[hit] = self._series[at[hit]]
                return series
        unique, inverse = np.unique(code[usable], return_inverse=True)
        at = np.minimum(np.searchsorted(self._codes, unique), max(len(self._codes) - 1, 0))
        known = (self._codes[at] == unique) if len(self._codes) else np.zeros(len(unique), bool)
        found = np.where(known, self._series[at] if len(self._series) else -1, -1).astype(np.int32)
        new = np.flatnonzero(~known)
        if len(new):
            created = self._create(unique[new], admit)
            found[new] = created
        series[usable] = found[inverse]
        return series

    def _forget_unused_values(self, known_values: list[int], known_series: int) -> None:
        """Drop the values numbered by this resolve that no series took (their keys were refused).

        Only series made by this resolve can use them, so their ids are renumbered densely: a
        stream of ever new values against a full memory budget then keeps nothing of them.
        """
        new_ids = self.ids[known_series:]
        renumbered = False
        for k, known in enumerate(known_values):
            values, index = self.values[k], self._index[k]
            if len(values) == known:  # no new value (the usual batch): nothing to look for
                continue
            kept = np.unique(new_ids[new_ids[:, k] >= known, k])
            if len(kept) == len(values) - known:  # every new value in use
                continue
            renumbered = True
            renumber = np.arange(len(values))
            renumber[kept] = np.arange(known, known + len(kept))
            new_ids[:, k] = renumber[new_ids[:, k]]
            for name in values[known:]:
                del index[name]
            values[known:] = [values[i] for i in kept.tolist()]
            index.update(zip(values[known:], range(known, len(values)), strict=True))
        if renumbered:
            self._index_codes(self._packed(self.ids), np.arange(self.n, dtype=np.int32))

    def _packed(self, ids: NDArray[np.int32]) -> NDArray[np.int64]:
        """Shape (S,): the series keys of ids (S, fields) packed into int64 codes."""
        codes = np.zeros(len(ids), np.int64)
        for k, width in enumerate(self._widths):
            codes = (codes << width) | ids[:, k].astype(np.int64)
        return codes

    def _needed_widths(self) -> list[int]:
        """Each field's bits for the ids of its values (never narrower than before)."""
        return [max(w, (len(v) - 1).bit_length()) for w, v in zip(self._widths, self.values, strict=True)]

    def _fit_widths(self) -> None:
        """Widen the fields whose ids outgrew their bits, repacking the known keys."""
        needed = self._needed_widths()
        if needed != self._widths:
            self._widths = needed
            self._index_codes(self._packed(self.ids), np.arange(self.n, dtype=np.int32))

    def _room(self, k: int) -> int:
        """How many values field k may number while the packed keys fit in 63 bits."""
        others = sum(self._needed_widths()) - self._needed_widths()[k]
        return 1 << (63 - others)

    def _create(self, codes: NDArray[np.int64], admit: Callable[[tuple[str, ...]], bool]) -> NDArray[np.int32]:
        widths = np.array(self._widths, np.int64)
        shifts = np.cumsum(widths[::-1])[::-1] - widths  # the last field in the lowest bits
        ids = (codes[:, None] >> shifts[None, :]) & ((1 << widths) - 1)[None, :]
        made = np.full(len(codes), -1, np.int32)
        for i, row in enumerate(ids.tolist()):
            key = tuple(self.values[k][v] for k, v in enumerate(row))
            if admit(key):
                made[i] = self.n
                self.n += 1
                self.key_bytes += sum(map(len, key))
        ok = made >= 0
        if ok.any():
            self.ids = np.concatenate([self.ids[: self.n - int(ok.sum())], ids[ok].astype(np.int32)])
            self._index_codes(np.concatenate([self._codes, codes[ok]]), np.concatenate([self._series, made[ok]]))
        return made

    def _index_codes(self, codes: NDArray[np.int64], series: NDArray[np.int32]) -> None:
        order = np.argsort(codes, kind="stable")
        self._codes, self._series = codes[order], series[order]

    def arrays(self) -> Arrays:
        """The state as named arrays."""
        return {"ids": self.ids}

    def meta(self) -> list[list[str]]:
        """The split values, per field."""
        return self.values

    def load(self, arrays: Arrays, values: list[list[str]]) -> None:
        """Restore the state written by arrays() and meta()."""
        self.ids = arrays["ids"]
        self.n = len(self.ids)
        self.values = [list(v) for v in values]
        self._index = [dict(zip(v, range(len(v)), strict=True)) for v in self.values]
        self._widths = [1] * len(self.fields)
        self._widths = self._needed_widths()
        self._index_codes(self._packed(self.ids), np.arange(self.n, dtype=np.int32))
        self.key_bytes = 0
        for k, names in enumerate(self.values):
            lengths = np.fromiter(map(len, names), np.int64, len(names))
            self.key_bytes += int(lengths[self.ids[:, k]].sum())
