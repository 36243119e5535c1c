"""A store that heals: canonical readable keys, corrupt points moved aside and recomputed, stale temporary files
cleaned, compute-once claims, normal file permissions."""

import os
import stat
import subprocess
import sys
import threading
import time
import warnings

import pytest

from kdscope import Setting
from kdscope.keys import canonical, kind_of, point_key
from kdscope.store import ResultStore, StoreWarning, write_table
from kdscope.sweep import SweepSpec, sweep

GRID = dict(name="heal", base=dict(rho=0.2), grid=dict(lam_t=[0.05, 0.5], alpha=[1.0, 2.0, 3.0]))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# -------------------------------------------------------------------- keys
def test_keys_are_canonical_in_numbers():
    assert point_key(Setting(alpha=2), "theory") == point_key(Setting(alpha=2.0), "theory")
    lam = {point_key(Setting(lam_t=v), "theory") for v in (0, 0.0, -0.0)}
    assert len(lam) == 1
    assert point_key(Setting(generations=1, eta=0.5), "sim", d=100, seeds=3) == point_key(
        Setting(generations=1, eta=0.5), "sim", d=100.0, seeds=3)
    assert point_key(Setting(alpha=2.0), "theory") != point_key(Setting(alpha=2.0000001), "theory")
    assert canonical(-0.0) == 0.0 and str(canonical(-0.0)) == "0.0" and canonical(True) is True


def test_keys_read_like_the_point():
    key = point_key(Setting(alpha=2.5, lam_t=0.1, rho=0.2), "theory")
    kind, label, digest = key.split("__")
    assert kind == "theory" and label == "alpha=2.5,rho=0.2,lam_t=0.1" and len(digest) == 16
    opt = point_key(Setting(alpha=3.0, lam_t=0.7), "theory-optlam-t", free=("lam_t",), bounds=[1e-6, 100.0])
    assert "lam_t=opt" in opt and kind_of(opt) == "theory-optlam-t"
    # the optimised field does not change the key
    assert opt == point_key(Setting(alpha=3.0, lam_t=0.2), "theory-optlam-t", free=("lam_t",), bounds=[1e-6, 100.0])
    assert kind_of("theory-optlam-t-0123456789abcdef-0123456789ab") == "theory-optlam-t"  # older keys


# ----------------------------------------------------------------- healing
def test_corrupt_empty_truncated_points_are_moved_aside_and_recomputed(tmp_path):
    spec = SweepSpec.from_dict(GRID)
    store = ResultStore(tmp_path)
    first = sweep(spec, store=store, progress=False)
    files = sorted(store.points_dir.glob("*.parquet"))
    assert len(files) == 6
    files[0].write_bytes(b"")                                   # empty
    files[1].write_bytes(files[1].read_bytes()[:40])            # truncated
    files[2].write_bytes(b"PAR1 not a parquet file at all")     # garbage
    with pytest.warns(StoreWarning, match="unreadable") as caught:
        again = sweep(spec, store=ResultStore(tmp_path), progress=False)
    assert len(caught) == 3
    stats = again.attrs["sweep"]
    assert (stats["cached"], stats["computed"]) == (3, 3)
    assert list(again["eps_t"]) == pytest.approx(list(first["eps_t"]), rel=1e-12)
    assert len(list((tmp_path / "corrupt").iterdir())) == 3      # kept for inspection, never deleted
    with warnings.catch_warnings():
        warnings.simplefilter("error")                            # healed: nothing left to repair
        third = sweep(spec, store=ResultStore(tmp_path), progress=False)
    assert third.attrs["sweep"]["computed"] == 0


def test_cli_sweep_resumes_over_a_corrupt_point(tmp_path):
    from typer.testing import CliRunner

    from kdscope.cli import app

    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: c\nbase: {rho: 0.2}\ngrid: {lam_t: [0.1], alpha: [1.0, 2.0]}\n")
    args = ["sweep", str(cfg), "--executor", "serial", "--no-progress", "--out", str(tmp_path / "o")]
    runner = CliRunner()
    assert runner.invoke(app, args).exit_code == 0
    point = next((tmp_path / "o" / "store" / "points").glob("*.parquet"))
    point.write_bytes(point.read_bytes()[:-30])
    with pytest.warns(StoreWarning):
        res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "1 cached, 1 computed" in res.output


def test_get_and_frame_skip_a_corrupt_file(tmp_path):
    store = ResultStore(tmp_path)
    store.put({"eps_t": 0.1}, "theory__a__0123456789abcdef")
    (store.points_dir / "theory__b__fedcba9876543210.parquet").write_bytes(b"")
    with pytest.warns(StoreWarning):
        assert store.get("theory__b__fedcba9876543210") is None
    assert len(store.frame()) == 1 and store.keys() == ["theory__a__0123456789abcdef"]


def test_stale_tmp_files_are_cleaned_on_open(tmp_path):
    store = ResultStore(tmp_path)
    store.put({"eps_t": 0.1}, "theory__a__0123456789abcdef")
    dead = store.points_dir / f".theory__b__0123456789abcdef.{_dead_pid()}.x1y2.tmp"
    live = store.points_dir / f".theory__c__0123456789abcdef.{os.getpid()}.x1y2.tmp"
    old = store.points_dir / ".theory__d__0123456789abcdef.x1.tmp"   # no pid: stale when old
    for p in (dead, live, old):
        p.write_bytes(b"PAR1 half-written")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    ResultStore(tmp_path)                                      # opening cleans
    assert not dead.exists() and not old.exists() and live.exists()
    assert ResultStore(tmp_path).keys() == ["theory__a__0123456789abcdef"]


