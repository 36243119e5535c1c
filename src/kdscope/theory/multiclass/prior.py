"""Prior side (ridge) of the multi-class saddle point, stacked over learners.

DESIGN.md section 8, reduced coordinates (D = C - 1 per learner).  With
``A = diag(lam_k) (x) I_D + V^`` (block lower triangular, KD x KD):

    V = A^-1,   M = A^-1 M^ G,   Q = A^-1 (M^ G M^^T + Q^) A^-T,

where M^ is the (KD, C) stack of the learners' M^_k and G the class-mean Gram matrix.
Derivation: the ridge ERM's stationarity makes the stacked weights
W = A^-1 (M^ mu + Q^^(1/2) Xi) with Xi a Gaussian (KD x d) matrix, whose overlaps with the
means and with itself are the two formulas above.
"""

from __future__ import annotations

import numpy as np

__all__ = ["prior_update"]


def prior_update(M_hat, Q_hat, V_hat, lams, G):
    """(M, Q, V) from the conjugates.

    Parameters
    ----------
    M_hat : (K, D, C); Q_hat, V_hat : (KD, KD); lams : (K,) ridge per learner; G : (C, C).
    Returns M (K, D, C), Q (KD, KD) symmetric, V (KD, KD) block lower triangular.
    """
    K, D, C = M_hat.shape
    A = np.kron(np.diag(lams), np.eye(D)) + V_hat
    V = np.linalg.inv(A)
    Mh = M_hat.reshape(K * D, C)
    M = V @ Mh @ G
    Q = V @ (Mh @ G @ Mh.T + Q_hat) @ V.T
    return M.reshape(K, D, C), 0.5 * (Q + Q.T), V
