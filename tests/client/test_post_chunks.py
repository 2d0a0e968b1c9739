"""Cutting PostData sources into messages: every record exactly once, in about chunk_bytes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anomalyd_client import Progress, ndjson_chunks
from anomalyd_client.upload import data_chunks, source_size, track

ENCODER = msgspec.json.Encoder()
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
records = st.lists(st.dictionaries(st.text(max_size=8), json_values, max_size=4), max_size=60)


@given(records, st.integers(min_value=1, max_value=400))
def test_ndjson_chunks_hold_every_record_once_in_order(
    items: list[dict[str, Any]], chunk_bytes: int
) -> None:
    chunks = list(ndjson_chunks(items, chunk_bytes))
    assert b"".join(chunks) == ENCODER.encode_lines(items)
    for chunk in chunks:
        assert chunk.endswith(b"\n")
        assert len(chunk) <= chunk_bytes or chunk.count(b"\n") == 1
    decoded = [msgspec.json.decode(line) for chunk in chunks for line in chunk.splitlines()]
    assert decoded == items


def test_ndjson_chunks_fill_messages_rather_than_send_one_record_each() -> None:
    items = [
        {"time": 1_700_000_000 + i, "airline": "AAL", "responsetime": 123.456}
        for i in range(50_000)
    ]
    chunks = list(ndjson_chunks(items, 1 << 20))
    assert len(chunks) == 3
    assert all((1 << 20) - 100 < len(chunk) <= 1 << 20 for chunk in chunks[:-1])


@given(st.binary(max_size=2000), st.integers(min_value=1, max_value=300))
def test_raw_bytes_are_cut_anywhere_into_chunk_bytes(data: bytes, chunk_bytes: int) -> None:
    chunks = list(data_chunks(data, chunk_bytes))
    assert b"".join(chunks) == data
    assert all(0 < len(chunk) <= chunk_bytes for chunk in chunks)


def test_every_kind_of_source_gives_the_same_bytes(tmp_path: Path) -> None:
    items = [{"time": i, "value": i * 1.5, "host": f"h{i % 3}"} for i in range(200)]
    data = ENCODER.encode_lines(items)
    path = tmp_path / "data.ndjson"
    path.write_bytes(data)
    sources: list[Any] = [
        str(path),
        path,
        data,
        io.BytesIO(data),
        io.StringIO(data.decode()),
        [data[:7], data[7:500], data[500:]],
        iter(items),
    ]
    for source in sources:
        chunks = list(data_chunks(source, 256))
        assert b"".join(chunks) == data, type(source)
        assert max(map(len, chunks)) <= 256


def test_empty_sources_give_no_chunks() -> None:
    assert (
        list(data_chunks([], 10))
        == list(data_chunks(b"", 10))
        == list(data_chunks(io.BytesIO(), 10))
        == []
    )


def test_a_missing_file_fails_when_read(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        next(data_chunks(tmp_path / "missing.ndjson"))


def test_source_size_is_known_for_paths_and_bytes(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 42)
    assert source_size(path) == source_size(str(path)) == source_size(b"y" * 42) == 42
    assert source_size(io.BytesIO(b"z")) is None and source_size([{"a": 1}]) is None


def test_track_reports_bytes_and_records_after_each_chunk() -> None:
    reports: list[Progress] = []
    chunks = [b'{"a":1}\n{"a":2}\n', b'{"a":3}\n']
    assert list(track(chunks, 24, reports.append)) == chunks
    assert [(p.bytes_sent, p.total_bytes, p.records_sent) for p in reports] == [
        (16, 24, 2),
        (24, 24, 3),
    ]
    assert reports[0].elapsed <= reports[1].elapsed
