"""Output for people: values, tables, field lists and the progress line."""

from __future__ import annotations

import datetime as dt
import io

from anomalyd_client.console import ProgressLine, fields, size, table, text
from anomalyd_client.upload import Progress


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        """Always: this stream stands in for a terminal."""
        return True


def test_text_writes_values_for_people() -> None:
    assert text(dt.datetime(2024, 2, 5, 10, tzinfo=dt.UTC)) == "2024-02-05T10:00:00Z"
    assert text(dt.timedelta(minutes=15)) == "15m"
    assert (text(None), text([]), text(["a", 1.5]), text(True)) == ("-", "-", "a, 1.5", "true")
    assert text(1 / 3) == "0.333333"


def test_table_aligns_columns() -> None:
    assert table(("A", "BB"), [("xyz", 1), ("w", None)]) == "A    BB\nxyz  1\nw    -"


def test_fields_flatten_nested_documents() -> None:
    assert fields({"a": 1, "bb": {"c": "x"}}) == "a     1\nbb.c  x"


def test_size_uses_binary_units() -> None:
    assert [size(n) for n in (512, 1536, 5 << 20, 3 << 40)] == [
        "512 B",
        "1.5 KiB",
        "5.0 MiB",
        "3072.0 GiB",
    ]


def test_progress_line_waits_a_second_then_redraws_and_finishes_with_a_newline() -> None:
    stream = Terminal()
    line = ProgressLine(stream)
    line(Progress(100, 1000, 10, 0.5))
    assert stream.getvalue() == ""
    line(Progress(500, 1000, 50, 1.0))
    line(Progress(510, 1000, 51, 1.05))  # within 0.1 s of the last draw
    assert stream.getvalue().count("\r") == 1 and "(50%)" in stream.getvalue()
    line(Progress(1000, 1000, 100, 1.08))
    line.finish()
    last = stream.getvalue().split("\r")[-1]
    assert last.startswith("sent 1000 B / 1000 B (100%), 100 records") and last.endswith("\n")


def test_progress_line_is_silent_off_a_terminal_and_for_short_uploads() -> None:
    for stream, elapsed in ((io.StringIO(), 5.0), (Terminal(), 0.2)):
        line = ProgressLine(stream)
        line(Progress(1, None, 1, elapsed))
        line.finish()
        assert stream.getvalue() == ""
