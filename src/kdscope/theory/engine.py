"""Engines iterate the rows that the driver (``theory.solve.solve_many``) hands them.

A :class:`RowTask` is one chain to iterate: its Setting, its :class:`RowProblem`
(losses, numbers, quadrature), a start vector in solver coordinates and, for a
block solve, the frozen upstream coordinates.  An engine returns a
:class:`RowResult` per task: the last iterate, its status, residual and
iteration count.  The NumPy engine here iterates the tasks one after the other;
the JAX engine (``theory.jax_backend``) compiles groups of them.  Both run the
same map (``theory.rs_map``) and the same iteration (``theory.fixed_point``);
:func:`finish` turns any engine's result into a SaddlePoint with NumPy.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .channel import channel_averages
from .fixed_point import DIVERGED, NON_FINITE, STATUS_OF_CODE, Status, iterate_with_fallback
from .kernel import NUMPY
from .losses import chain_losses
from .observables import agreement, generalization_error
from .options import SolverOptions
from .quadrature import default_order, label_measure
from .records import SaddlePoint, failed_point
from .rs_map import RowProblem, conjugates, evaluate
from .setting import Setting
from .state import State, is_valid, norm
from .train_error import train_error_last


@dataclass(frozen=True)
class RowTask:
    """One chain to iterate: its problem on the Gauss-Hermite rule of ``order`` nodes per dimension,
    x0 the start, frozen the pinned upstream coordinates (or None)."""

    setting: Setting
    problem: RowProblem
    order: int
    x0: np.ndarray
    frozen: np.ndarray | None


@dataclass(frozen=True)
class RowResult:
    """How the iteration of one row ended."""

    x: np.ndarray
    status: Status
    residual: float
    n_iter: int
    seconds: float
    detail: str = ""


def problem_order(s: Setting, opts: SolverOptions) -> int:
    """The Gauss-Hermite order of a Setting's chain."""
    return opts.order or default_order(s.n_learners)


def row_problem(s: Setting, fixed: tuple | None, opts: SolverOptions, order: int | None = None) -> RowProblem:
    """The NumPy RowProblem of Setting ``s`` (``fixed``: a frozen teacher's (m0, q0, b0), or None)."""
    K = s.n_learners
    alpha = (s.alpha_s if s.alpha_s is not None else s.alpha) if fixed is not None else s.alpha
    lam = np.array([s.lam_t] + [s.lam_s] * s.generations, dtype=float)
    measure = label_measure(K, s.rho, s.theta, order or problem_order(s, opts))
    return RowProblem(tuple(chain_losses(s)), measure, alpha, s.delta, s.eta, lam, fixed, s.bias)


def result_of(x, code: int, residual: float, n_iter: int, seconds: float, K: int) -> RowResult:
    """A RowResult from the iteration's raw outputs (status code, with a detail sentence)."""
    status = STATUS_OF_CODE[int(code)]
    detail = ""
    if code == NON_FINITE:
        detail = f"at iteration {int(n_iter)}"
    elif code == DIVERGED:
        detail = f"norm {float(norm(np.asarray(x), K)):.3g} after {int(n_iter)} iterations"
    return RowResult(np.asarray(x, dtype=float), status, float(residual), int(n_iter), seconds, detail)


class AbstractEngine:
    """Iterates rows: ``solve_rows(tasks, options) -> list[RowResult]`` in task order."""

    def solve_rows(self, tasks: Sequence[RowTask], options: SolverOptions) -> list[RowResult]:
        raise NotImplementedError


class NumpyEngine(AbstractEngine):
    """The NumPy engine: each row iterated in Python (``fixed_point.iterate_with_fallback``)."""

    def solve_rows(self, tasks, options):
        return [self._one(t, options) for t in tasks]

    @staticmethod
    def _one(t: RowTask, options: SolverOptions) -> RowResult:
        t0 = time.perf_counter()
        K = t.problem.K
        h0 = np.full((K, t.problem.measure.w.size), np.nan)

        def F(x, h):
            return evaluate(t.problem, x, h, t.frozen)

        # overflow of exp in a far transient is harmless (the iterate is rejected or flagged as diverged)
        with np.errstate(over="ignore", under="ignore"):
            x, code, res, it, _ = iterate_with_fallback(NUMPY, F, t.x0, h0, options.fixed_point(),
                                                        lambda Y: is_valid(Y, K), lambda y: norm(y, K))
        return result_of(x, code, res, it, time.perf_counter() - t0, K)


NUMPY_ENGINE = NumpyEngine()


def stationary(Ef, Eff, K: int, fixed_teacher: bool, rtol: float = 1e-6) -> bool:
    """The last learner's bias condition E[f_a] = 0, relative to its force's size sqrt(E[f_a^2]).

    Upstream learners were checked in their own (block) solves, on their own quadrature.
    """
    a = K - 1
    if a == 0 and fixed_teacher:
        return True
    # absolute floor: E[f] is resolved only to about the iteration tolerance when the force itself vanishes
    return bool(abs(Ef[a]) <= rtol * np.sqrt(Eff[a, a]) + 1e-8)


def finish(task: RowTask, r: RowResult, opts: SolverOptions) -> SaddlePoint:
    """The SaddlePoint of a row's result: observables at the solution (NumPy), or the failure."""
    s, p = task.setting, task.problem
    K = s.n_learners
    order = task.order
    if r.status is not Status.CONVERGED:
        return failed_point(s, r.status, r.residual, r.n_iter, r.seconds, r.detail, order)
    st = State.from_solver(r.x, K)
    fixed = p.fixed is not None
    ch = channel_averages(p.losses, st.m, st.Q, st.V, st.b, s.delta, p.measure, fixed, with_train=True)
    if s.bias and not stationary(ch.Ef, ch.Eff, K, fixed):
        return failed_point(s, Status.NOT_STATIONARY, r.residual, r.n_iter, r.seconds, f"E[f] = {ch.Ef.tolist()}",
                            order)
    m_hat, Q_hat, V_hat = conjugates(p, ch)
    eps = np.array([generalization_error(st.m[a], st.Q[a, a], st.b[a], s.delta, s.rho) for a in range(K)])
    eps_train, loss_train = np.array(ch.train_err, dtype=float), np.array(ch.train_loss, dtype=float)
    if K >= 2:
        eps_train[K - 1] = train_error_last(list(p.losses), st.m, st.Q, st.V, st.b, s.delta, s.rho, s.theta, fixed,
                                            order=min(order, 24))
    agr = (agreement(st.m[0], st.m[1], st.Q[0, 0], st.Q[1, 1], st.Q[0, 1], st.b[0], st.b[1], s.delta, s.rho)
           if K > 1 else math.nan)
    return SaddlePoint(s, st, m_hat, Q_hat, V_hat, Status.CONVERGED, r.residual, r.n_iter, r.seconds, eps, eps_train,
                       loss_train, np.array(ch.train_mse, dtype=float), agr, None, "", order)
