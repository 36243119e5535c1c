"""Channel side of the replica-symmetric equations for a chain of K learners.

For the quadrature points (y, y~, g) with g ~ N(0, Q) (DESIGN.md section 2):

    omega_a = y m_a + b_a + sqrt(delta) g_a
    s_a     = omega_a + delta * sum_{b<a} V_ab f_b
    h_a     = prox of delta V_aa loss_a(. ; y~, h_{a-1}) at s_a
    f_a     = (h_a - s_a) / (delta V_aa)            (= -d loss_a / dh at h_a)

The soft target of learner a is h_{a-1}, the previous learner's *training
output*, and s_a carries the cross-response shift: both are needed for the
equations to agree with simulations.  The derivatives d f_a / d omega_b
(b <= a) are total derivatives through the chain, obtained by implicit
differentiation of the prox conditions:

    dh_a = (ds_a - v_a loss_zt dt_a) / (1 + v_a loss_zz),    dt_a = dh_{a-1}

A fixed teacher (kind b/c) does not respond: h_0 = omega_0, f_0 = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from .quadrature import Measure, psd_cholesky


@dataclass(frozen=True)
class ChannelAverages:
    """Expectations over the channel measure needed by the fixed point.

    Attributes (K learners)
    ----------
    Ef : (K,)      E[f_a]                    (bias stationarity: 0 at the solution)
    Eyf : (K,)     E[y f_a]
    Eff : (K, K)   E[f_a f_b]
    Edf : (K, K)   E[d f_a / d omega_b], lower triangular
    train_err : (K,)  P(sign(h_a) != y~)
    train_loss : (K,) E[loss_a(h_a; y~, h_{a-1})]
    train_mse : (K, K) E[(h_a - h_b)^2], training logit MSE between learners
    """

    Ef: np.ndarray
    Eyf: np.ndarray
    Eff: np.ndarray
    Edf: np.ndarray
    train_err: np.ndarray
    train_loss: np.ndarray
    train_mse: np.ndarray


def _hinge_label(loss, y_obs, h_prev):
    """The +-1 label of a learner whose loss is a pure hinge (None otherwise).

    Hinge on the observed label (teacher, or student with xi = 0), or hinge on
    the previous learner's sign (student with xi = 1 and hard pseudo-labels).
    """
    from .losses import Hinge, Mix, Pseudo
    if isinstance(loss, Hinge):
        return y_obs
    if isinstance(loss, Mix):
        if loss.xi == 0.0 and isinstance(loss.hard, Hinge):
            return y_obs
        if loss.xi == 1.0 and isinstance(loss.soft, Pseudo) and isinstance(loss.soft.hard, Hinge):
            return np.where(h_prev >= 0, 1.0, -1.0)
    return None


def _hinge_moments(s_a, sig, xi_a, v, lab):
    """Moments of the hinge force over the learner's own Gaussian coordinate, in closed form.

    With u = lab * s = u_bar + sig * zeta (zeta ~ N(0, 1) given the upstream
    nodes), the hinge prox gives f = lab * g(u) with g = 1 for u <= 1 - v,
    (1 - u) / v for 1 - v < u < 1 and 0 for u >= 1; d f / d s = -1 / v on the
    middle piece.  Gauss-Hermite sums of these kinks converge only as 1 / order,
    which keeps the fixed point from reaching its tolerance; the Gaussian
    integrals of 1, zeta, zeta^2 over intervals are exact.

    Returns E[g], E[g^2], P(middle), E[hinge(h)] per upstream node.
    """
    u_bar = lab * (s_a - sig * xi_a)
    if sig <= 1e-300:
        u = u_bar
        g = np.where(u <= 1 - v, 1.0, np.where(u >= 1, 0.0, (1 - u) / v))
        mid = ((u > 1 - v) & (u < 1)).astype(float)
        return g, g * g, mid, np.where(u <= 1 - v, 1 - v - u, 0.0)
    l1 = (1 - v - u_bar) / sig
    l2 = (1 - u_bar) / sig
    phi = lambda x: np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)  # noqa: E731
    P1 = ndtr(l1)
    Pm = ndtr(l2) - P1
    Ez = phi(l1) - phi(l2)                  # E[zeta ; middle]
    Ez2 = Pm + l1 * phi(l1) - l2 * phi(l2)  # E[zeta^2 ; middle]
    c = 1 - u_bar
    Eg = P1 + (c * Pm - sig * Ez) / v
    Eg2 = P1 + (c * c * Pm - 2 * c * sig * Ez + sig * sig * Ez2) / v ** 2
    Eloss = (1 - v - u_bar) * P1 + sig * phi(l1)
    return Eg, Eg2, Pm, Eloss


def _train_error(a, losses, h, s_all, L, measure, delta, V, fixed_teacher):
    """P(sign(h_a) != y~), integrating learner a's own Gaussian coordinate analytically.

    Given the upstream nodes xi_0..xi_{a-1}, s_a is affine in xi_a with slope
    sqrt(delta) L_aa and h_a = prox(s_a) is non-decreasing in s_a, with h_a = 0
    exactly at s* = v loss_a'(0; targets) (the prox optimality condition).  So
    P(h_a < 0 | upstream) = Phi((s* - s_bar) / (sqrt(delta) L_aa)), a smooth
    function of the remaining nodes.  (A Gauss-Hermite sum of the indicator
    itself converges only as 1 / order.)
    """
    y_obs, w = measure.y_obs, measure.w
    sig = np.sqrt(delta) * L[a, a]
    if a == 0 and fixed_teacher:
        s_a, s_star = h[0], 0.0
    else:
        s_a = s_all[a]
        target = _target(a, y_obs, h[a - 1] if a > 0 else None)
        s_star = delta * V[a, a] * losses[a].grad(np.zeros_like(s_a), target)
    if sig <= 1e-300:
        neg = (h[a] < 0).astype(float)
    else:
        s_bar = s_a - sig * measure.xi[a]
        neg = ndtr((s_star - s_bar) / sig)
    p_wrong = np.where(y_obs > 0, neg, 1.0 - neg)
    return float(np.dot(w, p_wrong))


#: Fine grid over the teacher's coordinate for the last learner's training error.
FINE_XI = np.linspace(-9.0, 9.0, 2401)
_REFINE = 32


def train_error_last(losses, m, Q, V, b, delta: float, rho: float, theta: float, fixed_teacher: bool,
                     order: int = 20) -> float:
    """P(sign(h_a) != y~) for the last learner a = K - 1 of a chain (K >= 2), accurate when it copies upstream.

    The learner's own coordinate xi_a is integrated analytically (see
    ``_train_error``), which leaves E over xi_0 .. xi_{a-1} of Phi(z / sigma)
    with sigma = sqrt(delta) L_aa.  In a distillation chain every learner is
    built on the teacher's outputs, so when a student nearly copies its
    teacher, sigma -> 0 and the integrand is a step along the teacher's
    coordinate xi_0, which Gauss-Hermite resolves only to O(1 / order).  Here:
    the trapezoid rule on a fine grid of xi_0 in [-9, 9] (2401 nodes), each
    interval where z changes sign refined 32-fold; Gauss-Hermite with ``order``
    nodes on the intermediate coordinates xi_1 .. xi_{a-1}.
    """
    from .quadrature import gauss_hermite
    K = len(losses)
    a = K - 1
    L = psd_cholesky(Q)
    x = FINE_XI
    nx = x.size
    hx = x[1] - x[0]
    if K > 2:
        gx, gw = gauss_hermite(order)
        mids = np.stack([g.ravel() for g in np.meshgrid(*([gx] * (K - 2)), indexing="ij")])  # (K-2, M)
        mid_w = np.prod(np.stack([g.ravel() for g in np.meshgrid(*([gw] * (K - 2)), indexing="ij")]), axis=0)
    else:
        mids, mid_w = np.zeros((0, 1)), np.ones(1)
    M = mid_w.size
    out = 0.0
    for y, py in ((1.0, rho), (-1.0, 1.0 - rho)):
        for flip, pf in ((False, 1.0 - theta), (True, theta)):
            if pf == 0.0:
                continue
            y_obs = -y if flip else y

            def p_wrong(x0, mid):
                """P(wrong sign | xi_0 = x0, intermediate nodes = mid), arrays over the points."""
                n = x0.size
                xi = np.concatenate([x0[None, :], mid, np.zeros((1, n))], axis=0)
                meas = Measure(np.full(n, y), np.full(n, y_obs), xi, np.full(n, 1.0 / n))
                h, _, s_all, _, _ = _forward(losses, m, V, b, delta, meas, L, fixed_teacher)
                sig = np.sqrt(delta) * L[a, a]
                tgt = _target(a, meas.y_obs, h[a - 1])
                z = delta * V[a, a] * losses[a].grad(np.zeros(n), tgt) - s_all[a]
                neg = ndtr(z / sig) if sig > 1e-300 else (z > 0).astype(float)
                return (neg if y_obs > 0 else 1.0 - neg), z

            x0 = np.tile(x, M)
            mid = np.repeat(mids, nx, axis=1)
            pw, z = p_wrong(x0, mid)
            dens = np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)
            vals = (pw.reshape(M, nx) * dens)
            z = z.reshape(M, nx)
            per_mid = hx * (vals.sum(axis=1) - 0.5 * (vals[:, 0] + vals[:, -1]))
            rows, cols = np.nonzero(np.sign(z[:, :-1]) != np.sign(z[:, 1:]))
            if rows.size:  # refine every sign-change interval at once
                t = np.linspace(0.0, 1.0, _REFINE + 1)
                xs = (x[cols][:, None] + hx * t[None, :]).ravel()
                ms = np.repeat(mids[:, rows], _REFINE + 1, axis=1)
                ps, _ = p_wrong(xs, ms)
                vs = (ps * np.exp(-0.5 * xs * xs) / np.sqrt(2 * np.pi)).reshape(rows.size, _REFINE + 1)
                fine = (hx / _REFINE) * (vs.sum(axis=1) - 0.5 * (vs[:, 0] + vs[:, -1]))
                coarse = 0.5 * hx * (vals[rows, cols] + vals[rows, cols + 1])
                np.add.at(per_mid, rows, fine - coarse)
            out += py * pf * float(np.dot(mid_w, per_mid))
    return out


def _target(k: int, y_obs, h_prev):
    """Target passed to learner k's loss: y~ for the teacher, (y~, h_{k-1}) for a student."""
    return y_obs if k == 0 else (y_obs, h_prev)


