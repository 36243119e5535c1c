"""Distillation losses for deep networks: one small pure function each, batch-averaged.

Notation (DESIGN.md): ``z_s`` student logits, ``z_t`` teacher logits, both (B, C);
``y`` integer labels (B,); ``tau`` the temperature; ``xi`` the weight of the
teacher term.  A student's logit objective is

    loss = (1 - xi) * CE(z_s, y) + xi * soft(z_s, z_t)

exactly as in the theory, one formula for every xi in [0, 1] (:func:`mix`).
Mapping to other libraries: where a library's ``alpha`` weights the soft term
(``alpha * KD + (1 - alpha) * CE``), xi = alpha; where its ``alpha`` weights the hard
term (``alpha * CE + (1 - alpha) * KD``), xi = 1 - alpha.  Check the library's formula,
not the letter.

Soft logit losses are registered in :data:`SOFT_LOSSES` (``kl``, ``mse``) with the
signature ``soft(z_s, z_t, tau)``; feature losses in :data:`FEATURE_LOSSES`
(``hint``, ``attention``) with ``feat(f_s, f_t)`` where ``f_s`` is already passed
through the hint regressor.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from kdscope.empirical.registry import Registry


def cross_entropy(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """CE(z, y) = (1/B) sum_b [ logsumexp(z_b) - z_b[y_b] ]  (natural log)."""
    return F.cross_entropy(z, y)


def kd_kl(z_s: torch.Tensor, z_t: torch.Tensor, tau: float) -> torch.Tensor:
    """Hinton's distillation loss with the tau^2 factor.

    ``tau^2 * (1/B) sum_b KL( softmax(z_t,b / tau) || softmax(z_s,b / tau) )``,
    the KL summed over classes and averaged over the batch.  The tau^2 factor keeps
    gradient magnitudes comparable across temperatures (Hinton et al., 2015).
    ``tau = inf`` returns the limit :func:`kd_kl_limit`.

    Notes
    -----
    As tau -> infinity, tau^2 KL -> (1/(2C)) |c(z_s) - c(z_t)|^2 per sample, where
    c(z) = z - mean_c(z) centres the logits (second-order expansion of the KL around
    uniform probabilities 1/C).  For C = 2 and z = z1 - z0 this is (z - z_prev)^2/8,
    the binary limit of DESIGN.md section 1 (Kim et al., IJCAI 2021).
    """
    if math.isinf(tau):
        return kd_kl_limit(z_s, z_t)
    log_p_t = F.log_softmax(z_t / tau, dim=1)
    log_q_s = F.log_softmax(z_s / tau, dim=1)
    kl = (log_p_t.exp() * (log_p_t - log_q_s)).sum(dim=1)
    return tau**2 * kl.mean()


def kd_kl_limit(z_s: torch.Tensor, z_t: torch.Tensor) -> torch.Tensor:
    """The tau -> infinity limit of tau^2 KL: mean-centred logit matching.

    ``(1/B) sum_b (1/(2C)) |c(z_s,b) - c(z_t,b)|^2`` with c(z) = z - mean over classes.
    Invariant to adding a constant to either logit vector, like the KL itself.
    """
    diff = z_s - z_t
    diff = diff - diff.mean(dim=1, keepdim=True)
    n_classes = z_s.shape[1]
    return (diff**2).sum(dim=1).mean() / (2 * n_classes)


def logit_mse(z_s: torch.Tensor, z_t: torch.Tensor) -> torch.Tensor:
    """Plain logit MSE, mean over batch and classes: ``(1/(B C)) sum_{b,c} (z_s - z_t)^2``.

    This is ``torch.nn.functional.mse_loss`` with its default reduction.  Unlike
    :func:`kd_kl_limit` it does not centre the logits; for logits with equal class
    means it equals 2 * kd_kl_limit.
    """
    return F.mse_loss(z_s, z_t)


def mix(hard: torch.Tensor, soft: torch.Tensor, xi: float) -> torch.Tensor:
    """``(1 - xi) * hard + xi * soft``; xi in [0, 1] weights the teacher term."""
    return (1.0 - xi) * hard + xi * soft


SOFT_LOSSES: Registry = Registry("soft loss")
SOFT_LOSSES.register("kl", kd_kl)
SOFT_LOSSES.register("mse", lambda z_s, z_t, tau: logit_mse(z_s, z_t))


# ----------------------------------------------------------------------------- feature paths
class HintRegressor(nn.Module):
    """FitNets regressor: a 1x1 convolution from the student's channels to the teacher's."""

    def __init__(self, c_student: int, c_teacher: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_student, c_teacher, kernel_size=1)

    def forward(self, f_s: torch.Tensor) -> torch.Tensor:
        return self.conv(f_s)


def _match_spatial(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Average-pool the larger of two feature maps down to the other's spatial size."""
    ha, hb = a.shape[-2:], b.shape[-2:]
    if ha == hb:
        return a, b
    target = (min(ha[0], hb[0]), min(ha[1], hb[1]))
    return F.adaptive_avg_pool2d(a, target), F.adaptive_avg_pool2d(b, target)


def hint_loss(f_s: torch.Tensor, f_t: torch.Tensor) -> torch.Tensor:
    """FitNets hint (Romero et al., ICLR 2015): mean over all elements of (r(f_s) - f_t)^2.

    ``f_s`` must already be the regressed student map r(f_s) (same channels as f_t);
    maps of different spatial size are average-pooled to the smaller one.
    """
    f_s, f_t = _match_spatial(f_s, f_t)
    return F.mse_loss(f_s, f_t)


def attention_map(f: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """Spatial attention a = mean_channels |f|^p, flattened and L2-normalised: (B, H*W)."""
    a = f.abs().pow(p).mean(dim=1).flatten(1)
    return F.normalize(a, dim=1)


def attention_loss(f_s: torch.Tensor, f_t: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """Attention transfer (Zagoruyko & Komodakis, ICLR 2017).

    ``(1/B) sum_b |a_s,b - a_t,b|_2^2`` with a from :func:`attention_map`; the value lies in
    [0, 4].  Channel counts may differ; spatial sizes are pooled to the smaller one.
    (The reference code averages over positions too, i.e. divides by H*W.)
    """
    f_s, f_t = _match_spatial(f_s, f_t)
    return (attention_map(f_s, p) - attention_map(f_t, p)).pow(2).sum(dim=1).mean()


FEATURE_LOSSES: Registry = Registry("feature loss")
FEATURE_LOSSES.register("hint", hint_loss)
FEATURE_LOSSES.register("attention", attention_loss)
