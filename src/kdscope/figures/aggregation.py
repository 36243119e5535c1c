"""Learned weights of distillation paths over training (fixed vs uncertainty vs GradNorm aggregation).

Pure drawing from the per-epoch training log of :mod:`kdscope.empirical.train`
(columns ``condition, learner, seed, epoch`` and one ``weight_<path>`` column per
path, e.g. ``weight_kd``, ``weight_hint:stage2``, ``weight_attention:stage3``; NaN
where a learner has no such path).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from kdscope.figures.tables import one_condition
from kdscope.figures.style import COLORS, MARKERS, legend_outside, panel_letters, paper_style


def weight_columns(logs: pd.DataFrame) -> list[str]:
    """The ``weight_<path>`` columns of a log, in their order."""
    return [c for c in logs.columns if c.startswith("weight_")]


def plot_path_weights(logs: pd.DataFrame, *, learners: list[str] | None = None, condition: str | None = None,
                      log_scale: bool = True, caption: str | None = None) -> Figure:
    """One panel per aggregating learner: each path's weight against the epoch.

    Thin lines are single seeds, the thick line with markers their mean; colours and
    markers identify the path and are shared by all panels.  ``learners`` defaults to
    every learner with more than one weighted path.  Weights of learned aggregators can
    span decades, hence the log axis by default.

    Returns
    -------
    matplotlib.figure.Figure with one axis per learner.

    Raises
    ------
    ValueError
        If the log has no weight columns or no learner with weighted paths, or several
        conditions and ``condition`` is None.
    """
    cols = weight_columns(logs)
    if not cols:
        raise ValueError("plot_path_weights: the log has no weight_<path> columns.")
    df = one_condition(logs, condition, "plot_path_weights")
    if learners is None:
        learners = [name for name, g in df.groupby("learner", sort=False) if g[cols].notna().any().sum() > 1]
    if not learners:
        raise ValueError("plot_path_weights: no learner with more than one weighted path.")
    paths = [c for c in cols if df[df["learner"].isin(learners)][c].notna().any()]
    style = {c: (COLORS[i % len(COLORS)], MARKERS[i % len(MARKERS)]) for i, c in enumerate(paths)}
    n = len(learners)
    with paper_style(figure__figsize=(min(3.2 * n, 13.0), 3.3)):
        fig, axes = plt.subplots(1, n, layout="constrained", sharey=True, squeeze=False)
        axes = list(axes[0])
        for ax, name in zip(axes, learners, strict=True):
            g = df[df["learner"] == name]
            for c in paths:
                if g[c].isna().all():
                    continue
                colour, marker = style[c]
                for _, run in g.groupby("seed"):
                    run = run.sort_values("epoch")
                    ax.plot(run["epoch"], run[c], color=colour, linewidth=0.6, alpha=0.35)
                mean = g.groupby("epoch")[c].mean()
                ax.plot(mean.index, mean.to_numpy(), color=colour, marker=marker, linewidth=1.6,
                        label=c.removeprefix("weight_"))
            ax.set_title(name)
            ax.set_xlabel("epoch")
            if log_scale and (g[paths] > 0).all().all():
                ax.set_yscale("log")
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("path weight (thin: seeds, thick: mean)")
        if n > 1:
            panel_letters(axes)
        handles = [h for ax in axes for h in ax.get_legend_handles_labels()[0]]
        legend_outside(fig, handles, ncol=min(4, len(paths)))
        if caption:
            fig.text(0.01, -0.12, caption, fontsize=7, ha="left", va="top", wrap=True)
    return fig


__all__ = ["plot_path_weights", "weight_columns"]
