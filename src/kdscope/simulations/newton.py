"""Exact training of one convex learner: Newton steps solved by preconditioned conjugate gradients.

Objective (DESIGN.md section 1), with ``A = s X_S`` the inputs on the learner's p
trained coordinates (``s = 1/sqrt(d)``, applied on the fly, never to a copy of X) and
``z = A w + b``:

    L(w, b) = sum_mu loss(z_mu; target_mu) + lam / 2 |w|^2

gradient ``(A^T l', sum l') + (lam w, 0)``, Hessian
``[[A^T diag(l'') A + lam I, A^T l''], [l''^T A, sum l'']]`` (l', l'' the
derivatives of the loss in z; :mod:`.linalg` forms it in row blocks).

Method.  Each Newton system ``H step = -grad`` is solved by conjugate gradients
with Hessian-vector products (two passes over X, O(n p)), preconditioned by the
Cholesky factor of a float32 Hessian formed at the starting point and formed again
only when CG needs many iterations (the curvature moved).  The forcing term
``min(0.1, sqrt(|grad| / (1 + |(w, b)|)))`` makes the outer iteration
superlinear; a backtracking (Armijo) line search on L keeps every step a descent.
Typical cost at d = 1000, n = 2000: one float32 Hessian and 10-25 CG iterations per
learner.  Quadratic losses (square, linear, logit MSE and their mixes) take one exact
step with the float64 Cholesky factor: the closed-form linear solve.  Stop:
``|grad| <= gtol (1 + |(w, b)|)``, the gradient always in float64, so the minimiser
is exact whatever precision the preconditioner has.

Response.  When asked, the float64 Hessian at the solution is formed and factored
once, and the factor is turned into the inverse in place (LAPACK ``potri``: no second
(p+1)^2 array); ``V = Tr([H^-1]_ww) / d`` (the ww block of the inverse is the inverse
of the Schur complement, i.e. of the Hessian with the bias profiled out).

Failure is reported, never hidden:

- ``diverged``: ``|w|^2 / d`` passed ``bound``;
- ``no finite minimiser``: with lam = 0 the objective still decreases along the
  ray ``t (w, b)``, t -> infinity (``L(2 w, 2 b) < L(w, b)``): the training set is
  separated by the learner (e.g. unregularised logistic below the separability
  threshold), so every small-gradient point is an artefact of the flat tail;
- ``singular Hessian``: with lam = 0 the Hessian at the end is not positive
  definite (more weights than constraints, e.g. square loss at alpha < 1): the
  minimiser is not unique and the response V is infinite;
- ``max_iter``: the iteration budget ran out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import linalg

CONVERGED = "converged"
DIVERGED = "diverged: |w|^2/d passed its bound (no finite minimiser; add ridge)"
SEPARABLE = ("no finite minimiser: with lam=0 the loss keeps decreasing along t (w, b), t -> inf "
             "(the training set is separable by this learner); add ridge or increase alpha")
SINGULAR = ("singular Hessian: with lam=0 the minimiser is not unique (more trained weights than "
            "effective constraints) and the response V is infinite; add ridge or increase alpha")
MAX_ITER = "stopped at max_iter (raise max_iter)"
NON_FINITE = "non-finite value during training"


@dataclass(frozen=True)
class FitOptions:
    """Numerical options of :func:`fit` (not physics).

    gtol : relative gradient tolerance, ``|grad| <= gtol (1 + |(w, b)|)``.
    max_iter : Newton iterations.
    bound : divergence bound on ``q = |w|^2 / d``.
    cg_iter : conjugate-gradient iterations per Newton step; a step that needs
        more than half of them forms the preconditioner again at the next point.
    """

    gtol: float = 1e-10
    max_iter: int = 200
    bound: float = 1e8
    cg_iter: int = 50


@dataclass(frozen=True)
class Fit:
    """A trained learner.

    Attributes
    ----------
    w : (p,) weights on the trained coordinates.  b : bias (0 if not trained).
    converged : bool.  status : one of the module's status sentences.
    n_iter : Newton iterations.  grad_norm : final |grad|.
    H_inv : inverse Hessian at the solution, shape (p + 1, p + 1) with the bias
        last (or (p, p) without bias); None if not converged or if the response
        was not asked for.
    has_bias : whether the bias was trained.
    n_cg : conjugate-gradient iterations.  n_precond : float32 Hessians formed.
    """

    w: np.ndarray
    b: float
    converged: bool
    status: str
    n_iter: int
    grad_norm: float
    H_inv: np.ndarray | None
    has_bias: bool
    n_cg: int = 0
    n_precond: int = 0

    def response(self, d: int) -> float:
        """V = Tr([H^-1]_ww) / d (bias profiled out); NaN if not converged or not asked for."""
        if self.H_inv is None:
            return float("nan")
        p = self.w.size
        return float(np.trace(self.H_inv[:p, :p]) / d)


def trains_bias(loss, bias: bool) -> bool:
    """Whether the bias is trainable for ``loss``.

    A loss with zero curvature everywhere (the linear loss, ``quadratic`` with
    a = 0) is unbounded below in an unregularised bias unless the targets sum to
    zero; as in the theory (whose bias update needs E[df/domega] < 0), the bias
    then stays at 0.
    """
    q = getattr(loss, "quadratic", None)
    return bool(bias) and not (q is not None and q[0] == 0.0)


class _Problem:
    """The objective's pieces on (X, scale): logits, gradient, Hessian products and Hessians."""

    def __init__(self, loss, target, X, scale, lam, with_bias):
        self.loss, self.target, self.X, self.s, self.lam, self.with_bias = loss, target, X, scale, lam, with_bias
        self.p = X.shape[1]

    def logits(self, w, b):
        return self.s * (self.X @ w) + b

    def value(self, z, w):
        return float(np.sum(self.loss.value(z, self.target)) + 0.5 * self.lam * np.dot(w, w))

    def gradient(self, z, w):
        l1 = self.loss.grad(z, self.target)
        gw = self.s * (self.X.T @ l1) + self.lam * w
        return np.append(gw, l1.sum()) if self.with_bias else gw

    def direction_logits(self, v):
        """The change of the logits along v = (v_w, v_b): s X v_w + v_b."""
        return self.logits(v[:self.p], v[self.p] if self.with_bias else 0.0)

    def hess_vec(self, h, v):
        hu = h * self.direction_logits(v)
        out = self.s * (self.X.T @ hu) + self.lam * v[:self.p]
        return np.append(out, hu.sum()) if self.with_bias else out

    def factor(self, h, dtype):
        """(L, shifted): Cholesky factor of the Hessian with curvatures h, in dtype, shifted if not PD."""
        def build():
            return linalg.hessian(self.X, self.s, h, self.lam, self.with_bias, dtype)
        hint = self.lam + self.s ** 2 * float(np.sum(h)) * float(np.mean(self.X[0] ** 2)) + float(np.mean(h))
        return linalg.shifted_factor(build, hint)


