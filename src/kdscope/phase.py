"""Phase diagrams of the student's gain from distillation: the grids, their sweeps, their figures.

Four diagrams over (alpha, y) with y in {lam_t, xi, tau, theta}, everything else at the reference
paper's defaults (:data:`PHASE_BASE`: delta = 1, rho = 0.2, sparse student eta = 0.5, logistic
teacher, KL student at tau = 1, xi = 1, lam_s = 1e-3, lam_t = 0.1 where not swept).  At every point:

* ``gain_direct = eps_s - eps_s_direct``: the KD student's error minus that of the best directly
  regularised student (same Setting, xi = 0, lam_s optimised); negative where distillation beats
  any ridge;
* ``gain_teacher = eps_s - eps_t``: negative where the student beats its teacher.

The points are computed by :func:`kdscope.sweep.sweep` (result store, executors, continuation
along alpha, derived column ``gain``); the figures are drawn by
:func:`kdscope.figures.phase.plot_phase_diagram` with the zero-gain contour and the thresholds
(teacher's and student's separability thresholds at lam = 0, the student's interpolation
threshold alpha = eta) as vertical lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from kdscope.store import ResultStore
from kdscope.sweep import SweepSpec, sweep

__all__ = ["PHASE_BASE", "PhaseDiagram", "phase_diagrams", "phase_spec", "phase_thresholds", "compute_phase",
           "draw_phase", "make_phase_figures", "GAINS"]

#: Setting fields shared by every phase diagram (the swept field overrides its entry).
PHASE_BASE = dict(delta=1.0, rho=0.2, eta=0.5, loss_t="logistic", loss_s="logistic", soft="kl", xi=1.0, tau=1.0,
                  lam_s=1e-3, lam_t=0.1, generations=1)
#: The two gains drawn side by side: column -> colour-bar label.
GAINS = {"gain_direct": r"$\epsilon_s - \epsilon_s^{\rm direct}$ (best ridge, $\xi = 0$)",
         "gain_teacher": r"$\epsilon_s - \epsilon_t$"}


@dataclass(frozen=True)
class PhaseDiagram:
    """One diagram: the swept field ``y`` against alpha (grids as tuples)."""

    name: str
    y: str
    y_values: tuple[float, ...]
    alphas: tuple[float, ...]
    logy: bool
    title: str


def phase_diagrams(quick: bool = False, n_alpha: int | None = None, n_y: int | None = None) -> list[PhaseDiagram]:
    """The four diagrams; ``quick``: 12 x 10 grids (minutes on 2 cores), else 40 x 30 (or n_alpha x n_y)."""
    na = n_alpha or (12 if quick else 40)
    ny = n_y or (10 if quick else 30)
    if na < 2 or ny < 2:
        raise ValueError(f"phase grids need n_alpha >= 2 and n_y >= 2; got n_alpha={na}, n_y={ny}.")
    alphas = tuple(float(a) for a in np.geomspace(0.25, 10.0, na))

    def grid(lo, hi, log):
        return tuple(float(v) for v in (np.geomspace(lo, hi, ny) if log else np.linspace(lo, hi, ny)))

    return [
        PhaseDiagram("lam_t", "lam_t", grid(1e-3, 10.0, True), alphas, True, r"teacher ridge $\lambda_t$ ($\xi = 1$)"),
        PhaseDiagram("xi", "xi", grid(0.0, 1.0, False), alphas, False, r"soft-label weight $\xi$ ($\lambda_t = 0.1$)"),
        PhaseDiagram("tau", "tau", grid(0.25, 20.0, True), alphas, True,
                     r"temperature $\tau$ ($\xi = 1$, $\lambda_t = 0.1$)"),
        PhaseDiagram("theta", "theta", grid(0.0, 0.4, False), alphas, False,
                     r"label noise $\theta$ ($\xi = 1$, $\lambda_t = 0.1$)"),
    ]


def phase_spec(diagram: PhaseDiagram, backend: str = "auto") -> SweepSpec:
    """The sweep of one diagram: grid (y, alpha) with alpha fastest (continuation along alpha), derived gain."""
    return SweepSpec.from_dict(dict(
        name=f"phase_{diagram.name}", description=f"student's gain over (alpha, {diagram.y})",
        base={k: v for k, v in PHASE_BASE.items() if k != diagram.y},
        grid={diagram.y: list(diagram.y_values), "alpha": list(diagram.alphas)},
        theory=True, derived=["gain"], backend=backend,
    ))


def phase_thresholds(base: dict | None = None) -> dict[str, float]:
    """Threshold lines (label -> alpha) at the base Setting (lam = 0, theta = 0)."""
    from kdscope.theory import Setting, interpolation_threshold, separability_threshold

    s = Setting(**(base or PHASE_BASE))
    return {
        rf"teacher separability $\alpha^*$ = {separability_threshold(s.delta, s.rho):.2f}":
            separability_threshold(s.delta, s.rho),
        rf"student separability = {separability_threshold(s.delta, s.rho, eta=s.eta):.2f}":
            separability_threshold(s.delta, s.rho, eta=s.eta),
        rf"interpolation $\alpha = \eta$ = {interpolation_threshold(s):g}": interpolation_threshold(s),
    }


def compute_phase(diagram: PhaseDiagram, store: ResultStore, *, executor="processes", workers: int | None = None,
                  scheduler: str | None = None, backend: str = "auto", progress: bool = True):
    """The tidy table of one diagram (through the store: a rerun costs nothing)."""
    return sweep(phase_spec(diagram, backend), store=store, executor=executor, workers=workers, scheduler=scheduler,
                 progress=progress)


def draw_phase(df, diagram: PhaseDiagram, thresholds: dict[str, float] | None = None):
    """Figure with the two gains side by side (``plot_phase_diagram`` per panel); pure drawing."""
    import matplotlib.pyplot as plt

    from kdscope.figures.phase import plot_phase_diagram
    from kdscope.figures.style import paper_style

    thresholds = phase_thresholds() if thresholds is None else thresholds
    theory = df[df["kind"] == "theory"] if "kind" in df.columns else df
    with paper_style():
        fig, axes = plt.subplots(1, 2, figsize=(10.0, 3.8))
        for ax, (col, label) in zip(axes, GAINS.items()):
            plot_phase_diagram(theory, x="alpha", y=diagram.y, value=col, logx=True, logy=diagram.logy,
                               vlines=thresholds, value_label=label, title=diagram.title, ax=ax)
            if ax is not axes[0] and ax.get_legend() is not None:
                ax.get_legend().remove()
        fig.tight_layout()
    return fig


def make_phase_figures(out: str | Path, *, quick: bool = False, only: list[str] | None = None,
                       executor="processes", workers: int | None = None, scheduler: str | None = None,
                       backend: str = "auto", progress: bool = True, n_alpha: int | None = None,
                       n_y: int | None = None, echo: Callable[[str], None] | None = None) -> list[Path]:
    """Compute and draw the phase diagrams into ``out``: phase_<name>.parquet / .png / .pdf each.

    The points go through the store ``out/store``.  Returns the written paths.
    """
    import matplotlib.pyplot as plt

    from kdscope.sweep import describe

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    store = ResultStore(out / "store")
    diagrams = phase_diagrams(quick, n_alpha, n_y)
    if only:
        known = [d.name for d in diagrams]
        bad = [o for o in only if o not in known]
        if bad:
            raise ValueError(f"'only' names unknown phase diagram(s) {bad}; known: {', '.join(known)}.")
        diagrams = [d for d in diagrams if d.name in only]
    thresholds = phase_thresholds()
    paths: list[Path] = []
    for d in diagrams:
        df = compute_phase(d, store, executor=executor, workers=workers, scheduler=scheduler, backend=backend,
                           progress=progress)
        stem = out / f"phase_{d.name}"
        df.to_parquet(stem.with_suffix(".parquet"), index=False)
        fig = draw_phase(df, d, thresholds)
        for ext in (".png", ".pdf"):
            fig.savefig(stem.with_suffix(ext))
        plt.close(fig)
        paths += [stem.with_suffix(e) for e in (".parquet", ".png", ".pdf")]
        if echo:
            echo(describe(df) + f" -> {stem}.png")
    return paths
