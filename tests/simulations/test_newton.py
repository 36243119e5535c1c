"""Exact Newton training: optimality, closed forms, responses by finite differences, failure paths."""

from __future__ import annotations

import numpy as np
import pytest

from kdscope.simulations.data import draw_mean, draw_samples
from kdscope.simulations.measure import cross_response
from kdscope.simulations.newton import CONVERGED, DIVERGED, SEPARABLE, SINGULAR, FitOptions, fit, trains_bias
from kdscope.theory.losses import KL, Linear, Logistic, LogitMSE, Mix, Square


def _problem(rng, d, alpha, rho=0.5, delta=1.0):
    mu = draw_mean(rng, d)
    data = draw_samples(rng, mu, int(round(alpha * d)), delta, rho, 0.0)
    return mu, data, data.X / np.sqrt(d)


def _full_gradient(loss, target, A, lam, w, b, with_bias):
    l1 = loss.grad(A @ w + b, target)
    g = A.T @ l1 + lam * w
    return np.append(g, l1.sum()) if with_bias else g


@pytest.mark.parametrize("lam", [1e-4, 0.1])
def test_logistic_fit_is_stationary_and_matches_sklearn(rng, lam):
    sklearn = pytest.importorskip("sklearn.linear_model")
    d = 60
    _, data, A = _problem(rng, d, 2.0, rho=0.3)
    f = fit(Logistic(), data.y_obs, A, lam, d=d)
    assert f.converged and f.status == CONVERGED
    g = _full_gradient(Logistic(), data.y_obs, A, lam, f.w, f.b, True)
    assert np.linalg.norm(g) <= 1e-10 * (1 + np.linalg.norm(np.append(f.w, f.b)))
    # sklearn minimises C sum loss + |w|^2 / 2 with an unpenalised intercept: C = 1 / lam
    clf = sklearn.LogisticRegression(C=1.0 / lam, tol=1e-12, max_iter=100000).fit(A, data.y_obs)
    np.testing.assert_allclose(f.w, clf.coef_[0], rtol=1e-4, atol=1e-5 * np.abs(f.w).max())
    np.testing.assert_allclose(f.b, clf.intercept_[0], atol=1e-4 * (1 + abs(f.b)))


def test_square_loss_is_the_normal_equations(rng):
    d, lam = 50, 0.3
    _, data, A = _problem(rng, d, 1.5, rho=0.3)
    f = fit(Square(), data.y_obs, A, lam, d=d)
    Ab = np.column_stack([A, np.ones(len(A))])
    R = np.diag(np.r_[np.full(d, lam), 0.0])
    theta = np.linalg.solve(Ab.T @ Ab + R, Ab.T @ data.y_obs)
    np.testing.assert_allclose(np.append(f.w, f.b), theta, rtol=1e-10, atol=1e-12)
    assert f.n_iter == 1  # one exact Newton step for a quadratic loss
    # V = Tr((Hessian with the bias profiled out)^-1) / d, by the Schur complement directly
    H = Ab.T @ Ab + R
    schur = H[:d, :d] - np.outer(H[:d, d], H[d, :d]) / H[d, d]
    assert f.response(d) == pytest.approx(np.trace(np.linalg.inv(schur)) / d, rel=1e-10)


def test_linear_loss_is_hebbian_without_bias(rng):
    d, lam = 40, 2.0
    _, data, A = _problem(rng, d, 1.0)
    assert not trains_bias(Linear(), True)
    f = fit(Linear(), data.y_obs, A, lam, d=d)
    assert f.b == 0.0 and not f.has_bias
    np.testing.assert_allclose(f.w, A.T @ data.y_obs / lam, rtol=1e-12)


def _fit_with_field(loss, target, A, lam, d, field):
    """Minimiser of sum loss + lam/2 |w|^2 - field.w: a ridge shift w -> w, solved by Newton on a wrapped loss."""
    # -field.w = lam/2 |w - field/lam|^2 - const: shift the ridge centre by field/lam via a change of variables
    # u = w - field/lam, z = A u + b + A field/lam: an offset in the logit.
    offset = A @ field / lam

    class Offset:
        quadratic = None

        def value(self, z, t):
            return loss.value(z + offset, t)

        def grad(self, z, t):
            return loss.grad(z + offset, t)

        def hess(self, z, t):
            return loss.hess(z + offset, t)

    f = fit(Offset(), target, A, lam, d=d, options=FitOptions(gtol=1e-13))
    return f.w + field / lam, f.b


