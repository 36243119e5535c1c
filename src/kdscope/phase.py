"""Phase diagrams of the student's gain from distillation: where does distillation win?

Six diagrams, everything at the reference paper's defaults (:data:`PHASE_BASE`: delta = 1,
rho = 0.2, sparse student eta = 0.5, logistic teacher, KL student at tau = 1, xi = 1, lam_s = 1e-3,
lam_t = 0.1 where not swept), each over alpha and one more parameter:

* ``lam_t``, ``xi``, ``tau``, ``theta`` (label noise): the ridge teacher of the paper;
* ``bayes``: (alpha, xi) with the Bayes-optimal teacher (DESIGN.md section 1, kind b);
* ``fresh``: (alpha_S, alpha_T), fresh-sample distillation with a dense student (eta = 1): the
  teacher is trained on alpha_T d samples, the student on alpha_S d other samples labelled by it.

One sign for every gain (:data:`GAINS`), the reference named in the column:
``Delta eps = eps_student - eps_reference``, **negative where distillation helps**:

* ``gain_vs_best_ridge = eps_s - eps_s(best direct ridge)``: against the student trained alone
  on its samples (xi = 0) at its optimal ridge (the sweep's ``gain_direct``);
* ``gain_vs_unregularised = eps_s - eps_s(xi = 0, same lam_s)``: against the same student trained
  alone without its teacher (regularisation inheritance: the reference paper's headline);
* ``gain_vs_teacher = eps_s - eps_t``: against the teacher itself.

The grid points go through :func:`kdscope.sweep.sweep` (result store, executors, continuation
along the x axis, derived column ``gain``); the unregularised reference is the equivalent dense
K = 1 problem (alpha_S / eta, delta / eta, lam_s / eta^2), solved once per distinct point.  The
figures (:func:`draw_phase`) show each gain with its labelled zero contour and the thresholds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from kdscope.store import ResultStore
from kdscope.sweep import SweepSpec, sweep

__all__ = ["PHASE_BASE", "PhaseDiagram", "phase_diagrams", "phase_spec", "phase_thresholds", "compute_phase",
           "add_gains", "draw_phase", "make_phase_figures", "GAINS", "phase_caption"]

#: Setting fields shared by every phase diagram (the swept fields and a diagram's ``base`` override them).
PHASE_BASE = dict(delta=1.0, rho=0.2, eta=0.5, loss_t="logistic", loss_s="logistic", soft="kl", xi=1.0, tau=1.0,
                  lam_s=1e-3, lam_t=0.1, generations=1)
#: The gains, column -> colour-bar label; every one is eps(student) - eps(reference), negative: KD helps.
GAINS = {
    "gain_vs_best_ridge": r"$\varepsilon_g^{\rm KD} - \varepsilon_g^{\rm best\ ridge}$",
    "gain_vs_unregularised": r"$\varepsilon_g^{\rm KD} - \varepsilon_g^{\rm unregularised}$",
    "gain_vs_teacher": r"$\varepsilon_g^{\rm student} - \varepsilon_g^{\rm teacher}$",
}
_REFERENCE = {"gain_vs_best_ridge": "student alone at its optimal ridge",
              "gain_vs_unregularised": r"student alone, same $\lambda_S$",
              "gain_vs_teacher": "its teacher"}


@dataclass(frozen=True)
class PhaseDiagram:
    """One diagram: field ``y`` against field ``x`` (grids as tuples), with ``base`` overriding PHASE_BASE."""

    name: str
    y: str
    y_values: tuple[float, ...]
    alphas: tuple[float, ...]
    logy: bool
    title: str
    x: str = "alpha"
    base: dict = field(default_factory=dict)
    logx: bool = True
    ylabel: str | None = None

    @property
    def setting_base(self) -> dict:
        """The fixed Setting fields of this diagram."""
        return {k: v for k, v in {**PHASE_BASE, **self.base}.items() if k not in (self.x, self.y)}


def phase_diagrams(quick: bool = False, n_alpha: int | None = None, n_y: int | None = None) -> list[PhaseDiagram]:
    """The six diagrams; ``quick``: 12 x 10 grids (minutes on 2 cores), else 40 x 30 (or n_alpha x n_y)."""
    na = n_alpha or (12 if quick else 40)
    ny = n_y or (10 if quick else 30)
    if na < 2 or ny < 2:
        raise ValueError(f"phase grids need n_alpha >= 2 and n_y >= 2; got n_alpha={na}, n_y={ny}.")
    alphas = tuple(float(a) for a in np.geomspace(0.25, 10.0, na))

    def grid(lo, hi, log):
        return tuple(float(v) for v in (np.geomspace(lo, hi, ny) if log else np.linspace(lo, hi, ny)))

    return [
        PhaseDiagram("lam_t", "lam_t", grid(1e-3, 10.0, True), alphas, True,
                     r"teacher ridge $\lambda_T$ ($\xi = 1$)"),
        PhaseDiagram("xi", "xi", grid(0.0, 1.0, False), alphas, False, r"soft weight $\xi$ ($\lambda_T = 0.1$)"),
        PhaseDiagram("tau", "tau", grid(0.25, 20.0, True), alphas, True,
                     r"temperature $\tau$ ($\xi = 1$, $\lambda_T = 0.1$)"),
        PhaseDiagram("theta", "theta", grid(0.0, 0.4, False), alphas, False,
                     r"label noise $\theta$ ($\xi = 1$, $\lambda_T = 0.1$)"),
        PhaseDiagram("bayes", "xi", grid(0.0, 1.0, False), alphas, False,
                     r"Bayes-optimal teacher, soft weight $\xi$", base=dict(teacher="bayes")),
        PhaseDiagram("fresh", "alpha", grid(0.25, 20.0, True), alphas, True,
                     r"fresh samples: teacher $\alpha_T$, dense student $\alpha_S$ ($\eta = 1$)", x="alpha_s",
                     base=dict(eta=1.0), ylabel=r"teacher samples $\alpha_T$"),
    ]


def phase_spec(diagram: PhaseDiagram, backend: str = "auto") -> SweepSpec:
    """The sweep of one diagram: grid (y, x) with x fastest (continuation along x), derived gain."""
    return SweepSpec.from_dict(dict(
        name=f"phase_{diagram.name}", description=f"student's gain over ({diagram.x}, {diagram.y})",
        base=diagram.setting_base, grid={diagram.y: list(diagram.y_values), diagram.x: list(diagram.alphas)},
        theory=True, derived=["gain"], backend=backend,
    ))


def phase_thresholds(base: dict | None = None) -> dict[str, float]:
    """Threshold lines (label -> alpha) at the base Setting (lam = 0, theta = 0)."""
    from kdscope.theory import Setting, interpolation_threshold, separability_threshold

    s = Setting(**(base or PHASE_BASE))
    out = {}
    if s.eta < 1:
        t = separability_threshold(s.delta, s.rho)
        out[rf"teacher separability $\alpha^*$ = {t:.2f}"] = t
    st = separability_threshold(s.delta, s.rho, eta=s.eta)
    out[rf"student separability = {st:.2f}"] = st
    out[rf"interpolation $\alpha = \eta$ = {interpolation_threshold(s):g}"] = interpolation_threshold(s)
    return out


def _setting_of(row: dict):
    """The Setting of a stored row (optional fields stored as NaN become None)."""
    from kdscope.theory import Setting

    kw = {}
    for f in Setting.field_names():
        if f not in row:
            continue
        v = row[f]
        if isinstance(v, float) and math.isnan(v):
            v = None
        if isinstance(v, (np.generic,)):
            v = v.item()
        kw[f] = v
    if kw.get("teacher") != "fixed":
        kw.update(m0=None, q0=None, b0=None)
    kw["generations"] = int(kw.get("generations", 1))
    return Setting(**kw)


def _unregularised_student(s):
    """The first student trained alone (xi = 0, its own lam_s) as the dense K = 1 problem.

    A sparse student on eta d coordinates is the dense learner at
    (alpha_S / eta, delta / eta, lam_s / eta^2) (DESIGN.md section 1); its error is ``eps_t`` there.
    """
    from kdscope.theory import Setting

    a = s.alpha_s if s.alpha_s is not None else s.alpha
    return Setting(alpha=a / s.eta, delta=s.delta / s.eta, rho=s.rho, theta=s.theta, lam_t=s.lam_s / s.eta ** 2,
                   loss_t=s.loss_s, smooth_t=s.smooth_s, bias=s.bias)


def add_gains(df, store: ResultStore | None = None):
    """Add the three gain columns of :data:`GAINS` (and ``eps_s_unregularised``) to a sweep's theory rows.

    ``gain_vs_best_ridge`` is the sweep's ``gain_direct`` (same sign); the
    unregularised reference is solved here (through ``store``), once per
    distinct (alpha_S, delta, rho, theta, eta, lam_s).
    """
    from kdscope.curves import theory_point

    out = df.copy()
    out["gain_vs_best_ridge"] = out["gain_direct"] if "gain_direct" in out.columns else math.nan
    out["gain_vs_teacher"] = out["eps_s"] - out["eps_t"]
    cache: dict[str, float] = {}
    ref = []
    for row in out.to_dict("records"):
        u = _unregularised_student(_setting_of(row))
        key = u.key()
        if key not in cache:
            rec, _ = theory_point(u, store=store)
            cache[key] = float(rec["eps_t"]) if rec.get("converged") else math.nan
        ref.append(cache[key])
    out["eps_s_unregularised"] = ref
    out["gain_vs_unregularised"] = out["eps_s"] - out["eps_s_unregularised"]
    return out


def compute_phase(diagram: PhaseDiagram, store: ResultStore, *, executor="processes", workers: int | None = None,
                  scheduler: str | None = None, backend: str = "auto", progress: bool = True):
    """The tidy table of one diagram with its gains (through the store: a rerun costs nothing)."""
    df = sweep(phase_spec(diagram, backend), store=store, executor=executor, workers=workers, scheduler=scheduler,
               progress=progress)
    theory = df[df["kind"] == "theory"] if "kind" in df.columns else df
    return add_gains(theory, store)


def _diagram_thresholds(diagram: PhaseDiagram) -> tuple[dict, dict]:
    """(vertical lines, curves) of a diagram: thresholds in its x, and the diagonal alpha_T = alpha_S."""
    vl = phase_thresholds({**PHASE_BASE, **diagram.base})
    curves = {}
    if diagram.x == "alpha_s":
        lo, hi = min(diagram.alphas), max(diagram.alphas)
        curves[r"$\alpha_T = \alpha_S$"] = ([lo, hi], [lo, hi])
        vl = {k: v for k, v in vl.items() if not k.startswith("teacher")}
    return vl, curves


def draw_phase(df, diagram: PhaseDiagram, thresholds: dict[str, float] | None = None, gains=None):
    """Figure with one panel per gain (``plot_phase_diagram``), labelled zero contours, thresholds; pure drawing."""
    import matplotlib.pyplot as plt

    from kdscope.figures.phase import plot_phase_diagram
    from kdscope.figures.style import legend_outside, panel_letters, paper_style

    vl, curves = _diagram_thresholds(diagram)
    vl = vl if thresholds is None else thresholds
    gains = [g for g in (gains or GAINS) if g in df.columns and np.isfinite(df[g]).any()]
    theory = df[df["kind"] == "theory"] if "kind" in df.columns else df
    with paper_style():
        fig, axes = plt.subplots(1, len(gains), figsize=(4.3 * len(gains), 3.6), squeeze=False)
        handles = []
        for ax, col in zip(axes[0], gains):
            plot_phase_diagram(theory, x=diagram.x, y=diagram.y, value=col, logx=diagram.logx, logy=diagram.logy,
                               vlines=vl, curves=curves, value_label=GAINS.get(col, col),
                               title=f"vs {_REFERENCE.get(col, col)}", ylabel=diagram.ylabel, ax=ax, legend=False)
            handles += ax.get_legend_handles_labels()[0]
        panel_letters(axes[0])
        fig.suptitle(diagram.title + r":  $\Delta\varepsilon_g < 0$ (blue) where distillation helps", y=1.02)
        fig.tight_layout()
        legend_outside(fig, handles, ncol=3)
    return fig


def phase_caption(diagram: PhaseDiagram, df=None) -> dict:
    """The caption sidecar of a phase diagram: parameters, grids, gains and their sign, thresholds."""
    vl, _ = _diagram_thresholds(diagram)
    out = dict(figure=f"phase_{diagram.name}", title=diagram.title, x=diagram.x, y=diagram.y,
               x_range=[min(diagram.alphas), max(diagram.alphas)], y_range=[min(diagram.y_values),
                                                                          max(diagram.y_values)],
               grid=[len(diagram.alphas), len(diagram.y_values)], setting=diagram.setting_base,
               gains={k: f"eps(student) - eps({_REFERENCE[k]})" for k in GAINS},
               sign="negative (blue): distillation helps; black line: zero contour",
               thresholds={k: float(v) for k, v in vl.items()},
               theory="replica-symmetric saddle point (d -> infinity); no simulations, no error bars")
    if df is not None:
        for g in GAINS:
            if g in df.columns:
                v = df[g].to_numpy(float)
                out[f"{g}_range"] = [float(np.nanmin(v)), float(np.nanmax(v))] if np.isfinite(v).any() else None
                out[f"{g}_negative_fraction"] = float(np.mean(v[np.isfinite(v)] < 0)) if np.isfinite(v).any() else None
    return out


def make_phase_figures(out: str | Path, *, quick: bool = False, only: list[str] | None = None,
                       executor="processes", workers: int | None = None, scheduler: str | None = None,
                       backend: str = "auto", progress: bool = True, n_alpha: int | None = None,
                       n_y: int | None = None, echo: Callable[[str], None] | None = None) -> list[Path]:
    """Compute and draw the phase diagrams into ``out``: phase_<name>.parquet / .png / .pdf / .json each.

    The points go through the store ``out/store``.  Returns the written paths.
    """
    import json

    import matplotlib.pyplot as plt

    from kdscope.figures.style import SAVE_DPI
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
    paths: list[Path] = []
    for d in diagrams:
        df = compute_phase(d, store, executor=executor, workers=workers, scheduler=scheduler, backend=backend,
                           progress=progress)
        stem = out / f"phase_{d.name}"
        df.to_parquet(stem.with_suffix(".parquet"), index=False)
        fig = draw_phase(df, d)
        for ext in (".png", ".pdf"):
            fig.savefig(stem.with_suffix(ext), dpi=SAVE_DPI, bbox_inches="tight")
        plt.close(fig)
        stem.with_suffix(".json").write_text(json.dumps(phase_caption(d, df), indent=2))
        paths += [stem.with_suffix(e) for e in (".parquet", ".png", ".pdf", ".json")]
        if echo:
            echo(describe(df) + f" -> {stem}.png")
    return paths
