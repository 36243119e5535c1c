"""Gaussian orthant probabilities P(X > 0), X ~ N(mean, cov), for the multi-class observables.

* dimension 1: Phi(mean / sd) exactly;
* dimension 2: one-dimensional adaptive quadrature of the bivariate normal,
  P(Z_1 < a_1, Z_2 < a_2) = int_{-inf}^{a_1} phi(x) Phi((a_2 - r x) / sqrt(1 - r^2)) dx
  (a = mean / sd, r the correlation), to ~1e-12 absolute; |r| -> 1 by its degenerate limit;
* dimension 4 (the teacher-student agreement at C = 3), X = (X_1, X_2, Y_1, Y_2):
  P = int_{x > 0} phi_X(x) P(Y > 0 | X = x) dx in polar coordinates over the quadrant, a
  Gauss-Legendre rule in the angle and, per angle, in the radius around the Gaussian's ridge
  (+-10 widths); P(Y > 0 | x) is a vectorised bivariate normal CDF (Owen's T).  ~1e-10 in a few
  milliseconds; when the conditional covariance of Y is (nearly) singular it falls back to
* dimension >= 3: the Genz-Bretz randomised quasi-Monte Carlo algorithm of
  ``scipy.stats.multivariate_normal.cdf`` with a fixed seed (deterministic) and absolute
  tolerance ``tol`` (default 1e-6; ~0.1-0.5 s per 4-dimensional orthant).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.integrate import quad
from scipy.special import ndtr, owens_t

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
    if p == 4:
        val = _orthant_2x2(mean, cov)
        if val is not None:
            return val
    if p == 1:
        return float(ndtr(a[0]))
    if p == 2:
        return bivariate_orthant(a[0], a[1], float(cov[0, 1] / (sd[0] * sd[1])))
    from scipy.stats import multivariate_normal

    corr = cov / np.outer(sd, sd)
    val = multivariate_normal.cdf(a, mean=np.zeros(p), cov=corr, allow_singular=True,
                                  maxpts=2_000_000 * p, abseps=tol, releps=0.0, rng=12345)
    return float(min(max(val, 0.0), 1.0))


def bivariate_cdf(h: np.ndarray, k: np.ndarray, r: float) -> np.ndarray:
    """P(Z_1 < h, Z_2 < k), standard normals with correlation |r| < 1, vectorised (Owen's T formula)."""
    h = np.where(np.abs(h) < 1e-12, 1e-12, h)
    k = np.where(np.abs(k) < 1e-12, 1e-12, k)
    s = math.sqrt(1.0 - r * r)
    val = 0.5 * (ndtr(h) + ndtr(k)) - owens_t(h, (k - r * h) / (h * s)) - owens_t(k, (h - r * k) / (k * s))
    return np.clip(val - 0.5 * (h * k < 0), 0.0, 1.0)


@lru_cache(maxsize=4)
def _legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(n)


def _orthant_2x2(mean: np.ndarray, cov: np.ndarray, n_theta: int = 64, n_r: int = 64) -> float | None:
    """P(X > 0, Y > 0) for (X, Y) in R^2 x R^2 jointly Gaussian; None if Y | X is (nearly) degenerate."""
    mX, mY = mean[:2], mean[2:]
    SX, SXY, SY = cov[:2, :2], cov[:2, 2:], cov[2:, 2:]
    detX = SX[0, 0] * SX[1, 1] - SX[0, 1] ** 2
    if detX <= 1e-12 * SX[0, 0] * SX[1, 1]:
        return None
    SXi = np.linalg.inv(SX)
    B = SXY.T @ SXi
    S = SY - B @ SXY
    sd = np.sqrt(np.clip(np.diag(S), 0.0, None))
    if sd.min() <= 1e-4 * math.sqrt(max(SY[0, 0], SY[1, 1])):
        return None
    r = float(np.clip(S[0, 1] / (sd[0] * sd[1]), -1.0, 1.0))
    if abs(r) > 1.0 - 1e-9:
        return None
    t, wt = _legendre(n_theta)
    th = 0.25 * math.pi * (t + 1.0)
    wth = 0.25 * math.pi * wt
    u = np.stack([np.cos(th), np.sin(th)], axis=1)                  # (n_theta, 2)
    prec = np.einsum("ti,ij,tj->t", u, SXi, u)
    r0 = (u @ SXi @ mX) / prec
    width = 1.0 / np.sqrt(prec)
    lo = np.clip(r0 - 10.0 * width, 0.0, None)
    hi = np.clip(r0 + 10.0 * width, 0.0, None)
    x, wx = _legendre(n_r)
    rad = lo[:, None] + (hi - lo)[:, None] * 0.5 * (x + 1.0)          # (n_theta, n_r)
    wr = (hi - lo)[:, None] * 0.5 * wx
    pts = rad[..., None] * u[:, None, :]                               # (n_theta, n_r, 2)
    dx = pts - mX
    dens = np.exp(-0.5 * np.einsum("tri,ij,trj->tr", dx, SXi, dx)) / (2.0 * math.pi * math.sqrt(detX))
    cm = mY + dx @ B.T
    F = bivariate_cdf(cm[..., 0] / sd[0], cm[..., 1] / sd[1], r)
    return float(np.clip(np.sum(wth[:, None] * wr * rad * dens * F), 0.0, 1.0))
