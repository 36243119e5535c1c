"""Gauss-Hermite quadrature for expectations over y, the observed label and g ~ N(0, Q).

E over y (P(y = +1) = rho), y~ given y (flipped with probability theta) and
g ~ N(0, Q) (K-dimensional, through the Cholesky factor of Q, conditional
variances clipped at 0 during transients), normalised so that the weights sum
to one.  The nodes of N(0, 1) come from ``scipy.special.roots_hermitenorm``
(Golub-Welsch below 150 nodes, an asymptotic expansion above: stable at any
order, where numpy's ``hermegauss`` overflows past ~300 nodes) and are
computed once per order (cached).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import roots_hermitenorm

from .kernel import kernel_of

#: Default number of Gauss-Hermite nodes per dimension for K = 1, 2, 3, >= 4 learners (the first rule tried;
#: the solve raises it until the quadrature error estimate meets its tolerance, see ``theory.accuracy``).
DEFAULT_ORDER = {1: 473, 2: 40, 3: 20}
#: Allowed orders: below MIN_ORDER a rule cannot resolve a logistic force; MAX_NODES bounds the
#: product grid (order^K nodes per label block) so that a request cannot exhaust memory.
MIN_ORDER = 8
MAX_ORDER = 3000
MAX_NODES = 250_000


@lru_cache(maxsize=32)
def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for E over zeta ~ N(0, 1): sum_i w_i f(x_i), sum_i w_i = 1."""
    x, w = roots_hermitenorm(n)
    return x, w / w.sum()


#: Nodes whose (product) weight is below this are dropped: their total mass is below 1e-15 (a Gaussian
#: tail beyond ~9 standard deviations), far below any tolerance, while at high orders most Gauss-Hermite
#: nodes sit there (the largest node grows like 2 sqrt(order)).
PRUNE_WEIGHT = 1e-18


@lru_cache(maxsize=32)
def product_grid(n: int, K: int) -> tuple[np.ndarray, np.ndarray]:
    """The K-dimensional tensor grid of ``gauss_hermite(n)``: nodes (K, N) and weights (N,), tiny weights dropped."""
    x, w = gauss_hermite(n)
    keep1 = w > PRUNE_WEIGHT
    x, w = x[keep1], w[keep1]
    grids = np.meshgrid(*([x] * K), indexing="ij")
    wgrid = np.meshgrid(*([w] * K), indexing="ij")
    nodes = np.stack([g.ravel() for g in grids], axis=0)  # (K, N)
    weights = np.prod(np.stack([g.ravel() for g in wgrid], axis=0), axis=0)
    keep = weights > PRUNE_WEIGHT
    return nodes[:, keep], weights[keep]


def psd_cholesky(Q):
    """Lower Cholesky factor of a small symmetric matrix, with conditional variances clipped at 0.

    Q = L L^T.  Row by row, the conditional variance Q_kk - sum_j L_kj^2 is
    clipped at 0 (DESIGN.md section 3: transients of the iteration may leave Q
    slightly indefinite; a column with zero pivot is set to 0).  Written with
    scalar operations (K is a handful of learners), for NumPy or JAX arrays.
    """
    xp = kernel_of(Q).xp
    K = Q.shape[0]
    L = [[0.0] * K for _ in range(K)]
    for i in range(K):
        for j in range(i + 1):
            r = Q[i, j] - sum(L[i][c] * L[j][c] for c in range(j))
            if i == j:
                L[i][i] = xp.sqrt(xp.maximum(r, 0.0))
            else:
                ok = L[j][j] > 0
                L[i][j] = xp.where(ok, r / xp.where(ok, L[j][j], 1.0), 0.0)
    return xp.asarray(L, dtype=float)  # (one call: stacking entry by entry costs more than the factorisation)


@dataclass(frozen=True)
class Measure:
    """Quadrature points for the channel: labels, observed labels, standard normal nodes, weights.

    Attributes: ``y``, ``y_obs`` of shape (P,); ``nodes`` standard normal nodes
    zeta of shape (K, P) (g = L zeta with L L^T = Q); ``w`` of shape (P,), summing to 1.
    """

    y: np.ndarray
    y_obs: np.ndarray
    nodes: np.ndarray
    w: np.ndarray


def label_blocks(theta_positive: bool) -> list[tuple[float, bool]]:
    """The (y, flipped) blocks of the label distribution: 2 blocks, 4 with label noise."""
    if theta_positive:
        return [(1.0, False), (1.0, True), (-1.0, False), (-1.0, True)]
    return [(1.0, False), (-1.0, False)]


@lru_cache(maxsize=32)
def measure_grid(K: int, n: int, theta_positive: bool):
    """The label-independent part of the measure: y, y~, flip flags, nodes (K, P) and the Gaussian weights (P,)."""
    nodes, weights = product_grid(n, K)
    blocks = label_blocks(theta_positive)
    y = np.concatenate([np.full(weights.size, yy) for yy, _ in blocks])
    y_obs = np.concatenate([np.full(weights.size, -yy if fl else yy) for yy, fl in blocks])
    flip = np.concatenate([np.full(weights.size, fl) for _, fl in blocks])
    return y, y_obs, flip, np.concatenate([nodes] * len(blocks), axis=1), np.concatenate([weights] * len(blocks))


def block_weights(y, flip, w, rho, theta):
    """w P(y) P(flip | y): P(y = +1) = rho, a label flipped with probability theta (NumPy or traced)."""
    xp = kernel_of(rho, theta, w).xp
    return w * xp.where(y > 0, rho, 1.0 - rho) * xp.where(flip, theta, 1.0 - theta)


@lru_cache(maxsize=64)
def label_measure(K: int, rho: float, theta: float, n: int) -> Measure:
    """Tensor product of the label distribution and the Gauss-Hermite grid in K dimensions."""
    y, y_obs, flip, nodes, w = measure_grid(K, n, theta > 0)
    return Measure(y, y_obs, nodes, block_weights(y, flip, w, rho, theta))


def default_order(K: int) -> int:
    """The first Gauss-Hermite order tried for K learners."""
    return DEFAULT_ORDER.get(K, 10)


def max_order(K: int) -> int:
    """The largest order whose K-dimensional grid stays below MAX_NODES nodes."""
    return int(min(MAX_ORDER, math.floor(MAX_NODES ** (1.0 / K) + 1e-9)))
