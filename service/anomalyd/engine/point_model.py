"""The model of a feature whose values are points: a time of day or week, or a place on the globe.

ml-cpp models time_of_day, time_of_week and lat_long without a trend or seasonal decomposition,
with a multimodal prior of the value (for lat_long a multivariate one): a person may log in at
9:00 and at 14:00, from home and from the office. Here each series keeps a mixture of at most
COMPONENTS clusters of points on the unit circle (times: 23:59 lies beside 00:01) or the unit
sphere (places: +179 and -179 degrees of longitude are neighbours):

* each cluster has a decayed weight, a mean vector and a spread (the mean squared distance of its
  points from that mean); a point joins the cluster that explains it best among those it lies
  within 3 sigma of, and never beyond 3 hours or 1,000 km, else it starts its own, merging the
  two closest clusters when all are taken (the mixture's mass is kept, its memory bounded). The
  cap keeps a wide cluster from swallowing every new point until one blob covers the day (a
  population's model also bounds a cluster's sigma, Geometry.widest_sq);
* sigma has a floor (15 minutes of a day or week, 50 km on the globe) so a person whose events
  all fall in the same minute is not alarmed by the next minute;
* a value's probability is that of the points less likely than it under the mixture (of lower
  density), as ml-cpp's priors compute it, taking each cluster's share from its own normal (a
  two-sided tail on the circle, the chi-squared tail of two dimensions on the globe): a time 6
  hours from every cluster of an office-hours person, or a login from another continent, is all
  but impossible, a point at the heart of any cluster is not;
* all weights decay at each learned point as a SeriesModel's statistics do (7 days of buckets,
  at least 96), so old habits fade;
* a series is warm once it has learned the detector's warm-up buckets and, for time_of_week,
  a week has passed since its first point: before that every new weekday is news.

It has no multi-bucket feature: a point is news once, in its bucket.

Example:
    >>> model = PointModel(3_600_000, kind="time_of_day", warmup=4, capacity=1)
    >>> idx = np.array([0])
    >>> for day in range(20):
    ...     _ = model.step(idx, np.array([9 * 3600.0 + 60 * (day % 5)]), day * 86_400_000)
    >>> usual, night = (float(model.score(idx, np.array([s]), 0).ln_p_single[0]) for s in (9 * 3600.0 + 90, 3 * 3600.0))
    >>> usual > -2.0, night < -30.0
    (True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine import field_values
from anomalyd.engine.compiled import kernel
from anomalyd.engine.series_model import Scored, SeriesModel, statistics_decay
from anomalyd.engine.state import NEVER, Arrays, Rows, prefixed
from anomalyd.engine.stats import FloatArray

COMPONENTS = 16
_JOIN_SIGMAS = 3.0
_EARTH_KM = 6371.0
_TIME_FLOOR_S = 15 * 60.0
_TIME_JOIN_S = 3 * 3600.0
_GEO_FLOOR_KM = 50.0
_GEO_JOIN_KM = 1000.0
_LN_P_MIN = math.log(1e-300)
WEEK_MS = 7 * 86_400_000


class Mixture(Rows):
    """The clusters of S series.

    Attributes:
        weight: shape (S, COMPONENTS), each cluster's decayed weight (0: unused).
        centre: shape (S, COMPONENTS, 3), the mean of its points (inside the unit ball).
        spread: shape (S, COMPONENTS), the mean squared distance of its points from the centre.
    """

    FIELDS: ClassVar = {
        "weight": (np.float64, (COMPONENTS,), 0.0),
        "centre": (np.float64, (COMPONENTS, 3), 0.0),
        "spread": (np.float64, (COMPONENTS,), 0.0),
    }
    weight: FloatArray
    centre: FloatArray
    spread: FloatArray


@dataclass(frozen=True, slots=True)
class Geometry:
    """Where a kind of point lies and how close is close.

    Attributes:
        kind: time_of_day, time_of_week or location (field_values kinds).
        floor_sq: the squared floor of a cluster's sigma, in squared chord lengths.
        join_sq: the squared distance beyond which a point never joins a cluster, however wide.
        dimensions: 1 on the circle (times), 2 on the sphere (places).
        widest_sq: the largest spread a point may bring a cluster to (np.inf: none).
    """

    kind: str
    floor_sq: float
    join_sq: float
    dimensions: int
    widest_sq: float

    @classmethod
    def of(cls, kind: str, *, widest_sigma: float = math.inf) -> Geometry:
        """The geometry of a kind of point whose clusters' sigma stays within widest_sigma floors."""
        if kind == "location":
            floor, join = (2.0 * math.sin(km / _EARTH_KM / 2.0) for km in (_GEO_FLOOR_KM, _GEO_JOIN_KM))  # chords
        else:
            period = field_values.DAY_S if kind == "time_of_day" else field_values.WEEK_S
            floor, join = (2.0 * math.sin(math.pi * s / period) for s in (_TIME_FLOOR_S, _TIME_JOIN_S))
        dimensions = 2 if kind == "location" else 1
        return cls(kind, floor * floor, join * join, dimensions, dimensions * widest_sigma**2 * floor * floor)


