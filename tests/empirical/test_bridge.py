"""The bridge: mixture fit recovers known parameters; on mixture data the probe agrees with the theory."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kdscope.empirical.bridge import (
    BridgeConfig,
    comparison,
    fit_mixture,
    goodness_of_fit,
    parse_bridge,
    run_bridge,
    synthetic_features,
)
from kdscope.empirical.registry import ConfigError
from kdscope.theory import solve


def _rel_sd_s2(delta: float, d: int, n_fit: int, rho: float) -> float:
    """Relative standard deviation of the fitted signal s^2 = 1/delta (Gaussian classes, to leading order).

    Two independent sources: the estimated half-difference of means v + e, e ~ N(0, sigma_e^2 I) with
    sigma_e^2 = (1/n_+ + 1/n_-)/4, gives var |v + e|^2 = 4 s^2 sigma_e^2 + 2 d sigma_e^4; the whitening
    (inverse of a Wishart estimate with N - d degrees of freedom) gives a relative variance 2 / (N - d).
    """
    s2 = 1.0 / delta
    n_plus, n_minus = rho * n_fit, (1 - rho) * n_fit
    se2 = 0.25 * (1 / n_plus + 1 / n_minus)
    return math.sqrt(2.0 / (n_fit - d) + (4 * s2 * se2 + 2 * d * se2 ** 2) / s2 ** 2)


@pytest.mark.parametrize("whiten", [True, False])
def test_fit_recovers_mixture_parameters(seed, whiten):
    d, delta, rho, n_fit = 40, 0.8, 0.3, 8000
    data, mu = synthetic_features(d, delta, rho, n_fit=n_fit, n_pool=10, n_test=10, seed=seed)
    fit = fit_mixture(data.X_fit, data.y_fit, d, whiten=whiten, rotate=True, seed=seed)
    rel = _rel_sd_s2(delta, d, n_fit, rho)
    assert abs(fit.delta / delta - 1.0) <= 4 * rel
    assert abs(fit.rho - rho) <= 4 * math.sqrt(rho * (1 - rho) / n_fit)
    # the true mean in model units: its norm is 1 (|mu|^2/d = 1) and its direction is fit.mu
    true_mean = (mu / math.sqrt(d)) @ fit.M
    assert abs(np.linalg.norm(true_mean) - 1.0) <= 4 * rel / 2
    cos = true_mean @ fit.mu / (np.linalg.norm(true_mean) * np.linalg.norm(fit.mu))
    sigma_e2 = 0.25 * (1 / (rho * n_fit) + 1 / ((1 - rho) * n_fit))
    # sin^2 of the angle: the mean's estimation noise orthogonal to it, plus the whitening error
    assert 1.0 - cos ** 2 <= 4 * (d * sigma_e2 * delta + d / n_fit)
    assert fit.mu @ fit.mu == pytest.approx(d)


def test_rotation_spreads_the_signal_exactly(seed):
    data, _ = synthetic_features(30, 1.0, 0.5, n_fit=2000, n_pool=10, n_test=10, seed=seed)
    fit = fit_mixture(data.X_fit, data.y_fit, 30, rotate=True, seed=seed)
    for d_s in (1, 7, 15, 29):
        assert fit.support_fraction(d_s) == pytest.approx(d_s / 30, abs=1e-12)
    unrotated = fit_mixture(data.X_fit, data.y_fit, 30, rotate=False)
    assert unrotated.delta == pytest.approx(fit.delta, rel=1e-10)  # a rotation does not change the fit


def test_goodness_of_fit_on_mixture_data_matches_its_model_values(seed):
    d = 30
    data, _ = synthetic_features(d, 1.0, 0.5, n_fit=6000, n_pool=6000, n_test=10, seed=seed)
    fit = fit_mixture(data.X_fit, data.y_fit, d, seed=seed)
    gof = goodness_of_fit(fit, fit.transform(data.X_pool), data.y_pool, seed=seed)
    assert gof["gof_eig_cv"] <= 1.5 * gof["gof_eig_cv_gauss"]
    assert gof["gof_cov_asym"] <= 1.5 * gof["gof_cov_asym_gauss"]
    assert abs(gof["gof_kurtosis"]) <= 4 * gof["gof_kurtosis_se"]
    # a heavy-tailed, anisotropic sample is flagged
    rng = np.random.default_rng(seed)
    noise = rng.standard_t(3, size=(6000, d)) * np.linspace(0.3, 2.0, d)
    y = np.where(rng.random(6000) < 0.5, 1, -1)
    x = y[:, None] * fit.mu / math.sqrt(d) + noise * math.sqrt(fit.delta)
    bad = goodness_of_fit(fit, x, y, seed=seed)
    assert bad["gof_eig_cv"] > 2 * bad["gof_eig_cv_gauss"]
    assert bad["gof_kurtosis"] > 10 * bad["gof_kurtosis_se"]


def test_fit_rejects_bad_input():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 5))
    with pytest.raises(ValueError, match="labels 'y'"):
        fit_mixture(X, np.zeros(50), 3)
    with pytest.raises(ValueError, match="'d'"):
        fit_mixture(X, np.where(rng.random(50) < 0.5, 1, -1), 9)
    with pytest.raises(ValueError, match="no detectable class signal"):
        # both classes hold the same points: equal means, no signal
        fit_mixture(np.concatenate([X, X]), np.repeat([1, -1], 50), 5)


def test_probe_on_mixture_data_agrees_with_theory(seed):
    """|eps_measured - eps_theory| <= 3 SE + the theory's change when delta moves by 3 sd of its fit.

    SE: seed scatter and the finite test set (``probe.aggregate``); the theory is evaluated at the
    fitted delta, whose own error (``_rel_sd_s2``) is propagated through the theory itself.
    Finite-d corrections at d = 100 are below the SE (checked with 30 seeds at alpha 1.5 - 6).
    """
    d, delta, rho, n_fit = 100, 0.7, 0.5, 20000
    data, _ = synthetic_features(d, delta, rho, n_fit=n_fit, n_pool=3000, n_test=8000, seed=seed)
    cfg = BridgeConfig(d=d, alphas=(1.5, 4.0), seeds=12, n_theory=2, eta=0.5, lam_t=0.1, lam_s=0.0, xi=1.0)
    res = run_bridge(cfg, data)
    comp = comparison(res.table)
    rel = _rel_sd_s2(res.mixture.delta, d, n_fit, res.mixture.rho)
    for _, r in comp.iterrows():
        s = cfg.base_setting(delta=res.mixture.delta, rho=res.mixture.rho).replace(alpha=float(r["alpha"]))
        lo = solve(s.replace(delta=s.delta * (1 - 3 * rel))).eps
        hi = solve(s.replace(delta=s.delta * (1 + 3 * rel))).eps
        for k, learner in enumerate(("t", "s")):
            spread = max(abs(hi[k] - r[f"eps_{learner}_theory"]), abs(lo[k] - r[f"eps_{learner}_theory"]))
            tol = 3 * r[f"eps_{learner}_se"] + spread
            assert abs(r[f"eps_{learner}"] - r[f"eps_{learner}_theory"]) <= tol, (learner, r.to_dict())
    measured = res.table[res.table["kind"] == "measured"]
    assert measured["converged"].all()
    assert (measured["support_fraction"] - 0.5).abs().max() < 1e-12


def test_probe_detects_a_wrong_model():
    """The agreement test can fail: mislabelled data (labels independent of x) is far from the theory."""
    d = 60
    data, _ = synthetic_features(d, 0.5, 0.5, n_fit=6000, n_pool=2000, n_test=4000, seed=3)
    cfg = BridgeConfig(d=d, alphas=(3.0,), seeds=4, n_theory=2)
    res = run_bridge(cfg, data.__class__(**{**data.__dict__, "y_test": -data.y_test}))
    comp = comparison(res.table)
    assert (comp["eps_t"] - comp["eps_t_theory"]).abs().min() > 10 * comp["eps_t_se"].max()


def test_config_validation_names_the_field():
    with pytest.raises(ConfigError, match="'d'"):
        BridgeConfig(d=1)
    with pytest.raises(ConfigError, match="'classes'"):
        BridgeConfig(classes=(3, 3))
    with pytest.raises(ConfigError, match="'eta'"):
        BridgeConfig(eta=1.5)
    with pytest.raises(ConfigError, match="unknown key"):
        parse_bridge({"dimension": 3})
    cfg = parse_bridge({"d": 20, "quick": {"d": 8}}, quick=True)
    assert cfg.d == 8


def test_experiment_files_parse():
    from pathlib import Path

    from kdscope.empirical.bridge import load_bridge

    root = Path(__file__).resolve().parents[2] / "experiments"
    for name in ("bridge.yaml", "bridge_cnn.yaml"):
        full, quick = load_bridge(root / name), load_bridge(root / name, quick=True)
        assert quick.d <= full.d and quick.seeds <= full.seeds
