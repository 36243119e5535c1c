"""Per-sample losses of the learners, in the logit z, vectorised over arrays (NumPy or JAX).

Every loss implements :class:`AbstractLoss`: ``value``, ``grad`` (d/dz),
``hess`` (d^2/dz^2), ``cross`` (d^2/dz dt, zero for hard losses), the
``prox(s, v, target, h0=None)`` = argmin_h (h - s)^2 / (2 v) + loss(h; target)
(``h0``: an optional Newton starting point, ignored by closed forms), its
derivatives ``dprox`` and, optionally, ``exact_moments``: the Gaussian moments of
its force in closed form (the hinge, whose kinks Gauss-Hermite sums resolve
only to O(1 / order)).  The target is the label y for a hard loss, the previous
learner's training output t for a soft one and the pair (y, t) for a student.

The student's loss ``(1 - xi) hard + xi soft`` is :class:`Mix` of two losses
(one formula for every xi in [0, 1]).  A loss that is a quadratic in z,
``a z^2 / 2 - c(target) z + const``, says so through ``quadratic`` so that
proxes of mixes of quadratics are closed form.

The parameters (smoothing, tau, xi) may be traced JAX values: the formulas are
array code of the argument's kernel (``theory.kernel``), and shortcuts taken on a
parameter's value (xi = 0 or 1) are taken only for concrete numbers.

Conventions: labels y in {-1, +1}; the sum over samples of the loss plus
lam / 2 |w|^2 is minimised (no 1/2 on the loss: DESIGN.md section 7 corrects
Sec. 4 / App. A.2 of Saglietti & Zdeborova 2022).
"""

from __future__ import annotations

from dataclasses import dataclass

from .hard_losses import Hinge, Linear, Logistic, Square
from .kernel import is_value
from .loss_base import AbstractLoss
from .prox import newton_prox
from .soft_losses import KL, LogitMSE, Pseudo

__all__ = ["AbstractLoss", "Logistic", "Square", "Linear", "Hinge", "KL", "LogitMSE", "Pseudo", "Mix", "HARD", "SOFT",
           "hard_loss", "soft_loss", "chain_losses"]


# ---------------------------------------------------------------------- mix
@dataclass(frozen=True)
class Mix(AbstractLoss):
    """A student's loss ``(1 - xi) hard(z; y) + xi soft(z; t)``, one formula for all xi in [0, 1].

    Targets are passed as a pair ``(y, t)``: the observed label and the previous
    learner's training output.  The prox is the part's own prox when the other
    has zero weight, closed form when both parts are quadratic, and a
    safeguarded Newton step otherwise.
    """

    hard: AbstractLoss
    soft: AbstractLoss
    xi: float

    @property
    def quadratic(self):
        qh, qs = self.hard.quadratic, self.soft.quadratic
        if (qh is None and not is_value(self.xi, 1.0)) or (qs is None and not is_value(self.xi, 0.0)):
            return None
        a = (1 - self.xi) * (qh[0] if qh else 0.0) + self.xi * (qs[0] if qs else 0.0)
        return (a, lambda yt: (1 - self.xi) * (qh[1](yt[0]) if qh else 0.0) + self.xi * (qs[1](yt[1]) if qs else 0.0))

    def value(self, z, yt):
        y, t = yt
        return (1 - self.xi) * self.hard.value(z, y) + self.xi * self.soft.value(z, t)

    def grad(self, z, yt):
        y, t = yt
        return (1 - self.xi) * self.hard.grad(z, y) + self.xi * self.soft.grad(z, t)

    def hess(self, z, yt):
        y, t = yt
        return (1 - self.xi) * self.hard.hess(z, y) + self.xi * self.soft.hess(z, t)

    def grad_hess(self, z, yt):
        return self.at_target(yt)(z)

    def at_target(self, yt):
        hard, soft, xi = self.hard.at_target(yt[0]), self.soft.at_target(yt[1]), self.xi

        def grad_hess(z):
            gh, hh = hard(z)
            gs, hs = soft(z)
            return (1 - xi) * gh + xi * gs, (1 - xi) * hh + xi * hs
        return grad_hess

    def cross(self, z, yt):
        """d^2 loss / dz dt (t the soft target)."""
        return self.xi * self.soft.cross(z, yt[1])

    def _alone(self):
        """The part that carries all the weight (concrete xi in {0, 1}), else None."""
        if is_value(self.xi, 0.0):
            return 0
        if is_value(self.xi, 1.0):
            return 1
        return None

    def prox(self, s, v, yt, h0=None):
        part = self._alone()
        if part is not None:
            return self.hard.prox(s, v, yt[0], h0) if part == 0 else self.soft.prox(s, v, yt[1], h0)
        q = self.quadratic
        if q is not None:
            a, c = q
            return (s + v * c(yt)) / (1.0 + v * a)
        return newton_prox(self, s, v, yt, h0)

    def dprox(self, h, s, v, yt):
        part = self._alone()
        if part == 0:
            return self.hard.dprox(h, s, v, yt[0])[0], 0.0
        if part == 1:
            return self.soft.dprox(h, s, v, yt[1])
        return AbstractLoss.dprox(self, h, s, v, yt)

    def exact_moments(self, yt):
        part = self._alone()
        if part is None:
            return None
        return self.hard.exact_moments(yt[0]) if part == 0 else self.soft.exact_moments(yt[1])


# ------------------------------------------------------------------ registry
HARD = {"logistic": Logistic, "square": Square, "hinge": Hinge, "linear": Linear}
SOFT = {"kl": KL, "mse": LogitMSE, "pseudo": Pseudo}


def hard_loss(name: str, smooth: float = 0.0) -> AbstractLoss:
    """The hard loss called ``name`` (label smoothing only for 'logistic')."""
    if name == "logistic":
        return Logistic(smooth=smooth)
    return HARD[name]()


def soft_loss(name: str, *, tau: float = 1.0, tau2_factor: bool = True, hard=None) -> AbstractLoss:
    """The soft loss called ``name``; 'pseudo' uses the student's hard loss on sign(t)."""
    if name == "kl":
        return KL(tau=tau, tau2_factor=tau2_factor)
    if name == "mse":
        return LogitMSE()
    return Pseudo(hard=hard if hard is not None else Logistic())


def chain_losses(s, values: dict | None = None) -> list[AbstractLoss]:
    """The K losses of the chain of Setting ``s``: the teacher's hard loss, then each student's Mix.

    ``values`` optionally overrides the numeric parameters (smooth_t, smooth_s, xi,
    tau) with traced values (the JAX engine); the loss names come from ``s``.
    """
    p = dict(smooth_t=s.smooth_t, smooth_s=s.smooth_s, xi=s.xi, tau=s.tau)
    if values is not None:
        p.update({k: values[k] for k in p if k in values})
    teacher = hard_loss(s.loss_t, p["smooth_t"])
    hard_s = hard_loss(s.loss_s, p["smooth_s"])
    soft = soft_loss(s.soft, tau=p["tau"], tau2_factor=s.tau2_factor, hard=hard_loss(s.loss_s))
    return [teacher] + [Mix(hard_s, soft, p["xi"]) for _ in range(s.generations)]
