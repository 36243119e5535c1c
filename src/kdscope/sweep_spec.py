"""Sweep files: the plain-data description of many Settings, validated into a frozen :class:`SweepSpec`.

The YAML form (loaded with ``yaml.safe_load``; see :mod:`kdscope.sweep` for running it)::

    name: phase-lam-t
    base: {delta: 1.0, rho: 0.2, eta: 0.5, generations: 1, xi: 1.0, lam_s: 1.0e-3}
    grid:                                  # product; the LAST axis varies fastest
      alpha: {geomspace: [0.3, 10.0, 40]}
      lam_t: {geomspace: [1.0e-3, 10.0, 40]}
    # points: [{alpha: 1.0}, {alpha: 2.0, lam_t: 0.5}]     (instead of grid: an explicit list)
    theory: true
    simulate: {d: 1000, seeds: 10}          # optional: Monte Carlo rows (kind 'sim')
    derived: [gain, opt_lam_t]             # optional derived columns (see kdscope.sweep.DERIVED)
    backend: auto                          # numpy | jax | auto
    solver: {tol: 1.0e-10, max_iter: 3000} # optional SolverOptions, checked like the CLI flags

Axis values: a list, a scalar, or one of ``{linspace: [start, stop, num]}``,
``{geomspace: [start, stop, num]}`` (endpoints) and ``{logspace: [e0, e1, num]}`` (exponents of 10).

Everything is checked while loading, before any computation: every key, every Setting of every
point, the solver block (:func:`kdscope.guards.solver_options`), the size of the grid (at most
:data:`kdscope.guards.MAX_SWEEP_POINTS` points, counted before anything is expanded) and the
memory of the simulations (:func:`kdscope.simulations.check_size`).  Errors are
:class:`SweepConfigError` with one message naming the key.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from kdscope.guards import MAX_AXIS_POINTS, MAX_SWEEP_POINTS, SolverOptionsError, solver_options
from kdscope.simulations import check_size, seed_list
from kdscope.theory import Setting, SettingError, SolverOptions

__all__ = ["SweepSpec", "SimulationSpec", "SweepConfigError", "load_sweep", "expand_values", "BACKENDS", "DERIVED"]

BACKENDS = ("numpy", "jax", "auto")
#: Derived computations and the columns they add (see :mod:`kdscope.sweep`).
DERIVED = {
    "opt_lam_t": ("lam_t_opt", "eps_t_lam_t_opt"),
    "opt_lam_s": ("lam_s_opt", "eps_s_lam_s_opt"),
    "opt_xi": ("xi_opt", "eps_s_xi_opt"),
    "opt_tau": ("tau_opt", "eps_s_tau_opt"),
    "gain": ("eps_s_direct", "lam_s_direct", "gain_direct", "gain_teacher"),
}
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
            sizes = {k: _axis_size(v, f"grid.{k}") for k, v in grid.items()}
            total = math.prod(sizes.values())
            if total > MAX_SWEEP_POINTS:
                shape = " x ".join(f"{n} ({k})" for k, n in sizes.items())
                raise SweepConfigError(f"sweep config 'grid' has {total:,} points ({shape}); at most "
                                       f"{MAX_SWEEP_POINTS:,} are allowed: split it or use fewer values.")
            axes = tuple((k, tuple(expand_values(v, f"grid.{k}"))) for k, v in grid.items())
        else:
            if not isinstance(points, list) or not points or not all(isinstance(p, Mapping) for p in points):
                raise SweepConfigError(f"sweep config 'points' must be a non-empty list of mappings; got {points!r}.")
            if len(points) > MAX_SWEEP_POINTS:
                raise SweepConfigError(f"sweep config 'points' has {len(points):,} points; at most "
                                       f"{MAX_SWEEP_POINTS:,} are allowed.")
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
            if self.simulate is not None:
                try:
                    check_size(s, self.simulate.d)
                except ValueError as exc:
                    raise SweepConfigError(f"sweep config 'simulate' at point {i}: {exc}") from None
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
        if n > MAX_AXIS_POINTS:
            raise SweepConfigError(f"sweep config '{where}.{kind}' asks for {n:,} values; 'num' must be an integer in "
                                   f"[1, {MAX_AXIS_POINTS:,}].")
        if kind == "geomspace" and (a <= 0 or b <= 0):
            raise SweepConfigError(f"sweep config '{where}.geomspace' needs positive endpoints; got {args!r}.")
        fn = {"linspace": np.linspace, "geomspace": np.geomspace, "logspace": np.logspace}[kind]
        return [float(v) for v in fn(a, b, n)]
    if isinstance(spec, list):
        if not spec:
            raise SweepConfigError(f"sweep config '{where}' is an empty list.")
        return list(spec)
    return [spec]


def _axis_size(spec: Any, where: str) -> int:
    """Number of values of an axis, counted without expanding it (the grid-size guard runs first)."""
    if isinstance(spec, Mapping) and len(spec) == 1:
        args = next(iter(spec.values()))
        if isinstance(args, list) and len(args) == 3 and isinstance(args[2], int) and not isinstance(args[2], bool):
            return max(int(args[2]), 1)
        return 1  # malformed: expand_values reports it
    return len(spec) if isinstance(spec, list) else 1


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
    try:
        seed_list(seeds)
    except ValueError as exc:
        raise SweepConfigError(f"sweep config 'simulate.seeds': {exc} (an integer >= 1 or a list of integers)") from None
    seeds = tuple(seeds) if isinstance(seeds, list) else seeds
    return SimulationSpec(d=d, seeds=seeds)


def _solver(raw) -> SolverOptions | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise SweepConfigError(f"sweep config 'solver' must be a mapping of solver options; got {raw!r}.")
    try:
        return solver_options(raw, where="sweep config 'solver'")
    except SolverOptionsError as exc:
        raise SweepConfigError(str(exc)) from None


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