def evaluate(
    geometry: Geometry, mixture: Mixture, learned: NDArray[np.int32], idx: NDArray[np.intp], x: FloatArray, *,
    decay: float, learn: bool,
) -> tuple[FloatArray, FloatArray]:
    """Score values against the mixtures of rows idx (repeats allowed), learning each after scoring it if asked.

    Args:
        geometry: the points' geometry.
        mixture: the clusters of every row.
        learned: shape (rows,), incremented by each point learned.
        idx: shape (k,), each value's row.
        x: shape (k,), the values (field_values encodings).
        decay: the factor a row's weights are multiplied by before each point it learns.
        learn: learn the values.

    Returns:
        ln p of each value and the typical value (the centre of the cluster that explains it best).
    """
    ln_p, typical = np.empty(len(idx)), np.empty((len(idx), 3))
    _score_learn(
        np.asarray(idx, np.intp), field_values.unit_vectors(geometry.kind, x), learned, mixture.weight, mixture.centre,
        mixture.spread, (geometry.floor_sq, geometry.join_sq, geometry.widest_sq), geometry.dimensions, decay, learn,
        ln_p, typical,
    )
    return ln_p, field_values.from_vectors(geometry.kind, typical)


class PointModel:
    """Point models of one feature for every series of a detector (see the module docstring).

    Args:
        span_ms: the bucket span.
        kind: what the values are: time_of_day, time_of_week or location (field_values kinds).
        warmup: buckets a series must have learned before it scores.
        capacity: initial number of series.
    """

    def __init__(self, span_ms: int, *, kind: str, warmup: int, capacity: int) -> None:
        self.kind = kind
        self.geometry = Geometry.of(kind)
        self.warmup = warmup
        self.decay = statistics_decay(span_ms)
        self.learned = np.zeros(capacity, dtype=np.int32)
        self.first_ms = np.full(capacity, NEVER, dtype=np.int64)  # each series' first bucket learned
        self.mixture = Mixture(capacity)

    def bytes_per_series(self) -> int:
        """Bytes every series costs."""
        return self.learned.itemsize + self.first_ms.itemsize + self.mixture.bytes_per_series()

    def grow(self, capacity: int) -> None:
        """Make room for capacity series; new series start empty."""
        extra = capacity - len(self.learned)
        if extra > 0:
            self.learned = np.concatenate([self.learned, np.zeros(extra, np.int32)])
            self.first_ms = np.concatenate([self.first_ms, np.full(extra, NEVER, np.int64)])
            self.mixture.grow(capacity)

    def warm(self, idx: NDArray[np.intp], t_ms: int) -> NDArray[np.bool_]:
        """Shape (k,): whether series idx may report in the bucket starting at t_ms."""
        ready: NDArray[np.bool_] = self.learned[idx] >= self.warmup
        if self.kind == "time_of_week":
            ready &= t_ms - self.first_ms[idx] >= WEEK_MS
        return ready

    def begin_bucket(self, t_ms: int, n_series: int) -> None:
        """Nothing to roll: points have no time structure beyond their own value."""

    def score(self, idx: NDArray[np.intp], x: FloatArray, t_ms: int) -> Scored:
        """Score bucket values without learning them (see SeriesModel.score)."""
        return self._run(idx, x, t_ms, learn=False)

    def step(self, idx: NDArray[np.intp], x: FloatArray, t_ms: int) -> Scored:
        """Score bucket values and learn them (see SeriesModel.step)."""
        return self._run(idx, x, t_ms, learn=True)

    def _run(self, idx: NDArray[np.intp], x: FloatArray, t_ms: int, *, learn: bool) -> Scored:
        out = SeriesModel.blank_scored(len(idx))
        fresh = idx[self.learned[idx] == 0]
        out.ln_p_single[:], out.typical[:] = evaluate(self.geometry, self.mixture, self.learned, idx, x, decay=self.decay, learn=learn)
        out.ln_p_multi[:] = 0.0
        out.ln_p_tail[:] = out.ln_p_single
        if learn:
            self.first_ms[fresh] = t_ms
        return out

    def arrays(self, rows: int) -> Arrays:
        """The state of the first rows series as named arrays."""
        mixture = {f"mixture.{k}": v for k, v in self.mixture.arrays(rows).items()}
        return {"learned": self.learned[:rows], "first_ms": self.first_ms[:rows], **mixture}

    def load(self, arrays: Arrays) -> None:
        """Restore the state written by arrays()."""
        self.learned = arrays["learned"]
        self.first_ms = arrays["first_ms"]
        self.mixture.load(prefixed(arrays, "mixture."))


