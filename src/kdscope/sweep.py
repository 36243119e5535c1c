"""Sweeps: many Settings at once, through the result store, on any executor.

A sweep is plain data (YAML, loaded with ``yaml.safe_load`` into the frozen :class:`SweepSpec`)::

    name: phase-lam-t
    base: {delta: 1.0, rho: 0.2, eta: 0.5, generations: 1, xi: 1.0, lam_s: 1.0e-3}
    grid:                                  # product; the LAST axis varies fastest
      alpha: {geomspace: [0.3, 10.0, 40]}
      lam_t: {geomspace: [1.0e-3, 10.0, 40]}
    # points: [{alpha: 1.0}, {alpha: 2.0, lam_t: 0.5}]     (instead of grid: an explicit list)
    theory: true
    simulate: {d: 1000, seeds: 10}          # optional: Monte Carlo rows (kind 'sim')
    derived: [gain, opt_lam_t]             # optional derived columns (see DERIVED)
    backend: auto                          # numpy | jax | auto
    solver: {tol: 1.0e-10, max_iter: 3000} # optional SolverOptions

Axis values: a list, a scalar, or one of ``{linspace: [start, stop, num]}``,
``{geomspace: [start, stop, num]}`` (endpoints) and ``{logspace: [e0, e1, num]}`` (exponents of 10).

Running (:func:`sweep`) writes one row per computation into a :class:`kdscope.store.ResultStore`,
keyed by the Setting hash and the kind of computation (the keys of :mod:`kdscope.curves`, so
sweeps, curves and figures share points).  Points already in the store are not recomputed: a
repeated sweep costs nothing, and one killed at any moment (even ``kill -9``) resumes with only
the missing points (the store writes each point atomically).  Theory points are grouped into
*lines* along the fastest axis and each line is one task solved by continuation
(:func:`kdscope.theory.solve_curve`, warm starts); tasks run on an executor
(:mod:`kdscope.executors`: serial, local processes, Dask) and are stored as each completes.

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

import dataclasses
import importlib.util
import itertools
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from kdscope import __version__
from kdscope.executors import AbstractExecutor, make_executor
from kdscope.store import ResultStore, point_key
from kdscope.theory import Setting, SettingError, SolverOptions

__all__ = ["SweepSpec", "SimulationSpec", "SweepConfigError", "load_sweep", "sweep", "DERIVED", "BACKENDS",
           "expand_values"]

BACKENDS = ("numpy", "jax", "auto")
#: Derived computations and the columns they add.
DERIVED = {
    "opt_lam_t": ("lam_t_opt", "eps_t_lam_t_opt"),
    "opt_lam_s": ("lam_s_opt", "eps_s_lam_s_opt"),
    "opt_xi": ("xi_opt", "eps_s_xi_opt"),
    "opt_tau": ("tau_opt", "eps_s_tau_opt"),
    "gain": ("eps_s_direct", "lam_s_direct", "gain_direct", "gain_teacher"),
}
#: 'auto' uses JAX for theory grids of at least this many points (compilation costs ~10 s per worker).
AUTO_JAX_MIN_POINTS = 1000
_TOP_KEYS = ("name", "description", "base", "grid", "points", "theory", "simulate", "derived", "backend", "solver",
             "store")


class SweepConfigError(ValueError):
    """A sweep configuration is invalid; the message names the offending key and the allowed values."""


# -------------------------------------------------------------------- spec
@dataclass(frozen=True)
class SimulationSpec:
    """Monte Carlo rows of a sweep: dimension ``d`` (int >= 2) and ``seeds`` (count >= 1, or a list of ints)."""

    d: int
    seeds: int | tuple[int, ...]


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep (see the module docstring for the YAML form).

    Attributes
    ----------
    name : identifier (letters, digits, '-', '_').
    base : the Setting every point starts from.
    axes : ((field, values), ...) of a product grid, last axis fastest; empty with ``points``.
    points : explicit list of field overrides (tuples of (field, value) pairs); empty with ``axes``.
    theory : solve the saddle point of every point.
    simulate : Monte Carlo rows, or None.
    derived : names from :data:`DERIVED`.
    backend : 'numpy', 'jax' or 'auto' (JAX for theory grids of >= AUTO_JAX_MIN_POINTS points).
    solver : SolverOptions, or None for the defaults.
    store : result-store folder, or None (the caller decides).
    """

    name: str
    base: Setting = field(default_factory=Setting)
    axes: tuple[tuple[str, tuple], ...] = ()
    points: tuple[tuple[tuple[str, Any], ...], ...] = ()
    theory: bool = True
    simulate: SimulationSpec | None = None
    derived: tuple[str, ...] = ()
    backend: str = "numpy"
    solver: SolverOptions | None = None
    store: str | None = None
    description: str = ""

    # ---------------------------------------------------------- building
    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "SweepSpec":
        """Validate a plain mapping (e.g. from YAML); raises SweepConfigError naming the key."""
        if not isinstance(raw, Mapping):
            raise SweepConfigError(f"a sweep config must be a mapping of keys {_TOP_KEYS}; got {type(raw).__name__}.")
        unknown = [k for k in raw if k not in _TOP_KEYS]
        if unknown:
            raise SweepConfigError(f"sweep config: unknown key(s) {unknown}; known keys: {', '.join(_TOP_KEYS)}.")
        name = raw.get("name")
        if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_" for c in name):
            raise SweepConfigError(f"sweep config 'name' must be a non-empty string of letters, digits, '-' or '_'; "
                                   f"got {name!r}.")
        base_raw = raw.get("base") or {}
        if not isinstance(base_raw, Mapping):
            raise SweepConfigError(f"sweep config 'base' must be a mapping of Setting fields; got {base_raw!r}.")
        _check_fields(base_raw, "base")
        try:
            base = Setting(**dict(base_raw))
        except SettingError as exc:
            raise SweepConfigError(f"sweep config 'base': {exc}") from None
        grid, points = raw.get("grid"), raw.get("points")
        if (grid is None) == (points is None):
            raise SweepConfigError("sweep config: give exactly one of 'grid' (a product of axes) and 'points' "
                                   "(a list of Setting overrides).")
        axes: tuple = ()
        pts: tuple = ()
        if grid is not None:
            if not isinstance(grid, Mapping) or not grid:
                raise SweepConfigError(f"sweep config 'grid' must be a non-empty mapping field -> values; got {grid!r}.")
            _check_fields(grid, "grid")
            axes = tuple((k, tuple(expand_values(v, f"grid.{k}"))) for k, v in grid.items())
        else:
            if not isinstance(points, list) or not points or not all(isinstance(p, Mapping) for p in points):
                raise SweepConfigError(f"sweep config 'points' must be a non-empty list of mappings; got {points!r}.")
            for i, p in enumerate(points):
                _check_fields(p, f"points[{i}]")
            pts = tuple(tuple(p.items()) for p in points)
        theory = raw.get("theory", True)
        if not isinstance(theory, bool):
            raise SweepConfigError(f"sweep config 'theory' must be true or false; got {theory!r}.")
        sim = _simulation(raw.get("simulate"))
        derived = raw.get("derived") or []
        if isinstance(derived, str):
            derived = [derived]
        if not isinstance(derived, list) or any(d not in DERIVED for d in derived):
            raise SweepConfigError(f"sweep config 'derived' must be a list of names from {{{', '.join(DERIVED)}}}; "
                                   f"got {derived!r}.")
        if derived and not theory:
            raise SweepConfigError(f"sweep config 'derived'={derived} needs theory: true (derived columns join the "
                                   "theory rows).")
        backend = raw.get("backend", "numpy")
        if backend not in BACKENDS:
            raise SweepConfigError(f"sweep config 'backend' must be one of {{{', '.join(BACKENDS)}}}; got {backend!r}.")
        solver = _solver(raw.get("solver"))
        store = raw.get("store")
        if store is not None and not isinstance(store, str):
            raise SweepConfigError(f"sweep config 'store' must be a folder path (string); got {store!r}.")
        desc = raw.get("description", "") or ""
        spec = cls(name=name, base=base, axes=axes, points=pts, theory=theory, simulate=sim, derived=tuple(derived),
                   backend=backend, solver=solver, store=store, description=str(desc))
        spec._validate_points()
        return spec

    def _validate_points(self) -> None:
        """Build every Setting once (load-time validation); the first bad point is reported."""
        for i, over in enumerate(self.overrides()):
            try:
                s = self.base.replace(**over)
            except SettingError as exc:
                where = ", ".join(f"{k}={v!r}" for k, v in over.items())
                raise SweepConfigError(f"sweep config: point {i} ({where}) is invalid: {exc}") from None
            for d in self.derived:
                if d != "opt_lam_t" and s.generations < 1:
                    raise SweepConfigError(f"sweep config 'derived' {d!r} needs a student (generations >= 1); "
                                           f"point {i} has generations={s.generations}.")
                if d == "opt_tau" and s.soft != "kl":
                    raise SweepConfigError(f"sweep config 'derived' 'opt_tau' needs soft='kl' (tau enters only the KL "
                                           f"loss); point {i} has soft={s.soft!r}.")
                if d == "opt_lam_t" and s.teacher != "erm":
                    raise SweepConfigError(f"sweep config 'derived' 'opt_lam_t' needs a trained teacher "
                                           f"(teacher='erm'); point {i} has teacher={s.teacher!r}.")

    # ----------------------------------------------------------- points
    def overrides(self) -> list[dict]:
        """Field overrides of every point, in order (grid: last axis fastest)."""
        if self.axes:
            names = [k for k, _ in self.axes]
            return [dict(zip(names, combo)) for combo in itertools.product(*[v for _, v in self.axes])]
        return [dict(p) for p in self.points]

    def settings(self) -> list[Setting]:
        """The Setting of every point, in order."""
        return [self.base.replace(**o) for o in self.overrides()]

    def lines(self) -> list[tuple[str, list[int]]]:
        """Point indices grouped into continuation lines: (field varied along the line, indices).

        Grid: one line per combination of the slower axes, along the last axis.  Points list:
        runs of consecutive points that differ from their predecessor in one and the same field.
        """
        n = len(self.overrides())
        if self.axes:
            last, vals = self.axes[-1]
            m = len(vals)
            return [(last, list(range(i, i + m))) for i in range(0, n, m)]
        settings = self.settings()
        out: list[tuple[str, list[int]]] = []
        for i, s in enumerate(settings):
            if out:
                fld, idx = out[-1]
                prev = settings[idx[-1]]
                diff = [f for f in Setting.field_names() if getattr(prev, f) != getattr(s, f)]
                if len(diff) == 1 and (fld is None or fld == diff[0]):
                    out[-1] = (diff[0], idx + [i])
                    continue
            out.append((None, [i]))
        return [(fld or "alpha", idx) for fld, idx in out]


