"""The compiled flat-line reader gives exactly the columns and counts of the general path, or gives up."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anomalyd.core.config import DetectorConfig, JobConfig
from anomalyd.core.documents import DocumentSplitter
from anomalyd.core.ingest import ParsedRecords, RecordReader

CONFIGS = {
    "epoch": JobConfig(
        "flat",
        detectors=(DetectorConfig(function="mean", field_name="v", by_field_name="h", partition_field_name="x.y"),),
        influencers=("h",),
    ),
    # A pattern reads the time as text; v is read both as a number and as text (an influencer).
    "pattern": JobConfig(
        "flat",
        detectors=(DetectorConfig(function="sum", field_name="v", over_field_name="h"),),
        influencers=("h", "v"),
        time_format="yyyy-MM-dd'T'HH:mm:ssXXX",
    ),
    "epoch_ms": JobConfig(
        "flat", detectors=(DetectorConfig(function="count", by_field_name="h", partition_field_name="x.y"),), influencers=("v",),
        time_format="epoch_ms",
    ),
}

exact_numbers = st.one_of(
    st.integers(-(10**18), 10**18).map(str),
    st.integers(0, 10**9).map(lambda i: f"{i}.{i % 1000:03d}"),
    st.tuples(st.integers(-(10**7), 10**7), st.integers(-22, 22)).map(lambda p: f"{p[0]}e{p[1]}"),
    st.sampled_from(["-0", "-0.0", "0.0", "0", "1E5", "1e+2", "2.50000", "123456789012345678", "0.000001"]),
)
number_texts = st.one_of(
    exact_numbers,
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["1.5e400", "01", "1.", ".5", "-", "+1", "1e", "9007199254740993.0", "1234567890123456789", "1_0"]),
)
string_texts = st.one_of(
    st.text(max_size=6).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'),
    st.sampled_from(['"a"', '"\\u0061"', '"A01"', '""', '"é"', '"\\ud800"', '"2023-04-01T10:00:00Z"',
                     '"2023-04-01T10:05:00+01:00"', '"12.5"', '"\xff"', '"tab\there"']),
)
time_texts = st.one_of(
    st.integers(1_600_000_000, 1_600_100_000).map(str),
    st.integers(1_600_000_000, 1_600_100_000).map(lambda t: f"{t}.25"),
    st.integers(1_600_000_000_000, 1_600_100_000_000).map(str),
    st.sampled_from(['"2023-04-01T10:00:00Z"', '"2023-04-01T10:05:00+01:00"', '"x"']),
)
value_texts = st.one_of(number_texts, string_texts, st.sampled_from(["true", "false", "null", "{}", "[1]", '{"y": 1}']))
keys = st.sampled_from(['"time"', '"v"', '"h"', '"x.y"', '"x"', '"other"', '"\\u0074ime"', '"h"'])
spaces = st.sampled_from(["", "", "", " ", "\t", " \r"])


plain_strings = st.text("ab\u00e9\u4e2d ", max_size=3).map(lambda s: f'"{s}"')
# Values of the kind each configuration reads its fields as.
CLEAN = {
    "epoch": {'"time"': st.integers(1_600_000_000, 1_600_100_000).map(str), '"v"': exact_numbers},
    "pattern": {'"time"': st.sampled_from(['"2023-04-01T10:00:00Z"', '"2023-04-01T10:05:00+01:00"', '"x"']), '"v"': None, '"x.y"': None},  # v is read both ways, x.y not at all
    "epoch_ms": {'"time"': st.integers(1_600_000_000_000, 1_600_100_000_000).map(str), '"v"': plain_strings},
}


@st.composite
def line(draw: st.DrawFn, config: str, kind: str) -> bytes:
    """One line: a clean or typical one holds some of the job's fields, in any order, of the right kind or mostly so."""
    if kind == "messy":
        pairs = draw(st.lists(st.tuples(keys, value_texts), max_size=4))
    else:
        fields: dict[str, st.SearchStrategy[str] | None] = {'"time"': time_texts, '"h"': string_texts, '"v"': exact_numbers | number_texts, '"x.y"': string_texts}
        if kind == "clean":
            fields |= {'"h"': plain_strings, '"x.y"': plain_strings, **CLEAN[config]}
        keys_in_order = [k for k in draw(st.permutations(list(fields))) if fields[k] is not None]
        pairs = [(k, draw(fields[k])) for k in keys_in_order[: draw(st.integers(0, 4))]]
    gap = draw(spaces)
    body = ",".join(f"{gap}{k}{draw(spaces)}:{gap}{v}{draw(spaces)}" for k, v in pairs)
    text = f"{draw(spaces)}{{{body}}}{draw(spaces)}"
    if kind == "messy":
        text = draw(st.sampled_from([text, text, text, "", "garbage", '{"time": 1}{"v": 2}']))
    return text.encode()


