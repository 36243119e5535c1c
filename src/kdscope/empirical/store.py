"""Read a finished (or partial) run folder back: config, models, data splits, logs.

The layout is described in :mod:`kdscope.empirical.runner`.  Typical use::

    models = list_models(run_dir)                  # one row per trained learner
    row = models.iloc[0]
    net = load_model(run_dir, row.learner, seed=row.seed, condition=row.condition)
    splits = load_splits(run_dir, seed=row.seed, condition=row.condition)
    logits = net(splits.x_test)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from torch import nn

from kdscope.empirical.config import ExperimentConfig, parse_experiment
from kdscope.empirical.data import DataSplits, load_raw, splits_from_indices
from kdscope.empirical.models import build_model
from kdscope.empirical.train import BEST, FINAL


def load_run_config(run_dir: str | Path) -> ExperimentConfig:
    """The resolved :class:`ExperimentConfig` saved in ``run_dir/config.yaml``."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a kdscope empirical run folder (no config.yaml).")
    return parse_experiment(yaml.safe_load(path.read_text()), source=str(path))


def list_models(run_dir: str | Path) -> pd.DataFrame:
    """One row per learner folder holding final weights.

    Columns: condition, seed, learner, role (teacher/student), teacher_of (the learner it
    distilled from, "" if none), loss, tau, xi, aggregator, features, model, arch, width,
    depth, best_epoch, complete, path (the learner folder).
    """
    rows = []
    for info_path in sorted(Path(run_dir).glob("runs/*/seed*/*/learner.json")):
        if (info_path.parent / FINAL).is_file():
            info = json.loads(info_path.read_text())
            info.pop("model_config", None)
            info.pop("student_config", None)
            rows.append({**info, "path": str(info_path.parent)})
    return pd.DataFrame(rows)


def load_model(
    run_dir: str | Path, learner: str, *, seed: int, condition: str = "base", which: str = "final"
) -> nn.Module:
    """Rebuild learner ``learner`` of (condition, seed) and load its weights; eval mode.

    ``which``: "final" (last epoch) or "best" (best validation epoch).
    """
    if which not in ("final", "best"):
        raise ValueError(f"'which' must be one of {{'final', 'best'}}; got {which!r}.")
    folder = Path(run_dir) / "runs" / condition / f"seed{seed}" / learner
    info_path = folder / "learner.json"
    if not info_path.is_file():
        known = list_models(run_dir)
        names = sorted(set(known["learner"])) if len(known) else []
        raise FileNotFoundError(f"no learner {learner!r} for condition={condition!r}, seed={seed} in {run_dir}; "
                                f"known learners: {names}.")
    info = json.loads(info_path.read_text())
    m = info["model_config"]
    model = build_model(m["arch"], m["width"], m["depth"], info["n_classes"], info["in_channels"])
    state = torch.load(folder / (FINAL if which == "final" else BEST), weights_only=True)
    model.load_state_dict(state)
    return model.eval()


def load_splits(
    run_dir: str | Path, *, seed: int, condition: str = "base", data_dir: str | Path | None = None
) -> DataSplits:
    """The exact data splits of (condition, seed): same indices, labels (noise included), normalisation.

    ``data_dir`` defaults to the one recorded in ``run.json`` (then the data set's default).
    """
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir)
    conditions = dict(cfg.conditions())
    if condition not in conditions:
        raise KeyError(f"unknown condition {condition!r}; known: {sorted(conditions)}.")
    if data_dir is None and (run_dir / "run.json").is_file():
        data_dir = json.loads((run_dir / "run.json").read_text()).get("data_dir")
    raw = load_raw(conditions[condition].dataset, data_dir)
    with np.load(run_dir / "runs" / condition / f"seed{seed}" / "split.npz") as z:
        norm = tuple(float(v) for v in z["norm"]) if "norm" in z.files else None
        return splits_from_indices(raw, z["idx_train"], z["idx_val"], z["idx_test"], z["y_train"], norm=norm)


def load_logs(run_dir: str | Path) -> pd.DataFrame:
    """All per-epoch rows of the run (``logs.parquet``, or the per-learner logs of a partial run)."""
    run_dir = Path(run_dir)
    if (run_dir / "logs.parquet").is_file():
        return pd.read_parquet(run_dir / "logs.parquet")
    parts = [pd.read_parquet(p) for p in sorted(run_dir.glob("runs/*/seed*/*/log.parquet"))]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
