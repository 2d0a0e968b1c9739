"""The splitter against hostile input: any bytes, cut anywhere, cost only themselves and raise only domain errors."""

from __future__ import annotations

import itertools
import json
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anomalyd.core.documents import MAX_DEPTH, DocumentSplitter, flatten
from anomalyd.core.errors import AnomalydError, ChunkTooLarge
from tests.core.splitting import outcome

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
# Fragments that make the scanner's states likely: brackets, strings cut at escapes, newlines.
fragments = st.sampled_from([
    b"{", b"}", b"[", b"]", b'"', b"\\", b"\\\\", b'\\"', b"\n", b" ", b"\r\n", b":", b",", b"1", b"-",
    b"e400", b"\x00", b"\xff", b"\\ud800", b'{"a":1}', b'{"b":[1,{"c":2}]}\n', b'"x"', b"null",
    b"{" * (MAX_DEPTH + 1), b"}" * (MAX_DEPTH + 1), b"9" * 320, b'{"v":' + HUGE + b"}\n",
    b"[" * 5000, b"]" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"\n",  # beyond hypothesis's raised recursion limit
])
streams = st.one_of(st.binary(max_size=300), st.lists(st.one_of(fragments, st.binary(max_size=4)), max_size=40).map(b"".join))
arbitrary = st.one_of(st.binary(max_size=2000), streams)
cut_lists = st.lists(st.integers(0, 2000), max_size=8)


@PROPERTY
@given(streams, cut_lists, st.sampled_from([1 << 20, 16, 64]))
def test_any_stream_cut_anywhere_gives_what_one_message_gives(data, cuts, limit):
    assert outcome(data, cuts, limit) == outcome(data, [], limit)


@PROPERTY
@given(streams)
def test_a_stream_in_one_byte_messages_gives_what_one_message_gives(data):
    assert outcome(data, list(range(len(data)))) == outcome(data, [])


@PROPERTY
@given(arbitrary, cut_lists, st.sampled_from([1 << 20, 32]))
def test_arbitrary_bytes_raise_nothing_but_domain_errors(data, cuts, limit):
    splitter = DocumentSplitter(max_document_bytes=limit)
    bounds = [0, *sorted({c for c in cuts if c <= len(data)}), len(data)]
    try:
        for start, end in itertools.pairwise(bounds):
            splitter.feed(data[start:end])
        splitter.finish()
    except AnomalydError:
        pass


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


@pytest.mark.parametrize("separator", [b"\n", b" "])
@pytest.mark.parametrize("cut", [None, 5, 60])
def test_a_complete_document_over_the_limit_is_refused_after_those_before_it(separator, cut):
    before, over, after = b'{"time":1}', b'{"blob":"' + b"x" * 100 + b'"}', b'{"time":2}'
    data = before + separator + over + separator + after + separator
    splitter = DocumentSplitter(max_document_bytes=100)
    records = []
    with pytest.raises(ChunkTooLarge) as err:
        for start in range(0, len(data), cut or len(data)):
            records += splitter.feed(data[start : start + (cut or len(data))]).records
        splitter.finish()
    assert records == [{"time": 1}]
    assert err.value.metadata["limitBytes"] == "100"


def test_a_document_at_the_limit_is_taken():
    document = b'{"blob":"' + b"x" * 89 + b'"}'
    assert len(document) == 100
    assert outcome(document + b"\n" + document, [], limit=100) == ([{"blob": "x" * 89}] * 2, 0, False)
    assert outcome(document + b"x", [], limit=100) == ([{"blob": "x" * 89}], 1, False)


def test_a_long_line_outside_documents_is_one_malformed_document_not_a_refusal():
    # It is skipped, not held, so it costs no memory: only documents are held to the limit.
    assert outcome(b"x" * 500 + b"\n" + b'{"a":1}\n', [1, 250], limit=100) == ([{"a": 1}], 1, False)


def test_a_document_refused_with_nothing_before_it_raises_at_once():
    splitter = DocumentSplitter(max_document_bytes=100)
    with pytest.raises(ChunkTooLarge):
        splitter.feed(b'{"blob":"' + b"x" * 200 + b'"}\n')


def test_a_split_document_is_read_once_whatever_the_cuts():
    document = b'{"time":1,' + b",".join(b'"f%d":"v\\"%d"' % (i, i) for i in range(2000)) + b"}"
    for size in (1, 7, 1024):
        splitter = DocumentSplitter(max_document_bytes=1 << 20)
        records = [r for i in range(0, len(document), size) for r in splitter.feed(document[i : i + size]).records]
        assert records + splitter.finish().records == [json.loads(document)]


@pytest.mark.parametrize(("data", "expected"), [
    (b'{"a":"x\ny"}\n', ([], 2)),  # the string breaks at the newline; '"y"}' is a line of its own
    (b'{"a":[1\n2]}\n', ([], 1)),  # no comma between 1 and 2
    (b'{"x":1},{"y":2}\n', ([{"x": 1}], 1)),  # a comma between documents takes the rest of the line
])
def test_the_newline_fast_path_reads_invalid_json_as_the_scanner_does(data, expected):
    assert outcome(data, [])[:2] == expected
    assert outcome(data, list(range(len(data))))[:2] == expected
