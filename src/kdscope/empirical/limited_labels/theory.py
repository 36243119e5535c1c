"""Theory and practice on one table: a two-class limited-label run beside the replica prediction.

What is compared
----------------
Measured: a CNN student on ``n_S`` labelled images of two classes (``n_S`` = budget per
class x 2), trained alone (cross-entropy) or distilled on the same images from a
teacher pre-trained on the whole two-class pool; test error ``1 - accuracy`` with its
95% t interval over seeds, and the paired gain ``eps_learner - eps_alone`` (negative:
distillation helps) with its 95% interval.

Predicted: the binary model of DESIGN.md section 1 on the mixture fitted to the same
two classes (pool pixels, ``d`` principal components, optionally whitened:
:func:`pool_mixture`), in the fresh-sample setting (teacher kind (c)): a ridge logistic
teacher trained on ``alpha_T d`` samples with ``alpha_T = n_pool / d``, frozen, and a
student trained on ``alpha_S d`` other samples, ``alpha_S = n_S / d``, minimising
``(1 - xi) logistic + xi tau^2 KL`` at the learner's ``xi`` and ``tau``, with ridge
``lam_s``; the student alone is the same student at ``xi = 0``.  A two-class softmax
is the sigmoid of the logit difference, so the deep student's cross-entropy and KL
are exactly the binary model's losses on that difference; what differs is the
learner (a CNN on 784 pixels vs a linear classifier on ``d`` fitted coordinates) and
the data (real images vs the isotropic mixture).  The comparison is therefore about
*shape*: where along ``n_S`` distillation helps, by how much relative to the error of
the student alone, and where the gain vanishes.  The absolute levels and the map
``n_S -> alpha_S`` (through the arbitrary ``d``) are not predicted.

Table columns (one row per kind, learner and ``n_labelled``):
``kind`` ('theory' | 'measured'), ``learner``, ``n_labelled`` (n_S), ``alpha_s``,
``eps``, ``eps_ci_low``, ``eps_ci_high`` (NaN for theory), ``gain``, ``gain_ci_low``,
``gain_ci_high`` (``eps - eps_alone``; 0 for the reference), ``eps_teacher``, and the
fitted and model parameters ``d, delta, rho, alpha_t, lam_t, lam_s, eta, xi, tau``
plus the theory's ``status``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kdscope.empirical.bridge.mixture import MixtureFit, fit_mixture
from kdscope.empirical.data import RawDataset
from kdscope.empirical.limited_labels.config import LimitedLabelConfig, LimitedLearner
from kdscope.theory import Setting, solve

COLUMNS = ("kind", "learner", "n_labelled", "alpha_s", "eps", "eps_ci_low", "eps_ci_high", "gain", "gain_ci_low",
           "gain_ci_high", "eps_teacher", "d", "delta", "rho", "alpha_t", "lam_t", "lam_s", "eta", "xi", "tau",
           "status")


def pool_mixture(raw: RawDataset, d: int, *, whiten: bool = True) -> MixtureFit:
    """The two-cluster mixture fitted to the pool pixels of a two-class data set (class 0 is y = +1).

    Raises
    ------
    ValueError
        If ``raw`` does not have exactly two classes (see :func:`kdscope.empirical.data.select_classes`).
    """
    if raw.n_classes != 2:
        raise ValueError(f"pool_mixture: the binary mixture needs two classes; {raw.name} has {raw.n_classes}.")
    X = raw.x_pool.reshape(len(raw.x_pool), -1).astype(np.float64)
    y = np.where(raw.y_pool == 0, 1, -1)
    return fit_mixture(X, y, d, whiten=whiten, rotate=False)


def _setting(cfg: LimitedLabelConfig, learner: LimitedLearner, mixture: MixtureFit, n_pool: int,
             n_labelled: int) -> Setting:
    th = cfg.theory
    d = mixture.d
    soft_kw = {"xi": learner.xi, "soft": "kl", "tau": learner.tau if learner.xi > 0 else 1.0}
    return Setting(alpha=n_pool / d, alpha_s=n_labelled / d, generations=1, teacher="erm", delta=mixture.delta,
                   rho=mixture.rho, lam_t=th.lam_t, lam_s=th.lam_s, eta=th.eta, loss_t="logistic",
                   loss_s="logistic", **soft_kw)


def n_grid(measured: list[int] | np.ndarray, points: int) -> np.ndarray:
    """``points`` log-spaced sample counts over the measured range, plus the measured values, sorted, unique."""
    measured = np.asarray(sorted(set(int(n) for n in measured)), dtype=float)
    grid = np.geomspace(measured[0], measured[-1], points) if len(measured) > 1 else measured
    return np.unique(np.concatenate([np.round(grid), measured])).astype(int)


def theory_curves(cfg: LimitedLabelConfig, mixture: MixtureFit, n_pool: int, n_values) -> pd.DataFrame:
    """Replica prediction for every theory learner at every ``n_labelled`` in ``n_values`` (module docstring).

    Points are solved in increasing n, each warm-started from the previous one; a point
    that does not converge keeps NaN errors and its status.
    """
    rows = []
    for learner in cfg.theory_learners:
        prev = None
        for n in sorted(int(v) for v in n_values):
            s = _setting(cfg, learner, mixture, n_pool, n)
            sp = solve(s, init=prev, on_failure="record")
            rec = sp.record()
            prev = sp if sp.converged else None
            rows.append({"kind": "theory", "learner": learner.name, "n_labelled": n, "alpha_s": n / mixture.d,
                         "eps": rec.get("eps_s", np.nan), "eps_teacher": rec.get("eps_t", np.nan),
                         "d": mixture.d, "delta": mixture.delta, "rho": mixture.rho, "alpha_t": n_pool / mixture.d,
                         "lam_t": cfg.theory.lam_t, "lam_s": cfg.theory.lam_s, "eta": cfg.theory.eta,
                         "xi": learner.xi, "tau": learner.tau if learner.xi > 0 else np.nan,
                         "status": str(sp.status.value)})
    out = pd.DataFrame(rows)
    ref = out[out["learner"] == cfg.reference].set_index("n_labelled")["eps"]
    out["gain"] = out["eps"].to_numpy() - ref.reindex(out["n_labelled"]).to_numpy()
    for col in ("eps_ci_low", "eps_ci_high", "gain_ci_low", "gain_ci_high"):
        out[col] = np.nan
    return out


def measured_curves(summary: pd.DataFrame, *, reference: str, d: int, teacher_error: float) -> pd.DataFrame:
    """Measured test errors and paired gains from a limited-label ``summary`` (accuracies -> errors)."""
    s = summary
    n = s["n_labelled"].astype(int) if "n_labelled" in s else s["budget"].astype(int)
    out = pd.DataFrame({
        "kind": "measured", "learner": s["learner"], "n_labelled": n, "alpha_s": n / d,
        "eps": 1.0 - s["acc_mean"], "eps_ci_low": 1.0 - s["acc_ci_high"], "eps_ci_high": 1.0 - s["acc_ci_low"],
        "gain": -s["delta_vs_alone"], "gain_ci_low": -s["delta_ci_high"], "gain_ci_high": -s["delta_ci_low"],
        "eps_teacher": teacher_error, "d": d,
        "xi": s.get("xi", np.nan), "tau": s.get("tau", np.nan), "status": "measured",
    })
    out.loc[out["learner"] == reference, "gain"] = 0.0
    return out


def theory_practice_table(cfg: LimitedLabelConfig, summary: pd.DataFrame, raw: RawDataset,
                          teacher_error: float) -> tuple[pd.DataFrame, MixtureFit]:
    """Measured rows (every learner) and theory rows (the ``theory`` block's learners), one tidy table.

    ``raw`` is the two-class data set of the run; ``teacher_error`` the measured
    teacher's test error on the run's test images.

    Raises
    ------
    ValueError
        If ``cfg`` has no ``theory`` block or ``raw`` is not a two-class data set.
    """
    if cfg.theory is None:
        raise ValueError("theory_practice_table: the config has no 'theory' block.")
    mixture = pool_mixture(raw, cfg.theory.d, whiten=cfg.theory.whiten)
    measured = measured_curves(summary, reference=cfg.reference, d=mixture.d, teacher_error=teacher_error)
    grid = n_grid(measured["n_labelled"].to_numpy(), cfg.theory.n_grid)
    theory = theory_curves(cfg, mixture, len(raw.y_pool), grid)
    fitted = {"delta": mixture.delta, "rho": mixture.rho, "alpha_t": len(raw.y_pool) / mixture.d,
              "lam_t": cfg.theory.lam_t, "lam_s": cfg.theory.lam_s, "eta": cfg.theory.eta}
    measured = measured.assign(**fitted)
    table = pd.concat([theory, measured], ignore_index=True)[list(COLUMNS)]
    return table, mixture


def format_theory_practice(table: pd.DataFrame, *, reference: str = "alone") -> str:
    """Side-by-side lines at the measured n_S: measured error [CI] and gain [CI] vs the theory's.

    The closing lines count, per distilled learner, the measured sample sizes at which
    the sign of the theory's gain agrees with a measured gain whose CI excludes 0.
    """
    th = table[table["kind"] == "theory"]
    me = table[table["kind"] == "measured"]
    lines = [f"{'n_S':>6s} {'alpha_S':>8s} {'learner':<18s} {'eps meas.':>9s} {'95% CI':>17s} {'eps th.':>8s} "
             f"{'gain meas.':>10s} {'95% CI':>19s} {'gain th.':>9s}"]
    notes = []
    for name in dict.fromkeys(me["learner"]):
        mine = me[me["learner"] == name].sort_values("n_labelled")
        theirs = th[th["learner"] == name].set_index("n_labelled")
        agree = disagree = unresolved = 0
        for _, r in mine.iterrows():
            n = int(r["n_labelled"])
            t_eps = float(theirs.loc[n, "eps"]) if n in theirs.index else np.nan
            t_gain = float(theirs.loc[n, "gain"]) if n in theirs.index else np.nan
            ci = f"[{r['eps_ci_low']:.3f}, {r['eps_ci_high']:.3f}]"
            gci = "" if name == reference else f"[{r['gain_ci_low']:+.4f}, {r['gain_ci_high']:+.4f}]"
            lines.append(f"{n:>6d} {r['alpha_s']:>8.3g} {name:<18s} {r['eps']:>9.4f} {ci:>17s} {t_eps:>8.4f} "
                         f"{r['gain']:>+10.4f} {gci:>19s} {t_gain:>+9.4f}")
            if name == reference or np.isnan(t_gain):
                continue
            if r["gain_ci_high"] < 0 or r["gain_ci_low"] > 0:
                if np.sign(r["gain"]) == np.sign(t_gain):
                    agree += 1
                else:
                    disagree += 1
            else:
                unresolved += 1
        if name != reference and name in set(th["learner"]):
            notes.append(f"{name}: sign of the gain agrees with the theory at {agree}, disagrees at {disagree} of "
                         f"{len(mine)} budgets; {unresolved} not resolved (CI contains 0)")
    return "\n".join(lines + [""] + notes)


__all__ = ["COLUMNS", "format_theory_practice", "measured_curves", "n_grid", "pool_mixture",
           "theory_curves", "theory_practice_table"]
