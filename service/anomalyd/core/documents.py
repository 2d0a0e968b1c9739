"""Splits a stream of JSON documents, cut into chunks at any byte, into flat records.

The input is JSON objects side by side or separated by whitespace (NDJSON is one such form),
as Elasticsearch's post-data API takes it. Newline-delimited chunks take a fast path that
decodes a whole chunk with one msgspec call; anything else goes through a tokenizer that
finds each document's extent, so that a malformed document costs only itself.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from anomalyd.core.errors import ChunkTooLarge

Record = dict[str, Any]

# Deeper than any real document (Elasticsearch refuses mappings deeper than 20 objects) and far
# below Python's recursion limit of 1000, which msgspec and flatten count against.
MAX_DEPTH = 100

# A JSON string cannot hold a raw newline, so an unterminated one ends at the line's end.
_TOKENS = re.compile(rb'"(?:[^"\\\n]|\\.)*"|[{}\[\]]|"|[^\s"{}\[\]]+')
_WHITESPACE = b" \t\r\n"

# An integer beyond the largest float has at least 309 digits, so every 20th byte of it is a
# digit 15 times in a row: a sample of 1/20 of the bytes rules such integers out.
_HUGE_DIGITS = len(str(int(sys.float_info.max)))
_SAMPLE_STRIDE = 20
_DIGIT_FLAGS = bytes(0x30 <= byte <= 0x39 for byte in range(256))


@dataclass(slots=True)
class Documents:
    """The records of one chunk.

    Attributes:
        records: flat records (nested objects flattened to "a.b", arrays of scalars joined
            with commas, arrays of objects dropped; null stays None, read later as "").
        malformed: documents that could not be parsed, were not objects, nested deeper than
            MAX_DEPTH or held an integer beyond the largest float.
    """

    records: list[Record]
    malformed: int


class DocumentSplitter:
    """Turns the chunks of one upload into records, carrying a split document over.

    Args:
        max_document_bytes: the largest single document accepted; a longer one fails the
            upload with ChunkTooLarge instead of growing the buffer without bound.
    """

    def __init__(self, *, max_document_bytes: int) -> None:
        self._pending = b""
        self._max_document_bytes = max_document_bytes
        self._decoder = msgspec.json.Decoder()

    def feed(self, chunk: bytes) -> Documents:
        """The complete documents once chunk is appended to what was pending."""
        buffer = self._pending + chunk if self._pending else chunk
        end = buffer.rfind(b"\n") + 1
        documents = self._fast(buffer[:end]) if end else None
        if documents is None:
            documents, end = self._tokenize(buffer, final=False)
        self._pending = buffer[end:]
        if len(self._pending) > self._max_document_bytes:
            size = len(self._pending)
            self._pending = b""
            raise ChunkTooLarge(
                f"a document is over {self._max_document_bytes} bytes (at least {size} bytes "
                "without its end); split the data into smaller documents",
                limitBytes=str(self._max_document_bytes),
            )
        return documents

    def finish(self) -> Documents:
        """The documents left when the upload ends; an unfinished one is malformed."""
        documents, _ = self._tokenize(self._pending, final=True)
        self._pending = b""
        return documents

    def _fast(self, lines: bytes) -> Documents | None:
        """All records of a newline-delimited block, or None if it needs the tokenizer."""
        body = lines.strip(_WHITESPACE)
        if not body:
            return Documents([], 0)
        try:
            decoded = self._decoder.decode(b"[" + body.replace(b"\n", b",") + b"]")
        except (msgspec.DecodeError, RecursionError):
            return None
        # The join turns "1\n2" into [1,2] and "{..} {..}" fails above; non-objects go slow.
        if set(map(type, decoded)) != {dict}:
            return None
        huge = _may_hold_huge_integer(body)
        if not huge and body.count(b"{") == len(decoded) and b"[" not in body:
            return Documents(decoded, 0)
        records = [record for record in (_checked(doc, huge) for doc in decoded) if record is not None]
        return Documents(records, len(decoded) - len(records))

    def _tokenize(self, buffer: bytes, *, final: bool) -> tuple[Documents, int]:
        """The documents of buffer and the offset up to which it was consumed."""
        records: list[Record] = []
        malformed = 0
        depth = 0
        start = -1
        broken_line = -1
        position = 0
        for match in _TOKENS.finditer(buffer):
            token = match.group()
            offset = match.start()
            if offset < broken_line:
                continue
            if token in (b"{", b"["):
                if depth == 0:
                    start = offset
                depth += 1
            elif token in (b"}", b"]"):
                depth -= 1
                if depth == 0:
                    record = self._decode(buffer[start : match.end()])
                    if record is None:
                        malformed += 1
                    else:
                        records.append(record)
                    position = match.end()
                elif depth < 0:
                    depth = 0
                    malformed += 1
                    position = match.end()
            elif depth == 0 or token == b'"':
                # A scalar at top level, or a string left open: resync at the next line, once
                # the line is complete (the string may just be cut by the chunk boundary).
                newline = buffer.find(b"\n", offset)
                if newline < 0 and not final:
                    return Documents(records, malformed), start if depth > 0 else offset
                malformed += 1
                depth = 0
                if newline < 0:
                    return Documents(records, malformed), len(buffer)
                broken_line = position = newline + 1
        if depth > 0:
            if final:
                return Documents(records, malformed + 1), len(buffer)
            return Documents(records, malformed), start
        return Documents(records, malformed), position if not final else len(buffer)

    def _decode(self, document: bytes) -> Record | None:
        try:
            decoded = self._decoder.decode(document)
        except (msgspec.DecodeError, RecursionError):
            return None
        return _checked(decoded, _may_hold_huge_integer(document))


def _may_hold_huge_integer(data: bytes) -> bool:
    """Whether data holds a run of digits long enough for an integer beyond the largest float."""
    run = b"\x01" * (_HUGE_DIGITS // _SAMPLE_STRIDE)
    if len(data) < _HUGE_DIGITS or data[::_SAMPLE_STRIDE].translate(_DIGIT_FLAGS).find(run) < 0:
        return False
    return data.translate(_DIGIT_FLAGS).find(b"\x01" * _HUGE_DIGITS) >= 0


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

    Nested keys join with ".", arrays of scalars become comma-joined strings and arrays
    holding objects are dropped.

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
            if not any(type(item) in (dict, list) for item in value):
                flat[name] = ",".join(_scalar_text(item) for item in value)
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


def _scalar_text(value: Any) -> str:
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)
