"""Data: IDX reading, the real Fashion-MNIST files, subsets, label noise, splits."""

import gzip
import math
import struct

import numpy as np
import pytest
import torch

from kdscope.empirical.data import (
    DEFAULT_FASHION_DIR,
    FASHION_FILES,
    DatasetNotFoundError,
    add_label_noise,
    class_balanced_indices,
    load_fashion_mnist,
    load_raw,
    make_splits,
    read_idx,
)


def _write_idx(path, array, compress):
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(path, "wb") as fh:
            fh.write(payload)
    else:
        path.write_bytes(payload)


def _fake_fashion(folder, compress, n=20):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for stem in FASHION_FILES:
        arr = rng.integers(0, 256, (n, 28, 28)) if "images" in stem else np.arange(n) % 10
        _write_idx(folder / (stem + (".gz" if compress else "")), np.asarray(arr), compress)


def test_read_idx_round_trip_and_bad_magic(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "a.gz", arr, True)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), arr)
    (tmp_path / "bad").write_bytes(b"\x00\x00\x0d\x01\x00\x00\x00\x01\x00")
    with pytest.raises(ValueError, match="not a uint8 IDX"):
        read_idx(tmp_path / "bad")


def test_torchvision_layout_uncompressed_is_found(tmp_path):
    _fake_fashion(tmp_path / "FashionMNIST" / "raw", compress=False)
    raw = load_fashion_mnist(tmp_path)
    assert raw.x_pool.shape == (20, 1, 28, 28) and raw.x_pool.dtype == np.float32
    assert 0.0 <= raw.x_pool.min() and raw.x_pool.max() <= 1.0
    assert list(raw.y_test[:3]) == [0, 1, 2]


def test_missing_files_error_names_files_and_package(tmp_path):
    _fake_fashion(tmp_path, compress=True)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError) as info:
        load_fashion_mnist(tmp_path)
    msg = str(info.value)
    assert "t10k-labels-idx1-ubyte.gz" in msg and "train-images" not in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "--data-dir" in msg


@pytest.mark.skipif(
    not all((DEFAULT_FASHION_DIR / f"{s}.gz").is_file() for s in FASHION_FILES),
    reason=f"Debian's dataset-fashion-mnist files are absent from {DEFAULT_FASHION_DIR} "
    "(apt-get install dataset-fashion-mnist)",
)
def test_real_fashion_mnist_files():
    raw = load_fashion_mnist()
    assert raw.x_pool.shape == (60000, 1, 28, 28) and raw.x_test.shape == (10000, 1, 28, 28)
    assert np.array_equal(np.bincount(raw.y_pool), np.full(10, 6000))
    assert np.array_equal(np.bincount(raw.y_test), np.full(10, 1000))
    assert 0.2 < raw.x_pool[:1000].mean() < 0.4  # mostly dark background, not garbage


def test_class_balanced_indices(rng):
    y = np.repeat(np.arange(4), [10, 20, 30, 40])
    idx = class_balanced_indices(y, 0.5, rng)
    assert np.array_equal(np.bincount(y[idx]), [5, 10, 15, 20])
    assert len(np.unique(idx)) == len(idx)
    assert len(class_balanced_indices(y, 0.01, rng)) == 4  # at least one per class


@pytest.mark.parametrize("theta", [0.2, 0.4])
def test_symmetric_noise_rate_and_targets(rng, theta):
    n, c = 20000, 10
    y = rng.integers(0, c, n)
    noisy = add_label_noise(y, theta, "symmetric", c, rng)
    flipped = noisy != y
    se = math.sqrt(theta * (1 - theta) / n)
    assert abs(flipped.mean() - theta) < 4 * se
    # flipped labels spread uniformly over the other classes: offsets 1..9 each ~1/9
    offsets = np.bincount((noisy[flipped] - y[flipped]) % c, minlength=c)
    assert offsets[0] == 0
    frac = offsets[1:] / flipped.sum()
    assert np.all(np.abs(frac - 1 / 9) < 4 * math.sqrt((1 / 9) * (8 / 9) / flipped.sum()))


def test_class_dependent_noise_maps_to_next_class(rng):
    y = rng.integers(0, 10, 5000)
    noisy = add_label_noise(y, 0.3, "class_dependent", 10, rng)
    flipped = noisy != y
    assert np.all(noisy[flipped] == (y[flipped] + 1) % 10)
    assert 0.25 < flipped.mean() < 0.35
    with pytest.raises(ValueError, match="'noise'"):
        add_label_noise(y, 0.3, "pairwise", 10, rng)


def test_make_splits_on_digits():
    raw = load_raw("digits")
    kw = dict(train_fraction=0.5, val_fraction=0.1, test_fraction=1.0, theta=0.2, noise="symmetric")
    s = make_splits(raw, seed=3, **kw)
    assert not set(s.idx_train) & set(s.idx_val)
    assert abs(float(s.x_train.mean())) < 1e-4 and abs(float(s.x_train.std()) - 1) < 1e-3
    assert s.x_train.dtype == torch.float32 and s.x_train.shape[1:] == (1, 8, 8)
    assert np.array_equal(s.y_train_clean.numpy(), raw.y_pool[s.idx_train])
    assert 0.1 < float((s.y_train != s.y_train_clean).float().mean()) < 0.3
    assert np.array_equal(s.y_val.numpy(), raw.y_pool[s.idx_val])  # validation stays clean
    rest = np.setdiff1d(np.arange(len(raw.y_pool)), s.idx_val)
    expected = np.round(0.5 * np.bincount(raw.y_pool[rest])).astype(int)
    assert np.array_equal(np.bincount(s.y_train_clean.numpy()), expected)  # half of every class
    again = make_splits(raw, seed=3, **kw)
    assert np.array_equal(again.idx_train, s.idx_train) and torch.equal(again.y_train, s.y_train)
    other = make_splits(raw, seed=4, **kw)
    assert not np.array_equal(other.idx_train, s.idx_train)
