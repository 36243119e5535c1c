"""Sweeps: config validation that names the field, store-backed resumption, derived columns, executors."""

import math
import textwrap

import numpy as np
import pytest

from kdscope import Setting
from kdscope.executors import DaskExecutor, SerialExecutor, make_executor
from kdscope.store import ResultStore
from kdscope.sweep import SweepConfigError, SweepSpec, direct_student, load_sweep, sweep
from kdscope.theory import solve

KD = dict(rho=0.2, eta=0.5, generations=1, xi=1.0, lam_s=1e-3)


def _spec(**over):
    raw = dict(name="t", base=dict(KD), grid=dict(lam_t=[0.05, 0.5], alpha=[1.0, 2.5, 4.0]))
    raw.update(over)
    return raw


# ------------------------------------------------------------------ config
@pytest.mark.parametrize("over, needle", [
    (dict(grdi={"alpha": [1]}), "grdi"),
    (dict(grid={"alpah": [1.0]}), "alpah"),
    (dict(grid={"alpha": [1.0, -2.0]}), "'alpha'"),
    (dict(base=dict(KD, rho=1.5)), "'rho'"),
    (dict(grid={"alpha": {"geomspace": [1.0, 2.0]}}), "grid.alpha.geomspace"),
    (dict(grid={"alpha": {"geomspace": [0.0, 2.0, 3]}}), "grid.alpha.geomspace"),
    (dict(grid={"alpha": {"range": [0.0, 2.0, 3]}}), "grid.alpha"),
    (dict(derived=["gains"]), "'derived'"),
    (dict(derived=["opt_tau"], base=dict(KD, soft="mse")), "'opt_tau'"),
    (dict(backend="torch"), "'backend'"),
    (dict(simulate={"d": 1}), "simulate.d"),
    (dict(simulate={"d": 100, "seeds": [0, "a"]}), "simulate.seeds"),
    (dict(solver={"tolerance": 1e-8}), "'solver'"),
    (dict(name="bad name"), "'name'"),
    (dict(points=[{"alpha": 1.0}]), "exactly one of 'grid'"),
    (dict(theory=False, derived=["gain"]), "theory: true"),
])
def test_config_errors_name_the_field(over, needle):
    with pytest.raises(SweepConfigError) as err:
        SweepSpec.from_dict(_spec(**over))
    assert needle in str(err.value)


def test_yaml_loading_and_grid_order(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent("""
        name: demo
        base: {rho: 0.2, eta: 0.5, generations: 1, xi: 1.0, lam_s: 1.0e-3}
        grid:
          lam_t: [0.01, 0.1]
          alpha: {geomspace: [0.5, 8.0, 3]}
        derived: [gain]
        solver: {tol: 1.0e-10}
    """))
    spec = load_sweep(path)
    over = spec.overrides()
    assert [o["alpha"] for o in over[:3]] == pytest.approx([0.5, 2.0, 8.0])  # last axis fastest
    assert [o["lam_t"] for o in over] == [0.01] * 3 + [0.1] * 3
    assert spec.lines() == [("alpha", [0, 1, 2]), ("alpha", [3, 4, 5])]
    assert spec.settings()[4] == Setting(rho=0.2, eta=0.5, generations=1, xi=1.0, lam_s=1e-3, lam_t=0.1, alpha=2.0)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ngrid: {alpha: [1.0]}\nbase: {eta: 0.5}\n")  # eta < 1 needs a student
    with pytest.raises(SweepConfigError, match="eta"):
        load_sweep(bad)


def test_points_list_is_grouped_into_lines():
    spec = SweepSpec.from_dict(dict(name="p", points=[{"alpha": 1.0}, {"alpha": 2.0}, {"alpha": 2.0, "lam_t": 0.5},
                                                       {"alpha": 2.0, "lam_t": 1.0}, {"rho": 0.3}]))
    assert spec.lines() == [("alpha", [0, 1]), ("lam_t", [2, 3]), ("alpha", [4])]


# -------------------------------------------------------------------- runs
def test_serial_sweep_rows_derived_columns_and_resumption(tmp_path):
    spec = SweepSpec.from_dict(_spec(derived=["gain", "opt_lam_t"]))
    store = ResultStore(tmp_path)
    df = sweep(spec, store=store, executor="serial", progress=False)
    a = df.attrs["sweep"]
    # 6 theory points + 3 direct students (one per alpha) + 3 teacher optimisations (one per alpha)
    assert (a["total"], a["cached"], a["computed"]) == (12, 0, 12)
    assert len(df) == 6 and list(df["point"]) == list(range(6))
    assert set(df["status"]) == {"converged"}
    for col in ("eps_t", "eps_s", "residual", "seconds", "kdscope_version", "backend", "gain_direct", "gain_teacher",
                "eps_s_direct", "lam_s_direct", "lam_t_opt", "eps_t_lam_t_opt"):
        assert col in df.columns, col
    assert np.allclose(df["gain_direct"], df["eps_s"] - df["eps_s_direct"])
    assert np.allclose(df["gain_teacher"], df["eps_s"] - df["eps_t"])
    # the direct student is the same Setting with xi = 0 at the optimal lam_s
    row = df.iloc[1]
    s = spec.settings()[1]
    xi0 = solve(s.replace(xi=0.0, lam_s=float(row["lam_s_direct"])))
    assert xi0.eps[1] == pytest.approx(row["eps_s_direct"], abs=1e-6)
    assert row["eps_s_direct"] <= solve(s.replace(xi=0.0)).eps[1] + 1e-12   # optimal beats lam_s = 1e-3
    # the teacher's optimal ridge beats the swept ones at that alpha
    assert (df["eps_t_lam_t_opt"] <= df["eps_t"] + 1e-12).all()
    # a repeated sweep computes nothing and returns the same table
    again = sweep(spec, store=store, executor="serial", progress=False)
    assert (again.attrs["sweep"]["cached"], again.attrs["sweep"]["computed"]) == (12, 0)
    assert np.array_equal(again["eps_s"].to_numpy(), df["eps_s"].to_numpy())
    assert len(store) == 12


