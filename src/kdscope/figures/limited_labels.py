"""Figure of the limited-label protocol: accuracy vs label budget, and the paired gain over the student alone.

Pure drawing from the summary table of :mod:`kdscope.empirical.limited_labels.summary`
(columns ``learner, budget, acc_mean, acc_ci_low, acc_ci_high, delta_vs_alone,
delta_ci_low, delta_ci_high``; optional ``budget_label``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from kdscope.figures.tables import one_condition
from kdscope.figures.style import COLORS, paper_style

_REQUIRED = ("learner", "budget", "acc_mean", "acc_ci_low", "acc_ci_high", "delta_vs_alone", "delta_ci_low",
             "delta_ci_high")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">")


def _yerr(mean: pd.Series, lo: pd.Series, hi: pd.Series) -> np.ndarray:
    return np.vstack([(mean - lo).fillna(0.0).to_numpy(), (hi - mean).fillna(0.0).to_numpy()])


def plot_accuracy_vs_budget(
    summary: pd.DataFrame,
    *,
    reference: str = "alone",
    teacher_acc: float | None = None,
    condition: str | None = None,
    title: str | None = None,
    caption: str | None = None,
) -> Figure:
    """Two panels against labelled images per class (log axis): test accuracy, and accuracy minus alone.

    Each learner is one line with markers and 95% confidence intervals as error bars
    (Student-t over seeds); the right panel shows the paired difference to ``reference``
    with its 95% CI and a zero line, so a bar that crosses zero means "not separable".
    ``teacher_acc`` draws the stored teacher's accuracy as a dotted line.  Learners are
    offset slightly along x so their bars do not hide each other.  A budget labelled
    ``all`` gets the tick label "all (n)".

    Returns
    -------
    matplotlib.figure.Figure with two axes.
    """
    missing = [c for c in _REQUIRED if c not in summary.columns]
    if missing:
        raise ValueError(f"plot_accuracy_vs_budget: summary lacks columns {missing}.")
    df = one_condition(summary, condition, "plot_accuracy_vs_budget")
    learners = list(dict.fromkeys(df["learner"]))
    with paper_style(figure__figsize=(9.0, 3.6)):
        fig, (ax_acc, ax_gain) = plt.subplots(1, 2, layout="constrained")
        n = len(learners)
        for i, name in enumerate(learners):
            g = df[df["learner"] == name].sort_values("budget")
            shift = 1.0 + 0.04 * (i - (n - 1) / 2)
            x = g["budget"].to_numpy(float) * shift
            style = {"color": COLORS[i % len(COLORS)], "marker": _MARKERS[i % len(_MARKERS)], "capsize": 2.5,
                     "linestyle": "--" if name == reference else "-"}
            ax_acc.errorbar(x, g["acc_mean"], yerr=_yerr(g["acc_mean"], g["acc_ci_low"], g["acc_ci_high"]),
                            label=name, **style)
            if name != reference:
                ax_gain.errorbar(x, g["delta_vs_alone"],
                                 yerr=_yerr(g["delta_vs_alone"], g["delta_ci_low"], g["delta_ci_high"]),
                                 label=name, **style)
        if teacher_acc is not None:
            ax_acc.axhline(teacher_acc, color="0.3", linestyle=":", label="teacher")
        ax_gain.axhline(0.0, color="0.3", linewidth=0.8)
        budgets = sorted(set(df["budget"].astype(int)))
        labels = {int(b): str(lab) for b, lab in zip(df["budget"], df.get("budget_label", df["budget"]), strict=True)}
        ticks = [f"all ({b})" if labels.get(b) == "all" else str(b) for b in budgets]
        for ax in (ax_acc, ax_gain):
            ax.set_xscale("log")
            ax.set_xticks(budgets, ticks)
            ax.minorticks_off()
            ax.set_xlabel("labelled images per class")
            ax.grid(alpha=0.3)
        ax_acc.set_ylabel("test accuracy (mean, 95% CI)")
        ax_gain.set_ylabel(f"accuracy $-$ {reference} (paired, 95% CI)")
        ax_acc.legend(loc="lower right")
        if title:
            fig.suptitle(title)
        if caption:
            fig.text(0.01, -0.02, caption, fontsize=7, ha="left", va="top", wrap=True)
    return fig


__all__ = ["plot_accuracy_vs_budget"]
