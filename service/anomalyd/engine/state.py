"""Packing named numpy arrays and plain values into bytes that load without copying."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
from numpy.typing import NDArray

Arrays = dict[str, NDArray[Any]]


def pack(arrays: Arrays, meta: dict[str, Any]) -> bytes:
    """msgpack of {"arrays": {name: [dtype, shape, raw bytes]}, "meta": meta}.

    Args:
        arrays: named arrays of any shape and fixed-size dtype.
        meta: msgpack-able plain values (numbers, strings, lists, dicts).
    """
    packed = {name: [a.dtype.str, list(a.shape), np.ascontiguousarray(a).tobytes()] for name, a in arrays.items()}
    return msgspec.msgpack.encode({"arrays": packed, "meta": meta})


def unpack(data: bytes) -> tuple[Arrays, dict[str, Any]]:
    """The arrays and meta written by pack(); arrays are writable copies."""
    doc = msgspec.msgpack.decode(data)
    arrays = {
        name: np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape).copy()
        for name, (dtype, shape, raw) in doc["arrays"].items()
    }
    return arrays, doc["meta"]
