"""Image data sets for the empirical experiments: reading, subsets, label noise, splits.

Two data sets are registered in :data:`DATASETS`:

``fashion_mnist``
    Fashion-MNIST (Xiao et al., 2017; 60k train + 10k test grey 28x28 images,
    10 classes) read from the standard IDX files, gzipped or not.  Looked up in
    ``data_dir``, ``data_dir/FashionMNIST/raw`` (a torchvision download folder)
    and ``data_dir/raw``; the default ``data_dir`` is Debian's package
    ``dataset-fashion-mnist`` (:data:`DEFAULT_FASHION_DIR`).  Nothing is ever
    downloaded: missing files raise :class:`DatasetNotFoundError`.
``digits``
    scikit-learn's bundled 8x8 digits (1797 images, 10 classes), for fast tests.
    It has no official test split: a class-stratified 30% is held out (seeded).

Every pipeline step is a pure function of arrays and a ``numpy.random.Generator``.
:func:`make_splits` chains them; the indices it draws are kept in
:class:`DataSplits` so a run folder can rebuild exactly the same splits.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from kdscope.empirical.registry import Registry

DEFAULT_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
NOISE_KINDS = ("symmetric", "class_dependent")


class DatasetNotFoundError(FileNotFoundError):
    """The data set's files are not on this machine (kdscope never downloads at run time)."""


@dataclass(frozen=True)
class RawDataset:
    """A data set as read from disk: uint8/float images and integer labels.

    ``x_pool``: (N, 1, H, W) float32 in [0, 1]; ``y_pool``: (N,) int64; the pool is
    what training and validation sets are drawn from.  ``x_test``/``y_test`` the
    official test split.
    """

    name: str
    x_pool: np.ndarray
    y_pool: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int


@dataclass(frozen=True)
class DataSplits:
    """Normalised tensors of one run, plus the indices that produced them.

    ``y_train`` holds the (possibly noisy) labels used for training, ``y_train_clean``
    the true ones; validation and test labels are always clean.  Inputs are
    normalised by the training set's mean and std: ``x <- (x - mean) / std``.
    ``idx_*`` index the raw pool (train, val) and the raw test set.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    y_train_clean: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    mean: float
    std: float
    idx_train: np.ndarray
    idx_val: np.ndarray
    idx_test: np.ndarray

    @property
    def in_channels(self) -> int:
        return int(self.x_train.shape[1])


# ----------------------------------------------------------------------------- reading
def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (LeCun's MNIST format), gzipped if the name ends in ``.gz``.

    Header: two zero bytes, a type byte (0x08 = uint8), the number of dimensions,
    then one big-endian uint32 per dimension; the data follow in C order.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path} is not a uint8 IDX file (magic {raw[:4].hex()}).")
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says shape {shape} but holds {data.size} values (truncated file?).")
    return data.reshape(shape)


def _find_idx(data_dir: Path, stem: str) -> Path | None:
    for folder in (data_dir, data_dir / "FashionMNIST" / "raw", data_dir / "raw"):
        for name in (stem + ".gz", stem):
            if (folder / name).is_file():
                return folder / name
    return None


def load_fashion_mnist(data_dir: str | Path | None = None) -> RawDataset:
    """Fashion-MNIST from IDX files in ``data_dir`` (default :data:`DEFAULT_FASHION_DIR`).

    Raises
    ------
    DatasetNotFoundError
        If any of the four files is missing; the message names them and how to get them.
    """
    folder = Path(data_dir) if data_dir is not None else DEFAULT_FASHION_DIR
    found = {stem: _find_idx(folder, stem) for stem in FASHION_FILES}
    missing = [stem for stem, p in found.items() if p is None]
    if missing:
        raise DatasetNotFoundError(
            f"Fashion-MNIST files missing in {folder}: "
            + ", ".join(f"{m}.gz" for m in missing)
            + f" (looked in {folder}, {folder}/FashionMNIST/raw and {folder}/raw, gzipped or not). "
            "Install them with `apt-get install dataset-fashion-mnist` (files land in "
            f"{DEFAULT_FASHION_DIR}), or point --data-dir at a folder holding the IDX files "
            "(e.g. a torchvision FashionMNIST download)."
        )
    x_tr, y_tr, x_te, y_te = (read_idx(found[s]) for s in FASHION_FILES)
    to_float = lambda x: (x.astype(np.float32) / 255.0)[:, None, :, :]  # noqa: E731
    return RawDataset("fashion_mnist", to_float(x_tr), y_tr.astype(np.int64), to_float(x_te), y_te.astype(np.int64), 10)


def load_digits(data_dir: str | Path | None = None, test_fraction: float = 0.3) -> RawDataset:
    """scikit-learn's 8x8 digits, scaled to [0, 1]; a fixed stratified ``test_fraction`` is the test set.

    The held-out split uses its own generator (seed 12345), independent of run seeds,
    so every run sees the same test set, as with an official split.
    """
    from sklearn.datasets import load_digits as _sk_digits

    bunch = _sk_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = bunch.target.astype(np.int64)
    test_idx = class_balanced_indices(y, test_fraction, np.random.default_rng(12345))
    pool = np.setdiff1d(np.arange(len(y)), test_idx)
    return RawDataset("digits", x[pool], y[pool], x[test_idx], y[test_idx], 10)


DATASETS: Registry = Registry("data set")
DATASETS.register("fashion_mnist", load_fashion_mnist)
DATASETS.register("digits", load_digits)


# ----------------------------------------------------------------------------- subsets and noise
def class_balanced_indices(y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of a class-balanced subset: ``round(fraction * n_c)`` (at least 1) per class c.

    Returns the chosen indices sorted ascending.  ``fraction = 1`` returns everything.
    """
    chosen = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        k = max(1, int(round(fraction * len(members))))
        chosen.append(rng.choice(members, size=min(k, len(members)), replace=False))
    return np.sort(np.concatenate(chosen))


