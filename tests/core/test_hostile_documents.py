"""The splitter against hostile documents: each costs only itself, and only as a malformed document."""

from __future__ import annotations

import itertools
import json
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anomalyd.core.documents import MAX_DEPTH, DocumentSplitter, flatten
from anomalyd.core.errors import ChunkTooLarge

# Bounded for CI: the whole file runs in a few seconds on 2 cores.
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HUGE = b"1" + b"0" * 400  # beyond the largest float (1.8e308)
# Each hostile document with the malformed documents it counts for; none swallows the next line.
HOSTILE = [
    (b'{"a":' * 5000 + b"1" + b"}" * 5000, 1),  # deeper than msgspec's recursion allows
    (b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}", 1),
    (b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1), 1),  # one level too deep
    (b'{"time":' + HUGE + b"}", 1),
    (b'{"time":-' + HUGE + b"}", 1),
    (b'{"a":{"b":[1,' + HUGE + b"]}}", 1),
    (b'{"a":[{"dropped":' + HUGE + b"}]}", 1),
    (b'{"a":1e400}', 1),
    (b'{"a":"\\ud800"}', 1),  # a lone surrogate escape
    (b'{"a":"\xff\xfe"}', 1),  # invalid UTF-8
    (b'{"a":"\x00"}', 1),
    (b"\x00\x01\x02", 1),
    (b'{"a":"open', 1),  # a string that meets the newline
    (b'{"a":"escaped newline\\', 1),
    (b"}}]", 3),
    (b"42", 1),
    (b'"text"', 1),
    (b"true {}", 1),  # a scalar takes the rest of its line
    (b"[1, 2]", 1),
    (b'{"a":[}]', 1),
    (b'{"a" 1}', 1),
    (b" \t\r " * 2000, 0),
]

scalars = st.one_of(st.integers(-10**20, 10**20), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=8), st.booleans(), st.none())
good_docs = st.recursive(
    st.dictionaries(st.text(min_size=1, max_size=5), scalars, max_size=4),
    lambda inner: st.dictionaries(st.text(min_size=1, max_size=5), st.one_of(scalars, inner, st.lists(scalars, max_size=3)),
                                  max_size=4),
    max_leaves=12,
)
cut_lists = st.lists(st.integers(0, 2000), max_size=8)


def outcome(data: bytes, cuts: list[int], limit: int = 1 << 20) -> tuple[list[dict], int, bool]:
    """Records, malformed documents and whether a document was refused, with data cut at cuts."""
    splitter = DocumentSplitter(max_document_bytes=limit)
    records, malformed = [], 0
    bounds = [0, *sorted({c for c in cuts if c <= len(data)}), len(data)]
    try:
        for start, end in itertools.pairwise(bounds):
            documents = splitter.feed(data[start:end])
            records += documents.records
            malformed += documents.malformed
        documents = splitter.finish()
    except ChunkTooLarge:
        return records, malformed, True
    return records + documents.records, malformed + documents.malformed, False


@PROPERTY
@given(st.lists(st.one_of(good_docs.map(lambda d: ("good", d)), st.sampled_from(HOSTILE).map(lambda h: ("bad", h))),
                max_size=12),
       cut_lists)
def test_good_documents_beside_hostile_ones_are_all_kept(items, cuts):
    data = b"".join((json.dumps(x).encode() if kind == "good" else x[0]) + b"\n" for kind, x in items)
    records, malformed, refused = outcome(data, cuts)
    assert not refused
    assert records == [flatten(x) for kind, x in items if kind == "good"]
    assert malformed == sum(x[1] for kind, x in items if kind == "bad")


@pytest.mark.parametrize("separator", [b"\n", b" "])
@pytest.mark.parametrize("cut", ["whole", "bytes"])
def test_nesting_is_refused_one_level_beyond_max_depth(separator, cut):
    deepest = b'{"a":' * (MAX_DEPTH - 1) + b"[1]" + b"}" * (MAX_DEPTH - 1)
    too_deep = b'{"a":' * (MAX_DEPTH - 1) + b"[[1]]" + b"}" * (MAX_DEPTH - 1)
    data = deepest + separator + too_deep + separator
    records, malformed, _ = outcome(data, list(range(len(data))) if cut == "bytes" else [])
    assert records == [{"a." * (MAX_DEPTH - 2) + "a": "1"}]
    assert malformed == 1


@pytest.mark.parametrize("separator", [b"\n", b" "])
def test_integers_a_float_can_hold_are_kept_and_larger_ones_malformed(separator):
    largest = int(sys.float_info.max)
    data = b'{"v":%d}%b{"v":%d}%b{"v":[-%d]}' % (largest, separator, largest + 1, separator, largest + 1)
    assert outcome(data, []) == ([{"v": largest}], 2, False)
