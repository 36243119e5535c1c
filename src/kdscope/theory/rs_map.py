"""The replica-symmetric fixed-point map, written once: channel -> conjugates -> prior -> bias step.

One evaluation at the state (m, Q, V, b) (DESIGN.md section 2):

    channel averages at (m, Q, V, b)                        (theory.channel)
    m_hat = alpha E[y f],  Q_hat = alpha delta E[f f^T],  V_hat = -alpha delta E[df/domega]
    (m, Q, V) <- prior side of (m_hat, Q_hat, V_hat)         (theory.prior)
    b_a <- b_a - E[f_a] / E[df_a/domega_a]                   (one Newton step on E[f_a] = 0, capped at 1 + |b_a|)

in the solver coordinates of ``theory.state``.  The same code runs on NumPy
arrays and, traced, under JAX (``theory.jax_backend``): the problem's numbers
may be traced values, its structure (losses, K, fixed teacher, bias) is static.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .channel import CACHE_ROWS, ChannelAverages, chain_cache, channel_averages
from .kernel import kernel_of
from .prior import prior_update
from .quadrature import Measure
from .state import from_solver, to_solver, upstream_mask


@dataclass(frozen=True)
class RowProblem:
    """What the map needs for one chain: its losses and numbers (possibly traced) and its structure.

    losses : the K losses (``losses.chain_losses``).  measure : the quadrature points.
    alpha : samples per dimension of the samples the chain trains on (alpha_s for a fixed teacher).
    delta, eta : noise variance and student sparsity.  lam : (K,) ridges.
    fixed : (m0, q0, b0) of a fixed (non-responding) teacher, or None.
    bias : learners train a bias.
    """

    losses: tuple
    measure: Measure
    alpha: float
    delta: float
    eta: float
    lam: np.ndarray
    fixed: tuple | None
    bias: bool

    @property
    def K(self) -> int:
        return len(self.losses)


def conjugates(p: RowProblem, ch: ChannelAverages):
    """(m_hat, Q_hat, V_hat) = (alpha E[y f], alpha delta E[f f^T], -alpha delta E[df/domega])."""
    return p.alpha * ch.Eyf, p.alpha * p.delta * ch.Eff, -p.alpha * p.delta * ch.Edf


def bias_step(p: RowProblem, ch: ChannelAverages, b):
    """One Newton step on every trained bias's stationarity E[f_a] = 0 (dE[f_a]/db_a = E[df_a/domega_a] < 0).

    Where the loss saturates the slope vanishes; the step must still be taken
    (capped at 1 + |b_a|), or a non-stationary bias would look like a fixed
    point of the iteration.  A fixed teacher keeps its b0.
    """
    xp = kernel_of(b, ch.Ef).xp
    if p.bias:
        slope = xp.minimum(xp.diagonal(ch.Edf), -1e-12)
        cap = 1.0 + xp.abs(b)
        b = b - xp.clip(ch.Ef / slope, -cap, cap)
    if p.fixed is not None:
        first = np.arange(p.K) == 0
        b = xp.where(xp.asarray(first), p.fixed[2], b)
    return b


def evaluate(p: RowProblem, y, warm=None, frozen=None):
    """The map in solver coordinates: ``(F(y), prox outputs, bad)``.

    ``frozen`` (a solver vector) pins the upstream learners' coordinates: the
    block solve of the last learner's row.  ``bad`` flags an image outside the
    domain (a non-positive Q_aa or V_aa); its coordinates are then meaningless.
    ``warm``: the prox outputs (K, P) of the previous evaluation, or its
    ``channel.chain_cache`` (CACHE_ROWS K, P), from which each prox starts at a
    first-order prediction; the second output is then the new chain cache.
    """
    xp = kernel_of(y, p.alpha, p.measure.w).xp
    K = p.K
    m, Q, V, b = from_solver(y, K)
    ch = channel_averages(p.losses, m, Q, V, b, p.delta, p.measure, p.fixed is not None, warm=warm)
    m_hat, Q_hat, V_hat = conjugates(p, ch)
    m2, Q2, V2 = prior_update(m_hat, Q_hat, V_hat, p.lam, p.eta, None if p.fixed is None else p.fixed[:2])
    b2 = bias_step(p, ch, b)
    qd, vd = xp.diagonal(Q2), xp.diagonal(V2)
    bad = (~(qd > 0)).any() | (~(vd > 0)).any()
    on_diag = _on_diag(K)
    # keep the coordinates computable where the image left the domain (flagged by ``bad``)
    Q2 = xp.where(on_diag, xp.diag(xp.where(qd > 0, qd, 1.0)), Q2)
    V2 = xp.where(on_diag, xp.diag(xp.where(vd > 0, vd, 1.0)), V2)
    out = to_solver(m2, Q2, V2, b2)
    if frozen is not None:
        out = xp.where(upstream_mask(K), frozen, out)
    cached = warm is not None and warm.shape[0] == CACHE_ROWS * K
    return out, (chain_cache(ch.chain, K) if cached else ch.h), bad


@lru_cache(maxsize=None)
def _on_diag(K: int) -> np.ndarray:
    return np.eye(K) > 0
