"""Hard losses of a learner on a +-1 label y (DESIGN.md section 1): logistic, square, linear, hinge.

Conventions: labels y in {-1, +1}, logit z; the sum over samples of the loss
plus lam / 2 |w|^2 is minimised.  The hinge owns the closed-form Gaussian
moments of its force (``exact_moments``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .kernel import kernel_of
from .loss_base import AbstractLoss, softplus, zeros


@dataclass(frozen=True)
class Logistic(AbstractLoss):
    """Logistic loss on a +-1 label: ``loss(z; y) = log(1 + exp(-y z))``.

    With label smoothing epsilon (``smooth``), the cross-entropy with target
    ``p = (1 - epsilon) y01 + epsilon / 2`` (y01 = (y + 1) / 2):
    ``loss = -p log sigmoid(z) - (1 - p) log sigmoid(-z)``; epsilon = 0 is
    exactly ``log(1 + exp(-y z))``.  grad = sigmoid(z) - p,
    hess = sigmoid(z) sigmoid(-z).
    prox: safeguarded Newton in the bracket between s and s - v grad(s), inside [s - v, s + v].
    Reference: Saglietti & Zdeborova (MSML 2022), Sec. 2.
    """

    smooth: float = 0.0

    def _p(self, y):
        return (1.0 - self.smooth) * (y + 1.0) / 2.0 + self.smooth / 2.0

    def value(self, z, y):
        xp = kernel_of(z).xp
        p = self._p(y)
        return p * softplus(xp, -z) + (1.0 - p) * softplus(xp, z)

    def grad(self, z, y):
        return kernel_of(z).expit(z) - self._p(y)

    def hess(self, z, y):
        s = kernel_of(z).expit(z)
        return s * (1.0 - s)

    def grad_hess(self, z, y):
        s = kernel_of(z).expit(z)
        return s - self._p(y), s * (1.0 - s)

    def at_target(self, y):
        p = self._p(y)

        def grad_hess(z):
            s = kernel_of(z).expit(z)
            return s - p, s * (1.0 - s)
        return grad_hess


@dataclass(frozen=True)
class Square(AbstractLoss):
    """Square loss ``loss(z; y) = (y - z)^2 / 2``; prox ``h = (s + v y) / (1 + v)``."""

    @property
    def quadratic(self):
        return (1.0, lambda y: y * 1.0)

    def value(self, z, y):
        return 0.5 * (y - z) ** 2

    def grad(self, z, y):
        return z - y

    def hess(self, z, y):
        return zeros(z) + 1.0

    def prox(self, s, v, y, h0=None):
        return (s + v * y) / (1.0 + v)


@dataclass(frozen=True)
class Linear(AbstractLoss):
    """Linear loss ``loss(z; y) = -y z`` (with ridge: the Hebbian estimator); prox ``h = s + v y``."""

    @property
    def quadratic(self):
        return (0.0, lambda y: y * 1.0)

    def value(self, z, y):
        return -y * z

    def grad(self, z, y):
        return -y + zeros(z)

    def hess(self, z, y):
        return zeros(z)

    def prox(self, s, v, y, h0=None):
        return s + v * y


@dataclass(frozen=True)
class Hinge(AbstractLoss):
    """Hinge loss ``loss(z; y) = max(0, 1 - y z)``.

    prox (closed form): h = s if y s >= 1; h = s + v y if y s <= 1 - v; else
    h = y (the kink, where dh/ds = 0).  ``hess`` is 0 off the kink; ``dprox`` is
    the derivative of the closed form (0 on the kink).  The force's Gaussian
    moments are exact (:meth:`exact_moments`).
    """

    def value(self, z, y):
        return kernel_of(z).xp.maximum(0.0, 1.0 - y * z)

    def grad(self, z, y):
        xp = kernel_of(z).xp
        return xp.where(y * z < 1.0, -y * 1.0, 0.0)

    def hess(self, z, y):
        return zeros(z)

    def prox(self, s, v, y, h0=None):
        xp = kernel_of(s).xp
        ys = y * s
        return xp.where(ys >= 1.0, s, xp.where(ys <= 1.0 - v, s + v * y, y * 1.0))

    def dprox(self, h, s, v, y):
        xp = kernel_of(s).xp
        ys = y * s
        return xp.where((ys >= 1.0) | (ys <= 1.0 - v), 1.0, 0.0), 0.0

    def exact_moments(self, y):
        """Moments of the hinge force over the learner's own Gaussian coordinate, in closed form.

        Returns a function ``(s_bar, sig, v) -> (E[f], E[f^2], E[df/ds], E[loss])`` per
        upstream node, where s = s_bar + sig * zeta, zeta ~ N(0, 1).  With u = y s
        the prox gives f = y g(u), g = 1 for u <= 1 - v, (1 - u) / v for 1 - v < u < 1
        and 0 for u >= 1; df/ds = -1/v on the middle piece.  The Gaussian integrals
        of 1, zeta, zeta^2 over the three intervals are exact.
        """
        return lambda s_bar, sig, v: _hinge_moments(s_bar, sig, v, y)


def _hinge_moments(s_bar, sig, v, lab):
    k = kernel_of(s_bar)
    xp = k.xp
    u_bar = lab * s_bar
    if sig <= 1e-300:
        g = xp.where(u_bar <= 1 - v, 1.0, xp.where(u_bar >= 1, 0.0, (1 - u_bar) / v))
        mid = ((u_bar > 1 - v) & (u_bar < 1)) * 1.0
        return lab * g, g * g, -mid / v, xp.where(u_bar <= 1 - v, 1 - v - u_bar, 0.0)
    l1 = (1 - v - u_bar) / sig
    l2 = (1 - u_bar) / sig
    phi = lambda x: xp.exp(-0.5 * x * x) / 2.5066282746310002  # noqa: E731  (sqrt(2 pi))
    P1 = k.ndtr(l1)
    Pm = k.ndtr(l2) - P1
    Ez = phi(l1) - phi(l2)                  # E[zeta ; middle]
    Ez2 = Pm + l1 * phi(l1) - l2 * phi(l2)  # E[zeta^2 ; middle]
    c = 1 - u_bar
    Eg = P1 + (c * Pm - sig * Ez) / v
    Eg2 = P1 + (c * c * Pm - 2 * c * sig * Ez + sig * sig * Ez2) / v ** 2
    Eloss = (1 - v - u_bar) * P1 + sig * phi(l1)
    return lab * Eg, Eg2, -Pm / v, Eloss
