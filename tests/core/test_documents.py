"""The JSON document splitter: any chunking gives the same records; bad documents cost only themselves."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anomalyd.core.config import DetectorConfig, JobConfig
from anomalyd.core.documents import DocumentSplitter, flatten
from anomalyd.core.errors import ChunkTooLarge
from anomalyd.core.ingest import ParsedRecords, RecordReader

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


TYPED_CONFIG = JobConfig(
    "typed",
    detectors=(DetectorConfig(function="mean", field_name="v", by_field_name="h", partition_field_name="x.y"),),
    influencers=("h",),
)
typed_keys = st.sampled_from(["time", "v", "h", "x.y", "x", "other", "\\u0074ime"])
typed_values = st.one_of(scalars, st.integers(), st.floats(), st.sampled_from(["1e999", 1e308, "12.5", "2017-01-01"]))
typed_docs = st.dictionaries(typed_keys, st.one_of(typed_values, st.dictionaries(st.sampled_from(["y", "z"]), scalars, max_size=2),
                                                   st.lists(scalars, max_size=2)), max_size=5)
typed_lines = st.one_of(
    typed_docs.map(lambda d: json.dumps(d).encode().replace(b"\\\\u0074", b"\\u0074")),
    st.sampled_from([b"garbage", b"[1, 2]", b"{}", b'{"time": 1}{"v": 2}', b'{"time": 1},{"v": 2}', b'  {"v": 1}',
                     b'{"h": "{"}', b'{"time": 1' + b"9" * 320 + b"}", b'{"v": 1e999}']),
)


def _parsed_columns(parsed: ParsedRecords) -> tuple[object, ...]:
    batch = parsed.batch
    return (
        parsed.input_field_count, parsed.missing_field_count, parsed.invalid_time.tolist(), batch.times.tolist(),
        {f: np.nan_to_num(v, nan=-0.5).tolist() for f, v in batch.numbers.items()},
        {f: [c.values[i] if i >= 0 else None for i in c.codes.tolist()] for f, c in batch.strings.items()},
    )


@pytest.mark.filterwarnings("ignore:overflow encountered in multiply:RuntimeWarning")  # 1e308 s as a time
@settings(max_examples=300, deadline=None)
@given(st.lists(typed_lines, max_size=12), st.lists(st.integers(0, 600), max_size=4))
def test_typed_rows_read_as_the_records_do(lines, cuts):
    # A job's splitter decodes whole chunks of flat documents of its fields into rows; the reader
    # must give exactly the columns and counts that records give, however the stream is cut.
    reader = RecordReader(TYPED_CONFIG)
    typed = DocumentSplitter(max_document_bytes=1 << 20, fields=reader.row_fields)
    plain = DocumentSplitter(max_document_bytes=1 << 20)
    data = b"\n".join(lines) + b"\n"
    bounds = [0, *sorted({c for c in cuts if c <= len(data)}), len(data)]
    for start, end in itertools.pairwise(bounds):
        fast, slow = typed.feed(data[start:end]), plain.feed(data[start:end])
        assert slow.rows is None
        assert fast.malformed == slow.malformed
        assert _parsed_columns(reader.read_documents(fast)) == _parsed_columns(reader.read_documents(slow))
    assert typed.finish().malformed == plain.finish().malformed


def test_a_chunk_of_flat_lines_of_the_jobs_fields_is_read_as_rows():
    reader = RecordReader(TYPED_CONFIG)
    splitter = DocumentSplitter(max_document_bytes=1 << 20, fields=reader.row_fields)
    documents = splitter.feed(b'{"time": 1, "v": 2.5, "h": "a"}\n{}\n{"time": 2, "x.y": null}\n')
    assert documents.rows is not None and documents.records == [] and len(documents.rows) == 3
    parsed = reader.read_documents(documents)
    # 5 leaf fields less one a non-empty record; the time of one record and 6 analysis fields missing
    assert (parsed.input_field_count, parsed.missing_field_count) == (5 - 2, 1 + 6)
    assert splitter.feed(b'{"time": 1, "other": 2}\n').rows is None  # a field the job does not read
    assert splitter.feed(b'{"time": 1, "h": {"y": 2}}\n').rows is None  # a nested object
