"""Adaptive grids (kdscope.grids): refinement on analytic curves, threshold lists, optimisers."""

import numpy as np
import pytest

from kdscope import Setting
from kdscope.grids import (QUICK, GridOptions, adaptive_values, curve_thresholds, merge_grid, minimise_field,
                           optimum_point, refine_points)
from kdscope.theory import separability_threshold


def _run(f, values, **kw):
    grid = adaptive_values(lambda xs: {"y": [f(x) for x in xs]}, values, **kw)
    return np.array(grid), np.array([f(x) for x in grid])


@pytest.mark.parametrize("x0", [1.234, 2.71, 4.9])
def test_refinement_finds_an_off_grid_peak(x0):
    f = lambda x: 1.0 / (1.0 + 50.0 * abs(x - x0))  # cusp peak between the coarse points  # noqa: E731
    xs, ys = _run(f, np.linspace(0.1, 6.0, 8), options=QUICK)
    assert abs(xs[np.argmax(ys)] - x0) <= 2 * QUICK.peak_width * (6.0 - 0.1)
    assert len(xs) <= QUICK.max_points


def test_refinement_of_a_smooth_curve_meets_the_tolerance():
    f = np.tanh
    opts = GridOptions(tol=0.01, min_width=0.002, max_points=200)
    xs, _ = _run(lambda x: float(np.tanh(x)), np.linspace(-4, 4, 5), options=opts)
    fine = np.linspace(-4, 4, 2001)
    poly = np.interp(fine, xs, f(xs))
    assert np.max(np.abs(poly - f(fine))) / 2.0 <= 2 * opts.tol  # y range of tanh here is ~2
    assert len(xs) < 200


def test_refinement_on_a_log_axis_and_failed_points():
    xs = np.geomspace(1e-4, 1e2, 7)
    ys = {"e": [1.0, 0.5, np.nan, 0.1, 0.2, 0.6, 0.9]}
    new = refine_points(xs, ys, logx=True, options=QUICK)
    assert new and all(1e-4 < v < 1e2 for v in new)
    assert any(np.isclose(np.log10(v), np.log10(np.sqrt(xs[3] * xs[4]))) for v in new)  # around the minimum
    assert refine_points([1.0, 2.0], {"e": [0.0, 1.0]}) == []


def test_refinement_closes_in_on_a_peak_hidden_by_a_failed_point():
    """The solver fails where a norm diverges: the true peak (x0) sits in a failed stretch beside the drawn maximum.

    Refinement must bisect beside the failed points until converged points lie within the
    peak resolution of x0 on both sides (as near a separability threshold with tiny ridge).
    """
    x0, lo, hi = 3.6, 0.5, 7.0
    f = lambda x: np.nan if abs(x - x0) < 0.02 else 1.0 / abs(x - x0)  # noqa: E731
    xs, ys = _run(f, np.linspace(lo, hi, 6), options=QUICK)
    ok = np.isfinite(ys)
    left, right = xs[ok & (xs < x0)].max(), xs[ok & (xs > x0)].min()
    width = 2 * QUICK.peak_width * (hi - lo) + 0.02
    assert x0 - left <= width and right - x0 <= width, (left, right)
    assert len(xs) <= QUICK.max_points
    one = refine_points([1.0, 2.0, 3.0, 4.0, 5.0], {"y": [1.0, 2.0, 3.0, np.nan, 1.0]}, options=QUICK)
    assert any(3.0 < v < 4.0 for v in one) and any(4.0 < v < 5.0 for v in one)


def test_merge_grid():
    assert merge_grid([1.0, 2.0], [1.5, 2.0 + 1e-12]) == [1.0, 1.5, 2.0]


def test_curve_thresholds():
    base = Setting(delta=1.0, rho=0.2, eta=0.5, generations=1, xi=1.0, lam_t=1e-5, lam_s=1e-5)
    th = curve_thresholds(base, "alpha", 0.1, 6.0)
    assert th["student interpolation"] == 0.5
    assert th["student separability"] == pytest.approx(separability_threshold(1.0, 0.2, 0.5))
    assert th["teacher separability"] == pytest.approx(separability_threshold(1.0, 0.2))
    ridge = curve_thresholds(base.replace(lam_t=0.1), "alpha", 0.1, 6.0)
    assert set(ridge) == {"student interpolation"}                      # soft, unsaturated targets
    assert curve_thresholds(base, "alpha", 1.0, 3.0).keys() == {"student separability"}
    assert curve_thresholds(base, "lam_t", 1e-5, 1.0) == {}
    assert set(curve_thresholds(base.replace(lam_s=0.1), "alpha", 0.1, 6.0)) == {"teacher separability"}


def test_optimum_point_uses_the_optimisers_and_minimise_field():
    s = Setting(delta=1.0, rho=0.2, alpha=3.0, lam_t=0.1)
    lam, _ = __import__("kdscope.theory", fromlist=["optimal_lam"]).optimal_lam(s, "t", bounds=(1e-3, 10.0))
    assert optimum_point(s, "lam_t", "eps_t", 1e-3, 10.0) == pytest.approx(lam)
    x, e = minimise_field(s, "lam_t", 0, 1e-3, 10.0)
    from kdscope.theory import solve

    assert abs(np.log10(x) - np.log10(lam)) < 0.05
    for other in (x / 3, x * 3):
        assert solve(s.replace(lam_t=other)).eps[0] >= e - 1e-9
