"""Solve the replica-symmetric saddle point of a Setting: the public entry point.

``solve(setting)`` returns a :class:`SaddlePoint` with the order parameters of
every learner in the chain (m, Q, V, b and their conjugates), the observables,
a status, the residual, the iteration count and the time taken.  For one point
a failure raises :class:`SaddlePointNotConverged`; sweeps pass
``on_failure="record"`` and store the status instead.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache
from dataclasses import dataclass, field

import numpy as np

from .channel import channel_averages, train_error_last
from .fixed_point import FixedPointOptions, Status, iterate
from .losses import Mix, hard_loss, soft_loss
from .observables import agreement, bayes_error, generalization_error, oracle_error
from .prior import prior_update
from .quadrature import default_order, label_measure
from .setting import Setting


class SaddlePointNotConverged(RuntimeError):
    """The fixed-point iteration of the saddle-point equations did not converge.

    Typical physics behind it: an unregularised logistic (or hinge) learner below
    its separability threshold has no finite minimiser (its norm diverges); an
    unregularised learner at its interpolation threshold (alpha = eta for a
    student matching soft targets) has diverging response V.  The message gives
    the Setting, the status, the residual, the iteration count and a fix.
    """

    def __init__(self, setting: Setting, status: Status, residual: float, n_iter: int, detail: str = ""):
        self.setting, self.status, self.residual, self.n_iter = setting, status, residual, n_iter
        hint = _hint(setting, status)
        super().__init__(f"solve({setting}) {status.value}: residual={residual:.3g} after {n_iter} iterations"
                         f"{' (' + detail + ')' if detail else ''}. {hint}")


def _hint(s: Setting, status: Status) -> str:
    if status in (Status.DIVERGED, Status.NON_FINITE):
        lam_zero = (s.lam_t == 0 and s.loss_t in ("logistic", "hinge")) or (s.generations and s.lam_s == 0)
        if lam_zero:
            try:
                from .thresholds import separability_threshold
                a_star = separability_threshold(s.delta, s.rho)
                return (f"alpha={s.alpha} vs the separability threshold alpha*={a_star:.3f} (delta={s.delta}, "
                        f"rho={s.rho}, lam_t={s.lam_t}, lam_s={s.lam_s}): add ridge or increase alpha.")
            except Exception:  # pragma: no cover - hint only
                pass
        return "Add ridge (lam_t / lam_s > 0) or move away from the threshold."
    return "Raise max_iter, increase damping (smaller damping value) or warm-start from a nearby point."


@dataclass(frozen=True)
class SolverOptions:
    """Numerical options of :func:`solve` (not part of the physics).

    order : Gauss-Hermite nodes per dimension (None: 120 for K = 1, 40 for K = 2, 20 for K = 3, 10 beyond).
    tol, max_iter, damping, memory, bound : see ``fixed_point.FixedPointOptions``.
    """

    order: int | None = None
    tol: float = 1e-10
    max_iter: int = 3000
    damping: float = 0.7
    memory: int = 6
    bound: float = 1e8


@lru_cache(maxsize=None)
def _tril(K: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """np.tril_indices(K, k), cached: the iteration packs and unpacks states thousands of times."""
    return np.tril_indices(K, k)


@dataclass(frozen=True)
class State:
    """Order parameters of a chain of K learners: m, b (K,), Q (K, K), V (K, K) lower triangular."""

    m: np.ndarray
    Q: np.ndarray
    V: np.ndarray
    b: np.ndarray

    def pack(self) -> np.ndarray:
        K = len(self.m)
        il = _tril(K, 0)
        return np.concatenate([self.m, self.Q[il], self.V[il], self.b])

    @classmethod
    def unpack(cls, x: np.ndarray, K: int) -> "State":
        il = _tril(K, 0)
        n = len(il[0])
        m = x[:K]
        Q = np.zeros((K, K))
        Q[il] = x[K:K + n]
        Q = Q + np.tril(Q, -1).T
        V = np.zeros((K, K))
        V[il] = x[K + n:K + 2 * n]
        return cls(m.copy(), Q, V, x[K + 2 * n:].copy())

    def to_solver(self) -> np.ndarray:
        """Scale-free coordinates for the iteration: log Q_aa, log V_aa, m_a / sqrt(Q_aa),
        correlations Q_ab / sqrt(Q_aa Q_bb), V_ab / sqrt(V_aa V_bb), b_a / sqrt(Q_aa).

        Near a separability threshold norms grow by orders of magnitude; in these
        coordinates the growth is additive and Anderson mixing stays well conditioned.
        """
        K = len(self.m)
        il = _tril(K, -1)
        dq = np.sqrt(np.diag(self.Q))
        dv = np.sqrt(np.diag(self.V))
        return np.concatenate([
            np.log(np.diag(self.Q)), np.log(np.diag(self.V)), self.m / dq, self.b / dq,
            (self.Q / np.outer(dq, dq))[il], (self.V / np.outer(dv, dv))[il],
        ])

    @classmethod
    def from_solver(cls, y: np.ndarray, K: int) -> "State":
        il = _tril(K, -1)
        n = len(il[0])
        qd, vd = np.exp(y[:K]), np.exp(y[K:2 * K])
        dq, dv = np.sqrt(qd), np.sqrt(vd)
        m = y[2 * K:3 * K] * dq
        b = y[3 * K:4 * K] * dq
        Q = np.diag(qd)
        V = np.diag(vd)
        Q[il] = y[4 * K:4 * K + n] * np.outer(dq, dq)[il]
        V[il] = y[4 * K + n:4 * K + 2 * n] * np.outer(dv, dv)[il]
        Q = Q + np.tril(Q, -1).T
        return cls(m, Q, V, b)

    @classmethod
    def initial(cls, K: int) -> "State":
        return cls(np.full(K, 0.5), 0.5 * np.eye(K) + 0.5, np.eye(K), np.zeros(K))


@dataclass(frozen=True)
class SaddlePoint:
    """The solution of the saddle-point equations for a Setting.

    Attributes
    ----------
    setting : the Setting solved.
    state : order parameters m, Q, V, b of the chain (index k: 0 teacher, 1.. students).
    m_hat, Q_hat, V_hat : conjugates at the solution.
    status, residual, n_iter, seconds : how the solver ended.
    eps : (K,) generalisation errors; eps_train, loss_train : (K,) training error / loss;
    train_mse : (K, K) training logit MSE between learners; agreement_ts : teacher / first student
    test agreement (NaN with no student).
    teacher : the SaddlePoint of the teacher alone (fresh-sample ERM teacher only).
    """

    setting: Setting
    state: State
    m_hat: np.ndarray
    Q_hat: np.ndarray
    V_hat: np.ndarray
    status: Status
    residual: float
    n_iter: int
    seconds: float
    eps: np.ndarray
    eps_train: np.ndarray
    loss_train: np.ndarray
    train_mse: np.ndarray
    agreement_ts: float
    teacher: "SaddlePoint | None" = field(default=None, repr=False)

    @property
    def converged(self) -> bool:
        return self.status.ok

    def record(self) -> dict:
        """Flat record: Setting fields, then observables (DESIGN.md column names), then solver status."""
        return make_record(self)


# ------------------------------------------------------------------ assembly
def chain_losses(s: Setting):
    """The K losses of the chain: teacher hard loss, then each student's Mix."""
    teacher = hard_loss(s.loss_t, s.smooth_t)
    hard_s = hard_loss(s.loss_s, s.smooth_s)
    soft = soft_loss(s.soft, tau=s.tau, tau2_factor=s.tau2_factor, hard=hard_loss(s.loss_s))
    return [teacher] + [Mix(hard_s, soft, s.xi) for _ in range(s.generations)]


