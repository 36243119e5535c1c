"""Summary statistics of a limited-label run: CIs over seeds and paired differences to the student alone.

``summary.csv`` / ``summary.parquet`` hold one row per (condition, learner, budget):

- ``n_seeds``; ``acc_mean``, ``acc_ci_low``, ``acc_ci_high`` (95% Student-t interval over
  seeds), ``acc_sd``;
- ``delta_vs_alone``, ``delta_ci_low``, ``delta_ci_high``: the mean over seeds of the
  paired difference ``acc(learner, s) - acc(alone, s)`` (positive: the learner beats the
  student trained alone) and its 95% t interval; 0 with an empty interval for the
  reference itself;
- ``verdict``: "distilled above alone", "distilled below alone" or "not separable (...)";
- the settings of the row: ``budget`` (labelled images per class), ``budget_label``,
  ``xi, loss, tau, transfer, kd_data, n_labelled, n_transfer, steps, batch_size``, the
  mean ``agreement`` with the teacher.

The Parquet file also carries the run's settings (config, teacher, device, versions) as
JSON in its schema metadata under the key ``kdscope``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from kdscope.empirical.statistics import mean_ci, paired_difference, verdict

SUMMARY_COLUMNS = ("condition", "learner", "budget", "n_seeds", "acc_mean", "acc_ci_low", "acc_ci_high",
                   "delta_vs_alone", "delta_ci_low", "delta_ci_high")
_SETTINGS = ("budget_label", "xi", "loss", "tau", "transfer", "kd_data", "n_labelled", "n_transfer", "steps",
             "batch_size")


def summarize_limited(per_seed: pd.DataFrame, *, reference: str = "alone", metric: str = "test_acc") -> pd.DataFrame:
    """Per (condition, learner, budget): mean and 95% CI of ``metric``, paired difference to ``reference``.

    Seeds are paired by their ``seed`` value; a learner's seeds missing for the
    reference (or vice versa) are left out of the difference.
    """
    if reference not in set(per_seed["learner"]):
        raise ValueError(f"summarize_limited: reference learner {reference!r} not in the table; "
                         f"learners: {sorted(set(per_seed['learner']))}.")
    rows = []
    for (cond, learner, budget), g in per_seed.groupby(["condition", "learner", "budget"], sort=False):
        ref = per_seed[(per_seed["condition"] == cond) & (per_seed["learner"] == reference)
                       & (per_seed["budget"] == budget)].set_index("seed")[metric]
        mine = g.set_index("seed")[metric]
        common = mine.index.intersection(ref.index)
        acc = mean_ci(mine.to_numpy())
        diff = paired_difference(mine.loc[common].to_numpy(), ref.loc[common].to_numpy())
        first = g.iloc[0]
        row = {"condition": cond, "learner": learner, "budget": int(budget), "n_seeds": acc.n,
               "acc_mean": acc.mean, "acc_ci_low": acc.low, "acc_ci_high": acc.high,
               "delta_vs_alone": diff.mean, "delta_ci_low": diff.low, "delta_ci_high": diff.high,
               "acc_sd": acc.sd, "agreement_mean": float(g["agreement"].mean()) if "agreement" in g else np.nan,
               "verdict": "reference" if learner == reference else verdict(diff),
               **{k: first[k] for k in _SETTINGS if k in g.columns}}
        if "n_transfer" in g.columns:
            row["n_transfer"] = int(g["n_transfer"].max())
        rows.append(row)
    out = pd.DataFrame(rows)
    is_ref = out["learner"] == reference
    out.loc[is_ref, ["delta_vs_alone"]] = 0.0
    out.loc[is_ref, ["delta_ci_low", "delta_ci_high"]] = np.nan
    return out.sort_values(["condition", "budget"], kind="stable").reset_index(drop=True)


def write_summary(summary: pd.DataFrame, out_dir: str | Path, settings: dict) -> None:
    """``summary.csv`` and ``summary.parquet`` (with ``settings`` as JSON schema metadata) in ``out_dir``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out_dir = Path(out_dir)
    summary.to_csv(out_dir / "summary.csv", index=False)
    table = pa.Table.from_pandas(summary, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"kdscope"] = json.dumps(settings, default=str).encode()
    pq.write_table(table.replace_schema_metadata(meta), out_dir / "summary.parquet")


def read_settings(path: str | Path) -> dict:
    """The settings stored in a ``summary.parquet`` written by :func:`write_summary`."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta[b"kdscope"]) if b"kdscope" in meta else {}


def _fmt_ci(lo: float, hi: float, digits: int = 3) -> str:
    if np.isnan(lo):
        return "[   n/a   ]"
    return f"[{lo:+.{digits}f}, {hi:+.{digits}f}]" if lo < 0 or hi < 0 else f"[{lo:.{digits}f}, {hi:.{digits}f}]"


def format_limited_summary(summary: pd.DataFrame, *, reference: str = "alone", teacher_acc: float | None = None) -> str:
    """Printed summary: per budget, each learner's accuracy with CI and difference to alone with CI.

    Ends with one line per budget class: where distillation is ahead, behind, or where the
    seeds are too few (or the budget's effect too small) to separate the learners.
    """
    lines = []
    if teacher_acc is not None:
        lines.append(f"teacher test accuracy {teacher_acc:.4f}")
    lines.append(f"{'budget':>7s} {'learner':<20s} {'seeds':>5s} {'acc':>7s} {'95% CI':>17s} "
                 f"{'acc - alone':>11s} {'95% CI':>19s}  verdict")
    ahead, behind, unclear = [], [], []
    for budget, g in summary.groupby("budget", sort=True):
        label = str(g["budget_label"].iloc[0]) if "budget_label" in g else str(budget)
        separated = False
        for _, r in g.iterrows():
            is_ref = r["learner"] == reference
            delta = "" if is_ref else f"{r['delta_vs_alone']:+.4f}"
            dci = "" if is_ref else _fmt_ci(r["delta_ci_low"], r["delta_ci_high"], 4)
            lines.append(f"{label:>7s} {r['learner']:<20s} {int(r['n_seeds']):>5d} {r['acc_mean']:>7.4f} "
                         f"{_fmt_ci(r['acc_ci_low'], r['acc_ci_high']):>17s} {delta:>11s} {dci:>19s}  {r['verdict']}")
            if not is_ref:
                if r["verdict"].endswith("above alone"):
                    ahead.append(f"{r['learner']}@{label}")
                    separated = True
                elif r["verdict"].endswith("below alone"):
                    behind.append(f"{r['learner']}@{label}")
                    separated = True
        if not separated:
            unclear.append(label)
    lines.append("")
    lines.append("distilled above alone (95% CI of the paired difference > 0): " + (", ".join(ahead) or "none"))
    lines.append("distilled below alone (95% CI < 0): " + (", ".join(behind) or "none"))
    if unclear:
        lines.append("budgets too small to separate the learners (every CI of the difference contains 0; "
                     "more seeds or steps needed): " + ", ".join(unclear))
    return "\n".join(lines)


__all__ = ["SUMMARY_COLUMNS", "format_limited_summary", "read_settings", "summarize_limited", "write_summary"]
