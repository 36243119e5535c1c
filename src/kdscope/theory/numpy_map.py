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
from functools import lru_cache

import numpy as np

from . import rs_map
from .channel import Chain, forward, target
from .rs_map import RowProblem
from .state import _layout, _strict_lower, upstream_mask


def _from_solver(y: list, K: int):
    """(m, Q, V, b) as nested lists of floats from a solver vector (``state.from_solver``)."""
    qd = [math.exp(v) for v in y[:K]]
    vd = [math.exp(v) for v in y[K:2 * K]]
    dq, dv = [math.sqrt(v) for v in qd], [math.sqrt(v) for v in vd]
    m = [y[2 * K + a] * dq[a] for a in range(K)]
    b = [y[3 * K + a] * dq[a] for a in range(K)]
    Q = [[qd[a] if a == c else 0.0 for c in range(K)] for a in range(K)]
    V = [[vd[a] if a == c else 0.0 for c in range(K)] for a in range(K)]
    i, j = _strict_lower(K)
    n = len(i)
    for t in range(n):
        r, c = int(i[t]), int(j[t])
        Q[r][c] = Q[c][r] = y[4 * K + t] * dq[r] * dq[c]
        V[r][c] = y[4 * K + n + t] * dv[r] * dv[c]
    return m, Q, V, b


def _to_solver(m: list, Q: list, V: list, b: list) -> np.ndarray:
    """The solver vector of (m, Q, V, b) given as lists (``state.to_solver``)."""
    K = len(m)
    dq = [math.sqrt(Q[a][a]) for a in range(K)]
    dv = [math.sqrt(V[a][a]) for a in range(K)]
    out = ([math.log(Q[a][a]) for a in range(K)] + [math.log(V[a][a]) for a in range(K)]
           + [m[a] / dq[a] for a in range(K)] + [b[a] / dq[a] for a in range(K)])
    i, j = _strict_lower(K)
    pairs = [(int(r), int(c)) for r, c in zip(i, j)]
    out += [Q[r][c] / (dq[r] * dq[c]) for r, c in pairs] + [V[r][c] / (dv[r] * dv[c]) for r, c in pairs]
    return np.array(out)


def _cholesky(Q: list) -> list:
    """``quadrature.psd_cholesky`` in Python floats (conditional variances clipped at 0)."""
    K = len(Q)
    L = [[0.0] * K for _ in range(K)]
    for i in range(K):
        for j in range(i + 1):
            r = Q[i][j] - sum(L[i][c] * L[j][c] for c in range(j))
            if i == j:
                L[i][i] = math.sqrt(max(r, 0.0))
            else:
                L[i][j] = r / L[j][j] if L[j][j] > 0 else 0.0
    return L


def _lower_inverse(A: list) -> list:
    """``prior.lower_inverse`` in Python floats (forward substitution)."""
    K = len(A)
    X = [[0.0] * K for _ in range(K)]
    for j in range(K):
        X[j][j] = 1.0 / A[j][j]
        for i in range(j + 1, K):
            X[i][j] = -sum(A[i][c] * X[c][j] for c in range(j, i)) / A[i][i]
    return X


def supports(p: RowProblem) -> bool:
    """True unless the last learner integrates its own coordinate in closed form (then: ``rs_map.evaluate``)."""
    a = p.K - 1
    if a == 0 and p.fixed is not None:
        return True
    probe = np.zeros(1)
    return p.losses[a].exact_moments(target(a, probe, probe if a > 0 else None)) is None


def evaluate(p: RowProblem, y, warm=None, frozen=None):
    """``rs_map.evaluate`` for NumPy arrays: ``(F(y), prox outputs (K, P), bad)``."""
    out, ch, bad = evaluate_chain(p, y, warm, frozen)
    return out, (np.stack(ch.h) if isinstance(ch, Chain) else ch), bad


