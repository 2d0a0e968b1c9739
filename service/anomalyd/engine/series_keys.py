"""The series of a detector: each distinct combination of its split-field values, numbered 0..n-1.

Split values get dense ids per field; a series key packs its fields' ids into one int64, each
field as wide as its values need (a few partitions beside millions of over values). A batch's
values and then its packed keys are found in compiled hash indexes (hash_index.py), so only
values and series never seen before cost Python work. A field's new values that the 63 bits
cannot hold any more are skipped. Population analysis adds the over field as one more split
field.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.hash_index import CodeIndex, TextIndex
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
        self._texts = [TextIndex() for _ in fields]  # each field's values, numbered by their ids
        self.ids = np.zeros((0, len(fields)), np.int32)
        self.n = 0
        self.key_bytes = 0
        self._widths = [1] * len(fields)  # bits of each field's id in a packed key, grown as values come
        self._known = CodeIndex()  # the known series' packed keys, numbered by series

    def value(self, series: int, field: int) -> str:
        """The value of split field number `field` in a series' key."""
        return self.values[field][self.ids.item(series, field)]

    def distinct(self, field: int) -> int:
        """How many distinct values of a split field the series use."""
        return len(np.unique(self.ids[: self.n, field]))

    def _field_ids(self, k: int, batch: RecordBatch) -> NDArray[np.int64]:
        """Shape (n,): each record's id for split field k; -1 when it is skipped."""
        column = batch.strings.get(self.fields[k])
        names = column.values if column is not None else ()
        texts = (*names, "") if self.use_null else names  # "" stands for a missing value
        table = np.full(len(names) + 1, -1, np.int64)  # the last entry: the missing value
        table[: len(texts)] = self._texts[k].find(texts)
        unseen = np.flatnonzero(table[: len(texts)] < 0)
        if len(unseen):
            self._number_new(k, texts, unseen, table)
        codes = column.codes if column is not None else np.full(len(batch), -1, np.int32)
        return table[codes]  # code -1 reads the last entry: the missing value

    def _number_new(self, k: int, texts: tuple[str, ...], unseen: NDArray[np.intp], table: NDArray[np.int64]) -> None:
        """Number field k's unseen texts (table entries unseen), while the packed keys have room."""
        room, values = self._room(k), self.values[k]
        added: dict[str, int] = {}  # a batch may hold "" both as a value and as the missing value
        for i in unseen.tolist():
            name = texts[i]
            if name not in added:
                if len(values) >= room:
                    continue  # skipped: its record has no series
                added[name] = len(values)
                values.append(name)
            table[i] = added[name]
        if added:
            self._texts[k].add(list(added))

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
        series = self._known.find(code, usable)
        missing = usable & (series < 0)
        if missing.any():
            unique, inverse = np.unique(code[missing], return_inverse=True)
            series[missing] = self._create(unique, admit)[inverse]
        return series

    def _forget_unused_values(self, known_values: list[int], known_series: int) -> None:
        """Drop the values numbered by this resolve that no series took (their keys were refused).

        Only series made by this resolve can use them, so their ids are renumbered densely: a
        stream of ever new values against a full memory budget then keeps nothing of them.
        """
        new_ids = self.ids[known_series:]
        renumbered = False
        for k, known in enumerate(known_values):
            values = self.values[k]
            if len(values) == known:  # no new value (the usual batch): nothing to look for
                continue
            kept = np.unique(new_ids[new_ids[:, k] >= known, k])
            if len(kept) == len(values) - known:  # every new value in use
                continue
            renumbered = True
            renumber = np.arange(len(values))
            renumber[kept] = np.arange(known, known + len(kept))
            new_ids[:, k] = renumber[new_ids[:, k]]
            values[known:] = [values[i] for i in kept.tolist()]
            self._texts[k].truncate(known)
            self._texts[k].add(values[known:])
        if renumbered:
            self._known.reset(self._packed(self.ids))

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
            self._known.reset(self._packed(self.ids))

    def _room(self, k: int) -> int:
        """How many values field k may number while the packed keys fit in 63 bits."""
        needed = self._needed_widths()
        return 1 << (63 - sum(needed) + needed[k])

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
            self._known.add(codes[ok])
        return made

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
        self._texts = [TextIndex() for _ in self.fields]
        for texts, names in zip(self._texts, self.values, strict=True):
            texts.add(names)
        self._widths = [1] * len(self.fields)
        self._widths = self._needed_widths()
        self._known.reset(self._packed(self.ids))
        self.key_bytes = 0
        for k, names in enumerate(self.values):
            lengths = np.fromiter(map(len, names), np.int64, len(names))
            self.key_bytes += int(lengths[self.ids[:, k]].sum())
