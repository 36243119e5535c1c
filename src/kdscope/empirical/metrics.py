"""Evaluation metrics on logits: accuracy, teacher-student agreement, calibration error.

All functions take logits ``z`` (N, C) and integer labels (N,) as tensors and return
Python floats; :func:`predict_logits` computes logits in eval mode, in batches.
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Logits of ``model`` on ``x`` in eval mode (the model's mode is restored afterwards)."""
    was_training = model.training
    model.eval()
    try:
        if len(x) == 0:
            return torch.empty(0, 0)
        return torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
    finally:
        model.train(was_training)


def accuracy(z: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of samples whose arg-max logit equals the label; NaN for an empty set."""
    if len(y) == 0:
        return float("nan")
    return float((z.argmax(dim=1) == y).float().mean())


def agreement(z_a: torch.Tensor, z_b: torch.Tensor) -> float:
    """Top-1 agreement: fraction of samples where two models predict the same class."""
    if len(z_a) == 0:
        return float("nan")
    return float((z_a.argmax(dim=1) == z_b.argmax(dim=1)).float().mean())


def expected_calibration_error(z: torch.Tensor, y: torch.Tensor, n_bins: int = 15) -> float:
    """ECE with ``n_bins`` equal-width confidence bins (Guo et al., ICML 2017).

    ECE = sum_m (|B_m| / N) * |acc(B_m) - conf(B_m)|, where conf is the maximum softmax
    probability, acc the accuracy of the arg-max, and bin m holds conf in ((m-1)/M, m/M].
    Lies in [0, 1]; 0 for a perfectly calibrated model.
    """
    if len(y) == 0:
        return float("nan")
    prob = torch.softmax(z.double(), dim=1)
    conf, pred = prob.max(dim=1)
    correct = (pred == y).double()
    bins = torch.clamp(torch.ceil(conf * n_bins).long() - 1, 0, n_bins - 1)
    ece = torch.zeros((), dtype=torch.float64)
    for m in range(n_bins):
        mask = bins == m
        if mask.any():
            ece += mask.double().mean() * (correct[mask].mean() - conf[mask].mean()).abs()
    return float(ece)
