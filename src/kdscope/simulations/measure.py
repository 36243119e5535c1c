"""Observables of trained finite-size learners, in the theory's column names.

For learner k with weights w_k (zero off its support), bias b_k and training
logits ``z_k(x_mu) = w_k . x_mu / sqrt(d) + b_k`` (DESIGN.md section 2):

    m_k = w_k . mu / d,   q_k = |w_k|^2 / d,
    eps_k = rho H((m_k + b_k)/sqrt(delta q_k)) + (1 - rho) H((m_k - b_k)/sqrt(delta q_k))

(the exact population error of a linear classifier on the mixture when
|mu|^2 = d), eps_train_k = mean_mu 1[sign(z_k) != y~_mu] on its training
samples (sign(0) counts as an error, as in the theory), loss_train_k = mean_mu
of its own loss (no ridge), and the response ``V_k = Tr([H_k^-1]_ww) / d``
(Hessian of the objective, bias profiled out: the replica V_kk).
"""

from __future__ import annotations

import math

import numpy as np

from kdscope.theory import agreement, generalization_error

from .linalg import block_rows, design_block

NAN = math.nan


def learner_observables(w: np.ndarray, b: float, mu: np.ndarray, delta: float, rho: float, z_train: np.ndarray,
                        y_obs: np.ndarray, loss_value: np.ndarray | None, V: float) -> dict:
    """m, q, V, b, eps, eps_train, loss_train of one learner (keys without suffix).

    Parameters
    ----------
    w : (d,) weights.  b : bias.  mu : (d,) cluster mean with |mu|^2 = d.
    delta, rho : data parameters.  z_train : (n,) training logits.
    y_obs : (n,) observed training labels.  loss_value : (n,) per-sample loss
        values, or None (a fixed teacher has no loss: NaN).  V : the response.
    """
    d = w.size
    m = float(np.dot(w, mu) / d)
    q = float(np.dot(w, w) / d)
    eps = float(generalization_error(m, q, b, delta, rho)) if q > 0 else NAN
    return {
        "m": m, "q": q, "V": float(V), "b": float(b), "eps": eps,
        "eps_train": float(np.mean(np.sign(z_train) != y_obs)),
        "loss_train": NAN if loss_value is None else float(np.mean(loss_value)),
    }


def pair_observables(w0: np.ndarray, b0: float, w1: np.ndarray, b1: float, z0: np.ndarray, z1: np.ndarray,
                     obs0: dict, obs1: dict, delta: float, rho: float) -> dict:
    """q_ts, agreement and mse_train_ts of the teacher (0) and the first student (1).

    q_ts = w0 . w1 / d; agreement = P(sign z_0 = sign z_1) on a fresh point,
    exact from the overlaps (bivariate normal, ``kdscope.theory.agreement``);
    mse_train_ts = mean_mu (z_1 - z_0)^2 on the student's training samples.
    """
    d = w0.size
    q_ts = float(np.dot(w0, w1) / d)
    agr = agreement(obs0["m"], obs1["m"], obs0["q"], obs1["q"], q_ts, b0, b1, delta, rho)
    return {"q_ts": q_ts, "agreement": float(agr), "mse_train_ts": float(np.mean((z1 - z0) ** 2))}


def cross_response(A0: np.ndarray, H0_inv: np.ndarray, bias0: bool, A1: np.ndarray, H1_inv: np.ndarray,
                   bias1: bool, cross: np.ndarray, d: int, scale: float = 1.0) -> float:
    """V_st: the student's response to a field on the teacher's weights, from the two inverse Hessians.

    A field h added to the teacher's objective (``- h . w_0``) moves the teacher
    by ``H_0^-1 h``; through its training logits the student's stationarity
    ``grad_1(theta_1, theta_0) = 0`` moves it by
    ``d theta_1 = -H_1^-1 M_10 d theta_0`` with the cross Hessian
    ``M_10 = sum_mu c_mu a1_mu a0_mu^T`` (``c_mu = d^2 loss_1 / dz dt``,
    ``a_mu = (scale x_mu, 1)``, the 1 only for a trained bias).  Trace over the
    student's support S:

        V_st = -(1/d) sum_mu c_mu (H_1^-1 a1_mu)_S . (H_0^-1 a0_mu)_S

    computed over blocks of samples (two GEMMs per block; no (n, p) array).

    Parameters
    ----------
    A0 : (n, d) teacher inputs; A1 : (n, p) student inputs (the first p
    coordinates).  H0_inv, H1_inv : inverse Hessians (bias last if trained).
    cross : (n,) c_mu at the solution.  d : dimension.
    scale : the factor applied to A0 and A1 in the model (1/sqrt(d) for raw inputs).
    """
    n, p = A1.shape
    R0 = H0_inv[:, :p]  # rows: teacher weights (+ bias); columns: S
    R1 = H1_inv[:, :p]
    total = 0.0
    step = block_rows(n)
    for i0 in range(0, n, step):
        rows = slice(i0, min(i0 + step, n))
        P0 = design_block(A0, scale, rows, bias0) @ R0
        P1 = design_block(A1, scale, rows, bias1) @ R1
        total += float(np.dot(np.einsum("ij,ij->i", P1, P0), cross[rows]))
    return -total / d
