"""Pieces that fit: tasks with keys and run(), a kind column everywhere, sweep() from a plain script, workers that die
with their parent, curves with one line per value of a second parameter, --version and help texts that explain."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from kdscope import Setting
from kdscope.cli import app
from kdscope.cli.options import MEANINGS
from kdscope.engine import compute
from kdscope.store import ResultStore
from kdscope.tasks import OptimalSearch, Simulation, TheoryLine

runner = CliRunner()


# -------------------------------------------------------------------- tasks
def test_tasks_have_keys_and_run():
    line = TheoryLine((Setting(alpha=1.0, lam_t=0.1), Setting(alpha=2.0, lam_t=0.1)), "alpha")
    recs = line.run()
    assert [r["key"] for r in recs] == list(line.keys) and {r["kind"] for r in recs} == {"theory"}
    assert recs[0]["eps_t"] > recs[1]["eps_t"] and all(r["converged"] for r in recs)
    assert line.restrict({line.keys[1]}).settings == (Setting(alpha=2.0, lam_t=0.1),)
    assert line.restrict(set()) is None
    opt = OptimalSearch(Setting(alpha=2.0), "lam_t")
    assert opt.keys == OptimalSearch(Setting(alpha=2, lam_t=0.5), "lam_t").keys   # lam_t is what it optimises
    sim = Simulation(Setting(alpha=2.0, lam_t=0.1), 20, 2)
    assert sim.seeds == (0, 1) and sim.keys == Simulation(Setting(alpha=2, lam_t=0.1), 20, [0, 1]).keys
    rec, = sim.run()
    assert rec["kind"] == "sim" and rec["seeds"] == [0, 1]


def test_failed_task_is_reported_not_stored(tmp_path, monkeypatch):
    import kdscope.theory

    def broken(*_a, **_k):
        raise FloatingPointError("boom")

    monkeypatch.setattr(kdscope.theory, "solve", broken)
    store = ResultStore(tmp_path)
    line = TheoryLine((Setting(alpha=1.0),))
    out = compute([line], store)
    rec = out.get(line.keys[0])
    assert rec["status"].startswith("error: FloatingPointError") and rec["converged"] is False
    assert out.failed == 1 and len(store) == 0 and not list(store.claims_dir.iterdir())


def test_kind_column_on_theory_and_simulation_frames():
    from kdscope.curves import theory_point
    from kdscope.simulations import simulate_frame

    rec, _ = theory_point(Setting(alpha=2.0, lam_t=0.1))
    assert rec["kind"] == "theory"
    df = simulate_frame([Setting(alpha=2.0, lam_t=0.1)], d=20, seeds=2)
    assert list(df["kind"]) == ["sim"]
    assert set(simulate_frame(Setting(alpha=2.0, lam_t=0.1), d=20, seeds=2, per_seed=True)["kind"]) == {"sim"}


# ------------------------------------------------------------ script sweep
SCRIPT = """
from kdscope.sweep import sweep
df = sweep(dict(name="script", base=dict(rho=0.2), grid=dict(lam_t=[0.1], alpha=[1.0, 2.0])),
           store={store!r}, progress=False{extra})
print("rows", len(df), int((df["converged"] == True).sum()))
"""


def _run_script(tmp_path, extra="", timeout=120):
    script = tmp_path / "plain.py"
    script.write_text(SCRIPT.format(store=str(tmp_path / "store"), extra=extra))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, OMP_NUM_THREADS="1"), cwd=tmp_path)


def test_sweep_from_a_plain_script_without_main_guard(tmp_path):
    res = _run_script(tmp_path)
    assert res.returncode == 0, res.stderr
    assert "rows 2 2" in res.stdout


def test_processes_from_an_unguarded_script_explain_the_fix(tmp_path):
    res = _run_script(tmp_path, extra=", executor='processes', workers=1")
    assert res.returncode != 0
    assert "__main__" in res.stderr and "executor='serial'" in res.stderr


# ----------------------------------------------------------- worker death
PARENT = """
import sys, time
from kdscope.executors import ProcessExecutor
ex = ProcessExecutor(workers=2)
futs = [ex._pool.submit(time.sleep, 120) for _ in range(2)]
while len(ex._pool._processes) < 2:
    time.sleep(0.05)
