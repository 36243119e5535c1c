"""Recipes for the figures of the C-class model (DESIGN.md section 8): what dark knowledge buys a student.

A :class:`MulticlassRecipe` is data: the tasks that compute its points (:mod:`kdscope.multiclass_tasks`,
run through the result store by :func:`kdscope.engine.compute`, so a rerun is free), the role of
each point in the table (``points``: store key and tags such as ``panel``, ``curve``, ``role``), a
``derive`` step that adds columns computed from the points (gains, never new solves) and the panels
to draw (:func:`kdscope.figures.multiclass.plot_panels`).  :func:`make_multiclass_figure` writes the
table (Parquet), the PDF and 300 dpi PNG and the caption sidecar (JSON: every parameter, what is
plotted).

The four figures (each at full or ``quick`` resolution, :func:`multiclass_recipes`):

``mc_gain``
    the student's gain from distillation against the geometry of the class means (hierarchical G
    with cosine r between classes 0 and 1, r = 0 uniform) and against the temperature tau, next to
    the uniform simplex and C = 2; how much of the gap to the best directly regularised student it
    closes (:data:`GAP_CLOSED`).
``mc_kl_mse``
    KL at temperature tau against logit MSE (the theory side of Kim et al., IJCAI 2021).
``mc_tau_star``
    the optimal temperature tau* against alpha (bounded Brent optimiser on log tau).
``mc_double_descent``
    C = 3 learning curves at small ridge: teacher peak at its separability threshold (estimated
    bracket), student peak at the interpolation threshold alpha = 1.

Gains follow docs/conventions.md: Delta eps = eps_student - eps_reference, negative when
distillation helps; the reference is in the column name (``gain_vs_same_ridge``: the student
trained on the labels alone, xi = 0, with its own ridge lam_s; ``gain_vs_best_ridge``: the same
with lam_s optimised).  A student trained on labels alone is a single learner, so both references
are K = 1 solves with lam_t set to the student's ridge.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from kdscope.multiclass_tasks import MulticlassLine, MulticlassSearch, MulticlassSeparability, figure_options
from kdscope.theory.multiclass import MulticlassSetting, MulticlassSolverOptions, hierarchical_gram

__all__ = ["MulticlassRecipe", "multiclass_recipes", "multiclass_recipe_names", "run_multiclass_recipe",
           "make_multiclass_figure", "multiclass_caption", "BASE", "GAP_CLOSED", "REF_LAM_BOUNDS"]

#: The shared problem: C = 3, uniform pi, ridge teacher, weakly regularised student mixing labels and KL (xi = 0.5).
BASE = dict(classes=3, delta=0.5, alpha=2.0, lam_t=1.0, lam_s=0.01, generations=1, xi=0.5, soft="kl", tau=2.0)
#: Share of the gap to the best direct ridge closed by distillation:
#: (eps_same_ridge - eps_KD) / (eps_same_ridge - eps_best_ridge); 1 means KD is as good as the best ridge.
GAP_CLOSED = "gap_closed"
#: Search interval of the best direct ridge (balanced uniform geometries prefer a very large ridge).
REF_LAM_BOUNDS = (1e-3, 1e4)
R_HIER = 0.9
#: Small-ridge teachers next to their separability threshold need finer quadrature (order raised up to 4 times).
DD_TEACHER_OPTIONS = MulticlassSolverOptions(refinements=4)
TAUS_QUICK = (0.25, 0.5, 1.0, 2.0, 5.0, 20.0)
TAUS_FULL = (0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0)


@dataclass(frozen=True)
class MulticlassRecipe:
    """A multi-class figure as data (see the module docstring).

    name, title : file stem and title.  tasks : tasks of :mod:`kdscope.multiclass_tasks`.
    points : tuple of (store key, tags dict): one table row each (a key may appear in several rows).
    derive : table -> table (added columns only), or None.  panels : table -> list of Panel.
    plotted : what the figure shows (caption text).  parameters : every parameter (caption sidecar).
    """

    name: str
    title: str
    tasks: tuple
    points: tuple
    panels: Callable
    derive: Callable | None = None
    plotted: str = ""
    parameters: dict = field(default_factory=dict)


# ----------------------------------------------------------------- building blocks
def _setting(geometry: str = "hier", r: float = R_HIER, **changes) -> MulticlassSetting:
    """BASE with a geometry: 'hier' (hierarchical G, cosine r), 'simplex' (C = 3) or 'binary' (C = 2)."""
    kw = dict(BASE, **changes)
    if geometry == "binary":
        kw["classes"] = 2
    elif geometry == "hier":
        kw["gram"] = hierarchical_gram(kw["classes"], r)
    return MulticlassSetting(**kw)


GEOMETRY_LABELS = {"hier": rf"hierarchical $G$, $r = {R_HIER:g}$", "simplex": r"uniform $G$ (simplex), $C = 3$",
                   "binary": r"$C = 2$"}


def _line(settings, tags, options=None) -> tuple:
    task = MulticlassLine(tuple(settings), options=options or figure_options())
    return task, tuple((k, dict(t)) for k, t in zip(task.keys, tags))


def _best_ridge(s: MulticlassSetting, tags: dict) -> tuple:
    """The student trained on labels alone with its ridge optimised: a K = 1 search on lam_t."""
    task = MulticlassSearch(s.replace(generations=0), target="lam_t", objective="eps_t", bounds=REF_LAM_BOUNDS,
                            xatol=0.05, options=figure_options())
    return task, ((task.keys[0], dict(tags)),)


def _references(s: MulticlassSetting, tags: dict) -> tuple:
    """(tasks, points) of the references of a student: same ridge (xi = 0), best ridge, and its hard part.

    The hard part is the student without its soft term, (1 - xi) CE + lam_s/2 |W|^2, i.e. labels alone
    with ridge lam_s / (1 - xi): the tau -> 0 limit of the KL student with the tau^2 factor (the soft
    term then vanishes like tau).  What the student gains over it is what the teacher's outputs add.
    """
    t1, p1 = _line([s.replace(generations=0, lam_t=s.lam_s)], [dict(tags, role="ref_same")])
    t2, p2 = _best_ridge(s, dict(tags, role="ref_best"))
    if s.xi >= 1:
        return (t1, t2), p1 + p2
    t3, p3 = _line([s.replace(generations=0, lam_t=s.lam_s / (1.0 - s.xi))], [dict(tags, role="ref_hard")])
    return (t1, t2, t3), p1 + p2 + p3


def _assemble(recipe: MulticlassRecipe, outcome):
    import pandas as pd

    rows = []
    for key, tags in recipe.points:
        rec = outcome.get(key) or {"converged": False, "status": "missing"}
        rows.append(dict(rec, key=key, **tags))
    df = pd.DataFrame(rows)
    for col in ("eps_t", "eps_s", "converged"):
        if col not in df.columns:
            df[col] = math.nan
    df["converged"] = df["converged"].fillna(False).astype(bool)
    df["recipe"] = recipe.name
    return recipe.derive(df) if recipe.derive is not None else df


def _add_gains(df):
    """Columns eps_ref_same, eps_ref_best, eps_ref_hard, gain_vs_same_ridge, gain_vs_best_ridge,
    gain_vs_hard_part and gap_closed on the KD rows (NaN elsewhere).

    The references of a row are the rows with role 'ref_same' / 'ref_best' / 'ref_hard' and the same
    ``ref`` tag (a missing reference gives NaN).
    """
    ref = {}
    for role in ("ref_same", "ref_best", "ref_hard"):
        sub = df[(df["role"] == role) & df["converged"]]
        ref[role] = dict(zip(sub["ref"], sub["eps_t"].astype(float)))
    kd = df["role"] == "kd"
    for role, col in (("ref_same", "same_ridge"), ("ref_best", "best_ridge"), ("ref_hard", "hard_part")):
        df[f"eps_ref_{col.split('_')[0]}"] = df["ref"].map(ref[role]).where(kd).astype(float)
        df[f"gain_vs_{col}"] = df["eps_s"].astype(float) - df[f"eps_ref_{col.split('_')[0]}"]
    df[GAP_CLOSED] = -df["gain_vs_same_ridge"] / (df["eps_ref_same"] - df["eps_ref_best"])
    return df


def _add_eps(df):
    """Columns ``eps`` and ``norm``: the error and tr Q (= ||W||_F^2 / d) of the row's learner ('t' or 's')."""
    rows = df.to_dict("records")
    df["eps"] = [float(r.get(f"eps_{r['learner']}", math.nan)) for r in rows]
    df["norm"] = [_trace(r.get(f"Q_{r['learner']}")) for r in rows]
    return df


