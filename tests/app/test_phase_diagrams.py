"""Phase diagrams: grids, thresholds, drawing from a hand-made table, and the CLI end to end."""

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from kdscope.phase import PHASE_BASE, GAINS, draw_phase, phase_diagrams, phase_spec, phase_thresholds
from kdscope.theory import separability_threshold


def test_four_diagrams_with_paper_defaults():
    ds = phase_diagrams(quick=True)
    assert [d.y for d in ds] == ["lam_t", "xi", "tau", "theta"]
    for d in ds:
        spec = phase_spec(d, backend="numpy")
        assert [a for a, _ in spec.axes] == [d.y, "alpha"]          # continuation along alpha
        assert spec.derived == ("gain",)
        s = spec.settings()[0]
        for k, v in PHASE_BASE.items():
            if k != d.y:
                assert getattr(s, k) == v, k
        assert len(spec.settings()) == 12 * 10
    assert min(ds[0].y_values) == pytest.approx(1e-3) and max(ds[1].y_values) == 1.0


def test_thresholds():
    th = list(phase_thresholds().values())
    assert th[0] == pytest.approx(separability_threshold(1.0, 0.2))
    assert th[1] == pytest.approx(0.5 * separability_threshold(2.0, 0.2))
    assert th[2] == 0.5 and th[0] > th[1] > th[2]


def test_draw_phase_from_a_table():
    d = phase_diagrams(n_alpha=4, n_y=3)[1]
    rows = [dict(kind="theory", alpha=a, xi=x, converged=True, gain_direct=(a - 2.0) * 0.01,
                 gain_teacher=(x - 0.4) * 0.1) for a in d.alphas for x in d.y_values]
    fig = draw_phase(pd.DataFrame(rows), d, {"alpha*": 3.0, "alpha = eta": 0.5})
    maps = [ax for ax in fig.axes if ax.get_xlabel()]
    assert len(maps) == 2 and len(fig.axes) == 4                     # two maps, two colour bars
    for ax in maps:
        assert len([ln for ln in ax.lines if ln.get_gid() == "threshold"]) == 2
        assert any(c.get_gid() == "contour" for c in ax.collections)  # both gains cross zero here
    assert maps[0].get_yscale() == "linear" and maps[0].get_xscale() == "log"
    assert len(GAINS) == 2


def test_cli_figures_phase(tmp_path):
    import kdscope.cli.phase_cmd  # noqa: F401  (registers `figures phase`)
    from kdscope.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["figures", "phase", "--only", "xi", "--n-alpha", "3", "--n-y", "2", "--executor",
                              "serial", "--backend", "numpy", "--no-progress", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    for ext in (".parquet", ".png", ".pdf"):
        assert (tmp_path / f"phase_xi{ext}").is_file()
    df = pd.read_parquet(tmp_path / "phase_xi.parquet")
    assert len(df) == 6 and np.isfinite(df["gain_direct"]).all()
    assert np.allclose(df["gain_direct"], df["eps_s"] - df["eps_s_direct"])
    bad = runner.invoke(app, ["figures", "phase", "--only", "bogus", "--out", str(tmp_path), "--executor", "serial"])
    assert bad.exit_code == 2 and "bogus" in bad.output
