"""Benchmark: single saddle points, warm-started curves and a phase-diagram sub-grid, NumPy and JAX.

Cases (reference-paper defaults delta = 1, rho = 0.2; students eta = 0.5, KL at tau = 1, xi = 1, lam_s = 1e-3):
  * one K = 1 logistic point at several (alpha, lam): median over repeats, cold start;
  * the large-norm K = 1 point alpha = 2, lam_t = 1e-3, rho = 1/2 (q ~ 89, V ~ 211), where accuracy control
    raises the order;
  * one K = 2 KD point (teacher lam_t = 0.1): median over repeats;
  * a 50-point KD curve in alpha (continuation, ``solve_curve``);
  * a 10 x 10 KD sub-grid in (alpha, lam_t) by continuation along alpha, extrapolated to 100 x 100.
Targets (issue 10): K = 1 point <= 5 ms NumPy, <= 1 ms warm JAX; K = 2 point <= 30 ms NumPy, <= 5 ms warm JAX;
50-point KD curve <= 1 s; 100 x 100 KD phase diagram <= 60 s.

Every case is timed in wall-clock time and in CPU time of this process (``time.process_time``): on a shared
machine the wall time also counts other processes, so the verdicts use the CPU time (the two agree on an idle
machine; the load average is printed).  Every solve uses the default options (accuracy control: quadrature error
estimate <= 1e-7).  ``--baseline REV`` also times the NumPy cases with the code of git revision REV (its ``src/``
extracted to a temporary folder and run in a child process, one after the other on the same machine) and prints
the ratios old / new.  The JAX engine is timed after compilation (compile time printed separately).

Usage: python benchmarks/bench_theory.py [--repeats 7] [--no-jax] [--baseline e6e48fe]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

TARGET_K1_MS = 5.0
TARGET_K1_JAX_MS = 1.0
TARGET_K2_MS = 30.0
TARGET_K2_JAX_MS = 5.0
TARGET_CURVE_S = 1.0
TARGET_PHASE_S = 60.0

K1_POINTS = [(0.5, 0.01), (2.0, 0.1), (5.0, 0.001), (10.0, 1.0)]
KD = dict(rho=0.2, eta=0.5, generations=1, xi=1.0, lam_s=1e-3, lam_t=0.1)


def _timed(fn, repeats: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of ``fn()`` over ``repeats`` calls."""
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(1e3 * (time.perf_counter() - t0))
        cpu.append(1e3 * (time.process_time() - c0))
    return statistics.median(wall), statistics.median(cpu)


def measure_numpy(repeats: int) -> dict:
    """The NumPy cases: {name: {'wall_ms', 'cpu_ms', 'note'}} (works with the old code too)."""
    from kdscope.theory import Setting, solve, solve_curve

    out = {}
    for a, lam in K1_POINTS:
        s = Setting(alpha=a, lam_t=lam, rho=0.2)
        sp = solve(s)  # warm caches (quadrature nodes)
        w, c = _timed(lambda: solve(s), repeats)
        out[f"K=1 point alpha={a} lam={lam}"] = dict(wall_ms=w, cpu_ms=c, note=f"order {sp.order}")
    big = Setting(alpha=2.0, lam_t=1e-3)
    sp = solve(big)
    w, c = _timed(lambda: solve(big), repeats)
    out["K=1 large-norm point alpha=2 lam=1e-3"] = dict(
        wall_ms=w, cpu_ms=c, note=f"order {sp.order}, q={sp.state.Q[0, 0]:.1f}, V={sp.state.V[0, 0]:.1f}")
    s2 = Setting(alpha=2.0, **KD)
    sp = solve(s2)
    w, c = _timed(lambda: solve(s2), repeats)
    out["K=2 KD point alpha=2"] = dict(wall_ms=w, cpu_ms=c, note=f"order {sp.order}")
    alphas = np.geomspace(0.3, 10.0, 50)
    sps = []
    w, c = _timed(lambda: sps.append(solve_curve(s2, "alpha", alphas)), 1)
    out["K=2 KD curve, 50 points"] = dict(wall_ms=w, cpu_ms=c,
                                          note=f"{sum(sp.converged for sp in sps[-1])}/50 converged")
    grid_alpha, grid_lam = np.geomspace(0.3, 10.0, 10), np.geomspace(1e-3, 10.0, 10)

    def grid():
        return sum(sp.converged for lam in grid_lam
                   for sp in solve_curve(s2.replace(lam_t=float(lam)), "alpha", grid_alpha))

    n_ok = []
    w, c = _timed(lambda: n_ok.append(grid()), 1)
    out["K=2 KD phase diagram 10 x 10"] = dict(wall_ms=w, cpu_ms=c, note=f"{n_ok[-1]}/100 converged")
    return out


