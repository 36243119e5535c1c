"""The multi-class state in reduced coordinates, its packing, and the starting points.

Reduced coordinates (D = C - 1 per learner, fixed Helmert basis U = ``helmert_basis(C)``):
M (K, D, C), Q and V (KD x KD; V block lower triangular), b (K, D).  The solver iterates the
flat vector of :meth:`MulticlassState.pack`: M, the lower triangle of Q, the lower blocks of V, b.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gram import helmert_basis
from .setting import MulticlassSetting

__all__ = ["MulticlassState", "given_teacher", "initial_state", "valid_rows", "state_norm"]


@dataclass(frozen=True)
class MulticlassState:
    """Order parameters in reduced coordinates: M (K, D, C), Q (KD, KD), V (KD, KD), b (K, D)."""

    M: np.ndarray
    Q: np.ndarray
    V: np.ndarray
    b: np.ndarray

    def pack(self) -> np.ndarray:
        K, D, C = self.M.shape
        il = np.tril_indices(K * D)
        blocks = [self.V[k * D:(k + 1) * D, j * D:(j + 1) * D].ravel() for k in range(K) for j in range(k + 1)]
        return np.concatenate([self.M.ravel(), self.Q[il], *blocks, self.b.ravel()])

    @classmethod
    def unpack(cls, x: np.ndarray, K: int, D: int, C: int) -> "MulticlassState":
        n = K * D
        i = K * D * C
        M = x[:i].reshape(K, D, C)
        il = np.tril_indices(n)
        Q = np.zeros((n, n))
        Q[il] = x[i:i + len(il[0])]
        Q = Q + np.tril(Q, -1).T
        i += len(il[0])
        V = np.zeros((n, n))
        for k in range(K):
            for j in range(k + 1):
                V[k * D:(k + 1) * D, j * D:(j + 1) * D] = x[i:i + D * D].reshape(D, D)
                i += D * D
        return cls(M.copy(), Q, V, x[i:i + n].reshape(K, D).copy())

def given_teacher(s: MulticlassSetting) -> tuple | None:
    """Reduced (M_0 (D, C), Q_00 (D, D), b_0 (D,)) of a given teacher (``teacher='fixed'``), else None."""
    if s.teacher != "fixed":
        return None
    U = helmert_basis(s.classes)
    m0, q0, b0 = s.teacher_overlaps()
    Q0 = U.T @ q0 @ U
    return U.T @ m0, 0.5 * (Q0 + Q0.T), U.T @ b0


def initial_state(s: MulticlassSetting, fixed: tuple | None = None) -> MulticlassState:
    """A valid starting point: W proportional to the means, isotropic noise part, unit-ish response
    (a fixed teacher's row set to its overlaps, uncorrelated with the students)."""
    K, C = s.n_learners, s.classes
    D = C - 1
    U = helmert_basis(C)
    G = s.G
    M1 = 0.5 * U.T @ G
    A = 0.25 * U.T @ G @ U
    Q = np.kron(np.ones((K, K)), A) + np.kron(0.25 * (np.ones((K, K)) + np.eye(K)), np.eye(D))
    V = np.kron(np.diag(1.0 / (s.lams() + 1.0)), np.eye(D))
    b = np.tile(U.T @ np.log(s.p), (K, 1))
    M = np.stack([M1] * K)
    if fixed is not None:
        M[0], b[0] = fixed[0], fixed[2]
        Q[:D, :] = 0.0
        Q[:, :D] = 0.0
        Q[:D, :D] = fixed[1]
        V[:D, :D] = np.eye(D)
    return MulticlassState(M, Q, V, b)


def _valid_one(x: np.ndarray, K: int, D: int, C: int) -> bool:
    st = MulticlassState.unpack(x, K, D, C)
    for k in range(K):
        sl = slice(k * D, (k + 1) * D)
        Vk = st.V[sl, sl]
        if np.linalg.eigvalsh(0.5 * (Vk + Vk.T)).min() <= 0 or np.linalg.eigvalsh(st.Q[sl, sl]).min() < -1e-8:
            return False
    return True


def valid_rows(Y: np.ndarray, K: int, D: int, C: int) -> np.ndarray:
    """The shared driver's domain test over the rows of Y: positive definite V_kk, PSD Q_kk."""
    return np.array([_valid_one(y, K, D, C) for y in Y])


def state_norm(x: np.ndarray, K: int, D: int, C: int) -> float:
    """The size the driver watches for run-away growth: the largest diagonal entry of Q."""
    n = K * D
    i = K * D * C
    il = np.tril_indices(n)
    diag = x[i:i + len(il[0])][il[0] == il[1]]
    return float(np.max(np.abs(diag)))
