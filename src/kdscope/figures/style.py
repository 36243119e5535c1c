"""Publication style for kdscope figures, as a context (never a global rcParams change).

    with paper_style():
        fig = plot_error_curve(df, x="alpha", y="eps_t")

Also the shared vocabulary of the drawing functions: readable labels for
store column names (:func:`column_label`), the colour cycle and the styles of
baseline and threshold lines.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import matplotlib as mpl

__all__ = ["paper_style", "PAPER_RC", "COLORS", "MARKERS", "GROUP_LINESTYLES", "column_label", "learner_label",
           "symbol", "BASELINE_STYLES", "THRESHOLD_STYLES", "BASELINE_LABELS", "BASELINE_STYLE_BY_COLUMN",
           "panel_letters", "legend_outside", "SAVE_DPI"]

# Okabe-Ito colour-blind-safe palette (black last: it is used for baselines).
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
#: One marker per curve (with the colour and the line style), so coinciding curves stay visible.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<")
#: One line style per curve of a group (single-column plots).
GROUP_LINESTYLES = ("-", (0, (5, 1.5)), (0, (1, 1.2)), (0, (6, 1.5, 1.5, 1.5)), (0, (3, 1, 1, 1, 1, 1)), "-")
#: Resolution of saved raster figures (the PDF is vector).
SAVE_DPI = 300

PAPER_RC: dict[str, Any] = {
    "figure.figsize": (4.6, 3.4),
    "figure.dpi": 100,
    "savefig.dpi": SAVE_DPI,
    "savefig.bbox": "tight",
    "font.size": 9,
    "axes.labelsize": 10,
    "axes.titlesize": 10,
    "legend.fontsize": 7.5,
    "legend.frameon": False,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=list(COLORS)),
    "lines.linewidth": 1.5,
    "lines.markersize": 4.0,
    "errorbar.capsize": 2.0,
    "mathtext.fontset": "cm",
    "pdf.fonttype": 42,
}


@contextlib.contextmanager
def paper_style(**overrides: Any) -> Iterator[None]:
    """Context manager: matplotlib ``rc_context`` with :data:`PAPER_RC` (and ``overrides``, dots as '__').

    Parameters
    ----------
    **overrides : rc keys with '.' written '__', e.g. ``figure__figsize=(6, 4)``.
    """
    rc = dict(PAPER_RC)
    rc.update({k.replace("__", "."): v for k, v in overrides.items()})
    with mpl.rc_context(rc):
        yield


_LEARNER = {"t": "teacher", "s": "student", "s2": "student 2", "s3": "student 3"}
_QUANTITY = {
    "eps": r"test error $\varepsilon_g$",
    "eps_train": "training error",
    "loss_train": "training loss",
    "m": r"overlap $m$",
    "q": r"norm $q = |w|^2/d$",
    "V": r"response $V$",
    "b": r"bias $b$",
}
BASELINE_LABELS = {
    "eps_bayes": "Bayes-optimal",
    "eps_bayes_s": r"Bayes-optimal (student, $\eta$)",
    "eps_oracle": "oracle",
}
_OTHER = {
    "alpha": r"samples per dimension $\alpha = n/d$",
    "alpha_s": r"student samples $\alpha_S$",
    "lam": r"ridge $\lambda$",
    "lam_t": r"teacher ridge $\lambda_T$",
    "lam_s": r"student ridge $\lambda_S$",
    "xi": r"soft weight $\xi$",
    "tau": r"temperature $\tau$",
    "theta": r"label noise $\theta$",
    "eta": r"student fraction $\eta$",
    "delta": r"noise $\Delta$",
    "rho": r"class fraction $\rho$",
    "smoothing": r"label smoothing $\epsilon_{\rm LS}$",
    "smooth_t": r"teacher label smoothing $\epsilon_{\rm LS}$",
    "smooth_s": r"student label smoothing $\epsilon_{\rm LS}$",
    "agreement": "teacher-student agreement",
    "mse_train_ts": "teacher-student training logit MSE",
    "gain_vs_best_ridge": r"$\Delta\varepsilon_g = \varepsilon_g^{\rm KD} - \varepsilon_g^{\rm best\ ridge}$",
    "gain_vs_unregularised": r"$\Delta\varepsilon_g = \varepsilon_g^{\rm KD} - \varepsilon_g^{\rm unreg.}$",
    "gain_vs_teacher": r"$\Delta\varepsilon_g = \varepsilon_g^{\rm student} - \varepsilon_g^{\rm teacher}$",
    "gain_vs_alone": r"$\Delta\varepsilon_g = \varepsilon_g^{\rm KD} - \varepsilon_g^{\rm alone}$",
    "gain_direct": r"$\Delta\varepsilon_g = \varepsilon_g^{\rm KD} - \varepsilon_g^{\rm best\ ridge}$",
    "gain_teacher": r"$\Delta\varepsilon_g = \varepsilon_g^{\rm student} - \varepsilon_g^{\rm teacher}$",
    "knn_accuracy": "kNN accuracy",
    "rel_depth": "relative depth",
    "silhouette": "silhouette score",
    "cka": "linear CKA to the teacher",
    "accuracy": "test accuracy",
}
#: Mathtext symbol of a Setting field, for legend entries such as r'$\lambda_T = 0.1$'.
SYMBOLS = {"alpha": r"\alpha", "alpha_s": r"\alpha_S", "lam_t": r"\lambda_T", "lam_s": r"\lambda_S", "xi": r"\xi",
           "tau": r"\tau", "theta": r"\theta", "eta": r"\eta", "delta": r"\Delta", "rho": r"\rho",
           "smooth_t": r"\epsilon_{\rm LS}", "smooth_s": r"\epsilon_{\rm LS}", "smoothing": r"\epsilon_{\rm LS}"}


def symbol(name: str) -> str | None:
    """The mathtext symbol of a Setting field (lam_t gives lambda_T in mathtext); None when it has none."""
    return SYMBOLS.get(name)


def column_label(name: str) -> str:
    """A readable axis / legend label for a store column (e.g. 'eps_s' -> 'test error ε (student)')."""
    if name in _OTHER:
        return _OTHER[name]
    if name in BASELINE_LABELS:
        return BASELINE_LABELS[name]
    for qty in sorted(_QUANTITY, key=len, reverse=True):
        prefix = qty + "_"
        if name.startswith(prefix) and name[len(prefix):] in _LEARNER:
            return f"{_QUANTITY[qty]} ({_LEARNER[name[len(prefix):]]})"
    return name


def learner_label(name: str) -> str:
    """Short legend text of a per-learner column: 'eps_s' -> 'student', 'eps_t' -> 'teacher'; else :func:`column_label`."""
    for qty in sorted(_QUANTITY, key=len, reverse=True):
        prefix = qty + "_"
        if name.startswith(prefix) and name[len(prefix):] in _LEARNER:
            return _LEARNER[name[len(prefix):]]
    return column_label(name)


BASELINE_STYLES = (
    {"color": "0.35", "linestyle": ":", "linewidth": 1.2},
    {"color": "0.55", "linestyle": "-.", "linewidth": 1.0},
    {"color": "0.2", "linestyle": (0, (1, 3)), "linewidth": 1.0},
)
# fixed styles of the standard baselines, so a line looks the same in every figure
BASELINE_STYLE_BY_COLUMN = {
    "eps_bayes": {"color": "0.15", "linestyle": ":", "linewidth": 1.4},
    "eps_bayes_s": {"color": "0.45", "linestyle": (0, (4, 1.5, 1, 1.5, 1, 1.5)), "linewidth": 1.2},
    "eps_oracle": {"color": "0.6", "linestyle": (0, (8, 2)), "linewidth": 1.0},
}
THRESHOLD_STYLES = (
    {"color": "0.45", "linestyle": "--", "linewidth": 0.9},
    {"color": "#882255", "linestyle": (0, (4, 2, 1, 2)), "linewidth": 0.9},
    {"color": "#117733", "linestyle": (0, (2, 2)), "linewidth": 0.9},
)


def panel_letters(axes, x: float = -0.04, y: float = 1.03) -> None:
    """Bold '(a)', '(b)' ... just outside the top left corner of each of ``axes`` (multi-panel figures)."""
    for i, ax in enumerate(axes):
        ax.text(x, y, f"({chr(ord('a') + i)})", transform=ax.transAxes, fontweight="bold", fontsize=10,
                va="bottom", ha="right", gid="panel_letter")


def legend_outside(fig, handles: list, ncol: int | None = None):
    """One legend for the whole figure, below the axes (outside the data), de-duplicated by label."""
    seen: dict[str, object] = {}
    for h in handles:
        label = h.get_label()
        if label and not label.startswith("_") and label not in seen:
            seen[label] = h
    if not seen:
        return None
    n = ncol or min(3, len(seen))
    return fig.legend(list(seen.values()), list(seen.keys()), loc="upper center", bbox_to_anchor=(0.5, 0.0),
                      ncol=n, frameon=False)
