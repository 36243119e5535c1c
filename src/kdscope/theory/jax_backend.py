"""JAX backend of the saddle-point solver: the same equations, jit-compiled and vmapped over grids.

:func:`solve_grid_jax` solves many Settings at once.  It mirrors the NumPy
engine term by term (DESIGN.md section 2):

* channel (``theory/channel.py``): cavity fields ``omega_a = y m_a + b_a + sqrt(delta) g_a``
  with g ~ N(0, Q) through the clipped Cholesky factor of Q; the chain of proxes
  ``s_a = omega_a + delta sum_{b<a} V_ab f_b``, ``h_a = prox of delta V_aa loss_a(.; y~, h_{a-1})``,
  ``f_a = (h_a - s_a) / (delta V_aa)``; the soft target is the previous learner's
  training output h_{a-1}; total derivatives d f_a / d omega_b by implicit
  differentiation of the prox conditions; a fixed teacher has ``h_0 = omega_0``, ``f_0 = 0``;
* conjugates ``m_hat = alpha E[y f]``, ``Q_hat = alpha delta E[f f^T]``, ``V_hat = -alpha delta E[df/domega]``;
* prior (``theory/prior.py``): ``V = A^-1, m = A^-1 m_hat, Q = A^-1 (m_hat m_hat^T + Q_hat) A^-T`` with
  ``A = diag(lam) + V_hat``, the students' rows scaled by eta, the teacher row frozen for a fixed teacher;
* one bias Newton step per iteration ``b_a <- b_a - E[f_a] / E[df_a/domega_a]`` (capped at 1 + |b_a|);
* the iteration of ``theory/solve.py`` and ``theory/fixed_point.py``: scale-free coordinates
  (log Q_aa, log V_aa, cosines, correlations), Anderson mixing (memory 6, damping 0.7) for at most
  400 iterations, then plain damped iteration (damping 0.9) from the start point; residual
  ``max_i |F(x)_i - x_i| / (1 + |x_i|)``; the same statuses (converged, max_iter, diverged by
  bound or by run-away growth, non-finite), never a silent NaN.

The prox is the safeguarded Newton iteration of ``theory/prox.py`` (bracket between s and
s - v loss'(s), bisection when Newton leaves the bracket or stalls, warm start from the previous
iteration's output) inside a ``lax.while_loop`` with at most 100 steps; a prox that does not meet
its tolerance marks the point non-finite, as the NumPy prox raises.

Every point of a batch shares the static structure (number of learners, loss names, fixed teacher,
bias, label noise present); the physical parameters (alpha, delta, rho, theta, eta, lam, xi, tau,
smoothing, fixed-teacher overlaps) are traced values, so one compilation serves a whole grid.
Points are solved one jitted call each on CPU, or ``batch`` at a time under ``jax.vmap`` (padded to a
power of two to bound the number of compilations; the default on an accelerator).  On CPU a vmapped
batch of K = 2 points was measured slower per point than the loop (18 ms per point alone, 27 ms in
batches of 8, 53 ms in batches of 64: the per-point arrays, 2 x 3200 quadrature nodes, no longer fit
in cache), so grids are parallelised over processes instead (``kdscope.sweep``).

Float64 is switched on at import (``jax.config.update('jax_enable_x64', True)``): this affects
every JAX user in the process.  Supported: hard losses logistic, square, linear; soft losses kl,
mse, pseudo; teachers erm (same or fresh samples), bayes and fixed.  The hinge loss (non-smooth)
is not: :func:`supports` says False and the NumPy backend must be used.

Chains are solved block by block in chain order, as ``theory.solve`` does: the upstream chain first
(on its own quadrature), then the last learner's row with the upstream rows frozen.

Observables and records are assembled by the NumPy code (``SaddlePoint.record``; the K = 2 student's
training error by ``channel.train_error_last``), so the columns and formulas are those of ``theory.solve``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

import jax
import jax.numpy as jnp
from jax import lax
from jax.scipy.special import ndtr as _jndtr

from .fixed_point import Status
from .observables import agreement, generalization_error
from .quadrature import _product_grid, default_order
from .setting import Setting
from .channel import train_error_last
from .solve import SaddlePoint, SolverOptions, State, _extend, chain_losses, frozen_mask

jax.config.update("jax_enable_x64", True)

__all__ = ["solve_grid_jax", "solve_batch_jax", "solve_lines_jax", "supports", "default_batch"]

PROX_TOL = 1e-13
PROX_MAX_ITER = 100
_SMOOTH_HARD = ("logistic", "square", "linear")
#: Status codes used inside the compiled loop.
_RUNNING, _CONVERGED, _MAX_ITER, _DIVERGED, _NON_FINITE = 0, 1, 2, 3, 4
_STATUS = {_CONVERGED: Status.CONVERGED, _MAX_ITER: Status.MAX_ITER, _DIVERGED: Status.DIVERGED,
           _NON_FINITE: Status.NON_FINITE, _RUNNING: Status.MAX_ITER}
_MAX_BATCH = 256


def supports(setting: Setting) -> bool:
    """True when the JAX backend implements this Setting (smooth losses only: no hinge)."""
    return setting.loss_t in _SMOOTH_HARD and (setting.generations == 0 or setting.loss_s in _SMOOTH_HARD)


# ------------------------------------------------------------------ losses
def _sigmoid(z):
    return jax.nn.sigmoid(z)


def _hard(name: str):
    """(value, grad, hess) of a hard loss in the logit z, label y, smoothing eps (logistic only)."""
    if name == "logistic":
        def p_of(y, eps):
            return (1.0 - eps) * (y + 1.0) / 2.0 + eps / 2.0

        def value(z, y, eps):
            p = p_of(y, eps)
            return p * jnp.logaddexp(0.0, -z) + (1.0 - p) * jnp.logaddexp(0.0, z)

        def grad(z, y, eps):
            return _sigmoid(z) - p_of(y, eps)

        def hess(z, y, eps):
            s = _sigmoid(z)
            return s * (1.0 - s)
    elif name == "square":
        def value(z, y, eps):
            return 0.5 * (y - z) ** 2

        def grad(z, y, eps):
            return z - y

        def hess(z, y, eps):
            return jnp.ones_like(z)
    elif name == "linear":
        def value(z, y, eps):
            return -y * z

        def grad(z, y, eps):
            return -y + 0.0 * z

        def hess(z, y, eps):
            return jnp.zeros_like(z)
    else:  # pragma: no cover - guarded by supports()
        raise ValueError(f"the JAX backend has no hard loss {name!r}; use one of {_SMOOTH_HARD}.")
    return value, grad, hess


def _soft(name: str, hard_name: str):
    """(value, grad, hess, cross) of a soft loss in z, target t, with params (tau, c)."""
    if name == "kl":
        def value(z, t, tau, c):
            u, ut = z / tau, t / tau
            pt = _sigmoid(ut)
            return c * (pt * (jnp.logaddexp(0.0, -u) - jnp.logaddexp(0.0, -ut))
                        + (1.0 - pt) * (jnp.logaddexp(0.0, u) - jnp.logaddexp(0.0, ut)))

        def grad(z, t, tau, c):
            return c * (_sigmoid(z / tau) - _sigmoid(t / tau)) / tau

        def hess(z, t, tau, c):
            p = _sigmoid(z / tau)
            return c * p * (1.0 - p) / tau ** 2

        def cross(z, t, tau, c):
            pt = _sigmoid(t / tau)
            return -c * pt * (1.0 - pt) / tau ** 2 + 0.0 * z
    elif name == "mse":
        def value(z, t, tau, c):
            return 0.5 * (z - t) ** 2

        def grad(z, t, tau, c):
            return z - t

        def hess(z, t, tau, c):
            return jnp.ones_like(z)

        def cross(z, t, tau, c):
            return -jnp.ones_like(z)
    elif name == "pseudo":  # the student's hard loss (no smoothing) on sign(t)
        hv, hg, hh = _hard(hard_name)

        def sign(t):
            return jnp.where(t >= 0.0, 1.0, -1.0)

        def value(z, t, tau, c):
            return hv(z, sign(t), 0.0)

        def grad(z, t, tau, c):
            return hg(z, sign(t), 0.0)

        def hess(z, t, tau, c):
            return hh(z, sign(t), 0.0)

        def cross(z, t, tau, c):
            return jnp.zeros_like(z)
    else:  # pragma: no cover
        raise ValueError(f"unknown soft loss {name!r}")
    return value, grad, hess, cross


@dataclass(frozen=True)
class _Losses:
    """The chain's losses as closures over one point's parameters (static names)."""

    loss_t: str
    loss_s: str
    soft: str

    def learner(self, a: int, p):
        """(value, grad, hess, cross) of learner a as functions of (z, y~, t)."""
        if a == 0:
            v, g, h = _hard(self.loss_t)
            eps = p["smooth_t"]
            return (lambda z, y, t: v(z, y, eps), lambda z, y, t: g(z, y, eps),
                    lambda z, y, t: h(z, y, eps), lambda z, y, t: jnp.zeros_like(z))
        hv, hg, hh = _hard(self.loss_s)
        sv, sg, sh, sc = _soft(self.soft, self.loss_s)
        eps, xi, tau, c = p["smooth_s"], p["xi"], p["tau"], p["c"]
        return (lambda z, y, t: (1 - xi) * hv(z, y, eps) + xi * sv(z, t, tau, c),
                lambda z, y, t: (1 - xi) * hg(z, y, eps) + xi * sg(z, t, tau, c),
                lambda z, y, t: (1 - xi) * hh(z, y, eps) + xi * sh(z, t, tau, c),
                lambda z, y, t: xi * sc(z, t, tau, c))


# -------------------------------------------------------------------- prox
def _prox(grad, hess, s, v, h0, use_h0):
    """Safeguarded Newton prox, as ``theory.prox.newton_prox``; returns (h, failed)."""
    g0 = grad(s)
    other = s - v * g0
    lo = jnp.minimum(s, other)
    hi = jnp.maximum(s, other)
    h = s - v * g0 / (1.0 + v * hess(s))
    h = jnp.where(use_h0 & (h0 > lo) & (h0 < hi), h0, h)
    h = jnp.clip(h, lo, hi)

    def cond(c):
        i, h, lo, hi, last_g, stop = c
        return (~stop) & (i < PROX_MAX_ITER)

    def body(c):
        i, h, lo, hi, last_g, _ = c
        g = (h - s) / v + grad(h)
        done = jnp.abs(g) * v <= PROX_TOL * (1.0 + jnp.abs(h) + jnp.abs(s))
        lo = jnp.where(g < 0, h, lo)
        hi = jnp.where(g > 0, h, hi)
        new = h - g / (1.0 / v + hess(h))
        slow = (new < lo) | (new > hi) | (jnp.abs(g) > 0.5 * last_g)  # landing on a bracket end is allowed
        new = jnp.where(slow, 0.5 * (lo + hi), new)
        h_next = jnp.where(done, h, new)
        all_done = jnp.all(done)
        tiny = jnp.all(done | (hi - lo <= 4e-16 * (1.0 + jnp.abs(h_next) + jnp.abs(s))))
        h_out = jnp.where(all_done, h, h_next)
        return i + 1, h_out, lo, hi, jnp.abs(g), all_done | tiny

    init = (jnp.array(0, dtype=jnp.int32), h, lo, hi, jnp.full_like(s, jnp.inf), jnp.array(False))
    i, h, _, _, _, stop = lax.while_loop(cond, body, init)
    return h, ~stop


# ----------------------------------------------------------------- helpers
def _i32(v):
    return jnp.asarray(v, dtype=jnp.int32)


def _cholesky(Q, K):
    """Lower Cholesky factor with conditional variances clipped at 0 (``quadrature.psd_cholesky``)."""
    L = [[jnp.zeros(()) for _ in range(K)] for _ in range(K)]
    for i in range(K):
        for j in range(i + 1):
            r = Q[i, j] - sum((L[i][k] * L[j][k] for k in range(j)), jnp.zeros(()))
            if i == j:
                L[i][i] = jnp.sqrt(jnp.maximum(r, 0.0))
            else:
                L[i][j] = jnp.where(L[j][j] > 0, r / jnp.where(L[j][j] > 0, L[j][j], 1.0), 0.0)
    return jnp.stack([jnp.stack(row) for row in L])


def _lower_inverse(A, K):
    X = [[jnp.zeros(()) for _ in range(K)] for _ in range(K)]
    for j in range(K):
        X[j][j] = 1.0 / A[j, j]
        for i in range(j + 1, K):
            X[i][j] = -sum((A[i, k] * X[k][j] for k in range(j, i)), jnp.zeros(())) / A[i, i]
    return jnp.stack([jnp.stack(row) for row in X])


def _il(K, offset=0):
    return np.tril_indices(K, offset)


def _from_solver(y, K):
    il = _il(K, -1)
    n = len(il[0])
    qd, vd = jnp.exp(y[:K]), jnp.exp(y[K:2 * K])
    dq, dv = jnp.sqrt(qd), jnp.sqrt(vd)
    m = y[2 * K:3 * K] * dq
    b = y[3 * K:4 * K] * dq
    Q = jnp.diag(qd)
    V = jnp.diag(vd)
    if n:
        Q = Q.at[il].set(y[4 * K:4 * K + n] * jnp.outer(dq, dq)[il])
        V = V.at[il].set(y[4 * K + n:4 * K + 2 * n] * jnp.outer(dv, dv)[il])
    Q = Q + jnp.tril(Q, -1).T
    return m, Q, V, b


def _to_solver(m, Q, V, b, K):
    il = _il(K, -1)
    dq = jnp.sqrt(jnp.diag(Q))
    dv = jnp.sqrt(jnp.diag(V))
    return jnp.concatenate([jnp.log(jnp.diag(Q)), jnp.log(jnp.diag(V)), m / dq, b / dq,
                            (Q / jnp.outer(dq, dq))[il], (V / jnp.outer(dv, dv))[il]])


def _valid(y, K):
    il = len(_il(K, -1)[0])
    return (jnp.all(jnp.abs(y[4 * K:4 * K + il]) <= 1.0) & jnp.all(jnp.abs(y[2 * K:3 * K]) <= 1.0 + 1e-12)
            & jnp.all(y[:2 * K] < 700))


# ----------------------------------------------------------------- channel
@dataclass(frozen=True)
class _Static:
    """Everything a batch shares (hashable: the jit cache key)."""

    K: int
    loss_t: str
    loss_s: str
    soft: str
    fixed: bool
    frozen: bool
    bias: bool
    flip: bool
    order: int
    tol: float
    max_iter: int
    damping: float
    memory: int
    bound: float

    @property
    def losses(self) -> _Losses:
        return _Losses(self.loss_t, self.loss_s, self.soft)


def _nodes(st: _Static):
    """Label-independent nodes (K, N) and weights (N,) of the product Gauss-Hermite grid, tiled per label block."""
    nodes, weights = _product_grid(st.order, st.K)
    blocks = [(1.0, False), (1.0, True), (-1.0, False), (-1.0, True)] if st.flip else [(1.0, False), (-1.0, False)]
    y = np.concatenate([np.full(weights.size, yy) for yy, _ in blocks])
    y_obs = np.concatenate([np.full(weights.size, -yy if fl else yy) for yy, fl in blocks])
    flip = np.concatenate([np.full(weights.size, fl) for _, fl in blocks])
    xi = np.concatenate([nodes] * len(blocks), axis=1)
    w = np.concatenate([weights] * len(blocks))
    return jnp.asarray(y), jnp.asarray(y_obs), jnp.asarray(flip), jnp.asarray(xi), jnp.asarray(w)


def _weights(st: _Static, p, y, flip, w):
    py = jnp.where(y > 0, p["rho"], 1.0 - p["rho"])
    pf = jnp.where(flip, p["theta"], 1.0 - p["theta"])
    return w * py * pf


def _channel(st: _Static, p, m, Q, V, b, nodes, h_warm, use_warm, with_train=False):
    """Channel expectations at (m, Q, V, b), as ``theory.channel.channel_averages``."""
    K = st.K
    y, y_obs, flip, xi_nodes, w0 = nodes
    w = _weights(st, p, y, flip, w0)
    delta = p["delta"]
    sd = jnp.sqrt(delta)
    L = _cholesky(Q, K)
    g = L @ xi_nodes
    zero = jnp.zeros_like(y)
    h, f, s_all = [None] * K, [None] * K, [None] * K
    J = [[None] * K for _ in range(K)]
    dH = [[None] * K for _ in range(K)]
    failed = jnp.array(False)
    fns = [st.losses.learner(a, p) for a in range(K)]
    for a in range(K):
        omega = y * m[a] + b[a] + sd * g[a]
        if a == 0 and st.fixed:
            h[0], f[0] = omega, zero
            J[0][0], dH[0][0] = zero, jnp.ones_like(y)
            continue
        s = omega + delta * sum((V[a, c] * f[c] for c in range(a)), zero)
        s_all[a] = s
        v = delta * V[a, a]
        t = h[a - 1] if a > 0 else zero
        _, gr, he, cr = fns[a]
        h[a], fail = _prox(lambda z: gr(z, y_obs, t), lambda z: he(z, y_obs, t), s, v, h_warm[a], use_warm)
        failed = failed | fail
        f[a] = (h[a] - s) / v
        denom = 1.0 + v * he(h[a], y_obs, t)
        dh_ds = 1.0 / denom
        dh_dt = -v * cr(h[a], y_obs, t) / denom
        for c in range(a + 1):
            ds = (1.0 if c == a else 0.0) + delta * sum((V[a, e] * J[e][c] for e in range(c, a)), zero)
            dh = dh_ds * ds
            if a > 0 and c <= a - 1:
                dh = dh + dh_dt * dH[a - 1][c]
            dH[a][c] = dh
            J[a][c] = (dh - ds) / v
    F = jnp.stack(f)
    Ef = F @ w
    Eyf = F @ (w * y)
    Eff = (F * w) @ F.T
    Edf = jnp.zeros((K, K))
    for a in range(K):
        for c in range(a + 1):
            Edf = Edf.at[a, c].set(jnp.dot(w, J[a][c]))
    H = jnp.stack(h)
    out = dict(Ef=Ef, Eyf=Eyf, Eff=Eff, Edf=Edf, h=H, failed=failed)
    if with_train:
        errs, tl = [], []
        for a in range(K):
            sig = sd * L[a, a]
            if a == 0 and st.fixed:
                s_a, s_star = h[0], 0.0
                tl.append(jnp.nan)
            else:
                s_a = s_all[a]
                t = h[a - 1] if a > 0 else zero
                val, gr, _, _ = fns[a]
                s_star = delta * V[a, a] * gr(jnp.zeros_like(s_a), y_obs, t)
                tl.append(jnp.dot(w, val(h[a], y_obs, t)))
            safe = jnp.where(sig > 1e-300, sig, 1.0)
            neg = jnp.where(sig > 1e-300, _jndtr((s_star - (s_a - sig * xi_nodes[a])) / safe),
                            (h[a] < 0).astype(float))
            errs.append(jnp.dot(w, jnp.where(y_obs > 0, neg, 1.0 - neg)))
        out["train_err"] = jnp.stack(errs)
        out["train_loss"] = jnp.stack([jnp.asarray(x, dtype=float) for x in tl])
        out["train_mse"] = (((H[:, None, :] - H[None, :, :]) ** 2) * w).sum(axis=2)
    return out


def _prior(st: _Static, p, m_hat, Q_hat, V_hat):
    """New (m, Q, V) from the conjugates, as ``theory.prior.prior_update``."""
    K = st.K
    lam = jnp.concatenate([p["lam_t"][None], jnp.full((K - 1,), p["lam_s"])])
    A = jnp.diag(lam) + jnp.tril(V_hat)
    if st.fixed:
        A = A.at[0, :].set(0.0).at[0, 0].set(1.0)
        m_hat = m_hat.at[0].set(p["m0"])
        Q_hat = Q_hat.at[0, :].set(0.0).at[:, 0].set(0.0).at[0, 0].set(p["q0"] - p["m0"] ** 2)
    V = _lower_inverse(A, K)
    m = V @ m_hat
    Q = V @ (jnp.outer(m_hat, m_hat) + Q_hat) @ V.T
    if K > 1:
        eta = p["eta"]
        row = jnp.concatenate([jnp.ones(1), jnp.full((K - 1,), eta)])
        scale = jnp.where(jnp.outer(row, jnp.ones(K)) * jnp.outer(jnp.ones(K), row) < 1.0, eta, 1.0)
        m = m * row
        V = V * scale
        Q = Q * scale
    Q = 0.5 * (Q + Q.T)
    return m, Q, jnp.tril(V)


def _map(st: _Static, p, y_s, nodes, h_warm, use_warm, frozen_vec):
    """The fixed-point map F in solver coordinates; returns (F(y), new prox outputs, bad flag).

    With ``st.frozen`` the upstream learners' coordinates are pinned to ``frozen_vec``
    (``solve.frozen_mask``): the block solve of the last learner's row.
    """
    K = st.K
    m, Q, V, b = _from_solver(y_s, K)
    ch = _channel(st, p, m, Q, V, b, nodes, h_warm, use_warm)
    alpha, delta = p["alpha"], p["delta"]
    m_hat = alpha * ch["Eyf"]
    Q_hat = alpha * delta * ch["Eff"]
    V_hat = -alpha * delta * ch["Edf"]
    m2, Q2, V2 = _prior(st, p, m_hat, Q_hat, V_hat)
    b2 = b
    if st.bias:
        for a in range(K):
            if a == 0 and st.fixed:
                continue
            # taken even where the loss saturates (vanishing slope), as theory.solve does
            slope = jnp.minimum(ch["Edf"][a, a], -1e-12)
            step = ch["Ef"][a] / slope
            cap = 1.0 + jnp.abs(b[a])
            b2 = b2.at[a].set(b[a] - jnp.clip(step, -cap, cap))
    if st.fixed:
        b2 = b2.at[0].set(p["b0"])
    bad = ch["failed"] | jnp.any(jnp.diag(Q2) <= 0) | jnp.any(jnp.diag(V2) <= 0)
    out = _to_solver(m2, Q2, V2, b2, K)
    if st.frozen:
        out = jnp.where(jnp.asarray(frozen_mask(K)), frozen_vec, out)
    return out, ch["h"], bad


# ---------------------------------------------------------------- iteration
def _iterate(st: _Static, p, x0, h0, use_h0, nodes, max_iter, damping, memory, active):
    """Damped Anderson iteration of one point, as ``theory.fixed_point.iterate`` (vmapped outside)."""
    K = st.K
    n = x0.shape[0]
    W, growth = 150, 1e3
    mem = max(memory, 1)
    steps = []
    s_ = damping
    while s_ > 1e-6:
        steps.append(s_)
        s_ *= 0.5
    steps.append(s_)
    steps = jnp.asarray(steps)

    def cond(c):
        return (c["status"] == _RUNNING) & (c["it"] < max_iter)

    def body(c):
        x = c["x"]
        it = c["it"] + 1
        fx, hn, bad = _map(st, p, x, nodes, c["h"], c["use_h"], x0)
        finite = jnp.all(jnp.isfinite(fx)) & (~bad)
        g = fx - x
        res = jnp.max(jnp.abs(g) / (1.0 + jnp.abs(x)))
        qd = jnp.exp(fx[:K])  # norm = max(Q_aa, b_a^2): norms and biases both run away without a minimiser
        nfx = jnp.maximum(jnp.max(qd), jnp.max(fx[3 * K:4 * K] ** 2 * qd))
        conv = finite & (res < st.tol)
        over = finite & (~conv) & (nfx > st.bound)
        # run-away growth over the last W iterations (monotone norm growth, residual not halved)
        n_app = c["n_app"] + 1
        inc = jnp.where((c["n_app"] > 0) & (nfx > c["last_norm"]), c["inc"] + 1, 0)
        pos = (n_app - 1) % W
        back = n_app % W
        norms = c["norms"].at[pos].set(nfx)
        ress = c["ress"].at[pos].set(res)
        grown = ((n_app > W) & (inc >= W - 1) & (nfx > growth * c["norms"][back])
                 & (res > 0.5 * c["ress"][back]))
        grown = finite & (~conv) & (~over) & grown
        status = jnp.where(~finite, _NON_FINITE, jnp.where(conv, _CONVERGED,
                           jnp.where(over | grown, _DIVERGED, _RUNNING))).astype(jnp.int32)
        # Anderson history (ring buffer)
        push = c["has_prev"] & (memory > 0)
        dX = jnp.where(push, c["dX"].at[c["ptr"]].set(x - c["prev_x"]), c["dX"])
        dG = jnp.where(push, c["dG"].at[c["ptr"]].set(g - c["prev_g"]), c["dG"])
        cnt = jnp.where(push, jnp.minimum(c["cnt"] + 1, mem), c["cnt"])
        ptr = jnp.where(push, (c["ptr"] + 1) % mem, c["ptr"])
        plain = x + damping * g
        active_cols = (jnp.arange(mem) < cnt).astype(float)
        Gm = (dG * active_cols[:, None]).T   # (n, mem)
        Xm = (dX * active_cols[:, None]).T
        reg = 1e-12 * jnp.maximum(1.0, jnp.sum(Gm * Gm))
        M = Gm.T @ Gm + reg * jnp.eye(mem) + jnp.diag(1.0 - active_cols)
        gamma = jnp.linalg.solve(M, Gm.T @ g)
        anderson = x + damping * g - (Xm + damping * Gm) @ gamma
        use_and = cnt > 0
        and_ok = jnp.all(jnp.isfinite(anderson)) & _valid(anderson, K)
        proposal = jnp.where(use_and & and_ok, anderson, plain)
        cleared = use_and & (~and_ok)
        plain_ok = _valid(proposal, K)
        cand_ok = jax.vmap(lambda s: _valid(x + s * g, K))(steps[:-1])
        first = jnp.argmax(jnp.concatenate([cand_ok, jnp.array([True])]))
        shrunk = x + steps[first] * g
        proposal = jnp.where(plain_ok, proposal, shrunk)
        cleared = cleared | (~plain_ok)
        cnt = jnp.where(cleared, 0, cnt)
        running = status == _RUNNING
        x_out = jnp.where(status == _NON_FINITE, x, fx)
        new = dict(
            x=jnp.where(running, proposal, x_out), it=it, status=status,
            res=jnp.where(finite, res, c["res"]), h=jnp.where(finite, hn, c["h"]), use_h=jnp.array(True),
            prev_x=x, prev_g=g, has_prev=jnp.array(True), dX=dX, dG=dG, cnt=cnt, ptr=ptr,
            n_app=n_app, inc=inc, last_norm=nfx, norms=norms, ress=ress,
        )
        return new

    init = dict(
        x=x0, it=jnp.array(0, dtype=jnp.int32), status=jnp.where(active, _RUNNING, _CONVERGED).astype(jnp.int32),
        res=jnp.array(jnp.inf),
        h=h0, use_h=use_h0,
        prev_x=x0, prev_g=jnp.zeros(n), has_prev=jnp.array(False), dX=jnp.zeros((mem, n)), dG=jnp.zeros((mem, n)),
        cnt=_i32(0), ptr=_i32(0), n_app=_i32(0), inc=_i32(0), last_norm=jnp.array(0.0),
        norms=jnp.zeros(W), ress=jnp.zeros(W),
    )
    out = lax.while_loop(cond, body, init)
    status = jnp.where(out["status"] == _RUNNING, _MAX_ITER, out["status"])
    return out["x"], status, out["res"], out["it"], out["h"]


def _solve_one(st: _Static, p, x0, nodes):
    """Anderson phase, then the plain damped fallback from x0 (``solve._iterate_with_fallback``)."""
    K = st.K
    P = nodes[0].shape[0]
    h0 = jnp.zeros((K, P))
    first = min(st.max_iter, 400) if st.memory > 0 else st.max_iter
    x, status, res, it, h = _iterate(st, p, x0, h0, jnp.array(False), nodes, first, st.damping, st.memory,
                                     jnp.array(True))
    if st.memory > 0 and st.max_iter - first > 0:
        again = status != _CONVERGED
        x2, status2, res2, it2, _ = _iterate(st, p, x0, h, jnp.array(True), nodes, st.max_iter - first, 0.9, 0,
                                             again)
        x = jnp.where(again, x2, x)
        status = jnp.where(again, status2, status)
        res = jnp.where(again, res2, res)
        it = jnp.where(again, it + it2, it)
    m, Q, V, b = _from_solver(x, K)
    ch = _channel(st, p, m, Q, V, b, nodes, jnp.zeros((K, P)), jnp.array(False), with_train=True)
    return dict(x=x, status=status, res=res, it=it, m=m, Q=Q, V=V, b=b,
                Ef=ch["Ef"], Eyf=ch["Eyf"], Eff=ch["Eff"], Edf=ch["Edf"], train_err=ch["train_err"],
                train_loss=ch["train_loss"], train_mse=ch["train_mse"])


_COMPILED: dict = {}


def _compiled(st: _Static, vmapped: bool):
    """The jitted solver of one point (or, ``vmapped``, of a batch of points) of static structure ``st``."""
    fn = _COMPILED.get((st, vmapped))
    if fn is None:
        nodes = _nodes(st)

        def one(pvec, x0):  # the parameters travel as one vector (one transfer per call)
            return _solve_one(st, {k: pvec[j] for j, k in enumerate(_PARAMS)}, x0, nodes)

        fn = jax.jit(jax.vmap(one) if vmapped else one)
        _COMPILED[(st, vmapped)] = fn
    return fn


def default_batch() -> int:
    """Points per vmapped call: 1 on CPU (a per-point loop: one point's arrays stay in cache,
    and measured vmapped batches were slower per point), 256 on an accelerator."""
    return 1 if jax.default_backend() == "cpu" else _MAX_BATCH


# -------------------------------------------------------------- public API
_PARAMS = ("alpha", "delta", "rho", "theta", "eta", "lam_t", "lam_s", "xi", "tau", "c", "smooth_t", "smooth_s",
           "m0", "q0", "b0")


def _static_of(s: Setting, opts: SolverOptions, frozen: bool) -> _Static:
    K = s.n_learners
    return _Static(K=K, loss_t=s.loss_t, loss_s=s.loss_s, soft=s.soft, fixed=s.fixed_teacher, frozen=frozen,
                   bias=s.bias,
                   flip=s.theta > 0, order=opts.order or default_order(K), tol=opts.tol, max_iter=opts.max_iter,
                   damping=opts.damping, memory=opts.memory, bound=opts.bound)


def _params(s: Setting, fixed: tuple[float, float, float] | None) -> dict:
    alpha = s.alpha
    m0 = q0 = 1.0
    b0 = 0.0
    if fixed is not None:
        m0, q0, b0 = fixed
        alpha = s.alpha_s if s.alpha_s is not None else s.alpha
    return dict(alpha=alpha, delta=s.delta, rho=s.rho, theta=s.theta, eta=s.eta, lam_t=s.lam_t, lam_s=s.lam_s,
                xi=s.xi, tau=s.tau, c=s.tau ** 2 if s.tau2_factor else 1.0, smooth_t=s.smooth_t,
                smooth_s=s.smooth_s, m0=m0, q0=q0, b0=b0)


def _pad(n: int, batch: int) -> int:
    size = 1
    while size < min(n, batch):
        size *= 2
    return min(size, batch)


def _failed(s: Setting, status: Status, residual: float, n_iter: int, seconds: float) -> SaddlePoint:
    K = s.n_learners
    nan, nanK = np.full(K, np.nan), np.full((K, K), np.nan)
    return SaddlePoint(s, State(nan.copy(), nanK.copy(), nanK.copy(), nan.copy()), nan, nanK, nanK, status,
                       residual, n_iter, seconds, nan, nan, nan, nanK, math.nan)


def _run_group(st: _Static, items: list[tuple[int, Setting, tuple | None, State | None]], out: list,
               batch: int) -> None:
    """Solve one static group, point by point (batch 1) or in padded vmapped batches; fills ``out[i]``."""
    K = st.K
    cold = State.initial(K).to_solver()
    if batch <= 1:
        fn = _compiled(st, False)
        for i, s, fx, init in items:
            p = _params(s, fx)
            t0 = time.perf_counter()
            r = jax.device_get(fn(np.array([p[k] for k in _PARAMS], dtype=float),
                                  init.to_solver() if init is not None else cold))
            out[i] = _saddle_point(s, r, p["alpha"], time.perf_counter() - t0, st.order)
        return
    fn = _compiled(st, True)
    for start in range(0, len(items), batch):
        chunk = items[start:start + batch]
        size = _pad(len(chunk), batch)
        padded = chunk + [chunk[-1]] * (size - len(chunk))
        ps = [_params(s, fx) for _, s, fx, _ in padded]
        p = np.array([[q[k] for k in _PARAMS] for q in ps], dtype=float)
        x0 = np.stack([init.to_solver() if init is not None else cold for _, _, _, init in padded])
        t0 = time.perf_counter()
        r = jax.device_get(fn(p, jnp.asarray(x0)))
        seconds = (time.perf_counter() - t0) / len(chunk)
        for j, (i, s, fx, _) in enumerate(chunk):
            out[i] = _saddle_point(s, {k: v[j] for k, v in r.items()}, ps[j]["alpha"], seconds, st.order)


def _stationary(s: Setting, r: dict, rtol: float = 1e-6) -> bool:
    """The last learner's bias condition E[f] = 0 relative to sqrt(E[f^2]) (``solve._stationary``)."""
    a = s.n_learners - 1
    if not s.bias or (a == 0 and s.fixed_teacher):
        return True
    return bool(abs(r["Ef"][a]) <= rtol * np.sqrt(r["Eff"][a, a]) + 1e-8)