def _baseline(rev: str, repeats: int) -> dict | None:
    """The NumPy cases timed with the code of git revision ``rev`` (child process), or None."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as tmp:
        arch = subprocess.run(["git", "-C", root, "archive", rev, "src"], capture_output=True)
        if arch.returncode != 0:
            print(f"  (baseline {rev}: git archive failed: {arch.stderr.decode().strip()})")
            return None
        subprocess.run(["tar", "-x", "-C", tmp], input=arch.stdout, check=True)
        env = dict(os.environ, PYTHONPATH=os.path.join(tmp, "src"))
        res = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", "--repeats", str(repeats)],
                             env=env, capture_output=True, text=True)
        if res.returncode != 0:
            print(f"  (baseline {rev} failed: {res.stderr.strip()[-300:]})")
            return None
        return json.loads(res.stdout.strip().splitlines()[-1])


def _verdict(value: float, target: float, unit: str = "ms") -> str:
    return f"target {target:6.1f} {unit}  {'OK  ' if value <= target else 'MISS'}"


def _report(new: dict, old: dict | None) -> None:
    head = f"  {'case':<40} {'wall ms':>9} {'CPU ms':>9}"
    print(head + ("  old CPU ms  old/new" if old else ""))
    for name, r in new.items():
        line = f"  {name:<40} {r['wall_ms']:9.1f} {r['cpu_ms']:9.1f}"
        if old and name in old:
            line += f"  {old[name]['cpu_ms']:10.1f}  {old[name]['cpu_ms'] / r['cpu_ms']:6.2f}"
        print(line + f"   ({r['note']})")
    k1 = statistics.median([r["cpu_ms"] for n, r in new.items() if n.startswith("K=1 point")])
    print("Targets (CPU time):")
    print(f"  K=1 point, median of the {len(K1_POINTS)} points: {k1:8.2f} ms  {_verdict(k1, TARGET_K1_MS)}")
    k2 = new["K=2 KD point alpha=2"]["cpu_ms"]
    print(f"  K=2 KD point:                       {k2:8.2f} ms  {_verdict(k2, TARGET_K2_MS)}")
    cv = new["K=2 KD curve, 50 points"]["cpu_ms"] / 1e3
    print(f"  50-point KD curve:                  {cv:8.2f} s   {_verdict(cv, TARGET_CURVE_S, 's')}")
    ph = 100 * new["K=2 KD phase diagram 10 x 10"]["cpu_ms"] / 1e3
    print(f"  100 x 100 phase diagram (x100):     {ph:8.1f} s   {_verdict(ph, TARGET_PHASE_S, 's')}")


def _jax(repeats: int) -> None:
    try:
        from kdscope.theory.jax_backend import solve_batch_jax, solve_lines_jax
    except ImportError:
        print("JAX not installed: skipped (pip install 'kdscope[jax]')")
        return
    from kdscope.theory import Setting

    s2 = Setting(alpha=2.0, **KD)
    print("JAX engine (theory.jax_backend, one jitted call per row; observables on the host)")
    for label, s, target in (("K=1 point alpha=2 lam=0.1", Setting(alpha=2.0, lam_t=0.1, rho=0.2), TARGET_K1_JAX_MS),
                             ("K=2 KD point alpha=2", s2, TARGET_K2_JAX_MS)):
        t0 = time.perf_counter()
        solve_batch_jax([s])
        compile_s = time.perf_counter() - t0
        w, c = _timed(lambda: solve_batch_jax([s]), repeats)
        print(f"  {label:<26} wall {w:8.2f} ms  CPU {c:8.2f} ms  {_verdict(c, target)}  "
              f"(first call incl. compilation {compile_s:.1f} s)")
    alphas = np.geomspace(0.3, 10.0, 50)
    line = [s2.replace(alpha=float(a)) for a in alphas]
    solve_lines_jax([line[:2]])
    w, c = _timed(lambda: solve_lines_jax([line]), 1)
    print(f"  K=2 KD curve, 50 points: wall {w / 1e3:6.2f} s  CPU {c / 1e3:6.2f} s  {_verdict(c / 1e3, TARGET_CURVE_S, 's')}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--baseline", default=None, help="git revision whose NumPy cases are timed too (e.g. e6e48fe)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure_numpy(args.repeats)))
        return
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"bench_theory: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
          f"repeats={args.repeats}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print("NumPy engine (theory.solve)")
    new = measure_numpy(args.repeats)
    old = _baseline(args.baseline, args.repeats) if args.baseline else None
    _report(new, old)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"load average after the NumPy cases: {load[0]:.2f}")
    if not args.no_jax:
        _jax(args.repeats)


if __name__ == "__main__":
    main()
