"""Aggregators: fixed sums, uncertainty weights -> 1/L, GradNorm balancing, registry."""

import pytest
import torch

from kdscope.empirical.aggregators import AGGREGATORS, build_aggregator
from kdscope.empirical.registry import ConfigError, Registry


def test_fixed_is_the_weighted_sum():
    agg = build_aggregator("fixed", ["ce", "kd"], [0.25, 0.75], ["ce", "kd"])
    total = agg.combine({"ce": torch.tensor(2.0), "kd": torch.tensor(4.0)}, [])
    assert float(total) == pytest.approx(0.25 * 2 + 0.75 * 4)
    assert agg.weights() == {"ce": 0.25, "kd": 0.75}


def _toy(agg, offsets, steps=3000):
    """Losses L_i = a_i + |theta_i - 1|^2: at the optimum L_i = a_i."""
    theta = torch.zeros(len(offsets), requires_grad=True)
    opt = torch.optim.Adam([theta, *agg.parameters()], lr=0.02)
    for _ in range(steps):
        losses = {f"p{i}": a + (theta[i] - 1.0) ** 2 for i, a in enumerate(offsets)}
        total = agg.combine(losses, [])
        opt.zero_grad()
        total.backward()
        opt.step()
    return agg.weights()


def test_uncertainty_weights_move_to_inverse_losses():
    offsets = [0.5, 2.0, 0.1]
    agg = build_aggregator("uncertainty", ["p0", "p1", "p2"], [1.0, 1.0, 1.0], ["a", "b", "c"], per_layer=True)
    w = _toy(agg, offsets)
    for i, a in enumerate(offsets):
        assert w[f"p{i}"] == pytest.approx(1.0 / a, rel=0.02)


def test_uncertainty_per_kind_shares_one_weight_per_group():
    agg = build_aggregator("uncertainty", ["p0", "p1"], [1.0, 1.0], ["hint", "hint"], per_layer=False)
    assert len(list(agg.parameters())[0]) == 1
    w = _toy(agg, [0.5, 1.5])
    assert w["p0"] == w["p1"] == pytest.approx(1.0 / (0.5 + 1.5), rel=0.02)


def test_uncertainty_starts_at_configured_weights():
    agg = build_aggregator("uncertainty", ["ce", "kd"], [0.1, 0.9], ["ce", "kd"])
    assert agg.weights() == pytest.approx({"ce": 0.1, "kd": 0.9})


def test_gradnorm_lowers_the_weight_of_the_steeper_path_and_keeps_the_sum():
    agg = build_aggregator("gradnorm", ["a", "b"], [0.5, 0.5], ["x", "y"], lr=0.01)
    W = torch.tensor([1.0, -2.0], requires_grad=True)
    for _ in range(5):
        agg.combine({"a": 10.0 * (W**2).sum(), "b": (W**2).sum()}, [W])
    w = agg.weights()
    assert w["a"] < 0.5 < w["b"]
    assert w["a"] + w["b"] == pytest.approx(1.0, rel=1e-6)


def test_zero_weight_path_is_refused():
    with pytest.raises(ValueError, match="> 0"):
        build_aggregator("fixed", ["ce", "kd"], [0.0, 1.0], ["ce", "kd"])


def test_registry_refuses_duplicates_and_lists_known_names():
    assert set(AGGREGATORS.names()) == {"fixed", "uncertainty", "gradnorm"}
    with pytest.raises(KeyError, match="already registered"):
        AGGREGATORS.register("fixed", object)
    with pytest.raises(ConfigError, match="'fixed', 'uncertainty', 'gradnorm'"):
        AGGREGATORS.get("uncertain")
    r = Registry("thing")
    r.register("a", 1)
    with pytest.raises(ConfigError, match=r"unknown thing 'b'; known: \{'a'\}"):
        r.get("b")
