"""Observables of C-class linear classifiers on the Gaussian mixture, from order parameters.

Given y = c, a learner's test logits are z = M e_c + b + sqrt(delta) g with g ~ N(0, Q)
(full C-dimensional coordinates: M (C x C) with M[j, c] = w_j . mu_c / d, Q = W W^T / d, b
the bias).  These formulas are exact at any d given the overlaps, so simulations use them too.
"""

from __future__ import annotations

import numpy as np

from .orthant import orthant_probability

__all__ = ["generalization_error", "agreement", "bayes_error", "oracle_error", "bayes_overlaps"]


def _differences(C: int, k: int) -> np.ndarray:
    """(C - 1) x C matrix of the contrasts e_k - e_j, j != k."""
    T = -np.eye(C)[[j for j in range(C) if j != k]]
    T[:, k] = 1.0
    return T


def generalization_error(M, b, Q, delta, pi, tol: float = 1e-7) -> float:
    """eps = 1 - sum_c pi_c P(argmax_j z_j = c | y = c): a (C - 1)-dimensional orthant per class.

    For C = 2 it is the binary error rho H((m + b)/sqrt(delta q)) + ... with the binary overlaps
    of the logit difference; for C = 3 each term is a bivariate orthant (1-D quadrature, ~1e-12).
    """
    M, b, Q, pi = (np.asarray(a, dtype=float) for a in (M, b, Q, pi))
    C = len(pi)
    acc = 0.0
    for c in range(C):
        T = _differences(C, c)
        acc += pi[c] * orthant_probability(T @ (M[:, c] + b), delta * T @ Q @ T.T, tol)
    return float(1.0 - acc)


def agreement(M_a, b_a, M_b, b_b, Q_aa, Q_bb, Q_ab, delta, pi, tol: float = 1e-5) -> float:
    """P(argmax z_a = argmax z_b) on a fresh test point.

    sum_c pi_c sum_k P(argmax z_a = k, argmax z_b = k | y = c); each term a 2(C - 1)-dimensional
    orthant of the joint Gaussian (z_a, z_b) with cross covariance delta Q_ab (bivariate for C = 2,
    Genz-Bretz to ``tol`` beyond).
    """
    M_a, b_a, M_b, b_b, Q_aa, Q_bb, Q_ab, pi = (np.asarray(a, dtype=float)
                                                  for a in (M_a, b_a, M_b, b_b, Q_aa, Q_bb, Q_ab, pi))
    C = len(pi)
    cov = delta * np.block([[Q_aa, Q_ab], [Q_ab.T, Q_bb]])
    total = 0.0
    for c in range(C):
        mean = np.concatenate([M_a[:, c] + b_a, M_b[:, c] + b_b])
        for k in range(C):
            Tk = _differences(C, k)
            T = np.block([[Tk, np.zeros_like(Tk)], [np.zeros_like(Tk), Tk]])
            total += pi[c] * orthant_probability(T @ mean, T @ cov @ T.T, tol)
    return float(total)


def bayes_overlaps(G, pi, alpha, delta):
    """(M, Q, b) of the Bayes-optimal classifier after n = alpha d labelled samples.

    With the class means a priori Gaussian with covariance G (per coordinate) and
    D = diag(delta / (alpha pi_c)), the posterior means are B (mu + D^(1/2) Z), B = G (G + D)^-1;
    the Bayes predictor is the plug-in W = posterior means / delta with
    b_c = log pi_c - Gamma_cc / (2 delta), Gamma = G (G + D)^-1 G (the posterior variance terms
    cancel at leading order in d).  Hence M = B G / delta and Q = Gamma / delta^2.  For C = 2 and
    G = [[1, -1], [-1, 1]] this is the binary Bayes-optimal error; alpha = inf gives the oracle.
    """
    G, pi = np.asarray(G, dtype=float), np.asarray(pi, dtype=float)
    if np.isinf(alpha):
        B = np.eye(len(pi))
        Gamma = G
    else:
        Dm = np.diag(delta / (alpha * pi))
        B = G @ np.linalg.inv(G + Dm)
        Gamma = B @ G
    return B @ G / delta, 0.5 * (Gamma + Gamma.T) / delta ** 2, np.log(pi) - np.diag(Gamma) / (2.0 * delta)


def bayes_error(G, pi, alpha, delta) -> float:
    """Bayes-optimal test error at sample ratio alpha (see :func:`bayes_overlaps`)."""
    M, Q, b = bayes_overlaps(G, pi, alpha, delta)
    return generalization_error(M, b, Q, delta, pi)


def oracle_error(G, pi, delta) -> float:
    """Error of the Bayes classifier that knows the class means (alpha = infinity)."""
    return bayes_error(G, pi, np.inf, delta)
