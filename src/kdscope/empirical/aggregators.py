"""Aggregators: combine the losses of several paths L_1..L_P into one objective.

A *path* is one term of a student's objective: ``ce`` (hard labels), ``kd``
(teacher logits), ``hint:stage2``, ``attention:stage3`` ...  Each path has a
configured initial weight w_i (``1 - xi`` for ce, ``xi`` for kd, the configured
weight of a feature path; paths of weight 0 are not built) and a *group* (its
kind: ce, kd, hint, attention).  Aggregators are interchangeable
(:data:`AGGREGATORS`):

``fixed``
    total = sum_i w_i L_i, weights constant.
``uncertainty``
    Kendall, Gal & Cipolla (CVPR 2018), as used for multi-path distillation by
    Chennupati et al. (BMVC 2021): one learned log-variance s per path
    (``per_layer=True``, the adaptive scheme) or per group (``per_layer=False``),
    total = sum_i exp(-s_g(i)) L_i + sum_g s_g.  At fixed L the optimum is
    exp(-s_g) = 1 / sum_{i in g} L_i: weights move towards inverse losses.  s starts
    at -log w_i and is trained by the student's optimizer (no weight decay).
``gradnorm``
    Chen et al. (ICML 2018): with g_i = |d L_i / d W| on shared parameters W (the
    student's first stage), G_i = w_i g_i, r_i = (L_i/L_i(0)) / mean_j (L_j/L_j(0)),
    each call takes one SGD step (rate ``lr``) on sum_i |G_i - mean(G) r_i^a| in w
    (target detached; a = ``asymmetry``), clips w at 1e-3 and renormalises so that
    sum w = sum of the initial weights.  The returned total uses the weights before
    the step, detached.

Interface: ``combine(losses, shared) -> total`` (losses a dict path -> scalar
tensor, in the order of ``names``) and ``weights() -> dict path -> float``, logged
per epoch.  Aggregators are ``nn.Module``s: their state is checkpointed with the
student's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from kdscope.empirical.registry import Registry


class AbstractAggregator(nn.Module):
    """Base of all aggregators: holds path names, groups and initial weights."""

    def __init__(self, names: Sequence[str], init_weights: Sequence[float], groups: Sequence[str]) -> None:
        super().__init__()
        if not (len(names) == len(init_weights) == len(groups)) or not names:
            raise ValueError("aggregator: names, init_weights and groups must be non-empty and of equal length.")
        if any(w <= 0 for w in init_weights):
            raise ValueError(
                f"aggregator: initial weights must be > 0 (drop paths of weight 0); got {list(init_weights)}."
            )
        self.names = tuple(names)
        self.groups = tuple(groups)
        self.init_weights = tuple(float(w) for w in init_weights)

    def _stack(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.stack([losses[n] for n in self.names])

    def combine(self, losses: dict[str, torch.Tensor], shared: Sequence[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def weight_tensor(self) -> torch.Tensor:
        raise NotImplementedError

    def weights(self) -> dict[str, float]:
        """Current weight of each path, as floats."""
        return dict(zip(self.names, self.weight_tensor().detach().tolist(), strict=True))


class FixedAggregator(AbstractAggregator):
    """total = sum_i w_i L_i with the initial weights."""

    def __init__(self, names, init_weights, groups, **_options) -> None:
        super().__init__(names, init_weights, groups)
        self.register_buffer("w", torch.tensor(self.init_weights, dtype=torch.float32))

    def weight_tensor(self) -> torch.Tensor:
        return self.w

    def combine(self, losses, shared=()):
        return (self.w * self._stack(losses)).sum()


class UncertaintyAggregator(AbstractAggregator):
    """total = sum_i exp(-s_g(i)) L_i + sum_g s_g with learned log-variances s (see module doc)."""

    def __init__(self, names, init_weights, groups, per_layer: bool = True, **_options) -> None:
        super().__init__(names, init_weights, groups)
        keys = list(self.names) if per_layer else list(dict.fromkeys(self.groups))
        owner = self.names if per_layer else self.groups
        self.register_buffer("member", torch.tensor([keys.index(o) for o in owner]), persistent=False)
        first = {k: -math.log(w) for w, k in reversed(list(zip(self.init_weights, owner, strict=True)))}
        self.log_var = nn.Parameter(torch.tensor([first[k] for k in keys], dtype=torch.float32))

    def weight_tensor(self) -> torch.Tensor:
        return torch.exp(-self.log_var)[self.member]

    def combine(self, losses, shared=()):
        return (self.weight_tensor() * self._stack(losses)).sum() + self.log_var.sum()


class GradNormAggregator(AbstractAggregator):
    """GradNorm weights, updated by their own SGD step at every call (see module doc)."""

    def __init__(self, names, init_weights, groups, asymmetry: float = 1.5, lr: float = 0.025, **_options) -> None:
        super().__init__(names, init_weights, groups)
        self.asymmetry = float(asymmetry)
        self.lr = float(lr)
        self.register_buffer("w", torch.tensor(self.init_weights, dtype=torch.float32))
        self.register_buffer("loss0", torch.zeros(len(self.names)))
        self.register_buffer("started", torch.tensor(False))

    def weight_tensor(self) -> torch.Tensor:
        return self.w

    def combine(self, losses, shared=()):
        stacked = self._stack(losses)
        total = (self.w.detach().clone() * stacked).sum()
        shared = [p for p in shared if p.requires_grad]
        if len(self.names) > 1 and shared:
            self._step(stacked, shared)
        return total

    @torch.no_grad()
    def _step(self, stacked: torch.Tensor, shared: Sequence[torch.Tensor]) -> None:
        g = torch.zeros(len(self.names))
        with torch.enable_grad():
            for i in range(len(self.names)):
                grads = torch.autograd.grad(stacked[i], shared, retain_graph=True, allow_unused=True)
                g[i] = torch.sqrt(sum((gr.pow(2).sum() for gr in grads if gr is not None), torch.tensor(0.0)))
        current = stacked.detach()
        if not bool(self.started):
            self.loss0.copy_(current.clamp_min(1e-12))
            self.started.fill_(True)
        ratio = current / self.loss0
        r = ratio / ratio.mean()
        G = self.w * g
        target = G.mean() * r.pow(self.asymmetry)
        self.w.sub_(self.lr * torch.sign(G - target) * g)
        self.w.clamp_(min=1e-3)
        self.w.mul_(sum(self.init_weights) / self.w.sum())


AGGREGATORS: Registry = Registry("aggregator")
AGGREGATORS.register("fixed", FixedAggregator)
AGGREGATORS.register("uncertainty", UncertaintyAggregator)
AGGREGATORS.register("gradnorm", GradNormAggregator)


def build_aggregator(
    name: str, names: Sequence[str], init_weights: Sequence[float], groups: Sequence[str], **options
) -> AbstractAggregator:
    """Instantiate the registered aggregator ``name``; options: ``per_layer``, ``asymmetry``, ``lr``."""
    return AGGREGATORS.get(name)(names, init_weights, groups, **options)
