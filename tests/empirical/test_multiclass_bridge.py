"""The 3-class bridge: the mixture fit recovers a known G, probes on mixture data agree with the theory,
real data (digits) runs end to end, configs and the CLI refuse bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from kdscope.cli import app
from kdscope.empirical.bridge.multiclass import (MulticlassBridgeConfig, fit_multiclass_mixture,
                                                 multiclass_goodness_of_fit, parse_multiclass_bridge,
                                                 run_multiclass_bridge, split_classes)
from kdscope.empirical.data import RawDataset
from kdscope.theory.multiclass import helmert_basis, hierarchical_gram

runner = CliRunner()
G_TRUE = 2.0 * hierarchical_gram(3, 0.7)


def _mixture_dataset(n_pool: int, n_test: int, D: int, seed: int) -> RawDataset:
    """Three Gaussian classes with means of Gram G_TRUE (noise units) seen through a random linear map.

    x = A (a_y + z), z ~ N(0, I_D), a_c . a_c' = G_TRUE: after whitening the model holds exactly (delta = 1).
    """
    rng = np.random.default_rng(seed)
    O, _ = np.linalg.qr(rng.normal(size=(D, 3)))
    ev, evec = np.linalg.eigh(G_TRUE)
    a = (evec * np.sqrt(ev)) @ evec.T @ O.T  # rows a_c with a a^T = G_TRUE
    A = rng.normal(size=(D, D)) / math.sqrt(D) + np.eye(D)

    def draw(n):
        y = rng.integers(0, 3, size=n)
        return (a[y] + rng.normal(size=(n, D))) @ A.T, y

    xp, yp = draw(n_pool)
    xt, yt = draw(n_test)
    return RawDataset("synthetic", xp, yp, xt, yt, 3)


def _centred(G):
    U = helmert_basis(3)
    return U.T @ G @ U


def test_fit_recovers_the_gram_matrix_up_to_its_sampling_error():
    raw = _mixture_dataset(12000, 10, D=20, seed=1)
    data = split_classes(raw, (0, 1, 2), fit_fraction=0.5, seed=0)
    fit = fit_multiclass_mixture(data.X_fit, data.y_fit, d=20)
    # only differences of the means matter: compare the parts orthogonal to 1
    err = np.abs(_centred(fit.G) - _centred(G_TRUE)).max()
    # sampling error of a whitened mean difference: sqrt(G / n_c) per entry with n_c ~ 2000, a few of them
    assert err < 6 * math.sqrt(np.abs(G_TRUE).max() / 2000.0)
    assert np.allclose(fit.pi, [1 / 3] * 3, atol=0.03)
    gof = multiclass_goodness_of_fit(fit, fit.transform(data.X_pool), data.y_pool)
    assert abs(gof["gof_noise_ratio"] - 1.0) < 0.05
    assert abs(gof["gof_kurtosis"]) < 4 * gof["gof_kurtosis_se"]
    assert gof["gof_cov_asym"] < 2 * gof["gof_cov_asym_gauss"]
    assert abs(gof["eps_oracle_measured"] - gof["eps_oracle"]) < 0.03


def test_bias_corrections_remove_the_small_sample_bias():
    """Over 40 small fits (n_c ~ 100, d = 20) the corrected G is unbiased within 3 standard errors of the
    mean, while the raw estimate is biased (by d / n_c on the diagonal and the Wishart factor)."""
    fits = []
    for seed in range(40):
        raw = _mixture_dataset(600, 3, D=20, seed=100 + seed)
        data = split_classes(raw, (0, 1, 2), fit_fraction=0.5, seed=seed)
        fits.append(fit_multiclass_mixture(data.X_fit, data.y_fit, d=20))
    for attr, unbiased in (("G", True), ("G_raw", False)):
        errs = np.array([_centred(getattr(f, attr)) - _centred(G_TRUE) for f in fits])
        mean, se = errs.mean(axis=0), errs.std(axis=0, ddof=1) / math.sqrt(len(fits))
        if unbiased:
            assert (np.abs(mean) <= 3 * se).all(), (mean, se)
        else:
            assert (np.abs(mean) > 3 * se).any(), (mean, se)


def test_probes_on_mixture_data_agree_with_the_theory():
    """On data that follow the model the measured errors match the theory within their standard errors
    (3 se, plus the finite-d allowance 1/d of the error scale)."""
    raw = _mixture_dataset(6000, 3000, D=40, seed=2)
    cfg = MulticlassBridgeConfig(dataset="synthetic", classes=(0, 1, 2), d=40, alphas=(2.0, 4.0), seeds=6,
                                 lam_t=0.1, lam_s=0.01, xi=0.5, tau=2.0)
    res = run_multiclass_bridge(cfg, raw=raw)
    comp = res["comparison"]
    assert comp["theory_converged"].all() and comp["probes_converged"].all()
    for col in ("eps_t", "eps_s"):
        tol = 3 * comp[f"{col}_se"] + 1.0 / cfg.d
        assert (np.abs(comp[col] - comp[f"{col}_theory"]) <= tol).all(), comp[[col, f"{col}_theory"]]
    assert (np.abs(comp["agreement"] - comp["agreement_theory"]) <= 3 * comp["agreement_se"] + 1.0 / cfg.d).all()


def test_digits_end_to_end():
    cfg = MulticlassBridgeConfig(dataset="digits", classes=(3, 5, 8), d=10, alphas=(3.0,), seeds=3)
    res = run_multiclass_bridge(cfg)
    comp = res["comparison"]
    for col in ("eps_t", "eps_t_se", "eps_t_theory", "z_eps_t", "eps_s", "eps_s_theory", "z_eps_s", "agreement",
                "agreement_theory", "eps_gauss_t", "theory_status"):
        assert col in comp.columns, col
    assert len(comp) == 1 and comp["theory_converged"].all() and comp["probes_converged"].all()
    assert np.isfinite(comp[["z_eps_t", "z_eps_s", "z_agreement"]].to_numpy()).all()
    G = np.array(res["mixture"]["G"])
    assert G.shape == (3, 3) and np.linalg.eigvalsh(G).min() >= -1e-10
    assert {"gof_noise_ratio", "gof_eig_cv", "gof_cov_asym", "gof_kurtosis", "eps_oracle_measured"} <= set(res["gof"])
    assert len(res["per_seed"]) == 3 and set(res["summary"]) >= {"max_abs_z_eps_t", "max_abs_z_eps_s"}


def test_config_parsing_and_validation():
    cfg = parse_multiclass_bridge({"name": "x", "classes": [0, 6, 7], "d": 40, "seeds": 5,
                                   "quick": {"d": 20, "seeds": 3}}, quick=True)
    assert cfg.classes == (0, 6, 7) and cfg.d == 20 and cfg.seeds == 3
    assert parse_multiclass_bridge({"d": 40, "quick": {"d": 20}}).d == 40
    with pytest.raises(ValueError, match="unknown field"):
        parse_multiclass_bridge({"dd": 3})
    with pytest.raises(ValueError, match="'classes'"):
        MulticlassBridgeConfig(classes=(1, 1, 2))
    with pytest.raises(ValueError, match="'seeds'"):
        MulticlassBridgeConfig(seeds=1)


def test_experiment_file_loads():
    from pathlib import Path

    from kdscope.empirical.bridge.multiclass import load_multiclass_bridge

    path = Path(__file__).resolve().parents[2] / "experiments" / "multiclass_bridge.yaml"
    cfg = load_multiclass_bridge(path)
    assert cfg.dataset == "fashion_mnist" and cfg.classes == (0, 6, 7)
    assert load_multiclass_bridge(path, quick=True).seeds < cfg.seeds


def test_cli_bridge_digits_json_and_bad_input(tmp_path):
    cfg = tmp_path / "mc.yaml"
    cfg.write_text("dataset: digits\nclasses: [3, 5, 8]\nd: 10\nalphas: [4.0]\nseeds: 2\n")
    res = runner.invoke(app, ["multiclass", "bridge", "--config", str(cfg), "--out", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["config"]["classes"] == [3, 5, 8] and len(out["comparison"]) == 1
    assert out["comparison"][0]["theory_converged"] is True
    for ext in ("parquet", "json", "pdf", "png"):
        assert (tmp_path / f"multiclass_bridge.{ext}").stat().st_size > 0, ext
    bad = runner.invoke(app, ["multiclass", "bridge", "--dataset", "digits", "--classes", "3,x", "--out",
                              str(tmp_path / "b")])
    assert bad.exit_code == 2 and "classes" in bad.output
    unknown = runner.invoke(app, ["multiclass", "bridge", "--config", str(cfg), "--classes", "3,5,42",
                                  "--out", str(tmp_path / "c")])
    assert unknown.exit_code == 2 and "42" in unknown.output