def _check_fields(mapping: Mapping, where: str) -> None:
    names = Setting.field_names()
    bad = [k for k in mapping if k not in names]
    if bad:
        raise SweepConfigError(f"sweep config '{where}': {bad} not Setting field(s); known fields: {', '.join(names)}.")


def expand_values(spec: Any, where: str = "values") -> list:
    """Axis values: a list, a scalar, or {linspace|geomspace|logspace: [start, stop, num]}."""
    if isinstance(spec, Mapping):
        if len(spec) != 1 or next(iter(spec)) not in ("linspace", "geomspace", "logspace"):
            raise SweepConfigError(f"sweep config '{where}' must be a list, a scalar, or one of {{linspace, geomspace, "
                                   f"logspace}}: [start, stop, num]; got {dict(spec)!r}.")
        kind, args = next(iter(spec.items()))
        ok = (isinstance(args, list) and len(args) == 3 and all(_is_number(a) for a in args[:2])
              and isinstance(args[2], int) and not isinstance(args[2], bool) and args[2] >= 1)
        if not ok:
            raise SweepConfigError(f"sweep config '{where}.{kind}' needs [start, stop, num] with numbers start, stop "
                                   f"and an integer num >= 1; got {args!r}.")
        a, b, n = float(args[0]), float(args[1]), int(args[2])
        if kind == "geomspace" and (a <= 0 or b <= 0):
            raise SweepConfigError(f"sweep config '{where}.geomspace' needs positive endpoints; got {args!r}.")
        fn = {"linspace": np.linspace, "geomspace": np.geomspace, "logspace": np.logspace}[kind]
        return [float(v) for v in fn(a, b, n)]
    if isinstance(spec, list):
        if not spec:
            raise SweepConfigError(f"sweep config '{where}' is an empty list.")
        return list(spec)
    return [spec]


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _simulation(raw) -> SimulationSpec | None:
    if raw is None or raw is False:
        return None
    if not isinstance(raw, Mapping) or set(raw) - {"d", "seeds"} or "d" not in raw:
        raise SweepConfigError(f"sweep config 'simulate' must be a mapping with keys d (int >= 2) and seeds "
                               f"(int >= 1 or a list of ints); got {raw!r}.")
    d = raw["d"]
    if not isinstance(d, int) or isinstance(d, bool) or d < 2:
        raise SweepConfigError(f"sweep config 'simulate.d' must be an integer >= 2; got {d!r}.")
    seeds = raw.get("seeds", 10)
    if isinstance(seeds, list):
        if not seeds or not all(isinstance(x, int) and not isinstance(x, bool) for x in seeds):
            raise SweepConfigError(f"sweep config 'simulate.seeds' must be an integer >= 1 or a non-empty list of "
                                   f"integers; got {seeds!r}.")
        seeds = tuple(seeds)
    elif not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise SweepConfigError(f"sweep config 'simulate.seeds' must be an integer >= 1 or a list of integers; "
                               f"got {seeds!r}.")
    return SimulationSpec(d=d, seeds=seeds)


