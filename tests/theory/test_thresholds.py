"""No finite minimiser is never 'converged': thresholds with label noise and sparsity, checked by an LP."""

import numpy as np
import pytest
from scipy.optimize import linprog

from kdscope import Setting
from kdscope.theory import SaddlePointNotConverged, Status, separability_threshold, solve
from kdscope.theory.thresholds import no_finite_minimiser


def _separable(alpha, delta, rho, theta, d, rng) -> bool:
    """Is a finite training set of the mixture linearly separable with a bias?  Feasibility LP:
    y~_mu (w . x_mu / sqrt(d) + b) >= 1 for all mu (separable iff feasible; the margin 1 fixes the scale)."""
    n = int(round(alpha * d))
    mu = rng.normal(size=d)
    y = np.where(rng.random(n) < rho, 1.0, -1.0)
    X = y[:, None] * mu[None, :] / np.sqrt(d) + np.sqrt(delta) * rng.normal(size=(n, d))
    y_obs = np.where(rng.random(n) < theta, -y, y)
    A = -y_obs[:, None] * np.hstack([X / np.sqrt(d), np.ones((n, 1))])
    res = linprog(np.zeros(d + 1), A_ub=A, b_ub=-np.ones(n), bounds=[(None, None)] * (d + 1), method="highs")
    return res.status == 0


@pytest.mark.parametrize("delta, rho, theta", [(1.0, 0.5, 0.1), (1.0, 0.3, 0.0)])
def test_theory_and_a_finite_size_lp_agree_on_the_side_of_the_threshold(delta, rho, theta, rng):
    a_star = separability_threshold(delta, rho, theta=theta)
    d = 200
    # finite-size scatter of the transition ~ d^-1/2: points 25% away from alpha* are safely on one side
    below, above = 0.75 * a_star, 1.25 * a_star
    assert _separable(below, delta, rho, theta, d, rng)
    assert not _separable(above, delta, rho, theta, d, rng)
    s_below = Setting(alpha=below, delta=delta, rho=rho, theta=theta, lam_t=0.0)
    s_above = Setting(alpha=above, delta=delta, rho=rho, theta=theta, lam_t=0.0)
    assert solve(s_below, on_failure="record").status is Status.NO_FINITE_MINIMISER
    assert solve(s_above).converged


def test_label_noise_lowers_the_threshold():
    assert separability_threshold(1.0, 0.5, theta=0.1) < separability_threshold(1.0, 0.5)
    assert separability_threshold(1.0, 0.5, theta=0.0) == pytest.approx(3.70, abs=0.005)


def test_the_issue_example_is_no_finite_minimiser_not_converged():
    # reported converged with q_t = 19145 by the first engine; a d = 300 simulation finds it separable
    s = Setting(alpha=14.471331, delta=0.25, rho=0.5, lam_t=0.0)
    sp = solve(s, on_failure="record")
    assert sp.status is Status.NO_FINITE_MINIMISER and np.isnan(sp.eps[0])
    assert "alpha=14.4713 < alpha*=20.72" in sp.detail
    with pytest.raises(SaddlePointNotConverged, match="no finite minimiser"):
        solve(s)


@pytest.mark.parametrize("kwargs, k", [
    (dict(alpha=2.0, lam_t=0.0, theta=0.1), 0),                                   # teacher with label noise
    (dict(alpha=2.0, lam_t=0.0, loss_t="hinge"), 0),
    (dict(alpha=1.0, lam_t=0.1, generations=1, xi=0.0, lam_s=0.0, eta=0.5), 1),   # sparse hard-label student
    (dict(alpha=6.0, lam_t=0.1, generations=1, xi=1.0, lam_s=0.0, soft="pseudo"), 1),  # copies the teacher's signs
])
def test_unregularised_saturating_learners_below_threshold(kwargs, k):
    s = Setting(**kwargs)
    found = no_finite_minimiser(s)
    assert found is not None and found[0] == k
    assert solve(s, on_failure="record").status is Status.NO_FINITE_MINIMISER


@pytest.mark.parametrize("kwargs", [
    dict(alpha=2.0, lam_t=0.0, smooth_t=0.1),          # label smoothing: targets in (0, 1), a finite minimiser
    dict(alpha=2.0, lam_t=0.0, loss_t="square"),
    dict(alpha=3.0, lam_t=0.1, generations=1, xi=1.0, lam_s=0.0, soft="kl"),
    dict(alpha=6.0, lam_t=0.1, generations=1, xi=0.0, lam_s=0.0, eta=0.5),
])
def test_learners_with_a_finite_minimiser_are_not_flagged(kwargs):
    assert no_finite_minimiser(Setting(**kwargs)) is None


def test_divergence_is_still_detected_by_the_iteration():
    # a finite but large norm with a bound below it: the run-away check of the iteration itself
    from kdscope.theory import SolverOptions
    sp = solve(Setting(alpha=5.0, lam_t=0.0), options=SolverOptions(bound=5.0), on_failure="record")
    assert sp.status is Status.DIVERGED


def test_thresholds_of_decides_once_with_label_noise_and_learner_kinds():
    """thresholds_of: the teacher's separability follows theta; square teachers interpolate at 1;
    a pure-KD student of a ridge teacher interpolates at eta, of a small-ridge teacher it also separates."""
    from kdscope.theory import Setting, separability_threshold, thresholds_of

    noisy = thresholds_of(Setting(alpha=2.0, lam_t=0.0, theta=0.1))
    assert noisy["teacher separability"] == pytest.approx(separability_threshold(1.0, 0.5, theta=0.1))
    assert noisy["teacher separability"] < thresholds_of(Setting(alpha=2.0, lam_t=0.0))["teacher separability"]
    assert thresholds_of(Setting(alpha=2.0, lam_t=0.0, loss_t="square")) == {"teacher interpolation": 1.0}
    assert thresholds_of(Setting(alpha=2.0, lam_t=0.5)) == {}
    ridge_kd = thresholds_of(Setting(alpha=2.0, lam_t=0.1, generations=1, eta=0.5, xi=1.0, lam_s=0.0))
    assert ridge_kd == {"student interpolation": 0.5}
    flat_kd = thresholds_of(Setting(alpha=2.0, lam_t=0.0, generations=1, eta=0.5, xi=1.0, lam_s=0.0))
    assert flat_kd["student separability"] == pytest.approx(separability_threshold(1.0, 0.5, eta=0.5))
    assert set(flat_kd) == {"teacher separability", "student separability", "student interpolation"}
