"""Prior side (ridge) of the multi-class saddle point, stacked over learners.

DESIGN.md section 8, reduced coordinates (D = C - 1 per learner).  With
``A = diag(lam_k) (x) I_D + V^`` (block lower triangular, KD x KD):

    V = A^-1,   M = A^-1 M^ G,   Q = A^-1 (M^ G M^^T + Q^) A^-T,

where M^ is the (KD, C) stack of the learners' M^_k and G the class-mean Gram matrix.
Derivation: the ridge ERM's stationarity makes the stacked weights
W = A^-1 (M^ mu + Q^^(1/2) Xi) with Xi a Gaussian (KD x d) matrix, whose overlaps with the
means and with itself are the two formulas above.

Variants, as in the binary prior (``theory.prior``):

* a fixed teacher with reduced overlaps (M_0, Q_00) is a frozen row: A_00 = I, A_0j = 0,
  M^_0 = M_0 G^+ (W_0 = M^_0 mu + its part orthogonal to the means) and Q^_00 = Q_00 - M_0 G^+ M_0^T,
  so that the formulas return M_0 and Q_00 and the students' rows see W_0 through V^_k0;
* a sparse student trains eta d coordinates: its rows of M, V and its rows and columns of Q are
  multiplied by eta (sums over its eta d coordinates, divided by d); the teacher's are not.
"""

from __future__ import annotations

import numpy as np

from ..kernel import is_value, kernel_of

__all__ = ["prior_update"]


def prior_update(M_hat, Q_hat, V_hat, lams, G, eta=1.0, fixed: tuple | None = None):
    """(M, Q, V) from the conjugates (NumPy or JAX arrays; the numbers may be traced).

    Parameters
    ----------
    M_hat : (K, D, C); Q_hat, V_hat : (KD, KD); lams : (K,) ridge per learner; G : (C, C).
    eta : fraction of the coordinates the students (k >= 1) train, in (0, 1].
    fixed : (M_0 (D, C), Q_00 (D, D)) of a fixed teacher, or None.
    Returns M (K, D, C), Q (KD, KD) symmetric, V (KD, KD) block lower triangular.
    """
    xp = kernel_of(M_hat, Q_hat, V_hat, lams, G, eta).xp
    K, D, C = M_hat.shape
    n = K * D
    A = xp.kron(xp.diag(lams * 1.0), np.eye(D)) + V_hat
    Mh = M_hat.reshape(n, C)
    teacher = np.arange(n) < D                     # the teacher's rows
    if fixed is not None:
        M0, Q0 = fixed
        Gp = xp.linalg.pinv(G)
        top = np.eye(n)[:, :D]                     # embeds a (D, .) block in the teacher's rows
        A = xp.where(teacher[:, None], np.eye(n), A)
        cross = teacher[:, None] | teacher[None, :]
        Q_hat = xp.where(cross, 0.0, Q_hat) + top @ (Q0 - M0 @ Gp @ M0.T) @ top.T
        Mh = xp.where(teacher[:, None], top @ (M0 @ Gp), Mh)
    V = xp.linalg.inv(A)
    M = V @ Mh @ G
    Q = V @ (Mh @ G @ Mh.T + Q_hat) @ V.T
    if K > 1 and not is_value(eta, 1.0):
        student = ~teacher
        M = xp.where(student[:, None], eta * M, M)
        V = xp.where(student[:, None], eta * V, V)
        Q = xp.where(student[:, None] | student[None, :], eta * Q, Q)
    return M.reshape(K, D, C), 0.5 * (Q + Q.T), V
