"""Exact training of one convex learner by damped Newton with a line search.

Objective (DESIGN.md section 1), with ``A = X_S / sqrt(d)`` the inputs on the
learner's p trained coordinates and ``z = A w + b``:

    L(w, b) = sum_mu loss(z_mu; target_mu) + lam / 2 |w|^2

gradient ``(A^T l', sum l') + (lam w, 0)``, Hessian
``[[A^T diag(l'') A + lam I, A^T l''], [l''^T A, sum l'']]`` (l', l'' the
derivatives of the loss in z).  Each step solves the Newton system by Cholesky
(a Levenberg shift ``nu I`` is added only if the Hessian is not numerically
positive definite) and backtracks on L (Armijo).  Quadratic losses (square,
linear, logit MSE and their mixes) converge in one step: this is the closed
form linear solve.  Stop: ``|grad| <= gtol (1 + |(w, b)|)``.

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

The inverse Hessian at the solution is returned for the response
``V = Tr([H^-1]_ww) / d`` (the ww block of the inverse is the inverse of the
Schur complement, i.e. of the Hessian with the bias profiled out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from scipy.linalg.lapack import dpotri
from scipy.optimize import minimize

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
    warm_iter, warm_rtol : L-BFGS warm-up (O(n p) per iteration) before the
        Newton phase, stopped when max|grad| fell by the factor warm_rtol or
        after warm_iter iterations (skipped for quadratic losses).
    """

    gtol: float = 1e-10
    max_iter: int = 200
    bound: float = 1e8
    warm_iter: int = 300
    warm_rtol: float = 1e-4


@dataclass(frozen=True)
class Fit:
    """A trained learner.

    Attributes
    ----------
    w : (p,) weights on the trained coordinates.  b : bias (0 if not trained).
    converged : bool.  status : one of the module's status sentences.
    n_iter : Newton iterations.  grad_norm : final |grad|.
    H_inv : inverse Hessian at the solution, shape (p + 1, p + 1) with the bias
        last (or (p, p) without bias); None if not converged.
    has_bias : whether the bias was trained.
    """

    w: np.ndarray
    b: float
    converged: bool
    status: str
    n_iter: int
    grad_norm: float
    H_inv: np.ndarray | None
    has_bias: bool

    def response(self, d: int) -> float:
        """V = Tr([H^-1]_ww) / d (bias profiled out); NaN if not converged."""
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


def _objective(loss, target, A, lam, w, b):
    z = A @ w + b
    return float(np.sum(loss.value(z, target)) + 0.5 * lam * np.dot(w, w)), z


def _hessian(A, h, lam, with_bias):
    """The Hessian of L; ``A`` may be float32 (a cheaper Newton-phase Hessian)."""
    p = A.shape[1]
    B = A * np.sqrt(h).astype(A.dtype)[:, None]
    Hww = (B.T @ B).astype(float)
    Hww[np.diag_indices(p)] += lam
    if not with_bias:
        return Hww
    H = np.empty((p + 1, p + 1))
    H[:p, :p] = Hww
    H[:p, p] = H[p, :p] = A.T.astype(float) @ h if A.dtype != float else A.T @ h
    H[p, p] = h.sum()
    return H


def _factor(H):
    """Cholesky of H, with a Levenberg shift if needed. Returns (factor, shifted)."""
    try:
        return cho_factor(H, lower=True, check_finite=False), False
    except LinAlgError:
        pass
    scale = max(float(np.mean(np.abs(np.diag(H)))), 1e-300)
    nu = 1e-12 * scale
    while nu < 1e12 * scale:
        try:
            return cho_factor(H + nu * np.eye(len(H)), lower=True, check_finite=False), True
        except LinAlgError:
            nu *= 100.0
    raise LinAlgError("Hessian could not be factorised even with a large shift")


def _inverse(factor):
    c, lower = factor
    inv, info = dpotri(c, lower=lower)
    if info != 0:
        raise LinAlgError(f"dpotri failed with info={info}")
    inv = np.tril(inv) if lower else np.triu(inv)
    return inv + inv.T - np.diag(np.diag(inv))


def _warm_up(loss, target, A, lam, w, b, with_bias, opts):
    """A few L-BFGS iterations (O(n p) each) to bring (w, b) near the minimiser."""
    p = A.shape[1]

    def fun(theta):
        wt = theta[:p]
        bt = theta[p] if with_bias else 0.0
        z = A @ wt + bt
        l1 = loss.grad(z, target)
        gw = A.T @ l1 + lam * wt
        g = np.append(gw, l1.sum()) if with_bias else gw
        return float(np.sum(loss.value(z, target)) + 0.5 * lam * np.dot(wt, wt)), g

    theta0 = np.append(w, b) if with_bias else w.copy()
    g0 = fun(theta0)[1]
    gtol = opts.warm_rtol * float(np.max(np.abs(g0)))
    with np.errstate(over="ignore"):
        res = minimize(fun, theta0, jac=True, method="L-BFGS-B",
                       options={"maxiter": opts.warm_iter, "gtol": gtol, "ftol": 0.0, "maxcor": 20})
    if not np.all(np.isfinite(res.x)):
        return w, b
    return res.x[:p].copy(), (float(res.x[p]) if with_bias else 0.0)


