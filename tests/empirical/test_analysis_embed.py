"""2-D maps: the IVIS-style triplet embedding, t-SNE back-ends, template projection."""

import sys

import numpy as np
import pytest
import torch

from kdscope.empirical.analysis import embed as E
from kdscope.empirical.analysis.metrics import knn_accuracy

torch.set_num_threads(1)


def gaussian_clusters(rng, n_per=50, n_classes=4, d=20, sep=6.0):
    centres = np.random.default_rng(7).normal(size=(n_classes, d)) * sep / np.sqrt(2.0)
    X = np.concatenate([c + rng.normal(size=(n_per, d)) for c in centres])
    return X, np.repeat(np.arange(n_classes), n_per)


def test_ivis_separates_gaussian_clusters(rng, seed):
    X, y = gaussian_clusters(rng)
    Z = E.ivis_embed(X, min_steps=300, seed=seed)
    assert Z.shape == (200, 2) and Z.dtype == np.float64
    assert knn_accuracy(Z, y, seed=seed) >= 0.95


def test_ivis_supervised_separates_overlapping_clusters(rng, seed):
    X, y = gaussian_clusters(rng, sep=0.7)  # neighbours often of another class
    Z = E.ivis_embed(X, y, min_steps=600, lr=3e-3, seed=seed)
    assert knn_accuracy(Z, y, seed=seed) > knn_accuracy(X, y, seed=seed)
    assert knn_accuracy(Z, y, seed=seed) >= 0.9


def test_ivis_is_deterministic_and_leaves_global_rng(rng):
    X, _ = gaussian_clusters(rng, n_per=15)
    torch.manual_seed(99)
    state = torch.get_rng_state()
    a = E.ivis_embed(X, epochs=2, min_steps=0, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    np.testing.assert_array_equal(a, E.ivis_embed(X, epochs=2, min_steps=0, seed=3))
    assert not np.allclose(a, E.ivis_embed(X, epochs=2, min_steps=0, seed=4))


def test_triplet_sampling_rules(rng):
    X, y = gaussian_clusters(rng, n_per=20, sep=1.0)
    knn = E._knn(X, 5)
    assert not np.any(knn == np.arange(len(y))[:, None])
    pos, neg = E._triplets(knn, None, np.random.default_rng(0))
    assert np.all((knn == pos[:, None]).any(1)) and np.all(neg != np.arange(len(y)))
    pos, neg = E._triplets(knn, y, np.random.default_rng(0))
    assert np.all(y[pos] == y) and np.all(y[neg] != y) and np.all(pos != np.arange(len(y)))


def test_ivis_validates_options(rng):
    X, y = gaussian_clusters(rng, n_per=5)
    with pytest.raises(ValueError, match="'epochs'"):
        E.ivis_embed(X, epochs=0)
    with pytest.raises(ValueError, match="two classes"):
        E.ivis_embed(X, np.zeros(len(y), int))
    with pytest.raises(KeyError, match="known"):
        E.embed_features(X, "pca")


@pytest.mark.parametrize("backend", ["opentsne", "sklearn"])
def test_tsne_backends_separate_clusters(rng, backend):
    X, y = gaussian_clusters(rng, n_per=20)
    Z = E.tsne(X, perplexity=30, seed=0, backend=backend)  # perplexity clipped to (N-1)/3
    assert Z.shape == (80, 2)
    assert knn_accuracy(Z, y) >= 0.95


def test_tsne_falls_back_without_opentsne(rng, monkeypatch):
    X, _ = gaussian_clusters(rng, n_per=8)
    monkeypatch.setitem(sys.modules, "openTSNE", None)  # import now raises ImportError
    assert E.tsne(X, backend="auto").shape == (32, 2)
    with pytest.raises(ImportError):
        E.tsne(X, backend="opentsne")


def test_umap_optional(rng):
    X, _ = gaussian_clusters(rng, n_per=10)
    if E.umap_available():
        assert E.umap_embed(X).shape == (40, 2)
    else:
        with pytest.raises(ImportError, match="kdscope\\[umap\\]"):
            E.umap_embed(X)


def test_template_projection_geometry(rng):
    W = rng.normal(size=(5, 12))
    classes = (3, 0, 4)
    y = np.repeat(np.arange(5), 10)
    H = W[y] + 0.01 * rng.normal(size=(50, 12))
    tp = E.template_projection(H, y, W, classes)
    assert tp.points.shape == (30, 2) and set(tp.labels) == set(classes)
    # the projection is an isometry on the templates' plane
    T = W[list(classes)]
    for a in range(3):
        for b in range(3):
            assert np.linalg.norm(tp.templates[a] - tp.templates[b]) == pytest.approx(np.linalg.norm(T[a] - T[b]))
    # each sample lands next to its own template
    for c_i, c in enumerate(classes):
        assert np.abs(tp.points[tp.labels == c] - tp.templates[c_i]).max() < 0.1
    np.testing.assert_allclose(tp.templates.mean(0), 0.0, atol=1e-12)


def test_template_projection_errors(rng):
    W = rng.normal(size=(4, 3))
    with pytest.raises(ValueError, match="distinct"):
        E.template_projection(np.zeros((2, 3)), np.zeros(2, int), W, (0, 0, 1))
    W[2] = 2 * W[1] - W[0]  # collinear templates
    with pytest.raises(ValueError, match="collinear"):
        E.template_projection(np.zeros((2, 3)), np.zeros(2, int), W, (0, 1, 2))