def _saddle_point(s: Setting, r: dict, alpha: float, seconds: float, order: int) -> SaddlePoint:
    status = _STATUS[int(r["status"])]
    if status is Status.CONVERGED and not _stationary(s, r):
        status = Status.NOT_STATIONARY
    if status is not Status.CONVERGED:
        return _failed(s, status, float(r["res"]), int(r["it"]), seconds)
    K = s.n_learners
    st = State(np.array(r["m"]), np.array(r["Q"]), np.array(r["V"]), np.array(r["b"]))
    m_hat = alpha * r["Eyf"]
    Q_hat = alpha * s.delta * r["Eff"]
    V_hat = -alpha * s.delta * r["Edf"]
    eps = np.array([generalization_error(st.m[a], st.Q[a, a], st.b[a], s.delta, s.rho) for a in range(K)])
    agr = (agreement(st.m[0], st.m[1], st.Q[0, 0], st.Q[1, 1], st.Q[0, 1], st.b[0], st.b[1], s.delta, s.rho)
           if K > 1 else math.nan)
    eps_train = np.array(r["train_err"])
    if K >= 2:  # as theory.solve: the last learner's training error on a refined grid (NumPy, once per point)
        eps_train[K - 1] = train_error_last(chain_losses(s), st.m, st.Q, st.V, st.b, s.delta, s.rho, s.theta,
                                            s.fixed_teacher, order=min(order, 24))
    return SaddlePoint(s, st, np.array(m_hat), np.array(Q_hat), np.array(V_hat), status, float(r["res"]),
                       int(r["it"]), seconds, eps, eps_train, np.array(r["train_loss"]),
                       np.array(r["train_mse"]), agr)


