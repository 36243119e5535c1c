"""Prior (ridge) side of the replica-symmetric equations for a chain of K learners.

With A = diag(lam) + V_hat (lower triangular; DESIGN.md section 2):

    V = A^-1,   m = A^-1 m_hat,   Q = A^-1 (m_hat m_hat^T + Q_hat) A^-T

A sparse student trains only eta d coordinates: every quantity in a student's
row (m_a, V_ab and Q_ab with b <= a, a >= 1) is multiplied by eta; the teacher's
row is not.  A fixed teacher (kind b/c) is a frozen row: A_00 = 1, V_hat_0b = 0,
m_hat_0 = m0, Q_hat_00 = q0 - m0^2, Q_hat_0b = 0, so that m_0 = m0, Q_00 = q0
and the student row reads w_S = (m_hat_S mu + g_hat_S - V_hat_S0 w_0) / (lam_S + V_hat_SS).
"""

from __future__ import annotations

import numpy as np


def _lower_inverse(A: np.ndarray) -> np.ndarray:
    """Inverse of a small lower-triangular matrix by forward substitution.

    K is a handful of learners: a Python loop beats a LAPACK call, whose
    threading overhead dominates for 2 x 2 matrices.
    """
    K = A.shape[0]
    X = np.zeros_like(A, dtype=float)
    for j in range(K):
        X[j, j] = 1.0 / A[j, j]
        for i in range(j + 1, K):
            X[i, j] = -(A[i, j:i] @ X[j:i, j]) / A[i, i]
    return X


def prior_update(m_hat, Q_hat, V_hat, lam, eta: float, fixed_teacher: tuple[float, float] | None = None):
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
    K = len(m_hat)
    A = np.diag(np.asarray(lam, dtype=float)) + np.tril(V_hat)
    m_hat = np.array(m_hat, dtype=float)
    Q_hat = np.array(Q_hat, dtype=float)
    if fixed_teacher is not None:
        m0, q0 = fixed_teacher
        A[0, :] = 0.0
        A[0, 0] = 1.0
        m_hat[0] = m0
        Q_hat[0, :] = Q_hat[:, 0] = 0.0
        Q_hat[0, 0] = q0 - m0 ** 2
    V = _lower_inverse(A)
    m = V @ m_hat
    M = np.outer(m_hat, m_hat) + Q_hat
    Q = V @ M @ V.T
    if eta != 1.0 and K > 1:
        scale = np.ones((K, K))
        scale[1:, :] = eta
        scale[:, 1:] = eta
        m[1:] *= eta
        V = V * scale
        Q = Q * scale
    Q = 0.5 * (Q + Q.T)
    return m, Q, np.tril(V)
