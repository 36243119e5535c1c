"""Figures of the C-class model: panels of curves from a tidy table, with reference lines and thresholds.

Pure drawing.  Input: a tidy DataFrame (one row per point, the result store's columns plus
``panel`` and ``curve``) and a list of panel specifications; output: a matplotlib Figure.  The
recipes of :mod:`kdscope.multiclass_figures` say which panels to draw; nothing is solved here:
reference levels and threshold positions arrive as arguments.

Artists carry a gid: 'theory' (curves), 'reference' (horizontal lines), 'threshold'
(vertical lines and shaded brackets), 'open' (points flagged by ``open_column``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .style import COLORS, GROUP_LINESTYLES, MARKERS, THRESHOLD_STYLES, column_label, legend_outside, panel_letters

__all__ = ["Panel", "plot_panels", "plot_multiclass_bridge"]


@dataclass(frozen=True)
class Panel:
    """One panel: the rows with ``panel == name``, column ``y`` against column ``x``, one line per ``curve``.

    Parameters
    ----------
    name : value of the table's ``panel`` column.  x, y : column names (y may be a tuple of columns,
        drawn with the same colour per curve and the line styles of :data:`GROUP_LINESTYLES`).
    xlabel, ylabel : axis labels (mathtext; default :func:`column_label`).  title : panel title.
    logx, logy : log axes.  zero_line : a thin horizontal line at y = 0 (gains).
    references : ``(label, value)`` horizontal lines (e.g. the Bayes-optimal error).
    thresholds : ``(label, value)`` vertical lines, or ``(label, (lo, hi))`` shaded brackets.
    open_column : a boolean column; its true points get an open marker (e.g. an optimum at its bound).
    labels : legend text of each y column when ``y`` names several (default :func:`column_label`).
    """

    name: str
    x: str
    y: str | tuple
    xlabel: str | None = None
    ylabel: str | None = None
    title: str = ""
    logx: bool = False
    logy: bool = False
    zero_line: bool = False
    references: tuple = field(default_factory=tuple)
    thresholds: tuple = field(default_factory=tuple)
    open_column: str | None = None
    labels: dict = field(default_factory=dict)


def _ys(p: Panel) -> list[str]:
    return [p.y] if isinstance(p.y, str) else list(p.y)


def _draw_panel(ax, df: pd.DataFrame, p: Panel, colors: dict) -> None:
    rows = df[df["panel"] == p.name] if "panel" in df.columns else df
    if "converged" in rows.columns:
        rows = rows[rows["converged"].fillna(False).astype(bool)]
    ys = _ys(p)
    for curve in dict.fromkeys(rows["curve"].tolist()):
        sub = rows[rows["curve"] == curve].sort_values(p.x)
        i = colors.setdefault(curve, len(colors))
        for j, y in enumerate(ys):
            if y not in sub.columns:
                continue
            vals = pd.to_numeric(sub[y], errors="coerce").to_numpy(dtype=float)
            xs = pd.to_numeric(sub[p.x], errors="coerce").to_numpy(dtype=float)
            ok = np.isfinite(vals) & np.isfinite(xs)
            if not ok.any():
                continue
            label = curve if len(ys) == 1 else f"{curve}: {p.labels.get(y, column_label(y))}"
            ax.plot(xs[ok], vals[ok], color=COLORS[i % len(COLORS)], marker=MARKERS[i % len(MARKERS)],
                    linestyle=GROUP_LINESTYLES[j % len(GROUP_LINESTYLES)], markersize=3.5, label=label, gid="theory")
            if p.open_column and p.open_column in sub.columns:
                flag = sub[p.open_column].fillna(False).astype(bool).to_numpy() & ok
                if flag.any():
                    ax.plot(xs[flag], vals[flag], linestyle="none", marker="o", markersize=7, markerfacecolor="none",
                            markeredgecolor="0.2", label="optimum at the search bound", gid="open")
    for k, (label, value) in enumerate(p.references):
        if value is not None and np.isfinite(value):
            ax.axhline(value, color=("0.15", "0.5", "0.7")[k % 3], linestyle=(":", "-.", (0, (6, 2)))[k % 3],
                       linewidth=1.2, label=label, gid="reference")
    for k, (label, value) in enumerate(p.thresholds):
        style = THRESHOLD_STYLES[k % len(THRESHOLD_STYLES)]
        if isinstance(value, (tuple, list)):
            ax.axvspan(value[0], value[1], color=style["color"], alpha=0.18, linewidth=0, label=label, gid="threshold")
        elif value is not None and np.isfinite(value):
            ax.axvline(value, label=label, gid="threshold", **style)
    if p.zero_line:
        ax.axhline(0.0, color="0.6", linewidth=0.7, gid="zero")
    if p.logx:
        ax.set_xscale("log")
    if p.logy:
        ax.set_yscale("log")
    ax.set_xlabel(p.xlabel or column_label(p.x))
    ax.set_ylabel(p.ylabel or column_label(ys[0]))
    if p.title:
        ax.set_title(p.title)


def plot_panels(df: pd.DataFrame, panels, width: float = 3.5, height: float = 2.9,
                suptitle: str | None = None) -> Figure:
    """One figure, one axes per :class:`Panel`, a shared legend below the axes, panel letters.

    Parameters
    ----------
    df : tidy table with columns ``panel``, ``curve``, ``converged`` (only converged rows are drawn)
        and those named by the panels.
    panels : sequence of :class:`Panel`.  width, height : size of one panel in inches.
    suptitle : optional figure title.

    Returns
    -------
    matplotlib Figure (not saved, not shown).  A curve keeps its colour and marker across panels.
    """
    panels = list(panels)
    fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), height), squeeze=False)
    colors: dict = {}
    handles = []
    for ax, p in zip(axes[0], panels):
        _draw_panel(ax, df, p, colors)
        handles += ax.get_legend_handles_labels()[0]
    if len(panels) > 1:
        panel_letters(axes[0])
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    legend_outside(fig, handles, ncol=min(4, max(2, len(panels) + 1)))
    return fig


def plot_multiclass_bridge(comparison: pd.DataFrame, title: str | None = None) -> Figure:
    """The multi-class bridge: measured test errors of teacher and student probes against alpha, with the theory.

    Parameters
    ----------
    comparison : table of :func:`kdscope.empirical.bridge.multiclass.compare`: columns ``alpha``,
        ``eps_t``, ``eps_t_se``, ``eps_t_theory``, ``eps_gauss_t`` and the same for ``s``, optional ``eps_bayes``.
    title : optional axes title.

    Returns
    -------
    Figure with one axes: theory lines (gid 'theory'), measured error bars (gid 'measured', one standard
    error), the error the learned overlaps would have on the fitted mixture (open markers, gid 'gauss')
    and the Bayes-optimal error of the fitted mixture (gid 'reference').
    """
    df = comparison.sort_values("alpha")
    fig, ax = plt.subplots(figsize=(4.6, 3.4))
    for i, (x, who) in enumerate((("t", "teacher"), ("s", "student"))):
        color, marker = COLORS[i], MARKERS[i]
        ax.plot(df["alpha"], df[f"eps_{x}_theory"], color=color, linestyle=GROUP_LINESTYLES[i],
                label=f"{who}: theory at the fitted mixture", gid="theory")
        ax.errorbar(df["alpha"], df[f"eps_{x}"], yerr=df[f"eps_{x}_se"], color=color, marker=marker, linestyle="none",
                    markersize=5, label=f"{who}: measured on test images", gid="measured")
        if f"eps_gauss_{x}" in df.columns:
            ax.plot(df["alpha"], df[f"eps_gauss_{x}"], color=color, marker=marker, linestyle="none", markersize=7,
                    markerfacecolor="none", label=f"{who}: learned overlaps on the fitted mixture", gid="gauss")
    if "eps_bayes" in df.columns:
        ax.plot(df["alpha"], df["eps_bayes"], color="0.15", linestyle=":", linewidth=1.2,
                label="Bayes-optimal (fitted mixture)", gid="reference")
    ax.set_xlabel(r"samples per dimension $\alpha = n/d$")
    ax.set_ylabel(r"test error $\varepsilon_g$")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    legend_outside(fig, ax.get_legend_handles_labels()[0], ncol=2)
    return fig
