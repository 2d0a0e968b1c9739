"""The detector functions: which bucket statistics they model and on which side they alert.

A function is data: a tuple of features, each a named bucket statistic with a side. Adding a
function (distinct_count, rare, time_of_day, lat_long) means adding a statistic to STATISTICS
and a row to FUNCTIONS; the analyzer needs no change for functions whose features are numbers.

Pre-aggregated input (``summary_count_field_name``): each record stands for ``weight`` events.
As in Elasticsearch's aggregation datafeeds, the field value is already that group's aggregate
of the matching kind, so ``count`` adds the weights, ``mean`` and ``varp`` weight each value by
its events, ``median`` is the weighted median, ``sum`` adds the values (each is already a sum)
and ``min``/``max`` take the extreme values. ``varp`` then misses the spread inside each group,
which the input does not carry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from anomalyd.engine import field_values
from anomalyd.engine.stats import FloatArray


@dataclass(frozen=True, slots=True)
class Grouped:
    """Rows of one bucket grouped by series, sorted by series (then by value, if asked).

    Attributes:
        series: shape (g,), the distinct series.
        starts: shape (g,), where each series' rows start.
        values: shape (n,), field values (NaN for functions without a field).
        weights: shape (n,), events each row stands for (> 0).
    """

    series: NDArray[np.intp]
    starts: NDArray[np.intp]
    values: FloatArray
    weights: FloatArray

    @classmethod
    def of(cls, series: NDArray[np.intp], values: FloatArray, weights: FloatArray, *, by_value: bool = True) -> Grouped:
        """Group rows (series index, value, weight) of one bucket.

        Args:
            series: shape (n,), each row's series.
            values: shape (n,), field values.
            weights: shape (n,), events each row stands for.
            by_value: also sort each series' rows by value, as ORDERED statistics need; other
                statistics are sums, and a stable sort by series alone is several times faster.
        """
        order = np.lexsort((values, series)) if by_value else np.argsort(series, kind="stable")
        s = series[order]
        starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1]))) if len(s) else np.zeros(0, np.intp)
        return cls(s[starts], starts, values[order], weights[order])

    # Beyond the float range a sum is inf (or nan, where +inf meets -inf): the models skip any
    # statistic that is not finite, so numpy need not warn of it.
    @np.errstate(over="ignore", invalid="ignore")
    def total(self, x: FloatArray) -> FloatArray:
        """Shape (g,): the sum of x over each series' rows."""
        return np.add.reduceat(x, self.starts) if len(self.starts) else np.zeros(0)

    def last(self) -> NDArray[np.intp]:
        """Shape (g,): the index of each series' last row."""
        if not len(self.starts):
            return self.starts
        return np.append(self.starts[1:], len(self.values)) - 1


def _mean(g: Grouped) -> FloatArray:
    return g.total(g.weights * g.values) / g.total(g.weights)


# An infinite mean less its own values is nan: skipped as total()'s are.
@np.errstate(over="ignore", invalid="ignore")
def _varp(g: Grouped) -> FloatArray:
    w = g.total(g.weights)
    mean = g.total(g.weights * g.values) / w
    sizes = np.diff(np.append(g.starts, len(g.values)))
    dev = g.values - np.repeat(mean, sizes)
    return g.total(g.weights * dev * dev) / w


def _median(g: Grouped) -> FloatArray:
    # Weighted median; with unit weights and an even count it is the mean of the middle pair.
    cum = np.cumsum(g.weights)
    before = cum[g.starts] - g.weights[g.starts]
    half = before + 0.5 * g.total(g.weights)
    lo = np.searchsorted(cum, half - 1e-9 * np.abs(half), side="left")
    exact = np.isclose(cum[lo], half) & (lo < g.last())
    # Halves first: the middle pair's sum overflows near the float limits; the same value otherwise.
    return np.where(exact, 0.5 * g.values[lo] + 0.5 * g.values[np.minimum(lo + 1, len(cum) - 1)], g.values[lo])


def _first_of_value(g: Grouped) -> NDArray[np.bool_]:
    """Shape (n,): the first row of each distinct value of each series (rows in value order)."""
    first = np.ones(len(g.values), bool)
    first[1:] = g.values[1:] != g.values[:-1]
    first[g.starts] = True
    return first


def _distinct_count(g: Grouped) -> FloatArray:
    return g.total(_first_of_value(g).astype(np.float64))


def _info_content(g: Grouped) -> FloatArray:
    # The information of each distinct text once, in one zlib stream, as ml-cpp compresses the bucket's distinct strings.
    each = np.where(_first_of_value(g), field_values.information_of(g.values), 0.0)
    return g.total(each) + field_values.EMPTY_ZLIB


