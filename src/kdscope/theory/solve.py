"""Solve the replica-symmetric saddle point of Settings: the one driver, for every engine.

``solve(setting)`` returns a :class:`SaddlePoint` with the order parameters of
every learner in the chain (m, Q, V, b and their conjugates), the observables,
a status, the residual, the iteration count and the time taken.  For one point
a failure raises :class:`SaddlePointNotConverged`; sweeps pass
``on_failure="record"`` and store the status instead.

:func:`solve_many` is the driver behind it and behind the JAX backend: teacher
kinds (a fresh-sample ERM teacher is solved first and frozen), the block solve in
chain order (the upstream chain first, then the last learner's row with the
upstream rows frozen), one warm-to-cold retry, and the observables.  An engine
(``theory.engine``) only iterates the map of each row: the NumPy engine one row
after the other, the JAX engine compiled groups of rows.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Sequence

from .engine import NUMPY_ENGINE, AbstractEngine, RowTask, finish, next_order, row_problem
from .fixed_point import Status
from .losses import chain_losses
from .options import SolverOptions
from .quadrature import default_order
from .records import SaddlePoint, failed_point, learner_suffix, make_record
from .setting import Setting
from .state import State, extend
from .thresholds import no_finite_minimiser, separability_threshold


#: Names other layers import from this module (kept importable here).
__all__ = ["solve", "solve_many", "SaddlePointNotConverged", "SaddlePoint", "SolverOptions", "State", "chain_losses",
           "learner_suffix", "make_record", "upstream_setting", "fresh_teacher_setting"]


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
    if status in (Status.DIVERGED, Status.NON_FINITE, Status.NO_FINITE_MINIMISER):
        found = no_finite_minimiser(s)
        if found is not None:
            return separable_sentence(s, *found)
        lam_zero = (s.lam_t == 0 and s.loss_t in ("logistic", "hinge")) or (s.generations and s.lam_s == 0)
        if lam_zero:
            a_star = separability_threshold(s.delta, s.rho, 1.0, s.bias, s.theta)
            return (f"alpha={s.alpha} vs the separability threshold alpha*={a_star:.3f} (delta={s.delta}, "
                    f"rho={s.rho}, theta={s.theta}, lam_t={s.lam_t}, lam_s={s.lam_s}): add ridge or increase alpha.")
        return "Add ridge (lam_t / lam_s > 0) or move away from the threshold."
    if status is Status.INACCURATE:
        return "Raise max_order or quad_tol in SolverOptions."
    return "Raise max_iter, increase damping (smaller damping value) or warm-start from a nearby point."


def separable_sentence(s: Setting, k: int, alpha: float, a_star: float) -> str:
    """Why learner k has no finite minimiser, and the fix, in one sentence."""
    who = "the teacher" if k == 0 else "the student"
    lam = "lam_t" if k == 0 else "lam_s"
    if a_star == float("inf"):
        return (f"{who}'s training set is linearly separable at every alpha (hard pseudo-labels of a dense chain, "
                f"{lam}=0): add ridge ({lam} > 0).")
    return (f"{who}'s training set is linearly separable at alpha={alpha:g} < alpha*={a_star:.3f} (the separability "
            f"threshold at delta={s.delta:g}, rho={s.rho:g}, theta={s.theta:g}, eta={s.eta if k else 1.0:g}; "
            f"{lam}=0): add ridge ({lam} > 0) or increase alpha.")


def _start(init) -> State | None:
    if isinstance(init, SaddlePoint):
        init = init.state
    return init if isinstance(init, State) and init.finite() else None


def upstream_setting(s: Setting) -> Setting:
    """The chain without its last learner (same samples, same teacher)."""
    if s.generations == 1:  # the ERM teacher alone
        return s.replace(generations=0, eta=1.0, alpha_s=None, teacher="erm")
    return s.replace(generations=s.generations - 1)


def fresh_teacher_setting(s: Setting) -> Setting:
    """The ERM teacher of a fresh-sample Setting, alone on its own alpha d samples."""
    return s.replace(generations=0, eta=1.0, alpha_s=None)


@dataclass
class _Point:
    """One point on its way through the driver."""

    setting: Setting
    init: State | None
    fixed: tuple | None = None
    teacher: SaddlePoint | None = None
    upstream: SaddlePoint | None = None
    done: SaddlePoint | None = None


def solve_many(settings: Sequence[Setting], options: SolverOptions | None = None,
               init: Sequence["SaddlePoint | State | None"] | None = None,
               engine: AbstractEngine = NUMPY_ENGINE) -> list[SaddlePoint]:
    """Solve many Settings with one engine; SaddlePoints in input order, failures recorded (never raised).

    Parameters
    ----------
    settings : the problems.  options : numerical options (shared).
    init : optional warm starts, one per Setting (a SaddlePoint or State of a
        nearby Setting with the same number of learners, or None).
    engine : iterates the rows (``theory.engine.NUMPY_ENGINE`` or the JAX engine).

    Notes
    -----
    Accuracy control (``options.order=None``, the default): every block of the
    chain (the upstream chain, then the last learner's row) starts at the order
    ``quadrature.DEFAULT_ORDER`` of its number of learners; while the quadrature
    error estimate of the solution (``engine.quadrature_error``) exceeds
    ``options.quad_tol``, the row is solved again, warm-started, at a higher order (at least 1.5 times the last,
    or the order the estimate predicts: ``engine.next_order``), up to
    ``options.max_order`` (status 'inaccurate' beyond).
    """
    opts = options or SolverOptions()
    settings = list(settings)
    inits = list(init) if init is not None else [None] * len(settings)
    if len(inits) != len(settings):
        raise ValueError(f"init must have one entry per Setting ({len(settings)}); got {len(inits)}.")
    for s in settings:
        opts.check_order(s.n_learners)
    if opts.order is not None:
        return _solve_at_order(settings, opts, inits, engine, opts)
    out: list = [None] * len(settings)
    # a warm start from a solved neighbour starts at its order (along a curve the order needed changes slowly)
    order = {i: _start_order(s, ini, opts) for i, (s, ini) in enumerate(zip(settings, inits))}
    pending = list(range(len(settings)))
    starts = dict(enumerate(inits))
    spent: dict[int, tuple[int, float]] = {i: (0, 0.0) for i in pending}
    while pending:
        by_order: dict[int, list[int]] = {}
        for i in pending:
            by_order.setdefault(order[i], []).append(i)
        pending = []
        for n, idx in sorted(by_order.items()):
            sps = _solve_at_order([settings[i] for i in idx], opts.replace(order=n), [starts[i] for i in idx], engine,
                                  opts)
            for i, sp in zip(idx, sps):
                it, sec = spent[i]
                spent[i] = (it + sp.n_iter, sec + sp.seconds)
                cap = opts.order_cap(settings[i].n_learners)
                if sp.converged and not sp.quad_err <= opts.quad_tol:
                    if n >= cap:
                        sp = failed_point(sp.setting, Status.INACCURATE, sp.residual, sp.n_iter, sp.seconds,
                                          f"quadrature error estimate {sp.quad_err:.2g} > quad_tol={opts.quad_tol:g} "
                                          f"at order {n}", n)
                    else:
                        order[i], starts[i] = next_order(n, cap, sp.quad_err, opts.quad_tol), sp
                        pending.append(i)
                        continue
                out[i] = _spent(sp, *spent[i])
    return out


def _start_order(s: Setting, init, opts: SolverOptions) -> int:
    """The first order tried: the default for K learners, or that of a converged warm start of the same chain."""
    n = default_order(s.n_learners)
    if isinstance(init, SaddlePoint) and init.converged and init.setting.n_learners == s.n_learners:
        n = max(n, init.order)
    return min(n, opts.order_cap(s.n_learners))


def _spent(sp: SaddlePoint, n_iter: int, seconds: float) -> SaddlePoint:
    """The SaddlePoint with the iterations and time of every order tried."""
    return SaddlePoint(**{**sp.__dict__, "n_iter": n_iter, "seconds": seconds})


def _solve_at_order(settings: list[Setting], opts: SolverOptions, inits: list, engine: AbstractEngine,
                    base: SolverOptions):
    """:func:`solve_many` with the last row of every chain at the order ``opts.order``.

    The upstream chain and a fresh-sample teacher are solved with the options
    ``base`` (their own accuracy control when ``base.order`` is None).
    """
    if not settings:
        return []
    pts = [_Point(s, _start(i) if (_start(i) is not None and _start(i).K == s.n_learners) else None)
           for s, i in zip(settings, inits)]
    for p in pts:  # no finite minimiser: decided by the thresholds before any iteration
        found = no_finite_minimiser(p.setting)
        if found is not None:
            p.done = failed_point(p.setting, Status.NO_FINITE_MINIMISER, math.nan, 0, 0.0,
                                  separable_sentence(p.setting, *found), opts.order)
    # teacher kinds: a given teacher's overlaps; a fresh-sample ERM teacher solved first, then frozen
    fresh = [p for p in pts if p.done is None and p.setting.teacher == "erm" and p.setting.alpha_s is not None]
    for p, t in zip(fresh, solve_many([fresh_teacher_setting(p.setting) for p in fresh], base, engine=engine)):
        p.teacher = t
        if not t.converged:
            p.done = failed_point(p.setting, t.status, t.residual, t.n_iter, t.seconds, t.detail)
        else:
            p.fixed = (float(t.state.m[0]), float(t.state.Q[0, 0]), float(t.state.b[0]))
    for p in pts:
        if p.setting.teacher in ("bayes", "fixed"):
            p.fixed = p.setting.teacher_overlaps()
    # block solve in chain order: the upstream chain first (on its own quadrature)
    blocked = [p for p in pts if p.done is None and (p.setting.n_learners >= 3
                                                     or (p.setting.n_learners == 2 and p.fixed is None))]
    ups = solve_many([upstream_setting(p.setting) for p in blocked], base,
                     [None if p.init is None else p.init.head(p.setting.n_learners - 1) for p in blocked], engine)
    for p, up in zip(blocked, ups):
        p.upstream = up
        if not up.converged:
            p.done = failed_point(p.setting, up.status, up.residual, up.n_iter, up.seconds,
                                  f"while solving the upstream learners: {up.detail}".rstrip(": "))
    todo = [p for p in pts if p.done is None]
    results = engine.solve_rows([_task(p, p.init, opts) for p in todo], opts)
    # a warm start from a distant point can lead the iteration astray: one retry from the cold start
    retry = [i for i, (p, r) in enumerate(zip(todo, results)) if p.init is not None and r.status is not Status.CONVERGED]
    for i, r in zip(retry, engine.solve_rows([_task(todo[i], None, opts) for i in retry], opts)):
        results[i] = r
    for p, r in zip(todo, results):
        t0 = time.perf_counter()
        sp = finish(_task(p, None, opts), r, opts, base if base.order is None else None)
        p.done = _with_chain(sp, p, r.seconds + time.perf_counter() - t0)
    return [p.done for p in pts]


def _task(p: _Point, init: State | None, opts: SolverOptions) -> RowTask:
    s = p.setting
    K = s.n_learners
    if p.upstream is not None:
        start = extend(p.upstream.state, init, s.eta)
        frozen = start.to_solver()
    else:
        start = init if init is not None else State.initial(K)
        frozen = None
    return RowTask(s, row_problem(s, p.fixed, opts.order), opts.order, start.to_solver(), frozen)


def _with_chain(sp: SaddlePoint, p: _Point, seconds: float) -> SaddlePoint:
    """Add the upstream solve's iterations and time, and the teacher's own training observables."""
    up, t = p.upstream, p.teacher
    n_iter = sp.n_iter + (up.n_iter if up is not None else 0)
    seconds += (up.seconds if up is not None else 0.0) + (t.seconds if t is not None else 0.0)
    if not sp.converged:
        return failed_point(sp.setting, sp.status, sp.residual, n_iter, seconds, sp.detail, sp.order)
    eps_train, loss_train = sp.eps_train.copy(), sp.loss_train.copy()
    K = sp.setting.n_learners
    if up is not None:  # upstream training observables from their own (more accurate) quadrature
        eps_train[:K - 1], loss_train[:K - 1] = up.eps_train, up.loss_train
    quad_err = _worst(sp.quad_err, up.quad_err if up is not None else math.nan)
    if t is not None:  # the teacher's training observables are those on its own samples
        eps_train[0], loss_train[0] = t.eps_train[0], t.loss_train[0]
        quad_err = _worst(quad_err, t.quad_err)
    return SaddlePoint(sp.setting, sp.state, sp.m_hat, sp.Q_hat, sp.V_hat, sp.status, sp.residual, n_iter, seconds,
                       sp.eps, eps_train, loss_train, sp.train_mse, sp.agreement_ts, t, sp.detail, sp.order, quad_err)


def _worst(*errs: float) -> float:
    """The largest of the finite error estimates (NaN if none is)."""
    finite = [e for e in errs if math.isfinite(e)]
    return max(finite) if finite else math.nan


def solve(setting: Setting, *, options: SolverOptions | None = None, init: "SaddlePoint | State | None" = None,
          on_failure: str = "raise") -> SaddlePoint:
    """Solve the replica-symmetric saddle point of ``setting`` (NumPy engine).

    Parameters
    ----------
    setting : the problem (teacher alone if ``generations == 0``).
    options : numerical options (quadrature order, tolerance, damping ...).
    init : a SaddlePoint or State of a nearby Setting with the same number of
        learners (warm start for continuation along a curve); a failed warm
        start is retried once from the cold start.
    on_failure : 'raise' (default) raises SaddlePointNotConverged; 'record'
        returns the SaddlePoint with its status, observables set to NaN.

    Returns
    -------
    SaddlePoint

    Raises
    ------
    SaddlePointNotConverged
        If the solve does not converge and ``on_failure='raise'``.
    SolverOptionsError
        If ``options.order`` is too large for the number of learners.
    """
    if on_failure not in ("raise", "record"):
        raise ValueError(f"on_failure must be one of {{'raise', 'record'}}; got {on_failure!r}.")
    t0 = time.perf_counter()
    sp = solve_many([setting], options, [init])[0]
    sp = SaddlePoint(**{**sp.__dict__, "seconds": time.perf_counter() - t0})
    if not sp.converged and on_failure == "raise":
        raise SaddlePointNotConverged(setting, sp.status, sp.residual, sp.n_iter, sp.detail)
    return sp