def frozen_mask(K: int) -> np.ndarray:
    """Solver coordinates (``State.to_solver`` layout) that belong to learners 0 .. K-2.

    The saddle-point equations are triangular in the chain order: learner k's
    row (m_k, Q_kj, V_kj for j <= k, b_k) never depends on later learners.
    """
    il = _tril(K, -1)
    own = np.arange(K) < K - 1
    return np.concatenate([own, own, own, own, il[0] < K - 1, il[0] < K - 1])


def _fixed_point_map(s: Setting, losses, measure, alpha, lam, fixed, frozen: np.ndarray | None = None):
    """The map y -> F(y) in solver coordinates; ``frozen`` (a solver vector) pins the upstream rows."""
    K = len(losses)
    fixed_teacher = fixed is not None
    warm: dict = {}
    mask = frozen_mask(K) if frozen is not None else None

    def F(y):
        st = State.from_solver(y, K)
        ch = channel_averages(losses, st.m, st.Q, st.V, st.b, s.delta, measure, fixed_teacher, warm=warm)
        m_hat = alpha * ch.Eyf
        Q_hat = alpha * s.delta * ch.Eff
        V_hat = -alpha * s.delta * ch.Edf
        m, Q, V = prior_update(m_hat, Q_hat, V_hat, lam, s.eta, (fixed[0], fixed[1]) if fixed_teacher else None)
        b = st.b.copy()
        if s.bias:
            for a in range(K):
                if a == 0 and fixed_teacher:
                    continue
                # Newton step on the stationarity E[f_a] = 0 (dE[f_a]/db_a = E[df_a/domega_a] < 0).
                # Where the loss saturates the slope vanishes; the step must still be taken (capped),
                # or a non-stationary bias would look like a fixed point of the iteration.
                slope = min(ch.Edf[a, a], -1e-12)
                step = ch.Ef[a] / slope
                cap = 1.0 + abs(b[a])
                b[a] = b[a] - float(np.clip(step, -cap, cap))
        if fixed_teacher:
            b[0] = fixed[2]
        if np.any(np.diag(Q) <= 0) or np.any(np.diag(V) <= 0):
            raise FloatingPointError("non-positive overlap or response on the diagonal")
        out = State(m, Q, V, b).to_solver()
        if mask is not None:
            out[mask] = frozen[mask]
        return out

    return F


