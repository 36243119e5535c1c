"""The bridge figure (structure, from a hand-made table) and the CLI in quick mode on digits."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from kdscope.figures.bridge import bridge_caption, plot_bridge


def _table() -> pd.DataFrame:
    const = {"delta": 0.8, "rho": 0.5, "source": "fashion_mnist", "classes": "0/6", "features": "pixels", "d": 64,
             "gof_eig_cv": 0.47, "gof_eig_cv_gauss": 0.15, "gof_kurtosis": 1.2, "eps_oracle_measured": 0.15,
             "eps_oracle": 0.14}
    a = np.geomspace(1, 8, 6)
    theory = pd.DataFrame({"kind": "theory", "alpha": a, "eps_t": 0.25 - 0.01 * a, "eps_s": 0.33 - 0.01 * a,
                           "converged": [True] * 5 + [False], **const})
    measured = pd.DataFrame({"kind": "measured", "alpha": [1.0, 2.0, 8.0], "eps_t": [0.24, 0.22, 0.17],
                             "eps_t_se": 0.01, "eps_s": [0.31, 0.29, 0.24], "eps_s_se": 0.01,
                             "eps_gauss_t": [0.235, 0.21, 0.175], "eps_gauss_s": [0.32, 0.28, 0.25],
                             "converged": True, **const})
    return pd.concat([theory, measured], ignore_index=True)


def _gids(ax, gid):
    return [ln for ln in ax.get_lines() if ln.get_gid() == gid]


def test_bridge_figure_structure():
    fig = plot_bridge(_table())
    (ax,) = fig.axes
    assert len(_gids(ax, "theory")) == 2
    assert all(len(ln.get_xdata()) == 5 for ln in _gids(ax, "theory"))  # the non-converged point is left out
    assert len(_gids(ax, "measured")) == 2
    assert len(_gids(ax, "gauss")) == 2
    assert len(_gids(ax, "baseline")) == 1
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "teacher: theory" in labels and "student: measured" in labels and "oracle" in labels
    assert ax.get_xlabel() == r"$\alpha = n/d$"
    assert "1.2" in ax.get_title() and r"$\Delta$=0.8" in ax.get_title()
    plt.close(fig)


def test_bridge_figure_options_and_errors():
    fig, ax = plt.subplots()
    out = plot_bridge(_table(), learners=("s",), show_gauss=False, baselines=(), ax=ax, title="T")
    assert out is fig and ax.get_title() == "T"
    assert len(_gids(ax, "theory")) == 1 and not _gids(ax, "gauss") and not _gids(ax, "baseline")
    plt.close(fig)
    with pytest.raises(ValueError, match="lacks columns"):
        plot_bridge(_table().drop(columns="delta"))
    with pytest.raises(ValueError, match="'learners'"):
        plot_bridge(_table(), learners=("x",))
    assert "fit:" in bridge_caption(_table())


def test_cli_quick_on_digits(tmp_path):
    from kdscope.cli import app

    out = tmp_path / "bridge"
    res = CliRunner().invoke(app, ["empirical", "bridge", "--quick", "--data", "digits", "--classes", "3,8",
                                   "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "fitted mixture" in res.output
    table = pd.read_parquet(out / "bridge.parquet")
    assert set(table["kind"]) == {"theory", "measured"}
    measured = table[table["kind"] == "measured"]
    assert list(measured["alpha"]) == [1.0, 2.0, 4.0]
    for col in ("delta", "rho", "eta", "lam_t", "xi", "eps_t", "eps_s_se", "gof_eig_cv", "classes"):
        assert col in table.columns
    assert (out / "figure_bridge.png").is_file() and (out / "comparison.csv").is_file()
    assert (out / "config.yaml").is_file() and (out / "bridge_per_seed.parquet").is_file()


def test_cli_rejects_bad_classes(tmp_path):
    from kdscope.cli import app

    res = CliRunner().invoke(app, ["empirical", "bridge", "--quick", "--data", "digits", "--classes", "3",
                                   "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "'classes'" in res.output


def test_learning_curve_table_and_figure():
    from kdscope.empirical.bridge import learning_curve_table
    from kdscope.empirical.config import parse_experiment
    from kdscope.figures.bridge import plot_learning_curves

    cfg = parse_experiment({
        "name": "lc", "seeds": [0], "data": {"dataset": "digits"}, "grid": {"data.train_fraction": [0.2, 1.0]},
        "models": {"big": {"arch": "cnn", "width": 8, "depth": 2}, "small": {"arch": "cnn", "width": 4, "depth": 1}},
        "teacher": {"model": "big"}, "train": {"epochs": 1},
        "students": [{"name": "alone", "model": "small"}, {"name": "kd", "model": "small", "xi": 0.9}]})
    summary = pd.DataFrame({"condition": ["train_fraction=0.2", "train_fraction=1.0"] * 3,
                            "learner": ["teacher"] * 2 + ["alone"] * 2 + ["kd"] * 2,
                            "test_acc_best_mean": [0.9, 0.95, 0.6, 0.8, 0.65, 0.85],
                            "test_acc_best_std": [0.01] * 6})
    table = learning_curve_table(summary, cfg)
    assert sorted(set(table["train_fraction"])) == [0.2, 1.0]
    assert table.loc[table["learner"] == "teacher", "is_teacher"].all()
    assert not table.loc[table["learner"] != "teacher", "is_teacher"].any()
    fig = plot_learning_curves(table)
    (ax,) = fig.axes
    assert len(_gids(ax, "student")) == 2 and len(_gids(ax, "teacher")) == 1
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["alone", "kd", "teacher"]
    plt.close(fig)
    fig = plot_learning_curves(table, teachers=False)
    assert not _gids(fig.axes[0], "teacher")
    plt.close(fig)
    with pytest.raises(ValueError, match="train_fraction"):
        learning_curve_table(summary, cfg.__class__(**{**cfg.__dict__, "grid": {}}))
