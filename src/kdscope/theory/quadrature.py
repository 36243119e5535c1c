"""Gauss-Hermite quadrature for expectations over y, the observed label and g ~ N(0, Q).

E over y (P(y = +1) = rho), y~ given y (flipped with probability theta) and
g ~ N(0, Q) (K-dimensional, through the Cholesky factor of Q, conditional
variances clipped at 0 during transients), normalised so that the weights sum
to one.  The nodes of N(0, 1) are computed once per order (cached).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

#: Default number of Gauss-Hermite nodes per dimension for K = 1, 2, 3, >= 4 learners.
DEFAULT_ORDER = {1: 120, 2: 40, 3: 20}


@lru_cache(maxsize=32)
def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for E over xi ~ N(0, 1): sum_i w_i f(x_i), sum_i w_i = 1."""
    x, w = hermegauss(n)
    return x, w / w.sum()


@lru_cache(maxsize=32)
def _product_grid(n: int, K: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = gauss_hermite(n)
    grids = np.meshgrid(*([x] * K), indexing="ij")
    wgrid = np.meshgrid(*([w] * K), indexing="ij")
    nodes = np.stack([g.ravel() for g in grids], axis=0)  # (K, N)
    weights = np.prod(np.stack([g.ravel() for g in wgrid], axis=0), axis=0)
    keep = weights > 1e-300
    return nodes[:, keep], weights[keep]


def psd_cholesky(Q: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of a symmetric matrix, with conditional variances clipped at 0.

    Q = L L^T.  Row by row, the conditional variance Q_kk - sum_j L_kj^2 is
    clipped at 0 (DESIGN.md section 3: transients of the iteration may leave Q
    slightly indefinite; a column with zero pivot is set to 0).
    """
    K = Q.shape[0]
    L = np.zeros_like(Q, dtype=float)
    for i in range(K):
        for j in range(i + 1):
            r = Q[i, j] - L[i, :j] @ L[j, :j]
            if i == j:
                L[i, i] = np.sqrt(max(r, 0.0))
            else:
                L[i, j] = r / L[j, j] if L[j, j] > 0 else 0.0
    return L


@dataclass(frozen=True)
class Measure:
    """Quadrature points for the channel: labels, observed labels, Gaussian vectors, weights.

    Attributes: ``y``, ``y_obs`` of shape (P,); ``xi`` standard normal nodes of
    shape (K, P); ``w`` of shape (P,), summing to 1.
    """

    y: np.ndarray
    y_obs: np.ndarray
    xi: np.ndarray
    w: np.ndarray


@lru_cache(maxsize=64)
def label_measure(K: int, rho: float, theta: float, n: int) -> Measure:
    """Tensor product of the label distribution and the Gauss-Hermite grid in K dimensions."""
    nodes, weights = _product_grid(n, K)
    ys, yobs, xis, ws = [], [], [], []
    for y, py in ((1.0, rho), (-1.0, 1.0 - rho)):
        for flip, pf in ((False, 1.0 - theta), (True, theta)):
            if pf == 0.0:
                continue
            ys.append(np.full(weights.size, y))
            yobs.append(np.full(weights.size, -y if flip else y))
            xis.append(nodes)
            ws.append(weights * py * pf)
    return Measure(np.concatenate(ys), np.concatenate(yobs), np.concatenate(xis, axis=1), np.concatenate(ws))


def default_order(K: int) -> int:
    return DEFAULT_ORDER.get(K, 10)
