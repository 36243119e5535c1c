"""Solve the multi-class replica saddle point: state, fixed-point map, driver, result.

``solve_multiclass(setting)`` iterates the pure map  state -> channel averages -> prior -> bias
Newton step  (:func:`saddle_map`) through the shared driver of the binary engine
(``theory.fixed_point.iterate_with_fallback`` on the NumPy kernel: damping, Anderson acceleration,
run-away-norm detection, the plain-damping fallback, and the same :class:`Status` values), then
re-evaluates the map with a finer quadrature rule to estimate the integration error.  "converged"
means the fixed point, the bias stationarity *and* the integrals are within their tolerances.

The state lives in reduced coordinates (D = C - 1 per learner, fixed Helmert basis U):
M (K, D, C), Q and V (KD x KD; V block lower triangular), b (K, D).  The result reports
full C-dimensional quantities (M_full = U M, Q_full = U Q U^T, b_full = U b, so sum_c b_c = 0).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .channel import ChannelAverages, channel_averages
from ..fixed_point import STATUS_OF_CODE, FixedPointOptions, Status, iterate_with_fallback
from ..kernel import NUMPY
from .gram import helmert_basis
from .losses import CrossEntropy, student_loss
from .observables import agreement, bayes_error, oracle_error, generalization_error
from .prior import prior_update
from .quadrature import default_order
from .setting import MulticlassSetting

__all__ = ["MulticlassState", "MulticlassSolverOptions", "MulticlassSaddlePoint", "MulticlassNotConverged",
           "initial_state", "saddle_map", "solve_multiclass", "learner_losses", "suffix"]


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
    The iteration first converges to 1e-6 on a coarser rule (half the teacher's order), then refines."""

    order: int | None = None
    fine_order: int | None = None
    quad_tol: float = 1e-4
    tol: float = 1e-9
    max_iter: int = 800
    damping: float = 0.8
    memory: int = 5
    bound: float = 1e8
    refinements: int = 2

    def fixed_point(self, tol: float, max_iter: int) -> FixedPointOptions:
        """The shared driver's options for one stage (its own tolerance and iteration budget)."""
        return FixedPointOptions(tol=tol, max_iter=max(1, max_iter), damping=self.damping, memory=self.memory,
                                 bound=self.bound)


@dataclass(frozen=True)
class MulticlassState:
    """Order parameters in reduced coordinates: M (K, D, C), Q (KD, KD), V (KD, KD), b (K, D)."""

    M: np.ndarray
    Q: np.ndarray
    V: np.ndarray
    b: np.ndarray

    def pack(self) -> np.ndarray:
        K, D, C = self.M.shape
        il = np.tril_indices(K * D)
        blocks = [self.V[k * D:(k + 1) * D, j * D:(j + 1) * D].ravel() for k in range(K) for j in range(k + 1)]
        return np.concatenate([self.M.ravel(), self.Q[il], *blocks, self.b.ravel()])

    @classmethod
    def unpack(cls, x: np.ndarray, K: int, D: int, C: int) -> "MulticlassState":
        n = K * D
        i = K * D * C
        M = x[:i].reshape(K, D, C)
        il = np.tril_indices(n)
        Q = np.zeros((n, n))
        Q[il] = x[i:i + len(il[0])]
        Q = Q + np.tril(Q, -1).T
        i += len(il[0])
        V = np.zeros((n, n))
        for k in range(K):
            for j in range(k + 1):
                V[k * D:(k + 1) * D, j * D:(j + 1) * D] = x[i:i + D * D].reshape(D, D)
                i += D * D
        return cls(M.copy(), Q, V, x[i:i + n].reshape(K, D).copy())


def learner_losses(s: MulticlassSetting) -> list:
    """Loss of each learner in chain order: CE for the teacher, (1 - xi) CE + xi soft for students."""
    stud = student_loss(s.classes, s.xi, s.soft, s.tau, s.tau2_factor)
    return [CrossEntropy(s.classes)] + [stud] * s.generations


