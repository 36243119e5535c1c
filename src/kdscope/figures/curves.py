"""Learning curves: theory lines, simulation markers, baselines and thresholds.

Pure drawing.  Input: a tidy DataFrame with the result store's column names
(one row per point; a ``kind`` column 'theory...' / 'sim'; '<name>_se'
standard errors on simulation rows; ``converged``).  Output: a matplotlib
Figure.  Thresholds and baselines are given as arguments or columns; nothing is
solved here.

Artists carry a gid so tests (and users) can find them: 'theory' (lines),
'sim' (marker lines of error bars), 'baseline', 'threshold'.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .style import (BASELINE_LABELS, BASELINE_STYLE_BY_COLUMN, BASELINE_STYLES, COLORS, GROUP_LINESTYLES, MARKERS,
                    THRESHOLD_STYLES, column_label, learner_label, symbol)

__all__ = ["plot_error_curve", "plot_double_descent", "split_kinds"]

_EXTRA_STYLES = ("-", "--", ":", "-.")


def split_kinds(df: pd.DataFrame, kind: str = "kind") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(theory rows, simulation rows), converged rows only.

    Theory rows have a kind starting with 'theory'; simulation rows have kind
    'sim'.  Without a kind column (records straight from ``solve(...).record()``
    or a simulation), rows with a finite ``seeds`` value or any finite
    '<name>_se' value are simulations and the others theory.
    """
    if "converged" in df.columns:
        df = df[df["converged"].fillna(False).astype(bool)]
    if kind not in df.columns:
        marks = [c for c in df.columns if c == "seeds" or c.endswith("_se")]
        if not marks:
            return df, df.iloc[0:0]
        is_sim = np.zeros(len(df), dtype=bool)
        for c in marks:
            is_sim |= np.isfinite(pd.to_numeric(df[c], errors="coerce")).to_numpy()
        return df[~is_sim], df[is_sim]
    k = df[kind].astype(str)
    return df[k.str.startswith("theory")], df[k == "sim"]


def _as_list(y: str | Sequence[str]) -> list[str]:
    return [y] if isinstance(y, str) else list(y)


def _group_text(group: str | None, value, group_label: str | None) -> str:
    if group is None:
        return ""
    if isinstance(value, (float, np.floating)) or (isinstance(value, (int, np.integer)) and not isinstance(value, bool)):
        if group_label is None and symbol(group):
            return rf"${symbol(group)} = {value:g}$"
        return f"{group_label or group}={value:g}"
    return str(value)


def _groups(df: pd.DataFrame, group: str | None) -> list:
    if group is None or group not in df.columns:
        return [None]
    return list(dict.fromkeys(df[group].tolist()))


def _rows(df: pd.DataFrame, group: str | None, value) -> pd.DataFrame:
    if value is None or group is None or group not in df.columns:
        return df
    return df[df[group] == value]


def _present(df: pd.DataFrame, group: str | None, value, ys: list[str]) -> list[str]:
    """The columns of ``ys`` with at least one finite value in the group's rows."""
    rows = _rows(df, group, value)
    return [c for c in ys if np.isfinite(pd.to_numeric(rows[c], errors="coerce")).any()]