def _solver(raw) -> SolverOptions | None:
    if raw is None:
        return None
    names = [f.name for f in dataclasses.fields(SolverOptions)]
    if not isinstance(raw, Mapping) or set(raw) - set(names):
        raise SweepConfigError(f"sweep config 'solver' must be a mapping with keys from {names}; got {raw!r}.")
    try:
        return SolverOptions(**dict(raw))
    except TypeError as exc:  # pragma: no cover
        raise SweepConfigError(f"sweep config 'solver': {exc}") from None


def load_sweep(path: str | os.PathLike) -> SweepSpec:
    """Read a YAML sweep file (``yaml.safe_load``) into a validated SweepSpec."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise SweepConfigError(f"sweep config file {str(path)!r} does not exist.")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SweepConfigError(f"sweep config {str(path)!r} is not valid YAML: {exc}") from None
    return SweepSpec.from_dict(raw)


# -------------------------------------------------------------------- keys
def _lam_bounds():
    from kdscope.curves import LAM_BOUNDS
    return LAM_BOUNDS


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


def _derived_task(name: str, s: Setting, options) -> tuple[str, tuple]:
    """(store key, task) of derived computation ``name`` at Setting s."""
    bounds = list(_lam_bounds())
    if name in ("opt_lam_t", "gain"):
        t = teacher_alone(s) if name == "opt_lam_t" else direct_student(s)
        return point_key(t.replace(lam_t=1.0), "theory-optlam-t", options=options, bounds=bounds), ("optlam", t, "t",
                                                                                                    options)
    if name == "opt_lam_s":
        return point_key(s.replace(lam_s=1.0), "theory-optlam-s", options=options, bounds=bounds), ("optlam", s, "s",
                                                                                                    options)
    fld = "xi" if name == "opt_xi" else "tau"
    return point_key(s.replace(**{fld: 1.0}), f"theory-opt{fld}", options=options), (f"opt{fld}", s, options)


# ------------------------------------------------------------------- tasks
def _jax_setup() -> None:
    """Persistent compilation cache for the JAX backend (``KDSCOPE_JAX_CACHE``, default ~/.cache/kdscope/jax)."""
    import jax

    if not jax.config.jax_compilation_cache_dir:
        path = os.environ.get("KDSCOPE_JAX_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "kdscope", "jax"))
        jax.config.update("jax_compilation_cache_dir", path)


def run_task(task: tuple) -> list[dict]:
    """Execute one sweep task (runs in a worker); returns records, each with '_key'.

    Tasks: ('theory', keys, settings, field, options, backend) a continuation line;
    ('optlam', key, setting, learner, options); ('optxi' | 'opttau', key, setting, options);
    ('sim', key, setting, d, seeds).  A failure inside a task becomes records with
    ``status='error: ...'`` and ``_error=True`` (not stored, so a rerun retries them).
    """
    kind = task[0]
    try:
        if kind == "theory":
            _, keys, settings, fld, options, backend = task
            if backend == "jax":
                _jax_setup()
                from kdscope.theory.jax_backend import solve_lines_jax
                sps = solve_lines_jax([settings], options)[0]
            else:
                from kdscope.theory import solve_curve
                sps = solve_curve(settings[0], fld, [getattr(s, fld) for s in settings], options=options,
                                  on_failure="record")
            return [dict(sp.record(), kind="theory", backend=backend, _key=k) for k, sp in zip(keys, sps)]
        if kind == "optlam":
            _, key, s, learner, options = task
            from kdscope.curves import optimal_lam_point
            return [dict(optimal_lam_point(s, learner, None, options), _key=key)]
        if kind in ("optxi", "opttau"):
            _, key, s, options = task
            return [dict(_optimal_other(s, kind[3:], options), _key=key)]
        if kind == "sim":
            _, key, s, d, seeds = task
            from kdscope.simulations import simulate
            seeds_arg = list(seeds) if isinstance(seeds, tuple) else seeds
            return [dict(simulate(s, d=d, seeds=seeds_arg), kind="sim", _key=key)]
        raise ValueError(f"unknown sweep task kind {kind!r}")
    except Exception as exc:  # recorded, not stored: a rerun retries the point
        keys = task[1] if kind == "theory" else [task[1]]
        settings = task[2] if kind == "theory" else [task[2]]
        msg = f"error: {type(exc).__name__}: {exc}"
        return [dict(s.to_dict(), kind=kind, status=msg, converged=False, _key=k, _error=True)
                for k, s in zip(keys, settings)]


def _optimal_other(s: Setting, fld: str, options) -> dict:
    from kdscope.theory import optimal_tau, optimal_xi, solve

    kind = f"theory-opt{fld}"
    try:
        _, sp = (optimal_xi if fld == "xi" else optimal_tau)(s, options=options)
        rec = dict(sp.record())
    except RuntimeError as exc:
        rec = dict(solve(s, options=options, on_failure="record").record())
        rec.update(status=f"optimal_{fld} failed: {exc}", converged=False)
    rec.update(kind=kind, optimal=fld)
    return rec


# --------------------------------------------------------------------- run
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


@dataclass
class _Plan:
    tasks: list = field(default_factory=list)
    sizes: list = field(default_factory=list)
    cached: int = 0


def _plan(spec: SweepSpec, settings: list[Setting], store: ResultStore, backend: str):
    """Store keys of every computation and the tasks for the missing ones."""
    opts = spec.solver
    plan = _Plan()
    keys: dict[str, list] = {"theory": [None] * len(settings), "sim": [None] * len(settings)}
    keys.update({d: [None] * len(settings) for d in spec.derived})
    seen: set[str] = set()
    if spec.theory:
        for fld, idx in spec.lines():
            ks = [point_key(settings[i], "theory", options=opts) for i in idx]
            for i, k in zip(idx, ks):
                keys["theory"][i] = k
            todo = [(i, k) for i, k in zip(idx, ks) if k not in seen and not store.has(k)]
            plan.cached += sum(1 for k in ks if k not in seen and store.has(k))
            seen.update(ks)
            if todo:
                plan.tasks.append(("theory", [k for _, k in todo], [settings[i] for i, _ in todo], fld, opts, backend))
                plan.sizes.append(len(todo))
    for name in spec.derived:
        for i, s in enumerate(settings):
            k, task = _derived_task(name, s, opts)
            keys[name][i] = k
            _plan_point(plan, seen, store, k, (task[0], k) + task[1:])
    if spec.simulate is not None:
        sim = spec.simulate
        for i, s in enumerate(settings):
            k = point_key(s, "sim", d=int(sim.d), seeds=list(sim.seeds) if isinstance(sim.seeds, tuple) else sim.seeds)
            keys["sim"][i] = k
            _plan_point(plan, seen, store, k, ("sim", k, s, sim.d, sim.seeds))
    return keys, plan


def _plan_point(plan, seen: set, store, key: str, task: tuple) -> None:
    """Add a one-point task unless its key was already planned or is in the store (then count it cached)."""
    if key in seen:
        return
    seen.add(key)
    if store.has(key):
        plan.cached += 1
    else:
        plan.tasks.append(task)
        plan.sizes.append(1)


def sweep(spec: SweepSpec | Mapping | str | os.PathLike, *, store: ResultStore | str | os.PathLike | None = None,
          executor: AbstractExecutor | str | None = "processes", workers: int | None = None,
          scheduler: str | None = None, backend: str | None = None, progress: bool = True):
    """Run a sweep: compute the missing points, store each as it completes, return the tidy table.

    Parameters
    ----------
    spec : a SweepSpec, a mapping (validated with :meth:`SweepSpec.from_dict`) or a YAML path.
    store : a ResultStore or its folder (default: ``spec.store``, else ``kdscope-out/sweeps/<name>``).
    executor : an executor, or its name ('serial', 'processes' (default), 'dask'); with ``workers``
        and ``scheduler`` as in :func:`kdscope.executors.make_executor`.  A run with nothing to
        compute starts no workers.
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
    keys, plan = _plan(spec, settings, store, used_backend)
    fresh: dict[str, dict] = {}
    errors: dict[str, dict] = {}
    computed = failed = 0
    ex_desc = "none (nothing to compute)"
    if plan.tasks:
        own = not isinstance(executor, AbstractExecutor)
        ex = make_executor(executor or "processes", workers=workers, scheduler=scheduler) if own else executor
        ex_desc = ex.describe()
        bar = _bar(sum(plan.sizes), spec.name, progress)
        try:
            for _, records in ex.map_unordered(run_task, _ordered(plan)):
                for rec in records:
                    key = rec.pop("_key")
                    if rec.pop("_error", False):
                        errors[key] = rec
                        failed += 1
                    else:
                        store.put(rec, key, kind=rec.get("kind"))
                        fresh[key] = dict(rec, key=key, kdscope_version=__version__)
                        failed += 0 if rec.get("converged", True) else 1
                    computed += 1
                bar.update(len(records))
        finally:
            bar.close()
            if own:
                ex.close()
    df = _frame(spec, settings, keys, store, fresh, errors)
    df.attrs["sweep"] = dict(name=spec.name, total=len({k for ks in keys.values() for k in ks if k is not None}),
                             cached=plan.cached, computed=computed, failed=failed,
                             seconds=time.perf_counter() - t0, executor=ex_desc, backend=used_backend,
                             store=str(store.root))
    return df