def initial_state(s: MulticlassSetting) -> MulticlassState:
    """A valid starting point: W proportional to the means, isotropic noise part, unit-ish response."""
    K, C = s.n_learners, s.classes
    D = C - 1
    U = helmert_basis(C)
    G = s.G
    M1 = 0.5 * U.T @ G
    A = 0.25 * U.T @ G @ U
    Q = np.kron(np.ones((K, K)), A) + np.kron(0.25 * (np.ones((K, K)) + np.eye(K)), np.eye(D))
    V = np.kron(np.diag(1.0 / (s.lams() + 1.0)), np.eye(D))
    b = np.tile(U.T @ np.log(s.p), (K, 1))
    return MulticlassState(np.stack([M1] * K), Q, V, b)


def saddle_map(state: MulticlassState, s: MulticlassSetting, order, losses=None,
               cache: dict | None = None, train: bool = False) -> tuple[MulticlassState, ChannelAverages]:
    """One pass of the saddle-point equations: channel -> conjugates -> prior -> bias Newton step.

    The bias solves E[f_k] = 0 by a Newton step with the block lower-triangular Jacobian
    J = E[df / domega] (each b_k moves omega_k only).
    """
    losses = learner_losses(s) if losses is None else losses
    ch = channel_averages(losses, state.M, state.Q, state.V, state.b, s.p, s.alpha, s.delta, order, cache, train)
    M, Q, V = prior_update(ch.M_hat, ch.Q_hat, ch.V_hat, s.lams(), s.G)
    K, D = state.b.shape
    b = state.b.ravel() - np.linalg.solve(ch.J, ch.Ef.ravel())
    return MulticlassState(M, Q, V, b.reshape(K, D)), ch


def _valid_one(x: np.ndarray, K: int, D: int, C: int) -> bool:
    st = MulticlassState.unpack(x, K, D, C)
    for k in range(K):
        sl = slice(k * D, (k + 1) * D)
        Vk = st.V[sl, sl]
        if np.linalg.eigvalsh(0.5 * (Vk + Vk.T)).min() <= 0 or np.linalg.eigvalsh(st.Q[sl, sl]).min() < -1e-8:
            return False
    return True


def suffix(k: int) -> str:
    """Column suffix of learner k: t (teacher), s (first student), s2, s3 ..."""
    return "t" if k == 0 else ("s" if k == 1 else f"s{k}")