def fit(loss, target, A: np.ndarray, lam: float, *, d: int, bias: bool = True, w_init: np.ndarray | None = None,
        b_init: float = 0.0, options: FitOptions | None = None) -> Fit:
    """Minimise ``sum_mu loss(A w + b; target) + lam/2 |w|^2`` exactly.

    Three phases: an L-BFGS warm-up (cheap, O(n p) per iteration; skipped for
    quadratic losses); Newton steps with a float32-accumulated Hessian whose
    factorisation is reused while the gradient contracts by 10x per step (the
    gradient is float64, so the fixed point is exact); the float64 Hessian at
    the solution for the response V (for quadratic losses the Hessian is
    constant and one float64 factorisation serves all).

    Parameters
    ----------
    loss : a loss of ``kdscope.theory.losses`` (``value``, ``grad``, ``hess``
        vectorised in z).  target : its target (labels, or the pair (y, t)).
    A : (n, p) inputs on the trained coordinates, already divided by sqrt(d).
    lam : ridge, >= 0.  d : the dimension (for ``q = |w|^2 / d``).
    bias : train an unregularised bias (see :func:`trains_bias`).
    w_init, b_init : warm start.  options : :class:`FitOptions`.

    Returns
    -------
    Fit
    """
    opts = options or FitOptions()
    n, p = A.shape
    with_bias = trains_bias(loss, bias)
    quadratic = getattr(loss, "quadratic", None) is not None
    w = np.zeros(p) if w_init is None else np.array(w_init, dtype=float)
    b = float(b_init) if with_bias else 0.0
    if not quadratic and opts.warm_iter > 0:
        w, b = _warm_up(loss, target, A, lam, w, b, with_bias, opts)
    A_newton = A if quadratic else A.astype(np.float32)
    F, z = _objective(loss, target, A, lam, w, b)
    fact, refresh = None, True
    status, gnorm, it = MAX_ITER, np.inf, 0
    for it in range(opts.max_iter + 1):
        l1 = loss.grad(z, target)
        gw = A.T @ l1 + lam * w
        g = np.append(gw, l1.sum()) if with_bias else gw
        theta_norm = np.sqrt(np.dot(w, w) + b * b)
        g_prev, gnorm = gnorm, float(np.sqrt(np.dot(g, g)))
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
        if fact is None or refresh or gnorm > 0.1 * g_prev:
            fact = _factor(_hessian(A_newton, loss.hess(z, target), lam, with_bias))
        step = -cho_solve(fact[0], g, check_finite=False)
        slope = float(np.dot(g, step))
        if slope >= 0:  # a stale factorisation gave no descent direction: refresh and retry
            fact = _factor(_hessian(A_newton, loss.hess(z, target), lam, with_bias))
            step = -cho_solve(fact[0], g, check_finite=False)
            slope = float(np.dot(g, step))
        t = 1.0
        while True:
            w_new = w + t * step[:p]
            b_new = b + t * step[p] if with_bias else 0.0
            with np.errstate(over="ignore"):
                F_new, z_new = _objective(loss, target, A, lam, w_new, b_new)
            below_rounding = -slope * t <= 1e-13 * (1.0 + abs(F))
            if np.isfinite(F_new) and (F_new <= F + 1e-4 * t * slope or below_rounding):
                break
            t *= 0.5
            if t < 1e-20:
                break
        refresh = t < 1.0
        w, b, F, z = w_new, b_new, F_new, z_new
    H_inv = None
    if status == CONVERGED and lam == 0.0:
        F2, _ = _objective(loss, target, A, lam, 2.0 * w, 2.0 * b)
        if F2 < 0.5 * F:
            # At a genuine minimiser F(2 theta) >= F(theta) - |grad| |theta| (convexity along the ray);
            # F(2 theta) < F(theta) / 2 means the loss is ~0 and still falling: separated training set.
            status = SEPARABLE
    if status == CONVERGED:
        if not quadratic or A_newton is not A or fact is None:
            fact = _factor(_hessian(A, loss.hess(z, target), lam, with_bias))
        if fact[1] and lam == 0.0:
            status = SINGULAR
        else:
            H_inv = _inverse(fact[0])
    return Fit(w, b, status == CONVERGED, status, it, gnorm, H_inv, with_bias)
