"""Symbolic derivations (sympy) against the numeric engine."""

import numpy as np
import pytest
import sympy as sp

from kdscope.theory.channel import channel_averages
from kdscope.theory.losses import Hinge, Linear, LogitMSE, Mix, Square
from kdscope.theory.quadrature import label_measure
from kdscope.theory.symbolic import kl_large_tau_limit, prox_closed_forms, square_channel_k2_numeric


def test_kl_limit_is_quarter_weight_logit_matching():
    loss_lim, grad_lim = kl_large_tau_limit()
    z, t = sorted(loss_lim.free_symbols, key=lambda s: s.name)[::-1]  # (z, t)
    assert sp.simplify(loss_lim - (z - t) ** 2 / 8) == 0
    assert sp.simplify(grad_lim - (z - t) / 4) == 0


@pytest.mark.parametrize("name, loss, kind", [
    ("square", Square(), "label"), ("linear", Linear(), "label"), ("mse", LogitMSE(), "soft"),
    ("square_mse_mix", Mix(Square(), LogitMSE(), 0.35), "pair"), ("hinge", Hinge(), "label"),
])
def test_numeric_prox_equals_symbolic_closed_form(name, loss, kind, rng):
    expr = prox_closed_forms()[name]
    syms = {s.name: s for s in expr.free_symbols}
    order = [syms[n] for n in ("s", "v", "y", "t", "xi") if n in syms]
    f = sp.lambdify(order, expr, "numpy")
    s = 3 * rng.normal(size=200)
    v = float(np.exp(rng.normal()))
    y = np.where(rng.random(200) < 0.5, 1.0, -1.0)
    t = 2 * rng.normal(size=200)
    vals = {"s": s, "v": v, "y": y, "t": t, "xi": 0.35}
    expected = f(*[vals[o.name] for o in order])
    target = {"label": y, "soft": t, "pair": (y, t)}[kind]
    np.testing.assert_allclose(loss.prox(s, v, target), expected, rtol=1e-12, atol=1e-12)


def test_numeric_k2_square_channel_equals_closed_form(rng):
    fns = square_channel_k2_numeric()
    for _ in range(3):
        m = rng.uniform(0.2, 2.0, size=2)
        b = rng.normal(scale=0.3, size=2)
        A = rng.normal(size=(2, 2))
        Q = A @ A.T + 0.5 * np.eye(2)
        V = np.array([[rng.uniform(0.2, 2), 0.0], [rng.normal(scale=0.5), rng.uniform(0.2, 2)]])
        delta, rho, xi = rng.uniform(0.3, 2.0), rng.uniform(0.1, 0.9), rng.uniform(0, 1)
        ch = channel_averages([Square(), Mix(Square(), LogitMSE(), xi)], m, Q, V, b, delta,
                              label_measure(2, rho, 0.0, 12))
        args = (m[0], m[1], b[0], b[1], Q[0, 0], Q[0, 1], Q[1, 1], V[0, 0], V[1, 0], V[1, 1], delta, rho, xi)
        # Gauss-Hermite with 12 nodes is exact for these degree-2 polynomials: agreement to rounding
        np.testing.assert_allclose(ch.Ef, np.ravel(fns["Ef"](*args)), atol=1e-12)
        np.testing.assert_allclose(ch.Eyf, np.ravel(fns["Eyf"](*args)), atol=1e-12)
        np.testing.assert_allclose(ch.Eff, np.array(fns["Eff"](*args), dtype=float), atol=1e-12)
        np.testing.assert_allclose(ch.Edf, np.array(fns["Edf"](*args), dtype=float), atol=1e-12)