@dataclass(frozen=True)
class MulticlassSaddlePoint:
    """The solution: reduced ``state``, status, residual, iterations, time, quadrature error,
    and the observables (per learner: eps, eps_train, loss_train; agreement with the teacher)."""

    setting: MulticlassSetting
    state: MulticlassState
    status: Status
    residual: float
    n_iter: int
    seconds: float
    quad_error: float
    order: tuple
    eps: np.ndarray
    eps_train: np.ndarray
    loss_train: np.ndarray
    agreement: np.ndarray = field(default_factory=lambda: np.zeros(0))
    eps_bayes: float = np.nan
    eps_oracle: float = np.nan

    @property
    def converged(self) -> bool:
        return self.status is Status.CONVERGED

    def M_full(self, k: int) -> np.ndarray:
        """(C, C): M[j, c] = w_j . mu_c / d of learner k (rows sum to 0)."""
        return helmert_basis(self.setting.classes) @ self.state.M[k]

    def Q_full(self, a: int, b: int) -> np.ndarray:
        """(C, C): W_a W_b^T / d."""
        D = self.setting.classes - 1
        U = helmert_basis(self.setting.classes)
        return U @ self.state.Q[a * D:(a + 1) * D, b * D:(b + 1) * D] @ U.T

    def V_full(self, a: int, b: int) -> np.ndarray:
        D = self.setting.classes - 1
        U = helmert_basis(self.setting.classes)
        return U @ self.state.V[a * D:(a + 1) * D, b * D:(b + 1) * D] @ U.T

    def b_full(self, k: int) -> np.ndarray:
        """(C,): the bias of learner k in the gauge sum_c b_c = 0."""
        return helmert_basis(self.setting.classes) @ self.state.b[k]

    def record(self) -> dict:
        """Flat record: setting fields, per-learner M_x, Q_x, V_x, b_x (nested lists), eps_x,
        eps_train_x, loss_train_x (x = t, s, s2), Q_ts / agreement with the first student, baselines,
        converged, status, iterations, residual, quad_error, order, seconds."""
        s = self.setting
        rec = dict(s.to_dict())
        for k in range(s.n_learners):
            x = suffix(k)
            rec[f"M_{x}"] = self.M_full(k).tolist()
            rec[f"Q_{x}"] = self.Q_full(k, k).tolist()
            rec[f"V_{x}"] = self.V_full(k, k).tolist()
            rec[f"b_{x}"] = self.b_full(k).tolist()
            rec[f"eps_{x}"] = float(self.eps[k])
            rec[f"eps_train_{x}"] = float(self.eps_train[k])
            rec[f"loss_train_{x}"] = float(self.loss_train[k])
            if k >= 1:
                rec[f"Q_t{x}"] = self.Q_full(0, k).tolist()
                rec[f"agreement_t{x}" if k > 1 else "agreement"] = float(self.agreement[k])
        rec["eps_bayes"] = float(self.eps_bayes)
        rec["eps_oracle"] = float(self.eps_oracle)
        rec.update(converged=self.converged, status=self.status.value, iterations=int(self.n_iter),
                   residual=float(self.residual), quad_error=float(self.quad_error), order=list(self.order),
                   seconds=float(self.seconds))
        return rec


def _valid(Y: np.ndarray, K: int, D: int, C: int) -> np.ndarray:
    """The shared driver's domain test over the rows of Y: positive definite V_kk, PSD Q_kk."""
    return np.array([_valid_one(y, K, D, C) for y in Y])


def _norm(x: np.ndarray, K: int, D: int, C: int) -> float:
    """The size the driver watches for run-away growth: the largest diagonal entry of Q."""
    n = K * D
    i = K * D * C
    il = np.tril_indices(n)
    diag = x[i:i + len(il[0])][il[0] == il[1]]
    return float(np.max(np.abs(diag)))


def _run(fmap, x0: np.ndarray, fp: FixedPointOptions, K: int, D: int, C: int):
    """Iterate ``x = fmap(x)`` with the shared driver; (x, Status, residual, iterations)."""
    def F(x, h):
        try:
            y = fmap(x)
        except np.linalg.LinAlgError:
            return x, h, np.True_
        return y, h, ~np.all(np.isfinite(y))

    x, code, res, it, _ = iterate_with_fallback(NUMPY, F, x0, np.zeros(0), fp, lambda Y: _valid(Y, K, D, C),
                                                lambda y: _norm(y, K, D, C))
    return np.asarray(x, dtype=float), STATUS_OF_CODE[int(code)], float(res), int(it)


def _stationary(ch: ChannelAverages, s: MulticlassSetting, rtol: float = 1e-6) -> bool:
    """Every trained learner's bias condition E[f_k] = 0, relative to its force's size sqrt(E|f_k|^2)."""
    D = s.classes - 1
    for k in range(s.n_learners):
        sl = slice(k * D, (k + 1) * D)
        Eff = np.trace(ch.Q_hat[sl, sl]) / (s.alpha * s.delta)
        if np.max(np.abs(ch.Ef[k])) > rtol * np.sqrt(max(Eff, 0.0)) + 1e-8:
            return False
    return True


def _no_minimiser(s: MulticlassSetting, status: Status) -> Status:
    """A run-away norm with a ridge-free learner is reported as having no finite minimiser (the
    training set is separable for that learner), as the binary engine does."""
    if status is Status.DIVERGED and np.any(s.lams() == 0):
        return Status.NO_FINITE_MINIMISER
    return status


