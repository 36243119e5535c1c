"""Theory and practice on one figure: deep-net test error vs labelled samples beside the replica prediction.

Pure drawing from the table of :mod:`kdscope.empirical.limited_labels.theory`
(columns ``kind, learner, n_labelled, alpha_s, eps, eps_ci_low, eps_ci_high, gain,
gain_ci_low, gain_ci_high, eps_teacher``; ``d`` for the top axis).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from kdscope.figures.style import COLORS, MARKERS, legend_outside, panel_letters, paper_style

_REQUIRED = ("kind", "learner", "n_labelled", "eps", "eps_ci_low", "eps_ci_high", "gain", "gain_ci_low",
             "gain_ci_high", "eps_teacher")


def _yerr(mid: pd.Series, lo: pd.Series, hi: pd.Series) -> np.ndarray:
    return np.vstack([(mid - lo).fillna(0.0).to_numpy(), (hi - mid).fillna(0.0).to_numpy()])


def plot_theory_practice(table: pd.DataFrame, *, reference: str = "alone", caption: str | None = None,
                         title: str | None = None) -> Figure:
    """Two panels against the student's labelled samples n_S (log axis; top axis alpha_S = n_S / d).

    (a) Test error: measured learners as markers with 95% CI bars (joined by thin
    lines), theory learners as lines of the same colour without markers, the measured
    and predicted teacher errors as horizontal dotted / dash-dotted lines.
    (b) Gain eps - eps_reference: measured paired differences with 95% CI, theory
    lines, and a zero line (below zero: distillation helps).

    Returns
    -------
    matplotlib.figure.Figure with two data axes (plus the two secondary alpha_S axes).

    Raises
    ------
    ValueError
        If a required column is missing or the table has no measured rows.
    """
    missing = [c for c in _REQUIRED if c not in table.columns]
    if missing:
        raise ValueError(f"plot_theory_practice: table lacks columns {missing}.")
    me = table[table["kind"] == "measured"]
    th = table[table["kind"] == "theory"]
    if me.empty:
        raise ValueError("plot_theory_practice: the table has no measured rows.")
    learners = list(dict.fromkeys(list(me["learner"]) + list(th["learner"])))
    colour = {name: COLORS[i % len(COLORS)] for i, name in enumerate(learners)}
    with paper_style(figure__figsize=(9.0, 3.8)):
        fig, (ax_err, ax_gain) = plt.subplots(1, 2, layout="constrained")
        n = len(learners)
        for i, name in enumerate(learners):
            g = me[me["learner"] == name].sort_values("n_labelled")
            if not g.empty:
                x = g["n_labelled"].to_numpy(float) * (1.0 + 0.04 * (i - (n - 1) / 2))
                style = {"color": colour[name], "marker": MARKERS[i % len(MARKERS)], "linestyle": "none",
                         "capsize": 2.5}
                ax_err.errorbar(x, g["eps"], yerr=_yerr(g["eps"], g["eps_ci_low"], g["eps_ci_high"]),
                                label=f"{name} (measured)", **style)
                ax_err.plot(x, g["eps"], color=colour[name], linewidth=0.6, alpha=0.6)
                if name != reference:
                    ax_gain.errorbar(x, g["gain"], yerr=_yerr(g["gain"], g["gain_ci_low"], g["gain_ci_high"]),
                                     label=f"{name} (measured)", **style)
                    ax_gain.plot(x, g["gain"], color=colour[name], linewidth=0.6, alpha=0.6)
            t = th[th["learner"] == name].sort_values("n_labelled")
            if not t.empty:
                ls = "--" if name == reference else "-"
                ax_err.plot(t["n_labelled"], t["eps"], color=colour[name], linestyle=ls, label=f"{name} (theory)")
                if name != reference:
                    ax_gain.plot(t["n_labelled"], t["gain"], color=colour[name], linestyle=ls,
                                 label=f"{name} (theory)")
        ax_err.axhline(float(me["eps_teacher"].iloc[0]), color="0.3", linestyle=":", label="teacher (measured)")
        if not th.empty and np.isfinite(th["eps_teacher"]).any():
            ax_err.axhline(float(th["eps_teacher"].dropna().iloc[0]), color="0.5", linestyle="-.",
                           label="teacher (theory)")
        ax_gain.axhline(0.0, color="0.3", linewidth=0.8)
        for ax in (ax_err, ax_gain):
            ax.set_xscale("log")
            ax.set_xlabel(r"labelled samples of the student $n_S$")
            ax.grid(alpha=0.3)
            if "d" in table.columns and np.isfinite(table["d"]).any():
                d = float(table["d"].dropna().iloc[0])
                top = ax.secondary_xaxis("top", functions=(lambda v, d=d: v / d, lambda a, d=d: a * d))
                top.set_xlabel(rf"$\alpha_S = n_S / d$  ($d$ = {d:g})")
        ax_err.set_ylabel(r"test error $\varepsilon_g$ (measured: mean, 95% CI)")
        ax_gain.set_ylabel(rf"$\Delta\varepsilon = \varepsilon - \varepsilon_{{\rm {reference}}}$ (paired, 95% CI)")
        panel_letters([ax_err, ax_gain])
        handles = ax_err.get_legend_handles_labels()[0] + ax_gain.get_legend_handles_labels()[0]
        legend_outside(fig, handles, ncol=3)
        if title:
            fig.suptitle(title)
        if caption:
            fig.text(0.01, -0.16, caption, fontsize=7, ha="left", va="top", wrap=True)
    return fig


__all__ = ["plot_theory_practice"]
