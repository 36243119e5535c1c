"""Points and curves through the result store: what the CLI and the figure recipes call.

A curve is a one-axis sweep: the Settings along one field become tasks (:mod:`kdscope.tasks`:
one :class:`~kdscope.tasks.TheoryLine` solved by continuation, or one
:class:`~kdscope.tasks.OptimalSearch` per point, and :class:`~kdscope.tasks.Simulation` at some
points) and :func:`kdscope.engine.compute` brings them into the store, like any sweep.  Stored
points are reused (an interrupted curve resumes where it stopped), failed theory points are
stored with their status, and records carry ``kind``: 'theory', 'theory-optlam-t' /
'theory-optlam-s' (optimal ridge) or 'sim'.  Drawing code keeps the converged rows.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from kdscope.columns import baseline_columns, error_columns, suffixes
from kdscope.engine import compute
from kdscope.store import ResultStore
from kdscope.tasks import LAM_BOUNDS, OptimalSearch, Simulation, TheoryLine

__all__ = [
    "parse_values", "pick_subset", "theory_point", "optimal_lam_point", "sim_point", "theory_curve", "sim_curve",
    "compute_curve", "curve_figure", "error_columns", "thresholds", "summary_line", "not_converged_error",
    "PointNotConverged", "state_from_record", "LAM_BOUNDS",
]


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
    from kdscope.guards import MAX_AXIS_POINTS

    text = spec.strip()
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] not in ("log", "lin")):
                raise ValueError
            lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
            if n < 1 or n > MAX_AXIS_POINTS or not (math.isfinite(lo) and math.isfinite(hi)):
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
        raise ValueError(f"a range must read 'lo:hi:n', 'lo:hi:n:log' (lo, hi > 0) or 'a,b,c' (finite numbers, "
                         f"1 <= n <= {MAX_AXIS_POINTS}); got {spec!r}.") from None


def pick_subset(values: Sequence[float], k: int) -> list[float]:
    """About ``k`` values spread evenly over ``values`` (always the first and last; all if k >= len)."""
    values = list(values)
    if k <= 0 or not values:
        return []
    if k >= len(values):
        return values
    idx = sorted(set(int(round(i)) for i in np.linspace(0, len(values) - 1, k)))
    return [values[i] for i in idx]


def _values(field: str, values: Iterable) -> list:
    return [int(v) if field == "generations" else float(v) for v in values]


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


def theory_point(setting, store: ResultStore | None = None, options=None, init=None) -> tuple[dict, Any]:
    """The theory record of one Setting (from the store when there); never raises on non-convergence.

    Returns
    -------
    (record, None): ``record['kind'] == 'theory'``; check ``record['converged']``.  (The second
    item is kept for compatibility; :func:`state_from_record` gives a warm start from a record.)
    """
    line = TheoryLine((setting,), options=options, init=init)
    return compute([line], store).get(line.keys[0]), None


def optimal_lam_point(setting, learner: str = "t", store: ResultStore | None = None, options=None,
                      bounds: tuple[float, float] = LAM_BOUNDS) -> dict:
    """The theory record at the ridge lam* minimising learner ``learner``'s error ('t' or 's').

    The record's ``lam_t`` (or ``lam_s``) holds lam*; ``optimal`` names the optimised field;
    ``kind`` is 'theory-optlam-t' / 'theory-optlam-s'.  When no ridge in ``bounds`` converges the
    record has ``converged=False``.
    """
    task = OptimalSearch(setting, "lam_t" if learner == "t" else "lam_s", options, bounds)
    return compute([task], store).get(task.keys[0])


def sim_point(setting, d: int = 1000, seeds=10, store: ResultStore | None = None, progress: bool = False) -> dict:
    """The simulation record of one Setting: seed averages with '<name>_se', 'd', 'seeds' (kind 'sim').

    Raises ValueError (:class:`kdscope.simulations.SimulationSizeError`) for a run too large or bad seeds.
    """
    task = Simulation(setting, d, seeds, progress=progress)
    return compute([task], store).get(task.keys[0])


# ------------------------------------------------------------------- curves
def _echo_all(recs: list[dict], field: str, echo: Callable[[str], None] | None, progress: bool) -> None:
    if echo is None and progress:
        from tqdm.auto import tqdm
        echo = tqdm.write
    if echo is not None:
        for rec in recs:
            echo(summary_line(rec, field))


def theory_curve(setting, field: str, values: Iterable[float], store: ResultStore | None = None, options=None,
                 optimal: str | None = None, bounds: tuple[float, float] = LAM_BOUNDS, progress: bool = False,
                 echo: Callable[[str], None] | None = None, init=None) -> list[dict]:
    """Theory records along ``field`` (one continuation line through the store; stored points are reused).

    Parameters
    ----------
    setting : the base Setting.  field : the swept Setting field ('alpha', 'lam_t', 'xi' ...).
    values : the values, solved in the given order (monotone is best near thresholds).
    store : optional ResultStore.  options : SolverOptions.
    optimal : None, or 't' / 's' to minimise over the teacher's / first student's ridge at every point.
    progress : tqdm bar.  echo : called with a one-line summary per point.
    init : a State or SaddlePoint that warm-starts the first value solved (default: the last stored
        converged point before the first missing one).

    Returns
    -------
    list of records (dicts), one per value, each with ``kind`` and ``sweep=field``.
    """
    settings = [setting.replace(**{field: v}) for v in _values(field, values)]
    if optimal is not None:
        tasks = [OptimalSearch(s, "lam_t" if optimal == "t" else "lam_s", options, bounds) for s in settings]
    else:
        line = TheoryLine(tuple(settings), field, options)
        tasks = [TheoryLine(line.settings, field, options, init=init if init is not None else _warm_start(line, store))]
    out = compute(tasks, store, progress=progress, desc=f"theory {field}")
    recs = [dict(out.get(t.keys[i]), sweep=field) for t in tasks for i in range(len(t.keys))]
    _echo_all(recs, field, echo, progress)
    return recs


def _warm_start(line: TheoryLine, store: ResultStore | None):
    """The state of the last stored converged point before the line's first missing one (None if none)."""
    if store is None:
        return None
    last = None
    for s, key in zip(line.settings, line.keys):
        rec = store.get(key)
        if rec is None:
            return last
        state = state_from_record(rec, s.n_learners)
        last = state if state is not None else last
    return None


