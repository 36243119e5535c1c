"""Observables in closed form from the order parameters, and the baselines.

Test logit of learner a on a fresh point: z_a = y m_a + b_a + sqrt(delta) g_a,
g ~ N(0, Q), y = +1 with probability rho (DESIGN.md section 2).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr, owens_t


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
    u = mean / sd
    return bivariate_normal_cdf(float(u[0]), float(u[1]), float(r))


def bivariate_normal_cdf(h: float, k: float, r: float) -> float:
    """P(X < h, Y < k) for standard normals X, Y with correlation r, |r| < 1.

    Owen's formula (Owen 1956; Owen's T function ``scipy.special.owens_t``, accurate to rounding):
    Phi_2(h, k; r) = Phi(h) / 2 - T(h, a_h) + Phi(k) / 2 - T(k, a_k) - beta, with
    a_h = (k - r h) / (h sqrt(1 - r^2)), a_k likewise, beta = 1/2 when h k < 0 or (h k = 0 and h + k < 0),
    else 0; at h = 0 the limit h -> 0+ of its part is 1/4 - sign(k) / 4.  Agrees with Genz's algorithm
    (scipy's ``multivariate_normal.cdf``) to 1e-15 at about a hundredth of its cost.
    """
    if h == 0.0 and k == 0.0:
        return 0.25 + math.asin(r) / (2.0 * math.pi)
    s = math.sqrt((1.0 - r) * (1.0 + r))

    def part(a: float, b: float) -> float:
        if a == 0.0:
            return 0.25 - math.copysign(0.25, b)
        return 0.5 * float(ndtr(a)) - float(owens_t(a, (b - r * a) / (a * s)))

    beta = 0.0 if (h * k > 0 or (h * k == 0 and h + k >= 0)) else 0.5
    return part(h, k) + part(k, h) - beta
