"""Loss identities: derivatives, prox optimality, hand values and limits."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.optimize import minimize_scalar

from kdscope.theory.losses import KL, Hinge, Linear, Logistic, LogitMSE, Mix, Pseudo, Square

# (loss, target sampler): smooth losses whose grad/hess we can difference
LOSSES = [
    (Logistic(), "label"), (Logistic(smooth=0.1), "label"), (Square(), "label"), (Linear(), "label"),
    (KL(tau=1.0), "soft"), (KL(tau=3.0, tau2_factor=False), "soft"), (LogitMSE(), "soft"),
    (Pseudo(Logistic()), "soft"),
    (Mix(Logistic(), KL(tau=2.0), 0.4), "pair"), (Mix(Square(), LogitMSE(), 0.7), "pair"),
    (Mix(Logistic(), LogitMSE(), 0.5), "pair"),
]
IDS = [f"{type(l).__name__}-{i}" for i, (l, _) in enumerate(LOSSES)]


def _target(kind, rng, n):
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    t = 3.0 * rng.normal(size=n)
    return {"label": y, "soft": t, "pair": (y, t)}[kind]


@pytest.mark.parametrize("loss, kind", LOSSES, ids=IDS)
def test_grad_and_hess_match_central_differences(loss, kind, rng):
    z = 4.0 * rng.normal(size=50)
    tgt = _target(kind, rng, 50)
    e = 1e-4
    fd_grad = (-loss.value(z + 2 * e, tgt) + 8 * loss.value(z + e, tgt) - 8 * loss.value(z - e, tgt)
               + loss.value(z - 2 * e, tgt)) / (12 * e)
    fd_hess = (-loss.grad(z + 2 * e, tgt) + 8 * loss.grad(z + e, tgt) - 8 * loss.grad(z - e, tgt)
               + loss.grad(z - 2 * e, tgt)) / (12 * e)
    np.testing.assert_allclose(loss.grad(z, tgt), fd_grad, atol=1e-8, rtol=1e-7)
    np.testing.assert_allclose(loss.hess(z, tgt), fd_hess, atol=1e-8, rtol=1e-7)


@pytest.mark.parametrize("loss, kind", [x for x in LOSSES if x[1] != "label" and not isinstance(x[0], Pseudo)],
                         ids=[i for i, x in zip(IDS, LOSSES) if x[1] != "label" and not isinstance(x[0], Pseudo)])
def test_cross_derivative_matches_differences_in_the_target(loss, kind, rng):
    z = 3.0 * rng.normal(size=30)
    tgt = _target(kind, rng, 30)
    e = 1e-5
    if kind == "pair":
        y, t = tgt
        fd = (loss.grad(z, (y, t + e)) - loss.grad(z, (y, t - e))) / (2 * e)
    else:
        fd = (loss.grad(z, tgt + e) - loss.grad(z, tgt - e)) / (2 * e)
    np.testing.assert_allclose(loss.cross(z, tgt), fd, atol=1e-7)


@settings(max_examples=60, deadline=None)
@given(s=st.floats(-40, 40), logv=st.floats(-3, 3), t=st.floats(-20, 20), yi=st.sampled_from([-1.0, 1.0]),
       i=st.integers(0, len(LOSSES) - 1))
def test_prox_is_the_minimiser_of_its_objective(s, logv, t, yi, i):
    loss, kind = LOSSES[i]
    v = 10.0 ** logv
    tgt = {"label": np.array([yi]), "soft": np.array([t]), "pair": (np.array([yi]), np.array([t]))}[kind]
    h = loss.prox(np.array([s]), v, tgt)[0]
    # optimality: (h - s) / v = -grad(h)
    assert abs((h - s) / v + loss.grad(np.array([h]), tgt)[0]) * v <= 1e-9 * (1 + abs(h) + abs(s))
    # and agrees with a generic scalar minimiser of the defining objective
    obj = lambda u: (u - s) ** 2 / (2 * v) + float(loss.value(np.array([u]), tgt)[0])  # noqa: E731
    ref = minimize_scalar(obj, bracket=(s - 1, s + 1), tol=1e-12).x
    assert obj(h) <= obj(ref) + 1e-9 * (1 + abs(obj(ref)))


@settings(deadline=None)  # a 20001-point scan per example: timing depends on the machine's load
@given(s=st.floats(-10, 10), v=st.floats(0.01, 10), yi=st.sampled_from([-1.0, 1.0]))
def test_hinge_prox_closed_form(s, v, yi):
    h = Hinge().prox(np.array([s]), v, np.array([yi]))[0]
    obj = lambda u: (u - s) ** 2 / (2 * v) + max(0.0, 1 - yi * u)  # noqa: E731
    grid = np.linspace(s - v - 2, s + v + 2, 20001)
    assert obj(h) <= min(obj(u) for u in grid) + 1e-9


def test_logistic_hand_values():
    lg = Logistic()
    z, y = np.array([0.0]), np.array([1.0])
    assert lg.value(z, y)[0] == pytest.approx(np.log(2.0))
    assert lg.grad(z, y)[0] == pytest.approx(-0.5)
    assert lg.hess(z, y)[0] == pytest.approx(0.25)
    # large margins are stable
    assert lg.value(np.array([800.0]), np.array([-1.0]))[0] == pytest.approx(800.0)
    assert lg.value(np.array([800.0]), np.array([1.0]))[0] == pytest.approx(0.0, abs=1e-300)


def test_kl_vanishes_at_the_target_and_tends_to_logit_matching():
    z = np.linspace(-3, 3, 13)
    t = z[::-1].copy()
    assert np.allclose(KL(tau=2.0).value(z, z), 0.0, atol=1e-14)
    tau = 1e3
    kl = KL(tau=tau)
    np.testing.assert_allclose(kl.value(z, t), (z - t) ** 2 / 8, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(kl.grad(z, t), (z - t) / 4, rtol=1e-5, atol=1e-9)
    # without the tau^2 factor the loss is tau^2 times smaller
    np.testing.assert_allclose(KL(tau=3.0, tau2_factor=False).value(z, t) * 9, KL(tau=3.0).value(z, t))


def test_mix_is_one_formula_for_every_xi(rng):
    z = rng.normal(size=20)
    y = np.sign(rng.normal(size=20))
    t = rng.normal(size=20)
    for xi in (0.0, 0.3, 1.0):
        m = Mix(Logistic(), KL(tau=2.0), xi)
        expect = (1 - xi) * Logistic().value(z, y) + xi * KL(tau=2.0).value(z, t)
        np.testing.assert_allclose(m.value(z, (y, t)), expect)
        h = m.prox(z, 0.7, (y, t))
        np.testing.assert_allclose((h - z) / 0.7 + m.grad(h, (y, t)), 0.0, atol=1e-11)


def test_label_smoothing_target():
    # cross-entropy with target p = (1 - eps) y01 + eps / 2 has its minimum at sigmoid(z) = p
    eps = 0.2
    lg = Logistic(smooth=eps)
    p = 1 - eps / 2
    z_star = np.log(p / (1 - p))
    assert abs(lg.grad(np.array([z_star]), np.array([1.0]))[0]) < 1e-12
