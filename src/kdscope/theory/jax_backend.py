"""JAX engine of the saddle-point solver: the same driver and map, jit-compiled and vmapped over grids.

Nothing of the physics is written here.  The JAX kernel (``jax.numpy`` plus
``lax.while_loop``) is registered with ``theory.kernel``, so the map of
``theory.rs_map``, the losses of ``theory.losses``, the prox of ``theory.prox``
and the Anderson iteration of ``theory.fixed_point`` trace unchanged; the driver
is ``theory.solve.solve_many`` (teacher kinds, block solve in chain order, one
warm-to-cold retry, observables), which hands this engine its rows.

Every row of a compiled group shares the static structure (number of learners,
loss names, tau^2 convention, fixed teacher, frozen upstream rows, bias, label
noise present, quadrature order and the iteration options); the physical
numbers (alpha, delta, rho, theta, eta, lam, xi, tau, smoothing, fixed-teacher
overlaps) are traced, so one compilation serves a whole grid.  Rows are solved
one jitted call each on CPU, or ``batch`` at a time under ``jax.vmap`` (padded to
a power of two to bound the number of compilations; the default on an
accelerator).  On CPU a vmapped batch of K = 2 points was measured slower per
point than the loop (the per-point arrays, 2 x 3200 quadrature nodes, no longer
fit in cache), so grids are parallelised over processes instead (``kdscope.sweep``).

Float64 is switched on at import (``jax.config.update('jax_enable_x64', True)``):
this affects every JAX user in the process.  Supported: hard losses logistic,
square, linear; soft losses kl, mse, pseudo; teachers erm (same or fresh
samples), bayes and fixed.  The hinge loss (non-smooth; its exact force moments
are NumPy code) is not: :func:`supports` says False and the NumPy engine must be used.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

import jax
import jax.numpy as jnp
from jax import lax
from jax.scipy.special import ndtr as _jndtr

from .engine import AbstractEngine, RowResult, RowTask, result_of
from .fixed_point import iterate_with_fallback
from .kernel import AbstractKernel, register_kernel
from .losses import chain_losses
from .options import SolverOptions
from .quadrature import Measure, block_weights, measure_grid
from .records import SaddlePoint
from .rs_map import RowProblem, evaluate
from .setting import Setting
from .solve import solve_many
from .state import State, is_valid, norm

jax.config.update("jax_enable_x64", True)

__all__ = ["solve_grid_jax", "solve_batch_jax", "solve_lines_jax", "supports", "default_batch", "JAX_ENGINE"]

_SMOOTH_HARD = ("logistic", "square", "linear")
_MAX_BATCH = 256


class JaxKernel(AbstractKernel):
    """jax.numpy, jax's special functions and ``lax.while_loop``."""

    name = "jax"
    xp = jnp
    concrete = False

    def expit(self, x):
        return jax.nn.sigmoid(x)

    def ndtr(self, x):
        return _jndtr(x)

    def while_loop(self, cond, body, carry):
        return lax.while_loop(cond, body, carry)


JAX = JaxKernel()
register_kernel(jax.Array, JAX)


def supports(setting: Setting) -> bool:
    """True when the JAX engine implements this Setting (smooth losses only: no hinge)."""
    return setting.loss_t in _SMOOTH_HARD and (setting.generations == 0 or setting.loss_s in _SMOOTH_HARD)


#: The traced numbers of a row, in the order of the parameter vector.
_PARAMS = ("alpha", "delta", "rho", "theta", "eta", "lam_t", "lam_s", "xi", "tau", "smooth_t", "smooth_s",
           "m0", "q0", "b0")


@dataclass(frozen=True)
class _Static:
    """Everything a compiled group shares (hashable: the jit cache key)."""

    K: int
    loss_t: str
    loss_s: str
    soft: str
    tau2_factor: bool
    fixed: bool
    frozen: bool
    bias: bool
    flip: bool
    order: int
    options: SolverOptions