def _valid(K):
    def ok(y):
        # |cosines| and correlations must stay below 1 for a positive semi-definite Q
        il = len(_tril(K, -1)[0])
        return bool(np.all(np.abs(y[4 * K:4 * K + il]) <= 1.0) and np.all(np.abs(y[2 * K:3 * K]) <= 1.0 + 1e-12)
                    and np.all(y[:2 * K] < 700))
    return ok


def _norm(K):
    """max(Q_aa, b_a^2): norms and biases both run away when a minimiser does not exist."""
    def nrm(y):
        q = np.exp(y[:K])
        b2 = (y[3 * K:4 * K] ** 2) * q
        return float(max(np.max(q), np.max(b2)))
    return nrm


def solve(setting: Setting, *, options: SolverOptions | None = None, init: "SaddlePoint | State | None" = None,
          on_failure: str = "raise") -> SaddlePoint:
    """Solve the replica-symmetric saddle point of ``setting``.

    Parameters
    ----------
    setting : the problem (teacher alone if ``generations == 0``).
    options : numerical options (quadrature order, tolerance, damping ...).
    init : a SaddlePoint or State of a nearby Setting with the same number of
        learners (warm start for continuation along a curve).
    on_failure : 'raise' (default) raises SaddlePointNotConverged; 'record'
        returns the SaddlePoint with its status, observables set to NaN.

    Returns
    -------
    SaddlePoint

    Raises
    ------
    SaddlePointNotConverged
        If the iteration does not converge and ``on_failure='raise'``.
    """
    if on_failure not in ("raise", "record"):
        raise ValueError(f"on_failure must be one of {{'raise', 'record'}}; got {on_failure!r}.")
    opts = options or SolverOptions()
    t0 = time.perf_counter()
    s = setting
    K = s.n_learners
    teacher_sp = None
    fixed = None
    alpha = s.alpha
    if s.teacher in ("bayes", "fixed"):
        fixed = s.teacher_overlaps()
        alpha = s.alpha_s if s.alpha_s is not None else s.alpha
    elif s.alpha_s is not None:  # fresh samples: ERM teacher on its own alpha d samples, then frozen
        teacher_sp = solve(s.replace(generations=0, eta=1.0, alpha_s=None), options=opts, on_failure=on_failure)
        if not teacher_sp.converged:
            return _failed(s, teacher_sp.status, teacher_sp.residual, teacher_sp.n_iter, time.perf_counter() - t0)
        st0 = teacher_sp.state
        fixed = (float(st0.m[0]), float(st0.Q[0, 0]), float(st0.b[0]))
        alpha = s.alpha_s
    losses = chain_losses(s)
    lam = np.array([s.lam_t] + [s.lam_s] * s.generations, dtype=float)
    measure = label_measure(K, s.rho, s.theta, opts.order or default_order(K))
    if isinstance(init, SaddlePoint):
        init = init.state
    if not (isinstance(init, State) and len(init.m) == K and np.all(np.isfinite(init.m))):
        init = None
    # Block solve in chain order: the upstream learners first (on their own, lower-dimensional
    # quadrature), then only the last learner's row with the upstream rows frozen.
    upstream = _solve_upstream(s, opts, init, on_failure) if (K >= 3 or (K == 2 and fixed is None)) else None
    if upstream is not None and not upstream.converged:
        if on_failure == "raise":
            raise SaddlePointNotConverged(s, upstream.status, upstream.residual, upstream.n_iter,
                                          "while solving the upstream learners")
        return _failed(s, upstream.status, upstream.residual, upstream.n_iter, time.perf_counter() - t0)
    if init is not None:
        warm_sp = _solve_from(s, opts, init, on_failure="record", t0=t0, upstream=upstream, losses=losses, lam=lam,
                              measure=measure, alpha=alpha, fixed=fixed, teacher_sp=teacher_sp)
        if warm_sp.converged:
            return warm_sp
        # a warm start from a distant point can lead the iteration astray: retry from the cold start
    return _solve_from(s, opts, None, on_failure=on_failure, t0=t0, upstream=upstream, losses=losses, lam=lam,
                       measure=measure, alpha=alpha, fixed=fixed, teacher_sp=teacher_sp)


