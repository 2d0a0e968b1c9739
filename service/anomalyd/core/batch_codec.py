"""The journal's encoding of a record batch: raw little-endian column buffers in msgpack."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from anomalyd.engine.records import RecordBatch, StringColumn

_ENCODER = msgspec.msgpack.Encoder()
_BATCH = msgspec.msgpack.Decoder(dict[str, Any])


def encode_batch(batch: RecordBatch) -> bytes:
    """A batch as raw little-endian column buffers in msgpack."""
    return _ENCODER.encode(
        {
            "t": batch.times.astype("<i8").tobytes(),
            "n": {name: v.astype("<f8").tobytes() for name, v in batch.numbers.items()},
            "s": {name: [c.codes.astype("<i4").tobytes(), list(c.values)] for name, c in batch.strings.items()},
        }
    )


def decode_batch(data: bytes) -> RecordBatch:
    """The batch encode_batch wrote."""
    raw = _BATCH.decode(data)
    return RecordBatch(
        times=np.frombuffer(raw["t"], dtype="<i8"),
        numbers={name: np.frombuffer(v, dtype="<f8") for name, v in raw["n"].items()},
        strings={name: StringColumn(np.frombuffer(c, dtype="<i4"), tuple(vs)) for name, (c, vs) in raw["s"].items()},
    )
