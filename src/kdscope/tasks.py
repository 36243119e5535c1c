"""Task types: the three kinds of work that bring points into the result store.

Each task is a frozen, picklable value with the store ``keys`` of the points it computes and a
``run()`` that computes them and returns one record per key (the record's ``key`` column says
which).  :func:`kdscope.engine.compute` runs any mix of them through the store on an executor.

* :class:`TheoryLine`: theory points solved in order, each warm-started from the last converged
  one (continuation).  A failed warm start is retried cold inside :func:`kdscope.theory.solve`.
* :class:`OptimalSearch`: the record at the value of one hyperparameter (lam_t, lam_s, xi, tau)
  that minimises the error (:func:`kdscope.theory.optimal_lam` and friends).
* :class:`Simulation`: a finite-size Monte Carlo record (:func:`kdscope.simulations.simulate`).

Every record carries ``kind``: 'theory', 'theory-optlam-t', 'theory-optlam-s', 'theory-optxi',
'theory-opttau' or 'sim'.  A task that raises returns, for each of its keys, a record with
``status='error: ...'``, ``converged=False`` and ``_error=True``: such records are reported but
not stored, so a rerun tries the point again.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from dataclasses import field as dc_field
from functools import cached_property
from typing import Any

from kdscope.keys import point_key
from kdscope.theory import Setting

__all__ = ["TheoryLine", "OptimalSearch", "Simulation", "run_task", "enable_jax_cache", "error_records", "LAM_BOUNDS",
           "OPTIMAL_KINDS"]

#: Search interval of an optimal ridge (teacher or student).
LAM_BOUNDS = (1e-6, 1e2)
#: The record kind of each optimised field.
OPTIMAL_KINDS = {"lam_t": "theory-optlam-t", "lam_s": "theory-optlam-s", "xi": "theory-optxi", "tau": "theory-opttau"}


def error_records(task, exc: Exception) -> list[dict]:
    """One failed record per key of ``task`` (a line's ``settings`` or a single ``setting``), naming the error.

    Shared by every task type (binary and multi-class): a task that raises still writes its keys, so a
    rerun knows what failed and why instead of recomputing silently.
    """
    msg = f"error: {type(exc).__name__}: {exc}"
    settings = getattr(task, "settings", None) or (task.setting,)
    return [dict(s.to_dict(), kind=task.kind, status=msg, converged=False, key=k, _error=True)
            for k, s in zip(task.keys, settings)]


@dataclass(frozen=True)
class TheoryLine:
    """Theory points solved in the given order by continuation (warm starts).

    Parameters
    ----------
    settings : the Settings, in solving order (monotone along ``field`` is best near thresholds).
    field : the Setting field varied along the line (for reports; any Settings may be chained).
    options : SolverOptions or None.
    backend : 'numpy' (:func:`kdscope.theory.solve`) or 'jax' (``solve_lines_jax``).
    init : optional State or SaddlePoint that warm-starts the first point (not part of the keys).
    """

    settings: tuple[Setting, ...]
    field: str = "alpha"
    options: Any = None
    backend: str = "numpy"
    init: Any = dc_field(default=None, compare=False, repr=False)
    kind = "theory"

    @cached_property
    def keys(self) -> tuple[str, ...]:
        return tuple(point_key(s, "theory", options=self.options) for s in self.settings)

    @property
    def weight(self) -> float:
        return float(len(self.settings))

    def restrict(self, keys) -> "TheoryLine | None":
        """The same line over the points whose key is in ``keys`` (None when none is)."""
        keep = [s for s, k in zip(self.settings, self.keys) if k in keys]
        return dataclasses.replace(self, settings=tuple(keep)) if keep else None

    def solve(self) -> list:
        """The SaddlePoints of the line (failed points carry their status)."""
        if self.backend == "jax":
            from kdscope.theory.jax_backend import solve_lines_jax

            enable_jax_cache()
            return list(solve_lines_jax([list(self.settings)], self.options)[0])
        from kdscope.theory import solve

        out, last = [], self.init
        for s in self.settings:
            sp = solve(s, options=self.options, init=last, on_failure="record")
            if sp.converged:
                last = sp
            out.append(sp)
        return out

    def run(self) -> list[dict]:
        try:
            sps = self.solve()
        except Exception as exc:  # recorded, not stored
            return error_records(self, exc)
        return [dict(sp.record(), kind="theory", backend=self.backend, key=k) for sp, k in zip(sps, self.keys)]


@dataclass(frozen=True)
class OptimalSearch:
    """The theory record at the value of ``target`` that minimises the error.

    ``target``: 'lam_t' (teacher's ridge, the teacher's error), 'lam_s' (students' ridge, the first
    student's error), 'xi' or 'tau' (the first student's error).  The record holds the optimum in
    its ``target`` column, ``optimal = target`` and the kind of :data:`OPTIMAL_KINDS`.  When no
    value converges the record has ``converged=False`` and the optimiser's message as status.
    """

    setting: Setting
    target: str = "lam_t"
    options: Any = None
    bounds: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.target not in OPTIMAL_KINDS:
            raise ValueError(f"OptimalSearch: 'target' must be one of {set(OPTIMAL_KINDS)}; got {self.target!r}.")
        if self.bounds is None and self.target in ("lam_t", "lam_s"):
            object.__setattr__(self, "bounds", LAM_BOUNDS)
        if self.bounds is not None:
            object.__setattr__(self, "bounds", (float(self.bounds[0]), float(self.bounds[1])))

    @property
    def kind(self) -> str:
        return OPTIMAL_KINDS[self.target]

    @cached_property
    def keys(self) -> tuple[str, ...]:
        bounds = list(self.bounds) if self.bounds is not None else None
        return (point_key(self.setting, self.kind, free=(self.target,), options=self.options, bounds=bounds),)

    weight = 20.0

    def restrict(self, keys) -> "OptimalSearch | None":
        return self if self.keys[0] in keys else None

    def run(self) -> list[dict]:
        from kdscope.theory import optimal_lam, optimal_tau, optimal_xi, solve

        try:
            try:
                if self.target in ("lam_t", "lam_s"):
                    _, sp = optimal_lam(self.setting, learner=self.target[-1], bounds=self.bounds, options=self.options)
                elif self.target == "xi":
                    _, sp = optimal_xi(self.setting, options=self.options)
                else:
                    extra = {} if self.bounds is None else {"bounds": self.bounds}
                    _, sp = optimal_tau(self.setting, options=self.options, **extra)
                rec = dict(sp.record())
            except RuntimeError as exc:  # no converged value in the bounds
                rec = dict(solve(self.setting, options=self.options, on_failure="record").record())
                rec.update(status=f"optimal_{self.target} failed: {exc}", converged=False)
        except Exception as exc:
            return error_records(self, exc)
        rec.update(kind=self.kind, optimal=self.target, key=self.keys[0])
        return [rec]


@dataclass(frozen=True)
class Simulation:
    """Finite-size Monte Carlo of one Setting at dimension ``d`` over ``seeds`` (a count or a list).

    The seeds are kept as a tuple (a count n means 0 .. n-1), so ``seeds=3`` and ``seeds=[0, 1, 2]``
    are the same point.  Sizes are checked at construction (:func:`kdscope.simulations.check_size`):
    a simulation too large for memory fails before anything is allocated.
    """

    setting: Setting
    d: int = 1000
    seeds: Any = 10
    progress: bool = dc_field(default=False, compare=False, repr=False)
    kind = "sim"

    def __post_init__(self) -> None:
        from kdscope.simulations import check_size, seed_list

        object.__setattr__(self, "seeds", tuple(seed_list(self.seeds)))
        check_size(self.setting, self.d, self.seeds)
        object.__setattr__(self, "d", int(self.d))

    @cached_property
    def keys(self) -> tuple[str, ...]:
        return (point_key(self.setting, "sim", d=self.d, seeds=list(self.seeds)),)

    @property
    def weight(self) -> float:
        return 30.0

    def restrict(self, keys) -> "Simulation | None":
        return self if self.keys[0] in keys else None

    def run(self) -> list[dict]:
        from kdscope.simulations import simulate

        try:
            rec = simulate(self.setting, d=self.d, seeds=list(self.seeds), progress=self.progress)
        except Exception as exc:
            return error_records(self, exc)
        return [dict(rec, kind="sim", key=self.keys[0])]


def run_task(task) -> list[dict]:
    """``task.run()``: the function executors map over tasks (picklable)."""
    return task.run()


def enable_jax_cache() -> None:
    """Turn on JAX's persistent compilation cache, once per process.

    The folder is ``KDSCOPE_JAX_CACHE`` when set, else ``~/.cache/kdscope/jax``; a cache
    folder already configured (by the caller or an earlier call) is left as it is.  Every
    process that solves theory lines with the JAX backend calls it first, so compiled
    kernels are reused across workers and runs instead of being compiled again (~10 s each).
    """
    import jax

    if not jax.config.jax_compilation_cache_dir:
        path = os.environ.get("KDSCOPE_JAX_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "kdscope", "jax"))
        jax.config.update("jax_compilation_cache_dir", path)
