"""Input guards of the empirical side: model size before building, diverging losses, data folders, names, devices."""

import copy

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from kdscope.cli import app
from kdscope.empirical import models as models_mod
from kdscope.empirical.config import ModelConfig, TrainConfig, parse_experiment
from kdscope.empirical.data import DatasetNotFoundError, load_raw, make_splits
from kdscope.empirical.devices import DeviceError, resolve_device
from kdscope.empirical.limited_labels import LimitedLearner, StudentSchedule, parse_limited_labels, train_student
from kdscope.empirical.models import build_model, count_parameters, estimate_size
from kdscope.empirical.registry import ConfigError
from kdscope.empirical.train import TrainingDivergedError, train_learner

BASE = {
    "name": "tiny",
    "seeds": [0],
    "data": {"dataset": "digits", "train_fraction": 0.3},
    "models": {"big": {"arch": "cnn", "width": 4, "depth": 2}, "small": {"arch": "cnn", "width": 4, "depth": 2}},
    "teacher": {"model": "big"},
    "train": {"epochs": 1, "batch_size": 64},
    "students": [{"name": "alone", "model": "small"}],
}


def _write(tmp_path, raw, name="cfg.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize("arch,width,depth", [("cnn", 8, 3), ("cnn", 5, 6), ("resnet", 16, 8), ("resnet", 4, 14)])
def test_parameter_estimate_is_exact(arch, width, depth):
    params, act = estimate_size(arch, width, depth, n_classes=10, in_channels=1)
    assert params == count_parameters(build_model(arch, width, depth, 10, 1))
    assert act > 0 and estimate_size(arch, width, depth, batch_size=256)[1] == 2 * act


def test_huge_model_is_rejected_from_the_config_before_building(monkeypatch):
    def _never(*a, **k):
        raise AssertionError("the model was built")

    monkeypatch.setattr(models_mod, "SmallCNN", _never)
    raw = copy.deepcopy(BASE)
    raw["models"]["big"] = {"arch": "cnn", "width": 4, "depth": 100}
    with pytest.raises(ConfigError) as info:
        parse_experiment(raw)
    msg = str(info.value)
    assert "'models.big'" in msg and "parameters" in msg and "GiB" in msg and "depth=100" in msg
    with pytest.raises(ConfigError, match="parameters"):
        ModelConfig("cnn", 4, 100)
    with pytest.raises(ValueError, match="parameters"):
        build_model("cnn", 4, 100, 10)
    wide = copy.deepcopy(BASE)
    wide["models"]["big"] = {"arch": "resnet", "width": 4096, "depth": 8}
    with pytest.raises(ConfigError, match="'models.big'"):
        parse_experiment(wide)


def test_activation_limit_uses_the_real_batch_size():
    raw = copy.deepcopy(BASE)
    raw["models"]["big"] = {"arch": "cnn", "width": 256, "depth": 2}  # ~200 KB of floats per image... x batch
    raw["train"]["batch_size"] = 100_000
    with pytest.raises(ConfigError, match="batch of 100000"):
        parse_experiment(raw)


def test_huge_model_cli_exits_2_without_traceback(tmp_path):
    raw = copy.deepcopy(BASE)
    raw["models"]["big"] = {"arch": "cnn", "width": 4, "depth": 100}
    res = CliRunner().invoke(app, ["empirical", "run", str(_write(tmp_path, raw)), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "parameters" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


def test_limited_label_models_are_size_checked():
    raw = {"name": "x", "protocol": "limited_labels", "seeds": [0], "dataset": "digits",
           "teacher": {"model": {"arch": "cnn", "width": 4, "depth": 100}, "train": {"epochs": 1}},
           "student": {"arch": "cnn", "width": 4, "depth": 2}, "schedule": {}, "learners": [{"name": "alone"}]}
    with pytest.raises(ConfigError, match="teacher.model"):
        parse_limited_labels(raw)


@pytest.fixture(scope="module")
def splits():
    return make_splits(load_raw("digits"), train_fraction=0.3, val_fraction=0.0, test_fraction=0.3, theta=0.0,
                       noise="symmetric", seed=0)


def test_diverging_loss_stops_naming_learner_and_epoch(splits):
    torch.set_num_threads(1)
    with pytest.raises(TrainingDivergedError, match=r"learner 'teacher'.* at epoch 1 .*lr 1e\+06"):
        train_learner(ModelConfig("cnn", 4, 2), splits, TrainConfig(epochs=3, batch_size=32, lr=1e6), seed=0,
                      meta={"learner": "teacher"}, progress=False)


def test_diverging_student_of_the_limited_label_protocol(splits):
    torch.manual_seed(0)
    model = build_model("cnn", 4, 2, 10, 1)
    learner = LimitedLearner("kd", xi=0.5, loss="mse")
    z = torch.randn(len(splits.y_train), 10)
    with pytest.raises(TrainingDivergedError, match=r"learner 'kd' \(budget 3/class, seed 0\).* epoch \d+"):
        train_student(learner, model, StudentSchedule(steps=50, batch_size=16, lr=1e6), splits.x_train,
                      splits.y_train, z, None, None, seed=0, label=" (budget 3/class, seed 0)")


def test_diverging_run_exits_3_naming_the_learner(tmp_path):
    raw = copy.deepcopy(BASE)
    raw["train"]["lr"] = 1e6
    res = CliRunner().invoke(app, ["empirical", "run", str(_write(tmp_path, raw)), "--out", str(tmp_path / "o"),
                                   "--no-progress"])
    assert res.exit_code == 3, res.output
    assert "learner 'teacher'" in res.output and "epoch 1" in res.output and "Traceback" not in res.output


@pytest.mark.parametrize("dataset", ["digits", "fashion_mnist"])
def test_missing_data_dir_is_an_error_for_every_dataset(tmp_path, dataset):
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        load_raw(dataset, tmp_path / "nope")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DatasetNotFoundError, match="not a folder"):
        load_raw(dataset, tmp_path / "afile")


def test_missing_data_dir_cli_exits_2_for_digits(tmp_path):
    res = CliRunner().invoke(app, ["empirical", "run", str(_write(tmp_path, BASE)), "--data-dir",
                                   str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "--data-dir" in res.output and "scikit-learn" in res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize("name", ["../../x", "a/b", "..", "/abs", "", "x" * 101, "bad name"])
def test_names_used_as_paths_are_validated(tmp_path, name):
    with pytest.raises(ConfigError, match="'name'"):
        parse_experiment({**BASE, "name": name})
    raw = copy.deepcopy(BASE)
    raw["students"][0]["name"] = name
    with pytest.raises(ConfigError, match=r"'students\[0\].name'"):
        parse_experiment(raw)
    res = CliRunner().invoke(app, ["empirical", "run", str(_write(tmp_path, {**BASE, "name": name})),
                                   "--no-progress"])
    assert res.exit_code == 2 and "'name'" in res.output


def test_good_names_pass():
    for name in ("kl_vs_mse", "noise=0.2", "run-1.b"):
        assert parse_experiment({**BASE, "name": name}).name == name


def test_device_option():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(DeviceError, match="'device'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="no CUDA GPU"):
            resolve_device("cuda")


def test_bad_device_cli_exits_2(tmp_path):
    res = CliRunner().invoke(app, ["empirical", "run", str(_write(tmp_path, BASE)), "--device", "tpu"])
    assert res.exit_code == 2 and "'device'" in res.output


def test_estimate_handles_astronomic_configs_without_overflow():
    params, act = estimate_size("cnn", 4, 100)
    assert params > 10**50 and act > 10**30 and isinstance(params, int)
    assert np.isfinite(float(estimate_size("resnet", 16, 8)[1]))


def test_missing_data_dir_is_an_error_in_bridge_too(tmp_path):
    res = CliRunner().invoke(app, ["empirical", "bridge", "--quick", "--data", "digits", "--classes", "3,8",
                                   "--data-dir", str(tmp_path / "nope"), "--out", str(tmp_path / "o"),
                                   "--no-progress"])
    assert res.exit_code == 2 and "--data-dir" in res.output and "Traceback" not in res.output
