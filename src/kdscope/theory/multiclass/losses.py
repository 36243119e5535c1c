"""Multi-class losses in reduced logit coordinates, and their vectorised prox.

Every loss here is invariant to adding one constant to all C logits (softmax
losses), or is evaluated on targets that carry no such constant (logit MSE, whose
1-direction is absorbed by the unregularised bias).  So each is written on the
reduced logits ``u = U^T z`` (``U = helmert_basis(C)``, C x (C - 1)), with
``z = U u``.  Arrays: ``u`` (N, D) with D = C - 1, labels ``y`` (N,) integers in
[0, C), the previous learner's output ``u_prev`` (N, D).

Each loss has ``value(u, y, u_prev)`` (N,), and ``derivatives(u, y, u_prev)``
returning the gradient (N, D), the Hessian (N, D, D) in u and the cross
Hessian d^2 loss / (du du_prev) (N, D, D) (None when the loss ignores u_prev).
A hard loss ignores ``u_prev``; a soft loss ignores ``y``.  :class:`Mix` builds
``(1 - xi) hard + xi soft`` from two losses.

Array code for the NumPy and the JAX kernels (``theory.kernel``): the labels ``y`` of the
quadrature grid are always a concrete NumPy array; the logits and the numbers (xi, tau) may be
traced.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..kernel import is_value, kernel_of
from .gram import helmert_basis

__all__ = ["CrossEntropy", "KLSoft", "LogitMSE", "Mix", "prox", "softmax", "student_loss"]


def _rowmax(z):
    """Row maximum of (N, C) with C small (a column loop beats a reduction over a short axis)."""
    xp = kernel_of(z).xp
    m = z[:, 0]
    for c in range(1, z.shape[1]):
        m = xp.maximum(m, z[:, c])
    return m


def softmax(z):
    """Row-wise softmax of (N, C) logits, computed stably."""
    xp = kernel_of(z).xp
    e = xp.exp(z - _rowmax(z)[:, None])
    return e / (e @ np.ones(z.shape[1]))[:, None]


def _logsumexp(z):
    xp = kernel_of(z).xp
    zm = _rowmax(z)
    return zm + xp.log(xp.exp(z - zm[:, None]) @ np.ones(z.shape[1]))


@lru_cache(maxsize=16)
def _outer_basis(C: int) -> np.ndarray:
    U = helmert_basis(C)
    return np.einsum("ci,cj->cij", U, U).reshape(C, -1)


def _reduced_hessian(p: np.ndarray, U: np.ndarray) -> np.ndarray:
    """U^T (diag p - p p^T) U for each row p (N, C) -> (N, D, D)."""
    C, D = U.shape
    pu = p @ U
    return (p @ _outer_basis(C)).reshape(-1, D, D) - pu[:, :, None] * pu[:, None, :]


@dataclass(frozen=True)
class CrossEntropy:
    """Softmax cross-entropy CE(y, z) = -log softmax(z)_y = logsumexp(z) - z_y.

    Domain: y in {0, ..., C-1}, z real.  Gradient in z: p - e_y with p = softmax(z);
    Hessian diag(p) - p p^T (positive semi-definite, null vector 1).  For C = 2 it is the
    logistic loss log(1 + exp(-(z_1 - z_2))) of the binary model (class 0 <-> y = +1).
    """

    classes: int

    def value(self, u, y, u_prev=None):
        z = u @ helmert_basis(self.classes).T
        return _logsumexp(z) - kernel_of(z).xp.sum(z * np.eye(self.classes)[y], axis=1)

    def derivatives(self, u, y, u_prev=None):
        U = helmert_basis(self.classes)
        p = softmax(u @ U.T)
        g = p @ U - U[y]
        return g, _reduced_hessian(p, U), None


@dataclass(frozen=True)
class KLSoft:
    """Soft cross-entropy at temperature tau: c KL(softmax(z_prev / tau) || softmax(z / tau)).

    c = tau^2 with Hinton's factor (``tau2_factor=True``, default), else 1.  With
    q = softmax(z_prev / tau), p = softmax(z / tau): gradient (c / tau)(p - q), Hessian
    (c / tau^2)(diag p - p p^T), cross Hessian -(c / tau^2)(diag q - q q^T).  For C = 2 it is
    the binary ``kl`` soft loss on the logit difference.  As tau -> infinity (with the factor)
    it tends to |z_c - z_prev,c|^2 / (2 C) on centred logits, i.e. logit matching.
    """

    classes: int
    tau: float = 1.0
    tau2_factor: bool = True

    @property
    def _c(self) -> float:
        return self.tau ** 2 if self.tau2_factor else 1.0

    def value(self, u, y, u_prev):
        U = helmert_basis(self.classes)
        zt, zp = (u @ U.T) / self.tau, (u_prev @ U.T) / self.tau
        q = softmax(zp)
        logq = zp - _logsumexp(zp)[:, None]
        logp = zt - _logsumexp(zt)[:, None]
        return self._c * kernel_of(u, u_prev).xp.sum(q * (logq - logp), axis=1)

    def derivatives(self, u, y, u_prev):
        U = helmert_basis(self.classes)
        p = softmax((u @ U.T) / self.tau)
        q = softmax((u_prev @ U.T) / self.tau)
        c = self._c
        g = (c / self.tau) * ((p - q) @ U)
        return g, (c / self.tau ** 2) * _reduced_hessian(p, U), -(c / self.tau ** 2) * _reduced_hessian(q, U)


@dataclass(frozen=True)
class LogitMSE:
    """Logit matching |z - z_prev|^2 / 2 on centred logits (= |u - u_prev|^2 / 2).

    For C = 2 it is half the binary ``mse``: (z_1 - z_2 - (z_prev,1 - z_prev,2))^2 / 4.
    """

    classes: int

    def value(self, u, y, u_prev):
        return 0.5 * kernel_of(u, u_prev).xp.sum((u - u_prev) ** 2, axis=1)

    def derivatives(self, u, y, u_prev):
        D = u.shape[1]
        xp = kernel_of(u, u_prev).xp
        eye = xp.zeros((u.shape[0], D, D)) + np.eye(D)
        return u - u_prev, eye, -eye


@dataclass(frozen=True)
class Mix:
    """(1 - xi) hard + xi soft, one formula for every xi in [0, 1]."""

    hard: object
    soft: object
    xi: float

    def value(self, u, y, u_prev):
        out = (1.0 - self.xi) * self.hard.value(u, y, u_prev)
        if not is_value(self.xi, 0.0):
            out = out + self.xi * self.soft.value(u, y, u_prev)
        return out

    def derivatives(self, u, y, u_prev):
        g, H, _ = self.hard.derivatives(u, y, u_prev)
        a = 1.0 - self.xi
        if is_value(self.xi, 0.0):
            return a * g, a * H, 0.0 * H
        gs, Hs, Ks = self.soft.derivatives(u, y, u_prev)
        return a * g + self.xi * gs, a * H + self.xi * Hs, self.xi * Ks


def student_loss(classes: int, xi: float, soft: str, tau: float = 1.0, tau2_factor: bool = True) -> Mix:
    """(1 - xi) CE + xi soft with soft in {'kl', 'mse'} (xi and tau may be traced numbers)."""
    s = KLSoft(classes, tau, tau2_factor) if soft == "kl" else LogitMSE(classes)
    return Mix(CrossEntropy(classes), s, float(xi) if isinstance(xi, (int, float, np.number)) else xi)


def solve_small(A, b):
    """Batched solve A x = b for (N, D, D), (N, D) with closed forms for D <= 2."""
    xp = kernel_of(A, b).xp
    D = A.shape[-1]
    if D == 1:
        return b / A[:, 0, :]
    if D == 2:
        a, bb, c, d = A[:, 0, 0], A[:, 0, 1], A[:, 1, 0], A[:, 1, 1]
        det = a * d - bb * c
        return xp.stack([(d * b[:, 0] - bb * b[:, 1]) / det, (a * b[:, 1] - c * b[:, 0]) / det], axis=1)
    return xp.linalg.solve(A, b[..., None])[..., 0]


def prox(loss, s, Vd, y, u_prev, h0=None, tol: float = 1e-13, max_iter: int = 60):
    """argmin_h (h - s)^T Vd^-1 (h - s) / 2 + loss(h; y, u_prev), row by row (vectorised Newton).

    Parameters
    ----------
    s : (N, D) centres; Vd : (D, D) symmetric positive definite (delta V_kk); y : (N,) labels (NumPy);
    u_prev : targets; h0 : (N, D) warm start (default s; NaN entries fall back to s).
    Returns (h, grad, hess, cross) at the solution, the loss derivatives of ``loss.derivatives``.

    Notes
    -----
    Newton on the stationarity condition h - s + Vd grad(h) = 0: the step
    -(I + Vd H)^-1 (h - s + Vd grad) is the Newton step of the strictly convex objective.  Where
    the Newton decrement step^T (Vd^-1 + H) step exceeds 1/4 (far from the minimiser) the step is
    halved until the objective decreases (backtracking, at most 40 halvings); closer in, full steps
    converge quadratically.  Stops when every step is below ``tol (1 + |h|)``: typically 3-8 steps
    from a cold start, 1-3 from a warm one.  Written against the kernel (``theory.kernel``): the loops
    are ``while_loop``s, every decision an ``xp.where``, so it runs on NumPy and traced under JAX.
    """
    k = kernel_of(s, Vd, u_prev, h0)
    xp = k.xp
    N, D = s.shape
    Vinv = xp.linalg.inv(Vd)
    h = s if h0 is None else xp.where(xp.isfinite(h0), h0, s)
    eye = np.eye(D)

    def objective(hh):
        r = hh - s
        return 0.5 * xp.sum((r @ Vinv) * r, axis=1) + loss.value(hh, y, u_prev)

    def body(c):
        h = c["h"]
        g, H, _ = loss.derivatives(h, y, u_prev)
        step = -solve_small(eye + xp.matmul(Vd, H), h - s + g @ Vd.T)
        big = xp.abs(step).max(axis=1) > tol * (1.0 + xp.abs(h).max(axis=1))
        dec = xp.sum((step @ Vinv) * step, axis=1) + xp.einsum("na,nab,nb->n", step, H, step)
        far = big & (dec > 0.25)
        t = xp.ones(N)
        if not (k.concrete and not far.any()):
            def backtrack(c0):  # run once, and only when some row is far (a traced 'if')
                phi0 = objective(h)

                def bbody(b):
                    tt = xp.where(b["bad"], 0.5 * b["t"], b["t"])
                    return dict(t=tt, bad=b["bad"] & (objective(h + tt[:, None] * step) > phi0), n=b["n"] + 1)

                bad0 = far & (objective(h + step) > phi0)
                tt = k.while_loop(lambda b: xp.any(b["bad"]) & (b["n"] < 40), bbody, dict(t=c0["t"], bad=bad0, n=0))
                return dict(t=tt["t"], done=xp.asarray(True))

            t = k.while_loop(lambda c: ~c["done"], backtrack, dict(t=t, done=~xp.any(far)))["t"]
        return dict(h=h + xp.where(big, t, 0.0)[:, None] * step, it=c["it"] + 1, more=xp.any(big))

    out = k.while_loop(lambda c: c["more"] & (c["it"] < max_iter), body, dict(h=h, it=0, more=xp.asarray(True)))
    h = out["h"]
    g, H, K = loss.derivatives(h, y, u_prev)
    return h, g, H, K


def inv_small(A):
    """Batched inverse of (N, D, D) with closed forms for D <= 2."""
    xp = kernel_of(A).xp
    D = A.shape[-1]
    if D == 1:
        return 1.0 / A
    if D == 2:
        a, b, c, d = A[:, 0, 0], A[:, 0, 1], A[:, 1, 0], A[:, 1, 1]
        det = a * d - b * c
        return xp.stack([xp.stack([d, -b], axis=1), xp.stack([-c, a], axis=1)], axis=1) / det[:, None, None]
    return xp.linalg.inv(A)
