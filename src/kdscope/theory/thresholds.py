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

import math
from functools import lru_cache

import numpy as np
from scipy.optimize import minimize
from scipy.special import ndtr

from .setting import Setting

_SQRT_2PI = np.sqrt(2.0 * np.pi)


def _positive_part_second_moment(c):
    """E[(G - c)_+^2] = (1 + c^2) H(c) - c phi(c) for G ~ N(0, 1)."""
    c = np.asarray(c, dtype=float)
    return (1.0 + c * c) * ndtr(-c) - c * np.exp(-0.5 * c * c) / _SQRT_2PI


def _capacity(m, b, delta, rho, theta=0.0):
    sd = np.sqrt(delta)
    den = 0.0
    for y, py in ((1.0, rho), (-1.0, 1.0 - rho)):
        c = (m + y * b) / sd
        den = den + py * ((1.0 - theta) * _positive_part_second_moment(c) + theta * _positive_part_second_moment(-c))
    return (1.0 - m * m) / den


@lru_cache(maxsize=256)
def separability_threshold(delta: float, rho: float = 0.5, eta: float = 1.0, bias: bool = True,
                           theta: float = 0.0) -> float:
    """alpha*(delta, rho, eta, theta): below it the training set is linearly separable (with a bias).

    With label noise (a training label flipped with probability theta) a flipped
    pattern has the signal margin -(m + y b) / sqrt(delta) instead of
    (m + y b) / sqrt(delta), so the denominator of the capacity averages
    E[(G - c)_+^2] over c = +-(m + y b) / sqrt(delta) with weights 1 - theta, theta.

    Parameters
    ----------
    delta : noise variance > 0.  rho : class fraction in (0, 1).
    eta : fraction of coordinates (sparse student), in (0, 1].
    bias : allow a bias (default); False fixes b = 0.
    theta : label-flip probability in [0, 1/2).

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
        return -_capacity(m, b, d_eff, rho, theta)

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


def no_finite_minimiser(setting: Setting) -> tuple[int, float, float] | None:
    """The first learner of the chain that has no finite minimiser, as (k, alpha_k, alpha*_k), or None.

    A learner whose loss saturates (logistic or hinge on hard labels, no label
    smoothing) and that has no ridge (lam = 0) minimises its loss only at an
    infinite norm while its training set is linearly separable, i.e. while its
    sample ratio is below its separability threshold:

    * the ERM teacher: alpha < alpha*(delta, rho, theta);
    * a student with xi = 0 (hard labels only, on alpha_s d samples when given):
      alpha_s < eta alpha*(delta / eta, rho, theta);
    * a student with xi = 1 and hard pseudo-labels sign(t) from a dense chain
      (eta = 1): the previous learner's own weights separate its pseudo-labels,
      so there is no finite minimiser at any alpha.

    Other saturating students (0 < xi < 1 with pseudo-labels, sparse pseudo-label
    students) have no closed-form threshold; the solver detects their run-away
    norm (status 'diverged').
    """
    s = setting
    saturating = ("logistic", "hinge")
    if s.teacher == "erm" and s.lam_t == 0 and s.loss_t in saturating and (s.loss_t != "logistic" or s.smooth_t == 0):
        a_star = separability_threshold(s.delta, s.rho, 1.0, s.bias, s.theta)
        if s.alpha < a_star:
            return 0, s.alpha, a_star
    if s.generations == 0 or s.lam_s > 0 or s.loss_s not in saturating:
        return None
    alpha_s = s.alpha_s if s.alpha_s is not None else s.alpha
    hard_ok = s.loss_s != "logistic" or s.smooth_s == 0
    if s.xi == 0 and hard_ok:
        a_star = separability_threshold(s.delta, s.rho, s.eta, s.bias, s.theta)
        if alpha_s < a_star:
            return 1, alpha_s, a_star
    if s.xi == 1 and s.soft == "pseudo" and s.eta == 1:
        return 1, alpha_s, math.inf
    return None


def thresholds_of(setting: Setting, lam_small: float = 1e-3) -> dict[str, float]:
    """The thresholds (label -> sample ratio) that shape the learning curves of ``setting``.

    Decided here once for every caller (curves, figure grids, CLI reports):

    * ``teacher separability`` alpha*(delta, rho, theta): an ERM logistic or hinge
      teacher with lam_t <= ``lam_small``; ``teacher interpolation`` 1 for a
      square-loss teacher with small ridge;
    * ``student separability`` eta alpha*(delta / eta, rho, theta): a student with
      lam_s <= ``lam_small`` whose targets saturate (hard labels with xi < 1,
      pseudo-labels, or the soft outputs of a small-ridge ERM teacher, saturated
      wherever the teacher separates its data);
    * ``student interpolation`` alpha = eta: a small-ridge student matching
      real-valued targets (soft 'kl' or 'mse' with xi > 0, or square loss with xi < 1).

    The values are in the student's own sample ratio (alpha, or alpha_s for fresh samples).
    """
    s = setting
    out: dict[str, float] = {}
    small_t = s.teacher == "erm" and s.lam_t <= lam_small
    if small_t and s.loss_t in ("logistic", "hinge"):
        out["teacher separability"] = separability_threshold(s.delta, s.rho, 1.0, s.bias, s.theta)
    elif small_t and s.loss_t == "square":
        out["teacher interpolation"] = 1.0
    if s.generations >= 1 and s.lam_s <= lam_small:
        saturated = s.xi < 1 or s.soft == "pseudo" or (s.soft == "kl" and small_t)
        if saturated and s.loss_s in ("logistic", "hinge"):
            out["student separability"] = separability_threshold(s.delta, s.rho, s.eta, s.bias, s.theta)
        if (s.xi > 0 and s.soft in ("kl", "mse")) or (s.xi < 1 and s.loss_s == "square"):
            out["student interpolation"] = interpolation_threshold(s)
    return {k: float(v) for k, v in out.items()}
