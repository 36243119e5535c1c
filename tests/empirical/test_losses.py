"""Distillation losses: hand-computed values, limits and gradients."""

import math

import pytest
import torch

from kdscope.empirical.losses import (
    FEATURE_LOSSES,
    SOFT_LOSSES,
    HintRegressor,
    attention_loss,
    cross_entropy,
    hint_loss,
    kd_kl,
    kd_kl_limit,
    logit_mse,
    mix,
)


def t(*rows):
    return torch.tensor(rows, dtype=torch.float64)


def test_cross_entropy_hand_value():
    assert float(cross_entropy(t([0.0, 0.0]), torch.tensor([0]))) == pytest.approx(math.log(2))
    # z = (log 3, 0), label 1: -log(1/4)
    assert float(cross_entropy(t([math.log(3), 0.0]), torch.tensor([1]))) == pytest.approx(math.log(4))


def test_kl_hand_value_tau1():
    # p_t = (3/4, 1/4), q_s = (1/2, 1/2)
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert float(kd_kl(t([0.0, 0.0]), t([math.log(3), 0.0]), 1.0)) == pytest.approx(expected, rel=1e-12)


def test_kl_hand_value_tau2_has_tau_squared_factor():
    # at tau = 2: p_t = softmax(log(3)/2, 0) = (sqrt3, 1)/(sqrt3 + 1), q_s uniform
    r = math.sqrt(3.0)
    p = (r / (r + 1), 1 / (r + 1))
    expected = 4.0 * sum(pi * math.log(pi / 0.5) for pi in p)
    assert float(kd_kl(t([0.0, 0.0]), t([math.log(3), 0.0]), 2.0)) == pytest.approx(expected, rel=1e-12)


def test_kl_is_zero_on_equal_logits_and_shift_invariant():
    z = t([0.3, -1.2, 2.0], [1.0, 0.0, -1.0])
    assert float(kd_kl(z, z, 3.0)) == pytest.approx(0.0, abs=1e-14)
    zt = t([0.1, 0.5, -0.4], [2.0, 1.0, 0.0])
    assert float(kd_kl(z + 5.0, zt - 2.0, 3.0)) == pytest.approx(float(kd_kl(z, zt, 3.0)), rel=1e-12)


def test_centred_limit_hand_value():
    # centred difference (-1, 0, 1): |.|^2 = 2, times 1/(2C) = 1/6 -> 1/3
    assert float(kd_kl_limit(t([1.0, 2.0, 3.0]), t([0.0, 0.0, 0.0]))) == pytest.approx(1 / 3)
    assert float(kd_kl_limit(t([1.0, 2.0, 3.0]) + 7.0, t([0.0, 0.0, 0.0]))) == pytest.approx(1 / 3)


def test_binary_limit_is_delta_squared_over_8():
    # DESIGN.md: for C = 2 and z = z1 - z0 the limit is (z - z_prev)^2 / 8
    zs, zt = t([0.0, 1.7]), t([0.0, -0.4])
    assert float(kd_kl_limit(zs, zt)) == pytest.approx((1.7 + 0.4) ** 2 / 8)


def test_logit_mse_reduction_is_mean_over_batch_and_classes():
    assert float(logit_mse(t([1.0, 2.0, 3.0]), t([0.0, 0.0, 0.0]))) == pytest.approx(14 / 3)
    assert float(logit_mse(t([1.0, 1.0], [3.0, 3.0]), t([0.0, 0.0], [0.0, 0.0]))) == pytest.approx(5.0)


def test_kl_at_infinite_tau_is_the_limit():
    zs, zt = t([0.2, 1.0, -0.5]), t([1.0, 0.0, 0.3])
    assert float(kd_kl(zs, zt, math.inf)) == float(kd_kl_limit(zs, zt))


@pytest.mark.parametrize("tau", [1e2, 1e3])
def test_large_tau_value_and_gradient_match_centred_mse(rng, tau):
    zs0 = torch.from_numpy(rng.normal(size=(5, 10)) * 2.0)
    zt = torch.from_numpy(rng.normal(size=(5, 10)) * 2.0)
    zs = zs0.clone().requires_grad_(True)
    kd_kl(zs, zt, tau).backward()
    g_kl = zs.grad.clone()
    zs = zs0.clone().requires_grad_(True)
    kd_kl_limit(zs, zt).backward()
    g_lim = zs.grad.clone()
    # corrections are O(|z| / tau) relative
    tol = 50.0 / tau
    assert torch.allclose(g_kl, g_lim, rtol=tol, atol=tol * float(g_lim.abs().max()))
    assert float(kd_kl(zs0, zt, tau)) == pytest.approx(float(kd_kl_limit(zs0, zt)), rel=tol)
    # and far from the small-tau gradient: the check is not vacuous
    zs = zs0.clone().requires_grad_(True)
    kd_kl(zs, zt, 1.0).backward()
    assert not torch.allclose(zs.grad, g_lim, rtol=0.1)


def test_mix_endpoints_and_scale():
    hard, soft = torch.tensor(2.0), torch.tensor(5.0)
    assert float(mix(hard, soft, 0.0)) == 2.0
    assert float(mix(hard, soft, 1.0)) == 5.0
    assert float(mix(hard, soft, 0.25)) == pytest.approx(0.75 * 2 + 0.25 * 5)


def test_hint_loss_hand_value_and_pooling():
    assert float(hint_loss(torch.ones(1, 2, 2, 2), torch.zeros(1, 2, 2, 2))) == pytest.approx(1.0)
    # a 4x4 map of ones is pooled to 2x2 before comparison
    assert float(hint_loss(torch.ones(1, 2, 4, 4), torch.ones(1, 2, 2, 2))) == pytest.approx(0.0)
    reg = HintRegressor(3, 5)
    assert reg(torch.zeros(2, 3, 4, 4)).shape == (2, 5, 4, 4)


def test_attention_loss_hand_value():
    f_s = torch.zeros(1, 1, 2, 2)
    f_s[0, 0, 0, 0] = 3.0  # normalised map (1, 0, 0, 0)
    f_t = torch.ones(1, 4, 2, 2)  # normalised map (1/2, 1/2, 1/2, 1/2)
    assert float(attention_loss(f_s, f_t)) == pytest.approx(0.25 + 3 * 0.25)
    assert float(attention_loss(f_t * 2.0, f_t)) == pytest.approx(0.0, abs=1e-7)


def test_registries_hold_the_losses():
    assert set(SOFT_LOSSES.names()) == {"kl", "mse"}
    assert set(FEATURE_LOSSES.names()) == {"hint", "attention"}