def _solve_from(s: Setting, opts: SolverOptions, init, *, on_failure, t0, upstream, losses, lam, measure, alpha, fixed,
                teacher_sp) -> SaddlePoint:
    """The last row's iteration from ``init`` (or the cold start), then the observables."""
    K = s.n_learners
    start = init if init is not None else State.initial(K)
    frozen = None
    if upstream is not None:
        start = _extend(upstream.state, start if init is not None else None, s.eta)
        frozen = start.to_solver()
    F = _fixed_point_map(s, losses, measure, alpha, lam, fixed, frozen)
    x0 = start.to_solver()
    with np.errstate(over="ignore", under="ignore"):
        res = _iterate_with_fallback(F, x0, opts, K)
    n_up = upstream.n_iter if upstream is not None else 0
    if not res.status.ok:
        if on_failure == "raise":
            raise SaddlePointNotConverged(s, res.status, res.residual, res.n_iter + n_up, res.detail)
        return _failed(s, res.status, res.residual, res.n_iter + n_up, time.perf_counter() - t0)
    st = State.from_solver(res.x, K)
    ch = channel_averages(losses, st.m, st.Q, st.V, st.b, s.delta, measure, fixed is not None, with_train=True)
    if s.bias and not _stationary(ch, K, fixed is not None):
        if on_failure == "raise":
            raise SaddlePointNotConverged(s, Status.NOT_STATIONARY, res.residual, res.n_iter + n_up,
                                          f"E[f] = {ch.Ef.tolist()}")
        return _failed(s, Status.NOT_STATIONARY, res.residual, res.n_iter + n_up, time.perf_counter() - t0)
    m_hat = alpha * ch.Eyf
    Q_hat = alpha * s.delta * ch.Eff
    V_hat = -alpha * s.delta * ch.Edf
    eps = np.array([generalization_error(st.m[a], st.Q[a, a], st.b[a], s.delta, s.rho) for a in range(K)])
    eps_train, loss_train = ch.train_err.copy(), ch.train_loss.copy()
    if K >= 2:
        eps_train[K - 1] = train_error_last(losses, st.m, st.Q, st.V, st.b, s.delta, s.rho, s.theta, fixed is not None,
                                            order=min(opts.order or default_order(K), 24))
    if upstream is not None:  # upstream training observables from their own (more accurate) quadrature
        eps_train[:K - 1], loss_train[:K - 1] = upstream.eps_train, upstream.loss_train
    if teacher_sp is not None:  # the teacher's training observables are those on its own samples
        eps_train[0], loss_train[0] = teacher_sp.eps_train[0], teacher_sp.loss_train[0]
    agr = (agreement(st.m[0], st.m[1], st.Q[0, 0], st.Q[1, 1], st.Q[0, 1], st.b[0], st.b[1], s.delta, s.rho)
           if K > 1 else math.nan)
    return SaddlePoint(s, st, m_hat, Q_hat, V_hat, res.status, res.residual, res.n_iter + n_up,
                       time.perf_counter() - t0, eps, eps_train, loss_train, ch.train_mse, agr, teacher_sp)


