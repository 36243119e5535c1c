"""Observables in closed form from the order parameters, and the baselines.

Test logit of learner a on a fresh point: z_a = y m_a + b_a + sqrt(delta) g_a,
g ~ N(0, Q), y = +1 with probability rho (DESIGN.md section 2).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr


def gaussian_tail(x):
    """H(x) = P(G > x) for G ~ N(0, 1)."""
    return ndtr(-np.asarray(x, dtype=float))


def generalization_error(m, q, b, delta, rho):
    """eps = rho H((m + b) / sqrt(delta q)) + (1 - rho) H((m - b) / sqrt(delta q)).

    Parameters: m = w.mu / d, q = |w|^2 / d (> 0), b the bias, delta the noise
    variance, rho = P(y = +1).  Exact for the two-cluster mixture at any d when
    |mu|^2 / d = 1 (the population error of a linear classifier).
    """
    sd = np.sqrt(delta * np.asarray(q, dtype=float))
    return rho * gaussian_tail((m + b) / sd) + (1.0 - rho) * gaussian_tail((m - b) / sd)


def oracle_bias(delta, rho):
    """b = (delta / 2) log(rho / (1 - rho)): the optimal bias for w = mu."""
    return 0.5 * delta * math.log(rho / (1.0 - rho))


def oracle_error(delta, rho):
    """Error of the oracle that knows mu: rho H((1 + b)/sqrt(delta)) + (1 - rho) H((1 - b)/sqrt(delta))."""
    b = oracle_bias(delta, rho)
    return float(generalization_error(1.0, 1.0, b, delta, rho))


def bayes_error(alpha, delta, rho):
    """Bayes-optimal test error at sample ratio alpha.

    The error of the fixed teacher m = 1, q = 1 + delta / alpha,
    b = (delta q / 2) log(rho / (1 - rho)); balanced case
    H(sqrt(alpha / (delta (alpha + delta)))).  (Eqs. 106 and 112 of Saglietti &
    Zdeborova 2022 must read 1 + delta / alpha; DESIGN.md section 7.)
    For a sparse student call it with (alpha / eta, delta / eta).
    """
    q = 1.0 + delta / alpha
    b = 0.5 * delta * q * math.log(rho / (1.0 - rho))
    return float(generalization_error(1.0, q, b, delta, rho))


def agreement(m_a, m_b, q_aa, q_bb, q_ab, b_a, b_b, delta, rho):
    """P(sign z_a = sign z_b) on a fresh point (bivariate normal orthants).

    Given y, (z_a, z_b) is Gaussian with means (y m_a + b_a, y m_b + b_b) and
    covariance delta [[q_aa, q_ab], [q_ab, q_bb]]; averaged over y.
    """
    cov = delta * np.array([[q_aa, q_ab], [q_ab, q_bb]], dtype=float)
    cov[0, 1] = cov[1, 0] = np.clip(cov[0, 1], -np.sqrt(cov[0, 0] * cov[1, 1]), np.sqrt(cov[0, 0] * cov[1, 1]))
    total = 0.0
    for y, py in ((1.0, rho), (-1.0, 1.0 - rho)):
        mean = np.array([y * m_a + b_a, y * m_b + b_b])
        # P(z_a > 0, z_b > 0) = P(-z < mean); P(both < 0) = P(z < -mean)
        pp = _orthant(mean, cov)
        nn = _orthant(-mean, cov)
        total += py * (pp + nn)
    return float(total)


def _orthant(mean, cov):
    """P(X_1 < mean_1, X_2 < mean_2) for X ~ N(0, cov)."""
    sd = np.sqrt(np.diag(cov))
    if np.any(sd == 0):
        return float(np.prod([ndtr(mu / s) if s > 0 else float(mu > 0) for mu, s in zip(mean, sd)]))
    r = cov[0, 1] / (sd[0] * sd[1])
    if abs(r) > 1 - 1e-8:  # (nearly) identical fields: the degenerate orthant formula
        u = mean / sd
        return float(ndtr(min(u)) if r > 0 else max(0.0, ndtr(u[0]) + ndtr(u[1]) - 1.0))
    from scipy.stats import multivariate_normal  # imported here: scipy.stats costs ~1 s at CLI start-up

    return float(multivariate_normal(mean=[0, 0], cov=[[1, r], [r, 1]], allow_singular=True).cdf(mean / sd))