def _ordered(plan: _Plan) -> list:
    """Longest tasks first (derived optimisations, simulations, long lines) for a better load balance."""
    weight = {"optlam": 20, "optxi": 20, "opttau": 20, "sim": 30, "theory": 1}
    order = sorted(range(len(plan.tasks)), key=lambda i: -weight[plan.tasks[i][0]] * plan.sizes[i])
    return [plan.tasks[i] for i in order]


def _bar(total: int, name: str, progress: bool):
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=f"sweep {name}", unit="pt", disable=not progress, leave=False)


def _frame(spec: SweepSpec, settings, keys, store: ResultStore, fresh: dict, errors: dict):
    import pandas as pd

    def get(k):
        if k in fresh:
            return fresh[k]
        if k in errors:
            return errors[k]
        rec = store.get(k)
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
    status = rec.get("status", "missing")
    nan = math.nan
    out: dict[str, Any] = {f"{name}_status": status}
    if name == "opt_lam_t":
        out.update(lam_t_opt=rec.get("lam_t", nan) if ok else nan, eps_t_lam_t_opt=rec.get("eps_t", nan) if ok else nan)
    elif name == "opt_lam_s":
        out.update(lam_s_opt=rec.get("lam_s", nan) if ok else nan, eps_s_lam_s_opt=rec.get("eps_s", nan) if ok else nan)
    elif name in ("opt_xi", "opt_tau"):
        fld = name[4:]
        out.update({f"{fld}_opt": rec.get(fld, nan) if ok else nan, f"eps_s_{fld}_opt": rec.get("eps_s", nan) if ok
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