def _static_of(t: RowTask, opts: SolverOptions) -> _Static:
    s = t.setting
    return _Static(K=s.n_learners, loss_t=s.loss_t, loss_s=s.loss_s, soft=s.soft, tau2_factor=s.tau2_factor,
                   fixed=t.problem.fixed is not None, frozen=t.frozen is not None, bias=s.bias, flip=s.theta > 0,
                   order=t.order, options=opts)


def _params(t: RowTask) -> np.ndarray:
    s, p = t.setting, t.problem
    m0, q0, b0 = p.fixed if p.fixed is not None else (1.0, 1.0, 0.0)
    vals = dict(alpha=p.alpha, delta=s.delta, rho=s.rho, theta=s.theta, eta=s.eta, lam_t=s.lam_t, lam_s=s.lam_s,
                xi=s.xi, tau=s.tau, smooth_t=s.smooth_t, smooth_s=s.smooth_s, m0=m0, q0=q0, b0=b0)
    return np.array([vals[k] for k in _PARAMS], dtype=float)


def _template(st: _Static) -> Setting:
    """A Setting with the group's loss names (the numbers are traced, not read from it)."""
    return Setting(loss_t=st.loss_t, loss_s=st.loss_s, soft=st.soft, tau2_factor=st.tau2_factor,
                   generations=st.K - 1, lam_t=0.1, xi=0.0 if st.loss_s == "hinge" else 1.0)


_COMPILED: dict = {}


def _compiled(st: _Static, vmapped: bool):
    """The jitted row solver of static structure ``st`` (``vmapped``: of a batch of rows)."""
    fn = _COMPILED.get((st, vmapped))
    if fn is not None:
        return fn
    y, y_obs, flip, nodes, w = (jnp.asarray(a) for a in measure_grid(st.K, st.order, st.flip))
    template = _template(st)
    fp = st.options.fixed_point()

    def one(pvec, x0, frozen):
        p = {k: pvec[j] for j, k in enumerate(_PARAMS)}
        measure = Measure(y, y_obs, nodes, block_weights(y, flip, w, p["rho"], p["theta"]))
        lam = jnp.concatenate([p["lam_t"][None], jnp.full((st.K - 1,), p["lam_s"])])
        problem = RowProblem(tuple(chain_losses(template, p)), measure, p["alpha"], p["delta"], p["eta"], lam,
                             (p["m0"], p["q0"], p["b0"]) if st.fixed else None, st.bias)

        def F(x, h):
            return evaluate(problem, x, h, frozen if st.frozen else None)

        h0 = jnp.zeros((st.K, w.shape[0]))
        x, code, res, it, _ = iterate_with_fallback(JAX, F, x0, h0, fp, lambda Y: is_valid(Y, st.K),
                                                    lambda v: norm(v, st.K))
        return x, code, res, it

    fn = jax.jit(jax.vmap(one) if vmapped else one)
    _COMPILED[(st, vmapped)] = fn
    return fn


def default_batch() -> int:
    """Rows per vmapped call: 1 on CPU (a per-row loop: one row's arrays stay in cache,
    and measured vmapped batches were slower per point), 256 on an accelerator."""
    return 1 if jax.default_backend() == "cpu" else _MAX_BATCH


def _pad(n: int, batch: int) -> int:
    size = 1
    while size < min(n, batch):
        size *= 2
    return min(size, batch)


