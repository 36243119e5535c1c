"""Channel side of the replica-symmetric equations for a chain of K learners (NumPy or JAX arrays).

For the quadrature points (y, y~, zeta) with g = L zeta ~ N(0, Q) (DESIGN.md section 2):

    omega_a = y m_a + b_a + sqrt(delta) g_a
    s_a     = omega_a + delta * sum_{b<a} V_ab f_b
    h_a     = prox of delta V_aa loss_a(. ; y~, h_{a-1}) at s_a
    f_a     = (h_a - s_a) / (delta V_aa)            (= -d loss_a / dh at h_a)

The soft target of learner a is h_{a-1}, the previous learner's *training
output*, and s_a carries the cross-response shift: both are needed for the
equations to agree with simulations.  The derivatives d f_a / d omega_b
(b <= a) are total derivatives through the chain, obtained by implicit
differentiation of the prox conditions (``loss.dprox``):

    dh_a = dh/ds ds_a + dh/dt dh_{a-1}

A fixed teacher (kind b/c) does not respond: h_0 = omega_0, f_0 = 0.  A loss
with closed-form force moments (``loss.exact_moments``: the hinge) has them used
for the last learner, whose own Gaussian coordinate they integrate exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernel import kernel_of
from .quadrature import Measure, psd_cholesky


@dataclass(frozen=True)
class ChannelAverages:
    """Expectations over the channel measure needed by the fixed point.

    Attributes (K learners, P quadrature points)
    ----------
    Ef : (K,)      E[f_a]                    (bias stationarity: 0 at the solution)
    Eyf : (K,)     E[y f_a]
    Eff : (K, K)   E[f_a f_b]
    Edf : (K, K)   E[d f_a / d omega_b], lower triangular
    h : (K, P)     the prox outputs (a warm start for the next evaluation)
    train_err : (K,)  P(sign(h_a) != y~)                      (``with_train`` only, else None)
    train_loss : (K,) E[loss_a(h_a; y~, h_{a-1})]              (idem)
    train_mse : (K, K) E[(h_a - h_b)^2], training logit MSE    (idem)
    """

    Ef: np.ndarray
    Eyf: np.ndarray
    Eff: np.ndarray
    Edf: np.ndarray
    h: np.ndarray
    train_err: np.ndarray
    train_loss: np.ndarray
    train_mse: np.ndarray
    chain: "Chain | None" = None


def target(k: int, y_obs, h_prev):
    """Target passed to learner k's loss: y~ for the teacher, (y~, h_{k-1}) for a student."""
    return y_obs if k == 0 else (y_obs, h_prev)


@dataclass(frozen=True)
class Chain:
    """The chain at the quadrature points (lists over learners of arrays over points).

    h, f, s : prox outputs, forces, prox centres (s[0] is None for a fixed teacher);
    J[a][c] = d f_a / d omega_c and dS[a][c] = d s_a / d omega_c for c <= a;
    dprox[a] : (dh_a/ds_a, dh_a/dh_{a-1}, v_a = delta V_aa) of the prox (None for a fixed teacher).
    """

    h: list
    f: list
    s: list
    J: list
    dS: list
    dprox: list | None = None


#: Rows per learner of a chain cache (:func:`chain_cache`): h, s, f, dh/ds, dh/dt, v.
CACHE_ROWS = 6


def chain_cache(ch: Chain, K: int):
    """The chain as one (CACHE_ROWS K, P) array (h, s, f, dh/ds, dh/dt, v of every learner), to be passed
    back to :func:`forward` as ``warm``: an array, so that it can be carried by a compiled loop."""
    xp = kernel_of(ch.h[-1]).xp
    zero = xp.zeros_like(ch.h[-1])
    rows = list(ch.h) + [zero + (0.0 if x is None else x) for x in ch.s] + list(ch.f)
    for j in range(3):
        rows += [zero + (0.0 if d is None else d[j]) for d in ch.dprox]
    return xp.stack(rows)


