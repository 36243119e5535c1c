"""Experiment configs: the shipped files load, bad configs are rejected naming the field."""

import copy
import dataclasses
import math
from pathlib import Path

import pytest
import yaml

from kdscope.empirical.config import (
    DataConfig,
    ExperimentConfig,
    FeaturePathConfig,
    ModelConfig,
    StudentConfig,
    TrainConfig,
    ValidatedConfig,
    load_experiment,
    parse_experiment,
    to_dict,
)
from kdscope.empirical.registry import ConfigError

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
NAMES = ("kl_vs_mse", "xi_sweep", "aggregation", "chain", "label_noise")

BASE = {
    "name": "tiny",
    "seeds": [0],
    "data": {"dataset": "digits"},
    "models": {"big": {"arch": "cnn", "width": 8, "depth": 2}, "small": {"arch": "cnn", "width": 4, "depth": 2}},
    "teacher": {"model": "big"},
    "train": {"epochs": 1},
    "students": [
        {"name": "alone", "model": "small"},
        {"name": "kd", "model": "small", "xi": 0.5, "loss": "kl", "tau": 2,
         "features": [{"kind": "hint", "student": "stage2", "teacher": "stage2"}]},
    ],
}


def bad(**edits):
    raw = copy.deepcopy(BASE)
    for path, value in edits.items():
        node = raw
        keys = path.split("/")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        node[keys[-1]] = value
    return raw


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("quick", [False, True])
def test_shipped_experiments_load(name, quick):
    cfg = load_experiment(EXPERIMENTS / f"{name}.yaml", quick=quick)
    assert cfg.name == name
    assert dataclasses.is_dataclass(cfg) and cfg.data.dataset == "fashion_mnist"
    if quick:
        assert cfg.data.train_fraction <= 0.1
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.name = "other"


def test_kl_vs_mse_has_the_temperatures_and_references():
    cfg = load_experiment(EXPERIMENTS / "kl_vs_mse.yaml")
    taus = {s.tau for s in cfg.students if s.loss == "kl" and s.xi > 0}
    assert taus == {1.0, 3.0, 5.0, 20.0, math.inf}
    assert any(s.loss == "mse" and s.xi > 0 for s in cfg.students)
    assert any(s.xi == 0 for s in cfg.students)
    assert cfg.figure == "accuracy_vs_tau"


def test_chain_and_grid():
    chain = load_experiment(EXPERIMENTS / "chain.yaml")
    assert [s.teacher for s in chain.students if s.xi > 0] == ["teacher", "gen1", "gen2"]
    noise = load_experiment(EXPERIMENTS / "label_noise.yaml")
    assert [d.theta for _, d in noise.conditions()] == [0.0, 0.2, 0.4]


def test_round_trip_through_yaml():
    cfg = parse_experiment(BASE)
    again = parse_experiment(yaml.safe_load(yaml.safe_dump(to_dict(cfg))))
    assert again == cfg
    assert isinstance(cfg.students[1].features[0], FeaturePathConfig)
    assert cfg.students[1].tau == 2.0 and isinstance(cfg.students[1].tau, float)


@pytest.mark.parametrize("text", ["inf", ".inf"])
def test_infinite_tau_spellings(text):
    cfg = parse_experiment(yaml.safe_load(yaml.safe_dump(bad(**{"students/1/tau": text}))))
    assert cfg.students[1].tau == math.inf