@kernel
def _sigma_sq(spread: float, floor_sq: float, dimensions: int) -> float:
    return max(spread / dimensions, floor_sq)


@kernel
def _distance_sq(centre: FloatArray, u: FloatArray) -> float:
    return float((u[0] - centre[0]) ** 2 + (u[1] - centre[1]) ** 2 + (u[2] - centre[2]) ** 2)


@kernel
def _ln_density(weight: float, d_sq: float, sigma_sq: float, dimensions: int) -> float:
    """The log of a cluster's weight times its normal density at squared distance d_sq."""
    return math.log(weight) - 0.5 * d_sq / sigma_sq - 0.5 * dimensions * math.log(2.0 * math.pi * sigma_sq)


@kernel
def _less_likely(weight: float, sigma_sq: float, ln_f: float, dimensions: int) -> float:
    """The share of a cluster's points where the mixture density is below exp(ln_f).

    Near a cluster the mixture density is mostly its own, so these are its points beyond the
    radius r where weight * density(r) = exp(ln_f): all of them when even its centre is less
    likely, else a normal tail at r (one dimension) or exp(-r^2 / 2 sigma^2) (two).
    """
    r_sq = 2.0 * sigma_sq * (_ln_density(weight, 0.0, sigma_sq, dimensions) - ln_f)
    if r_sq <= 0.0:
        return 1.0
    if dimensions == 1:
        return math.erfc(math.sqrt(r_sq / (2.0 * sigma_sq)))
    return math.exp(-r_sq / (2.0 * sigma_sq))


