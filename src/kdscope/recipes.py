"""Recipes for the figures of the reference paper (Saglietti & Zdeborova, MSML 2022) and a few beyond it.

A :class:`Recipe` is data: a list of :class:`CurveSpec` (a base Setting, the
swept field and its values, optionally "at the optimal ridge"), each tagged
with a legend label and a panel, plus a drawing function that takes the tidy
table and returns a Figure.  :func:`run_recipe` computes the table through the
result store (so a rerun is free), :func:`paper_recipes` lists the recipes at
full or quick resolution.  DESIGN.md section 7 gives the targets and the
corrections used here:

- defaults delta = 1, rho = 0.2, eta = 0.5 for the student, logistic losses, tau = 1;
- "lam_S ~ 0" is lam_S = 1e-4 (:data:`LAM0`; lam = 0 has no solution below separability);
- Fig. 3 (bottom) and Fig. 8 use lam_T = 0.15 and tau = 2 without the tau^2 factor
  (``tau2_factor=False``), Fig. 10 the same convention;
- thresholds are marked: separability alpha* of teacher and student, interpolation alpha = eta.

Only converged points are drawn; failed ones stay in the table with their status.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from kdscope.theory.setting import Setting

__all__ = ["CurveSpec", "Recipe", "paper_recipes", "extension_recipes", "run_recipe", "make_figure", "LAM0", "DEFAULTS"]

LAM0 = 1e-4
DEFAULTS = dict(delta=1.0, rho=0.2)
STUDENT = dict(generations=1, eta=0.5)
APPENDIX_B = dict(lam_t=0.15, tau=2.0, tau2_factor=False)


@dataclass(frozen=True)
class CurveSpec:
    """One curve of a recipe: ``base.replace(field=v)`` for v in ``values``.

    label : legend text (the value of the table's ``curve`` column).
    panel : which panel of the figure it belongs to.
    optimal : None, or 't' / 's' to use the optimal teacher / student ridge at every point.
    show : observable columns kept for this curve; other columns in ``mask`` are blanked
        (e.g. a directly trained student's teacher error is not drawn).
    """

    label: str
    base: Setting
    field: str
    values: tuple
    panel: str = ""
    optimal: str | None = None
    mask: tuple = ()
    simulate: bool = True


@dataclass(frozen=True)
class Recipe:
    """A figure: its curves, the name of the x column and the drawing function (table -> Figure)."""

    name: str
    title: str
    curves: tuple
    draw: Callable
    x: str = "alpha"
    prepare: Callable | None = None
    notes: str = ""


def run_recipe(recipe: Recipe, store=None, with_sims: bool = False, sim_d: int = 1000, sim_seeds: int = 5,
               sim_points: int = 5, progress: bool = False, echo: Callable[[str], None] | None = None):
    """Compute every curve of ``recipe`` (through ``store``) and return the tidy table.

    Columns: the store's (Setting fields, observables, status, kind), plus
    ``curve`` (the spec's label), ``panel``, ``recipe`` and ``recipe.x`` (the
    swept value, e.g. 'lam' for a curve over lam_t or lam_s).
    """
    import pandas as pd

    from kdscope.curves import compute_curve

    frames = []
    for spec in recipe.curves:
        df = compute_curve(spec.base, spec.field, list(spec.values), store=store, optimal=spec.optimal,
                           sim_d=sim_d if (with_sims and spec.simulate) else None, sim_seeds=sim_seeds,
                           sim_points=sim_points, progress=progress, echo=echo)
        df["curve"] = spec.label
        df["panel"] = spec.panel
        df["recipe"] = recipe.name
        df[recipe.x] = df[spec.field]
        for col in spec.mask:
            if col in df.columns:
                df[col] = math.nan
        frames.append(df)
    table = pd.concat(frames, ignore_index=True)
    return recipe.prepare(table) if recipe.prepare is not None else table


def make_figure(recipe: Recipe, store, out_dir, formats=("png", "pdf"), **run_kwargs) -> tuple:
    """Compute ``recipe`` (:func:`run_recipe`), write ``<out_dir>/<name>.parquet`` and the figure files.

    Returns (table, list of written paths).  The table keeps failed points
    (with their status); the figure draws the converged ones.
    """
    import matplotlib.pyplot as plt

    from kdscope.store import write_table

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    df = run_recipe(recipe, store, **run_kwargs)
    paths = [out_dir / f"{recipe.name}.parquet"]
    write_table(df, paths[0])
    fig = recipe.draw(df)
    for ext in formats:
        path = out_dir / f"{recipe.name}.{ext}"
        fig.savefig(path)
        paths.append(path)
    plt.close(fig)
    return df, paths


# ----------------------------------------------------------------- grids
def _lin(lo: float, hi: float, n: int) -> tuple:
    return tuple(float(f"{v:.6g}") for v in np.linspace(lo, hi, n))


def _log(lo: float, hi: float, n: int) -> tuple:
    return tuple(float(f"{v:.6g}") for v in np.geomspace(lo, hi, n))


def _thr(delta=1.0, rho=0.2, eta=0.5) -> dict:
    from kdscope.theory import separability_threshold

    return {"teacher separability": separability_threshold(delta, rho),
            "student separability": separability_threshold(delta, rho, eta),
            "student interpolation": eta}


# --------------------------------------------------------------- drawing
def _draw_panels(panels: list, width: float = 4.3, height: float = 3.3, suptitle: str | None = None):
    """A drawing function: one plot_error_curve per panel (dicts: 'panel', 'title' and its keyword options)."""

    def draw(df):
        import matplotlib.pyplot as plt

        from kdscope.figures import paper_style, plot_error_curve

        with paper_style():
            fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), height), squeeze=False)
            for ax, p in zip(axes[0], panels):
                kw = {k: v for k, v in p.items() if k != "panel"}
                sub = df[df["panel"] == p.get("panel", "")]
                plot_error_curve(sub, ax=ax, **kw)
            if suptitle:
                fig.suptitle(suptitle)
            fig.tight_layout()
        return fig

    return draw


def _draw_double_descent(**kw):
    def draw(df):
        from kdscope.figures import paper_style, plot_double_descent

        with paper_style():
            fig = plot_double_descent(df, **kw)
            fig.tight_layout()
        return fig

    return draw


def _draw_phase(**kw):
    def draw(df):
        from kdscope.figures import paper_style, plot_phase_diagram

        with paper_style():
            fig = plot_phase_diagram(df, **kw)
            fig.tight_layout()
        return fig

    return draw


LEARNERS = {"eps_s": "student", "eps_t": "teacher"}
TEACHER_DASHED = {"eps_t": "--"}


# --------------------------------------------------------------- recipes
def paper_recipes(quick: bool = False) -> list[Recipe]:
    """The recipes of Figs. 1-12 of the reference paper and the extensions, at full or quick resolution."""
    n = 7 if quick else 40  # points per learning curve
    nl = 7 if quick else 30  # points per lam / xi / tau sweep
    base = Setting(**DEFAULTS, lam_t=0.01)
    stud = base.replace(**STUDENT, lam_s=LAM0)
    thr = _thr()
    recipes = []

    # Fig. 1: logistic regression at optimal lam vs Bayes-optimal, rho = 0.2.
    a1 = _lin(0.25, 10, n)
    recipes.append(Recipe(
        "fig01", "Logistic regression at optimal ridge vs Bayes-optimal (rho=0.2)",
        (CurveSpec("logistic, optimal lam", base, "alpha", a1, optimal="t"),),
        _draw_panels([dict(y="eps_t", group="curve", baselines=("eps_bayes", "eps_oracle"), title="test error"),
                      dict(y="lam_t", group="curve", baselines=None, logy=True, ylabel=r"optimal ridge $\lambda^*$",
                           legend=False, title="optimal ridge")])))

    # Fig. 2: pure distillation, sparse student, ridge teachers vs unregularised student.
    a2 = _lin(2, 10, n)
    kd = stud.replace(xi=1.0)
    recipes.append(Recipe(
        "fig02", "Pure distillation (xi=1, lam_S~0): sparse student from ridge teachers",
        (CurveSpec("lam_T=0.01", kd.replace(lam_t=0.01), "alpha", a2),
         CurveSpec("lam_T=0.1", kd.replace(lam_t=0.1), "alpha", a2),
         CurveSpec("unregularised student", stud.replace(xi=0.0, lam_t=0.1), "alpha", a2, mask=("eps_t",))),
        _draw_panels([dict(y=["eps_s", "eps_t"], group="curve", linestyles=TEACHER_DASHED, column_labels=LEARNERS,
                           baselines=("eps_bayes_s", "eps_oracle"))])))

    # Fig. 3: (top) error vs lam at alpha 1.5 and 4.5, KD vs direct; (bottom) error vs xi.
    lams = _log(1e-5, 10, nl)
    curves3 = []
    for a in (1.5, 4.5):
        curves3.append(CurveSpec("KD (xi=1, lam=lam_T)", kd.replace(alpha=a), "lam_t", lams, panel=f"alpha={a}"))
        curves3.append(CurveSpec("direct (xi=0, lam=lam_S)", stud.replace(alpha=a, xi=0.0, lam_t=0.1), "lam_s", lams,
                                 panel=f"alpha={a}", mask=("eps_t",)))
    xis = _lin(0, 1, nl)
    for ls in (0.1, 0.2, 0.5):
        curves3.append(CurveSpec(f"lam_S={ls}", stud.replace(alpha=4.5, lam_s=ls, **APPENDIX_B), "xi", xis,
                                 panel="xi"))
    recipes.append(Recipe(
        "fig03", "KD vs direct regularisation: error vs lam (alpha 1.5, 4.5) and vs xi (alpha 4.5)",
        tuple(curves3),
        _draw_xi_lam_panels(), x="sweep_x",
        notes="bottom panel: lam_T=0.15, tau=2 without the tau^2 factor (DESIGN.md section 7)."))

    # Fig. 4: student of the Bayes-optimal fixed teacher vs optimal and unregularised direct students.
    direct = stud.replace(xi=0.0, lam_t=0.1)
    recipes.append(Recipe(
        "fig04", "Student of a Bayes-optimal teacher vs optimally regularised and unregularised students",
        (CurveSpec("KD from Bayes-optimal teacher", kd.replace(teacher="bayes"), "alpha", a2),
         CurveSpec("optimal-ridge student", direct, "alpha", a2, optimal="s"),
         CurveSpec("unregularised student", direct, "alpha", a2)),
        _draw_panels([dict(y="eps_s", group="curve", baselines=("eps_bayes_s", "eps_oracle"))])))

    # Fig. 5 and 11: double descent; training loss, norm and teacher-student MSE.
    a5 = _lin(0.1, 6, 2 * n if quick else 60)
    dd = (CurveSpec("lam_T=1e-5", kd.replace(lam_t=1e-5, lam_s=1e-5), "alpha", a5),
          CurveSpec("lam_T=0.1", kd.replace(lam_t=0.1, lam_s=1e-5), "alpha", a5))
    recipes.append(Recipe(
        "fig05", "Double descent of the student (lam_S=1e-5)", dd,
        _draw_double_descent(y="eps_s", group="curve", norm="q_s", thresholds=thr,
                             baselines=("eps_bayes_s", "eps_oracle"))))

    # Fig. 6: the dense teacher for several ridges.
    a6 = _lin(0.2, 10, n)
    recipes.append(Recipe(
        "fig06", "Dense logistic teacher for several ridges",
        tuple(CurveSpec(f"lam_T={lam:g}", base.replace(lam_t=lam), "alpha", a6) for lam in (1e-5, 1e-3, 1e-2, 0.1, 1.0)),
        _draw_panels([dict(y="eps_t", group="curve", baselines=("eps_bayes", "eps_oracle"),
                           thresholds={"separability": thr["teacher separability"]})])))

    # Fig. 7: pure distillation for lam_T in {1e-5, 0.1, 1} vs ridge students with lam_S = lam_T.
    a7 = _lin(0.5, 10, n)
    c7, styles7 = [], {}
    from kdscope.figures.style import COLORS
    for i, lam in enumerate((1e-5, 0.1, 1.0)):
        c7.append(CurveSpec(f"KD, lam_T={lam:g}", kd.replace(lam_t=lam), "alpha", a7, mask=("eps_t",)))
        c7.append(CurveSpec(f"ridge student, lam_S={lam:g}", direct.replace(lam_s=lam), "alpha", a7,
                            mask=("eps_t",)))
        styles7[f"KD, lam_T={lam:g}"] = {"color": COLORS[i]}
        styles7[f"ridge student, lam_S={lam:g}"] = {"color": COLORS[i], "linestyle": "--"}
    recipes.append(Recipe(
        "fig07", "Pure distillation vs ridge students", tuple(c7),
        _draw_panels([dict(y="eps_s", group="curve", group_styles=styles7, baselines=("eps_bayes_s",),
                           thresholds={"student separability": thr["student separability"]})])))

    # Fig. 8: several xi at lam_S = 0.1, lam_T = 0.15, tau = 2 (no tau^2 factor).
    a8 = _lin(0.25, 10, n)
    recipes.append(Recipe(
        "fig08", "Mixed hard/soft loss: xi at lam_S=0.1, lam_T=0.15, tau=2 (no tau^2)",
        tuple(CurveSpec(f"xi={xi:g}", stud.replace(lam_s=0.1, xi=xi, **APPENDIX_B), "alpha", a8,
                        mask=() if xi == 1.0 else ("eps_t",))
              for xi in (0.0, 0.2, 0.6, 0.8, 1.0)),
        _draw_panels([dict(y=["eps_s", "eps_t"], group="curve", linestyles=TEACHER_DASHED, column_labels=LEARNERS,
                           baselines=("eps_bayes_s",))])))

    # Fig. 9: label smoothing of the student vs distillation from a smoothed teacher.
    eps_grid = _lin(0.0, 0.8, nl)
    c9 = []
    for a in (1.5, 4.5, 7.5):
        c9.append(CurveSpec("label smoothing (xi=0)", stud.replace(alpha=a, xi=0.0, lam_t=0.1), "smooth_s", eps_grid,
                            panel=f"alpha={a}", mask=("eps_t",)))
        c9.append(CurveSpec("KD from smoothed teacher", kd.replace(alpha=a, lam_t=LAM0), "smooth_t", eps_grid,
                            panel=f"alpha={a}"))
    recipes.append(Recipe(
        "fig09", "Label smoothing vs distillation from a smoothed teacher", tuple(c9),
        _draw_panels([dict(panel=f"alpha={a}", x="smoothing", y=["eps_s", "eps_t"], group="curve",
                           linestyles=TEACHER_DASHED, column_labels=LEARNERS, baselines=("eps_bayes_s",),
                           title=f"alpha={a}", legend=(a == 1.5)) for a in (1.5, 4.5, 7.5)]),
        x="smoothing"))

    # Fig. 10: the interpolation peak tempered by the temperature.
    a10 = _lin(0.1, 3, 2 * n if quick else 50)
    recipes.append(Recipe(
        "fig10", "Interpolation peak tempered by tau (lam_T=0.1, lam_S=1e-5, no tau^2)",
        tuple(CurveSpec(f"tau={tau:g}", kd.replace(lam_t=0.1, lam_s=1e-5, tau=tau, tau2_factor=False), "alpha", a10)
              for tau in (1.0, 2.0, 5.0, 10.0)),
        _draw_panels([dict(y="eps_s", group="curve", baselines=("eps_bayes_s",),
                           thresholds={"student interpolation": thr["student interpolation"]})])))

    # Fig. 11: training loss, student norm and teacher-student training MSE around the thresholds (Fig. 5's points).
    recipes.append(Recipe(
        "fig11", "Training loss, norm and teacher-student logit MSE around the thresholds", dd,
        _draw_panels([dict(y="loss_train_s", group="curve", baselines=None, thresholds=thr, logy=True),
                      dict(y="q_s", group="curve", baselines=None, thresholds=thr, logy=True, legend=False),
                      dict(y="mse_train_ts", group="curve", baselines=None, thresholds=thr, logy=True,
                           legend=False)])))

    # Fig. 12: the balanced case rho = 1/2.
    bal = base.replace(rho=0.5)
    kd_bal = kd.replace(rho=0.5)
    recipes.append(Recipe(
        "fig12", "Balanced case rho=1/2: optimal-ridge teacher and pure distillation",
        (CurveSpec("logistic, optimal lam", bal, "alpha", a1, optimal="t", panel="teacher"),
         CurveSpec("lam_T=0.01", kd_bal.replace(lam_t=0.01), "alpha", a2, panel="kd"),
         CurveSpec("lam_T=0.1", kd_bal.replace(lam_t=0.1), "alpha", a2, panel="kd"),
         CurveSpec("unregularised student", stud.replace(rho=0.5, xi=0.0, lam_t=0.1), "alpha", a2, panel="kd",
                   mask=("eps_t",))),
        _draw_panels([dict(panel="teacher", y="eps_t", group="curve", baselines=("eps_bayes", "eps_oracle"),
                           title="teacher at optimal ridge"),
                      dict(panel="kd", y=["eps_s", "eps_t"], group="curve", linestyles=TEACHER_DASHED,
                           column_labels=LEARNERS, baselines=("eps_bayes_s",), title="pure distillation")])))

    recipes.extend(extension_recipes(quick))
    return recipes


def _draw_xi_lam_panels():
    return _draw_panels([
        dict(panel="alpha=1.5", x="sweep_x", y=["eps_s", "eps_t"], group="curve", linestyles=TEACHER_DASHED,
             column_labels=LEARNERS, baselines=("eps_bayes_s",), logx=True, xlabel=r"ridge $\lambda$",
             title="alpha=1.5"),
        dict(panel="alpha=4.5", x="sweep_x", y=["eps_s", "eps_t"], group="curve", linestyles=TEACHER_DASHED,
             column_labels=LEARNERS, baselines=("eps_bayes_s",), logx=True, xlabel=r"ridge $\lambda$",
             title="alpha=4.5", legend=False),
        dict(panel="xi", x="sweep_x", y="eps_s", group="curve", baselines=("eps_bayes_s",), xlabel=r"$\xi$",
             title="alpha=4.5, lam_T=0.15, tau=2 (no tau^2)"),
    ])


def extension_recipes(quick: bool = False) -> list[Recipe]:
    """Beyond the paper: soft-loss variants (kl at several tau, logit mse), temperature sweeps, a phase diagram."""
    n = 7 if quick else 40
    nl = 7 if quick else 30
    kd = Setting(**DEFAULTS, **STUDENT, lam_s=LAM0, xi=1.0, lam_t=0.1)
    a = _lin(0.25, 10, n)
    out = [Recipe(
        "ext_soft", "Soft losses: kl at tau 1 and 4 vs logit mse (lam_T=0.1, lam_S~0, xi=1)",
        (CurveSpec("kl, tau=1", kd, "alpha", a), CurveSpec("kl, tau=4", kd.replace(tau=4.0), "alpha", a),
         CurveSpec("mse (logit matching)", kd.replace(soft="mse"), "alpha", a)),
        _draw_panels([dict(y="eps_s", group="curve", baselines=("eps_bayes_s",),
                           thresholds={"student interpolation": 0.5})]))]
    taus = _log(0.25, 20, nl)
    out.append(Recipe(
        "ext_tau", "Student error vs temperature tau (tau^2 convention), alpha 1.5 and 4.5",
        tuple(CurveSpec(f"alpha={al}", kd.replace(alpha=al), "tau", taus) for al in (1.5, 4.5)),
        _draw_panels([dict(x="tau", y="eps_s", group="curve", baselines=("eps_bayes_s",), logx=True)]),
        x="tau"))
    # phase diagram: gain of the KD student (xi=1, lam_S~0) over the best directly regularised student
    ga = _lin(1.0, 8.0, 5 if quick else 25)
    lam_ts = _log(1e-3, 1.0, 5 if quick else 20)
    curves = [CurveSpec(f"lam_T={lt:g}", kd.replace(lam_t=lt), "alpha", ga, panel="kd", simulate=False)
              for lt in lam_ts]
    curves.append(CurveSpec("best direct", kd.replace(xi=0.0), "alpha", ga, optimal="s", panel="direct",
                            simulate=False))
    out.append(Recipe(
        "ext_phase", "Gain of distillation over the best direct ridge, in (alpha, lam_T)", tuple(curves),
        _draw_phase(x="alpha", y="lam_t", value="gain", logy=True, title="gain = eps(best direct) - eps(KD)"),
        prepare=_gain_table))
    return out


def _gain_table(df):
    """Add ``gain = eps_s(best direct student) - eps_s(KD student)`` to the KD rows (positive: KD helps)."""
    theory = df[df["kind"].astype(str).str.startswith("theory")]
    best = theory[theory["panel"] == "direct"].set_index("alpha")["eps_s"]
    kd = theory[theory["panel"] == "kd"].copy()
    kd["gain"] = kd["alpha"].map(best) - kd["eps_s"]
    return kd


def recipe_names(quick: bool = False) -> list[str]:
    return [r.name for r in paper_recipes(quick)]