def chunks(config: str) -> st.SearchStrategy[list[bytes]]:
    """Lines all clean (which the flat reader takes), typical, or with messy ones among them."""
    kinds = st.sampled_from(["clean", "clean", "typical", "messy"])
    return kinds.flatmap(lambda kind: st.lists(line(config, kind) | line(config, "clean"), min_size=1, max_size=10))


config_and_lines = st.sampled_from(sorted(CONFIGS)).flatmap(lambda config: st.tuples(st.just(config), chunks(config)))


def _exactly(parsed: ParsedRecords) -> tuple[object, ...]:
    """Every column bit for bit (-0.0 and NaN too) and every dictionary in its order."""
    batch = parsed.batch
    return (
        parsed.input_field_count, parsed.missing_field_count, parsed.invalid_time.tolist(), batch.times.tolist(),
        {f: v.tobytes() for f, v in batch.numbers.items()},
        {f: (c.codes.tolist(), c.values) for f, c in batch.strings.items()},
    )


@pytest.mark.filterwarnings("ignore:overflow encountered in multiply:RuntimeWarning")  # 1e308 s as a time
@settings(max_examples=400, deadline=None)
@given(config_and_lines, st.lists(st.integers(0, 400), max_size=3))
def test_flat_columns_read_as_the_records_do(config_and_lines, cuts):
    config, chunk_lines = config_and_lines
    reader = RecordReader(CONFIGS[config])
    flat = DocumentSplitter(max_document_bytes=1 << 20, fields=reader.row_fields, flat=reader.flat_lines)
    plain = DocumentSplitter(max_document_bytes=1 << 20)
    data = b"\n".join(chunk_lines) + b"\n"
    bounds = [0, *sorted({c for c in cuts if c <= len(data)}), len(data)]
    for start, end in itertools.pairwise(bounds):
        fast, slow = flat.feed(data[start:end]), plain.feed(data[start:end])
        assert slow.columns is None and slow.rows is None
        assert fast.malformed == slow.malformed
        assert _exactly(reader.read_documents(fast)) == _exactly(reader.read_documents(slow))
    assert flat.finish().malformed == plain.finish().malformed


def test_a_chunk_of_flat_lines_of_the_jobs_fields_is_read_as_columns():
    reader = RecordReader(CONFIGS["epoch"])
    splitter = DocumentSplitter(max_document_bytes=1 << 20, fields=reader.row_fields, flat=reader.flat_lines)
    documents = splitter.feed(b'{"time": 1, "v": 2.5, "h": "a"}\n{}\n{"time": 2.5, "x.y": "p", "v": null}\n{"h": "a"}\n')
    assert documents.columns is not None and documents.rows is None and documents.records == []
    parsed = reader.read_documents(documents)
    assert parsed.batch.times.tolist() == [1000, 0, 2500, 0] and parsed.invalid_time.tolist() == [False, True, False, True]
    assert parsed.batch.strings["h"].codes.tolist() == [0, -1, -1, 0] and parsed.batch.strings["h"].values == ("a", "")
    # 7 leaf fields less one a non-empty record; 2 times, 2 of v, 2 of h and 3 of x.y missing
    assert (parsed.input_field_count, parsed.missing_field_count) == (7 - 3, 2 + 2 + 2 + 3)


@pytest.mark.parametrize(
    "line",
    [
        b'{"time": 1, "other": 2}',  # a field the job does not read
        b'{"time": 1, "time": 2}',  # a key twice
        b'{"time": 1, "h": 7}',  # a number where text is read
        b'{"time": 1, "v": "7"}',  # text where a number is read
        b'{"time": 1, "v": 0.1234567890123456789}',  # more digits than an exact conversion takes
        b'{"time": 1, "h": "a", "x.y": "\\u0061"}\n{"h": "\\u0061"}',  # "a" spelled two ways
    ],
)
def test_the_reader_gives_up_what_it_cannot_read_exactly(line):
    reader = RecordReader(CONFIGS["epoch"])
    documents = DocumentSplitter(max_document_bytes=1 << 20, fields=reader.row_fields, flat=reader.flat_lines).feed(line + b"\n")
    assert documents.columns is None
    assert documents.malformed == 0 and (documents.rows or documents.records)


def test_short_lines_for_many_fields_are_left_to_the_general_path():
    # 60 fields and "{}" lines: columns would take 900 times the chunk's bytes.
    config = JobConfig("wide", detectors=(DetectorConfig(function="count"),), influencers=tuple(f"f{i}" for i in range(59)))
    reader = RecordReader(config)
    splitter = DocumentSplitter(max_document_bytes=1 << 20, fields=reader.row_fields, flat=reader.flat_lines)
    documents = splitter.feed(b"{}\n" * 10_000)
    assert documents.columns is None
    parsed = reader.read_documents(documents)
    assert len(parsed.batch) == 10_000 and parsed.missing_field_count == 60 * 10_000