def _dprox(loss, h, s, v, target):
    """(dh/ds, dh/dt) of the prox at its output h (implicit differentiation)."""
    if getattr(loss, "smooth_everywhere", True):
        denom = 1.0 + v * loss.hess(h, target)
        dh_dt = -v * loss.cross(h, target) / denom if isinstance(target, tuple) else 0.0
        return 1.0 / denom, dh_dt
    return loss.dprox_ds(s, v, target), 0.0


def _forward(losses, m, V, b, delta, measure, L, fixed_teacher, warm=None):
    """The chain at the quadrature points: h_a, f_a, s_a and the total derivatives.

    Returns (h, f, s, J, dS): lists over learners of arrays over points;
    J[a][c] = d f_a / d omega_c and dS[a][c] = d s_a / d omega_c for c <= a.
    """
    K = len(losses)
    y, y_obs = measure.y, measure.y_obs
    g = L @ measure.xi  # (K, P)
    sd = np.sqrt(delta)
    h = [None] * K
    f = [None] * K
    J = [[None] * K for _ in range(K)]     # J[a][c] = d f_a / d omega_c
    dH = [[None] * K for _ in range(K)]    # dH[a][c] = d h_a / d omega_c
    dS = [[None] * K for _ in range(K)]    # dS[a][c] = d s_a / d omega_c
    zero = np.zeros_like(y)
    s_all = [None] * K
    for a in range(K):
        omega = y * m[a] + b[a] + sd * g[a]
        if a == 0 and fixed_teacher:
            h[0], f[0] = omega, zero
            J[0][0], dH[0][0] = zero, np.ones_like(y)
            continue
        s = omega + delta * sum(V[a, c] * f[c] for c in range(a))
        s_all[a] = s
        v = delta * V[a, a]
        target = _target(a, y_obs, h[a - 1] if a > 0 else None)
        h[a] = losses[a].prox(s, v, target, None if warm is None else warm.get(a))
        if warm is not None:
            warm[a] = h[a]
        f[a] = (h[a] - s) / v
        dh_ds, dh_dt = _dprox(losses[a], h[a], s, v, target)
        for c in range(a + 1):
            ds = (1.0 if c == a else 0.0) + delta * sum(V[a, e] * J[e][c] for e in range(c, a))
            dS[a][c] = ds
            dh = dh_ds * ds
            if a > 0 and c <= a - 1:
                dh = dh + dh_dt * dH[a - 1][c]
            dH[a][c] = dh
            J[a][c] = (dh - ds) / v
    return h, f, s_all, J, dS