class JaxEngine(AbstractEngine):
    """Iterates rows with the compiled map: grouped by static structure, looped or vmapped."""

    def __init__(self, batch: int | None = None):
        self.batch = batch

    def solve_rows(self, tasks: Sequence[RowTask], options: SolverOptions) -> list[RowResult]:
        out: list = [None] * len(tasks)
        groups: dict[_Static, list[int]] = {}
        for i, t in enumerate(tasks):
            groups.setdefault(_static_of(t, options), []).append(i)
        batch = default_batch() if self.batch is None else int(self.batch)
        for st, idx in groups.items():
            if batch <= 1:
                fn = _compiled(st, False)
                for i in idx:
                    t = tasks[i]
                    t0 = time.perf_counter()
                    frozen = t.frozen if t.frozen is not None else t.x0
                    x, code, res, it = jax.device_get(fn(_params(t), t.x0, frozen))
                    out[i] = result_of(x, code, res, it, time.perf_counter() - t0, st.K)
                continue
            fn = _compiled(st, True)
            for start in range(0, len(idx), batch):
                chunk = idx[start:start + batch]
                padded = chunk + [chunk[-1]] * (_pad(len(chunk), batch) - len(chunk))
                P = np.stack([_params(tasks[i]) for i in padded])
                X0 = np.stack([tasks[i].x0 for i in padded])
                FR = np.stack([tasks[i].frozen if tasks[i].frozen is not None else tasks[i].x0 for i in padded])
                t0 = time.perf_counter()
                x, code, res, it = jax.device_get(fn(P, X0, FR))
                seconds = (time.perf_counter() - t0) / len(chunk)
                for j, i in enumerate(chunk):
                    out[i] = result_of(x[j], code[j], res[j], it[j], seconds, st.K)
        return out


JAX_ENGINE = JaxEngine()


def solve_batch_jax(settings: Sequence[Setting], options: SolverOptions | None = None,
                    init: Sequence["SaddlePoint | State | None"] | None = None,
                    batch: int | None = None) -> list[SaddlePoint]:
    """Solve many Settings with the JAX engine; the SaddlePoints of ``theory.solve`` (failures recorded).

    Parameters
    ----------
    settings : Settings to solve (any mix; grouped by static structure, each group compiled once).
    options : SolverOptions, as for ``solve``.
    init : optional warm starts, one per Setting (a SaddlePoint or State with the same number
        of learners, or None for the cold start); a failed warm start is retried cold.
    batch : rows per vmapped call (None: :func:`default_batch`; 1 loops over single-row calls).

    Returns
    -------
    list of SaddlePoint in input order; failed points carry their status and NaN observables.

    Raises
    ------
    ValueError if a Setting uses a loss the engine does not implement (see :func:`supports`).
    """
    settings = list(settings)
    for s in settings:
        if not supports(s):
            raise ValueError(f"the JAX backend implements hard losses {_SMOOTH_HARD} only; got loss_t={s.loss_t!r}, "
                             f"loss_s={s.loss_s!r}. Use the NumPy backend (kdscope.theory.solve) for the hinge loss.")
    engine = JAX_ENGINE if batch is None else JaxEngine(batch)
    return solve_many(settings, options, init, engine)


def solve_grid_jax(settings: Sequence[Setting], options: SolverOptions | None = None,
                   batch: int | None = None) -> list[dict]:
    """Records (``SaddlePoint.record()``: the columns of ``theory.solve``) of many Settings, JAX engine.

    Each point starts cold; for warm starts along lines use :func:`solve_lines_jax`.
    """
    return [sp.record() for sp in solve_batch_jax(settings, options, batch=batch)]


def solve_lines_jax(lines: Sequence[Sequence[Setting]], options: SolverOptions | None = None,
                    batch: int | None = None) -> list[list[SaddlePoint]]:
    """Continuation along many lines at once: position j of every line is one batch,
    warm-started from the last converged point of the same line.

    A point whose warm start fails is solved again from the cold start, as
    ``theory.solve_curve`` does.  Lines may have different lengths.

    Returns
    -------
    list (per line) of lists of SaddlePoint.
    """
    lines = [list(line) for line in lines]
    out = [[None] * len(line) for line in lines]
    last: list = [None] * len(lines)
    for j in range(max((len(line) for line in lines), default=0)):
        idx = [i for i, line in enumerate(lines) if j < len(line)]
        sps = solve_batch_jax([lines[i][j] for i in idx], options, [last[i] for i in idx], batch=batch)
        for k, i in enumerate(idx):
            out[i][j] = sps[k]
            if sps[k].converged:
                last[i] = sps[k]
    return out
