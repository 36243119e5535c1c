"""The figures of the reference paper (Saglietti & Zdeborova, MSML 2022) and beyond, as recipes.

Each function returns :class:`kdscope.recipes.Recipe` objects (data: curves, drawing function,
grid options); :mod:`kdscope.recipes` runs them.  Settings follow DESIGN.md section 7 and the
corrections listed in :mod:`kdscope.recipes`.  Every gain here is eps(student) - eps(reference),
negative where distillation helps.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from kdscope.grids import FULL, QUICK, GridOptions
from kdscope.recipes import APPENDIX_B, DEFAULTS, LAM0, STUDENT, CurveSpec, Recipe
from kdscope.theory.setting import Setting

__all__ = ["paper_recipes", "extension_recipes", "readme_recipes", "recipe_names", "GAIN_VS_BEST_RIDGE"]


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
def _draw_panels(panels: list, width: float = 3.6, height: float = 2.9, suptitle: str | None = None):
    """A drawing function: one plot_error_curve per panel (dicts: 'panel', 'title' and its keyword options).

    One figure-level legend below the panels (outside the data); panel letters
    when there are several panels.
    """

    def draw(df):
        import matplotlib.pyplot as plt

        from kdscope.figures import paper_style, plot_error_curve
        from kdscope.figures.style import legend_outside, panel_letters

        with paper_style():
            fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), height), squeeze=False)
            handles = []
            for ax, p in zip(axes[0], panels):
                kw = {k: v for k, v in p.items() if k not in ("panel", "legend")}
                sub = df[df["panel"] == p.get("panel", "")]
                plot_error_curve(sub, ax=ax, legend=False, **kw)
                handles += ax.get_legend_handles_labels()[0]
            if len(panels) > 1:
                panel_letters(axes[0])
            if suptitle:
                fig.suptitle(suptitle)
            fig.tight_layout()
            legend_outside(fig, handles, ncol=min(4, 2 * len(panels)))
        return fig

    return draw


def _draw_double_descent(**kw):
    def draw(df):
        from kdscope.figures import paper_style, plot_double_descent
        from kdscope.figures.style import panel_letters

        with paper_style():
            fig = plot_double_descent(df, **kw)
            panel_letters(fig.axes)
        return fig

    return draw


def _draw_phase(**kw):
    def draw(df):
        from kdscope.figures import paper_style, plot_phase_diagram

        with paper_style():
            fig = plot_phase_diagram(df, **kw)
        return fig

    return draw


LEARNERS = {"eps_s": "student", "eps_t": "teacher"}
TEACHER_DASHED = {"eps_t": "--"}
DD_REFINE = ("eps_s", "q_s")


def _lam(name: str, v: float) -> str:
    """Legend text of a ridge value in mathtext, e.g. lambda_T = 0.01."""
    return rf"$\lambda_{name} = {_num(v)}$"


def _num(v: float) -> str:
    """A number in mathtext: 1e-05 -> 10^{-5}, 0.1 -> 0.1."""
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e4):
        e = int(math.floor(math.log10(abs(v))))
        mant = v / 10.0 ** e
        return rf"10^{{{e}}}" if abs(mant - 1) < 1e-9 else rf"{mant:g} \times 10^{{{e}}}"
    return f"{v:g}"


# --------------------------------------------------------------- recipes
def paper_recipes(quick: bool = False) -> list[Recipe]:
    """The recipes of Figs. 1-12 of the reference paper and the extensions, at full or quick resolution.

    The values of each curve are its coarse grid: thresholds and optima are
    inserted and the grid is refined adaptively when the recipe runs
    (:func:`curve_table`), with :data:`kdscope.grids.QUICK` or ``FULL`` options.
    """
    n = 7 if quick else 25  # coarse points per learning curve (refined where the curve bends or peaks)
    nl = 7 if quick else 20  # coarse points per lam / xi / tau sweep
    base = Setting(**DEFAULTS, lam_t=0.01)
    stud = base.replace(**STUDENT, lam_s=LAM0)
    thr = _thr()
    recipes = []

    # Fig. 1: logistic regression at optimal lam vs Bayes-optimal, rho = 0.2.
    a1 = _lin(0.25, 10, n)
    recipes.append(Recipe(
        "fig01", r"Logistic regression at the optimal ridge $\lambda^*$ against the Bayes-optimal error",
        (CurveSpec(r"logistic, optimal $\lambda^*$", base, "alpha", a1, optimal="t", refine=("eps_t", "lam_t")),),
        _draw_panels([dict(y="eps_t", group="curve", baselines=("eps_bayes", "eps_oracle")),
                      dict(y="lam_t", group="curve", baselines=None, logy=True, ylabel=r"optimal ridge $\lambda^*$",
                           legend=False)])))

    # Fig. 2: pure distillation, sparse student, ridge teachers vs unregularised student.
    a2 = _lin(2, 10, n)
    kd = stud.replace(xi=1.0)
    recipes.append(Recipe(
        "fig02", r"Pure distillation ($\xi = 1$, $\lambda_S \to 0$): sparse student of ridge teachers",
        (CurveSpec(_lam("T", 0.01), kd.replace(lam_t=0.01), "alpha", a2),
         CurveSpec(_lam("T", 0.1), kd.replace(lam_t=0.1), "alpha", a2),
         CurveSpec(r"unregularised student ($\xi = 0$)", stud.replace(xi=0.0, lam_t=0.1), "alpha", a2,
                   mask=("eps_t",))),
        _draw_panels([dict(y=["eps_s", "eps_t"], group="curve", linestyles=TEACHER_DASHED, column_labels=LEARNERS,
                           baselines=("eps_bayes_s", "eps_oracle"))])))

    # Fig. 3: (top) error vs lam at alpha 1.5 and 4.5, KD vs direct; (bottom) error vs xi.
    lams = _log(1e-5, 10, nl)
    curves3 = []
    for a in (1.5, 4.5):
        curves3.append(CurveSpec(r"KD ($\xi = 1$), $\lambda = \lambda_T$", kd.replace(alpha=a), "lam_t", lams,
                                 panel=f"alpha={a}", optimum="eps_s"))
        curves3.append(CurveSpec(r"direct ($\xi = 0$), $\lambda = \lambda_S$", stud.replace(alpha=a, xi=0.0, lam_t=0.1),
                                 "lam_s", lams, panel=f"alpha={a}", mask=("eps_t",), optimum="eps_s"))
    xis = _lin(0, 1, nl)
    for ls in (0.1, 0.2, 0.5):
        curves3.append(CurveSpec(_lam("S", ls), stud.replace(alpha=4.5, lam_s=ls, **APPENDIX_B), "xi", xis,
                                 panel="xi", optimum="eps_s", refine=("eps_s",)))
    recipes.append(Recipe(
        "fig03", r"KD against direct regularisation: error over the ridge ($\alpha$ = 1.5, 4.5) and over $\xi$",
        tuple(curves3),
        _draw_xi_lam_panels(), x="sweep_x",
        notes=r"Panel (c): $\lambda_T = 0.15$, $\tau = 2$ without the $\tau^2$ factor (DESIGN.md section 7). "
              "Stars: optima from the 1-D optimisers."))

    # Fig. 4: student of the Bayes-optimal fixed teacher vs optimal and unregularised direct students.
    direct = stud.replace(xi=0.0, lam_t=0.1)
    recipes.append(Recipe(
        "fig04", "Student of a Bayes-optimal teacher against optimally regularised and unregularised students",
        (CurveSpec("KD from the Bayes-optimal teacher", kd.replace(teacher="bayes"), "alpha", a2, refine=("eps_s",)),
         CurveSpec(r"direct student, optimal $\lambda_S^*$", direct, "alpha", a2, optimal="s", refine=("eps_s",)),
         CurveSpec(r"unregularised student ($\xi = 0$)", direct, "alpha", a2, refine=("eps_s",))),
        _draw_panels([dict(y="eps_s", group="curve", baselines=("eps_bayes_s", "eps_oracle"))])))

    # Fig. 5 and 11: double descent; training loss, norm and teacher-student MSE.
    a5 = _lin(0.1, 6, 2 * n)
    dd = (CurveSpec(rf"$\lambda_T = \lambda_S = {_num(1e-5)}$", kd.replace(lam_t=1e-5, lam_s=1e-5), "alpha", a5,
                    refine=DD_REFINE),
          CurveSpec(rf"$\lambda_T = 0.1$, $\lambda_S = {_num(1e-5)}$", kd.replace(lam_t=0.1, lam_s=1e-5), "alpha", a5,
                    refine=DD_REFINE))
    recipes.append(Recipe(
        "fig05", r"Double descent of the pure-distillation student ($\lambda_S = 10^{-5}$)", dd,
        _draw_double_descent(y="eps_s", group="curve", norm="q_s", thresholds=thr,
                             baselines=("eps_bayes_s", "eps_oracle")),
        notes="Ridge teacher: the peak sits on the student's interpolation threshold alpha = eta. Unregularised "
              "teacher: error and norm peak at the student's separability threshold in the limit lam -> 0; at "
              "lam = 1e-5 the theory's maximum is at alpha = 1.75, 3% below the threshold 1.80 (a property of the "
              "finite ridge, not of the grid: at lam = 1e-6 the maximum lies beyond 1.78)."))

    # Fig. 6: the dense teacher for several ridges.
    a6 = _lin(0.2, 10, n)
    recipes.append(Recipe(
        "fig06", "Dense logistic teacher for several ridges",
        tuple(CurveSpec(_lam("T", lam), base.replace(lam_t=lam), "alpha", a6, refine=("eps_t",))
              for lam in (1e-5, 1e-3, 1e-2, 0.1, 1.0)),
        _draw_panels([dict(y="eps_t", group="curve", baselines=("eps_bayes", "eps_oracle"),
                           thresholds={"teacher separability": thr["teacher separability"]})])))

    # Fig. 7: pure distillation for lam_T in {1e-5, 0.1, 1} vs ridge students with lam_S = lam_T.
    a7 = _lin(0.5, 10, n)
    c7, styles7 = [], {}
    from kdscope.figures.style import COLORS
    for i, lam in enumerate((1e-5, 0.1, 1.0)):
        kd_label, ridge_label = rf"KD, {_lam('T', lam)}", rf"ridge student, {_lam('S', lam)}"
        c7.append(CurveSpec(kd_label, kd.replace(lam_t=lam), "alpha", a7, mask=("eps_t",), refine=("eps_s",)))
        c7.append(CurveSpec(ridge_label, direct.replace(lam_s=lam), "alpha", a7, mask=("eps_t",), refine=("eps_s",)))
        styles7[kd_label] = {"color": COLORS[i], "linestyle": "-"}
        styles7[ridge_label] = {"color": COLORS[i], "linestyle": "--"}
    recipes.append(Recipe(
        "fig07", "Pure distillation against ridge students with the same ridge", tuple(c7),
        _draw_panels([dict(y="eps_s", group="curve", group_styles=styles7, baselines=("eps_bayes_s",),
                           thresholds={"student separability": thr["student separability"],
                                       "student interpolation": thr["student interpolation"]})])))

    # Fig. 8: several xi at lam_S = 0.1, lam_T = 0.15, tau = 2 (no tau^2 factor).
    a8 = _lin(0.25, 10, n)
    recipes.append(Recipe(
        "fig08", r"Mixed hard and soft loss: $\xi$ at $\lambda_S = 0.1$, $\lambda_T = 0.15$, $\tau = 2$",
        tuple(CurveSpec(rf"$\xi = {xi:g}$", stud.replace(lam_s=0.1, xi=xi, **APPENDIX_B), "alpha", a8,
                        mask=() if xi == 1.0 else ("eps_t",))
              for xi in (0.0, 0.2, 0.6, 0.8, 1.0)),
        _draw_panels([dict(y=["eps_s", "eps_t"], group="curve", linestyles=TEACHER_DASHED, column_labels=LEARNERS,
                           baselines=("eps_bayes_s",))]),
        notes=r"$\tau = 2$ without the $\tau^2$ factor (DESIGN.md section 7)."))

    # Fig. 9: label smoothing of the student vs distillation from a smoothed teacher.
    eps_grid = _lin(0.0, 0.8, nl)
    c9 = []
    for a in (1.5, 4.5, 7.5):
        c9.append(CurveSpec(r"label smoothing of the student ($\xi = 0$)", stud.replace(alpha=a, xi=0.0, lam_t=0.1),
                            "smooth_s", eps_grid, panel=f"alpha={a}", mask=("eps_t",), refine=("eps_s",)))
        c9.append(CurveSpec("KD from a smoothed teacher", kd.replace(alpha=a, lam_t=LAM0), "smooth_t", eps_grid,
                            panel=f"alpha={a}"))
    recipes.append(Recipe(
        "fig09", "Label smoothing against distillation from a smoothed teacher", tuple(c9),
        _draw_panels([dict(panel=f"alpha={a}", x="smoothing", y=["eps_s", "eps_t"], group="curve",
                           linestyles=TEACHER_DASHED, column_labels=LEARNERS, baselines=("eps_bayes_s",),
                           title=rf"$\alpha = {a}$") for a in (1.5, 4.5, 7.5)]),
        x="smoothing"))

    # Fig. 10: the interpolation peak tempered by the temperature.
    a10 = _lin(0.1, 3, 2 * n)
    recipes.append(Recipe(
        "fig10", r"Interpolation peak tempered by the temperature $\tau$ ($\lambda_T = 0.1$, $\lambda_S = 10^{-5}$)",
        tuple(CurveSpec(rf"$\tau = {tau:g}$", kd.replace(lam_t=0.1, lam_s=1e-5, tau=tau, tau2_factor=False), "alpha",
                        a10, refine=("eps_s",))
              for tau in (1.0, 2.0, 5.0, 10.0)),
        _draw_panels([dict(y="eps_s", group="curve", baselines=("eps_bayes_s",),
                           thresholds={"student interpolation": thr["student interpolation"]})]),
        notes=r"Without the $\tau^2$ factor (DESIGN.md section 7)."))

    # Fig. 11: training loss, student norm and teacher-student training MSE around the thresholds (Fig. 5's points).
    recipes.append(Recipe(
        "fig11", "Training loss, student norm and teacher-student logit MSE around the thresholds", dd,
        _draw_panels([dict(y="loss_train_s", group="curve", baselines=None, thresholds=thr, logy=True),
                      dict(y="q_s", group="curve", baselines=None, thresholds=thr, logy=True),
                      dict(y="mse_train_ts", group="curve", baselines=None, thresholds=thr, logy=True)])))

    # Fig. 12: the balanced case rho = 1/2.
    bal = base.replace(rho=0.5)
    kd_bal = kd.replace(rho=0.5)
    recipes.append(Recipe(
        "fig12", r"Balanced classes $\rho = 1/2$: optimal-ridge teacher and pure distillation",
        (CurveSpec(r"logistic, optimal $\lambda^*$", bal, "alpha", a1, optimal="t", panel="teacher",
                   refine=("eps_t",)),
         CurveSpec(_lam("T", 0.01), kd_bal.replace(lam_t=0.01), "alpha", a2, panel="kd"),
         CurveSpec(_lam("T", 0.1), kd_bal.replace(lam_t=0.1), "alpha", a2, panel="kd"),
         CurveSpec(r"unregularised student ($\xi = 0$)", stud.replace(rho=0.5, xi=0.0, lam_t=0.1), "alpha", a2,
                   panel="kd", mask=("eps_t",), refine=("eps_s",))),
        _draw_panels([dict(panel="teacher", y="eps_t", group="curve", baselines=("eps_bayes", "eps_oracle"),
                           title="teacher at the optimal ridge"),
                      dict(panel="kd", y=["eps_s", "eps_t"], group="curve", linestyles=TEACHER_DASHED,
                           column_labels=LEARNERS, baselines=("eps_bayes_s",), title="pure distillation")])))

    recipes = [dataclasses.replace(r, grid=QUICK if quick else FULL) for r in recipes]
    return recipes + extension_recipes(quick)  # each extension keeps its own grid options


def _draw_xi_lam_panels():
    return _draw_panels([
        dict(panel="alpha=1.5", x="sweep_x", y=["eps_s", "eps_t"], group="curve", linestyles=TEACHER_DASHED,
             column_labels=LEARNERS, baselines=("eps_bayes_s",), logx=True, xlabel=r"ridge $\lambda$",
             title=r"$\alpha = 1.5$"),
        dict(panel="alpha=4.5", x="sweep_x", y=["eps_s", "eps_t"], group="curve", linestyles=TEACHER_DASHED,
             column_labels=LEARNERS, baselines=("eps_bayes_s",), logx=True, xlabel=r"ridge $\lambda$",
             title=r"$\alpha = 4.5$"),
        dict(panel="xi", x="sweep_x", y="eps_s", group="curve", baselines=("eps_bayes_s",), xlabel=r"soft weight $\xi$",
             title=r"$\alpha = 4.5$, $\lambda_T = 0.15$, $\tau = 2$"),
    ])


def extension_recipes(quick: bool = False) -> list[Recipe]:
    """Beyond the paper: soft-loss variants (kl at several tau, logit mse), temperature sweeps, a phase diagram."""
    n = 7 if quick else 25
    nl = 7 if quick else 20
    kd = Setting(**DEFAULTS, **STUDENT, lam_s=LAM0, xi=1.0, lam_t=0.1)
    a = _lin(0.25, 10, n)
    out = [Recipe(
        "ext_soft", r"Soft losses: KL at $\tau$ = 1 and 4 against logit MSE ($\lambda_T = 0.1$, $\xi = 1$)",
        (CurveSpec(r"KL, $\tau = 1$", kd, "alpha", a, refine=("eps_s",)),
         CurveSpec(r"KL, $\tau = 4$", kd.replace(tau=4.0), "alpha", a, refine=("eps_s",)),
         CurveSpec("logit MSE", kd.replace(soft="mse"), "alpha", a, refine=("eps_s",))),
        _draw_panels([dict(y="eps_s", group="curve", baselines=("eps_bayes_s",),
                           thresholds={"student interpolation": 0.5})]),
        notes=r"KL with Hinton's $\tau^2$ factor; as $\tau \to \infty$ it tends to logit MSE / 4, so the "
              r"$\tau = 4$ and MSE curves nearly coincide.")]
    taus = _log(0.25, 20, nl)
    out.append(Recipe(
        "ext_tau", r"Student error against the temperature $\tau$ ($\tau^2$ convention), $\alpha$ = 1.5 and 4.5",
        tuple(CurveSpec(rf"$\alpha = {al}$", kd.replace(alpha=al), "tau", taus, optimum="eps_s", refine=("eps_s",))
              for al in (1.5, 4.5)),
        _draw_panels([dict(x="tau", y="eps_s", group="curve", baselines=("eps_bayes_s",), logx=True)]),
        x="tau", notes="Stars: the optimal temperature from the 1-D optimiser."))
    # phase diagram: gain of the KD student (xi=1, lam_S~0) over the best directly regularised student
    ga = _lin(1.0, 8.0, 5 if quick else 25)
    lam_ts = _log(1e-3, 1.0, 5 if quick else 20)
    curves = [CurveSpec(f"lam_T={lt:g}", kd.replace(lam_t=lt), "alpha", ga, panel="kd", simulate=False,
                        thresholds=False)
              for lt in lam_ts]
    curves.append(CurveSpec("best direct", kd.replace(xi=0.0), "alpha", ga, optimal="s", panel="direct",
                            simulate=False, thresholds=False))
    out.append(Recipe(
        "ext_phase", r"Gain of distillation over the best direct ridge in ($\alpha$, $\lambda_T$)", tuple(curves),
        _draw_phase(x="alpha", y="lam_t", value=GAIN_VS_BEST_RIDGE, logy=True,
                    title=r"$\Delta\varepsilon_g$ = $\varepsilon_g$(KD) $-$ $\varepsilon_g$(best ridge)"),
        prepare=_gain_table, grid=GridOptions(max_rounds=0)))
    return [dataclasses.replace(r, grid=(QUICK if quick else FULL) if r.grid.max_rounds else r.grid) for r in out]


#: One sign for every gain in kdscope: student error minus reference error (negative: distillation helps).
GAIN_VS_BEST_RIDGE = "gain_vs_best_ridge"


def _gain_table(df):
    """Add ``gain_vs_best_ridge = eps_s(KD student) - eps_s(best direct student)`` to the KD rows.

    Negative where distillation beats every directly regularised student (the
    sign convention of :mod:`kdscope.phase` and :mod:`kdscope.sweep`).
    """
    theory = df[df["kind"].astype(str).str.startswith("theory")]
    best = theory[theory["panel"] == "direct"].set_index("alpha")["eps_s"]
    kd = theory[theory["panel"] == "kd"].copy()
    kd[GAIN_VS_BEST_RIDGE] = kd["eps_s"] - kd["alpha"].map(best)
    return kd


def recipe_names(quick: bool = False) -> list[str]:
    return [r.name for r in paper_recipes(quick)]



def readme_recipes(quick: bool = False) -> list[Recipe]:
    """The README's two figures: ``kd_curve`` (theory against simulations) and ``double_descent`` (Fig. 5).

    ``kd_curve``: a ridge teacher (lam_T = 0.1, dashed) and its sparse student
    (eta = 0.5, pure KD, lam_S = 1e-4), alpha in [0.25, 6], simulation markers
    wherever the caller asks for them (:func:`make_figure` with ``with_sims``).
    ``double_descent``: the recipe of Fig. 5 under another name.
    """
    base = Setting(**DEFAULTS, **STUDENT, lam_t=0.1, xi=1.0, lam_s=LAM0)
    grid = QUICK if quick else FULL
    kd_curve = Recipe(
        "kd_curve", r"A ridge teacher ($\lambda_T = 0.1$, dashed) and its sparse distilled student "
                    r"($\eta = 0.5$, $\xi = 1$)",
        (CurveSpec(r"$\lambda_T = 0.1$", base, "alpha", _lin(0.25, 6.0, 7 if quick else 13)),),
        _draw_panels([dict(y=["eps_s", "eps_t"], group="curve", linestyles=TEACHER_DASHED, column_labels=LEARNERS,
                           baselines=("eps_bayes_s", "eps_bayes", "eps_oracle"),
                           thresholds={"student interpolation": 0.5})], width=4.6, height=3.4),
        grid=grid)
    fig5 = next(r for r in paper_recipes(quick) if r.name == "fig05")
    return [kd_curve, dataclasses.replace(fig5, name="double_descent")]
