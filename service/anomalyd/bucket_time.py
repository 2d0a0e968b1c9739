"""Bucket-time arithmetic on epoch milliseconds, shared by the domain and the engine."""

from __future__ import annotations

import time
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

DAY_MS = 86_400_000

Times = TypeVar("Times", int, NDArray[np.int64])


def floor_to(t_ms: Times, span_ms: int) -> Times:
    """The start of the span-long bucket holding t_ms (an int, or an array of shape (n,))."""
    return t_ms // span_ms * span_ms


def ceil_to(t_ms: Times, span_ms: int) -> Times:
    """The smallest multiple of span_ms at or after t_ms (an int, or an array of shape (n,))."""
    return -(-t_ms // span_ms) * span_ms


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds."""
    return int(time.time() * 1000)