def _trace(Q) -> float:
    """tr Q of an overlap matrix stored as an array or nested lists (NaN when absent)."""
    if Q is None or (isinstance(Q, float) and math.isnan(Q)):
        return math.nan
    return float(np.trace(np.stack([np.asarray(row, dtype=float) for row in Q])))


GAIN_SAME = r"$\Delta\varepsilon_g = \varepsilon_g^{\rm KD} - \varepsilon_g^{\rm same\ ridge}$"
GAIN_LABELS = {"gain_vs_same_ridge": r"vs same-ridge student ($\xi = 0$)",
               "gain_vs_hard_part": r"vs its hard part alone ($\lambda_S / (1 - \xi)$, $\xi = 0$)",
               "gain_vs_best_ridge": r"vs best-ridge student ($\xi = 0$, $\lambda_S$ optimised)"}
GAP_LABEL = r"share of the gap to the best ridge closed"


# ----------------------------------------------------------------- (a) gain vs geometry and tau
def _gain_recipe(quick: bool) -> MulticlassRecipe:
    from kdscope.figures.multiclass import Panel

    rs = (0.0, 0.3, 0.6, R_HIER) if quick else tuple(float(v) for v in np.round(np.linspace(0.0, 0.95, 11), 3)) + (
        R_HIER,)
    rs = tuple(sorted(set(rs)))
    taus = TAUS_QUICK if quick else TAUS_FULL
    tasks, points = [], []
    curve_r = r"hierarchical $G$, $C = 3$"
    t, p = _line([_setting("hier", r) for r in rs],
                 [dict(panel="r", curve=curve_r, role="kd", r=r, ref=f"hier{r:g}") for r in rs])
    tasks.append(t)
    points += p
    for r in rs:
        tk, pk = _references(_setting("hier", r), dict(panel="", curve="", r=r, ref=f"hier{r:g}"))
        tasks += tk
        points += pk
    for geo in ("hier", "simplex", "binary"):
        ref = f"hier{R_HIER:g}" if geo == "hier" else geo
        t, p = _line([_setting(geo, tau=tau) for tau in taus],
                     [dict(panel="tau", curve=GEOMETRY_LABELS[geo], role="kd", geometry=geo, ref=ref, tau_x=tau)
                      for tau in taus])
        tasks.append(t)
        points += p
        if geo != "hier":
            tk, pk = _references(_setting(geo), dict(panel="", curve="", geometry=geo, ref=ref))
            tasks += tk
            points += pk
            t, p = _line([_setting(geo)], [dict(panel="level", curve=GEOMETRY_LABELS[geo], role="kd", geometry=geo,
                                                ref=ref)])
            tasks.append(t)
            points += p

    def panels(df):
        lev = df[df["panel"] == "level"]

        def level(geo, col):
            sub = lev[(lev["geometry"] == geo) & lev["converged"]]
            return float(sub.iloc[0][col]) if len(sub) else math.nan

        at = rf" at $\tau = {BASE['tau']:g}$ (reference level)"
        refs_gain = tuple((f"{GEOMETRY_LABELS[g]}{at}, vs same ridge", level(g, "gain_vs_same_ridge"))
                          for g in ("simplex", "binary"))
        refs_gap = tuple((f"{GEOMETRY_LABELS[g]}{at}", level(g, GAP_CLOSED)) for g in ("simplex", "binary"))
        xr = r"similarity $r = \cos(\mu_1, \mu_2)$"
        return [Panel("r", "r", ("gain_vs_same_ridge", "gain_vs_hard_part"), xlabel=xr,
                      ylabel=r"$\Delta\varepsilon_g = \varepsilon_g^{\rm KD} - \varepsilon_g^{\rm ref}$",
                      zero_line=True, references=refs_gain, labels=GAIN_LABELS),
                Panel("r", "r", GAP_CLOSED, xlabel=xr, ylabel=GAP_LABEL, references=refs_gap),
                Panel("tau", "tau_x", ("gain_vs_same_ridge", "gain_vs_hard_part"), xlabel=r"temperature $\tau$",
                      ylabel=r"$\Delta\varepsilon_g = \varepsilon_g^{\rm KD} - \varepsilon_g^{\rm ref}$", logx=True,
                      zero_line=True, labels=GAIN_LABELS),
                Panel("tau", "tau_x", GAP_CLOSED, xlabel=r"temperature $\tau$", ylabel=GAP_LABEL, logx=True)]

    return MulticlassRecipe(
        "mc_gain", "Gain from distillation vs the similarity of the classes and the temperature", tuple(tasks),
        tuple(points), panels, _add_gains,
        plotted=("(a) Delta eps of the KD student against r, the cosine between the means of classes 1 and 2 "
                 "(hierarchical G; the third class orthogonal; r = 0 is a uniform geometry), over the same-ridge "
                 "student trained on the labels alone (solid) and over the student's hard part alone (dashed, "
                 "see (c)); the gain over the best-ridge student is in the table (gain_vs_best_ridge, never "
                 "negative here); horizontal lines: the gain over the same-ridge student on the "
                 "uniform simplex (C = 3) and for C = 2 at the base tau. (b) the share of the gap between the "
                 "same-ridge and "
                 "the best-ridge student that distillation closes, same curves. (c) Delta eps against tau for "
                 "the three geometries, over the same-ridge student (solid) and over the student's hard part "
                 "alone, i.e. labels only with ridge lam_s / (1 - xi), the tau -> 0 limit of the KL student "
                 "with the tau^2 factor (dashed): the latter is what the teacher's soft outputs add. "
                 "(d) the share of the gap against tau."),
        parameters=dict(base=BASE, r_grid=list(rs), tau_grid=list(taus), r_at_tau_panel=R_HIER,
                        reference_ridge_bounds=list(REF_LAM_BOUNDS)))


