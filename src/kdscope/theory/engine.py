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

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .channel import CACHE_ROWS, channel_averages
from .fixed_point import DIVERGED, NON_FINITE, STATUS_OF_CODE, Status, iterate_with_fallback
from .kernel import NUMPY
from .losses import chain_losses
from .observables import agreement, generalization_error
from .options import SolverOptions
from .quadrature import label_measure, max_order
from .records import SaddlePoint, failed_point
from .rs_map import RowProblem, conjugates, evaluate
from .setting import Setting
from .state import State, from_solver, is_valid, norm
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
    chain: object = None


#: The Gauss-Hermite error of the map falls at least like order^-ORDER_POWER (measured at large-norm
#: logistic points, where it is slowest: about order^-4.3); used to predict the order that meets a tolerance.
ORDER_POWER = 4.0


def next_order(n: int, cap: int, err: float = math.nan, tol: float = math.nan) -> int:
    """The next order to try after ``n``: the smallest rung of the ladder n_j = ceil(8 * 1.5^j) that is at
    least ceil(1.5 n) and, with an error estimate ``err`` above ``tol``, at least the order predicted by
    err ~ order^-ORDER_POWER (times 1.1); at most ``cap``.  A fixed ladder bounds the number of distinct
    orders (each one a compilation for the JAX engine)."""
    want = 1.5 * n
    if math.isfinite(err) and math.isfinite(tol) and err > tol:
        want = max(want, 1.1 * (err / tol) ** (1.0 / ORDER_POWER) * n)
    rung = 8
    while rung < want:
        rung = math.ceil(1.5 * rung)
    return int(min(cap, rung))


def row_problem(s: Setting, fixed: tuple | None, order: int) -> RowProblem:
    """The NumPy RowProblem of Setting ``s`` on the Gauss-Hermite rule of ``order`` nodes per dimension
    (``fixed``: a frozen teacher's (m0, q0, b0), or None)."""
    K = s.n_learners
    alpha = (s.alpha_s if s.alpha_s is not None else s.alpha) if fixed is not None else s.alpha
    lam = np.array([s.lam_t] + [s.lam_s] * s.generations, dtype=float)
    return RowProblem(tuple(chain_losses(s)), label_measure(K, s.rho, s.theta, order), alpha, s.delta, s.eta, lam,
                      fixed, s.bias)


def quadrature_error(task: RowTask, x: np.ndarray, finer: int) -> float:
    """The quadrature error estimate of a solution x: the map re-evaluated at x on the finer rule.

    Returns the largest change of m, Q, V, relative to their natural scales:
    |dm_a| / sqrt(Q_aa), |dQ_ab| / sqrt(Q_aa Q_bb), |dV_ab| / sqrt(V_aa V_bb)
    (for the diagonal: the relative change of Q_aa and V_aa).  At a fixed point
    of the coarse map this is the difference between one coarse and one fine
    evaluation of the integrals.  NaN when no finer rule is allowed.
    """
    if finer <= task.order:
        return math.nan
    K = task.problem.K
    p = dataclasses.replace(task.problem, measure=label_measure(K, task.setting.rho, task.setting.theta, finer))
    with np.errstate(over="ignore", under="ignore"):
        y, _, bad = evaluate(p, x, None, task.frozen)
    if bad or not np.all(np.isfinite(y)):
        return math.inf
    m0, Q0, V0, _ = from_solver(x, K)
    m1, Q1, V1, _ = from_solver(y, K)
    dq, dv = np.sqrt(np.diagonal(Q0)), np.sqrt(np.diagonal(V0))
    return float(max(np.max(np.abs(m1 - m0) / dq), np.max(np.abs(Q1 - Q0) / np.outer(dq, dq)),
                     np.max(np.abs(V1 - V0) / np.outer(dv, dv))))