def predicted_start(cache, K: int, a: int, s, v, h_up):
    """A Newton starting point for learner a's prox from the previous evaluation's cache (first order).

    Differentiating the prox condition (h - s) + v loss'(h; t) = 0 (with loss' = -f):
    dh = dh/ds (ds + f dv) + dh/dt dt, so h ~ h_prev + dh/ds (s - s_prev + f_prev (v - v_prev))
    + dh/dt (h_{a-1} - h_{a-1, prev}).  The prox result does not depend on the start (beyond
    its tolerance); a good start saves Newton steps along a converging fixed-point iteration.
    """
    h_prev, s_prev, f_prev, dh_ds, dh_dt, v_prev = (cache[j * K + a] for j in range(CACHE_ROWS))
    h0 = h_prev + dh_ds * ((s - s_prev) + f_prev * (v - v_prev))
    if a > 0:
        h0 = h0 + dh_dt * (h_up - cache[a - 1])
    return h0


def forward(losses, m, V, b, delta, measure: Measure, L, fixed_teacher: bool, warm=None) -> Chain:
    """Run the chain of proxes at the quadrature points (module docstring).

    ``warm``: optional (K, P) prox outputs of a previous evaluation (Newton starting points),
    or a (CACHE_ROWS K, P) :func:`chain_cache`, from which :func:`predicted_start` extrapolates.
    """
    xp = kernel_of(m, V, L, measure.w).xp
    K = len(losses)
    y, y_obs = measure.y, measure.y_obs
    g = L @ measure.nodes  # (K, P)
    sd = xp.sqrt(delta)
    h, f, s_all = [None] * K, [None] * K, [None] * K
    J = [[None] * K for _ in range(K)]
    dH = [[None] * K for _ in range(K)]
    dS = [[None] * K for _ in range(K)]
    dprox = [None] * K
    zero = xp.zeros_like(y)
    for a in range(K):
        omega = y * m[a] + b[a] + sd * g[a]
        if a == 0 and fixed_teacher:
            h[0], f[0] = omega, zero
            J[0][0], dH[0][0] = zero, zero + 1.0
            continue
        s = omega
        for c in range(a):
            s = s + delta * V[a, c] * f[c]
        s_all[a] = s
        v = delta * V[a, a]
        tgt = target(a, y_obs, h[a - 1] if a > 0 else None)
        if warm is not None and warm.shape[0] == CACHE_ROWS * K:
            h0 = predicted_start(warm, K, a, s, v, h[a - 1] if a > 0 else None)
        else:
            h0 = None if warm is None else warm[a]
        h[a] = losses[a].prox(s, v, tgt, h0)
        f[a] = (h[a] - s) / v
        dh_ds, dh_dt = losses[a].dprox(h[a], s, v, tgt)
        dprox[a] = (dh_ds, dh_dt, v)
        for c in range(a + 1):
            ds = 1.0 if c == a else 0.0
            for e in range(c, a):
                ds = ds + delta * V[a, e] * J[e][c]
            dS[a][c] = ds
            dh = dh_ds * ds
            if c <= a - 1:
                dh = dh + dh_dt * dH[a - 1][c]
            dH[a][c] = dh
            J[a][c] = (dh - ds) / v
    return Chain(h, f, s_all, J, dS, dprox)


