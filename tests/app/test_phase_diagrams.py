"""Phase diagrams: grids, thresholds, drawing from a hand-made table, and the CLI end to end."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from kdscope.phase import PHASE_BASE, GAINS, draw_phase, phase_diagrams, phase_spec, phase_thresholds
from kdscope.theory import separability_threshold


def test_six_diagrams_with_paper_defaults():
    ds = phase_diagrams(quick=True)
    assert [d.y for d in ds] == ["lam_t", "xi", "tau", "theta", "xi", "alpha"]
    assert [d.name for d in ds][4:] == ["bayes", "fresh"]
    for d in ds:
        spec = phase_spec(d, backend="numpy")
        assert [a for a, _ in spec.axes] == [d.y, d.x]              # continuation along the x axis
        assert spec.derived == ("gain",)
        s = spec.settings()[0]
        for k, v in PHASE_BASE.items():
            if k not in (d.y, d.x):
                assert getattr(s, k) == d.base.get(k, v), k
        assert len(spec.settings()) == 12 * 10
    assert ds[4].setting_base["teacher"] == "bayes"
    assert ds[5].x == "alpha_s" and ds[5].setting_base["eta"] == 1.0
    assert min(ds[0].y_values) == pytest.approx(1e-3) and max(ds[1].y_values) == 1.0


def test_thresholds():
    th = list(phase_thresholds().values())
    assert th[0] == pytest.approx(separability_threshold(1.0, 0.2))
    assert th[1] == pytest.approx(0.5 * separability_threshold(2.0, 0.2))
    assert th[2] == 0.5 and th[0] > th[1] > th[2]


def test_draw_phase_from_a_table():
    d = phase_diagrams(n_alpha=4, n_y=3)[1]
    rows = [dict(kind="theory", alpha=a, xi=x, converged=True, gain_vs_best_ridge=(a - 2.0) * 0.01,
                 gain_vs_unregularised=(x - 0.6) * 0.1, gain_vs_teacher=(x - 0.4) * 0.1)
            for a in d.alphas for x in d.y_values]
    fig = draw_phase(pd.DataFrame(rows), d, {"alpha*": 3.0, "alpha = eta": 0.5})
    maps = [ax for ax in fig.axes if ax.get_xlabel()]
    assert len(maps) == 3 and len(fig.axes) == 6                     # three maps, three colour bars
    for ax in maps:
        assert len([ln for ln in ax.lines if ln.get_gid() == "threshold"]) == 2
        assert any(c.get_gid() == "contour" for c in ax.collections)  # every gain crosses zero here
        assert [t.get_text() for t in ax.texts if t.get_gid() == "contour_label"]  # the zero contour is labelled
    assert maps[0].get_yscale() == "linear" and maps[0].get_xscale() == "log"
    assert [t.get_text() for ax in maps for t in ax.texts if t.get_gid() == "panel_letter"] == ["(a)", "(b)", "(c)"]
    assert list(GAINS) == ["gain_vs_best_ridge", "gain_vs_unregularised", "gain_vs_teacher"]
    plt.close(fig)


def test_one_gain_sign_across_sweep_phase_and_recipes():
    """Every gain is eps(student) - eps(reference): the sweep's gain_direct, phase's columns, recipes' ext_phase."""
    from kdscope.phase import add_gains
    from kdscope.recipes import _gain_table

    sweep_like = pd.DataFrame([dict(kind="theory", alpha=2.0, delta=1.0, rho=0.2, eta=0.5, generations=1, xi=1.0,
                                    lam_t=0.1, lam_s=1e-3, eps_s=0.15, eps_t=0.18, eps_s_direct=0.2,
                                    gain_direct=0.15 - 0.2)])
    out = add_gains(sweep_like)
    assert out["gain_vs_best_ridge"].iloc[0] == pytest.approx(-0.05)       # KD better than the best ridge: < 0
    assert out["gain_vs_teacher"].iloc[0] == pytest.approx(-0.03)          # student better than its teacher: < 0
    assert out["gain_vs_unregularised"].iloc[0] == pytest.approx(0.15 - out["eps_s_unregularised"].iloc[0])
    rec = _gain_table(pd.DataFrame([dict(kind="theory", panel="direct", alpha=2.0, eps_s=0.2),
                                    dict(kind="theory", panel="kd", alpha=2.0, eps_s=0.15)]))
    assert rec["gain_vs_best_ridge"].iloc[0] == pytest.approx(out["gain_vs_best_ridge"].iloc[0])


def test_cli_figures_phase(tmp_path):
    import kdscope.cli.phase_cmd  # noqa: F401  (registers `figures phase`)
    from kdscope.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["figures", "phase", "--only", "xi", "--n-alpha", "3", "--n-y", "2", "--executor",
                              "serial", "--backend", "numpy", "--no-progress", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    for ext in (".parquet", ".png", ".pdf", ".json"):
        assert (tmp_path / f"phase_xi{ext}").is_file()
    df = pd.read_parquet(tmp_path / "phase_xi.parquet")
    assert len(df) == 6 and np.isfinite(df["gain_direct"]).all()
    assert np.allclose(df["gain_direct"], df["eps_s"] - df["eps_s_direct"])
    assert np.allclose(df["gain_vs_best_ridge"], df["eps_s"] - df["eps_s_direct"])
    assert np.allclose(df["gain_vs_unregularised"], df["eps_s"] - df["eps_s_unregularised"])
    assert np.allclose(df["gain_vs_teacher"], df["eps_s"] - df["eps_t"]) and np.isfinite(df["gain_vs_unregularised"]).all()
    import json

    cap = json.loads((tmp_path / "phase_xi.json").read_text())
    assert cap["setting"]["lam_t"] == 0.1 and "negative" in cap["sign"] and cap["grid"] == [3, 2]
    bad = runner.invoke(app, ["figures", "phase", "--only", "bogus", "--out", str(tmp_path), "--executor", "serial"])
    assert bad.exit_code == 2 and "bogus" in bad.output


def test_unregularised_reference_is_the_student_trained_alone():
    from kdscope import Setting
    from kdscope.phase import _unregularised_student
    from kdscope.theory import solve

    s = Setting(**{**PHASE_BASE, "alpha": 1.3, "theta": 0.1})
    direct = solve(s.replace(xi=0.0)).eps[1]
    # two independent fixed points, each converged to its own tolerance: agreement well below the 1e-3 of a figure
    assert solve(_unregularised_student(s)).eps[0] == pytest.approx(direct, rel=1e-4)
