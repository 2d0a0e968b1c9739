"""The bucket-time helper on ints and on arrays."""

import numpy as np

from anomalyd.bucket_time import ceil_to, floor_to


def test_floor_and_ceil_to_a_span_on_ints_arrays_and_negative_times():
    assert (floor_to(1_000_299, 300), ceil_to(1_000_201, 300), ceil_to(1_000_200, 300)) == (1_000_200, 1_000_500, 1_000_200)
    assert (floor_to(-1, 300), ceil_to(-299, 300)) == (-300, 0)
    times = np.array([0, 299, 300, -1], dtype=np.int64)
    assert floor_to(times, 300).tolist() == [0, 0, 300, -300]
    assert ceil_to(times, 300).tolist() == [0, 300, 300, 0]