def select_classes(raw: RawDataset, classes: tuple[int, ...] | list[int]) -> RawDataset:
    """The sub-data set of ``classes`` (in that order), relabelled 0, 1, ...: class ``classes[k]`` becomes k.

    Pool and test set keep only those classes' images, in their original order.  The
    name records the choice (``fashion_mnist[0,6]``), so a teacher trained on it is
    stored under its own key.

    Raises
    ------
    ValueError
        If fewer than two classes are given, one repeats, or one is not a class of ``raw``.
    """
    classes = tuple(int(c) for c in classes)
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise ValueError(f"select_classes: need at least two distinct classes; got {list(classes)}.")
    bad = [c for c in classes if not 0 <= c < raw.n_classes]
    if bad:
        raise ValueError(f"select_classes: classes {bad} are not classes of {raw.name} (0 .. {raw.n_classes - 1}).")
    lookup = np.full(raw.n_classes, -1, dtype=np.int64)
    lookup[list(classes)] = np.arange(len(classes))
    keep_pool = lookup[raw.y_pool] >= 0
    keep_test = lookup[raw.y_test] >= 0
    return RawDataset(
        name=f"{raw.name}[{','.join(str(c) for c in classes)}]",
        x_pool=raw.x_pool[keep_pool], y_pool=lookup[raw.y_pool[keep_pool]],
        x_test=raw.x_test[keep_test], y_test=lookup[raw.y_test[keep_test]],
        n_classes=len(classes),
    )

def add_label_noise(
    y: np.ndarray, theta: float, kind: str, n_classes: int, rng: np.random.Generator
) -> np.ndarray:
    """Corrupt labels: each label is flipped independently with probability ``theta``.

    ``symmetric``: a flipped label becomes one of the other ``n_classes - 1`` classes,
    uniformly.  ``class_dependent``: a flipped label of class c becomes c + 1 (mod C),
    a fixed confusion between neighbouring classes (the pair-flip noise of Han et
    al., 2018).  ``theta`` in [0, 1]; returns a new array, ``y`` is untouched.
    """
    if kind not in NOISE_KINDS:
        raise ValueError(f"'noise' must be one of {NOISE_KINDS}; got {kind!r}.")
    y_noisy = y.copy()
    flip = rng.random(len(y)) < theta
    if kind == "symmetric":
        shift = rng.integers(1, n_classes, size=len(y))
    else:
        shift = np.ones(len(y), dtype=np.int64)
    y_noisy[flip] = (y[flip] + shift[flip]) % n_classes
    return y_noisy


