"""Finite-size draws: exact norms, label statistics, fixed teachers with exact overlaps."""

from __future__ import annotations

import numpy as np
import pytest

from kdscope.simulations.data import draw_mean, draw_samples, fixed_teacher_weights


@pytest.mark.parametrize("d_s", [None, 37])
def test_mean_has_exact_norms(rng, d_s):
    d = 101
    mu = draw_mean(rng, d, d_s)
    assert np.dot(mu, mu) == pytest.approx(d, rel=1e-13)
    if d_s is not None:
        assert np.dot(mu[:d_s], mu[:d_s]) == pytest.approx(d_s, rel=1e-13)


def test_samples_follow_the_mixture(rng):
    d, n, delta, rho, theta = 200, 20000, 0.5, 0.2, 0.1
    mu = draw_mean(rng, d)
    s = draw_samples(rng, mu, n, delta, rho, theta)
    assert s.X.shape == (n, d) and s.n == n
    # label frequencies within 5 binomial standard deviations
    assert abs(np.mean(s.y > 0) - rho) <= 5 * np.sqrt(rho * (1 - rho) / n)
    assert abs(np.mean(s.y_obs != s.y) - theta) <= 5 * np.sqrt(theta * (1 - theta) / n)
    # projection on the unit vector mu / sqrt(d): y + sqrt(delta) N(0, 1)
    u = s.X @ (mu / np.linalg.norm(mu))
    resid = u - s.y
    assert abs(resid.mean()) <= 5 * np.sqrt(delta / n)
    assert resid.var() == pytest.approx(delta, rel=5 * np.sqrt(2 / n))


def test_fixed_teacher_has_exact_overlaps(rng):
    d, m0, q0 = 300, 0.8, 1.7
    mu = draw_mean(rng, d)
    w0 = fixed_teacher_weights(rng, mu, m0, q0)
    assert np.dot(w0, mu) / d == pytest.approx(m0, rel=1e-12)
    assert np.dot(w0, w0) / d == pytest.approx(q0, rel=1e-12)


def test_draws_are_reproducible():
    a = draw_samples(np.random.default_rng(3), draw_mean(np.random.default_rng(3), 20), 10, 1.0, 0.5, 0.1)
    b = draw_samples(np.random.default_rng(3), draw_mean(np.random.default_rng(3), 20), 10, 1.0, 0.5, 0.1)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y_obs, b.y_obs)
