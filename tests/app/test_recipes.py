"""Figure recipes: the reference paper's settings (with DESIGN.md's corrections) and their drawing code."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import kdscope.curves  # noqa: E402
from kdscope import Setting  # noqa: E402
from kdscope.recipes import LAM0, CurveSpec, Recipe, make_figure, paper_recipes, run_recipe  # noqa: E402
from kdscope.store import ResultStore  # noqa: E402

RECIPES = {r.name: r for r in paper_recipes(quick=True)}


def test_all_paper_figures_present():
    assert {f"fig{i:02d}" for i in range(1, 13)} <= set(RECIPES)
    assert {"ext_soft", "ext_tau", "ext_phase"} <= set(RECIPES)
    full = {r.name: r for r in paper_recipes(quick=False)}
    assert all(len(full[n].curves[0].values) > len(RECIPES[n].curves[0].values) for n in ("fig01", "fig02", "fig05"))


def test_paper_defaults_and_corrections():
    for name in ("fig02", "fig04", "fig05", "fig07", "fig08"):
        for spec in RECIPES[name].curves:
            s = spec.base
            assert (s.delta, s.rho, s.eta, s.loss_t, s.loss_s) == (1.0, 0.2, 0.5, "logistic", "logistic")
    bottom = [c for c in RECIPES["fig03"].curves if c.panel == "xi"]
    assert sorted(c.base.lam_s for c in bottom) == [0.1, 0.2, 0.5]
    for spec in bottom + list(RECIPES["fig08"].curves):
        assert (spec.base.lam_t, spec.base.tau, spec.base.tau2_factor) == (0.15, 2.0, False)
    assert {c.base.xi for c in RECIPES["fig08"].curves} >= {0.2, 0.6, 0.8, 1.0}
    assert all(c.base.lam_s == 0.1 for c in RECIPES["fig08"].curves)
    assert {(c.base.lam_t, c.base.lam_s) for c in RECIPES["fig05"].curves} == {(1e-5, 1e-5), (0.1, 1e-5)}
    assert RECIPES["fig01"].curves[0].optimal == "t" and RECIPES["fig01"].curves[0].base.generations == 0
    assert RECIPES["fig04"].curves[0].base.teacher == "bayes"
    assert RECIPES["fig02"].curves[0].base.lam_s == LAM0 and RECIPES["fig02"].curves[0].base.xi == 1.0
    assert {c.base.tau for c in RECIPES["fig10"].curves} == {1.0, 2.0, 5.0, 10.0}
    assert all(c.base.rho == 0.5 for c in RECIPES["fig12"].curves)


def _fake_curve(setting, field, values, **_kwargs):
    """Synthetic theory rows (no solving) with every column the recipes draw."""
    rows = []
    for v in values:
        rec = dict(setting.replace(**{field: v}).to_dict())
        a = rec["alpha"]
        rec.update(kind="theory", converged=True, status="converged", eps_t=0.1 + 0.2 / a, eps_s=0.12 + 0.2 / a,
                   eps_bayes=0.1 + 0.1 / a, eps_bayes_s=0.11 + 0.1 / a, eps_oracle=0.1, q_s=1.0 + a,
                   loss_train_s=0.1 * a, mse_train_ts=0.5 + a, sweep=field)
        rows.append(rec)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_draws_from_its_table(name, monkeypatch):
    import kdscope.recipes

    monkeypatch.setattr(kdscope.curves, "compute_curve", _fake_curve)
    monkeypatch.setattr(kdscope.recipes, "optimum_point", lambda s, f, y, lo, hi: float(np.sqrt(lo * hi)) if lo > 0
                        else 0.5 * (lo + hi))
    recipe = RECIPES[name]
    df = run_recipe(recipe)
    assert recipe.x in df.columns and len(df)
    fig = recipe.draw(df)
    lines = [ln for ax in fig.axes for ln in ax.lines if ln.get_gid() == "theory"]
    if name != "ext_phase":
        assert len(lines) >= len({c.label for c in recipe.curves}) - 1
    else:
        assert "gain_vs_best_ridge" in df.columns and len(fig.axes) == 2
    plt.close(fig)


def test_masked_columns_are_blank(monkeypatch):
    monkeypatch.setattr(kdscope.curves, "compute_curve", _fake_curve)
    df = run_recipe(RECIPES["fig02"])
    assert df[df["curve"] == "unregularised student"]["eps_t"].isna().all()
    assert df[df["curve"] == "lam_T=0.1"]["eps_t"].notna().all()


def test_make_figure_real_tiny_recipe_resumes(tmp_path, monkeypatch):
    recipe = Recipe("tiny", "tiny", (CurveSpec("lam=0.1", Setting(lam_t=0.1, rho=0.3), "alpha", (1.0, 2.0, 3.0)),),
                    RECIPES["fig06"].draw)
    store = ResultStore(tmp_path / "store")
    df, paths = make_figure(recipe, store, tmp_path, formats=("png",))
    assert [p.name for p in paths] == ["tiny.parquet", "tiny.png", "tiny.json"]
    assert all(p.stat().st_size > 0 for p in paths)
    import json

    cap = json.loads(paths[-1].read_text())
    assert cap["figure"] == "tiny" and cap["curves"][0]["setting"]["lam_t"] == 0.1
    assert cap["curves"][0]["points"] == len(df) and "negative" in cap["gain_convention"]
    assert df["converged"].all() and np.all(np.diff(df["eps_t"]) < 0)
    import kdscope.theory

    monkeypatch.setattr(kdscope.theory, "solve", lambda *a, **k: (_ for _ in ()).throw(AssertionError("recomputed")))
    df2, _ = make_figure(recipe, store, tmp_path, formats=("png",))
    assert list(df2["eps_t"]) == list(df["eps_t"])


def test_recipes_insert_thresholds_into_their_grids(monkeypatch):
    monkeypatch.setattr(kdscope.curves, "compute_curve", _fake_curve)
    from kdscope.theory import separability_threshold

    df = run_recipe(RECIPES["fig05"])
    seps = {"student": separability_threshold(1.0, 0.2, 0.5), "teacher": separability_threshold(1.0, 0.2)}
    unreg = df[df["lam_t"] == 1e-5]
    ridge = df[df["lam_t"] == 0.1]
    for a in (0.5, seps["student"], seps["teacher"]):  # unregularised teacher: saturated targets
        assert np.isclose(unreg["alpha"], a).any(), a
    assert np.isclose(ridge["alpha"], 0.5).any() and not np.isclose(ridge["alpha"], seps["student"]).any()
    assert set(unreg.loc[np.isclose(unreg["alpha"], 0.5), "point_role"]) == {"threshold"}
    # every curve over alpha with a small student ridge carries its interpolation threshold
    for name in ("fig10", "ext_soft"):
        d = run_recipe(RECIPES[name])
        for _, g in d.groupby("curve"):
            assert np.isclose(g["alpha"], 0.5).any(), name


def test_optimum_from_the_optimiser_is_in_the_grid(monkeypatch):
    monkeypatch.setattr(kdscope.curves, "compute_curve", _fake_curve)
    import kdscope.recipes as recipes

    calls = []

    def fake_opt(setting, field, y, lo, hi):
        calls.append((field, y))
        return 0.123456
    monkeypatch.setattr(recipes, "optimum_point", fake_opt)
    df = run_recipe(RECIPES["ext_tau"])
    assert calls == [("tau", "eps_s")] * 2
    opt = df[df["is_optimum"]]
    assert len(opt) == 2 and np.allclose(opt["tau"], 0.123456) and set(opt["point_role"]) == {"optimum"}
    assert set(opt["optimum_of"]) == {"eps_s"}


def test_optimum_is_stored(monkeypatch, tmp_path):
    monkeypatch.setattr(kdscope.curves, "compute_curve", _fake_curve)
    import kdscope.recipes as recipes

    calls = []
    monkeypatch.setattr(recipes, "optimum_point", lambda *a: calls.append(a) or 0.5)
    store = ResultStore(tmp_path / "store")
    first = run_recipe(RECIPES["ext_tau"], store)
    again = run_recipe(RECIPES["ext_tau"], store)
    assert len(calls) == 2 and list(again["tau"]) == list(first["tau"])


@pytest.mark.parametrize("insert", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_quick_grid_resolves_the_interpolation_peak_within_2_percent(insert):
    """A peaked curve (double descent at alpha = eta) on a quick grid: its drawn maximum within 2% of eta.

    With insert=False the threshold is not given: the refinement alone must find the peak.
    """
    from kdscope.grids import QUICK
    from kdscope.recipes import curve_table

    base = Setting(delta=1.0, rho=0.2, eta=0.5, generations=1, xi=1.0, lam_t=0.1, lam_s=1e-5)
    spec = CurveSpec("peak", base, "alpha", (0.1, 0.4, 0.7, 1.0, 1.3), thresholds=insert, refine=("eps_s",))
    df = curve_table(spec, grid=QUICK)
    assert df["converged"].all() and len(df) <= QUICK.max_points
    peak = float(df.loc[df["eps_s"].idxmax(), "alpha"])
    assert abs(peak - 0.5) <= 0.02 * 0.5, peak
    assert (df["point_role"] == "threshold").any() == insert


@pytest.mark.slow
def test_fig05_quick_grid_draws_the_separability_peak_where_the_theory_has_it():
    """Fig. 5, unregularised teacher (lam_T = lam_S = 1e-5) on the quick grid.

    The theory's maximum of eps_s (a bounded 1-D search) lies just below the student's separability
    threshold alpha* = 1.80 (the finite ridge rounds the divergence off; 3% below at lam = 1e-5), and
    the drawn maximum is within 2% of alpha* of that maximum.
    """
    from kdscope.grids import QUICK
    from kdscope.recipes import _figure_options, curve_table
    from kdscope.theory import separability_threshold, solve

    spec = RECIPES["fig05"].curves[0]
    assert spec.base.lam_t == spec.base.lam_s == 1e-5
    thr = separability_threshold(1.0, 0.2, 0.5)
    df = curve_table(spec, grid=QUICK)
    ok = df[df["converged"].astype(bool)]
    drawn = float(ok.loc[ok["eps_s"].idxmax(), "alpha"])
    from scipy.optimize import minimize_scalar

    def minus_eps(a):
        sp = solve(spec.base.replace(alpha=float(a)), options=_figure_options(), on_failure="record")
        return -float(sp.eps[1]) if sp.converged else 0.0

    best = minimize_scalar(minus_eps, bounds=(0.9 * thr, thr), method="bounded", options={"xatol": 0.005})
    assert 0.95 * thr < best.x < thr, best.x
    assert abs(drawn - best.x) <= 0.02 * thr, (drawn, best.x)


def test_gain_sign_negative_where_distillation_helps(monkeypatch):
    """ext_phase: gain_vs_best_ridge = eps_KD - eps_best (the convention of kdscope.phase and kdscope.sweep)."""
    from kdscope.recipes import GAIN_VS_BEST_RIDGE, _gain_table

    rows = [dict(kind="theory", panel="direct", alpha=2.0, eps_s=0.20, curve="best direct"),
            dict(kind="theory", panel="kd", alpha=2.0, eps_s=0.15, curve="lam_T=0.1"),
            dict(kind="theory", panel="kd", alpha=2.0, eps_s=0.25, curve="lam_T=1")]
    out = _gain_table(pd.DataFrame(rows))
    assert list(out[GAIN_VS_BEST_RIDGE]) == pytest.approx([-0.05, 0.05])


def test_phase_recipe_keeps_one_grid_for_every_curve(monkeypatch):
    """ext_phase pivots its curves into a map: no refinement, the same alphas for every lam_T."""
    monkeypatch.setattr(kdscope.curves, "compute_curve", _fake_curve)
    recipe = RECIPES["ext_phase"]
    assert recipe.grid.max_rounds == 0 and RECIPES["fig02"].grid.max_rounds > 0
    df = run_recipe(recipe)
    grids = {tuple(sorted(g["alpha"])) for _, g in df.groupby("curve")}
    assert grids == {tuple(sorted(recipe.curves[0].values))}
