"""A generic fixed-point engine: damped iteration with Anderson acceleration.

Solves x = F(x) for a flat float vector x.  Each step evaluates F, measures the
residual ``max_i |F(x)_i - x_i| / (1 + |x_i|)`` (relative change, absolute for
small entries), and proposes the next iterate by Anderson mixing of the last
``memory`` steps (type II, least squares with Tikhonov regularisation), damped
by ``damping``.  A proposal that is non-finite or rejected by ``valid`` falls
back to the plain damped step and clears the history.  The engine never returns
a silent NaN: it reports a :class:`Status` with the residual and iteration count.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable

import numpy as np


class Status(enum.Enum):
    """How a fixed-point iteration ended; values are sentences."""

    CONVERGED = "converged"
    MAX_ITER = "stopped at max_iter (raise max_iter or add damping)"
    DIVERGED = "diverged (the norm passed its bound: probably below the separability threshold)"
    NON_FINITE = "non-finite value"
    NOT_STATIONARY = ("stopped at a non-stationary point (a bias condition E[f] = 0 fails where the losses "
                      "saturate; start without a warm start or add ridge)")

    @property
    def ok(self) -> bool:
        return self is Status.CONVERGED


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


@dataclass(frozen=True)
class FixedPointResult:
    x: np.ndarray
    status: Status
    residual: float
    n_iter: int
    detail: str = ""


def residual(x: np.ndarray, fx: np.ndarray) -> float:
    """max_i |F(x)_i - x_i| / (1 + |x_i|)."""
    return float(np.max(np.abs(fx - x) / (1.0 + np.abs(x))))


def iterate(F: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, options: FixedPointOptions = FixedPointOptions(),
            valid: Callable[[np.ndarray], bool] = lambda x: True,
            norm: Callable[[np.ndarray], float] = lambda x: float(np.max(np.abs(x)))) -> FixedPointResult:
    """Iterate x <- F(x) from x0 until the residual is below ``options.tol``.

    Parameters
    ----------
    F : map of flat float vectors (must be finite on valid inputs).
    x0 : starting point (a warm start when continuing along a curve).
    valid : accepts or rejects a proposal (e.g. positive responses V_aa).
    norm : the quantity compared with ``options.bound`` for divergence.

    Returns
    -------
    FixedPointResult with the last iterate, its status, residual and iteration count.
    """
    x = np.array(x0, dtype=float)
    dX: list[np.ndarray] = []
    dG: list[np.ndarray] = []
    prev_x = prev_g = None
    res = np.inf
    beta = options.damping
    norms: list[float] = []
    residuals: list[float] = []
    for it in range(1, options.max_iter + 1):
        try:
            fx = F(x)
        except FloatingPointError as exc:
            return FixedPointResult(x, Status.NON_FINITE, res, it, f"at iteration {it}: {exc}")
        if not np.all(np.isfinite(fx)):
            return FixedPointResult(x, Status.NON_FINITE, res, it, f"at iteration {it}")
        g = fx - x
        res = residual(x, fx)
        if res < options.tol:
            return FixedPointResult(fx, Status.CONVERGED, res, it)
        nfx = norm(fx)
        if nfx > options.bound:
            return FixedPointResult(fx, Status.DIVERGED, res, it, f"norm {nfx:.3g} > bound {options.bound:.3g}")
        norms.append(nfx)
        residuals.append(res)
        w = options.growth_window
        if len(norms) > w:
            recent = np.array(norms[-w:])
            if (np.all(np.diff(recent) > 0) and recent[-1] > options.growth_factor * recent[0]
                    and residuals[-1] > 0.5 * residuals[-w]):
                return FixedPointResult(fx, Status.DIVERGED, res, it,
                                        f"norm grew from {recent[0]:.3g} to {recent[-1]:.3g} in {w} iterations")
        if prev_x is not None and options.memory > 0:
            dX.append(x - prev_x)
            dG.append(g - prev_g)
            if len(dX) > options.memory:
                dX.pop(0)
                dG.pop(0)
        prev_x, prev_g = x, g
        plain = x + beta * g
        proposal = plain
        if dX:
            Gm = np.stack(dG, axis=1)
            Xm = np.stack(dX, axis=1)
            reg = 1e-12 * max(1.0, float(np.sum(Gm * Gm)))
            gamma = np.linalg.solve(Gm.T @ Gm + reg * np.eye(Gm.shape[1]), Gm.T @ g)
            proposal = x + beta * g - (Xm + beta * Gm) @ gamma
            if not (np.all(np.isfinite(proposal)) and valid(proposal)):
                proposal = plain
                dX.clear()
                dG.clear()
        if not valid(proposal):
            # even the plain step left the domain: shrink it
            step = beta
            while step > 1e-6 and not valid(x + step * g):
                step *= 0.5
            proposal = x + step * g
            dX.clear()
            dG.clear()
        x = proposal
    return FixedPointResult(x, Status.MAX_ITER, res, options.max_iter)