def channel_averages(losses, m, Q, V, b, delta: float, measure: Measure, fixed_teacher: bool = False,
                     with_train: bool = False, warm=None) -> ChannelAverages:
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
    warm : optional (K, P) prox outputs of the previous evaluation, used as
        Newton starting points (results do not depend on it beyond the prox tolerance).

    Returns
    -------
    ChannelAverages
    """
    k = kernel_of(m, Q, V, b, measure.w)
    xp = k.xp
    K = len(losses)
    L = psd_cholesky(Q)
    y, y_obs, w = measure.y, measure.y_obs, measure.w
    ch = forward(losses, m, V, b, delta, measure, L, fixed_teacher, warm)
    a = K - 1
    f_first = list(ch.f)        # f_a, or for the last learner its conditional mean over its own coordinate
    f_second = ch.f[a] * ch.f[a]
    J_last = [ch.J[a][c] for c in range(a + 1)]
    last_loss = None
    moments = None
    if not (a == 0 and fixed_teacher):
        moments = losses[a].exact_moments(target(a, y_obs, ch.h[a - 1] if a > 0 else None))
    if moments is not None:
        sig = xp.sqrt(delta) * L[a, a]
        Ef1, Ef2, dfds, Eloss = moments(ch.s[a] - sig * measure.nodes[a], sig, delta * V[a, a])
        f_first[a], f_second = Ef1, Ef2
        J_last = [dfds * ch.dS[a][c] for c in range(a + 1)]
        last_loss = w @ Eloss
    F = xp.stack(f_first)  # (K, P)
    Fw = F * w
    Ef = xp.sum(Fw, axis=1)
    Eyf = Fw @ y
    Eff = Fw @ F.T
    if moments is not None:  # the last learner's E[f^2] from its own closed form
        last = np.zeros((K, K))
        last[a, a] = 1.0
        Eff = Eff + xp.asarray(last) * (w @ f_second - Eff[a, a])
    Edf = xp.asarray([[w @ (J_last if r == a else ch.J[r])[c] if c <= r else 0.0 for c in range(K)]
                      for r in range(K)], dtype=float)
    H = xp.stack(ch.h)
    train_err = train_loss = train_mse = None
    if with_train:
        train_err = xp.stack([_train_error(k, c, losses, ch, L, measure, delta, V, fixed_teacher) for c in range(K)])
        tl = []
        for c in range(K):
            if c == 0 and fixed_teacher:
                tl.append(xp.asarray(xp.nan))
            elif c == a and last_loss is not None:
                tl.append(last_loss)
            else:
                tl.append(w @ losses[c].value(ch.h[c], target(c, y_obs, ch.h[c - 1] if c > 0 else None)))
        train_loss = xp.stack(tl)
        train_mse = (((H[:, None, :] - H[None, :, :]) ** 2) * w).sum(axis=2)
    return ChannelAverages(Ef, Eyf, Eff, Edf, H, train_err, train_loss, train_mse, ch)


def _train_error(k, a, losses, ch: Chain, L, measure, delta, V, fixed_teacher):
    """P(sign(h_a) != y~), integrating learner a's own Gaussian coordinate analytically.

    Given the upstream nodes zeta_0..zeta_{a-1}, s_a is affine in zeta_a with slope
    sqrt(delta) L_aa and h_a = prox(s_a) is non-decreasing in s_a, with h_a = 0
    exactly at s* = v loss_a'(0; targets) (the prox optimality condition).  So
    P(h_a < 0 | upstream) = Phi((s* - s_bar) / (sqrt(delta) L_aa)), a smooth
    function of the remaining nodes.  (A Gauss-Hermite sum of the indicator
    itself converges only as 1 / order.)
    """
    xp = k.xp
    y_obs, w = measure.y_obs, measure.w
    sig = xp.sqrt(delta) * L[a, a]
    if a == 0 and fixed_teacher:
        s_a, s_star = ch.h[0], 0.0
    else:
        s_a = ch.s[a]
        tgt = target(a, y_obs, ch.h[a - 1] if a > 0 else None)
        s_star = delta * V[a, a] * losses[a].grad(xp.zeros_like(s_a), tgt)
    spread = sig > 1e-300
    s_bar = s_a - sig * measure.nodes[a]
    neg = xp.where(spread, k.ndtr((s_star - s_bar) / xp.where(spread, sig, 1.0)), (ch.h[a] < 0) * 1.0)
    return w @ xp.where(y_obs > 0, neg, 1.0 - neg)