print(" ".join(str(p) for p in ex._pool._processes), flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)")
def test_process_workers_die_with_their_parent(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    try:
        workers = [int(p) for p in proc.stdout.readline().split()]
        assert len(workers) == 2 and all(_alive(p) for p in workers)
        os.kill(proc.pid, signal.SIGKILL)                      # no cleanup in the parent
        proc.wait(timeout=30)
        deadline = time.monotonic() + 60  # a worker still importing at the kill exits when it starts
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.1)
        assert not any(_alive(p) for p in workers)
    finally:
        if proc.poll() is None:  # pragma: no cover
            proc.kill()


# ------------------------------------------------------------------- curve
def test_curve_one_line_per_value_of_a_second_parameter(tmp_path):
    args = ["curve", "--alpha", "2:4:3", "--lam-t", "0.01,0.1", "--rho", "0.3", "--out", str(tmp_path),
            "--no-progress"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    table = next(tmp_path.glob("curve_*.parquet"))
    assert table.name.startswith("curve_alpha-2-4-3_lam_t-0.01-0.1_")          # readable name
    assert table.with_suffix(".png").is_file() and table.with_suffix(".pdf").is_file()
    df = pd.read_parquet(table)
    assert sorted(set(df["line"])) == [0.01, 0.1] and len(df) == 6 and set(df["kind"]) == {"theory"}
    assert (df.groupby("line")["lam_t"].nunique() == 1).all()
    assert res.output.count("[theory] alpha=3") == 2
    bad = runner.invoke(app, ["curve", "--alpha", "1,2", "--lam-t", "0.01,0.1", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "exactly one" in bad.stderr


# ---------------------------------------------------------------- the CLI
def test_version():
    from kdscope import __version__

    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout.strip() == f"kdscope {__version__}"


def test_every_setting_field_has_a_meaning_in_its_help():
    assert set(MEANINGS) == set(Setting.field_names())
    cmd = get_command(app).commands["theory"]
    helps = {p.name: p.help for p in cmd.params}
    for name in Setting.field_names():
        assert helps[name].startswith(MEANINGS[name]) and len(MEANINGS[name]) > 10, name
    assert "samples per dimension n/d" in helps["alpha"]


def test_cli_files_have_normal_permissions(tmp_path):
    import stat

    old = os.umask(0o022)
    try:
        res = runner.invoke(app, ["theory", "--alpha", "2.5", "--lam-t", "0.1", "--out", str(tmp_path)])
        assert res.exit_code == 0
    finally:
        os.umask(old)
    point, = (tmp_path / "points").glob("*.parquet")
    assert stat.S_IMODE(point.stat().st_mode) == 0o644 and point.name.startswith("theory__alpha=2.5,lam_t=0.1__")


def test_theory_failure_message_is_the_solver_status(tmp_path):
    res = runner.invoke(app, ["theory", "--alpha", "2", "--lam-t", "0"])
    assert res.exit_code == 3
    line = res.stderr.strip()
    assert "diverged" in line and "teacher separability=3.7" in line and len(line.splitlines()) == 1


def test_script_helpers_are_importable():
    """Public names used by recipes, phase diagrams and benchmarks stay importable."""
    from kdscope.curves import (compute_curve, curve_figure, error_columns, optimal_lam_point, parse_values,  # noqa
                                pick_subset, sim_curve, sim_point, state_from_record, summary_line, theory_curve,
                                theory_point, thresholds)
    from kdscope.sweep import (BACKENDS, DERIVED, SweepConfigError, SweepSpec, describe, direct_student,  # noqa
                               load_sweep, resolve_backend, sweep, teacher_alone)
    from kdscope.tasks import enable_jax_cache  # noqa

    assert callable(sweep) and callable(compute_curve)


def test_cli_prints_store_repairs_as_one_line():
    import warnings

    from kdscope.store import StoreWarning

    assert runner.invoke(app, ["theory", "--rho", "2"]).exit_code == 2
    assert warnings.formatwarning("point moved aside", StoreWarning, "store.py", 1) == "warning: point moved aside\n"
    assert "UserWarning" in warnings.formatwarning("other", UserWarning, "x.py", 1)
