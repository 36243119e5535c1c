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

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from kdscope.grids import FULL, QUICK, GridOptions, adaptive_values, curve_thresholds, merge_grid, optimum_point
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
    refine : columns whose curves the grid must resolve (:mod:`kdscope.grids`); the
        thresholds of ``base`` in the range are inserted when ``thresholds`` is true.
    optimum : None, or an error column ('eps_s', 'eps_t'): its minimiser over ``field``
        is found by a 1-D optimiser, inserted into the grid and flagged ``is_optimum``.
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
    refine: tuple = ("eps_s", "eps_t")
    optimum: str | None = None
    thresholds: bool = True


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
    grid: GridOptions = FULL


LOG_FIELDS = ("lam_t", "lam_s", "tau")
LOG_COLUMNS = ("q_t", "q_s", "loss_train_t", "loss_train_s", "mse_train_ts", "lam_t", "lam_s")


def initial_grid(spec: CurveSpec) -> tuple[list[float], dict[str, float]]:
    """The spec's values with the thresholds of its base Setting inside their range inserted.

    Returns (sorted grid, thresholds {label: value}).
    """
    lo, hi = min(spec.values), max(spec.values)
    thr = curve_thresholds(spec.base, spec.field, lo, hi) if spec.thresholds else {}
    return merge_grid(spec.values, thr.values()), thr


