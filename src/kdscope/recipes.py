"""Recipes for the figures of the reference paper (Saglietti & Zdeborova, MSML 2022) and a few beyond it.

A :class:`Recipe` is data: a list of :class:`CurveSpec` (a base Setting, the
swept field and its values, optionally "at the optimal ridge"), each tagged
with a legend label and a panel, plus a drawing function that takes the tidy
table and returns a Figure.  :func:`run_recipe` computes the table through the
result store (so a rerun is free) on grids that resolve each curve (thresholds
and optima inserted, adaptive refinement: :func:`curve_table`, :mod:`kdscope.grids`);
:func:`make_figure` writes the table, the PDF and 300 dpi PNG and the caption
sidecar.  The recipes themselves (:func:`paper_recipes` at full or quick
resolution, :func:`readme_recipes`) are in :mod:`kdscope.figure_recipes` and are
reachable from here.  DESIGN.md section 7 gives the targets and the corrections used:

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

from kdscope.grids import FULL, GridOptions, adaptive_values, curve_thresholds, merge_grid, optimum_point
from kdscope.theory.setting import Setting

__all__ = ["CurveSpec", "Recipe", "paper_recipes", "extension_recipes", "readme_recipes", "run_recipe", "make_figure",
           "curve_table", "initial_grid", "caption", "LAM0", "DEFAULTS", "GAIN_VS_BEST_RIDGE"]

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
# Figures are drawn to a quadrature accuracy of 1e-4 relative in m, Q, V (far below what a line
# on the page resolves) instead of the library's 1e-7: near-separable learners with tiny ridge
# (the norm grows like 1/lam) then stay on the page instead of being flagged 'inaccurate'.  The
# caption sidecar states the tolerance; every stored point keeps its own quad_err.
FIGURE_QUAD_TOL = 1e-4
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
        if spec.optimal is None:
            _continue_from_neighbours(spec, xs, rows, store, progress, echo)
            recs = [rows[x] for x in xs]
        else:
            df = curves.compute_curve(spec.base, spec.field, xs, store=store, options=_figure_options(),
                                      optimal=spec.optimal, progress=progress, echo=echo)
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


def _continue_from_neighbours(spec: CurveSpec, xs: list[float], rows: dict, store, progress: bool,
                              echo: Callable[[str], None] | None) -> None:
    """Bring the theory records of the grid ``xs`` into ``rows`` (x -> record), solving only the missing ones.

    Each run of consecutive missing points is one continuation line warm-started from the
    converged neighbour next to it (the nearer of the two), solved away from that neighbour.
    A refinement point near a threshold then starts from the solution a grid step away instead
    of from the last point solved, which may lie across the threshold (there the warm start costs
    thousands of iterations or fails: 113 s and a max_iter failure at Fig. 5's separability
    threshold, against 6 s from a neighbour).
    """
    import kdscope.curves as curves
    from kdscope.tasks import TheoryLine

    options = _figure_options()
    settings = {x: spec.base.replace(**{spec.field: x}) for x in xs}
    if store is not None:  # stored points (from an earlier run) first
        for x in xs:
            if x not in rows:
                rec = store.get(TheoryLine((settings[x],), spec.field, options).keys[0])
                if rec is not None:
                    rows[x] = dict(rec, sweep=spec.field)
    runs, run = [], []
    for i, x in enumerate(xs):
        if x in rows:
            if run:
                runs.append(run)
                run = []
        else:
            run.append(i)
    if run:
        runs.append(run)

    def state(i: int):
        if 0 <= i < len(xs) and xs[i] in rows:
            return curves.state_from_record(rows[xs[i]], spec.base.n_learners)
        return None

    for run in runs:
        left, right = run[0] - 1, run[-1] + 1
        init_l, init_r = state(left), state(right)
        from_right = init_r is not None and (init_l is None or xs[right] - xs[run[-1]] < xs[run[0]] - xs[left])
        order = run[::-1] if from_right else run
        df = curves.compute_curve(spec.base, spec.field, [xs[i] for i in order], store=store, options=options,
                                  progress=progress, echo=echo, init=init_r if from_right else init_l)
        for i, rec in zip(order, df.to_dict("records")):
            rows[xs[i]] = rec
    _retry_failed(spec, xs, rows, settings, options, store)


def _retry_failed(spec: CurveSpec, xs: list[float], rows: dict, settings: dict, options, store) -> None:
    """Solve each failed point of ``xs`` again from its nearest converged neighbour; store it if it converges.

    A line solved from the hard end (e.g. label smoothing from epsilon = 0 with a tiny teacher
    ridge, whose norm is ~1e3) fails there cold but converges from epsilon = 0.002 in a few
    hundred iterations.  Each point is retried once per record (``retried`` marks it).
    """
    import kdscope.curves as curves
    from kdscope.tasks import TheoryLine
    from kdscope.theory import solve

    def converged(i: int) -> bool:
        return 0 <= i < len(xs) and bool(rows[xs[i]].get("converged"))

    for i, x in enumerate(xs):
        rec = rows[x]
        if rec.get("converged") or rec.get("retried"):
            continue
        near = [j for j in (i - 1, i + 1) if converged(j)]
        if not near:
            continue
        j = min(near, key=lambda j: abs(xs[j] - x))
        init = curves.state_from_record(rows[xs[j]], spec.base.n_learners)
        sp = solve(settings[x], options=options, init=init, on_failure="record")
        new = dict(sp.record(), kind="theory", backend="numpy", sweep=spec.field, retried=True)
        if store is not None:
            key = TheoryLine((settings[x],), spec.field, options).keys[0]
            if sp.converged:
                store.put({k: v for k, v in new.items() if k != "sweep"}, key, kind="theory")
        rows[x] = new if sp.converged else dict(rec, retried=True)


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

    from kdscope.store import write_figure, write_table

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    df = run_recipe(recipe, store, **run_kwargs)
    paths = [out_dir / f"{recipe.name}.parquet"]
    write_table(df, paths[0])
    fig = recipe.draw(df)
    paths.extend(write_figure(fig, out_dir / recipe.name, formats))
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


def _figure_options():
    from kdscope.theory import SolverOptions

    return SolverOptions(quad_tol=FIGURE_QUAD_TOL)


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
                theory=("replica-symmetric saddle point (kdscope.theory.solve), d -> infinity, quadrature "
                        f"tolerance {FIGURE_QUAD_TOL:g} relative in m, Q, V (column quad_err)"),
                simulations=sims, grid=dataclasses.asdict(recipe.grid),
                gain_convention="Delta eps = eps(student) - eps(reference); negative: distillation helps")


# The recipes themselves live in kdscope.figure_recipes; they are reachable from here too (one
# import for users), loaded lazily because figure_recipes imports this module's dataclasses.
_FIGURE_RECIPES = ("paper_recipes", "extension_recipes", "readme_recipes", "recipe_names", "GAIN_VS_BEST_RIDGE",
                   "_gain_table")


def __getattr__(name: str):
    if name in _FIGURE_RECIPES:
        import kdscope.figure_recipes

        return getattr(kdscope.figure_recipes, name)
    raise AttributeError(f"module 'kdscope.recipes' has no attribute {name!r}")