def _stationary(ch, K: int, fixed_teacher: bool, rtol: float = 1e-6) -> bool:
    """The last learner's bias condition E[f_a] = 0, relative to its force's size sqrt(E[f_a^2]).

    Upstream learners were checked in their own (block) solves, on their own quadrature.
    """
    a = K - 1
    if a == 0 and fixed_teacher:
        return True
    # absolute floor: E[f] is resolved only to about the iteration tolerance when the force itself vanishes
    return bool(abs(ch.Ef[a]) <= rtol * np.sqrt(ch.Eff[a, a]) + 1e-8)


def _solve_upstream(s: Setting, opts: SolverOptions, init: State | None, on_failure: str) -> SaddlePoint:
    """The chain without its last learner (same samples, same teacher)."""
    if s.generations == 1:  # the ERM teacher alone
        up = s.replace(generations=0, eta=1.0, alpha_s=None, teacher="erm")
    else:
        up = s.replace(generations=s.generations - 1)
    sub_init = None
    if init is not None:
        K = len(init.m) - 1
        sub_init = State(init.m[:K].copy(), init.Q[:K, :K].copy(), init.V[:K, :K].copy(), init.b[:K].copy())
    return solve(up, options=opts, init=sub_init, on_failure="record")


def _extend(up: State, guess: State | None, eta: float) -> State:
    """Upstream rows from ``up``; the last row from ``guess`` or a scaled copy of the previous learner.

    The default last row is a student w_k = c w_{k-1} (restricted) plus independent noise, which keeps Q
    positive definite: Q_kj = c Q_{k-1,j} sqrt(Q_kk / Q_{k-1,k-1}) with c = 1/2.
    """
    K = len(up.m) + 1
    m = np.append(up.m, 0.0)
    b = np.append(up.b, 0.0)
    Q = np.zeros((K, K))
    V = np.zeros((K, K))
    Q[:K - 1, :K - 1] = up.Q
    V[:K - 1, :K - 1] = up.V
    if guess is not None:
        m[-1], b[-1] = guess.m[-1], guess.b[-1]
        Q[-1, :], V[-1, :] = guess.Q[-1, :], guess.V[-1, :]
        Q[:, -1] = Q[-1, :]
        return State(m, Q, V, b)
    p = K - 2
    qkk = eta * up.Q[p, p]
    c = 0.5
    Q[-1, :K - 1] = Q[:K - 1, -1] = c * up.Q[p, :] * np.sqrt(qkk / up.Q[p, p])
    Q[-1, -1] = qkk
    m[-1] = c * up.m[p] * np.sqrt(qkk / up.Q[p, p])
    b[-1] = up.b[p]
    V[-1, -1] = eta * up.V[p, p] if up.V[p, p] > 0 else eta
    return State(m, Q, V, b)


