"""A sweep killed with SIGKILL mid-run resumes with only the missing points, without duplicates."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq

from kdscope.store import ResultStore
from kdscope.sweep import load_sweep, sweep

CONFIG = """
name: killme
base: {rho: 0.2, eta: 0.5, generations: 1, xi: 1.0, lam_s: 1.0e-3}
grid:
  lam_t: {geomspace: [0.01, 1.0, 10]}
  alpha: {geomspace: [0.5, 6.0, 6]}
"""


def _kdscope():
    exe = Path(sys.executable).with_name("kdscope")
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "from kdscope.cli import main; main()"]


def test_sigkill_mid_run_then_resume(tmp_path):
    cfg = tmp_path / "killme.yaml"
    cfg.write_text(textwrap.dedent(CONFIG))
    out = tmp_path / "out"
    points = out / "store" / "points"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(_kdscope() + ["sweep", str(cfg), "--out", str(out), "--executor", "processes",
                                          "--workers", "2", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    total = 60
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if points.is_dir() and len(list(points.glob("*.parquet"))) >= 6:  # at least one line is stored
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the sweep finished before it could be killed: " + proc.stdout.read().decode()
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI process and its workers, no cleanup
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:  # pragma: no cover
            os.killpg(proc.pid, signal.SIGKILL)
    done = sorted(points.glob("*.parquet"))
    assert 6 <= len(done) < total
    for p in done:  # every stored point is a complete, readable one-row file
        assert pq.read_table(p).num_rows == 1
    mtimes = {p.name: p.stat().st_mtime_ns for p in done}

    spec = load_sweep(cfg)
    store = ResultStore(out / "store")
    df = sweep(spec, store=store, executor="serial", progress=False)
    stats = df.attrs["sweep"]
    assert stats["total"] == total
    assert stats["cached"] == len(done) and stats["computed"] == total - len(done)
    assert len(df) == total and df["key"].is_unique and df["point"].is_unique
    assert len(store) == total and len(list(points.glob("*.parquet"))) == total
    assert {p.name: p.stat().st_mtime_ns for p in done} == mtimes  # finished points were not recomputed
    assert (df["converged"] == True).all()  # noqa: E712
