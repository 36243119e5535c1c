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

__all__ = ["paper_style", "PAPER_RC", "COLORS", "column_label", "learner_label", "BASELINE_STYLES", "THRESHOLD_STYLES",
           "BASELINE_LABELS", "BASELINE_STYLE_BY_COLUMN"]

# Okabe-Ito colour-blind-safe palette (black last: it is used for baselines).
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")

PAPER_RC: dict[str, Any] = {
    "figure.figsize": (4.6, 3.4),
    "figure.dpi": 110,
    "savefig.dpi": 200,
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
    "eps": r"test error $\varepsilon$",
    "eps_train": "training error",
    "loss_train": "training loss",
    "m": r"overlap $m$",
    "q": r"norm $q = |w|^2/d$",
    "V": r"response $V$",
    "b": r"bias $b$",
}
BASELINE_LABELS = {
    "eps_bayes": "Bayes-optimal",
    "eps_bayes_s": "Bayes-optimal (student)",
    "eps_oracle": "oracle",
}
_OTHER = {
    "alpha": r"$\alpha = n/d$",
    "alpha_s": r"$\alpha_S$",
    "lam": r"ridge $\lambda$",
    "lam_t": r"teacher ridge $\lambda_T$",
    "lam_s": r"student ridge $\lambda_S$",
    "xi": r"soft weight $\xi$",
    "tau": r"temperature $\tau$",
    "theta": r"label noise $\theta$",
    "eta": r"student fraction $\eta$",
    "delta": r"noise $\Delta$",
    "rho": r"class fraction $\rho$",
    "smoothing": r"label smoothing $\epsilon$",
    "agreement": "teacher-student agreement",
    "mse_train_ts": "teacher-student training logit MSE",
    "gain": r"$\varepsilon_{direct} - \varepsilon_{KD}$",
}


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
    "eps_bayes": {"color": "0.3", "linestyle": ":", "linewidth": 1.3},
    "eps_bayes_s": {"color": "0.55", "linestyle": (0, (1, 1.5)), "linewidth": 1.3},
    "eps_oracle": {"color": "0.5", "linestyle": "-.", "linewidth": 1.0},
}
THRESHOLD_STYLES = (
    {"color": "0.45", "linestyle": "--", "linewidth": 0.9},
    {"color": "#882255", "linestyle": (0, (4, 2, 1, 2)), "linewidth": 0.9},
    {"color": "#117733", "linestyle": (0, (2, 2)), "linewidth": 0.9},
)
