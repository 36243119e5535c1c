"""Channel side of the multi-class saddle point: prox, forces and their Gaussian averages.

DESIGN.md section 8, in reduced coordinates (D = C - 1 per learner, basis U = helmert_basis(C)).
Given the label y = c (probability pi_c), learner k sees the cavity field

    omega_k = M_k e_c + b_k + sqrt(delta) g_k,      (g_0, ..., g_{K-1}) ~ N(0, Q),

and, in chain order,

    s_k = omega_k + delta sum_{j<k} V_kj f_j,
    h_k = argmin_h (h - s_k)^T (delta V_kk)^-1 (h - s_k) / 2 + loss_k(h; y, h_{k-1}),
    f_k = (delta V_kk)^-1 (h_k - s_k) = -grad loss_k(h_k; y, h_{k-1}).

The student's soft target is the teacher's *training output* h_{k-1}, and the shift by
delta V_kj f_j (cross response) is required.  Conjugates:

    M^_k = alpha E[f_k e_y^T],   Q^_kj = alpha delta E[f_k f_j^T],
    V^_kj = -alpha delta E[df_k / domega_j]      (total derivative through the chain, j <= k),

E over y (P(y = c) = pi_c) and g ~ N(0, Q), normalised.  A fixed teacher (given, or trained on
other samples) does not respond to these samples: h_0 = omega_0, f_0 = 0, dh_0/domega_0 = I.  Derivatives by implicit
differentiation of the prox condition: with H = hess loss_k, X = d^2 loss_k / (dh dh_prev),
dh_k = (I + delta V_kk H)^-1 (ds_k - delta V_kk X dh_{k-1}) and df_k = -H dh_k - X dh_{k-1}.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kernel import kernel_of
from .losses import inv_small, prox
from .gram import helmert_basis
from .quadrature import block_grid, block_sqrt

__all__ = ["ChannelAverages", "channel_averages"]


@dataclass(frozen=True)
class ChannelAverages:
    """Averages of the channel at one state.

    Attributes (K learners, D = C - 1 reduced logits, C classes):
    ``Ef`` (K, D) = E[f_k] (bias stationarity: 0); ``M_hat`` (K, D, C); ``Q_hat`` (KD, KD);
    ``V_hat`` (KD, KD) block lower triangular; ``J`` (KD, KD) = E[df_k / domega_j] (bias Newton);
    ``train_loss`` (K,) E[loss_k(h_k)]; ``train_error`` (K,) P(argmax U h_k != y) (quadrature of an
    indicator: accurate to ~1e-3 only); ``train_mse`` (K, K) E|h_j - h_k|^2 (centred logits).
    """

    Ef: np.ndarray
    M_hat: np.ndarray
    Q_hat: np.ndarray
    V_hat: np.ndarray
    J: np.ndarray
    train_loss: np.ndarray
    train_error: np.ndarray
    train_mse: np.ndarray
    h: list | None = None


def _expand(a, n_new: int):
    """Lift an array over the grid of learners 0..k-1 to the grid of learners 0..k (new index fastest)."""
    return kernel_of(a).xp.repeat(a, n_new, axis=0)


def _blocks(xp, rows: list) -> "np.ndarray":
    """Assemble a block matrix from a list of rows of (D, D) blocks (None: zeros)."""
    D = next(b for row in rows for b in row if b is not None).shape[0]
    return xp.concatenate([xp.concatenate([xp.zeros((D, D)) if b is None else b for b in row], axis=1)
                           for row in rows], axis=0)


def channel_averages(losses, M, Q, V, b, pi, alpha, delta, order, cache=None, train: bool = True,
                     fixed_teacher: bool = False, warm=None) -> ChannelAverages:
    """Channel averages for K learners (see the module docstring).

    Parameters
    ----------
    losses : sequence of K losses (``kdscope.theory.multiclass.losses``), chain order.
    M : (K, D, C); Q, V : (KD, KD); b : (K, D); pi : (C,); alpha, delta > 0.
    order : Gauss-Hermite nodes per dimension, one int or one per learner (learner k's block is
        the grid of its noise conditional on the previous learners').
    cache : optional dict; the prox outputs are stored there and reused as warm starts
        (same grid, nearby state) to cut Newton steps.
    train : also compute the training observables (loss, error, output distances); else NaN.
    fixed_teacher : learner 0 is a fixed teacher (its output is its field; no force, no training
        observables here).
    warm : optional list of K prox outputs (each on its learner's grid; NaN: no warm start), the
        traced alternative to ``cache``; the outputs are in ``ChannelAverages.h``.

    Array code for the NumPy and JAX kernels (``theory.kernel``): the grid (labels, nodes, weights)
    is NumPy, the state and the numbers may be traced.
    """
    xp = kernel_of(M, Q, V, b, pi, alpha, delta).xp
    K, D, C = M.shape
    L = block_sqrt(Q, K, D)
    sd = xp.sqrt(delta)
    orders = tuple(order) if np.ndim(order) else (int(order),) * K
    nodes, wts = block_grid(orders[0], D)
    n_grid = len(nodes)
    # level-0 grid: labels x nodes
    y = np.repeat(np.arange(C), n_grid)
    w = xp.repeat(pi, n_grid) * np.tile(wts, C)
    xi = np.tile(nodes, (C, 1))                      # (P, D) nodes of learner 0
    f, h, dh, F = [], [], [], []     # per learner, lifted to the current level
    own = []                         # per learner on its own level: (w, y, f, h, dF)
    eye = np.eye(D)
    for k in range(K):
        if k > 0:  # lift everything to level k
            nodes, wts = block_grid(orders[k], D)
            n_grid = len(nodes)
            P_prev = len(y)
            y = np.repeat(y, n_grid)
            w = _expand(w, n_grid) * np.tile(wts, P_prev)
            xi = np.concatenate([np.repeat(xi, n_grid, axis=0), np.tile(nodes, (P_prev, 1))], axis=1)
            f = [_expand(a, n_grid) for a in f]
            h = [_expand(a, n_grid) for a in h]
            dh = [[_expand(a, n_grid) for a in row] for row in dh]
            F = [[_expand(a, n_grid) for a in row] for row in F]
        sl = slice(k * D, (k + 1) * D)
        g = xi @ L[sl, :(k + 1) * D].T
        omega = M[k].T[y] + b[k] + sd * g
        s = omega
        for j in range(k):
            s = s + delta * f[j] @ V[sl, j * D:(j + 1) * D].T
        Vd = delta * V[sl, sl]
        Vd = 0.5 * (Vd + Vd.T)
        u_prev = h[k - 1] if k > 0 else None
        key = (k, orders, len(y))
        h0 = warm[k] if warm is not None else (cache.get(key) if cache is not None else None)
        if k == 0 and fixed_teacher:
            hk, grad, H, X = s, 0.0 * s, xp.zeros((len(y), D, D)), None
        else:
            hk, grad, H, X = prox(losses[k], s, Vd, y, u_prev, h0=h0)
        if cache is not None:
            cache[key] = hk
        R = inv_small(eye + xp.matmul(Vd, H))
        # total derivatives d s_k / d omega_j, then d h_k, d f_k (j <= k)
        dh_k, F_k = [], []
        VdX = None if (k == 0 or X is None) else xp.matmul(Vd, X)
        for j in range(k + 1):
            ds = xp.zeros((len(y), D, D)) + (eye if j == k else 0.0)
            for i in range(j, k):
                ds = ds + delta * xp.matmul(V[sl, i * D:(i + 1) * D], F[i][j])
            rhs = ds if (VdX is None or j > k - 1) else ds - xp.matmul(VdX, dh[k - 1][j])
            dhj = xp.matmul(R, rhs)
            Fj = -xp.matmul(H, dhj)
            if VdX is not None and j <= k - 1:
                Fj = Fj - xp.matmul(X, dh[k - 1][j])
            dh_k.append(dhj)
            F_k.append(Fj)
        f.append(-grad)
        h.append(hk)
        dh.append(dh_k)
        F.append(F_k)
        own.append((w, y, -grad, hk, F_k))
    # averages, each learner's on its own level k (the later grid factors' weights sum to 1);
    # a quantity of learner j < k is lifted to level k by repeating it (later indices run fastest)
    Ef, M_hat = [], []
    Qb = [[None] * K for _ in range(K)]
    Jb = [[None] * K for _ in range(K)]
    nan = np.full(K, np.nan)
    train_loss, train_error, train_mse = nan, nan, np.full((K, K), np.nan)
    U = helmert_basis(C)
    for k in range(K):
        wk, yk, fk, hk, F_k = own[k]
        Ef.append(wk @ fk)
        M_hat.append(alpha * (fk * wk[:, None]).T @ np.eye(C)[yk])
        for j in range(k + 1):
            wj, _, fj, hj, _ = own[j]
            reps = len(yk) // len(own[j][1])
            fj = xp.repeat(fj, reps, axis=0)
            blk = alpha * delta * (fk * wk[:, None]).T @ fj
            Qb[k][j] = blk
            if j < k:
                Qb[j][k] = blk.T
            Jb[k][j] = (wk @ F_k[j].reshape(len(yk), -1)).reshape(D, D)
    J = _blocks(xp, Jb)
    if train:
        train_loss, train_error, train_mse = _train_observables(losses, own, U, fixed_teacher)
    return ChannelAverages(xp.stack(Ef), xp.stack(M_hat), _blocks(xp, Qb), -alpha * delta * J, J, train_loss,
                           train_error, train_mse, [o[3] for o in own])


def _train_observables(losses, own, U, fixed_teacher: bool):
    """(train_loss (K,), train_error (K,), train_mse (K, K)) from each learner's level (NumPy)."""
    K = len(own)
    train_loss, train_error = np.full(K, np.nan), np.full(K, np.nan)
    train_mse = np.full((K, K), np.nan)
    for k in range(K):
        wk, yk, _, hk, _ = own[k]
        for j in range(k + 1):
            hj = np.repeat(own[j][3], len(yk) // len(own[j][1]), axis=0)
            train_mse[k, j] = train_mse[j, k] = wk @ np.sum((hk - hj) ** 2, axis=1)
        if k == 0 and fixed_teacher:
            continue
        u_prev = None
        if k > 0:
            u_prev = np.repeat(own[k - 1][3], len(yk) // len(own[k - 1][1]), axis=0)
        train_loss[k] = wk @ losses[k].value(hk, yk, u_prev)
        train_error[k] = wk @ (np.argmax(hk @ U.T, axis=1) != yk)
    return train_loss, train_error, train_mse