def make_splits(
    raw: RawDataset,
    *,
    train_fraction: float,
    val_fraction: float,
    test_fraction: float,
    theta: float,
    noise: str,
    seed: int,
    norm: tuple[float, float] | None = None,
) -> DataSplits:
    """Draw validation, training and test sets from ``raw``, add label noise, normalise.

    Order of draws (all class-balanced, one generator seeded by ``seed``):
    ``val_fraction`` of each class of the pool is held out for validation; from
    the rest, ``train_fraction`` of each class is the training set (the limited-data
    regime); ``test_fraction`` of each class of the test set is kept (quick runs).
    Only training labels get noise.  Normalisation uses the training images' mean
    and std (one scalar each for grey images), or ``norm = (mean, std)`` when given
    (a pre-trained teacher's normalisation).
    """
    rng = np.random.default_rng(seed)
    idx_val = np.array([], dtype=np.int64)
    if val_fraction > 0:
        idx_val = class_balanced_indices(raw.y_pool, val_fraction, rng)
    rest = np.setdiff1d(np.arange(len(raw.y_pool)), idx_val)
    idx_train = rest[class_balanced_indices(raw.y_pool[rest], train_fraction, rng)]
    idx_test = class_balanced_indices(raw.y_test, test_fraction, rng)
    y_clean = raw.y_pool[idx_train]
    y_noisy = add_label_noise(y_clean, theta, noise, raw.n_classes, rng) if theta > 0 else y_clean.copy()
    return splits_from_indices(raw, idx_train, idx_val, idx_test, y_noisy, norm=norm)


def splits_from_indices(
    raw: RawDataset, idx_train: np.ndarray, idx_val: np.ndarray, idx_test: np.ndarray, y_train: np.ndarray,
    norm: tuple[float, float] | None = None,
) -> DataSplits:
    """Assemble normalised :class:`DataSplits` from drawn indices and (possibly noisy) training labels.

    Used by :func:`make_splits` and to rebuild a run's exact splits from its ``split.npz``.
    ``norm = (mean, std)`` fixes the normalisation; None uses the training images' own.
    """
    idx_train, idx_val, idx_test = (np.asarray(i, dtype=np.int64) for i in (idx_train, idx_val, idx_test))
    x_train = raw.x_pool[idx_train]
    mean, std = (float(x_train.mean()), float(x_train.std())) if norm is None else (float(norm[0]), float(norm[1]))
    norm = lambda x: torch.from_numpy((x - mean) / std)  # noqa: E731
    return DataSplits(
        name=raw.name,
        x_train=norm(x_train),
        y_train=torch.from_numpy(np.asarray(y_train, dtype=np.int64)),
        y_train_clean=torch.from_numpy(raw.y_pool[idx_train]),
        x_val=norm(raw.x_pool[idx_val]),
        y_val=torch.from_numpy(raw.y_pool[idx_val]),
        x_test=norm(raw.x_test[idx_test]),
        y_test=torch.from_numpy(raw.y_test[idx_test]),
        n_classes=raw.n_classes,
        mean=mean,
        std=std,
        idx_train=idx_train,
        idx_val=idx_val,
        idx_test=idx_test,
    )


_DATA_HINTS = {
    "fashion_mnist": "Fashion-MNIST needs the IDX files " + ", ".join(f"{f}.gz" for f in FASHION_FILES)
    + f" (gzipped or not): `apt-get install dataset-fashion-mnist` puts them in {DEFAULT_FASHION_DIR}, the default "
    "when --data-dir is left out.",
    "digits": "digits is bundled with scikit-learn and needs no data folder: leave --data-dir out.",
}


def load_raw(dataset: str, data_dir: str | Path | None = None) -> RawDataset:
    """Read the registered data set ``dataset`` (see :data:`DATASETS`).

    Raises
    ------
    DatasetNotFoundError
        If ``data_dir`` is given but is not an existing folder (for every data set, even
        those that do not read it), or if the data set's files are missing.
    """
    loader = DATASETS.get(dataset)
    if data_dir is not None and not Path(data_dir).is_dir():
        raise DatasetNotFoundError(f"the data folder {str(data_dir)!r} given with --data-dir does not exist or is not "
                                   f"a folder. {_DATA_HINTS.get(dataset, '')}".rstrip())
    return loader(data_dir)
