"""Per-layer paired differences to the student trained alone (Lee & Wallraven's claim, with its CI).

The claim under test: a distilled student's classes are more compact already in earlier
layers than those of a student of the same depth trained alone.  For each (condition,
learner, layer, metric) this module pairs the learner's value with the reference
student's value *of the same run seed* (same data subset and initialisation) and reports
the mean difference over seeds with its 95% Student-t interval
(:func:`kdscope.empirical.statistics.paired_difference`).

Output columns: ``condition, model, layer, depth, rel_depth, metric, reference, n_seeds,
value_mean, reference_mean, delta, delta_ci_low, delta_ci_high, verdict``.  The sign of
``delta`` follows the metric: higher kNN accuracy or silhouette means more compact; for a
within/between distance ratio lower is more compact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kdscope.empirical.statistics import paired_difference, verdict


def reference_student(metrics: pd.DataFrame) -> str | None:
    """The student trained alone: a model tagged role "student" with xi = 0 and no feature path."""
    if not {"role", "xi"} <= set(metrics.columns):
        return None
    plain = metrics["features"].fillna("") == "" if "features" in metrics.columns else True
    rows = metrics[(metrics["role"] == "student") & (metrics["xi"] == 0) & plain]
    return str(rows["model"].iloc[0]) if len(rows) else None


def paired_layer_differences(metrics: pd.DataFrame, *, reference: str | None = None) -> pd.DataFrame:
    """Per (condition, model, layer, metric): mean over seeds of value - reference value, 95% CI.

    Parameters
    ----------
    metrics : the ``metrics`` table of :func:`kdscope.empirical.analysis.analyze_run`
        (columns ``model, layer, depth, rel_depth, metric, value, seed`` and tags).
    reference : the learner to subtract; default :func:`reference_student`.

    Returns
    -------
    DataFrame (empty when there is no reference or no seed column).  Only students (by the
    ``role`` tag, when present) of the reference's depth (same number of inspected layers)
    are compared, layer by layer.
    """
    reference = reference if reference is not None else reference_student(metrics)
    if reference is None or "seed" not in metrics.columns:
        return pd.DataFrame()
    m = metrics.copy()
    if "condition" not in m.columns:
        m["condition"] = "base"
    keys = ["condition", "layer", "metric", "seed"]
    ref = m[m["model"] == reference].set_index(keys)["value"]
    n_ref = m.loc[m["model"] == reference, "n_layers"].iloc[0] if "n_layers" in m.columns else None
    rows = []
    for (cond, model, layer, metric), g in m.groupby(["condition", "model", "layer", "metric"], sort=False):
        if model == reference or (n_ref is not None and g["n_layers"].iloc[0] != n_ref):
            continue
        if "role" in g.columns and g["role"].iloc[0] != "student":
            continue  # students only: distilled vs not, at equal depth
        mine = g.set_index(keys)["value"]
        common = mine.index.intersection(ref.index)
        if not len(common):
            continue
        d = paired_difference(mine.loc[common].to_numpy(float), ref.loc[common].to_numpy(float))
        rows.append({"condition": cond, "model": model, "layer": layer, "depth": int(g["depth"].iloc[0]),
                     "rel_depth": float(g["rel_depth"].iloc[0]), "metric": metric, "reference": reference,
                     "n_seeds": d.n, "value_mean": float(mine.loc[common].mean()),
                     "reference_mean": float(ref.loc[common].mean()), "delta": d.mean, "delta_ci_low": d.low,
                     "delta_ci_high": d.high, "verdict": verdict(d, what=model, reference=reference)})
    out = pd.DataFrame(rows)
    return out.sort_values(["condition", "metric", "model", "depth"], kind="stable").reset_index(drop=True) \
        if len(out) else out


def format_layer_differences(table: pd.DataFrame) -> str:
    """Plain text: one line per (model, metric) with the per-layer deltas and whether each CI excludes 0."""
    if table.empty:
        return "no paired per-layer differences (no student trained alone, or a single seed)."
    lines = [f"per-layer difference to {table['reference'].iloc[0]!r} (paired over seeds; * = 95% CI excludes 0):"]
    for (cond, model, metric), g in table.groupby(["condition", "model", "metric"], sort=False):
        cells = []
        for _, r in g.iterrows():
            star = "*" if (np.isfinite(r["delta_ci_low"]) and (r["delta_ci_low"] > 0 or r["delta_ci_high"] < 0)) \
                else " "
            cells.append(f"{r['layer']} {r['delta']:+.3f}{star}")
        lines.append(f"  {cond:<12s} {model:<18s} {metric:<22s} " + "  ".join(cells))
    return "\n".join(lines)


__all__ = ["format_layer_differences", "paired_layer_differences", "reference_student"]