def test_partial_store_computes_only_missing_points(tmp_path):
    spec = SweepSpec.from_dict(_spec())
    store = ResultStore(tmp_path)
    sweep(SweepSpec.from_dict(_spec(grid=dict(lam_t=[0.05], alpha=[1.0, 2.5, 4.0])),), store=store,
          executor="serial", progress=False)
    df = sweep(spec, store=store, executor="serial", progress=False)
    assert (df.attrs["sweep"]["cached"], df.attrs["sweep"]["computed"]) == (3, 3)
    assert df["key"].is_unique and len(store) == 6


def test_dask_local_cluster_sweep(tmp_path):
    pytest.importorskip("distributed")
    spec = SweepSpec.from_dict(_spec(base=dict(rho=0.2), grid=dict(lam_t=[0.05, 0.5], alpha=[1.0, 3.0])))
    with DaskExecutor(workers=2, processes=False) as ex:
        df = sweep(spec, store=ResultStore(tmp_path), executor=ex, progress=False)
    ref = sweep(spec, store=ResultStore(tmp_path / "ref"), executor="serial", progress=False)
    assert df.attrs["sweep"]["computed"] == 4 and "dask" in df.attrs["sweep"]["executor"]
    assert np.array_equal(df["eps_t"].to_numpy(), ref["eps_t"].to_numpy())



def test_dask_existing_scheduler(tmp_path):
    distributed = pytest.importorskip("distributed")
    spec = SweepSpec.from_dict(_spec(base=dict(rho=0.2), grid=dict(lam_t=[0.05], alpha=[1.0, 3.0])))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cl:
        df = sweep(spec, store=ResultStore(tmp_path), executor="dask", scheduler=cl.scheduler_address, progress=False)
    assert df.attrs["sweep"]["computed"] == 2 and cl.scheduler_address in df.attrs["sweep"]["executor"]
    assert (df["converged"] == True).all()  # noqa: E712


def test_executor_factory_and_unordered_map():
    with make_executor("serial") as ex:
        assert isinstance(ex, SerialExecutor)
        assert sorted(ex.map_unordered(abs, [-1, 2, -3])) == [(0, 1), (1, 2), (2, 3)]
    with pytest.raises(ValueError, match="'executor'"):
        make_executor("threads")
    with pytest.raises(ValueError, match="'workers'"):
        make_executor("processes", workers=0)
    with pytest.raises(ValueError, match="'scheduler'"):
        make_executor("serial", scheduler="tcp://127.0.0.1:1")


def test_direct_student_mapping():
    s = Setting(alpha=3.0, alpha_s=None, eta=0.5, delta=1.0, rho=0.3, lam_s=0.02, generations=1, theta=0.1)
    d = direct_student(s)
    assert (d.alpha, d.delta, d.lam_t, d.theta, d.generations) == (6.0, 2.0, 0.08, 0.1, 0)
    assert math.isclose(solve(d).eps[0], solve(s.replace(xi=0.0)).eps[1], abs_tol=1e-6)


def test_cli_sweep_and_config_error(tmp_path):
    from typer.testing import CliRunner

    from kdscope.cli import app

    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: c\nbase: {rho: 0.2}\ngrid: {lam_t: [0.1], alpha: [1.0, 2.0]}\n")
    runner = CliRunner()
    res = runner.invoke(app, ["sweep", str(cfg), "--executor", "serial", "--no-progress", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "2/2 theory points converged" in res.output and (tmp_path / "o" / "c.parquet").is_file()
    res = runner.invoke(app, ["sweep", str(cfg), "--executor", "serial", "--no-progress", "--out", str(tmp_path / "o")])
    assert "2 cached, 0 computed" in res.output
    cfg.write_text("name: c\ngrid: {alpha: [1.0, 0.0]}\n")
    res = runner.invoke(app, ["sweep", str(cfg), "--executor", "serial"])
    assert res.exit_code == 2 and "'alpha'" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["sweep", str(cfg), "--executor", "threads"])
    assert res.exit_code == 2 and "--executor" in res.output
