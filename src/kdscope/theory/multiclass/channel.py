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


def _expand(a: np.ndarray, n_new: int) -> np.ndarray:
    """Lift an array over the grid of learners 0..k-1 to the grid of learners 0..k (new index fastest)."""
    return np.repeat(a, n_new, axis=0)


def channel_averages(losses, M, Q, V, b, pi, alpha, delta, order, cache=None, train: bool = True,
                     fixed_teacher: bool = False) -> ChannelAverages:
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
    """
    K, D, C = M.shape
    L = block_sqrt(Q, K, D)
    sd = np.sqrt(delta)
    orders = tuple(order) if np.ndim(order) else (int(order),) * K
    nodes, wts = block_grid(orders[0], D)
    n_grid = len(nodes)
    # level-0 grid: labels x nodes
    y = np.repeat(np.arange(C), n_grid)
    w = np.repeat(pi, n_grid) * np.tile(wts, C)
    xi = np.tile(nodes, (C, 1))                      # (P, D) nodes of learner 0
    f, h, dh, F = [], [], [], []     # per learner, lifted to the current level
    own = []                         # per learner on its own level: (w, y, f, h, dF)
    for k in range(K):
        if k > 0:  # lift everything to level k
            nodes, wts = block_grid(orders[k], D)
            n_grid = len(nodes)
            P_prev = len(w)
            y = _expand(y, n_grid)
            w = _expand(w, n_grid) * np.tile(wts, P_prev)
            xi = np.concatenate([_expand(xi, n_grid), np.tile(nodes, (P_prev, 1))], axis=1)
            f = [_expand(a, n_grid) for a in f]
            h = [_expand(a, n_grid) for a in h]
            dh = [[_expand(a, n_grid) for a in row] for row in dh]
            F = [[_expand(a, n_grid) for a in row] for row in F]
        sl = slice(k * D, (k + 1) * D)
        g = xi @ L[sl, :(k + 1) * D].T
        omega = M[k].T[y] + b[k] + sd * g
        s = omega.copy()
        for j in range(k):
            s += delta * f[j] @ V[sl, j * D:(j + 1) * D].T
        Vd = delta * V[sl, sl]
        Vd = 0.5 * (Vd + Vd.T)
        u_prev = h[k - 1] if k > 0 else None
        key = (k, orders, len(w))
        h0 = cache.get(key) if cache is not None else None
        if k == 0 and fixed_teacher:
            hk, grad, H, X = s, np.zeros_like(s), np.zeros((len(s), D, D)), None
        else:
            hk, grad, H, X = prox(losses[k], s, Vd, y, u_prev, h0=h0)
        if cache is not None:
            cache[key] = hk
        R = inv_small(np.eye(D) + np.matmul(Vd, H))
        # total derivatives d s_k / d omega_j, then d h_k, d f_k (j <= k)
        dh_k, F_k = [], []
        VdX = None if (k == 0 or X is None) else np.matmul(Vd, X)
        for j in range(k + 1):
            ds = np.broadcast_to(np.eye(D) if j == k else np.zeros((D, D)), (len(w), D, D))
            for i in range(j, k):
                ds = ds + delta * np.matmul(V[sl, i * D:(i + 1) * D], F[i][j])
            rhs = ds if (VdX is None or j > k - 1) else ds - np.matmul(VdX, dh[k - 1][j])
            dhj = np.matmul(R, rhs)
            Fj = -np.matmul(H, dhj)
            if VdX is not None and j <= k - 1:
                Fj -= np.matmul(X, dh[k - 1][j])
            dh_k.append(dhj)
            F_k.append(Fj)
        f.append(-grad)
        h.append(hk)
        dh.append(dh_k)
        F.append(F_k)
        own.append((w, y, -grad, hk, F_k))
    # averages, each learner's on its own level k (the later grid factors' weights sum to 1);
    # a quantity of learner j < k is lifted to level k by repeating it (later indices run fastest)
    Ef = np.zeros((K, D))
    M_hat = np.zeros((K, D, C))
    Q_hat = np.zeros((K * D, K * D))
    V_hat = np.zeros((K * D, K * D))
    J = np.zeros((K * D, K * D))
    train_loss, train_error = np.full(K, np.nan), np.full(K, np.nan)
    train_mse = np.full((K, K), np.nan)
    U = helmert_basis(C)
    for k in range(K):
        wk, yk, fk, hk, F_k = own[k]
        Ef[k] = wk @ fk
        for c in range(C):
            M_hat[k, :, c] = alpha * (wk * (yk == c)) @ fk
        for j in range(k + 1):
            wj, _, fj, hj, _ = own[j]
            reps = len(wk) // len(wj)
            fj, hj = np.repeat(fj, reps, axis=0), np.repeat(hj, reps, axis=0)
            blk = alpha * delta * (fk * wk[:, None]).T @ fj
            Q_hat[k * D:(k + 1) * D, j * D:(j + 1) * D] = blk
            Q_hat[j * D:(j + 1) * D, k * D:(k + 1) * D] = blk.T
            Jkj = (wk @ F_k[j].reshape(len(wk), -1)).reshape(D, D)
            J[k * D:(k + 1) * D, j * D:(j + 1) * D] = Jkj
            V_hat[k * D:(k + 1) * D, j * D:(j + 1) * D] = -alpha * delta * Jkj
            if train:
                train_mse[k, j] = train_mse[j, k] = wk @ np.sum((hk - hj) ** 2, axis=1)
        if not train or (k == 0 and fixed_teacher):
            continue
        u_prev = None
        if k > 0:
            wp, _, _, hp, _ = own[k - 1]
            u_prev = np.repeat(hp, len(wk) // len(wp), axis=0)
        train_loss[k] = wk @ losses[k].value(hk, yk, u_prev)
        train_error[k] = wk @ (np.argmax(hk @ U.T, axis=1) != yk)
    return ChannelAverages(Ef, M_hat, Q_hat, V_hat, J, train_loss, train_error, train_mse)