def solve_batch_jax(settings: Sequence[Setting], options: SolverOptions | None = None,
                    init: Sequence["SaddlePoint | State | None"] | None = None,
                    batch: int | None = None) -> list[SaddlePoint]:
    """Solve many Settings with the JAX backend; the SaddlePoints of ``theory.solve`` (``on_failure='record'``).

    Parameters
    ----------
    settings : Settings to solve (any mix; grouped by static structure, each group vmapped).
    options : SolverOptions (order, tol, max_iter, damping, memory, bound), as for ``solve``.
    init : optional warm starts, one per Setting (a SaddlePoint or State with the same number
        of learners, or None for the cold start).
    batch : points per vmapped call (None: :func:`default_batch`; 1 loops over single-point calls).

    Returns
    -------
    list of SaddlePoint in input order; failed points carry their status and NaN observables.

    Raises
    ------
    ValueError if a Setting uses a loss the backend does not implement (see :func:`supports`).
    """
    opts = options or SolverOptions()
    settings = list(settings)
    inits = list(init) if init is not None else [None] * len(settings)
    if len(inits) != len(settings):
        raise ValueError(f"init must have one entry per Setting ({len(settings)}); got {len(inits)}.")
    for s in settings:
        if not supports(s):
            raise ValueError(f"the JAX backend implements hard losses {_SMOOTH_HARD} only; got loss_t={s.loss_t!r}, "
                             f"loss_s={s.loss_s!r}. Use the NumPy backend (kdscope.theory.solve) for the hinge loss.")
    out: list = [None] * len(settings)
    # fresh-sample ERM teachers: solve the teachers first (K = 1), then freeze them
    teacher_sp: dict[int, SaddlePoint] = {}
    fresh = [i for i, s in enumerate(settings) if s.teacher == "erm" and s.alpha_s is not None]
    if fresh:
        t_settings = [settings[i].replace(generations=0, eta=1.0, alpha_s=None) for i in fresh]
        t_sps = solve_batch_jax(t_settings, opts, batch=batch)
        teacher_sp = dict(zip(fresh, t_sps))
    prepared = []  # (i, s, fixed, init)
    for i, s in enumerate(settings):
        fixed = None
        if s.teacher in ("bayes", "fixed"):
            fixed = s.teacher_overlaps()
        elif i in teacher_sp:
            tsp = teacher_sp[i]
            if not tsp.converged:
                out[i] = _failed(s, tsp.status, tsp.residual, tsp.n_iter, tsp.seconds)
                continue
            fixed = (float(tsp.state.m[0]), float(tsp.state.Q[0, 0]), float(tsp.state.b[0]))
        ini = inits[i]
        if isinstance(ini, SaddlePoint):
            ini = ini.state
        if not (isinstance(ini, State) and len(ini.m) == s.n_learners and np.all(np.isfinite(ini.m))):
            ini = None
        prepared.append((i, s, fixed, ini))
    # block solve in chain order (as theory.solve): the upstream chain first, then the last row
    # with the upstream rows frozen
    blocked = [(i, s, fixed, ini) for i, s, fixed, ini in prepared
               if s.n_learners >= 3 or (s.n_learners == 2 and fixed is None)]
    upstream: dict[int, SaddlePoint] = {}
    if blocked:
        up_settings, up_inits = [], []
        for i, s, fixed, ini in blocked:
            up_settings.append(s.replace(generations=0, eta=1.0, alpha_s=None, teacher="erm")
                               if s.generations == 1 else s.replace(generations=s.generations - 1))
            k = s.n_learners - 1
            up_inits.append(None if ini is None else
                            State(ini.m[:k].copy(), ini.Q[:k, :k].copy(), ini.V[:k, :k].copy(), ini.b[:k].copy()))
        ups = solve_batch_jax(up_settings, opts, up_inits, batch=batch)
        upstream = {i: up for (i, *_), up in zip(blocked, ups)}
    groups: dict[_Static, list] = {}
    warm: set[int] = set()
    cold_start: dict[int, State | None] = {}
    for i, s, fixed, ini in prepared:
        up = upstream.get(i)
        cold_start[i] = None
        if up is not None:
            if not up.converged:
                out[i] = _failed(s, up.status, up.residual, up.n_iter, up.seconds)
                continue
            cold_start[i] = _extend(up.state, None, s.eta)
            start = _extend(up.state, ini, s.eta)
        else:
            start = ini
        if ini is not None:
            warm.add(i)
        groups.setdefault(_static_of(s, opts, up is not None), []).append((i, s, fixed, start))
    batch = default_batch() if batch is None else int(batch)
    for st, items in groups.items():
        _run_group(st, items, out, batch)
        # a warm start that failed is retried from the cold start, as theory.solve does
        retry = [(i, s, fixed, cold_start[i]) for i, s, fixed, _ in items if i in warm and not out[i].converged]
        if retry:
            _run_group(st, retry, out, batch)
    for i, up in upstream.items():
        sp = out[i]
        if not up.converged:
            continue
        if not sp.converged:
            out[i] = _failed(sp.setting, sp.status, sp.residual, sp.n_iter + up.n_iter, sp.seconds + up.seconds)
            continue
        K = sp.setting.n_learners
        eps_train, loss_train = sp.eps_train.copy(), sp.loss_train.copy()
        eps_train[:K - 1], loss_train[:K - 1] = up.eps_train, up.loss_train
        out[i] = SaddlePoint(sp.setting, sp.state, sp.m_hat, sp.Q_hat, sp.V_hat, sp.status, sp.residual,
                             sp.n_iter + up.n_iter, sp.seconds + up.seconds, sp.eps, eps_train, loss_train,
                             sp.train_mse, sp.agreement_ts)
    for i, tsp in teacher_sp.items():
        sp = out[i]
        if sp.converged:  # the teacher's training observables are those on its own samples
            eps_train, loss_train = sp.eps_train.copy(), sp.loss_train.copy()
            eps_train[0], loss_train[0] = tsp.eps_train[0], tsp.loss_train[0]
            out[i] = SaddlePoint(sp.setting, sp.state, sp.m_hat, sp.Q_hat, sp.V_hat, sp.status, sp.residual,
                                 sp.n_iter, sp.seconds, sp.eps, eps_train, loss_train, sp.train_mse,
                                 sp.agreement_ts, tsp)
    return out


