"""Two-dimensional maps of a layer's features: t-SNE, an IVIS-style triplet embedding, UMAP,
and the three-class template projection of Mueller et al. (2019).

* :func:`tsne` uses openTSNE (falls back to ``sklearn.manifold.TSNE`` when
  openTSNE is not importable).
* :func:`ivis_embed` is our PyTorch version of the IVIS idea (Szubert et al.,
  Sci. Rep. 2019): a siamese MLP f maps each point to R^2 and is trained on
  triplets (anchor a, positive p among the k nearest neighbours of a, random
  negative n) with the margin loss
  ``max(0, margin + |f(a) - f(p)| - min(|f(a) - f(n)|, |f(p) - f(n)|))``.
  With labels it is supervised: positives are same-class neighbours (or a
  random same-class point when no neighbour shares the class) and negatives
  come from other classes.  The ``ivis`` package itself is not used.
* :func:`umap_embed` needs the optional ``umap-learn`` (extra ``umap``).

Every map is deterministic given ``seed`` and returns a float64 ``(N, 2)`` array.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


def _as_x(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 4:
        raise ValueError(f"embed: X must be (N, D) with N >= 4; got shape {X.shape}.")
    return X


# ----------------------------------------------------------------------------- t-SNE

def tsne(X, *, perplexity: float = 30.0, seed: int = 0, n_jobs: int = 1, backend: str = "auto") -> np.ndarray:
    """t-SNE map with PCA initialisation.

    Parameters
    ----------
    X : array (N, D)
    perplexity : float > 0
        Clipped to (N - 1) / 3 for small N.
    seed : int
    n_jobs : int
        Threads for openTSNE.
    backend : {"auto", "opentsne", "sklearn"}
        ``auto`` uses openTSNE when importable, else scikit-learn.

    Returns
    -------
    np.ndarray (N, 2)
    """
    X = _as_x(X)
    if backend not in ("auto", "opentsne", "sklearn"):
        raise ValueError(f"tsne: 'backend' must be one of {{'auto', 'opentsne', 'sklearn'}}; got {backend!r}.")
    if not perplexity > 0:
        raise ValueError(f"tsne: 'perplexity' must be a float in the open interval (0, inf); got {perplexity}.")
    perplexity = float(min(perplexity, (X.shape[0] - 1) / 3.0))
    if backend in ("auto", "opentsne"):
        try:
            import openTSNE
        except ImportError:
            if backend == "opentsne":
                raise
        else:
            emb = openTSNE.TSNE(
                n_components=2, perplexity=perplexity, initialization="pca",
                random_state=seed, n_jobs=n_jobs, verbose=False,
            ).fit(X)
            return np.asarray(emb, dtype=np.float64)
    from sklearn.manifold import TSNE

    return np.asarray(
        TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(X),
        dtype=np.float64,
    )


# ----------------------------------------------------------------------------- IVIS-style

def _mlp(d_in: int, hidden: Sequence[int], d_out: int, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(d_in, h), nn.SELU(), nn.AlphaDropout(dropout)]
        d_in = h
    layers.append(nn.Linear(d_in, d_out))
    return nn.Sequential(*layers)


def _knn(X: np.ndarray, k: int) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    nbrs = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X, return_distance=False)
    return nbrs[:, 1:]


def _triplets(knn: np.ndarray, y: np.ndarray | None, rng: np.random.Generator):
    """One (positive, negative) index per anchor, anchors being 0..N-1."""
    N, k = knn.shape
    if y is None:
        pos = knn[np.arange(N), rng.integers(0, k, size=N)]
        neg = rng.integers(0, N - 1, size=N)
        neg = neg + (neg >= np.arange(N))  # uniform over the other points
        return pos, neg
    keys = rng.random((N, k))
    same = y[knn] == y[:, None]
    keys[~same] = -1.0
    pos = knn[np.arange(N), keys.argmax(1)]
    lonely = ~same.any(1)
    if lonely.any():  # no neighbour of the same class: a random same-class point
        order = np.argsort(y, kind="stable")
        classes, start, count = np.unique(y[order], return_index=True, return_counts=True)
        ci = np.searchsorted(classes, y[lonely])
        pos[lonely] = order[start[ci] + (rng.random(lonely.sum()) * count[ci]).astype(int)]
    neg = rng.integers(0, N, size=N)
    bad = y[neg] == y
    for _ in range(1000):
        if not bad.any():
            break
        neg[bad] = rng.integers(0, N, size=int(bad.sum()))
        bad = y[neg] == y
    return pos, neg


def _pn_loss(fa: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor, margin: float) -> torch.Tensor:
    def dist(u, v):
        return ((u - v) ** 2).sum(1).clamp_min(1e-12).sqrt()

    d_ap, d_an, d_pn = dist(fa, fp), dist(fa, fn), dist(fp, fn)
    return torch.relu(margin + d_ap - torch.minimum(d_an, d_pn)).mean()


def ivis_embed(
    X,
    y=None,
    *,
    n_components: int = 2,
    k: int = 15,
    epochs: int = 40,
    min_steps: int = 1000,
    batch_size: int = 128,
    margin: float = 1.0,
    hidden: Sequence[int] = (128, 128, 128),
    dropout: float = 0.1,
    lr: float = 1e-3,
    seed: int = 0,
) -> np.ndarray:
    """IVIS-style triplet embedding trained in PyTorch.

    Features are centred and divided by their overall RMS (an isotropic scaling,
    so neighbourhoods are unchanged); the k nearest neighbours (Euclidean, exact)
    are computed once.  Each epoch draws one triplet per anchor and minimises,
    with Adam, the mean over mini-batches of
    ``max(0, margin + d(a, p) - min(d(a, n), d(p, n)))``, d the Euclidean distance
    between network outputs f(.) in R^n_components.  f is an MLP with SELU
    activations and alpha-dropout.

    Parameters
    ----------
    X : array (N, D)
    y : array (N,), optional
        Class labels; when given, positives share the anchor's class and negatives do not.
    n_components : int >= 1
    k : int >= 1
        Neighbours per anchor (clipped to N - 1).
    epochs, batch_size : int >= 1
        Passes over the anchors, and anchors per Adam step.
    min_steps : int >= 0
        Lower bound on the number of Adam steps: small data sets get more epochs
        (``max(epochs, ceil(min_steps / ceil(N / batch_size)))``).
    margin : float > 0
    hidden : sequence of int
        Widths of the hidden layers.
    dropout : float in [0, 1)
    lr : float > 0
    seed : int
        Seeds the triplet sampling, the initialisation and dropout (global torch RNG state is restored).

    Returns
    -------
    np.ndarray (N, n_components)
        Outputs of the trained network in eval mode.

    References
    ----------
    Szubert, Cole, Monaco, Drozdov, "Structure-preserving visualisation of
    high dimensional single-cell datasets", Sci. Rep. 9, 8914 (2019).
    """
    X = _as_x(X)
    if y is not None:
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"ivis_embed: y must have shape ({X.shape[0]},); got {y.shape}.")
        if np.unique(y).size < 2:
            raise ValueError("ivis_embed: supervised mode needs at least two classes in y.")
    for name, val in (("n_components", n_components), ("k", k), ("epochs", epochs), ("batch_size", batch_size)):
        if int(val) != val or val < 1:
            raise ValueError(f"ivis_embed: '{name}' must be an integer >= 1; got {val!r}.")
    if not margin > 0 or not lr > 0 or not 0 <= dropout < 1:
        raise ValueError(
            f"ivis_embed: need margin > 0, lr > 0, dropout in [0, 1); got {margin}, {lr}, {dropout}."
        )
    N = X.shape[0]
    epochs = max(int(epochs), -(-int(min_steps) // -(-N // int(batch_size))))
    Z = X - X.mean(0)
    rms = np.sqrt(np.mean(Z * Z))
    Z = Z / rms if rms > 0 else Z
    knn = _knn(Z, min(k, N - 1))
    rng = np.random.default_rng(seed)
    Zt = torch.from_numpy(Z.astype(np.float32))

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = _mlp(Z.shape[1], hidden, n_components, dropout)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        net.train()
        for _ in range(epochs):
            pos, neg = _triplets(knn, y, rng)
            perm = rng.permutation(N)
            for i in range(0, N, batch_size):
                a = perm[i : i + batch_size]
                idx = torch.from_numpy(np.concatenate([a, pos[a], neg[a]]))
                out = net(Zt[idx])
                m = a.size
                loss = _pn_loss(out[:m], out[m : 2 * m], out[2 * m :], margin)
                opt.zero_grad()
                loss.backward()
                opt.step()
        net.eval()
        with torch.no_grad():
            return net(Zt).double().numpy()


# ----------------------------------------------------------------------------- UMAP

def umap_embed(X, *, n_neighbors: int = 15, min_dist: float = 0.1, seed: int = 0) -> np.ndarray:
    """UMAP map (optional dependency ``umap-learn``, extra ``umap``).

    Raises
    ------
    ImportError
        If umap-learn is not installed; install ``kdscope[umap]``.
    """
    X = _as_x(X)
    try:
        import umap
    except ImportError as exc:
        raise ImportError("umap_embed needs umap-learn: pip install 'kdscope[umap]'") from exc
    reducer = umap.UMAP(n_neighbors=min(n_neighbors, X.shape[0] - 1), min_dist=min_dist, random_state=seed)
    return np.asarray(reducer.fit_transform(X), dtype=np.float64)


def umap_available() -> bool:
    """Whether umap-learn can be imported."""
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


EMBEDDINGS = {"tsne": tsne, "ivis": ivis_embed, "umap": umap_embed}
"""Registry of 2-D map methods, by name."""


def embed_features(X, method: str = "tsne", *, y=None, seed: int = 0, **options) -> np.ndarray:
    """2-D map of features X (N, D) by a method of :data:`EMBEDDINGS`; ``y`` is used only by ``ivis`` (supervised mode).

    Raises
    ------
    KeyError
        For an unknown method; the message lists the known ones.
    """
    if method not in EMBEDDINGS:
        raise KeyError(f"embed: unknown method {method!r}; known: {sorted(EMBEDDINGS)}.")
    if method == "ivis":
        return ivis_embed(X, y, seed=seed, **options)
    return EMBEDDINGS[method](X, seed=seed, **options)


# ----------------------------------------------------------------------------- template projection

@dataclass(frozen=True)
class TemplateProjection:
    """Penultimate activations of three classes projected onto the plane of their templates.

    Attributes
    ----------
    points : np.ndarray (M, 2)
        Coordinates of the M selected samples in the plane's orthonormal basis.
    labels : np.ndarray (M,)
        Their classes (each one of ``classes``).
    templates : np.ndarray (3, 2)
        Coordinates of the three templates (rows of W) in the same basis.
    classes : tuple of int
    """

    points: np.ndarray
    labels: np.ndarray
    templates: np.ndarray
    classes: tuple[int, int, int]


def template_projection(H, y, W, classes: Sequence[int] = (0, 1, 2)) -> TemplateProjection:
    """Project penultimate activations onto the plane through three class templates.

    With templates w_a, w_b, w_c (rows of the final layer's weight W, logit
    z_c = w_c . h + b_c), the plane is {o + s e1 + t e2}, o = (w_a + w_b + w_c)/3,
    e1 = (w_b - w_a)/|w_b - w_a| and e2 the Gram-Schmidt normalisation of
    w_c - w_a against e1.  A sample h of one of the three classes maps to
    ((h - o) . e1, (h - o) . e2).

    Parameters
    ----------
    H : array (N, D)
        Penultimate activations (the input of the final linear layer).
    y : array (N,)
    W : array (C, D)
        Final-layer weight.
    classes : three distinct class indices in [0, C)

    Returns
    -------
    TemplateProjection

    References
    ----------
    Mueller, Kornblith, Hinton, "When does label smoothing help?", NeurIPS 2019, Sec. 2.
    """
    H = np.asarray(H, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    y = np.asarray(y)
    classes = tuple(int(c) for c in classes)
    if len(set(classes)) != 3 or min(classes) < 0 or max(classes) >= W.shape[0]:
        raise ValueError(
            f"template_projection: 'classes' must be three distinct integers in [0, {W.shape[0]}); got {classes}."
        )
    if H.ndim != 2 or H.shape[1] != W.shape[1] or y.shape != (H.shape[0],):
        raise ValueError(f"template_projection: need H (N, D), y (N,), W (C, D); got {H.shape}, {y.shape}, {W.shape}.")
    T = W[list(classes)]
    o = T.mean(0)
    e1 = T[1] - T[0]
    e1 = e1 / np.linalg.norm(e1)
    e2 = T[2] - T[0]
    e2 = e2 - (e2 @ e1) * e1
    n2 = np.linalg.norm(e2)
    if n2 < 1e-12 * np.linalg.norm(T[2] - T[0]) or n2 == 0:
        raise ValueError("template_projection: the three templates are collinear; choose other classes.")
    B = np.stack([e1, e2 / n2], 1)  # (D, 2)
    sel = np.isin(y, classes)
    return TemplateProjection((H[sel] - o) @ B, y[sel], (T - o) @ B, classes)
