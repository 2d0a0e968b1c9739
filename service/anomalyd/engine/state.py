"""Packing named numpy arrays and plain values into bytes that load without copying."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
from numpy.typing import NDArray

Arrays = dict[str, NDArray[Any]]


def pack(arrays: Arrays, meta: dict[str, Any]) -> bytes:
    """Msgpack of {"arrays": {name: [dtype, shape, raw bytes]}, "meta": meta}.

    Args:
        arrays: named arrays of any shape and fixed-size dtype.
        meta: msgpack-able plain values (numbers, strings, lists, dicts).
    """
    # The encoder reads each array's buffer directly, so its bytes are copied once.
    packed = {name: [a.dtype.str, list(a.shape), np.ascontiguousarray(a).reshape(-1).view(np.uint8).data]
              for name, a in arrays.items()}
    return msgspec.msgpack.encode({"arrays": packed, "meta": meta})


class _Packed(msgspec.Struct):
    """The layout pack() writes; raw bytes decode as views of the input, without a copy."""

    arrays: dict[str, tuple[str, list[int], memoryview]]
    meta: dict[str, Any]


def unpack(data: bytes) -> tuple[Arrays, dict[str, Any]]:
    """The arrays and meta written by pack(); arrays are writable copies, made in one copy."""
    doc = msgspec.msgpack.decode(data, type=_Packed)
    arrays = {
        name: np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape).copy()
        for name, (dtype, shape, raw) in doc.arrays.items()
    }
    return arrays, doc.meta
