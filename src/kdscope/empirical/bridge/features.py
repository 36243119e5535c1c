"""Two-class feature sets for the bridge: fit set, experiment pool, test set.

A binary problem is two classes ``(a, b)`` of a data set, with label y = +1 for
class a and y = -1 for class b.  The data set's training pool is split, class by
class, into a *fit set* (used only to fit the mixture, the PCA and the whitening,
and to train a feature network) and an *experiment pool* (from which the
learners' training subsamples are drawn); the official test split is the test
set.  The three are disjoint, so the fitted map to model units never saw the
learners' data or the test data.

Feature kinds:

``pixels``
    the flattened images (PCA happens later, in :func:`~.mixture.fit_mixture`).
``cnn``
    the globally averaged activations of a layer (dotted module path, default
    ``pool``) of a small CNN (``kdscope.empirical.models``) trained for a few
    epochs on all classes of the pool *except* the experiment pool; extracted
    with the analysis hooks (``kdscope.empirical.analysis.extract_features``).
``mixture`` (:func:`synthetic_features`)
    draws of the model itself, ``x = y mu / sqrt(d) + sqrt(delta) z``, for tests.

``rho`` (optional) subsamples the larger class of each split so that the fraction
of class a is rho (the model's class imbalance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kdscope.empirical.data import RawDataset, load_raw

FEATURE_KINDS = ("pixels", "cnn")


@dataclass(frozen=True)
class TwoClassData:
    """Features and +-1 labels of a binary problem, in three disjoint parts.

    Attributes
    ----------
    source : data set name ('fashion_mnist', 'digits', 'synthetic').  classes : (a, b), y = +1 for a.
    features : 'pixels', 'cnn:<layer>' or 'mixture'.
    X_fit, y_fit : fit set (N_fit, D), (N_fit,).  X_pool, y_pool : experiment pool.  X_test, y_test : test set.
    """

    source: str
    classes: tuple
    features: str
    X_fit: np.ndarray
    y_fit: np.ndarray
    X_pool: np.ndarray
    y_pool: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def D(self) -> int:
        return int(self.X_fit.shape[1])


def _check_classes(raw: RawDataset, classes) -> tuple[int, int]:
    cl = tuple(int(c) for c in classes)
    if len(cl) != 2 or cl[0] == cl[1] or not all(0 <= c < raw.n_classes for c in cl):
        raise ValueError(f"'classes' must be two different labels in [0, {raw.n_classes - 1}] of {raw.name}; "
                         f"got {tuple(classes)!r}.")
    return cl


def _rebalance(idx: np.ndarray, y: np.ndarray, rho: float | None, rng: np.random.Generator) -> np.ndarray:
    """Subsample the larger class of ``idx`` (labels y in {-1, +1}) so that the fraction of +1 is rho."""
    if rho is None:
        return idx
    plus, minus = idx[y == 1], idx[y == -1]
    if len(plus) / len(idx) > rho:
        plus = rng.choice(plus, size=max(1, int(round(rho * len(minus) / (1 - rho)))), replace=False)
    else:
        minus = rng.choice(minus, size=max(1, int(round((1 - rho) * len(plus) / rho))), replace=False)
    return np.sort(np.concatenate([plus, minus]))


def split_two_classes(raw: RawDataset, classes, *, fit_fraction: float = 0.5, rho: float | None = None,
                      seed: int = 0) -> dict:
    """Indices and labels of the fit set, experiment pool (into ``raw.x_pool``) and test set (into ``raw.x_test``).

    Each class of the pool is split at random (``default_rng(seed)``) into
    ``round(fit_fraction n_c)`` fit samples and the rest.

    Returns
    -------
    dict with keys 'fit', 'pool', 'test', each an (indices, labels +-1) pair.
    """
    a, b = _check_classes(raw, classes)
    if not 0 < fit_fraction < 1:
        raise ValueError(f"'fit_fraction' must be a float in the open interval (0, 1); got {fit_fraction!r}.")
    if rho is not None and not 0 < rho < 1:
        raise ValueError(f"'rho' must be a float in the open interval (0, 1) or None; got {rho!r}.")
    rng = np.random.default_rng(seed)
    fit, pool = [], []
    for c in (a, b):
        members = rng.permutation(np.flatnonzero(raw.y_pool == c))
        k = int(round(fit_fraction * len(members)))
        fit.append(members[:k])
        pool.append(members[k:])
    out = {}
    for name, idx, labels in (("fit", np.sort(np.concatenate(fit)), raw.y_pool),
                              ("pool", np.sort(np.concatenate(pool)), raw.y_pool),
                              ("test", np.flatnonzero(np.isin(raw.y_test, (a, b))), raw.y_test)):
        y = np.where(labels[idx] == a, 1, -1)
        keep = _rebalance(idx, y, rho, rng)
        out[name] = (keep, np.where(labels[keep] == a, 1, -1))
    return out


def _flat(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=float).reshape(len(x), -1)


def pixel_features(raw: RawDataset, classes, *, fit_fraction: float = 0.5, rho: float | None = None,
                   seed: int = 0) -> TwoClassData:
    """The flattened images of two classes (see :func:`split_two_classes`)."""
    parts = split_two_classes(raw, classes, fit_fraction=fit_fraction, rho=rho, seed=seed)
    (i_f, y_f), (i_p, y_p), (i_t, y_t) = parts["fit"], parts["pool"], parts["test"]
    return TwoClassData(raw.name, tuple(int(c) for c in classes), "pixels", _flat(raw.x_pool[i_f]), y_f,
                        _flat(raw.x_pool[i_p]), y_p, _flat(raw.x_test[i_t]), y_t)


def cnn_features(raw: RawDataset, classes, *, layer: str = "pool", width: int = 16, depth: int = 3,
                 epochs: int = 3, lr: float = 0.05, fit_fraction: float = 0.5, rho: float | None = None,
                 seed: int = 0, progress: bool = False) -> TwoClassData:
    """Frozen features of a small CNN trained on every class of the pool except the experiment pool.

    The CNN (``arch='cnn'``, ``width``, ``depth``) is trained with
    ``kdscope.empirical.train.train_learner`` (SGD, cosine schedule, ``epochs``) on
    all ten classes of ``raw.x_pool`` minus the experiment pool of the two
    classes; a class-stratified 5% of that set is its validation set.  Features are
    the globally averaged activations of ``layer`` (see
    ``kdscope.empirical.analysis.hooks.extract_features``).
    """
    import torch

    from kdscope.empirical.analysis.hooks import extract_features
    from kdscope.empirical.config import ModelConfig, TrainConfig
    from kdscope.empirical.data import class_balanced_indices, splits_from_indices
    from kdscope.empirical.train import train_learner

    parts = split_two_classes(raw, classes, fit_fraction=fit_fraction, rho=rho, seed=seed)
    rng = np.random.default_rng(seed + 1)
    train_idx = np.setdiff1d(np.arange(len(raw.y_pool)), parts["pool"][0])
    val_idx = train_idx[class_balanced_indices(raw.y_pool[train_idx], 0.05, rng)]
    train_idx = np.setdiff1d(train_idx, val_idx)
    splits = splits_from_indices(raw, train_idx, val_idx, parts["test"][0][:2], raw.y_pool[train_idx])
    res = train_learner(ModelConfig("cnn", width, depth), splits,
                        TrainConfig(epochs=epochs, batch_size=128, lr=lr, weight_decay=5e-4),
                        seed=seed, progress=progress, desc="feature CNN")
    model = res.model.eval()

    def feats(x: np.ndarray) -> np.ndarray:
        t = torch.from_numpy((x - splits.mean) / splits.std)
        return extract_features(model, [layer], t, batch_size=512)[layer].astype(float)

    (i_f, y_f), (i_p, y_p), (i_t, y_t) = parts["fit"], parts["pool"], parts["test"]
    return TwoClassData(raw.name, tuple(int(c) for c in classes), f"cnn:{layer}", feats(raw.x_pool[i_f]), y_f,
                        feats(raw.x_pool[i_p]), y_p, feats(raw.x_test[i_t]), y_t)


def synthetic_features(d: int, delta: float, rho: float, *, n_fit: int, n_pool: int, n_test: int,
                       seed: int = 0) -> tuple[TwoClassData, np.ndarray]:
    """Draws of the model itself, ``x = y mu / sqrt(d) + sqrt(delta) z`` (``kdscope.simulations.data``).

    Returns
    -------
    (TwoClassData with source 'synthetic', the true mu (d,) with |mu|^2 = d)
    """
    from kdscope.simulations.data import draw_mean, draw_samples

    rng = np.random.default_rng(seed)
    mu = draw_mean(rng, d)
    parts = [draw_samples(rng, mu, n, delta, rho, 0.0) for n in (n_fit, n_pool, n_test)]
    data = TwoClassData("synthetic", (1, -1), "mixture", parts[0].X, parts[0].y, parts[1].X, parts[1].y,
                        parts[2].X, parts[2].y)
    return data, mu


def load_two_class(dataset: str, classes, *, features: str = "pixels", data_dir=None, **kwargs) -> TwoClassData:
    """Read ``dataset`` (``kdscope.empirical.data.load_raw``) and build its two-class features of kind ``features``."""
    if features not in FEATURE_KINDS:
        raise ValueError(f"'features' must be one of {set(FEATURE_KINDS)}; got {features!r}.")
    raw = load_raw(dataset, data_dir)
    if features == "pixels":
        kwargs = {k: v for k, v in kwargs.items() if k in ("fit_fraction", "rho", "seed")}
        return pixel_features(raw, classes, **kwargs)
    return cnn_features(raw, classes, **kwargs)
