"""Bad inputs get one line naming the parameter and its range, exit code 2, no traceback, nothing computed first."""

import json
import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kdscope import Setting
from kdscope.cli import app
from kdscope.guards import SolverOptionsError, solver_options, writable_dir
from kdscope.simulations import SimulationSizeError, check_size, estimate_bytes, seed_list
from kdscope.sweep import SweepConfigError, SweepSpec

runner = CliRunner()


def _one_line_exit_2(result, *needles):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


@pytest.fixture
def no_solve(monkeypatch):
    """Any solve or simulation fails the test: guards must act before computing."""
    import kdscope.simulations
    import kdscope.theory

    def boom(*_a, **_k):
        raise AssertionError("computed before validating")

    monkeypatch.setattr(kdscope.theory, "solve", boom)
    monkeypatch.setattr(kdscope.simulations, "simulate", boom)


# -------------------------------------------------------------- simulations
def test_simulation_memory_guard_names_d_and_its_range():
    s = Setting(alpha=2.0)
    assert estimate_bytes(s, 100_000) > 10 ** 11
    with pytest.raises(SimulationSizeError, match=r"'d'=100000 .*\[2, \d+\]"):
        check_size(s, 100_000)
    check_size(s, 1000)                                        # 48 MB: fine
    fresh = Setting(alpha=2.0, alpha_s=20.0, generations=1)
    assert estimate_bytes(fresh, 1000) > estimate_bytes(s.replace(generations=1), 1000)


def test_simulation_limit_can_be_raised(monkeypatch):
    monkeypatch.setenv("KDSCOPE_MAX_SIM_BYTES", str(10 ** 6))
    with pytest.raises(SimulationSizeError, match="KDSCOPE_MAX_SIM_BYTES"):
        check_size(Setting(alpha=2.0), 1000)


def test_seeds_count_and_duplicates():
    assert seed_list(3) == [0, 1, 2] and seed_list([4, 1]) == [4, 1]
    for bad, needle in ((0, r"\[1, 1000\]"), (5000, r"\[1, 1000\]"), ([0, 1, 1], "distinct"), ([], "empty"),
                        ([0, -1], ">= 0"), (list(range(1001)), "at most 1000"), (True, "'seeds'")):
        with pytest.raises(SimulationSizeError, match=needle):
            seed_list(bad)


def test_cli_simulate_guards(no_solve, tmp_path):
    _one_line_exit_2(runner.invoke(app, ["simulate", "--d", "100000"]), "'d'", "100000", "GiB")
    _one_line_exit_2(runner.invoke(app, ["simulate", "--seeds", "2000"]), "'seeds'", "[1, 1000]")
    _one_line_exit_2(runner.invoke(app, ["simulate", "--seeds", "0,1,1", "--d", "20"]), "'seeds'", "distinct")
    _one_line_exit_2(runner.invoke(app, ["simulate", "--seeds", "x"]), "'seeds'")


def test_simulate_huge_ridge_is_not_converged():
    """lam_t = 1e300 drives the weights to zero: eps is NaN, so the run must not claim convergence."""
    res = runner.invoke(app, ["simulate", "--lam-t", "1e300", "--d", "30", "--seeds", "2", "--json"])
    assert res.exit_code == 3
    rec = json.loads(res.stdout)
    assert rec["converged"] is False and rec["eps_t"] is None and "non-finite" in rec["status"]


# ------------------------------------------------------------------ solver
@pytest.mark.parametrize("flag, value, name", [
    ("--tol", "-1", "'tol'"), ("--tol", "nan", "'tol'"), ("--damping", "0", "'damping'"),
    ("--damping", "1.5", "'damping'"), ("--max-iter", "0", "'max_iter'"), ("--order", "2", "'order'"),
    ("--order", "100000", "'order'"),
])
def test_cli_solver_flags_validated(no_solve, flag, value, name):
    line = _one_line_exit_2(runner.invoke(app, ["theory", flag, value]), name, "SolverOptions")
    assert "interval" in line


def test_solver_options_table():
    assert solver_options(None) is None and solver_options({}) is None
    assert solver_options({"tol": 1e-8, "max_iter": 10}).max_iter == 10
    for bad in ({"tol": "abc"}, {"damping": 0.0}, {"max_iter": 2.5}, {"bound": -1.0}, {"memory": -1},
                {"tolerance": 1e-8}):
        with pytest.raises(SolverOptionsError, match="SolverOptions"):
            solver_options(bad)


