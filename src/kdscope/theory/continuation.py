"""Learning curves by continuation: solve a Setting along one field with warm starts.

Each point starts from the previous converged solution (same number of
learners), which both speeds up the iteration and keeps it on the right
branch near thresholds, where a cold start may take thousands of iterations.
"""

from __future__ import annotations

from typing import Iterable

from .setting import Setting
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
    last = None
    for v in it:
        s = setting.replace(**{field: v})
        sp = solve(s, options=options, init=last, on_failure=on_failure)  # a failed warm start is retried cold
        if sp.converged:
            last = sp
        out.append(sp)
    return out
