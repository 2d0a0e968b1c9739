"""Tail probabilities, the F test and the raw-score map."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from anomalyd.engine.stats import (
    LN_P_MIN,
    f_test_log_p1,
    ln_gamma1,
    log_erfc1,
    normal_tail_log_p1,
    poisson_tail_log_p1,
    raw_score,
    student_t_tail_log_p1,
)


@given(st.floats(min_value=-6.0, max_value=26.0))
def test_log_erfc_matches_math(x: float) -> None:
    assert math.isclose(log_erfc1(x), math.log(math.erfc(x)), rel_tol=2e-6, abs_tol=2e-7)


def test_log_erfc_stays_finite_far_in_the_tail() -> None:
    ln = np.array([log_erfc1(x) for x in (30.0, 100.0, 1e6, np.inf)])
    assert np.all(np.isfinite(ln))
    assert np.all(np.diff(ln) < 0)


def test_one_sided_tails_ignore_the_other_side() -> None:
    both, high, low = ([normal_tail_log_p1(z, side) for z in (-5.0, 5.0)] for side in (0, 1, -1))
    assert both[0] == both[1] < math.log(1e-5)
    assert high[0] == 0.0 and high[1] == both[1]
    assert low[1] == 0.0 and low[0] == both[0]
    assert normal_tail_log_p1(1e9, 0) == LN_P_MIN


def test_raw_score_knots() -> None:
    p = np.array([0.5, 0.05, 1e-4, 1e-50, 1e-300])
    assert np.allclose(raw_score(np.log(p)), [0.0, 0.0, 1.0, 50.0, 100.0])
    assert np.all(np.diff(raw_score(np.linspace(0.0, -700.0, 200))) >= 0)


def test_f_test_against_tables() -> None:
    # F(10, 100): the 5% critical value is 1.93, the 1% one 2.51.
    p = np.exp([f_test_log_p1(f, 10.0, 100.0) for f in (1.93, 2.51)])
    assert np.allclose(p, [0.05, 0.01], rtol=0.15)
    assert np.all(np.diff([f_test_log_p1(f, 5.0, 50.0) for f in np.linspace(0.1, 50.0, 50)]) < 0)


@given(st.floats(min_value=1e-3, max_value=1e6))
def test_ln_gamma_matches_math(z: float) -> None:
    assert math.isclose(ln_gamma1(z), math.lgamma(z), rel_tol=1e-9, abs_tol=1e-9)


def _exact_poisson_tail(k: int, mu: float) -> float:
    """Two-sided Poisson tail, summing the mass function (math.lgamma) away from the mean."""

    def pmf(j: int) -> float:
        return math.exp(j * math.log(mu) - mu - math.lgamma(j + 1))

    terms = range(k, k + 2000) if k > mu else range(k + 1)
    return min(1.0, 2.0 * sum(pmf(j) for j in terms))


@given(st.integers(min_value=0, max_value=400), st.floats(min_value=0.01, max_value=300.0))
def test_poisson_tail_is_close_to_the_exact_one(k: int, mu: float) -> None:
    exact = _exact_poisson_tail(k, mu)
    approx = math.exp(poisson_tail_log_p1(float(k), mu))
    if exact > 1e-12:
        assert exact / 1.5 <= approx <= exact * 1.5
    elif exact > 1e-250:  # far out a relative error in ln p is what matters to scores
        assert math.isclose(math.log(approx), math.log(exact), rel_tol=0.1)


def test_poisson_tail_of_a_silent_hour() -> None:
    # No events where 10 are expected: e^-10 on one side, far rarer than the normal tail says.
    both = poisson_tail_log_p1(0.0, 10.0)
    assert math.isclose(both, math.log(2 * math.exp(-10.0)), abs_tol=0.01)
    assert both < normal_tail_log_p1(-10.0 / math.sqrt(10.0), 0) - 2.5


def _exact_student_t_tail(t: float, dof: float) -> float:
    """Ln P(|T| >= t) of a Student-t, integrating its density over ln x from t outwards."""
    ln_c = math.lgamma((dof + 1) / 2) - math.lgamma(dof / 2) - 0.5 * math.log(dof * math.pi)
    u = np.linspace(math.log(t), math.log(t) + 60.0, 200_001)
    ln_f = ln_c - (dof + 1) / 2 * np.log1p(np.exp(2 * u) / dof) + u
    top = ln_f.max()
    return float(top + math.log(np.trapezoid(np.exp(ln_f - top), u)) + math.log(2.0))


@given(st.floats(min_value=12.0, max_value=200.0), st.floats(min_value=1.0, max_value=40.0))
def test_student_t_tail_is_close_to_the_exact_one(dof: float, t: float) -> None:
    assert math.isclose(student_t_tail_log_p1(t, dof, 0), _exact_student_t_tail(t, dof), rel_tol=0.02)


def test_student_t_tail_is_wider_than_the_normal_and_becomes_it() -> None:
    young, old = student_t_tail_log_p1(8.0, 24.0, 0), student_t_tail_log_p1(8.0, 1e9, 0)
    assert young > old + 10.0
    assert math.isclose(old, normal_tail_log_p1(8.0, 0), rel_tol=1e-6)
    assert student_t_tail_log_p1(8.0, math.inf, 0) == normal_tail_log_p1(8.0, 0)
    assert student_t_tail_log_p1(-8.0, 24.0, 1) == 0.0
    assert student_t_tail_log_p1(-8.0, 24.0, -1) == young
