"""Extrapolation of finite-size simulations to d -> infinity.

For each observable, a weighted least-squares fit of the seed averages
``obs(d) = obs_inf + a / d`` over several d, with weights 1 / SE(d)^2 (the
seed standard errors).  The standard error of obs_inf is the square root of
the (0, 0) entry of ``(X^T W X)^-1`` with ``X = [1, 1/d]``: it propagates the
seed statistics only (not a goodness-of-fit rescaling), which is the right
quantity to compare with the theory within a few SE.
"""

from __future__ import annotations

import math

import numpy as np

from kdscope.theory import Setting

from .simulate import simulate

NAN = math.nan


def fit_inverse_d(ds, values, ses) -> tuple[float, float, float]:
    """(obs_inf, obs_inf_se, a) of the WLS fit values = obs_inf + a / d.

    Points with a non-finite value are dropped.  If every SE is 0 (an exact
    column) the value is returned with SE 0; if some SE is 0 or NaN the fit is
    unweighted and its SE is the ordinary-least-squares one (NaN with only two
    points).
    """
    ds = np.asarray(ds, dtype=float)
    y = np.asarray(values, dtype=float)
    se = np.asarray(ses, dtype=float)
    keep = np.isfinite(y)
    ds, y, se = ds[keep], y[keep], se[keep]
    if y.size == 0:
        return NAN, NAN, NAN
    if np.all(se == 0) and np.allclose(y, y[0]):
        return float(y[0]), 0.0, 0.0
    if y.size < 2:
        return NAN, NAN, NAN
    X = np.column_stack([np.ones_like(ds), 1.0 / ds])
    if np.all(np.isfinite(se)) and np.all(se > 0):
        W = 1.0 / se ** 2
        cov = np.linalg.inv(X.T @ (X * W[:, None]))
        coef = cov @ (X.T @ (W * y))
        return float(coef[0]), float(math.sqrt(cov[0, 0])), float(coef[1])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    dof = y.size - 2
    if dof < 1:
        return float(coef[0]), NAN, float(coef[1])
    s2 = float(np.sum((y - X @ coef) ** 2) / dof)
    cov = s2 * np.linalg.inv(X.T @ X)
    return float(coef[0]), float(math.sqrt(cov[0, 0])), float(coef[1])


def _extrapolated(name: str) -> bool:
    """eps_* and overlap columns (m, q, b, V, q_ts, V_st, agreement, mse_train_ts); not the baselines."""
    if name in ("eps_bayes", "eps_bayes_s", "eps_oracle"):
        return False
    return name.split("_")[0] in ("eps", "m", "q", "b", "V", "agreement", "mse", "loss")


def extrapolate(setting: Setting, ds=(250, 500, 1000), seeds=10, progress: bool = False, **kwargs) -> dict:
    """Simulate at several d and extrapolate each observable to d -> infinity.

    Parameters
    ----------
    setting : the problem.  ds : dimensions (at least two; three or more give
    a meaningful SE).  seeds : as in :func:`simulate` (the same seeds at every d).
    progress, kwargs : passed to :func:`simulate`.

    Returns
    -------
    dict: the Setting fields; for each eps_*, overlap, response and training
    column, '<obs>_inf', '<obs>_inf_se' and '<obs>_slope' (the a of a / d); the
    baselines unchanged; 'ds', 'by_d' (the :func:`simulate` dicts),
    'converged' (all of them) and 'seconds'.
    """
    ds = [int(d) for d in ds]
    if len(ds) < 2:
        raise ValueError(f"extrapolate: 'ds' needs at least two dimensions; got {ds}.")
    runs = [simulate(setting, d, seeds, progress, **kwargs) for d in ds]
    out = {k: runs[0][k] for k in Setting.field_names()}
    for name in runs[0]:
        if name.endswith("_se") or name not in runs[0] or f"{name}_se" not in runs[0]:
            continue
        if name in ("eps_bayes", "eps_bayes_s", "eps_oracle"):
            out[name] = runs[0][name]
        elif _extrapolated(name):
            inf, inf_se, slope = fit_inverse_d(ds, [r[name] for r in runs], [r[f"{name}_se"] for r in runs])
            out[f"{name}_inf"], out[f"{name}_inf_se"], out[f"{name}_slope"] = inf, inf_se, slope
    out["ds"] = ds
    out["by_d"] = runs
    out["converged"] = all(r["converged"] for r in runs)
    out["seconds"] = float(sum(r["seconds"] for r in runs))
    return out
