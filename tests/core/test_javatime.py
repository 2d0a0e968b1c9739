"""Java DateTimeFormatter patterns read as Elasticsearch ML reads them (java.time, lenient, SMART)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from anomalyd.core.javatime import MAX_EPOCH_MS, JavaPattern

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
THIS_YEAR = dt.datetime.now(dt.UTC).year


def ms(*args: int, tz: dt.tzinfo = dt.UTC) -> int:
    return (dt.datetime(*args, tzinfo=tz) - EPOCH) // dt.timedelta(milliseconds=1)


def read(pattern: str, *values: object) -> list[int | None]:
    millis, invalid = JavaPattern(pattern).parse(list(values))
    return [None if bad else int(m) for m, bad in zip(millis, invalid, strict=True)]


# Elasticsearch's DateTimeFormatterTimestampConverterTests, then what its users write.
@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("y-M-d HH", "2014-03-22 01", ms(2014, 3, 22, 1)),
        ("yyyy-MM-dd HH:mm:ss", "1985-08-18 20:15:40", ms(1985, 8, 18, 20, 15, 40)),
        ("yyyy-MM-dd HH:mm:ss XXX", "2014-03-25 01:30:20 +02:00", 1395703820000),
        ("yyyy-MM-dd HH:mm:ss XXX", "2014-03-25 1:30:20 +02:00", 1395703820000),  # lenient width
        ("MM dd HH:mm:ss", "08 14 01:30:20", ms(THIS_YEAR, 8, 14, 1, 30, 20)),
        ("yyyy-MM-dd HH:mm:ss.SSS XXX", "2014-03-25 01:30:20.542 +02:00", 1395703820542),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSSSSSSSXXX", "2024-03-05T12:34:56.123456789+01:00", ms(2024, 3, 5, 11, 34, 56) + 123),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSSSSSSSXXX", "2024-03-05T12:34:56.1Z", ms(2024, 3, 5, 12, 34, 56) + 100),
        ("yyyy-MM-dd HH:mm:ss,SSS", "2024-03-05 12:34:56,999", ms(2024, 3, 5, 12, 34, 56) + 999),
        ("MMM dd HH:mm:ss", "Oct 11 22:14:15", ms(THIS_YEAR, 10, 11, 22, 14, 15)),  # syslog
        ("MMM  d HH:mm:ss", "Oct  1 22:14:15", ms(THIS_YEAR, 10, 1, 22, 14, 15)),
        ("dd/MMM/yyyy:HH:mm:ss Z", "10/Oct/2000:13:55:36 -0700", ms(2000, 10, 10, 20, 55, 36)),  # Apache
        ("dd/MMM/yyyy:HH:mm:ss Z", "10/October/2000:13:55:36 +0000", ms(2000, 10, 10, 13, 55, 36)),  # lenient text
        ("EEE MMM dd HH:mm:ss yyyy", "Thu Jan 01 00:00:00 1970", 0),
        ("EEEE, MMMM d, yyyy h:mm:ss a", "Friday, January 5, 2024 1:02:03 PM", ms(2024, 1, 5, 13, 2, 3)),
        ("MMM d, yyyy h:mm:ss a", "Jan 5, 2024 12:02:03 AM", ms(2024, 1, 5, 0, 2, 3)),
        ("yyyy-MM-dd K:mm a", "2024-01-05 11:30 PM", ms(2024, 1, 5, 23, 30)),
        ("yyyy-MM-dd kk:mm", "2024-01-05 24:30", ms(2024, 1, 5, 0, 30)),  # clock hour 24 is 0, same day
        ("yyyyMMddHHmmss", "20240105123045", ms(2024, 1, 5, 12, 30, 45)),  # adjacent numbers
        ("yyyyMMddHHmmssSSS", "20240105123045678", ms(2024, 1, 5, 12, 30, 45) + 678),
        ("HHmmssSSS dd.MM.yyyy", "123045123456 05.01.2024", ms(2024, 1, 5, 12, 30, 45) + 123),
        ("yy-MM-dd HH", "24-01-05 01", ms(2024, 1, 5, 1)),  # two digits: 2000-2099
        ("yy-MM-dd HH", "1999-01-05 01", ms(1999, 1, 5, 1)),  # more digits: the year itself
        ("uuuu-DDD HH:mm", "2024-060 06:00", ms(2024, 2, 29, 6)),
        ("G yyyy-MM-dd HH", "AD 2024-01-05 01", ms(2024, 1, 5, 1)),
        ("yyyy-MM-dd'T'HH:mm:ss[.SSS]XXX", "2024-01-05T01:02:03Z", ms(2024, 1, 5, 1, 2, 3)),
        ("yyyy-MM-dd'T'HH:mm:ss[.SSS]XXX", "2024-01-05T01:02:03.5Z", ms(2024, 1, 5, 1, 2, 3) + 500),
        ("yyyy-MM-dd'T'HH[:mm[:ss]]", "2024-01-05T01", ms(2024, 1, 5, 1)),
        ("''yyyy-MM-dd'T'HH:mm''", "'2024-01-05T01:02'", ms(2024, 1, 5, 1, 2)),
        ("yyyy-MM-dd'T'HH 'o''clock'", "2024-01-05T01 o'clock", ms(2024, 1, 5, 1)),
        ("yyyy-MM-dd HH:mm:ss", "2023-02-30 00:00:00", ms(2023, 2, 28)),  # SMART: to the month's end
        ("yyyy-MM-dd HH:mm:ss", "2023-02-28 24:00:00", ms(2023, 3, 1)),  # SMART: the next midnight
        ("yyyy-MM-dd HH:mm:ssxx", "2024-01-05 01:02:03-0130", ms(2024, 1, 5, 2, 32, 3)),
        ("yyyy-MM-dd HH:mm:ss ZZZZ", "2024-01-05 01:02:03 GMT+05:30", ms(2024, 1, 4, 19, 32, 3)),
        ("yyyy-MM-dd HH:mm:ss O", "2024-01-05 01:02:03 GMT-8", ms(2024, 1, 5, 9, 2, 3)),
        ("yyyy-MM-dd HH:mm:ss O", "2024-01-05 01:02:03 GMT", ms(2024, 1, 5, 1, 2, 3)),
    ],
)
def test_patterns_read_as_java_time_reads_them(pattern, text, expected):
    assert read(pattern, text) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-07-01 12:00:00 UTC", ms(2024, 7, 1, 12)),
        ("2024-07-01 12:00:00 Z", ms(2024, 7, 1, 12)),
        ("2024-07-01 12:00:00 GMT", ms(2024, 7, 1, 12)),
        ("2024-07-01 12:00:00 PST", ms(2024, 7, 1, 19)),  # America/Los_Angeles: daylight time in July
        ("2024-01-01 12:00:00 PST", ms(2024, 1, 1, 20)),
        ("2024-07-01 12:00:00 PDT", ms(2024, 7, 1, 19)),
        ("2024-07-01 12:00:00 EST", ms(2024, 7, 1, 17)),  # SHORT_IDS: EST is -05:00 all year
        ("2024-07-01 12:00:00 CET", ms(2024, 7, 1, 10)),
        ("2024-07-01 12:00:00 Europe/London", ms(2024, 7, 1, 11)),
        ("2024-07-01 12:00:00 +05:30", ms(2024, 7, 1, 6, 30)),
        ("2024-07-01 12:00:00 UTC+01:00", ms(2024, 7, 1, 11)),
        ("2024-03-10 02:30:00 America/New_York", ms(2024, 3, 10, 7, 30)),  # in the gap: pushed to 03:30 EDT
        ("2024-11-03 01:30:00 America/New_York", ms(2024, 11, 3, 5, 30)),  # in the overlap: the earlier offset
        ("2024-07-01 12:00:00 Mars/Olympus", None),
        ("2024-07-01 12:00:00 pst", None),  # names are case-sensitive
    ],
)
def test_zone_names_and_ids(text, expected):
    assert read("yyyy-MM-dd HH:mm:ss zzz", text) == [expected]


def test_zone_ids_read_regions_and_offsets_but_not_abbreviations():
    pattern = "yyyy-MM-dd HH:mm:ss VV"
    assert read(pattern, "2024-07-01 12:00:00 Europe/Paris", "2024-07-01 12:00:00 -03:00", "2024-07-01 12:00:00 PST") == [
        ms(2024, 7, 1, 10), ms(2024, 7, 1, 15), None,
    ]


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("EEE MMM dd HH:mm:ss yyyy", "Fri Jan 01 00:00:00 1970"),  # the day name must match the date
        ("yyyy-MM-dd HH:mm:ss", "2023-02-32 00:00:00"),
        ("yyyy-MM-dd HH:mm:ss", "2023-13-01 00:00:00"),
        ("yyyy-MM-dd HH:mm:ss", "2023-02-28 24:00:01"),
        ("yyyy-MM-dd HH:mm:ss", "2023-02-28 23:60:00"),
        ("yyyy-MM-dd HH:mm:ss", "2023-02-28 23:59:60"),
        ("yyyy-MM-dd HH:mm:ss", "0000-02-28 23:59:59"),  # year of era 0
        ("yyyy-MM-dd HH:mm:ss", " 2023-02-28 23:59:59"),
        ("yyyy-MM-dd HH:mm:ss", "2023-02-28 23:59:59 "),
        ("yyyy-MM-dd HH:mm:ss", "2023-02-28T23:59:59"),
        ("yyyy-MM-dd HH:mm:ss", "２０２３-02-28 23:59:59"),  # only ASCII digits
        ("yyyy-MM-dd HH:mm:ss", "10000-12-31 23:59:59"),  # beyond a Timestamp
        ("yyyy-MM-dd HH:mm:ssXXX", "9999-12-31 23:59:59-01:00"),
        ("yyyy-MM-dd HH:mm:ssXXX", "2024-01-01 00:00:00+19:00"),  # beyond ZoneOffset's ±18:00
        ("yyyy-MM-dd HH:mm:ssXXX", "2024-01-01 00:00:00"),  # a zone pattern needs its zone
        ("yyyy-MM-dd HH:mm:ss[XXX]", "2024-01-01 00:00:00"),  # even in an optional section
        ("yyyy-MM-dd HH:mm:ssx", "2024-01-01 00:00:00+0000"),  # "+00" is x's zero, then "00" is left
        ("yyyy-MM-dd h:mm a", "2024-01-01 13:00 PM"),
        ("yyyy-MM-dd HH:mm a", "2024-01-01 13:00 AM"),  # AM/PM must match the hour
        ("yyyy-MM-dd h:mm a", "2024-01-01 1:00 pm"),
        ("yyyy-DDD HH", "2023-366 00"),
        ("yyyy-MM-dd HH yyyy", "2024-01-01 00 2025"),  # a field given twice must agree
        ("yyyyMMddHHmmssSSS", "20240105123045678901"),  # java.time's widths leave the year 7 digits
    ],
)
def test_values_java_time_refuses_are_invalid_dates(pattern, text):
    assert read(pattern, text) == [None]


def test_years_of_the_column_and_other_values():
    pattern = "yyyyMMddHHmmss"
    assert read(pattern, 20240105123045, "20240105123045", None, 2.5, True, ["x"], {"a": 1}, "", "\n") == [
        ms(2024, 1, 5, 12, 30, 45), ms(2024, 1, 5, 12, 30, 45), None, None, None, None, None, None, None,
    ]
    # A value holding a newline cannot shift the others (the column is read in one pass).
    assert read("yyyy-MM-dd HH", "2024-01-05 01\n2024-01-05 02", "2024-01-05 03") == [None, ms(2024, 1, 5, 3)]
    assert read("yyyy-MM-dd HH", "2024-01-05 01", "x\n", "2024-01-05 03") == [ms(2024, 1, 5, 1), None, ms(2024, 1, 5, 3)]
    assert read("yyyy-MM-dd HH") == []


@pytest.mark.parametrize(
    "pattern",
    [
        "HH:mm", "yyyy-MM", "dd/MM/yyyy", "y", "y-M-d", "HH:mm:ss",  # Elasticsearch's own cases
        "yyyy-MM-dd hh:mm:ss",  # a 12-hour clock without AM/PM
        "yyyy-MM-dd HH:ss",  # seconds without minutes
        "yyyy-MM-dd HH:mm.SSS",  # a fraction without seconds
        "yyyy-MM-dd'T'HH:mm:ss'", "yyyy-MM-dd HH'''", "yyyy]-MM", "yyyy-MM-dd HH#", "{yyyy}",
        "yyyy-MM-dd HH:mm:ss aa", "yyyy-MM-dd HHH", "yyyy-MM-dd HH:mm:ss.SSSSSSSSSS", "MMMMMM dd yyyy HH",
        "MMMMM dd yyyy HH", "yyyy-MM-dd HH:mm:ss VVV", "yyyy-MM-dd HH:mm:ss XXXXXX", "yyyy-MM-dd HH:mm:ss OO",
        "YYYY-MM-dd HH", "yyyy-ww HH", "yyyy-MM-dd HH:mm:ss QQ", "yyyy-MM-dd HH:mm:ss b", "yyyy-MM-dd HH:mm:ss n",
        "ddMMyyHHmm",  # java.time's lenient yy runs on into the hour
        "yyyyMdHH",  # two variable numbers side by side: the year takes every digit
        "",
    ],
)
def test_patterns_java_time_cannot_read_back_are_refused(pattern):
    with pytest.raises(ValueError):
        JavaPattern(pattern)


# --- properties -------------------------------------------------------------------------

Formatter = Callable[[dt.datetime], str]
SEPARATORS = st.sampled_from([(" ", " "), ("-", "-"), ("/", "/"), (":", ":"), (".", "."), (", ", ", "),
                              ("'T'", "T"), ("_", "_"), ("|", "|"), ("' at '", " at "), ("''", "'")])


def _part(pattern: str, write: Formatter) -> st.SearchStrategy[tuple[str, Formatter]]:
    return st.just((pattern, write))


YEARS = st.sampled_from([("yyyy", lambda t: f"{t.year:04d}"), ("y", lambda t: str(t.year)), ("uuuu", lambda t: f"{t.year:04d}"),
                         ("u", lambda t: str(t.year)), ("yyyyy", lambda t: f"{t.year:05d}")])
MONTHS = st.sampled_from([("MM", lambda t: f"{t.month:02d}"), ("M", lambda t: str(t.month)), ("MMM", lambda t: t.strftime("%b")),
                          ("MMMM", lambda t: t.strftime("%B")), ("LLL", lambda t: t.strftime("%b"))])
DAYS = st.sampled_from([("dd", lambda t: f"{t.day:02d}"), ("d", lambda t: str(t.day))])
DAYS_OF_YEAR = st.sampled_from([("DDD", lambda t: f"{t.timetuple().tm_yday:03d}"), ("D", lambda t: str(t.timetuple().tm_yday))])
HOURS = st.sampled_from([
    ("HH", lambda t: f"{t.hour:02d}"), ("H", lambda t: str(t.hour)), ("kk", lambda t: f"{t.hour or 24:02d}"),
    ("hh a", lambda t: f"{t.hour % 12 or 12:02d} {'PM' if t.hour >= 12 else 'AM'}"),
    ("h a", lambda t: f"{t.hour % 12 or 12} {'PM' if t.hour >= 12 else 'AM'}"),
    ("K a", lambda t: f"{t.hour % 12} {'PM' if t.hour >= 12 else 'AM'}"),
])
MINUTES = st.sampled_from([("mm", lambda t: f"{t.minute:02d}"), ("m", lambda t: str(t.minute))])
SECONDS = st.sampled_from([("ss", lambda t: f"{t.second:02d}"), ("s", lambda t: str(t.second))])
FRACTIONS = st.integers(3, 9).map(lambda n: ("S" * n, lambda t: f"{t.microsecond:06d}000"[:n]))
WEEKDAYS = st.sampled_from([("EEE", lambda t: t.strftime("%a")), ("EEEE", lambda t: t.strftime("%A"))])


def _offset(t: dt.datetime, colon: bool, zero: str) -> str:
    total = int(t.utcoffset().total_seconds()) // 60  # type: ignore[union-attr]
    if total == 0 and zero:
        return zero
    sign = "-" if total < 0 else "+"
    return f"{sign}{abs(total) // 60:02d}{':' if colon else ''}{abs(total) % 60:02d}"


ZONES = st.sampled_from([
    ("", None), ("XXX", lambda t: _offset(t, True, "Z")), ("XX", lambda t: _offset(t, False, "Z")),
    ("xxx", lambda t: _offset(t, True, "")), ("Z", lambda t: _offset(t, False, "")),
    ("ZZZZZ", lambda t: _offset(t, True, "Z")), ("zzz", lambda t: getattr(t.tzinfo, "key", None) or _offset(t, True, "Z")),
    ("VV", lambda t: getattr(t.tzinfo, "key", None) or _offset(t, True, "Z")),
])
REGIONS = st.sampled_from(["UTC", "Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "America/St_Johns"])


@st.composite
def patterns(draw: st.DrawFn) -> tuple[str, list[Formatter], str]:
    """A pattern that carries an instant to the millisecond, the writer of each part, its zone kind."""
    date = [draw(YEARS), draw(MONTHS), draw(DAYS)] if draw(st.booleans()) else [draw(YEARS), draw(DAYS_OF_YEAR)]
    time = [draw(HOURS), draw(MINUTES), draw(SECONDS)]
    parts = draw(st.permutations(date)) + time
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), draw(WEEKDAYS))
    text, writers = "", []
    for i, (pattern, write) in enumerate(parts):
        if i:
            separator, printed = draw(SEPARATORS)
            text += separator
            writers.append(lambda _t, printed=printed: printed)
        text += pattern
        writers.append(write)
        if pattern in ("ss", "s"):  # the fraction right after the seconds, so that it reads
            fraction, write_fraction = draw(FRACTIONS)
            text += "." + fraction
            writers += [lambda _t: ".", write_fraction]
    zone, write_zone = draw(ZONES)
    if zone:
        text += " " + zone
        writers += [lambda _t: " ", write_zone]  # type: ignore[list-item]
    return text, writers, zone


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    generated=patterns(),
    instant=st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.just(dt.UTC)),
    offset_minutes=st.integers(-18 * 60, 18 * 60),
    region=REGIONS,
)
def test_a_written_instant_reads_back_to_the_millisecond(generated, instant, offset_minutes, region):
    pattern, writers, zone = generated
    if zone in ("zzz", "VV"):
        tz: dt.tzinfo = zoneinfo.ZoneInfo(region)
    elif zone:
        tz = dt.timezone(dt.timedelta(minutes=offset_minutes))
    else:
        tz = dt.UTC
    local = instant.astimezone(tz)
    # A local time that a daylight-saving change repeats names two instants; java.time takes the earlier.
    assume(local.replace(fold=1).utcoffset() == local.replace(fold=0).utcoffset())
    text = "".join(write(local) for write in writers)
    expected = (instant - EPOCH) // dt.timedelta(milliseconds=1)
    millis, invalid = JavaPattern(pattern).parse([text])
    assert not invalid[0], (pattern, text)
    assert millis[0] == expected, (pattern, text)


SAMPLE_PATTERNS = st.sampled_from([
    "yyyy-MM-dd'T'HH:mm:ss.SSSSSSSSSXXX", "MMM dd HH:mm:ss", "dd/MMM/yyyy:HH:mm:ss Z", "yyyyMMddHHmmss",
    "yyyy-MM-dd HH:mm:ss zzz", "EEE, d MMM yyyy h:mm a VV", "yy-DDD kk[:mm[:ss[.SSS]]][XXX]", "G uuuu-MM-dd KK a O",
])
TEXTS = st.text(max_size=40) | st.from_regex(r"[0-9A-Za-z:+\-/ .,'TZ]{0,40}", fullmatch=True)


@settings(max_examples=500, deadline=None)
@given(pattern=SAMPLE_PATTERNS, values=st.lists(TEXTS | st.integers() | st.floats() | st.none() | st.booleans(), max_size=6))
def test_any_value_reads_or_is_an_invalid_date(pattern, values):
    millis, invalid = JavaPattern(pattern).parse(values)
    assert millis.dtype == np.int64 and len(millis) == len(invalid) == len(values)
    assert (millis[invalid] == 0).all()
    assert (np.abs(millis) <= MAX_EPOCH_MS).all()


@settings(max_examples=500, deadline=None)
@given(st.text("yuMLdDEaHhkKmsSXxZzOVGQwWYen'[]#{} -:./T", max_size=24), st.lists(TEXTS, max_size=3))
def test_any_pattern_compiles_or_is_refused_with_a_reason(pattern, values):
    try:
        parsed = JavaPattern(pattern)
    except ValueError as err:
        assert str(err)
        return
    millis, invalid = parsed.parse(values)
    assert len(millis) == len(invalid) == len(values)
