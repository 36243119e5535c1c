"""Safeguarded Newton for the proximal operator of a smooth convex loss.

prox(s, v) = argmin_h  (h - s)^2 / (2 v) + loss(h),  i.e. the root of
phi'(h) = (h - s) / v + loss'(h), strictly increasing (phi'' >= 1 / v).

Bracket: since loss' is non-decreasing, the root lies between s and
s - v loss'(s) (DESIGN.md section 3 gives [s - v, s + v] for the logistic loss,
which contains it).  Newton steps that leave the bracket, or follow a step that failed
to halve |phi'|, are replaced by bisection; the bracket shrinks every step, so the iteration always converges.
Tolerance: |phi'(h)| * v <= 1e-13 (1 + |h| + |s|) or a bracket at machine precision, typically reached in < 10 steps.
"""

from __future__ import annotations

import numpy as np

PROX_TOL = 1e-13
PROX_MAX_ITER = 100


def newton_prox(loss, s, v, target, h0=None):
    """Vectorised prox of ``loss`` (with ``grad`` and ``hess``) at s with step v.

    Parameters
    ----------
    loss : object with ``grad(h, target)`` and ``hess(h, target)``
    s : array, the prox centre
    v : float or array > 0, the step (variance) of the proximal term
    target : the loss's target (label, soft target, or (y, t) pair), broadcastable
    h0 : optional starting point (e.g. the previous fixed-point iteration's
        output at the same quadrature node); clipped into the bracket.

    Returns
    -------
    h : array of the shape of ``s``.

    Raises
    ------
    FloatingPointError if the iteration did not converge (never expected:
    the bracket shrinks geometrically at worst).
    """
    s = np.asarray(s, dtype=float)
    v = np.broadcast_to(np.asarray(v, dtype=float), s.shape)
    g0 = loss.grad(s, target)
    other = s - v * g0
    lo = np.minimum(s, other)
    hi = np.maximum(s, other)
    h = s - v * g0 / (1.0 + v * loss.hess(s, target))
    if h0 is not None and np.shape(h0) == s.shape:
        # a warm start outside the new bracket is worse than the one-step cold start
        h = np.where((h0 > lo) & (h0 < hi), h0, h)
    h = np.clip(h, lo, hi)
    last_g = np.full(s.shape, np.inf)
    for _ in range(PROX_MAX_ITER):
        g = (h - s) / v + loss.grad(h, target)
        # |h - s| is known to ~1e-16 |s| only, so phi' = (h - s)/v + loss' cannot be
        # resolved below ~1e-16 (|h| + |s|) / v: the tolerance scales with |s| too
        done = np.abs(g) * v <= PROX_TOL * (1.0 + np.abs(h) + np.abs(s))
        if done.all():
            return h
        lo = np.where(g < 0, h, lo)
        hi = np.where(g > 0, h, hi)
        step = g / (1.0 / v + loss.hess(h, target))
        new = h - step
        # bisect when Newton leaves the bracket or |phi'| did not halve since the
        # last step (Newton can ping-pong between the flat ends of a wide bracket)
        # (landing exactly on a bracket end is allowed: in the linear regime the root is s - v loss'(s))
        slow = (new < lo) | (new > hi) | (np.abs(g) > 0.5 * last_g)
        new = np.where(slow, 0.5 * (lo + hi), new)
        last_g = np.abs(g)
        h = np.where(done, h, new)
        if np.all(done | (hi - lo <= 4e-16 * (1.0 + np.abs(h) + np.abs(s)))):
            return h
    raise FloatingPointError(
        f"newton_prox did not converge in {PROX_MAX_ITER} iterations (max |phi'| = {np.max(np.abs(g)):.3g})"
    )
