"""Ingest: records become columns, are checked against time, counted, and bucketed.

One Ingestor per open job keeps the job's counts and the state that decides which records are
out of order; an Upload is one PostData stream into it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
from numpy.typing import NDArray

from anomalyd.bucket_time import ceil_to, floor_to, now_ms
from anomalyd.core.config import JobConfig
from anomalyd.core.counts import BucketDiagnostics, DataCounts
from anomalyd.core.dictionaries import StableDictionaries
from anomalyd.core.documents import Documents, DocumentSplitter, Record
from anomalyd.core.errors import TooManyParseErrors
from anomalyd.core.flat_lines import INTEGER, NEITHER, NUMBERS, TEXT, FlatColumns, FlatLineReader
from anomalyd.core.timeparse import MAX_EPOCH_MS, MIN_EPOCH_MS, epoch_millis, epoch_unit_ms, time_parser
from anomalyd.engine.records import RecordBatch, StringColumn

MAX_PARSE_ERRORS = 100  # Elasticsearch fails an upload after this many malformed documents
_MISSING = msgspec.UNSET  # a field a record lacks, in dict records and typed rows alike
_NEVER = -(2**62)


@dataclass(frozen=True, slots=True)
class ParsedRecords:
    """Records read from one message, before any check against time.

    Attributes:
        batch: the analysis fields in columns; times of invalid records are 0.
        invalid_time: shape (n,), True where the time is missing or unreadable.
        input_field_count: leaf fields read, less one a record (for its time field).
        missing_field_count: analysis fields and time fields the records lack, one per field
            per record.
    """

    batch: RecordBatch
    invalid_time: NDArray[np.bool_]
    input_field_count: int
    missing_field_count: int


class IngestState(msgspec.Struct):
    """What the Ingestor persists with every accepted batch.

    Attributes:
        totals: lifetime data counts.
        diagnostics: the empty/sparse bucket ring.
        finalized_end_ms: end of the last finalised bucket, or None.
        first_bucket_ms: start of the bucket of the first processed record, or None.
    """

    totals: DataCounts
    diagnostics: BucketDiagnostics
    finalized_end_ms: int | None = None
    first_bucket_ms: int | None = None

    @classmethod
    def new(cls, config: JobConfig) -> IngestState:
        """The state of a job that has seen no data."""
        return cls(DataCounts(), BucketDiagnostics.for_job(config.bucket_span_ms, config.latency_ms))


class RecordReader:
    """Reads a job's analysis fields out of flat JSON records into columns.

    A string field's dictionary keeps the order of the job's previous batch where it holds the
    same values (see StableDictionaries), so that detectors find their series as they did then.
    """

    def __init__(self, config: JobConfig) -> None:
        self._time_field = config.time_field
        self._parse_times = time_parser(config.time_format)
        self._epoch_unit_ms = epoch_unit_ms(config.time_format)
        self._analysis_fields = config.analysis_fields()
        self._numeric = config.numeric_fields()
        self._strings = config.string_fields()
        self._points = config.point_fields()
        # The fields of a typed row (Documents.rows) and of flat columns, the time field first.
        self.row_fields = tuple(dict.fromkeys((self._time_field, *self._analysis_fields)))
        self._row_getters = [attrgetter(f"f{i}") for i in range(len(self.row_fields))]
        self.flat_lines = FlatLineReader(self.row_fields, tuple(map(self._flat_mode, self.row_fields)))
        self._dictionaries = StableDictionaries()

    def _flat_mode(self, field: str) -> int:
        """How FlatLineReader may read a field: as the numbers or the text it is read as here."""
        epoch = self._epoch_unit_ms is not None
        numbers = field in self._numeric or (field == self._time_field and epoch)
        text = field in self._strings or (field == self._time_field and not epoch)
        return NEITHER if numbers and text else TEXT if text else NUMBERS

    def read_documents(self, documents: Documents) -> ParsedRecords:
        """The columns of a chunk's documents, from its records, typed rows or flat columns."""
        if documents.columns is not None:
            return self._read_flat(documents.columns)
        if documents.rows is None:
            return self.read(documents.records)
        rows = documents.rows
        n = len(rows)
        by_field = {f: list(map(get, rows)) for f, get in zip(self.row_fields, self._row_getters, strict=True)}
        absent = {f: values.count(_MISSING) for f, values in by_field.items()}
        # A row holds no field but these, each a leaf: the record's fields are those present.
        leaf_fields = n * len(by_field) - sum(absent.values())
        # An empty row lacks every field: none when some field is in every row.
        empty = rows.count(type(rows[0])()) if n and min(absent.values()) else 0
        missing = absent[self._time_field] + sum(absent[f] for f in self._analysis_fields)
        return self._parsed(by_field[self._time_field], by_field, leaf_fields - (n - empty), missing)

    def read(self, records: Sequence[Record]) -> ParsedRecords:
        """The columns of records."""
        n = len(records)
        raw_times = _column(records, self._time_field)
        columns = {f: _column(records, f) for f in self._analysis_fields}
        for f in self._points:
            _join_point_objects(columns[f], records, f)
        # As Elasticsearch counts: a missing time field is a missing field too, and every
        # record's field count loses one for its time, whether it has one or not.
        missing = raw_times.count(_MISSING) + sum(values.count(_MISSING) for values in columns.values())
        input_fields = sum(map(len, records)) - (n - sum(1 for r in records if not r))
        return self._parsed(raw_times, columns, input_fields, missing)

    def _read_flat(self, flat: FlatColumns) -> ParsedRecords:
        """The columns of FlatColumns, whose fields are row_fields."""
        n = len(flat)
        present = [int(np.count_nonzero(kinds)) for kinds in flat.kinds]  # a quarter of the time of axis=1
        absent = {f: n - present[i] for i, f in enumerate(self.row_fields)}
        missing = absent[self._time_field] + sum(absent[f] for f in self._analysis_fields)
        index = {f: i for i, f in enumerate(self.row_fields)}
        times, invalid = self._flat_times(flat)
        batch = RecordBatch(
            times=times,
            numbers={f: flat.numbers[index[f]] for f in self._numeric},
            strings=self._dictionaries.ordered({f: _flat_strings(flat, index[f]) for f in self._strings}),
        )
        # As read(): every record but an empty one loses a field for its time.
        return ParsedRecords(batch, invalid, sum(present) - (n - flat.empty_records), missing)

    def _flat_times(self, flat: FlatColumns) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        """The times of FlatColumns (the time field is their first), read as _parse_times reads them."""
        if self._epoch_unit_ms is None:
            return self._parse_times(_flat_values(flat, 0))
        if (flat.kinds[0] == INTEGER).all():
            return epoch_millis(flat.integers[0], self._epoch_unit_ms)
        return epoch_millis(flat.numbers[0], self._epoch_unit_ms)

    def _parsed(self, raw_times: list[Any], columns: dict[str, list[Any]], input_fields: int, missing: int) -> ParsedRecords:
        """ParsedRecords of raw time and analysis columns (by field, holding at least the analysis fields) and the counts."""
        times, invalid = self._parse_times(raw_times)
        batch = RecordBatch(
            times=times,
            numbers={f: _numbers(columns[f]) for f in self._numeric},
            strings=self._dictionaries.ordered({f: _strings(columns[f]) for f in self._strings}),
        )
        return ParsedRecords(batch, invalid, input_fields, missing)

    def from_columns(self, batch: RecordBatch, invalid_time: NDArray[np.bool_]) -> ParsedRecords:
        """The analysis columns of a columnar batch, with its field counts.

        Times outside years 1 to 9999 are invalid dates, as on the JSON path.
        """
        n = len(batch)
        out_of_range = (batch.times > MAX_EPOCH_MS) | (batch.times < MIN_EPOCH_MS)
        if out_of_range.any():
            invalid_time = invalid_time | out_of_range
            batch = RecordBatch(np.where(out_of_range, 0, batch.times), batch.numbers, batch.strings)
        present = {name: int(np.count_nonzero(~np.isnan(v))) for name, v in batch.numbers.items()}
        for name, column in batch.strings.items():
            present[name] = present.get(name, 0) + int(np.count_nonzero(column.codes >= 0))
        nan = np.full(n, np.nan)
        absent = StringColumn(np.full(n, -1, dtype=np.int32), ())
        return ParsedRecords(
            batch=RecordBatch(
                times=batch.times,
                numbers={f: _finite(batch.numbers[f]) if f in batch.numbers else nan for f in self._numeric},
                strings=self._dictionaries.ordered({f: _string_column(batch, f, absent) for f in self._strings}),
            ),
            invalid_time=invalid_time,
            input_field_count=sum(present.values()),
            missing_field_count=sum(n - present.get(f, 0) for f in self._analysis_fields),
        )