def _solve_from(s: MulticlassSetting, opts: MulticlassSolverOptions, x: np.ndarray, order: tuple, cold: bool,
                losses: list, cache: dict):
    """Converge from ``x``: coarse rule first (cold starts), then ``order``, raising the order while the
    quadrature error exceeds ``quad_tol``.  Returns (x, status, residual, iterations, quad_error, order, ch)."""
    K, C = s.n_learners, s.classes
    D = C - 1

    def make_map(order_):
        def fmap(x):
            new, _ = saddle_map(MulticlassState.unpack(x, K, D, C), s, order_, losses, cache)
            return new.pack()
        return fmap

    coarse = (max(8, order[0] // 2),) + tuple(max(3, n - 2) for n in order[1:])
    stages = [(coarse, max(opts.tol, 1e-6)), (order, opts.tol)] if coarse != order and cold else [(order, opts.tol)]
    n_iter, quad_error, ch = 0, np.nan, None
    status, residual = Status.MAX_ITER, np.inf
    for attempt in range(opts.refinements + 1):
        for order_, tol_ in stages:
            x, status, residual, it = _run(make_map(order_), x, opts.fixed_point(tol_, opts.max_iter - n_iter), K, D, C)
            n_iter += it
            if status is not Status.CONVERGED or n_iter >= opts.max_iter:
                break
        if status is not Status.CONVERGED:
            break
        state = MulticlassState.unpack(x, K, D, C)
        fine = opts.fine_order or tuple(n + max(2, n // 4) for n in order)
        new, ch = saddle_map(state, s, order, losses, cache, train=True)
        new_fine, _ = saddle_map(state, s, fine, losses)
        a, b = new.pack(), new_fine.pack()
        quad_error = float(np.max(np.abs(a - b) / (1.0 + np.abs(b))))
        if not _stationary(ch, s):
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
    cache: dict = {}
    warm = initial is not None and initial.M.shape == (K, D, C)
    x0 = (initial if warm else initial_state(s)).pack()
    with np.errstate(over="ignore", under="ignore"):
        x, status, residual, n_iter, quad_error, order_used, ch = _solve_from(s, opts, x0, order, not warm, losses,
                                                                              cache)
        if warm and status is not Status.CONVERGED:  # a distant warm start can lead astray: one cold retry
            cache.clear()
            x, status, residual, it, quad_error, order_used, ch = _solve_from(s, opts, initial_state(s).pack(),
                                                                              order, True, losses, cache)
            n_iter += it
    state = MulticlassState.unpack(x, K, D, C)
    nan = np.full(K, np.nan)
    eps, eps_train, loss_train, agree = nan, nan, nan, np.full(K, np.nan)
    if status in (Status.CONVERGED, Status.INACCURATE) and ch is not None:
        eps_train, loss_train = ch.train_error, ch.train_loss
        U = helmert_basis(C)
        Mf = [U @ state.M[k] for k in range(K)]
        bf = [U @ state.b[k] for k in range(K)]
        Qf = lambda i, j: U @ state.Q[i * D:(i + 1) * D, j * D:(j + 1) * D] @ U.T  # noqa: E731
        eps = np.array([generalization_error(Mf[k], bf[k], Qf(k, k), s.delta, s.p) for k in range(K)])
        agree = np.array([1.0] + [agreement(Mf[0], bf[0], Mf[k], bf[k], Qf(0, 0), Qf(k, k), Qf(0, k), s.delta, s.p)
                                  for k in range(1, K)])
    sp = MulticlassSaddlePoint(s, state, status, residual, n_iter, time.perf_counter() - t0, quad_error, order_used,
                               eps, eps_train, loss_train, agree, bayes_error(s.G, s.p, s.alpha, s.delta),
                               oracle_error(s.G, s.p, s.delta))
    if status is not Status.CONVERGED and on_failure == "raise":
        raise MulticlassNotConverged(s, status, residual, n_iter, quad_error)
    return sp
