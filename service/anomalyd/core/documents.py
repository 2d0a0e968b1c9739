"""Splits a stream of JSON documents, cut into chunks at any byte, into flat records.

The input is JSON objects side by side or separated by whitespace (NDJSON is one such form),
as Elasticsearch's post-data API takes it. Newline-delimited chunks take a fast path that
decodes a whole chunk with one msgspec call; anything else goes through a scanner that finds
each document's extent, so that a malformed document costs only itself.

The input comes from clients, so nothing in it may cost more than linear time and memory or
raise anything but ChunkTooLarge: the scanner carries its state from chunk to chunk instead of
re-reading a split document, its regular expressions keep no state per byte, and documents that
nest too deep or hold an integer no float can hold are malformed ones.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Union

import msgspec
import numpy as np

from anomalyd.core.errors import ChunkTooLarge
from anomalyd.core.flat_lines import FlatColumns, FlatLineReader

Record = dict[str, Any]
Buffer = bytes | bytearray | memoryview

# Deeper than any real document (Elasticsearch refuses mappings deeper than 20 objects) and far
# below Python's recursion limit of 1000, which msgspec and flatten count against.
MAX_DEPTH = 100

_NOT_WHITESPACE = re.compile(rb"[^ \t\r\n]")
# Possessive quantifiers throughout: a backtracking repeat keeps ~100 bytes of state per byte.
_STRAY_CLOSERS = re.compile(rb"[}\]](?:[ \t\r\n]*+[}\]])*+")
# A string's body stops at its closing quote, at a newline (a string cannot hold one), at a
# backslash before a newline, or at the chunk's end.
_STRING_BODY = rb'[^"\\\n]*+(?:\\[^\n][^"\\\n]*+)*+'
_STRING_REST = re.compile(_STRING_BODY)
# Inside a document: skip to the next run of opening (group 1) or closing (group 2) brackets,
# passing over whole strings; without either it stopped at a string left open or the chunk's end.
_DOCUMENT = re.compile(rb'(?:[^"{}\[\]]++|"' + _STRING_BODY + rb'")*+(?:([{\[]++)|([}\]]++))?')
# Two objects joined by a comma of their own: the fast path cannot tell it from one it inserted.
_JOINED = re.compile(rb"}[ \t\r\n]*+,[ \t\r\n]*+{")
_QUOTE, _BACKSLASH, _NEWLINE, _OPEN_BRACE = b'"\\\n{'
_OPENING = b"{["
_NO_VIEW = memoryview(b"")

# An integer beyond the largest float has at least 309 digits, so every 20th byte of it is a
# digit 15 times in a row: a sample of 1/20 of the bytes rules such integers out.
_HUGE_DIGITS = len(str(int(sys.float_info.max)))
_SAMPLE_STRIDE = 20
_DIGIT_FLAGS = bytes(0x30 <= byte <= 0x39 for byte in range(256))
_JOIN_BATCH = 4096


# A value of a typed row: a field the document lacks is msgspec.UNSET.
_Scalar = Union[int, float, str, bool, None, msgspec.UnsetType]  # noqa: UP007 (a runtime type for msgspec)


@dataclass(slots=True)
class Documents:
    """The records of one chunk.

    Attributes:
        records: flat records (nested objects flattened to "a.b", arrays of scalars joined
            with commas, objects and arrays inside arrays skipped; null stays None, read later
            as "").
        malformed: documents that could not be parsed, were not objects, nested deeper than
            MAX_DEPTH or held an integer beyond the largest float.
        rows: instead of records, when every document of the chunk is a flat object of
            scalars holding no field but the splitter's fields: one row a record, whose
            attribute ``f<i>`` is the value of fields[i], msgspec.UNSET where absent.
        columns: instead of records, when the splitter's FlatLineReader read the whole chunk.
    """

    records: list[Record]
    malformed: int
    rows: list[Any] | None = None
    columns: FlatColumns | None = None


class DocumentSplitter:
    """Turns the chunks of one upload into records, carrying a split document over.

    Args:
        max_document_bytes: the largest single document accepted; a longer one fails the
            upload with ChunkTooLarge instead of growing the buffer without bound.
        fields: the only fields a job reads. Given, a chunk of whole lines of flat documents
            holding no other field is decoded straight into Documents.rows, which skips
            building a dict a record; anything else is decoded as without fields.
        flat: reads a chunk of whole lines into Documents.columns first, when given; a chunk
            it gives up on is decoded as without it.
    """

    def __init__(self, *, max_document_bytes: int, fields: tuple[str, ...] = (), flat: FlatLineReader | None = None) -> None:
        self._max_document_bytes = max_document_bytes
        self._flat = flat
        self._scanner = _Scanner(max_document_bytes, self._take)
        self._decoder = msgspec.json.Decoder()
        self._rows: msgspec.json.Decoder[list[Any]] | None = None
        if fields:
            row = msgspec.defstruct(
                "Row",
                [(f"f{i}", _Scalar, msgspec.UNSET) for i in range(len(fields))],
                rename={f"f{i}": name for i, name in enumerate(fields)},
                forbid_unknown_fields=True,
                gc=False,
            )
            self._rows = msgspec.json.Decoder(list[row])  # type: ignore[valid-type]
        self._refusal: ChunkTooLarge | None = None
        self._documents = Documents([], 0)  # those of the chunk being fed

    def feed(self, chunk: bytes) -> Documents:
        """The complete documents once chunk is appended to what was pending.

        Raises:
            ChunkTooLarge: a document is over max_document_bytes. The documents before it in
                the chunk are returned first if there are any, and the next call raises.
        """
        self._raise_refusal()
        self._documents = documents = Documents([], 0)
        try:
            self._split(chunk)
        except ChunkTooLarge as err:
            if not (documents.records or documents.malformed):
                raise
            self._refusal = err
        finally:
            self._documents = Documents([], 0)
        return documents

    def finish(self) -> Documents:
        """The documents left when the upload ends; an unfinished one is malformed."""
        self._raise_refusal()
        return Documents([], self._scanner.finish())

    def _raise_refusal(self) -> None:
        if self._refusal is not None:
            raise self._refusal

    def _split(self, chunk: bytes) -> None:
        # The scanner ends what the last chunk left open, the fast path takes the complete
        # lines after that, and the scanner the rest.
        position = 0
        if not self._scanner.idle:
            position = self._scan(chunk, position, until_idle=True)
            if position == len(chunk):
                return
        end = chunk.rfind(b"\n") + 1
        if position < end:
            # Rows only when the fast path takes the whole chunk: records and rows never mix.
            fast = self._fast(chunk, position, end, rows=position == 0 and end == len(chunk))
            if fast is not None:
                self._documents.records += fast.records
                self._documents.malformed += fast.malformed
                self._documents.rows = fast.rows
                self._documents.columns = fast.columns
                position = end
        self._scan(chunk, position, until_idle=False)

    def _scan(self, chunk: bytes, position: int, *, until_idle: bool) -> int:
        try:
            return self._scanner.scan(chunk, position, until_idle=until_idle)
        finally:
            # Also when the scanner refuses a document: the malformed ones before it count.
            self._documents.malformed += self._scanner.malformed
            self._scanner.malformed = 0

    def _take(self, document: Buffer | None) -> None:
        """Decode a document the scanner found (None: one too deep to keep)."""
        record = self._record(document)
        if record is None:
            self._documents.malformed += 1
        else:
            self._documents.records.append(record)

    def _fast(self, chunk: bytes, start: int, end: int, *, rows: bool = False) -> Documents | None:
        """All records of the lines of chunk[start:end], or None if they need the scanner.

        Gives exactly what the scanner would: each line must hold one document. end is just
        after a newline. With rows, the records may come as Documents.columns or Documents.rows
        instead.
        """
        first = _NOT_WHITESPACE.search(chunk, start, end)
        if first is None:
            return Documents([], 0)
        block = chunk[first.start() : end]  # the chunk itself, not a copy, when it is all lines
        if not _lines_within(block, self._max_document_bytes):
            return None
        if rows and self._flat is not None and (columns := self._flat.read(block)) is not None:
            return Documents([], 0, columns=columns)
        # The newline stays beside each comma: inside a string it still fails the decode. The
        # last comma is left out (a block ending in blank lines goes to the scanner).
        joined = block.replace(b"\n", b",\n")
        array = b"".join((b"[", memoryview(joined)[:-2], b"]"))
        if rows and self._rows is not None and b"[" not in block and not _may_hold_huge_integer(block):
            typed = self._typed(array, block)
            if typed is not None:
                return typed
        try:
            decoded = self._decoder.decode(array)
        except (msgspec.DecodeError, RecursionError):
            return None
        if set(map(type, decoded)) != {dict}:
            return None
        codes = np.frombuffer(block, np.uint8)
        newlines = np.flatnonzero(codes == _NEWLINE)[:-1]
        # A comma put inside a document ("[1\n2]", '{"a":1\n"b":2}') leaves fewer objects than
        # lines, unless the input joined two objects with a comma of its own ("{..},{..}").
        # Lines that all open an object leave only arrays to take such a comma.
        nested = b"[" in block
        if len(decoded) != len(newlines) + 1:
            return None
        if (nested or not np.all(codes[newlines + 1] == _OPEN_BRACE)) and _JOINED.search(block):
            return None
        huge = _may_hold_huge_integer(block)
        if not (huge or nested) and np.count_nonzero(codes == _OPEN_BRACE) == len(decoded):
            return Documents(decoded, 0)
        records = [record for record in (_checked(doc, huge) for doc in decoded) if record is not None]
        return Documents(records, len(decoded) - len(records))

    def _typed(self, array: bytes, block: bytes) -> Documents | None:
        """The rows of array (block's lines as a JSON array), or None to decode it as dicts.

        Rows stand for exactly the records the dict path gives, when that path would take
        every line as one record of its own: the decode succeeds only for objects of scalars
        with no field but the splitter's, the block holds no array and no huge integer (the
        caller checked), one brace a line means no brace in a string either, and the lines
        are as many as the objects.
        """
        assert self._rows is not None
        try:
            decoded = self._rows.decode(array)
        except (msgspec.DecodeError, RecursionError):
            return None
        codes = np.frombuffer(block, np.uint8)
        newlines = np.flatnonzero(codes == _NEWLINE)
        lines = len(newlines)
        if len(decoded) != lines or np.count_nonzero(codes == _OPEN_BRACE) != lines:
            return None
        if not np.all(codes[newlines[:-1] + 1] == _OPEN_BRACE):  # a line that is not an object's start
            return None
        return Documents([], 0, decoded)

    def _record(self, document: Buffer | None) -> Record | None:
        if document is None:
            return None
        try:
            decoded = self._decoder.decode(document)
        except (msgspec.DecodeError, RecursionError):
            return None
        return _checked(decoded, _may_hold_huge_integer(document))


class _Scanner:
    """Finds where documents start and end in a byte stream cut into chunks.

    Its state carries over from chunk to chunk, so that every byte is scanned once however
    the stream is cut. Outside documents, whitespace separates them; a stray closing bracket is
    a malformed document, and so is anything else, with the rest of its line. Inside one, only
    strings and brackets matter: the document ends when its brackets balance, and is malformed
    when a string in it meets a newline (scanning resumes on the next line). Brackets are
    counted, not paired, and syntax is left to the decoder.

    Args:
        max_document_bytes: a document longer than this raises ChunkTooLarge.
        take: called with each complete document as it is found, or None for one too deep
            to keep.
    """

    def __init__(self, max_document_bytes: int, take: Callable[[Buffer | None], None]) -> None:
        self.malformed = 0  # documents found malformed before decoding, for the caller to take
        self._take = take
        self._max_document_bytes = max_document_bytes
        self._depth = 0  # brackets open in the current document; 0 between documents
        self._in_string = False
        self._escaped = False  # the last chunk ended on a backslash in a string
        self._skipping = False  # the rest of a malformed line is skipped
        self._too_deep = False
        self._held = bytearray()  # the current document's bytes from earlier chunks
        self._size = 0  # and their count (also when too deep to keep them)
        self._start = 0  # where the current document starts in the chunk
        self._view = _NO_VIEW  # the chunk while it is scanned, to slice documents out without a copy

    @property
    def idle(self) -> bool:
        """Whether the scanner is between documents, at a line's start or after a document."""
        return not (self._depth or self._skipping)

    def scan(self, chunk: bytes, position: int, *, until_idle: bool) -> int:
        """Scan chunk from position on, to its end or, if until_idle, until idle.

        Returns:
            where the scan stopped.

        Raises:
            ChunkTooLarge: a document is over max_document_bytes.
        """
        end = len(chunk)
        self._start = 0
        self._view = memoryview(chunk)
        try:
            while position < end:
                if until_idle and self.idle:
                    return position
                if self._skipping:
                    position = self._skip_line(chunk, position)
                elif self._in_string:
                    position = self._string(chunk, position)
                elif self._depth:
                    position = self._document(chunk, position)
                else:
                    position = self._between(chunk, position)
            if self._depth:
                self._hold(end)
            return end
        finally:
            self._view = _NO_VIEW  # not to keep the chunk after the call

    def finish(self) -> int:
        """The malformed documents left at the stream's end: an unfinished one."""
        unfinished = int(self._depth > 0)
        self.reset()
        return unfinished

    def reset(self) -> None:
        """Forget the current document: back between documents."""
        self._depth = 0
        self._in_string = self._escaped = self._skipping = False
        self._held = bytearray()

    def _skip_line(self, chunk: bytes, position: int) -> int:
        newline = chunk.find(b"\n", position)
        if newline < 0:
            return len(chunk)
        self._skipping = False
        return newline + 1

    def _between(self, chunk: bytes, position: int) -> int:
        found = _NOT_WHITESPACE.search(chunk, position)
        if found is None:
            return len(chunk)
        at = found.start()
        if chunk[at] in _OPENING:
            self._start, self._size, self._too_deep = at, 0, False
            return self._document(chunk, at)
        stray = _STRAY_CLOSERS.match(chunk, at)
        if stray is not None:
            self.malformed += stray.group().count(b"}") + stray.group().count(b"]")
            return stray.end()
        self.malformed += 1
        self._skipping = True
        return at

    def _document(self, chunk: bytes, position: int) -> int:
        """Scan a document up to its end, a string left open or the chunk's end."""
        while True:
            run = _DOCUMENT.match(chunk, position)
            assert run is not None  # every part of the pattern may match nothing
            position = run.end()
            if run.lastindex == 1:
                self._depth += position - run.start(1)
                if self._depth > MAX_DEPTH and not self._too_deep:
                    self._too_deep = True
                    self._held = bytearray()
            elif run.lastindex == 2:
                closers = position - run.start(2)
                if closers >= self._depth:
                    # Closers beyond the document's last are stray ones, read between documents.
                    end = run.start(2) + self._depth
                    self._close(end)
                    return end
                self._depth -= closers
            elif position == len(chunk):
                return position
            else:
                self._in_string = True
                return position + 1

    def _string(self, chunk: bytes, position: int) -> int:
        if self._escaped:
            self._escaped = False
            if chunk[position] == _NEWLINE:
                return self._break(position)
            position += 1
        body = _STRING_REST.match(chunk, position)
        assert body is not None
        stop = body.end()
        if stop == len(chunk):
            return stop
        if chunk[stop] == _QUOTE:
            self._in_string = False
            return stop + 1
        if chunk[stop] == _BACKSLASH:
            if stop + 1 == len(chunk):
                self._escaped = True
                return len(chunk)
            stop += 1  # the only byte the body cannot take after a backslash: a newline
        return self._break(stop)

    def _break(self, newline: int) -> int:
        """A string met a newline: the document is malformed; scanning resumes after it."""
        self._check_size(self._size + newline - self._start)
        self.malformed += 1
        self._depth = 0
        self._in_string = False
        self._held = bytearray()
        return newline + 1

    def _close(self, end: int) -> None:
        self._check_size(self._size + end - self._start)
        self._depth = 0
        if self._too_deep:
            self._take(None)
        elif self._held:
            self._held += self._view[self._start : end]
            document, self._held = self._held, bytearray()
            self._take(document)
        else:
            self._take(self._view[self._start : end])

    def _hold(self, end: int) -> None:
        """Keep the unfinished document's part of chunk for the next one."""
        self._size += end - self._start
        self._check_size(self._size)
        if not self._too_deep:
            self._held += self._view[self._start : end]

    def _check_size(self, size: int) -> None:
        if size > self._max_document_bytes:
            self.reset()
            raise ChunkTooLarge(
                f"a document is over the limit of {self._max_document_bytes} bytes ({size} bytes "
                "read of it); split the data into smaller documents",
                limitBytes=str(self._max_document_bytes),
                sizeBytes=str(size),
            )