@pytest.mark.parametrize(
    "edits,field",
    [
        ({"data/trian_fraction": 0.5}, "data.trian_fraction"),
        ({"students/1/tua": 3}, "students[1].tua"),
        ({"data/train_fraction": 1.5}, "data.train_fraction"),
        ({"data/theta": -0.1}, "data.theta"),
        ({"students/1/tau": 0}, "students[1].tau"),
        ({"students/1/xi": 1.2}, "students[1].xi"),
        ({"students/1/loss": "KL"}, "students[1].loss"),
        ({"students/1/aggregator": "adaptive"}, "students[1].aggregator"),
        ({"students/1/features/0/kind": "fitnet"}, "students[1].features[0].kind"),
        ({"students/1/features/0/student": "stage7"}, "students[1].features[0].student"),
        ({"students/1/teacher": "nobody"}, "students[1].teacher"),
        ({"students/1/name": "alone"}, "students[1].name"),
        ({"students/1/model": "huge"}, "students[1].model"),
        ({"teacher/model": "huge"}, "teacher.model"),
        ({"train/epochs": 0}, "train.epochs"),
        ({"train/optimizer": "lbfgs"}, "train.optimizer"),
        ({"models/big/arch": "vgg"}, "models.big.arch"),
        ({"models/big/width": 0}, "models.big.width"),
        ({"seeds": []}, "seeds"),
        ({"grid": {"data.thta": [0.1]}}, "grid"),
        ({"grid": {"data.theta": [0.1, 2.0]}}, "grid.data.theta"),
    ],
)
def test_bad_config_names_the_field(edits, field):
    with pytest.raises(ConfigError) as info:
        parse_experiment(bad(**edits))
    assert f"'{field}'" in str(info.value) or f"{field!r}" in str(info.value) or f"['{field}']" in str(info.value)


def test_unknown_registry_name_lists_known_ones():
    with pytest.raises(ConfigError, match=r"\{'kl', 'mse'\}"):
        parse_experiment(bad(**{"students/1/loss": "kld"}))
    with pytest.raises(ConfigError, match=r"\{'fixed', 'uncertainty', 'gradnorm'\}"):
        parse_experiment(bad(**{"students/1/aggregator": "adaptive"}))


def test_missing_key_and_broken_quick_block_rejected():
    raw = copy.deepcopy(BASE)
    del raw["teacher"]
    with pytest.raises(ConfigError, match="'teacher'"):
        parse_experiment(raw)
    raw = copy.deepcopy(BASE) | {"quick": {"data": {"train_fractoin": 0.1}}}
    with pytest.raises(ConfigError, match="data.train_fractoin"):
        parse_experiment(raw, quick=False)  # the quick block is validated on every load
    with pytest.raises(ConfigError, match="does not exist"):
        load_experiment(EXPERIMENTS / "no_such_file.yaml")


@pytest.mark.parametrize("cls", [DataConfig, ModelConfig, TrainConfig, StudentConfig, FeaturePathConfig])
def test_constraint_table_rejects_out_of_range_values(cls):
    """Walk each table: an out-of-range value of every constrained field is rejected by name."""
    valid = {
        DataConfig: {}, ModelConfig: {"arch": "cnn", "width": 4, "depth": 2}, TrainConfig: {},
        StudentConfig: {"name": "s", "model": "m"}, FeaturePathConfig: {"kind": "hint", "student": "a", "teacher": "b"},
    }[cls]
    cls(**valid)
    assert cls.CONSTRAINTS
    for name, constraint in cls.CONSTRAINTS.items():
        with pytest.raises(ConfigError, match=f"'{name}'"):
            cls(**{**valid, name: constraint.example_bad()})


def test_experiment_dataclass_direct_construction_checks_cross_fields():
    cfg = parse_experiment(BASE)
    with pytest.raises(ConfigError, match="'teacher.model'"):
        dataclasses.replace(cfg, teacher=dataclasses.replace(cfg.teacher, model="nope"))
    assert isinstance(cfg, ExperimentConfig)


def test_validated_config_reports_every_problem_at_once():
    """The public base: one ConfigError naming the class and every bad field, cross-field rules included."""
    from kdscope.theory.constraints import Interval

    @dataclasses.dataclass(frozen=True)
    class Toy(ValidatedConfig):
        a: float = 0.5
        b: int = 1
        CONSTRAINTS = {"a": Interval(0.0, 1.0), "b": Interval(1, float("inf"), integer=True)}

        def _cross_checks(self):
            return [f"'a'={self.a} and 'b'={self.b} clash."] if self.a == 1.0 and self.b == 1 else []

    Toy()
    with pytest.raises(ConfigError) as info:
        Toy(a=2.0, b=0)
    message = str(info.value)
    assert message.startswith("Toy: ") and "'a'" in message and "'b'" in message
    with pytest.raises(ConfigError, match="clash"):
        Toy(a=1.0, b=1)
    assert all(issubclass(c, ValidatedConfig) for c in (DataConfig, ModelConfig, TrainConfig, ExperimentConfig))
