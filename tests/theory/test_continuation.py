"""Continuation: secant-predicted warm starts and the quadrature order carried along a curve."""

import numpy as np

from kdscope import Setting
from kdscope.theory import SolverOptions, solve, solve_curve
from kdscope.theory.continuation import predicted


def test_curve_points_meet_their_tolerance_at_the_order_carried_along():
    # from small to large norm (lam_t = 1e-3, rho = 1/2): the order needed rises along the curve
    alphas = [4.0, 3.0, 2.5, 2.0]
    sps = solve_curve(Setting(alpha=4.0, lam_t=1e-3), "alpha", alphas)
    tol = SolverOptions().quad_tol
    assert all(sp.converged and sp.quad_err <= tol for sp in sps)
    orders = [sp.order for sp in sps]
    assert orders == sorted(orders) and orders[-1] > orders[0]
    for a, sp in zip(alphas, sps):  # the same solution as a cold solve, to the quadrature tolerance
        cold = solve(Setting(alpha=a, lam_t=1e-3))
        assert np.max(np.abs(sp.state.Q - cold.state.Q) / cold.state.Q[0, 0]) < 1e-6
        assert abs(sp.eps[0] - cold.eps[0]) < 1e-7


def test_kd_curve_with_predicted_starts_equals_cold_solves():
    base = Setting(alpha=2.0, rho=0.2, eta=0.5, generations=1, xi=1.0, lam_s=1e-3, lam_t=0.1)
    alphas = np.geomspace(1.0, 4.0, 6)
    sps = solve_curve(base, "alpha", alphas)
    for a, sp in zip(alphas, sps):
        cold = solve(base.replace(alpha=float(a)))
        assert sp.converged and sp.quad_err <= 1e-7
        assert np.max(np.abs(sp.state.m - cold.state.m)) < 1e-7
        assert np.max(np.abs(sp.eps - cold.eps)) < 1e-7


def test_predicted_start_is_the_secant_and_falls_back_to_the_last_point():
    s = Setting(alpha=2.0, lam_t=0.1, rho=0.2)
    p1, p2 = solve(s), solve(s.replace(alpha=2.2))
    guess = predicted((2.0, p1), (2.2, p2), 2.4)
    x1, x2 = p1.state.to_solver(), p2.state.to_solver()
    assert np.allclose(guess.state.to_solver(), 2 * x2 - x1, atol=1e-12)
    assert guess.order == p2.order and guess.converged
    assert predicted(None, (2.2, p2), 2.4) is p2       # one point: no secant
    assert predicted((2.0, p1), (2.2, p2), 3.0) is p2  # a step more than twice the last: no extrapolation
    assert predicted((2.0, p1), (2.2, p2), 2.1) is p2  # going back: no extrapolation
