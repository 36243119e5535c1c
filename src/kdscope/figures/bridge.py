"""The bridge figure: replica curves at the fitted mixture over test errors measured on real data.

Pure drawing.  Input: the tidy table of ``kdscope.empirical.bridge.run_bridge``
(rows of kind 'theory' and 'measured'; columns ``alpha``, ``eps_t``, ``eps_s``,
their ``_se`` on measured rows, ``eps_gauss_t/s``, ``delta``, ``rho``, the data
description and the ``gof_*`` statistics).  Output: a matplotlib Figure.

Artists carry a gid: 'theory' (replica lines), 'measured' (error-bar markers),
'gauss' (the Gaussian-formula error of the learned overlaps), 'baseline'.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .style import BASELINE_LABELS, BASELINE_STYLE_BY_COLUMN, COLORS

__all__ = ["plot_bridge", "bridge_caption", "plot_learning_curves"]

_NAMES = {"t": "teacher", "s": "student"}
_REQUIRED = ("kind", "alpha", "delta", "rho")


def bridge_caption(table: pd.DataFrame) -> str:
    """One line: the data, the fitted (delta, rho) and the goodness-of-fit statistics (model value in brackets)."""
    r = table.iloc[0]
    parts = []
    if "source" in table.columns:
        parts.append(f"{r['source']} {r.get('classes', '')} {r.get('features', '')}, d={int(r['d'])}".strip())
    parts.append(rf"fit: $\Delta$={r['delta']:.3g}, $\rho$={r['rho']:.3g}")
    if "gof_eig_cv" in table.columns:
        parts.append(f"eig. CV {r['gof_eig_cv']:.2f} ({r['gof_eig_cv_gauss']:.2f})")
    if "gof_kurtosis" in table.columns:
        parts.append(f"kurtosis {r['gof_kurtosis']:.2f} (0)")
    if "eps_oracle_measured" in table.columns:
        parts.append(f"oracle err. {r['eps_oracle_measured']:.3f} ({r['eps_oracle']:.3f})")
    return "; ".join(parts)


def plot_bridge(table: pd.DataFrame, *, learners=("t", "s"), show_gauss: bool = True,
                baselines=("eps_oracle",), ax: plt.Axes | None = None, title: str | None = None,
                caption: bool = True) -> Figure:
    """Test error vs alpha: replica lines (theory rows) and measured points with error bars.

    Parameters
    ----------
    table : DataFrame
        Rows of kind 'theory' and 'measured' (see the module docstring); theory rows
        with ``converged`` False are left out.
    learners : which learners to draw, among 't' (teacher) and 's' (student).
    show_gauss : also draw ``eps_gauss_<k>`` as hollow markers: the error the learned
        overlaps (m, q, b) would have on the fitted mixture, which separates a
        non-Gaussian *test* distribution from a different learned classifier.
    baselines : columns of the theory rows drawn as grey lines (e.g. 'eps_oracle', 'eps_bayes').
    ax : draw into these axes.  title : axes title (default: ``bridge_caption`` when ``caption``).
    caption : put the fit summary in the title when no title is given.

    Returns
    -------
    matplotlib.figure.Figure
    """
    missing = [c for c in _REQUIRED if c not in table.columns]
    if missing:
        raise ValueError(f"plot_bridge: table lacks columns {missing}.")
    bad = [k for k in learners if k not in _NAMES]
    if bad:
        raise ValueError(f"plot_bridge: 'learners' must be among {set(_NAMES)}; got {bad}.")
    theory = table[table["kind"] == "theory"]
    if "converged" in theory.columns:
        theory = theory[theory["converged"].fillna(False).astype(bool)]
    theory = theory.sort_values("alpha")
    measured = table[table["kind"] == "measured"].sort_values("alpha")
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.6, 4.0), layout="constrained")
    else:
        fig = ax.figure
    for i, k in enumerate(learners):
        color = COLORS[i % len(COLORS)]
        col = f"eps_{k}"
        if len(theory) and col in theory.columns:
            (line,) = ax.plot(theory["alpha"], theory[col], color=color, label=f"{_NAMES[k]}: theory")
            line.set_gid("theory")
        if len(measured) and col in measured.columns:
            se = measured[f"{col}_se"] if f"{col}_se" in measured.columns else None
            eb = ax.errorbar(measured["alpha"], measured[col], yerr=se, fmt="o", color=color,
                             label=f"{_NAMES[k]}: measured")
            eb.lines[0].set_gid("measured")
        gauss = f"eps_gauss_{k}"
        if show_gauss and len(measured) and gauss in measured.columns:
            (g,) = ax.plot(measured["alpha"], measured[gauss], linestyle="none", marker="D", markersize=4,
                           markerfacecolor="none", color=color, label=f"{_NAMES[k]}: learned overlaps, Gaussian test")
            g.set_gid("gauss")
    for j, col in enumerate(baselines):
        if col in theory.columns and len(theory):
            style = BASELINE_STYLE_BY_COLUMN.get(col, {"color": "0.5", "linestyle": ":"})
            (b,) = ax.plot(theory["alpha"], theory[col], label=BASELINE_LABELS.get(col, col), **style)
            b.set_gid("baseline")
    ax.set_xscale("log")
    alphas = np.unique(np.concatenate([theory["alpha"].to_numpy(), measured["alpha"].to_numpy()]))
    if alphas.size:
        ax.set_xticks(alphas[np.isin(alphas, measured["alpha"].to_numpy())] if len(measured) else alphas)
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xlabel(r"$\alpha = n/d$")
    ax.set_ylabel(r"test error $\varepsilon_g$")
    ax.legend(fontsize=7)
    if title is not None:
        ax.set_title(title, fontsize=8)
    elif caption:
        ax.set_title(bridge_caption(table), fontsize=7)
    return fig


def plot_learning_curves(table: pd.DataFrame, *, metric: str = "test_acc_best", teachers: bool = True,
                         ax: plt.Axes | None = None, title: str | None = None) -> Figure:
    """Test accuracy vs training-set fraction, one line (mean, one-std band) per learner.

    Parameters
    ----------
    table : DataFrame
        Columns ``learner, train_fraction, is_teacher, <metric>_mean, <metric>_std`` (one row per
        learner and fraction; ``kdscope.empirical.bridge.curves.learning_curve_table``).
    metric : column stem ('test_acc_best' or 'test_acc_last').
    teachers : also draw the learners on the teacher's architecture (dashed, gid 'teacher').
    ax, title : as usual.

    Returns
    -------
    matplotlib.figure.Figure (students' lines have gid 'student').
    """
    mean, std = f"{metric}_mean", f"{metric}_std"
    missing = [c for c in ("learner", "train_fraction", "is_teacher", mean, std) if c not in table.columns]
    if missing:
        raise ValueError(f"plot_learning_curves: table lacks columns {missing}.")
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.6, 4.0), layout="constrained")
    else:
        fig = ax.figure
    i = j = 0
    for name, g in table.groupby("learner", sort=False):
        g = g.sort_values("train_fraction")
        teacher = bool(g["is_teacher"].iloc[0])
        if teacher and not teachers:
            continue
        if teacher:
            color, style, marker = ("0.2", "0.45", "0.65")[j % 3], ("--", ":", "-.")[j % 3], "s"
            j += 1
        else:
            color, style, marker = COLORS[i % len(COLORS)], "-", "o"
            i += 1
        (line,) = ax.plot(g["train_fraction"], g[mean], marker=marker, color=color, linestyle=style, label=str(name))
        line.set_gid("teacher" if teacher else "student")
        s = g[std].fillna(0.0).to_numpy()
        ax.fill_between(g["train_fraction"], g[mean] - s, g[mean] + s, color=color, alpha=0.12, linewidth=0)
    ax.set_xscale("log")
    ax.set_xticks(sorted(set(table["train_fraction"])))
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xlabel("training-set fraction")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=7)
    if title is not None:
        ax.set_title(title, fontsize=8)
    return fig