# ----------------------------------------------------------------- (b) KL vs MSE
def _kl_mse_recipe(quick: bool) -> MulticlassRecipe:
    from kdscope.figures.multiclass import Panel

    taus = TAUS_QUICK if quick else TAUS_FULL
    alphas = (1.0, 2.0, 4.0) if quick else (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
    tasks, points = [], []
    for geo in ("hier", "simplex"):
        t, p = _line([_setting(geo, tau=tau) for tau in taus],
                     [dict(panel="tau", curve=f"KL, {GEOMETRY_LABELS[geo]}", learner="s", geometry=geo, tau_x=tau)
                      for tau in taus])
        tasks.append(t)
        points += p
        t, p = _line([_setting(geo, soft="mse")], [dict(panel="mse", curve="", learner="s", geometry=geo)])
        tasks.append(t)
        points += p
    for label, kw, learner in ((r"KL, $\tau = 1$", dict(tau=1.0), "s"), (r"KL, $\tau = 5$", dict(tau=5.0), "s"),
                               ("logit MSE", dict(soft="mse"), "s"), ("teacher", dict(soft="mse"), "t")):
        t, p = _line([_setting("hier", alpha=a, **kw) for a in alphas],
                     [dict(panel="alpha", curve=label, learner=learner, alpha_x=a) for a in alphas])
        tasks.append(t)
        points += p

    def panels(df):
        refs = []
        for geo in ("hier", "simplex"):
            sub = df[(df["panel"] == "mse") & (df["geometry"] == geo) & df["converged"]]
            if len(sub):
                refs.append((f"logit MSE, {GEOMETRY_LABELS[geo]}", float(sub.iloc[0]["eps"])))
        sub = df[(df["panel"] == "tau") & (df["geometry"] == "hier") & df["converged"]]
        if len(sub):
            refs.append(("teacher, " + GEOMETRY_LABELS["hier"], float(sub.iloc[0]["eps_t"])))
        return [Panel("tau", "tau_x", "eps", xlabel=r"temperature $\tau$",
                      ylabel=r"student test error $\varepsilon_g$", logx=True, references=tuple(refs)),
                Panel("alpha", "alpha_x", "eps", xlabel=r"samples per dimension $\alpha = n/d$",
                      ylabel=r"test error $\varepsilon_g$ (" + GEOMETRY_LABELS["hier"] + ")")]

    return MulticlassRecipe(
        "mc_kl_mse", "KL at temperature tau vs logit MSE in the multi-class model", tuple(tasks), tuple(points),
        panels, _add_eps,
        plotted=("(a) test error of the KD student with the tau^2 KL loss against tau, hierarchical and uniform G; "
                 "horizontal lines: the same student with logit MSE, and the teacher. (b) test error against alpha "
                 "for KL at tau = 1 and 5, logit MSE and the teacher (hierarchical G). As tau -> infinity, "
                 "tau^2 KL tends to |P(z - h)|^2 / (2C) with P the centring projector: logit matching with a "
                 "weight 1/C, i.e. MSE at a C times larger relative ridge."),
        parameters=dict(base=BASE, tau_grid=list(taus), alpha_grid=list(alphas), r=R_HIER))


# ----------------------------------------------------------------- (c) tau* vs alpha
def _tau_star_recipe(quick: bool) -> MulticlassRecipe:
    from kdscope.figures.multiclass import Panel

    alphas = (1.0, 2.0, 4.0) if quick else (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
    geos = ("hier",) if quick else ("hier", "simplex")
    tasks, points = [], []
    for geo in geos:
        for a in alphas:
            task = MulticlassSearch(_setting(geo, alpha=a), target="tau", objective="eps_s", xatol=0.03,
                                    options=figure_options())
            tasks.append(task)
            points.append((task.keys[0], dict(panel="tau_star", curve=r"$\tau^*$, " + GEOMETRY_LABELS[geo],
                                              learner="s", alpha_x=a)))
            points.append((task.keys[0], dict(panel="eps", curve=r"KL at $\tau^*$, " + GEOMETRY_LABELS[geo],
                                              learner="s", alpha_x=a)))
        for label, kw, learner in ((r"KL, $\tau = 1$", dict(tau=1.0), "s"), ("logit MSE", dict(soft="mse"), "s"),
                                   ("teacher", dict(soft="mse"), "t")):
            t, p = _line([_setting(geo, alpha=a, **kw) for a in alphas],
                         [dict(panel="eps", curve=f"{label}, {GEOMETRY_LABELS[geo]}", learner=learner, alpha_x=a)
                          for a in alphas])
            tasks.append(t)
            points += p

    def panels(df):
        xa = r"samples per dimension $\alpha = n/d$"
        return [Panel("tau_star", "alpha_x", "optimum_x", xlabel=xa, ylabel=r"optimal temperature $\tau^*$",
                      logy=True, open_column="at_bound"),
                Panel("eps", "alpha_x", "eps", xlabel=xa, ylabel=r"test error $\varepsilon_g$")]

    return MulticlassRecipe(
        "mc_tau_star", "Optimal temperature vs alpha", tuple(tasks), tuple(points), panels, _add_eps,
        plotted=("(a) tau*, the temperature that minimises the KD student's test error, against alpha: a coarse "
                 "scan of 7 log-spaced tau in [0.2, 50] brackets the best value, Brent's bounded method refines "
                 "it (tolerance 0.03 in log tau); open circles: optimum at the search bound (tau* -> 0 means the "
                 "soft term is best dropped: with the tau^2 factor it vanishes like tau). (b) the student's error at tau*, at tau = 1, with logit MSE, and "
                 "the teacher's."),
        parameters=dict(base=BASE, alpha_grid=list(alphas), geometries=list(geos), r=R_HIER,
                        tau_bounds=[0.2, 50.0], xatol_log_tau=0.03))


# ----------------------------------------------------------------- (d) double descent
def _double_descent_recipe(quick: bool) -> MulticlassRecipe:
    from kdscope.figures.multiclass import Panel

    alphas = (0.5, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 6.0) if quick else tuple(
        sorted(set(np.round(np.concatenate([np.linspace(0.25, 2.0, 15), np.linspace(2.25, 8.0, 15)]), 4).tolist())))
    # teachers are cheap (K = 1): more points around the separability threshold, finer quadrature allowed
    alphas_t = tuple(sorted(set(alphas) | {2.5, 3.5, 4.5, 5.0}))
    small = 1e-3
    simplex = dict(gram=None, tau=1.0, delta=1.0)
    tasks, points = [], []
    for lam in (small, 0.1):
        t, p = _line([_setting("simplex", alpha=a, lam_t=lam, generations=0, **simplex) for a in alphas_t],
                     [dict(panel="teacher", curve=rf"teacher, $\lambda_T = {lam:g}$", learner="t", alpha_x=a)
                      for a in alphas_t], options=DD_TEACHER_OPTIONS)
        tasks.append(t)
        points += p
        points += tuple((k, dict(tg, panel="teacher_norm")) for k, tg in p)
        if lam == 0.1:  # the student's teacher beside the students; the Bayes-optimal error from its records
            points += tuple((k, dict(tg, panel="student")) for k, tg in p)
            points += tuple((k, dict(tg, panel=panel, curve="Bayes-optimal", learner="bayes"))
                            for panel in ("teacher", "student") for k, tg in p)
    for label, kw in ((r"KL student ($\tau = 1$)", {}), ("logit-MSE student", dict(soft="mse"))):
        t, p = _line([_setting("simplex", alpha=a, lam_t=0.1, lam_s=small, xi=1.0, **dict(simplex, **kw))
                      for a in alphas],
                     [dict(panel="student", curve=label + rf", $\lambda_S = {small:g}$", learner="s", alpha_x=a)
                      for a in alphas])
        tasks.append(t)
        points += p
    sep = MulticlassSeparability(_setting("simplex", **simplex), bounds=(1.0, 8.0), steps=4 if quick else 6)
    tasks.append(sep)
    points.append((sep.keys[0], dict(panel="threshold", curve="", learner="t")))

    def panels(df):
        thr = df[(df["panel"] == "threshold") & df["converged"]]
        bracket = (float(thr.iloc[0]["alpha_lo"]), float(thr.iloc[0]["alpha_hi"])) if len(thr) else None
        sep_ = ((r"teacher separability ($\lambda_T = 0$), bracket", bracket),) if bracket else ()
        xa = r"samples per dimension $\alpha = n/d$"
        return [Panel("teacher", "alpha_x", "eps", xlabel=xa, ylabel=r"teacher test error $\varepsilon_g$",
                      thresholds=sep_),
                Panel("student", "alpha_x", "eps", xlabel=xa, ylabel=r"student test error $\varepsilon_g$",
                      thresholds=sep_ + ((r"student interpolation $\alpha = 1$", 1.0),)),
                Panel("teacher_norm", "alpha_x", "norm", xlabel=xa, logy=True,
                      ylabel=r"teacher norm ${\rm tr}\,Q_T = \Vert W_T \Vert_F^2 / d$", thresholds=sep_)]

    return MulticlassRecipe(
        "mc_double_descent", "Double descent and thresholds for C = 3", tuple(tasks), tuple(points), panels,
        _add_eps,
        plotted=("(a) teacher test error against alpha at a small and a moderate ridge (uniform simplex, C = 3, "
                 "Delta = 1); shaded: the bracket of the separability threshold of the unregularised teacher "
                 "(alpha below it: no finite minimiser); points whose quadrature error stays above 1e-4 even at a raised order "
                 "(small ridge next to the threshold) are left out. At Delta = 1 the teacher's test error falls monotonically "
                 "through the threshold; what the threshold marks is the norm, panel (c): at the small ridge it is "
                 "largest below the bracket (where lam_T = 0 has no finite minimiser) and falls by an order of "
                 "magnitude across it, while at lam_T = 0.1 it stays flat. (b) a nearly unregularised student distilled (xi = 1) "
                 "from the lam_T = 0.1 teacher, KL at tau = 1 and logit MSE; vertical line: alpha = 1, where (C - 1) n "
                 "soft targets meet (C - 1) d weights. The theory finds no interpolation peak there: a ridge "
                 "teacher's weights lie in the span of the training inputs, so a dense student can reproduce it "
                 "exactly on both sides of alpha = 1 and stays within 1e-3 of the teacher (the binary model's peak "
                 "needs the sparse student's mismatch). Dotted: Bayes-optimal error."),
        parameters=dict(base=dict(BASE, **simplex), alpha_grid=list(alphas), alpha_grid_teachers=list(alphas_t),
                        teacher_solver_refinements=DD_TEACHER_OPTIONS.refinements, small_ridge=small,
                        teacher_ridges=[small, 0.1],
                        separability_bounds=[1.0, 8.0], separability_steps=sep.steps))


# ----------------------------------------------------------------- running
_RECIPES = {"mc_gain": _gain_recipe, "mc_kl_mse": _kl_mse_recipe, "mc_tau_star": _tau_star_recipe,
            "mc_double_descent": _double_descent_recipe}


def multiclass_recipe_names() -> list[str]:
    """Names of the multi-class figures, in drawing order."""
    return list(_RECIPES)


def multiclass_recipes(quick: bool = False, names=None) -> list[MulticlassRecipe]:
    """The recipes (all, or those in ``names``), at full resolution or ``quick`` (a few minutes of CPU)."""
    names = list(_RECIPES) if names is None else list(names)
    unknown = [n for n in names if n not in _RECIPES]
    if unknown:
        raise ValueError(f"unknown multi-class figure(s) {unknown}; known: {list(_RECIPES)}.")
    return [_RECIPES[n](quick) for n in names]


def run_multiclass_recipe(recipe: MulticlassRecipe, store=None, *, executor="serial", workers=None,
                          progress: bool = False):
    """Compute the recipe's points through ``store`` (:func:`kdscope.engine.compute`) and return its table."""
    from kdscope.engine import compute

    outcome = compute(recipe.tasks, store, executor=executor, workers=workers, progress=progress, desc=recipe.name)
    return _assemble(recipe, outcome)


def multiclass_caption(recipe: MulticlassRecipe, df=None, quick: bool = False) -> dict:
    """The caption sidecar: title, what is plotted, every parameter, every curve's settings and point counts."""
    curves = []
    if df is not None and len(df):
        for (panel, curve), sub in df.groupby(["panel", "curve"], sort=False):
            if not curve:
                continue
            first = sub.iloc[0]
            setting = {k: (first[k] if not isinstance(first[k], np.generic) else first[k].item())
                       for k in ("classes", "gram", "pi", "alpha", "delta", "lam_t", "lam_s", "generations", "xi",
                                 "soft", "tau", "tau2_factor") if k in sub.columns}
            curves.append(dict(panel=panel, label=curve.replace("$", "").replace("\\", ""), points=int(len(sub)),
                               converged=int(sub["converged"].sum()), first_setting=_jsonable(setting)))
    text = (f"{recipe.title}. {recipe.plotted} Replica-symmetric theory of the C-class model (d -> infinity), "
            "solved to a fixed-point tolerance of 1e-9 and a quadrature tolerance of 1e-4 (relative, column "
            "quad_error); only converged points are drawn. Shared parameters: "
            + ", ".join(f"{k} = {v}" for k, v in recipe.parameters.get("base", {}).items())
            + "; uniform class probabilities; tau^2 factor on the KL loss.")
    return dict(figure=recipe.name, title=recipe.title, caption=text, plotted=recipe.plotted, quick=bool(quick),
                parameters=_jsonable(recipe.parameters), curves=curves,
                theory="kdscope.theory.multiclass.solve_multiclass (MulticlassSolverOptions defaults)",
                simulations=None,
                gain_convention=("Delta eps = eps(student) - eps(reference); negative: distillation helps; "
                                 "gain_vs_same_ridge: reference the student trained on the labels alone (xi = 0) "
                                 "with the same ridge lam_s; gain_vs_best_ridge: the same with lam_s optimised; "
                                 "gap_closed = -gain_vs_same_ridge / (eps_same_ridge - eps_best_ridge)."))


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def make_multiclass_figure(recipe: MulticlassRecipe, store, out_dir, *, quick: bool = False, formats=("png", "pdf"),
                           executor="serial", workers=None, progress: bool = False):
    """Compute ``recipe``, write ``<out_dir>/<name>.parquet``, ``.pdf``, ``.png`` and the ``.json`` caption sidecar.

    Returns (table, list of written paths).
    """
    import matplotlib.pyplot as plt

    from kdscope.figures import paper_style
    from kdscope.figures.multiclass import plot_panels
    from kdscope.store import write_figure, write_table

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    df = run_multiclass_recipe(recipe, store, executor=executor, workers=workers, progress=progress)
    paths = [out_dir / f"{recipe.name}.parquet"]
    write_table(df, paths[0])
    with paper_style():
        fig = plot_panels(df, recipe.panels(df), suptitle=None)
        paths.extend(write_figure(fig, out_dir / recipe.name, formats))
    plt.close(fig)
    side = out_dir / f"{recipe.name}.json"
    side.write_text(json.dumps(multiclass_caption(recipe, df, quick), indent=2))
    paths.append(side)
    return df, paths
