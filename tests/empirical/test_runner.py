"""Experiments end to end on digits: run folder, summary, reading back, CLI, figure."""

import json

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from typer.testing import CliRunner

from kdscope.cli import app
from kdscope.empirical.config import parse_experiment
from kdscope.empirical.metrics import accuracy, predict_logits
from kdscope.empirical.runner import format_summary, load_analysis_input, run_experiment, summarize
from kdscope.empirical.store import list_models, load_logs, load_model, load_run_config, load_splits
from kdscope.figures.empirical import plot_accuracy_vs_tau

matplotlib.use("Agg")

TINY = {
    "name": "tiny_tau",
    "figure": "accuracy_vs_tau",
    "seeds": [0, 1],
    "data": {"dataset": "digits", "train_fraction": 0.5, "val_fraction": 0.1},
    "models": {"big": {"arch": "cnn", "width": 16, "depth": 3}, "small": {"arch": "cnn", "width": 4, "depth": 2}},
    "teacher": {"model": "big", "train": {"epochs": 4, "batch_size": 64}},
    "train": {"epochs": 2, "batch_size": 64},
    "students": [
        {"name": "alone", "model": "small"},
        {"name": "kl2", "model": "small", "xi": 0.9, "loss": "kl", "tau": 2},
        {"name": "klinf", "model": "small", "xi": 0.9, "loss": "kl", "tau": ".inf"},
        {"name": "mse", "model": "small", "xi": 0.9, "loss": "mse"},
        {"name": "gen2", "model": "small", "teacher": "kl2", "xi": 0.9, "loss": "kl", "tau": 2},
    ],
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("run")
    result = run_experiment(parse_experiment(TINY), out, progress=False, echo=None)
    return out, result


def test_run_folder_layout(run):
    out, result = run
    for name in ("config.yaml", "run.json", "summary.parquet", "summary.csv", "logs.parquet"):
        assert (out / name).is_file(), name
    meta = json.loads((out / "run.json").read_text())
    assert meta["kdscope_version"] and meta["seeds"] == [0, 1] and meta["wall_seconds"] > 0
    assert load_run_config(out) == parse_experiment(TINY)
    for seed in (0, 1):
        assert (out / "runs" / "base" / f"seed{seed}" / "split.npz").is_file()
        for learner in ("teacher", "alone", "kl2", "klinf", "mse", "gen2"):
            folder = out / "runs" / "base" / f"seed{seed}" / learner
            assert {"learner.json", "log.parquet", "model.pt", "model_best.pt"} <= {p.name for p in folder.iterdir()}


def test_summary_has_mean_and_std_over_seeds(run):
    out, result = run
    s = result.summary
    assert list(s["learner"]) == ["teacher", "alone", "kl2", "klinf", "mse", "gen2"]
    assert (s["n_seeds"] == 2).all()
    logs = result.logs
    for _, row in s.iterrows():
        last = logs[(logs["learner"] == row["learner"])].groupby("seed")["test_acc"].last()
        assert row["test_acc_last_mean"] == pytest.approx(last.mean())
        assert row["test_acc_last_std"] == pytest.approx(last.std(ddof=1))
    assert s.set_index("learner").loc["gen2", "teacher_of"] == "kl2"
    assert np.isinf(s.set_index("learner").loc["klinf", "tau"])
    assert s.set_index("learner").loc["teacher", "test_acc_best_mean"] > 0.5  # far above chance 0.1
    pd.testing.assert_frame_equal(pd.read_parquet(out / "summary.parquet"), s)


def test_models_and_splits_load_back(run):
    out, result = run
    table = list_models(out)
    assert len(table) == 12 and set(table["role"]) == {"teacher", "student"}
    splits = load_splits(out, seed=1)
    logs = load_logs(out)
    for learner in ("teacher", "kl2"):
        net = load_model(out, learner, seed=1)
        assert not net.training
        acc = accuracy(predict_logits(net, splits.x_test), splits.y_test)
        logged = logs[(logs["learner"] == learner) & (logs["seed"] == 1)]["test_acc"].iloc[-1]
        assert acc == pytest.approx(logged, abs=1e-6)
    with pytest.raises(FileNotFoundError, match="known learners"):
        load_model(out, "nobody", seed=0)


def test_analysis_input_from_a_run(run):
    out, _ = run
    inp = load_analysis_input(out, max_n=50, seed=0)
    assert set(inp.models) == {"teacher", "alone", "kl2", "klinf", "mse", "gen2"}
    assert inp.teacher_name == "teacher" and inp.X.shape == (50, 1, 8, 8) and inp.y.shape == (50,)
    assert inp.layers["teacher"] == ["stage1", "stage2", "stage3", "pool"]


def test_rerun_resumes_without_retraining(run):
    out, result = run
    again = run_experiment(parse_experiment(TINY), out, progress=False, echo=None)
    cols = [c for c in result.summary.columns]
    pd.testing.assert_frame_equal(again.summary[cols], result.summary[cols])


def test_cli_runs_and_draws_the_figure(tmp_path):
    cfg = dict(TINY, seeds=[0], students=TINY["students"][:4])
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = CliRunner().invoke(app, ["empirical", "run", str(path), "--out", str(tmp_path / "out"), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "figure_accuracy_vs_tau.png").is_file()
    assert "test acc" in res.output and "kl2" in res.output


def test_cli_bad_config_exits_2_naming_the_field(tmp_path):
    cfg = json.loads(json.dumps(TINY))
    cfg["students"][1]["tau"] = -1
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = CliRunner().invoke(app, ["empirical", "run", str(path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "students[1].tau" in res.output and "Traceback" not in res.output


def test_cli_missing_data_exits_2_naming_files(tmp_path):
    cfg = dict(TINY, data={"dataset": "fashion_mnist"})
    path = tmp_path / "fm.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = CliRunner().invoke(app, ["empirical", "run", str(path), "--data-dir", str(tmp_path / "empty"),
                                   "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "train-images-idx3-ubyte.gz" in res.output and "apt-get install dataset-fashion-mnist" in res.output


def test_figure_structure():
    rows = [
        {"learner": "teacher", "role": "teacher", "loss": "ce", "tau": np.nan, "xi": 0.0, "m_mean": 0.9, "m_std": 0.01},
        {"learner": "alone", "role": "student", "loss": "ce", "tau": np.nan, "xi": 0.0, "m_mean": 0.8, "m_std": 0.02},
        {"learner": "mse", "role": "student", "loss": "mse", "tau": np.nan, "xi": 0.9, "m_mean": 0.82, "m_std": 0.0},
    ] + [
        {"learner": f"kl{t}", "role": "student", "loss": "kl", "tau": t, "xi": 0.9, "m_mean": 0.81, "m_std": 0.01}
        for t in (1.0, 3.0, 20.0, np.inf)
    ]
    fig = plot_accuracy_vs_tau(pd.DataFrame(rows), metric="m")
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["1", "3", "20", r"$\infty$"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["logit MSE (mse)", "student alone", "teacher", r"KL, $\tau^2$ factor"]
    assert len(ax.lines) >= 4  # KL curve + three horizontal lines
    assert "test accuracy" in ax.get_ylabel() and "tau" in ax.get_xlabel()
    with pytest.raises(ValueError, match="lacks columns"):
        plot_accuracy_vs_tau(pd.DataFrame(rows).drop(columns="xi"), metric="m")


def test_summary_has_intervals_and_paired_gain_over_alone(run):
    out, result = run
    s = result.summary.set_index("learner")
    logs = result.logs

    def best(learner):
        rows = logs[logs["learner"] == learner]
        return rows.loc[rows.groupby("seed")["val_acc"].idxmax()].set_index("seed")["test_acc"]

    d = best("kl2") - best("alone")
    assert s.loc["kl2", "delta_vs_alone"] == pytest.approx(d.mean())
    assert s.loc["kl2", "delta_ci_low"] <= s.loc["kl2", "delta_vs_alone"] <= s.loc["kl2", "delta_ci_high"]
    half = 12.706204736174707 * d.std(ddof=1) / np.sqrt(2)  # t_{1, 0.975}: two seeds
    assert s.loc["kl2", "delta_ci_high"] - s.loc["kl2", "delta_vs_alone"] == pytest.approx(half)
    assert s.loc["alone", "delta_vs_alone"] == 0.0 and s.loc["alone", "verdict"] == "reference"
    assert np.isnan(s.loc["teacher", "delta_vs_alone"])
    assert (s["acc_ci_low"] <= s["acc_mean"]).all() and (s["acc_mean"] <= s["acc_ci_high"]).all()
    assert s["acc_mean"].to_numpy() == pytest.approx(s["test_acc_best_mean"].to_numpy())


def test_pretrained_teacher_comes_from_the_store_once(tmp_path, monkeypatch):
    cfg = json.loads(json.dumps(TINY))
    cfg["teacher"] = {"model": "big", "pretrained": True, "train": {"epochs": 2, "batch_size": 64}}
    cfg["students"] = TINY["students"][:2]
    cfg["grid"] = {"data.theta": [0.0, 0.2]}
    parsed = parse_experiment(cfg)
    root = tmp_path / "teachers"
    first = run_experiment(parsed, tmp_path / "a", progress=False, echo=None, teacher_root=root)
    assert len(list(root.iterdir())) == 2  # one teacher per noise rate, shared by both seeds
    s = first.summary.set_index(["condition", "learner"])
    assert (s["n_seeds"] == 2).all() and set(s.index.get_level_values(0)) == {"theta=0.0", "theta=0.2"}
    assert s.loc[("theta=0.0", "teacher"), "test_acc_best_std"] == 0.0  # same weights, same test set
    splits = load_splits(tmp_path / "a", seed=1, condition="theta=0.2")
    net = load_model(tmp_path / "a", "teacher", seed=1, condition="theta=0.2")
    logged = first.logs[(first.logs["learner"] == "teacher") & (first.logs["seed"] == 1)
                        & (first.logs["condition"] == "theta=0.2")]["test_acc"].iloc[-1]
    assert accuracy(predict_logits(net, splits.x_test), splits.y_test) == pytest.approx(logged, abs=1e-6)
    import kdscope.empirical.train as train_mod

    calls = []
    real = train_mod.train_learner
    monkeypatch.setattr(train_mod, "train_learner", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = run_experiment(parsed, tmp_path / "b", progress=False, echo=None, teacher_root=root)
    assert calls == []  # get_teacher looks train_learner up at call time: the stored teachers were not retrained
    pd.testing.assert_series_equal(again.summary["test_acc_best_mean"], first.summary["test_acc_best_mean"])


def test_born_again_chain_is_paired_with_its_teacher():
    """No student alone, every student on the teacher's model: generation k is compared with the teacher."""
    rows = []
    acc = {"teacher": [0.80, 0.70, 0.75], "gen1": [0.82, 0.73, 0.76], "gen2": [0.81, 0.74, 0.78]}
    for learner, values in acc.items():
        for seed, a in enumerate(values):
            rows.append({"condition": "base", "learner": learner, "seed": seed, "epoch": 1,
                         "role": "teacher" if learner == "teacher" else "student", "model": "net",
                         "xi": 0.0 if learner == "teacher" else 0.9, "loss": "kl", "tau": 4.0, "features": "",
                         "val_acc": a, "test_acc": a, "agreement": 1.0, "test_ece": 0.1})
    s = summarize(pd.DataFrame(rows)).set_index("learner")
    assert s.loc["teacher", "verdict"] == "reference" and s.loc["teacher", "delta_vs_alone"] == 0.0
    d = np.array(acc["gen2"]) - np.array(acc["teacher"])
    assert s.loc["gen2", "delta_vs_alone"] == pytest.approx(d.mean())
    half = 4.302652729911275 * d.std(ddof=1) / np.sqrt(3)  # t_{2, 0.975}
    assert s.loc["gen2", "delta_ci_high"] - s.loc["gen2", "delta_vs_alone"] == pytest.approx(half)
    assert "- teacher [95% CI]" in format_summary(summarize(pd.DataFrame(rows)))
    # a student on another model breaks the chain: no reference, no paired difference
    other = pd.DataFrame(rows).assign(model=lambda t: np.where(t["learner"] == "gen2", "small", t["model"]))
    assert np.isnan(summarize(other).set_index("learner").loc["gen1", "delta_vs_alone"])
