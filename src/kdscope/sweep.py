"""Sweeps: many Settings at once, through the result store, on any executor.

A sweep is plain data (YAML), validated into a frozen :class:`~kdscope.sweep_spec.SweepSpec`
(the format is documented in :mod:`kdscope.sweep_spec`).  :func:`sweep` turns it into tasks
(:mod:`kdscope.tasks`): theory points grouped into *lines* along the fastest axis, each line one
:class:`~kdscope.tasks.TheoryLine` solved by continuation; derived optimisations as
:class:`~kdscope.tasks.OptimalSearch`; Monte Carlo rows as :class:`~kdscope.tasks.Simulation`.
:func:`kdscope.engine.compute` brings them into the store: points already there are not
recomputed (a repeated sweep costs nothing, one killed at any moment resumes with the missing
points), two sweeps on one store share the work, and each point is written as it completes.

Executors: ``sweep()`` runs in this process by default (``executor='serial'``), which works from
any script.  ``executor='processes'`` uses local worker processes started with 'spawn': from a
script, put the call under ``if __name__ == "__main__":`` (each worker imports the script, as
every 'spawn' pool does; without the guard the workers fail and ``sweep`` says so).  The CLI
(``kdscope sweep``) uses processes by default.

Derived columns (``derived``), each from its own stored optimisation:

* ``opt_lam_t``: ``lam_t_opt``, ``eps_t_lam_t_opt``: the teacher's optimal ridge (teacher alone).
* ``opt_lam_s``: ``lam_s_opt``, ``eps_s_lam_s_opt``: the first student's optimal ridge, all else fixed.
* ``opt_xi``: ``xi_opt``, ``eps_s_xi_opt``; ``opt_tau``: ``tau_opt``, ``eps_s_tau_opt``.
* ``gain``: ``eps_s_direct`` and ``lam_s_direct``, the best directly regularised student (same
  Setting, xi = 0, lam_s optimised), and ``gain_direct = eps_s - eps_s_direct``,
  ``gain_teacher = eps_s - eps_t`` (negative: distillation helps).  With xi = 0 the student does
  not see the teacher, and a sparse student is exactly the dense problem at
  (alpha_s / eta, delta / eta, lam_s / eta^2) (DESIGN.md section 1), so the direct student is a
  K = 1 optimisation, shared by every point with the same (alpha, delta, rho, theta, eta).

Each derived group has a ``<name>_status`` column; its values are NaN unless that status is 'converged'.
"""

from __future__ import annotations

import importlib.util
import math
import os
import time
from pathlib import Path
from typing import Any, Mapping

from kdscope.engine import compute
from kdscope.store import ResultStore
from kdscope.sweep_spec import (BACKENDS, DERIVED, SimulationSpec, SweepConfigError, SweepSpec, expand_values,
                                load_sweep)
from kdscope.tasks import OptimalSearch, Simulation, TheoryLine
from kdscope.theory import Setting

__all__ = ["SweepSpec", "SimulationSpec", "SweepConfigError", "load_sweep", "sweep", "DERIVED", "BACKENDS",
           "expand_values", "teacher_alone", "direct_student", "resolve_backend", "describe", "sweep_tasks"]

#: 'auto' uses JAX for theory grids of at least this many points (compilation costs ~10 s per worker).
AUTO_JAX_MIN_POINTS = 1000


def teacher_alone(s: Setting) -> Setting:
    """The teacher's own problem: only the fields a trained teacher depends on (others at defaults)."""
    return Setting(alpha=s.alpha, delta=s.delta, rho=s.rho, theta=s.theta, lam_t=s.lam_t, loss_t=s.loss_t,
                   smooth_t=s.smooth_t, bias=s.bias)


def direct_student(s: Setting) -> Setting:
    """The first student trained alone (xi = 0) as the equivalent dense K = 1 problem.

    A sparse student on eta d coordinates equals the dense learner at
    (alpha_s / eta, delta / eta, lam_s / eta^2) (DESIGN.md section 1; checked in tests/theory).
    """
    a = s.alpha_s if s.alpha_s is not None else s.alpha
    return Setting(alpha=a / s.eta, delta=s.delta / s.eta, rho=s.rho, theta=s.theta, lam_t=s.lam_s / s.eta ** 2,
                   loss_t=s.loss_s, smooth_t=s.smooth_s, bias=s.bias)


