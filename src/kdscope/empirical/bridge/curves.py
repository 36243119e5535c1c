"""Learning curves of deep networks for the bridge: accuracy vs training-set fraction, one line per learner.

The runs themselves are ordinary experiments of ``kdscope.empirical.runner`` with a
grid over ``data.train_fraction`` (``experiments/bridge_curves.yaml``); this module
only turns their summary table (one row per condition and learner) into the tidy
learning-curve table the figure reads: the condition label ``train_fraction=0.2``
becomes the column ``train_fraction``, and ``is_teacher`` marks the learners on
the teacher's architecture (the teacher and the other teachers, trained alone).
"""

from __future__ import annotations

import pandas as pd

from kdscope.empirical.config import ExperimentConfig


def learning_curve_table(summary: pd.DataFrame, cfg: ExperimentConfig) -> pd.DataFrame:
    """The summary with the columns ``train_fraction`` (float) and ``is_teacher`` (bool), sorted.

    Raises
    ------
    ValueError
        If the experiment has no grid over ``data.train_fraction``.
    """
    if "data.train_fraction" not in cfg.grid:
        raise ValueError("learning_curve_table: the experiment needs a grid over 'data.train_fraction'; "
                         f"its grid is {sorted(cfg.grid)}.")
    fractions = {label: data.train_fraction for label, data in cfg.conditions()}
    teacher_model = cfg.teacher.model
    models = {"teacher": teacher_model, **{s.name: s.model for s in cfg.students}}
    out = summary.assign(train_fraction=summary["condition"].map(fractions).astype(float),
                         is_teacher=summary["learner"].map(lambda n: models.get(n) == teacher_model))
    return out.sort_values(["learner", "train_fraction"]).reset_index(drop=True)
