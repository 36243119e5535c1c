"""``kdscope curve``: range parsing, warm-started theory, simulations at a subset, table and figure."""

import pandas as pd
import pytest
from typer.testing import CliRunner

from kdscope import Setting
from kdscope.cli import app
from kdscope.cli.curve_cmd import split_sweep
from kdscope.curves import parse_values, pick_subset, state_from_record, theory_curve, thresholds

runner = CliRunner()


def test_parse_values_and_subset():
    assert parse_values("0.2:1:5") == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert parse_values("1e-3:1:4:log") == pytest.approx([1e-3, 1e-2, 1e-1, 1.0])
    assert parse_values("1,2.5") == [1.0, 2.5]
    for bad in ("1:2", "a:b:3", "0:1:3:log", "1:2:0"):
        with pytest.raises(ValueError, match="lo:hi:n"):
            parse_values(bad)
    assert pick_subset(list(range(10)), 3) == [0, 4, 9] or pick_subset(list(range(10)), 3) == [0, 5, 9]
    assert pick_subset([1, 2], 8) == [1, 2] and pick_subset([1, 2], 0) == []


def test_split_sweep_needs_exactly_one_range():
    fixed, field, vals = split_sweep({"alpha": "1:2:3", "rho": "0.2", "loss_t": "square"})
    assert field == "alpha" and vals == [1.0, 1.5, 2.0] and fixed == {"rho": 0.2, "loss_t": "square"}
    with pytest.raises(ValueError, match="exactly one"):
        split_sweep({"alpha": "1:2:3", "lam_t": "1,2"})
    with pytest.raises(ValueError, match="exactly one"):
        split_sweep({"alpha": "2"})


def test_warm_start_state_from_record_reproduces_point():
    from kdscope.theory import solve

    s = Setting(alpha=3.0, lam_t=0.1, generations=1, eta=0.5, lam_s=0.01)
    rec = solve(s).record()
    warm = solve(s, init=state_from_record(rec, 2))
    assert warm.converged and warm.n_iter < 5 and float(warm.eps[1]) == pytest.approx(rec["eps_s"], abs=1e-8)


def test_theory_curve_reuses_store(tmp_path, monkeypatch):
    from kdscope.store import ResultStore

    store = ResultStore(tmp_path)
    recs = theory_curve(Setting(lam_t=0.1), "alpha", [1.0, 2.0, 3.0], store=store)
    assert [r["alpha"] for r in recs] == [1.0, 2.0, 3.0] and all(r["converged"] for r in recs)
    assert recs[0]["eps_t"] > recs[-1]["eps_t"]
    import kdscope.theory

    monkeypatch.setattr(kdscope.theory, "solve", lambda *a, **k: (_ for _ in ()).throw(AssertionError("recomputed")))
    again = theory_curve(Setting(lam_t=0.1), "alpha", [1.0, 2.0, 3.0], store=store)
    assert [r["eps_t"] for r in again] == [r["eps_t"] for r in recs] and len(store) == 3


def test_thresholds_marked_when_relevant():
    assert thresholds(Setting(lam_t=0.1)) == {}
    t = thresholds(Setting(lam_t=0.0))
    assert set(t) == {"teacher separability"} and t["teacher separability"] == pytest.approx(3.70, abs=0.01)
    t = thresholds(Setting(lam_t=0.1, generations=1, eta=0.5, lam_s=1e-5, xi=1.0))
    assert t == {"student interpolation": 0.5}


def test_curve_command_writes_parquet_png_pdf(tmp_path):
    args = ["curve", "--alpha", "2:4:3", "--lam-t", "0.1", "--rho", "0.3", "--sim-d", "40", "--seeds", "2",
            "--sim-points", "2", "--out", str(tmp_path), "--name", "c", "--no-progress"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    for ext in ("parquet", "png", "pdf"):
        assert (tmp_path / f"c.{ext}").stat().st_size > 0
    df = pd.read_parquet(tmp_path / "c.parquet")
    assert sorted(df["kind"].value_counts().items()) == [("sim", 2), ("theory", 3)]
    assert set(df[df["kind"] == "sim"]["alpha"]) == {2.0, 4.0} and (df["rho"] == 0.3).all()
    assert "[theory] alpha=3" in result.stdout and "[converged]" in result.stdout
    n_points = len(list((tmp_path / "points").iterdir()))
    assert runner.invoke(app, args).exit_code == 0  # resumed: nothing new stored
    assert len(list((tmp_path / "points").iterdir())) == n_points == 5


def test_curve_command_bad_range_exit_2(tmp_path):
    result = runner.invoke(app, ["curve", "--alpha", "2", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "exactly one" in result.stderr
    result = runner.invoke(app, ["curve", "--rho", "0.5:1.5:3", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "'rho'" in result.stderr
