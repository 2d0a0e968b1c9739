"""Packing named numpy arrays and plain values into bytes that load without copying."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import msgspec
import numpy as np
from numpy.typing import NDArray

Arrays = dict[str, NDArray[Any]]

NEVER = -(2**62)
"""The bucket index of a step never taken, in arrays of bucket indices: so long ago that what is aged
from it decays to nothing, yet bucket - NEVER stays within int64. Bucket indices before 1970 are
negative, so -1 cannot mean never (states written with it for never read the same: whatever was
never learned has no weight to age)."""


def prefixed(arrays: Arrays, prefix: str) -> Arrays:
    """The arrays whose names start with prefix, named without it (one part's share of a state)."""
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


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


class Rows:
    """Named state arrays with one row per series, grown together: a part of a series model.

    A subclass lists its arrays in FIELDS as name -> (dtype, row shape, initial value); each is
    an attribute of shape (capacity, *row shape).

    Args:
        capacity: initial number of series.
    """

    FIELDS: ClassVar[dict[str, tuple[type[np.generic], tuple[int, ...], float]]] = {}

    def __init__(self, capacity: int) -> None:
        for name, (dtype, shape, initial) in self.FIELDS.items():
            setattr(self, name, np.full((capacity, *shape), initial, dtype=dtype))

    def bytes_per_series(self) -> int:
        """Bytes every series costs."""
        return sum(np.dtype(dtype).itemsize * math.prod(shape) for dtype, shape, _ in self.FIELDS.values())

    def grow(self, capacity: int) -> None:
        """Make room for capacity series; new series start at the initial values."""
        for name, (dtype, shape, initial) in self.FIELDS.items():
            old = getattr(self, name)
            if capacity > len(old):
                setattr(self, name, np.concatenate([old, np.full((capacity - len(old), *shape), initial, dtype=dtype)]))

    def arrays(self, rows: int) -> Arrays:
        """The state of the first rows series as named arrays."""
        return {name: getattr(self, name)[:rows] for name in self.FIELDS}

    def load(self, arrays: Arrays) -> None:
        """Restore the state written by arrays()."""
        for name in self.FIELDS:
            setattr(self, name, arrays[name])
