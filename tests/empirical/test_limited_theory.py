"""Two-class limited-label runs and the replica prediction beside them (theory and practice on one table).

No test asserts that distillation beats training alone, in the network or in the theory.
"""

import copy

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch

from kdscope.empirical.data import load_digits, select_classes
from kdscope.empirical.limited_labels import parse_limited_labels, run_limited_labels
from kdscope.empirical.limited_labels.theory import (
    COLUMNS,
    format_theory_practice,
    measured_curves,
    n_grid,
    pool_mixture,
)
from kdscope.empirical.registry import ConfigError
from kdscope.figures.theory_practice import plot_theory_practice
from kdscope.theory import Setting, solve

matplotlib.use("Agg")

TWO = {
    "name": "tiny_two_class",
    "protocol": "limited_labels",
    "seeds": [0, 1, 2],
    "dataset": "digits",
    "classes": [3, 8],
    "budgets": [4, 12],
    "transfer_size": 100,
    "teacher": {"model": {"arch": "cnn", "width": 8, "depth": 2}, "train": {"epochs": 3, "batch_size": 32}},
    "student": {"arch": "cnn", "width": 4, "depth": 2},
    "schedule": {"steps": 10, "batch_size": 8, "transfer_batch_size": 8},
    "learners": [
        {"name": "alone"},
        {"name": "kd_kl_tau4", "xi": 0.9, "loss": "kl", "tau": 4},
        {"name": "kd_mse", "xi": 0.9, "loss": "mse"},
        {"name": "transfer_kl_tau4", "xi": 0.9, "loss": "kl", "tau": 4, "transfer": True},
    ],
    "theory": {"d": 12, "lam_t": 0.1, "lam_s": 0.1, "n_grid": 4},
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("two")
    cfg = parse_limited_labels(TWO)
    res = run_limited_labels(cfg, root / "out", teacher_root=root / "teachers", echo=None)
    return root, cfg, res


def test_select_classes_relabels_and_keeps_only_those_classes():
    raw = load_digits()
    two = select_classes(raw, [8, 3])
    assert two.n_classes == 2 and two.name == "digits[8,3]"
    assert np.array_equal(np.unique(two.y_pool), [0, 1]) and np.array_equal(np.unique(two.y_test), [0, 1])
    assert len(two.y_pool) == int(np.sum(np.isin(raw.y_pool, [3, 8])))
    # class 8 became 0: the images are those of the 8s, in their original order
    np.testing.assert_array_equal(two.x_pool[two.y_pool == 0], raw.x_pool[raw.y_pool == 8])
    for bad in ([3], [3, 3], [3, 10]):
        with pytest.raises(ValueError, match="select_classes"):
            select_classes(raw, bad)


def test_theory_block_rules():
    cfg = parse_limited_labels(TWO)
    # by default the theory predicts the learners that map exactly: alone and KL at finite tau, no transfer set
    assert [x.name for x in cfg.theory_learners] == ["alone", "kd_kl_tau4"]
    raw = copy.deepcopy(TWO)
    raw["classes"] = [1, 3, 8]
    with pytest.raises(ConfigError, match="two classes"):
        parse_limited_labels(raw)
    raw = copy.deepcopy(TWO)
    del raw["classes"]
    with pytest.raises(ConfigError, match="'theory'"):
        parse_limited_labels(raw)
    raw = copy.deepcopy(TWO)
    raw["theory"]["learners"] = ["alone", "transfer_kl_tau4"]
    with pytest.raises(ConfigError, match="transfer"):
        parse_limited_labels(raw)
    raw["theory"]["learners"] = ["alone", "kd_mse"]
    with pytest.raises(ConfigError, match="kd_mse"):
        parse_limited_labels(raw)
    raw["theory"]["learners"] = ["nobody"]
    with pytest.raises(ConfigError, match="nobody"):
        parse_limited_labels(raw)
    raw = copy.deepcopy(TWO)
    raw["classes"] = [3, 3]
    with pytest.raises(ConfigError, match="'classes'"):
        parse_limited_labels(raw)


@pytest.mark.parametrize("quick", [False, True])
def test_shipped_two_class_file_loads(quick):
    from pathlib import Path

    from kdscope.empirical.limited_labels import load_limited_labels

    path = Path(__file__).resolve().parents[2] / "experiments" / "limited_labels_two_class.yaml"
    cfg = load_limited_labels(path, quick=quick)
    assert cfg.classes == (0, 6) and cfg.theory is not None and cfg.theory.d == 64
    assert [x.name for x in cfg.theory_learners][:2] == ["alone", "kd_kl_tau1" if not quick else "kd_kl_tau4"]
    assert all(not x.transfer for x in cfg.theory_learners)


def test_n_grid_contains_the_measured_sizes():
    g = n_grid([8, 24, 200], 5)
    assert {8, 24, 200} <= set(g.tolist()) and g[0] == 8 and g[-1] == 200 and np.all(np.diff(g) > 0)


def test_pool_mixture_needs_two_classes():
    raw = load_digits()
    with pytest.raises(ValueError, match="two classes"):
        pool_mixture(raw, 8)
    fit = pool_mixture(select_classes(raw, [3, 8]), 8)
    assert fit.d == 8 and fit.delta > 0 and 0.4 < fit.rho < 0.6


def test_run_writes_the_theory_practice_table(run):
    root, cfg, res = run
    table = pd.read_csv(root / "out" / "theory_practice.csv")
    assert list(table.columns) == list(COLUMNS)
    pd.testing.assert_frame_equal(table, res.theory_practice.reset_index(drop=True), check_dtype=False)
    me, th = table[table["kind"] == "measured"], table[table["kind"] == "theory"]
    # measured rows: every learner at every budget, n_S = 2 classes x budget, error = 1 - accuracy
    assert set(me["learner"]) == {x.name for x in cfg.learners}
    assert sorted(set(me["n_labelled"])) == [8, 24]
    s = res.summary.set_index(["learner", "budget"])
    for _, r in me.iterrows():
        acc = s.loc[(r["learner"], r["n_labelled"] // 2)]
        assert r["eps"] == pytest.approx(1 - acc["acc_mean"])
        assert r["eps_ci_low"] == pytest.approx(1 - acc["acc_ci_high"])
        if r["learner"] != "alone":
            assert r["gain"] == pytest.approx(-acc["delta_vs_alone"])
            assert r["gain_ci_low"] <= r["gain"] <= r["gain_ci_high"]
    assert (me.loc[me["learner"] == "alone", "gain"] == 0).all()
    assert me["eps_teacher"].nunique() == 1 and 0 <= me["eps_teacher"].iloc[0] < 0.5
    # theory rows: the mapped learners on a grid holding the measured n_S, solved, errors in (0, 1/2)
    assert set(th["learner"]) == {"alone", "kd_kl_tau4"}
    assert {8, 24} <= set(th["n_labelled"])
    assert (th["status"] == "converged").all()
    assert ((th["eps"] > 0) & (th["eps"] < 0.5)).all()
    np.testing.assert_allclose(th["alpha_s"], th["n_labelled"] / 12)
    assert th["alpha_t"].iloc[0] == pytest.approx(int(np.sum(np.isin(load_digits().y_pool, [3, 8]))) / 12)


def test_theory_alone_is_the_single_learner_at_the_students_samples(run):
    """The reference curve (fresh-sample student at xi = 0) equals a lone ridge learner on alpha_S d samples."""
    _, cfg, res = run
    th = res.theory_practice[res.theory_practice["kind"] == "theory"]
    r = th[(th["learner"] == "alone") & (th["n_labelled"] == 24)].iloc[0]
    lone = solve(Setting(alpha=24 / 12, delta=r["delta"], rho=r["rho"], lam_t=cfg.theory.lam_s, generations=0))
    assert r["eps"] == pytest.approx(lone.record()["eps_t"], rel=1e-5)
    kd = th[(th["learner"] == "kd_kl_tau4")].set_index("n_labelled")["gain"]
    alone = th[(th["learner"] == "kd_kl_tau4")].set_index("n_labelled")["eps"] - kd
    assert np.allclose(alone.to_numpy(), th[th["learner"] == "alone"].set_index("n_labelled")["eps"].to_numpy())


def test_measured_curves_flip_accuracy_into_error():
    summary = pd.DataFrame({"learner": ["alone", "kd"], "budget": [5, 5], "n_labelled": [10, 10],
                            "acc_mean": [0.8, 0.85], "acc_ci_low": [0.7, 0.8], "acc_ci_high": [0.9, 0.9],
                            "delta_vs_alone": [0.0, 0.05], "delta_ci_low": [np.nan, 0.01],
                            "delta_ci_high": [np.nan, 0.09]})
    m = measured_curves(summary, reference="alone", d=5, teacher_error=0.1).set_index("learner")
    assert m.loc["kd", "eps"] == pytest.approx(0.15) and m.loc["kd", "gain"] == pytest.approx(-0.05)
    assert m.loc["kd", "gain_ci_low"] == pytest.approx(-0.09) and m.loc["kd", "gain_ci_high"] == pytest.approx(-0.01)
    assert m.loc["kd", "eps_ci_low"] == pytest.approx(0.1) and m.loc["alone", "alpha_s"] == pytest.approx(2.0)


def test_printed_comparison_and_figure(run):
    _, cfg, res = run
    text = format_theory_practice(res.theory_practice, reference=cfg.reference)
    assert "kd_kl_tau4: sign of the gain agrees with the theory at" in text
    assert text.count("\n") >= 2 * len(cfg.learners)
    fig = plot_theory_practice(res.theory_practice, caption="test caption")
    axes = [ax for ax in fig.axes if ax.get_xscale() == "log" and ax.get_ylabel()]
    assert len(axes) == 2
    labels = {t.get_text() for t in fig.legends[0].get_texts()}
    assert {"alone (measured)", "alone (theory)", "kd_kl_tau4 (theory)", "transfer_kl_tau4 (measured)",
            "teacher (measured)", "teacher (theory)"} <= labels
    assert "kd_mse (theory)" not in labels
    matplotlib.pyplot.close(fig)
    with pytest.raises(ValueError, match="lacks columns"):
        plot_theory_practice(res.theory_practice.drop(columns=["gain"]))
