"""Thresholds of the learning curves: separability and interpolation.

Separability (Gardner-style capacity with the signal direction, balanced or
not): the training set {(x_mu, y_mu)} of the mixture is linearly separable with
a bias while alpha < alpha*(delta, rho), where

    alpha*(delta, rho) = max over m in [0, 1), b of
        (1 - m^2) / E_y E_G[ (G - (m + y b) / sqrt(delta))_+^2 ],   G ~ N(0, 1).

Derivation sketch: write a unit-norm w (|w|^2 = d) as m mu + w_perp; the field
y (w.x / sqrt(d) + b) = m + y b + sqrt(delta) (m zeta + sqrt(1 - m^2) u) with
zeta the (unfittable) noise along mu and u the part w_perp can fit; Gardner's
capacity with pattern-dependent margins kappa_mu gives 1 / alpha = E[(kappa + t)_+^2]
and the two Gaussians combine into one of variance 1 / (1 - m^2).  At
rho = 1/2, delta -> infinity it tends to Cover's 2.  Without ridge the logistic
(and hinge) minimiser diverges below alpha*.
A sparse student (eta) is the dense problem at (alpha/eta, delta/eta):
its threshold is eta alpha*(delta/eta, rho).

Interpolation: a learner fitting real-valued targets (square loss, or a
student matching soft targets) interpolates while n < its number of weights:
alpha = 1 for the dense teacher, alpha = eta for a sparse student.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import ndtr

from .setting import Setting

_SQRT_2PI = np.sqrt(2.0 * np.pi)


def _positive_part_second_moment(c):
    """E[(G - c)_+^2] = (1 + c^2) H(c) - c phi(c) for G ~ N(0, 1)."""
    c = np.asarray(c, dtype=float)
    return (1.0 + c * c) * ndtr(-c) - c * np.exp(-0.5 * c * c) / _SQRT_2PI


def _capacity(m, b, delta, rho):
    den = (rho * _positive_part_second_moment((m + b) / np.sqrt(delta))
           + (1 - rho) * _positive_part_second_moment((m - b) / np.sqrt(delta)))
    return (1.0 - m * m) / den


def separability_threshold(delta: float, rho: float = 0.5, eta: float = 1.0, bias: bool = True) -> float:
    """alpha*(delta, rho, eta): below it the mixture is linearly separable (with a bias).

    Parameters
    ----------
    delta : noise variance > 0.  rho : class fraction in (0, 1).
    eta : fraction of coordinates (sparse student), in (0, 1].
    bias : allow a bias (default); False fixes b = 0.

    Returns
    -------
    float, the threshold in units of alpha = n / d.

    Examples
    --------
    >>> round(separability_threshold(1.0, 0.5), 2)
    3.7
    """
    d_eff = delta / eta

    def neg(p):
        m = np.tanh(p[0])  # m in (-1, 1)
        b = p[1] if bias else 0.0
        return -_capacity(m, b, d_eff, rho)

    best = None
    for m0 in (0.2, 0.6, 1.2):
        for b0 in (0.0, 0.5 * d_eff * np.log(rho / (1 - rho))):
            r = minimize(neg, x0=[m0, b0], method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12,
                                                                         "maxiter": 4000})
            if best is None or r.fun < best.fun:
                best = r
    return float(eta * -best.fun)


def interpolation_threshold(setting: Setting) -> float:
    """Sample ratio at which the last learner can fit real-valued targets exactly.

    1 for the teacher alone (generations = 0), eta for a student chain (its
    weights live on eta d coordinates).  With a bias the exact count is d + 1,
    the same threshold in the high-dimensional limit.
    """
    return 1.0 if setting.generations == 0 else float(setting.eta)