def derived_task(name: str, s: Setting, options) -> OptimalSearch:
    """The optimisation behind derived column group ``name`` at Setting s."""
    if name == "opt_lam_t":
        return OptimalSearch(teacher_alone(s), "lam_t", options)
    if name == "gain":
        return OptimalSearch(direct_student(s), "lam_t", options)
    if name == "opt_lam_s":
        return OptimalSearch(s, "lam_s", options)
    return OptimalSearch(s, "xi" if name == "opt_xi" else "tau", options)


def resolve_backend(backend: str, settings: list[Setting]) -> str:
    """'numpy' or 'jax' for this sweep ('auto': JAX for large grids it supports, when installed)."""
    if backend not in BACKENDS:
        raise ValueError(f"'backend' must be one of {{{', '.join(BACKENDS)}}}; got {backend!r}.")
    if backend == "numpy":
        return "numpy"
    has_jax = importlib.util.find_spec("jax") is not None
    if backend == "jax":
        if not has_jax:
            raise ImportError("backend='jax' needs JAX: pip install 'kdscope[jax]'.")
        from kdscope.theory.jax_backend import supports
        bad = [s for s in settings if not supports(s)]
        if bad:
            raise ValueError(f"backend='jax' does not implement {bad[0]} (hinge loss); use backend='numpy' or 'auto'.")
        return "jax"
    smooth = ("logistic", "square", "linear")
    ok = all(s.loss_t in smooth and (s.generations == 0 or s.loss_s in smooth) for s in settings)
    return "jax" if (has_jax and ok and len(settings) >= AUTO_JAX_MIN_POINTS) else "numpy"


def sweep_tasks(spec: SweepSpec, settings: list[Setting], backend: str) -> tuple[dict[str, list], list]:
    """(store keys of every computation by group, the tasks): 'theory', 'sim' and each derived name."""
    opts = spec.solver
    keys: dict[str, list] = {}
    tasks: list = []
    if spec.theory:
        keys["theory"] = [None] * len(settings)
        for fld, idx in spec.lines():
            line = TheoryLine(tuple(settings[i] for i in idx), fld, opts, backend)
            for i, k in zip(idx, line.keys):
                keys["theory"][i] = k
            tasks.append(line)
    for name in spec.derived:
        found = [derived_task(name, s, opts) for s in settings]
        keys[name] = [t.keys[0] for t in found]
        tasks.extend(found)
    if spec.simulate is not None:
        sims = [Simulation(s, spec.simulate.d, spec.simulate.seeds) for s in settings]
        keys["sim"] = [t.keys[0] for t in sims]
        tasks.extend(sims)
    return keys, tasks


