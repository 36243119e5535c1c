"""Class-mean geometry of the C-class Gaussian mixture, and the fixed basis of the complement of 1.

The data model (DESIGN.md section 8) has class means mu_c (rows of a C x d matrix)
with Gram matrix ``G[c, c'] = mu_c . mu_c' / d``.  Two families are built in:

* ``simplex_gram(C)`` = C/(C-1) (I - 1 1^T / C): unit-norm means at equal angles,
  centred (C = 2 gives [[1, -1], [-1, 1]], the binary model's +-mu);
* ``hierarchical_gram(C, r)``: unit-norm means, classes 0 and 1 alike (cosine r),
  every other pair orthogonal (two close classes, the rest far).

Softmax is invariant to adding one constant to every logit, so all learner
quantities live in the complement of the all-ones vector 1.  ``helmert_basis(C)``
is a *fixed* orthonormal basis U (C x (C - 1)) of that complement: reduced
logits u = U^T z, z = U u.  A fixed basis matters: an eigenbasis of Q would
rotate between iterations when eigenvalues are degenerate (the simplex case).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["simplex_gram", "hierarchical_gram", "parse_gram", "helmert_basis", "gram_problems"]


def simplex_gram(C: int) -> np.ndarray:
    """G = C/(C-1) (I - 1 1^T / C): C unit-norm centred means at equal pairwise angles (cos = -1/(C-1))."""
    return C / (C - 1.0) * (np.eye(C) - np.ones((C, C)) / C)


def hierarchical_gram(C: int, r: float) -> np.ndarray:
    """Unit-norm means; classes 0 and 1 have cosine r (alike for r near 1); every other pair is orthogonal.

    For C = 3, r = 0.8: G = [[1, 0.8, 0], [0.8, 1, 0], [0, 0, 1]].  PSD for |r| <= 1.
    """
    G = np.eye(C)
    G[0, 1] = G[1, 0] = r
    return G


@lru_cache(maxsize=16)
def _helmert(C: int) -> np.ndarray:
    U = np.zeros((C, C - 1))
    for j in range(1, C):
        U[:j, j - 1] = 1.0
        U[j, j - 1] = -float(j)
        U[:, j - 1] /= np.sqrt(j * (j + 1.0))
    U.setflags(write=False)
    return U


def helmert_basis(C: int) -> np.ndarray:
    """Orthonormal basis of {z : sum_c z_c = 0}, the Helmert contrasts (C x (C - 1), read-only).

    Column j (0-based) is (1, ..., 1, -(j+1), 0, ..., 0) / sqrt((j+1)(j+2)).
    For C = 2 it is (1, -1)/sqrt(2): the reduced logit is (z_1 - z_2)/sqrt(2).
    """
    return _helmert(int(C))


def gram_problems(G: np.ndarray, C: int) -> list[str]:
    """Sentences describing why G is not a valid C x C Gram matrix (empty list if it is)."""
    G = np.asarray(G, dtype=float)
    if G.shape != (C, C):
        return [f"'gram' must be a {C} x {C} matrix (classes={C}); got shape {G.shape}."]
    if not np.all(np.isfinite(G)):
        return ["'gram' must have finite entries."]
    out = []
    if not np.allclose(G, G.T, atol=1e-12, rtol=0):
        out.append("'gram' must be symmetric (G[c, c'] = mu_c . mu_c' / d).")
    else:
        lo = float(np.linalg.eigvalsh(G).min())
        if lo < -1e-10 * max(1.0, float(np.abs(G).max())):
            out.append(f"'gram' must be positive semi-definite; its smallest eigenvalue is {lo:.3g}.")
    Uc = helmert_basis(C)
    if np.abs(Uc.T @ G @ Uc).max() <= 1e-12:
        out.append("'gram' has identical class means (zero spread in the complement of 1): "
                   "classes cannot be told apart.")
    return out


def parse_gram(spec: str, C: int) -> np.ndarray:
    """G from a command-line spec: 'simplex', 'hier:R' (R = cosine of classes 0 and 1), or a JSON file.

    The JSON file holds a C x C list of lists, or an object with key "gram".
    Raises ValueError with a message naming 'gram' for any other spec.
    """
    spec = str(spec).strip()
    if spec == "simplex":
        return simplex_gram(C)
    if spec.startswith("hier:"):
        try:
            r = float(spec.split(":", 1)[1])
        except ValueError:
            raise ValueError(f"'gram' must be simplex, hier:R with R a number in [-1, 1], or a JSON file; "
                             f"got {spec!r}.")
        if not -1.0 <= r <= 1.0:
            raise ValueError(f"'gram' hier:R needs R in [-1, 1] (a cosine); got R={r}.")
        return hierarchical_gram(C, r)
    path = Path(spec)
    if path.suffix.lower() == ".json" or path.exists():
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"'gram' file {spec!r} could not be read as JSON ({exc.__class__.__name__}).")
        if isinstance(data, dict):
            data = data.get("gram")
        try:
            return np.asarray(data, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"'gram' file {spec!r} must hold a {C} x {C} list of numbers.")
    raise ValueError(f"'gram' must be simplex, hier:R or a JSON file; got {spec!r}.")