def _lines_within(body: bytes, limit: int) -> bool:
    """Whether no line of body is over limit bytes, in a few rfind calls per limit bytes."""
    start = 0
    while len(body) - start > limit:
        newline = body.rfind(b"\n", start, start + limit + 1)
        if newline < 0:
            return False
        start = newline + 1
    return True


def _may_hold_huge_integer(data: Buffer) -> bool:
    """Whether data holds a run of digits long enough for an integer beyond the largest float."""
    run = b"\x01" * (_HUGE_DIGITS // _SAMPLE_STRIDE)
    if len(data) < _HUGE_DIGITS or bytes(data[::_SAMPLE_STRIDE]).translate(_DIGIT_FLAGS).find(run) < 0:
        return False
    return bytes(data).translate(_DIGIT_FLAGS).find(b"\x01" * _HUGE_DIGITS) >= 0


def _checked(decoded: Any, check_integers: bool) -> Record | None:
    """The record of a decoded document, or None if it is no object, nests too deep or holds a huge integer."""
    if type(decoded) is not dict:
        return None
    record = flatten(decoded)
    if record is None or (check_integers and _holds_huge_integer(decoded)):
        return None
    return record


def flatten(document: dict[str, Any]) -> Record | None:
    """A document with nested objects flattened as Elasticsearch ML reads them.

    Nested keys join with ".", arrays become comma-joined strings of their scalars (objects
    and arrays inside them are skipped, but the field is present).

    Returns:
        the record, or None if the document nests deeper than MAX_DEPTH.
    """
    flat: Record = {}
    return flat if _flatten_into(flat, "", document, 1) else None


def _flatten_into(flat: Record, prefix: str, document: dict[str, Any], depth: int) -> bool:
    if depth > MAX_DEPTH:
        return False
    for key, value in document.items():
        name = prefix + key
        if type(value) is dict:
            if not _flatten_into(flat, name + ".", value, depth + 1):
                return False
        elif type(value) is list:
            if not _nests_within(value, MAX_DEPTH - depth):
                return False
            if any(type(item) in (dict, list) for item in value):
                # Elasticsearch reads such an array as a present field; its objects and
                # arrays hold no value for it, only its scalars do.
                flat[name] = _joined([item for item in value if type(item) not in (dict, list)])
            else:
                flat[name] = _joined(value)
        else:
            flat[name] = value
    return True


def _nests_within(container: dict[str, Any] | list[Any], levels: int) -> bool:
    """Whether container (an object or array) nests at most levels deep, itself included."""
    if levels < 1:
        return False
    children: Iterable[Any] = container.values() if type(container) is dict else container
    return all(_nests_within(child, levels - 1) for child in children if type(child) in (dict, list))


def _holds_huge_integer(value: Any) -> bool:
    """Whether value holds an integer no float can hold (its depth is known to be bounded)."""
    if type(value) is int:
        return not -sys.float_info.max <= value <= sys.float_info.max
    if type(value) is dict:
        return any(map(_holds_huge_integer, value.values()))
    if type(value) is list:
        return any(map(_holds_huge_integer, value))
    return False


def _joined(items: list[Any]) -> str:
    """The comma-joined text of scalars, a batch at a time.

    join lists every item's text first, some 60 bytes an item: 30 times the size of "1," in a
    document.
    """
    if len(items) <= _JOIN_BATCH:
        return ",".join(map(_scalar_text, items))
    batches = (",".join(map(_scalar_text, items[i : i + _JOIN_BATCH])) for i in range(0, len(items), _JOIN_BATCH))
    return ",".join(batches)


def _scalar_text(value: Any) -> str:
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)
