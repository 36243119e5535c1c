"""Finite-size draws of the two-cluster Gaussian mixture (DESIGN.md sections 1, 4).

Data: ``x = y mu / sqrt(d) + sqrt(delta) z`` with ``z ~ N(0, I_d)``, ``y = +1``
with probability rho, and an observed training label ``y~`` equal to y flipped
with probability theta.  The cluster mean mu has i.i.d. N(0, 1) entries
rescaled so that ``|mu|^2 = d`` exactly: the population error formula
``eps = rho H((m + b)/sqrt(delta q)) + (1 - rho) H((m - b)/sqrt(delta q))``
takes m = w.mu/d at face value, and the replica theory assumes
``|mu|^2 / d = 1``; with the raw draw, the O(d^-1/2) fluctuation of
``|mu|^2 / d`` biases q by several standard errors at d = 1000.  When a sparse
student trains the first ``d_s`` coordinates, both blocks are rescaled
(``|mu_S|^2 = d_s`` and ``|mu|^2 = d``), the finite-d version of the theory's
``|mu_S|^2 / d -> eta``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .linalg import block_rows


@dataclass(frozen=True)
class Samples:
    """n samples of the mixture.

    Attributes
    ----------
    X : (n, d) inputs x_mu.
    y : (n,) clean labels in {-1, +1} (test errors use these).
    y_obs : (n,) observed labels (y flipped with probability theta; training uses these).
    """

    X: np.ndarray
    y: np.ndarray
    y_obs: np.ndarray

    @property
    def n(self) -> int:
        return len(self.y)


def draw_mean(rng: np.random.Generator, d: int, d_s: int | None = None) -> np.ndarray:
    """Cluster mean mu with N(0, 1) entries rescaled to ``|mu|^2 = d``.

    Parameters
    ----------
    rng : the seeded generator.
    d : dimension (>= 1).
    d_s : size of a sparse student's support (the first d_s coordinates), or
        None.  With 0 < d_s < d each block is rescaled separately:
        ``|mu[:d_s]|^2 = d_s`` and ``|mu[d_s:]|^2 = d - d_s``.

    Returns
    -------
    (d,) array.
    """
    mu = rng.standard_normal(d)
    blocks = [slice(0, d)] if d_s is None or d_s >= d or d_s <= 0 else [slice(0, d_s), slice(d_s, d)]
    for sl in blocks:
        part = mu[sl]
        mu[sl] = part * np.sqrt(part.size / np.dot(part, part))
    return mu


def draw_samples(rng: np.random.Generator, mu: np.ndarray, n: int, delta: float, rho: float,
                 theta: float) -> Samples:
    """n i.i.d. samples ``x = y mu / sqrt(d) + sqrt(delta) z`` with labels and flipped labels.

    Parameters
    ----------
    rng : the seeded generator.  mu : (d,) cluster mean.  n : number of samples.
    delta : noise variance (> 0).  rho : P(y = +1), in (0, 1).
    theta : flip probability of the observed label, in [0, 1/2).

    Returns
    -------
    Samples

    Notes
    -----
    X is generated in place: its memory is the (n, d) array itself plus one block
    of rows, never a second (n, d) temporary.
    """
    d = mu.size
    y = np.where(rng.random(n) < rho, 1.0, -1.0)
    X = np.empty((n, d))
    rng.standard_normal(out=X)  # the same draws as rng.standard_normal((n, d)), in place
    X *= np.sqrt(delta)
    shift = mu / np.sqrt(d)
    step = block_rows(n)
    for i0 in range(0, n, step):  # X += y mu^T / sqrt(d), one block of rows at a time
        X[i0:i0 + step] += y[i0:i0 + step, None] * shift
    flip = rng.random(n) < theta
    y_obs = np.where(flip, -y, y)
    return Samples(X, y, y_obs)


def fixed_teacher_weights(rng: np.random.Generator, mu: np.ndarray, m0: float, q0: float) -> np.ndarray:
    """Teacher weights with exactly the overlaps ``w0.mu/d = m0`` and ``|w0|^2/d = q0``.

    ``w0 = m0 mu + sqrt(q0 - m0^2) g_perp`` with g_perp a Gaussian vector
    projected orthogonally to mu and rescaled to ``|g_perp|^2 = d``
    (requires ``|mu|^2 = d``, as :func:`draw_mean` ensures, and q0 >= m0^2).
    """
    d = mu.size
    g = rng.standard_normal(d)
    g -= mu * (np.dot(g, mu) / np.dot(mu, mu))
    g *= np.sqrt(d / np.dot(g, g))
    return m0 * mu + np.sqrt(max(q0 - m0 * m0, 0.0)) * g
