"""Figures of the empirical (deep-network) experiments: pure drawing, tidy tables in.

``plot_accuracy_vs_tau`` draws the kl_vs_mse experiment from its summary table
(one row per learner, columns as written by ``kdscope.empirical.runner.summarize``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from kdscope.figures.tables import one_condition

_REQUIRED = ("learner", "role", "loss", "tau", "xi")


def plot_accuracy_vs_tau(
    summary: pd.DataFrame,
    *,
    metric: str = "test_acc_best",
    condition: str | None = None,
    show_teacher: bool = True,
    ax: plt.Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Student test accuracy vs temperature tau for KL distillation, with reference lines.

    Parameters
    ----------
    summary : DataFrame
        Columns ``learner, role, loss, tau, xi, <metric>_mean, <metric>_std`` (optionally
        ``condition`` and ``features``).  KL students (loss "kl", xi > 0, no feature paths)
        become points with error bars (one std) at their tau; tau = inf is drawn at the right
        end, past the largest finite tau, with the tick label "$\\infty$" (the centred-logit MSE
        limit).  Each logit-MSE student (loss "mse") is a horizontal line, the student
        trained alone (loss "ce") a dashed line, the teacher a dotted one; each line has a
        shaded one-std band.
    metric : str
        Column stem, e.g. "test_acc_best" (test accuracy at the best validation epoch) or
        "test_acc_last".
    condition : str, optional
        Which condition to draw when the table holds several.
    show_teacher : bool
    ax : matplotlib Axes, optional
        Draw into these axes instead of a new figure.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    missing = [c for c in (*_REQUIRED, f"{metric}_mean", f"{metric}_std") if c not in summary.columns]
    if missing:
        raise ValueError(f"plot_accuracy_vs_tau: summary lacks columns {missing}.")
    df = one_condition(summary, condition, "plot_accuracy_vs_tau")
    plain = df["features"].fillna("") == "" if "features" in df.columns else pd.Series(True, index=df.index)
    mean, std = f"{metric}_mean", f"{metric}_std"
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    else:
        fig = ax.figure

    kl = df[(df["loss"] == "kl") & (df["xi"] > 0) & plain].sort_values("tau")
    finite = kl["tau"][np.isfinite(kl["tau"])]
    x_inf = (finite.max() if len(finite) else 1.0) * 4.0
    x = np.where(np.isfinite(kl["tau"]), kl["tau"], x_inf)
    ax.errorbar(x, kl[mean], yerr=kl[std].fillna(0.0), marker="o", capsize=3, color="C0", label=r"KL, $\tau^2$ factor")

    def hline(rows: pd.DataFrame, style: str, color: str, label_of) -> None:
        for _, r in rows.iterrows():
            y, s = r[mean], (0.0 if pd.isna(r[std]) else r[std])
            ax.axhline(y, linestyle=style, color=color, label=label_of(r))
            if s > 0:
                ax.axhspan(y - s, y + s, color=color, alpha=0.12, linewidth=0)

    hline(df[(df["loss"] == "mse") & (df["xi"] > 0) & plain], "-", "C1", lambda r: f"logit MSE ({r['learner']})")
    hline(df[(df["role"] == "student") & (df["loss"] == "ce") & plain], "--", "C2", lambda r: "student alone")
    if show_teacher:
        hline(df[df["role"] == "teacher"], ":", "0.3", lambda r: "teacher")

    ax.set_xscale("log")
    ticks = [*sorted(set(finite.tolist())), *([x_inf] if (~np.isfinite(kl["tau"])).any() else [])]
    if ticks:
        ax.set_xticks(ticks, [(r"$\infty$" if t == x_inf else f"{t:g}") for t in ticks])
        ax.minorticks_off()
        ax.set_xlim(min(ticks) / 1.6, max(ticks) * 1.6)
    ax.set_xlabel(r"temperature $\tau$")
    kind = "best-validation epoch" if metric.endswith("_best") else "last epoch"
    ax.set_ylabel(f"test accuracy ({kind})")
    xi_values = sorted(set(kl["xi"].tolist()))
    xi_text = ", ".join(f"{v:g}" for v in xi_values)
    default_title = rf"KL vs logit MSE, $\xi$ = {xi_text}" if xi_values else "KL vs logit MSE"
    ax.set_title(title if title is not None else default_title)
    ax.legend(fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3)
    return fig



def plot_gain_vs_tau(
    summary: pd.DataFrame,
    *,
    condition: str | None = None,
    ax: plt.Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Paired gain over the student alone vs temperature tau, with 95% CIs (the claim behind the tau figure).

    Parameters
    ----------
    summary : DataFrame
        Columns ``learner, role, loss, tau, xi, delta_vs_alone, delta_ci_low, delta_ci_high``
        (the run summary of :func:`kdscope.empirical.runner.summarize`).  KL students
        become points with their 95% interval of the paired difference (tau = inf at the
        right end, as in :func:`plot_accuracy_vs_tau`); each logit-MSE student is a
        horizontal line with its interval as a band; a zero line marks "no gain".
    condition, ax, title : as in :func:`plot_accuracy_vs_tau`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    need = (*_REQUIRED, "delta_vs_alone", "delta_ci_low", "delta_ci_high")
    missing = [c for c in need if c not in summary.columns]
    if missing:
        raise ValueError(f"plot_gain_vs_tau: summary lacks columns {missing}.")
    df = one_condition(summary, condition, "plot_gain_vs_tau")
    plain = df["features"].fillna("") == "" if "features" in df.columns else pd.Series(True, index=df.index)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    else:
        fig = ax.figure
    kl = df[(df["loss"] == "kl") & (df["xi"] > 0) & plain].sort_values("tau")
    finite = kl["tau"][np.isfinite(kl["tau"])]
    x_inf = (finite.max() if len(finite) else 1.0) * 4.0
    x = np.where(np.isfinite(kl["tau"]), kl["tau"], x_inf)
    d = kl["delta_vs_alone"]
    yerr = np.vstack([(d - kl["delta_ci_low"]).fillna(0.0), (kl["delta_ci_high"] - d).fillna(0.0)])
    ax.errorbar(x, d, yerr=yerr, marker="o", capsize=3, color="C0", label=r"KL $-$ alone (95% CI)")
    for _, r in df[(df["loss"] == "mse") & (df["xi"] > 0) & plain].iterrows():
        ax.axhline(r["delta_vs_alone"], color="C1", label=f"logit MSE $-$ alone ({r['learner']})")
        if pd.notna(r["delta_ci_low"]):
            ax.axhspan(r["delta_ci_low"], r["delta_ci_high"], color="C1", alpha=0.12, linewidth=0)
    ax.axhline(0.0, color="0.3", linewidth=0.8)
    ax.set_xscale("log")
    ticks = [*sorted(set(finite.tolist())), *([x_inf] if (~np.isfinite(kl["tau"])).any() else [])]
    if ticks:
        ax.set_xticks(ticks, [(r"$\infty$" if t == x_inf else f"{t:g}") for t in ticks])
        ax.minorticks_off()
        ax.set_xlim(min(ticks) / 1.6, max(ticks) * 1.6)
    ax.set_xlabel(r"temperature $\tau$")
    ax.set_ylabel("test accuracy $-$ student alone (paired)")
    ax.set_title(title if title is not None else "gain over the student alone")
    ax.legend(fontsize="small", frameon=False, loc="best")
    ax.grid(alpha=0.3)
    return fig
