"""Models by name, with addressable stages; activation capture by module path."""

import pytest
import torch

from kdscope.empirical.hooks import UnknownLayerError, capture, resolve_module
from kdscope.empirical.models import ARCHITECTURES, build_model, count_parameters, layer_paths
from kdscope.empirical.registry import ConfigError


@pytest.mark.parametrize("arch,width,depth", [("cnn", 8, 3), ("cnn", 4, 1), ("resnet", 8, 8), ("resnet", 4, 14)])
@pytest.mark.parametrize("size", [8, 28])
def test_shapes_on_both_image_sizes(arch, width, depth, size):
    model = build_model(arch, width, depth, n_classes=10)
    assert model(torch.zeros(3, 1, size, size)).shape == (3, 10)


def test_parameter_counts_teacher_larger_than_student():
    teacher = count_parameters(build_model("resnet", 16, 8, 10))
    student = count_parameters(build_model("cnn", 8, 3, 10))
    assert 70_000 < teacher < 85_000  # ResNet-8 of DESIGN.md
    assert student < teacher / 5
    assert count_parameters(build_model("cnn", 16, 3, 10)) > student  # width knob


def test_named_stages_are_addressable():
    resnet = build_model("resnet", 8, 14, 10)
    names = dict(resnet.named_modules())
    for path in ("stem", "stage1", "stage2.0.conv1", "stage2.1", "stage3.0.shortcut", "fc"):
        assert path in names
    assert layer_paths(resnet) == ["stem", "stage1.0", "stage1.1", "stage2.0", "stage2.1", "stage3.0", "stage3.1",
                                   "pool"]
    assert layer_paths(build_model("cnn", 8, 3, 10)) == ["stage1", "stage2", "stage3", "pool"]


def test_bad_depth_and_unknown_arch():
    with pytest.raises(ValueError, match="6n\\+2"):
        build_model("resnet", 8, 9, 10)
    with pytest.raises(ConfigError, match="'cnn', 'resnet'"):
        build_model("vgg", 8, 3, 10)
    assert set(ARCHITECTURES.names()) == {"cnn", "resnet"}


def test_capture_returns_module_outputs_and_removes_hooks():
    torch.manual_seed(0)
    model = build_model("resnet", 4, 8, 10).eval()
    x = torch.randn(2, 1, 8, 8)
    with capture(model, ["stem", "stage2.0.conv1"]) as feats:
        model(x)
    assert torch.equal(feats["stem"], model.stem(x))
    assert feats["stage2.0.conv1"].shape[1] == 8
    assert all(not m._forward_hooks for m in model.modules())
    with pytest.raises(RuntimeError), capture(model, ["stem"]):
        raise RuntimeError("boom")
    assert all(not m._forward_hooks for m in model.modules())


def test_unknown_path_names_nearest_modules():
    model = build_model("resnet", 4, 8, 10)
    with pytest.raises(UnknownLayerError, match="stage2.0.conv1"):
        resolve_module(model, "stage2.0.conv")
    with pytest.raises(UnknownLayerError):
        with capture(model, ["stem", "nonexistent"]):
            pass
    assert all(not m._forward_hooks for m in model.modules())
