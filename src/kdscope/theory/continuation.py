"""Learning curves by continuation: solve a Setting along one field with warm starts.

Each point starts from the previous converged solution (same number of
learners), extrapolated along the secant through the last two (:func:`predicted`),
which both speeds up the iteration and keeps it on the right branch near
thresholds, where a cold start may take thousands of iterations.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable

import numpy as np

from .setting import Setting
from .state import State, is_valid
from .solve import SaddlePoint, SolverOptions, solve


def solve_curve(setting: Setting, field: str, values: Iterable[float], options: SolverOptions | None = None,
                on_failure: str = "record", progress: bool = False) -> list[SaddlePoint]:
    """Solve ``setting.replace(**{field: v})`` for each v, warm-starting from the last converged point.

    Parameters
    ----------
    setting : the base Setting.  field : a Setting field name (e.g. 'alpha', 'lam_t').
    values : the values of ``field``, in the order to solve them (monotone is best).
    options : SolverOptions.  on_failure : 'record' (default) or 'raise'.
    progress : show a tqdm progress bar.

    Returns
    -------
    list of SaddlePoint, one per value (failed points carry their status).
    """
    if field not in Setting.field_names():
        raise ValueError(f"field must be one of the Setting fields {Setting.field_names()}; got {field!r}.")
    values = list(values)
    it = values
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(values, desc=f"solve {field}", leave=False)
    out: list[SaddlePoint] = []
    last = before = None  # the last two converged points (with their values of ``field``)
    for v in it:
        s = setting.replace(**{field: v})
        start = predicted(before, last, v) if last is not None else None
        sp = solve(s, options=options, init=start, on_failure=on_failure)  # a failed warm start is retried cold
        if sp.converged:
            before, last = last, (v, sp)
        out.append(sp)
    return out


def predicted(before: tuple | None, last: tuple, v: float) -> SaddlePoint:
    """The warm start for the value v: the secant through the last two converged points, in solver coordinates.

    ``before``, ``last``: (value, SaddlePoint) pairs.  A linear extrapolation of the
    solver vector halves the distance a warm start leaves (O(step^2) instead of
    O(step)) on a smooth branch; where it would leave the domain (a |correlation|
    above 1, a non-finite entry) or a step is more than twice the last one, the last
    point itself is the start.  Returned as the last SaddlePoint with the predicted
    state, so that the solve starts at its quadrature order.
    """
    v1, sp1 = last
    if before is None or before[1].setting.n_learners != sp1.setting.n_learners:
        return sp1
    v0, sp0 = before
    K = sp1.setting.n_learners
    try:
        t = (float(v) - float(v1)) / (float(v1) - float(v0))
    except (TypeError, ValueError, ZeroDivisionError):
        return sp1
    if not (0.0 < t <= 2.0):
        return sp1
    x1, x0 = sp1.state.to_solver(), sp0.state.to_solver()
    x = x1 + t * (x1 - x0)
    if not (np.all(np.isfinite(x)) and bool(is_valid(x[None, :], K)[0])):
        return sp1
    return dataclasses.replace(sp1, state=State.from_solver(x, K))
