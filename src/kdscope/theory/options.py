"""Numerical options of the solver, validated like a Setting: one constraint per field.

These are not physics: they say how the saddle point is computed (quadrature
order, tolerances, iteration budget, damping, Anderson memory, divergence bound).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .constraints import Interval, field_problems
from .fixed_point import FixedPointOptions
from .quadrature import MAX_NODES, MAX_ORDER, MIN_ORDER, max_order


class SolverOptionsError(ValueError):
    """A numerical option of the solver is outside the range where the solver is meaningful.

    A tolerance must be positive and finite, a damping weight lies in (0, 1],
    iteration counts are positive integers, and a Gauss-Hermite rule needs at
    least MIN_ORDER nodes to resolve a logistic force (fewer nodes give silently
    wrong integrals) and at most as many as fit in memory (order^K nodes for K
    learners).  The message names every offending option, its range and value.
    """


@dataclass(frozen=True)
class SolverOptions:
    """Numerical options of :func:`kdscope.theory.solve` (not part of the physics).

    order : Gauss-Hermite nodes per dimension, or None (default) for the
        automatic rule: start at ``quadrature.DEFAULT_ORDER`` and raise the order
        until the quadrature error estimate is below ``quad_tol``
        (``theory.accuracy``).  One order serves the whole chain.  An explicit
        order is used as given (its error estimate is still reported).
    quad_tol : tolerance of the quadrature error estimate (relative change of
        m, Q, V at the solution under a finer rule), default 1e-7.
    max_order : the largest order the automatic rule may reach (also bounded by
        ``quadrature.MAX_NODES`` nodes in K dimensions: 500 for K = 2, 62 for K = 3).
    tol : residual at which the fixed-point iteration stops (relative change of
        the solver coordinates), default 1e-10.
    max_iter : iteration budget, default 3000.
    damping : weight of the new iterate in a plain step, in (0, 1].
    memory : Anderson history length (0: plain damped iteration).
    bound : a norm max(Q_aa, b_a^2) above it reports divergence.
    """

    order: int | None = None
    tol: float = 1e-10
    max_iter: int = 3000
    damping: float = 0.7
    memory: int = 6
    bound: float = 1e8
    quad_tol: float = 1e-7
    max_order: int = 2000

    def __post_init__(self) -> None:
        problems = field_problems(self, OPTION_CONSTRAINTS)
        if problems:
            raise SolverOptionsError("SolverOptions: " + " ".join(problems))

    def replace(self, **changes) -> "SolverOptions":
        return dataclasses.replace(self, **changes)

    def fixed_point(self, max_iter: int | None = None) -> FixedPointOptions:
        """The options of ``fixed_point.iterate``."""
        return FixedPointOptions(tol=self.tol, max_iter=self.max_iter if max_iter is None else max_iter,
                                 damping=self.damping, memory=self.memory, bound=self.bound)

    def check_order(self, K: int) -> None:
        """Raise SolverOptionsError if ``order`` makes a K-learner grid too large (before any allocation)."""
        if self.order is not None and self.order > max_order(K):
            raise SolverOptionsError(
                f"SolverOptions: 'order'={self.order} gives {self.order}^{K} quadrature nodes for K={K} learners, "
                f"more than {MAX_NODES:.0e}; use order <= {max_order(K)}.")

    def order_cap(self, K: int) -> int:
        """The largest order the automatic rule may use for K learners (max_order, within the memory bound)."""
        return min(self.max_order, max_order(K))


#: One constraint per option (the same objects as Setting's table).
OPTION_CONSTRAINTS = {
    "order": Interval(MIN_ORDER, MAX_ORDER, integer=True, optional=True),
    "tol": Interval(0.0, 1e-2, open_lo=True),
    "max_iter": Interval(1, 1_000_000, integer=True),
    "damping": Interval(0.0, 1.0, open_lo=True),
    "memory": Interval(0, 50, integer=True),
    "bound": Interval(0.0, 1e300, open_lo=True),
    "quad_tol": Interval(0.0, 1e-2, open_lo=True),
    "max_order": Interval(MIN_ORDER, MAX_ORDER, integer=True),
}
