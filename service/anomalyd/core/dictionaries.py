"""A job's string dictionaries handed to the engine in one order from batch to batch.

A message's dictionary lists a field's distinct values in the order they first appear in it,
so the same 20 airlines come in a new order in every message. A detector keeps the last
batch's dictionary with each value's series and reads the next batch's series from it when the
dictionary is the same (DetectorScorer.series_of); in a new order that misses, and each message
resolves its series anew (about 55 us of a 1,000-record message of 20 airlines). Here a batch
whose field holds the values of that field's previous dictionary is given that dictionary, its
codes renumbered to match.
"""

from __future__ import annotations

import numpy as np

from anomalyd.engine.records import StringColumn

# Larger dictionaries are passed on as they come: their values change from message to message,
# and each would cost a Python lookup per value.
MAX_KEPT_VALUES = 4096


class StableDictionaries:
    """Each string field's last dictionary, and where its values stand in it.

    Example:
        >>> dictionaries = StableDictionaries()
        >>> first = dictionaries.ordered({"airline": StringColumn(np.array([0, 1, -1], np.int32), ("AAL", "JBU"))})
        >>> later = dictionaries.ordered({"airline": StringColumn(np.array([0, 1, 1], np.int32), ("JBU", "AAL"))})
        >>> later["airline"].values, later["airline"].codes.tolist()
        (('AAL', 'JBU'), [1, 0, 0])
    """

    def __init__(self) -> None:
        self._last: dict[str, tuple[tuple[str, ...], dict[str, int]]] = {}

    def ordered(self, strings: dict[str, StringColumn]) -> dict[str, StringColumn]:
        """The columns with each field's values in the order of its previous dictionary, where they are the same values."""
        return {field: self._ordered(field, column) for field, column in strings.items()}

    def _ordered(self, field: str, column: StringColumn) -> StringColumn:
        values = column.values
        last = self._last.get(field)
        if last is not None and len(last[0]) == len(values):
            if last[0] == values:
                return column
            positions = last[1]
            moved = [positions.get(value, -1) for value in values]
            # A permutation: the same values (a dictionary may hold "" twice, as a value and as
            # the slot of an absence, which no code uses).
            if -1 not in moved and len(set(moved)) == len(moved):
                renumbered = np.array([*moved, -1], np.int32)  # code -1 (absent) reads the last entry
                return StringColumn(renumbered.take(column.codes), last[0])  # take: half the time of [codes]
        if len(values) <= MAX_KEPT_VALUES:
            self._last[field] = values, {value: i for i, value in enumerate(values)}
        else:
            self._last.pop(field, None)
        return column
