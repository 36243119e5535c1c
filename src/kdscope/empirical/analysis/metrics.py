"""Per-layer compactness and similarity metrics in feature space.

Pure functions of arrays: ``X`` is ``(N, D)`` features (one row per sample, e.g.
pooled activations of one layer), ``y`` is ``(N,)`` integer class labels.
Compactness (Lee & Wallraven, ACPR 2021): kNN accuracy, linear-probe accuracy,
silhouette (higher is more compact), Davies-Bouldin index and within/between
class distance ratio (lower is more compact).  Similarity between two layers:
linear and RBF centred kernel alignment (CKA, Kornblith et al., ICML 2019).

Every computation is in float64.  Where a metric is quadratic in N it works on
a uniform sub-sample drawn with an explicit seed (the same rows for X and Y).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def _as_xy(X, y) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise ValueError(f"metrics: X must be (N, D) and y (N,); got X{X.shape}, y{y.shape}.")
    if np.unique(y).size < 2:
        raise ValueError("metrics: y must hold at least two classes.")
    return X, y


def _subsample(n: int, max_n: int | None, seed: int) -> np.ndarray:
    if max_n is None or n <= max_n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_n, replace=False))


# ----------------------------------------------------------------------------- compactness

def knn_accuracy(X, y, *, k: int = 5, n_folds: int = 5, seed: int = 0) -> float:
    """Cross-validated k-nearest-neighbour accuracy.

    acc = (1/N) sum_i 1[ majority label of the k Euclidean nearest training
    neighbours of x_i = y_i ], with x_i in the held-out fold of a stratified
    ``n_folds``-fold split (shuffled with ``seed``).

    Parameters
    ----------
    X : array (N, D)
    y : array (N,)
    k : int, k >= 1
    n_folds : int, n_folds >= 2 (reduced to the smallest class count if needed)
    seed : int

    Returns
    -------
    float in [0, 1]
    """
    from sklearn.model_selection import StratifiedKFold
    from sklearn.neighbors import KNeighborsClassifier

    X, y = _as_xy(X, y)
    n_folds = int(min(n_folds, np.bincount(np.unique(y, return_inverse=True)[1]).min()))
    if n_folds < 2:
        raise ValueError("knn_accuracy: every class needs at least 2 samples for cross-validation.")
    correct = 0
    for tr, te in StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(X, y):
        clf = KNeighborsClassifier(n_neighbors=min(k, tr.size)).fit(X[tr], y[tr])
        correct += int((clf.predict(X[te]) == y[te]).sum())
    return correct / X.shape[0]


def linear_probe_accuracy(X, y, *, test_size: float = 0.3, lam: float = 1.0, seed: int = 0) -> float:
    """Held-out accuracy of a multinomial logistic-regression probe.

    The probe minimises sum_i CE(softmax(W z_i + b), y_i) + lam/2 * |W|_F^2 on a
    stratified training split, where z = (x - mean) / std are features
    standardised with training-split statistics; the accuracy is measured on
    the held-out fraction ``test_size``.

    Parameters
    ----------
    X : array (N, D)
    y : array (N,)
    test_size : float in (0, 1)
    lam : float > 0
        Ridge strength on W (scikit-learn's ``C = 1 / lam``).
    seed : int

    Returns
    -------
    float in [0, 1]
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    X, y = _as_xy(X, y)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)
    mu, sd = Xtr.mean(0), Xtr.std(0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    clf = LogisticRegression(C=1.0 / lam, max_iter=2000).fit((Xtr - mu) / sd, ytr)
    return float((clf.predict((Xte - mu) / sd) == yte).mean())


def silhouette(X, y, *, max_n: int | None = 2000, seed: int = 0) -> float:
    """Mean silhouette coefficient (Euclidean).

    s_i = (b_i - a_i) / max(a_i, b_i), with a_i the mean distance from x_i to the
    other points of its class and b_i the smallest mean distance from x_i to
    the points of another class; returns mean_i s_i in [-1, 1] over at most
    ``max_n`` rows drawn with ``seed`` (the cost is O(N^2 D)).
    """
    from sklearn.metrics import silhouette_score

    X, y = _as_xy(X, y)
    idx = _subsample(X.shape[0], max_n, seed)
    return float(silhouette_score(X[idx], y[idx], metric="euclidean"))


def davies_bouldin(X, y) -> float:
    """Davies-Bouldin index (lower is more compact).

    DB = (1/C) sum_c max_{c' != c} (s_c + s_c') / |mu_c - mu_c'|, with mu_c the
    centroid of class c and s_c the mean Euclidean distance of its points to mu_c.
    """
    from sklearn.metrics import davies_bouldin_score

    X, y = _as_xy(X, y)
    return float(davies_bouldin_score(X, y))


def distance_ratio(X, y) -> float:
    """Within- over between-class mean squared Euclidean distance (lower is more compact).

    ratio = E_{i != j, y_i = y_j} |x_i - x_j|^2 / E_{y_i != y_j} |x_i - x_j|^2,
    the expectations being uniform over ordered pairs.  Exact in O(N D) through
    sum_{i in A, j in B} |x_i - x_j|^2 = n_B S_A + n_A S_B - 2 s_A . s_B,
    with s_A = sum_{i in A} x_i and S_A = sum_{i in A} |x_i|^2.  Scale invariant;
    about 1 when labels carry no geometric information, 0 for point-like classes.
    """
    X, y = _as_xy(X, y)
    X = X - X.mean(0)
    classes = np.unique(y)
    s = np.stack([X[y == c].sum(0) for c in classes])                 # (C, D)
    S = np.array([np.einsum("ij,ij->", X[y == c], X[y == c]) for c in classes])
    n = np.array([(y == c).sum() for c in classes], dtype=np.float64)
    within_sum = float(np.sum(2 * n * S - 2 * np.einsum("cd,cd->c", s, s)))
    within_pairs = float(np.sum(n * (n - 1)))
    tot_s, tot_S, N = s.sum(0), S.sum(), n.sum()
    all_sum = 2 * N * tot_S - 2 * float(tot_s @ tot_s)
    between_sum, between_pairs = all_sum - within_sum, N * N - float(np.sum(n * n))
    if within_pairs == 0 or between_sum <= 0:
        raise ValueError("distance_ratio: needs a class with two samples and distinct classes.")
    return (within_sum / within_pairs) / (between_sum / between_pairs)


# ----------------------------------------------------------------------------- CKA

def _center(K: np.ndarray) -> np.ndarray:
    """H K H with H = I - 11^T / n."""
    return K - K.mean(0, keepdims=True) - K.mean(1, keepdims=True) + K.mean()


def linear_cka(X, Y) -> float:
    """Linear centred kernel alignment between two representations of the same N samples.

    With column-centred X (N, D1) and Y (N, D2):
    CKA = |Y^T X|_F^2 / (|X^T X|_F |Y^T Y|_F), in [0, 1].
    Invariant to orthogonal transforms and isotropic scaling of either
    argument; CKA(X, X) = 1.  Computed through the (D, D) cross-covariances when
    N > D, else through the centred Gram matrices (same value).

    References
    ----------
    Kornblith, Norouzi, Lee, Hinton, "Similarity of Neural Network
    Representations Revisited", ICML 2019, eq. (4).
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise ValueError(f"linear_cka: X and Y must be (N, D1), (N, D2); got {X.shape}, {Y.shape}.")
    X = X - X.mean(0)
    Y = Y - Y.mean(0)
    if X.shape[0] > max(X.shape[1], Y.shape[1]):
        num = np.linalg.norm(Y.T @ X) ** 2
        den = np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y)
    else:
        Kx, Ky = X @ X.T, Y @ Y.T
        num = float(np.sum(Kx * Ky))
        den = np.linalg.norm(Kx) * np.linalg.norm(Ky)
    return float(num / den) if den > 0 else 0.0


def _rbf_gram(X: np.ndarray, sigma_frac: float) -> np.ndarray:
    sq = np.sum(X * X, 1)
    D2 = np.maximum(sq[:, None] + sq[None, :] - 2 * X @ X.T, 0.0)
    med = np.median(np.sqrt(D2[np.triu_indices_from(D2, k=1)]))
    sigma = sigma_frac * med if med > 0 else 1.0
    return np.exp(-D2 / (2 * sigma * sigma))


def rbf_cka(X, Y, *, sigma_frac: float = 0.5, max_n: int | None = 1000, seed: int = 0) -> float:
    """RBF-kernel CKA on a common sub-sample of at most ``max_n`` rows.

    K_ij = exp(-|x_i - x_j|^2 / (2 sigma_X^2)) with sigma_X = sigma_frac * median
    pairwise distance of X (likewise L for Y);
    CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)), HSIC(K, L) = tr(K H L H) / (n - 1)^2,
    H = I - 11^T / n.  Invariant to orthogonal transforms and isotropic scaling
    (sigma scales with the median distance); CKA(X, X) = 1.  Cost O(n^2 D).

    References
    ----------
    Kornblith et al., ICML 2019, Sec. 3 (RBF kernel with bandwidth a fraction of the median distance).
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise ValueError(f"rbf_cka: X and Y must be (N, D1), (N, D2); got {X.shape}, {Y.shape}.")
    if not sigma_frac > 0:
        raise ValueError(f"rbf_cka: 'sigma_frac' must be a float in the open interval (0, inf); got {sigma_frac}.")
    idx = _subsample(X.shape[0], max_n, seed)
    Kc = _center(_rbf_gram(X[idx], sigma_frac))
    Lc = _center(_rbf_gram(Y[idx], sigma_frac))
    den = np.linalg.norm(Kc) * np.linalg.norm(Lc)
    return float(np.sum(Kc * Lc) / den) if den > 0 else 0.0