def plot_error_curve(
    df: pd.DataFrame,
    *,
    x: str = "alpha",
    y: str | Sequence[str] = "eps_t",
    group: str | None = None,
    group_label: str | None = None,
    kind: str = "kind",
    baselines: Sequence[str] | Mapping[str, float | str] | str | None = "auto",
    thresholds: Mapping[str, float] | None = None,
    linestyles: Mapping[str, str] | None = None,
    column_labels: Mapping[str, str] | None = None,
    group_styles: Mapping[object, Mapping[str, object]] | None = None,
    logx: bool = False,
    logy: bool = False,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    legend: bool | str = True,
    optimum: str | None = "is_optimum",
    ax: plt.Axes | None = None,
) -> Figure:
    """Observables against one parameter: a line per (group, column), markers with error bars for simulations.

    Parameters
    ----------
    df : DataFrame
        Store rows; columns ``x``, each of ``y``, optionally ``group``, ``kind``,
        ``converged`` and ``<y>_se`` (simulation standard errors).  Only
        converged rows are drawn; a (group, column) with no finite value is skipped.
    x : column on the horizontal axis (sorted within each line).
    y : column(s) to draw, e.g. 'eps_s' or ('eps_s', 'eps_t').
    group : column whose values make separate curves (one colour each), e.g. 'lam_t'.
    group_label : text before '=' for numeric groups (default: the column name).
    baselines : columns drawn as grey reference lines from the theory rows, or a
        mapping label -> number (horizontal line) or label -> column.  'auto'
        (default): the Bayes-optimal error of the drawn learner (``eps_bayes_s``,
        the sparse student's bound, when a student column is drawn; else
        ``eps_bayes``) and the oracle, when present.
    thresholds : label -> x position of a vertical line (e.g. {'separability': 4.85}).
    linestyles : column -> matplotlib linestyle (default: the first y solid,
        then dashed, dotted ...).
    column_labels : column -> legend text used when several y are drawn
        (default: 'teacher', 'student' ... for error columns).
    group_styles : group value -> line properties overriding the defaults
        (e.g. ``{'ridge student': {'color': 'k', 'linestyle': '--'}}``).
    logx, logy : logarithmic axes.  xlabel, ylabel, title : texts (defaults from the columns).
    legend : True (or 'outside'): a legend to the right of the axes, outside the
        data; 'inside': matplotlib's best place inside; False: none (the caller
        may collect the handles, e.g. :func:`kdscope.figures.style.legend_outside`).
    optimum : boolean column marking optima (e.g. lam* from a 1-D optimiser): drawn
        as a star on the line (gid 'optimum'); when a column ``optimum_of`` names the
        optimised column, only that curve gets the star.  None or absent: nothing.
    ax : draw into these axes instead of a new figure.

    Every curve has its colour, its marker and (one column per group) its line
    style, with markers staggered between curves, so coinciding curves stay visible.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ys = _as_list(y)
    if isinstance(baselines, str) and baselines == "auto":
        student = any(c.startswith("eps_s") for c in ys)
        baselines = ("eps_bayes_s" if student else "eps_bayes", "eps_oracle")
    missing = [c for c in [x, *ys] if c not in df.columns]
    if missing:
        raise KeyError(f"plot_error_curve: column(s) {missing} not in the table (columns: {list(df.columns)}).")
    fig, ax = (plt.subplots() if ax is None else (ax.figure, ax))
    theory, sims = split_kinds(df, kind)
    groups = _groups(df, group)
    styles = dict(linestyles or {})
    labels = dict(column_labels or {})
    colour_by_column = group is None and len(ys) > 1
    handles: list = []
    n_curves = max(1, len(groups) * len(ys))
    star_drawn = False
    for gi, gval in enumerate(groups):
        for ci, col in enumerate(ys):
            idx = ci if colour_by_column else gi
            colour = COLORS[idx % len(COLORS)]
            marker = MARKERS[idx % len(MARKERS)]
            default_ls = GROUP_LINESTYLES[gi % len(GROUP_LINESTYLES)] if len(ys) == 1 else (
                "-" if colour_by_column else _EXTRA_STYLES[ci % len(_EXTRA_STYLES)])
            ls = styles.get(col, default_ls)
            override = dict((group_styles or {}).get(gval, {}))
            colour = override.pop("color", colour)
            group_ls = override.pop("linestyle", None)
            ls = group_ls if (group_ls is not None and ci == 0) else ls
            marker = override.pop("marker", marker)
            parts = [_group_text(group, gval, group_label)]
            if len(ys) > 1 and (group is None or len(_present(df, group, gval, ys)) > 1):
                parts.append(labels.get(col, learner_label(col)))
            label = ", ".join(p for p in parts if p) or labels.get(col, column_label(col))
            drawn = False
            t = _rows(theory, group, gval)
            t = t[np.isfinite(pd.to_numeric(t[col], errors="coerce"))].sort_values(x)
            s = _rows(sims, group, gval)
            s = s[np.isfinite(pd.to_numeric(s[col], errors="coerce"))].sort_values(x)
            if len(t):
                k = gi * len(ys) + ci
                every = (0.02 + 0.16 * k / n_curves, 0.16)  # staggered, in axes-diagonal units
                # earlier groups drawn thicker, so a later curve on top of one never hides it
                lw = override.pop("linewidth", 1.3 + 1.0 * (len(groups) - 1 - gi) / max(1, len(groups) - 1))
                # a curve with simulations keeps its markers for the simulations (never confused with theory)
                marks = dict(marker=marker, markevery=every, markersize=4, markerfacecolor="white",
                             markeredgewidth=1.0) if not len(s) else {}
                (line,) = ax.plot(t[x].to_numpy(float), t[col].to_numpy(float), color=colour, linestyle=ls,
                                  linewidth=lw, label=label, gid="theory", **marks, **override)
                handles.append(line)
                drawn = True
                if optimum and optimum in t.columns:
                    opt = t[t[optimum].fillna(False).astype(bool)]
                    if "optimum_of" in opt.columns:  # the star sits on the curve that was optimised only
                        opt = opt[opt["optimum_of"].astype(str) == col]
                    if len(opt):
                        ax.plot(opt[x].to_numpy(float), opt[col].to_numpy(float), linestyle="none", marker="*",
                                markersize=11, color=colour, markeredgecolor="k", markeredgewidth=0.6,
                                gid="optimum", label="_nolegend_", zorder=5)
                        star_drawn = True
            if len(s):
                se = s[f"{col}_se"].to_numpy(float) if f"{col}_se" in s.columns else None
                cont = ax.errorbar(s[x].to_numpy(float), s[col].to_numpy(float), yerr=se, fmt=marker, color=colour,
                                   markerfacecolor=colour if ls == "-" else "white", markersize=5.5,
                                   markeredgewidth=1.2,
                                   label="_nolegend_" if drawn else label, linestyle="none")
                cont.lines[0].set_gid("sim")
                if not drawn:
                    handles.append(cont.lines[0])
    if len(sims) and any(c in sims.columns for c in ys):
        handles.append(ax.add_line(Line2D([], [], color="0.3", marker="o", linestyle="none", label="simulation",
                                          gid="legend-proxy")))
    if star_drawn:
        handles.append(ax.add_line(Line2D([], [], color="0.3", marker="*", markersize=9, linestyle="none",
                                          label="optimum (1-D optimiser)", gid="legend-proxy")))
    handles += _draw_baselines(ax, theory if len(theory) else df, x, baselines, group)
    handles += _draw_thresholds(ax, thresholds)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel if xlabel is not None else column_label(x))
    ax.set_ylabel(ylabel if ylabel is not None else (column_label(ys[0]) if len(ys) == 1 else r"test error $\varepsilon_g$"))
    if title:
        ax.set_title(title)
    if legend and handles:
        if legend == "inside":
            ax.legend(handles=handles, loc="best")
        else:
            ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return fig


def _baseline_line(ax, vals: pd.DataFrame, label: str, style: dict):
    line_df = vals.groupby("x", sort=True)["v"].mean()
    if line_df.nunique() == 1 or len(line_df) == 1:
        return ax.axhline(float(line_df.iloc[0]), label=label, gid="baseline", **style)
    (line,) = ax.plot(line_df.index.to_numpy(float), line_df.to_numpy(float), label=label, gid="baseline", **style)
    return line


def _draw_baselines(ax, df: pd.DataFrame, x: str, baselines, group: str | None = None) -> list:
    """Reference lines; a baseline that differs between groups (e.g. curves at different alpha over tau)
    is drawn once per group, in the same style, with one legend entry."""
    if not baselines:
        return []
    items = (list(baselines.items()) if isinstance(baselines, Mapping)
             else [(BASELINE_LABELS.get(c, c), c) for c in baselines])
    out = []
    for i, (label, spec) in enumerate(items):
        style = BASELINE_STYLE_BY_COLUMN.get(spec, BASELINE_STYLES[i % len(BASELINE_STYLES)]) \
            if isinstance(spec, str) else BASELINE_STYLES[i % len(BASELINE_STYLES)]
        if isinstance(spec, str):
            if spec not in df.columns:
                continue
            vals = pd.DataFrame({"x": pd.to_numeric(df[x], errors="coerce"),
                                 "v": pd.to_numeric(df[spec], errors="coerce")})
            if group is not None and group in df.columns:
                vals["g"] = df[group].to_numpy()
            vals = vals.dropna(subset=["x", "v"])
            if not len(vals):
                continue
            per_group = "g" in vals.columns and vals.groupby("x")["v"].nunique().max() > 1
            if per_group:  # the reference differs between the curves: one line each
                lines = [_baseline_line(ax, g, label if j == 0 else "_nolegend_", style)
                         for j, (_, g) in enumerate(vals.groupby("g", sort=False))]
                out.append(lines[0])
            else:
                out.append(_baseline_line(ax, vals, label, style))
        else:
            if spec is None or not math.isfinite(float(spec)):
                continue
            out.append(ax.axhline(float(spec), label=label, gid="baseline", **style))
    return out


def _draw_thresholds(ax, thresholds: Mapping[str, float] | None) -> list:
    out = []
    for i, (label, xv) in enumerate((thresholds or {}).items()):
        if xv is None or not math.isfinite(float(xv)):
            continue
        style = THRESHOLD_STYLES[i % len(THRESHOLD_STYLES)]
        out.append(ax.axvline(float(xv), label=f"{label} ({float(xv):.3g})", gid="threshold", **style))
    return out


def plot_double_descent(
    df: pd.DataFrame,
    *,
    x: str = "alpha",
    y: str | Sequence[str] = "eps_s",
    norm: str | None = "q_s",
    group: str | None = None,
    group_label: str | None = None,
    thresholds: Mapping[str, float] | None = None,
    baselines: Sequence[str] | Mapping[str, float | str] | None = ("eps_bayes_s",),
    linestyles: Mapping[str, str] | None = None,
    title: str | None = None,
    fig: Figure | None = None,
) -> Figure:
    """Error curve over ``x`` with the thresholds marked, and below it the norm (log scale).

    The double-descent peaks of the student sit at its interpolation threshold
    (alpha = eta, soft targets) or at its separability threshold (saturated
    targets); the norm panel shows where the solution's norm blows up.

    Parameters
    ----------
    df : store rows (see :func:`plot_error_curve`).
    y : error column(s), top panel.  norm : column for the bottom panel (None: one panel).
    group, group_label, thresholds, baselines, linestyles, title : as in :func:`plot_error_curve`.
    fig : draw into this (empty) figure.

    Returns
    -------
    Figure with 2 axes (error, norm) or 1 when ``norm`` is None.
    """
    fig = fig if fig is not None else plt.figure(figsize=(4.6, 5.2 if norm else 3.4))
    if norm:
        ax_e, ax_n = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 2)})
    else:
        ax_e, ax_n = fig.add_subplot(111), None
    plot_error_curve(df, x=x, y=y, group=group, group_label=group_label, baselines=baselines, thresholds=thresholds,
                     linestyles=linestyles, title=title, ax=ax_e, xlabel="" if norm else None)
    if ax_n is not None:
        plot_error_curve(df, x=x, y=norm, group=group, group_label=group_label, baselines=None,
                         thresholds=thresholds, linestyles=linestyles, logy=True, ax=ax_n, legend=False)
    return fig