def channel_averages(losses, m, Q, V, b, delta: float, measure: Measure, fixed_teacher: bool = False,
                     with_train: bool = False, warm: dict | None = None) -> ChannelAverages:
    """Channel expectations at the order parameters (m, Q, V, b).

    Parameters
    ----------
    losses : list of K loss objects (``theory.losses``): the teacher's hard loss,
        then each student's ``Mix``.
    m, b : (K,) magnetisations and biases; Q : (K, K) overlaps; V : (K, K)
        lower-triangular responses (V_aa > 0).
    delta : noise variance.  measure : quadrature points (``label_measure``).
    fixed_teacher : the teacher is given, not trained on these samples.
    with_train : also compute training error, loss and logit MSE (slower).
    warm : optional dict carried between calls by the fixed-point map; it holds
        the last prox outputs, used as Newton starting points (a cache only:
        results do not depend on it beyond the prox tolerance).

    Returns
    -------
    ChannelAverages
    """
    K = len(losses)
    L = psd_cholesky(Q)
    y, y_obs, w = measure.y, measure.y_obs, measure.w
    h, f, s_all, J, dS = _forward(losses, m, V, b, delta, measure, L, fixed_teacher, warm)
    F = np.stack(f)  # (K, P)
    Ef = F @ w
    Eyf = F @ (w * y)
    Eff = (F * w) @ F.T
    Edf = np.zeros((K, K))
    for a in range(K):
        for c in range(a + 1):
            Edf[a, c] = np.dot(w, np.broadcast_to(J[a][c], w.shape))
    hinge_label = _hinge_label(losses[K - 1], y_obs, h[K - 2] if K > 1 else None)
    last_loss = None
    if hinge_label is not None and not (K == 1 and fixed_teacher):
        a = K - 1
        Eg, Eg2, Pm, Eloss = _hinge_moments(s_all[a], np.sqrt(delta) * L[a, a], measure.xi[a], delta * V[a, a],
                                            hinge_label)
        Ef[a] = np.dot(w, hinge_label * Eg)
        Eyf[a] = np.dot(w, y * hinge_label * Eg)
        for c in range(a):
            Eff[a, c] = Eff[c, a] = np.dot(w, F[c] * hinge_label * Eg)
        Eff[a, a] = np.dot(w, Eg2)
        dfds = -Pm / (delta * V[a, a])
        for c in range(a + 1):
            Edf[a, c] = np.dot(w, dfds * np.broadcast_to(dS[a][c], w.shape))
        last_loss = float(np.dot(w, Eloss))
    if with_train:
        H = np.stack(h)
        train_err = np.array([_train_error(a, losses, h, s_all, L, measure, delta, V, fixed_teacher) for a in range(K)])
        train_loss = np.array([
            np.dot(w, losses[a].value(h[a], _target(a, y_obs, h[a - 1] if a > 0 else None)))
            if not (a == 0 and fixed_teacher) else np.nan
            for a in range(K)
        ])
        if last_loss is not None:
            train_loss[K - 1] = last_loss
        diff = H[:, None, :] - H[None, :, :]
        train_mse = (diff ** 2 * w).sum(axis=2)
    else:
        train_err = train_loss = np.full(K, np.nan)
        train_mse = np.full((K, K), np.nan)
    return ChannelAverages(Ef, Eyf, Eff, Edf, train_err, train_loss, train_mse)


def train_error_pair(losses, m, Q, V, b, delta, rho, theta, fixed_teacher, order: int = 20) -> float:
    """The K = 2 case of :func:`train_error_last` (kept for callers written against it)."""
    return train_error_last(losses, m, Q, V, b, delta, rho, theta, fixed_teacher, order)
