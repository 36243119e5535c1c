"""Soft (distillation) losses of a student, target t = the previous learner's training output.

``KL`` (temperature tau, Hinton's tau^2 factor or the paper's Appendix B
convention), ``LogitMSE`` (logit matching) and ``Pseudo`` (a hard loss on the
pseudo-label sign(t)).
"""

from __future__ import annotations

from dataclasses import dataclass

from .hard_losses import Logistic
from .kernel import kernel_of
from .loss_base import AbstractLoss, softplus, zeros


@dataclass(frozen=True)
class KL(AbstractLoss):
    """Distillation loss at temperature tau, target t = the previous learner's logit.

    ``loss(z; t) = c * KL( Bern(sigmoid(t / tau)) || Bern(sigmoid(z / tau)) )``,
    the cross-entropy with the softened teacher probability minus its entropy,
    with c = tau^2 (Hinton's convention, ``tau2_factor=True``) or c = 1 (the
    reference paper's Appendix B).  With p = sigmoid(z / tau),
    p_t = sigmoid(t / tau): grad = c (p - p_t) / tau,
    hess = c p (1 - p) / tau^2, cross = -c p_t (1 - p_t) / tau^2.
    Limit: with c = tau^2, as tau -> infinity, loss -> (z - t)^2 / 8 (logit
    matching with weight 1/4; Kim et al., IJCAI 2021).
    prox: safeguarded Newton between s and s - v grad(s) (|grad| <= c / tau).
    """

    tau: float = 1.0
    tau2_factor: bool = True

    @property
    def c(self):
        return self.tau ** 2 if self.tau2_factor else 1.0

    def value(self, z, t):
        k = kernel_of(z, t)
        xp = k.xp
        u, ut = z / self.tau, t / self.tau
        pt = k.expit(ut)
        return self.c * (pt * (softplus(xp, -u) - softplus(xp, -ut))
                         + (1.0 - pt) * (softplus(xp, u) - softplus(xp, ut)))

    def grad(self, z, t):
        k = kernel_of(z, t)
        return self.c * (k.expit(z / self.tau) - k.expit(t / self.tau)) / self.tau

    def hess(self, z, t):
        p = kernel_of(z).expit(z / self.tau)
        return self.c * p * (1.0 - p) / self.tau ** 2

    def grad_hess(self, z, t):
        return self.at_target(t)(z)

    def at_target(self, t):
        """sigmoid(t / tau) once per target: it does not change along a prox iteration."""
        k = kernel_of(t)
        pt = k.expit(t / self.tau)
        c, tau = self.c, self.tau

        def grad_hess(z):
            p = kernel_of(z, t).expit(z / tau)
            return c * (p - pt) / tau, c * p * (1.0 - p) / tau ** 2
        return grad_hess

    def cross(self, z, t):
        pt = kernel_of(t, z).expit(t / self.tau)
        return -self.c * pt * (1.0 - pt) / self.tau ** 2 + zeros(z)


@dataclass(frozen=True)
class LogitMSE(AbstractLoss):
    """Logit matching ``loss(z; t) = (z - t)^2 / 2``; prox ``h = (s + v t) / (1 + v)``."""

    @property
    def quadratic(self):
        return (1.0, lambda t: t * 1.0)

    def value(self, z, t):
        return 0.5 * (z - t) ** 2

    def grad(self, z, t):
        return z - t

    def hess(self, z, t):
        return zeros(z) + 1.0

    def cross(self, z, t):
        return zeros(z) - 1.0

    def prox(self, s, v, t, h0=None):
        return (s + v * t) / (1.0 + v)


@dataclass(frozen=True)
class Pseudo(AbstractLoss):
    """Hard pseudo-labels: ``loss(z; t) = hard(z; sign(t))`` (cross = 0 almost everywhere)."""

    hard: AbstractLoss = Logistic()

    @property
    def quadratic(self):
        q = self.hard.quadratic
        if q is None:
            return None
        return (q[0], lambda t: q[1](_sign(t)))

    def value(self, z, t):
        return self.hard.value(z, _sign(t))

    def grad(self, z, t):
        return self.hard.grad(z, _sign(t))

    def hess(self, z, t):
        return self.hard.hess(z, _sign(t))

    def prox(self, s, v, t, h0=None):
        return self.hard.prox(s, v, _sign(t), h0)

    def at_target(self, t):
        return self.hard.at_target(_sign(t))

    def dprox(self, h, s, v, t):
        return self.hard.dprox(h, s, v, _sign(t))[0], 0.0

    def exact_moments(self, t):
        return self.hard.exact_moments(_sign(t))


def _sign(t):
    return kernel_of(t).xp.where(t >= 0.0, 1.0, -1.0)
