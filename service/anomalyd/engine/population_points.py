"""The population model of a feature whose values are points: time_of_day, time_of_week, lat_long over a field.

As population_model.py does for numbers, each attribute (partition and by value) keeps one
model of the values all its entities take, here point_model's mixture of clusters on the circle
or the globe: a user logging in at 3 a.m. when the population logs in during office hours, or
from a continent none of it logs in from, is unusual among its peers. The clusters' weights age
per elapsed bucket (population_model's 7-day time constant), not per point, since an attribute
learns many entities' points a bucket; a bucket's points are learned in its pairs' order, so a
replay learns them alike.

A population's points fill its whole office day, and a cluster grows towards the width of
whatever its points cover: bounded only by point_model's 3-hour join, one cluster took in 8-18
with a sigma of 1.7 hours, whose normal tail on the chord gave a 3 a.m. login among 40 such
users p = 2e-4 (score 43 once renormalised). Here a point joins a cluster only while the
cluster's sigma stays within an hour (200 km on the globe), so narrow clusters tile the day and
that login has p = 7e-9 (score 59); a series' own habits need no such bound.

Example:
    >>> model = PopulationPointModel(3_600_000, kind="time_of_day", warmup=2, decay=0.999)
    >>> model.grow(1)
    >>> attr = np.zeros(50, np.intp)
    >>> for b in range(3):
    ...     _ = model.step(attr, np.random.default_rng(b).uniform(9 * 3600, 17 * 3600, 50), b)
    >>> ln_p, typical = model.step(np.zeros(2, np.intp), np.array([13 * 3600.0, 3 * 3600.0]), None)
    >>> bool(ln_p[0] > -2.0), bool(ln_p[1] < -20.0)
    (True, True)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine.point_model import WEEK_MS, Geometry, Mixture, evaluate
from anomalyd.engine.state import NEVER, Arrays, prefixed
from anomalyd.engine.stats import FloatArray

# A cluster's sigma stays within these floors (point_model's 15 minutes and 50 km): an hour of
# the day, 200 km, and 90 minutes of the week, where 16 clusters of an hour cannot tile seven
# office days.
_WIDEST_SIGMA = {"time_of_day": 4.0, "time_of_week": 6.0, "location": 4.0}


class PopulationPointModel:
    """Per attribute, the decayed clusters of its entities' points of one feature.

    Args:
        span_ms: the bucket span.
        kind: time_of_day, time_of_week or location (field_values kinds).
        warmup: buckets an attribute learns before its entities are scored.
        decay: the factor the clusters' weights are multiplied by per elapsed bucket.
    """

    def __init__(self, span_ms: int, *, kind: str, warmup: int, decay: float) -> None:
        self.geometry = Geometry.of(kind, widest_sigma=_WIDEST_SIGMA[kind])
        self.week_buckets = -(-WEEK_MS // span_ms)
        self.warmup = warmup
        self.decay = decay
        self.mixture = Mixture(0)
        self.learned = np.zeros(0, np.int32)  # buckets learned
        self.first = np.zeros(0, np.int64)  # bucket index of the first bucket learned
        self.last = np.zeros(0, np.int64)  # bucket index the weights were last aged to (NEVER at first)

    def bytes_per_attribute(self) -> int:
        """Bytes of state per attribute."""
        return self.mixture.bytes_per_series() + 4 + 8 + 8

    def grow(self, n: int) -> None:
        """Make room for n attributes; new ones are empty."""
        extra = n - len(self.learned)
        if extra > 0:
            self.mixture.grow(n)
            self.learned = np.concatenate([self.learned, np.zeros(extra, np.int32)])
            self.first = np.concatenate([self.first, np.full(extra, NEVER, np.int64)])
            self.last = np.concatenate([self.last, np.full(extra, NEVER, np.int64)])

    def warm(self, attr: NDArray[np.intp]) -> NDArray[np.bool_]:
        """Shape (k,): attributes past warm-up (for time_of_week, also a week of buckets after their first)."""
        warm: NDArray[np.bool_] = self.learned[attr] >= self.warmup
        if self.geometry.kind == "time_of_week":
            warm &= self.last[attr] - self.first[attr] >= self.week_buckets
        return warm

    def step(self, attr: NDArray[np.intp], x: FloatArray, bucket: int | None) -> tuple[FloatArray, FloatArray]:
        """The ln probability of each point among its attribute's population, and the typical point; learn them.

        All points are scored before any is learned, and a bucket is learned at most once.

        Args:
            attr: shape (k,), each point's attribute.
            x: shape (k,), the points (field_values encodings).
            bucket: the bucket index (start / span) to learn the points at; None scores only.

        Returns:
            ln p (0 for an attribute without points) and the typical point, each shape (k,).
        """
        scratch = np.zeros(len(self.learned), np.int32)  # evaluate counts points; learned counts buckets
        scored = evaluate(self.geometry, self.mixture, scratch, attr, x, decay=1.0, learn=False)
        if bucket is not None:
            present = np.unique(attr)
            factor = self.decay ** (bucket - self.last[present]).astype(np.float64)
            self.mixture.weight[present] *= factor[:, None]
            self.last[present] = bucket
            self.first[present] = np.where(self.learned[present] == 0, bucket, self.first[present])
            self.learned[present] += 1
            evaluate(self.geometry, self.mixture, scratch, attr, x, decay=1.0, learn=True)
        return scored

    def arrays(self, n: int) -> Arrays:
        """The state of the first n attributes as named arrays."""
        out = {f"mixture.{k}": v for k, v in self.mixture.arrays(n).items()}
        return {**out, "learned": self.learned[:n], "first": self.first[:n], "last": self.last[:n]}

    def load(self, arrays: Arrays) -> None:
        """Restore the state written by arrays()."""
        self.mixture.load(prefixed(arrays, "mixture."))
        self.learned, self.first, self.last = arrays["learned"], arrays["first"], arrays["last"]