def result_of(x, code: int, residual: float, n_iter: int, seconds: float, K: int, chain=None) -> RowResult:
    """A RowResult from the iteration's raw outputs (status code, with a detail sentence)."""
    status = STATUS_OF_CODE[int(code)]
    detail = ""
    if code == NON_FINITE:
        detail = f"at iteration {int(n_iter)}"
    elif code == DIVERGED:
        detail = f"norm {float(norm(np.asarray(x), K)):.3g} after {int(n_iter)} iterations"
    return RowResult(np.asarray(x, dtype=float), status, float(residual), int(n_iter), seconds, detail, chain)


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
        # overflow of exp in a far transient is harmless (the iterate is rejected or flagged as diverged)
        with np.errstate(over="ignore", under="ignore"):
            x, code, res, it, chain = _iterate(t.problem, t.x0, t.frozen, options.fixed_point())
        return result_of(x, code, res, it, time.perf_counter() - t0, t.problem.K, chain)


def _iterate(p: RowProblem, x0, frozen, fp):
    """Anderson iteration of the NumPy map of ``p`` from x0: (x, code, residual, iterations, chain cache)."""
    K = p.K
    # the chain cache of the last evaluation gives each prox a predicted start (NaN before the first: cold starts)
    h0 = np.full((CACHE_ROWS * K, p.measure.w.size), np.nan)

    def F(x, h):
        return evaluate(p, x, h, frozen)

    return iterate_with_fallback(NUMPY, F, x0, h0, fp, lambda Y: is_valid(Y, K), lambda y: norm(y, K))


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


def finish(task: RowTask, r: RowResult, opts: SolverOptions, control: SolverOptions | None = None) -> SaddlePoint:
    """The SaddlePoint of a row's result: observables at the solution (NumPy), or the failure.

    ``control``: the options of an automatic accuracy control (``order=None``).  A
    solution whose quadrature error estimate exceeds ``control.quad_tol`` is
    then returned without its observables (NaN): the driver solves it again at
    a higher order, and only the accepted order pays for them.
    """
    s, p = task.setting, task.problem
    K = s.n_learners
    order = task.order
    if r.status is not Status.CONVERGED:
        return failed_point(s, r.status, r.residual, r.n_iter, r.seconds, r.detail, order)
    st = State.from_solver(r.x, K)
    fixed = p.fixed is not None
    warm = r.chain[:K] if r.chain is not None else None  # the proxes at the solution
    ch = channel_averages(p.losses, st.m, st.Q, st.V, st.b, s.delta, p.measure, fixed, with_train=True, warm=warm)
    if s.bias and not stationary(ch.Ef, ch.Eff, K, fixed):
        return failed_point(s, Status.NOT_STATIONARY, r.residual, r.n_iter, r.seconds, f"E[f] = {ch.Ef.tolist()}",
                            order)
    quad_err = quadrature_error(task, r.x, next_order(order, max_order(K)))
    m_hat, Q_hat, V_hat = conjugates(p, ch)
    if control is not None and quad_err > control.quad_tol:  # (NaN: no finer rule allowed, nothing to decide)
        nan = np.full(K, np.nan)
        return SaddlePoint(s, st, m_hat, Q_hat, V_hat, Status.CONVERGED, r.residual, r.n_iter, r.seconds, nan, nan,
                           nan, np.full((K, K), np.nan), math.nan, None, "", order, quad_err)
    eps = np.array([generalization_error(st.m[a], st.Q[a, a], st.b[a], s.delta, s.rho) for a in range(K)])
    eps_train, loss_train = np.array(ch.train_err, dtype=float), np.array(ch.train_loss, dtype=float)
    if K >= 2:
        eps_train[K - 1] = train_error_last(list(p.losses), st.m, st.Q, st.V, st.b, s.delta, s.rho, s.theta, fixed,
                                            order=min(order, 24))
    agr = (agreement(st.m[0], st.m[1], st.Q[0, 0], st.Q[1, 1], st.Q[0, 1], st.b[0], st.b[1], s.delta, s.rho)
           if K > 1 else math.nan)
    return SaddlePoint(s, st, m_hat, Q_hat, V_hat, Status.CONVERGED, r.residual, r.n_iter, r.seconds, eps, eps_train,
                       loss_train, np.array(ch.train_mse, dtype=float), agr, None, "", order, quad_err)