def _string_column(batch: RecordBatch, field: str, absent: StringColumn) -> StringColumn:
    """A columnar batch's field as strings; a numeric column reads as its numbers' JSON text (dc(port))."""
    if field in batch.strings or field not in batch.numbers:
        return batch.strings.get(field, absent)
    numbers = batch.numbers[field]
    return _strings([_MISSING if math.isnan(v) else int(v) if v.is_integer() else v for v in numbers.tolist()])


def _flat_strings(flat: FlatColumns, field: int) -> StringColumn:
    codes, texts = flat.codes[field], flat.texts[field]
    assert codes is not None and texts is not None  # a field read as text has them
    return StringColumn(codes, texts)


def _flat_values(flat: FlatColumns, field: int) -> list[Any]:
    """A text field's values as read() sees them: its strings, _MISSING where absent."""
    codes, texts = flat.codes[field], flat.texts[field]
    assert codes is not None and texts is not None
    return np.array([*texts, _MISSING], dtype=object)[codes].tolist()  # type: ignore[no-any-return]


def _column(records: Sequence[Record], field: str) -> list[Any]:
    # map over dict.get runs the loop in C: twice as fast as a comprehension.
    return list(map(dict.get, records, repeat(field, len(records)), repeat(_MISSING, len(records))))


def _join_point_objects(values: list[Any], records: Sequence[Record], field: str) -> None:
    """Fill a lat_long field that records lack from a geo_point object ({"lat": .., "lon": ..}).

    Flattening made such an object the fields field.lat and field.lon; autodetect would see
    neither, but Elasticsearch's geo_point reaches it as the "lat,lon" text written here.
    """
    lat_field, lon_field = field + ".lat", field + ".lon"
    for i, value in enumerate(values):
        if value is _MISSING and lat_field in records[i] and lon_field in records[i]:
            values[i] = f"{_text(records[i][lat_field])},{_text(records[i][lon_field])}"


