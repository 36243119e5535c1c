"""The limited-label protocol end to end on digits: stored teacher, budgets, paired statistics, CLI, figure.

No test asserts that distillation beats training alone: only that training works and that
every number is recorded with its interval.
"""

import copy
import json

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from typer.testing import CliRunner

from kdscope.cli import app
from kdscope.empirical.data import load_digits
from kdscope.empirical.limited_labels import (
    SUMMARY_COLUMNS,
    format_limited_summary,
    parse_limited_labels,
    read_settings,
    run_limited_labels,
    summarize_limited,
)
from kdscope.empirical.limited_labels.protocol import budget_indices, labelled_and_transfer
from kdscope.empirical.registry import ConfigError
from kdscope.figures.limited_labels import plot_accuracy_vs_budget

matplotlib.use("Agg")

TINY = {
    "name": "tiny_budget",
    "protocol": "limited_labels",
    "seeds": [0, 1, 2],
    "dataset": "digits",
    "budgets": [3, 10, "all"],
    "transfer_size": 300,
    "teacher": {"model": {"arch": "cnn", "width": 8, "depth": 2}, "train": {"epochs": 2, "batch_size": 64}},
    "student": {"arch": "cnn", "width": 4, "depth": 2},
    "schedule": {"steps": 12, "batch_size": 16, "transfer_batch_size": 16},
    "learners": [
        {"name": "alone"},
        {"name": "kd_kl_tau4", "xi": 0.9, "loss": "kl", "tau": 4},
        {"name": "transfer_mse", "xi": 0.9, "loss": "mse", "transfer": True},
    ],
    "quick": {"seeds": [0, 1]},
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("ll")
    cfg = parse_limited_labels(TINY)
    res = run_limited_labels(cfg, root / "out", teacher_root=root / "teachers", echo=None)
    return root, cfg, res


def test_budgets_are_nested_and_balanced():
    y = np.repeat(np.arange(4), 20)
    order = budget_indices(y, seed=3)
    lab5, rest5 = labelled_and_transfer(order, 5, None, seed=3)
    lab10, _ = labelled_and_transfer(order, 10, 7, seed=3)
    assert np.bincount(y[lab5]).tolist() == [5, 5, 5, 5] and set(lab5) <= set(lab10)
    assert not set(lab5) & set(rest5) and len(lab5) + len(rest5) == len(y)
    assert len(labelled_and_transfer(order, 10, 7, seed=3)[1]) == 7
    other, _ = labelled_and_transfer(budget_indices(y, seed=4), 5, None, seed=4)
    assert not np.array_equal(other, lab5)


def test_run_writes_tables_with_the_required_columns(run):
    root, cfg, res = run
    out = root / "out"
    for name in ("config.yaml", "run.json", "summary.csv", "summary.parquet", "per_seed.csv", "per_seed.parquet"):
        assert (out / name).is_file(), name
    summary = pd.read_csv(out / "summary.csv")
    assert set(SUMMARY_COLUMNS) <= set(summary.columns)
    assert len(summary) == 3 * 3 and (summary["n_seeds"] == 3).all()
    y_pool = load_digits().y_pool
    assert sorted(set(summary["budget"])) == [3, 10, int(np.bincount(y_pool).max())]
    ps = res.per_seed
    assert (ps.loc[ps["budget_label"] == "all", "n_labelled"] == len(y_pool)).all()
    assert set(summary.loc[summary["budget"] == summary["budget"].max(), "budget_label"]) == {"all"}
    assert ((summary["acc_mean"] > 0) & (summary["acc_mean"] <= 1)).all()
    assert (summary["acc_ci_low"] <= summary["acc_mean"]).all()
    assert (summary["acc_mean"] <= summary["acc_ci_high"]).all()
    settings = read_settings(out / "summary.parquet")
    assert settings["config"]["name"] == "tiny_budget" and settings["teacher_key"] == res.teacher_key


def test_paired_differences_match_the_per_seed_table(run):
    _, _, res = run
    ps = res.per_seed
    s = res.summary.set_index(["learner", "budget"])
    for budget in (3, 10):
        alone = ps[(ps["learner"] == "alone") & (ps["budget"] == budget)].set_index("seed")["test_acc"]
        kd = ps[(ps["learner"] == "kd_kl_tau4") & (ps["budget"] == budget)].set_index("seed")["test_acc"]
        d = (kd - alone.loc[kd.index]).to_numpy()
        row = s.loc[("kd_kl_tau4", budget)]
        assert row["delta_vs_alone"] == pytest.approx(d.mean())
        assert row["delta_ci_low"] <= row["delta_vs_alone"] <= row["delta_ci_high"]
        assert s.loc[("alone", budget), "delta_vs_alone"] == 0.0
    # every learner of one (budget, seed) saw the same labelled images
    assert ps.groupby(["budget", "seed"])["n_labelled"].nunique().eq(1).all()
    tr = ps[ps["learner"] == "transfer_mse"]
    assert (tr.loc[tr["budget_label"] != "all", "n_transfer"] == 300).all()
    assert (tr.loc[tr["budget_label"] == "all", "n_transfer"] == 0).all()  # nothing left to transfer
    assert (ps["steps"] == 12).all()  # budget-matched schedule


def test_rerun_reuses_cells_and_teacher(run, monkeypatch):
    root, cfg, res = run
    import kdscope.empirical.limited_labels.protocol as protocol

    def _no_training(*a, **k):
        raise AssertionError("a finished cell was retrained")

    monkeypatch.setattr(protocol, "train_student", _no_training)
    again = run_limited_labels(cfg, root / "out", teacher_root=root / "teachers", echo=None)
    pd.testing.assert_frame_equal(again.summary, res.summary)


def test_printed_summary_says_when_learners_cannot_be_separated():
    rows = []
    for seed, (a, k) in enumerate([(0.50, 0.60), (0.55, 0.66), (0.52, 0.61)]):
        rows += [{"condition": "base", "learner": "alone", "budget": 10, "budget_label": "10", "seed": seed,
                  "test_acc": a, "agreement": 0.5},
                 {"condition": "base", "learner": "kd", "budget": 10, "budget_label": "10", "seed": seed,
                  "test_acc": k, "agreement": 0.6},
                 {"condition": "base", "learner": "alone", "budget": 100, "budget_label": "100", "seed": seed,
                  "test_acc": 0.8 + 0.01 * seed, "agreement": 0.8},
                 {"condition": "base", "learner": "kd", "budget": 100, "budget_label": "100", "seed": seed,
                  "test_acc": 0.8 + 0.01 * ((seed + 1) % 3), "agreement": 0.8}]
    summary = summarize_limited(pd.DataFrame(rows))
    text = format_limited_summary(summary, teacher_acc=0.9)
    closing = {line.split(":")[0]: line for line in text.splitlines() if line.startswith(("distilled", "budgets"))}
    assert closing["distilled above alone (95% CI of the paired difference > 0)"].endswith(": kd@10")
    assert closing["distilled below alone (95% CI < 0)"].endswith(": none")
    assert "too small to separate" in text and text.rstrip().endswith("100")
    kd10 = summary[(summary["learner"] == "kd") & (summary["budget"] == 10)].iloc[0]
    assert kd10["delta_vs_alone"] == pytest.approx(0.1) and kd10["verdict"] == "distilled above alone"


def test_config_errors_name_the_field():
    bad = copy.deepcopy(TINY)
    bad["budgets"] = [10, 0]
    with pytest.raises(ConfigError, match="'budgets'"):
        parse_limited_labels(bad)
    bad = copy.deepcopy(TINY)
    bad["learners"] = [{"name": "kd", "xi": 0.5}]
    with pytest.raises(ConfigError, match="xi: 0"):
        parse_limited_labels(bad)
    bad = copy.deepcopy(TINY)
    bad["learners"][2]["xi"] = 0.0
    with pytest.raises(ConfigError, match="'transfer' is true"):
        parse_limited_labels(bad)
    bad = copy.deepcopy(TINY)
    bad["schedule"]["steps"] = 0
    with pytest.raises(ConfigError, match="schedule.steps"):
        parse_limited_labels(bad)
    bad = copy.deepcopy(TINY)
    bad["name"] = "../../x"
    with pytest.raises(ConfigError, match="'name'"):
        parse_limited_labels(bad)
    assert parse_limited_labels(TINY, quick=True).seeds == (0, 1)


def test_budget_beyond_the_pool_is_refused(tmp_path):
    cfg = parse_limited_labels({**TINY, "budgets": [10, 5000]})
    with pytest.raises(ValueError, match="5000"):
        run_limited_labels(cfg, tmp_path / "o", teacher_root=tmp_path / "t", echo=None)
    assert not (tmp_path / "t").exists()  # refused before training the teacher


def test_cli_limited_labels_end_to_end(run, tmp_path):
    root, _, _ = run
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    res = CliRunner().invoke(app, ["empirical", "run", str(path), "--quick", "--out", str(tmp_path / "o"),
                                   "--teacher-store", str(root / "teachers"), "--no-progress", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert "from the store" in res.output  # the module's teacher is reused
    assert "acc - alone" in res.output and "distilled above alone" in res.output
    assert (tmp_path / "o" / "figure_accuracy_vs_budget.png").is_file()
    assert (tmp_path / "o" / "figure_accuracy_vs_budget.pdf").is_file()
    assert json.loads((tmp_path / "o" / "run.json").read_text())["device"] == "cpu"


def test_figure_structure(run):
    _, _, res = run
    fig = plot_accuracy_vs_budget(res.summary, teacher_acc=0.9)
    ax_acc, ax_gain = fig.axes
    legend = [t.get_text() for t in ax_acc.get_legend().get_texts()]
    assert sorted(legend) == ["alone", "kd_kl_tau4", "teacher", "transfer_mse"]
    assert len(ax_gain.containers) == 2  # one error-bar series per distilled learner
    ticks = [t.get_text() for t in ax_acc.get_xticklabels()]
    assert ticks[:2] == ["3", "10"] and ticks[2].startswith("all (")
    assert "labelled images per class" in ax_acc.get_xlabel() and "95% CI" in ax_acc.get_ylabel()
    with pytest.raises(ValueError, match="lacks columns"):
        plot_accuracy_vs_budget(res.summary.drop(columns="delta_ci_low"))


@pytest.mark.parametrize("quick", [False, True])
def test_shipped_limited_labels_file_loads(quick):
    from pathlib import Path

    from kdscope.empirical.limited_labels import load_limited_labels

    cfg = load_limited_labels(Path(__file__).resolve().parents[2] / "experiments" / "limited_labels.yaml", quick=quick)
    assert cfg.name == "limited_labels" and cfg.dataset == "fashion_mnist" and len(cfg.seeds) >= 5
    assert cfg.budgets[0] == 10 and cfg.reference == "alone"
    assert any(x.transfer for x in cfg.learners) and any(x.xi > 0 and not x.transfer for x in cfg.learners)
    if not quick:
        assert any(x.loss == "mse" and x.xi > 0 for x in cfg.learners)
        assert cfg.budgets == (10, 30, 100, 300, 1000, "all")
        assert {x.tau for x in cfg.learners if x.loss == "kl" and x.xi > 0} >= {1.0, 4.0}


def test_quick_configs_share_one_stored_teacher():
    from pathlib import Path

    from kdscope.empirical.config import load_experiment
    from kdscope.empirical.limited_labels import load_limited_labels
    from kdscope.empirical.teacher_store import TeacherSpec

    folder = Path(__file__).resolve().parents[2] / "experiments"
    ll = load_limited_labels(folder / "limited_labels.yaml", quick=True)
    key = TeacherSpec(ll.dataset, ll.teacher.model, ll.teacher.train, seed=ll.teacher.seed).key
    for name in ("kl_vs_mse", "aggregation"):
        cfg = load_experiment(folder / f"{name}.yaml", quick=True)
        assert cfg.teacher.pretrained
        spec = TeacherSpec(cfg.data.dataset, cfg.models[cfg.teacher.model], cfg.train_of(cfg.teacher),
                           seed=cfg.teacher.seed, theta=cfg.data.theta, noise=cfg.data.noise)
        assert spec.key == key, name
