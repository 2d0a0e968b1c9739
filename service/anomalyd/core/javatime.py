"""Java DateTimeFormatter patterns, read as Elasticsearch ML reads record times.

Elasticsearch (DateTimeFormatterTimestampConverter) builds
``new DateTimeFormatterBuilder().parseLenient().appendPattern(p).parseDefaulting(YEAR_OF_ERA,
<this year in UTC>).toFormatter(Locale.ROOT)`` and resolves what it parses with java.time's
SMART resolver; a time without a zone or offset is UTC. At job creation it formats epoch 0 with
the pattern and parses the text back: a pattern that does not give a date and a time of day
(and an instant, when it has a zone) is refused.

A pattern is compiled once into one anchored regular expression with a capturing group per
field, which behaves as java.time's parser does: no backtracking between fields (atomic groups
and possessive repeats), lenient widths (1 to 9 digits for a field that is not fixed by an
adjacent one), adjacent numbers split by the widths of the fixed ones that follow (so
``yyyyMMddHHmmss`` reads), text fields that also take their number. A column of matches is
then resolved with numpy: a default year, day-of-month clamping (Feb 30 is Feb 28), 24:00 as
the next midnight, cross-checks of repeated or derived fields (a day name must match the date),
offsets and zones.

Supported pattern letters (Locale.ROOT, so English names):

=========  ==============================================================================
G          era: AD, BC (also CE, BCE, Anno Domini, Before Christ)
y, u       year (yy: 2000-2099 when two digits are given, as java.time's base year 2000)
M, L       month: M/MM a number, MMM/MMMM a name (Jan, January; either is read)
d          day of month
D          day of year
E          day of week (Mon, Monday): must match the date
a          AM or PM, with h (1-12) or K (0-11)
H, k       hour of day (0-23), clock hour of day (1-24)
m, s       minute, second
S...       fraction of a second, 1 to 9 letters; milliseconds are kept, the rest truncated
X, x, Z    offsets: X +HHmm/Z, XX +HHMM/Z, XXX +HH:MM/Z, x... the same with +00 for zero,
           Z/ZZ/ZZZ +HHMM, ZZZZ GMT+HH:MM, ZZZZZ +HH:MM:ss/Z; O GMT+H, OOOO GMT+HH:MM
z          zone: UTC, GMT, UT, Z, an offset, a region id (Europe/London) or an
           abbreviation of java.time's ZoneId.SHORT_IDS (EST, PST, CET...) or its daylight
           twin (PDT, CEST...); region rules decide daylight time
VV         zone id: a region id, UTC, GMT, UT, Z or an offset
'text'     literal text ('' is a quote); [ ] an optional section
=========  ==============================================================================

Other letters (week fields, quarters, nano-of-day...) and narrow names (MMMMM) are refused.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anomalyd.bucket_time import DAY_MS

Int64s = NDArray[np.int64]
Bools = NDArray[np.bool_]
Zone = int | zoneinfo.ZoneInfo  # a fixed offset in seconds, or a region's rules

# The instants a protobuf Timestamp can carry: 0001-01-01 to 9999-12-31T23:59:59.999Z.
MIN_EPOCH_MS = -62135596800000
MAX_EPOCH_MS = 253402300799999
_EPOCH = dt.datetime(1970, 1, 1)
_ONE_MS = dt.timedelta(milliseconds=1)
_MAX_OFFSET_S = 18 * 3600  # ZoneOffset's range
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_NAMES: dict[str, dict[str, int]] = {
    "month": {**{m: i for i, m in enumerate(_MONTHS, 1)}, **{m[:3]: i for i, m in enumerate(_MONTHS, 1)}},
    "day_of_week": {**{d: i for i, d in enumerate(_DAYS, 1)}, **{d[:3]: i for i, d in enumerate(_DAYS, 1)}},
    "ampm": {"AM": 0, "PM": 1},
    "era": {"AD": 1, "BC": 0, "CE": 1, "BCE": 0, "Anno Domini": 1, "Before Christ": 0},
}

# java.time's ZoneId.SHORT_IDS, and the daylight-time abbreviations of the same regions.
_ABBREVIATIONS: dict[str, str | int] = {
    "EST": -5 * 3600, "MST": -7 * 3600, "HST": -10 * 3600,
    "ACT": "Australia/Darwin", "AET": "Australia/Sydney", "AGT": "America/Argentina/Buenos_Aires",
    "ART": "Africa/Cairo", "AST": "America/Anchorage", "BET": "America/Sao_Paulo", "BST": "Asia/Dhaka",
    "CAT": "Africa/Harare", "CNT": "America/St_Johns", "CST": "America/Chicago", "CTT": "Asia/Shanghai",
    "EAT": "Africa/Addis_Ababa", "ECT": "Europe/Paris", "IET": "America/Indiana/Indianapolis",
    "IST": "Asia/Kolkata", "JST": "Asia/Tokyo", "MIT": "Pacific/Apia", "NET": "Asia/Yerevan",
    "NST": "Pacific/Auckland", "PLT": "Asia/Karachi", "PNT": "America/Phoenix", "PRT": "America/Puerto_Rico",
    "PST": "America/Los_Angeles", "SST": "Pacific/Guadalcanal", "VST": "Asia/Ho_Chi_Minh",
    "PDT": "America/Los_Angeles", "MDT": "America/Denver", "CDT": "America/Chicago", "EDT": "America/New_York",
    "AKST": "America/Anchorage", "AKDT": "America/Anchorage", "CEST": "Europe/Paris", "EEST": "Europe/Athens",
    "WEST": "Europe/Lisbon",
}
_UTC_NAMES = frozenset({"Z", "UTC", "GMT", "UT"})
_OFFSET_ID = re.compile(r"(?:UTC|GMT|UT)?([+-])([0-9]{1,2})(?::?([0-9]{2})(?::?([0-9]{2}))?)?")

# The letters java.time knows and anomalyd does not read, with what they mean.
_UNSUPPORTED = {
    "Q": "quarter", "q": "quarter", "Y": "week-based year", "w": "week of week-based year",
    "W": "week of month", "e": "localized day of week", "c": "localized day of week",
    "F": "aligned week of month", "g": "modified Julian day", "n": "nano of second",
    "N": "nano of day", "A": "milli of day", "v": "generic zone name", "B": "day period", "p": "pad",
}
# Offset patterns of DateTimeFormatterBuilder.appendOffset by letter and count, with the text of
# a zero offset; their index in java.time's list decides which parts are printed.
_OFFSET_PATTERNS = ("+HH", "+HHmm", "+HH:mm", "+HHMM", "+HH:MM", "+HHMMss", "+HH:MM:ss")
_OFFSETS = {
    ("X", 1): ("+HHmm", "Z"), ("X", 2): ("+HHMM", "Z"), ("X", 3): ("+HH:MM", "Z"),
    ("X", 4): ("+HHMMss", "Z"), ("X", 5): ("+HH:MM:ss", "Z"),
    ("x", 1): ("+HHmm", "+00"), ("x", 2): ("+HHMM", "+0000"), ("x", 3): ("+HH:MM", "+00:00"),
    ("x", 4): ("+HHMMss", "+0000"), ("x", 5): ("+HH:MM:ss", "+00:00"),
    ("Z", 1): ("+HHMM", "+0000"), ("Z", 2): ("+HHMM", "+0000"), ("Z", 3): ("+HHMM", "+0000"),
    ("Z", 5): ("+HH:MM:ss", "Z"),
}


@dataclass
class _Element:
    """One printer-parser of a pattern: a literal, a field, or an optional section's bounds.

    Attributes:
        kind: "literal", "[", "]", or the field read: year_of_era, year, era, month,
            day_of_month, day_of_year, day_of_week, ampm, hour_of_day, clock_hour_of_day,
            hour_of_ampm, clock_hour_of_ampm, minute, second, nano, offset or zone.
        letter: the pattern letter, count: how many times it was repeated.
        text: a literal's text.
        numeric: "number", "reduced" (yy) or "fraction" (S) for a field read as digits.
        min_width, max_width, not_negative: java.time's NumberPrinterParser widths and whether
            its sign style is NOT_NEGATIVE (which, with equal widths, lets it join a run of
            adjacent numbers as a fixed-width field).
        subsequent: the digits of the fixed-width fields that follow this one without a
            separator (adjacent value parsing); -1 once this field is itself fixed.
        optional: the field is in an optional section, so a match may lack it.
    """

    kind: str
    letter: str = ""
    count: int = 0
    text: str = ""
    numeric: str = ""
    min_width: int = 0
    max_width: int = 0
    not_negative: bool = False
    subsequent: int = 0
    optional: bool = False


class JavaPattern:
    """A Java DateTimeFormatter pattern compiled for reading columns of record times.

    Args:
        pattern: the pattern, such as ``yyyy-MM-dd'T'HH:mm:ss.SSSXXX``.

    Raises:
        ValueError: the pattern is malformed, uses a letter anomalyd does not read, or cannot
            yield a date and time (Elasticsearch: "Timestamp cannot be derived from pattern").

    >>> JavaPattern("dd/MMM/yyyy:HH:mm:ss Z").parse(["10/Oct/2000:13:55:36 -0700", "x"])[0].tolist()
    [971211336000, 0]
    """

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._elements = _elements(pattern)
        self._fields = [e for e in self._elements if e.kind not in ("literal", "[", "]")]
        self._kinds = {e.kind for e in self._fields}
        source = "".join(_regex(e) for e in self._elements) + ")?)" * _open_sections(self._elements)
        self._regex = re.compile(source)
        # Without optional sections every field of a match is non-empty text (a fraction may
        # have no digits), so one findall over the values joined by newlines reads a column:
        # a row whose first non-fraction field is empty did not match.
        self._column_regex = None
        self._hit = next((i for i, e in enumerate(self._fields) if e.kind != "nano"), 0)
        if len(self._fields) > 1 and not any(e.optional for e in self._fields) and not re.search("[\n\r]", pattern):
            self._column_regex = re.compile(f"(?m)^(?:{source}|[^\n]*)$")
        self._zone_names = any(e.letter == "z" for e in self._fields)
        epoch = self.format(dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
        if self.parse([epoch])[1][0]:
            raise ValueError(
                f"Timestamp cannot be derived from pattern {pattern!r}: epoch 0 written in it ({epoch!r}) does not "
                "read back as a date (month and day, or day of year) and a time of day (an hour, minutes before "
                "seconds, AM/PM with a 12-hour clock)"
            )

    def parse(self, values: Sequence[Any]) -> tuple[Int64s, Bools]:
        """Epoch milliseconds of values, with the mask of those that are missing or unreadable.

        A value is read if it is a string (or an integer, read as its digits, as Elasticsearch
        reads a JSON number's text); anything else, and any string the pattern does not take,
        is an invalid date. Never raises for any value.

        Returns:
            millis: shape (n,), 0 where invalid; invalid: shape (n,).
        """
        n = len(values)
        millis = np.zeros(n, dtype=np.int64)
        invalid = np.ones(n, dtype=np.bool_)
        rows, where = self._matches(values)
        if rows:
            resolved, ok = self._resolve(rows, dt.datetime.now(dt.UTC).year)
            index = np.asarray(where, dtype=np.intp)
            millis[index] = np.where(ok, resolved, 0)
            invalid[index] = ~ok
        return millis, invalid

    def _matches(self, values: Sequence[Any]) -> tuple[list[tuple[str | None, ...]], list[int]]:
        """The groups of the values the pattern matches, and their positions.

        A field of an optional section that was skipped is None.
        """
        if self._column_regex is not None:
            try:
                joined = "\n".join(values)
            except TypeError:  # not all strings
                joined = "\n".join(v if type(v) is str else str(v) if type(v) is int else "" for v in values)
            if joined.count("\n") == len(values) - 1:  # no value holds a newline of its own
                found: list[tuple[str, ...]] = self._column_regex.findall(joined)
                hit = self._hit
                where = [i for i, row in enumerate(found) if row[hit]]
                return [found[i] for i in where], where
        match = self._regex.fullmatch
        rows: list[tuple[str | None, ...]] = []
        where = []
        for i, value in enumerate(values):
            if type(value) is not str:
                if type(value) is not int:
                    continue
                value = str(value)
            found_one = match(value)
            if found_one is not None:
                rows.append(found_one.groups())
                where.append(i)
        return rows, where

    def format(self, moment: dt.datetime) -> str:
        """The text of an aware datetime in this pattern, as java.time prints it (zones by id)."""
        return "".join(_format(e, moment) for e in self._elements)

    def _resolve(self, rows: list[tuple[str | None, ...]], this_year: int) -> tuple[Int64s, Bools]:
        """The instants of matched rows (epoch ms) and which of them java.time would resolve."""
        n = len(rows)
        ok = np.ones(n, dtype=np.bool_)
        fields: dict[str, tuple[Int64s, Bools]] = {}
        zones: list[Zone | None] = [None] * n
        for element, column in zip(self._fields, zip(*rows, strict=False), strict=True):
            if element.kind == "zone":
                zones = self._zones(column, zones, ok)
                continue
            values, present = _convert(element, column, ok)
            if element.kind in fields:  # a field given twice must agree (java.time's setParsedField)
                before, had = fields[element.kind]
                ok &= ~(had & present) | (before == values)
                values, present = np.where(had, before, values), had | present
            fields[element.kind] = (values, present)
        zero, absent = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.bool_)

        def field(kind: str) -> tuple[Int64s, Bools]:
            return fields.get(kind, (zero, absent))

        years = _years(field, ok, this_year)
        days = self._days(field, years, ok)
        hours, extra_day = _hours(field, ok)
        minute, minute_p = field("minute")
        second, second_p = field("second")
        nano, nano_p = field("nano")
        # java.time's resolveTimeLenient: a missing minute or second defaults to 0 only if no
        # smaller unit is given.
        ok &= (minute_p | ~(second_p | nano_p)) & (second_p | ~nano_p)
        ok &= (minute <= 59) & (second <= 59)
        local = (
            (days + extra_day) * DAY_MS
            + hours * 3_600_000
            + np.minimum(minute, 59) * 60_000
            + np.minimum(second, 59) * 1000
            + nano // 1_000_000
        )
        offset, offset_p = field("offset")
        utc = local - offset * 1000
        zone_p = np.fromiter((z is not None for z in zones), dtype=np.bool_, count=n)
        for i in np.flatnonzero(ok & zone_p & ~offset_p):  # an offset wins over a zone, as in java.time
            zone = zones[i]
            zone_offset_ms = None if zone is None else _zone_offset_ms(zone, int(local[i]))
            if zone_offset_ms is None:
                ok[i] = False
            else:
                utc[i] = local[i] - zone_offset_ms
        if "offset" in self._kinds or "zone" in self._kinds:
            ok &= offset_p | zone_p  # Elasticsearch reads every value as an Instant then
        ok &= (utc >= MIN_EPOCH_MS) & (utc <= MAX_EPOCH_MS)
        return utc, ok

    def _days(self, field: Callable[[str], tuple[Int64s, Bools]], years: Int64s, ok: Bools) -> Int64s:
        """Days since the epoch of each row's date; ok loses rows without a valid date."""
        month, month_p = field("month")
        dom, dom_p = field("day_of_month")
        doy, doy_p = field("day_of_year")
        leap = (years % 4 == 0) & ((years % 100 != 0) | (years % 400 == 0))
        ok &= (month >= 1) & (month <= 12) | ~month_p
        ok &= (dom >= 1) & (dom <= 31) | ~dom_p
        ok &= (doy >= 1) & (doy <= 365 + leap) | ~doy_p
        by_month = month_p & dom_p
        ok &= by_month | doy_p
        m = np.clip(month, 1, 12)
        # The SMART resolver moves a day past the month's end (but not past 31) to its last day.
        last = _MONTH_DAYS[m - 1] + ((m == 2) & leap)
        days = np.where(
            by_month,
            _days_from_civil(years, m, np.minimum(np.clip(dom, 1, 31), last)),
            _days_from_civil(years, np.ones_like(m), np.ones_like(m)) + np.clip(doy, 1, 366) - 1,
        )
        if "day_of_year" in self._kinds and ({"month", "day_of_month"} & self._kinds):
            y, mm, dd = _civil_from_days(days)
            ordinal = days - _days_from_civil(y, np.ones_like(mm), np.ones_like(mm)) + 1
            ok &= ~(by_month & doy_p) | (ordinal == doy)
            ok &= by_month | ~month_p | (mm == month)
            ok &= by_month | ~dom_p | (dd == dom)
        dow, dow_p = field("day_of_week")
        ok &= ~dow_p | ((days + 3) % 7 + 1 == dow)  # 1970-01-01 was a Thursday (ISO day 4)
        return days

    def _zones(self, column: tuple[str | None, ...], zones: list[Zone | None], ok: Bools) -> list[Zone | None]:
        """Each row's zone (the last one given wins, as in java.time); ok loses unknown ones."""
        found = list(zones)
        for i, text in enumerate(column):
            if text is not None:
                zone = _zone(text, self._zone_names)
                if zone is None:
                    ok[i] = False
                else:
                    found[i] = zone
        return found


@functools.lru_cache(maxsize=64)
def compile_pattern(pattern: str) -> JavaPattern:
    """The compiled pattern, once per pattern (a job's uploads share it).

    Raises:
        ValueError: as JavaPattern does.
    """
    return JavaPattern(pattern)


def _elements(pattern: str) -> list[_Element]:
    """The printer-parsers of a pattern (DateTimeFormatterBuilder.appendPattern), widths set."""
    elements: list[_Element] = []
    depth = 0
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if "A" <= char <= "Z" or "a" <= char <= "z":
            count = 1
            while i + count < len(pattern) and pattern[i + count] == char:
                count += 1
            elements.append(_field(char, count))
            elements[-1].optional = depth > 0
            i += count
        elif char == "'":
            end = i + 1
            while end < len(pattern):
                if pattern[end] == "'":
                    if end + 1 < len(pattern) and pattern[end + 1] == "'":
                        end += 2
                        continue
                    break
                end += 1
            if end >= len(pattern):
                raise ValueError(f"pattern {pattern!r} ends with an incomplete string literal")
            text = pattern[i + 1 : end]
            elements.append(_Element("literal", text=text.replace("''", "'") if text else "'"))
            i = end + 1
        elif char == "[":
            depth += 1
            elements.append(_Element("["))
            i += 1
        elif char == "]":
            if depth == 0:
                raise ValueError(f"pattern {pattern!r} has ']' without a previous '['")
            depth -= 1
            elements.append(_Element("]"))
            i += 1
        elif char in "{}#":
            raise ValueError(f"pattern {pattern!r} uses the reserved character {char!r}")
        else:
            elements.append(_Element("literal", text=char))
            i += 1
    _join_adjacent(elements)
    return elements


def _field(letter: str, count: int) -> _Element:
    """The element of a run of one pattern letter, as DateTimeFormatterBuilder.parseField builds it."""

    def number(kind: str, low: int, high: int, *, not_negative: bool = True) -> _Element:
        return _Element(kind, letter, count, numeric="number", min_width=low, max_width=high, not_negative=not_negative)

    def too_many() -> ValueError:
        return ValueError(f"too many pattern letters: {letter * count!r}")

    if letter in ("y", "u"):
        kind = "year_of_era" if letter == "y" else "year"
        if count == 2:
            return _Element(kind, letter, count, numeric="reduced", min_width=2, max_width=2, not_negative=True)
        if count > 19:
            raise too_many()
        return number(kind, count, 19, not_negative=False)
    if letter in ("M", "L", "E", "G", "a"):
        kind = {"M": "month", "L": "month", "E": "day_of_week", "G": "era", "a": "ampm"}[letter]
        if (letter == "a" and count > 1) or count > 5:
            raise too_many()
        if letter in ("M", "L") and count <= 2:
            return number(kind, count, 2 if count == 2 else 19, not_negative=count == 2)
        if count == 5:
            raise ValueError(f"narrow names ({letter * 5!r}) are not supported")
        return _Element(kind, letter, count)
    simple = {"d": "day_of_month", "H": "hour_of_day", "k": "clock_hour_of_day", "K": "hour_of_ampm",
              "h": "clock_hour_of_ampm", "m": "minute", "s": "second"}
    if letter in simple:
        if count > 2:
            raise too_many()
        return number(simple[letter], count, 2 if count == 2 else 19, not_negative=count == 2)
    if letter == "D":
        if count > 3:
            raise too_many()
        return number("day_of_year", count, (19, 3, 3)[count - 1], not_negative=count > 1)
    if letter == "S":
        if count > 9:
            raise too_many()
        return _Element("nano", letter, count, numeric="fraction", min_width=count, max_width=count, not_negative=True)
    if letter in ("X", "x", "Z"):
        if count > 5:
            raise too_many()
        return _Element("offset", letter, count)
    if letter == "O":
        if count not in (1, 4):
            raise ValueError("pattern letter count must be 1 or 4: 'O'")
        return _Element("offset", letter, count)
    if letter == "z":
        if count > 4:
            raise too_many()
        return _Element("zone", letter, count)
    if letter == "V":
        if count != 2:
            raise ValueError("pattern letter count must be 2: 'V'")
        return _Element("zone", letter, count)
    if letter in _UNSUPPORTED:
        raise ValueError(f"pattern letter {letter!r} ({_UNSUPPORTED[letter]}) is not supported")
    raise ValueError(f"unknown pattern letter {letter!r}")


def _join_adjacent(elements: list[_Element]) -> None:
    """Set each number's subsequent width as DateTimeFormatterBuilder.appendValue does.

    A number right after another joins its run: a fixed-width one (equal widths, NOT_NEGATIVE)
    adds its width to the run's first number, which then leaves it those digits; any other
    fixes the first number's width and starts a new run. Anything else ends the run, and so
    does the start or end of an optional section.
    """
    active: list[int | None] = [None]
    for i, element in enumerate(elements):
        if element.kind == "[":
            active.append(None)
        elif element.kind == "]":
            active.pop()
            active[-1] = None
        elif not element.numeric:
            active[-1] = None
        elif (first := active[-1]) is None:
            active[-1] = i
        elif element.min_width == element.max_width and element.not_negative:
            elements[first].subsequent += element.max_width
            element.subsequent = -1
        else:
            elements[first].subsequent = -1
            active[-1] = i


def _open_sections(elements: list[_Element]) -> int:
    """Optional sections left open at the end of the pattern (java.time closes them)."""
    return sum(1 for e in elements if e.kind == "[") - sum(1 for e in elements if e.kind == "]")


def _regex(e: _Element) -> str:
    """The regular expression of one element; a field is one capturing group."""
    if e.kind == "literal":
        return re.escape(e.text)
    if e.kind == "[":
        return "(?>(?:"
    if e.kind == "]":
        return ")?)"
    if e.numeric:
        return f"({_digits(e)})"
    if e.kind in _NAMES:
        names = "|".join(re.escape(name) for name in sorted(_NAMES[e.kind], key=len, reverse=True))
        return f"((?>{names}|[0-9]{{1,9}}+))"  # lenient text also takes the field's number
    if e.kind == "zone":
        return r"((?>(?:UTC|GMT|UT)?[+-][0-9]{1,2}(?::?[0-9]{2}(?::?[0-9]{2})?)?|[A-Za-z][A-Za-z0-9_/+-]*+))"
    if e.letter == "O" or (e.letter == "Z" and e.count == 4):
        hours = "[0-9]{2}" if e.count == 4 else "[0-9]{1,2}"
        minutes = ":[0-9]{2}" if e.count == 4 else "(?::[0-9]{2}(?::[0-9]{2})?)?"
        seconds = "(?::[0-9]{2})?" if e.count == 4 else ""
        return f"((?>GMT(?:[+-]{hours}{minutes}{seconds})?))"
    pattern, zero = _OFFSETS[e.letter, e.count]
    colon = ":" if ":" in pattern else ""
    # Lenient: the hours are required, minutes and seconds optional; the text of a zero offset
    # is tried first, as java.time does (so "x" reads "+0000" as "+00" and then fails).
    return f"((?>{re.escape(zero)}|[+-][0-9]{{2}}(?:{colon}[0-9]{{2}}(?:{colon}[0-9]{{2}})?)?))"


def _digits(e: _Element) -> str:
    """The digits java.time's lenient parser takes for a number, given its run of adjacent ones."""
    if e.numeric == "fraction":
        return "[0-9]{0,9}+"  # never of fixed width when lenient
    fixed = e.numeric == "number" and (
        e.subsequent == -1 or (e.subsequent > 0 and e.min_width == e.max_width and e.not_negative)
    )
    low, high = (e.min_width, min(e.max_width, 18)) if fixed else (1, 9)
    if e.subsequent <= 0:
        return f"[0-9]{{{low},{high}}}+"
    # The first number of a run counts the digits (up to its width plus the run's), keeps all
    # but the run's for itself, and takes its minimum when too few are left.
    rest = e.subsequent
    return f"(?>(?=[0-9]{{{high + rest}}})[0-9]{{{high}}}|[0-9]{{{low},{high}}}(?=[0-9]{{{rest}}}(?![0-9]))|[0-9]{{{low}}})"


def _convert(e: _Element, column: tuple[str | None, ...], ok: Bools) -> tuple[Int64s, Bools]:
    """The values of one field's column (0 where absent) and where it is present."""
    n = len(column)
    if e.optional:
        present = np.fromiter((text is not None for text in column), dtype=np.bool_, count=n)
        texts: Sequence[str] = [text or "0" for text in column]
    else:
        present = np.ones(n, dtype=np.bool_)
        texts = column  # type: ignore[assignment]  # a field outside optional sections is always there
    if e.numeric == "number":
        return np.fromiter(map(int, texts), dtype=np.int64, count=n), present
    if e.numeric == "reduced":  # two digits are 2000-2099; any other count is the year itself
        values = np.fromiter(map(int, texts), dtype=np.int64, count=n)
        two = np.fromiter((len(text) == 2 for text in texts), dtype=np.bool_, count=n)
        return np.where(two & present, values + 2000, values), present
    if e.numeric == "fraction":
        return np.fromiter((int(text.ljust(9, "0")) for text in texts), dtype=np.int64, count=n), present
    if e.kind == "offset":
        seconds = list(map(_offset_seconds, texts))
        ok &= np.fromiter((s is not None for s in seconds), dtype=np.bool_, count=n) | ~present
        return np.fromiter((s or 0 for s in seconds), dtype=np.int64, count=n), present
    names = _NAMES[e.kind]
    return np.fromiter((names[t] if t in names else int(t) for t in texts), dtype=np.int64, count=n), present


def _years(field: Callable[[str], tuple[Int64s, Bools]], ok: Bools, this_year: int) -> Int64s:
    """Each row's proleptic year: y with its era, u, or this year when neither is given."""
    year_of_era, yoe_p = field("year_of_era")
    era, era_p = field("era")
    year, year_p = field("year")
    ok &= (year_of_era >= 1) | ~yoe_p
    ok &= (era <= 1) | ~era_p
    # parseDefaulting(YEAR_OF_ERA, this year); Elasticsearch also defaults it beside u, which
    # then conflicts with any other year, so that it refuses uuuu: anomalyd reads u as a year.
    of_era = np.where(yoe_p, year_of_era, this_year)
    of_era = np.where(era_p & (era == 0), 1 - of_era, of_era)
    years = np.where(year_p, year, of_era)
    ok &= ~(year_p & yoe_p) | (year == of_era)
    ok &= ~(year_p & era_p & ~yoe_p) | (era == (year >= 1))
    # Local years 0 and 10000 can still be instants of years 1 to 9999 with an offset.
    ok &= (years >= 0) & (years <= 10_000)
    return np.clip(years, 0, 10_000)


def _hours(field: Callable[[str], tuple[Int64s, Bools]], ok: Bools) -> tuple[Int64s, Int64s]:
    """Each row's hour of day and the extra day of 24:00; ok loses rows without a valid hour."""
    hour, hour_p = field("hour_of_day")
    clock, clock_p = field("clock_hour_of_day")
    of_ampm, of_ampm_p = field("hour_of_ampm")
    clock_ampm, clock_ampm_p = field("clock_hour_of_ampm")
    ampm, ampm_p = field("ampm")
    # SMART: a clock hour of 0 is let through as 0; 24 and 12 are the day's and the half's 0.
    ok &= ((clock <= 24) | ~clock_p) & ((clock_ampm <= 12) | ~clock_ampm_p)
    ok &= ((of_ampm <= 11) | ~of_ampm_p) & ((ampm <= 1) | ~ampm_p) & ((hour <= 24) | ~hour_p)
    from_clock = np.where(clock == 24, 0, clock)
    from_clock_ampm = np.where(clock_ampm == 12, 0, clock_ampm)
    ok &= ~(of_ampm_p & clock_ampm_p) | (of_ampm == from_clock_ampm)
    half_p = of_ampm_p | clock_ampm_p
    half = np.where(of_ampm_p, of_ampm, from_clock_ampm)
    from_half = ampm * 12 + half
    from_half_p = ampm_p & half_p
    day_p = hour_p | clock_p
    hours = np.where(hour_p, hour, np.where(clock_p, from_clock, from_half))
    ok &= ~(hour_p & clock_p) | (hour == from_clock)
    ok &= ~(day_p & from_half_p) | (hours == from_half)
    ok &= ~(day_p & ampm_p & ~half_p) | (ampm == (hours >= 12))
    ok &= ~(day_p & half_p & ~ampm_p) | (half == hours % 12)
    ok &= day_p | from_half_p
    # SMART: 24:00 (minutes, seconds and fraction zero) is the next day's midnight.
    minute, _ = field("minute")
    second, _ = field("second")
    nano, _ = field("nano")
    end_of_day = hour_p & (hour == 24)
    ok &= ~end_of_day | ((minute == 0) & (second == 0) & (nano == 0))
    return np.where(end_of_day, 0, np.minimum(hours, 23)), end_of_day.astype(np.int64)


def _days_from_civil(y: Int64s, m: Int64s, d: Int64s) -> Int64s:
    """Days since 1970-01-01 of proleptic Gregorian dates (Howard Hinnant's algorithm)."""
    y = y - (m <= 2)
    era = y // 400
    year_of_era = y - era * 400
    day_of_year = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days: Int64s = era * 146097 + day_of_era - 719468
    return days


def _civil_from_days(days: Int64s) -> tuple[Int64s, Int64s, Int64s]:
    """Year, month and day of days since 1970-01-01."""
    z = days + 719468
    era = z // 146097
    day_of_era = z - era * 146097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    mp = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    return year_of_era + era * 400 + (month <= 2), month, day


@functools.lru_cache(maxsize=4096)
def _offset_seconds(text: str) -> int | None:
    """The seconds of an offset's text ("Z", "+05:30", "GMT-8"), None beyond ±18:00."""
    if text in ("Z", "GMT"):
        return 0
    match = _OFFSET_ID.fullmatch(text)
    if match is None:
        return None
    sign, hours, minutes, seconds = match.groups()
    if int(hours) > 23 or int(minutes or 0) > 59 or int(seconds or 0) > 59:
        return None
    total = int(hours) * 3600 + int(minutes or 0) * 60 + int(seconds or 0)
    return None if total > _MAX_OFFSET_S else (-total if sign == "-" else total)


@functools.lru_cache(maxsize=1024)
def _zone(text: str, abbreviations: bool) -> Zone | None:
    """The zone a zone text names: a fixed offset in seconds or a region's rules; None if none."""
    if text in _UTC_NAMES:
        return 0
    if text[0] in "+-" or (text[:2] in ("UT", "GM") and any(c in text for c in "+-") and "/" not in text):
        return _offset_seconds(text)
    if abbreviations and text in _ABBREVIATIONS:
        named = _ABBREVIATIONS[text]
        return named if isinstance(named, int) else _region(named)
    return _region(text)


def _region(key: str) -> zoneinfo.ZoneInfo | None:
    if key not in _region_ids():
        return None
    try:
        return zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


@functools.cache
def _region_ids() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _zone_offset_ms(zone: Zone, local_ms: int) -> int | None:
    """The offset of a zone at a local time, in ms, as ZonedDateTime.ofLocal picks it.

    In a daylight-saving overlap the earlier (summer) offset; in a gap the offset before it,
    which moves the time forward by the gap's length. None if the local time is beyond years
    1 to 9999.
    """
    if isinstance(zone, int):
        return zone * 1000
    try:
        local = _EPOCH + dt.timedelta(milliseconds=local_ms)
        offset = local.replace(tzinfo=zone).utcoffset()
    except (OverflowError, ValueError):
        return None
    return None if offset is None else offset // _ONE_MS


def _format(e: _Element, moment: dt.datetime) -> str:
    """The text of one element for an aware datetime (java.time's printers, Locale.ROOT)."""
    if e.kind == "literal":
        return e.text
    if e.kind in ("[", "]"):
        return ""
    if e.kind in ("offset", "zone"):
        return _format_zone(e, moment)
    hour = moment.hour
    value = {
        "year_of_era": moment.year, "year": moment.year, "era": 1, "month": moment.month,
        "day_of_month": moment.day, "day_of_year": moment.timetuple().tm_yday,
        "day_of_week": moment.isoweekday(), "ampm": int(hour >= 12), "hour_of_day": hour,
        "clock_hour_of_day": hour or 24, "hour_of_ampm": hour % 12, "clock_hour_of_ampm": hour % 12 or 12,
        "minute": moment.minute, "second": moment.second, "nano": moment.microsecond * 1000,
    }[e.kind]
    if e.numeric == "fraction":
        return f"{value:09d}"[: e.count]
    if e.numeric == "reduced":
        return f"{value % 100:02d}"
    if e.numeric:
        return f"{value:0{e.min_width}d}"
    if e.kind == "month":
        return _MONTHS[value - 1] if e.count == 4 else _MONTHS[value - 1][:3]
    if e.kind == "day_of_week":
        return _DAYS[value - 1] if e.count == 4 else _DAYS[value - 1][:3]
    if e.kind == "era":
        return "Anno Domini" if e.count == 4 else "AD"
    return "PM" if value else "AM"


def _format_zone(e: _Element, moment: dt.datetime) -> str:
    offset = moment.utcoffset()
    total = 0 if offset is None else int(offset.total_seconds())
    sign = "-" if total < 0 else "+"
    hours, minutes, seconds = abs(total) // 3600, abs(total) // 60 % 60, abs(total) % 60
    if e.kind == "zone":
        if isinstance(moment.tzinfo, zoneinfo.ZoneInfo):
            return moment.tzinfo.key
        return "Z" if total == 0 else f"{sign}{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")
    if e.letter == "O" or (e.letter == "Z" and e.count == 4):
        if total == 0:
            return "GMT"
        if e.count == 4:
            return f"GMT{sign}{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")
        return f"GMT{sign}{hours}" + (f":{minutes:02d}" if minutes or seconds else "") + (f":{seconds:02d}" if seconds else "")
    pattern, zero = _OFFSETS[e.letter, e.count]
    if total == 0:
        return zero
    kind = _OFFSET_PATTERNS.index(pattern)
    colon = ":" if ":" in pattern else ""
    text = f"{sign}{hours:02d}"
    if kind >= 3 or minutes or (kind >= 5 and seconds):
        text += f"{colon}{minutes:02d}"
        if kind >= 5 and seconds:
            text += f"{colon}{seconds:02d}"
    return text
