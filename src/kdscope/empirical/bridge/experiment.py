"""The whole bridge experiment: features -> fitted mixture -> measured probe curve + replica curve.

:func:`run_bridge` returns one tidy table (kind 'theory' rows on a fine alpha
grid, kind 'measured' rows at the configured alphas), every row carrying the
data description, the fitted parameters (delta and rho are the Setting's own
columns) and the goodness-of-fit statistics of ``mixture.goodness_of_fit``
computed on the experiment pool (held out from the fit).  :func:`comparison`
puts theory and measurement side by side at the measured alphas.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from .config import BridgeConfig
from .features import TwoClassData, load_two_class
from .mixture import MixtureFit, fit_mixture, goodness_of_fit
from .probe import aggregate, measure_curve, theory_curve, theory_grid


@dataclass(frozen=True)
class BridgeResult:
    """table : tidy theory + measured rows.  per_seed : measured rows per seed.
    mixture : the fit.  gof : goodness-of-fit statistics.  seconds : wall time."""

    table: pd.DataFrame
    per_seed: pd.DataFrame
    mixture: MixtureFit
    gof: dict
    seconds: float


def load_data(cfg: BridgeConfig, data_dir=None, progress: bool = False) -> TwoClassData:
    """The two-class features named by ``cfg`` (reads the data set; trains the feature CNN if asked)."""
    kw = dict(fit_fraction=cfg.fit_fraction, rho=cfg.rho, seed=cfg.split_seed)
    if cfg.features == "cnn":
        kw.update(layer=cfg.layer, width=cfg.cnn_width, depth=cfg.cnn_depth, epochs=cfg.cnn_epochs, progress=progress)
    return load_two_class(cfg.dataset, cfg.classes, features=cfg.features, data_dir=data_dir, **kw)


def describe(cfg: BridgeConfig, data: TwoClassData, mixture: MixtureFit) -> dict:
    """Constant columns of every row: what data, which map, the fit's details."""
    d_s = int(round(cfg.eta * mixture.d))
    return {"experiment": cfg.name, "source": data.source, "classes": "/".join(str(c) for c in data.classes),
            "features": data.features, "D": data.D, "d": mixture.d, "whiten": mixture.whiten,
            "rotate": mixture.rotate, "n_fit": int(len(data.y_fit)), "n_pool": int(len(data.y_pool)),
            "n_test": int(len(data.y_test)), "pca_explained": mixture.explained, "s2_raw": mixture.s2_raw,
            "support_fraction": mixture.support_fraction(d_s)}


def run_bridge(cfg: BridgeConfig, data: TwoClassData | None = None, *, data_dir=None,
               progress: bool = False) -> BridgeResult:
    """Fit the mixture to ``data`` (loaded from ``cfg`` if None), run the probe and solve the theory.

    Returns
    -------
    BridgeResult
    """
    t0 = time.perf_counter()
    if data is None:
        data = load_data(cfg, data_dir, progress)
    d = min(cfg.d, data.D)
    mixture = fit_mixture(data.X_fit, data.y_fit, d, whiten=cfg.whiten, rotate=cfg.rotate, seed=cfg.split_seed)
    x_pool, x_test = mixture.transform(data.X_pool), mixture.transform(data.X_test)
    gof = goodness_of_fit(mixture, x_pool, data.y_pool, seed=cfg.split_seed)
    setting = cfg.base_setting(delta=mixture.delta, rho=mixture.rho)
    per_seed = measure_curve(setting, mixture, x_pool, data.y_pool, x_test, data.y_test, cfg.alphas, cfg.seeds,
                             progress=progress)
    measured = aggregate(per_seed, len(data.y_test))
    theory = theory_curve(setting, theory_grid(cfg.alphas, cfg.n_theory))
    const = {**describe(cfg, data, mixture), **gof}
    fields = setting.to_dict()
    measured = measured.assign(kind="measured", **{k: v for k, v in fields.items() if k != "alpha"}, **const)
    theory = theory.assign(kind="theory", **const)
    table = pd.concat([theory, measured], ignore_index=True, sort=False)
    per_seed = per_seed.assign(**{k: v for k, v in fields.items() if k != "alpha"}, **const)
    return BridgeResult(table, per_seed, mixture, gof, time.perf_counter() - t0)


def comparison(table: pd.DataFrame) -> pd.DataFrame:
    """Theory vs measured at the measured alphas: alpha, then for teacher and student
    ``eps_theory, eps, eps_se, eps_gauss, m_theory, m, q_theory, q`` and the gap in standard errors."""
    th = table[table["kind"] == "theory"].set_index("alpha")
    me = table[table["kind"] == "measured"].set_index("alpha")
    rows = []
    for a, r in me.iterrows():
        t = th.loc[a] if a in th.index else None
        row = {"alpha": a, "n": r["n"]}
        for k in ("t", "s"):
            eps_th = float(t[f"eps_{k}"]) if t is not None else float("nan")
            row[f"eps_{k}_theory"] = eps_th
            row[f"eps_{k}"] = r[f"eps_{k}"]
            row[f"eps_{k}_se"] = r[f"eps_{k}_se"]
            row[f"eps_gauss_{k}"] = r[f"eps_gauss_{k}"]
            row[f"gap_{k}_in_se"] = (r[f"eps_{k}"] - eps_th) / r[f"eps_{k}_se"]
            for o in ("m", "q"):
                row[f"{o}_{k}_theory"] = float(t[f"{o}_{k}"]) if t is not None else float("nan")
                row[f"{o}_{k}"] = r[f"{o}_{k}"]
        rows.append(row)
    return pd.DataFrame(rows)
