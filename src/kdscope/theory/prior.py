"""Prior (ridge) side of the replica-symmetric equations for a chain of K learners (NumPy or JAX arrays).

With A = diag(lam) + V_hat (lower triangular; DESIGN.md section 2):

    V = A^-1,   m = A^-1 m_hat,   Q = A^-1 (m_hat m_hat^T + Q_hat) A^-T

A sparse student trains only eta d coordinates: every quantity in a student's
row (m_a, V_ab and Q_ab with b <= a, a >= 1) is multiplied by eta; the teacher's
row is not.  A fixed teacher (kind b/c) is a frozen row: A_00 = 1, V_hat_0b = 0,
m_hat_0 = m0, Q_hat_00 = q0 - m0^2, Q_hat_0b = 0, so that m_0 = m0, Q_00 = q0
and the student row reads w_S = (m_hat_S mu + g_hat_S - V_hat_S0 w_0) / (lam_S + V_hat_SS).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .kernel import kernel_of


def lower_inverse(A):
    """Inverse of a small lower-triangular matrix by forward substitution (scalar operations).

    K is a handful of learners: scalar loops beat a LAPACK call, whose
    overhead dominates for 2 x 2 matrices, and trace unchanged under JAX.
    """
    xp = kernel_of(A).xp
    K = A.shape[0]
    X = [[0.0] * K for _ in range(K)]
    for j in range(K):
        X[j][j] = 1.0 / A[j, j]
        for i in range(j + 1, K):
            X[i][j] = -sum(A[i, c] * X[c][j] for c in range(j, i)) / A[i, i]
    return xp.asarray(X, dtype=float)


def prior_update(m_hat, Q_hat, V_hat, lam, eta, fixed_teacher: tuple | None = None):
    """New (m, Q, V) from the conjugates.

    Parameters
    ----------
    m_hat : (K,)  Q_hat : (K, K) symmetric  V_hat : (K, K) lower triangular
    lam : (K,) ridge strengths (>= 0; lam + V_hat_aa must be > 0)
    eta : fraction of coordinates the students (a >= 1) train, in (0, 1]
    fixed_teacher : (m0, q0) to freeze the teacher row, or None

    Returns
    -------
    m : (K,), Q : (K, K), V : (K, K) lower triangular
    """
    xp = kernel_of(m_hat, Q_hat, V_hat, lam, eta).xp
    K = m_hat.shape[0]
    mk = _masks(K)
    A = xp.diag(lam * 1.0) + V_hat * mk.lower
    if fixed_teacher is not None:
        m0, q0 = fixed_teacher
        A = xp.where(mk.row0, mk.e00, A)
        m_hat = xp.where(mk.first, m0, m_hat)
        Q_hat = xp.where(mk.cross0, mk.e00 * (q0 - m0 ** 2), Q_hat)
    V = lower_inverse(A)
    m = V @ m_hat
    Q = V @ (xp.outer(m_hat, m_hat) + Q_hat) @ V.T
    if K > 1:
        m = xp.where(mk.student, eta * m, m)
        V = xp.where(mk.student_row, eta * V, V)
        Q = xp.where(mk.student_row, eta * Q, Q)
    Q = 0.5 * (Q + Q.T)
    return m, Q, V * mk.lower


@dataclass(frozen=True)
class _Masks:
    """Constant (K, K) and (K,) masks of the prior side (built once per K)."""

    lower: np.ndarray       # 1 on and below the diagonal
    row0: np.ndarray        # the teacher's row
    cross0: np.ndarray      # the teacher's row and column
    e00: np.ndarray         # 1 at (0, 0)
    first: np.ndarray       # the teacher (K,)
    student: np.ndarray     # the students (K,)
    student_row: np.ndarray  # a student's row or column


@lru_cache(maxsize=None)
def _masks(K: int) -> _Masks:
    row0 = np.zeros((K, K), dtype=bool)
    row0[0, :] = True
    e00 = np.zeros((K, K))
    e00[0, 0] = 1.0
    student = np.arange(K) >= 1
    return _Masks(np.tril(np.ones((K, K))), row0, row0 | row0.T, e00, np.arange(K) == 0, student,
                  student[:, None] | student[None, :])
