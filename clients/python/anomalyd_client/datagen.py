"""A synthetic airline response-time data set with planted incidents, for the demo and tests.

Like Elasticsearch's farequote example: each record is one request to an airline's fare
service, {"time": epoch seconds, "airline": code, "responsetime": ms}. Request rates follow a
daily cycle (quiet at 03:00, busy mid-afternoon) and drop at weekends; response times rise
with load and carry log-normal noise. The incidents are known, so a reader can check what a
job finds against them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import numpy as np

AIRLINES = ("AAL", "ACA", "AWE", "BAW", "DAL", "EGF", "JAL", "JBU", "KLM", "UAL")
# Mean requests per 5 minutes at the daily peak, and mean response time (ms) at low load.
_RATES = np.array([14.0, 4.0, 6.0, 12.0, 13.0, 3.0, 8.0, 7.0, 9.0, 11.0])
_LEVELS = np.array([110.0, 240.0, 560.0, 180.0, 130.0, 90.0, 780.0, 320.0, 210.0, 150.0])
_NOISE_SIGMA = 0.12  # log-normal sigma of one response time
_WEEKEND_LOAD = 0.8  # mild: a week of data shows the model only one weekend
_STEP_S = 300  # rates and levels are constant within 5 minutes, the demo's bucket span
START = dt.datetime(2024, 2, 5, tzinfo=dt.UTC)  # a Monday
MIN_HOURS = 24


@dataclasses.dataclass(frozen=True)
class Incident:
    """A planted incident.

    Attributes:
        kind: "spike", "drop", "surge" or "level shift".
        airline: the series it hits.
        field: "responsetime" for a response-time change, "count" for a rate change.
        start: when it starts.
        end: when it ends (the end of the data for a level shift).
        factor: what the series' mean response time or request rate is multiplied by.
    """

    kind: str
    airline: str
    field: str
    start: dt.datetime
    end: dt.datetime
    factor: float

    def describe(self) -> str:
        """One line for people, such as "JBU responsetime x3.5 (spike) for 30m"."""
        minutes = (self.end - self.start) // dt.timedelta(minutes=1)
        return f"{self.airline} {self.field} x{self.factor:g} ({self.kind}) for {minutes}m"


def generate(
    seed: int = 0, *, hours: int = 7 * 24, start: dt.datetime = START
) -> tuple[list[dict[str, Any]], list[Incident]]:
    """Generates the data set: about 630 records an hour, in time order.

    Args:
        seed: the random seed; the same seed gives the same data.
        hours: the length of the data, at least MIN_HOURS.
        start: the time of the first step (UTC).

    Returns:
        The records, {"time": epoch s, "airline": str, "responsetime": ms}, sorted by time,
        and the incidents planted in them, in time order.

    Raises:
        ValueError: hours is below MIN_HOURS.
    """
    if hours < MIN_HOURS:
        raise ValueError(f"hours must be at least {MIN_HOURS}, not {hours}")
    rng = np.random.default_rng(seed)
    steps = hours * 3600 // _STEP_S
    step_hours = np.arange(steps) * _STEP_S / 3600
    hour_of_day = step_hours % 24
    weekday = (start.weekday() + step_hours // 24) % 7
    load = 0.35 + 0.65 * (1 - np.cos(2 * np.pi * (hour_of_day - 3) / 24)) / 2
    load *= np.where(weekday >= 5, _WEEKEND_LOAD, 1.0)
    rates = _RATES[:, None] * load  # shape (n_airlines, steps)
    levels = _LEVELS[:, None] * (1 + 0.3 * load)

    incidents = _incidents(start, hours)
    for incident in incidents:
        row = AIRLINES.index(incident.airline)
        first, last = (
            (t - start) // dt.timedelta(seconds=_STEP_S) for t in (incident.start, incident.end)
        )
        (levels if incident.field == "responsetime" else rates)[row, first:last] *= incident.factor

    counts = rng.poisson(rates).ravel()
    airline = np.repeat(np.repeat(np.arange(len(AIRLINES)), steps), counts)
    step = np.repeat(np.tile(np.arange(steps), len(AIRLINES)), counts)
    times = int(start.timestamp()) + step * _STEP_S + rng.integers(0, _STEP_S, counts.sum())
    responsetime = levels[airline, step] * rng.lognormal(0.0, _NOISE_SIGMA, counts.sum())
    order = np.argsort(times, kind="stable")
    records = [
        {"time": t, "airline": a, "responsetime": r}
        for t, a, r in zip(
            times[order].tolist(),
            np.array(AIRLINES)[airline[order]].tolist(),
            responsetime[order].round(3).tolist(),
            strict=True,
        )
    ]
    return records, incidents


def _incidents(start: dt.datetime, hours: int) -> list[Incident]:
    """Four incidents at fixed fractions of the data, on whole hours, in four airlines."""

    def at(fraction: float) -> dt.datetime:
        return start + dt.timedelta(hours=round(fraction * hours))

    end = start + dt.timedelta(hours=hours)
    return [
        Incident("drop", "AAL", "count", at(0.55), at(0.55) + dt.timedelta(hours=2), 0.05),
        Incident("spike", "JBU", "responsetime", at(0.7), at(0.7) + dt.timedelta(minutes=30), 3.5),
        Incident("surge", "DAL", "count", at(0.78), at(0.78) + dt.timedelta(hours=1), 4.0),
        Incident("level shift", "KLM", "responsetime", at(0.88), end, 1.5),
    ]
