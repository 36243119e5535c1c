"""Task types for the C-class model: the work that brings multi-class theory points into the result store.

Each task is a frozen, picklable value with the store ``keys`` of what it computes, ``restrict``,
``weight`` and a ``run()`` returning one record per key, so :func:`kdscope.engine.compute` runs
them through the store like the binary tasks of :mod:`kdscope.tasks` (a rerun costs nothing).
They use only the public API of :mod:`kdscope.theory.multiclass` (``solve_multiclass``,
``MulticlassSetting``, ``MulticlassSaddlePoint.record``).

* :class:`MulticlassLine`: theory points solved in order, each warm-started from the last
  converged one (kind ``mc-theory``); a point that fails (other than by quadrature accuracy) is
  tried once more, cold, with stronger damping.
* :class:`MulticlassSearch`: the record at the value of ``tau``, ``lam_s`` or ``lam_t`` that
  minimises an error column, found by a bounded 1-D optimiser (Brent's method on the log of the
  parameter, scipy ``minimize_scalar(method='bounded')``), not a grid argmin (kind ``mc-opt-<field>``).
* :class:`MulticlassSeparability`: the bracket of sample ratios alpha where an unregularised
  teacher first has a finite minimiser, by bisection on the solver's status (kind ``mc-separability``).

A task that raises returns, per key, a record with ``status='error: ...'``, ``converged=False``
and ``_error=True`` (reported, not stored, retried on the next run).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from dataclasses import field as dc_field
from functools import cached_property
from typing import Any

from kdscope.keys import point_key
from kdscope.tasks import error_records
from kdscope.theory.multiclass import MulticlassSetting, MulticlassSolverOptions, Status, solve_multiclass

__all__ = ["MulticlassLine", "MulticlassSearch", "MulticlassSeparability", "SEARCH_FIELDS", "figure_options"]

#: Fields a :class:`MulticlassSearch` may optimise, with their default search interval.
SEARCH_FIELDS = {"tau": (0.2, 50.0), "lam_s": (1e-4, 1e2), "lam_t": (1e-4, 1e2)}
#: Statuses for which a finite fixed point exists (the separability bisection's "minimiser found").
_FINITE = (Status.CONVERGED, Status.INACCURATE)


def figure_options() -> MulticlassSolverOptions:
    """Solver options of the figures: the library defaults (fixed point to 1e-9, quadrature to 1e-4)."""
    return MulticlassSolverOptions()


@dataclass(frozen=True)
class MulticlassLine:
    """Multi-class theory points solved in the given order by continuation (warm starts).

    Parameters
    ----------
    settings : the MulticlassSettings, in solving order (all with the same classes and generations
        for warm starts to apply; a point of another shape starts cold).
    options : MulticlassSolverOptions or None (the solver's defaults).
    """

    settings: tuple
    options: Any = None
    kind = "mc-theory"

    @cached_property
    def keys(self) -> tuple[str, ...]:
        return tuple(point_key(s, self.kind, options=self.options) for s in self.settings)

    @property
    def weight(self) -> float:
        return float(sum(s.n_learners ** 2 * (s.classes - 1) for s in self.settings))

    def restrict(self, keys) -> "MulticlassLine | None":
        keep = tuple(s for s, k in zip(self.settings, self.keys) if k in keys)
        return dataclasses.replace(self, settings=keep) if keep else None

    def solve(self) -> list:
        """The MulticlassSaddlePoints of the line (failed points carry their status)."""
        out, last = [], None
        for s in self.settings:
            init = last.state if last is not None and _same_shape(last.setting, s) else None
            sp = solve_multiclass(s, self.options, initial=init, on_failure="record")  # retries a warm start cold
            if not sp.converged and sp.status is not Status.INACCURATE:
                sp = _retry(s, sp, self.options)
            if sp.converged:
                last = sp
            out.append(sp)
        return out

    def run(self) -> list[dict]:
        try:
            sps = self.solve()
        except Exception as exc:  # recorded, not stored
            return error_records(self, exc)
        return [dict(sp.record(), kind=self.kind, key=k) for sp, k in zip(sps, self.keys)]


def _retry(s: MulticlassSetting, failed, options=None):
    """Solve again cold with damping at most 0.5 and at least 800 iterations (a strong signal, i.e. a large
    G, can make the default iteration overshoot); keep the first result unless the retry converges."""
    opts = options or MulticlassSolverOptions()
    opts = dataclasses.replace(opts, damping=min(opts.damping, 0.5), max_iter=max(opts.max_iter, 800))
    sp = solve_multiclass(s, opts, on_failure="record")
    return sp if sp.converged else failed


def _same_shape(a: MulticlassSetting, b: MulticlassSetting) -> bool:
    return a.classes == b.classes and a.generations == b.generations


@dataclass(frozen=True)
class MulticlassSearch:
    """The theory record at the value of ``target`` that minimises ``objective``.

    The error need not be unimodal in the parameter (the student's error against tau has a
    shallow local minimum at large tau besides the one at small tau), so the search is in two
    steps: a coarse scan of ``scan`` log-spaced values brackets the best one by its neighbours,
    then Brent's bounded method on log(target) inside that bracket refines it to ``xatol``
    (absolute, in the log).  Evaluations are warm-started from the last converged one; one that
    does not converge counts as error 1.  The record is that of the optimum (solved again there)
    with ``optimum_x``, ``optimal`` (the field), ``objective``, ``n_evals`` and ``at_bound`` (the
    optimum lies within 2 xatol of an end of ``bounds``: the interval may be too narrow).

    Parameters
    ----------
    setting : MulticlassSetting (the value of ``target`` in it is ignored).
    target : 'tau', 'lam_s' or 'lam_t'.  objective : an error column, 'eps_s' (default) or 'eps_t'.
    bounds : search interval (default :data:`SEARCH_FIELDS`).  xatol : tolerance in log(target).
    scan : number of coarse values (>= 3) that bracket the optimum before Brent's method.
    """

    setting: MulticlassSetting
    target: str = "tau"
    objective: str = "eps_s"
    bounds: tuple | None = None
    xatol: float = 0.01
    options: Any = None
    scan: int = 7

    def __post_init__(self) -> None:
        if self.target not in SEARCH_FIELDS:
            raise ValueError(f"MulticlassSearch: 'target' must be one of {sorted(SEARCH_FIELDS)}; got {self.target!r}.")
        if self.objective not in ("eps_s", "eps_t"):
            raise ValueError(f"MulticlassSearch: 'objective' must be 'eps_s' or 'eps_t'; got {self.objective!r}.")
        if self.objective == "eps_s" and self.setting.generations < 1:
            raise ValueError("MulticlassSearch: objective='eps_s' needs a student (generations >= 1).")
        lo, hi = self.bounds if self.bounds is not None else SEARCH_FIELDS[self.target]
        if not 0 < lo < hi:
            raise ValueError(f"MulticlassSearch: 'bounds' must satisfy 0 < lo < hi; got {(lo, hi)}.")
        object.__setattr__(self, "bounds", (float(lo), float(hi)))
        if int(self.scan) < 3:
            raise ValueError(f"MulticlassSearch: 'scan' must be an integer >= 3; got {self.scan!r}.")

    @property
    def kind(self) -> str:
        return "mc-opt-" + self.target.replace("_", "-")

    @cached_property
    def keys(self) -> tuple[str, ...]:
        return (point_key(self.setting, self.kind, free=(self.target,), options=self.options,
                          bounds=list(self.bounds), objective=self.objective, xatol=self.xatol, scan=self.scan),)

    weight = 40.0

    def restrict(self, keys) -> "MulticlassSearch | None":
        return self if self.keys[0] in keys else None

    def optimise(self):
        """(x*, MulticlassSaddlePoint at x*, number of evaluations)."""
        from scipy.optimize import minimize_scalar

        k = 0 if self.objective == "eps_t" else 1
        last: list = [None]
        calls = [0]

        def error(logx: float) -> float:
            calls[0] += 1
            s = self.setting.replace(**{self.target: float(math.exp(logx))})
            init = last[0].state if last[0] is not None else None
            sp = solve_multiclass(s, self.options, initial=init, on_failure="record")
            if init is not None and not sp.converged:
                sp = solve_multiclass(s, self.options, on_failure="record")
            if not sp.converged:
                return 1.0
            last[0] = sp
            return float(sp.eps[k])

        lo, hi = (math.log(b) for b in self.bounds)
        grid = [lo + (hi - lo) * i / (self.scan - 1) for i in range(self.scan)]
        values = [error(g) for g in grid]
        i = min(range(self.scan), key=values.__getitem__)
        a, b = grid[max(i - 1, 0)], grid[min(i + 1, self.scan - 1)]
        res = minimize_scalar(error, bounds=(a, b), method="bounded", options={"xatol": self.xatol})
        best = float(res.x) if float(res.fun) <= values[i] else grid[i]
        x = float(math.exp(best))
        sp = solve_multiclass(self.setting.replace(**{self.target: x}), self.options, on_failure="record")
        return x, sp, calls[0]

    def run(self) -> list[dict]:
        try:
            x, sp, n = self.optimise()
        except Exception as exc:
            return error_records(self, exc)
        lo, hi = (math.log(b) for b in self.bounds)
        at_bound = min(math.log(x) - lo, hi - math.log(x)) < 2 * self.xatol
        rec = dict(sp.record(), kind=self.kind, optimal=self.target, optimum_x=x, objective=self.objective,
                   n_evals=n, at_bound=bool(at_bound), key=self.keys[0])
        return [rec]


@dataclass(frozen=True)
class MulticlassSeparability:
    """Bracket [alpha_lo, alpha_hi] of the separability threshold of an unregularised C-class teacher.

    Below the threshold the training set is linearly separable and softmax cross-entropy without
    ridge has no finite minimiser; the solver then reports divergence (or stops at max_iter while
    the norm grows).  Bisection on alpha over ``bounds``: a point is "above" when the lam_t = 0
    solve finds a finite fixed point (converged, or inaccurate quadrature), else "below".  The
    record holds ``alpha_lo``, ``alpha_hi``, ``alpha_sep`` (their midpoint) and the settings' fields.
    The criterion is the solver's: close to the threshold the norm is large and the iteration slow,
    so the bracket is an estimate, stated as such.
    """

    setting: MulticlassSetting
    bounds: tuple = (0.5, 12.0)
    steps: int = 6
    options: Any = None
    kind = "mc-separability"

    @cached_property
    def keys(self) -> tuple[str, ...]:
        return (point_key(self.setting.replace(lam_t=0.0, generations=0), self.kind, free=("alpha",),
                          bounds=list(self.bounds), steps=self.steps, options=self.options),)

    weight = 30.0

    def restrict(self, keys) -> "MulticlassSeparability | None":
        return self if self.keys[0] in keys else None

    def _finite(self, alpha: float) -> bool:
        s = self.setting.replace(alpha=float(alpha), lam_t=0.0, generations=0)
        return solve_multiclass(s, self.options, on_failure="record").status in _FINITE

    def run(self) -> list[dict]:
        try:
            lo, hi = (float(b) for b in self.bounds)
            status = "converged"
            if self._finite(lo):
                hi, status = lo, f"finite minimiser already at alpha={lo:g}: threshold below the interval"
            elif not self._finite(hi):
                lo, status = hi, f"no finite minimiser up to alpha={hi:g}: threshold above the interval"
            else:
                for _ in range(self.steps):
                    mid = 0.5 * (lo + hi)
                    lo, hi = (lo, mid) if self._finite(mid) else (mid, hi)
        except Exception as exc:
            return error_records(self, exc)
        base = self.setting.replace(lam_t=0.0, generations=0)
        return [dict(base.to_dict(), kind=self.kind, alpha_lo=lo, alpha_hi=hi, alpha_sep=0.5 * (lo + hi),
                     converged=status == "converged", status=status, key=self.keys[0])]
