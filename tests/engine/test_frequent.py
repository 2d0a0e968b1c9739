"""exclude_frequent's filter: which persons and attributes are frequent, and that interim buckets learn nothing."""

from __future__ import annotations

import numpy as np
import pytest

from anomalyd.engine.frequent import FrequentFilter
from anomalyd.engine.records import DetectorSpec

# A population's series: (port, host) pairs; port 443 is used by all ten hosts, port 22 by host 0 only.
IDS = np.array([[0, h] for h in range(10)] + [[1, 0]], np.int32)
FIELDS = ("port", "host")


def population_filter(mode: str) -> FrequentFilter:
    spec = DetectorSpec("count", by_field_name="port", over_field_name="host", exclude_frequent=mode)
    keep = FrequentFilter(spec, FIELDS, decay=1.0)
    for b in range(20):
        # Every host in every bucket on 443; host 0 on 22 too; hosts 1-9 stay frequent persons.
        keep.drop(b, np.arange(11, dtype=np.int32), IDS, final=True)
    return keep


@pytest.mark.parametrize(("mode", "dropped"), [
    ("by", [True] * 10 + [False]),  # 443 is used by all hosts, 22 by one in ten: not more than 10 %
    ("over", [True] * 11),  # every host is in every bucket
    ("all", [True] * 11),
])
def test_population_modes(mode, dropped):
    keep = population_filter(mode)
    assert keep.drop(20, np.arange(11, dtype=np.int32), IDS, final=False).tolist() == dropped


def test_rows_of_other_detectors_are_kept_and_interim_learns_nothing():
    keep = population_filter("all")
    before = {k: v.copy() for k, v in keep.arrays().items()}
    series = np.array([-1, 0, 10, -1], np.int32)
    assert keep.drop(20, series, np.vstack([IDS, [[2, 10]]]), final=False).tolist() == [False, True, True, False]
    assert all(np.array_equal(before[k], v) for k, v in keep.arrays().items())


def test_a_by_value_becomes_analysed_again_once_it_is_seldom_seen():
    spec = DetectorSpec("count", by_field_name="host", exclude_frequent="by")
    keep = FrequentFilter(spec, ("host",), decay=0.9)
    ids = np.array([[0]], np.int32)
    for b in range(10):
        keep.drop(b, np.zeros(1, np.int32), ids, final=True)
    assert keep.drop(10, np.zeros(1, np.int32), ids, final=False).tolist() == [True]
    for b in range(10, 60):
        keep.drop(b, np.zeros(0, np.int32), ids, final=True)
    assert keep.drop(60, np.zeros(1, np.int32), ids, final=False).tolist() == [False]