def _numbers(values: list[Any]) -> NDArray[np.float64]:
    if set(map(type, values)) <= {int, float}:
        return _finite(np.asarray(values, dtype=np.float64))
    return _finite(np.fromiter(map(_number, values), np.float64, len(values)))


def _finite(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """The values with infinities as NaN: "1e999" or "-inf" is not a number a model can learn."""
    return np.where(np.isinf(values), np.nan, values)


def _number(value: Any) -> float:
    kind = type(value)
    if kind is int or kind is float:
        return float(value)
    if kind is str:
        try:
            return float(value)
        except ValueError:
            return np.nan
    return np.nan


def _strings(values: list[Any]) -> StringColumn:
    index = {value: code for code, value in enumerate(dict.fromkeys(values))}
    codes = np.fromiter(map(index.__getitem__, values), np.int32, len(values))
    if _MISSING in index:
        codes[codes == index[_MISSING]] = -1
    return StringColumn(codes, tuple(_text(v) for v in index))


def _text(value: Any) -> str:
    if value is None or value is _MISSING:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    return value if type(value) is str else str(value)


class Ingestor:
    """Counts and filters an open job's records; the caller persists its state.

    Args:
        config: the job.
        state: the persisted state to continue from.
    """

    def __init__(self, config: JobConfig, state: IngestState) -> None:
        self.config = config
        self.state = state
        self.reader = RecordReader(config)
        self._span = config.bucket_span_ms
        self._analysis_field_count = len(config.analysis_fields())

    def begin_upload(self, *, max_document_bytes: int) -> Upload:
        """A new upload (one PostData stream)."""
        splitter = DocumentSplitter(max_document_bytes=max_document_bytes, fields=self.reader.row_fields, flat=self.reader.flat_lines)
        return Upload(self, splitter)

    def accept(
        self,
        parsed: ParsedRecords,
        upload: DataCounts,
        *,
        input_bytes: int,
    ) -> RecordBatch:
        """Count parsed records into the totals and upload; return those to analyse.

        A record is out of order when it is older than the start of the latest record's bucket
        less the latency, or falls in a finalised bucket. As in Elasticsearch, a reset upload
        is held to the same rule: a reset makes the buckets it covers take their records anew,
        it does not let older records in.
        """
        sinks = (self.state.totals, upload)
        times = parsed.batch.times
        accepted = self._accepted(times, parsed.invalid_time)
        n_accepted = len(times) if accepted is None else int(np.count_nonzero(accepted))
        n_invalid = 0 if accepted is None else int(np.count_nonzero(parsed.invalid_time))
        for sink in sinks:
            sink.input_bytes += input_bytes
            sink.input_field_count += parsed.input_field_count
            sink.missing_field_count += parsed.missing_field_count
            sink.invalid_date_count += n_invalid
            sink.out_of_order_timestamp_count += len(times) - n_invalid - n_accepted
            sink.processed_record_count += n_accepted
        kept = parsed.batch if accepted is None else parsed.batch.take(accepted)
        if not n_accepted:
            return kept
        earliest = int(kept.times[0]) if self.state.totals.earliest_record_timestamp is None else None
        for sink in sinks:
            sink.record_times(earliest, int(kept.times.max()))
        self._diagnose(kept.times, sinks)
        if self.state.first_bucket_ms is None:
            self.state.first_bucket_ms = floor_to(int(kept.times.min()), self._span)
        latest = self.state.totals.latest_record_timestamp
        assert latest is not None  # record_times set it above
        self._finalize_until(floor_to(latest - self.config.latency_ms, self._span), sinks)
        return kept

    def _accepted(self, times: NDArray[np.int64], invalid: NDArray[np.bool_]) -> NDArray[np.bool_] | None:
        """Which records are valid and in order, or None when all of them are."""
        latest = self.state.totals.latest_record_timestamp
        first_threshold = max(
            _NEVER if latest is None else floor_to(latest, self._span) - self.config.latency_ms,
            _NEVER if self.state.finalized_end_ms is None else self.state.finalized_end_ms,
        )
        # The usual message: valid times in order from the first threshold on. Each record's
        # threshold is then at most its predecessor's bucket start (latency is never negative).
        if len(times) and times[0] >= first_threshold and not invalid.any() and (times[1:] >= times[:-1]).all():
            return None
        running = np.maximum.accumulate(
            np.concatenate(([_NEVER if latest is None else latest], np.where(invalid, _NEVER, times)))
        )[:-1]
        threshold = np.maximum(
            np.where(running == _NEVER, _NEVER, floor_to(running, self._span) - self.config.latency_ms),
            _NEVER if self.state.finalized_end_ms is None else self.state.finalized_end_ms,
        )
        return ~invalid & (times >= threshold)

    def advance(self, end_ms: int) -> None:
        """Finalise every bucket whose end plus the latency is at or before end_ms.

        As autodetect's advanceTime does: with latency, advance_time waits for late records
        just as a newer record does.
        """
        self._finalize_until(floor_to(end_ms - self.config.latency_ms, self._span), (self.state.totals,))

    def skip(self, to_ms: int) -> None:
        """Jump to ceil(to_ms, span): the buckets before it are closed without results."""
        self._finalize_until(ceil_to(to_ms, self._span), (self.state.totals,))

    def end_upload(self, upload: DataCounts) -> None:
        """Count the upload's buckets and stamp its end."""
        self.state.diagnostics.end_upload(self.state.totals, upload)
        now = now_ms()
        self.state.totals.last_data_time = upload.last_data_time = now

    def processed_field_count(self, counts: DataCounts) -> int:
        """processed_field_count of counts for this job's analysis fields."""
        return counts.processed_field_count(self._analysis_field_count)

    def _diagnose(self, times: NDArray[np.int64], sinks: tuple[DataCounts, ...]) -> None:
        """Add the records to the bucket diagnostics, a run of records of one bucket at a time."""
        for start, length in self._runs(times):
            self.state.diagnostics.add(start, length, *sinks)

    def _runs(self, times: NDArray[np.int64]) -> list[tuple[int, int]]:
        """The runs of consecutive records in one bucket: (bucket start, records), in order."""
        first, last = floor_to(int(times.min()), self._span), floor_to(int(times.max()), self._span)
        if first == last:  # a message within one bucket
            return [(first, len(times))]
        buckets = (last - first) // self._span + 1
        if buckets <= len(times) and bool((times[1:] >= times[:-1]).all()):
            # In order, each bucket is one run: cut at the buckets' starts instead of flooring every time.
            cuts = [*np.searchsorted(times, np.arange(first, last + self._span, self._span)).tolist(), len(times)]
            return [(first + k * self._span, cuts[k + 1] - cuts[k]) for k in range(buckets) if cuts[k + 1] > cuts[k]]
        starts = floor_to(times, self._span)
        run_starts = np.concatenate(([0], np.flatnonzero(starts[1:] != starts[:-1]) + 1))
        run_lengths = np.diff(np.append(run_starts, len(starts)))
        return list(zip(starts[run_starts].tolist(), run_lengths.tolist(), strict=True))

    def _finalize_until(self, end_ms: int, sinks: tuple[DataCounts, ...]) -> None:
        if self.state.finalized_end_ms is not None and end_ms <= self.state.finalized_end_ms:
            return
        self.state.finalized_end_ms = end_ms
        first = self.state.first_bucket_ms
        if first is not None and end_ms >= first + self._span:
            for sink in sinks:
                sink.latest_bucket_timestamp = end_ms - self._span


class Upload:
    """One PostData stream into a job: splits its bytes and keeps its own counts."""

    def __init__(self, ingestor: Ingestor, splitter: DocumentSplitter) -> None:
        self.counts = DataCounts()
        self.reader = ingestor.reader
        self._totals = ingestor.state.totals
        self._splitter = splitter

    def documents(self, chunk: bytes) -> Documents:
        """The complete documents of chunk, counting malformed ones."""
        return self._counted(self._splitter.feed(chunk))

    def remaining_documents(self) -> Documents:
        """The documents left when the stream ends."""
        return self._counted(self._splitter.finish())

    def _counted(self, documents: Documents) -> Documents:
        self.counts.malformed_document_count += documents.malformed
        self._totals.malformed_document_count += documents.malformed
        if self.counts.malformed_document_count > MAX_PARSE_ERRORS:
            raise TooManyParseErrors(
                f"more than {MAX_PARSE_ERRORS} documents of this upload were malformed JSON or "
                "not JSON objects; records before the failure were accepted",
                malformedDocumentCount=str(self.counts.malformed_document_count),
            )
        return documents
