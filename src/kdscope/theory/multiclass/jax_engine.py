"""JAX engine of the multi-class solver: the same map and the same driver, compiled.

Nothing of the physics is written here.  Importing ``theory.jax_backend`` registers the JAX kernel
(``jax.numpy``, ``lax.while_loop``; float64 switched on for the process), so the map of
``rs_map`` (losses, prox, channel, prior, bias step) and the Anderson iteration of
``theory.fixed_point.iterate_with_fallback`` trace unchanged.  One compilation per structure
(K, C, soft loss, tau^2 convention, fixed teacher, quadrature order, driver options); the numbers
(alpha, delta, pi, G, lams, eta, xi, tau, a fixed teacher's overlaps) are traced, so points of a
sweep with the same structure reuse it.  The solver's stages (coarse rule, final rule, raised
orders) are separate compilations; the accuracy check and the observables run with NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

import jax
import jax.numpy as jnp

from ..fixed_point import FixedPointOptions, iterate_with_fallback
from ..jax_backend import JAX
from .losses import CrossEntropy, student_loss
from .rs_map import MapProblem, solver_map, warm_sizes
from .setting import MulticlassSetting
from .state import state_norm, valid_rows

__all__ = ["run_jax", "map_jax"]


@dataclass(frozen=True)
class _Static:
    """What a compilation shares (hashable: the cache key)."""

    K: int
    C: int
    soft: str
    tau2_factor: bool
    fixed: bool
    order: tuple
    options: FixedPointOptions | None


@lru_cache(maxsize=32)
def _compiled(st: _Static):
    K, C = st.K, st.C
    D = C - 1
    n_h = sum(warm_sizes(K, C, st.order))

    def run(params, x0):
        stud = student_loss(C, params["xi"], st.soft, params["tau"], st.tau2_factor)
        losses = (CrossEntropy(C),) + (stud,) * (K - 1)
        fixed = (params["M0"], params["Q0"], params["b0"]) if st.fixed else None
        p = MapProblem(losses, params["pi"], params["G"], params["alpha"], params["delta"], params["lams"],
                       params["eta"], fixed)
        F = solver_map(p, st.order, K, C)
        if st.options is None:   # one evaluation of the map (the accuracy check on a finer rule)
            return F(x0, jnp.full(n_h, jnp.nan))[0]
        return iterate_with_fallback(JAX, F, x0, jnp.full(n_h, jnp.nan), st.options, lambda Y: valid_rows(Y, K, D, C),
                                     lambda y: state_norm(y, K, D, C))

    return jax.jit(run)


def _call(s: MulticlassSetting, fixed: tuple | None, order: tuple, x0: np.ndarray, fp: FixedPointOptions | None):
    K, C = s.n_learners, s.classes
    D = C - 1
    st = _Static(K, C, s.soft, s.tau2_factor, fixed is not None, tuple(int(n) for n in order), fp)
    zero = (np.zeros((D, C)), np.zeros((D, D)), np.zeros(D))
    M0, Q0, b0 = fixed if fixed is not None else zero
    params = dict(alpha=s.alpha_chain if fixed is not None else s.alpha, delta=s.delta, pi=s.p, G=s.G,
                  lams=s.lams(), eta=s.eta, xi=s.xi, tau=s.tau, M0=M0, Q0=Q0, b0=b0)
    params = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in params.items()}
    return _compiled(st)(params, jnp.asarray(x0, dtype=jnp.float64))


def run_jax(s: MulticlassSetting, fixed: tuple | None, order: tuple, x0: np.ndarray, fp: FixedPointOptions):
    """Iterate the map of ``s`` from x0 on the rule ``order``; (x, status code, residual, iterations, prox
    outputs) as NumPy."""
    x, code, res, it, h = _call(s, fixed, order, x0, fp)
    return np.asarray(x, dtype=float), int(code), float(res), int(it), np.asarray(h, dtype=float)


def map_jax(s: MulticlassSetting, fixed: tuple | None, order: tuple, x: np.ndarray) -> np.ndarray:
    """One evaluation of the map of ``s`` at the packed state x on the rule ``order`` (cold prox starts)."""
    return np.asarray(_call(s, fixed, order, x, None), dtype=float)
