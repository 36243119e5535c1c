"""Structure of the paired-gain-vs-tau panel, from a hand-made summary table."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

from kdscope.figures.empirical import plot_accuracy_vs_tau, plot_gain_vs_tau

matplotlib.use("Agg")


def _summary() -> pd.DataFrame:
    rows = [("teacher", "teacher", "ce", np.nan, 0.0, np.nan, np.nan, np.nan),
            ("alone", "student", "ce", np.nan, 0.0, 0.0, np.nan, np.nan),
            ("kl1", "student", "kl", 1.0, 0.9, 0.01, -0.01, 0.03),
            ("kl4", "student", "kl", 4.0, 0.9, 0.02, 0.005, 0.035),
            ("klinf", "student", "kl", np.inf, 0.9, -0.01, -0.03, 0.01),
            ("mse", "student", "mse", np.nan, 0.9, 0.015, 0.0, 0.03)]
    df = pd.DataFrame(rows, columns=["learner", "role", "loss", "tau", "xi", "delta_vs_alone", "delta_ci_low",
                                     "delta_ci_high"])
    return df.assign(condition="base", features="", test_acc_best_mean=0.8, test_acc_best_std=0.01)


def test_gain_panel_draws_kl_points_with_intervals_and_the_mse_line():
    fig = plot_gain_vs_tau(_summary())
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(labels) == [r"KL $-$ alone (95% CI)", r"logit MSE $-$ alone (mse)"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "4", r"$\infty$"]
    kl_line = ax.containers[0].lines[0]
    np.testing.assert_allclose(np.asarray(kl_line.get_ydata(), dtype=float), [0.01, 0.02, -0.01])
    ys = sorted(ln.get_ydata()[0] for ln in ax.lines if len(ln.get_ydata()) == 2)
    assert ys == pytest.approx([0.0, 0.015])  # zero line and MSE line
    assert len(ax.patches) == 1  # the MSE interval band
    matplotlib.pyplot.close(fig)


def test_gain_panel_beside_the_accuracy_panel_and_bad_input():
    fig, (a, b) = matplotlib.pyplot.subplots(1, 2)
    plot_accuracy_vs_tau(_summary(), ax=a)
    assert plot_gain_vs_tau(_summary(), ax=b) is fig
    matplotlib.pyplot.close(fig)
    with pytest.raises(ValueError, match="lacks columns"):
        plot_gain_vs_tau(_summary().drop(columns="delta_ci_low"))
    two = pd.concat([_summary(), _summary().assign(condition="x")])
    with pytest.raises(ValueError, match="several conditions"):
        plot_gain_vs_tau(two)
