"""Structural tests of the learning-curve figures, from small hand-made tables."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from kdscope.figures import paper_style, plot_double_descent, plot_error_curve  # noqa: E402


def _by_gid(ax, gid):
    return [ln for ln in ax.lines if ln.get_gid() == gid]


@pytest.fixture
def table():
    alphas = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    rows = []
    for lam in (0.01, 0.1):
        for a in alphas:
            rows.append(dict(kind="theory", alpha=a, lam_t=lam, eps_t=0.3 / a + lam, eps_s=0.35 / a + lam,
                             eps_bayes=0.25 / a, eps_oracle=0.1, converged=True))
        rows.append(dict(kind="theory", alpha=6.0, lam_t=lam, eps_t=np.nan, eps_s=np.nan, eps_bayes=0.04,
                         eps_oracle=0.1, converged=False))  # failed point: not drawn
        for a in (2.0, 4.0):
            rows.append(dict(kind="sim", alpha=a, lam_t=lam, eps_t=0.3 / a + lam + 0.002, eps_t_se=0.003,
                             eps_s=0.35 / a + lam, eps_s_se=0.004, eps_bayes=0.25 / a, eps_oracle=0.1,
                             converged=True))
    return pd.DataFrame(rows)


def test_error_curve_groups_sims_baselines_thresholds(table):
    fig = plot_error_curve(table, x="alpha", y="eps_t", group="lam_t", thresholds={"separability": 3.7})
    (ax,) = fig.axes
    theory = _by_gid(ax, "theory")
    assert len(theory) == 2 and all(len(ln.get_xdata()) == 5 for ln in theory)  # non-converged row dropped
    assert len(_by_gid(ax, "sim")) == 2
    assert len(_by_gid(ax, "baseline")) == 2 and len(_by_gid(ax, "threshold")) == 1
    assert _by_gid(ax, "threshold")[0].get_xdata()[0] == pytest.approx(3.7)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [r"$\lambda_T = 0.01$", r"$\lambda_T = 0.1$", "simulation", "Bayes-optimal", "oracle",
                      "separability (3.7)"]
    assert "alpha" in ax.get_xlabel() and "test error" in ax.get_ylabel()
    # error bars carry the standard errors of the simulation rows
    assert len(ax.collections) == 2
    segs = ax.collections[0].get_segments()
    assert [s[1][1] - s[0][1] for s in segs] == pytest.approx([0.006, 0.006])
    plt.close(fig)


def test_two_columns_linestyles_and_labels(table):
    fig = plot_error_curve(table, y=["eps_s", "eps_t"], group="lam_t", linestyles={"eps_t": "--"}, baselines=None)
    ax = fig.axes[0]
    theory = _by_gid(ax, "theory")
    assert len(theory) == 4
    assert [ln.get_linestyle() for ln in theory] == ["-", "--", "-", "--"]
    assert theory[0].get_color() == theory[1].get_color() != theory[2].get_color()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == [r"$\lambda_T = 0.01$, student", r"$\lambda_T = 0.01$, teacher"]
    assert not _by_gid(ax, "baseline")
    plt.close(fig)


def test_group_styles_and_logx_into_given_axes(table):
    fig, axes = plt.subplots(1, 2)
    out = plot_error_curve(table[table["kind"] == "theory"], y="eps_t", group="lam_t", logx=True, ax=axes[1],
                           group_styles={0.1: {"color": "k", "linestyle": ":"}}, legend=False)
    assert out is fig and len(fig.axes) == 2 and not axes[0].lines
    assert axes[1].get_xscale() == "log" and axes[1].get_legend() is None
    second = _by_gid(axes[1], "theory")[1]
    assert second.get_linestyle() == ":" and second.get_color() == "k"
    plt.close(fig)


def test_numeric_baseline_and_missing_column(table):
    fig = plot_error_curve(table, y="eps_t", baselines={"chance": 0.5})
    assert _by_gid(fig.axes[0], "baseline")[0].get_ydata()[0] == 0.5
    plt.close(fig)
    with pytest.raises(KeyError, match="eps_s2"):
        plot_error_curve(table, y="eps_s2")


def test_table_without_kind_is_theory():
    df = pd.DataFrame(dict(alpha=[1.0, 2.0], eps_t=[0.3, 0.2]))
    fig = plot_error_curve(df, baselines=None)
    assert len(_by_gid(fig.axes[0], "theory")) == 1 and not _by_gid(fig.axes[0], "sim")
    plt.close(fig)


def test_double_descent_panels(table):
    df = table.assign(q_s=lambda d: 1.0 / d["alpha"])
    fig = plot_double_descent(df, y="eps_s", norm="q_s", group="lam_t", thresholds={"interpolation": 0.5},
                              baselines=("eps_bayes",))
    top, bottom = fig.axes
    assert len(_by_gid(top, "theory")) == 2 and len(_by_gid(bottom, "theory")) == 2
    assert bottom.get_yscale() == "log" and len(_by_gid(bottom, "threshold")) == 1
    assert top.get_legend() is not None and bottom.get_legend() is None
    plt.close(fig)
    fig = plot_double_descent(df, norm=None, group="lam_t")
    assert len(fig.axes) == 1
    plt.close(fig)


def test_paper_style_is_a_context():
    before = dict(matplotlib.rcParams)
    with paper_style(font__size=7):
        assert matplotlib.rcParams["font.size"] == 7 and matplotlib.rcParams["axes.spines.top"] is False
    assert matplotlib.rcParams["font.size"] == before["font.size"]
    assert matplotlib.rcParams["axes.spines.top"] == before["axes.spines.top"]


def test_group_with_one_drawn_column_has_plain_label(table):
    df = table.copy()
    df.loc[df["lam_t"] == 0.1, "eps_t"] = np.nan  # e.g. a directly trained student: its teacher is not drawn
    fig = plot_error_curve(df, y=["eps_s", "eps_t"], group="lam_t", baselines=None)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == [r"$\lambda_T = 0.01$, student", r"$\lambda_T = 0.01$, teacher", r"$\lambda_T = 0.1$", "simulation"]
    plt.close(fig)


def test_optimum_star_only_on_the_optimised_curve(table):
    df = table[table["kind"] == "theory"].copy()
    df["is_optimum"] = (df["alpha"] == 3.0)
    df["optimum_of"] = "eps_s"
    fig = plot_error_curve(df, y=["eps_s", "eps_t"], group="lam_t", baselines=None)
    ax = fig.axes[0]
    stars = _by_gid(ax, "optimum")
    assert len(stars) == 2                                    # one per group, on eps_s only
    assert all(ln.get_ydata()[0] == pytest.approx(0.35 / 3.0 + lam) for ln, lam in zip(stars, (0.01, 0.1)))
    assert "optimum (1-D optimiser)" in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(fig)


def test_records_straight_into_plots():
    """solve(...).record() and simulation records (no kind column) go straight into plot_error_curve."""
    from kdscope import Setting
    from kdscope.theory import solve

    base = Setting(delta=1.0, rho=0.2, lam_t=0.1, generations=1, eta=0.5, xi=1.0, lam_s=1e-3)
    theory = [solve(base.replace(alpha=a)).record() for a in (1.0, 2.0, 3.0)]
    sims = [dict(theory[1], eps_s=theory[1]["eps_s"] + 0.002, eps_s_se=0.003, seeds=3, d=200)]
    df = pd.DataFrame(theory + sims)
    assert "kind" not in df.columns
    fig = plot_error_curve(df, y="eps_s")
    ax = fig.axes[0]
    (line,) = _by_gid(ax, "theory")
    assert list(line.get_xdata()) == [1.0, 2.0, 3.0] and len(_by_gid(ax, "sim")) == 1
    # a student's plot gets the student's Bayes bound by default, not the dense one
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("student" in lab and "Bayes" in lab for lab in labels) and "Bayes-optimal" not in labels
    (bayes,) = [ln for ln in _by_gid(ax, "baseline") if "student" in ln.get_label()]
    assert np.allclose(bayes.get_ydata(), [r["eps_bayes_s"] for r in theory])
    plt.close(fig)
    fig = plot_error_curve(pd.DataFrame(theory), y="eps_t")
    assert "Bayes-optimal" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    plt.close(fig)


def test_simulated_curves_keep_markers_for_the_simulations(table):
    fig = plot_error_curve(table, y="eps_t", group="lam_t")
    for ln in _by_gid(fig.axes[0], "theory"):
        assert ln.get_marker() in (None, "None", "")           # markers belong to the simulation points
    plt.close(fig)
    fig = plot_error_curve(table[table["kind"] == "theory"], y="eps_t", group="lam_t")
    markers = [ln.get_marker() for ln in _by_gid(fig.axes[0], "theory")]
    assert len(set(markers)) == 2 and None not in markers      # theory alone: one marker per curve
    plt.close(fig)


def test_baseline_that_differs_between_groups_is_drawn_per_group():
    rows = [dict(kind="theory", tau=t, alpha=a, eps_s=0.3 / a + 0.01 * t, eps_bayes_s=0.2 / a, converged=True)
            for a in (1.5, 4.5) for t in (0.5, 1.0, 2.0)]
    fig = plot_error_curve(pd.DataFrame(rows), x="tau", y="eps_s", group="alpha")
    ax = fig.axes[0]
    base = _by_gid(ax, "baseline")
    assert len(base) == 2 and sorted(ln.get_ydata()[0] for ln in base) == pytest.approx([0.2 / 4.5, 0.2 / 1.5])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sum("Bayes" in lab for lab in labels) == 1
    plt.close(fig)
