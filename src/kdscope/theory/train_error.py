"""The last learner's training error on a refined grid (NumPy; once per solved point).

Training error of learner a: P(sign(h_a) != y~) over the training measure
(DESIGN.md section 2: y with P(y = +1) = rho, y~ flipped with probability theta,
g ~ N(0, Q)).  ``theory.channel`` integrates learner a's own Gaussian
coordinate analytically and the others by Gauss-Hermite; for the last learner
of a distillation chain, which nearly copies its teacher, that is not enough
(see :func:`train_error_last`).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from .channel import forward, target
from .quadrature import Measure, gauss_hermite, psd_cholesky

#: Fine grid over the teacher's coordinate for the last learner's training error.
FINE_NODES = np.linspace(-9.0, 9.0, 2401)
_REFINE = 32


def train_error_last(losses, m, Q, V, b, delta: float, rho: float, theta: float, fixed_teacher: bool,
                     order: int = 20) -> float:
    """P(sign(h_a) != y~) for the last learner a = K - 1 of a chain (K >= 2), accurate when it copies upstream.

    The learner's own coordinate zeta_a is integrated analytically (see
    ``channel._train_error``), which leaves E over zeta_0 .. zeta_{a-1} of Phi(z / sigma)
    with sigma = sqrt(delta) L_aa.  In a distillation chain every learner is
    built on the teacher's outputs, so when a student nearly copies its
    teacher, sigma -> 0 and the integrand is a step along the teacher's
    coordinate zeta_0, which Gauss-Hermite resolves only to O(1 / order).  Here:
    the trapezoid rule on a fine grid of zeta_0 in [-9, 9] (2401 nodes), each
    interval where z changes sign refined 32-fold; Gauss-Hermite with ``order``
    nodes on the intermediate coordinates zeta_1 .. zeta_{a-1}.
    """
    K = len(losses)
    a = K - 1
    L = psd_cholesky(Q)
    x = FINE_NODES
    nx = x.size
    hx = x[1] - x[0]
    if K > 2:
        gx, gw = gauss_hermite(order)
        mids = np.stack([g.ravel() for g in np.meshgrid(*([gx] * (K - 2)), indexing="ij")])  # (K-2, M)
        mid_w = np.prod(np.stack([g.ravel() for g in np.meshgrid(*([gw] * (K - 2)), indexing="ij")]), axis=0)
    else:
        mids, mid_w = np.zeros((0, 1)), np.ones(1)
    M = mid_w.size
    out = 0.0
    for y, py in ((1.0, rho), (-1.0, 1.0 - rho)):
        for flip, pf in ((False, 1.0 - theta), (True, theta)):
            if pf == 0.0:
                continue
            y_obs = -y if flip else y

            def p_wrong(x0, mid):
                """P(wrong sign | zeta_0 = x0, intermediate nodes = mid), arrays over the points."""
                n = x0.size
                nodes = np.concatenate([x0[None, :], mid, np.zeros((1, n))], axis=0)
                meas = Measure(np.full(n, y), np.full(n, y_obs), nodes, np.full(n, 1.0 / n))
                ch = forward(losses, m, V, b, delta, meas, L, fixed_teacher)
                sig = np.sqrt(delta) * L[a, a]
                tgt = target(a, meas.y_obs, ch.h[a - 1])
                z = delta * V[a, a] * losses[a].grad(np.zeros(n), tgt) - ch.s[a]
                neg = ndtr(z / sig) if sig > 1e-300 else (z > 0).astype(float)
                return (neg if y_obs > 0 else 1.0 - neg), z

            x0 = np.tile(x, M)
            mid = np.repeat(mids, nx, axis=1)
            pw, z = p_wrong(x0, mid)
            dens = np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)
            vals = (pw.reshape(M, nx) * dens)
            z = z.reshape(M, nx)
            per_mid = hx * (vals.sum(axis=1) - 0.5 * (vals[:, 0] + vals[:, -1]))
            rows, cols = np.nonzero(np.sign(z[:, :-1]) != np.sign(z[:, 1:]))
            if rows.size:  # refine every sign-change interval at once
                t = np.linspace(0.0, 1.0, _REFINE + 1)
                xs = (x[cols][:, None] + hx * t[None, :]).ravel()
                ms = np.repeat(mids[:, rows], _REFINE + 1, axis=1)
                ps, _ = p_wrong(xs, ms)
                vs = (ps * np.exp(-0.5 * xs * xs) / np.sqrt(2 * np.pi)).reshape(rows.size, _REFINE + 1)
                fine = (hx / _REFINE) * (vs.sum(axis=1) - 0.5 * (vs[:, 0] + vs[:, -1]))
                coarse = 0.5 * hx * (vals[rows, cols] + vals[rows, cols + 1])
                np.add.at(per_mid, rows, fine - coarse)
            out += py * pf * float(np.dot(mid_w, per_mid))
    return out
