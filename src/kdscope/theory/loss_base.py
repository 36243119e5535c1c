"""The protocol every per-sample loss implements (see ``theory.losses`` for the catalogue).

A loss is a function of the logit z and a target (the label y for a hard loss,
the previous learner's training output t for a soft one, the pair (y, t) for a
student), vectorised over NumPy or JAX arrays (``theory.kernel``).
"""

from __future__ import annotations

from .kernel import kernel_of
from .prox import newton_prox


def softplus(xp, u):
    """log(1 + exp(u)), stable for large |u|."""
    return xp.logaddexp(0.0, u)


def zeros(z):
    xp = kernel_of(z).xp
    return xp.zeros_like(xp.asarray(z, dtype=float))


class AbstractLoss:
    """The protocol of a per-sample loss (see the module docstring).

    ``quadratic``: ``(a, c)`` when loss = a z^2 / 2 - c(target) z + const, else None.
    ``dprox(h, s, v, target)``: (dh/ds, dh/dt) at the prox output h, by implicit
    differentiation of the prox condition (h - s) / v + loss'(h) = 0:
    dh/ds = 1 / (1 + v loss''), dh/dt = -v cross / (1 + v loss'') (0 for a hard loss).
    ``exact_moments``: None, or a function of the loss giving the force's
    moments over the learner's own Gaussian coordinate (see :meth:`Hinge.exact_moments`).
    """

    quadratic = None

    def value(self, z, target):
        raise NotImplementedError

    def grad(self, z, target):
        raise NotImplementedError

    def hess(self, z, target):
        raise NotImplementedError

    def cross(self, z, target):
        return zeros(z)

    def grad_hess(self, z, target):
        """(grad, hess) together (a loss may share work between them)."""
        return self.grad(z, target), self.hess(z, target)

    def at_target(self, target):
        """``z -> (grad, hess)`` for one fixed target (a loss may precompute what depends on the target only)."""
        return lambda z: self.grad_hess(z, target)

    def prox(self, s, v, target, h0=None):
        return newton_prox(self, s, v, target, h0)

    def dprox(self, h, s, v, target):
        denom = 1.0 + v * self.hess(h, target)
        return 1.0 / denom, -v * self.cross(h, target) / denom

    def exact_moments(self, target):
        """None: the force is integrated by quadrature.  See :meth:`Hinge.exact_moments`."""
        return None