# ----------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class Metric:
    """A compactness metric: its function ``fn(X, y, seed=...) -> float`` and its
    direction (``+1`` when higher means more compact, ``-1`` when lower does)."""

    name: str
    fn: Callable[..., float]
    direction: int
    seeded: bool


COMPACTNESS = {
    m.name: m
    for m in (
        Metric("knn_accuracy", knn_accuracy, +1, True),
        Metric("linear_probe", linear_probe_accuracy, +1, True),
        Metric("silhouette", silhouette, +1, True),
        Metric("davies_bouldin", davies_bouldin, -1, False),
        Metric("distance_ratio", distance_ratio, -1, False),
    )
}
"""Registry of per-layer compactness metrics, by name."""

QUICK_METRICS = ("knn_accuracy", "silhouette", "distance_ratio")
"""The subset used by ``--quick`` analyses."""


def compactness(X, y, *, metrics=None, seed: int = 0) -> dict[str, float]:
    """Evaluate the named compactness metrics (default: all of :data:`COMPACTNESS`).

    Raises
    ------
    KeyError
        For an unknown metric name; the message lists the known ones.
    """
    names = list(COMPACTNESS) if metrics is None else list(metrics)
    unknown = [m for m in names if m not in COMPACTNESS]
    if unknown:
        raise KeyError(f"compactness: unknown metric(s) {unknown}; known: {sorted(COMPACTNESS)}.")
    out = {}
    for name in names:
        m = COMPACTNESS[name]
        out[name] = m.fn(X, y, seed=seed) if m.seeded else m.fn(X, y)
    return out