@kernel
def _score_learn(
    idx: NDArray[np.intp], points: FloatArray, learned: NDArray[np.int32], weight: FloatArray, centre: FloatArray,
    spread: FloatArray, sizes: tuple[float, float, float], dimensions: int, decay: float, learn: bool,
    ln_p: FloatArray, typical: FloatArray,
) -> None:
    """Score each series' point against its mixture, then learn it if asked.

    A point's probability is that of a point less likely than it under the mixture (its density
    lower), summed over the clusters (see _less_likely): 1 at the heart of any cluster, however
    small its weight against the others, and tiny far from all of them.

    Args:
        idx: shape (k,), distinct series.
        points: shape (k, 3), their points (unit vectors).
        learned: shape (S,), buckets each series has learned.
        weight: shape (S, COMPONENTS), Mixture.weight.
        centre: shape (S, COMPONENTS, 3), Mixture.centre.
        spread: shape (S, COMPONENTS), Mixture.spread.
        sizes: Geometry's floor_sq (the squared floor of sigma), join_sq and widest_sq.
        dimensions: 1 on the circle, 2 on the sphere.
        decay: each learned point's decay of the weights.
        learn: update the state.
        ln_p: shape (k,), written: ln p of each point (0 for a series that has none yet).
        typical: shape (k, 3), written: the centre of the cluster that explains it best.
    """
    floor_sq = sizes[0]
    n_clusters = weight.shape[1]
    ln_parts = np.empty(n_clusters)
    for k in range(len(idx)):
        i = idx[k]
        u = points[k]
        total, best, top = 0.0, -1, -np.inf
        for c in range(n_clusters):
            if weight[i, c] <= 0.0:
                continue
            total += weight[i, c]
            ln_parts[c] = _ln_density(weight[i, c], _distance_sq(centre[i, c], u),
                                      _sigma_sq(spread[i, c], floor_sq, dimensions), dimensions)
            if ln_parts[c] > top:
                best, top = c, ln_parts[c]
        if best < 0:
            ln_p[k] = 0.0
            typical[k] = u
        else:
            scaled = 0.0  # the mixture's density over the top cluster's, so that far points do not underflow
            for c in range(n_clusters):
                if weight[i, c] > 0.0:
                    scaled += math.exp(ln_parts[c] - top)
            ln_f = top + math.log(scaled)
            mass = 0.0
            for c in range(n_clusters):
                if weight[i, c] > 0.0:
                    mass += weight[i, c] * _less_likely(weight[i, c], _sigma_sq(spread[i, c], floor_sq, dimensions), ln_f, dimensions)
            ln_p[k] = max(math.log(max(mass / total, 1e-300)), _LN_P_MIN)
            typical[k] = centre[i, best]
        if learn:
            _learn_point(weight[i], centre[i], spread[i], u, sizes, dimensions, decay)
            learned[i] += 1


@kernel
def _joined_spread(weight: float, spread: float, d_sq: float) -> float:
    """A cluster's spread once a point at squared distance d_sq from its centre joins it at weight 1."""
    return (weight * spread + weight / (weight + 1.0) * d_sq) / (weight + 1.0)


@kernel
def _learn_point(
    weight: FloatArray, centre: FloatArray, spread: FloatArray, u: FloatArray, sizes: tuple[float, float, float],
    dimensions: int, decay: float,
) -> None:
    """Add point u at weight 1 to one series' clusters (rows of weight, centre, spread); sizes as _score_learn's."""
    floor_sq, join_sq, widest_sq = sizes
    weight *= decay
    join, join_density = -1, 0.0
    for c in range(len(weight)):
        if weight[c] <= 0.0:
            continue
        d_sq = _distance_sq(centre[c], u)
        sigma_sq = _sigma_sq(spread[c], floor_sq, dimensions)
        if d_sq <= min(_JOIN_SIGMAS * _JOIN_SIGMAS * sigma_sq, join_sq) and _joined_spread(weight[c], spread[c], d_sq) <= widest_sq:
            density = weight[c] * math.exp(-0.5 * d_sq / sigma_sq) / sigma_sq ** (0.5 * dimensions)
            if density > join_density:
                join, join_density = c, density
    if join >= 0:
        w = weight[join]
        spread[join] = _joined_spread(w, spread[join], _distance_sq(centre[join], u))
        centre[join] += (u - centre[join]) / (w + 1.0)
        weight[join] = w + 1.0
        return
    free = _free_slot(weight, centre, spread)
    weight[free] = 1.0
    centre[free] = u
    spread[free] = 0.0


@kernel
def _free_slot(weight: FloatArray, centre: FloatArray, spread: FloatArray) -> int:
    """An unused cluster, made by merging the two closest clusters when all are in use."""
    for c in range(len(weight)):
        if weight[c] <= 0.0:
            return c
    a, b, closest = 0, 1, np.inf
    for c in range(len(weight)):
        for e in range(c + 1, len(weight)):
            d_sq = _distance_sq(centre[c], centre[e])
            if d_sq < closest:
                a, b, closest = c, e, d_sq
    w = weight[a] + weight[b]
    merged = (weight[a] * centre[a] + weight[b] * centre[b]) / w
    spread[a] = (weight[a] * (spread[a] + _distance_sq(centre[a], merged))
                 + weight[b] * (spread[b] + _distance_sq(centre[b], merged))) / w
    centre[a] = merged
    weight[a] = w
    weight[b] = 0.0
    return b