def test_files_have_normal_permissions(tmp_path):
    import pandas as pd

    old = os.umask(0o022)
    try:
        store = ResultStore(tmp_path)
        store.put({"eps_t": 0.1}, "theory__a__0123456789abcdef")
        table = write_table(pd.DataFrame({"a": [1.0]}), tmp_path / "t.parquet")
        assert store.claim("theory__b__0123456789abcdef")
        claim = store.claims_dir / "theory__b__0123456789abcdef.claim"
        for path in (store.points_dir / "theory__a__0123456789abcdef.parquet", table, claim):
            assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    finally:
        os.umask(old)
        store.release_all()


# ------------------------------------------------------------------ claims
def test_claims_are_exclusive_and_stale_ones_are_taken_over(tmp_path):
    store, other = ResultStore(tmp_path), ResultStore(tmp_path)
    key = "theory__a__0123456789abcdef"
    assert store.claim(key) and store.claim(key)          # re-entrant for the owner
    assert store.claim_owner(key)["pid"] == os.getpid()
    store.release(key)
    assert store.claim_owner(key) is None
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        store.claims_dir.mkdir(parents=True, exist_ok=True)
        import json
        import socket

        path = store.claims_dir / f"{key}.claim"
        path.write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname(), "time": time.time()}))
        assert other.claimed_by_other(key) and not other.claim(key)
        path.write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname(), "time": time.time()}))
        assert not other.claimed_by_other(key) and other.claim(key)   # a dead owner's claim is taken over
    finally:
        sleeper.kill()
        sleeper.wait()
        other.release_all()


def test_sweep_waits_for_points_another_process_claimed(tmp_path):
    """Two keys are claimed by a live process; the sweep computes the rest and takes those two from the store."""
    import json
    import socket

    from kdscope.sweep import sweep_tasks

    spec = SweepSpec.from_dict(GRID)
    keys, _ = sweep_tasks(spec, spec.settings(), "numpy")
    theirs = keys["theory"][1:3]
    store = ResultStore(tmp_path)
    store.claims_dir.mkdir(parents=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    for k in theirs:
        (store.claims_dir / f"{k}.claim").write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname(),
                                                                  "time": time.time()}))

    def other_writer():  # the other process stores its points, then drops its claims
        time.sleep(1.0)
        for k in theirs:
            ResultStore(tmp_path).put({"eps_t": 0.25, "converged": True, "status": "converged"}, k, kind="theory")
            (store.claims_dir / f"{k}.claim").unlink()

    thread = threading.Thread(target=other_writer)
    thread.start()
    try:
        df = sweep(spec, store=store, progress=False)
    finally:
        thread.join()
        sleeper.kill()
        sleeper.wait()
    stats = df.attrs["sweep"]
    assert (stats["computed"], stats["cached"]) == (4, 2)
    assert list(df["eps_t"])[1:3] == [0.25, 0.25]             # their values, not recomputed here


def test_sweep_computes_points_whose_claimant_died(tmp_path):
    import json
    import socket

    from kdscope.sweep import sweep_tasks

    spec = SweepSpec.from_dict(GRID)
    keys, _ = sweep_tasks(spec, spec.settings(), "numpy")
    store = ResultStore(tmp_path)
    store.claims_dir.mkdir(parents=True)
    for k in keys["theory"][:2]:
        (store.claims_dir / f"{k}.claim").write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname(),
                                                                  "time": time.time()}))
    df = sweep(spec, store=store, progress=False)
    assert df.attrs["sweep"]["computed"] == 6 and (df["converged"] == True).all()  # noqa: E712
    assert not list(store.claims_dir.iterdir())               # every claim released


SCRIPT = """
import sys
from kdscope.store import ResultStore
from kdscope.sweep import sweep
spec = dict(name="two", base=dict(rho=0.2, generations=1, eta=0.5, xi=1.0, lam_s=1e-3),
            grid=dict(lam_t=[0.02, 0.2, 2.0], alpha=[0.8, 1.6, 2.4, 3.2, 4.0]))
df = sweep(spec, store=ResultStore(sys.argv[1]), progress=False)
a = df.attrs["sweep"]
print(a["computed"], a["cached"], int((df["converged"] == True).sum()))
"""


def test_two_writers_on_one_store_compute_each_point_once(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "store")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    counts = [tuple(int(x) for x in out.split()) for out, _ in outs]
    assert sum(c[0] for c in counts) == 15                    # each point computed by exactly one writer
    assert all(c[0] + c[1] == 15 and c[2] == 15 for c in counts)
    assert len(list((tmp_path / "store" / "points").glob("*.parquet"))) == 15


def test_only_the_store_s_own_tmp_files_are_cleaned(tmp_path):
    store = ResultStore(tmp_path)
    store.put({"eps_t": 0.1}, "theory__a__0123456789abcdef")
    mine = tmp_path / f".table.{_dead_pid()}.abc.tmp"
    theirs = tmp_path / f".notes.{_dead_pid()}.abc.tmp"             # not a file the store writes
    for p in (mine, theirs):
        p.write_bytes(b"x")
    ResultStore(tmp_path)
    assert not mine.exists() and theirs.exists()
