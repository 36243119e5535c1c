"""Gaussian orthant probabilities P(X > 0), X ~ N(mean, cov), for the multi-class observables.

* dimension 1: Phi(mean / sd) exactly;
* dimension 2: one-dimensional adaptive quadrature of the bivariate normal,
  P(Z_1 < a_1, Z_2 < a_2) = int_{-inf}^{a_1} phi(x) Phi((a_2 - r x) / sqrt(1 - r^2)) dx
  (a = mean / sd, r the correlation), to ~1e-12 absolute; |r| -> 1 by its degenerate limit;
* dimension >= 3: the Genz-Bretz randomised quasi-Monte Carlo algorithm of
  ``scipy.stats.multivariate_normal.cdf`` with a fixed seed (deterministic) and absolute
  tolerance ``tol`` (default 1e-6; ~0.1 s per 4-dimensional orthant).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.integrate import quad
from scipy.special import ndtr

__all__ = ["orthant_probability", "bivariate_orthant"]

_SQRT2PI = math.sqrt(2.0 * math.pi)


def bivariate_orthant(a1: float, a2: float, r: float) -> float:
    """P(Z_1 < a_1, Z_2 < a_2) for standard normals with correlation r (to ~1e-12 absolute)."""
    if r > 1.0 - 1e-12:
        return float(ndtr(min(a1, a2)))
    if r < -1.0 + 1e-12:
        return float(max(0.0, ndtr(a1) + ndtr(a2) - 1.0))
    if a1 > a2:  # integrate over the smaller upper limit for accuracy
        a1, a2 = a2, a1
    if a1 < -38.0:
        return 0.0
    s = math.sqrt(1.0 - r * r)

    def integrand(x):
        return math.exp(-0.5 * x * x) / _SQRT2PI * float(ndtr((a2 - r * x) / s))

    val, _ = quad(integrand, -38.0, a1, epsabs=1e-14, epsrel=1e-12, limit=200)
    return float(min(max(val, 0.0), 1.0))


def orthant_probability(mean: np.ndarray, cov: np.ndarray, tol: float = 1e-6) -> float:
    """P(X_i > 0 for all i), X ~ N(mean, cov) (cov PSD; degenerate directions allowed).

    Parameters
    ----------
    mean : (p,); cov : (p, p); tol : absolute tolerance of the dimension >= 3 algorithm.
    """
    mean = np.asarray(mean, dtype=float)
    cov = 0.5 * (np.asarray(cov, dtype=float) + np.asarray(cov, dtype=float).T)
    p = len(mean)
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    zero = sd <= 1e-14 * max(1.0, float(np.abs(cov).max()))
    if zero.any():  # a deterministic coordinate: its sign decides, the rest is a smaller orthant
        if np.any(mean[zero] <= 0):
            return 0.0
        keep = ~zero
        if not keep.any():
            return 1.0
        return orthant_probability(mean[keep], cov[np.ix_(keep, keep)], tol)
    a = mean / sd
    if p == 1:
        return float(ndtr(a[0]))
    if p == 2:
        return bivariate_orthant(a[0], a[1], float(cov[0, 1] / (sd[0] * sd[1])))
    from scipy.stats import multivariate_normal

    corr = cov / np.outer(sd, sd)
    val = multivariate_normal.cdf(a, mean=np.zeros(p), cov=corr, allow_singular=True,
                                  maxpts=2_000_000 * p, abseps=tol, releps=0.0, rng=12345)
    return float(min(max(val, 0.0), 1.0))
