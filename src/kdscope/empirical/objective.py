"""A learner's training objective: its paths, hint regressors and aggregator.

For a teacher the only path is ``ce`` (weight 1).  For a student
(:class:`~kdscope.empirical.config.StudentConfig`) the paths are

- ``ce``: cross-entropy on the training labels, initial weight 1 - xi;
- ``kd``: the registered soft loss (``kl`` at temperature tau, ``mse``) between the
  student's and the frozen teacher's logits, initial weight xi;
- ``<kind>:<student path>``: one per feature path (FitNets hint through a 1x1 conv
  regressor, or attention transfer), initial weight from the config;

paths of weight 0 are dropped, so with the fixed aggregator and xi in [0, 1] the
objective is exactly (1 - xi) CE + xi KD (+ feature terms).  The aggregator
(:mod:`kdscope.empirical.aggregators`) turns the path losses into one scalar.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from kdscope.empirical.aggregators import AbstractAggregator, build_aggregator
from kdscope.empirical.config import StudentConfig
from kdscope.empirical.hooks import capture
from kdscope.empirical.losses import FEATURE_LOSSES, SOFT_LOSSES, HintRegressor, cross_entropy


class Objective(nn.Module):
    """Paths + regressors + aggregator of one learner (``cfg`` None: a teacher, CE only).

    Parameters
    ----------
    cfg : StudentConfig or None
    student, teacher : nn.Module
        Used once, on ``probe`` inputs, to read feature-map channel counts for the
        hint regressors (eval mode, no gradient).  ``teacher`` may be None for a teacher.
    probe : torch.Tensor
        A few training inputs.
    """

    def __init__(
        self, cfg: StudentConfig | None, student: nn.Module, teacher: nn.Module | None, probe: torch.Tensor
    ) -> None:
        super().__init__()
        self.cfg = cfg
        names, weights, groups = ["ce"], [1.0 if cfg is None else 1.0 - cfg.xi], ["ce"]
        self.features = tuple(cfg.features) if cfg is not None else ()
        if cfg is not None and cfg.xi > 0:
            names, weights, groups = names + ["kd"], weights + [cfg.xi], groups + ["kd"]
        self.feature_names = tuple(f"{f.kind}:{f.student}" for f in self.features)
        if len(set(self.feature_names)) != len(self.feature_names):
            raise ValueError(f"feature paths must be distinct; got {list(self.feature_names)}.")
        names += list(self.feature_names)
        weights += [f.weight for f in self.features]
        groups += [f.kind for f in self.features]
        keep = [i for i, w in enumerate(weights) if w > 0]
        self.path_names = tuple(names[i] for i in keep)
        self.regressors = nn.ModuleDict()
        if self.features:
            f_s, f_t = self._probe_features(student, teacher, probe)
            for f, key in zip(self.features, self.feature_names, strict=True):
                if f.kind == "hint":
                    c_s, c_t = f_s[f.student].shape[1], f_t[f.teacher].shape[1]
                    self.regressors[_module_key(key)] = HintRegressor(c_s, c_t)
        options = {}
        if cfg is not None:
            options = {"per_layer": cfg.per_layer, "asymmetry": cfg.gradnorm_asymmetry, "lr": cfg.gradnorm_lr}
        self.aggregator: AbstractAggregator = build_aggregator(
            "fixed" if cfg is None else cfg.aggregator,
            self.path_names,
            [weights[i] for i in keep],
            [groups[i] for i in keep],
            **options,
        )

    @property
    def student_paths(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.student for f in self.features))

    @property
    def teacher_paths(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.teacher for f in self.features))

    @torch.no_grad()
    def _probe_features(self, student, teacher, probe):
        modes = student.training, teacher.training
        student.eval()
        teacher.eval()
        with (
            capture(student, self.student_paths, detach=True) as f_s,
            capture(teacher, self.teacher_paths, detach=True) as f_t,
        ):
            student(probe)
            teacher(probe)
        student.train(modes[0])
        teacher.train(modes[1])
        return dict(f_s), dict(f_t)

    def path_losses(
        self,
        z_s: torch.Tensor,
        y: torch.Tensor,
        z_t: torch.Tensor | None,
        f_s: dict[str, torch.Tensor],
        f_t: dict[str, torch.Tensor],
    ) -> dict[str, torch.Tensor]:
        """Loss of every path on one batch (each a batch mean, before weighting)."""
        out: dict[str, torch.Tensor] = {}
        if "ce" in self.path_names:
            out["ce"] = cross_entropy(z_s, y)
        if "kd" in self.path_names:
            out["kd"] = SOFT_LOSSES.get(self.cfg.loss)(z_s, z_t, self.cfg.tau)
        for f, key in zip(self.features, self.feature_names, strict=True):
            if key not in self.path_names:
                continue
            feat = f_s[f.student]
            if f.kind == "hint":
                feat = self.regressors[_module_key(key)](feat)
            out[key] = FEATURE_LOSSES.get(f.kind)(feat, f_t[f.teacher])
        return out

    def combine(self, losses: dict[str, torch.Tensor], shared: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.aggregator.combine(losses, shared)


def _module_key(path_name: str) -> str:
    """ModuleDict keys may not contain '.' or ':'."""
    return path_name.replace(".", "__").replace(":", "--")
