"""Optimal hyperparameters: the ridge (or xi, tau) that minimises a learner's test error.

Bracketed 1-D minimisation (bounded Brent on log lam, or on xi / log tau),
with warm starts between evaluations.  Points that do not converge count as
an infinite error, so the search stays in the region where the solution
exists.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar

from .setting import Setting
from .solve import SaddlePoint, SolverOptions, solve

_FIELD = {"t": "lam_t", "s": "lam_s"}


def _minimise(setting: Setting, field: str, to_value, bounds, learner: int, options, xtol):
    cache: dict[float, SaddlePoint] = {}
    last = [None]

    def err(u):
        s = setting.replace(**{field: to_value(u)})
        sp = solve(s, options=options, init=last[0], on_failure="record")  # a failed warm start is retried cold
        cache[u] = sp
        if not sp.converged:
            return math.inf
        last[0] = sp
        return float(sp.eps[learner])

    # coarse scan first: the error may be flat or monotone over decades
    grid = np.linspace(bounds[0], bounds[1], 9)
    vals = [err(u) for u in grid]
    i = int(np.argmin(vals))
    if not math.isfinite(vals[i]):
        raise RuntimeError(f"no converged point for {field} in {[to_value(b) for b in bounds]} ({setting})")
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    if hi > lo:
        r = minimize_scalar(err, bounds=(lo, hi), method="bounded", options={"xatol": xtol})
        u_best = r.x if r.fun <= vals[i] else grid[i]
    else:
        u_best = grid[i]
    if u_best not in cache:
        err(u_best)
    return to_value(u_best), cache[u_best]


def optimal_lam(setting: Setting, learner: str = "t", bounds: tuple[float, float] = (1e-6, 1e2),
                options: SolverOptions | None = None) -> tuple[float, SaddlePoint]:
    """The ridge lam* minimising the test error of the teacher ('t') or of the first student ('s').

    Minimises eps(lam) over log10 lam in ``bounds`` (a 9-point scan, then bounded
    Brent in the best bracket, tolerance 1e-3 decades).  For the student
    (``learner='s'``) lam_s is optimised with everything else fixed; with xi = 0
    this is the best directly regularised student.

    Returns
    -------
    (lam_star, SaddlePoint at lam_star).  A lam* at a bound means the optimum
    lies at or beyond it (e.g. lam -> infinity for the balanced logistic teacher,
    whose large-lam limit is the Bayes-optimal Hebbian direction).
    """
    if learner not in _FIELD:
        raise ValueError(f"learner must be one of {{'t', 's'}}; got {learner!r}.")
    if not (0 < bounds[0] < bounds[1]):
        raise ValueError(f"bounds must satisfy 0 < lo < hi; got {bounds}.")
    k = 0 if learner == "t" else 1
    if k >= setting.n_learners:
        raise ValueError("learner='s' needs generations >= 1.")
    return _minimise(setting, _FIELD[learner], lambda u: float(10.0 ** u), (math.log10(bounds[0]), math.log10(bounds[1])),
                     k, options, 1e-3)


def optimal_xi(setting: Setting, options: SolverOptions | None = None) -> tuple[float, SaddlePoint]:
    """The soft-term weight xi* in [0, 1] minimising the first student's test error."""
    if setting.n_learners < 2:
        raise ValueError("optimal_xi needs generations >= 1.")
    return _minimise(setting, "xi", float, (0.0, 1.0), 1, options, 1e-4)


def optimal_tau(setting: Setting, bounds: tuple[float, float] = (0.1, 100.0),
                options: SolverOptions | None = None) -> tuple[float, SaddlePoint]:
    """The temperature tau* minimising the first student's test error (log-scale search in ``bounds``)."""
    if setting.n_learners < 2:
        raise ValueError("optimal_tau needs generations >= 1.")
    return _minimise(setting, "tau", lambda u: float(10.0 ** u), (math.log10(bounds[0]), math.log10(bounds[1])),
                     1, options, 1e-3)
