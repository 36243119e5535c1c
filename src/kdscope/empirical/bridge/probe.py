"""Linear-probe distillation on features in model units, and the replica prediction beside it.

Protocol, for each alpha and seed (``default_rng((seed, i_alpha))``):

1. draw ``n = round(alpha d)`` training points from the experiment pool, without
   replacement (the class counts are random, as in the model);
2. train the dense teacher (hard loss, ridge lam_t) and then the sparse student
   (first ``round(eta d)`` coordinates; ``(1 - xi) hard + xi soft`` on the
   teacher's training logits, ridge lam_s) exactly, with
   ``kdscope.simulations.fit`` and the losses ``kdscope.theory.solve.chain_losses``
   (the very objects the theory uses), logits ``z = w . x / sqrt(d) + b``;
3. measure on the test set: the test error ``eps = mean(sign z != y)``, the
   overlaps ``m = w . mu / d``, ``q = |w|^2 / d`` with the fitted mu, the bias, and
   ``eps_gauss`` = the population error those (m, q, b) would have if the test
   data were the fitted mixture (``kdscope.theory.generalization_error``).

Seed averages carry '<name>_se' standard errors.  For the test errors the
standard error also counts the finite test set (shared by all seeds):
``eps_se^2 = sd_seeds^2 / n_seeds + eps (1 - eps) / n_test``.

Three numbers per learner then separate the sources of disagreement with the
replica curve ``eps`` (kind 'theory'): the learned overlaps vs the theory's m, q
(the *training* data are not the mixture), ``eps_gauss`` vs ``eps`` measured (the
*test* data are not the mixture), and finite d (the theory is the d -> inf limit).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from kdscope.simulations import fit
from kdscope.theory import Setting, generalization_error, solve_curve
from kdscope.theory.solve import chain_losses

from .mixture import MixtureFit

OBSERVABLES = ("eps", "eps_train", "eps_gauss", "m", "q", "b")
LEARNERS = ("t", "s")


def _errors(z: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.where(z >= 0, 1, -1) != y))


def train_probe(setting: Setting, x: np.ndarray, y: np.ndarray):
    """Train teacher and student of ``setting`` (generations = 1) on (x, y) in model units.

    Returns
    -------
    (teacher Fit, student Fit, d_s)
    """
    n, d = x.shape
    d_s = int(round(setting.eta * d))
    losses = chain_losses(setting)
    A = x / math.sqrt(d)
    f_t = fit(losses[0], y, A, setting.lam_t, d=d, bias=setting.bias)
    z_t = A @ f_t.w + f_t.b
    warm = f_t.converged
    f_s = fit(losses[1], (y, z_t), A[:, :d_s], setting.lam_s, d=d, bias=setting.bias,
              w_init=f_t.w[:d_s] if warm else None, b_init=f_t.b if warm else 0.0)
    return f_t, f_s, d_s


def measure_point(setting: Setting, mixture: MixtureFit, x_train: np.ndarray, y_train: np.ndarray,
                  x_test: np.ndarray, y_test: np.ndarray) -> dict:
    """One seed at one alpha: train, then the test error, training error, overlaps and eps_gauss of each learner."""
    d = x_train.shape[1]
    f_t, f_s, d_s = train_probe(setting, x_train, y_train)
    rec = {"n": int(len(y_train)), "d_s": d_s, "converged": bool(f_t.converged and f_s.converged),
           "status": f_t.status if not f_t.converged else f_s.status}
    for suffix, f, w in (("t", f_t, f_t.w), ("s", f_s, np.concatenate([f_s.w, np.zeros(d - d_s)]))):
        m = float(w @ mixture.mu / d)
        q = float(w @ w / d)
        rec[f"m_{suffix}"], rec[f"q_{suffix}"], rec[f"b_{suffix}"] = m, q, float(f.b)
        rec[f"eps_{suffix}"] = _errors(x_test @ w / math.sqrt(d) + f.b, y_test)
        rec[f"eps_train_{suffix}"] = _errors(x_train @ w / math.sqrt(d) + f.b, y_train)
        rec[f"eps_gauss_{suffix}"] = float(generalization_error(m, q, f.b, mixture.delta, mixture.rho))
    return rec


def measure_curve(setting: Setting, mixture: MixtureFit, x_pool: np.ndarray, y_pool: np.ndarray,
                  x_test: np.ndarray, y_test: np.ndarray, alphas, seeds: int, *, progress: bool = False) -> pd.DataFrame:
    """Per-seed records (one row per alpha and seed) of :func:`measure_point` on subsamples of the pool.

    Raises
    ------
    ValueError
        If ``round(alpha d)`` exceeds the pool size for some alpha.
    """
    d = x_pool.shape[1]
    too_big = [a for a in alphas if round(a * d) > len(y_pool)]
    if too_big:
        raise ValueError(f"alphas {too_big} need more than the {len(y_pool)} points of the experiment pool at d={d}; "
                         f"use alpha <= {len(y_pool) / d:.2f} or a smaller 'd'.")
    jobs = [(i, a, s) for i, a in enumerate(alphas) for s in range(seeds)]
    if progress:
        from tqdm.auto import tqdm
        jobs = tqdm(jobs, desc="probe", leave=False)
    rows = []
    for i, a, s in jobs:
        rng = np.random.default_rng((s, i))
        idx = rng.choice(len(y_pool), size=int(round(a * d)), replace=False)
        rec = measure_point(setting.replace(alpha=float(a)), mixture, x_pool[idx], y_pool[idx], x_test, y_test)
        rows.append({"alpha": float(a), "seed": s, **rec})
    return pd.DataFrame(rows)


def aggregate(per_seed: pd.DataFrame, n_test: int) -> pd.DataFrame:
    """Seed means with '<name>_se' (over converged seeds), one row per alpha; test errors include the test-set term."""
    out = []
    for a, g in per_seed.groupby("alpha", sort=True):
        ok = g[g["converged"]]
        row = {"alpha": float(a), "n": int(g["n"].iloc[0]), "seeds": int(len(ok)), "n_failed": int(len(g) - len(ok))}
        for obs in OBSERVABLES:
            for k in LEARNERS:
                col = f"{obs}_{k}"
                v = ok[col].to_numpy(dtype=float)
                mean = float(v.mean()) if v.size else math.nan
                se2 = float(v.var(ddof=1) / v.size) if v.size > 1 else math.nan
                if obs == "eps":
                    se2 += mean * (1.0 - mean) / n_test
                row[col], row[f"{col}_se"] = mean, math.sqrt(se2)
        row["converged"] = len(ok) == len(g)
        out.append(row)
    return pd.DataFrame(out)


def theory_curve(setting: Setting, alphas) -> pd.DataFrame:
    """Replica records (``make_record`` columns) along alpha, by continuation (``solve_curve``)."""
    sps = solve_curve(setting, "alpha", sorted(float(a) for a in alphas), on_failure="record")
    return pd.DataFrame([sp.record() for sp in sps])


def theory_grid(alphas, n_theory: int) -> np.ndarray:
    """A log-spaced grid over [min alpha, max alpha] with the measured alphas included."""
    lo, hi = min(alphas), max(alphas)
    grid = np.geomspace(lo, hi, n_theory) if hi > lo else np.array([lo])
    return np.unique(np.concatenate([grid, np.asarray(alphas, dtype=float)]))