def sim_curve(setting, field: str, values: Iterable[float], d: int = 1000, seeds=5,
              store: ResultStore | None = None, progress: bool = False,
              echo: Callable[[str], None] | None = None) -> list[dict]:
    """Simulation records (seed averages) along ``field``; stored points are reused."""
    tasks = [Simulation(setting.replace(**{field: v}), d, seeds) for v in _values(field, values)]
    out = compute(tasks, store, progress=progress, desc=f"simulate {field} (d={d})")
    recs = [dict(out.get(t.keys[0]), sweep=field) for t in tasks]
    _echo_all(recs, field, echo, progress)
    return recs


def compute_curve(setting, field: str, values: Sequence[float], store: ResultStore | None = None, options=None,
                  optimal: str | None = None, bounds: tuple[float, float] = LAM_BOUNDS, sim_d: int | None = None,
                  sim_seeds: int = 5, sim_points: int = 8, progress: bool = False,
                  echo: Callable[[str], None] | None = None, init=None):
    """Theory along ``field`` and simulations at about ``sim_points`` of the values, as one tidy DataFrame.

    Simulations (when ``sim_d`` is given) run at the same Settings as the theory points; with
    ``optimal`` at the optimal ridge found there.  Rows: theory first (kind 'theory' or
    'theory-optlam-*'), then 'sim'; every row has the Setting fields and ``sweep = field``.
    ``init`` warm-starts the theory line (see :func:`theory_curve`).
    """
    import pandas as pd

    values = _values(field, values)
    recs = theory_curve(setting, field, values, store=store, options=options, optimal=optimal, bounds=bounds,
                        progress=progress, echo=echo, init=init)
    rows = list(recs)
    if sim_d:
        chosen = set(pick_subset(values, sim_points))
        sims = []
        for r, v in zip(recs, values):
            if v not in chosen:
                continue
            s = setting.replace(**{field: v})
            if optimal is not None:
                if not r.get("converged"):
                    continue
                lam_field = "lam_t" if optimal == "t" else "lam_s"
                s = s.replace(**{lam_field: float(r[lam_field])})
            sims.append(Simulation(s, sim_d, sim_seeds))
            chosen.discard(v)
        out = compute(sims, store, progress=progress, desc=f"simulate {field} (d={sim_d}, {sim_seeds} seeds)")
        sim_recs = [dict(out.get(t.keys[0]), sweep=field) for t in sims]
        _echo_all(sim_recs, field, echo, progress)
        rows.extend(sim_recs)
    return pd.DataFrame(rows)