def evaluate_chain(p: RowProblem, y, warm=None, frozen=None):
    """``(F(y), chain, bad)``: :func:`evaluate` returning the proxes' :class:`channel.Chain`.

    Passed back as ``warm``, the chain gives each prox a first-order predicted start
    (``channel.predicted_start``): about half the Newton steps of a plain warm start.
    """
    if not supports(p):
        if isinstance(warm, Chain):
            warm = np.stack(warm.h)
        return rs_map.evaluate(p, y, warm, frozen)
    K = p.K
    m, Q, V, b = _from_solver(np.asarray(y, dtype=float).tolist(), K)
    fixed = p.fixed is not None
    ch = forward(p.losses, m, np.array(V), b, p.delta, p.measure, np.array(_cholesky(Q)), fixed, warm)
    w, ys = p.measure.w, p.measure.y
    fw = [f * w for f in ch.f]
    Ef = [float(x.sum()) for x in fw]
    scale = p.alpha * p.delta
    m_hat = [p.alpha * float(x @ ys) for x in fw]
    Q_hat = [[scale * float(fw[r] @ ch.f[c]) for c in range(K)] for r in range(K)]
    Edf = [[float(w @ ch.J[r][c]) if c <= r else 0.0 for c in range(K)] for r in range(K)]
    V_hat = [[-scale * e for e in row] for row in Edf]
    m2, Q2, V2 = _prior(m_hat, Q_hat, V_hat, [float(x) for x in p.lam], p.eta, p.fixed)
    b2 = list(b)
    if p.bias:
        for a in range(K):
            cap = 1.0 + abs(b[a])
            b2[a] = b[a] - min(max(Ef[a] / min(Edf[a][a], -1e-12), -cap), cap)
    if fixed:
        b2[0] = float(p.fixed[2])
    bad = False
    for a in range(K):  # keep the coordinates computable where the image left the domain (flagged by ``bad``)
        if not Q2[a][a] > 0:
            bad, Q2[a][a] = True, 1.0
        if not V2[a][a] > 0:
            bad, V2[a][a] = True, 1.0
    out = _to_solver(m2, Q2, V2, b2)
    if frozen is not None:
        out = np.where(_upstream(K), frozen, out)
    return out, ch, np.bool_(bad)


@lru_cache(maxsize=None)
def _upstream(K: int) -> np.ndarray:
    return upstream_mask(K)


def _prior(m_hat: list, Q_hat: list, V_hat: list, lam: list, eta: float, fixed):
    """``prior.prior_update`` in Python floats (same formulas; see that module)."""
    K = len(m_hat)
    A = [[(lam[r] if r == c else 0.0) + (V_hat[r][c] if c <= r else 0.0) for c in range(K)] for r in range(K)]
    if fixed is not None:
        m0, q0 = float(fixed[0]), float(fixed[1])
        A[0] = [1.0] + [0.0] * (K - 1)
        m_hat = [m0] + m_hat[1:]
        Q_hat = [list(row) for row in Q_hat]
        for c in range(K):
            Q_hat[0][c] = Q_hat[c][0] = 0.0
        Q_hat[0][0] = q0 - m0 ** 2
    V = _lower_inverse(A)
    m = [sum(V[r][c] * m_hat[c] for c in range(K)) for r in range(K)]
    B = [[m_hat[r] * m_hat[c] + Q_hat[r][c] for c in range(K)] for r in range(K)]
    VB = [[sum(V[r][e] * B[e][c] for e in range(K)) for c in range(K)] for r in range(K)]
    Q = [[sum(VB[r][e] * V[c][e] for e in range(K)) for c in range(K)] for r in range(K)]
    for r in range(1, K):  # a student's row: m_a, V_ab and Q_ab (b <= a) times eta
        m[r] *= eta
        for c in range(K):
            V[r][c] *= eta
            Q[r][c] *= eta
            Q[c][r] = Q[c][r] * eta if c == 0 else Q[c][r]
    Q = [[0.5 * (Q[r][c] + Q[c][r]) for c in range(K)] for r in range(K)]
    V = [[V[r][c] if c <= r else 0.0 for c in range(K)] for r in range(K)]
    return m, Q, V
