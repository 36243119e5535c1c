"""Per-sample losses of the learners, in the logit z, vectorised over arrays.

Hard losses take a +-1 label y as target; soft losses take the previous
learner's training output t (its logit).  Every loss has ``value``, ``grad``
(d/dz), ``hess`` (d^2/dz^2) and ``cross`` (d^2/dz dt, zero for hard losses) and a
``prox(s, v, target, h0=None)``: argmin_h (h - s)^2 / (2 v) + loss(h; target)
(``h0``: an optional Newton starting point, ignored by closed forms).

The student's loss ``(1 - xi) hard + xi soft`` is :class:`Mix` of two losses
(one formula for every xi in [0, 1]).  A loss that is a quadratic in z,
``a z^2 / 2 - c(target) z + const``, says so through ``quadratic`` so that
proxes of mixes of quadratics are closed form.

Conventions: labels y in {-1, +1}; the sum over samples of the loss plus
lam / 2 |w|^2 is minimised (no 1/2 on the loss: DESIGN.md section 7 corrects
Sec. 4 / App. A.2 of Saglietti & Zdeborova 2022).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from .prox import newton_prox


def _softplus(u):
    """log(1 + exp(u)), stable for large |u|."""
    return np.logaddexp(0.0, u)


# --------------------------------------------------------------------- hard
@dataclass(frozen=True)
class Logistic:
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
    quadratic = None
    smooth_everywhere = True

    def _p(self, y):
        return (1.0 - self.smooth) * (np.asarray(y) + 1.0) / 2.0 + self.smooth / 2.0

    def value(self, z, y):
        p = self._p(y)
        return p * _softplus(-z) + (1.0 - p) * _softplus(z)

    def grad(self, z, y):
        return expit(z) - self._p(y)

    def hess(self, z, y):
        s = expit(z)
        return s * (1.0 - s)

    def cross(self, z, y):
        return np.zeros_like(np.asarray(z, dtype=float))

    def prox(self, s, v, y, h0=None):
        return newton_prox(self, s, v, y, h0)


@dataclass(frozen=True)
class Square:
    """Square loss ``loss(z; y) = (y - z)^2 / 2``; prox ``h = (s + v y) / (1 + v)``."""

    smooth_everywhere = True

    @property
    def quadratic(self):
        return (1.0, lambda y: np.asarray(y, dtype=float))

    def value(self, z, y):
        return 0.5 * (y - z) ** 2

    def grad(self, z, y):
        return z - y

    def hess(self, z, y):
        return np.ones_like(np.asarray(z, dtype=float))

    def cross(self, z, y):
        return np.zeros_like(np.asarray(z, dtype=float))

    def prox(self, s, v, y, h0=None):
        return (s + v * y) / (1.0 + v)


@dataclass(frozen=True)
class Linear:
    """Linear loss ``loss(z; y) = -y z`` (with ridge: the Hebbian estimator); prox ``h = s + v y``."""

    smooth_everywhere = True

    @property
    def quadratic(self):
        return (0.0, lambda y: np.asarray(y, dtype=float))

    def value(self, z, y):
        return -y * z

    def grad(self, z, y):
        return -np.asarray(y, dtype=float) + 0.0 * z

    def hess(self, z, y):
        return np.zeros_like(np.asarray(z, dtype=float))

    def cross(self, z, y):
        return np.zeros_like(np.asarray(z, dtype=float))

    def prox(self, s, v, y, h0=None):
        return s + v * y


@dataclass(frozen=True)
class Hinge:
    """Hinge loss ``loss(z; y) = max(0, 1 - y z)``.

    prox (closed form): h = s if y s >= 1; h = s + v y if y s <= 1 - v; else
    h = y (the kink, where dh/ds = 0).  ``hess`` is 0 off the kink; the channel
    uses ``dprox_ds`` for the derivative of the prox, which is 0 on the kink.
    """

    quadratic = None
    smooth_everywhere = False

    def value(self, z, y):
        return np.maximum(0.0, 1.0 - y * z)

    def grad(self, z, y):
        return np.where(y * z < 1.0, -np.asarray(y, dtype=float), 0.0)

    def hess(self, z, y):
        return np.zeros_like(np.asarray(z, dtype=float))

    def cross(self, z, y):
        return np.zeros_like(np.asarray(z, dtype=float))

    def prox(self, s, v, y, h0=None):
        ys = y * s
        return np.where(ys >= 1.0, s, np.where(ys <= 1.0 - v, s + v * y, y * 1.0))

    def dprox_ds(self, s, v, y):
        """d prox / d s: 1 off the kink, 0 on the flat piece h = y."""
        ys = y * s
        return np.where((ys >= 1.0) | (ys <= 1.0 - v), 1.0, 0.0)


# --------------------------------------------------------------------- soft
@dataclass(frozen=True)
class KL:
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
    quadratic = None
    smooth_everywhere = True

    @property
    def c(self) -> float:
        return self.tau ** 2 if self.tau2_factor else 1.0

    def value(self, z, t):
        u, ut = np.asarray(z) / self.tau, np.asarray(t) / self.tau
        pt = expit(ut)
        return self.c * (pt * (_softplus(-u) - _softplus(-ut)) + (1.0 - pt) * (_softplus(u) - _softplus(ut)))

    def grad(self, z, t):
        return self.c * (expit(np.asarray(z) / self.tau) - expit(np.asarray(t) / self.tau)) / self.tau

    def hess(self, z, t):
        p = expit(np.asarray(z) / self.tau)
        return self.c * p * (1.0 - p) / self.tau ** 2

    def cross(self, z, t):
        pt = expit(np.asarray(t) / self.tau)
        return -self.c * pt * (1.0 - pt) / self.tau ** 2 + 0.0 * z

    def prox(self, s, v, t, h0=None):
        return newton_prox(self, s, v, t, h0)


@dataclass(frozen=True)
class LogitMSE:
    """Logit matching ``loss(z; t) = (z - t)^2 / 2``; prox ``h = (s + v t) / (1 + v)``."""

    smooth_everywhere = True

    @property
    def quadratic(self):
        return (1.0, lambda t: np.asarray(t, dtype=float))

    def value(self, z, t):
        return 0.5 * (z - t) ** 2

    def grad(self, z, t):
        return z - t

    def hess(self, z, t):
        return np.ones_like(np.asarray(z, dtype=float))

    def cross(self, z, t):
        return -np.ones_like(np.asarray(z, dtype=float))

    def prox(self, s, v, t, h0=None):
        return (s + v * t) / (1.0 + v)


@dataclass(frozen=True)
class Pseudo:
    """Hard pseudo-labels: ``loss(z; t) = hard(z; sign(t))`` (cross = 0 almost everywhere)."""

    hard: object = Logistic()

    @property
    def quadratic(self):
        q = self.hard.quadratic
        if q is None:
            return None
        return (q[0], lambda t: q[1](_sign(t)))

    @property
    def smooth_everywhere(self):
        return self.hard.smooth_everywhere

    def value(self, z, t):
        return self.hard.value(z, _sign(t))

    def grad(self, z, t):
        return self.hard.grad(z, _sign(t))

    def hess(self, z, t):
        return self.hard.hess(z, _sign(t))

    def cross(self, z, t):
        return np.zeros_like(np.asarray(z, dtype=float))

    def prox(self, s, v, t, h0=None):
        return self.hard.prox(s, v, _sign(t), h0)

    def dprox_ds(self, s, v, t):
        return self.hard.dprox_ds(s, v, _sign(t))


def _sign(t):
    return np.where(np.asarray(t) >= 0.0, 1.0, -1.0)


# ---------------------------------------------------------------------- mix
@dataclass(frozen=True)
class Mix:
    """A student's loss ``(1 - xi) hard(z; y) + xi soft(z; t)``, one formula for all xi in [0, 1].

    Targets are passed as a pair ``(y, t)``: the observed label and the previous
    learner's training output.  The prox is closed form when both parts are
    quadratic, the part's own prox when the other has zero weight, and a
    safeguarded Newton step otherwise.
    """

    hard: object
    soft: object
    xi: float

    @property
    def smooth_everywhere(self):
        return (self.xi == 1.0 or self.hard.smooth_everywhere) and (self.xi == 0.0 or self.soft.smooth_everywhere)

    @property
    def quadratic(self):
        qh, qs = self.hard.quadratic, self.soft.quadratic
        if (qh is None and self.xi < 1) or (qs is None and self.xi > 0):
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

    def cross(self, z, yt):
        """d^2 loss / dz dt (t the soft target)."""
        return self.xi * self.soft.cross(z, yt[1])

    def prox(self, s, v, yt, h0=None):
        y, t = yt
        if self.xi == 0.0:
            return self.hard.prox(s, v, y, h0)
        if self.xi == 1.0:
            return self.soft.prox(s, v, t, h0)
        q = self.quadratic
        if q is not None:
            a, c = q
            return (s + v * c(yt)) / (1.0 + v * a)
        return newton_prox(self, s, v, yt, h0)

    def dprox_ds(self, s, v, yt):
        if self.xi == 0.0:
            return self.hard.dprox_ds(s, v, yt[0])
        return self.soft.dprox_ds(s, v, yt[1])



# ------------------------------------------------------------------ registry
HARD = {"logistic": Logistic, "square": Square, "hinge": Hinge, "linear": Linear}
SOFT = {"kl": KL, "mse": LogitMSE, "pseudo": Pseudo}


def hard_loss(name: str, smooth: float = 0.0):
    """The hard loss called ``name`` (label smoothing only for 'logistic')."""
    if name == "logistic":
        return Logistic(smooth=smooth)
    return HARD[name]()


def soft_loss(name: str, *, tau: float = 1.0, tau2_factor: bool = True, hard=None):
    """The soft loss called ``name``; 'pseudo' uses the student's hard loss on sign(t)."""
    if name == "kl":
        return KL(tau=tau, tau2_factor=tau2_factor)
    if name == "mse":
        return LogitMSE()
    return Pseudo(hard=hard if hard is not None else Logistic())
