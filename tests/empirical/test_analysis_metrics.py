"""Compactness metrics on synthetic clusters; CKA identities and invariances."""

import itertools

import numpy as np
import pytest
from scipy.stats import ortho_group

from kdscope.empirical.analysis.metrics import (
    COMPACTNESS,
    compactness,
    davies_bouldin,
    distance_ratio,
    knn_accuracy,
    linear_cka,
    linear_probe_accuracy,
    rbf_cka,
    silhouette,
)


def clusters(rng, sd, n_per=60, n_classes=4, d=10, sep=2.0):
    centres = np.random.default_rng(123).normal(size=(n_classes, d)) * sep
    X = np.concatenate([c + sd * rng.normal(size=(n_per, d)) for c in centres])
    return X, np.repeat(np.arange(n_classes), n_per)


def test_tighter_clusters_score_better_on_every_metric(rng):
    X_loose, y = clusters(rng, sd=2.5)
    X_tight, _ = clusters(rng, sd=0.5)
    tight = compactness(X_tight, y, seed=0)
    loose = compactness(X_loose, y, seed=0)
    assert set(tight) == set(COMPACTNESS)
    for name, m in COMPACTNESS.items():
        assert m.direction * (tight[name] - loose[name]) > 0, (name, tight[name], loose[name])
    assert tight["knn_accuracy"] > 0.95 and loose["knn_accuracy"] < 0.95


def test_distance_ratio_matches_brute_force(rng):
    X, y = clusters(rng, sd=1.0, n_per=7, n_classes=3, d=4)
    D2 = ((X[:, None] - X[None]) ** 2).sum(-1)
    same = y[:, None] == y[None]
    off = ~np.eye(len(y), dtype=bool)
    expected = D2[same & off].mean() / D2[~same].mean()
    assert distance_ratio(X, y) == pytest.approx(expected, rel=1e-12)
    assert distance_ratio(3.0 * X + 5.0, y) == pytest.approx(expected, rel=1e-10)


def test_davies_bouldin_matches_formula(rng):
    X, y = clusters(rng, sd=1.0, n_per=9, n_classes=3, d=4)
    mu = np.stack([X[y == c].mean(0) for c in range(3)])
    s = np.array([np.linalg.norm(X[y == c] - mu[c], axis=1).mean() for c in range(3)])
    db = np.mean([max((s[a] + s[b]) / np.linalg.norm(mu[a] - mu[b]) for b in range(3) if b != a) for a in range(3)])
    assert davies_bouldin(X, y) == pytest.approx(db, rel=1e-10)


def test_silhouette_of_point_like_classes_is_one(rng):
    X = np.repeat(np.eye(3) * 10, 5, axis=0) + 1e-9 * rng.normal(size=(15, 3))
    y = np.repeat(np.arange(3), 5)
    assert silhouette(X, y) == pytest.approx(1.0, abs=1e-6)


def test_random_labels_give_chance_level(rng):
    X = rng.normal(size=(400, 5))
    y = rng.integers(0, 4, size=400)
    assert abs(distance_ratio(X, y) - 1.0) < 0.05
    assert knn_accuracy(X, y, seed=1) < 0.4
    assert linear_probe_accuracy(X, y, seed=1) < 0.45


def test_metrics_validate_inputs():
    with pytest.raises(ValueError, match="two classes"):
        knn_accuracy(np.zeros((5, 2)), np.zeros(5, int))
    with pytest.raises(ValueError, match="X must be"):
        silhouette(np.zeros((5, 2)), np.zeros(4, int))
    with pytest.raises(KeyError, match="known"):
        compactness(np.zeros((4, 2)), np.array([0, 0, 1, 1]), metrics=["nope"])


# ----------------------------------------------------------------------------- CKA

def _hsic_cka(K, L):
    n = K.shape[0]
    H = np.eye(n) - 1.0 / n
    hsic = lambda A, B: np.trace(A @ H @ B @ H)  # noqa: E731
    return hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L))


@pytest.mark.parametrize("cka", [linear_cka, rbf_cka])
def test_cka_identity_and_invariances(rng, cka):
    X = rng.normal(size=(80, 6)) @ rng.normal(size=(6, 6))
    Y = np.tanh(X @ rng.normal(size=(6, 5))) + 0.3 * rng.normal(size=(80, 5))
    Q = ortho_group.rvs(5, random_state=int(rng.integers(1 << 31)))
    base = cka(X, Y)
    assert cka(X, X) == pytest.approx(1.0, abs=1e-12)
    assert 0.0 < base < 1.0
    assert cka(X, Y @ Q) == pytest.approx(base, abs=1e-10)        # orthogonal transform
    assert cka(X, 7.5 * Y) == pytest.approx(base, abs=1e-10)      # isotropic scaling
    assert cka(X + 3.0, Y) == pytest.approx(base, abs=1e-10)      # translation
    assert cka(Y, X) == pytest.approx(base, abs=1e-12)            # symmetry


def test_linear_cka_is_not_invariant_to_anisotropic_scaling(rng):
    # white X, Y = X diag(s): CKA -> sum s^2 / (sqrt(d) |s^2|) = 403 / (2 sqrt(160003)) ~ 0.504
    X = rng.normal(size=(4000, 4))
    s = np.array([1.0, 1.0, 1.0, 20.0])
    expected = np.sum(s**2) / (2.0 * np.sqrt(np.sum(s**4)))
    assert linear_cka(X, X * s) == pytest.approx(expected, abs=0.05)


def test_linear_cka_matches_hsic_both_paths(rng):
    for n, d in [(30, 5), (8, 20)]:  # feature-space path and Gram path
        X, Y = rng.normal(size=(n, d)), rng.normal(size=(n, d + 3))
        assert linear_cka(X, Y) == pytest.approx(_hsic_cka(X @ X.T, Y @ Y.T), rel=1e-10)


def test_rbf_cka_matches_hsic(rng):
    X, Y = rng.normal(size=(25, 3)), rng.normal(size=(25, 4))

    def gram(A):
        D2 = ((A[:, None] - A[None]) ** 2).sum(-1)
        sigma = 0.5 * np.median(np.sqrt(D2[np.triu_indices(len(A), 1)]))
        return np.exp(-D2 / (2 * sigma**2))

    assert rbf_cka(X, Y) == pytest.approx(_hsic_cka(gram(X), gram(Y)), rel=1e-10)


def test_cka_of_independent_features_is_small(rng):
    assert linear_cka(rng.normal(size=(1000, 20)), rng.normal(size=(1000, 20))) < 0.06
    assert rbf_cka(rng.normal(size=(600, 3)), rng.normal(size=(600, 3)), max_n=600) < 0.06


def test_rbf_cka_subsamples_common_rows(rng):
    X = rng.normal(size=(300, 3))
    assert rbf_cka(X, X, max_n=50) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="sigma_frac"):
        rbf_cka(X, X, sigma_frac=0.0)