def sweep(spec: SweepSpec | Mapping | str | os.PathLike, *, store: ResultStore | str | os.PathLike | None = None,
          executor: Any = "serial", workers: int | None = None, scheduler: str | None = None,
          backend: str | None = None, progress: bool = True):
    """Run a sweep: compute the missing points, store each as it completes, return the tidy table.

    Parameters
    ----------
    spec : a SweepSpec, a mapping (validated with :meth:`SweepSpec.from_dict`) or a YAML path.
    store : a ResultStore or its folder (default: ``spec.store``, else ``kdscope-out/sweeps/<name>``).
    executor : an executor, or its name: 'serial' (default: this process, safe from any script),
        'processes' (local workers; call from under ``if __name__ == "__main__":``), 'dask'; with
        ``workers`` and ``scheduler`` as in :func:`kdscope.executors.make_executor`.  A run with
        nothing to compute starts no workers.
    backend : overrides ``spec.backend`` ('numpy', 'jax', 'auto').
    progress : tqdm progress bar over the computed points.

    Returns
    -------
    pandas.DataFrame, one row per point and kind: 'theory' rows (the Setting fields, the observables,
    ``status``, ``residual``, ``seconds``, ``backend``, the derived columns, ``kdscope_version``) and,
    with ``simulate``, 'sim' rows (seed averages with '<obs>_se').  Columns ``point`` (index in the
    sweep) and the grid axes identify each row.  ``df.attrs['sweep']`` holds the counts: total,
    cached, computed, failed (not converged or errors), seconds, executor, backend.
    """
    t0 = time.perf_counter()
    if not isinstance(spec, SweepSpec):
        spec = SweepSpec.from_dict(spec) if isinstance(spec, Mapping) else load_sweep(spec)
    if not isinstance(store, ResultStore):
        store = ResultStore(store or spec.store or Path("kdscope-out") / "sweeps" / spec.name)
    settings = spec.settings()
    used_backend = resolve_backend(backend or spec.backend, settings) if spec.theory else "numpy"
    keys, tasks = sweep_tasks(spec, settings, used_backend)
    result = compute(tasks, store, executor=executor, workers=workers, scheduler=scheduler, progress=progress,
                     desc=f"sweep {spec.name}")
    df = _frame(spec, settings, keys, result)
    df.attrs["sweep"] = dict(name=spec.name, total=len({k for ks in keys.values() for k in ks}),
                             cached=result.cached, computed=result.computed, failed=result.failed,
                             seconds=time.perf_counter() - t0, executor=result.executor, backend=used_backend,
                             store=str(store.root))
    return df


def _frame(spec: SweepSpec, settings, keys: dict, result):
    import pandas as pd

    def get(k):
        rec = result.get(k)
        return rec if rec is not None else {"status": "missing", "converged": False}

    axes = [k for k, _ in spec.axes] or sorted({f for p in spec.points for f, _ in p})
    rows = []
    for i, s in enumerate(settings):
        ident = {"point": i, **{a: getattr(s, a) for a in axes}}
        if spec.theory:
            rec = {**s.to_dict(), **get(keys["theory"][i])}
            rec.setdefault("kind", "theory")
            for name in spec.derived:
                rec.update(_derived_columns(name, rec, get(keys[name][i]), s))
            rows.append({**rec, **ident})
        if spec.simulate is not None:
            rec = {**s.to_dict(), **get(keys["sim"][i])}
            rec.setdefault("kind", "sim")
            rows.append({**rec, **ident})
    df = pd.DataFrame(rows)
    front = ["point", "kind"] + [c for c in Setting.field_names()]
    cols = [c for c in front if c in df.columns] + [c for c in df.columns if c not in front]
    return df[cols]


def _derived_columns(name: str, theory: dict, rec: dict, s: Setting) -> dict:
    ok = bool(rec.get("converged", False))
    nan = math.nan
    out: dict[str, Any] = {f"{name}_status": rec.get("status", "missing")}
    if name in ("opt_lam_t", "opt_lam_s", "opt_xi", "opt_tau"):
        fld = name[4:]
        eps = "eps_t" if name == "opt_lam_t" else "eps_s"
        out.update({f"{fld}_opt": rec.get(fld, nan) if ok else nan, f"{eps}_{fld}_opt": rec.get(eps, nan) if ok
                    else nan})
    elif name == "gain":
        eps_direct = float(rec.get("eps_t", nan)) if ok else nan
        lam_direct = float(rec.get("lam_t", nan)) * s.eta ** 2 if ok else nan
        t_ok = bool(theory.get("converged", False))
        eps_s = float(theory.get("eps_s", nan)) if t_ok else nan
        eps_t = float(theory.get("eps_t", nan)) if t_ok else nan
        out.update(eps_s_direct=eps_direct, lam_s_direct=lam_direct, gain_direct=eps_s - eps_direct,
                   gain_teacher=eps_s - eps_t)
    return out


def describe(df) -> str:
    """One-line summary of a sweep result (its ``attrs['sweep']``)."""
    a = df.attrs.get("sweep", {})
    return (f"sweep {a.get('name')}: {a.get('total')} computations, {a.get('cached')} cached, {a.get('computed')} "
            f"computed ({a.get('failed')} not converged or failed) in {a.get('seconds', 0):.1f} s; backend "
            f"{a.get('backend')}, executor {a.get('executor')}; store {a.get('store')}")
