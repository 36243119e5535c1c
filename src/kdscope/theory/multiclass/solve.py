"""Solve the multi-class replica saddle point: the fixed-point map and the driver.

``solve_multiclass(setting)`` iterates the pure map  state -> channel averages -> prior -> bias
Newton step  (:func:`saddle_map`) through the shared driver of the binary engine
(``theory.fixed_point.iterate_with_fallback`` on the NumPy kernel: damping, Anderson acceleration,
run-away-norm detection, the plain-damping fallback, and the same :class:`Status` values), then
re-evaluates the map with a finer quadrature rule to estimate the integration error.  "converged"
means the fixed point, the bias stationarity *and* the integrals are within their tolerances.

The state (``state.py``) lives in reduced coordinates (D = C - 1 per learner, fixed Helmert basis
U); the result (``records.py``) reports full C-dimensional quantities (M_full = U M,
Q_full = U Q U^T, b_full = U b, so sum_c b_c = 0).  Teacher kinds: trained on the students'
samples; trained on its own alpha d samples (``alpha_s`` set: solved alone first, then frozen); or
given (``teacher='fixed'``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..fixed_point import STATUS_OF_CODE, FixedPointOptions, Status, iterate_with_fallback
from ..kernel import NUMPY
from ..thresholds import separability_threshold
from .channel import ChannelAverages
from .gram import helmert_basis
from .observables import agreement, bayes_error, oracle_error, generalization_error
from .quadrature import default_order
from .records import MulticlassSaddlePoint, suffix
from .rs_map import learner_losses, map_problem, rs_map, solver_map, split_warm, warm_sizes
from .setting import MulticlassSetting
from .state import MulticlassState, given_teacher, initial_state, state_norm, valid_rows

__all__ = ["MulticlassState", "MulticlassSolverOptions", "MulticlassSaddlePoint", "MulticlassNotConverged",
           "initial_state", "saddle_map", "given_teacher", "fresh_teacher_setting", "separable_learner", "solve_multiclass", "learner_losses",
           "suffix"]


class MulticlassNotConverged(RuntimeError):
    """The multi-class saddle-point iteration did not converge (or its integrals are not accurate).

    Physics behind it: a learner without ridge has no finite minimiser while its training set
    is separable (its norm diverges); a student matching soft targets without ridge has a
    diverging response at its interpolation threshold.  The message names the status and a fix.
    """

    def __init__(self, setting, status: Status, residual: float, n_iter: int, quad_error: float):
        self.setting, self.status, self.residual, self.n_iter = setting, status, residual, n_iter
        fix = {Status.DIVERGED: "add ridge (lam_t / lam_s > 0) or increase alpha",
               Status.NO_FINITE_MINIMISER: "add ridge (lam_t / lam_s > 0) or increase alpha",
               Status.NON_FINITE: "add ridge or move away from a threshold",
               Status.NOT_STATIONARY: "add ridge or start cold",
               Status.INACCURATE: "raise the quadrature order",
               Status.MAX_ITER: "raise max_iter or lower damping"}.get(status, "")
        super().__init__(f"solve_multiclass({setting}) {status.value}: residual={residual:.3g} after {n_iter} "
                         f"iterations, quadrature error {quad_error:.2g}; {fix}.")


@dataclass(frozen=True)
class MulticlassSolverOptions:
    """Numerics (not physics).  order: Gauss-Hermite nodes per dimension (None: ``default_order``);
    fine_order: the accuracy-check rule (None: each order n raised to n + max(2, n // 4)); quad_tol:
    tolerance on the quadrature error estimate (the relative change of the saddle-point map between
    the two rules; test errors move ~100x less); refinements: how many times the teacher's order is
    raised 1.5x (students' +1) and the iteration continued when the error exceeds quad_tol (large
    norms at small ridge sharpen the integrands); the rest as ``theory.fixed_point.FixedPointOptions``
    (the shared driver; ``bound`` applies to the largest diagonal entry of Q, and beyond
    ``fixed_point.ANDERSON_PHASE`` iterations the driver falls back to plain damped iteration).
    The iteration first converges to 1e-6 on a coarser rule (half the teacher's order), then refines.
    backend: the kernel that runs the iteration, 'numpy' or 'jax' (the same map and driver, compiled
    with ``jax.jit``; one compilation per structure and quadrature order, the numbers traced); the
    accuracy check and the observables are NumPy either way."""

    order: int | None = None
    fine_order: int | None = None
    quad_tol: float = 1e-4
    tol: float = 1e-9
    max_iter: int = 600
    damping: float = 0.7
    memory: int = 5
    bound: float = 1e8
    refinements: int = 2
    backend: str = "numpy"

    def __post_init__(self) -> None:
        if self.backend not in ("numpy", "jax"):
            raise ValueError(f"MulticlassSolverOptions: 'backend' must be one of {{'numpy', 'jax'}}; got "
                             f"{self.backend!r}.")

    def fixed_point(self, tol: float, max_iter: int) -> FixedPointOptions:
        """The shared driver's options for one stage (its own tolerance and iteration budget)."""
        return FixedPointOptions(tol=tol, max_iter=max(1, max_iter), damping=self.damping, memory=self.memory,
                                 bound=self.bound)

def saddle_map(state: MulticlassState, s: MulticlassSetting, order, losses=None,
               cache: dict | None = None, train: bool = False,
               fixed: tuple | None = None) -> tuple[MulticlassState, ChannelAverages]:
    """One pass of the saddle-point equations of a setting (``rs_map.rs_map`` on its NumPy MapProblem).

    The bias solves E[f_k] = 0 by a Newton step with the block lower-triangular Jacobian
    J = E[df / domega] (each b_k moves omega_k only).  ``fixed``: reduced (M_0, Q_00, b_0) of a
    fixed teacher (default: ``given_teacher(s)``; required for a fresh-sample ERM teacher, whose
    overlaps come from its own solve); its row stays frozen and the students train on alpha_s d
    samples.
    """
    fixed = given_teacher(s) if fixed is None else fixed
    if s.fixed_teacher and fixed is None:
        raise ValueError("saddle_map: a fresh-sample teacher (alpha_s set) needs its overlaps 'fixed' from its own "
                         "solve (solve_multiclass does this).")
    return rs_map(state, map_problem(s, fixed, losses), order, cache=cache, train=train)


def _run(s: MulticlassSetting, fixed, order, x0: np.ndarray, fp: FixedPointOptions, backend: str):
    """Iterate the map of ``s`` on the rule ``order`` with the shared driver on the chosen kernel;
    (x, Status, residual, iterations, the last prox outputs)."""
    K, C = s.n_learners, s.classes
    D = C - 1
    if backend == "jax":
        from .jax_engine import run_jax
        x, code, res, it, h = run_jax(s, fixed, order, x0, fp)
        return x, STATUS_OF_CODE[int(code)], float(res), int(it), h
    F = solver_map(map_problem(s, fixed), order, K, C)

    def F_safe(x, h):
        try:
            return F(x, h)
        except np.linalg.LinAlgError:
            return x, h, np.True_

    h0 = np.full(sum(warm_sizes(K, C, order)), np.nan)
    x, code, res, it, h = iterate_with_fallback(NUMPY, F_safe, x0, h0, fp, lambda Y: valid_rows(Y, K, D, C),
                                                lambda y: state_norm(y, K, D, C))
    return np.asarray(x, dtype=float), STATUS_OF_CODE[int(code)], float(res), int(it), h


def _stationary(ch: ChannelAverages, s: MulticlassSetting, alpha: float, rtol: float = 1e-6) -> bool:
    """Every trained learner's bias condition E[f_k] = 0, relative to its force's size sqrt(E|f_k|^2)."""
    D = s.classes - 1
    for k in range(s.n_learners):
        sl = slice(k * D, (k + 1) * D)
        Eff = np.trace(ch.Q_hat[sl, sl]) / (alpha * s.delta)
        if np.max(np.abs(ch.Ef[k])) > rtol * np.sqrt(max(Eff, 0.0)) + 1e-8:
            return False
    return True


def _no_minimiser(s: MulticlassSetting, status: Status) -> Status:
    """A run-away norm with a ridge-free learner is reported as having no finite minimiser (the
    training set is separable for that learner), as the binary engine does."""
    if status is Status.DIVERGED and np.any(s.lams() == 0):
        return Status.NO_FINITE_MINIMISER
    return status


def separable_learner(s: MulticlassSetting) -> int | None:
    """For C = 2, the first learner without ridge whose training set is separable (no finite minimiser),
    decided by the binary separability threshold before any iteration, as the binary engine does; else None.

    The teacher (trained, lam_t = 0): alpha < alpha*(delta, pi_0); a label-only student (xi = 0,
    lam_s = 0): alpha_S < eta alpha*(delta / eta, pi_0).  For C >= 3 the threshold is not computed: the
    driver detects the run-away norm instead.
    """
    if s.classes != 2:
        return None
    if s.teacher == "erm" and s.lam_t == 0 and s.alpha < separability_threshold(s.delta, s.p[0]):
        return 0
    if s.generations and s.lam_s == 0 and s.xi == 0 and \
            s.alpha_chain < separability_threshold(s.delta, s.p[0], s.eta):
        return 1
    return None


def _solve_from(s: MulticlassSetting, opts: MulticlassSolverOptions, x: np.ndarray, order: tuple, cold: bool,
                losses: list, fixed: tuple | None):
    """Converge from ``x``: coarse rule first (cold starts), then ``order``, raising the order while the
    quadrature error exceeds ``quad_tol``.  Returns (x, status, residual, iterations, quad_error, order, ch)."""
    K, C = s.n_learners, s.classes
    D = C - 1
    coarse = (max(8, order[0] // 2),) + tuple(max(3, n - 2) for n in order[1:])
    stages = [(coarse, max(opts.tol, 1e-6)), (order, opts.tol)] if coarse != order and cold else [(order, opts.tol)]
    n_iter, quad_error, ch = 0, np.nan, None
    status, residual = Status.MAX_ITER, np.inf
    for attempt in range(opts.refinements + 1):
        for order_, tol_ in stages:
            x, status, residual, it, h = _run(s, fixed, order_, x, opts.fixed_point(tol_, opts.max_iter - n_iter),
                                              opts.backend)
            n_iter += it
            if status is not Status.CONVERGED or n_iter >= opts.max_iter:
                break
        if status is not Status.CONVERGED:
            break
        state = MulticlassState.unpack(x, K, D, C)
        fine = opts.fine_order or tuple(n + max(2, n // 4) for n in order)
        problem = map_problem(s, fixed, losses)
        new, ch = rs_map(state, problem, order, warm=split_warm(h, K, C, order), train=True)
        if opts.backend == "jax":
            from .jax_engine import map_jax
            b = map_jax(s, fixed, fine, x)
        else:
            b = rs_map(state, problem, fine)[0].pack()
        a = new.pack()
        quad_error = float(np.max(np.abs(a - b) / (1.0 + np.abs(b))))
        if not _stationary(ch, s, s.alpha_chain if fixed is not None else s.alpha):
            status = Status.NOT_STATIONARY
            break
        if quad_error <= opts.quad_tol:
            break
        status = Status.INACCURATE
        if attempt < opts.refinements and opts.fine_order is None:  # raise the order, warm start
            order = (int(round(1.5 * order[0])),) + tuple(n + 1 for n in order[1:])
            stages = [(order, opts.tol)]
    return x, _no_minimiser(s, status), residual, n_iter, quad_error, order, ch


def solve_multiclass(setting: MulticlassSetting, options: MulticlassSolverOptions | None = None,
                     initial: MulticlassState | None = None, on_failure: str = "raise") -> MulticlassSaddlePoint:
    """Solve the saddle point of a :class:`MulticlassSetting` (see the module docstring).

    initial : a warm start (the state of a nearby point with the same classes and learners); if the
        iteration from it fails, it is retried once from the cold start.
    on_failure : 'raise' (default: :class:`MulticlassNotConverged`) or 'record' (return the
        result with its status; observables are NaN unless converged or merely inaccurate).
    """
    if on_failure not in ("raise", "record"):
        raise ValueError(f"on_failure must be one of {{'raise', 'record'}}; got {on_failure!r}.")
    t0 = time.perf_counter()
    opts = options or MulticlassSolverOptions()
    s = setting
    K, C = s.n_learners, s.classes
    D = C - 1
    order = opts.order or default_order(K, D)
    order = tuple(order) if np.ndim(order) else (int(order),) * K
    losses = learner_losses(s)
    if separable_learner(s) is not None:
        return _failed(s, Status.NO_FINITE_MINIMISER, np.nan, 0, t0, np.nan, order, on_failure)
    teacher = None
    fixed = given_teacher(s)
    if s.teacher == "erm" and s.alpha_s is not None:  # fresh samples: the teacher alone first, then frozen
        teacher = solve_multiclass(fresh_teacher_setting(s), options, on_failure="record")
        if teacher.status is not Status.CONVERGED:
            return _failed(s, teacher.status, teacher.residual, teacher.n_iter, t0, teacher.quad_error, order,
                           on_failure, teacher)
        fixed = (teacher.state.M[0], teacher.state.Q[:D, :D], teacher.state.b[0])
    warm = initial is not None and initial.M.shape == (K, D, C)
    x0 = (initial if warm else initial_state(s, fixed)).pack()
    with np.errstate(over="ignore", under="ignore"):
        x, status, residual, n_iter, quad_error, order_used, ch = _solve_from(s, opts, x0, order, not warm, losses,
                                                                              fixed)
        if warm and status is not Status.CONVERGED:  # a distant warm start can lead astray: one cold retry
            x, status, residual, it, quad_error, order_used, ch = _solve_from(s, opts, initial_state(s, fixed).pack(),
                                                                              order, True, losses, fixed)
            n_iter += it
    if teacher is not None:
        n_iter += teacher.n_iter
        quad_error = max(quad_error, teacher.quad_error)
    state = MulticlassState.unpack(x, K, D, C)
    nan = np.full(K, np.nan)
    eps, eps_train, loss_train, agree = nan, nan, nan, np.full(K, np.nan)
    if status in (Status.CONVERGED, Status.INACCURATE) and ch is not None:
        eps_train, loss_train = ch.train_error.copy(), ch.train_loss.copy()
        if teacher is not None:  # the teacher's training observables are those on its own samples
            eps_train[0], loss_train[0] = teacher.eps_train[0], teacher.loss_train[0]
        U = helmert_basis(C)
        Mf = [U @ state.M[k] for k in range(K)]
        bf = [U @ state.b[k] for k in range(K)]
        Qf = lambda i, j: U @ state.Q[i * D:(i + 1) * D, j * D:(j + 1) * D] @ U.T  # noqa: E731
        eps = np.array([generalization_error(Mf[k], bf[k], Qf(k, k), s.delta, s.p) for k in range(K)])
        agree = np.array([1.0] + [agreement(Mf[0], bf[0], Mf[k], bf[k], Qf(0, 0), Qf(k, k), Qf(0, k), s.delta, s.p)
                                  for k in range(1, K)])
    sp = MulticlassSaddlePoint(s, state, status, residual, n_iter, time.perf_counter() - t0, quad_error, order_used,
                               eps, eps_train, loss_train, agree, bayes_error(s.G, s.p, s.alpha, s.delta),
                               oracle_error(s.G, s.p, s.delta), teacher)
    if status is not Status.CONVERGED and on_failure == "raise":
        raise MulticlassNotConverged(s, status, residual, n_iter, quad_error)
    return sp


def fresh_teacher_setting(s: MulticlassSetting) -> MulticlassSetting:
    """The ERM teacher of a fresh-sample setting, alone on its own alpha d samples."""
    return s.replace(generations=0, alpha_s=None, eta=1.0)


def _failed(s, status, residual, n_iter, t0, quad_error, order, on_failure, teacher=None):
    """The record of a solve that failed before its own iteration (e.g. its fresh-sample teacher)."""
    K, D, C = s.n_learners, s.classes - 1, s.classes
    nan = np.full(K, np.nan)
    st = MulticlassState(np.full((K, D, C), np.nan), np.full((K * D, K * D), np.nan), np.full((K * D, K * D), np.nan),
                         np.full((K, D), np.nan))
    sp = MulticlassSaddlePoint(s, st, status, residual, n_iter, time.perf_counter() - t0, quad_error, order, nan, nan,
                               nan, nan, bayes_error(s.G, s.p, s.alpha, s.delta), oracle_error(s.G, s.p, s.delta),
                               teacher)
    if on_failure == "raise":
        raise MulticlassNotConverged(s, status, residual, n_iter, quad_error)
    return sp
