"""The compiled hash indexes find what a dict finds, for any texts and codes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from anomalyd.engine import hash_index
from anomalyd.engine.hash_index import CodeIndex, TextIndex

# Any text Python can hold: NUL, lone surrogates (which JSON's \ud800 escapes make), the empty text.
TEXTS = st.text(st.characters(codec=None, exclude_categories=()), max_size=6) | st.sampled_from(["", "\x00", "a\x00b", "\ud800", "é"])


@settings(max_examples=80)
@given(st.lists(st.lists(TEXTS, max_size=20), min_size=1, max_size=6), st.lists(TEXTS, max_size=30), st.data())
def test_texts_are_found_by_the_number_they_were_added_with(batches, queries, data) -> None:
    index, numbers = TextIndex(), {}
    for batch in batches:
        new = list(dict.fromkeys(t for t in batch if t not in numbers))
        index.add(new)
        numbers.update((t, len(numbers)) for t in new)
        if data.draw(st.booleans()):  # forget the latest texts, as refused series keys do
            keep = data.draw(st.integers(0, len(numbers)))
            numbers = {t: n for t, n in numbers.items() if n < keep}
            index.truncate(keep)
        asked = tuple(queries + batch)
        assert index.find(asked).tolist() == [numbers.get(t, -1) for t in asked]


@given(st.lists(st.integers(0, (1 << 63) - 1), unique=True, max_size=200), st.lists(st.integers(0, (1 << 63) - 1), max_size=50))
def test_codes_are_found_by_the_number_they_were_added_with(codes, others) -> None:
    index = CodeIndex()
    half = len(codes) // 2
    index.add(np.array(codes[:half], np.int64))
    index.add(np.array(codes[half:], np.int64))
    asked = np.array(codes + others, np.int64)
    usable = np.arange(len(asked)) % 3 != 0
    expected = [codes.index(c) if u and c in codes else -1 for c, u in zip(asked.tolist(), usable, strict=True)]
    assert index.find(asked, usable).tolist() == expected
    index.reset(np.array(codes[::-1], np.int64))
    assert index.find(asked, np.ones(len(asked), bool)).tolist() == [
        len(codes) - 1 - codes.index(c) if c in codes else -1 for c in asked.tolist()
    ]


def _tags(keys: list[int]) -> list[int]:
    return [hash_index._tag(hash_index._mix(k)) for k in keys]


def _same_tag_pair(keys: list[int]) -> tuple[int, int]:
    """Two positions of keys whose slots keep the same tag (31 bits: a pair among 100,000 keys is all but certain)."""
    first: dict[int, int] = {}
    for position, tag in enumerate(_tags(keys)):
        if tag in first:
            return first[tag], position
        first[tag] = position
    raise AssertionError("no two keys share a tag")


def test_an_entry_whose_tag_matches_but_whose_text_or_code_differs_is_not_taken_for_it() -> None:
    codes = list(range(1, 100_001))
    a, b = _same_tag_pair(codes)
    index = CodeIndex()
    index.add(np.array([codes[a]], np.int64))
    assert index.find(np.array([codes[b], codes[a]], np.int64), np.ones(2, bool)).tolist() == [-1, 0]
    index.add(np.array([codes[b]], np.int64))
    assert index.find(np.array([codes[b], codes[a]], np.int64), np.ones(2, bool)).tolist() == [1, 0]

    texts = tuple(f"t{k}" for k in range(100_000))
    *_, hashes = hash_index._encoded(texts)
    a, b = _same_tag_pair(hashes.tolist())
    words = TextIndex()
    words.add([texts[a]])
    assert words.find((texts[b], texts[a])).tolist() == [-1, 0]
    words.add([texts[b]])
    assert words.find((texts[b], texts[a])).tolist() == [1, 0]
