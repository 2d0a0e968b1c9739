"""Output for people: values, tables, field lists and upload progress."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TextIO

from anomalyd_client.convert import format_duration
from anomalyd_client.upload import Progress

# Uploads shorter than this finish before a progress line would help.
_PROGRESS_AFTER_S = 1.0
_PROGRESS_EVERY_S = 0.1


def text(value: Any) -> str:
    """One value as a person reads it: times in ISO 8601 UTC, spans as "5m", None as "-"."""
    if value is None or value == []:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.timedelta):
        return format_duration(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return ", ".join(map(text, value))
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Rows under headers, in left-aligned columns."""
    cells = [list(headers), *([text(value) for value in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def fields(document: Mapping[str, Any]) -> str:
    """A document as aligned "name  value" lines, nested names joined with dots."""
    flat = dict(_flatten(document))
    width = max(map(len, flat), default=0)
    return "\n".join(f"{name.ljust(width)}  {text(value)}" for name, value in flat.items())


def size(n_bytes: float) -> str:
    """A byte count in binary units ("12.3 MiB")."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n_bytes < 1024 or unit == "GiB":
            break
        n_bytes /= 1024
    return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"


class ProgressLine:
    """Redraws an upload's progress on one line of a terminal; silent elsewhere.

    Call it with each Progress (it is a post_data progress callback), then finish().
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._enabled = self._stream.isatty()
        self._latest: Progress | None = None
        self._drawn_at: float | None = None

    def __call__(self, progress: Progress) -> None:
        """Takes the latest figures, redrawing at most every 0.1 s after the first second."""
        self._latest = progress
        if not self._enabled or progress.elapsed < _PROGRESS_AFTER_S:
            return
        if self._drawn_at is None or progress.elapsed - self._drawn_at >= _PROGRESS_EVERY_S:
            self._draw(progress)

    def finish(self) -> None:
        """Draws the final figures and ends the line, if a line was drawn."""
        if self._drawn_at is not None and self._latest is not None:
            self._draw(self._latest)
            self._stream.write("\n")
            self._stream.flush()

    def _draw(self, progress: Progress) -> None:
        self._drawn_at = progress.elapsed
        sent = size(progress.bytes_sent)
        if progress.total_bytes:
            percent = 100 * progress.bytes_sent / progress.total_bytes
            sent = f"{sent} / {size(progress.total_bytes)} ({percent:.0f}%)"
        rate = progress.records_sent / max(progress.elapsed, 1e-9)
        # \r returns to the line start and \033[K clears what a longer earlier line left.
        self._stream.write(
            f"\rsent {sent}, {progress.records_sent:,} records, {rate:,.0f} records/s\033[K"
        )
        self._stream.flush()


def _flatten(document: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, value in document.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{name}.")
        else:
            yield prefix + name, value
