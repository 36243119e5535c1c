"""Points and curves through the result store: what the CLI and the figure recipes call.

Every function here takes a Setting (and, for a curve, a field and its values),
looks each point up in a :class:`~kdscope.store.ResultStore` when one is given,
computes only the missing ones (theory by warm-started continuation, optimal
ridge by :func:`kdscope.theory.optimal_lam`, simulations by
:func:`kdscope.simulations.simulate`) and stores them as they finish, so an
interrupted curve resumes where it stopped.  Records carry a ``kind`` column:
'theory', 'theory-optlam-t' / 'theory-optlam-s' (optimal ridge), or 'sim'.
Failed theory points are stored too, with their status (a rerun costs nothing);
drawing code keeps the converged rows.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from kdscope.store import ResultStore, point_key

__all__ = [
    "parse_values", "pick_subset", "theory_point", "optimal_lam_point", "sim_point", "theory_curve", "sim_curve",
    "thresholds", "summary_line", "not_converged_error", "state_from_record", "LAM_BOUNDS",
]

LAM_BOUNDS = (1e-6, 1e2)


# ------------------------------------------------------------------- values
def parse_values(spec: str) -> list[float]:
    """Values of a swept parameter from text.

    ``'lo:hi:n'`` gives n points linearly spaced from lo to hi (inclusive),
    ``'lo:hi:n:log'`` n points log-spaced, ``'a,b,c'`` a list, ``'a'`` one value.

    Examples
    --------
    >>> parse_values("1:2:3"), parse_values("1e-2:1:3:log"), parse_values("0.5,2")
    ([1.0, 1.5, 2.0], [0.01, 0.1, 1.0], [0.5, 2.0])
    """
    text = spec.strip()
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] not in ("log", "lin")):
                raise ValueError
            lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
            if n < 1:
                raise ValueError
            if len(parts) == 4 and parts[3] == "log":
                if lo <= 0 or hi <= 0:
                    raise ValueError
                vals = np.geomspace(lo, hi, n)
            else:
                vals = np.linspace(lo, hi, n)
            return [float(f"{v:.12g}") for v in vals]
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"a range must read 'lo:hi:n', 'lo:hi:n:log' (lo, hi > 0) or 'a,b,c'; got {spec!r}.") from None


def pick_subset(values: Sequence[float], k: int) -> list[float]:
    """About ``k`` values spread evenly over ``values`` (always the first and last; all if k >= len)."""
    values = list(values)
    if k <= 0 or not values:
        return []
    if k >= len(values):
        return values
    idx = sorted(set(int(round(i)) for i in np.linspace(0, len(values) - 1, k)))
    return [values[i] for i in idx]


# ------------------------------------------------------------------- points
def state_from_record(rec: dict, K: int):
    """The solver State of a stored theory record (K <= 2, converged), for warm starts; else None."""
    from kdscope.theory import State

    if not rec.get("converged") or K > 2:
        return None
    try:
        if K == 1:
            return State(np.array([rec["m_t"]]), np.array([[rec["q_t"]]]), np.array([[rec["V_t"]]]),
                         np.array([rec["b_t"]]))
        Q = np.array([[rec["q_t"], rec["q_ts"]], [rec["q_ts"], rec["q_s"]]])
        V = np.array([[rec["V_t"], 0.0], [rec["V_st"], rec["V_s"]]])
        return State(np.array([rec["m_t"], rec["m_s"]]), Q, V, np.array([rec["b_t"], rec["b_s"]]))
    except (KeyError, TypeError):
        return None


def _options_key(options) -> Any:
    return None if options is None else options


def theory_point(setting, store: ResultStore | None = None, options=None, init=None) -> tuple[dict, Any]:
    """The theory record of one Setting (from the store when there); never raises on non-convergence.

    Returns
    -------
    (record, SaddlePoint or None): the SaddlePoint is None when the record came
    from the store.  ``record['kind'] == 'theory'``; check ``record['converged']``.
    """
    from kdscope.theory import solve

    key = point_key(setting, "theory", options=_options_key(options))
    if store is not None:
        rec = store.get(key)
        if rec is not None:
            return rec, None
    sp = solve(setting, options=options, init=init, on_failure="record")
    if not sp.converged and init is not None:  # a bad warm start must not cost the point
        sp = solve(setting, options=options, on_failure="record")
    rec = dict(sp.record(), kind="theory")
    if store is not None:
        store.put(rec, key, kind="theory")
    return rec, sp


def optimal_lam_point(setting, learner: str = "t", store: ResultStore | None = None, options=None,
                      bounds: tuple[float, float] = LAM_BOUNDS) -> dict:
    """The theory record at the ridge lam* minimising learner ``learner``'s error ('t' or 's').

    The record's ``lam_t`` (or ``lam_s``) holds lam*; ``optimal`` names the
    optimised field; ``kind`` is 'theory-optlam-t' / 'theory-optlam-s'.  When
    no ridge in ``bounds`` converges the record has ``converged=False``.
    """
    from kdscope.theory import optimal_lam, solve

    field = "lam_t" if learner == "t" else "lam_s"
    kind = f"theory-optlam-{learner}"
    base = setting.replace(**{field: 1.0})  # the optimised field does not enter the key
    key = point_key(base, kind, options=_options_key(options), bounds=list(bounds))
    if store is not None:
        rec = store.get(key)
        if rec is not None:
            return rec
    try:
        lam, sp = optimal_lam(setting, learner=learner, bounds=bounds, options=options)
        rec = dict(sp.record())
    except RuntimeError as exc:  # no converged point anywhere in bounds
        rec = dict(solve(base, options=options, on_failure="record").record())
        rec["status"] = f"optimal_lam failed: {exc}"
        rec["converged"] = False
    rec.update(kind=kind, optimal=field)
    if store is not None:
        store.put(rec, key, kind=kind)
    return rec


def sim_point(setting, d: int = 1000, seeds: int = 10, store: ResultStore | None = None, progress: bool = False) -> dict:
    """The simulation record of one Setting: seed averages with '<name>_se', 'd', 'seeds' (kind 'sim')."""
    key = point_key(setting, "sim", d=int(d), seeds=int(seeds))
    if store is not None:
        rec = store.get(key)
        if rec is not None:
            return rec
    from kdscope.simulations import simulate

    rec = dict(simulate(setting, d=int(d), seeds=int(seeds), progress=progress), kind="sim")
    if store is not None:
        store.put(rec, key, kind="sim")
    return rec


# ------------------------------------------------------------------- curves
def _iterate(values, progress: bool, desc: str):
    if not progress:
        return values, print_nothing
    from tqdm.auto import tqdm

    bar = tqdm(values, desc=desc, leave=False, dynamic_ncols=True)
    return bar, tqdm.write


def print_nothing(*_a, **_k) -> None:
    return None


def theory_curve(setting, field: str, values: Iterable[float], store: ResultStore | None = None, options=None,
                 optimal: str | None = None, bounds: tuple[float, float] = LAM_BOUNDS, progress: bool = False,
                 echo: Callable[[str], None] | None = None) -> list[dict]:
    """Theory records along ``field`` (warm-started continuation; stored points are reused).

    Parameters
    ----------
    setting : the base Setting.  field : the swept Setting field ('alpha', 'lam_t', 'xi' ...).
    values : the values, solved in the given order (monotone is best near thresholds).
    store : optional ResultStore.  options : SolverOptions.
    optimal : None, or 't' / 's' to minimise over the teacher's / first student's
        ridge at every point (:func:`optimal_lam_point`).
    progress : tqdm bar.  echo : called with a one-line summary per point.

    Returns
    -------
    list of records (dicts), one per value, each with ``kind`` and ``sweep=field``.

    Notes
    -----
    The loop is that of :func:`kdscope.theory.solve_curve`, written out so that
    each point goes through the store and a stored point still seeds the next
    warm start (:func:`state_from_record`).
    """
    values = [float(v) if field != "generations" else int(v) for v in values]
    it, write = _iterate(values, progress, f"theory {field}")
    out, last = [], None
    for v in it:
        s = setting.replace(**{field: v})
        if optimal is not None:
            rec = optimal_lam_point(s, optimal, store=store, options=options, bounds=bounds)
        else:
            rec, sp = theory_point(s, store=store, options=options, init=last)
            if rec.get("converged"):
                last = sp if sp is not None else state_from_record(rec, s.n_learners)
        rec = dict(rec, sweep=field)
        out.append(rec)
        (echo or write)(summary_line(rec, field))
    return out


def sim_curve(setting, field: str, values: Iterable[float], d: int = 1000, seeds: int = 5,
              store: ResultStore | None = None, progress: bool = False,
              echo: Callable[[str], None] | None = None) -> list[dict]:
    """Simulation records (seed averages) along ``field``; stored points are reused."""
    values = [float(v) if field != "generations" else int(v) for v in values]
    it, write = _iterate(values, progress, f"simulate {field} (d={d}, {seeds} seeds)")
    out = []
    for v in it:
        rec = dict(sim_point(setting.replace(**{field: v}), d=d, seeds=seeds, store=store), sweep=field)
        out.append(rec)
        (echo or write)(summary_line(rec, field))
    return out


# --------------------------------------------------------------- thresholds
def thresholds(setting, lam_small: float = 1e-3) -> dict[str, float]:
    """Thresholds in alpha relevant to ``setting`` (for marking on learning curves).

    - teacher separability alpha*(delta, rho) when the teacher's loss is
      logistic or hinge and lam_t <= ``lam_small`` (its norm diverges below it);
      teacher interpolation alpha = 1 for a square-loss teacher with small ridge;
    - with students and lam_s <= ``lam_small``: the student's separability
      threshold eta alpha*(delta / eta, rho) (saturated targets or xi < 1) and
      its interpolation threshold alpha = eta (soft targets, xi > 0).
    """
    from kdscope.theory import interpolation_threshold, separability_threshold

    out: dict[str, float] = {}
    if setting.teacher == "erm" and setting.lam_t <= lam_small:
        if setting.loss_t in ("logistic", "hinge"):
            out["teacher separability"] = separability_threshold(setting.delta, setting.rho)
        elif setting.loss_t == "square":
            out["teacher interpolation"] = 1.0
    if setting.generations >= 1 and setting.lam_s <= lam_small:
        if setting.loss_s in ("logistic", "hinge") and setting.xi < 1 or setting.soft == "pseudo":
            out["student separability"] = separability_threshold(setting.delta, setting.rho, setting.eta)
        if setting.xi > 0 and setting.soft in ("kl", "mse"):
            out["student interpolation"] = interpolation_threshold(setting)
        elif setting.xi < 1 and setting.loss_s == "square":
            out["student interpolation"] = interpolation_threshold(setting)
    return out


# ------------------------------------------------------------------ reports
def _last_suffix(rec: dict) -> str:
    g = int(rec.get("generations", 0) or 0)
    return "t" if g == 0 else ("s" if g == 1 else f"s{g}")


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return "nan" if math.isnan(x) else f"{x:.4g}"
    return str(x)


def summary_line(rec: dict, field: str | None = None) -> str:
    """One line per point: the swept value, the errors, the status."""
    kind = rec.get("kind", "theory")
    head = f"[{kind}] " + (f"{field}={_fmt(rec.get(field))} " if field else "")
    parts = []
    for k in range(int(rec.get("generations", 0) or 0) + 1):
        x = "t" if k == 0 else ("s" if k == 1 else f"s{k}")
        val = rec.get(f"eps_{x}")
        se = rec.get(f"eps_{x}_se")
        parts.append(f"eps_{x}={_fmt(val)}" + (f"+-{_fmt(se)}" if se is not None else ""))
    if rec.get("optimal"):
        parts.append(f"{rec['optimal']}*={_fmt(rec.get(rec['optimal']))}")
    if kind == "sim":
        parts.append(f"d={rec.get('d')}")
    status = rec.get("status", "")
    return head + " ".join(parts) + f"  [{status}]"


def not_converged_error(rec: dict, setting):
    """The SaddlePointNotConverged exception describing a failed theory record (its message is the solver's)."""
    from kdscope.theory import SaddlePointNotConverged, Status

    try:
        status = Status(rec.get("status"))
    except ValueError:
        status = Status.MAX_ITER
    return SaddlePointNotConverged(setting, status, float(rec.get("residual", math.nan)), int(rec.get("iterations", 0)))


# ------------------------------------------------------- curve with sims
def compute_curve(setting, field: str, values: Sequence[float], store: ResultStore | None = None, options=None,
                  optimal: str | None = None, bounds: tuple[float, float] = LAM_BOUNDS, sim_d: int | None = None,
                  sim_seeds: int = 5, sim_points: int = 8, progress: bool = False,
                  echo: Callable[[str], None] | None = None):
    """Theory along ``field`` and simulations at about ``sim_points`` of the values, as one tidy DataFrame.

    Simulations (when ``sim_d`` is given) run at the same Settings as the
    theory points; with ``optimal`` at the optimal ridge found there.  Rows:
    theory first (kind 'theory' or 'theory-optlam-*'), then 'sim'; every row
    has the Setting fields and ``sweep = field``.
    """
    import pandas as pd

    recs = theory_curve(setting, field, values, store=store, options=options, optimal=optimal, bounds=bounds,
                        progress=progress, echo=echo)
    rows = list(recs)
    if sim_d:
        chosen = set(pick_subset(list(values), sim_points))
        todo = [r for r, v in zip(recs, values) if v in chosen]
        it, write = _iterate(todo, progress, f"simulate {field} (d={sim_d}, {sim_seeds} seeds)")
        for r in it:
            s = setting.replace(**{field: r[field]})
            if optimal is not None:
                lam_field = "lam_t" if optimal == "t" else "lam_s"
                if not r.get("converged"):
                    continue
                s = s.replace(**{lam_field: float(r[lam_field])})
            rec = dict(sim_point(s, d=sim_d, seeds=sim_seeds, store=store), sweep=field)
            rows.append(rec)
            (echo or write)(summary_line(rec, field))
    return pd.DataFrame(rows)


def error_columns(setting) -> list[str]:
    """The test-error columns of a Setting's chain, last learner first ('eps_s', 'eps_t' ...)."""
    out = []
    for k in range(setting.n_learners - 1, -1, -1):
        out.append("eps_" + ("t" if k == 0 else ("s" if k == 1 else f"s{k}")))
    return out


def curve_figure(df, setting, field: str, logx: bool = False, title: str | None = None):
    """The learning-curve figure of :func:`compute_curve`'s table: errors, baselines, thresholds (when x is alpha)."""
    from kdscope.figures import paper_style, plot_error_curve

    ys = error_columns(setting)
    baselines = ["eps_bayes_s", "eps_bayes", "eps_oracle"] if setting.n_learners > 1 else ["eps_bayes", "eps_oracle"]
    thr = thresholds(setting) if field in ("alpha", "alpha_s") else None
    if thr:
        lo, hi = float(df[field].min()), float(df[field].max())
        thr = {k: v for k, v in thr.items() if lo <= v <= hi}
    styles = {c: ("-" if i == 0 else "--") for i, c in enumerate(ys)}
    with paper_style():
        return plot_error_curve(df, x=field, y=ys, baselines=baselines, thresholds=thr, linestyles=styles, logx=logx,
                                title=title)
