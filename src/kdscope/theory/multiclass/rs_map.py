"""The multi-class replica-symmetric map, written once for the NumPy and JAX kernels.

One evaluation at the state (M, Q, V, b) (DESIGN.md section 8):

    channel averages at (M, Q, V, b)                           (channel.py)
    (M, Q, V) <- prior side of (M^, Q^, V^)                     (prior.py)
    b <- b - J^-1 E[f],  J = E[df/domega] (block lower triangular; a fixed teacher keeps b_0)

A :class:`MapProblem` holds what the map needs: the losses and the numbers (NumPy floats, or
traced values under ``jax.jit``); its structure (K, C, the loss kinds, a fixed teacher) is static.
:func:`solver_map` wraps the map as the ``F(x, h)`` of the shared driver
(``theory.fixed_point.iterate``): x the packed state, h the prox outputs of the last evaluation
(warm starts of the next; NaN: none).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kernel import kernel_of
from .channel import ChannelAverages, channel_averages
from .losses import CrossEntropy, student_loss
from .prior import prior_update
from .quadrature import block_grid
from .setting import MulticlassSetting
from .state import MulticlassState

__all__ = ["MapProblem", "map_problem", "rs_map", "learner_losses", "warm_sizes", "split_warm", "solver_map"]


@dataclass(frozen=True)
class MapProblem:
    """losses : the K losses in chain order.  pi (C,), G (C, C), alpha (samples per dimension of the
    samples the chain trains on), delta, lams (K,), eta : numbers (possibly traced).  fixed : a fixed
    teacher's reduced (M_0 (D, C), Q_00 (D, D), b_0 (D,)), or None."""

    losses: tuple
    pi: object
    G: object
    alpha: object
    delta: object
    lams: object
    eta: object
    fixed: tuple | None


def learner_losses(s: MulticlassSetting, xi=None, tau=None) -> list:
    """Loss of each learner in chain order: CE for the teacher, (1 - xi) CE + xi soft for students
    (xi, tau: traced replacements of the setting's, or None)."""
    stud = student_loss(s.classes, s.xi if xi is None else xi, s.soft, s.tau if tau is None else tau, s.tau2_factor)
    return [CrossEntropy(s.classes)] + [stud] * s.generations


def map_problem(s: MulticlassSetting, fixed: tuple | None, losses=None) -> MapProblem:
    """The NumPy MapProblem of a setting (``fixed``: the teacher's reduced overlaps when it is frozen)."""
    return MapProblem(tuple(learner_losses(s) if losses is None else losses), s.p, s.G,
                      s.alpha_chain if fixed is not None else s.alpha, s.delta, s.lams(), s.eta, fixed)


def rs_map(state: MulticlassState, p: MapProblem, order, warm=None, cache: dict | None = None,
           train: bool = False) -> tuple[MulticlassState, ChannelAverages]:
    """One pass of the saddle-point equations (see the module docstring); (new state, channel averages)."""
    xp = kernel_of(state.M, state.Q, state.V, state.b, p.alpha, p.delta, p.lams, p.eta).xp
    fixed = p.fixed
    ch = channel_averages(p.losses, state.M, state.Q, state.V, state.b, p.pi, p.alpha, p.delta, order, cache, train,
                          fixed is not None, warm)
    M, Q, V = prior_update(ch.M_hat, ch.Q_hat, ch.V_hat, p.lams, p.G, p.eta, None if fixed is None else fixed[:2])
    K, D = state.b.shape
    b = state.b.ravel()
    first = D if fixed is not None else 0     # a fixed teacher keeps its bias
    b = xp.concatenate([b[:first], b[first:] - xp.linalg.solve(ch.J[first:, first:], ch.Ef.ravel()[first:])])
    if fixed is not None:
        M = xp.concatenate([xp.asarray(fixed[0])[None], M[1:]])
        b = xp.concatenate([xp.asarray(fixed[2]), b[D:]])
    return MulticlassState(M, Q, V, b.reshape(K, D)), ch


def warm_sizes(K: int, C: int, order) -> list[int]:
    """Sizes of the flattened prox outputs of each learner (its grid points x D)."""
    D = C - 1
    orders = tuple(order) if np.ndim(order) else (int(order),) * K
    sizes, P = [], C
    for k in range(K):
        P *= len(block_grid(orders[k], D)[1])
        sizes.append(P * D)
    return sizes


def split_warm(h, K: int, C: int, order) -> list:
    """The flat prox outputs h as one (points, D) array per learner."""
    cuts = np.cumsum(warm_sizes(K, C, order))[:-1]
    return [w.reshape(-1, C - 1) for w in kernel_of(h).xp.split(h, cuts)]


def solver_map(p: MapProblem, order, K: int, C: int):
    """``F(x, h) -> (F(x), h_new, bad)`` for the shared driver: the packed map with carried prox outputs."""
    D = C - 1

    def F(x, h):
        xp = kernel_of(x, h).xp
        warm = split_warm(h, K, C, order)
        new, ch = rs_map(MulticlassState.unpack(x, K, D, C), p, order, warm)
        y = new.pack()
        return y, xp.concatenate([a.ravel() for a in ch.h]), ~xp.all(xp.isfinite(y))
    return F
