"""A small fixed-point driver: damping plus Anderson acceleration, with explicit statuses.

``iterate(fmap, x0, options, valid)`` looks for x = fmap(x) on packed coordinates.  Each
step mixes the last ``memory`` residuals (Anderson type II, least squares) with damping
``damping``; a step that leaves the valid set (``valid(x)`` False: e.g. a response block
that is not positive definite) or makes the residual jump is replaced by a plain damped
step and the history is cleared.  The residual is max_i |fmap(x)_i - x_i| / (1 + |fmap(x)_i|).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Status", "FixedPointOptions", "iterate"]


class Status(enum.Enum):
    """How the iteration ended (values are sentences)."""

    CONVERGED = "converged"
    MAX_ITER = "stopped at max_iter (raise max_iter or add damping)"
    DIVERGED = "diverged (an overlap passed its bound: probably no finite minimiser without ridge)"
    NON_FINITE = "non-finite value in the iteration"
    INACCURATE = "fixed point found but the quadrature error exceeds its tolerance (raise order)"


@dataclass(frozen=True)
class FixedPointOptions:
    """tol: residual tolerance; max_iter; damping in (0, 1] (1: no damping); memory: Anderson
    history (0: plain damped iteration); bound: |x| above which the iteration is 'diverged'."""

    tol: float = 1e-10
    max_iter: int = 400
    damping: float = 0.8
    memory: int = 5
    bound: float = 1e8


def iterate(fmap: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, opts: FixedPointOptions,
            valid: Callable[[np.ndarray], bool] = lambda x: True):
    """Return (x, status, residual, n_iter); on success x = fmap(previous x) with residual < tol."""
    x = np.array(x0, dtype=float)
    X, R = [], []
    beta = opts.damping
    best = np.inf
    res = np.inf
    for it in range(1, opts.max_iter + 1):
        fx = fmap(x)
        if not np.all(np.isfinite(fx)):
            return x, Status.NON_FINITE, res, it
        r = fx - x
        res = float(np.max(np.abs(r) / (1.0 + np.abs(fx))))
        if res < opts.tol:
            return fx, Status.CONVERGED, res, it
        if np.max(np.abs(fx)) > opts.bound:
            return fx, Status.DIVERGED, res, it
        if res > 1e3 * best:  # a bad extrapolation: restart the history from here
            X, R = [], []
        best = min(best, res)
        X.append(x.copy())
        R.append(r)
        if len(X) > opts.memory + 1:
            X.pop(0)
            R.pop(0)
        x_new = x + beta * r
        if opts.memory > 0 and len(X) >= 2:
            dX = np.diff(np.array(X), axis=0).T
            dR = np.diff(np.array(R), axis=0).T
            gamma, *_ = np.linalg.lstsq(dR, r, rcond=1e-12)
            x_acc = x + beta * r - (dX + beta * dR) @ gamma
            if np.all(np.isfinite(x_acc)) and valid(x_acc):
                x_new = x_acc
            else:
                X, R = [], []
        if not valid(x_new):
            x_new = fx  # the map's own output is always valid
        x = x_new
    return x, Status.MAX_ITER, res, opts.max_iter
