"""A compiled reader of NDJSON lines of flat objects straight into columns.

The usual upload is a chunk of whole lines, each one flat object holding a time, a few numbers
and a few strings. Decoding it into Python objects costs a dict or row a record and an object a
value; this reader scans the bytes once in compiled code instead, writes numbers and times into
arrays and interns each text field's values there, so that only a field's distinct strings
become Python objects.

It takes only what it reads exactly as the general path (msgspec and ingest's columns) does,
and gives up on anything else, which then goes that path: a field the job does not read, a key
twice in an object, nesting, a number it cannot convert exactly (over 18 digits of integer, or a
fraction beyond Clinger's exact fast path), a text field holding anything but a string, a
number field holding a string, a blank line, two strings that decode alike, or lines so short for
the job's fields that its arrays would take over 8 times the chunk's size (and 64 KiB).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import msgspec
import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.compiled import inline_kernel, kernel
from anomalyd.engine.hash_index import fnv1a, same_bytes

# How a field may be read: the kinds of value each mode takes; any other gives the chunk up.
NUMBERS = 1  # numbers, true, false and null (all but numbers read as NaN)
TEXT = 2  # strings
NEITHER = 3  # a field read both ways: only its absence is read the same by both

# Kinds of value, per field and record.
MISSING, INTEGER, FLOAT, STRING, OTHER = 0, 1, 2, 3, 4

Bytes = NDArray[np.uint8]
Columns = tuple[NDArray[np.int8], NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]  # kinds, numbers, integers, spans

_GIVE_UP = -1  # what a kernel returns instead of a position or count
_WHITESPACE = np.zeros(256, np.bool_)  # inside a line: JSON's whitespace but the newline
_WHITESPACE[[ord(" "), ord("\t"), ord("\r")]] = True
_EXACT_POWERS = np.array([10.0**k for k in range(23)])  # the powers of ten a float holds exactly
_EXACT_MANTISSA = 2**53
# The arrays take 45 bytes a field and record; a chunk of bench/ingest.py's records takes 2.3 times
# its size, one of "{}" lines for a job of 20 fields 300 times: that is left to the general path.
_BYTES_PER_VALUE = 45
_MAX_EXPANSION = 8
_SLACK_BYTES = 1 << 16  # so that a small chunk is never left to the general path for it
_INTEGER_DIGITS = 18  # always within int64
_TRUE, _FALSE, _NULL = (int.from_bytes(word, "little") for word in (b"true", b"false", b"null"))
_LITERAL_STARTS = (ord("t"), ord("f"), ord("n"))
_QUOTE, _BACKSLASH, _COMMA, _COLON, _OPEN, _CLOSE, _NEWLINE, _MINUS, _PLUS, _DOT, _ZERO, _E, _CAPITAL_E = b'"\\,:{}\n-+.0eE'


@dataclass(frozen=True, slots=True)
class FlatColumns:
    """The values of a chunk's records, field by field (the order of FlatLineReader's fields).

    Attributes:
        kinds: shape (fields, n), the kind of each value (MISSING, INTEGER, FLOAT, STRING,
            OTHER for true, false and null).
        numbers: shape (fields, n), float64; a number field's values, NaN where not a number.
        integers: shape (fields, n), int64; the integers of a number field (where INTEGER).
        codes: per field, shape (n,) int32 codes into its texts in the order of first
            appearance, -1 where absent; None for a number field.
        texts: per field, its distinct strings, with "" in the slot of an absence (the slot
            ingest's first-appearance dictionary gives it); None for a number field.
        empty_records: records with no field at all.
    """

    kinds: NDArray[np.int8]
    numbers: NDArray[np.float64]
    integers: NDArray[np.int64]
    codes: list[NDArray[np.int32] | None]
    texts: list[tuple[str, ...] | None]
    empty_records: int

    def __len__(self) -> int:
        return int(self.kinds.shape[1])


class FlatLineReader:
    """Reads chunks of whole NDJSON lines of flat objects of known fields into FlatColumns.

    Args:
        fields: the only keys an object may hold (their UTF-8 bytes are matched exactly).
        modes: per field, NUMBERS, TEXT or NEITHER.
    """

    def __init__(self, fields: tuple[str, ...], modes: tuple[int, ...]) -> None:
        keys = [f.encode() for f in fields]
        self._keys = np.frombuffer(b"".join(keys), np.uint8) if any(keys) else np.zeros(0, np.uint8)
        self._key_ends = np.cumsum([len(k) for k in keys], dtype=np.int64)
        self._modes = np.array(modes, np.int8)
        self._strings = msgspec.json.Decoder(list[str])

    def read(self, block: bytes) -> FlatColumns | None:
        """The columns of block's lines, or None when the general path must read them.

        Args:
            block: whole lines (it ends with a newline), none over the document limit.
        """
        data = np.frombuffer(block, np.uint8)
        lines = int(np.count_nonzero(data == _NEWLINE))  # vectorised: 8 us for 58 KB, bytes.count 38
        fields = len(self._modes)
        if lines * fields * _BYTES_PER_VALUE > _MAX_EXPANSION * len(block) + _SLACK_BYTES:
            return None  # short lines of a job of many fields: columns would take far more than the chunk
        kinds = np.zeros((fields, lines), np.int8)
        numbers = np.full((fields, lines), np.nan)
        integers = np.zeros((fields, lines), np.int64)
        spans = np.zeros((fields, lines, 2), np.int64)
        codes = np.full((fields, lines), -1, np.int32)
        firsts = np.zeros((fields, lines + 1), np.int64)  # the first record of each code
        counts = np.zeros(fields, np.int64)  # codes given
        absent_codes = np.full(fields, -1, np.int64)
        empty = _read_lines(data, self._keys, self._key_ends, self._modes, (kinds, numbers, integers, spans))
        if empty == _GIVE_UP:
            return None
        for f in np.flatnonzero(self._modes != NUMBERS).tolist():
            _intern(data, kinds[f], spans[f], codes[f], firsts[f], counts[f:], absent_codes[f:])
        field_codes: list[NDArray[np.int32] | None] = []
        field_texts: list[tuple[str, ...] | None] = []
        for f in range(fields):
            if self._modes[f] == NUMBERS:
                field_codes.append(None)
                field_texts.append(None)
                continue
            texts = self._texts(block, spans[f], firsts[f, : counts[f]], int(absent_codes[f]))
            if texts is None:
                return None
            field_codes.append(codes[f])
            field_texts.append(texts)
        return FlatColumns(kinds, numbers, integers, field_codes, field_texts, int(empty))

    def _texts(self, block: bytes, spans: NDArray[np.int64], firsts: NDArray[np.int64], absent_code: int) -> tuple[str, ...] | None:
        """A text field's distinct strings by code (msgspec decodes them), or None when two decode alike."""
        view = memoryview(block)
        quoted = [view[s:e] for s, e in spans[firsts].tolist()]
        if absent_code >= 0:
            quoted[absent_code] = view[0:0]
        try:
            texts = self._strings.decode(b'["' + b'","'.join(quoted) + b'"]')
        except msgspec.DecodeError:
            return None
        # Escapes can spell one string two ways ("a", "\u0061"); the general path gives it one code.
        strings = texts[:absent_code] + texts[absent_code + 1 :] if absent_code >= 0 else texts
        return tuple(texts) if len(set(strings)) == len(strings) else None


def warm_up() -> float:
    """Compile the kernels, or load them from the cache, before the first upload needs them (13 s compiled, 0.5 s loaded).

    Returns:
        The seconds it took.
    """
    began = time.perf_counter()
    FlatLineReader(("t", "s"), (NUMBERS, TEXT)).read(b'{"t": 1, "s": "a"}\n')
    return time.perf_counter() - began


@kernel
def _read_lines(data: Bytes, keys: Bytes, key_ends: NDArray[np.int64], modes: NDArray[np.int8], columns: Columns) -> int:
    """Read every line of data (one object each) into columns; the records without fields, or _GIVE_UP.

    The helpers take no output array and return scalars: an array passed to a kernel costs two
    atomic reference count updates, more than reading a value.
    """
    kinds, numbers, integers, spans = columns
    position = record = empty = 0
    while position < len(data):
        if record == kinds.shape[1]:  # never past the arrays (the caller counted the newlines)
            return _GIVE_UP
        position = _skip(data, position)
        if position >= len(data) or data[position] != _OPEN:
            return _GIVE_UP
        fields = 0
        position = _skip(data, position + 1)
        while fields or position >= len(data) or data[position] != _CLOSE:  # a field; {} has none
            key_end = _key_end(data, position)
            field = _key_index(data, position + 1, key_end, keys, key_ends)
            if field < 0 or kinds[field, record] != MISSING:  # unknown, or a second time
                return _GIVE_UP
            position = _skip(data, key_end + 1)
            if position >= len(data) or data[position] != _COLON:
                return _GIVE_UP
            position = _skip(data, position + 1)
            end, kind, number, integer = _value(data, position, modes[field])
            if end == _GIVE_UP:
                return _GIVE_UP
            kinds[field, record] = kind
            numbers[field, record] = number
            integers[field, record] = integer
            spans[field, record, 0] = position + 1  # a string's, without its quotes
            spans[field, record, 1] = end - 1
            fields += 1
            position = _skip(data, end)
            if position >= len(data) or data[position] not in (_COMMA, _CLOSE):
                return _GIVE_UP
            if data[position] == _CLOSE:
                break
            position = _skip(data, position + 1)
        position = _skip(data, position + 1)
        if position >= len(data) or data[position] != _NEWLINE:
            return _GIVE_UP
        position += 1
        empty += fields == 0
        record += 1
    return empty if record == kinds.shape[1] else _GIVE_UP


@inline_kernel
def _skip(data: Bytes, position: int) -> int:
    """The position of the first byte from position on that is not whitespace within a line."""
    while position < len(data) and _WHITESPACE[data[position]]:
        position += 1
    return position


@inline_kernel
def _key_end(data: Bytes, position: int) -> int:
    """The closing quote of the key at position, or _GIVE_UP (no key, or one with an escape or control byte)."""
    if position >= len(data) or data[position] != _QUOTE:
        return _GIVE_UP
    position += 1
    while position < len(data) and data[position] != _QUOTE:
        if data[position] == _BACKSLASH or data[position] < 32:
            return _GIVE_UP
        position += 1
    return position if position < len(data) else _GIVE_UP


@inline_kernel
def _key_index(data: Bytes, start: int, stop: int, keys: Bytes, key_ends: NDArray[np.int64]) -> int:
    """The index of the key data[start:stop] among keys (concatenated, ending at key_ends), or -1."""
    if stop < 0:
        return -1
    begin = 0
    for f in range(len(key_ends)):
        if same_bytes(data, start, stop, keys, begin, key_ends[f]):
            return f
        begin = key_ends[f]
    return -1


@inline_kernel
def _value(data: Bytes, position: int, mode: int) -> tuple[int, int, float, int]:
    """The value at position, read as mode allows: (its end or _GIVE_UP, kind, number, integer)."""
    if position >= len(data):
        return _GIVE_UP, MISSING, np.nan, 0
    if data[position] == _QUOTE:
        return (_string_end(data, position), STRING, np.nan, 0) if mode == TEXT else (_GIVE_UP, MISSING, np.nan, 0)
    if mode != NUMBERS:
        return _GIVE_UP, MISSING, np.nan, 0
    literal = _literal(data, position)
    if literal:
        return position + literal, OTHER, np.nan, 0
    return _number(data, position)


@inline_kernel
def _string_end(data: Bytes, position: int) -> int:
    """The position after the string at position, or _GIVE_UP; msgspec decodes it later, once per distinct value."""
    position += 1
    while position < len(data) and data[position] != _QUOTE:
        if data[position] < 32:
            return _GIVE_UP
        position += 2 if data[position] == _BACKSLASH else 1
    return position + 1 if position < len(data) else _GIVE_UP


@inline_kernel
def _literal(data: Bytes, position: int) -> int:
    """The length of the true, false or null at position, or 0 (its bytes compared as one little-endian word)."""
    if data[position] not in _LITERAL_STARTS:
        return 0
    word = 0
    for i in range(min(5, len(data) - position)):
        word |= int(data[position + i]) << (8 * i)
    if word & 0xFFFFFFFF in (_TRUE, _NULL):
        return 4
    return 5 if word == _FALSE else 0


@inline_kernel
def _digits(data: Bytes, position: int) -> int:
    """The position after the decimal digits from position on."""
    while position < len(data) and _ZERO <= data[position] <= _ZERO + 9:
        position += 1
    return position


@inline_kernel
def _number(data: Bytes, position: int) -> tuple[int, int, float, int]:
    """The JSON number at position read exactly: (its end or _GIVE_UP, INTEGER or FLOAT, its float, an integer's int64)."""
    negative = data[position] == _MINUS
    start = position + negative
    end = _digits(data, start)
    if end == start or end - start > _INTEGER_DIGITS or (data[start] == _ZERO and end - start > 1):
        return _GIVE_UP, MISSING, np.nan, 0  # no digits, too many, or a leading zero
    mantissa = 0
    for i in range(start, end):
        mantissa = mantissa * 10 + (data[i] - _ZERO)
    exponent = 0
    integral = True
    if end < len(data) and data[end] == _DOT:
        start, end = end + 1, _digits(data, end + 1)
        if end == start:
            return _GIVE_UP, MISSING, np.nan, 0
        for i in range(start, end):
            if mantissa >= _EXACT_MANTISSA // 10:
                return _GIVE_UP, MISSING, np.nan, 0
            mantissa = mantissa * 10 + (data[i] - _ZERO)
        exponent -= end - start
        integral = False
    if end < len(data) and data[end] in (_E, _CAPITAL_E):
        sign = -1 if end + 1 < len(data) and data[end + 1] == _MINUS else 1
        start = end + 1 + (end + 1 < len(data) and data[end + 1] in (_PLUS, _MINUS))
        end = _digits(data, start)
        if end == start or end - start > 3:
            return _GIVE_UP, MISSING, np.nan, 0
        written = 0
        for i in range(start, end):
            written = written * 10 + (data[i] - _ZERO)
        exponent += sign * written
        integral = False
    if integral:  # "-0" is the integer 0: the sign goes on before the conversion
        integer = -mantissa if negative else mantissa
        return end, INTEGER, float(integer), integer
    # Clinger's fast path: an exact mantissa scaled by an exact power of ten, rounded once.
    if mantissa > _EXACT_MANTISSA or not -22 <= exponent <= 22:
        return _GIVE_UP, MISSING, np.nan, 0
    value = mantissa * _EXACT_POWERS[exponent] if exponent >= 0 else mantissa / _EXACT_POWERS[-exponent]
    return end, FLOAT, -value if negative else value, 0  # "-0.0" is -0.0


@kernel
def _intern(
    data: Bytes, kinds: NDArray[np.int8], spans: NDArray[np.int64], codes: NDArray[np.int32],
    firsts: NDArray[np.int64], count: NDArray[np.int64], absent_code: NDArray[np.int64],
) -> None:
    """Give a text field's values codes in the order of first appearance, an absence taking one too.

    Args:
        data: the chunk's bytes.
        kinds: shape (n,), the field's kinds of value.
        spans: shape (n, 2), where each string lies in data (without its quotes).
        codes: shape (n,), filled with each present value's code.
        firsts: shape (n + 1,), filled with the first record of each code.
        count: its first item counts the codes given.
        absent_code: its first item becomes the absence's code.
    """
    size = 1
    while size < 2 * len(kinds) + 2:
        size *= 2
    table = np.full(size, -1, np.int64)  # open addressing on the FNV-1a hash of the bytes
    for record in range(len(kinds)):
        if kinds[record] == MISSING:
            if absent_code[0] < 0:
                absent_code[0] = count[0]
                firsts[count[0]] = record
                count[0] += 1
            continue
        start, stop = spans[record, 0], spans[record, 1]
        slot = np.int64(fnv1a(data, start, stop) & np.uint64(size - 1))
        while True:
            code = table[slot]
            if code < 0:
                code = table[slot] = count[0]
                firsts[code] = record
                count[0] += 1
                break
            first = firsts[code]
            if kinds[first] == STRING and same_bytes(data, start, stop, data, spans[first, 0], spans[first, 1]):
                break
            slot = (slot + 1) & (size - 1)
        codes[record] = code

