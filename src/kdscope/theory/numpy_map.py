"""The replica-symmetric map on concrete NumPy arrays: the NumPy engine's fast path.

``theory.rs_map.evaluate`` is written once for NumPy and traced JAX arrays, so
every step is branch-free array code over (K, K) masks.  A K = 1 or K = 2
chain pays that generality in per-call overhead (stacking, masks, ``where``)
several times the cost of its integrals.  :func:`evaluate` here computes the
same map, in the same order and with the same formulas, with the few K x K
quantities as small NumPy arrays or Python floats, and calls the same chain of
proxes (``channel.forward``).  It agrees with ``rs_map.evaluate`` to rounding
(tested to 1e-12 on random states); a chain whose last loss integrates its own
coordinate in closed form (the hinge) takes the generic path.
"""

from __future__ import annotations

import math

import numpy as np

from . import rs_map
from .channel import forward, target
from .rs_map import RowProblem
from .state import _layout, _strict_lower, upstream_mask


def _from_solver(y: np.ndarray, K: int):
    """(m, Q, V, b) of a solver vector (``state.from_solver``, written for NumPy)."""
    lay = _layout(K)
    qd, vd = np.exp(y[lay.log_q]), np.exp(y[lay.log_v])
    dq, dv = np.sqrt(qd), np.sqrt(vd)
    m = y[lay.cos_m] * dq
    b = y[lay.bias] * dq
    Q, V = np.diag(qd), np.diag(vd)
    if K > 1:
        i, j = _strict_lower(K)
        Q[i, j] = Q[j, i] = y[lay.corr_q] * dq[i] * dq[j]
        V[i, j] = y[lay.corr_v] * dv[i] * dv[j]
    return m, Q, V, b


def _to_solver(m, Q, V, b) -> np.ndarray:
    """The solver vector of (m, Q, V, b) (``state.to_solver``, written for NumPy)."""
    K = m.shape[0]
    qd, vd = np.diagonal(Q), np.diagonal(V)
    dq, dv = np.sqrt(qd), np.sqrt(vd)
    parts = [np.log(qd), np.log(vd), m / dq, b / dq]
    if K > 1:
        i, j = _strict_lower(K)
        parts += [Q[i, j] / (dq[i] * dq[j]), V[i, j] / (dv[i] * dv[j])]
    return np.concatenate(parts)


def _cholesky(Q: np.ndarray) -> np.ndarray:
    """``quadrature.psd_cholesky`` in Python floats (conditional variances clipped at 0)."""
    K = Q.shape[0]
    L = [[0.0] * K for _ in range(K)]
    for i in range(K):
        for j in range(i + 1):
            r = float(Q[i, j]) - sum(L[i][c] * L[j][c] for c in range(j))
            if i == j:
                L[i][i] = math.sqrt(max(r, 0.0))
            else:
                L[i][j] = r / L[j][j] if L[j][j] > 0 else 0.0
    return np.array(L)


def _lower_inverse(A: np.ndarray) -> np.ndarray:
    """``prior.lower_inverse`` in Python floats (forward substitution)."""
    K = A.shape[0]
    X = [[0.0] * K for _ in range(K)]
    for j in range(K):
        X[j][j] = 1.0 / A[j, j]
        for i in range(j + 1, K):
            X[i][j] = -sum(A[i, c] * X[c][j] for c in range(j, i)) / A[i, i]
    return np.array(X, dtype=float)


def supports(p: RowProblem) -> bool:
    """True unless the last learner integrates its own coordinate in closed form (then: ``rs_map.evaluate``)."""
    a = p.K - 1
    if a == 0 and p.fixed is not None:
        return True
    probe = np.zeros(1)
    return p.losses[a].exact_moments(target(a, probe, probe if a > 0 else None)) is None


def evaluate(p: RowProblem, y, warm=None, frozen=None):
    """``rs_map.evaluate`` for NumPy arrays: ``(F(y), prox outputs (K, P), bad)``."""
    if not supports(p):
        return rs_map.evaluate(p, y, warm, frozen)
    K = p.K
    y = np.asarray(y, dtype=float)
    m, Q, V, b = _from_solver(y, K)
    fixed = p.fixed is not None
    L = _cholesky(Q)
    ch = forward(p.losses, m, V, b, p.delta, p.measure, L, fixed, warm)
    w, ys = p.measure.w, p.measure.y
    fw = [f * w for f in ch.f]
    Ef = np.array([x.sum() for x in fw])
    Eyf = np.array([x @ ys for x in fw])
    Eff = np.array([[fw[r] @ ch.f[c] for c in range(K)] for r in range(K)])
    Edf = np.array([[w @ ch.J[r][c] if c <= r else 0.0 for c in range(K)] for r in range(K)])
    scale = p.alpha * p.delta
    m_hat, Q_hat, V_hat = p.alpha * Eyf, scale * Eff, -scale * Edf
    m2, Q2, V2 = _prior(m_hat, Q_hat, V_hat, p.lam, p.eta, p.fixed)
    b2 = b
    if p.bias:
        slope = np.minimum(np.diagonal(Edf), -1e-12)
        cap = 1.0 + np.abs(b)
        b2 = b - np.clip(Ef / slope, -cap, cap)
    if fixed:
        b2 = b2.copy()
        b2[0] = p.fixed[2]
    qd, vd = np.diagonal(Q2).copy(), np.diagonal(V2).copy()
    bad = np.bool_((~(qd > 0)).any() or (~(vd > 0)).any())
    if bad:  # keep the coordinates computable where the image left the domain (flagged by ``bad``)
        idx = np.arange(K)
        Q2[idx, idx] = np.where(qd > 0, qd, 1.0)
        V2[idx, idx] = np.where(vd > 0, vd, 1.0)
    out = _to_solver(m2, Q2, V2, b2)
    if frozen is not None:
        out = np.where(upstream_mask(K), frozen, out)
    return out, np.stack(ch.h), bad


def _prior(m_hat, Q_hat, V_hat, lam, eta, fixed):
    """``prior.prior_update`` for NumPy arrays (same formulas; see that module)."""
    K = m_hat.shape[0]
    A = np.diag(lam * 1.0) + np.tril(V_hat)
    if fixed is not None:
        m0, q0 = fixed[0], fixed[1]
        A[0, :] = 0.0
        A[0, 0] = 1.0
        m_hat = m_hat.copy()
        m_hat[0] = m0
        Q_hat = Q_hat.copy()
        Q_hat[0, :] = Q_hat[:, 0] = 0.0
        Q_hat[0, 0] = q0 - m0 ** 2
    V = _lower_inverse(A)
    m = V @ m_hat
    Q = V @ (np.outer(m_hat, m_hat) + Q_hat) @ V.T
    if K > 1:
        m[1:] *= eta
        V[1:, :] *= eta
        Q[1:, :] *= eta
        Q[0, 1:] *= eta
    Q = 0.5 * (Q + Q.T)
    return m, Q, np.tril(V)