#: Above this, a curvature or ridge does not fit a float32 preconditioner (float32 overflows at 3.4e38).
_FLOAT32_MAX_ENTRY = 1e30


def _preconditioner_dtype(lam, h):
    """float32 (half the cost of the Hessian) unless the ridge or a curvature would overflow it."""
    return np.float32 if lam < _FLOAT32_MAX_ENTRY and float(np.max(h, initial=0.0)) < _FLOAT32_MAX_ENTRY \
        else np.float64


def _pcg(prob, h, g, P, rtol, maxiter):
    """Solve ``H x = -g`` by flexible preconditioned CG (preconditioner: solves with factor P).

    Returns (x, iterations, ok); ok is False if the tolerance ``|r| <= rtol |g|`` was
    not met in maxiter iterations or the curvature along a direction was not positive.
    """
    x = np.zeros_like(g)
    r = -g
    y = linalg.solve(P, r)
    d = y.copy()
    ry = float(np.dot(r, y))
    target = rtol * float(np.sqrt(np.dot(g, g)))
    for k in range(1, maxiter + 1):
        Hd = prob.hess_vec(h, d)
        dHd = float(np.dot(d, Hd))
        if not dHd > 0.0:
            return x if k > 1 else y, k, False
        a = ry / dHd
        x += a * d
        r_new = r - a * Hd
        if np.sqrt(np.dot(r_new, r_new)) <= target:
            return x, k, True
        y_new = linalg.solve(P, r_new)
        beta = float(np.dot(y_new, r_new - r)) / ry
        ry = float(np.dot(y_new, r_new))
        d = y_new + max(beta, 0.0) * d
        r = r_new
    return x, maxiter, False


