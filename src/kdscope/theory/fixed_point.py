"""A generic fixed-point engine: damped iteration with Anderson acceleration, one code for NumPy and JAX.

Solves x = F(x) for a flat float vector x.  Each step evaluates F, measures the
residual ``max_i |F(x)_i - x_i| / (1 + |x_i|)`` (relative change, absolute for
small entries), and proposes the next iterate by Anderson mixing of the last
``memory`` steps (type II, least squares with Tikhonov regularisation), damped
by ``damping``.  A proposal that is non-finite or rejected by ``valid`` falls
back to the plain damped step and clears the history; a plain step that leaves
the domain is halved until it stays inside.  The engine never returns a silent
NaN: it reports a :class:`Status` with the residual and iteration count.

The step is branch-free array code (``xp.where`` decides), run by the kernel's
``while_loop``: a Python loop for NumPy, ``lax.while_loop`` under JAX.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .kernel import AbstractKernel


class Status(enum.Enum):
    """How a solve ended; values are sentences (the ``status`` column)."""

    CONVERGED = "converged"
    MAX_ITER = "stopped at max_iter (raise max_iter or add damping)"
    DIVERGED = "diverged (the norm passed its bound: probably below the separability threshold)"
    NON_FINITE = "non-finite value"
    NOT_STATIONARY = ("stopped at a non-stationary point (a bias condition E[f] = 0 fails where the losses "
                      "saturate; start without a warm start or add ridge)")
    NO_FINITE_MINIMISER = ("no finite minimiser (linearly separable training data and no ridge: the norm of the "
                           "minimiser diverged)")
    INACCURATE = ("quadrature not accurate enough (the error estimate stayed above its tolerance at the largest "
                  "order allowed; raise max_order or relax quad_tol)")

    @property
    def ok(self) -> bool:
        return self is Status.CONVERGED


#: Integer codes of the statuses inside a (compiled) loop.
RUNNING, CONVERGED, MAX_ITER, DIVERGED, NON_FINITE = 0, 1, 2, 3, 4
STATUS_OF_CODE = {CONVERGED: Status.CONVERGED, MAX_ITER: Status.MAX_ITER, DIVERGED: Status.DIVERGED,
                  NON_FINITE: Status.NON_FINITE, RUNNING: Status.MAX_ITER}


@dataclass(frozen=True)
class FixedPointOptions:
    """Options of :func:`iterate`.

    tol : residual at which the iteration stops, > 0.
    max_iter : iteration cap, >= 1.
    damping : weight of the new iterate in the plain step, in (0, 1].
    memory : Anderson history length (0 disables acceleration).
    bound : iterates with ``norm(x) > bound`` are reported as diverged.
    growth_window, growth_factor : also reported as diverged when, over the last
        ``growth_window`` iterations, the norm grew monotonically by more than
        ``growth_factor`` while the residual did not halve (a run-away norm, as
        for an unregularised logistic learner on separable data).
    """

    tol: float = 1e-10
    max_iter: int = 2000
    damping: float = 0.7
    memory: int = 6
    bound: float = 1e10
    growth_window: int = 150
    growth_factor: float = 1e3


#: Tikhonov regularisation of the Anderson least squares, relative to the size of the history
#: (scale-free: near a fixed point the differences are tiny, and an absolute floor would switch mixing off).
ANDERSON_REG = 1e-12


def _halvings(damping: float) -> np.ndarray:
    """The shrinking plain steps damping, damping/2, ... down to 1e-6 (then one more)."""
    steps = []
    s = damping
    while s > 1e-6:
        steps.append(s)
        s *= 0.5
    steps.append(s)
    return np.asarray(steps)


def iterate(k: AbstractKernel, F: Callable, x0, h0, options: FixedPointOptions, valid: Callable, norm: Callable,
            max_iter, active=True):
    """Iterate x <- F(x) from x0 until the residual is below ``options.tol``.

    Parameters
    ----------
    k : the array kernel.
    F : ``(x, h) -> (F(x), h_new, bad)``; ``h`` is a cache carried between
        evaluations (the prox outputs, used as Newton starting points), ``bad``
        flags an evaluation that left the domain (counted as non-finite).
    x0, h0 : starting point and cache.
    valid : ``Y -> bool array`` over the rows of Y (e.g. |correlations| <= 1).
    norm : the quantity compared with ``options.bound`` for divergence.
    max_iter : iteration cap of this run (may be traced).
    active : False returns x0 at once with status CONVERGED (a run that is not needed).

    Returns
    -------
    (x, status code, residual, iterations, h)
    """
    xp = k.xp
    n = x0.shape[0]
    W, growth = options.growth_window, options.growth_factor
    mem = max(options.memory, 1)
    beta = options.damping
    steps = xp.asarray(_halvings(beta))
    cols = xp.arange(mem)
    slots = xp.arange(W)
    eye = xp.eye(mem)

    def cond(c):
        return (c["status"] == RUNNING) & (c["it"] < max_iter)

    def body(c):
        x = c["x"]
        it = c["it"] + 1
        fx, hn, bad = F(x, c["h"])
        finite = xp.isfinite(fx).all() & (~bad)
        fx = xp.where(finite, fx, x)
        g = fx - x
        res = (xp.abs(g) / (1.0 + xp.abs(x))).max()
        nfx = norm(fx)
        conv = finite & (res < options.tol)
        over = finite & (~conv) & (nfx > options.bound)
        # run-away growth over the last W iterations: monotone norm growth, residual not halved
        n_app = c["n_app"] + 1
        inc = xp.where((c["n_app"] > 0) & (nfx > c["last_norm"]), c["inc"] + 1, 0)
        at = slots == (n_app - 1) % W
        back = n_app % W
        norms = xp.where(at, nfx, c["norms"])
        ress = xp.where(at, res, c["ress"])
        grown = ((n_app > W) & (inc >= W - 1) & (nfx > growth * c["norms"][back]) & (res > 0.5 * c["ress"][back]))
        grown = finite & (~conv) & (~over) & grown
        status = xp.where(~finite, NON_FINITE, xp.where(conv, CONVERGED, xp.where(over | grown, DIVERGED, RUNNING)))
        # Anderson history (a ring buffer of the last ``mem`` differences)
        push = c["has_prev"] & (options.memory > 0)
        here = (cols == c["ptr"])[:, None] & push
        dX = xp.where(here, (x - c["prev_x"])[None, :], c["dX"])
        dG = xp.where(here, (g - c["prev_g"])[None, :], c["dG"])
        cnt = xp.where(push, xp.minimum(c["cnt"] + 1, mem), c["cnt"])
        ptr = xp.where(push, (c["ptr"] + 1) % mem, c["ptr"])
        plain = x + beta * g
        use_and = cnt > 0
        if k.concrete and not use_and:  # (NumPy knows already: no history, the Anderson step is the plain one)
            anderson = plain
        else:
            act = (cols < cnt) * 1.0
            Gm = (dG * act[:, None]).T   # (n, mem)
            Xm = (dX * act[:, None]).T
            reg = ANDERSON_REG * xp.maximum(xp.sum(Gm * Gm), 1e-300)
            M = Gm.T @ Gm + reg * eye + xp.diag(1.0 - act)
            gamma = xp.linalg.solve(M, Gm.T @ g)
            anderson = x + beta * g - (Xm + beta * Gm) @ gamma
        ok = valid(xp.stack([anderson, plain]))
        and_ok = xp.isfinite(anderson).all() & ok[0]
        proposal = xp.where(use_and & and_ok, anderson, plain)
        cleared = use_and & (~and_ok)
        plain_ok = xp.where(use_and & and_ok, True, ok[1])
        if not (k.concrete and plain_ok):  # (NumPy knows already: the halvings are needed only off the domain)
            # even the plain step left the domain: the first halving that stays inside (the last one regardless)
            cand_ok = valid(x[None, :] + steps[:-1, None] * g[None, :])
            first = xp.argmax(xp.concatenate([cand_ok, xp.ones(1, dtype=bool)]))
            proposal = xp.where(plain_ok, proposal, x + steps[first] * g)
        cnt = xp.where(cleared | (~plain_ok), 0, cnt)
        running = status == RUNNING
        return dict(
            x=xp.where(running, proposal, xp.where(finite, fx, x)), it=it, status=status,
            res=xp.where(finite, res, c["res"]), h=xp.where(finite, hn, c["h"]),
            prev_x=x, prev_g=g, has_prev=xp.asarray(True), dX=dX, dG=dG, cnt=cnt, ptr=ptr,
            n_app=n_app, inc=inc, last_norm=nfx, norms=norms, ress=ress,
        )

    zero = xp.asarray(0)
    init = dict(
        x=x0, it=zero, status=xp.where(active, RUNNING, CONVERGED), res=xp.asarray(xp.inf), h=h0,
        prev_x=x0, prev_g=xp.zeros(n), has_prev=xp.asarray(False), dX=xp.zeros((mem, n)), dG=xp.zeros((mem, n)),
        cnt=zero, ptr=zero, n_app=zero, inc=zero, last_norm=xp.asarray(0.0), norms=xp.zeros(W), ress=xp.zeros(W),
    )
    out = k.while_loop(cond, body, init)
    status = xp.where(out["status"] == RUNNING, MAX_ITER, out["status"])
    return out["x"], status, out["res"], out["it"], out["h"]


#: The fallback policy of :func:`iterate_with_fallback`: Anderson for at most this many iterations,
#: then plain damped iteration with this damping from the same start.
ANDERSON_PHASE = 400
FALLBACK_DAMPING = 0.9


def iterate_with_fallback(k: AbstractKernel, F: Callable, x0, h0, options: FixedPointOptions, valid, norm):
    """Anderson-accelerated iteration; if it fails, plain damped iteration from the same start.

    Anderson mixing is fast away from thresholds but can cycle where the norm is
    very large (close to separability); the plain damped map is slow there but
    robust, and detects run-away norms (divergence) reliably.  The second run
    gets the iterations the first left of ``options.max_iter``.
    """
    xp = k.xp
    budget = options.max_iter
    first = min(budget, ANDERSON_PHASE) if options.memory > 0 else budget
    x, status, res, it, h = iterate(k, F, x0, h0, options, valid, norm, first)
    if options.memory == 0 or budget - first <= 0:
        return x, status, res, it, h
    again = status != CONVERGED
    plain = FixedPointOptions(tol=options.tol, max_iter=budget, damping=FALLBACK_DAMPING, memory=0,
                              bound=options.bound, growth_window=options.growth_window,
                              growth_factor=options.growth_factor)
    x2, status2, res2, it2, h2 = iterate(k, F, x0, h, plain, valid, norm, budget - it, again)
    return (xp.where(again, x2, x), xp.where(again, status2, status), xp.where(again, res2, res),
            xp.where(again, it + it2, it), xp.where(again, h2, h))
