"""plot_panels: structure of a multi-class figure built from a hand-made table."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from kdscope.figures import paper_style  # noqa: E402
from kdscope.figures.multiclass import Panel, plot_panels  # noqa: E402


def _table():
    rows = []
    for curve in ("A", "B"):
        for i, x in enumerate((1.0, 2.0, 4.0)):
            rows.append(dict(panel="p1", curve=curve, x=x, y=0.1 * i + (curve == "B"), y2=0.2, converged=True,
                             flag=(i == 2)))
    rows.append(dict(panel="p1", curve="A", x=8.0, y=np.nan, y2=np.nan, converged=False, flag=False))
    rows.append(dict(panel="p2", curve="C", x=1.0, y=0.3, y2=0.1, converged=True, flag=False))
    rows.append(dict(panel="p2", curve="C", x=3.0, y=0.2, y2=0.1, converged=True, flag=False))
    return pd.DataFrame(rows)


def _gids(ax, gid):
    return [a for a in ax.get_children() if getattr(a, "get_gid", lambda: None)() == gid]


def test_panels_lines_references_thresholds_and_legend():
    panels = [Panel("p1", "x", ("y", "y2"), xlabel=r"$\alpha$", ylabel="err", references=(("Bayes", 0.05),),
                    thresholds=(("sep", (2.5, 3.0)), ("interp", 1.0)), open_column="flag", labels={"y2": "second"}),
              Panel("p2", "x", "y", logx=True, zero_line=True, title="two")]
    with paper_style():
        fig = plot_panels(_table(), panels)
    axes = [ax for ax in fig.axes]
    assert len(axes) == 2
    a, b = axes
    assert len(_gids(a, "theory")) == 4  # two curves x two columns
    assert len(_gids(b, "theory")) == 1
    assert len(_gids(a, "reference")) == 1 and len(_gids(a, "threshold")) == 2 and len(_gids(a, "open")) == 4  # flagged point per curve and column
    assert len(_gids(b, "zero")) == 1 and b.get_xscale() == "log" and b.get_title() == "two"
    assert a.get_xlabel() == r"$\alpha$" and a.get_ylabel() == "err"
    # the non-converged point is not drawn
    for line in _gids(a, "theory"):
        assert 8.0 not in set(line.get_xdata())
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "A: second" in texts and "Bayes" in texts and "sep" in texts and "C" in texts
    assert len(texts) == len(set(texts))
    # a curve keeps its colour across the columns it draws
    colors = {line.get_label(): line.get_color() for line in _gids(a, "theory")}
    assert colors["A: y"] == colors["A: second"] != colors["B: y"]
    plt.close(fig)


def test_bridge_figure_structure():
    from kdscope.figures.multiclass import plot_multiclass_bridge

    comp = pd.DataFrame(dict(alpha=[1.0, 2.0], eps_t=[0.2, 0.15], eps_t_se=[0.01, 0.01], eps_t_theory=[0.18, 0.12],
                             eps_gauss_t=[0.19, 0.13], eps_s=[0.21, 0.16], eps_s_se=[0.01, 0.01],
                             eps_s_theory=[0.19, 0.13], eps_gauss_s=[0.2, 0.14], eps_bayes=[0.1, 0.08]))
    with paper_style():
        fig = plot_multiclass_bridge(comp, title="t")
    (ax,) = fig.axes
    assert len(_gids(ax, "theory")) == 2 and len(_gids(ax, "gauss")) == 2 and len(_gids(ax, "reference")) == 1
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "teacher: measured on test images" in texts and "student: theory at the fitted mixture" in texts
    assert ax.get_title() == "t"
    plt.close(fig)