def solve_grid_jax(settings: Sequence[Setting], options: SolverOptions | None = None,
                   batch: int | None = None) -> list[dict]:
    """Records (``SaddlePoint.record()``: the columns of ``theory.solve``) of many Settings, JAX backend.

    Each point starts cold; for warm starts along lines use :func:`solve_lines_jax`.
    """
    return [sp.record() for sp in solve_batch_jax(settings, options, batch=batch)]


def solve_lines_jax(lines: Sequence[Sequence[Setting]], options: SolverOptions | None = None,
                    batch: int | None = None) -> list[list[SaddlePoint]]:
    """Continuation along many lines at once: position j of every line is one vmapped batch,
    warm-started from position j - 1 of the same line (its last converged point).

    A point whose warm start fails is solved again from the cold start, as
    ``theory.solve_curve`` does.  Lines may have different lengths.

    Returns
    -------
    list (per line) of lists of SaddlePoint.
    """
    lines = [list(line) for line in lines]
    out = [[None] * len(line) for line in lines]
    last: list = [None] * len(lines)
    for j in range(max((len(line) for line in lines), default=0)):
        idx = [i for i, line in enumerate(lines) if j < len(line)]
        sps = solve_batch_jax([lines[i][j] for i in idx], options, [last[i] for i in idx], batch=batch)
        for k, i in enumerate(idx):
            out[i][j] = sps[k]
            if sps[k].converged:
                last[i] = sps[k]
    return out
