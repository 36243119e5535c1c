"""Multi-class losses: derivatives against finite differences, prox identities, limits."""

import numpy as np
import pytest
from scipy.optimize import minimize

from kdscope.theory.multiclass.losses import CrossEntropy, KLSoft, LogitMSE, Mix, prox, student_loss

C = 3
LOSSES = [CrossEntropy(C), KLSoft(C, 1.0), KLSoft(C, 2.5), KLSoft(C, 2.5, tau2_factor=False), LogitMSE(C),
          Mix(CrossEntropy(C), KLSoft(C, 2.0), 0.4), Mix(CrossEntropy(C), LogitMSE(C), 0.7)]


def _points(rng, n=5):
    return rng.normal(size=(n, C - 1)) * 2, rng.integers(0, C, size=n), rng.normal(size=(n, C - 1)) * 2


def _fd(fun, u, h=1e-4):
    """4th-order central differences of fun (N, D) -> (N, ...) along each coordinate."""
    cols = []
    for i in range(u.shape[1]):
        e = np.zeros_like(u)
        e[:, i] = h
        cols.append((-fun(u + 2 * e) + 8 * fun(u + e) - 8 * fun(u - e) + fun(u - 2 * e)) / (12 * h))
    return np.stack(cols, axis=-1)


@pytest.mark.parametrize("loss", LOSSES, ids=repr)
def test_derivatives_match_finite_differences(loss, rng):
    u, y, up = _points(rng)
    g, H, K = loss.derivatives(u, y, up)
    assert np.allclose(g, _fd(lambda v: loss.value(v, y, up), u), atol=1e-8)
    assert np.allclose(H, _fd(lambda v: loss.derivatives(v, y, up)[0], u), atol=1e-8)
    if K is not None:
        assert np.allclose(K, _fd(lambda v: loss.derivatives(u, y, v)[0], up), atol=1e-8)


@pytest.mark.parametrize("loss", LOSSES, ids=repr)
def test_prox_solves_its_objective(loss, rng):
    s, y, up = _points(rng, 4)
    A = rng.normal(size=(C - 1, C - 1))
    Vd = A @ A.T + 0.5 * np.eye(C - 1)
    h, g, H, K = prox(loss, s, Vd, y, up)
    assert np.allclose(h - s + g @ Vd.T, 0, atol=1e-11)  # (h - s) = -Vd grad
    Vinv = np.linalg.inv(Vd)
    for i in range(len(s)):
        obj = lambda v: 0.5 * (v - s[i]) @ Vinv @ (v - s[i]) + loss.value(v[None], y[i:i + 1], up[i:i + 1])[0]
        ref = minimize(obj, s[i], method="BFGS", options=dict(gtol=1e-10)).x
        assert np.allclose(h[i], ref, atol=1e-6)


def test_cross_entropy_hand_values_and_binary_reduction():
    ce = CrossEntropy(3)
    assert np.isclose(ce.value(np.zeros((1, 2)), np.array([1]))[0], np.log(3))
    # C = 2: CE equals the logistic loss of z_1 - z_2 = sqrt(2) u
    ce2 = CrossEntropy(2)
    u = np.array([[0.7], [-1.3]])
    assert np.allclose(ce2.value(u, np.array([0, 0])), np.log1p(np.exp(-np.sqrt(2) * u[:, 0])))
    assert np.allclose(ce2.value(u, np.array([1, 1])), np.log1p(np.exp(np.sqrt(2) * u[:, 0])))


def test_kl_large_tau_tends_to_logit_matching(rng):
    u, y, up = _points(rng)
    big = KLSoft(C, 1e4).value(u, y, up)
    assert np.allclose(big, np.sum((u - up) ** 2, axis=1) / (2 * C), rtol=1e-3)
    assert np.allclose(KLSoft(C, 2.0).value(up, y, up), 0, atol=1e-14)


def test_xi_zero_is_hard_only(rng):
    u, y, up = _points(rng)
    mix = student_loss(C, 0.0, "kl", 2.0)
    assert np.allclose(mix.value(u, y, up), CrossEntropy(C).value(u, y))
    g, H, K = mix.derivatives(u, y, up)
    assert np.allclose(K, 0)