# --------------------------------------------------------------- thresholds
def thresholds(setting, lam_small: float = 1e-3) -> dict[str, float]:
    """Thresholds in alpha relevant to ``setting``: :func:`kdscope.theory.thresholds_of` (label -> alpha)."""
    from kdscope.theory import thresholds_of

    return thresholds_of(setting, lam_small)


# ------------------------------------------------------------------ reports
def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return "nan" if math.isnan(x) else f"{x:.4g}"
    return str(x)


def summary_line(rec: dict, field: str | None = None) -> str:
    """One line per point: the swept value, the errors, the status."""
    kind = rec.get("kind", "theory")
    head = f"[{kind}] " + (f"{field}={_fmt(rec.get(field))} " if field else "")
    parts = []
    for x in suffixes(int(rec.get("generations", 0) or 0)):
        se = rec.get(f"eps_{x}_se")
        parts.append(f"eps_{x}={_fmt(rec.get(f'eps_{x}'))}" + (f"+-{_fmt(se)}" if se is not None else ""))
    if rec.get("optimal"):
        parts.append(f"{rec['optimal']}*={_fmt(rec.get(rec['optimal']))}")
    if kind == "sim":
        parts.append(f"d={rec.get('d')}")
    return head + " ".join(parts) + f"  [{rec.get('status', '')}]"


class PointNotConverged(RuntimeError):
    """A theory point did not converge; the message is its record's status sentence, residual and iterations."""


def not_converged_error(rec: dict, setting) -> PointNotConverged:
    """The exception describing a failed theory record (the status is the solver's own sentence, used as is)."""
    where = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in thresholds(setting).items())
    tail = f" Thresholds here: {where}." if where else ""
    return PointNotConverged(f"theory at {setting}: {rec.get('status')}; residual={_fmt(rec.get('residual'))} after "
                             f"{rec.get('iterations')} iterations.{tail}")


# ------------------------------------------------------------------ figure
def curve_figure(df, setting, field: str, logx: bool = False, title: str | None = None, group: str | None = None):
    """The learning-curve figure of :func:`compute_curve`'s table: errors, baselines, thresholds (when x is alpha).

    ``group``: a column whose values are drawn as separate lines (e.g. 'lam_t' for ``--lam-t 0.01,0.1``).
    """
    from kdscope.figures import paper_style, plot_error_curve

    ys = error_columns(setting)
    thr = None
    if field in ("alpha", "alpha_s"):
        values = sorted(set(df[group])) if group and group in df.columns else [None]
        thr = {}
        for v in values:
            s = setting if v is None else setting.replace(**{group: v})
            for name, x in thresholds(s).items():
                thr[name if v is None else f"{name} ({group}={v:g})"] = x
        lo, hi = float(df[field].min()), float(df[field].max())
        thr = {k: v for k, v in thr.items() if lo <= v <= hi} or None
    styles = {c: ("-" if i == 0 else "--") for i, c in enumerate(ys)}
    with paper_style():
        return plot_error_curve(df, x=field, y=ys, group=group, baselines=baseline_columns(setting), thresholds=thr,
                                linestyles=styles, logx=logx, title=title)

