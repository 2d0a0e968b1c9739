"""BucketBuffer against a plain list of rows: appends in any order, sorts, reads, drops and keeps the same rows."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from anomalyd.engine.bucket_buffer import BucketBuffer

_SPAN = 60

# Each step appends a batch of bucket indexes (any order), drops the rows before a bucket,
# keeps the rows outside a range of buckets, or writes and loads the columns.
_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.lists(st.integers(0, 20), max_size=40)),
        st.tuples(st.just("drop"), st.integers(0, 20)),
        st.tuples(st.just("keep"), st.integers(0, 20)),
        st.tuples(st.just("load"), st.just(0)),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(_STEPS)
def test_the_buffer_holds_the_rows_a_list_holds(steps: list[tuple[str, object]]) -> None:
    buffer = BucketBuffer(detectors=2, influencers=1)
    reference: list[tuple[int, int]] = []  # (bucket, row number), in the buffer's order
    added = 0
    for action, arg in steps:
        if action == "append":
            buckets = np.array(arg, np.int64) * _SPAN
            rows = np.arange(added, added + len(buckets))
            buffer.append(buckets, rows.astype(np.float64), np.stack([rows, -rows], axis=1).astype(np.int32),
                          np.stack([rows, rows], axis=1).astype(np.float64), rows[:, None].astype(np.int32))
            reference += list(zip(buckets.tolist(), rows.tolist(), strict=True))
            added += len(buckets)
        elif action == "drop":
            buffer.sort()
            reference.sort(key=lambda r: r[0])  # stable, as the buffer's sort
            buffer.drop_before(int(arg) * _SPAN)
            reference = [r for r in reference if r[0] >= int(arg) * _SPAN]
        elif action == "keep":
            buffer.keep(buffer.buckets() != int(arg) * _SPAN)
            reference = [r for r in reference if r[0] != int(arg) * _SPAN]
        else:
            columns = {k: v.copy() for k, v in buffer.columns.items()}
            buffer = BucketBuffer(detectors=2, influencers=1)
            buffer.load(columns)
        columns = buffer.columns
        assert list(zip(columns["bucket"].tolist(), columns["weight"].astype(int).tolist(), strict=True)) == reference
        assert columns["series"][:, 0].tolist() == [r[1] for r in reference]
        assert columns["series"][:, 1].tolist() == [-r[1] for r in reference]
        assert columns["influence"][:, 0].tolist() == [r[1] for r in reference]
    buffer.sort()
    reference.sort(key=lambda r: r[0])
    for b in range(0, 21 * _SPAN, _SPAN):
        assert buffer.rows(b, b + 3 * _SPAN)["weight"].astype(int).tolist() == [r[1] for r in reference if b <= r[0] < b + 3 * _SPAN]
