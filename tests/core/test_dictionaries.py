"""StableDictionaries: a batch's strings unchanged record by record, its dictionary the previous one where it can be."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from anomalyd.core.dictionaries import MAX_KEPT_VALUES, StableDictionaries
from anomalyd.engine.records import StringColumn

NAMES = ["a", "b", "", "c", "d"]


def strings(column: StringColumn) -> list[str | None]:
    """Each record's string, None where it lacks the field."""
    return [None if code < 0 else column.values[code] for code in column.codes.tolist()]


@st.composite
def batches(draw: st.DrawFn) -> StringColumn:
    """A column of records over a few values, the dictionary in any order; "" also in an absence's slot."""
    values = draw(st.lists(st.sampled_from(NAMES), unique=True, min_size=1))
    if draw(st.booleans()):
        values.insert(draw(st.integers(0, len(values))), "")  # a slot no code uses, like an absence's
    usable = [i for i, v in enumerate(values) if v != "" or values.count("") == 1]
    codes = draw(st.lists(st.sampled_from([*usable, -1]), max_size=12))
    return StringColumn(np.array(codes, np.int32), tuple(values))


@given(st.lists(batches(), min_size=1, max_size=8))
def test_every_record_keeps_its_string_and_a_batch_of_the_same_values_gets_the_previous_dictionary(columns):
    dictionaries = StableDictionaries()
    previous: tuple[str, ...] | None = None
    for column in columns:
        ordered = dictionaries.ordered({"f": column})["f"]
        assert strings(ordered) == strings(column)
        assert sorted(ordered.values) == sorted(column.values)
        same = previous is not None and sorted(previous) == sorted(column.values) and len(set(previous)) == len(previous)
        assert ordered.values == (previous if same else column.values)
        previous = ordered.values


def test_fields_are_kept_apart_and_large_dictionaries_pass_as_they_come():
    dictionaries = StableDictionaries()
    dictionaries.ordered({"f": StringColumn(np.array([0, 1], np.int32), ("x", "y"))})
    other = dictionaries.ordered({"g": StringColumn(np.array([0, 1], np.int32), ("y", "x"))})["g"]
    assert other.values == ("y", "x")
    large = tuple(map(str, range(MAX_KEPT_VALUES + 1)))
    dictionaries.ordered({"f": StringColumn(np.arange(len(large), dtype=np.int32), large)})
    reversed_large = dictionaries.ordered({"f": StringColumn(np.arange(len(large), dtype=np.int32), large[::-1])})["f"]
    assert reversed_large.values == large[::-1]