def _iterate_with_fallback(F, x0, opts: SolverOptions, K: int):
    """Anderson-accelerated iteration; if it fails, plain damped iteration from the same start.

    Anderson mixing is fast away from thresholds but can cycle where the norm is
    very large (close to separability); the plain damped map is slow there but
    robust, and detects run-away norms (divergence) reliably.
    """
    budget = opts.max_iter
    first = min(budget, 400) if opts.memory > 0 else budget
    fp = FixedPointOptions(tol=opts.tol, max_iter=first, damping=opts.damping, memory=opts.memory, bound=opts.bound)
    res = iterate(F, x0, fp, valid=_valid(K), norm=_norm(K))
    if res.status.ok or opts.memory == 0 or budget - res.n_iter <= 0:
        return res
    fp = FixedPointOptions(tol=opts.tol, max_iter=budget - res.n_iter, damping=0.9, memory=0, bound=opts.bound)
    res2 = iterate(F, x0, fp, valid=_valid(K), norm=_norm(K))
    return type(res2)(res2.x, res2.status, res2.residual, res.n_iter + res2.n_iter, res2.detail)


def _failed(s, status, residual, n_iter, seconds) -> SaddlePoint:
    K = s.n_learners
    nan = np.full(K, np.nan)
    nanK = np.full((K, K), np.nan)
    st = State(nan.copy(), nanK.copy(), nanK.copy(), nan.copy())
    return SaddlePoint(s, st, nan, nanK, nanK, status, residual, n_iter, seconds, nan, nan, nan, nanK, math.nan)


# ------------------------------------------------------------------- records
def learner_suffix(k: int) -> str:
    """Column suffix of learner k: 't' (teacher), 's' (first student), 's2', 's3' ..."""
    return "t" if k == 0 else ("s" if k == 1 else f"s{k}")


def make_record(sp: SaddlePoint) -> dict:
    """The flat record of a SaddlePoint (the result-store row)."""
    s = sp.setting
    st = sp.state
    rec = dict(s.to_dict())
    for k in range(s.n_learners):
        x = learner_suffix(k)
        rec[f"m_{x}"] = float(st.m[k])
        rec[f"q_{x}"] = float(st.Q[k, k])
        rec[f"V_{x}"] = float(st.V[k, k])
        if k == 0 and s.fixed_teacher:
            # a given teacher has no response on the students' samples; a fresh-sample ERM teacher
            # reports its own V from its single-learner solution
            rec["V_t"] = float(sp.teacher.state.V[0, 0]) if sp.teacher is not None else math.nan
        rec[f"b_{x}"] = float(st.b[k])
        rec[f"eps_{x}"] = float(sp.eps[k])
        rec[f"eps_train_{x}"] = float(sp.eps_train[k])
        rec[f"loss_train_{x}"] = float(sp.loss_train[k])
    if s.n_learners > 1:
        rec["q_ts"] = float(st.Q[0, 1])
        rec["V_st"] = float(st.V[1, 0])
        rec["agreement"] = float(sp.agreement_ts)
        rec["mse_train_ts"] = float(sp.train_mse[0, 1])
        alpha_s = s.alpha_s if s.alpha_s is not None else s.alpha
        rec["eps_bayes_s"] = bayes_error(alpha_s / s.eta, s.delta / s.eta, s.rho)
    rec["eps_bayes"] = bayes_error(s.alpha, s.delta, s.rho)
    rec["eps_oracle"] = oracle_error(s.delta, s.rho)
    rec["converged"] = bool(sp.converged)
    rec["status"] = sp.status.value
    rec["iterations"] = int(sp.n_iter)
    rec["residual"] = float(sp.residual)
    rec["seconds"] = float(sp.seconds)
    return rec
