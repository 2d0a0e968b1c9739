"""The JSON document splitter: any chunking gives the same records; bad documents cost only themselves."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anomalyd.core.documents import DocumentSplitter, flatten
from anomalyd.core.errors import ChunkTooLarge

scalars = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False, width=32),
                    st.text(max_size=8), st.booleans(), st.none())
flat_docs = st.dictionaries(st.text(min_size=1, max_size=6), scalars, max_size=5)
docs = st.dictionaries(st.text(min_size=1, max_size=6),
                       st.one_of(scalars, flat_docs, st.lists(scalars, max_size=3)), max_size=5)
separators = st.sampled_from([b"\n", b" ", b"", b"\r\n", b"\n\n", b"\t "])


def split_all(data: bytes, cuts: list[int]) -> tuple[list[dict], int]:
    splitter = DocumentSplitter(max_document_bytes=1 << 20)
    records, malformed = [], 0
    bounds = [0, *sorted(set(cuts)), len(data)]
    for start, end in itertools.pairwise(bounds):
        part = splitter.feed(data[start:end])
        records += part.records
        malformed += part.malformed
    tail = splitter.finish()
    return records + tail.records, malformed + tail.malformed


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(docs, separators), max_size=8), st.lists(st.integers(0, 2000), max_size=6))
def test_any_chunking_and_separation_gives_the_documents(pairs, cuts):
    data = b"".join(json.dumps(d).encode() + sep for d, sep in pairs)
    records, malformed = split_all(data, [c for c in cuts if c <= len(data)])
    assert malformed == 0
    assert records == [flatten(d) for d, _ in pairs]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(flat_docs.map(lambda d: json.dumps(d).encode()),
                          st.sampled_from([b"garbage", b"[1, 2]", b"}", b'"text"', b"42", b'{"a": "open}', b'{"a" 1}'])),
                max_size=10),
       st.lists(st.integers(0, 500), max_size=4))
def test_malformed_lines_cost_only_themselves(lines, cuts):
    data = b"\n".join(lines) + b"\n"
    records, malformed = split_all(data, [c for c in cuts if c <= len(data)])
    good = [json.loads(line) for line in lines if line.startswith(b"{") and _valid(line)]
    assert records == good
    assert malformed == len(lines) - len(good)


def _valid(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def test_an_unfinished_document_at_the_end_is_malformed():
    assert split_all(b'{"time": 1}\n{"time": ', []) == ([{"time": 1}], 1)


def test_flatten_follows_elasticsearch():
    doc = {"a": {"b": 1, "c": {"d": "x"}}, "list": [1, "two", None, True], "objs": [{"x": 1}], "n": None,
           "mixed": [1, {"x": 2}, [3], 4]}
    # An array of objects is a present field (not missing), holding only the array's own scalars.
    assert flatten(doc) == {"a.b": 1, "a.c.d": "x", "list": "1,two,,true", "objs": "", "n": None, "mixed": "1,4"}


def test_a_document_without_end_over_the_limit_is_refused():
    splitter = DocumentSplitter(max_document_bytes=100)
    splitter.feed(b'{"time": 1}\n{"blob": "' + b"x" * 50)
    with pytest.raises(ChunkTooLarge):
        splitter.feed(b"x" * 60)


def test_a_long_array_of_scalars_joins_like_a_short_one():
    items = [*range(10_000), None, True, 1.5, "s"]
    assert flatten({"a": items}) == {"a": ",".join(map(str, range(10_000))) + ",,true,1.5,s"}