def curve_table(spec: CurveSpec, store=None, grid: GridOptions = FULL, with_sims: bool = False, sim_d: int = 1000,
                sim_seeds: int = 5, sim_points: int = 5, progress: bool = False,
                echo: Callable[[str], None] | None = None):
    """The tidy table of one curve on a grid that resolves it (theory rows, then simulation rows).

    The grid is :func:`initial_grid` (values + thresholds), plus the optimum of
    ``spec.optimum`` (1-D optimiser), refined adaptively
    (:func:`kdscope.grids.adaptive_values`) on the columns ``spec.refine``.
    Columns added: ``point_role`` ('grid', 'threshold', 'optimum' or 'refined'),
    ``is_optimum`` and ``optimum_of`` (the optimised column, '' when none).  Simulations run at about ``sim_points`` of the spec's
    own values (never at refinement points).
    """
    import tempfile

    import pandas as pd

    import kdscope.curves as curves

    if store is None:  # refinement rounds re-read their points: keep them somewhere
        with tempfile.TemporaryDirectory() as tmp:
            from kdscope.store import ResultStore

            return curve_table(spec, ResultStore(tmp), grid, with_sims, sim_d, sim_seeds, sim_points, progress, echo)
    values, thr = initial_grid(spec)
    lo, hi = values[0], values[-1]
    opt_x = None
    if spec.optimum is not None:
        opt_x = _stored_optimum(spec, lo, hi, store)
        values = merge_grid(values, [opt_x])
    rows: dict[float, dict] = {}

    def evaluate(xs: list[float]) -> dict[str, list[float]]:
        df = curves.compute_curve(spec.base, spec.field, xs, store=store, optimal=spec.optimal, progress=progress,
                                  echo=echo)
        recs = df.to_dict("records")
        for x, rec in zip(xs, recs):
            rows[x] = rec
        out = {}
        for col in spec.refine:
            vals = [float(r.get(col, math.nan)) if r.get("converged", True) else math.nan for r in recs]
            if any(math.isfinite(v) for v in vals):
                out[col] = vals
        return out

    opts = grid if spec.optimal is None else dataclasses.replace(grid, max_points=grid.max_points // 2)
    final = adaptive_values(evaluate, values, logx=spec.field in LOG_FIELDS,
                            logy=[c for c in spec.refine if c in LOG_COLUMNS], options=opts)
    missing = [x for x in final if x not in rows]
    if missing:
        evaluate(final)
    coarse = set(float(v) for v in spec.values)
    thr_values = set(thr.values())
    theory = []
    for x in final:
        role = ("optimum" if x == opt_x else "threshold" if x in thr_values else "grid" if x in coarse
                else "refined")
        theory.append(dict(rows[x], point_role=role, is_optimum=(x == opt_x), optimum_of=spec.optimum or ""))
    out = pd.DataFrame(theory)
    if with_sims and spec.simulate and sim_d:
        sims = []
        for v in curves.pick_subset(sorted(coarse), sim_points):
            rec = rows.get(v)
            s = spec.base.replace(**{spec.field: v})
            if spec.optimal is not None:
                if rec is None or not rec.get("converged"):
                    continue
                lam_field = "lam_t" if spec.optimal == "t" else "lam_s"
                s = s.replace(**{lam_field: float(rec[lam_field])})
            sims.append(dict(curves.sim_point(s, d=sim_d, seeds=sim_seeds, store=store), sweep=spec.field,
                             point_role="grid", is_optimum=False))
        if sims:
            out = pd.concat([out, pd.DataFrame(sims)], ignore_index=True)
    return out


def _stored_optimum(spec: CurveSpec, lo: float, hi: float, store) -> float:
    """:func:`kdscope.grids.optimum_point` of a spec, through the store (a rerun does not search again)."""
    from kdscope.store import point_key

    kind = f"optimum-{spec.field}-{spec.optimum}".replace("_", "")
    key = point_key(spec.base.replace(**{spec.field: lo}), kind, lo=lo, hi=hi)
    rec = store.get(key) if store is not None else None
    if rec is not None and math.isfinite(float(rec.get("optimum_x", math.nan))):
        return float(rec["optimum_x"])
    x = optimum_point(spec.base, spec.field, spec.optimum, lo, hi)
    if store is not None:
        store.put(dict(spec.base.to_dict(), optimum_x=float(x), converged=True, status="converged"), key, kind=kind)
    return x


def run_recipe(recipe: Recipe, store=None, with_sims: bool = False, sim_d: int = 1000, sim_seeds: int = 5,
               sim_points: int = 5, progress: bool = False, echo: Callable[[str], None] | None = None,
               grid: GridOptions | None = None):
    """Compute every curve of ``recipe`` (through ``store``) and return the tidy table.

    Each curve is resolved by :func:`curve_table` (thresholds and optimum in
    the grid, adaptive refinement with ``grid`` or the recipe's own options).
    Columns: the store's (Setting fields, observables, status, kind), plus
    ``curve`` (the spec's label), ``panel``, ``recipe``, ``point_role``,
    ``is_optimum`` and ``recipe.x`` (the swept value, e.g. 'lam' for a curve
    over lam_t or lam_s).
    """
    import pandas as pd

    frames = []
    for spec in recipe.curves:
        df = curve_table(spec, store, grid or recipe.grid, with_sims=with_sims, sim_d=sim_d, sim_seeds=sim_seeds,
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
    """Compute ``recipe`` (:func:`run_recipe`), write ``<out_dir>/<name>.parquet``, the figure files and the caption.

    The figure is saved as vector PDF and PNG at :data:`kdscope.figures.style.SAVE_DPI`
    dpi; ``<name>.json`` beside it is the caption sidecar (:func:`caption`).
    Returns (table, list of written paths).  The table keeps failed points
    (with their status); the figure draws the converged ones.
    """
    import json

    import matplotlib.pyplot as plt

    from kdscope.figures.style import SAVE_DPI
    from kdscope.store import write_table

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    df = run_recipe(recipe, store, **run_kwargs)
    paths = [out_dir / f"{recipe.name}.parquet"]
    write_table(df, paths[0])
    fig = recipe.draw(df)
    for ext in formats:
        path = out_dir / f"{recipe.name}.{ext}"
        fig.savefig(path, dpi=SAVE_DPI, bbox_inches="tight")
        paths.append(path)
    plt.close(fig)
    side = out_dir / f"{recipe.name}.json"
    side.write_text(json.dumps(caption(recipe, df, **{k: v for k, v in run_kwargs.items()
                                                      if k in ("with_sims", "sim_d", "sim_seeds")}), indent=2))
    paths.append(side)
    return df, paths


def _setting_text(s: Setting) -> dict:
    """The fields of a Setting that matter for a caption (None-valued optional fields dropped)."""
    return {k: v for k, v in s.to_dict().items() if v is not None}


def _plain(label: str) -> str:
    """A legend label without mathtext dollars (for captions)."""
    return label.replace("$", "").replace("\\", "")


def caption(recipe: Recipe, df=None, with_sims: bool = False, sim_d: int = 1000, sim_seeds: int = 5) -> dict:
    """The caption sidecar of a figure: title, notes, every curve's Setting and swept range, and the error bars.

    Returns a JSON-serialisable dict: ``figure``, ``title``, ``caption`` (one
    paragraph), ``curves`` (label, panel, swept field and range, points drawn,
    thresholds inserted, full Setting), ``theory``, ``simulations`` (d, seeds,
    error bars) and ``grid`` (the refinement options).
    """
    curves = []
    for spec in recipe.curves:
        grid, thr = initial_grid(spec)
        entry = dict(label=spec.label, panel=spec.panel, field=spec.field, range=[min(spec.values), max(spec.values)],
                     thresholds_in_grid=thr, optimal_ridge=spec.optimal, optimum_of=spec.optimum,
                     setting=_setting_text(spec.base))
        if df is not None and "curve" in df.columns:
            rows = df[(df["curve"] == spec.label) & df["kind"].astype(str).str.startswith("theory")]
            if spec.panel and "panel" in df.columns:
                rows = rows[rows["panel"] == spec.panel]
            entry["points"] = int(len(rows))
            entry["converged"] = int(rows["converged"].fillna(False).astype(bool).sum()) if len(rows) else 0
            if "is_optimum" in rows.columns and rows["is_optimum"].fillna(False).astype(bool).any():
                opt = rows[rows["is_optimum"].fillna(False).astype(bool)].iloc[0]
                entry["optimum"] = {spec.field: float(opt[spec.field]), spec.optimum: float(opt[spec.optimum])}
        curves.append(entry)
    sims = ({"d": int(sim_d), "seeds": int(sim_seeds),
             "error_bars": "one standard error of the mean over the seeds"} if with_sims else None)
    keys = ("lam_t", "lam_s", "xi", "tau", "eta", "theta", "teacher", "soft", "smooth_t", "smooth_s")
    parts = []
    for spec in recipe.curves:
        kv = ", ".join(f"{k}={getattr(spec.base, k)}" for k in keys
                       if k != spec.field and (k not in ("lam_s", "xi", "tau", "eta", "soft", "smooth_s")
                                               or spec.base.generations >= 1)
                       and not (k in ("theta", "smooth_t", "smooth_s") and getattr(spec.base, k) == 0)
                       and not (k == "teacher" and spec.base.teacher == "erm"))
        extra = (" (tau^2 factor off)" if not spec.base.tau2_factor and spec.base.generations >= 1 else "")
        opt = f", {'lam_t' if spec.optimal == 't' else 'lam_s'} optimised at every point" if spec.optimal else ""
        parts.append(f"{_plain(spec.label)}{' [' + spec.panel + ']' if spec.panel else ''}: {spec.field} in "
                     f"[{min(spec.values):g}, {max(spec.values):g}], {kv}{extra}{opt}")
    text = (f"{recipe.title}. Lines: replica-symmetric theory (d -> infinity), on grids with the thresholds "
            "inserted and refined where the curves bend or peak. "
            + ("Large markers: simulations at d = %d, mean over %d seeds (filled on solid lines, open on dashed "
               "teacher lines), error bars one standard error. " % (sim_d, sim_seeds)
               if with_sims else "")
            + "Shared parameters: delta = 1, rho = 0.2 unless stated; logistic losses; student eta = 0.5 where a "
              "student is drawn. " + "Curves: " + "; ".join(parts) + ". " + (recipe.notes or ""))
    return dict(figure=recipe.name, title=recipe.title, caption=text.strip(), curves=curves,
                theory="replica-symmetric saddle point (kdscope.theory.solve), d -> infinity",
                simulations=sims, grid=dataclasses.asdict(recipe.grid),
                gain_convention="Delta eps = eps(student) - eps(reference); negative: distillation helps")


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
        notes="Unregularised teacher: peak at the student's separability threshold (reached as lam -> 0; at "
              "lam = 1e-5 the maximum sits a few per cent below it); ridge teacher: peak at the student's "
              "interpolation threshold alpha = eta."))

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
                           thresholds={"student separability": thr["student separability"]})])))

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
