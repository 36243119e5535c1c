"""Benchmark: single saddle points, warm-started curves and a phase-diagram sub-grid, NumPy and JAX.

Cases (reference-paper defaults delta = 1, rho = 0.2; students eta = 0.5, KL at tau = 1, xi = 1, lam_s = 1e-3):
  * one K = 1 logistic point at several (alpha, lam): median over repeats, cold start;
  * the large-norm K = 1 point alpha = 2, lam_t = 1e-3 (q ~ 89, V ~ 211), where accuracy control raises the order;
  * one K = 2 KD point (teacher lam_t = 0.1): median over repeats;
  * a 50-point KD curve in alpha (continuation);
  * a 10 x 10 KD sub-grid in (alpha, lam_t) by continuation along alpha, extrapolated to 100 x 100.
Targets (issue 10): K = 1 point <= 5 ms NumPy, <= 1 ms warm JAX; K = 2 point <= 30 ms NumPy, <= 5 ms warm JAX;
50-point KD curve <= 1 s; 100 x 100 KD phase diagram <= 60 s.
The JAX engine is timed after compilation (compile time printed separately).  Every solve uses the default
options (accuracy control: quadrature error estimate <= 1e-7).

Usage: python benchmarks/bench_theory.py [--repeats 7] [--no-jax]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

TARGET_K1_MS = 5.0
TARGET_K1_JAX_MS = 1.0
TARGET_K2_MS = 30.0
TARGET_K2_JAX_MS = 5.0
TARGET_CURVE_S = 1.0
TARGET_PHASE_S = 60.0


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times)


def _verdict(value: float, target: float, unit: str = "ms") -> str:
    return (f"{value:9.2f} {unit}  target {target:6.1f} {unit}  ratio {value / target:5.2f}  "
            f"{'OK' if value <= target else 'MISS'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-jax", action="store_true")
    args = ap.parse_args()

    from kdscope.theory import Setting, solve, solve_curve

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"bench_theory: {os.cpu_count()} cores, load average {load:.2f}, repeats={args.repeats}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    k1_points = [(0.5, 0.01), (2.0, 0.1), (5.0, 0.001), (10.0, 1.0)]
    kd = dict(rho=0.2, eta=0.5, generations=1, xi=1.0, lam_s=1e-3, lam_t=0.1)
    alphas = np.geomspace(0.3, 10.0, 50)
    grid_alpha = np.geomspace(0.3, 10.0, 10)
    grid_lam = np.geomspace(1e-3, 10.0, 10)

    print("NumPy engine (theory.solve)")
    k1 = []
    for a, lam in k1_points:
        s = Setting(alpha=a, lam_t=lam, rho=0.2)
        sp = solve(s)  # warm caches (quadrature nodes)
        ms = _median_ms(lambda: solve(s), args.repeats)
        k1.append(ms)
        print(f"  K=1 point alpha={a:<5} lam={lam:<6}  {_verdict(ms, TARGET_K1_MS)}  (order {sp.order})")
    print(f"  K=1 point median over the {len(k1)} points: {_verdict(statistics.median(k1), TARGET_K1_MS)}")
    big = Setting(alpha=2.0, lam_t=1e-3)
    sp = solve(big)
    ms = _median_ms(lambda: solve(big), args.repeats)
    print(f"  K=1 large-norm point alpha=2 lam=1e-3: {ms:8.2f} ms (order {sp.order}, quad_err {sp.quad_err:.1e}, "
          f"q={sp.state.Q[0, 0]:.2f}, V={sp.state.V[0, 0]:.2f})")
    s2 = Setting(alpha=2.0, **kd)
    sp = solve(s2)
    ms2 = _median_ms(lambda: solve(s2), args.repeats)
    print(f"  K=2 KD point alpha=2: {_verdict(ms2, TARGET_K2_MS)}  (order {sp.order})")
    t0 = time.perf_counter()
    sps = solve_curve(s2, "alpha", alphas)
    t = time.perf_counter() - t0
    print(f"  K=2 KD curve, 50 points: {_verdict(t, TARGET_CURVE_S, 's')} "
          f"({sum(sp.converged for sp in sps)}/50 converged)")
    t0 = time.perf_counter()
    n_ok = sum(sp.converged for lam in grid_lam for sp in solve_curve(s2.replace(lam_t=float(lam)), "alpha", grid_alpha))
    t = time.perf_counter() - t0
    print(f"  K=2 KD phase diagram 10 x 10 sub-grid: {t:8.2f} s ({n_ok}/100 converged); "
          f"100 x 100 extrapolated: {_verdict(100 * t, TARGET_PHASE_S, 's')}")

    if args.no_jax:
        return
    try:
        from kdscope.theory.jax_backend import solve_batch_jax, solve_lines_jax
    except ImportError:
        print("JAX not installed: skipped (pip install 'kdscope[jax]')")
        return
    print("JAX engine (theory.jax_backend, one jitted call per row)")
    for label, s, target in (("K=1 point alpha=2 lam=0.1", Setting(alpha=2.0, lam_t=0.1, rho=0.2), TARGET_K1_JAX_MS),
                             ("K=2 KD point alpha=2", s2, TARGET_K2_JAX_MS)):
        t0 = time.perf_counter()
        solve_batch_jax([s])
        compile_s = time.perf_counter() - t0
        ms = _median_ms(lambda: solve_batch_jax([s]), args.repeats)
        print(f"  {label:<26} {_verdict(ms, target)}   (first call incl. compilation {compile_s:.1f} s)")
    line = [s2.replace(alpha=float(a)) for a in alphas]
    solve_lines_jax([line[:2]])
    t0 = time.perf_counter()
    out = solve_lines_jax([line])[0]
    t = time.perf_counter() - t0
    print(f"  K=2 KD curve, 50 points: {_verdict(t, TARGET_CURVE_S, 's')} ({sum(sp.converged for sp in out)}/50 converged)")
    lines = [[s2.replace(alpha=float(a), lam_t=float(lam)) for a in grid_alpha] for lam in grid_lam]
    t0 = time.perf_counter()
    out = solve_lines_jax(lines)
    t = time.perf_counter() - t0
    n_ok = sum(sp.converged for row in out for sp in row)
    print(f"  K=2 KD phase diagram 10 x 10 sub-grid: {t:8.2f} s ({n_ok}/100 converged); "
          f"100 x 100 extrapolated: {_verdict(100 * t, TARGET_PHASE_S, 's')}")


if __name__ == "__main__":
    main()
