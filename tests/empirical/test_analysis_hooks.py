"""Forward hooks by dotted module path: shapes, pooling, clean-up, errors, cache."""

import numpy as np
import pytest
import torch
from torch import nn

from kdscope.empirical.analysis.hooks import (
    UnknownLayerError,
    capture,
    extract_features,
    model_state_hash,
    pool,
    resolve_module,
)

torch.set_num_threads(1)


class SmallCNN(nn.Module):
    def __init__(self, n_classes: int = 3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(),
            nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(8 * 4 * 4, 6), nn.ReLU())
        self.fc = nn.Linear(6, n_classes)

    def forward(self, x):
        return self.fc(self.head(self.features(x)))


@pytest.fixture
def model():
    torch.manual_seed(0)
    return SmallCNN()


@pytest.fixture
def x():
    return torch.randn(10, 1, 8, 8, generator=torch.Generator().manual_seed(1))


def _n_hooks(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_shapes_and_gap(model, x):
    with capture(model, ["features.0", "features.3", "head.1", "fc"]) as cap:
        model(x)
    assert cap.last("features.0").shape == (10, 4)
    assert cap.last("features.3").shape == (10, 8)
    assert cap.last("head.1").shape == (10, 6)
    assert cap.last("fc").shape == (10, 3)
    raw = model.features[0](x)
    torch.testing.assert_close(cap.last("features.0"), raw.mean(dim=(2, 3)))


def test_pool_modes(model, x):
    with capture(model, ["features.0"], how="none") as cap:
        model(x)
    assert cap.last("features.0").shape == (10, 4, 8, 8)
    with capture(model, ["features.0"], how="flatten") as cap:
        model(x)
    assert cap.last("features.0").shape == (10, 4 * 8 * 8)
    assert pool(torch.ones(2, 3, 5), "gap").shape == (2, 3)
    with pytest.raises(ValueError, match="'how'"):
        pool(torch.ones(2, 3), "max")


def test_inputs_mode_gives_penultimate(model, x):
    with capture(model, ["fc"], inputs=True) as cap, torch.no_grad():
        model(x)
        expected = model.head(model.features(x))
    torch.testing.assert_close(cap.last("fc"), expected)


def test_hooks_removed_on_exit_and_on_error(model, x):
    assert _n_hooks(model) == 0
    with capture(model, ["features.0", "fc"]):
        assert _n_hooks(model) == 2
    assert _n_hooks(model) == 0
    with pytest.raises(RuntimeError, match="boom"):
        with capture(model, ["features.0", "fc"], inputs=True):
            assert _n_hooks(model) == 2
            raise RuntimeError("boom")
    assert _n_hooks(model) == 0


def test_records_every_forward_call(model, x):
    with capture(model, ["fc"]) as cap:
        model(x)
        model(x[:3])
    assert [t.shape[0] for t in cap["fc"]] == [10, 3]
    assert cap.concat("fc").shape == (13, 3)


def test_unknown_path_names_nearest_modules(model):
    with pytest.raises(UnknownLayerError) as err:
        with capture(model, ["fc", "featurs.3"]):
            pass
    msg = str(err.value)
    assert "'featurs.3'" in msg and "'features.3'" in msg
    assert _n_hooks(model) == 0  # nothing attached before the failure
    with pytest.raises(UnknownLayerError, match="no close match"):
        resolve_module(model, "zzzzzzzzzz")
    with pytest.raises(UnknownLayerError):
        resolve_module(model, "")


def test_extract_features_tensor_and_loader_agree(model, x):
    model.train()
    y = torch.arange(10) % 3
    a = extract_features(model, ["features.3", "fc"], x, batch_size=4)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=3)
    b, labels = extract_features(model, ["features.3", "fc"], loader, return_labels=True)
    assert model.training  # flag restored
    assert list(a) == ["features.3", "fc"]
    assert a["features.3"].shape == (10, 8) and a["fc"].dtype == np.float32
    np.testing.assert_allclose(a["fc"], b["fc"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(labels, y.numpy())
    with torch.no_grad():
        np.testing.assert_allclose(a["fc"], model(x).numpy(), rtol=1e-5, atol=1e-6)
    assert _n_hooks(model) == 0


def test_cache_hit_skips_forward_and_changed_weights_miss(model, x, tmp_path):
    first = extract_features(model, ["features.3", "fc"], x, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 2

    def forbidden(*_):
        raise AssertionError("forward ran despite a cache hit")

    h = model_state_hash(model)
    model.forward = forbidden
    again = extract_features(model, ["features.3", "fc"], x, cache_dir=tmp_path)
    np.testing.assert_array_equal(first["fc"], again["fc"])
    del model.forward
    with torch.no_grad():
        model.fc.weight.add_(1.0)
    assert model_state_hash(model) != h
    changed = extract_features(model, ["fc"], x, cache_dir=tmp_path)
    assert not np.allclose(changed["fc"], first["fc"])
    assert len(list(tmp_path.glob("*.npz"))) == 3
