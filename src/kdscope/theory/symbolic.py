"""Symbolic derivations (sympy) that cross-check the numeric engine.

Three derivations, each returning sympy expressions (and, where useful, a
lambdified numeric function):

1. The tau -> infinity limit of the distillation loss with Hinton's factor:
   tau^2 KL(Bern(sigmoid(t/tau)) || Bern(sigmoid(z/tau))) -> (z - t)^2 / 8,
   and of its gradient -> (z - t) / 4 (Kim et al., IJCAI 2021, binary case).
2. Closed-form proxes: argmin_h (h - s)^2 / (2 v) + loss(h) for the square,
   linear and hinge losses and for the mix (1 - xi) square + xi logit-MSE.
3. The closed-form K = 2 square-loss channel: teacher with square loss, student
   with (1 - xi) square + xi logit-MSE on the teacher's training output.
   Every h_a is affine in the cavity fields, f_a = A_a . omega + c_a(y), so
   E[f_a | y], E[f_a f_b | y] follow from the Gaussian moments of omega and
   d f_a / d omega_b = A_ab exactly: rational functions of
   (m, Q, V, b, delta, rho, xi) that sympy builds exactly.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp


# ---------------------------------------------------------------- 1. KL limit
def kl_loss_expr():
    """tau^2 KL(Bern(sigmoid(t/tau)) || Bern(sigmoid(z/tau))) as a sympy expression in (z, t, tau)."""
    z, t, tau = sp.symbols("z t tau", real=True)
    sig = lambda u: 1 / (1 + sp.exp(-u))  # noqa: E731
    p, pt = sig(z / tau), sig(t / tau)
    kl = pt * sp.log(pt / p) + (1 - pt) * sp.log((1 - pt) / (1 - p))
    return tau ** 2 * kl, (z, t, tau)


@lru_cache(maxsize=1)
def kl_large_tau_limit():
    """(limit of the loss, limit of its z-gradient) as tau -> infinity.

    Computed by substituting tau = 1/eps and taking the series in eps at 0.
    Expected: ((z - t)^2 / 8, (z - t) / 4).
    """
    loss, (z, t, tau) = kl_loss_expr()
    eps = sp.symbols("epsilon", positive=True)
    grad = sp.diff(loss, z)
    out = []
    for e in (loss, grad):
        ser = sp.series(e.subs(tau, 1 / eps), eps, 0, 1).removeO()
        out.append(sp.simplify(sp.expand(ser)))
    return tuple(out)


# -------------------------------------------------------------- 2. closed proxes
@lru_cache(maxsize=None)
def prox_closed_forms():
    """Closed-form proxes derived from the stationarity condition (h - s)/v + loss'(h) = 0.

    Returns a dict name -> sympy expression (hinge: a Piecewise) in symbols
    s, v, y (label), t (soft target), xi.
    """
    h, s, t, xi = sp.symbols("h s t xi", real=True)
    v = sp.symbols("v", positive=True)
    y = sp.symbols("y", real=True)
    out = {}
    for name, loss in {
        "square": (y - h) ** 2 / 2,
        "linear": -y * h,
        "mse": (h - t) ** 2 / 2,
        "square_mse_mix": (1 - xi) * (y - h) ** 2 / 2 + xi * (h - t) ** 2 / 2,
    }.items():
        out[name] = sp.simplify(sp.solve(sp.Eq((h - s) / v + sp.diff(loss, h), 0), h)[0])
    # hinge max(0, 1 - y h), y = +-1: three regimes of the subgradient condition, written for y h
    ys = y * s
    out["hinge"] = sp.Piecewise((s, ys >= 1), (s + v * y, ys <= 1 - v), (y, True))
    return out


# ------------------------------------------------ 3. closed-form K = 2 channel
@lru_cache(maxsize=1)
def square_channel_k2():
    """Expectations of the K = 2 channel with square teacher and square/MSE student, exactly.

    Returns (symbols, dict) where the dict maps 'Ef', 'Eyf', 'Eff', 'Edf' to
    sympy Matrices in the symbols (m0, m1, b0, b1, Q00, Q01, Q11, V00, V10,
    V11, delta, rho, xi).  No label noise.
    """
    m0, m1, b0, b1, Q00, Q01, Q11, V10, xi, rho = sp.symbols("m0 m1 b0 b1 Q00 Q01 Q11 V10 xi rho", real=True)
    V00, V11, delta = sp.symbols("V00 V11 delta", positive=True)
    y, g0, g1 = sp.symbols("y g0 g1", real=True)
    sym = (m0, m1, b0, b1, Q00, Q01, Q11, V00, V10, V11, delta, rho, xi)
    proxes = prox_closed_forms()
    s_, v_, y_, t_, xi_ = sp.symbols("s v y t xi", real=True)
    v_pos = [x for x in proxes["square"].free_symbols if x.name == "v"][0]

    om0, om1 = sp.symbols("omega0 omega1", real=True)
    v0, v1 = delta * V00, delta * V11
    h0 = proxes["square"].subs({s_: om0, v_pos: v0, y_: y})
    f0 = (h0 - om0) / v0
    s1 = om1 + delta * V10 * f0
    mix = proxes["square_mse_mix"]
    v_mix = [x for x in mix.free_symbols if x.name == "v"][0]
    h1 = mix.subs({s_: s1, v_mix: v1, y_: y, t_: h0, xi_: xi})
    f1 = (h1 - s1) / v1
    F = [f0, f1]
    # every f_a is affine in (omega0, omega1): f_a = A_a . omega + c_a(y)
    A = [[sp.cancel(sp.diff(F[a], o)) for o in (om0, om1)] for a in range(2)]
    c = [sp.cancel(F[a].subs({om0: 0, om1: 0})) for a in range(2)]
    Qm = sp.Matrix([[Q00, Q01], [Q01, Q11]])

    def by_label(fn):
        """rho * fn(y = +1) + (1 - rho) * fn(y = -1)."""
        return rho * fn(1) + (1 - rho) * fn(-1)

    def mean_f(a, yy):
        """E[f_a | y]: omega has mean (y m0 + b0, y m1 + b1) and covariance delta Q."""
        mu = (yy * m0 + b0, yy * m1 + b1)
        return sum(A[a][j] * mu[j] for j in range(2)) + c[a].subs(y, yy)

    def second(a, b_, yy):
        cov = delta * sum(A[a][i] * Qm[i, j] * A[b_][j] for i in range(2) for j in range(2))
        return mean_f(a, yy) * mean_f(b_, yy) + cov

    out = {
        "Ef": sp.Matrix([by_label(lambda yy, a=a: mean_f(a, yy)) for a in range(2)]),
        "Eyf": sp.Matrix([by_label(lambda yy, a=a: yy * mean_f(a, yy)) for a in range(2)]),
        "Eff": sp.Matrix(2, 2, lambda a, b_: by_label(lambda yy: second(a, b_, yy))),
        "Edf": sp.Matrix(2, 2, lambda a, b_: A[a][b_] if b_ <= a else 0),
    }
    return sym, out


def square_channel_k2_numeric():
    """Lambdified version of :func:`square_channel_k2`: dict name -> f(m0, m1, ..., xi) returning arrays."""
    sym, exprs = square_channel_k2()
    return {k: sp.lambdify(sym, e, "numpy") for k, e in exprs.items()}
