"""The multi-class state in reduced coordinates, its packing, and the starting points.

Reduced coordinates (D = C - 1 per learner, fixed Helmert basis U = ``helmert_basis(C)``):
M (K, D, C), Q and V (KD x KD; V block lower triangular), b (K, D).  The solver iterates the
flat vector of :meth:`MulticlassState.pack`: M, the lower triangle of Q, the lower blocks of V, b.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..kernel import kernel_of
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

    def pack(self):
        """The flat solver vector (NumPy or JAX, as the state)."""
        K, D, C = self.M.shape
        xp = kernel_of(self.M, self.Q, self.V, self.b).xp
        il, vpos, _ = _layout(K, D, C)
        return xp.concatenate([self.M.ravel(), self.Q[il], self.V.ravel()[vpos], self.b.ravel()])

    @classmethod
    def unpack(cls, x, K: int, D: int, C: int) -> "MulticlassState":
        """The state of a flat solver vector (gathers with constant index maps: traceable)."""
        xp = kernel_of(x).xp
        n = K * D
        i = K * D * C
        il, _, (qmap, vmap, vmask) = _layout(K, D, C)
        Q = x[i + qmap]
        V = xp.where(vmask, x[vmap], 0.0)
        return cls(x[:i].reshape(K, D, C), Q, V, x[-n:].reshape(K, D))


@lru_cache(maxsize=32)
def _layout(K: int, D: int, C: int):
    """Index maps of the flat vector: the lower triangle of Q, the lower blocks of V (flat positions
    in V), and for unpacking: Q's entry -> position after M, V's entry -> position in x, V's mask."""
    n = K * D
    il = np.tril_indices(n)
    vpos = np.concatenate([(np.arange(k * D, (k + 1) * D)[:, None] * n + np.arange(j * D, (j + 1) * D)).ravel()
                           for k in range(K) for j in range(k + 1)])
    qmap = np.zeros((n, n), dtype=int)
    qmap[il] = np.arange(len(il[0]))
    qmap = np.where(np.tri(n, dtype=bool), qmap, qmap.T)
    start = K * D * C + len(il[0])
    vmap = np.zeros(n * n, dtype=int)
    vmap[vpos] = start + np.arange(len(vpos))
    vmask = np.zeros(n * n, dtype=bool)
    vmask[vpos] = True
    return il, vpos, (qmap, vmap.reshape(n, n), vmask.reshape(n, n))


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


def valid_rows(Y, K: int, D: int, C: int):
    """The shared driver's domain test over the rows of Y: positive definite V_kk, PSD Q_kk (traceable)."""
    xp = kernel_of(Y).xp
    out = []
    for r in range(Y.shape[0]):
        st = MulticlassState.unpack(Y[r], K, D, C)
        ok = xp.asarray(True)
        for k in range(K):
            sl = slice(k * D, (k + 1) * D)
            Vk = st.V[sl, sl]
            ok = ok & (xp.linalg.eigvalsh(0.5 * (Vk + Vk.T)).min() > 0) & (
                xp.linalg.eigvalsh(st.Q[sl, sl]).min() > -1e-8)
        out.append(ok)
    return xp.stack(out)


def state_norm(x, K: int, D: int, C: int):
    """The size the driver watches for run-away growth: the largest diagonal entry of Q."""
    xp = kernel_of(x).xp
    diag = x[K * D * C + np.diag(_layout(K, D, C)[2][0])]
    return xp.max(xp.abs(diag))