def test_response_V_is_the_trace_of_the_field_derivative(rng):
    """V = Tr(d w / d h) / d for a field -h.w in the objective (the replica susceptibility)."""
    d, lam, eps = 25, 0.05, 1e-6
    _, data, A = _problem(rng, d, 2.0, rho=0.3)
    f = fit(Logistic(), data.y_obs, A, lam, d=d, options=FitOptions(gtol=1e-13))
    trace = 0.0
    for i in range(d):
        e = np.zeros(d)
        e[i] = eps
        wp, _ = _fit_with_field(Logistic(), data.y_obs, A, lam, d, e)
        wm, _ = _fit_with_field(Logistic(), data.y_obs, A, lam, d, -e)
        trace += (wp[i] - wm[i]) / (2 * eps)
    assert f.response(d) == pytest.approx(trace / d, rel=1e-5)


def test_cross_response_matches_finite_differences(rng):
    """V_st = Tr_S(d w_student / d h_teacher) / d, sparse student on the first d_s coordinates."""
    d, d_s, lam_t, lam_s, eps = 20, 12, 0.1, 0.02, 1e-6
    _, data, A = _problem(rng, d, 2.0, rho=0.4)
    y = data.y_obs
    student_loss = Mix(Logistic(), KL(tau=2.0), 0.7)
    opts = FitOptions(gtol=1e-13)

    def student(w0, b0):
        t = A @ w0 + b0
        return fit(student_loss, (y, t), A[:, :d_s], lam_s, d=d, options=opts), t

    f0 = fit(Logistic(), y, A, lam_t, d=d, options=opts)
    f1, t = student(f0.w, f0.b)
    c = student_loss.cross(A[:, :d_s] @ f1.w + f1.b, (y, t))
    v_st = cross_response(A, f0.H_inv, True, A[:, :d_s], f1.H_inv, True, c, d)
    trace = 0.0
    for i in range(d_s):
        e = np.zeros(d)
        e[i] = eps
        ws = []
        for sign in (1, -1):
            w0, b0 = _fit_with_field(Logistic(), y, A, lam_t, d, sign * e)
            ws.append(student(w0, b0)[0].w[i])
        trace += (ws[0] - ws[1]) / (2 * eps)
    assert v_st == pytest.approx(trace / d, rel=1e-4)
    assert v_st > 0


def test_unregularised_logistic_on_separable_data_is_reported(rng):
    d = 100
    _, data, A = _problem(rng, d, 1.0)  # alpha = 1 < alpha* = 3.70: separable
    f = fit(Logistic(), data.y_obs, A, 0.0, d=d)
    assert not f.converged
    assert f.status in (SEPARABLE, DIVERGED)
    assert np.isnan(f.response(d))
    assert np.all(np.sign(A @ f.w + f.b) == data.y_obs)  # it did separate the training set


def test_unregularised_square_loss_below_interpolation_is_singular(rng):
    d = 60
    _, data, A = _problem(rng, d, 0.5)
    f = fit(Square(), data.y_obs, A, 0.0, d=d)
    assert not f.converged and f.status == SINGULAR


def test_divergence_bound(rng):
    d = 50
    _, data, A = _problem(rng, d, 1.0)
    f = fit(Logistic(), data.y_obs, A, 0.0, d=d, options=FitOptions(bound=10.0))
    assert not f.converged and f.status == DIVERGED


def test_unregularised_student_copies_teacher(rng):
    """xi = 1, logit MSE, lam_s = 0, n > d: the student's minimiser is the teacher itself."""
    d = 40
    _, data, A = _problem(rng, d, 2.0)
    f0 = fit(Logistic(), data.y_obs, A, 0.1, d=d)
    t = A @ f0.w + f0.b
    f1 = fit(Mix(Logistic(), LogitMSE(), 1.0), (data.y_obs, t), A, 0.0, d=d)
    np.testing.assert_allclose(f1.w, f0.w, atol=1e-10)
    assert f1.b == pytest.approx(f0.b, abs=1e-10)
