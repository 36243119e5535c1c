"""Grids that resolve the physics: thresholds inserted, adaptive refinement, optima by 1-D search.

A learning curve drawn on a uniform grid misplaces its peaks (a double-descent
peak falls between two points) and its optima (read off 7 values).  The
functions here build the grid of a curve instead:

* :func:`curve_thresholds`: the thresholds of the swept Setting that lie in the
  range (separability of each learner, root-found by
  :func:`kdscope.theory.separability_threshold`; interpolation alpha = eta of a
  soft-target student), inserted into the grid;
* :func:`refine_points`: where the drawn polyline is not within ``tol`` of the
  curve (the middle point of three deviates from the chord of its neighbours by
  more than ``tol`` of the axis ranges) or where the curve has a local extremum,
  the midpoints of the neighbouring intervals are added; repeating this is a
  bisection on curvature that stops when every interval is within tolerance or
  narrower than ``min_width`` (the peak resolution);
* :func:`optimum_point`: the minimiser of a learner's error over the swept
  field by the theory's 1-D optimisers (:func:`kdscope.theory.optimal_lam`,
  :func:`~kdscope.theory.optimal_xi`, :func:`~kdscope.theory.optimal_tau`),
  or by bounded Brent here for a student's error over the teacher's ridge (the
  theory has no public optimiser for that pair).

Everything is a pure function of numbers except :func:`optimum_point`, which solves.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

__all__ = ["curve_thresholds", "merge_grid", "refine_points", "optimum_point", "minimise_field", "GridOptions"]

from dataclasses import dataclass


@dataclass(frozen=True)
class GridOptions:
    """How finely a curve is resolved.

    tol : largest deviation of the polyline from the curve, as a fraction of the
        axis ranges (x in log units on a log axis).
    min_width : narrowest interval refined for curvature, as a fraction of the x range.
    peak_width : narrowest interval refined around a local extremum (the peak
        resolution), as a fraction of the x range.
    max_rounds : refinement rounds.  max_points : points per curve at most.
    """

    tol: float = 0.01
    min_width: float = 0.01
    peak_width: float = 0.003
    max_rounds: int = 8
    max_points: int = 90


#: ``--quick`` figures: coarser tolerance, same peak resolution.
QUICK = GridOptions(tol=0.03, min_width=0.03, peak_width=0.004, max_rounds=8, max_points=36)
#: Full-resolution figures.
FULL = GridOptions()


def curve_thresholds(setting, field: str, lo: float, hi: float, lam_small: float = 1e-3) -> dict[str, float]:
    """Thresholds in ``field`` (alpha or alpha_s) of ``setting`` lying strictly inside (lo, hi).

    Which thresholds apply is decided by :func:`kdscope.theory.thresholds_of`; on a
    fresh-sample axis the teacher's own thresholds (in its alpha) are left out.
    Other fields have no thresholds here.
    """
    if field not in ("alpha", "alpha_s"):
        return {}
    from kdscope.theory import thresholds_of

    out = thresholds_of(setting, lam_small)
    if field == "alpha_s" or setting.alpha_s is not None:  # the teacher's threshold is on its own alpha
        out.pop("teacher separability", None)
        out.pop("teacher interpolation", None)
    return {k: float(v) for k, v in out.items() if lo < v < hi}


def merge_grid(values: Iterable[float], extra: Iterable[float]) -> list[float]:
    """Sorted union of ``values`` and ``extra`` (values within 1e-9 relative of each other merged)."""
    out: list[float] = []
    for v in sorted(float(x) for x in list(values) + list(extra)):
        if not out or abs(v - out[-1]) > 1e-9 * max(1.0, abs(v)):
            out.append(v)
    return out


def _scaled(v: np.ndarray, log: bool) -> np.ndarray:
    v = np.asarray(v, float)
    return np.log10(v) if log else v


def refine_points(xs: Sequence[float], ys: Mapping[str, Sequence[float]] | Sequence[float], *, logx: bool = False,
                  logy: Sequence[str] | bool = (), options: GridOptions = FULL,
                  peaks_first: bool = False) -> list[float] | tuple[list[float], list[float]]:
    """New x values that bring the polyline through ``(xs, ys)`` within tolerance of the curve.

    Parameters
    ----------
    xs : sorted grid (length n).  ys : one sequence of n values, or a mapping
        column -> n values (several curves on one grid; NaN = failed point, ignored).
    logx : the x axis is logarithmic (distances in decades).  logy : columns on a log y axis.
    options : :class:`GridOptions`.

    peaks_first : return (new points around extrema, other new points) instead of one list.

    Returns
    -------
    sorted list of new x values (midpoints, in log space on a log axis), empty when resolved.

    Notes
    -----
    For each interior point i of the finite values of a column, with neighbours
    i-1 and i+1, the deviation of y_i from the chord of its neighbours (axes
    scaled to [0, 1]) estimates the polyline's error on both intervals: above
    ``tol`` both are bisected, down to ``min_width``.  A local maximum or minimum
    at i (a peak or an optimum) bisects both neighbouring intervals down to
    ``peak_width``, so the drawn extremum is within peak_width of the true one.  A failed
    point (NaN) next to an extremum, or next to the largest or smallest converged value at
    either end, has both its intervals bisected the same way: solvers fail where a norm
    diverges, so the true peak may lie beside the failed point rather than at the drawn maximum.
    """
    x = _scaled(np.asarray(xs, float), logx)
    if len(x) < 3:
        return ([], []) if peaks_first else []
    span = float(x[-1] - x[0]) or 1.0
    cols = ys if isinstance(ys, Mapping) else {"y": ys}
    log_cols = set(cols) if logy is True else set(logy or ())
    peak_new: set[float] = set()
    new: set[float] = set()

    def bisect(a: float, b: float, width: float, into: set) -> None:
        if (b - a) / span > width:
            into.add(0.5 * (a + b))

    for name, col in cols.items():
        y = np.asarray(col, float)
        if name in log_cols:
            with np.errstate(divide="ignore", invalid="ignore"):
                y = np.where(y > 0, np.log10(np.where(y > 0, y, 1.0)), np.nan)
        ok = np.isfinite(y)
        xf, yf = x[ok], y[ok]
        if len(xf) < 3:
            continue
        yspan = float(np.max(yf) - np.min(yf))
        if yspan <= 0:
            continue
        where = np.flatnonzero(ok)  # index in x of each finite point

        def around_failed(i: int) -> None:
            # a failed point next to an extremum may hide the true peak (the solver fails where the
            # norm is largest): bisect both intervals beside it, so converged points approach it
            for k in (where[i] - 1, where[i] + 1):
                if 0 <= k < len(x) and not ok[k]:
                    if k - 1 >= 0:
                        bisect(x[k - 1], x[k], options.peak_width, peak_new)
                    if k + 1 < len(x):
                        bisect(x[k], x[k + 1], options.peak_width, peak_new)

        u, v = (xf - xf[0]) / span, (yf - np.min(yf)) / yspan
        for i in (0, len(xf) - 1):  # a global extremum at the end of the converged points
            if yf[i] in (np.max(yf), np.min(yf)):
                around_failed(i)
        for i in range(1, len(xf) - 1):
            t = (u[i] - u[i - 1]) / (u[i + 1] - u[i - 1])
            dev = abs(v[i] - (v[i - 1] + t * (v[i + 1] - v[i - 1])))
            extremum = (yf[i] - yf[i - 1]) * (yf[i + 1] - yf[i]) < 0
            if extremum:
                bisect(xf[i - 1], xf[i], options.peak_width, peak_new)
                bisect(xf[i], xf[i + 1], options.peak_width, peak_new)
                around_failed(i)
            elif dev > options.tol:
                bisect(xf[i - 1], xf[i], options.min_width, new)
                bisect(xf[i], xf[i + 1], options.min_width, new)

    def back(v: Iterable[float]) -> list[float]:
        out = sorted(v)
        return [float(10.0 ** u) for u in out] if logx else [float(u) for u in out]

    if peaks_first:
        return back(peak_new), back(new - peak_new)
    return back(peak_new | new)


def adaptive_values(evaluate: Callable[[list[float]], Mapping[str, Sequence[float]]], values: Sequence[float], *,
                    logx: bool = False, logy: Sequence[str] = (), options: GridOptions = FULL) -> list[float]:
    """Refine ``values`` by :func:`refine_points` until resolved; ``evaluate(grid)`` gives the columns on a grid.

    ``evaluate`` is called once per round with the whole sorted grid (it should
    reuse stored points).  Returns the final grid (at most ``options.max_points``
    values; the original values are always kept).  Points around extrema come first when the budget is short, so peaks and
    optima are resolved before smooth stretches.
    """
    grid = merge_grid(values, [])
    for _ in range(options.max_rounds):
        cols = evaluate(grid)
        peaks, other = refine_points(grid, cols, logx=logx, logy=logy, options=options, peaks_first=True)
        room = options.max_points - len(grid)
        if not (peaks or other) or room <= 0:
            break
        new = peaks[:room]
        rest = room - len(new)
        if rest > 0 and other:
            if len(other) > rest:  # keep the ones spread over the whole range
                idx = np.unique(np.linspace(0, len(other) - 1, rest).round().astype(int))
                other = [other[i] for i in idx]
            new = new + other
        grid = merge_grid(grid, new)
    return grid


# ------------------------------------------------------------------ optima
_LEARNER = {"eps_t": 0, "eps_s": 1}


def minimise_field(setting, field: str, learner: int, lo: float, hi: float, log: bool = True,
                   xtol: float = 1e-3) -> tuple[float, float]:
    """(x*, eps*): the value of ``field`` in [lo, hi] minimising learner ``learner``'s test error.

    A 9-point scan of the (log) interval, then bounded Brent in the best
    bracket (tolerance ``xtol`` in decades or in units of the field); points that
    do not converge count as an infinite error.  Used for a student's error over
    the teacher's ridge, which :func:`kdscope.theory.optimal_lam` does not cover.
    """
    from scipy.optimize import minimize_scalar

    from kdscope.theory import solve

    to_value = (lambda u: float(10.0 ** u)) if log else float
    a, b = (math.log10(lo), math.log10(hi)) if log else (lo, hi)
    last: list = [None]
    cache: dict[float, float] = {}

    def err(u: float) -> float:
        if u in cache:
            return cache[u]
        s = setting.replace(**{field: to_value(u)})
        sp = solve(s, init=last[0], on_failure="record")
        if not sp.converged:
            sp = solve(s, on_failure="record")
        val = float(sp.eps[learner]) if sp.converged else math.inf
        if sp.converged:
            last[0] = sp
        cache[u] = val
        return val

    grid = np.linspace(a, b, 9)
    vals = [err(float(u)) for u in grid]
    i = int(np.argmin(vals))
    if not math.isfinite(vals[i]):
        raise RuntimeError(f"no converged point for {field} in [{lo}, {hi}] ({setting})")
    blo, bhi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    r = minimize_scalar(err, bounds=(blo, bhi), method="bounded", options={"xatol": xtol})
    u = float(r.x) if r.fun <= vals[i] else float(grid[i])
    return to_value(u), err(u)


def optimum_point(setting, field: str, y: str, lo: float, hi: float) -> float:
    """The value of ``field`` in [lo, hi] minimising column ``y`` ('eps_t' or 'eps_s') of ``setting``.

    Ridge of the learner itself: :func:`kdscope.theory.optimal_lam`; xi and tau of
    the student: :func:`kdscope.theory.optimal_xi` / :func:`~kdscope.theory.optimal_tau`
    (then clipped to [lo, hi]); anything else (e.g. the student's error over the
    teacher's ridge): :func:`minimise_field`.
    """
    from kdscope.theory import optimal_lam, optimal_tau, optimal_xi

    learner = _LEARNER[y]
    if (field, learner) in (("lam_t", 0), ("lam_s", 1)):
        x, _ = optimal_lam(setting, learner="t" if learner == 0 else "s", bounds=(lo, hi))
    elif field == "xi" and learner == 1:
        x, _ = optimal_xi(setting)
    elif field == "tau" and learner == 1:
        x, _ = optimal_tau(setting, bounds=(lo, hi))
    else:
        x, _ = minimise_field(setting, field, learner, lo, hi, log=field.startswith("lam") or field == "tau")
    return float(min(max(x, lo), hi))