def _mean_point(kind: str) -> Callable[[Grouped], FloatArray]:
    """The statistic of the mean direction of a series' points (times on their circle, places on the globe)."""

    def statistic(g: Grouped) -> FloatArray:
        vectors = field_values.unit_vectors(kind, g.values) * g.weights[:, None]
        sums = np.add.reduceat(vectors, g.starts, axis=0) if len(g.starts) else np.zeros((0, 3))
        # Points that cancel out (opposite times) have no mean direction: the first point stands in.
        empty = np.einsum("ij,ij->i", sums, sums) < 1e-18
        sums[empty] = vectors[g.starts[empty]]
        return field_values.from_vectors(kind, sums)

    return statistic


#: The statistics that read each series' rows in value order.
ORDERED = frozenset({"min", "max", "median", "distinct_count", "info_content"})
#: The statistics that count events, whose model may take the quasi-Poisson family.
COUNTING = frozenset({"count", "distinct_count"})

#: Bucket statistics by name: (grouped rows) -> one value per series.
STATISTICS: dict[str, Callable[[Grouped], FloatArray]] = {
    "count": lambda g: g.total(g.weights),
    "sum": lambda g: g.total(g.values),
    "mean": _mean,
    "median": _median,
    "min": lambda g: g.values[g.starts],
    "max": lambda g: g.values[g.last()],
    "varp": _varp,
    "distinct_count": _distinct_count,
    "info_content": _info_content,
    "time_of_day": _mean_point("time_of_day"),
    "time_of_week": _mean_point("time_of_week"),
    "lat_long": _mean_point("location"),
}


@dataclass(frozen=True, slots=True)
class Feature:
    """One modelled bucket statistic of a function.

    Attributes:
        statistic: key of STATISTICS.
        side: 0 alerts on both sides, +1 only above the model, -1 only below.
        empty_is_zero: every known series sees 0 in a bucket without its rows (count, sum);
            otherwise such a bucket has no value for the series.
        count_like: interim values are corrected for the bucket's expected completeness.
        points: the statistic is a point of a circle or sphere (a time of day or week, a
            location), modelled by point_model.PointModel instead of a SeriesModel.
    """

    statistic: str
    side: int
    empty_is_zero: bool
    count_like: bool
    points: bool = False


@dataclass(frozen=True, slots=True)
class Function:
    """A detector function.

    Attributes:
        name: the configured name (``high_mean``), written to records as ``function``.
        description: the statistic it describes, written as ``function_description``; a function
            of several features describes a record by the feature reported.
        features: the statistics it models; a record reports the least probable one.
        uses_field: whether it reads field_name.
        reads: what each record gives it (see field_values.row_values).
    """

    name: str
    description: str
    features: tuple[Feature, ...]
    uses_field: bool
    reads: str = "number"

    def describe(self, feature: int) -> str:
        """The function_description of a record that reports feature number `feature`."""
        return self.description if len(self.features) == 1 else self.features[feature].statistic


_SIDES = {"": 0, "high_": 1, "low_": -1}


def _family(
    names: tuple[str, ...], description: str, statistic: str, *, empty_is_zero: bool, count_like: bool, uses_field: bool,
    reads: str = "number",
) -> dict[str, Function]:
    return {
        prefix + name: Function(
            prefix + name, description, (Feature(statistic, side, empty_is_zero, count_like),), uses_field, reads
        )
        for name in names
        for prefix, side in _SIDES.items()
    }


FUNCTIONS: dict[str, Function] = {
    **_family(("count",), "count", "count", empty_is_zero=True, count_like=True, uses_field=False),
    **_family(("non_zero_count", "nzc"), "non_zero_count", "count", empty_is_zero=False, count_like=True, uses_field=False),
    **_family(("mean", "avg"), "mean", "mean", empty_is_zero=False, count_like=False, uses_field=True),
    **_family(("median",), "median", "median", empty_is_zero=False, count_like=False, uses_field=True),
    **_family(("sum",), "sum", "sum", empty_is_zero=True, count_like=True, uses_field=True),
    **_family(("non_null_sum",), "non_null_sum", "sum", empty_is_zero=False, count_like=True, uses_field=True),
    **_family(("varp",), "varp", "varp", empty_is_zero=False, count_like=False, uses_field=True),
    "min": Function("min", "min", (Feature("min", -1, False, False),), True),
    "max": Function("max", "max", (Feature("max", 1, False, False),), True),
    # metric models min, mean and max side by side, each with its own one- or two-sided test.
    "metric": Function(
        "metric",
        "metric",
        (Feature("min", -1, False, False), Feature("mean", 0, False, False), Feature("max", 1, False, False)),
        True,
    ),
    # As in ml-cpp, a series without records in a bucket has no distinct count, not 0.
    **_family(("distinct_count", "dc"), "distinct_count", "distinct_count", empty_is_zero=False, count_like=True,
              uses_field=True, reads="identity"),
    **_family(("info_content",), "info_content", "info_content", empty_is_zero=False, count_like=True, uses_field=True,
              reads="information"),
    **{
        name: Function(name, name, (Feature(name, 0, False, False, points=True),), False, name)
        for name in ("time_of_day", "time_of_week")
    },
    "lat_long": Function("lat_long", "lat_long", (Feature("lat_long", 0, False, False, points=True),), True, "location"),
}