@pytest.mark.parametrize("solver, needle", [
    ({"tol": "abc"}, "'tol'"), ({"damping": 2}, "'damping'"), ({"max_iter": 0}, "'max_iter'"),
    ({"tol": -1.0}, "'tol'"), ([1, 2], "'solver'"),
])
def test_sweep_solver_block_is_an_error_not_a_row(solver, needle):
    raw = dict(name="s", grid=dict(alpha=[1.0]), solver=solver)
    with pytest.raises(SweepConfigError, match=needle):
        SweepSpec.from_dict(raw)


def test_cli_sweep_bad_solver_block_exit_2(tmp_path, no_solve):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: c\ngrid: {alpha: [1.0]}\nsolver: {tol: abc}\n")
    res = runner.invoke(app, ["sweep", str(cfg), "--executor", "serial", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "'tol'" in res.output and "Traceback" not in res.output


# ---------------------------------------------------------------- grid size
def test_huge_grid_fails_fast_while_validating():
    raw = dict(name="big", grid=dict(alpha={"linspace": [0.5, 5.0, 10_000]}, lam_t={"geomspace": [1e-3, 1.0, 10_000]}))
    t0 = time.perf_counter()
    with pytest.raises(SweepConfigError, match=r"100,000,000 points"):
        SweepSpec.from_dict(raw)
    assert time.perf_counter() - t0 < 2.0
    with pytest.raises(SweepConfigError, match=r"'num' must be an integer in \[1, 100,000\]"):
        SweepSpec.from_dict(dict(name="axis", grid=dict(alpha={"linspace": [0.5, 5.0, 200_000]})))


def test_sweep_simulation_memory_checked_at_load():
    raw = dict(name="m", grid=dict(alpha=[1.0, 50.0]), simulate={"d": 20000, "seeds": 2})
    with pytest.raises(SweepConfigError, match=r"'simulate' at point 0: simulate: 'd'=20000"):
        SweepSpec.from_dict(raw)
    with pytest.raises(SweepConfigError, match="distinct"):
        SweepSpec.from_dict(dict(name="m", grid=dict(alpha=[1.0]), simulate={"d": 20, "seeds": [1, 1]}))


# -------------------------------------------------------------------- --out
def _read_only_dir(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        return ro
    return Path("/sys")  # root writes through file modes; sysfs refuses new files even to root


@pytest.mark.parametrize("command", [
    ["theory", "--alpha", "2"], ["simulate", "--d", "20", "--seeds", "2"], ["curve", "--alpha", "1:2:3"],
])
def test_out_that_is_a_file_or_read_only_fails_before_computing(tmp_path, no_solve, command):
    afile = tmp_path / "afile"
    afile.write_text("x")
    _one_line_exit_2(runner.invoke(app, command + ["--out", str(afile)]), "'--out'", "is a file")
    line = _one_line_exit_2(runner.invoke(app, command + ["--out", str(afile / "sub")]), "'--out'")
    assert "accepts new files" in line
    ro = _read_only_dir(tmp_path)
    _one_line_exit_2(runner.invoke(app, command + ["--out", str(ro)]), "'--out'", "accepts new files")


def test_cli_sweep_out_is_a_file(tmp_path, no_solve):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: c\ngrid: {alpha: [1.0]}\n")
    afile = tmp_path / "afile"
    afile.write_text("x")
    res = runner.invoke(app, ["sweep", str(cfg), "--executor", "serial", "--out", str(afile)])
    assert res.exit_code == 2 and "'--out'" in res.output and "Traceback" not in res.output


def test_writable_dir_creates_missing_folders(tmp_path):
    assert writable_dir(tmp_path / "a" / "b").is_dir()


@pytest.mark.parametrize("argv", [["figures", "paper", "--quick", "--only", "fig05"], ["figures", "phase", "--quick"],
                                  ["figures", "readme", "--quick"], ["demo"]])
def test_figure_commands_refuse_an_out_that_is_a_file_before_computing(tmp_path, argv):
    target = tmp_path / "taken"
    target.write_text("not a folder")
    result = runner.invoke(app, argv + ["--out", str(target)])
    assert result.exit_code == 2
    assert "'--out' must be a folder" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert target.read_text() == "not a folder"
