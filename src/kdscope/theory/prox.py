"""Safeguarded Newton for the proximal operator of a smooth convex loss (one code for NumPy and JAX).

prox(s, v) = argmin_h  (h - s)^2 / (2 v) + loss(h),  i.e. the root of
phi'(h) = (h - s) / v + loss'(h), strictly increasing (phi'' >= 1 / v).

Bracket: since loss' is non-decreasing, the root lies between s and
s - v loss'(s) (DESIGN.md section 3 gives [s - v, s + v] for the logistic loss,
which contains it).  Newton steps that leave the bracket, or follow a step that failed
to halve |phi'|, are replaced by bisection; the bracket shrinks every step, so the iteration always converges.
Tolerance: |phi'(h)| * v <= 1e-13 (1 + |h| + |s|) or a bracket at machine precision, typically reached in < 10 steps.
A point that has not converged after 100 steps (never observed) is returned as NaN, which the fixed-point
iteration reports as a non-finite value.
"""

from __future__ import annotations

from .kernel import kernel_of

PROX_TOL = 1e-13
PROX_MAX_ITER = 100


def newton_prox(loss, s, v, target, h0=None):
    """Vectorised prox of ``loss`` (with ``grad`` and ``hess``) at s with step v.

    Parameters
    ----------
    loss : object with ``at_target(target)``, a function h -> (loss'(h), loss''(h))
    s : array, the prox centre
    v : float or array > 0, the step (variance) of the proximal term
    target : the loss's target (label, soft target, or (y, t) pair), broadcastable
    h0 : optional starting point of the shape of ``s`` (e.g. the previous
        fixed-point iteration's output at the same quadrature node); used where
        it lies strictly inside the bracket.

    Returns
    -------
    h : array of the shape of ``s`` (NaN where the iteration did not converge).
    """
    k = kernel_of(s, v, h0)
    xp = k.xp
    s = xp.asarray(s, dtype=float)
    v = xp.asarray(v, dtype=float)  # (broadcast by the arithmetic: broadcast_to costs more than the step)
    grad_hess = loss.at_target(target)
    g0, H0 = grad_hess(s)
    other = s - v * g0
    lo = xp.minimum(s, other)
    hi = xp.maximum(s, other)
    h = s - v * g0 / (1.0 + v * H0)
    if h0 is not None and h0.shape == s.shape:
        # a warm start outside the new bracket is worse than the one-step cold start
        h = xp.where((h0 > lo) & (h0 < hi), h0, h)
    h = xp.clip(h, lo, hi)
    # the parts of the two stopping tests that depend on s only (computed once)
    tol_s = PROX_TOL * (1.0 + xp.abs(s))
    tiny_s = 4e-16 * (1.0 + xp.abs(s))

    def cond(c):
        i, _, _, _, _, stop = c
        return (~stop) & (i < PROX_MAX_ITER)

    def body(c):
        i, h, lo, hi, last_g, _ = c
        grad, hess = grad_hess(h)
        g = (h - s) / v + grad
        # |h - s| is known to ~1e-16 |s| only, so phi' = (h - s)/v + loss' cannot be
        # resolved below ~1e-16 (|h| + |s|) / v: the tolerance scales with |s| too
        ag = xp.abs(g)
        done = ag * v <= PROX_TOL * xp.abs(h) + tol_s
        lo = xp.where(g < 0, h, lo)
        hi = xp.where(g > 0, h, hi)
        new = h - g / (1.0 / v + hess)
        # bisect when Newton leaves the bracket or |phi'| did not halve since the last step
        # (landing exactly on a bracket end is allowed: in the linear regime the root is s - v loss'(s))
        slow = (new < lo) | (new > hi) | (ag > 0.5 * last_g)
        new = xp.where(slow, 0.5 * (lo + hi), new)
        all_done = done.all()
        h_next = xp.where(done | all_done, h, new)
        tiny = (done | (hi - lo <= 4e-16 * xp.abs(h_next) + tiny_s)).all()
        return i + 1, h_next, lo, hi, ag, all_done | tiny

    carry = (xp.asarray(0), h, lo, hi, xp.full(s.shape, xp.inf), xp.asarray(False))
    _, h, _, _, _, stop = k.while_loop(cond, body, carry)
    return xp.where(stop, h, xp.nan)