def fit(loss, target, A: np.ndarray, lam: float, *, d: int, bias: bool = True, w_init: np.ndarray | None = None,
        b_init: float = 0.0, options: FitOptions | None = None, scale: float = 1.0, response: bool = True) -> Fit:
    """Minimise ``sum_mu loss(scale A w + b; target) + lam/2 |w|^2`` exactly.

    Parameters
    ----------
    loss : a loss of ``kdscope.theory.losses`` (``value``, ``grad``, ``hess``
        vectorised in z).  target : its target (labels, or the pair (y, t)).
    A : (n, p) inputs on the trained coordinates (may be a column view; it is
        never copied whole).  scale : the factor applied to A (1/sqrt(d) for raw
        inputs; 1 when A is already divided by sqrt(d)).
    lam : ridge, >= 0.  d : the dimension (for ``q = |w|^2 / d``).
    bias : train an unregularised bias (see :func:`trains_bias`).
    w_init, b_init : warm start.  options : :class:`FitOptions`.
    response : invert the float64 Hessian at the solution (for V and the cross
        response); without it, no O(n p^2) work is done after convergence (except
        at lam = 0, where the factor decides between a unique and a flat minimiser).

    Returns
    -------
    Fit
    """
    opts = options or FitOptions()
    n, p = A.shape
    with_bias = trains_bias(loss, bias)
    quadratic = getattr(loss, "quadratic", None) is not None
    prob = _Problem(loss, target, A, float(scale), float(lam), with_bias)
    w = np.zeros(p) if w_init is None else np.array(w_init, dtype=float)
    b = float(b_init) if with_bias else 0.0
    z = prob.logits(w, b)
    F = prob.value(z, w)
    exact = prob.factor(loss.hess(z, target), np.float64) if quadratic else None  # constant Hessian
    P, refresh, n_cg, n_precond = None, True, 0, 0
    status, gnorm, it = MAX_ITER, np.inf, 0
    for it in range(opts.max_iter + 1):
        g = prob.gradient(z, w)
        theta_norm = np.sqrt(np.dot(w, w) + b * b)
        gnorm = float(np.sqrt(np.dot(g, g)))
        if not (np.isfinite(gnorm) and np.isfinite(F)):
            status = NON_FINITE
            break
        if np.dot(w, w) / d > opts.bound:
            status = DIVERGED
            break
        if gnorm <= opts.gtol * (1.0 + theta_norm):
            status = CONVERGED
            break
        if it == opts.max_iter:
            break
        if quadratic:
            step = -linalg.solve(exact[0], g)
        else:
            h = loss.hess(z, target)
            if P is None or refresh:
                P, refresh, n_precond = None, False, n_precond + 1  # free the old one before forming the next
                P = prob.factor(h, _preconditioner_dtype(lam, h))[0]
            rel = gnorm / (1.0 + theta_norm)
            rtol = max(min(0.1, np.sqrt(rel)), 0.1 * opts.gtol * (1.0 + theta_norm) / gnorm)
            step, k, ok = _pcg(prob, h, g, P, rtol, opts.cg_iter)
            n_cg += k
            refresh = not ok or k > opts.cg_iter // 2
        slope = float(np.dot(g, step))
        if not slope < 0.0:  # no descent direction: the preconditioned gradient always is one
            step = -linalg.solve(exact[0] if quadratic else P, g)
            slope = float(np.dot(g, step))
            refresh = True
        dz = prob.direction_logits(step)
        t = 1.0
        while True:
            w_new = w + t * step[:p]
            b_new = b + t * step[p] if with_bias else 0.0
            with np.errstate(over="ignore"):
                F_new = prob.value(z + t * dz, w_new)
            below_rounding = -slope * t <= 1e-13 * (1.0 + abs(F))
            if np.isfinite(F_new) and (F_new <= F + 1e-4 * t * slope or below_rounding):
                break
            t *= 0.5
            if t < 1e-20:
                break
        w, b = w_new, b_new
        z = prob.logits(w, b)  # exact logits (no drift from the line search's z + t dz)
        F = prob.value(z, w)
    P = None
    if status == CONVERGED and lam == 0.0:
        F2 = prob.value(prob.logits(2.0 * w, 2.0 * b), 2.0 * w)
        if F2 < 0.5 * F:
            # At a genuine minimiser F(2 theta) >= F(theta) - |grad| |theta| (convexity along the ray);
            # F(2 theta) < F(theta) / 2 means the loss is ~0 and still falling: separated training set.
            status = SEPARABLE
    L = None
    if status == CONVERGED and (response or lam == 0.0):
        L, shifted = exact if quadratic else prob.factor(loss.hess(z, target), np.float64)
        if shifted and lam == 0.0:
            status, L = SINGULAR, None
    H_inv = linalg.invert_in_place(L) if L is not None and response else None
    return Fit(w, b, status == CONVERGED, status, it, gnorm, H_inv, with_bias, n_cg, n_precond)
